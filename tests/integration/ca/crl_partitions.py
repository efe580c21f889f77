"""CRLs partitioned by municipality (docs/crl.md, "Partitions"), end to end
with kensho and openssl: certificates issued with `ca init --crl-partitions`
name their municipality's distribution point (directoryName and URL), each
partition's full and delta CRLs carry the matching issuingDistributionPoint
and list only that municipality's revocations, openssl verify -crl_check
passes with the partition's CRL and reports the certificate revoked after a
revocation, another partition's CRL is refused as a different scope, the
per-CA CRL stays available, kenshod serves the partitions' files (with an
ETag and 304, 404 for an unpublished or malformed name), and without the
option certificates name the per-CA CRL as before."""
import os
import re
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, Server, run, wait_for  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.x509.oid import ExtensionOID, NameOID  # noqa: E402

BASE = "http://127.0.0.1:8080"
KIYOSE = "132217"
SAPPORO = "011002"

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def kensho(data, *args, check_rc=True):
    return run(KENSHO, "--data", data, *args, check=check_rc)


def issue(data, tmp, name, address):
    out = os.path.join(tmp, name)
    r = kensho(data, "issue", "--name", "清瀬\u3000太郎", "--birth", "1980-02-17", "--sex", "1",
               "--address", address, "--out", out)
    serials = dict(re.findall(r"^(sign|auth) ([0-9a-f]+)$", r.stdout, re.M))
    return out, serials


def cdp(cert_path):
    cert = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
    return cert.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value


def pem(path):
    run("openssl", "crl", "-inform", "DER", "-in", path, "-out", path + ".pem")
    return path + ".pem"


def verify(data, kind, cert, *crls, deltas=False):
    args = ["openssl", "verify", "-crl_check", "-CAfile", os.path.join(data, "ca", f"{kind}-ca.pem")]
    if deltas:
        args += ["-use_deltas", "-extended_crl"]
    for c in crls:
        args += ["-CRLfile", pem(c)]
    r = run(*args, cert, check=False)
    return r.returncode, r.stdout + r.stderr


def request(server, path, headers=None):
    req = urllib.request.Request(server.url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def partition_dn(kind, pref, city):
    ou = "JPKI for digital signature" if kind == "sign" else "JPKI for user authentication"
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, pref),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{city} CRLDP"),
    ])


