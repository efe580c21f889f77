"""`kensho ocsp status` and `kensho presign` end to end: a generated
population starts with no pre-signed answer, presign brings every one to
fresh (counts agree with the total, text and JSON), answers that a longer
margin makes due are signed again, and a revoked certificate's pre-signed
answer is served from kenshod's cache as revoked (openssl ocsp), also when a
revocation commits while kenshod runs and presign runs beside it."""
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, Server, check, run  # noqa: E402

from cryptography import x509  # noqa: E402


def kensho(data, *args, rc=0):
    r = run(KENSHO, "--data", data, *args, check=False)
    if rc is not None and r.returncode != rc:
        raise AssertionError(f"kensho {' '.join(args)}: exit {r.returncode}, wanted {rc}: "
                             f"{r.stdout}{r.stderr}")
    return r


def status(data, *args):
    return json.loads(kensho(data, "ocsp", "status", "--json", *args).stdout)


def signed_count(stdout):
    m = re.search(r"signed (\d+) answers", stdout)
    assert m, stdout
    return int(m.group(1))


def revoked_serials(data, tmp, kind):
    out = os.path.join(tmp, f"{kind}.crl")
    kensho(data, "crl", "--kind", kind, "--out", out)
    raw = open(out, "rb").read()
    crl = x509.load_pem_x509_crl(raw) if raw.startswith(b"-----") else x509.load_der_x509_crl(raw)
    return [r.serial_number for r in crl]


def openssl_status(data, server, kind, serial):
    ca = f"{data}/ca/{kind}-ca.pem"
    r = run("openssl", "ocsp", "-issuer", ca, "-serial", hex(serial), "-url", server.url + "/ocsp",
            "-CAfile", ca, "-no_nonce", check=False)
    return r.stdout + r.stderr


