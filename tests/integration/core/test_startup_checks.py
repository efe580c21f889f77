"""kenshod checks its whole configuration before it does anything: an
unknown key, a malformed value or an unusable listen address stops it with
FILE:LINE: key (or the flag) named, and nothing is created in the data
directory. Also: --check-config, --version of every program, the version in
/metrics, the demo certificates' base URL taken from the first listener, and
./dev's usage and listeners."""
import re
import os
import shlex
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import ALLOW_ROOT, BUILD, KENSHO, KENSHOD, SOURCE, Server, check, free_port, run, wait_for  # noqa: E402

from cryptography import x509  # noqa: E402

# Each line alone in a file; the key it names; what the message must say.
BAD_LINES = [
    ("limits.body_bytes = lots", "limits.body_bytes", "is not a size"),
    ("ocsp.validity = 1 day", "ocsp.validity", "is not a duration"),
    ("server.workers = many", "server.workers", "is not an integer"),
    ("limits.body_byte = 2M", "limits.body_byte", "did you mean limits.body_bytes?"),
    ("no.such.key = 1", "no.such.key", "unknown key"),
    ("server.listen = 127.0.0.1:99999", "server.listen", "not a number from 1 to 65535"),
    ("log.access = sometimes", "log.access", "is not a boolean"),
    ("tls.client_auth = maybe", "tls.client_auth", "one of none, optional, required"),
    ("limits.connections = 0", "limits.connections", "out of range"),
]


def kenshod(*args, timeout=30):
    return subprocess.run([KENSHOD, *ALLOW_ROOT, *args], capture_output=True, text=True, timeout=timeout)


def refuses(tmp, what, args, needle):
    """Runs kenshod on a fresh data directory; it must exit non-zero, say
    needle, and leave the data directory uncreated."""
    data = os.path.join(tmp, "data")
    r = kenshod("--data", data, *args)
    check(r.returncode != 0, f"{what}: exit {r.returncode}")
    check(needle in r.stderr, f"{what}: says {needle!r} (stderr: {r.stderr.strip()[:300]})")
    check(not os.path.exists(data), f"{what}: nothing created in the data directory")


def check_config_file_refusals(tmp):
    port = free_port()
    for i, (line, key, why) in enumerate(BAD_LINES):
        conf = os.path.join(tmp, f"bad{i}.conf")
        with open(conf, "w") as f:
            f.write("# the mistake is on line 3\nlog.level = info\n" + line + "\n")
        refuses(tmp, line, ["--listen", f"127.0.0.1:{port}", "--config", conf],
                f"{conf}:3: {key}:")
        r = kenshod("--data", os.path.join(tmp, "data"), "--listen", f"127.0.0.1:{port}",
                    "--config", conf)
        check(why in r.stderr, f"{line}: explains {why!r}")
        check("accepted" in r.stderr, f"{line}: says what is accepted")
        r = kenshod("--check-config", conf)
        check(r.returncode == 1 and f"{conf}:3: {key}:" in r.stderr,
              f"--check-config {line}: exit 1 and names the line")

    # All at once: one line each.
    conf = os.path.join(tmp, "all.conf")
    with open(conf, "w") as f:
        f.write("".join(line + "\n" for line, _, _ in BAD_LINES))
    r = kenshod("--check-config", conf)
    for n, (_, key, _) in enumerate(BAD_LINES, start=1):
        check(f"{conf}:{n}: {key}:" in r.stderr, f"every problem reported: line {n} {key}")

    good = os.path.join(tmp, "good.conf")
    with open(good, "w") as f:
        f.write("limits.body_bytes = 2M\nocsp.validity = 1d\nserver.workers = 2\n"
                "server.listen = 127.0.0.1:8080, [::1]:8080\nlog.access = off\n")
    r = kenshod("--check-config", good)
    check(r.returncode == 0 and "ok" in r.stdout, f"--check-config of a good file: exit 0 ({r.stderr})")

    # Like nginx -t, the TLS files the file names are loaded, not only parsed.
    key, cert, other = (os.path.join(tmp, n) for n in ("tls.key", "tls.pem", "other.key"))
    for k in (key, other):
        run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", k)
        os.chmod(k, 0o600)
    run("openssl", "req", "-x509", "-new", "-key", key, "-subj", "/CN=localhost", "-days", "30",
        "-out", cert)
    tls_conf = os.path.join(tmp, "tls.conf")
    for tls_key, ok, needle in ((key, True, "ok"), (other, False, "does not belong"),
                                (os.path.join(tmp, "missing.key"), False, "missing.key")):
        with open(tls_conf, "w") as f:
            f.write(f"server.listen_tls = 127.0.0.1:8443\ntls.cert = {cert}\ntls.key = {tls_key}\n")
        r = kenshod("--check-config", tls_conf)
        out = r.stdout + r.stderr
        check((r.returncode == 0) == ok and needle in out,
              f"--check-config with tls.key {os.path.basename(tls_key)}: exit {r.returncode}, "
              f"says {needle!r} ({out.strip()[:300]})")


