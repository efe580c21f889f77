#!/usr/bin/env python3
"""A client certificate whose key would make the handshake expensive (an
untrusted, self-signed RSA-8192 certificate made with openssl) is refused
with an alert after its Certificate message: kenshod never checks its
CertificateVerify, which is what used to cost the loop hundreds of
milliseconds per handshake. Shown by kenshod's debug log, not by timing."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Server, check, run  # noqa: E402

VERIFY_LINE = "checking the client's CertificateVerify"


def s_client(port, ca, cert, key):
    """One TLS 1.2 handshake with openssl s_client; returns its output."""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2",
                        "-CAfile", ca, "-cert", cert, "-key", key],
                       input=b"", capture_output=True, timeout=60)
    return (p.stdout + p.stderr).decode("utf-8", "replace")


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-keys-") as tmp:
        key, pem = os.path.join(tmp, "rsa8192.key"), os.path.join(tmp, "rsa8192.pem")
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:8192",
            "-out", key, timeout=240)
        run("openssl", "req", "-x509", "-new", "-key", key, "-subj", "/CN=operator/O=kensho demo",
            "-days", "1", "-sha256", "-out", pem)
        with Server(tls=True, args=["--log-level", "debug"]) as srv:
            tls = os.path.join(srv.data, "tls")
            ca = os.path.join(tls, "ca.pem")
            out = s_client(srv.tls_port, ca, pem, key)
            check("alert" in out and ("unsupported certificate" in out or "alert number 43" in out),
                  "the RSA-8192 client certificate is refused with an unsupported_certificate alert")
            log = srv.output()
            check("client certificate refused before use: certificate 1 of the chain: "
                  "RSA key of 8192 bits" in log,
                  "kenshod logs why: the key is larger than tls.client_key_max_bits")
            check(VERIFY_LINE not in log, "and never checked a CertificateVerify with that key")

            # The same path with a trusted demo certificate does reach the
            # CertificateVerify, so the log line above means what it says.
            out = s_client(srv.tls_port, ca, f"{tls}/clients/operator.pem",
                           f"{tls}/clients/operator.key")
            check("Verify return code: 0" in out, "a trusted client certificate completes the handshake")
            check(VERIFY_LINE in srv.output(), "its CertificateVerify is checked (positive control)")


if __name__ == "__main__":
    main()
