"""Two ways a client could be left holding a stale or wrong OCSP answer:

- `If-None-Match: *` on a GET: kensho answers with the current bytes (a
  revoked answer after a revocation), never 304, because `*` would let a
  client keep whatever good answer it had (DESIGN rule 1).
- a CertID whose serial is not in its one DER form (a redundant leading 00,
  negative, empty, or a long-form length): malformedRequest, never
  `unknown` with the invalid bytes echoed."""
import os
import sys
import tempfile

from cryptography.x509 import ocsp

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import MALFORMED, get, get_path, make_data, post, revoke  # noqa: E402
from harness import Server, check, run  # noqa: E402


def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def with_serial(req_der, integer):
    """openssl's one-CertID request with the serial INTEGER TLV replaced."""
    p = 0
    for _ in range(4):  # OCSPRequest, TBSRequest, requestList, Request
        assert req_der[p] == 0x30 and req_der[p + 1] < 0x80
        p += 2
    cert_id = req_der[p + 2:p + 2 + req_der[p + 1]]
    q = 0
    for _ in range(3):  # hashAlgorithm, issuerNameHash, issuerKeyHash
        assert cert_id[q + 1] < 0x80
        q += 2 + cert_id[q + 1]
    assert cert_id[q] == 0x02 and q + 2 + cert_id[q + 1] == len(cert_id)
    content = cert_id[:q] + integer
    return tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30, content)))))


def status_of(body):
    return ocsp.load_der_ocsp_response(body).certificate_status


def main():
    tmp = tempfile.TemporaryDirectory(prefix="kensho-ocsp-cond-")
    data, (alice, bob) = make_data(tmp.name, people=2)
    revoke(data, "sign", bob.sign_serial, "keyCompromise")
    sign_ca = os.path.join(data, "ca", "sign-ca.pem")

    def request_for(cert, name):
        path = os.path.join(tmp.name, name)
        run("openssl", "ocsp", "-issuer", sign_ca, "-cert", cert, "-no_nonce", "-reqout", path)
        with open(path, "rb") as f:
            return f.read()

    alice_req = request_for(alice.sign, "alice.der")
    bob_req = request_for(bob.sign, "bob.der")

    with Server(data=data) as srv:
        url = srv.url
        alice_get = f"{url}/ocsp/{get_path(alice_req)}"

        # --- If-None-Match: * ---------------------------------------------------------------
        status, headers, body = get(alice_get)
        check(status == 200 and status_of(body) == ocsp.OCSPCertStatus.GOOD, "alice is good")
        good_etag = headers["ETag"]
        status, _, body = get(alice_get, {"If-None-Match": "*"})
        check(status == 200 and status_of(body) == ocsp.OCSPCertStatus.GOOD,
              "If-None-Match: * gets the current answer, not 304")
        revoke(data, "sign", alice.sign_serial, "keyCompromise")
        for value in ("*", good_etag, f'"other", *', f"W/{good_etag}"):
            status, headers, body = get(alice_get, {"If-None-Match": value})
            check(status == 200 and status_of(body) == ocsp.OCSPCertStatus.REVOKED,
                  f"after the revocation, If-None-Match: {value} gets the revoked answer")
        revoked_etag = headers["ETag"]
        check(revoked_etag != good_etag, "the revoked answer has its own ETag")
        status, _, body = get(alice_get, {"If-None-Match": revoked_etag})
        check(status == 304 and body == b"", "the revoked answer's own ETag gets 304")

        # --- CertID serials in DER only -----------------------------------------------------
        serial = bytes.fromhex(bob.sign_serial)
        minimal = serial.lstrip(b"\x00")
        if minimal[0] & 0x80:
            minimal = b"\x00" + minimal
        body = post(url + "/ocsp", with_serial(bob_req, tlv(0x02, minimal)))[2]
        check(status_of(body) == ocsp.OCSPCertStatus.REVOKED, "the rebuilt request for bob: revoked")
        bad = {
            "a redundant leading 00": tlv(0x02, b"\x00" + minimal),
            "a negative serial": tlv(0x02, bytes([0x80 | minimal[-1]])),
            "an empty INTEGER": b"\x02\x00",
            "a long-form length": bytes([0x02, 0x81, len(minimal)]) + minimal,
        }
        for what, integer in bad.items():
            der = with_serial(bob_req, integer)
            body = post(url + "/ocsp", der)[2]
            check(body == MALFORMED, f"POST with {what}: malformedRequest")
            status, _, body = get(f"{url}/ocsp/{get_path(der)}")
            check(body == MALFORMED, f"GET with {what}: malformedRequest")
            resp = ocsp.load_der_ocsp_response(body)
            check(resp.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
                  f"python cryptography reads the answer to {what}")


if __name__ == "__main__":
    main()
