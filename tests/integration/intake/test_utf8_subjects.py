#!/usr/bin/env python3
"""Subjects in Japanese come back as the exact UTF-8 the certificate holds,
through /v1/verify and inside a signed intake receipt (docs/api.md): in the
certificate's RDN order joined by ", ", each value escaped as RFC 4514 §2.4
says. The expected text is python3-cryptography's own RFC 4514 rendering of
each RDN."""
import datetime
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, Server, check, run  # noqa: E402
from intake_common import allow_plain, connect, openssl_sign, post, verify_receipt  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

CONTENT = b"application: change of address\n"


def rendered(name):
    """kensho's documented form: the certificate's order, RFC 4514 values."""
    return ", ".join(rdn.rfc4514_string() for rdn in name.rdns)


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-utf8-") as tmp, \
            Server(args=allow_plain(tmp)) as srv:
        conn = connect(srv.port)
        with open(os.path.join(srv.data, "ca/sign-ca.pem"), "rb") as f:
            ca = x509.load_pem_x509_certificate(f.read())
        with open(os.path.join(srv.data, "ca/sign-ca.key"), "rb") as f:
            ca_key = serialization.load_pem_private_key(f.read(), None)

        # /v1/verify: kanji in L and CN, and the characters RFC 4514 escapes
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "愛知県"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "名古屋市中区三の丸三丁目1番2号"),
            x509.NameAttribute(NameOID.COMMON_NAME, "#試験, 太郎+\"花子\" <a;b> "),
        ])
        utc = datetime.timezone.utc
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(0x7e58)
                .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=utc))
                .not_valid_after(datetime.datetime(2040, 1, 1, tzinfo=utc))
                .sign(ca_key, hashes.SHA256()))
        status, _, answer = post(conn, "/v1/verify", cert.public_bytes(serialization.Encoding.DER))
        r = json.loads(answer.decode("utf-8"))
        want = rendered(cert.subject)
        check(status == 200 and r["signer"]["subject"] == want,
              f"/v1/verify: subject {r['signer']['subject']!r} == {want!r}")
        check(want.startswith("C=JP, L=愛知県, L=名古屋市") and "CN=\\#試験\\, 太郎\\+\\\"花子\\\" "
              "\\<a\\;b\\>\\ " in want, "the expectation holds kanji and every escape")

        # an accepted application: the receipt's result carries the same text
        person = os.path.join(tmp, "person")
        run(KENSHO, "--data", srv.data, "issue", "--name", "試験　太郎", "--birth", "1980-01-01",
            "--sex", "1", "--address", "愛知県名古屋市中区三の丸三丁目1番2号", "--out", person)
        with open(os.path.join(person, "sign.pem"), "rb") as f:
            issued = x509.load_pem_x509_certificate(f.read())
        want = rendered(issued.subject)
        check(want.startswith("C=JP, L=Aichi, L=Nagoya-shi, CN="),
              f"kensho issue put the address's prefecture and municipality, romanized, in L ({want})")
        signed = openssl_sign(tmp, os.path.join(person, "sign.pem"), os.path.join(person, "sign.key"),
                              CONTENT)
        status, headers, receipt = post(conn, "/v1/intake", signed)
        check(status == 201, "the application is accepted")
        content = verify_receipt(receipt, os.path.join(srv.data, "ca/receipt.pem"), tmp)
        check(content is not None and content["result"]["signer"]["subject"] == want,
              f"the signed receipt holds the subject as UTF-8 ({content and content['result']['signer']['subject']!r})")
        status, _, body = srv.get("/v1/intake/" + headers["kensho-receipt"])
        check(status == 200 and json.loads(body.decode("utf-8"))["result"]["signer"]["subject"] == want,
              "GET /v1/intake/{receipt} too")


if __name__ == "__main__":
    main()
