"""`kensho crl` end to end with the real CAs: full and delta CRLs for both
CAs, numbering, what openssl verify -crl_check (-use_deltas) concludes about
issued and revoked certificates, revocations dated before the base CRL,
entries leaving after expiry, python3 cryptography parsing every CRL, and
clear failures on bad use."""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import BUILD, KENSHO, run  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.x509.oid import ExtensionOID  # noqa: E402

FILL = os.path.join(BUILD, "tests", "integration", "ca", "crl_store_fill")


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.data = os.path.join(tmp, "data")
        self.n = 0

    def kensho(self, *args, check=True):
        return run(KENSHO, "--data", self.data, *args, check=check)

    def crl(self, kind, delta=False):
        """Generates a CRL; returns (path of a PEM copy, parsed CRL)."""
        self.n += 1
        out = os.path.join(self.tmp, f"{kind}-{self.n}{'-delta' if delta else ''}.crl")
        args = ["crl", "--kind", kind, "--out", out] + (["--delta"] if delta else [])
        self.kensho(*args)
        published = os.path.join(self.data, "crl", f"{kind}{'-delta' if delta else ''}.crl")
        assert open(published, "rb").read() == open(out, "rb").read()
        run("openssl", "crl", "-inform", "DER", "-in", out, "-out", out + ".pem")
        r = run("openssl", "crl", "-in", out + ".pem", "-CAfile", self.ca(kind), "-noout")
        assert "verify OK" in r.stdout + r.stderr, r.stderr
        crl = x509.load_der_x509_crl(open(out, "rb").read())
        ca = x509.load_pem_x509_certificate(open(self.ca(kind), "rb").read())
        assert crl.is_signature_valid(ca.public_key())
        idp = crl.extensions.get_extension_for_oid(ExtensionOID.ISSUING_DISTRIBUTION_POINT)
        assert idp.value.full_name[0].value == f"http://127.0.0.1:8080/crl/{kind}.crl"
        return out + ".pem", crl

    def ca(self, kind):
        return os.path.join(self.data, "ca", f"{kind}-ca.pem")

    def verify(self, kind, cert, *crls, deltas=False):
        args = ["openssl", "verify", "-crl_check", "-CAfile", self.ca(kind)]
        if deltas:
            # OpenSSL 3.0 needs -extended_crl too, or it takes the newer
            # delta for a complete CRL (see docs/crl.md)
            args += ["-use_deltas", "-extended_crl"]
        for c in crls:
            args += ["-CRLfile", c]
        r = run(*args, cert, check=False)
        out = r.stdout + r.stderr
        if r.returncode == 0:
            return "good"
        assert "certificate revoked" in out, out
        return "revoked"

    def fill(self, kind, first, count, **offsets):
        args = [FILL, "--data", self.data, "--kind", kind, "--first", first, "--count", count]
        for k, v in offsets.items():
            args += ["--" + k.replace("_", "-"), v]
        return run(*args).stdout.strip()


def number(crl):
    return crl.extensions.get_extension_for_oid(ExtensionOID.CRL_NUMBER).value.crl_number


def base_number(crl):
    return crl.extensions.get_extension_for_oid(ExtensionOID.DELTA_CRL_INDICATOR).value.crl_number


def serials(crl):
    return {r.serial_number for r in crl}


def serial_of(path):
    return x509.load_pem_x509_certificate(open(path, "rb").read()).serial_number


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-crl-cli-") as tmp:
        env = Env(tmp)

        # bad use fails clearly and changes nothing
        r = env.kensho("crl", "--kind", "bogus", check=False)
        assert r.returncode == 2 and "--kind" in r.stderr, r.stderr
        env.kensho("ca", "init")
        r = env.kensho("crl", "--kind", "sign", "--delta", check=False)
        assert r.returncode == 1 and "full" in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(env.data, "crl", "sign-delta.crl"))

        people = []
        for i in range(2):
            out = os.path.join(tmp, f"p{i}")
            env.kensho("issue", "--name", f"KENSHO TARO {i}", "--birth", "1980-01-02", "--sex", "1",
                       "--address", "東京都千代田区千代田1-1", "--out", out)
            people.append(out)
        alice_sign, bob_sign = (os.path.join(p, "sign.pem") for p in people)
        alice_auth, bob_auth = (os.path.join(p, "auth.pem") for p in people)

        full1, crl = env.crl("sign")
        assert number(crl) == 1 and len(crl) == 0
        assert env.verify("sign", alice_sign, full1) == "good"

        env.kensho("revoke", "--kind", "sign", "--serial", f"{serial_of(alice_sign):x}",
                   "--reason", "keyCompromise")
        delta2, crl = env.crl("sign", delta=True)
        assert number(crl) == 2 and base_number(crl) == 1
        assert serials(crl) == {serial_of(alice_sign)}
        entry = crl.get_revoked_certificate_by_serial_number(serial_of(alice_sign))
        assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == \
            x509.ReasonFlags.key_compromise
        # the full CRL alone does not know yet; with the delta it does
        assert env.verify("sign", alice_sign, full1) == "good"
        assert env.verify("sign", alice_sign, full1, delta2, deltas=True) == "revoked"
        assert env.verify("sign", bob_sign, full1, delta2, deltas=True) == "good"

        # a revocation dated two hours before the base CRL, committed after it:
        # the delta still lists it (found through the change log)
        first = env.fill("sign", 100, 3, revoked_at=-7200)
        _, crl = env.crl("sign", delta=True)
        assert number(crl) == 3 and base_number(crl) == 1
        assert int(first, 16) in serials(crl) and len(crl) == 4, sorted(serials(crl))

        # a new full CRL has everything; the next delta starts from it
        full4, crl = env.crl("sign")
        assert number(crl) == 4 and len(crl) == 4
        in_full4 = serials(crl)
        assert not any(e.oid == ExtensionOID.DELTA_CRL_INDICATOR for e in crl.extensions)
        assert env.verify("sign", alice_sign, full4) == "revoked"
        delta5, crl = env.crl("sign", delta=True)
        # (revocations in the base's thisUpdate second may be repeated: times
        # have one-second resolution and repeating an entry is harmless)
        assert number(crl) == 5 and base_number(crl) == 4 and serials(crl) <= in_full4
        assert env.verify("sign", alice_sign, full4, delta5, deltas=True) == "revoked"
        assert env.verify("sign", bob_sign, full4, delta5, deltas=True) == "good"

        # entries leave once expired: listed while valid, kept on the first
        # full CRL issued after expiry (RFC 5280 §3.3), gone from the next
        expiring = int(env.fill("sign", 200, 2, not_after=3), 16)
        _, crl = env.crl("sign")
        assert expiring in serials(crl)
        time.sleep(4.5)
        _, crl = env.crl("sign")
        assert expiring in serials(crl), "must appear on one CRL issued after expiry"
        _, crl = env.crl("sign", delta=True)
        assert expiring not in serials(crl)
        time.sleep(1.1)
        _, crl = env.crl("sign")
        assert expiring not in serials(crl) and len(crl) == 4

        # the authentication CA has its own CRLs and numbers
        env.kensho("revoke", "--kind", "auth", "--serial", f"{serial_of(bob_auth):x}",
                   "--reason", "affiliationChanged")
        auth1, crl = env.crl("auth")
        assert number(crl) == 1 and serials(crl) == {serial_of(bob_auth)}
        assert env.verify("auth", bob_auth, auth1) == "revoked"
        assert env.verify("auth", alice_auth, auth1) == "good"
    print("ok")


if __name__ == "__main__":
    main()
