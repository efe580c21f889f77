"""kensho's CA commands end to end: `ca init`, `issue`, `revoke`, `event`,
`gen`, checked with real peers (python3-cryptography, openssl) and through
kenshod's lookup endpoint over HTTP."""
import datetime
import json
import os
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, Server, check, run  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.x509.oid import ExtensionOID, NameOID  # noqa: E402

JPKI = "1.2.392.200149.8.5.5."
NAME = "山田\u3000太郎"
ADDRESS = "東京都千代田区千代田1番1号"
# ADDRESS in the resident register's form, as the certificate carries it
ADDRESS_REGISTER = "東京都千代田区千代田１番１号"


def kensho(data, *args, check_rc=0):
    r = run(KENSHO, "--data", data, *args, check=False)
    if check_rc is not None and r.returncode != check_rc:
        raise AssertionError(f"exit {r.returncode}, wanted {check_rc}: {r.stdout}{r.stderr}")
    return r


def expect_exit(rc, what, data, *args):
    r = run(KENSHO, "--data", data, *args, check=False)
    check(r.returncode == rc, f"{what} (exit {r.returncode}, wanted {rc})")
    return r


def has_extension(cert, oid):
    try:
        cert.extensions.get_extension_for_oid(oid)
        return True
    except x509.ExtensionNotFound:
        return False


def serials(stdout):
    return dict(line.split() for line in stdout.splitlines() if line.split()[0] in ("sign", "auth"))


