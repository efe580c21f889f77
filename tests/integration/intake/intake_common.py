"""Helpers shared by the intake integration tests and the intake load script:
certificates issued by a running kenshod's CAs, and applications signed by
real clients (`openssl cms -sign`, python3-cryptography's PKCS#7 builder)."""
import hashlib
import http.client
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, run  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs7  # noqa: E402


def issue(data, out, name="KENSHO TARO"):
    """Issues a certificate pair with `kensho issue`; returns the sign serial (hex)."""
    r = run(KENSHO, "--data", data, "issue", "--name", name, "--birth", "1980-01-01",
            "--sex", "1", "--address", "東京都千代田区千代田1-1", "--out", out)
    for line in r.stdout.splitlines():
        if line.startswith("sign "):
            return line.split()[1]
    raise AssertionError("no sign serial in: " + r.stdout)


def allow_plain(directory, extra=""):
    """kenshod arguments for a config that turns intake.allow_plain on: these
    tests exercise intake itself over plain HTTP, which kenshod refuses by
    default (test_intake_tls.py covers the TLS path and the refusal)."""
    path = os.path.join(directory, "allow-plain.conf")
    with open(path, "w") as f:
        f.write("intake.allow_plain = true\n" + extra)
    return ["--config", path]


def openssl_sign(workdir, cert, key, content, *opts, detached=False):
    """`openssl cms -sign` over content; returns the DER SignedData."""
    src = os.path.join(workdir, "content.bin")
    out = os.path.join(workdir, "signed.der")
    with open(src, "wb") as f:
        f.write(content)
    args = ["openssl", "cms", "-sign", "-binary", "-in", src, "-signer", cert, "-inkey", key,
            "-outform", "DER", "-out", out]
    if not detached:
        args.append("-nodetach")
    subprocess.run(args + list(opts), check=True)
    with open(out, "rb") as f:
        return f.read()


class Signer:
    """Signs many applications quickly in-process (python3-cryptography)."""

    def __init__(self, cert_path, key_path):
        with open(cert_path, "rb") as f:
            self.cert = x509.load_pem_x509_certificate(f.read())
        with open(key_path, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), None)

    def sign(self, content):
        return (pkcs7.PKCS7SignatureBuilder().set_data(content)
                .add_signer(self.cert, self.key, hashes.SHA256())
                .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))


def post(conn, path, body, headers=None):
    """POSTs on a keep-alive connection; returns (status, headers, body)."""
    conn.request("POST", path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def connect(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def verify_receipt(receipt_der, receipt_pem, workdir):
    """`openssl cms -verify` with the pinned receipt certificate; returns the
    receipt's JSON content, or None if it does not verify."""
    path = os.path.join(workdir, "receipt.der")
    with open(path, "wb") as f:
        f.write(receipt_der)
    r = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", path,
                        "-CAfile", receipt_pem], capture_output=True)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()
