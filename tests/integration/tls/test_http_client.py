#!/usr/bin/env python3
"""The shared blocking HTTP client (tls/http_client.c, used by `kensho
--server` and kensho-card) against real servers on loopback: Python's own
http and TLS stacks, with a test CA, a server certificate for localhost and
a client certificate. Checks the request it sends, Content-Length, chunked
and to-the-end bodies, a response whose connection stays open, the size
limit, the timeout, server verification (wrong CA, wrong name), mutual TLS,
and that a readable key is refused before any connection."""
import datetime
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import BUILD, check, free_port  # noqa: E402

PROBE = os.path.join(BUILD, "tests", "integration", "tls", "kensho-http-client-probe")


def write_pki(d):
    """A CA, a server certificate for DNS:localhost only, a client
    certificate, and an unrelated CA; keys owner-only."""
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def cert(subject, key, issuer, issuer_key, ca, san=None):
        b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(hours=1))
             .not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    def save(path, data, mode=0o644):
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)

    def save_key(path, key):
        save(path, key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()), 0o600)

    pem = serialization.Encoding.PEM
    ca_key, other_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1())
                                                 for _ in range(4))
    ca = cert("test CA", ca_key, "test CA", ca_key, True)
    save(f"{d}/ca.pem", ca.public_bytes(pem))
    save(f"{d}/other-ca.pem",
         cert("other CA", other_key, "other CA", other_key, True).public_bytes(pem))
    save(f"{d}/server.pem",
         cert("localhost", server_key, "test CA", ca_key, False, "localhost").public_bytes(pem))
    save_key(f"{d}/server.key", server_key)
    save(f"{d}/client.pem",
         cert("client one", client_key, "test CA", ca_key, False).public_bytes(pem))
    save_key(f"{d}/client.key", client_key)


class Server:
    """A loopback HTTP/1.1 server, plain or TLS, answering by path:
    /echo (JSON about the request, Content-Length), /chunked, /to-eof (no
    length, body ends at the close), /open (Content-Length, then the
    connection stays open until the test ends), /silent (never answers),
    /big (2 MiB), /reset (a TCP reset instead of an answer). Counts the connections it accepted."""

    def __init__(self, tls_dir=None, require_client=False):
        self.port = free_port()
        self.context = None
        if tls_dir:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(f"{tls_dir}/server.pem", f"{tls_dir}/server.key")
            if require_client:
                self.context.verify_mode = ssl.CERT_REQUIRED
                self.context.load_verify_locations(f"{tls_dir}/ca.pem")
        self.connections = 0
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.sock.close()

    def accept_loop(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            if self.context:
                conn = self.context.wrap_socket(conn, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:])
            while len(body) < int(headers.get("Content-Length", "0")):
                body += conn.recv(4096)
            method, target, version = lines[0].split(" ")
            path = target.rsplit("/", 1)[-1]
            if path == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if path == "silent":
                self.stop.wait(60)
                return
            if path == "echo":
                peer = conn.getpeercert() if self.context else None
                info = {"method": method, "target": target, "version": version,
                        "headers": headers, "body": body.decode(),
                        "tls": conn.version() if self.context else None,
                        "client": dict(x[0] for x in peer["subject"]) if peer else None}
                payload = json.dumps(info).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(payload)
                             + payload)
            elif path == "chunked":
                conn.sendall(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"5\r\nhello\r\n7;x=y\r\n, chunk\r\n0\r\n\r\n")
            elif path == "to-eof":
                conn.sendall(b"HTTP/1.0 404 Not Found\r\n\r\nuntil the close")
            elif path == "open":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nopen")
                self.stop.wait(60)
            elif path == "big":
                size = 2 << 20
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
                conn.sendall(b"x" * size)
            if self.context:
                conn.unwrap()
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()


