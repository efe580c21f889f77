"""kensho-bench at tiny scale against nginx: closed and open loop produce
plausible, self-consistent results; wrong answers fail the run; a dead
server is reported, not hung on; runs stop by themselves."""
import os
import sys
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
    check(late["p50"] <= lat["p50"] and after["p50"] <= lat["p50"] and after["max"] <= lat["max"],
          f"sent late and answered after sending are parts of the latency: {late}, {after}, {lat}")

    rc, r, out = bench(f"{ng.url}/resp.der", "--requests", "50", "--duration", "20", label="count")
    check(rc == 0 and r["requests"] == 50, f"a count-bounded run stops after 50: {r['requests']}")
    check(r["duration_s"] < 10, "and does not wait for the duration")

    rc, r, out = bench(f"{ng.url}/missing", "--duration", "0.5", "--check-share", "1", label="wrong")
    check(rc == 3, f"wrong answers (404) fail the run with exit 3, got {rc}")
    check(r["checks"]["failed"] == r["requests"] > 0, "every wrong answer was counted")

dead = free_port()
t0 = time.monotonic()
rc, r, out = bench(f"http://127.0.0.1:{dead}/", "--duration", "0.5", label="dead")
check(rc == 1 and r["errors"]["connect"] > 0, "a refused connection is reported as connect errors")
check(time.monotonic() - t0 < 5, "a run against nothing still stops by itself")
