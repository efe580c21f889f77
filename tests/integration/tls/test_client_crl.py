#!/usr/bin/env python3
"""A client certificate revoked by its CA's CRL (tls.crl) loses kenshod.

The demo TLS CA revokes the relying-party client certificate in a CRL put at
DIR/tls/crl.pem; after SIGHUP:
- a new full handshake with that certificate is refused (alert
  certificate_revoked), and so is a resumption of its earlier TLS session;
- a keep-alive connection it opened before keeps its socket but loses every
  role (403 on /v1/certs/...);
- the personal client certificate, which the CRL does not list, still works.
A CRL signed by a CA outside tls.trust is refused at reload and the previous
CRLs stay in force."""
import datetime
import http.client
import os
import signal
import socket
import ssl
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Server, check, wait_for  # noqa: E402


# /v1/certs/ needs the relying-party role: 403 when refused, else the lookup's
# own answer (200, or 404 for a serial the store does not hold).
SERVED = (200, 404)


def tls_context(tls_dir, who):
    ctx = ssl.create_default_context(cafile=f"{tls_dir}/ca.pem")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # sessions resume by ticket in TLS 1.2
    ctx.load_cert_chain(f"{tls_dir}/clients/{who}.pem", f"{tls_dir}/clients/{who}.key")
    return ctx


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    return r.status


def fresh_status(srv, ctx, path, session=None):
    """Status of GET path on a new connection, or the TLS error's text."""
    try:
        with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=20) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
                return int(data.split(b" ", 2)[1]), s.session, s.session_reused
    except (ssl.SSLError, ConnectionError) as e:
        return str(e), None, False


def make_crl(tls_dir, out, revoked_pem, key_pem=None, issuer_pem=None):
    """A CRL from the demo TLS CA (or another key) listing revoked_pem's serial."""
    with open(issuer_pem or f"{tls_dir}/ca.pem", "rb") as f:
        issuer = x509.load_pem_x509_certificate(f.read())
    if key_pem:
        key = key_pem
    else:
        with open(f"{tls_dir}/ca.key", "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
    with open(revoked_pem, "rb") as f:
        revoked = x509.load_pem_x509_certificate(f.read())
    now = datetime.datetime.now(datetime.timezone.utc)
    entry = (x509.RevokedCertificateBuilder().serial_number(revoked.serial_number)
             .revocation_date(now - datetime.timedelta(minutes=1)).build())
    crl = (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject)
           .last_update(now - datetime.timedelta(minutes=1))
           .next_update(now + datetime.timedelta(days=1))
           .add_revoked_certificate(entry).sign(key, hashes.SHA256()))
    with open(out, "wb") as f:
        f.write(crl.public_bytes(serialization.Encoding.PEM))


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-client-crl-") as tmp:
        data = os.path.join(tmp, "data")
        with Server(data=data, tls=True, args=["--workers", "1", "--log-level", "debug"]) as srv:
            tls_dir = os.path.join(data, "tls")
            rp = tls_context(tls_dir, "relying-party")
            personal = tls_context(tls_dir, "personal")

            status, session, _ = fresh_status(srv, rp, "/v1/certs/sign/01")
            check(status in SERVED and session is not None,
                  f"before any CRL the relying party gets /v1/certs/sign/01 ({status})")
            kept = http.client.HTTPSConnection("localhost", srv.tls_port, context=rp, timeout=20)
            check(get(kept, "/v1/certs/sign/01") in SERVED, "a keep-alive connection is served before")

            make_crl(tls_dir, os.path.join(tls_dir, "crl.pem"),
                     f"{tls_dir}/clients/relying-party.pem")
            srv.proc.send_signal(signal.SIGHUP)
            wait_for("SIGHUP loads DIR/tls/crl.pem",
                     lambda: "(generation 2)" in srv.output() or "reload refused" in srv.output())
            check("reload refused" not in srv.output(), "the CRL was accepted")

            status, _, _ = fresh_status(srv, rp, "/v1/certs/sign/01")
            check(isinstance(status, str) and "REVOKED" in status.upper(),
                  f"a full handshake with the revoked certificate is refused: {status}")
            status, _, reused = fresh_status(srv, rp, "/v1/certs/sign/01", session=session)
            check(not isinstance(status, int) or status == 403,
                  f"resuming the revoked certificate's session serves nothing ({status}, reused={reused})")
            check(get(kept, "/v1/certs/sign/01") == 403,
                  "the connection opened before the CRL lost its relying-party role")
            status, _, _ = fresh_status(srv, personal, "/v1/certs/sign/01")
            check(status in SERVED, f"a certificate the CRL does not list still works ({status})")
            check("revoked (a CRL in tls.crl lists it)" in srv.output(),
                  "the debug log says why the certificate was refused")

            # A CRL from a key outside tls.trust is refused; the old one stays.
            stranger = ec.generate_private_key(ec.SECP256R1())
            make_crl(tls_dir, os.path.join(tls_dir, "crl.pem"),
                     f"{tls_dir}/clients/personal.pem", key_pem=stranger)
            srv.proc.send_signal(signal.SIGHUP)
            wait_for("a CRL not signed by a trusted CA is refused at reload",
                     lambda: "is not signed by a CA in tls.trust" in srv.output())
            status, _, _ = fresh_status(srv, personal, "/v1/certs/sign/01")
            check(status in SERVED, f"the refused CRL revoked nobody ({status})")
            status, _, _ = fresh_status(srv, rp, "/v1/certs/sign/01")
            check(isinstance(status, str), f"the previous CRL stays in force ({status})")
            kept.close()


if __name__ == "__main__":
    main()
