#!/usr/bin/env python3
"""kenshod behind a real HAProxy (Debian's 2.6) running deploy/haproxy.cfg
itself (its addresses and files given in the environment): it terminates
TLS and sends the PROXY protocol v2 header plus the verified client
certificate. With curl client certificates of each demo role:

- every route x caller cell of test_roles_matrix's MATRIX holds through the
  balancer as it does over direct TLS;
- the access log names the real client's address (curl binds 127.0.0.5),
  the balancer's (127.0.0.3) as `via`, and the certificate's subject;
- personal data: served to relying-party+personal, refused to relying-party,
  and the disclosure audited with the certificate's subject and SPKI hash;
- refused and logged: a PROXY header on the plain listener, a peer outside
  proxy.trusted sending a PROXY header, a
  trusted peer without one, a malformed header, a certificate header the
  PROXY header did not announce (a client's forgery reaching kenshod
  directly); refused with 403: a certificate whose CN is not the PROXY
  header's, one missing or changed on a later request, one no CA in
  tls.trust issued; a certificate HAProxy did not verify closes the
  connection; a reload that denies a certificate reaches an open PROXY
  connection at its next request; a TLS session HAProxy resumes keeps its
  certificate."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, Server, check, free_port, run, wait_for, wait_for_port  # noqa: E402
import test_roles_matrix as matrix  # noqa: E402

CLIENT_IP = "127.0.0.5"   # curl's source address: the "real" client
BALANCER_IP = "127.0.0.3"  # HAProxy's source towards kenshod, in proxy.trusted
STRANGER_IP = "127.0.0.7"  # not trusted

DEPLOY_CFG = os.path.join(os.environ.get("KENSHO_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "..")),
                          "deploy", "haproxy.cfg")

CALLERS = ["tls-anonymous", "operator", "relying-party", "personal", "intake", "unnamed"]


def curl(hport, tls_dir, cert, method, target, body=None, headers=()):
    cmd = ["curl", "-sS", "--max-time", "20", "--interface", CLIENT_IP, "--cacert",
           f"{tls_dir}/ca.pem", "-o", "-", "-w", "\n%{http_code} %{content_type}",
           "-X", method, f"https://localhost:{hport}{target}"]
    if cert:
        cmd += ["--cert", cert[0], "--key", cert[1]]
    for h in headers:
        cmd += ["-H", h]
    if body is not None:
        cmd += ["--data-binary", "@-"]
    r = subprocess.run(cmd, input=body, capture_output=True, timeout=30)
    out = r.stdout
    cut = out.rfind(b"\n")
    status, _, ctype = out[cut + 1:].decode().partition(" ")
    return int(status or 0), ctype, out[:cut]


def walk(hport, tls_dir, caller, cert, routes, failures):
    column = matrix.CALLERS.index(caller)
    for route in sorted(routes):
        method, target, body = matrix.REQUESTS[route]
        headers = []
        if route.startswith("/ocsp") and method == "POST":
            headers.append("Content-Type: application/ocsp-request")
        if route == "/tsa":
            headers.append("Content-Type: application/timestamp-query")
        if route.startswith("/v1/admin/"):
            headers.append("Content-Type: application/x-www-form-urlencoded")
        status, ctype, data = curl(hport, tls_dir, cert, method, target, body, headers)
        want = matrix.MATRIX[route].split()[column] == "Y"
        was_refused = status in (200, 403) and matrix.refused(route, status, ctype, data)
        if status == 0 or want == was_refused:
            failures.append(f"{caller} {route}: expected {'served' if want else 'refused'}, "
                            f"got {status} {ctype} {data[:120]!r}")


def raw_exchange(source_ip, port, payload):
    """Sends payload from source_ip; returns what kenshod answered before closing."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source_ip, 0))
    try:
        s.sendall(payload)
        got = b""
        while True:
            try:
                d = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not d:
                break
            got += d
        return got
    finally:
        s.close()


def read_response(s):
    """One whole HTTP/1.1 response with a Content-Length from socket s."""
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(65536)
        if not d:
            return data
        data += d
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length: *(\d+)", head)
    want = int(m.group(1)) if m else 0
    while len(body) < want:
        d = s.recv(65536)
        if not d:
            break
        body += d
    return head + b"\r\n\r\n" + body


def proxy_v2(src_ip, src_port, dst_port, tlvs=b""):
    addr = socket.inet_aton(src_ip) + socket.inet_aton("127.0.0.1") + struct.pack(
        ">HH", src_port, dst_port)
    body = addr + tlvs
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack(">H", len(body)) + body


