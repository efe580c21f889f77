"""A 1,000,000-entry CRL from a real store: `kensho crl` generates it with
flat heap memory, `openssl crl` verifies it, `openssl verify -crl_check`
finds a revoked certificate in it, python3 cryptography parses it. Prints the
generation time and memory (for docs/crl.md; not asserted against a clock)."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import BUILD, KENSHO, run  # noqa: E402

from cryptography import x509  # noqa: E402

FILL = os.path.join(BUILD, "tests", "integration", "ca", "crl_store_fill")
COUNT = 1000000


def status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-crl-1m-") as tmp:
        data = os.path.join(tmp, "data")
        run(KENSHO, "--data", data, "ca", "init")
        person = os.path.join(tmp, "p")
        run(KENSHO, "--data", data, "issue", "--name", "KENSHO TARO", "--birth", "1980-01-02",
            "--sex", "1", "--address", "Tokyo", "--out", person)
        cert = x509.load_pem_x509_certificate(open(f"{person}/sign.pem", "rb").read())
        run(KENSHO, "--data", data, "revoke", "--kind", "sign", "--serial",
            f"{cert.serial_number:x}", "--reason", "keyCompromise")
        start = time.monotonic()
        run(FILL, "--data", data, "--kind", "sign", "--count", COUNT - 1)
        print(f"filled the store with {COUNT - 1} revoked records in {time.monotonic() - start:.1f}s")

        out = os.path.join(tmp, "sign.crl")
        start = time.monotonic()
        proc = subprocess.Popen([KENSHO, "--data", data, "crl", "--kind", "sign", "--out", out],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        anon = hwm = 0
        while proc.poll() is None:
            anon = max(anon, status_kb(proc.pid, "RssAnon"))
            hwm = max(hwm, status_kb(proc.pid, "VmHWM"))
            time.sleep(0.02)
        stdout, stderr = proc.communicate()
        elapsed = time.monotonic() - start
        assert proc.returncode == 0, stderr
        assert f"{COUNT} entries" in stdout, stdout
        size = os.path.getsize(out)
        print(f"kensho crl: {COUNT} entries, {size} bytes in {elapsed:.2f}s; "
              f"peak RssAnon {anon} KiB (heap), peak VmHWM {hwm} KiB (includes the mapped store)")
        # the heap stays flat: far below the CRL's own size
        assert 0 < anon < 16 * 1024, anon

        ca = os.path.join(data, "ca", "sign-ca.pem")
        r = run("openssl", "crl", "-inform", "DER", "-in", out, "-CAfile", ca, "-noout")
        assert "verify OK" in r.stdout + r.stderr
        run("openssl", "crl", "-inform", "DER", "-in", out, "-out", out + ".pem")
        r = run("openssl", "verify", "-crl_check", "-CAfile", ca, "-CRLfile", out + ".pem",
                f"{person}/sign.pem", check=False)
        assert r.returncode != 0 and "certificate revoked" in r.stdout + r.stderr, r.stdout + r.stderr

        crl = x509.load_der_x509_crl(open(out, "rb").read())
        assert crl.is_signature_valid(x509.load_pem_x509_certificate(open(ca, "rb").read()).public_key())
        assert len(crl) == COUNT
        assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
        assert crl.get_revoked_certificate_by_serial_number(0x7E << 64 | 999999) is not None
    print("ok")


if __name__ == "__main__":
    main()
