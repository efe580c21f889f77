#!/usr/bin/env python3
"""kenshod with --listen-tls: demo TLS material on first start, the admin API
over mutual TLS (operator only), and hot reload under continuous load —
SIGHUP and POST /v1/admin/reload with good and broken files — with zero
failed requests."""
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, Server, check, run  # noqa: E402


def context(tls_dir, client=None):
    ctx = ssl.create_default_context(cafile=f"{tls_dir}/ca.pem")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if client:
        ctx.load_cert_chain(f"{tls_dir}/clients/{client}.pem", f"{tls_dir}/clients/{client}.key")
    return ctx


def request(port, ctx, method, path, body=None, ctype=None):
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=20)
    headers = {"Content-Type": ctype} if ctype else {}
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    cert = conn.sock.getpeercert(binary_form=True)
    conn.close()
    return r.status, data, cert


class Load:
    """Threads sending requests over keep-alive and fresh TLS connections,
    with and without a client certificate, counting every failure."""

    def __init__(self, port, tls_dir, threads=3):
        self.port, self.tls_dir = port, tls_dir
        self.ok = 0
        self.failures = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]

    def run(self, i):
        ctx = context(self.tls_dir, "operator" if i % 2 else None)
        while not self.stop.is_set():
            try:
                conn = http.client.HTTPSConnection("localhost", self.port, context=ctx, timeout=20)
                for _ in range(5):  # a few requests per connection, then a new handshake
                    conn.request("GET", "/healthz")
                    r = conn.getresponse()
                    r.read()
                    if r.status != 200:
                        raise RuntimeError(f"status {r.status}")
                    with self.lock:
                        self.ok += 1
                conn.close()
            except Exception as e:  # every failure is a test failure
                with self.lock:
                    self.failures.append(repr(e))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def new_server_cert(tls_dir, work, cn):
    """A new server certificate from the demo TLS CA (openssl), for a reload."""
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", f"/CN={cn}", "-keyout", f"{work}/new.key", "-out", f"{work}/new.csr")
    with open(f"{work}/ext", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", f"{work}/new.csr", "-CA", f"{tls_dir}/ca.pem",
        "-CAkey", f"{tls_dir}/ca.key", "-CAcreateserial", "-days", "2", "-extfile", f"{work}/ext",
        "-out", f"{work}/new.pem")
    os.chmod(f"{work}/new.key", 0o600)


def subject_cn(der):
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem, capture_output=True,
                         text=True).stdout
    return out.strip()


