"""The streaming CRL encoder checked by real peers: openssl parses and
verifies full and delta CRLs, `openssl verify -crl_check` (and with
`-use_deltas`) finds revoked certificates, python3 cryptography parses every
CRL. (The million-entry CRL from a real store is crl_million.py.)"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import BUILD, run  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.x509.oid import ExtensionOID  # noqa: E402

FIXTURE = os.path.join(BUILD, "tests", "integration", "ca", "crl_fixture")
IDP = "http://127.0.0.1/crl/sign.crl"
FRESHEST = "http://127.0.0.1/crl/sign-delta.crl"


def make_ca(d):
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
        "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem",
        "-subj", "/C=JP/O=kensho test/CN=Signature CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "x509", "-in", f"{d}/ca.pem", "-outform", "DER", "-out", f"{d}/ca.der")


def make_leaf(d, name, serial):
    with open(f"{d}/{name}.ext", "w") as f:
        f.write(f"crlDistributionPoints=URI:{IDP}\nkeyUsage=critical,digitalSignature\n")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/{name}.key",
        "-out", f"{d}/{name}.csr", "-subj", f"/C=JP/CN={name}")
    run("openssl", "x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem",
        "-CAkey", f"{d}/ca.key", "-set_serial", serial, "-days", "365",
        "-extfile", f"{d}/{name}.ext", "-out", f"{d}/{name}.pem")


def write_crl(d, name, number, entries, delta=None):
    # a delta is issued after its base, as in real life
    now = int(time.time()) + (30 if delta is not None else 0)
    args = [FIXTURE, "--cert", f"{d}/ca.der", "--key", f"{d}/ca.key", "--number", number,
            "--this-update", now - 60, "--next-update", now + 86400, "--idp", IDP,
            "--out", f"{d}/{name}.crl"]
    if delta is not None:
        args += ["--delta", delta]
    else:
        args += ["--freshest", FRESHEST]
    with open(f"{d}/{name}.txt", "w") as f:
        f.writelines(" ".join(str(x) for x in e) + "\n" for e in entries)
    args += ["--entries", f"{d}/{name}.txt"]
    run(*args)
    run("openssl", "crl", "-inform", "DER", "-in", f"{d}/{name}.crl", "-out", f"{d}/{name}.crl.pem")
    return f"{d}/{name}.crl"


def openssl_text(path):
    return run("openssl", "crl", "-inform", "DER", "-in", path, "-noout", "-text").stdout


def assert_openssl_verifies(d, path):
    r = run("openssl", "crl", "-inform", "DER", "-in", path, "-CAfile", f"{d}/ca.pem", "-noout")
    assert "verify OK" in r.stdout + r.stderr, r.stderr


def verify_leaf(d, leaf, *crls, deltas=False):
    args = ["openssl", "verify", "-crl_check", "-CAfile", f"{d}/ca.pem"]
    if deltas:
        # OpenSSL 3.0 needs -extended_crl as well, or it scores the (newer)
        # delta like a complete CRL and uses it alone
        args += ["-use_deltas", "-extended_crl"]
    for c in crls:
        args += ["-CRLfile", f"{c}.pem"]
    r = run(*args, f"{d}/{leaf}.pem", check=False)
    return r.returncode, r.stdout + r.stderr


def check_with_cryptography(d, path, number, delta_base=None):
    ca = x509.load_pem_x509_certificate(open(f"{d}/ca.pem", "rb").read())
    crl = x509.load_der_x509_crl(open(path, "rb").read())
    assert crl.is_signature_valid(ca.public_key())
    assert crl.issuer == ca.subject
    assert crl.extensions.get_extension_for_oid(ExtensionOID.CRL_NUMBER).value.crl_number == number
    aki = crl.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value
    ski = ca.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER).value
    assert aki.key_identifier == ski.digest
    idp = crl.extensions.get_extension_for_oid(ExtensionOID.ISSUING_DISTRIBUTION_POINT)
    assert idp.critical and idp.value.only_contains_user_certs
    assert idp.value.full_name[0].value == IDP
    if delta_base is None:
        assert not any(e.oid == ExtensionOID.DELTA_CRL_INDICATOR for e in crl.extensions)
    else:
        dci = crl.extensions.get_extension_for_oid(ExtensionOID.DELTA_CRL_INDICATOR)
        assert dci.critical and dci.value.crl_number == delta_base
    return crl


def test_full_and_delta(d):
    make_ca(d)
    make_leaf(d, "alice", "0x0a1b")
    make_leaf(d, "bob", "0x00ff")
    make_leaf(d, "carol", "0x7c")
    # full CRL 1: alice keyCompromise; a revoked serial with unspecified reason
    full = write_crl(d, "full", 1, [("0a1b", 1700000000, 1), ("0777", 1700000100, 0)])
    assert_openssl_verifies(d, full)
    text = openssl_text(full)
    assert "X509v3 CRL Number: \n                1" in text, text
    assert "Serial Number: 0A1B" in text and "Key Compromise" in text, text
    assert "Delta CRL Indicator" not in text
    # RFC 5280 §5.3.1: no reasonCode extension for unspecified
    assert text.count("X509v3 CRL Reason Code") == 1, text
    crl = check_with_cryptography(d, full, 1)
    assert len(crl) == 2
    alice = crl.get_revoked_certificate_by_serial_number(0x0A1B)
    assert alice.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise

    code, out = verify_leaf(d, "alice", full)
    assert code != 0 and "certificate revoked" in out, out
    code, out = verify_leaf(d, "bob", full)
    assert code == 0 and "OK" in out, out

    # delta CRL 2 on base 1: bob revoked since (affiliationChanged, with invalidityDate)
    delta = write_crl(d, "delta", 2, [("00ff", int(time.time()) - 30, 3, 1700000000)], delta=1)
    assert_openssl_verifies(d, delta)
    text = openssl_text(delta)
    assert "Delta CRL Indicator: critical\n                1" in text, text
    assert "Invalidity Date" in text and "Affiliation Changed" in text, text
    crl = check_with_cryptography(d, delta, 2, delta_base=1)
    assert len(crl) == 1

    # the full CRL alone does not list bob; with base + delta he is revoked,
    # and alice, listed only on the base, still is
    code, out = verify_leaf(d, "bob", full)
    assert code == 0, out
    code, out = verify_leaf(d, "bob", full, delta, deltas=True)
    assert code != 0 and "certificate revoked" in out, out
    code, out = verify_leaf(d, "alice", full, delta, deltas=True)
    assert code != 0 and "certificate revoked" in out, out
    code, out = verify_leaf(d, "carol", full, delta, deltas=True)
    assert code == 0 and "OK" in out, out

    # an empty full CRL omits revokedCertificates and still verifies
    empty = write_crl(d, "empty", 3, [])
    assert_openssl_verifies(d, empty)
    assert "No Revoked Certificates" in openssl_text(empty)
    assert len(check_with_cryptography(d, empty, 3)) == 0
    code, out = verify_leaf(d, "alice", empty)
    assert code == 0, out


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-crl-") as d:
        test_full_and_delta(d)
    print("ok")


if __name__ == "__main__":
    main()
