#!/usr/bin/env python3
"""POST /tsa, kensho's RFC 3161 time-stamping authority, with openssl's own
client: `openssl ts -query` makes the queries, the demo intake client posts
them over TLS, and `openssl ts -reply` / `-verify` check the answers against
the signing CA. Refusals carry the PKIStatus and failInfo RFC 3161 §2.4.2
names; a caller without the intake role gets 403; a data directory without
the time-stamping unit still starts and says so, until `kensho ca tsa-init`."""
import http.client
import os
import ssl
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, Server, check, run  # noqa: E402

BAD_ALG, BAD_REQUEST, BAD_DATA_FORMAT = 0, 2, 5
UNACCEPTED_POLICY, UNACCEPTED_EXTENSION, SYSTEM_FAILURE = 15, 16, 25


def tls_connect(srv, client=None):
    ctx = ssl.create_default_context(cafile=os.path.join(srv.data, "tls/ca.pem"))
    if client:
        base = os.path.join(srv.data, "tls/clients", client)
        ctx.load_cert_chain(base + ".pem", base + ".key")
    return http.client.HTTPSConnection("127.0.0.1", srv.tls_port, context=ctx, timeout=30)


def post(conn, body, content_type="application/timestamp-query"):
    conn.request("POST", "/tsa", body=body, headers={"Content-Type": content_type})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, r.getheader("Content-Type"), data


def tlv(data, at):
    """(tag, content start, end) of the DER TLV at `at`."""
    tag, n = data[at], data[at + 1]
    at += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(data[at:at + k], "big")
        at += k
    return tag, at, at + n


def status_of(reply):
    """PKIStatus and the set failInfo bit (or None) of a TimeStampResp."""
    _, at, _ = tlv(reply, 0)              # TimeStampResp
    _, at, end = tlv(reply, at)           # PKIStatusInfo
    _, s, e = tlv(reply, at)
    status = int.from_bytes(reply[s:e], "big")
    at, fail = e, None
    while at < end:
        tag, s, e = tlv(reply, at)
        if tag == 0x03:
            bits = int.from_bytes(reply[s + 1:e], "big")
            width = (e - s - 1) * 8
            fail = next(i for i in range(width) if bits & (1 << (width - 1 - i)))
        at = e
    return status, fail


def der(tag, content):
    n = len(content)
    length = bytes([n]) if n < 0x80 else bytes([0x81, n]) if n < 0x100 else bytes([0x82]) + n.to_bytes(2, "big")
    return bytes([tag]) + length + content


