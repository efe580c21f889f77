"""Each CA's authority revocation list (ARL): the OCSP responders' and the
time-stamping unit's certificates name it (the CA's DN as a directoryName,
and its URL); `kensho crl --arl` and kenshod's publisher publish it signed,
with an issuingDistributionPoint naming the same two names and no
onlyContains flag; kenshod serves it at /crl/<kind>/arl.crl; `openssl crl`
verifies it; `openssl verify -crl_check` accepts a responder certificate
until `kensho ca revoke-responder` revokes it, and refuses it after, while
its replacement is accepted. `kensho ca revoke-tsa` puts the unit on the
signing CA's ARL."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, Server, check, run, wait_for  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding  # noqa: E402
from cryptography.x509.oid import ExtensionOID  # noqa: E402


def load_cert(path):
    return x509.load_pem_x509_certificate(open(path, "rb").read())


def pem_of_crl(der, path):
    with open(path, "wb") as f:
        f.write(x509.load_der_x509_crl(der).public_bytes(Encoding.PEM))
    return path


def verify_with_crl(ca, crl_pem, cert):
    return run("openssl", "verify", "-crl_check", "-CAfile", ca, "-CRLfile", crl_pem, cert,
               check=False)


def dp_names(names):
    """(directoryName, URIs) of a fullName."""
    dns = [n.value for n in names if isinstance(n, x509.DirectoryName)]
    uris = [n.value for n in names if isinstance(n, x509.UniformResourceIdentifier)]
    return dns, uris


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-arl-") as tmp:
        data = os.path.join(tmp, "data")
        run(KENSHO, "--data", data, "ca", "init", "--base-url", "http://127.0.0.1:9")
        ca = {k: os.path.join(data, "ca", f"{k}-ca.pem") for k in ("sign", "auth")}
        responder = {k: os.path.join(data, "ca", f"{k}-ocsp.pem") for k in ("sign", "auth")}
        tsa = os.path.join(data, "ca", "tsa.pem")

        # The service certificates name their CA's ARL.
        for kind, path in (("sign", responder["sign"]), ("auth", responder["auth"]),
                           ("sign", tsa)):
            cert = load_cert(path)
            (point,) = cert.extensions.get_extension_for_oid(
                ExtensionOID.CRL_DISTRIBUTION_POINTS).value
            dns, uris = dp_names(point.full_name)
            check(dns == [load_cert(ca[kind]).subject] and
                  uris == [f"http://127.0.0.1:9/crl/{kind}/arl.crl"],
                  f"{os.path.basename(path)} names the {kind} CA's ARL: its DN and its URL")

        # Published by the command line, verified by openssl.
        for kind in ("sign", "auth"):
            out = os.path.join(tmp, f"{kind}-arl.der")
            run(KENSHO, "--data", data, "crl", "--kind", kind, "--arl", "--out", out)
            crl = x509.load_der_x509_crl(open(out, "rb").read())
            check(crl.issuer == load_cert(ca[kind]).subject, f"{kind} ARL: issued by the {kind} CA")
            idp = crl.extensions.get_extension_for_oid(
                ExtensionOID.ISSUING_DISTRIBUTION_POINT)
            dns, uris = dp_names(idp.value.full_name)
            check(idp.critical and dns == [crl.issuer] and
                  uris == [f"http://127.0.0.1:9/crl/{kind}/arl.crl"] and
                  not idp.value.only_contains_user_certs and
                  not idp.value.only_contains_ca_certs,
                  f"{kind} ARL: a critical IDP naming the CA's DN and the ARL's URL, "
                  "no onlyContains flag")
            check(len(crl) == 0, f"{kind} ARL: empty while nothing is revoked")
            r = run("openssl", "crl", "-inform", "DER", "-in", out, "-CAfile", ca[kind],
                    "-noout", check=False)
            check(r.returncode == 0 and "verify OK" in r.stderr + r.stdout,
                  f"openssl crl verifies the {kind} ARL's signature")
            r = verify_with_crl(ca[kind], pem_of_crl(open(out, "rb").read(),
                                                     os.path.join(tmp, f"{kind}-arl.pem")),
                                responder[kind])
            check(r.returncode == 0, f"openssl verify -crl_check accepts the {kind} responder "
                  f"with the ARL: {r.stdout.strip()} {r.stderr.strip()}")

        config = os.path.join(tmp, "kenshod.conf")
        with open(config, "w") as f:
            f.write("crl.check_interval = 100ms\n")
        with Server(data=data, args=["--config", config]) as server:
            for kind in ("sign", "auth"):
                status, headers, body = server.get(f"/crl/{kind}/arl.crl")
                check(status == 200 and headers["Content-Type"] == "application/pkix-crl" and
                      x509.load_der_x509_crl(body).issuer == load_cert(ca[kind]).subject,
                      f"kenshod serves the {kind} ARL at /crl/{kind}/arl.crl")
            served_number = x509.load_der_x509_crl(server.get("/crl/auth/arl.crl")[2]).extensions \
                .get_extension_for_oid(ExtensionOID.CRL_NUMBER).value.crl_number

            old = os.path.join(tmp, "old-auth-ocsp.pem")
            with open(old, "wb") as f:
                f.write(open(responder["auth"], "rb").read())
            old_serial = load_cert(old).serial_number
            r = run(KENSHO, "--data", data, "ca", "revoke-responder", "--kind", "auth",
                    "--reason", "keyCompromise")
            check("revoked" in r.stdout, "kensho ca revoke-responder revokes and replaces")
            check(load_cert(responder["auth"]).serial_number != old_serial,
                  "a new auth responder certificate is in place")

            def revoked_on_served_arl():
                status, _, body = server.get("/crl/auth/arl.crl")
                if status != 200:
                    return None
                crl = x509.load_der_x509_crl(body)
                entry = crl.get_revoked_certificate_by_serial_number(old_serial)
                return (crl, body) if entry is not None else None
            crl, body = wait_for("kenshod publishes and serves the ARL with the revoked "
                                 "responder", revoked_on_served_arl)
            number = crl.extensions.get_extension_for_oid(ExtensionOID.CRL_NUMBER).value.crl_number
            check(number > served_number, f"the ARL's number advanced ({served_number} -> {number})")
            entry = crl.get_revoked_certificate_by_serial_number(old_serial)
            reason = entry.extensions.get_extension_for_oid(x509.oid.CRLEntryExtensionOID.CRL_REASON)
            check(reason.value.reason == x509.ReasonFlags.key_compromise,
                  "the entry carries the reason keyCompromise")
            arl_pem = pem_of_crl(body, os.path.join(tmp, "auth-arl-2.pem"))
            r = run("openssl", "crl", "-in", arl_pem, "-CAfile", ca["auth"], "-noout", check=False)
            check(r.returncode == 0 and "verify OK" in r.stderr + r.stdout,
                  "openssl crl verifies the served ARL")
            r = verify_with_crl(ca["auth"], arl_pem, old)
            check(r.returncode != 0 and "certificate revoked" in r.stdout + r.stderr,
                  "openssl verify -crl_check refuses the revoked responder: certificate revoked")
            r = verify_with_crl(ca["auth"], arl_pem, responder["auth"])
            check(r.returncode == 0, "and accepts its replacement")

            tsa_serial = load_cert(tsa).serial_number
            run(KENSHO, "--data", data, "ca", "revoke-tsa", "--reason", "superseded")
            wait_for("the signing CA's ARL lists the revoked time-stamping unit",
                     lambda: server.get("/crl/sign/arl.crl")[0] == 200 and
                     x509.load_der_x509_crl(server.get("/crl/sign/arl.crl")[2])
                     .get_revoked_certificate_by_serial_number(tsa_serial) is not None)
            status, _, body = server.get("/crl/sign.crl")
            check(status != 200 or x509.load_der_x509_crl(body)
                  .get_revoked_certificate_by_serial_number(tsa_serial) is None,
                  "the people's CRL does not list it")

        r = run(KENSHO, "--data", data, "ca", "revoke-responder", "--kind", "nope", check=False)
        check(r.returncode == 2, "a bad --kind is a usage error")
        r = run(KENSHO, "--data", data, "ca", "revoke-responder", "--kind", "sign", "--reason",
                "nope", check=False)
        check(r.returncode == 2 and "reason" in r.stderr, "an unknown --reason is a usage error")


if __name__ == "__main__":
    main()
