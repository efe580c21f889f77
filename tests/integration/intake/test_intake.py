#!/usr/bin/env python3
"""POST /v1/verify and /v1/intake against a real kenshod with applications
signed by `openssl cms -sign` (attached, detached, with and without signed
attributes) and certificates issued and revoked with the `kensho` CLI."""
import base64
import datetime
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, SOURCE, Server, check, run  # noqa: E402
from intake_common import (allow_plain, connect, issue, openssl_sign, post, sha256_hex,  # noqa: E402
                           verify_receipt)

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402

FIXTURES = os.path.join(SOURCE, "tests/unit/pki/cms")
CONTENT = b"application: change of address\nname: KENSHO TARO\n"


def expired_cert(data, person_dir, out):
    """A certificate from kensho's own signing CA that expired in 2021."""
    with open(os.path.join(data, "ca/sign-ca.pem"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(data, "ca/sign-ca.key"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    with open(os.path.join(person_dir, "sign.key"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    utc = datetime.timezone.utc
    cert = (x509.CertificateBuilder().subject_name(x509.Name.from_rfc4514_string("CN=expired,C=JP"))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(0x7e57)
            .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=utc))
            .not_valid_after(datetime.datetime(2021, 1, 1, tzinfo=utc))
            .add_extension(x509.KeyUsage(False, True, False, False, False, False, False, False,
                                         False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    with open(out, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-intake-") as tmp, \
            Server(args=allow_plain(tmp)) as srv:
        good_dir, bad_dir = os.path.join(tmp, "good"), os.path.join(tmp, "bad")
        issue(srv.data, good_dir)
        revoked_serial = issue(srv.data, bad_dir, name="KENSHO HANAKO")
        run(KENSHO, "--data", srv.data, "revoke", "--kind", "sign", "--serial", revoked_serial,
            "--reason", "keyCompromise")
        good = (os.path.join(good_dir, "sign.pem"), os.path.join(good_dir, "sign.key"))
        bad = (os.path.join(bad_dir, "sign.pem"), os.path.join(bad_dir, "sign.key"))
        receipt_pem = os.path.join(srv.data, "ca/receipt.pem")
        conn = connect(srv.port)

        def verify(body, headers=None):
            status, _, answer = post(conn, "/v1/verify", body, headers)
            return status, json.loads(answer)

        # valid: every form openssl makes
        forms = {
            "attached": (openssl_sign(tmp, *good, CONTENT), None),
            "attached, no signed attributes": (openssl_sign(tmp, *good, CONTENT, "-noattr"), None),
            "detached": (openssl_sign(tmp, *good, CONTENT, detached=True), CONTENT),
            "detached, no signed attributes":
                (openssl_sign(tmp, *good, CONTENT, "-noattr", detached=True), CONTENT),
        }
        for what, (sig, detached) in forms.items():
            body, headers = sig, None
            if detached is not None:
                body, headers = sig + detached, {"Kensho-Signature-Length": str(len(sig))}
            status, r = verify(body, headers)
            check(status == 200 and r["valid"] and r["reason"] == "ok", f"{what}: valid")
            check(r["signer"]["kind"] == "sign" and r["status"]["now"] == "good",
                  f"{what}: signer kind and status reported")
        with open(os.path.join(good_dir, "sign.pem"), "rb") as f:
            cert_der = x509.load_pem_x509_certificate(f.read()).public_bytes(
                serialization.Encoding.DER)
        status, r = verify(cert_der)
        check(status == 200 and r["valid"] and r["input"] == "certificate",
              "a bare certificate is checked")

        # invalid, each with its reason
        attached = forms["attached"][0]
        # (only the content: the certificate, checked first, holds the name too)
        altered = attached.replace(b"change of address", b"change of adDress")
        check(verify(altered)[1]["reason"] == "content_altered", "altered content: content_altered")
        bad_sig = attached[:-1] + bytes([attached[-1] ^ 1])
        check(verify(bad_sig)[1]["reason"] == "bad_signature", "altered signature: bad_signature")
        status, r = verify(openssl_sign(tmp, *bad, CONTENT))
        check(not r["valid"] and r["reason"] == "revoked" and r["status"]["now"] == "revoked" and
              r["status"]["revocation_reason"] == "keyCompromise" and "revoked_at" in r["status"],
              "revoked signer: revoked, with reason and time")
        with open(os.path.join(FIXTURES, "unknown.der"), "rb") as f:
            check(verify(f.read())[1]["reason"] == "unknown_issuer", "unknown CA: unknown_issuer")
        expired = os.path.join(tmp, "expired.pem")
        expired_cert(srv.data, good_dir, expired)
        status, r = verify(openssl_sign(tmp, expired, good[1], CONTENT))
        check(not r["valid"] and r["reason"] == "expired", "expired certificate: expired")
        status, r = verify(b"this is not a signature")
        check(status == 400 and r["error"] == "malformed_body", "garbage: 400")
        status, r = verify(forms["detached"][0])
        check(status == 400, "detached signature without its content: 400")

        # intake: stored, receipted, idempotent
        status, h, receipt = post(conn, "/v1/intake", attached)
        check(status == 201 and h["content-type"] == "application/cms", "intake: 201 with a receipt")
        number = int(h["kensho-receipt"])
        content = verify_receipt(receipt, receipt_pem, tmp)
        check(content is not None, "receipt verifies with openssl cms -verify -CAfile receipt.pem")
        check(content["receipt"] == number and content["sha256"] == sha256_hex(attached) and
              content["result"]["valid"], "receipt names its number and the original's SHA-256")
        status, h2, again = post(conn, "/v1/intake", attached)
        check(status == 200 and again == receipt and int(h2["kensho-receipt"]) == number,
              "resubmitting the same bytes returns the original receipt")
        detached_body = forms["detached"][0] + CONTENT
        status, h3, _ = post(conn, "/v1/intake", detached_body,
                             {"Kensho-Signature-Length": str(len(forms["detached"][0]))})
        check(status == 201 and int(h3["kensho-receipt"]) == number + 1,
              "a detached application gets the next receipt")
        status, _, state = srv.get(f"/v1/intake/{number}")
        state = json.loads(state)
        check(status == 200 and state["sha256"] == sha256_hex(attached) and
              state["size"] == len(attached) and state["result"]["valid"] and
              base64.b64decode(state["receipt_cms"]) == receipt,
              "GET /v1/intake/{receipt} returns the stored state")
        status, _, der = srv.get(f"/v1/intake/{number}", {"Accept": "application/cms"})
        check(status == 200 and der == receipt, "GET with Accept: application/cms gives the receipt")
        check(srv.get("/v1/intake/999999")[0] == 404, "unknown receipt: 404")
        check(srv.get("/v1/intake/abc")[0] == 400, "malformed receipt number: 400")
        status, _, answer = post(conn, "/v1/intake", altered)
        check(status == 422 and json.loads(answer)["reason"] == "content_altered",
              "an invalid application is refused with its reason (422)")
        check(srv.get(f"/v1/intake/{number + 2}")[0] == 404, "and nothing was stored for it")
        status, _, _ = post(conn, "/v1/intake", b"garbage")
        check(status == 400, "garbage at intake: 400")
        key_mode = os.stat(os.path.join(srv.data, "ca/receipt.key")).st_mode & 0o777
        check(key_mode == 0o600, "receipt key is owner-only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
