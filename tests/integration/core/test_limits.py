"""Every limit of kenshod, hit from real sockets: header section (431),
request-target (414), body incl. chunked (413), malformed (400), slow request
(408), idle close, half-closed socket, and the connection limit queueing new
connections without stalling existing ones."""
import os
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from harness import Server, check, run  # noqa: E402
from client import Conn, get  # noqa: E402

CONFIG = """
limits.header_bytes = 2K
limits.uri_bytes = 512
limits.body_bytes = 4K
limits.request_timeout = 700ms
limits.idle_timeout = 1500ms
limits.connections = 3
limits.linger_timeout = 500ms
"""


def refusal(port, data, status, what):
    c = Conn(port)
    c.send(data)
    st, headers, _ = c.response()
    check(st == status and headers.get("connection") == "close", f"{what}: {status} and close")
    check(c.closed_by_server(), f"{what}: connection closed")
    c.close()


def main():
    tmp = tempfile.TemporaryDirectory()
    conf = os.path.join(tmp.name, "limits.conf")
    with open(conf, "w") as f:
        f.write(CONFIG)
    with Server(args=["--config", conf]) as srv:
        p = srv.port
        refusal(p, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX: " + b"a" * 3000 + b"\r\n\r\n", 431,
                "oversized header")
        refusal(p, b"GET /healthz?" + b"q" * 600 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414,
                "long URI")
        refusal(p, b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", 413,
                "declared body too large")
        chunks = b"".join(b"400\r\n" + b"x" * 1024 + b"\r\n" for _ in range(6)) + b"0\r\n\r\n"
        refusal(p, b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                + chunks, 413, "chunked body growing too large")
        refusal(p, b"GET / HTTP/1.1 junk\r\n\r\n", 400, "malformed request line")
        refusal(p, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40, 400,
                "TLS ClientHello on the plain port")

        # curl sees the same answers.
        r = run("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary",
                "@-", srv.url + "/healthz", input="z" * 10000)
        check(r.stdout == "413", "curl POSTing 10 KB gets 413")
        r = run("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                "Expect: 100-continue", "--data-binary", "@-", srv.url + "/healthz",
                input="z" * 100)
        check(r.stdout == "405", "curl with Expect: 100-continue reaches the router (405)")

        # Slow client: trickles the head and never finishes within the bound.
        c = Conn(p)
        start = time.monotonic()
        c.send(b"GET /healthz HTTP/1.1\r\n")
        got = None
        for _ in range(20):
            time.sleep(0.1)
            try:
                c.send(b"X: y\r\n")
            except OSError:
                break
            c.sock.settimeout(0.01)
            try:
                data = c.sock.recv(65536)
                c.buf += data
                if data:
                    break
            except socket.timeout:
                pass
        c.sock.settimeout(5)
        st, _, _ = c.response()
        elapsed = time.monotonic() - start
        check(st == 408 and 0.6 < elapsed < 2.0,
              f"slow request gets 408 after the 700 ms bound ({elapsed:.2f}s)")
        check(c.closed_by_server(), "connection closed after 408")
        c.close()

        # Idle keep-alive connection closes after idle_timeout without a 408.
        c = Conn(p)
        c.send(get("/healthz"))
        check(c.response()[0] == 200, "request before idling answered")
        start = time.monotonic()
        check(c.closed_by_server(5), "idle connection closed")
        check(1.2 < time.monotonic() - start < 3.0 and c.buf == b"",
              "closed after about idle_timeout, silently")
        c.close()

        # Half-closed socket: requests sent, write side shut; answers still come.
        c = Conn(p)
        c.send(get("/healthz") + get("/readyz"))
        c.sock.shutdown(socket.SHUT_WR)
        check(c.response()[0] == 200 and c.response()[0] == 200,
              "both answers arrive after the client's half-close")
        check(c.closed_by_server(), "server closes after answering a half-closed client")
        c.close()

        # Connection limit 3: a 4th connection waits in the backlog while the
        # existing three keep being served, and is served once one closes.
        conns = [Conn(p) for _ in range(3)]
        for c in conns:
            c.send(get("/healthz"))
            check(c.response()[0] == 200, "connection within the limit served")
        extra = Conn(p, timeout=0.5)
        extra.send(get("/healthz"))
        extra.sock.settimeout(0.5)
        try:
            data = extra.sock.recv(100)
            waited = False
        except socket.timeout:
            waited = True
        check(waited, "a connection beyond limits.connections waits")
        conns[0].send(get("/healthz"))
        check(conns[0].response()[0] == 200, "existing connections are not stalled meanwhile")
        conns[0].close()
        extra.sock.settimeout(5)
        check(extra.response()[0] == 200, "the waiting connection is served once a slot frees")
        for c in conns[1:] + [extra]:
            c.close()
        st, _, body = srv.get("/metrics")
        deferred = [l for l in body.decode().splitlines()
                    if l.startswith("kensho_http_connections_deferred_total ")]
        check(deferred and int(deferred[0].split()[1]) >= 1, "deferred accepts are counted")
        check(srv.stop() == 0, "exits 0 after all that (LeakSanitizer-clean under ASan)")
    tmp.cleanup()


main()
