"""kenshod's OCSP responder against real clients: openssl ocsp (POST, and GET
built by hand), GnuTLS ocsptool and python3 cryptography, for good, revoked
with reason, unknown, a foreign issuer and malformed input; RFC 5019 caching
headers and conditional GET; tryLater when live signing is over its cap."""
import os
import signal
import sys
import tempfile
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509 import ocsp

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import (MALFORMED, TRY_LATER, UNAUTHORIZED, foreign_ca, get, get_path,  # noqa: E402
                    make_data, post, revoke)
from harness import Server, check, run  # noqa: E402


def openssl_ask(url, issuer, *target, nonce=True):
    args = ["openssl", "ocsp", "-issuer", issuer, *target, "-url", url + "/ocsp", "-CAfile", issuer]
    if not nonce:
        args.append("-no_nonce")
    r = run(*args, check=False)
    return r.stdout + r.stderr


def load_cert(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def verify_signed(resp, ca):
    """RFC 6960 §4.2.2.2 by hand: a delegated responder issued by the CA with
    id-kp-OCSPSigning, and a signature over tbsResponseData."""
    signer = resp.certificates[0]
    assert signer.issuer == ca.subject
    check_signature(ca.public_key(), signer.signature, signer.tbs_certificate_bytes,
                    signer.signature_hash_algorithm)
    eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING in eku
    signer.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.5.5.7.48.1.5"))
    check_signature(signer.public_key(), resp.signature, resp.tbs_response_bytes,
                    resp.signature_hash_algorithm)


def check_signature(key, signature, data, algorithm):
    """Raises InvalidSignature unless the signature verifies."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(algorithm))
    else:
        key.verify(signature, data, padding.PKCS1v15(), algorithm)


def main():
    tmp = tempfile.TemporaryDirectory(prefix="kensho-ocsp-")
    data, (alice, bob) = make_data(tmp.name, people=2)
    revoke(data, "sign", bob.sign_serial, "keyCompromise")
    foreign = foreign_ca(tmp.name)
    sign_ca = os.path.join(data, "ca", "sign-ca.pem")
    auth_ca = os.path.join(data, "ca", "auth-ca.pem")
    ca = load_cert(sign_ca)

    with Server(data=data) as srv:
        url = srv.url

        # --- openssl ocsp, POST with a nonce ------------------------------------------------
        out = openssl_ask(url, sign_ca, "-cert", alice.sign)
        check("Response verify OK" in out and f"{alice.sign}: good" in out, "openssl: good, verified")
        out = openssl_ask(url, sign_ca, "-cert", bob.sign)
        check(f"{bob.sign}: revoked" in out and "Reason: keyCompromise" in out
              and "Response verify OK" in out, "openssl: revoked with reason keyCompromise")
        out = openssl_ask(url, sign_ca, "-serial", "0x0badc0de", nonce=False)
        check("0x0badc0de: unknown" in out and "Response verify OK" in out,
              "openssl: never-issued serial is unknown")
        out = openssl_ask(url, auth_ca, "-cert", alice.auth, "-cert", bob.auth)
        check(out.count(": good") == 2 and "Response verify OK" in out, "openssl: two CertIDs, one answer")
        out = openssl_ask(url, foreign, "-serial", "0x01")
        check("unauthorized (6)" in out, "openssl: foreign issuer is unauthorized")

        # --- openssl GET built by hand --------------------------------------------------------
        req = os.path.join(tmp.name, "req.der")
        run("openssl", "ocsp", "-issuer", sign_ca, "-cert", alice.sign, "-no_nonce", "-reqout", req)
        with open(req, "rb") as f:
            req_der = f.read()
        bodies = []
        for form in ("std", "pct", "url-nopad", "space"):
            status, headers, body = get(f"{url}/ocsp/{get_path(req_der, form)}")
            check(status == 200 and headers["Content-Type"] == "application/ocsp-response",
                  f"GET with {form} base64 answered")
            bodies.append(body)
        check(all(b == bodies[0] for b in bodies), "every GET form got the same cached bytes")
        resp_path = os.path.join(tmp.name, "resp.der")
        with open(resp_path, "wb") as f:
            f.write(bodies[0])
        r = run("openssl", "ocsp", "-respin", resp_path, "-issuer", sign_ca, "-cert", alice.sign,
                "-CAfile", sign_ca, check=False)
        check("Response verify OK" in r.stderr + r.stdout and ": good" in r.stdout,
              "openssl verifies the GET answer")

        status, headers, body = get(f"{url}/ocsp/{get_path(req_der)}")
        cc = headers["Cache-Control"]
        max_age = int(cc.split("max-age=")[1].split(",")[0])
        check("public, no-transform, must-revalidate" in cc and 0 < max_age <= 3600,
              f"RFC 5019 Cache-Control ({cc})")
        parsed = ocsp.load_der_ocsp_response(body)
        check(headers["Expires"] == parsed.next_update.strftime("%a, %d %b %Y %H:%M:%S GMT")
              and headers["Last-Modified"] == parsed.this_update.strftime("%a, %d %b %Y %H:%M:%S GMT"),
              "Expires is nextUpdate, Last-Modified is thisUpdate")
        status, _, body = get(f"{url}/ocsp/{get_path(req_der)}", {"If-None-Match": headers["ETag"]})
        check(status == 304 and body == b"", "If-None-Match gets 304")
        status, _, _ = get(f"{url}/ocsp/{get_path(req_der)}", {"If-Modified-Since": headers["Last-Modified"]})
        check(status == 304, "If-Modified-Since gets 304")
        status, _, _ = get(f"{url}/ocsp/{get_path(req_der)}", {"If-None-Match": '"other"'})
        check(status == 200, "a different ETag gets the response")

        # Rule 1 for conditional GETs: a date cannot tell a good answer from the
        # revoked one signed in the same second, so a revoked answer is never
        # "not modified" by date; its ETag (which names the record's version) is.
        bob_req = os.path.join(tmp.name, "bob-req.der")
        run("openssl", "ocsp", "-issuer", sign_ca, "-cert", bob.sign, "-no_nonce", "-reqout", bob_req)
        with open(bob_req, "rb") as f:
            bob_der = f.read()
        status, headers, body = get(f"{url}/ocsp/{get_path(bob_der)}")
        check(status == 200 and ocsp.load_der_ocsp_response(body).certificate_status
              == ocsp.OCSPCertStatus.REVOKED, "bob's GET answer is revoked")
        status, _, body = get(f"{url}/ocsp/{get_path(bob_der)}", {"If-Modified-Since": headers["Last-Modified"]})
        check(status == 200 and body, "If-Modified-Since never turns a revoked answer into 304")
        status, _, _ = get(f"{url}/ocsp/{get_path(bob_der)}", {"If-None-Match": headers["ETag"]})
        check(status == 304, "the revoked answer's own ETag still gets 304")
        # Two CertIDs: validators would name only the first record's version.
        both = os.path.join(tmp.name, "both.der")
        run("openssl", "ocsp", "-issuer", sign_ca, "-cert", alice.sign, "-cert", bob.sign, "-no_nonce",
            "-reqout", both)
        with open(both, "rb") as f:
            status, headers, _ = get(f"{url}/ocsp/{get_path(f.read())}")
        check(status == 200 and "ETag" not in headers and "no-store" in headers.get("Cache-Control", ""),
              "an answer for two CertIDs carries no validators")

        never = os.path.join(tmp.name, "never.der")
        run("openssl", "ocsp", "-issuer", sign_ca, "-serial", "0x0badc0df", "-no_nonce", "-reqout", never)
        with open(never, "rb") as f:
            never_der = f.read()
        status, headers, body = get(f"{url}/ocsp/{get_path(never_der)}")
        check(ocsp.load_der_ocsp_response(body).certificate_status == ocsp.OCSPCertStatus.UNKNOWN
              and "public" in headers["Cache-Control"], "a GET answered unknown is cacheable too")
        status, headers, body = post(url + "/ocsp", req_der)
        check(headers["Cache-Control"] == "no-store", "POST answers are not for shared caches")

        # --- malformed ------------------------------------------------------------------------
        check(post(url + "/ocsp", b"\x30\x03garbage")[2] == MALFORMED, "garbage POST is malformedRequest")
        check(post(url + "/ocsp", req_der[:-3])[2] == MALFORMED, "truncated POST is malformedRequest")
        check(get(url + "/ocsp/MEow!!!")[2] == MALFORMED, "non-base64 GET is malformedRequest")
        check(get(url + "/ocsp/")[2] == MALFORMED, "empty GET is malformedRequest")

        # --- GnuTLS ocsptool ---------------------------------------------------------------------
        r = run("ocsptool", "--ask=" + url + "/ocsp", "--load-issuer", sign_ca, "--load-cert", alice.sign,
                "--load-trust", sign_ca, check=False)
        out = r.stdout + r.stderr
        check("Certificate Status: good" in out and "Success" in out, "ocsptool: good, verified")
        r = run("ocsptool", "--ask=" + url + "/ocsp", "--load-issuer", sign_ca, "--load-cert", bob.sign,
                "--load-trust", sign_ca, check=False)
        out = r.stdout + r.stderr
        check("Certificate Status: revoked" in out and "Success" in out, "ocsptool: revoked, verified")
        reqf = os.path.join(tmp.name, "gnutls-req.der")
        run("ocsptool", "-q", "--load-issuer", foreign, "--load-cert", foreign, "--outfile", reqf)
        with open(reqf, "rb") as f:
            check(post(url + "/ocsp", f.read())[2] == UNAUTHORIZED, "ocsptool request for a foreign CA: unauthorized")

        # --- python3 cryptography -----------------------------------------------------------------
        def ask(cert_path, issuer_cert, algorithm=hashes.SHA256(), nonce=None):
            b = ocsp.OCSPRequestBuilder().add_certificate(load_cert(cert_path), issuer_cert, algorithm)
            if nonce:
                b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
            der = b.build().public_bytes(serialization.Encoding.DER)
            return ocsp.load_der_ocsp_response(post(url + "/ocsp", der)[2])

        nonce = os.urandom(32)
        resp = ask(alice.sign, ca, nonce=nonce)
        verify_signed(resp, ca)
        echoed = resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        check(resp.certificate_status == ocsp.OCSPCertStatus.GOOD and echoed == nonce
              and resp.hash_algorithm.name == "sha256", "cryptography: good, SHA-256 CertID, nonce echoed")
        resp = ask(bob.sign, ca, algorithm=hashes.SHA1())
        verify_signed(resp, ca)
        check(resp.certificate_status == ocsp.OCSPCertStatus.REVOKED
              and resp.revocation_reason == x509.ReasonFlags.key_compromise
              and resp.revocation_time is not None, "cryptography: revoked, keyCompromise")
        resp = ask(bob.sign, ca, algorithm=hashes.SHA512())
        check(resp.certificate_status == ocsp.OCSPCertStatus.REVOKED and resp.hash_algorithm.name == "sha512",
              "cryptography: SHA-512 CertID echoed")
        # unknown: a certificate that claims our CA as issuer but was never
        # issued (the CertID takes only its serial; the issuer hashes come
        # from the CA certificate).
        throwaway = ec.generate_private_key(ec.SECP256R1())
        import datetime
        fake = (x509.CertificateBuilder().subject_name(ca.subject).issuer_name(ca.subject)
                .public_key(throwaway.public_key()).serial_number(0x0badc0de)
                .not_valid_before(datetime.datetime(2025, 1, 1)).not_valid_after(datetime.datetime(2030, 1, 1))
                .sign(throwaway, hashes.SHA256()))
        b = ocsp.OCSPRequestBuilder().add_certificate(fake, ca, hashes.SHA256())
        unknown = ocsp.load_der_ocsp_response(post(url + "/ocsp", b.build().public_bytes(serialization.Encoding.DER))[2])
        verify_signed(unknown, ca)
        check(unknown.certificate_status == ocsp.OCSPCertStatus.UNKNOWN, "cryptography: unknown")
        foreign_resp = ask(foreign, load_cert(foreign))
        check(foreign_resp.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED, "cryptography: foreign issuer unauthorized")
        bad = ocsp.load_der_ocsp_response(post(url + "/ocsp", b"\x30\x00")[2])
        check(bad.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST, "cryptography: malformedRequest")

        metrics = get(url + "/metrics")[2].decode()
        counts = {line.split("{")[1].split("}")[0]: float(line.split()[-1]) for line in metrics.splitlines()
                  if line.startswith("kensho_ocsp_answers_total{")}
        check(counts.get('answer="cached"', 0) >= 4 and counts.get('answer="signed"', 0) >= 5
              and counts.get('answer="not-modified"', 0) == 3 and counts.get('answer="malformed"', 0) == 5
              and counts.get('answer="unauthorized"', 0) == 3, f"/metrics counts the answers ({counts})")

    # --- a cap of zero live signings: misses get tryLater, hits still work -------------------------------
    conf = os.path.join(tmp.name, "kenshod.conf")
    with open(conf, "w") as f:
        f.write("ocsp.max_inflight_signs = 0\n")
    with Server(data=data, args=["--config", conf]) as srv:
        check(post(srv.url + "/ocsp", req_der)[2] == bodies[0], "cached response served with no signing allowed")
        out = openssl_ask(srv.url, sign_ca, "-cert", alice.sign)  # nonce: must sign live
        check("trylater (3)" in out.lower(), "openssl: tryLater when live signing is over its cap")
        status, _, body = get(srv.url + "/ocsp/" + get_path(never_der))
        check(status == 200 and body == TRY_LATER, "a GET that needs signing gets tryLater over the cap")
    ecdsa_responder(tmp.name, data, alice, ca)
    tmp.cleanup()


def ecdsa_responder(tmp, data, alice, ca):
    """The operator's recipe from docs/ocsp.md: an ECDSA P-256 responder
    issued with the CA's key, ocsp.key_type = ecdsa, ResponderID by name."""
    cadir = os.path.join(data, "ca")
    ext = os.path.join(cadir, "ocsp-ext.cnf")
    with open(ext, "w") as f:
        f.write("basicConstraints = critical, CA:false\nkeyUsage = critical, digitalSignature\n"
                "extendedKeyUsage = OCSPSigning\nnoCheck = ignored\n")

    def new_responder(label, serial):
        key, csr, pem = (os.path.join(cadir, f"{label}-ocsp.{n}") for n in ("key", "csr", "pem"))
        run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", f"/CN=kensho {label} OCSP responder")
        os.chmod(key, 0o600)
        run("openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(cadir, f"{label}-ca.pem"),
            "-CAkey", os.path.join(cadir, f"{label}-ca.key"), "-set_serial", serial, "-days", "30",
            "-extfile", ext, "-out", pem)

    for label in ("sign", "auth"):
        new_responder(label, "0x7e57")
    conf = os.path.join(tmp, "ecdsa.conf")
    with open(conf, "w") as f:
        f.write("ocsp.key_type = rsa\n")
    try:
        Server(data=data, args=["--config", conf]).start().stop()
        refused = False
    except RuntimeError:
        refused = True
    check(refused, "kenshod refuses an ECDSA responder key when ocsp.key_type = rsa")
    with open(conf, "w") as f:
        f.write("ocsp.key_type = ecdsa\nocsp.responder_id = by-name\nocsp.validity = 10m\n")
    with Server(data=data, args=["--config", conf]) as srv:
        out = openssl_ask(srv.url, os.path.join(cadir, "sign-ca.pem"), "-cert", alice.sign)
        check("Response verify OK" in out and ": good" in out, "openssl verifies the ECDSA responder's answer")
        b = ocsp.OCSPRequestBuilder().add_certificate(load_cert(alice.sign), ca, hashes.SHA256())
        b = b.add_extension(x509.OCSPNonce(os.urandom(16)), critical=False)
        resp = ocsp.load_der_ocsp_response(
            post(srv.url + "/ocsp", b.build().public_bytes(serialization.Encoding.DER))[2])
        verify_signed(resp, ca)
        check(resp.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.ECDSA_WITH_SHA256
              and resp.responder_name is not None and resp.responder_key_hash is None
              and (resp.next_update - resp.this_update).total_seconds() == 600,
              "ecdsa-with-SHA256, ResponderID by name, 10 minutes validity")

        def live_signer_serial():
            b = ocsp.OCSPRequestBuilder().add_certificate(load_cert(alice.sign), ca, hashes.SHA1())
            b = b.add_extension(x509.OCSPNonce(os.urandom(16)), critical=False)
            resp = ocsp.load_der_ocsp_response(
                post(srv.url + "/ocsp", b.build().public_bytes(serialization.Encoding.DER))[2])
            verify_signed(resp, ca)
            return resp.certificates[0].serial_number

        def sighup_and_wait(marker):
            before = srv.output().count(marker)
            srv.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while srv.output().count(marker) == before and time.monotonic() < deadline:
                time.sleep(0.05)
            return srv.output().count(marker) > before

        check(live_signer_serial() == 0x7e57, "signed by the responder loaded at start")
        new_responder("sign", "0x7e58")
        check(sighup_and_wait("ocsp: reloaded the responder keys") and live_signer_serial() == 0x7e58,
              "SIGHUP loads a renewed responder")
        os.chmod(os.path.join(cadir, "sign-ocsp.key"), 0o644)
        check(sighup_and_wait("ocsp: reload refused") and live_signer_serial() == 0x7e58,
              "a reload that fails (key readable by others) keeps the current responder")


if __name__ == "__main__":
    main()
