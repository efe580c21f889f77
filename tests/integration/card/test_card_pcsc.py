"""kensho-card against the virtual JPKI card through a private pcscd and the
vpcd reader: certificates, PIN counters and lockout, and the client's
messages for every failure a terminal meets (wrong PIN, blocked PIN, no card,
card removed mid-operation, not a JPKI card, no reader, no pcscd)."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("KENSHO_SOURCE_DIR", os.path.join(HERE, "../../.."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "emulator"))

import pcsc_env  # noqa: E402

pcsc_env.enter_private_namespace()

from cryptography import x509  # noqa: E402

import fixture  # noqa: E402

from cardtest import CARD, AUTH_PIN, SIGN_PIN, card, der_of, tries  # noqa: E402
from cardtest import card_args as cardtest_args  # noqa: E402


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-card-") as tmp:
        fx = fixture.make_card_fixture(os.path.join(tmp, "fixture"))
        card_args = cardtest_args(fx, fx, fx)
        stack = pcsc_env.PcscStack(tmp, CARD)
        with stack:
            # No card yet: the reader is there, empty.
            out = card("readers", check=True).stdout
            assert "Virtual PCD 00 00\tempty" in out, out
            r = card("info", check=False)
            assert "no card in the reader" in r.stderr

            # Waiting for a card: `info --wait` runs before the card arrives.
            waiting = subprocess.Popen([CARD, "--wait", "15", "info"], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
            stack.insert(card_args)
            out, err = waiting.communicate(timeout=30)
            print("$ --wait 15 info (card inserted meanwhile)\n" + out + err, end="")
            assert waiting.returncode == 0 and "token: JPKIAPICCTOKEN2" in out, err
            out = card("readers", check=True).stdout
            assert "Virtual PCD 00 00\tcard" in out, out
            out = card("info", check=True).stdout
            assert "token: JPKIAPICCTOKEN2" in out
            assert "card: My Number card" in out
            assert "user-authentication PIN: 3 of 3 tries left" in out
            assert "signing PIN: 5 of 5 tries left" in out
            assert "auth certificate subject: C=JP, CN=auth test card 0001" in out, out

            # Both certificates (and both CA certificates) byte for byte.
            auth = card("cert", "auth", check=True).stdout
            assert der_of(auth) == der_of(open(f"{fx}/auth.pem").read())
            out_file = os.path.join(tmp, "auth-ca.pem")
            card("cert", "auth-ca", "--out", out_file, check=True)
            assert der_of(open(out_file).read()) == der_of(open(f"{fx}/auth-ca.pem").read())

            # The signing certificate needs the signing PIN. A wrong one
            # costs a try; the right one restores the counter.
            r = card("cert", "sign", pin="WRONG1", check=False)
            assert "wrong PIN: 4 tries left" in r.stderr, r.stderr
            assert tries("signing PIN") == "4 of 5 tries left"
            # A PIN of the wrong form never reaches the card.
            r = card("cert", "sign", pin="abc", check=False)
            assert "not a valid signing PIN" in r.stderr and "no try spent" in r.stderr
            assert tries("signing PIN") == "4 of 5 tries left"
            sign = card("cert", "sign", pin=SIGN_PIN, check=True).stdout
            assert der_of(sign) == der_of(open(f"{fx}/sign.pem").read())
            assert tries("signing PIN") == "5 of 5 tries left"
            out_file = os.path.join(tmp, "sign.pem")
            card("cert", "sign", "--out", out_file, pin=SIGN_PIN, check=True)
            assert der_of(open(out_file).read()) == der_of(open(f"{fx}/sign.pem").read())
            # The PIN verified in one run does not outlive it (card reset).
            r = card("cert", "sign-ca", check=True)

            # A CMS signature by the card's signing key that openssl accepts.
            doc = os.path.join(tmp, "application.txt")
            with open(doc, "w") as f:
                f.write("転居届: kensho test application\n")
            card("sign", "--file", doc, pin=SIGN_PIN, check=True)
            verified = os.path.join(tmp, "verified.txt")
            v = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER",
                                "-in", doc + ".p7s", "-CAfile", f"{fx}/sign-ca.pem",
                                "-out", verified], capture_output=True, text=True)
            print(v.stderr, end="")
            assert v.returncode == 0 and "Verification successful" in v.stderr
            assert open(verified, "rb").read() == open(doc, "rb").read()
            # Signing without the right PIN produces nothing.
            r = card("sign", "--file", doc, "--out", doc + ".bad", pin="WRONG9", check=False)
            assert "wrong PIN: 4 tries left" in r.stderr and not os.path.exists(doc + ".bad")
            card("pin-verify", "sign", pin=SIGN_PIN, check=True)

            # OCSP against openssl's responder: good, then revoked.
            ocsp_check_with_openssl(tmp, fx)

            # PINs are never taken from argv.
            r = card("cert", "sign", "--pin", SIGN_PIN, check=False)
            assert r.returncode == 2 and "never taken from the command line" in r.stderr
            # Without a terminal and without --pin-fd there is no PIN.
            r = subprocess.run([CARD, "cert", "sign"], capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, start_new_session=True, timeout=30)
            assert r.returncode == 1 and "--pin-fd" in r.stderr, r.stderr

            # Lock the user-authentication PIN (3 tries): the client says so,
            # and the right PIN no longer helps.
            lock_auth_pin()

            # A card without the JPKI application.
            stack.insert(card_args + ["--no-jpki"])
            r = card("info", check=False)
            assert "not a JPKI card" in r.stderr, r.stderr

            # The card pulled out in the middle of reading a certificate
            # (SELECT AID, SELECT EF, header READ, then the fourth APDU).
            stack.insert(card_args + ["--remove-after", "4"])
            r = card("cert", "auth", check=False)
            assert "the card was removed during the operation" in r.stderr, r.stderr

            # No matching reader.
            r = card("--reader", "No Such Reader", "info", check=False)
            assert "no smart card reader found" in r.stderr, r.stderr
        # pcscd stopped.
        r = card("readers", check=False)
        assert "pcscd) is not running" in r.stderr, r.stderr
    print("ok")


def ocsp_index_line(cert_path, revoked):
    cert = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
    # not_valid_after_utc is newer than Debian 12's python3-cryptography.
    after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after
    expiry = after.strftime("%y%m%d%H%M%SZ")
    serial = f"{cert.serial_number:X}"
    if len(serial) % 2:
        serial = "0" + serial
    subject = "/" + "/".join(a.rfc4514_string() for a in reversed(list(cert.subject)))
    if revoked:
        return f"R\t{expiry}\t240101000000Z,keyCompromise\t{serial}\tunknown\t{subject}\n"
    return f"V\t{expiry}\t\t{serial}\tunknown\t{subject}\n"


class OpensslOcsp:
    """An OCSP responder on 127.0.0.1: a small HTTP front whose every POST
    body goes to `openssl ocsp -reqin ... -respout ...` (openssl is the real
    responder; its own -port mode cannot bind to loopback only)."""

    def __init__(self, tmp, fx, kind, index):
        import http.server
        import threading
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                req = os.path.join(tmp, "ocsp-req.der")
                resp = os.path.join(tmp, "ocsp-resp.der")
                with open(req, "wb") as f:
                    f.write(body)
                subprocess.run(["openssl", "ocsp", "-index", index, "-rsigner",
                                f"{fx}/{kind}-ca.pem", "-rkey", f"{fx}/{kind}-ca.key",
                                "-CA", f"{fx}/{kind}-ca.pem", "-reqin", req, "-respout", resp,
                                "-ndays", "1"], check=True, capture_output=True)
                data = open(resp, "rb").read()
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.requests = 0
        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def ocsp_check_with_openssl(tmp, fx):
    """`check` against openssl as the OCSP responder, signing with the CA key
    itself: good, then revoked with its reason; the signing certificate too."""
    for kind, revoked in (("auth", False), ("auth", True), ("sign", False)):
        index = os.path.join(tmp, f"index-{kind}.txt")
        with open(index, "w") as f:
            f.write(ocsp_index_line(f"{fx}/{kind}.pem", revoked))
        responder = OpensslOcsp(tmp, fx, kind, index)
        try:
            args = ["check", "--kind", kind, "--server", responder.url]
            r = card(*args, pin=SIGN_PIN if kind == "sign" else None, check=None)
            assert responder.requests == 1
            if revoked:
                assert r.returncode == 1, r.returncode
                assert "status: revoked" in r.stdout and "reason: keyCompromise" in r.stdout
                assert "certificate is revoked" in r.stderr
            else:
                assert r.returncode == 0, r.returncode
                assert "status: good" in r.stdout
            assert "signature verified, nonce matches" in r.stdout
        finally:
            responder.close()
    # A response signed by the wrong CA is not trusted.
    index = os.path.join(tmp, "index-auth.txt")
    responder = OpensslOcsp(tmp, fx, "sign", index)
    try:
        r = card("check", "--kind", "auth", "--server", responder.url, check=False)
        assert "does not verify" in r.stderr or "another certificate" in r.stderr, r.stderr
    finally:
        responder.close()


def lock_auth_pin():
    """Spends the user-authentication PIN's three tries and checks the
    client's messages and the counter after each."""
    r = card("pin-verify", "auth", pin="9999", check=False)
    assert "wrong PIN: 2 tries left" in r.stderr, r.stderr
    card("pin-verify", "auth", pin=AUTH_PIN, check=True)
    assert tries("user-authentication PIN") == "3 of 3 tries left"
    for left in (2, 1):
        r = card("pin-verify", "auth", pin="9999", check=False)
        assert f"wrong PIN: {left} {'try' if left == 1 else 'tries'} left" in r.stderr, r.stderr
        assert tries("user-authentication PIN") == f"{left} of 3 tries left"
    r = card("pin-verify", "auth", pin="9999", check=False)
    assert "PIN blocked" in r.stderr, r.stderr
    assert tries("user-authentication PIN") == "blocked (0 of 3 tries left)"
    r = card("pin-verify", "auth", pin=AUTH_PIN, check=False)
    assert "PIN blocked" in r.stderr, r.stderr
    # The signing PIN is a separate counter and still works.
    card("pin-verify", "sign", pin=SIGN_PIN, check=True)


if __name__ == "__main__":
    main()
