"""Helpers shared by the card integration tests: running kensho-card with a
PIN passed through a pipe (--pin-fd), reading its answers."""
import os
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import serialization

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("KENSHO_SOURCE_DIR", os.path.join(HERE, "../../.."))
BUILD = os.environ.get("KENSHO_BUILD_DIR", os.path.join(SOURCE, "build"))
CARD = os.path.join(BUILD, "card", "kensho-card")
SIGN_PIN, AUTH_PIN = "ABC123", "1234"


def card(*args, pin=None, check=None):
    """Runs kensho-card; a PIN goes through a pipe named by --pin-fd."""
    argv = [CARD] + list(args)
    fds = ()
    r_fd = None
    if pin is not None:
        r_fd, w_fd = os.pipe()
        os.write(w_fd, pin.encode() + b"\n")
        os.close(w_fd)
        argv += ["--pin-fd", str(r_fd)]
        fds = (r_fd,)
    print("$", " ".join(argv[1:]), flush=True)
    try:
        p = subprocess.run(argv, capture_output=True, text=True, pass_fds=fds, timeout=30,
                           stdin=subprocess.DEVNULL)
    finally:
        if r_fd is not None:
            os.close(r_fd)
    print(p.stdout + p.stderr, end="", flush=True)
    if check is True:
        assert p.returncode == 0, f"exit {p.returncode}"
    elif check is False:
        assert p.returncode != 0, "expected failure"
    return p


def der_of(pem_text):
    return x509.load_pem_x509_certificate(pem_text.encode()).public_bytes(
        serialization.Encoding.DER)


def tries(kind):
    out = card("pin-status", check=True).stdout
    for line in out.splitlines():
        if line.startswith(kind):
            return line.split(": ", 1)[1]
    raise AssertionError(f"no {kind} line in {out!r}")


def card_args(certs, ca_dir, keys):
    """Emulator options: certificates in certs/{sign,auth}.pem, CAs in
    ca_dir/{sign,auth}-ca.pem, keys in keys/{sign,auth}.key."""
    args = ["--sign-pin", SIGN_PIN, "--auth-pin", AUTH_PIN]
    for k in ("sign", "auth"):
        args += [f"--{k}-cert", f"{certs}/{k}.pem", f"--{k}-ca", f"{ca_dir}/{k}-ca.pem",
                 f"--{k}-key", f"{keys}/{k}.key"]
    return args