def main():
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        kensho(data, "ca", "init", "--base-url", BASE, "--crl-partitions")
        kiyose, ks = issue(data, tmp, "kiyose", "東京都清瀬市観布子南12-7-202")
        sapporo, ss = issue(data, tmp, "sapporo", "北海道札幌市中央区北1条西2丁目")

        for kind in ("sign", "auth"):
            dp = cdp(f"{kiyose}/{kind}.pem")
            names = dp[0].full_name
            dn = [n.value for n in names if isinstance(n, x509.DirectoryName)]
            uri = [n.value for n in names if isinstance(n, x509.UniformResourceIdentifier)]
            check(len(dp) == 1 and dn == [partition_dn(kind, "Tokyo", "Kiyose-shi")],
                  f"{kind}: the distribution point is the directoryName CN=Kiyose-shi CRLDP, OU=Tokyo, ...")
            check(uri == [f"{BASE}/crl/{kind}-{KIYOSE}.crl"], f"{kind}: ... and the partition's URL")

        # each partition's full CRL, and the per-CA one
        for kind in ("sign", "auth"):
            for code in (KIYOSE, SAPPORO):
                kensho(data, "crl", "--kind", kind, "--partition", code)
            kensho(data, "crl", "--kind", kind)
        crl_dir = os.path.join(data, "crl")
        k_full = os.path.join(crl_dir, f"sign-{KIYOSE}.crl")
        s_full = os.path.join(crl_dir, f"sign-{SAPPORO}.crl")
        crl = x509.load_der_x509_crl(open(k_full, "rb").read())
        idp = crl.extensions.get_extension_for_oid(ExtensionOID.ISSUING_DISTRIBUTION_POINT).value
        check(list(idp.full_name) == list(cdp(f"{kiyose}/sign.pem")[0].full_name),
              "the partition CRL's issuingDistributionPoint is the certificates' distribution point")
        check(idp.only_contains_user_certs, "... onlyContainsUserCerts")

        code, out = verify(data, "sign", f"{kiyose}/sign.pem", k_full)
        check(code == 0, f"openssl verify -crl_check passes with the partition's CRL ({out.strip()})")
        code, out = verify(data, "sign", f"{kiyose}/sign.pem", s_full)
        check(code != 0 and "different CRL scope" in out,
              "another municipality's CRL is refused as a different scope")

        kensho(data, "revoke", "--kind", "sign", "--serial", ks["sign"], "--reason", "keyCompromise")
        kensho(data, "crl", "--kind", "sign", "--partition", KIYOSE, "--delta")
        k_delta = os.path.join(crl_dir, f"sign-{KIYOSE}-delta.crl")
        delta = x509.load_der_x509_crl(open(k_delta, "rb").read())
        check([e.serial_number for e in delta] == [int(ks["sign"], 16)],
              "the partition's delta lists the revocation")
        didp = delta.extensions.get_extension_for_oid(ExtensionOID.ISSUING_DISTRIBUTION_POINT).value
        check(list(didp.full_name) == list(idp.full_name), "... under the same issuingDistributionPoint")
        base = delta.extensions.get_extension_for_oid(ExtensionOID.DELTA_CRL_INDICATOR).value
        check(base.crl_number == crl.extensions.get_extension_for_oid(ExtensionOID.CRL_NUMBER).value.crl_number,
              "... on the partition's own full CRL")
        code, out = verify(data, "sign", f"{kiyose}/sign.pem", k_full, k_delta, deltas=True)
        check(code != 0 and "certificate revoked" in out,
              "openssl verify -crl_check -use_deltas: revoked through the partition's delta")

        kensho(data, "crl", "--kind", "sign", "--partition", KIYOSE)
        kensho(data, "crl", "--kind", "sign", "--partition", SAPPORO)
        full = x509.load_der_x509_crl(open(k_full, "rb").read())
        check([e.serial_number for e in full] == [int(ks["sign"], 16)], "the next full partition CRL lists it")
        check(len(list(x509.load_der_x509_crl(open(s_full, "rb").read()))) == 0,
              "Sapporo's partition does not")
        code, out = verify(data, "sign", f"{kiyose}/sign.pem", k_full)
        check(code != 0 and "certificate revoked" in out,
              f"openssl verify -crl_check: revoked with the partition's full CRL ({out.strip()})")
        code, out = verify(data, "sign", f"{sapporo}/sign.pem", s_full)
        check(code == 0, "Sapporo's certificate still verifies with its partition's CRL")

        kensho(data, "crl", "--kind", "sign")
        whole = x509.load_der_x509_crl(open(os.path.join(crl_dir, "sign.crl"), "rb").read())
        check(int(ks["sign"], 16) in [e.serial_number for e in whole], "the per-CA CRL lists it too")

        # --partition all reads the index once for every partition: the same entries
        kensho(data, "crl", "--kind", "sign", "--partition", "all")
        again = x509.load_der_x509_crl(open(k_full, "rb").read())
        check([e.serial_number for e in again] == [int(ks["sign"], 16)]
              and len(list(x509.load_der_x509_crl(open(s_full, "rb").read()))) == 0,
              "--partition all writes the same entries as one partition at a time")
        code, out = verify(data, "sign", f"{kiyose}/sign.pem", k_full)
        check(code != 0 and "certificate revoked" in out, "... and openssl still finds it revoked")
        kensho(data, "crl", "--kind", "sign", "--partition", "all", "--delta")
        check(os.path.exists(os.path.join(crl_dir, "sign-472018-delta.crl")),
              "--partition all --delta writes the deltas on those fulls")
        r = kensho(data, "crl", "--kind", "sign", "--partition", "all", "--delta")
        check("of 0 partitions" in r.stdout, f"... and again, with nothing changed, signs none ({r.stdout.strip()})")
        kensho(data, "revoke", "--kind", "auth", "--serial", ks["auth"], "--reason", "keyCompromise")
        kensho(data, "crl", "--kind", "auth", "--partition", KIYOSE)
        kensho(data, "crl", "--kind", "auth", "--partition", KIYOSE, "--delta")
        kensho(data, "revoke", "--kind", "auth", "--serial", ss["auth"], "--reason", "keyCompromise")
        r = kensho(data, "crl", "--kind", "auth", "--partition", "all", "--delta")
        check("of 1 partitions" in r.stdout and "1 entries" in r.stdout,
              f"a revocation in one partition re-signs that partition's delta only ({r.stdout.strip()})")
        r = kensho(data, "crl", "--kind", "auth", "--partition", "all")
        check("of 1741 partitions" in r.stdout, f"--partition all writes every partition ({r.stdout.strip()})")
        check(os.path.exists(os.path.join(crl_dir, "auth-472018.crl")), "... Naha-shi's among them")
        r = kensho(data, "crl", "--kind", "sign", "--partition", "999999", check_rc=False)
        check(r.returncode == 2 and "local government code" in r.stderr, "an unknown code is refused")

        # served over HTTP by kenshod, whose publisher follows a revocation
        # with the partitions' deltas
        config = os.path.join(tmp, "kenshod.conf")
        with open(config, "w") as f:
            f.write("crl.check_interval = 100ms\ncrl.delta_after_ms = 300\n")
        with Server(data=data, args=["--config", config]) as server:
            status, headers, body = request(server, f"/crl/sign-{KIYOSE}.crl")
            check(status == 200 and body == open(k_full, "rb").read()
                  and headers["Content-Type"] == "application/pkix-crl",
                  f"GET /crl/sign-{KIYOSE}.crl returns the published partition CRL ({status})")
            status, _, _ = request(server, f"/crl/sign-{KIYOSE}.crl", {"If-None-Match": headers["ETag"]})
            check(status == 304, "... and 304 for its ETag")
            status, _, body = request(server, f"/crl/sign-{KIYOSE}-delta.crl")
            check(status == 200 and body == open(k_delta, "rb").read(), "the partition's delta too")
            status, _, _ = request(server, "/crl/sign-999999.crl")
            check(status == 404, "an unpublished partition: 404")
            for bad in ("/crl/sign-13221.crl", "/crl/sign-132217x.crl", "/crl/../ca/sign-ca.key",
                        "/crl/x-132217.crl", "/crl/"):
                status, _, _ = request(server, bad)
                check(status in (400, 404), f"{bad}: {status}")
            status, _, _ = request(server, "/crl/sign.crl")
            check(status == 200, "the per-CA CRL is still served")

            kensho(data, "revoke", "--kind", "sign", "--serial", ss["sign"], "--reason", "keyCompromise")

            def sapporo_delta_lists_it():
                status, _, body = request(server, f"/crl/sign-{SAPPORO}-delta.crl")
                return status == 200 and int(ss["sign"], 16) in [
                    e.serial_number for e in x509.load_der_x509_crl(body)]
            # a round re-signs every partition's delta (docs/crl.md): bounded, not timed
            wait_for("kenshod publishes Sapporo's delta with the new revocation", sapporo_delta_lists_it,
                     timeout=300)
            check(True, "kenshod's publisher put the revocation on the partition's delta")

        # without the option: the per-CA CRL, as before
        data2 = os.path.join(tmp, "plain")
        kensho(data2, "ca", "init", "--base-url", BASE)
        plain, _ = issue(data2, tmp, "plain", "東京都清瀬市観布子南12-7-202")
        names = cdp(f"{plain}/sign.pem")[0].full_name
        check([n.value for n in names] == [f"{BASE}/crl/sign.crl"],
              "without --crl-partitions the certificate names the per-CA CRL only")

    print(f"{len(failures)} failed")
    if failures:
        sys.exit(1)


main()
