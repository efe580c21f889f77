"""End to end: a card whose keys were certified by kensho's own CAs, read
through pcscd and the vpcd reader by kensho-card, checked against a running
kenshod over OCSP (plain HTTP and HTTPS), an application signed on the card
and submitted to /v1/intake over mutual TLS with the demo intake client
certificate (kenshod refuses plain-HTTP and certificate-less submissions),
with its receipt verified; then the holder's death is recorded
with `kensho event` and `check` reports the certificates revoked. Finally
the signing PIN is locked by exhausting its five tries."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("KENSHO_SOURCE_DIR", os.path.join(HERE, "../../.."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "emulator"))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))

import pcsc_env  # noqa: E402

pcsc_env.enter_private_namespace()

from harness import KENSHO, Server, run  # noqa: E402

from cardtest import AUTH_PIN, CARD, SIGN_PIN, card, card_args, der_of, tries  # noqa: E402


def make_card(tmp, data):
    """Key pairs made by openssl, certified by `kensho issue`."""
    keys = os.path.join(tmp, "keys")
    os.makedirs(keys)
    for kind in ("sign", "auth"):
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", f"{keys}/{kind}.key")
        run("openssl", "pkey", "-in", f"{keys}/{kind}.key", "-pubout", "-out",
            f"{keys}/{kind}.pub")
    certs = os.path.join(tmp, "certs")
    out = run(KENSHO, "--data", data, "issue", "--name", "山田　花子", "--birth", "1985-06-15",
              "--sex", "2", "--address", "東京都千代田区永田町1-7-1", "--sign-pubkey",
              f"{keys}/sign.pub", "--auth-pubkey", f"{keys}/auth.pub", "--out", certs).stdout
    serials = dict(re.findall(r"^(sign|auth) ([0-9a-f]+)$", out, re.M))
    assert set(serials) == {"sign", "auth"}, out
    return keys, certs, serials


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-card-e2e-") as tmp:
        data = os.path.join(tmp, "data")
        run(KENSHO, "--data", data, "ca", "init")
        keys, certs, serials = make_card(tmp, data)
        ca_dir = os.path.join(data, "ca")

        with pcsc_env.PcscStack(tmp, CARD) as stack, Server(data=data, tls=True) as server:
            stack.insert(card_args(certs, ca_dir, keys))
            # The demo TLS PKI kenshod made on its first start with --listen-tls.
            # localhost: mbedTLS 2.28 matches the host against DNS names only.
            tls_dir = os.path.join(data, "tls")
            https = f"https://localhost:{server.tls_port}"
            trust = ["--cacert", f"{tls_dir}/ca.pem"]
            intake = trust + ["--cert", f"{tls_dir}/clients/intake.pem", "--key",
                              f"{tls_dir}/clients/intake.key"]

            # Both certificates, as kensho issued them.
            auth = card("cert", "auth", check=True).stdout
            assert der_of(auth) == der_of(open(f"{certs}/auth.pem").read())
            r = card("cert", "sign", pin="WRONG1", check=False)
            assert "wrong PIN: 4 tries left" in r.stderr, r.stderr
            assert tries("signing PIN") == "4 of 5 tries left"
            sign = card("cert", "sign", pin=SIGN_PIN, check=True).stdout
            assert der_of(sign) == der_of(open(f"{certs}/sign.pem").read())
            assert tries("signing PIN") == "5 of 5 tries left"

            # A signature openssl verifies against kensho's signing CA.
            doc = os.path.join(tmp, "application.txt")
            with open(doc, "w") as f:
                f.write("転出届 / notice of moving out\n")
            card("sign", "--file", doc, pin=SIGN_PIN, check=True)
            v = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
                                doc + ".p7s", "-CAfile", f"{ca_dir}/sign-ca.pem", "-out",
                                os.devnull], capture_output=True, text=True)
            assert v.returncode == 0, v.stderr

            # Both certificates are good according to kenshod.
            r = card("check", "--kind", "auth", "--server", server.url, check=True)
            assert "status: good" in r.stdout and f"serial: {serials['auth']}" in r.stdout
            r = card("check", "--kind", "sign", "--server", https, *trust, pin=SIGN_PIN,
                     check=True)
            assert "status: good" in r.stdout and f"serial: {serials['sign']}" in r.stdout
            r = card("check", "--kind", "auth", "--server", https, check=False)
            assert r.returncode == 2 and "needs --cacert" in r.stderr, r.stderr
            r = card("check", "--kind", "auth", "--server", https, "--cacert",
                     f"{ca_dir}/sign-ca.pem", check=False)
            assert r.returncode == 1 and "does not verify against --cacert" in r.stderr, r.stderr

            # Plain HTTP and TLS without a client certificate may not submit.
            r = card("submit", "--file", doc, "--server", server.url, "--receipt-cert",
                     f"{ca_dir}/receipt.pem", pin=SIGN_PIN, check=False)
            assert "(HTTP 403)" in r.stderr and "intake role over TLS" in r.stderr, r.stderr
            r = card("submit", "--file", doc, "--server", https, *trust, "--receipt-cert",
                     f"{ca_dir}/receipt.pem", pin=SIGN_PIN, check=False)
            assert "(HTTP 403)" in r.stderr and "intake role" in r.stderr, r.stderr
            # A client key others can read is refused before the card is asked.
            loose = os.path.join(tmp, "loose.key")
            shutil.copy(f"{tls_dir}/clients/intake.key", loose)
            os.chmod(loose, 0o644)
            r = card("submit", "--file", doc, "--server", https, *trust, "--cert",
                     f"{tls_dir}/clients/intake.pem", "--key", loose, "--receipt-cert",
                     f"{ca_dir}/receipt.pem", pin="WRONG1", check=False)
            assert r.returncode == 1 and "owner-only" in r.stderr, r.stderr
            assert tries("signing PIN") == "5 of 5 tries left"

            # Submit the signed application over mutual TLS; the receipt is checked.
            receipt = os.path.join(tmp, "receipt.p7s")
            r = card("submit", "--file", doc, "--server", https, *intake, "--receipt-cert",
                     f"{ca_dir}/receipt.pem", "--out", receipt, pin=SIGN_PIN, check=True)
            assert "(stored)" in r.stdout and "result: valid" in r.stdout, r.stdout
            assert "receipt: verified" in r.stdout, r.stdout
            number = re.search(r"^receipt number: (\d+)$", r.stdout, re.M).group(1)
            # openssl agrees with the pinned receipt certificate.
            v = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
                                receipt, "-CAfile", f"{ca_dir}/receipt.pem"],
                               capture_output=True, text=True)
            assert v.returncode == 0 and f'"receipt":{number},' in v.stdout, v.stderr
            # The receipt names its leaf in the Merkle log, and kensho-card shows it.
            leaf = re.search(r"^log index: (\d+)$", r.stdout, re.M).group(1)
            assert f'"log_index":{leaf},' in v.stdout, v.stdout
            # A receipt from another key than the pinned one is refused.
            r = card("submit", "--file", doc, "--server", https, *intake, "--receipt-cert",
                     f"{ca_dir}/sign-ca.pem", pin=SIGN_PIN, check=False)
            assert "not signed by the pinned receipt certificate" in r.stderr, r.stderr

            # The holder dies: both certificates are revoked.
            run(KENSHO, "--data", data, "event", "--serial", serials["sign"], "--kind", "sign",
                "death")
            r = card("check", "--kind", "auth", "--server", server.url, check=False)
            assert r.returncode == 1 and "status: revoked" in r.stdout, r.stdout
            r = card("check", "--kind", "sign", "--server", https, *trust, pin=SIGN_PIN,
                     check=False)
            assert r.returncode == 1 and "status: revoked" in r.stdout, r.stdout
            assert "the card's signing certificate is revoked" in r.stderr
            # Intake now refuses what the card signs.
            r = card("submit", "--file", doc, "--server", https, *intake, "--receipt-cert",
                     f"{ca_dir}/receipt.pem", pin=SIGN_PIN, check=False)
            assert "refused the application (HTTP 422)" in r.stderr, r.stderr

            # Lock the signing PIN: five wrong tries.
            for left in (4, 3, 2, 1):
                r = card("pin-verify", "sign", pin="WRONG1", check=False)
                assert f"wrong PIN: {left} {'try' if left == 1 else 'tries'} left" in r.stderr
            r = card("pin-verify", "sign", pin="WRONG1", check=False)
            assert "PIN blocked" in r.stderr, r.stderr
            r = card("sign", "--file", doc, "--out", doc + ".late", pin=SIGN_PIN, check=False)
            assert "PIN blocked" in r.stderr and not os.path.exists(doc + ".late")
            assert tries("signing PIN") == "blocked (0 of 5 tries left)"
            # The user-authentication PIN is unaffected.
            card("pin-verify", "auth", pin=AUTH_PIN, check=True)
    print("ok")


if __name__ == "__main__":
    main()
