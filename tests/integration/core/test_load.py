"""Volume on real sockets: 10,000 keep-alive requests on one connection
(sequential, then pipelined) and 1,000 concurrent connections each answered."""
import os
import selectors
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from harness import Server, check  # noqa: E402
from client import Conn, get  # noqa: E402


def main():
    with Server(args=["--no-access-log"]) as srv:
        c = Conn(srv.port)
        ok = 0
        for i in range(5000):
            c.send(get(f"/healthz?n={i}"))
            st, headers, body = c.response()
            ok += st == 200 and "connection" not in headers
        # the other 5,000 pipelined in bursts of 100
        for burst in range(50):
            c.send(b"".join(get("/healthz") for _ in range(100)))
            for _ in range(100):
                ok += c.response()[0] == 200
        check(ok == 10000, f"10,000 keep-alive requests on one connection answered ({ok})")
        c.close()

        sel = selectors.DefaultSelector()
        socks = []
        for _ in range(1000):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", srv.port))
            socks.append(s)
            sel.register(s, selectors.EVENT_WRITE)
        pending = {s: b"" for s in socks}
        done = 0
        sent = set()
        import time
        deadline = time.monotonic() + 30
        while done < 1000 and time.monotonic() < deadline:
            for key, ev in sel.select(timeout=1):
                s = key.fileobj
                if ev & selectors.EVENT_WRITE and s not in sent:
                    try:
                        s.send(get("/healthz"))
                    except BlockingIOError:
                        continue
                    sent.add(s)
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                data = s.recv(4096)
                pending[s] += data
                if b"\r\n\r\n" in pending[s] and pending[s].endswith(b'{"status":"ok"}\n'):
                    done += 1
                    sel.unregister(s)
                elif not data:
                    sel.unregister(s)
        check(done == 1000, f"1,000 concurrent connections all answered ({done})")
        st, _, body = srv.get("/metrics")
        line = [l for l in body.decode().splitlines()
                if l.startswith("kensho_http_connections_open ")][0]
        check(int(line.split()[1]) >= 1000, f"/metrics shows them open ({line})")
        for s in socks:
            s.close()
        check(srv.stop() == 0, "exits 0 (LeakSanitizer-clean under ASan)")


main()
