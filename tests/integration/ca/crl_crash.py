"""A publisher killed between advancing the CRL number and renaming the new
full CRL into place must not hide a revocation from CRL users.

A revocation, then a full CRL publication that dies right after the store's
number advanced (crl_crash_publish stops there, as a kill would): the old
file stays, with a temporary file beside it. On restart kenshod removes the
temporary file, publishes the full CRL again at once (not a full_interval
later) and a delta on it; the files and their state agree, and
`openssl verify -crl_check` reports the certificate revoked, with the full
CRL alone and with full + delta. Before publishing again, no delta may name
the unpublished base. Every wait is bounded polling."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import BUILD, KENSHO, Server, check, run, wait_for  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding  # noqa: E402

CRASH = os.path.join(BUILD, "tests", "integration", "ca", "crl_crash_publish")


def number(crl):
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def base(crl):
    return crl.extensions.get_extension_for_class(x509.DeltaCRLIndicator).value.crl_number


def state(data, name):
    """number, base number, thisUpdate, change seq from DIR/crl/NAME.state"""
    return [int(v) for v in open(os.path.join(data, "crl", f"{name}.state")).read().split()]


def tmp_files(data):
    return [n for n in os.listdir(os.path.join(data, "crl")) if ".tmp." in n]


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-crl-crash-") as tmp:
        data = os.path.join(tmp, "data")
        run(KENSHO, "--data", data, "ca", "init")
        person = os.path.join(tmp, "p")
        run(KENSHO, "--data", data, "issue", "--name", "KENSHO TARO", "--birth", "1980-01-02",
            "--sex", "1", "--address", "東京都千代田区千代田1-1", "--out", person)
        cert = os.path.join(person, "sign.pem")
        serial = x509.load_pem_x509_certificate(open(cert, "rb").read()).serial_number
        run(KENSHO, "--data", data, "crl", "--kind", "sign")
        run(KENSHO, "--data", data, "crl", "--kind", "sign", "--delta")
        old_full = number(x509.load_der_x509_crl(open(os.path.join(data, "crl", "sign.crl"), "rb").read()))

        run(KENSHO, "--data", data, "revoke", "--kind", "sign", "--serial", f"{serial:x}",
            "--reason", "keyCompromise")
        r = subprocess.run([CRASH, "--data", data, "--kind", "sign", "--step", "committed"],
                           capture_output=True, text=True)
        check(r.returncode == 77, f"the publisher died after committing the number ({r.stderr.strip()})")
        on_disk = x509.load_der_x509_crl(open(os.path.join(data, "crl", "sign.crl"), "rb").read())
        check(number(on_disk) == old_full and state(data, "sign")[0] == old_full,
              "the old full CRL and its state are still in place")
        check(len(tmp_files(data)) == 1, f"and a temporary file was left: {tmp_files(data)}")

        r = run(KENSHO, "--data", data, "crl", "--kind", "sign", "--delta", check=False)
        check(r.returncode != 0 and "never published" in r.stderr,
              f"a delta on the unpublished base is refused: {r.stderr.strip()}")
        check(len(tmp_files(data)) == 0, "the next publisher removed the temporary file")

        # leave one more for kenshod to find at start
        r = subprocess.run([CRASH, "--data", data, "--kind", "sign", "--step", "written"],
                           capture_output=True, text=True)
        abandoned = tmp_files(data)
        check(r.returncode == 77 and len(abandoned) == 1,
              "another publisher died with its file written")

        config = os.path.join(tmp, "kenshod.conf")
        with open(config, "w") as f:
            # full_interval stays at its default of a day: only the mismatch
            # between the store and the files can make the full CRL due
            f.write("crl.check_interval = 100ms\ncrl.delta_after_ms = 300\n")
        with Server(data=data, args=["--config", config]) as server:
            def consistent():
                full_status, _, full_body = server.get("/crl/sign.crl")
                delta_status, _, delta_body = server.get("/crl/sign-delta.crl")
                if full_status != 200 or delta_status != 200:
                    return False
                full, delta = x509.load_der_x509_crl(full_body), x509.load_der_x509_crl(delta_body)
                full_state, delta_state = state(data, "sign"), state(data, "sign-delta")
                return (number(full) > old_full + 1 and full_state[0] == number(full)
                        and base(delta) == number(full) and delta_state[1] == number(full)
                        and delta_state[0] == number(delta))
            wait_for("the full CRL is published again and the delta, the files and the state agree",
                     consistent)
            # Only the abandoned file is judged: kenshod may be publishing
            # another CRL right now, with a temporary file of its own.
            check(not set(abandoned) & set(tmp_files(data)),
                  "kenshod removed the temporary file at start")
            full_body = server.get("/crl/sign.crl")[2]
            delta_body = server.get("/crl/sign-delta.crl")[2]
            check(x509.load_der_x509_crl(full_body).get_revoked_certificate_by_serial_number(serial)
                  is not None, "the full CRL lists the revocation")

        ca = os.path.join(data, "ca", "sign-ca.pem")
        pems = []
        for name, body in (("full", full_body), ("delta", delta_body)):
            path = os.path.join(tmp, f"{name}.crl.pem")
            with open(path, "wb") as f:
                f.write(x509.load_der_x509_crl(body).public_bytes(Encoding.PEM))
            pems.append(path)
        r = subprocess.run(["openssl", "verify", "-crl_check", "-CAfile", ca, "-CRLfile", pems[0],
                            cert], capture_output=True, text=True)
        check(r.returncode != 0 and "certificate revoked" in r.stdout + r.stderr,
              "openssl verify -crl_check with the full CRL: revoked")
        r = subprocess.run(["openssl", "verify", "-crl_check", "-use_deltas", "-extended_crl",
                            "-CAfile", ca, "-CRLfile", pems[0], "-CRLfile", pems[1], cert],
                           capture_output=True, text=True)
        check(r.returncode != 0 and "certificate revoked" in r.stdout + r.stderr,
              "openssl verify -crl_check -use_deltas with full + delta: revoked")
    print("ok")


if __name__ == "__main__":
    main()
