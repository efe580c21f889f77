#!/usr/bin/env python3
"""Intake throughput: receipts per second with durable (fsync'd) commits.

Starts kenshod on a fresh data directory, issues one signer, pre-signs
unique applications, then keeps CONNECTIONS keep-alive clients posting to
/v1/intake for DURATION seconds and counts 201 answers. Runs each setting
REPEAT times, alternating, and prints the median: group commit (the
default intake.batch_max) against intake.batch_max = 1 (one fsync per
receipt) as the peer in the same run.

    python3 tests/integration/intake/intake_load.py [--duration 5] [--connections 16]
"""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Server  # noqa: E402
from intake_common import Signer, connect, issue, post  # noqa: E402


def one_run(batch_max, duration, connections, bodies_per_run, tmp, tag):
    data = os.path.join(tmp, f"data-{tag}")
    config = os.path.join(tmp, f"kenshod-{tag}.conf")
    with open(config, "w") as f:
        f.write(f"intake.batch_max = {batch_max}\n")
    with Server(data=data, args=["--config", config, "--no-access-log"]) as srv:
        person = os.path.join(tmp, f"person-{tag}")
        issue(data, person)
        signer = Signer(os.path.join(person, "sign.pem"), os.path.join(person, "sign.key"))
        bodies = [signer.sign(f"{tag} application {i}\n".encode()) for i in range(bodies_per_run)]
        next_body, done, lock = [0], [0], threading.Lock()
        stop = time.monotonic() + duration

        def client():
            conn = connect(srv.port)
            while time.monotonic() < stop:
                with lock:
                    i = next_body[0]
                    next_body[0] += 1
                if i >= len(bodies):
                    return
                status, _, _ = post(conn, "/v1/intake", bodies[i])
                if status == 201:
                    with lock:
                        done[0] += 1

        threads = [threading.Thread(target=client) for _ in range(connections)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        if next_body[0] >= len(bodies):
            print(f"warning: ran out of pre-signed applications ({tag})", file=sys.stderr)
        return done[0] / elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--applications", type=int, default=6000)
    a = ap.parse_args()
    results = {"group commit (batch_max 64)": [], "one commit per receipt (batch_max 1)": []}
    settings = [("group commit (batch_max 64)", 64), ("one commit per receipt (batch_max 1)", 1)]
    with tempfile.TemporaryDirectory(prefix="kensho-load-") as tmp:
        for r in range(a.repeat):
            for name, batch_max in settings:
                rate = one_run(batch_max, a.duration, a.connections, a.applications, tmp,
                               f"{batch_max}-{r}")
                results[name].append(rate)
                print(f"run {r + 1}: {name}: {rate:.0f} receipts/s", flush=True)
    medians = {k: statistics.median(v) for k, v in results.items()}
    for k, v in medians.items():
        print(f"median {k}: {v:.0f} receipts/s over {a.repeat} runs of {a.duration:.0f} s, "
              f"{a.connections} connections")
    names = [s[0] for s in settings]
    print(f"ratio: {medians[names[0]] / medians[names[1]]:.2f}x")


if __name__ == "__main__":
    main()