def probe(url, path, *options):
    r = subprocess.run([PROBE, url, path, *options], capture_output=True, text=True,
                       timeout=60)
    out = r.stdout
    if r.returncode == 0:
        fields = dict(line.split(" ", 1) for line in out.split("\n", 3)[:3])
        fields["body"] = out.split("\n", 3)[3][len("body "):-1]
        return fields
    return {"error": out.strip(), "code": r.returncode}


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-http-client-") as d:
        write_pki(d)
        trust = ["--cacert", f"{d}/ca.pem"]
        mine = ["--cert", f"{d}/client.pem", "--key", f"{d}/client.key"]

        with Server() as plain:
            r = probe(f"http://127.0.0.1:{plain.port}/base/", "/echo", "--body", "a=1&b=2",
                      "--user-agent", "probe/1")
            echo = json.loads(r["body"])
            check(r["status"] == "200" and echo["method"] == "POST"
                  and echo["target"] == "/base/echo" and echo["version"] == "HTTP/1.1",
                  f"plain http: POST base + path as HTTP/1.1 ({echo['target']})")
            h = echo["headers"]
            check(h["Host"] == f"127.0.0.1:{plain.port}" and h["Content-Type"] == "text/plain"
                  and h["Content-Length"] == "7" and h["Connection"] == "close"
                  and h["User-Agent"] == "probe/1" and echo["body"] == "a=1&b=2",
                  f"request headers and body as sent: {h}")
            r = probe(f"http://127.0.0.1:{plain.port}", "/to-eof")
            check(r.get("status") == "404" and r["body"] == "until the close",
                  "a body without a length ends at the close")
            r = probe(f"http://127.0.0.1:{plain.port}", "/reset")
            check(r["code"] == 1 and "ECONNRESET" in r["error"],
                  f"a reset before any answer is an error, not an empty answer: {r}")
            r = probe(f"http://127.0.0.1:{plain.port}", "/echo", *trust)
            check(r["code"] == 2 and "EINVAL" in r["error"], "TLS files refused for http://")

        with Server(d) as server:
            https = f"https://localhost:{server.port}"
            r = probe(https, "/echo", *trust, "--body", "x")
            echo = json.loads(r["body"])
            check(r["status"] == "200" and echo["tls"] == "TLSv1.2" and echo["client"] is None
                  and echo["body"] == "x" and r["content-type"] == "application/json",
                  f"https: verified server, TLS 1.2, no client certificate ({echo['tls']})")
            check("User-Agent" not in echo["headers"], "no User-Agent unless given")
            r = probe(https, "/chunked", *trust)
            check(r.get("status") == "201" and r["body"] == "hello, chunk",
                  f"a chunked body is decoded: {r}")
            r = probe(https, "/open", *trust, "--timeout-ms", "20000")
            check(r.get("status") == "200" and r["body"] == "open",
                  f"a response with Content-Length completes while the connection stays open: {r}")
            r = probe(https, "/big", *trust)
            check(r["code"] == 1 and "E2BIG" in r["error"], f"a 2 MiB answer is refused: {r}")
            r = probe(https, "/silent", *trust, "--timeout-ms", "500")
            check(r["code"] == 1 and "ETIMEDOUT" in r["error"],
                  f"a server that never answers times out: {r}")
            r = probe(https, "/echo", "--cacert", f"{d}/other-ca.pem")
            check(r["code"] == 1 and "EACCES" in r["error"],
                  f"a server that does not chain to --cacert is refused: {r}")
            r = probe(f"https://127.0.0.1:{server.port}", "/echo", *trust)
            check(r["code"] == 1 and "EACCES" in r["error"],
                  f"a certificate that does not name the host is refused: {r}")
            r = probe(https, "/echo")
            check(r["code"] == 2 and "ENOKEY" in r["error"], "https needs --cacert")

            # Key files: owner-only, a symbolic link judged by its target;
            # refused before any connection is made.
            before = server.connections
            loose = f"{d}/loose.key"
            with open(f"{d}/client.key", "rb") as src, open(loose, "wb") as dst:
                dst.write(src.read())
            os.symlink(loose, f"{d}/link.key")
            for mode, key, what in ((0o644, loose, "a 0644 key"), (0o640, loose, "a 0640 key"),
                                    (0o644, f"{d}/link.key", "a symlink to a 0644 key")):
                os.chmod(loose, mode)
                r = probe(https, "/echo", *trust, "--cert", f"{d}/client.pem", "--key", key)
                check(r["code"] == 2 and "EPERM" in r["error"]
                      and "readable by group or others" in r["error"], f"{what} is refused")
            check(server.connections == before, "no connection with a refused key")
            os.chmod(loose, 0o600)
            r = probe(https, "/echo", *trust, "--cert", f"{d}/client.pem", "--key",
                      f"{d}/link.key")
            check(r.get("status") == "200", "a symlink to an owner-only key is used")

        with Server(d, require_client=True) as mutual:
            https = f"https://localhost:{mutual.port}"
            r = probe(https, "/echo", *trust, *mine)
            echo = json.loads(r["body"]) if "body" in r else {}
            check(r.get("status") == "200" and echo["client"] == {"commonName": "client one"},
                  f"mutual TLS: the server sees the client certificate: {r}")
            r = probe(https, "/echo", *trust)
            check(r["code"] == 1 and "EPROTO" in r["error"],
                  f"without the client certificate the handshake fails: {r}")

        closed = free_port()
        r = probe(f"http://127.0.0.1:{closed}", "/echo")
        check(r["code"] == 1 and "ECONNREFUSED" in r["error"], "a closed port is refused")


if __name__ == "__main__":
    main()
