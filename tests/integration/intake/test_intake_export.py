#!/usr/bin/env python3
"""`kensho intake export` and the auditor's checks of docs/intake.md
("Checking an exported application"), run exactly as the document prints
them: the shell blocks marked `<!-- audit-step: NAME -->` are read from the
document and run with bash in the exported bundle.

- a bundle as exported passes every step;
- after tampering with each file, the step that covers it fails (and so
  does the manifest check);
- under faketime at a date after the signer's certificate expired, every
  step still passes (-attime), while a check without -attime fails;
- an application whose signer is revoked after receipt still exports
  evidence that says good at receipt, while the live OCSP answer says
  revoked;
- a detached submission's bundle passes the steps that do not need
  `-content`; a record stored before kensho kept evidence (layout 1,
  rewritten in place with mdb_load) still exports, saying it has none; a
  bad receipt number fails with a clear message."""
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, SOURCE, Server, check, run  # noqa: E402
from intake_common import allow_plain, connect, issue, openssl_sign, post  # noqa: E402

from cryptography import x509  # noqa: E402

DOC = os.path.join(SOURCE, "docs/intake.md")
CONTENT = b"application: change of address\nname: KENSHO TARO\n"
# a DER GeneralizedTime (with or without fractions) of this century
GENERALIZED_TIME = rb"\x18[\x0f-\x13]20\d\d"
ALL_STEPS = ["manifest", "time", "signature", "ocsp", "timestamp", "receipt", "log"]
LOG_DOC = os.path.join(SOURCE, "docs/log.md")


def audit_steps():
    """The document's audit blocks by name."""
    text = open(DOC, encoding="utf-8").read()
    return dict(re.findall(r"<!-- audit-step: (\w+) -->\n```sh\n(.*?)```", text, re.S))