def hand_made_query(nonce=None, extensions=False):
    sha256 = der(0x30, der(0x06, bytes.fromhex("608648016503040201")))
    imprint = der(0x30, sha256 + der(0x04, bytes(32)))
    body = der(0x02, b"\x01") + imprint
    if nonce is not None:
        body += der(0x02, nonce)
    if extensions:
        body += der(0xA0, der(0x30, der(0x06, bytes.fromhex("2a030405")) + der(0x04, b"\x05\x00")))
    return der(0x30, body)


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-tsa-") as tmp, Server(tls=True) as srv:
        data = os.path.join(tmp, "application.txt")
        with open(data, "wb") as f:
            f.write(b"an application to be time-stamped\n")
        sign_ca = os.path.join(srv.data, "ca/sign-ca.pem")
        tsa_cert = os.path.join(srv.data, "ca/tsa.pem")
        text = run("openssl", "x509", "-in", tsa_cert, "-noout", "-text").stdout
        check("Time Stamping" in text and "critical" in text.split("Extended Key Usage")[1][:40],
              "ca init made a TSA certificate with the critical timeStamping usage")

        for extra, name in ((["-cert"], "certReq, nonce"), (["-no_nonce"], "no certReq, no nonce")):
            query, reply = os.path.join(tmp, "q.tsq"), os.path.join(tmp, "r.tsr")
            run("openssl", "ts", "-query", "-data", data, "-sha256", *extra, "-out", query)
            with open(query, "rb") as f:
                status, ctype, answer = post(tls_connect(srv, "intake"), f.read())
            check(status == 200 and ctype == "application/timestamp-reply",
                  f"{name}: 200 application/timestamp-reply")
            check(status_of(answer) == (0, None), f"{name}: granted")
            with open(reply, "wb") as f:
                f.write(answer)
            shown = run("openssl", "ts", "-reply", "-in", reply, "-text").stdout
            check("Status: Granted." in shown and "Policy OID: 1.3.6.1.4.1.32473.3161.1" in shown,
                  f"{name}: openssl reads the reply, with the default policy")
            check(("Nonce: unspecified" in shown) == ("-no_nonce" in extra),
                  f"{name}: the nonce echoed only when sent")
            verify = ["openssl", "ts", "-verify", "-data", data, "-in", reply, "-CAfile", sign_ca,
                      "-untrusted", tsa_cert]
            out = run(*verify, check=False)
            check(out.returncode == 0 and "Verification: OK" in out.stdout,
                  f"{name}: openssl ts -verify passes ({out.stdout.strip()} {out.stderr.strip()})")
            out = run("openssl", "ts", "-verify", "-queryfile", query, "-in", reply,
                      "-CAfile", sign_ca, "-untrusted", tsa_cert, check=False)
            check(out.returncode == 0, f"{name}: and against the query (nonce, imprint)")

        def refused(query_args=None, body=None, want=None, what=""):
            if body is None:
                query = os.path.join(tmp, "bad.tsq")
                run("openssl", "ts", "-query", "-data", data, *query_args, "-out", query)
                with open(query, "rb") as f:
                    body = f.read()
            status, _, answer = post(tls_connect(srv, "intake"), body)
            check(status == 200 and status_of(answer) == (2, want),
                  f"{what}: rejection with failInfo {want} (got {status}, {status_of(answer) if status == 200 else answer})")

        refused(["-sha1"], want=BAD_ALG, what="SHA-1 imprint")
        refused(["-sha3-256"], want=BAD_ALG, what="SHA3-256 imprint")
        refused(["-sha256", "-tspolicy", "1.2.3.4.5"], want=UNACCEPTED_POLICY, what="another policy")
        query = os.path.join(tmp, "ours.tsq")
        run("openssl", "ts", "-query", "-data", data, "-sha256", "-tspolicy",
            "1.3.6.1.4.1.32473.3161.1", "-out", query)
        with open(query, "rb") as f:
            status, _, answer = post(tls_connect(srv, "intake"), f.read())
        check(status_of(answer) == (0, None), "kensho's own policy asked for: granted")
        refused(body=hand_made_query(nonce=b"\x01" * 21), want=BAD_REQUEST, what="a 168-bit nonce")
        status, _, answer = post(tls_connect(srv, "intake"), hand_made_query(nonce=b"\x7f" * 20))
        check(status_of(answer) == (0, None), "a 160-bit nonce is granted")
        refused(body=hand_made_query(extensions=True), want=UNACCEPTED_EXTENSION,
                what="an extension")
        refused(body=b"\x30\x03\x02\x01\x01", want=BAD_DATA_FORMAT, what="no imprint")

        status, _, _ = post(tls_connect(srv, "intake"), hand_made_query(), "application/json")
        check(status == 415, "another media type: 415")
        status, _, answer = post(tls_connect(srv, "intake"), b"")
        check(status == 400 and b"empty_body" in answer, "no body: 400 empty_body")
        status, _, _ = post(tls_connect(srv, "intake"), bytes(2000))
        check(status == 413, "a body over 1024 bytes: 413")
        status, _, _ = post(tls_connect(srv, "relying-party"), hand_made_query())
        check(status == 403, "a caller without the intake role: 403")

    # A data directory made before kensho had a time-stamping unit.
    with tempfile.TemporaryDirectory(prefix="kensho-tsa-old-") as tmp:
        data_dir = os.path.join(tmp, "data")
        with Server(data=data_dir, tls=True):
            pass
        for name in ("tsa.pem", "tsa.key"):
            os.remove(os.path.join(data_dir, "ca", name))
        with Server(data=data_dir, tls=True) as again:
            status, _, answer = post(tls_connect(again, "intake"), hand_made_query())
            check(status == 200 and status_of(answer) == (2, SYSTEM_FAILURE),
                  "without a unit: kenshod starts and /tsa answers systemFailure")
            check(b"no time-stamping unit" in answer, "naming what is missing")
        run(KENSHO, "--data", data_dir, "ca", "tsa-init")
        conf = os.path.join(tmp, "kenshod.conf")
        with open(conf, "w") as f:
            f.write("tsa.policy = 1.3.6.1.4.1.32473.1.2\n")
        out = run(KENSHO, "--data", data_dir, "ca", "tsa-init", check=False)
        check(out.returncode != 0 and "already exists" in out.stderr,
              "ca tsa-init refuses to replace a unit")
        with Server(data=data_dir, tls=True, args=["--config", conf]) as again:
            status, _, answer = post(tls_connect(again, "intake"), hand_made_query())
            check(status == 200 and status_of(answer) == (0, None),
                  "after ca tsa-init and a restart: granted")
            reply = os.path.join(tmp, "r.tsr")
            with open(reply, "wb") as f:
                f.write(answer)
            shown = run("openssl", "ts", "-reply", "-in", reply, "-text").stdout
            check("Policy OID: 1.3.6.1.4.1.32473.1.2" in shown, "under the configured tsa.policy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
