#!/usr/bin/env python3
"""The TLS transport against real clients: curl and openssl s_client with and
without client certificates, refused protocol versions and ciphers, an RSA
server certificate, and the handshake timeout. Runs kensho-tls-probe (the
transport behind a minimal HTTP responder) on a loopback port."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import BUILD, check, free_port, run  # noqa: E402

PROBE = os.path.join(BUILD, "tests", "integration", "tls", "kensho-tls-probe")


class Probe:
    def __init__(self, data, mode="optional", env=None):
        self.data, self.mode, self.env = data, mode, env or {}
        self.port = free_port()

    def __enter__(self):
        env = dict(os.environ, **self.env)
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([PROBE, self.data, str(self.port), self.mode],
                                     stdout=subprocess.PIPE, stderr=self.log, env=env)
        line = self.proc.stdout.readline()
        if line.strip() != b"READY":
            self.log.seek(0)
            raise RuntimeError("probe did not start: " + self.log.read().decode())
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(10)
        if exc[0] is not None:
            self.log.seek(0)
            sys.stderr.write(self.log.read().decode()[-4000:])

    def output(self):
        self.log.seek(0)
        return self.log.read().decode()


def curl(port, path, data, client=None, extra=()):
    args = ["curl", "-sS", "--max-time", "10", "--cacert", f"{data}/tls/ca.pem",
            "-w", "\n%{http_code}"]
    if client:
        args += ["--cert", f"{data}/tls/clients/{client}.pem",
                 "--key", f"{data}/tls/clients/{client}.key"]
    args += list(extra) + [f"https://localhost:{port}{path}"]
    r = run(*args, check=False)
    if r.returncode != 0:
        return r.returncode, None, r.stderr
    body, _, code = r.stdout.rpartition("\n")
    return 0, int(code), json.loads(body)


def s_client(port, *opts, data=None, client=None, send=b"GET /x HTTP/1.1\r\n\r\n"):
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost"]
    if data:
        args += ["-CAfile", f"{data}/tls/ca.pem", "-verify_return_error"]
    if client:
        args += ["-cert", f"{data}/tls/clients/{client}.pem", "-key", f"{data}/tls/clients/{client}.key"]
    args += list(opts)
    print("$", " ".join(args), flush=True)
    # Keep stdin open briefly: s_client quits at EOF before reading the answer.
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        p.stdin.write(send)
        p.stdin.flush()
        time.sleep(0.3)
        p.stdin.close()
    except BrokenPipeError:
        pass
    out = p.stdout.read()
    p.wait(20)
    return p.returncode, out.decode("utf-8", "replace")


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-tls-") as tmp:
        data = os.path.join(tmp, "data")
        os.makedirs(data)
        with Probe(data, "optional") as p:
            for name in ("ca.pem", "server.pem", "policy.conf", "clients/operator.pem"):
                check(os.path.exists(f"{data}/tls/{name}"), f"demo PKI created tls/{name}")
            mode = os.stat(f"{data}/tls/server.key").st_mode & 0o777
            check(mode == 0o600, "server key has mode 0600")

            rc, code, body = curl(p.port, "/v1/certs/x", data)
            check(rc == 0 and code == 200, "curl without a client certificate: 200")
            check(body["tls"] and not body["client_cert"] and body["roles"] == "relying-party",
                  "anonymous TLS caller gets relying-party from the policy")
            rc, code, body = curl(p.port, "/v1/certs/x", data, client="personal")
            check(code == 200 and body["subject"] == "CN=personal, O=kensho demo",
                  "client certificate subject is seen by the server")
            check(body["roles"] == "relying-party,personal", "personal certificate gets relying-party+personal")
            rc, code, body = curl(p.port, "/v1/admin/reload", data, client="relying-party")
            check(code == 403 and body["error"] == "forbidden", "relying party on the admin API: 403")
            rc, code, body = curl(p.port, "/v1/admin/reload", data, client="operator")
            check(code == 200 and body["roles"] == "operator", "operator on the admin API: allowed")
            spki = run("sh", "-c", f"openssl x509 -in {data}/tls/clients/operator.pem -pubkey -noout"
                       " | openssl pkey -pubin -outform der | sha256sum").stdout.split()[0]
            check(body["spki_sha256"] == spki, "SPKI hash matches openssl's")

            rc, out = s_client(p.port, "-tls1_2", data=data, client="operator")
            check(rc == 0 and "Verify return code: 0 (ok)" in out, "s_client with a client certificate verifies")
            check("Protocol  : TLSv1.2" in out or "TLSv1.2" in out, "TLS 1.2 negotiated")
            check("ECDHE" in out and ("GCM" in out or "CHACHA20" in out), "ECDHE with an AEAD cipher")
            check('"roles":"operator"' in out, "s_client's request answered with the operator role")
            check("Secure Renegotiation IS supported" in out, "RFC 5746 renegotiation indication sent")

            # Client-initiated renegotiation ("R" in s_client) is refused.
            rc, out = s_client(p.port, "-tls1_2", data=data, send=b"R\n")
            check("RENEGOTIATING" in out and "no renegotiation" in out,
                  "client-initiated renegotiation refused with no_renegotiation")

            for opts, what in [
                (["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"], "TLS 1.0"),
                (["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], "TLS 1.1"),
                (["-tls1_3"], "TLS 1.3 only client (server is TLS 1.2 only)"),
                (["-tls1_2", "-cipher", "AES128-SHA"], "static RSA with CBC"),
                (["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"], "ECDHE with CBC"),
                (["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA384"], "ECDHE with CBC-SHA384"),
                (["-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256"], "finite-field DHE"),
                (["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-CCM"], "AES-CCM"),
                (["-tls1_2", "-cipher", "aNULL:eNULL:@SECLEVEL=0"], "NULL and anonymous suites"),
            ]:
                rc, out = s_client(p.port, *opts)
                check(rc != 0 and "Cipher is (NONE)" in out or "alert" in out and rc != 0,
                      f"{what} refused")
            for cipher in ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                           "ECDHE-ECDSA-CHACHA20-POLY1305"]:
                rc, out = s_client(p.port, "-tls1_2", "-cipher", cipher, data=data)
                check(rc == 0 and f"Cipher is {cipher}" in out, f"{cipher} accepted")

            # An untrusted client certificate is refused even though optional.
            other = os.path.join(tmp, "other")
            os.makedirs(other)
            with Probe(other, "none"):
                pass
            args = ["openssl", "s_client", "-connect", f"127.0.0.1:{p.port}", "-tls1_2",
                    "-cert", f"{other}/tls/clients/operator.pem", "-key", f"{other}/tls/clients/operator.key"]
            out = subprocess.run(args, input=b"GET / HTTP/1.1\r\n\r\n", capture_output=True, timeout=20)
            text = (out.stdout + out.stderr).decode()
            check("alert bad certificate" in text or "alert unknown ca" in text,
                  "untrusted client certificate refused with a TLS alert")
            check('"roles"' not in text, "untrusted client got no answer")

        with Probe(data, "required") as p:
            rc, out = s_client(p.port, "-tls1_2", data=data)
            check("alert handshake failure" in out and '"roles"' not in out,
                  "required mode without a certificate: handshake_failure alert")
            rc, code, body = curl(p.port, "/", data)
            check(rc != 0, f"curl without a certificate fails in required mode (exit {rc})")
            rc, code, body = curl(p.port, "/", data, client="intake")
            check(code == 200 and body["roles"] == "intake", "required mode with a certificate: allowed")

        # An RSA server certificate works with the ECDHE-RSA suites.
        rsa = os.path.join(tmp, "rsa")
        os.makedirs(rsa)
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", f"{rsa}/key.pem", "-out", f"{rsa}/cert.pem")
        os.chmod(f"{rsa}/key.pem", 0o600)
        with Probe(data, "none", env={"PROBE_CERT": f"{rsa}/cert.pem", "PROBE_KEY": f"{rsa}/key.pem"}) as p:
            for cipher in ["ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305",
                           "ECDHE-RSA-AES128-GCM-SHA256"]:
                rc, out = s_client(p.port, "-tls1_2", "-cipher", cipher)
                check(rc == 0 and f"Cipher is {cipher}" in out, f"RSA certificate: {cipher}")
            rc, out = s_client(p.port, "-tls1_2", "-cipher", "AES256-GCM-SHA384")
            check(rc != 0, "RSA certificate: static RSA key exchange refused")

        # A peer that connects and says nothing is dropped after the timeout.
        with Probe(data, "none", env={"PROBE_HANDSHAKE_MS": "300"}) as p:
            s = socket.create_connection(("127.0.0.1", p.port))
            s.settimeout(5)
            start = time.monotonic()
            got = s.recv(10)
            elapsed = time.monotonic() - start
            s.close()
            check(got == b"" and elapsed < 3, f"silent peer closed after {elapsed:.2f}s")
            check("handshake timed out" in p.output(), "timeout logged")


if __name__ == "__main__":
    main()