def metric(server, name, labels):
    _, _, body = server.get("/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + "{") and labels in line:
            return float(line.split()[-1])
    return 0.0


def check_interrupt(tmp):
    """On a terminal presign draws a bar with count, rate and ETA; SIGINT
    stops it after the batch under way and keeps what was committed."""
    data = os.path.join(tmp, "big")
    kensho(data, "ca", "init")
    kensho(data, "gen", "--people", "1500", "--seed", "4")
    total = status(data)["missing"]
    master, slave = pty.openpty()
    proc = subprocess.Popen([KENSHO, "--data", data, "presign", "--batch", "1"],
                            stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    seen = b""
    while b"ETA" not in seen:  # the first bar: one batch is committed
        ready, _, _ = select.select([master], [], [], 60)
        assert ready, f"no progress bar: {seen!r}"
        seen += os.read(master, 4096)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    check(b"\r[#" in seen or b"\r[." in seen, "presign on a terminal draws a progress bar")
    signed = signed_count(out)
    check(proc.returncode == 130 and "interrupted" in out and 0 < signed < total,
          f"SIGINT stops presign early (exit {proc.returncode}, {signed} of {total} signed)")
    after = status(data)
    check(after["fresh"] == signed and after["missing"] == total - signed,
          "what was signed before the interrupt is kept, the rest still missing")
    r = kensho(data, "presign", "--batch", "1000")
    check(signed_count(r.stdout) == total - signed and status(data)["fresh"] == total,
          "presign run again signs the rest")


def main():
    tmp = tempfile.TemporaryDirectory(prefix="kensho-presign-")
    data = os.path.join(tmp.name, "data")
    kensho(data, "ca", "init")
    kensho(data, "gen", "--people", "150", "--revoked", "0.3", "--seed", "9")

    # --- before: nothing pre-signed -----------------------------------------------------------
    before = status(data)
    total = before["certificates"]
    check(total > 150 and before["missing"] == total and before["fresh"] == 0
          and before["due"] == 0 and before["oldest_age_seconds"] is None,
          f"ocsp status --json: a generated population has all {total} answers missing")
    check(before["validity_seconds"] == 3600 and before["refresh_before_seconds"] == 900,
          "ocsp status: kenshod's defaults (validity 1h, refresh a quarter before)")
    text = kensho(data, "ocsp", "status").stdout
    rows = dict(re.match(r"(\S+(?: \S+)*)\s{2,}(\S+)", line).groups()
                for line in text.splitlines())
    check(rows["certificates"] == str(total) and rows["missing"] == str(total)
          and rows["fresh"] == "0" and rows["oldest answer age"] == "-",
          "ocsp status: the text form says the same")

    # --- presign: all fresh -------------------------------------------------------------------
    r = kensho(data, "presign", "--batch", "7")
    check(signed_count(r.stdout) == total, "presign signs every missing answer, in batches of 7")
    check("100%" in r.stderr and "answers" in r.stderr and "\r" not in r.stderr,
          "presign without a terminal shows plain progress lines")
    after = status(data)
    check(after["certificates"] == total and after["fresh"] == total and after["due"] == 0
          and after["missing"] == 0 and 0 <= after["oldest_age_seconds"] < 600,
          "ocsp status after presign: every answer fresh, counts equal the total")
    r = kensho(data, "presign")
    check(signed_count(r.stdout) == 0, "presign again: nothing is due, nothing signed")

    # --- due answers ----------------------------------------------------------------------------
    # Answers valid for an hour are all due under a margin of an hour.
    longer = ("--validity", "7200", "--refresh-before", "3600")
    due = status(data, *longer)
    check(due["due"] == total and due["fresh"] == 0 and due["missing"] == 0,
          "ocsp status: answers within the margin of nextUpdate are due")
    r = kensho(data, "presign", *longer)
    check(signed_count(r.stdout) == total and status(data, *longer)["fresh"] == total,
          "presign re-signs due answers with the longer validity")
    r = kensho(data, "presign", "--all", "--batch", "1000")
    check(signed_count(r.stdout) == total, "presign --all signs every certificate's answer")

    # --- revoked certificates are answered revoked, from the cache ------------------------------
    revoked = revoked_serials(data, tmp.name, "sign")
    check(len(revoked) >= 2, f"the population has revoked signing certificates ({len(revoked)})")
    with Server(data=data) as server:
        text = openssl_status(data, server, "sign", revoked[0])
        check("Response verify OK" in text and ": revoked" in text,
              "openssl ocsp: a generated revoked certificate's pre-signed answer is revoked")
        check(metric(server, "kensho_ocsp_answers_total", 'answer="cached"') >= 1
              and metric(server, "kensho_ocsp_answers_total", 'answer="signed"') == 0,
              "that answer came from the cache presign filled")

        # A revocation committed while kenshod runs, then presign beside it.
        person = os.path.join(tmp.name, "person")
        r = kensho(data, "issue", "--name", "検証\u3000花子", "--birth", "1990-04-01", "--sex", "2",
                   "--address", "東京都千代田区千代田1番1号", "--out", person)
        sign_serial = dict(line.split()[:2] for line in r.stdout.splitlines())["sign"]
        text = openssl_status(data, server, "sign", int(sign_serial, 16))
        check(": good" in text, "openssl ocsp: a newly issued certificate is good")
        kensho(data, "revoke", "--kind", "sign", "--serial", sign_serial, "--reason",
               "keyCompromise")
        r = kensho(data, "presign", "--all", "--batch", "5")
        check(signed_count(r.stdout) == total + 2, "presign --all runs beside a running kenshod")
        text = openssl_status(data, server, "sign", int(sign_serial, 16))
        check("Response verify OK" in text and ": revoked" in text,
              "openssl ocsp: a certificate revoked while kenshod ran stays revoked after presign")
        check(metric(server, "kensho_ocsp_answers_total", 'answer="signed"') == 0,
              "every answer so far came from the cache")

    # --- usage errors ---------------------------------------------------------------------------
    for args in (("ocsp",), ("ocsp", "list"), ("presign", "--batch", "0"),
                 ("presign", "--validity", "3600", "--refresh-before", "3600"),
                 ("ocsp", "status", "--validity", "10")):
        r = kensho(data, *args, rc=2)
        check(r.returncode == 2, f"kensho {' '.join(args)}: usage error")
    r = kensho(os.path.join(tmp.name, "none"), "ocsp", "status", rc=1)
    check("cannot open the store" in r.stderr, "ocsp status without a store says so")
    r = kensho(data, "presign", "--help")
    check("--batch N" in r.stdout and "beside a running kenshod" in r.stdout,
          "presign --help says it is safe beside kenshod")

    check_interrupt(tmp.name)


if __name__ == "__main__":
    main()