def check_flag_refusals(tmp):
    port = free_port()
    listen = ["--listen", f"127.0.0.1:{port}"]
    refuses(tmp, "--workers abc", listen + ["--workers", "abc"], "--workers: server.workers:")
    refuses(tmp, "--workers 0", listen + ["--workers", "0"], "from 1 to 256")
    refuses(tmp, "--log-level loud", listen + ["--log-level", "loud"], "--log-level: log.level:")
    refuses(tmp, "--listen 127.0.0.1:99999", ["--listen", "127.0.0.1:99999"],
            "--listen: server.listen: \"127.0.0.1:99999\": port \"99999\" is not a number")
    refuses(tmp, "--listen nonsense", ["--listen", "nonsense"], "\"nonsense\" has no \":PORT\"")
    refuses(tmp, "--listen-tls 127.0.0.1:0", listen + ["--listen-tls", "127.0.0.1:0"],
            "--listen-tls: server.listen_tls:")
    refuses(tmp, "--listen ::1:80", ["--listen", "::1:80"], "in brackets")
    refuses(tmp, "server.base_url without a scheme",
            listen + ["--config", write(tmp, "url.conf", "server.base_url = va.example\n")],
            "server.base_url")


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def check_versions():
    versions = {}
    for program in (KENSHOD, KENSHO, os.path.join(BUILD, "card", "kensho-card"),
                    os.path.join(BUILD, "bench", "kensho-bench")):
        if not os.path.exists(program):
            print("skip -", program, "not built", flush=True)
            continue
        r = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=10)
        name = os.path.basename(program)
        words = r.stdout.split()
        check(r.returncode == 0 and len(words) == 2 and words[0] == name,
              f"{name} --version: {r.stdout.strip()!r}")
        versions[name] = words[1]
    check(len(set(versions.values())) == 1, f"one version for every program: {versions}")
    card = os.path.join(BUILD, "card", "kensho-card")
    if os.path.exists(card):
        r = subprocess.run([card, "--help"], capture_output=True, text=True, timeout=10)
        check("submit --file F --server URL --receipt-cert PEM" in r.stdout,
              "kensho-card --help shows submit's required --receipt-cert")
    return versions["kenshod"]


def check_base_url_and_build_info(version):
    """A fresh data directory started with only --listen: the demo
    certificates and CRLs point to that listener, and it is printed."""
    with Server() as srv:
        with open(os.path.join(srv.data, "ca", "base-url")) as f:
            check(f.read().strip() == srv.url, f"DIR/ca/base-url is the first listener {srv.url}")
        check(srv.url in srv.output(), "the base URL is printed at start")

        def crl():
            status, _, body = srv.get("/crl/sign.crl")
            return body if status == 200 else None
        der = wait_for("the signing CRL", crl)
        idp = x509.load_der_x509_crl(der).extensions.get_extension_for_class(
            x509.IssuingDistributionPoint).value
        check(idp.full_name[0].value == f"{srv.url}/crl/sign.crl",
              f"the CRL's distribution point is on the listener: {idp.full_name[0].value}")

        status, _, body = srv.get("/metrics")
        line = f'kensho_build_info{{version="{version}"}} 1'
        check(status == 200 and line in body.decode(), f"/metrics has {line}")
        check(f"kenshod {version} starting" in srv.output(), "the version is in the start-up log")

        # The OCSP query the start-up message suggests works as printed and
        # answers "good" for the demo person's certificate.
        suggested = [line.split("try: ", 1)[1] for line in srv.output().splitlines()
                     if "try: openssl ocsp" in line]
        check(len(suggested) == 1 and "-no_nonce" in suggested[0],
              f"one OCSP query is suggested, without a nonce: {suggested}")
        r = subprocess.run(shlex.split(suggested[0]), capture_output=True, text=True, timeout=30)
        out = r.stdout + r.stderr
        check(r.returncode == 0 and ": good" in out and "Response verify OK" in out,
              f"the suggested query answers good, verified: {out}")


def check_dev_script():
    dev = os.path.join(SOURCE, "dev")
    r = subprocess.run([dev], capture_output=True, text=True, timeout=10)
    check(r.returncode == 2 and "./dev run" in r.stdout and "set -e" not in r.stdout,
          "./dev alone prints its usage")
    env = dict(os.environ, DEV_PRINT="1")
    r = subprocess.run([dev, "run", "--listen", "127.0.0.1:28504"], capture_output=True,
                       text=True, timeout=10, env=env)
    check(r.returncode == 0 and "127.0.0.1:28504" in r.stdout and "8080" not in r.stdout
          and "8443" not in r.stdout, f"./dev run --listen replaces the default listeners: {r.stdout}")
    r = subprocess.run([dev, "run"], capture_output=True, text=True, timeout=10, env=env)
    check("--listen 127.0.0.1:8080" in r.stdout and "--listen-tls 127.0.0.1:8443" in r.stdout,
          "./dev run without listeners uses 8080 and 8443")
    if os.geteuid() == 0:
        check("--allow-root" in r.stdout.split(), f"./dev run as root passes --allow-root: {r.stdout}")


def check_key_refusal_in_words(tmp):
    """A responder key readable by others stops start-up: the log names the
    file and says why in words, never a bare "error -13"."""
    data = os.path.join(tmp, "keydata")
    with Server(data=data):
        pass  # the first start creates the CAs and responders
    key = os.path.join(data, "ca", "sign-ocsp.key")
    check(os.path.exists(key), f"the first start made {key}")
    os.chmod(key, 0o644)
    r = kenshod("--data", data, "--listen", f"127.0.0.1:{free_port()}", "--workers", "1", timeout=60)
    out = r.stdout + r.stderr
    check(r.returncode != 0, f"a world-readable responder key stops kenshod (exit {r.returncode})")
    check("sign-ocsp.key" in out, f"the refusal names the key file: {out[-600:]}")
    check("Permission denied" in out or "readable" in out, f"and says why in words: {out[-600:]}")
    check(re.search(r"error -?\d+\s*$", out, re.M) is None, f"no bare error code line: {out[-600:]}")


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-startup-") as tmp:
        check_config_file_refusals(tmp)
        check_flag_refusals(tmp)
        check_key_refusal_in_words(tmp)
    version = check_versions()
    check_base_url_and_build_info(version)
    check_dev_script()


if __name__ == "__main__":
    main()