def wait_for_log(srv, text, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in srv.output():
            return True
        time.sleep(0.05)
    return False


def main():
    with Server(tls=True, args=["--no-access-log"]) as srv:
        tls_dir = os.path.join(srv.data, "tls")
        port = srv.tls_port
        for name in ("ca.pem", "ca.key", "server.pem", "server.key", "policy.conf",
                     "clients/operator.pem", "clients/operator.key"):
            check(os.path.exists(f"{tls_dir}/{name}"), f"first start created tls/{name}")
        check(os.stat(f"{tls_dir}/ca.key").st_mode & 0o777 == 0o600, "demo CA key is 0600")

        # --- admin API ------------------------------------------------------
        status, body, _ = request(port, context(tls_dir), "GET", "/healthz")
        check(status == 200, "HTTPS /healthz without a client certificate")
        form = "application/x-www-form-urlencoded"
        status, body, _ = request(port, context(tls_dir, "relying-party"), "POST",
                                  "/v1/admin/revoke", "kind=auth&serial=01&reason=keyCompromise", form)
        check(status == 403 and json.loads(body)["error"] == "forbidden", "relying party: 403")
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("POST", "/v1/admin/reload")
        r = conn.getresponse()
        check(r.status == 403, "admin API on the plain listener: 403")
        conn.close()

        key = run("sh", "-c", "openssl genrsa 2048 2>/dev/null | openssl rsa -pubout 2>/dev/null").stdout
        issue = {"name": "山田\u3000花子", "birth": "1990-04-01", "sex": 2,
                 "address": "東京都千代田区千代田1-1", "sign_pubkey": key, "auth_pubkey": key}
        op = context(tls_dir, "operator")
        status, body, _ = request(port, op, "POST", "/v1/admin/issue", json.dumps(issue),
                                  "application/json")
        check(status == 201, f"operator issues a pair: {status} {body[:200]!r}")
        issued = json.loads(body)
        sign, auth = issued["sign"]["serial"], issued["auth"]["serial"]
        status, body, _ = request(port, op, "POST", "/v1/admin/revoke",
                                  f"kind=auth&serial={auth}&reason=keyCompromise", form)
        check(status == 200 and json.loads(body)["status"] == "revoked", "operator revokes")
        status, body, _ = request(port, op, "POST", "/v1/admin/revoke",
                                  f"kind=auth&serial={auth}&reason=keyCompromise", form)
        check(status == 409, "revoking twice: 409")
        status, body, _ = request(port, op, "POST", "/v1/admin/event",
                                  json.dumps({"kind": "sign", "serial": sign, "event": "move"}),
                                  "application/json")
        check(status == 200, "operator applies a move event")
        status, body, _ = request(port, op, "POST", "/v1/admin/revoke", "kind=auth&serial=zz", form)
        check(status == 400, "bad input: 400")
        del issue["auth_pubkey"]
        status, body, _ = request(port, op, "POST", "/v1/admin/issue", json.dumps(issue),
                                  "application/json")
        check(status == 400 and b"auth_pubkey" in body, "issue without a public key: 400")

        # --- personal data: role, audit, `kensho audit` --------------------
        path = f"/v1/certs/sign/{sign}?personal=1"
        status, body, _ = request(port, context(tls_dir, "personal"), "GET", path)
        answer = json.loads(body)
        check(status == 200 and answer["personal"]["name"] == "山田\u3000花子"
              and answer["serial"] == sign, "relying-party+personal receives the four items")
        check(answer["personal"]["address"] == "東京都千代田区千代田１－１" and answer["personal"]["sex"] == 2,
              "address (in the register's form) and sex as issued")
        status, body, _ = request(port, context(tls_dir, "relying-party"), "GET", path)
        check(status == 403 and b"personal" not in body.replace(b"relying-party+personal", b""),
              "relying party without the personal role: 403")
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("GET", path)
        r = conn.getresponse()
        check(r.status == 403, "personal data over plain HTTP: 403")
        conn.close()
        status, body, _ = request(port, context(tls_dir, "personal"), "GET", f"/v1/certs/sign/{sign}")
        check(status == 200 and "personal" not in json.loads(body), "status query alone discloses nothing")
        status, body, _ = request(port, context(tls_dir, "personal"), "GET",
                                  f"/v1/certs/auth/{auth}?personal=1")
        check(status == 400, "the four items only with a signing certificate")
        out = run(KENSHO, "--data", srv.data, "audit", "--action", "disclose-personal").stdout
        lines = [l for l in out.splitlines() if l]
        check(len(lines) == 1 and f"sign/{sign}" in lines[0] and "CN=personal" in lines[0]
              and "spki:" in lines[0], f"exactly one disclosure audited: {lines}")
        out = run(KENSHO, "--data", srv.data, "audit", "--json").stdout
        actions = [json.loads(l)["action"] for l in out.splitlines()]
        check("disclose-personal" in actions and "revoke" in actions,
              f"kensho audit --json lists operator actions and disclosures ({len(actions)})")

        # --- the kensho CLI through the admin API -------------------------
        remote = [KENSHO, "--server", f"https://localhost:{port}", "--cacert", f"{tls_dir}/ca.pem"]
        operator = ["--cert", f"{tls_dir}/clients/operator.pem", "--key", f"{tls_dir}/clients/operator.key"]
        with open(f"{srv.data}/pub.pem", "w") as f:
            f.write(key)
        r = run(*remote, *operator, "issue", "--name", "Suzuki Ichiro", "--birth", "1975-05-05",
                "--sex", "1", "--address", "大阪府大阪市北区梅田1-1", "--sign-pubkey", f"{srv.data}/pub.pem",
                "--auth-pubkey", f"{srv.data}/pub.pem", check=False)
        check(r.returncode == 0, f"remote issue: {r.stdout[:120]} {r.stderr}")
        auth2 = json.loads(r.stdout)["auth"]["serial"]
        r = run(*remote, *operator, "revoke", "--kind", "auth", "--serial", auth2, "--reason",
                "keyCompromise", check=False)
        check(r.returncode == 0 and json.loads(r.stdout)["status"] == "revoked", "remote revoke")
        r = run(*remote, "--cert", f"{tls_dir}/clients/relying-party.pem", "--key",
                f"{tls_dir}/clients/relying-party.key", "revoke", "--kind", "auth", "--serial",
                auth2, "--reason", "keyCompromise", check=False)
        check(r.returncode == 1 and "HTTP 403" in r.stderr, "remote revoke as relying party refused")
        r = run(*remote, *operator, "reload", check=False)
        check(r.returncode == 0 and "reloaded" in r.stdout, "remote reload")
        status, body, _ = request(port, context(tls_dir), "GET", f"/v1/certs/auth/{auth2}")
        check(json.loads(body)["status"] == "revoked", "the remote revocation is visible")

        # --- reload under load ---------------------------------------------
        work = os.path.join(srv.data, "work")
        os.makedirs(work)
        shutil.copy(f"{tls_dir}/policy.conf", f"{work}/policy.good")
        _, _, before = request(port, context(tls_dir), "GET", "/healthz")
        with Load(port, tls_dir) as load:
            time.sleep(0.5)
            # 1. A plain re-read by SIGHUP.
            srv.proc.send_signal(signal.SIGHUP)
            check(wait_for_log(srv, "(generation 3)"), "SIGHUP reloaded (generation 3)")
            # 2. A broken policy is refused by SIGHUP and by the admin API.
            with open(f"{tls_dir}/policy.conf", "a") as f:
                f.write("root subject CN=nobody\n")
            srv.proc.send_signal(signal.SIGHUP)
            check(wait_for_log(srv, "reload refused"), "broken policy refused with a log line")
            check("policy.conf: line" in srv.output(), "the log line names the file and line")
            status, body, _ = request(port, op, "POST", "/v1/admin/reload")
            check(status == 500 and b"policy.conf" in body, "admin reload reports the refused file")
            shutil.copy(f"{work}/policy.good", f"{tls_dir}/policy.conf")
            # 3. A truncated certificate is refused.
            shutil.copy(f"{tls_dir}/server.pem", f"{work}/server.good")
            with open(f"{tls_dir}/server.pem", "r+") as f:
                f.truncate(200)
            srv.proc.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            check(srv.output().count("reload refused") >= 3, "truncated certificate refused")
            shutil.copy(f"{work}/server.good", f"{tls_dir}/server.pem")
            # 4. A new certificate and key, swapped in by the admin API.
            new_server_cert(tls_dir, work, "localhost-rotated")
            shutil.copy(f"{work}/new.key", f"{tls_dir}/server.key")
            shutil.copy(f"{work}/new.pem", f"{tls_dir}/server.pem")
            status, body, _ = request(port, op, "POST", "/v1/admin/reload")
            check(status == 200, f"admin reload with a new certificate: {body!r}")
            time.sleep(1.0)
        check(load.ok > 50, f"load ran: {load.ok} requests")
        check(not load.failures, f"zero failed requests during reloads ({load.failures[:3]})")
        _, _, after = request(port, context(tls_dir), "GET", "/healthz")
        check("localhost-rotated" in subject_cn(after) and after != before,
              "new connections get the new certificate")
        # --- OCSP responder keys follow the same reload ---------------------
        def ocsp_status():
            r = run("openssl", "ocsp", "-issuer", f"{srv.data}/ca/auth-ca.pem", "-serial", "0x" + auth,
                    "-url", f"{srv.url}/ocsp", "-noverify", check=False)
            return r.stdout + r.stderr

        check(f"{auth}: revoked" in ocsp_status().lower() or ": revoked" in ocsp_status(),
              "OCSP answers revoked before the key reload")
        key_path = f"{srv.data}/ca/auth-ocsp.key"
        shutil.copy(key_path, f"{work}/auth-ocsp.key")
        with open(key_path, "w") as f:
            f.write("not a key\n")
        srv.proc.send_signal(signal.SIGHUP)
        check(wait_for_log(srv, "ocsp: reload refused"), "a broken OCSP responder key is refused")
        check(": revoked" in ocsp_status(), "OCSP still answers, the previous key in force")
        shutil.copy(f"{work}/auth-ocsp.key", key_path)
        srv.proc.send_signal(signal.SIGHUP)
        check(wait_for_log(srv, "ocsp: reloaded the responder keys"), "the restored key reloads")
        check(": revoked" in ocsp_status(), "OCSP answers after the key reload")
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("GET", "/metrics")
        metrics = conn.getresponse().read().decode()
        conn.close()
        full = [l for l in metrics.splitlines() if l.startswith('kensho_tls_handshakes_total{result="full"}')]
        check(full and float(full[0].split()[-1]) > 50, f"/metrics counts TLS handshakes: {full}")
        check('kensho_tls_reloads_total{result="refused"}' in metrics, "/metrics counts refused reloads")
        check(srv.proc.poll() is None, "kenshod still running")


if __name__ == "__main__":
    main()
