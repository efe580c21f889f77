"""kensho-bench --scenario uniform: each request asks for one of every
certificate of the store, drawn uniformly (kenshod's access log shows every
certificate asked, where the hot scenario keeps to its sample); every answer
checks out (status, CertID, signature), all from kenshod's cache after
`kensho presign`; the scenario refuses a prefetch. bench-store --data
measures the same store's lookups, and refuses a store without answers."""
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.environ.get("KENSHO_SOURCE_DIR", "."), "bench"))
from harness import BUILD, KENSHO, Server, check, run  # noqa: E402
from peers import bench  # noqa: E402


def paths_asked(log_path):
    paths = set()
    with open(log_path) as f:
        for line in f:
            m = re.search(r'"path":"(/ocsp/[^"]+)"', line)
            if m:
                paths.add(m.group(1))
    return paths


def answers(server):
    _, _, body = server.get("/metrics")
    return {m.group(1): float(m.group(2)) for m in
            re.finditer(r'^kensho_ocsp_answers_total\{answer="([\w-]+)"\} (\S+)$', body.decode(), re.M)}


def main():
    tmp = tempfile.TemporaryDirectory(prefix="kensho-uniform-")
    data = os.path.join(tmp.name, "data")
    run(KENSHO, "--data", data, "ca", "init")
    run(KENSHO, "--data", data, "gen", "--people", "40", "--revoked", "0.2", "--seed", "2")
    bench_store = os.path.join(BUILD, "bench", "bench-store")
    unsigned = run(bench_store, "--data", data, "--lookups", "1000", "--runs", "1", check=False)
    check(unsigned.returncode == 1 and "holds no answers" in unsigned.stderr,
          f"bench-store refuses a store with nothing pre-signed: {unsigned.returncode} {unsigned.stderr!r}")
    run(KENSHO, "--data", data, "presign")
    total = json.loads(run(KENSHO, "--data", data, "ocsp", "status", "--json").stdout)["certificates"]
    check(total > 40, f"a population of {total} certificates")

    measured = run(bench_store, "--data", data, "--lookups", "2000", "--runs", "1").stdout
    print(measured)
    check(f"{total} certificates with an answer" in measured, "bench-store draws from every certificate")
    rows = {m.group(1) + m.group(2): float(m.group(3)) for m in
            re.finditer(r"^(uniform|record|one-key) +([12]) +(\d+) ", measured, re.M)}
    check(len(rows) == 6 and all(rate > 0 for rate in rows.values()),
          f"lookups per second in the three modes, one and two threads: {rows}")
    check(f"for {total} certificates ({total} fresh)" in measured, "the freshness walk saw them all fresh")

    uniform_log = os.path.join(tmp.name, "uniform.log")
    hot_log = os.path.join(tmp.name, "hot.log")
    for log_path in (uniform_log, hot_log):
        config = os.path.join(tmp.name, "kenshod.conf")
        with open(config, "w") as f:
            f.write(f"log.access_file = {log_path}\nocsp.refresh_rate = 0\n")
        with Server(data=data, args=["--config", config]) as srv:
            if log_path == uniform_log:
                # ~100 draws per certificate: missing one has odds below 1e-40.
                rc, r, out = bench(srv.url, "--ocsp-data", data, "--scenario", "uniform",
                                   "--requests", 100 * total, "--duration", "60", "--connections", "2",
                                   "--check-share", "1", label="uniform", timeout=120)
                print(out)
                check(rc == 0 and r["requests"] == 100 * total, f"the uniform run answered {r and r['requests']}")
                check(r["checks"]["sampled"] == r["requests"] and r["checks"]["failed"] == 0,
                      "every answer was checked and right (good and revoked in the population's shares)")
                check(f"uniform over all {total} certificates" in out, "it says what it draws from")
                a = answers(srv)
                check(a.get("cached") == r["requests"] and a.get("signed", 0) == 0,
                      f"a pre-signed store answers every one from the cache: {a}")
            else:
                rc, r, out = bench(srv.url, "--ocsp-data", data, "--scenario", "hot", "--pool", "5",
                                   "--mix", "1,0,0", "--requests", 500, "--duration", "30",
                                   "--check-share", "1", label="hot", timeout=60)
                check(rc == 0 and r["checks"]["failed"] == 0, "the hot scenario still runs")
    asked = paths_asked(uniform_log)
    check(len(asked) == total, f"the uniform scenario asked for every certificate ({len(asked)} of {total})")
    asked = paths_asked(hot_log)
    check(0 < len(asked) <= 5, f"the hot scenario kept to its sample of 5 ({len(asked)})")

    rc, _, out = bench("http://127.0.0.1:1", "--ocsp-data", data, "--scenario", "uniform", "--prefetch",
                       "--setup-only", label="refused")
    check(rc == 2 and "no --prefetch" in out, f"a prefetch is refused in the uniform scenario: {rc}")
    rc, _, out = bench("http://127.0.0.1:1", "--ocsp-data", data, "--scenario", "cold", label="refused")
    check(rc == 2, "an unknown scenario is refused")


if __name__ == "__main__":
    main()
