"""kensho-bench at tiny scale against nginx: closed and open loop produce
plausible, self-consistent results; wrong answers fail the run; a dead
server is reported, not hung on; runs stop by themselves."""
import http.server
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.environ.get("KENSHO_SOURCE_DIR", "."), "bench"))
from harness import check, free_port  # noqa: E402
from peers import Nginx, bench  # noqa: E402

BODY = os.urandom(1500)

with Nginx({"resp.der": BODY}) as ng:
    rc, r, out = bench(f"{ng.url}/resp.der", "--duration", "1", "--connections", "4",
                       "--check-share", "1", label="closed")
    print(out)
    check(rc == 0, "closed loop run exits 0")
    check(r["mode"] == "closed-loop" and r["connections"] == 4, "JSON names the mode and connections")
    check("send_delay_us" not in r and "after_send_us" not in r,
          "closed loop has no due time to be late for")
    check(r["requests"] > 100, f"closed loop answered {r['requests']} requests in ~1 s")
    check(r["status"]["2xx"] == r["requests"], "every answer was 2xx")
    check(r["checks"]["sampled"] == r["requests"] and r["checks"]["failed"] == 0,
          "with --check-share 1 every answer was checked and right")
    lat = r["latency_us"]
    check(0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"],
          f"percentiles are ordered: {lat}")
    check(r["bytes_in"] >= r["requests"] * len(BODY), "bytes in cover every body")
    check(0.9 < r["duration_s"] < 3.5, f"measured interval ~1 s: {r['duration_s']}")

    rate = 500
    rc, r, out = bench(f"{ng.url}/resp.der", "--duration", "1", "--connections", "2",
                       "--rate", rate, label="open")
    print(out)
    check(rc == 0 and r["mode"] == "open-loop", "open loop run exits 0")
    check(abs(r["requests"] - rate) <= rate * 0.1,
          f"open loop sent the target rate: {r['requests']} of {rate} in 1 s")
    late, lat = r["send_delay_us"], r["latency_us"]
    check(0 <= late["p50"] <= late["p99"] <= late["max"],
          f"open loop reports how late the generator sent, ordered: {late}")
    after = r["after_send_us"]
    check(0 <= r["waited_for_connection"] <= r["requests"],
          f"requests that found no free connection are counted: {r['waited_for_connection']}")
    check(late["p50"] <= lat["p50"] and after["p50"] <= lat["p50"] and after["max"] <= lat["max"],
          f"sent late and answered after sending are parts of the latency: {late}, {after}, {lat}")

    rc, r, out = bench(f"{ng.url}/resp.der", "--requests", "50", "--duration", "20", label="count")
    check(rc == 0 and r["requests"] == 50, f"a count-bounded run stops after 50: {r['requests']}")
    check(r["duration_s"] < 10, "and does not wait for the duration")

    rc, r, out = bench(f"{ng.url}/missing", "--duration", "0.5", "--check-share", "1", label="wrong")
    check(rc == 3, f"wrong answers (404) fail the run with exit 3, got {rc}")
    check(r["checks"]["failed"] == r["requests"] > 0, "every wrong answer was counted")


class SlowHandler(http.server.BaseHTTPRequestHandler):
    """Answers each request 50 ms after it came: five of the open-loop run's
    10 ms intervals, so one connection cannot keep up."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        time.sleep(0.05)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


slow = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
threading.Thread(target=slow.serve_forever, daemon=True).start()
rc, r, out = bench(f"http://127.0.0.1:{slow.server_address[1]}/", "--duration", "1", "--connections", "1",
                   "--rate", "100", label="starved")
print(out)
slow.shutdown()
# At most 20 answers in the second (12 here: the server's own overhead adds
# to its 50 ms); the other requests fell due while the one connection
# waited, and their whole wait counts as latency.
check(rc == 0 and 0 < r["requests"] < 50, f"one connection, 50 ms answers: {r['requests']} in ~1 s")
check(r["waited_for_connection"] >= r["requests"] - 2,
      f"every request but the first few found the connection busy: {r['waited_for_connection']}")
check(r["send_delay_us"]["max"] > 100_000,
      f"and was sent late by the queue behind it: {r['send_delay_us']}")

dead = free_port()
t0 = time.monotonic()
rc, r, out = bench(f"http://127.0.0.1:{dead}/", "--duration", "0.5", label="dead")
check(rc == 1 and r["errors"]["connect"] > 0, "a refused connection is reported as connect errors")
check(time.monotonic() - t0 < 5, "a run against nothing still stops by itself")