def run_steps(bundle, names, fake_date=None):
    """Runs the named blocks in one bash (set -e, pipefail) in the bundle;
    returns (exit status, output)."""
    steps = audit_steps()
    if "log" in names:  # the auditor saves docs/log.md's snippet as check_log.py
        text = open(LOG_DOC, encoding="utf-8").read()
        snippet = re.search(r"<!-- auditor-snippet -->\n```python\n(.*?)```", text, re.S).group(1)
        with open(os.path.join(bundle, "check_log.py"), "w") as f:
            f.write(snippet)
    script = "set -eo pipefail\n" + "\n".join(steps[n] for n in names)
    cmd = ["bash", "-c", script]
    if fake_date:
        cmd = ["faketime", fake_date] + cmd
    r = subprocess.run(cmd, cwd=bundle, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def export(data, number, out):
    return run(KENSHO, "--data", data, "intake", "export", str(number), "--out", out, check=False)


def export_logged(data, number, out):
    """Exports once a signed tree head covers the record (kenshod signs one
    every log.sth_interval, 1 s here); at most 60 tries."""
    for _ in range(60):
        shutil.rmtree(out, ignore_errors=True)
        r = export(data, number, out)
        if r.returncode != 0 or json.load(open(os.path.join(out, "manifest.json")))["log"]:
            return r
        check("no signed tree head covers" in r.stderr, f"the export says why the log is missing: {r.stderr}")
        time.sleep(0.5)
    check(False, f"a signed tree head covers receipt {number} within 30 s")


def submit(conn, body, headers=None):
    status, hdrs, _ = post(conn, "/v1/intake", body, headers)
    check(status == 201, f"intake accepted the application ({status})")
    return int(hdrs["kensho-receipt"])


def flip(path, find, offset=0):
    """Changes one byte of the file: at `offset` from the first match of the
    bytes pattern `find`, or (find None) at offset from the end."""
    data = bytearray(open(path, "rb").read())
    at = len(data) + offset if find is None else re.search(find, bytes(data)).start() + offset
    data[at] ^= 0x01
    open(path, "wb").write(bytes(data))


def replace_with(path, other):
    shutil.copyfile(other, path)


def rewrite_as_layout_1(data, number):
    """Rewrites intake record `number` in place as layout 1 (before kensho
    kept evidence: version 1, no fields after the receipt DER), with the
    LMDB command-line tools, as an old store would hold it."""
    store = os.path.join(data, "store")
    dump = run("mdb_dump", "-s", "intake", store).stdout.splitlines()
    header = dump[:dump.index("HEADER=END") + 1]
    pairs = dict(zip(dump[len(header)::2], dump[len(header) + 1::2]))
    key = " " + format(number, "016x")
    value = bytes.fromhex(pairs[key].strip())
    check(value[0] == 2, "the record was stored in layout 2")
    at = 1 + 8 + 32
    for _ in range(3):  # original, result, receipt DER
        at += 4 + int.from_bytes(value[at:at + 4], "big")
    old = b"\x01" + value[1:at]
    path = os.path.join(os.path.dirname(data), "layout1.dump")
    with open(path, "w") as f:
        f.write("\n".join(header + [key, " " + old.hex()]) + "\n")
    with open(path) as f:
        subprocess.run(["mdb_load", "-s", "intake", store], stdin=f, check=True)


def check_tampering(bundle, tmp):
    """Each file changed in a fresh copy: its step and the manifest fail."""
    cases = [
        # file, how, the step that must fail
        ("application.bin", lambda p: flip(p, None, -1), "receipt"),
        ("signature.p7s", lambda p: flip(p, re.escape(CONTENT[:16])), "signature"),
        ("content.bin", lambda p: flip(p, None, -1), "signature"),
        ("chain.pem", lambda p: replace_with(p, os.path.join(bundle, "receipt.pem")), "signature"),
        ("ocsp.der", lambda p: flip(p, GENERALIZED_TIME, 14), "ocsp"),  # producedAt's seconds
        ("ca.pem", lambda p: replace_with(p, os.path.join(bundle, "receipt.pem")), "ocsp"),
        ("timestamp.tsr", lambda p: flip(p, GENERALIZED_TIME, 14), "timestamp"),  # genTime
        ("signature.p7s", lambda p: flip(p, None, -1), "timestamp"),  # the signature octets
        ("receipt.p7s", lambda p: flip(p, rb'"receipt":', 10), "receipt"),
        ("leaf.bin", lambda p: flip(p, None, -1), "log"),
        ("sth.sig", lambda p: flip(p, None, -1), "log"),
        ("proof.json", lambda p: replace_with(p, os.path.join(bundle, "sth.json")), "log"),
    ]
    for name, how, step in cases:
        copy = os.path.join(tmp, "tampered")
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(bundle, copy)
        how(os.path.join(copy, name))
        rc, out = run_steps(copy, ["time", step])
        check(rc != 0, f"changing {name} makes the {step} step fail")
        rc, out = run_steps(copy, ["manifest"])
        check(rc != 0 and "MISMATCH" in out and name in out,
              f"changing {name} makes the manifest check fail")


def main():
    steps = audit_steps()
    check(sorted(steps) == sorted(ALL_STEPS), f"docs/intake.md has the audit steps: {sorted(steps)}")
    with tempfile.TemporaryDirectory(prefix="kensho-export-") as tmp, \
            Server(args=allow_plain(tmp, "log.sth_interval = 1s\n")) as srv:
        conn = connect(srv.port)
        taro, hanako = os.path.join(tmp, "taro"), os.path.join(tmp, "hanako")
        issue(srv.data, taro)
        hanako_serial = issue(srv.data, hanako, name="KENSHO HANAKO")

        # An application, exported and checked as docs/intake.md says.
        body = openssl_sign(tmp, os.path.join(taro, "sign.pem"), os.path.join(taro, "sign.key"),
                            CONTENT)
        number = submit(conn, body)
        conn.request("GET", f"/v1/intake/{number}")
        state = json.loads(conn.getresponse().read())
        ev = state.get("evidence", {})
        check(ev.get("chain_bytes", 0) > 0 and ev.get("ocsp_bytes", 0) > 0 and
              ev.get("timestamp_bytes", 0) > 0, f"the record holds its evidence: {ev}")
        bundle = os.path.join(tmp, "bundle")
        r = export(srv.data, number, bundle)
        check(r.returncode == 0, f"export succeeds: {r.stderr}")
        r = export_logged(srv.data, number, bundle)
        check(r.returncode == 0, f"export succeeds: {r.stderr}")
        manifest = json.load(open(os.path.join(bundle, "manifest.json")))
        names = {f["name"] for f in manifest["files"]}
        check(manifest["receipt"] == number and manifest["log"]["proof"] == "proof.json" and
              {"leaf.bin", "proof.json", "sth.json", "sth.bin", "sth.sig"} <= names,
              f"the manifest names the receipt and its place in the log: {manifest['log']}")
        check(open(os.path.join(bundle, "application.bin"), "rb").read() == body,
              "application.bin is the submission")
        rc, out = run_steps(bundle, ALL_STEPS)
        print(out)
        check(rc == 0, "every audit step passes on the bundle as exported")
        check("signer.pem: good" in out and "Verification: OK" in out,
              "openssl says good and the timestamp verifies")

        check_tampering(bundle, tmp)

        # Years later: after the signer's certificate expired.
        signer = x509.load_pem_x509_certificate(open(os.path.join(bundle, "signer.pem"), "rb").read())
        later = signer.not_valid_after + datetime.timedelta(days=30)
        fake = later.strftime("%Y-%m-%d %H:%M:%S")
        r = subprocess.run(["faketime", fake, "openssl", "cms", "-verify", "-binary", "-inform",
                            "DER", "-in", "signature.p7s", "-CAfile", "chain.pem", "-out",
                            os.devnull], cwd=bundle, capture_output=True, text=True)
        check(r.returncode != 0 and "expired" in r.stderr,
              f"at {fake} the signer's certificate has expired (without -attime)")
        rc, out = run_steps(bundle, ALL_STEPS, fake_date=fake)
        print(out)
        check(rc == 0, f"at {fake} every audit step still passes")

        # Revoked after receipt (an ordinary reason): the evidence still
        # shows good at receipt; the live answer says revoked.
        body = openssl_sign(tmp, os.path.join(hanako, "sign.pem"),
                            os.path.join(hanako, "sign.key"), b"application: hanako\n")
        revoked_number = submit(conn, body)
        run(KENSHO, "--data", srv.data, "revoke", "--kind", "sign", "--serial", hanako_serial,
            "--reason", "affiliationChanged")
        revoked_bundle = os.path.join(tmp, "revoked")
        r = export_logged(srv.data, revoked_number, revoked_bundle)
        check(r.returncode == 0, f"export of the revoked signer's application: {r.stderr}")
        rc, out = run_steps(revoked_bundle, ALL_STEPS)
        print(out)
        check(rc == 0 and "signer.pem: good" in out,
              "the revoked signer's bundle passes and shows good at receipt")
        live = run("openssl", "ocsp", "-issuer", os.path.join(revoked_bundle, "ca.pem"),
                   "-cert", os.path.join(revoked_bundle, "signer.pem"), "-url", srv.url + "/ocsp",
                   "-CAfile", os.path.join(revoked_bundle, "ca.pem"), "-no_nonce", check=False)
        check(": revoked" in live.stdout, f"the live answer now says revoked: {live.stdout}")

        # Detached: the bundle splits the signature from the content.
        body = openssl_sign(tmp, os.path.join(taro, "sign.pem"), os.path.join(taro, "sign.key"),
                            b"detached application\n", detached=True)
        number = submit(conn, body + b"detached application\n",
                        {"Kensho-Signature-Length": str(len(body))})
        detached_bundle = os.path.join(tmp, "detached")
        check(export_logged(srv.data, number, detached_bundle).returncode == 0, "detached export")
        check(open(os.path.join(detached_bundle, "content.bin"), "rb").read() ==
              b"detached application\n" and
              open(os.path.join(detached_bundle, "signature.p7s"), "rb").read() == body,
              "the detached bundle has the signature and the content apart")
        rc, out = run_steps(detached_bundle, ["manifest", "time", "ocsp", "timestamp", "receipt",
                                               "log"])
        check(rc == 0, "the detached bundle's steps pass:\n" + out)

        # A record of layout 1 (stored before kensho kept evidence).
        rewrite_as_layout_1(srv.data, number)
        conn.request("GET", f"/v1/intake/{number}")
        state = json.loads(conn.getresponse().read())
        check("evidence" not in state and state["receipt"] == number,
              "a layout 1 record reads, without evidence")
        old_bundle = os.path.join(tmp, "layout1")
        r = export(srv.data, number, old_bundle)
        check(r.returncode == 0 and "before kensho kept evidence" in r.stdout,
              f"a layout 1 record exports and says it has no evidence: {r.stdout} {r.stderr}")
        manifest = json.load(open(os.path.join(old_bundle, "manifest.json")))
        names = {f["name"] for f in manifest["files"]}
        check(manifest["evidence"] is False and "application.bin" in names and
              "receipt.p7s" in names and "ocsp.der" not in names and "timestamp.tsr" not in names,
              f"its bundle has the application and receipt only: {sorted(names)}")
        rc, out = run_steps(old_bundle, ["manifest"])
        check(rc == 0, "its manifest checks")

        # Bad numbers.
        r = export(srv.data, 99, os.path.join(tmp, "none"))
        check(r.returncode == 1 and "no receipt 99" in r.stderr,
              f"an unknown receipt fails clearly: {r.returncode} {r.stderr}")
        check(not os.path.exists(os.path.join(tmp, "none")), "and writes nothing")
        for bad in ("0", "abc", "-1"):
            r = export(srv.data, bad, os.path.join(tmp, "none"))
            check(r.returncode == 2 and "receipt number" in r.stderr,
                  f"a malformed receipt number ({bad}) is a usage error: {r.stderr}")
    print("ok")


if __name__ == "__main__":
    main()
