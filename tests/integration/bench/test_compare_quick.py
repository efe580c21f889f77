"""bench/compare --quick: every benchmark scenario runs for about a second on
tiny data against kenshod and its peers, so the full benchmark's machinery is
proven by the suite. Asserts the harness's results, not speed."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import SOURCE, check  # noqa: E402

SCENARIOS = ["cached", "live", "store", "uniform", "tls", "flood", "cluster", "crl", "intake"]

with tempfile.TemporaryDirectory(prefix="kensho-compare-test-") as out:
    p = subprocess.run([sys.executable, os.path.join(SOURCE, "bench", "compare"), "--quick",
                        "--out", out], capture_output=True, text=True, timeout=900)
    print(p.stdout[-6000:])
    print(p.stderr[-3000:], file=sys.stderr)
    check(p.returncode == 0, "bench/compare --quick ran every scenario without failure")
    results = json.load(open(os.path.join(out, "results.json")))
    for scenario in SCENARIOS:
        runs = [r for r in results if r["scenario"] == scenario]
        check(runs, f"scenario {scenario} produced results")
        for r in runs:
            check(r["requests"] > 0, f"{r['label']} at {r['connections']} connections answered requests")
            check(r["checks"]["failed"] == 0, f"{r['label']}: every checked answer was right")
            check(sum(r["errors"].values()) == 0, f"{r['label']}: no transport errors")
    peers = {r["label"] for r in results}
    for label in ("kenshod-1w-mix", "kenshod-2w-mix", "nginx-1w", "nginx-2w", "cfssl-post", "openssl-ocsp",
                  "live-rsa-capacity", "live-ecdsa-capacity", "tls-full", "tls-resumed"):
        check(label in peers, f"{label} was measured")
    for label in ("uniform-hot", "uniform-all", "uniform-open",
                  "uniform-hot-shared", "uniform-all-shared", "uniform-open-shared"):
        runs = [r for r in results if r["label"] == label]
        check(runs and runs[0]["cache_hit_ratio"] == 1.0,
              f"{label}: a pre-signed store answers from the cache ({runs and runs[0].get('answers')})")
    for suffix in ("", "-shared"):
        own = [r for r in results if r["label"] == "uniform-open" + suffix]
        floor = [r for r in results if r["label"] == "nginx-open" + suffix]
        check(own and floor and floor[0]["target_rate"] == own[0]["target_rate"]
              and floor[0]["connections"] == own[0]["connections"],
              f"nginx-open{suffix}: the open-loop floor was measured at kenshod's rate and connections")
        # At half the closed-loop rate every due request is sent (over
        # 10,000/s the due timer ticks every 100 us and sends all due by then).
        for r in own + floor:
            due = r["target_rate"] * r["duration_s"]
            check(r["requests"] >= 0.8 * due,
                  f"{r['label']}: {r['requests']} requests sent of {due:.0f} due at {r['target_rate']:.0f}/s")
    resumed = [r for r in results if r["label"] == "tls-resumed"][0]
    full = [r for r in results if r["label"] == "tls-full"][0]
    check(resumed["resumed"] > 0 and full["resumed"] == 0,
          f"resumption happened only when offered ({resumed['resumed']} vs {full['resumed']})")
    for label in ("flood-direct-alone", "flood-direct-during", "flood-direct-handshakes",
                  "flood-haproxy-alone", "flood-haproxy-during", "flood-haproxy-handshakes"):
        check(label in peers, f"{label} was measured")
    for label in ("cluster-haproxy-1node", "cluster-haproxy-3nodes", "cluster-revocations"):
        check(label in peers, f"{label} was measured")
    summary = json.load(open(os.path.join(out, "cluster.json")))
    check(summary.get("bootstrap_1_seconds", 0) > 0 and summary.get("snapshot_bytes", 0) > 0
          and summary.get("catch_up_revocations", 0) > 0 and summary.get("lag_samples", 0) > 0,
          f"cluster: bootstrap, lag samples and a replica's catch-up were measured ({summary})")
    handshakes = [r for r in results if r["label"] == "flood-handshakes"]
    check(handshakes and handshakes[0]["handshakes_per_cpu_second"] and handshakes[0]["raw_sign_per_cpu_second"],
          "the flood's handshakes per kenshod CPU-second and bench_sign's raw rate were both measured")
    for key in ("rsa", "ecdsa"):
        live = [r for r in results if r["label"] == f"live-{key}-capacity"]
        check(live and live[0]["signed_per_cpu_second"] and live[0]["raw_sign_per_second"]
              and live[0]["raw_sign_per_cpu_second"],
              f"live {key}: signatures per kenshod CPU-second and bench_sign's raw rate were both measured")
    during = [r for r in results if r["label"] == "flood-direct-during"]
    check(during and during[0].get("flood_handshakes_per_second", 0) > 0,
          "the constant-rate run had a handshake flood beside it")
    for png in ("throughput.png", "latency.png"):
        path = os.path.join(out, png)
        check(os.path.getsize(path) > 1000 and open(path, "rb").read(4) == b"\x89PNG",
              f"{png} was drawn")
