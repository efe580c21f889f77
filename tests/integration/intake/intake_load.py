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
from harness import KENSHO, Server, run  # noqa: E402
from intake_common import Signer, connect, issue, post  # noqa: E402


def cpu_seconds(pid):
    """User + system CPU time of a process (all its threads) so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(batch_max, duration, connections, bodies_per_run, tmp, tag):
    data = os.path.join(tmp, f"data-{tag}")
    config = os.path.join(tmp, f"kenshod-{tag}.conf")
    with open(config, "w") as f:
        # Plain HTTP on purpose: this measures batching, not TLS.
        f.write(f"intake.batch_max = {batch_max}\nintake.allow_plain = true\n")
    # The CA, the signer and the applications are made before kenshod
    # starts, so the server is measured from the moment it listens.
    run(KENSHO, "--data", data, "ca", "init")
    person = os.path.join(tmp, f"person-{tag}")
    issue(data, person)
    signer = Signer(os.path.join(person, "sign.pem"), os.path.join(person, "sign.key"))
    bodies = [signer.sign(f"{tag} application {i}\n".encode()) for i in range(bodies_per_run)]
    with Server(data=data, args=["--config", config, "--no-access-log"]) as srv:
        next_body, done, errors, lock = [0], [0], [0], threading.Lock()
        stop = time.monotonic() + duration

        def client():
            conn = connect(srv.port)
            while time.monotonic() < stop:
                with lock:
                    i = next_body[0]
                    next_body[0] += 1
                if i >= len(bodies):
                    return
                try:
                    status, _, _ = post(conn, "/v1/intake", bodies[i])
                except OSError:
                    status = None
                with lock:
                    done[0] += status == 201
                    errors[0] += status != 201
                if status is None:
                    return

        threads = [threading.Thread(target=client) for _ in range(connections)]
        cpu_start = cpu_seconds(srv.proc.pid)
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        cpu = cpu_seconds(srv.proc.pid) - cpu_start
        if next_body[0] >= len(bodies):
            print(f"warning: ran out of pre-signed applications ({tag})", file=sys.stderr)
        if errors[0]:
            raise RuntimeError(f"{errors[0]} submissions were not stored ({tag})")
        return done[0] / elapsed, 1000 * cpu / max(done[0], 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--applications", type=int, default=4000)
    a = ap.parse_args()
    results = {"group commit (batch_max 64)": [], "one commit per receipt (batch_max 1)": []}
    cpu_ms = {k: [] for k in results}
    settings = [("group commit (batch_max 64)", 64), ("one commit per receipt (batch_max 1)", 1)]
    with tempfile.TemporaryDirectory(prefix="kensho-load-") as tmp:
        for r in range(a.repeat):
            for name, batch_max in settings:
                rate, ms = one_run(batch_max, a.duration, a.connections, a.applications, tmp,
                                   f"{batch_max}-{r}")
                results[name].append(rate)
                cpu_ms[name].append(ms)
                print(f"run {r + 1}: {name}: {rate:.0f} receipts/s, "
                      f"kenshod CPU {ms:.2f} ms/receipt", flush=True)
    medians = {k: statistics.median(v) for k, v in results.items()}
    for k, v in medians.items():
        print(f"median {k}: {v:.0f} receipts/s, kenshod CPU "
              f"{statistics.median(cpu_ms[k]):.2f} ms/receipt, over {a.repeat} runs of "
              f"{a.duration:.0f} s, {a.connections} connections")
    names = [s[0] for s in settings]
    print(f"ratio: {medians[names[0]] / medians[names[1]]:.2f}x")


if __name__ == "__main__":
    main()