def load(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def utf8_value(der):
    """An otherName value as cryptography gives it: [0] EXPLICIT UTF8String
    (or, depending on the version, just the UTF8String)."""
    if der[0] == 0xA0:
        der = der[2:] if der[1] < 0x80 else der[2 + (der[1] & 0x7F):]
    assert der[0] == 0x0C, der.hex()
    n, off = der[1], 2
    if n & 0x80:
        k = n & 0x7F
        n, off = int.from_bytes(der[2:2 + k], "big"), 2 + k
    return der[off:off + n].decode("utf-8")


def fifth_birthday(birth, today):
    year = today.year + (1 if (birth.month, birth.day) <= (today.month, today.day) else 0) + 4
    day = birth.day
    if birth.month == 2 and day == 29 and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        day = 28
    # 23:59:59 JST on that day, as a naive UTC datetime (cryptography's not_valid_after)
    return datetime.datetime(year, birth.month, day, 14, 59, 59)


def check_ca_init(data, base):
    kensho(data, "ca", "init", "--base-url", base + "/")
    for name in ("sign-ca", "auth-ca", "sign-ocsp", "auth-ocsp"):
        mode = stat.S_IMODE(os.stat(f"{data}/ca/{name}.key").st_mode)
        check(mode == 0o600, f"{name}.key has mode 0600 (got {oct(mode)})")
        check(os.path.exists(f"{data}/ca/{name}.pem"), f"{name}.pem written")
    r = kensho(data, "ca", "init", check_rc=1)
    check("refusing" in r.stderr, "a second ca init refuses to replace the CAs")

    sign_ca = load(f"{data}/ca/sign-ca.pem")
    ous = [a.value for a in sign_ca.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    check(ous == ["JPKI for digital signature", "Japan Agency for Local Authority Information Systems"],
          "signing CA subject carries both OUs in order")
    check(sign_ca.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca,
          "signing CA is a CA")
    ku = sign_ca.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
    check(ku.key_cert_sign and ku.crl_sign, "CA key usage keyCertSign + cRLSign")
    check((sign_ca.not_valid_after - sign_ca.not_valid_before).days >= 3650, "CA valid ten years")
    auth_ca = load(f"{data}/ca/auth-ca.pem")
    check("JPKI for user authentication" in auth_ca.subject.rfc4514_string(), "user-auth CA name")
    for kind in ("sign", "auth"):
        resp = load(f"{data}/ca/{kind}-ocsp.pem")
        eku = resp.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
        check(x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING in eku, f"{kind} responder has id-kp-OCSPSigning")
        check(has_extension(resp, ExtensionOID.OCSP_NO_CHECK), f"{kind} responder has id-pkix-ocsp-nocheck")
        r = run("openssl", "verify", "-CAfile", f"{data}/ca/{kind}-ca.pem", f"{data}/ca/{kind}-ocsp.pem")
        check(r.stdout.strip().endswith("OK"), f"openssl verifies the {kind} responder")


def check_issue(data, base, tmp):
    out = os.path.join(tmp, "person1")
    r = kensho(data, "issue", "--name", NAME, "--birth", "1980-02-29", "--sex", "1",
               "--address", ADDRESS, "--out", out)
    s = serials(r.stdout)
    check(set(s) == {"sign", "auth"}, "issue prints both serials")
    for kind in ("sign", "auth"):
        check(stat.S_IMODE(os.stat(f"{out}/{kind}.key").st_mode) == 0o600, f"generated {kind}.key is 0600")
        r = run("openssl", "verify", "-CAfile", f"{data}/ca/{kind}-ca.pem", f"{out}/{kind}.pem")
        check(r.stdout.strip().endswith("OK"), f"openssl verifies the {kind} certificate")
    r = run("openssl", "verify", "-CAfile", f"{data}/ca/auth-ca.pem", f"{out}/sign.pem", check=False)
    check(r.returncode != 0, "the signing certificate does not verify under the user-auth CA")

    sign = load(f"{out}/sign.pem")
    # kensho prints two hex digits per octet (as openssl does): compare values,
    # since a first octet below 0x10 prints with a leading zero.
    check(int(s["sign"], 16) == sign.serial_number, "printed serial is the certificate's")
    san = sign.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    items = {o.type_id.dotted_string: utf8_value(o.value) for o in san.get_values_for_type(x509.OtherName)}
    check(items[JPKI + "1"] == NAME, "otherName name reads back")
    check(items[JPKI + "2"] == "0" * 5, "name substitute flags: one per character")
    check(items[JPKI + "3"] == "1", "otherName sex reads back")
    check(items[JPKI + "4"] == "319800229", "birth date is era-coded (3 = Showa) EYYYYMMDD")
    check(items[JPKI + "5"] == ADDRESS_REGISTER, "otherName address in the register's form (full-width digits)")
    check(items[JPKI + "6"] == "0" * len(ADDRESS), "address substitute flags")
    order = [o.type_id.dotted_string for o in san.get_values_for_type(x509.OtherName)]
    check(order == [JPKI + n for n in "143526"], "otherNames in a real card's order 1, 4, 3, 5, 2, 6")
    ku_ext = sign.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    check(ku_ext.critical and ku_ext.value.digital_signature and ku_ext.value.content_commitment
          and not ku_ext.value.key_encipherment, "signing key usage: critical digitalSignature + nonRepudiation")
    pol = sign.extensions.get_extension_for_oid(ExtensionOID.CERTIFICATE_POLICIES).value
    check([p.policy_identifier.dotted_string for p in pol] == ["1.2.392.200149.8.5.1.1.20"], "signing policy OID")
    dp = sign.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value
    check(dp[0].full_name[0].value == base + "/crl/sign.crl", "CRL distribution point from --base-url")
    aia = sign.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
    check(aia[0].access_location.value == base + "/ocsp", "AIA OCSP URL from --base-url")
    ian = sign.extensions.get_extension_for_oid(ExtensionOID.ISSUER_ALTERNATIVE_NAME).value
    dn = ian.get_values_for_type(x509.DirectoryName)[0]
    check(dn.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "公的個人認証サービス",
          "issuerAltName directoryName O=公的個人認証サービス")
    ca_san = load(f"{data}/ca/sign-ca.pem").extensions.get_extension_for_oid(
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    check(ian.get_values_for_type(x509.DirectoryName) == ca_san.get_values_for_type(x509.DirectoryName)
          and len(dn) == 4, "issuerAltName: the CA's four-RDN subjectAltName")
    locs = [a.value for a in sign.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)]
    check(locs == ["Tokyo", "Chiyoda-ku"], "signing subject L=prefecture, L=city, romanized")
    check(sign.subject.rfc4514_string().startswith("CN=") and
          sign.subject.rfc4514_string().endswith(",L=Chiyoda-ku,L=Tokyo,C=JP"),
          "signing subject C=JP, L=Tokyo, L=Chiyoda-ku, CN=...")
    today = (datetime.datetime.utcnow() + datetime.timedelta(hours=9)).date()  # in Japan
    want = fifth_birthday(datetime.date(1980, 2, 29), today)
    check(sign.not_valid_after == want, f"valid to the 5th birthday after issuance ({want})")

    auth = load(f"{out}/auth.pem")
    check(not has_extension(auth, ExtensionOID.SUBJECT_ALTERNATIVE_NAME),
          "user-auth certificate has no subjectAltName")
    ku = auth.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    check(ku.critical and ku.value.digital_signature and not ku.value.content_commitment,
          "user-auth key usage: critical digitalSignature")
    check(NAME not in auth.subject.rfc4514_string(), "user-auth subject has no name")
    cn = auth.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    check(len(cn) == 23 and all(c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" for c in cn),
          f"user-auth CN is an opaque 23-character identifier ({cn})")

    text = run("openssl", "x509", "-in", f"{out}/sign.pem", "-noout", "-text").stdout
    check(f"othername: {JPKI}1::{NAME}" in text, "openssl x509 -text shows the name otherName")
    check(f"othername: {JPKI}4::319800229" in text, "openssl x509 -text shows the birth otherName")
    check(f"othername: {JPKI}5::{ADDRESS_REGISTER}" in text, "openssl x509 -text shows the address otherName")
    return s


def check_issue_supplied_keys(data, tmp):
    keys = {}
    for kind in ("sign", "auth"):
        key = os.path.join(tmp, f"{kind}-own.key")
        pub = os.path.join(tmp, f"{kind}-own.pub")
        run("openssl", "genrsa", "-out", key, "2048")
        run("openssl", "rsa", "-in", key, "-pubout", "-out", pub)
        keys[kind] = pub
    out = os.path.join(tmp, "person2")
    r = kensho(data, "issue", "--name", "佐藤\u3000花子", "--birth", "1990-12-01", "--sex", "2",
               "--address", "大阪府大阪市北区梅田1丁目", "--sign-pubkey", keys["sign"],
               "--auth-pubkey", keys["auth"], "--out", out)
    for kind in ("sign", "auth"):
        with open(keys[kind], "rb") as f:
            want = serialization.load_pem_public_key(f.read()).public_numbers()
        got = load(f"{out}/{kind}.pem").public_key().public_numbers()
        check(got == want, f"{kind} certificate carries the supplied public key")
        check(not os.path.exists(f"{out}/{kind}.key"), f"no {kind}.key written for a supplied key")
    return serials(r.stdout)


def check_child_and_bad_input(data, tmp):
    today = datetime.date.today()
    birth = f"{today.year - 10:04d}-01-15"
    out = os.path.join(tmp, "child")
    r = kensho(data, "issue", "--name", "山田\u3000次郎", "--birth", birth, "--sex", "1",
               "--address", ADDRESS, "--out", out)
    check(set(serials(r.stdout)) == {"auth"} and "under 15" in r.stderr,
          "a ten-year-old gets the user-auth certificate only")
    check(not os.path.exists(f"{out}/sign.pem"), "no signing certificate file for a child")
    base = ["issue", "--name", "x", "--birth", "1980-01-01", "--sex", "1", "--address", ADDRESS,
            "--out", out]
    for flag, bad in (("--sex", "4"), ("--birth", "1980-02-30"), ("--birth", "80-1-1")):
        args = list(base)
        args[args.index(flag) + 1] = bad
        expect_exit(2, f"issue {flag} {bad} is refused", data, *args)
    expect_exit(2, "issue without --out is refused with exit 2", data, *base[:-2])
    for bad, says in (("架空県架空市1", "must start with a prefecture"),
                      ("東京都架空市1", "no municipality"),
                      ("東京都清瀬市" + "あ" * 195, "201 characters"),
                      ("東京都清瀬市ﾎﾝﾁｮｳ1", "outside JIS X 0208 and JIS X 0213")):
        args = list(base)
        args[args.index("--address") + 1] = bad
        r = expect_exit(2, f"issue --address {bad[:12]}... is refused", data, *args)
        check(says in r.stderr, f"... saying '{says}' ({r.stderr.strip()})")


def lookup(server, kind, serial):
    status, headers, body = server.get(f"/v1/certs/{kind}/{serial}")
    return status, json.loads(body)


def new_pair(data, tmp, pubkey):
    out = os.path.join(tmp, "pairs")
    r = kensho(data, "issue", "--name", "鈴木\u3000一郎", "--birth", "1970-05-05", "--sex", "1",
               "--address", "福岡県福岡市博多区1", "--sign-pubkey", pubkey, "--auth-pubkey", pubkey,
               "--out", out, "--force")  # each pair replaces the last one's certificate files
    return serials(r.stdout)


def check_rules(data, tmp, server, pubkey):
    # revoke with an explicit reason
    s = new_pair(data, tmp, pubkey)
    kensho(data, "revoke", "--kind", "auth", "--serial", s["auth"], "--reason", "keyCompromise")
    status, body = lookup(server, "auth", s["auth"])
    check(status == 200 and body["status"] == "revoked" and body["reason"] == "keyCompromise",
          "revoke: lookup shows revoked, keyCompromise")
    check(lookup(server, "sign", s["sign"])[1]["status"] == "good", "revoke touched only that certificate")
    expect_exit(1, "revoking twice fails", data, "revoke", "--kind", "auth", "--serial", s["auth"],
                "--reason", "unspecified")
    expect_exit(2, "an unknown reason name is a usage error", data, "revoke", "--kind", "auth", "--serial", s["auth"], "--reason", "stolen")
    expect_exit(1, "an unknown serial fails", data, "revoke", "--kind", "sign", "--serial", "0badc0de", "--reason", "unspecified")

    rules = {
        "move": ("affiliationChanged", None),
        "rename": ("affiliationChanged", None),
        "death": ("cessationOfOperation", "cessationOfOperation"),
        "loss": ("keyCompromise", "keyCompromise"),
        "request": ("cessationOfOperation", "cessationOfOperation"),
    }
    for event, (sign_reason, auth_reason) in rules.items():
        s = new_pair(data, tmp, pubkey)
        kensho(data, "event", "--serial", s["auth"], "--kind", "auth", event)
        sign = lookup(server, "sign", s["sign"])[1]
        auth = lookup(server, "auth", s["auth"])[1]
        check(sign["status"] == "revoked" and sign["reason"] == sign_reason,
              f"{event}: signing certificate revoked ({sign_reason})")
        if auth_reason:
            check(auth["status"] == "revoked" and auth["reason"] == auth_reason,
                  f"{event}: user-auth certificate revoked ({auth_reason})")
        else:
            check(auth["status"] == "good", f"{event}: user-auth certificate stays good")
        expect_exit(1, f"{event} again has nothing to do and fails", data, "event", "--serial", s["sign"],
                    "--kind", "sign", event)

    # a move with the new address also reissues the signing certificate
    s = new_pair(data, tmp, pubkey)
    moved = "北海道札幌市中央区北1条西2丁目"
    out = os.path.join(tmp, "moved")
    expect_exit(2, "move --address without --out or --sign-pubkey (new key, nowhere to put it) is refused",
                data, "event", "--serial", s["auth"], "--kind", "auth", "move", "--address", moved)
    expect_exit(2, "--name goes with rename, not move", data, "event", "--serial", s["auth"], "--kind", "auth",
                "move", "--name", "x", "--out", out)
    r = kensho(data, "event", "--serial", s["auth"], "--kind", "auth", "move", "--address", moved, "--out", out)
    n = serials(r.stdout)
    check(set(n) == {"sign"}, "move --address issues a new signing certificate only")
    sign = load(f"{out}/sign.pem")
    san = sign.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    items = {o.type_id.dotted_string: utf8_value(o.value) for o in san.get_values_for_type(x509.OtherName)}
    check(items[JPKI + "5"] == "北海道札幌市中央区北１条西２丁目" and items[JPKI + "1"] == "鈴木\u3000一郎",
          "the new signing certificate carries the new address and the same name")
    old, new = lookup(server, "sign", s["sign"])[1], lookup(server, "sign", n["sign"])[1]
    auth = lookup(server, "auth", s["auth"])[1]
    check(old["reason"] == "affiliationChanged" and old["links"]["replaced_by"] == {"kind": "sign", "serial": n["sign"]},
          "move: the old signing certificate is revoked and replaced_by the new one")
    check(new["links"]["replaces"] == {"kind": "sign", "serial": s["sign"]}
          and new["links"]["pair"] == {"kind": "auth", "serial": s["auth"]},
          "move: the new signing certificate replaces the old and pairs with the user-auth one")
    check(auth["status"] == "good" and auth["links"]["pair"] == {"kind": "sign", "serial": n["sign"]},
          "move: the user-auth certificate stays good and now pairs with the new signing one")

    s = new_pair(data, tmp, pubkey)
    expect_exit(2, "renew without --out (nowhere to put the new keys) is refused", data, "event",
                "--serial", s["sign"], "--kind", "sign", "renew")
    check(lookup(server, "sign", s["sign"])[1]["status"] == "good", "the refused renew changed nothing")
    out = os.path.join(tmp, "renewed")
    r = kensho(data, "event", "--serial", s["sign"], "--kind", "sign", "renew", "--out", out)
    n = serials(r.stdout)
    check(set(n) == {"sign", "auth"} and os.path.exists(f"{out}/sign.key"), "renew issues a new pair with keys")
    for kind in ("sign", "auth"):
        old = lookup(server, kind, s[kind])[1]
        new = lookup(server, kind, n[kind])[1]
        check(old["status"] == "revoked" and old["reason"] == "superseded", f"renew: old {kind} superseded")
        check(old["links"]["replaced_by"] == {"kind": kind, "serial": n[kind]}, f"renew: old {kind} replaced_by new")
        check(new["links"]["replaces"] == {"kind": kind, "serial": s[kind]}, f"renew: new {kind} replaces old")
        check(new["status"] == "good", f"renew: new {kind} good")
    new_sign = lookup(server, "sign", n["sign"])[1]
    check(new_sign["links"]["pair"] == {"kind": "auth", "serial": n["auth"]}, "renew: the new pair is linked")


def check_lookup(server, s):
    status, body = lookup(server, "sign", s["sign"])
    check(status == 200 and body["kind"] == "sign" and body["serial"] == s["sign"], "lookup by serial")
    check(body["links"]["pair"] == {"kind": "auth", "serial": s["auth"]}, "lookup links the pair")
    check(body["links"]["replaces"] is None and body["links"]["replaced_by"] is None, "no renewal links yet")
    for key in ("not_before", "not_after"):
        check(body[key].endswith("Z"), f"lookup {key} is RFC 3339 UTC")
    _, _, raw = server.get(f"/v1/certs/sign/{s['sign']}")
    text = raw.decode("utf-8")
    check(NAME not in text and "東京都" not in text and "319800229" not in text,
          "lookup never returns the four items")
    for path, code in (("/v1/certs/sign/xyz", 400), ("/v1/certs/sign/" + "1" * 41, 400),
                       ("/v1/certs/sign/0badc0de", 404), ("/v1/certs/other/01", 404)):
        status, headers, body = server.get(path)
        check(status == code and "error" in json.loads(body), f"GET {path} -> {code} with a JSON error")
    status, _, _ = server.get(f"/v1/certs/auth/{s['sign']}")
    check(status == 404, "a signing serial is unknown as a user-auth certificate")


def ocsp(data, server, kind, cert):
    r = run("openssl", "ocsp", "-issuer", f"{data}/ca/{kind}-ca.pem", "-cert", cert, "-url",
            server.url + "/ocsp", "-CAfile", f"{data}/ca/{kind}-ca.pem", "-no_nonce", check=False)
    return r.stdout + r.stderr


def check_ocsp(data, tmp, server, s):
    """The issuers registered by ca init and the delegated responders work for
    a real OCSP client (the hashes in the store match what openssl sends)."""
    out = os.path.join(tmp, "person1")
    text = ocsp(data, server, "sign", f"{out}/sign.pem")
    check("Response verify OK" in text and f"{out}/sign.pem: good" in text,
          "openssl ocsp: the signing certificate is good, signed by its delegated responder")
    kensho(data, "event", "--serial", s["sign"], "--kind", "sign", "loss")
    for kind in ("sign", "auth"):
        text = ocsp(data, server, kind, f"{out}/{kind}.pem")
        check("Response verify OK" in text and f"{out}/{kind}.pem: revoked" in text
              and "Reason: keyCompromise" in text, f"openssl ocsp: after a loss the {kind} certificate is revoked")


def check_gen(data):
    r = kensho(data, "gen", "--people", "5000", "--revoked", "0.1", "--seed", "42")
    fields = r.stdout.split()
    got = dict(zip(fields[0::2], fields[1::2]))
    check(int(got["people"]) == 5000, "gen writes the people asked for")
    check(int(got["certificates"]) > 5000, "gen writes both certificates of adults")
    revoked = int(got["revoked"])
    check(300 < revoked < 1500, f"about 10% of people have a revoking event ({revoked} revocations)")
    check("\r[" not in r.stderr, "no progress bar when stderr is not a terminal")
    expect_exit(1, "gen with a used seed fails instead of colliding", data, "gen", "--people", "10", "--seed", "42")
    expect_exit(2, "gen --revoked 2 is a usage error", data, "gen", "--people", "10", "--revoked", "2", "--seed", "43")


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-ca-") as tmp:
        data = os.path.join(tmp, "data")
        server = Server(data=data)
        check_ca_init(data, server.url)
        s = check_issue(data, server.url, tmp)
        check_issue_supplied_keys(data, tmp)
        check_child_and_bad_input(data, tmp)
        pubkey = os.path.join(tmp, "sign-own.pub")
        with server:
            check_lookup(server, s)
            check_rules(data, tmp, server, pubkey)
            check_ocsp(data, tmp, server, s)
        check_gen(data)
    print("all CA command checks passed")


if __name__ == "__main__":
    main()
