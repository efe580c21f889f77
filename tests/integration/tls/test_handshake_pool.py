#!/usr/bin/env python3
"""TLS handshakes never stall validation: kenshod with one worker, a client
flooding full handshakes (kensho-bench --reconnect --no-resume, bounded in
requests and time), and meanwhile /healthz and /metrics on a kept-alive
plain connection and on a kept-alive TLS connection still answer. What
shows the property is a counter, not a latency: /metrics counts handshake
steps by the thread that ran them, and thread="loop" stays 0 while
thread="pool" grows during the flood.

Then the bound: with tls.max_handshakes = 4 and four connections that
never send a ClientHello holding every slot, a fifth connection waits in
the kernel backlog (the deferred-accept counter moves, the handshake does
not finish) and completes as soon as one slot frees."""
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import BUILD, Server, check, wait_for  # noqa: E402

BENCH = os.path.join(BUILD, "bench", "kensho-bench")
MAX_HANDSHAKES = 4


def metric(text, name):
    """The value of the sample named exactly `name` (labels included), or 0."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == name:
            return float(parts[-1])
    return 0.0


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, r.read().decode("utf-8", "replace")


def steps(text):
    return (metric(text, 'kensho_tls_handshake_steps_total{thread="loop"}'),
            metric(text, 'kensho_tls_handshake_steps_total{thread="pool"}'))


def tls_context(tls_dir):
    ctx = ssl.create_default_context(cafile=f"{tls_dir}/ca.pem")
    ctx.check_hostname = False
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-hspool-") as tmp:
        data = os.path.join(tmp, "data")
        config = os.path.join(tmp, "kenshod.conf")
        with open(config, "w") as f:
            f.write(f"tls.max_handshakes = {MAX_HANDSHAKES}\ntls.handshake_timeout = 120s\n")
        with Server(data=data, tls=True, args=["--workers", "1", "--config", config]) as srv:
            tls_dir = os.path.join(data, "tls")
            plain = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            secure = http.client.HTTPSConnection("127.0.0.1", srv.tls_port, timeout=30,
                                                 context=tls_context(tls_dir))
            status, text = get(plain, "/metrics")
            check(status == 200, "/metrics answers on a kept-alive plain connection")
            loop0, pool0 = steps(text)
            check(get(secure, "/healthz")[0] == 200, "/healthz answers on a kept-alive TLS connection")
            status, text = get(plain, "/metrics")
            loop1, pool1 = steps(text)
            full1 = metric(text, 'kensho_tls_handshakes_total{result="full"}')
            check(loop1 == 0 and pool1 > pool0,
                  f"that handshake ran its steps on the pool ({pool1 - pool0:.0f}), none on the loop")

            bench = subprocess.Popen(
                [BENCH, "--url", f"https://127.0.0.1:{srv.tls_port}/healthz", "--reconnect",
                 "--no-resume", "--connections", "8", "--requests", "600", "--duration", "20",
                 "--cacert", f"{tls_dir}/ca.pem", "--json", os.path.join(tmp, "bench.json")],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            answered = 0
            samples = []
            try:
                while bench.poll() is None:
                    status, text = get(plain, "/metrics")
                    check_ok = status == 200 and get(plain, "/healthz")[0] == 200 and \
                        get(secure, "/healthz")[0] == 200
                    if not check_ok:
                        raise AssertionError("a kept-alive request failed during the flood")
                    answered += 1
                    samples.append(steps(text))
            finally:
                if bench.poll() is None:
                    bench.kill()
                _, err = bench.communicate()
            check(bench.returncode == 0, f"kensho-bench ran its bounded flood: {err[-300:]}")
            check(answered > 0, f"kept-alive plain and TLS requests answered during the flood ({answered} rounds)")
            status, text = get(plain, "/metrics")
            loop2, pool2 = steps(text)
            full = metric(text, 'kensho_tls_handshakes_total{result="full"}')
            with open(os.path.join(tmp, "bench.json")) as f:
                flood = json.load(f)["requests"]
            check(flood > 0 and full - full1 >= flood,
                  f"the flood's full handshakes completed ({full - full1:.0f} for {flood} requests)")
            check(all(s[0] == 0 for s in samples) and loop2 == 0,
                  "no handshake step ran on the loop thread during the flood")
            check(pool2 - pool1 >= flood,
                  f"the flood's handshake steps ran on the pool ({pool2 - pool1:.0f} steps)")

            # The bound: every slot held by a connection that says nothing.
            idle = [socket.create_connection(("127.0.0.1", srv.tls_port), timeout=30)
                    for _ in range(MAX_HANDSHAKES)]
            deferred0 = metric(get(plain, "/metrics")[1], "kensho_http_connections_deferred_total")
            result = {}

            def late_client():
                try:
                    with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=60) as raw:
                        with tls_context(tls_dir).wrap_socket(raw) as s:
                            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                            result["answer"] = s.recv(64)
                except OSError as e:
                    result["error"] = e

            t = threading.Thread(target=late_client)
            t.start()
            wait_for("the connection beyond tls.max_handshakes waits in the backlog (deferred accept)",
                     lambda: metric(get(plain, "/metrics")[1],
                                    "kensho_http_connections_deferred_total") > deferred0)
            check(t.is_alive() and not result,
                  "its handshake has not run while every slot is held")
            check(get(plain, "/healthz")[0] == 200, "the plain listener still answers meanwhile")
            idle.pop().close()
            t.join(60)
            check(not t.is_alive() and result.get("answer", b"").startswith(b"HTTP/1.1 200"),
                  f"once a slot frees it is accepted and answered: {result}")
            for s in idle:
                s.close()
            plain.close()
            secure.close()


if __name__ == "__main__":
    main()
