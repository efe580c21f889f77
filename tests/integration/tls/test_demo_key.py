#!/usr/bin/env python3
"""tls.demo_key: the demo server certificate is ECDSA P-256 by default and
RSA-2048 with `tls.demo_key = rsa-2048`; openssl negotiates the matching
ECDHE-ECDSA or ECDHE-RSA suites and no other, and an existing server.pem is
kept whatever the setting says."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Server, check, run  # noqa: E402


def s_client(port, ca, cipher):
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2",
                        "-CAfile", ca, "-cipher", cipher, "-verify_return_error", "-brief"],
                       input=b"", capture_output=True, timeout=30)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def key_text(pem):
    return run("openssl", "x509", "-in", pem, "-noout", "-text").stdout


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-demo-key-") as tmp:
        for setting, want, good, bad in [
                (None, "id-ecPublicKey", "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256"),
                ("rsa-2048", "rsaEncryption", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256")]:
            data = os.path.join(tmp, setting or "default")
            args = []
            if setting:
                conf = os.path.join(tmp, f"{setting}.conf")
                with open(conf, "w") as f:
                    f.write(f"tls.demo_key = {setting}\n")
                args = ["--config", conf]
            with Server(data=data, tls=True, args=args) as srv:
                tls_dir = os.path.join(data, "tls")
                text = key_text(f"{tls_dir}/server.pem")
                check(want in text, f"tls.demo_key {setting or '(default)'}: server key {want}")
                check("id-ecPublicKey" in key_text(f"{tls_dir}/ca.pem"), "the demo CA stays P-256")
                rc, out = s_client(srv.tls_port, f"{tls_dir}/ca.pem", good)
                check(rc == 0 and good in out, f"{good} negotiated and verified")
                rc, out = s_client(srv.tls_port, f"{tls_dir}/ca.pem", bad)
                check(rc != 0, f"{bad} refused")
        # Once made, the key stays: a later start with another setting keeps it.
        conf = os.path.join(tmp, "rsa-2048.conf")
        with Server(data=os.path.join(tmp, "default"), tls=True, args=["--config", conf]):
            check("id-ecPublicKey" in key_text(os.path.join(tmp, "default", "tls", "server.pem")),
                  "an existing demo server.pem is kept")
        bad = os.path.join(tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("tls.demo_key = dsa\n")
        r = run(os.path.join(os.environ.get("KENSHO_BUILD_DIR", "build"), "daemon", "kenshod"),
                "--check-config", bad, check=False)
        check(r.returncode != 0 and "tls.demo_key" in r.stderr, f"an unknown key type is refused: {r.stderr.strip()}")
    print("ok - tls.demo_key")


if __name__ == "__main__":
    main()
