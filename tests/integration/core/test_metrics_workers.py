"""/metrics with --workers 2: every scrape shows the whole server, whichever
worker answers it. kensho_http_connections_accepted_total counts exactly the
connections made, never goes backwards between scrapes, and does not go
backwards when a worker is killed and the supervisor restarts it. Gauges
every worker holds the same value of (the CRL's dates) are not summed."""
import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from harness import Server, check  # noqa: E402
from client import wait_until  # noqa: E402
from test_signals import children, listening  # noqa: E402

CONNECTIONS = 60


def scrape(srv):
    status, _, body = srv.get("/metrics")
    assert status == 200, status
    return body.decode()


def value(text, series):
    m = re.search(r"^" + re.escape(series) + r" (\S+)$", text, re.M)
    assert m, f"{series} not in the exposition"
    return float(m.group(1))


def accepted(srv):
    return value(scrape(srv), "kensho_http_connections_accepted_total")


def one_request(port):
    """A request on its own connection (so SO_REUSEPORT spreads them)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:40]


def worker_pids_in_log(srv):
    """pids that answered requests, from the access log lines."""
    return set(re.findall(r'"pid":(\d+)', srv.output()))


def main():
    srv = Server(args=["--workers", "2"]).start()
    try:
        check(wait_until(lambda: len(children(srv.proc.pid)) == 2, 5), "two workers forked")
        check(wait_until(lambda: listening(srv.port) == 2, 30), "both workers listen")
        time.sleep(0.3)  # connections from the harness's port probe are accepted
        first = accepted(srv)
        for _ in range(CONNECTIONS):
            one_request(srv.port)
        seen = [accepted(srv) for _ in range(6)]
        # Each scrape is one more connection of its own.
        want = [first + CONNECTIONS + k for k in range(1, 7)]
        check(seen == want, f"every scrape counts all connections: {seen} == {want}")
        check(len(worker_pids_in_log(srv)) == 2, "both workers answered requests")

        text = scrape(srv)
        health = sum(float(v) for v in re.findall(
            r'^kensho_http_requests_total\{route="[^"]*health[^"]*",code="200"\} (\S+)$', text, re.M))
        check(health >= CONNECTIONS, f"request counts are merged too ({health})")
        lag = re.findall(r"^kensho_loop_lag_seconds (\S+)$", text, re.M)
        check(len(lag) == 1, "one merged loop-lag gauge")
        # Every worker serves the same CRL: its dates are one CRL's (the
        # largest worker's value), never the workers' sum.
        next_update = [float(v) for v in re.findall(
            r'^kensho_crl_next_update_seconds\{[^}]*\} (\S+)$', text, re.M)]
        now = time.time()
        # four CRLs and the two ARLs
        check(len(next_update) == 6 and all(now < v < now + 49 * 3600 for v in next_update),
              f"CRL nextUpdate gauges are dates, not sums over workers: {next_update}")
        stale = re.findall(r'^kensho_crl_stale\{[^}]*\} (\S+)$', text, re.M)
        check(stale == ["0"] * 6, f"kensho_crl_stale is 0 or 1 ({stale})")

        before = accepted(srv)
        victim = children(srv.proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        check(wait_until(lambda: victim not in children(srv.proc.pid), 5), "a worker killed")

        def scrape_or_none():
            try:
                return accepted(srv)
            except OSError:
                return None  # queued on the dead worker's listener: reset

        during = [v for v in (scrape_or_none() for _ in range(5)) if v is not None]
        check(during and all(v > before for v in during) and during == sorted(during),
              f"no step backwards while a worker is down: {before} then {during}")

        def replaced():
            now = children(srv.proc.pid)
            return len(now) == 2 and victim not in now and listening(srv.port) == 2

        check(wait_until(replaced, 30), "the supervisor restarted the worker")
        after = accepted(srv)
        check(after > during[-1], f"counters continue after the restart ({during[-1]} -> {after})")
        for _ in range(CONNECTIONS):
            one_request(srv.port)
        seen = [accepted(srv) for _ in range(4)]
        want = [after + CONNECTIONS + k for k in range(1, 5)]
        check(seen == want, f"exact again with the restarted worker: {seen} == {want}")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
