#!/usr/bin/env python3
"""Signer keys that make public-key operations expensive (DESIGN rule 3).

An RSA-8192 signer certificate with an 8191-bit public exponent costs
hundreds of times a normal RSA-2048 check. /v1/verify and /v1/intake must
answer it without doing that work: from an issuer that is not kensho's with
no public-key operation at all (`unknown_issuer`), and from a kensho CA by
the key limits (`signer_key_not_accepted`, verify.max_rsa_bits,
verify.max_rsa_exponent). Asserted by kenshod's own counter of public-key
operations (/metrics), never by timing."""
import datetime
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Server, check  # noqa: E402
from intake_common import allow_plain, connect, issue, openssl_sign, post  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

CONTENT = b"application: change of address\n"
HUGE_N = (1 << 8192) - 1         # 8192 bits, odd
HUGE_E = (1 << 8190) + 1         # 8191 bits, odd, below n
F4 = 65537


def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def der_int(v):
    return tlv(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))


OID_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
OID_DATA = bytes.fromhex("06092a864886f70d010701")
OID_RSA = bytes.fromhex("06092a864886f70d010101")
SHA256 = tlv(0x30, bytes.fromhex("0609608648016503040201") + b"\x05\x00")


def signed_data(cert, content, signature):
    """A SignedData without signed attributes naming `cert` as its signer."""
    issuer_and_serial = tlv(0x30, cert.issuer.public_bytes() + der_int(cert.serial_number))
    signer = tlv(0x30, der_int(1) + issuer_and_serial + SHA256
                 + tlv(0x30, OID_RSA + b"\x05\x00") + tlv(0x04, signature))
    body = (der_int(1) + tlv(0x31, SHA256) + tlv(0x30, OID_DATA + tlv(0xa0, tlv(0x04, content)))
            + tlv(0xa0, cert.public_bytes(serialization.Encoding.DER)) + tlv(0x31, signer))
    return tlv(0x30, OID_SIGNED_DATA + tlv(0xa0, tlv(0x30, body)))


def certificate(issuer_name, issuer_key, n, e, serial):
    utc = datetime.timezone.utc
    return (x509.CertificateBuilder()
            .subject_name(x509.Name.from_rfc4514_string("CN=expensive key,C=JP"))
            .issuer_name(issuer_name).public_key(rsa.RSAPublicNumbers(e, n).public_key())
            .serial_number(serial)
            .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=utc))
            .not_valid_after(datetime.datetime(2040, 1, 1, tzinfo=utc))
            .sign(issuer_key, hashes.SHA256()))


def operations(srv, route):
    status, _, body = srv.get("/metrics")
    assert status == 200
    m = re.search(r'^kensho_verify_public_key_operations_total\{route="%s"\} (\S+)$' % route,
                  body.decode(), re.M)
    check(m is not None, f"/metrics has the public-key operations of {route}")
    return float(m.group(1))


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-keys-") as tmp, \
            Server(args=allow_plain(tmp)) as srv:
        conn = connect(srv.port)

        def ask(path, body):
            status, _, answer = post(conn, path, body)
            return status, json.loads(answer)

        # a real signature: the CA's on the certificate and the signer's
        person = os.path.join(tmp, "person")
        issue(srv.data, person)
        good = openssl_sign(tmp, os.path.join(person, "sign.pem"), os.path.join(person, "sign.key"),
                            CONTENT)
        before = operations(srv, "verify")
        status, r = ask("/v1/verify", good)
        check(status == 200 and r["valid"], "a JPKI-shaped signature (RSA-2048, e=65537) is valid")
        check(operations(srv, "verify") == before + 2, "it cost two public-key operations")

        # an issuer that is not kensho's
        foreign_key = rsa.generate_private_key(public_exponent=F4, key_size=2048)
        foreign_name = x509.Name.from_rfc4514_string("CN=Not kensho,C=JP")
        junk = b"\x5a" * 1024
        expensive = signed_data(certificate(foreign_name, foreign_key, HUGE_N, HUGE_E, 0x51),
                                CONTENT, junk)
        for route, path, want_status in (("verify", "/v1/verify", 200), ("intake", "/v1/intake", 422)):
            before = operations(srv, route)
            status, r = ask(path, expensive)
            check(status == want_status and not r["valid"] and r["reason"] == "unknown_issuer",
                  f"{path}: RSA-8192 with an 8191-bit exponent from a foreign CA is unknown_issuer")
            check(operations(srv, route) == before,
                  f"{path}: answered without any public-key operation")

        # kensho's own CA: the key limits refuse it, before any operation
        with open(os.path.join(srv.data, "ca/sign-ca.pem"), "rb") as f:
            ca = x509.load_pem_x509_certificate(f.read())
        with open(os.path.join(srv.data, "ca/sign-ca.key"), "rb") as f:
            ca_key = serialization.load_pem_private_key(f.read(), None)
        for what, e, serial in (("an 8191-bit exponent", HUGE_E, 0x52), ("e=65537", F4, 0x53)):
            body = signed_data(certificate(ca.subject, ca_key, HUGE_N, e, serial), CONTENT, junk)
            for route, path, want_status in (("verify", "/v1/verify", 200),
                                             ("intake", "/v1/intake", 422)):
                before = operations(srv, route)
                status, r = ask(path, body)
                check(status == want_status and not r["valid"]
                      and r["reason"] == "signer_key_not_accepted"
                      and "RSA-8192" in r["detail"] and "2048..4096 bits" in r["detail"],
                      f"{path}: RSA-8192 with {what} from kensho's CA is refused with a reason "
                      f"({r.get('detail')})")
                check(operations(srv, route) == before,
                      f"{path}: refused without any public-key operation")
        status, _, _ = srv.get("/healthz")
        check(status == 200, "the loop still answers /healthz")

    # the limits are configurable and checked: out of range refuses to start
    with tempfile.TemporaryDirectory(prefix="kensho-keys-") as tmp:
        for line, key in (("verify.max_rsa_bits = 16384", "verify.max_rsa_bits"),
                          ("verify.max_rsa_exponent = 1", "verify.max_rsa_exponent")):
            srv = Server(args=allow_plain(tmp, line + "\n"))
            try:
                srv.start()
                started = True
            except RuntimeError:
                started = False
            finally:
                srv.stop()
            check(not started and key in srv.output(),
                  f"kenshod refuses {line!r} and names the key")
            if srv.tmp:
                srv.tmp.cleanup()


if __name__ == "__main__":
    main()