def main():
    if not shutil.which("haproxy"):
        print("1..0 # SKIP haproxy is not installed (scripts/setup installs it)")
        return
    with tempfile.TemporaryDirectory(prefix="kensho-haproxy-") as tmp:
        data = os.path.join(tmp, "data")
        pport, hport = free_port(), free_port()
        config = os.path.join(tmp, "kenshod.conf")
        with open(config, "w") as f:
            f.write(f"server.listen_proxy = 127.0.0.1:{pport}\n"
                    f"proxy.trusted = {BALANCER_IP}/32, ::1\n")
        with Server(data=data, tls=True, args=["--config", config, "--log-level", "debug"]) as srv:
            wait_for_port(pport, proc=srv.proc)
            routes = matrix.registered_routes(srv.output())
            tls_dir = os.path.join(data, "tls")
            bundle = os.path.join(tmp, "server.bundle")
            with open(bundle, "w") as f:
                f.write(open(f"{tls_dir}/server.pem").read() + open(f"{tls_dir}/server.key").read())
            env = dict(os.environ, KENSHO_LB_BIND=f"127.0.0.1:{hport}", KENSHO_LB_CERT=bundle,
                       KENSHO_LB_CLIENT_CA=f"{tls_dir}/ca.pem", KENSHO_LB_SOURCE=BALANCER_IP,
                       KENSHO_BACKEND_1=f"127.0.0.1:{pport}", KENSHO_BACKEND_2=f"127.0.0.1:{pport}",
                       KENSHO_BACKEND_3=f"127.0.0.1:{pport}")
            r = subprocess.run(["haproxy", "-c", "-q", "-f", DEPLOY_CFG], env=env, capture_output=True,
                               text=True)
            check(r.returncode == 0, f"haproxy -c accepts deploy/haproxy.cfg: {r.stderr[-300:]}")
            hlog_path = os.path.join(tmp, "haproxy.log")
            hlog = open(hlog_path, "wb")
            hap = subprocess.Popen(["haproxy", "-db", "-f", DEPLOY_CFG], stdout=hlog,
                                   stderr=subprocess.STDOUT, env=env)
            try:
                wait_for_port(hport, proc=hap)
                unnamed = matrix.make_unnamed_cert(tls_dir, tmp)
                failures = []
                for caller in CALLERS:
                    cert = None if caller == "tls-anonymous" else unnamed if caller == "unnamed" \
                        else (f"{tls_dir}/clients/{caller}.pem", f"{tls_dir}/clients/{caller}.key")
                    walk(hport, tls_dir, caller, cert, routes, failures)
                for f in failures:
                    print("not ok -", f, flush=True)
                check(not failures, f"all {len(routes) * len(CALLERS)} route x caller cells through "
                      "HAProxy as over direct TLS")

                # A TLS session HAProxy resumes keeps its client certificate.
                def s_client(*extra):
                    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{hport}", "-tls1_2",
                                        "-CAfile", f"{tls_dir}/ca.pem", "-ign_eof", *extra],
                                       input=b"GET /v1/status HTTP/1.1\r\nHost: localhost\r\n"
                                             b"Connection: close\r\n\r\n", capture_output=True, timeout=30)
                    return r.stdout.decode("utf-8", "replace")
                sess = os.path.join(tmp, "session.pem")
                first = s_client("-cert", f"{tls_dir}/clients/operator.pem", "-key",
                                 f"{tls_dir}/clients/operator.key", "-sess_out", sess)
                again = s_client("-sess_in", sess)
                check("HTTP/1.1 200" in first and "Reused," in again and "HTTP/1.1 200" in again,
                      "a session resumed at HAProxy keeps the operator's certificate (status page 200)")
                fresh = s_client()
                check("HTTP/1.1 403" in fresh, "a new session without a certificate: 403")

                # --- personal data and the audit log ------------------------
                op = (f"{tls_dir}/clients/operator.pem", f"{tls_dir}/clients/operator.key")
                key = run("sh", "-c", "openssl genrsa 2048 2>/dev/null | openssl rsa -pubout 2>/dev/null").stdout
                issue = {"name": "山田\u3000花子", "birth": "1990-04-01", "sex": 2,
                         "address": "東京都千代田区千代田1-1", "sign_pubkey": key, "auth_pubkey": key}
                status, _, body = curl(hport, tls_dir, op, "POST", "/v1/admin/issue",
                                       json.dumps(issue).encode(), ["Content-Type: application/json"])
                check(status == 201, f"operator issues a pair through HAProxy: {status} {body[:200]!r}")
                sign = json.loads(body)["sign"]["serial"]
                path = f"/v1/certs/sign/{sign}?personal=1"
                pers = (f"{tls_dir}/clients/personal.pem", f"{tls_dir}/clients/personal.key")
                status, _, body = curl(hport, tls_dir, pers, "GET", path)
                check(status == 200 and json.loads(body)["personal"]["name"] == issue["name"],
                      "relying-party+personal receives the four items through HAProxy")
                rp = (f"{tls_dir}/clients/relying-party.pem", f"{tls_dir}/clients/relying-party.key")
                status, _, body = curl(hport, tls_dir, rp, "GET", path)
                check(status == 403, f"relying party without the personal role: {status}")
                status, _, body = curl(hport, tls_dir, None, "GET", path,
                                       headers=["X-Kensho-Client-Cert: " + open(pers[0]).read()
                                                .split("-----")[2].replace("\n", "")])
                check(status == 403, f"a client forging the certificate header gets nothing: {status}")
                out = run(KENSHO, "--data", srv.data, "audit", "--action", "disclose-personal").stdout
                lines = [l for l in out.splitlines() if l]
                check(len(lines) == 1 and f"sign/{sign}" in lines[0] and "CN=personal" in lines[0]
                      and "spki:" in lines[0], f"one disclosure audited, actor the certificate: {lines}")

                # --- the access log ----------------------------------------
                def access_lines():
                    found = []
                    for line in srv.output().splitlines():
                        if line.startswith("{") and '"path"' in line:
                            try:
                                found.append(json.loads(line))
                            except ValueError:
                                pass
                    return found
                wait_for("the disclosure's access-log line",
                         lambda: any(e.get("path", "").startswith("/v1/certs/sign/") and e.get("status") == 200
                                     for e in access_lines()))
                entry = [e for e in access_lines()
                         if e.get("path", "").startswith("/v1/certs/sign/") and e.get("status") == 200][-1]
                check(entry["peer"].startswith(CLIENT_IP + ":") and entry.get("via", "").startswith(BALANCER_IP + ":")
                      and entry.get("tls") is True and entry.get("client_subject") == "CN=personal, O=kensho demo",
                      f"access log: the client's address, the balancer as via, the subject: {entry}")
                check(entry["id"].startswith("7F000005:"),
                      f"the request id is HAProxy's unique-id (client address in hex): {entry['id']}")

                # --- refusals ----------------------------------------------
                get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                got = raw_exchange(STRANGER_IP, pport, proxy_v2("192.0.2.1", 1234, pport) + get)
                check(got == b"", f"a PROXY header from an untrusted address: connection closed ({got[:60]!r})")
                wait_for("its log line", lambda: "sent a PROXY header but is not in proxy.trusted" in srv.output())
                got = raw_exchange(BALANCER_IP, srv.port, proxy_v2("192.0.2.1", 1234, srv.port) + get)
                check(got == b"", f"a PROXY header on the plain listener: closed ({got[:60]!r})")
                wait_for("its log line", lambda: "a PROXY protocol header on a listener without" in srv.output())
                got = raw_exchange(BALANCER_IP, srv.port, get)
                check(got.startswith(b"HTTP/1.1 200"), "the plain listener still serves plain HTTP")
                got = raw_exchange(BALANCER_IP, pport, get)
                check(got == b"", f"the trusted balancer without a PROXY header: closed ({got[:60]!r})")
                wait_for("its log line", lambda: "sent no PROXY protocol v2 header" in srv.output())
                bad = bytearray(proxy_v2("192.0.2.1", 1234, pport))
                bad[12] = 0x23  # version 2, command 3
                got = raw_exchange(BALANCER_IP, pport, bytes(bad) + get)
                check(got == b"", "a malformed PROXY header: closed")
                wait_for("its log line", lambda: "malformed PROXY header" in srv.output())
                # The balancer's header announcing TLS without a certificate,
                # and a certificate header anyway: refused (403).
                ssl_tlv = bytes([0x20]) + struct.pack(">H", 5) + bytes([0x01, 0, 0, 0, 0])
                got = raw_exchange(BALANCER_IP, pport, proxy_v2("192.0.2.1", 1234, pport, ssl_tlv) +
                                   b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Kensho-Client-Cert: MAA=\r\n\r\n")
                check(got.startswith(b"HTTP/1.1 403"), f"an unannounced certificate header: 403 ({got[:40]!r})")
                got = raw_exchange(BALANCER_IP, pport, proxy_v2("192.0.2.1", 1234, pport) + get)
                check(got.startswith(b"HTTP/1.1 200"), f"the trusted balancer with a header is served ({got[:40]!r})")
                # --- the forwarded certificate against the PROXY header ----
                def der_b64(pem_path):
                    return open(pem_path).read().split("-----")[2].replace("\n", "").encode()

                def ssl_tlv(client, verify, cn):
                    sub = b"\x22" + struct.pack(">H", len(cn)) + cn
                    return b"\x20" + struct.pack(">H", 5 + len(sub)) + bytes([client]) + \
                        struct.pack(">I", verify) + sub

                def req(path, cert_b64, close=False):
                    return (f"GET {path} HTTP/1.1\r\nHost: x\r\n".encode() +
                            (b"X-Kensho-Client-Cert: " + cert_b64 + b"\r\n" if cert_b64 else b"") +
                            (b"Connection: close\r\n" if close else b"") + b"\r\n")
                opr = der_b64(op[0])
                head = proxy_v2("192.0.2.1", 1234, pport, ssl_tlv(7, 0, b"operator"))
                got = raw_exchange(BALANCER_IP, pport, head + req("/v1/status", opr, close=True))
                check(got.startswith(b"HTTP/1.1 200"), f"operator certificate over a raw PROXY connection: "
                      f"status page served ({got[:40]!r})")
                got = raw_exchange(BALANCER_IP, pport, head + req("/v1/status", der_b64(pers[0]), close=True))
                check(got.startswith(b"HTTP/1.1 403") and b"CN differs" in got,
                      f"a certificate whose CN is not the PROXY header's: 403 ({got[:40]!r})")
                got = raw_exchange(BALANCER_IP, pport, head + req("/healthz", opr) +
                                   req("/healthz", None, close=True))
                check(got.count(b"HTTP/1.1 200") == 1 and b"HTTP/1.1 403" in got,
                      "a later request without the announced certificate: 403")
                got = raw_exchange(BALANCER_IP, pport, proxy_v2("192.0.2.1", 1234, pport, ssl_tlv(7, 0, b"")) +
                                   req("/healthz", opr) + req("/healthz", der_b64(pers[0]), close=True))
                check(got.count(b"HTTP/1.1 200") == 1 and b"changed within one connection" in got,
                      "a different certificate later on the same connection: 403")
                got = raw_exchange(BALANCER_IP, pport, proxy_v2("192.0.2.1", 1234, pport, ssl_tlv(7, 20, b"operator")) +
                                   req("/healthz", opr, close=True))
                check(got == b"", "a certificate HAProxy reports as not verified (verify 20): closed")
                # a certificate from a CA outside tls.trust
                run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", f"{tmp}/other.key", "-out", f"{tmp}/other.pem", "-subj", "/CN=operator/O=kensho demo",
                    "-days", "2")
                got = raw_exchange(BALANCER_IP, pport, head + req("/v1/status", der_b64(f"{tmp}/other.pem"), close=True))
                check(got.startswith(b"HTTP/1.1 403") and b"not issued by a CA in tls.trust" in got,
                      f"a certificate no CA in tls.trust issued: 403 ({got[:40]!r})")
                # Reload reaches open PROXY connections: deny the operator's key,
                # SIGHUP, and the same connection's next request is refused.
                s = socket.create_connection(("127.0.0.1", pport), timeout=10, source_address=(BALANCER_IP, 0))
                s.sendall(head + req("/v1/status", opr))
                first = read_response(s)
                spki = run("sh", "-c", f"openssl x509 -in {op[0]} -pubkey -noout | openssl pkey -pubin -outform der"
                           " | sha256sum").stdout.split()[0]
                with open(f"{tls_dir}/policy.conf", "a") as f:
                    f.write(f"deny spki {spki}\n")
                # (the matrix walk's POST /v1/admin/reload made generations already)
                now = max(int(g) for g in re.findall(r"\(generation (\d+)\)", srv.output()) or ["1"])
                srv.proc.send_signal(signal.SIGHUP)
                wait_for(f"the reload (generation {now + 1})",
                         lambda: f"(generation {now + 1})" in srv.output())
                s.sendall(req("/v1/status", opr, close=True))
                second = b""
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    second += d
                s.close()
                check(first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 403")
                      and b"deny rule" in second,
                      f"after a reload denying it, the same connection's next request: 403 ({second[:40]!r})")
                status, _, _ = curl(hport, tls_dir, op, "GET", "/v1/status")
                check(status == 403, f"and through HAProxy the operator is refused too: {status}")

                # /metrics counts what the PROXY listener accepted and refused.
                status, _, body = srv.get("/metrics")
                body = body.decode()
                counts = {m.group(1): float(m.group(2)) for m in re.finditer(
                    r'^kensho_proxy_connections_total\{result="(\w+)"\} (\S+)$', body, re.M)}
                check(counts.get("accepted", 0) >= 100 and counts.get("untrusted", 0) >= 1
                      and counts.get("bad_header", 0) >= 2 and counts.get("certificate_refused", 0) >= 7,
                      f"kensho_proxy_connections_total by result: {counts}")

                # HAProxy's health checks (check-send-proxy) pass: no server went DOWN.
                hlog.flush()
                check("is DOWN" not in open(hlog_path, errors="replace").read(),
                      "HAProxy's /readyz checks through the PROXY listener keep both servers up")
            finally:
                hap.terminate()
                hap.wait(10)
                hlog.close()
    print("ok - kenshod behind HAProxy")


if __name__ == "__main__":
    main()
