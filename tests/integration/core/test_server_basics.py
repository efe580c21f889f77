"""kenshod serves /healthz, /readyz and /metrics over keep-alive HTTP/1.1,
answers curl, writes one JSON access-log line per request, honours
--no-access-log and a config file, and refuses bad flags clearly."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from harness import ALLOW_ROOT, KENSHOD, Server, check, run  # noqa: E402
from client import Conn, get, wait_until  # noqa: E402


def main():
    with Server() as srv:
        r = run("curl", "-sS", "-i", srv.url + "/healthz")
        check(r.stdout.startswith("HTTP/1.1 200 OK"), "curl /healthz gets 200")
        check('{"status":"ok"}' in r.stdout, "/healthz body says ok")

        status, headers, body = srv.get("/readyz")
        ready = json.loads(body)
        check(status == 200 and ready["ready"] is True, "/readyz is ready")

        r = run("curl", "-sS", "-I", srv.url + "/healthz")
        check("Content-Length: 16" in r.stdout, "HEAD /healthz carries the GET length")

        r = run("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", srv.url + "/no/such")
        check(r.stdout == "404", "unknown path is 404")
        r = run("curl", "-sS", "-X", "POST", "-i", srv.url + "/metrics")
        check(" 405 " in r.stdout.splitlines()[0] and "Allow: GET, HEAD" in r.stdout,
              "POST /metrics is 405 with Allow")

        # Several requests on one connection, one of them pipelined.
        c = Conn(srv.port)
        for _ in range(3):
            c.send(get("/healthz"))
            check(c.response()[0] == 200, "keep-alive request answered")
        c.send(get("/healthz") + get("/readyz") + get("/metrics"))
        statuses = [c.response()[0] for _ in range(3)]
        check(statuses == [200, 200, 200], "three pipelined requests answered in order")
        c.close()

        status, headers, body = srv.get("/metrics")
        text = body.decode()
        check(headers["Content-Type"].startswith("text/plain; version=0.0.4"),
              "metrics in Prometheus text format")
        for name in ["kensho_http_requests_total{route=\"healthz\",code=\"200\"}",
                     "kensho_http_request_duration_seconds_bucket{route=\"healthz\",le=\"+Inf\"}",
                     "kensho_http_connections_open ", "kensho_http_received_bytes_total ",
                     "kensho_http_sent_bytes_total ", "kensho_loop_lag_seconds "]:
            check(name in text, f"/metrics exposes {name.strip()}")
        count = [l for l in text.splitlines()
                 if l.startswith('kensho_http_requests_total{route="healthz",code="200"}')]
        check(int(float(count[0].split()[-1])) >= 5, "healthz requests are counted")

        check(wait_until(lambda: '"path":"/healthz"' in srv.output(), 5),
              "access log written")
        line = next(l for l in srv.output().splitlines() if '"path":"/no/such"' in l)
        entry = json.loads(line)
        check(entry["status"] == 404 and entry["method"] == "GET" and "ms" in entry,
              "access log line is JSON with status, method, latency")
        check("try: curl http://127.0.0.1:%d/healthz" % srv.port in srv.output(),
              "start-up prints URLs to try")
        check(srv.stop() == 0, "SIGTERM: exits 0 (LeakSanitizer-clean in the ASan build)")
        check(os.path.isdir(os.path.join(srv.data, "ca")) and
              oct(os.stat(os.path.join(srv.data, "ca")).st_mode & 0o777) == "0o700",
              "data directory layout created, key directory owner-only")

    # --no-access-log and a config file with limits.
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "kenshod.conf")
        with open(conf, "w") as f:
            f.write("# test\nlimits.header_bytes = 1K\nlog.level = warn\nstore.map_size = 3G\n")
        with Server(args=["--no-access-log", "--config", conf]) as srv:
            check(srv.get("/healthz")[0] == 200, "serves with a config file")
            metrics = srv.get("/metrics")[2].decode()
            size = [float(line.split()[-1]) for line in metrics.splitlines()
                    if line.startswith("kensho_store_map_bytes ")]
            check(size == [3 * 2**30], f"store.map_size sets the LMDB map ({size})")
            big = {"X-Big": "a" * 2000}
            check(srv.get("/healthz", headers=big)[0] == 431,
                  "config limits.header_bytes = 1K gives 431")
            check('"path"' not in srv.output(), "--no-access-log writes no access lines")

        with open(conf, "w") as f:
            f.write("limits.header_bytes 5\n")
        r = subprocess.run([KENSHOD, *ALLOW_ROOT, "--data", os.path.join(tmp, "d"), "--listen", "127.0.0.1:1",
                            "--config", conf], capture_output=True, text=True, timeout=10)
        check(r.returncode != 0 and "line 1" in r.stderr, "a bad config line is named and fatal")
        r = subprocess.run([KENSHOD, *ALLOW_ROOT, "--data", os.path.join(tmp, "d")], capture_output=True,
                           text=True, timeout=10)
        check(r.returncode == 2 and "--listen" in r.stderr, "no listener: usage and exit 2")

        # A port another program holds (without SO_REUSEPORT) is a start-up
        # error, for one worker and for a supervisor alike.
        import socket
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            addr = "127.0.0.1:%d" % taken.getsockname()[1]
            for extra in ([], ["--workers", "2"]):
                r = subprocess.run([KENSHOD, *ALLOW_ROOT, "--data", os.path.join(tmp, "d"), "--listen", addr]
                                   + extra, capture_output=True, text=True, timeout=60)
                check(r.returncode != 0 and f"cannot listen on {addr}" in r.stderr,
                      f"port in use {' '.join(extra)}: says so and exits {r.returncode}")

        # Another kenshod on the port: SO_REUSEPORT would let a second one join
        # it silently; kenshod checks that the address is free first.
        with Server(args=["--no-access-log", "--workers", "2"]) as first:
            addr = f"127.0.0.1:{first.port}"
            r = subprocess.run([KENSHOD, *ALLOW_ROOT, "--data", os.path.join(tmp, "d"), "--listen", addr],
                               capture_output=True, text=True, timeout=60)
            check(r.returncode != 0 and f"cannot listen on {addr}" in r.stderr,
                  f"a second kenshod on a served port refuses to start ({r.returncode})")
            check(first.get("/healthz")[0] == 200, "the first one keeps serving")


main()
