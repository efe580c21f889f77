#!/usr/bin/env python3
"""CRL generation benchmark: `kensho crl` on a store of N revoked
certificates against `openssl ca -gencrl` on an index.txt of the same
serials, signed by the same CA key, alternating runs. Prints medians of wall
time and peak RSS (and kensho's peak anonymous RSS, its heap, sampled from
/proc).

  python3 bench/crl_generate.py [--build build] [--entries 1000000] [--runs 5]
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time


def run_measured(cmd, cwd=None, sample_anon=False):
    """Runs cmd; returns (seconds, peak RSS KiB, peak RssAnon KiB or 0)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    anon = 0
    while True:
        # wait4 (not Popen.poll) so the child's own rusage is kept
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG if sample_anon else 0)
        if pid:
            proc.returncode = status
            break
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        anon = max(anon, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.01)
    elapsed = time.monotonic() - start
    if status != 0:
        raise RuntimeError(f"{cmd[0]} failed with status {status}")
    return elapsed, usage.ru_maxrss, anon


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--entries", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    kensho = os.path.abspath(os.path.join(args.build, "ca", "kensho"))
    fill = os.path.abspath(os.path.join(args.build, "tests", "integration", "ca", "crl_store_fill"))

    with tempfile.TemporaryDirectory(prefix="kensho-crl-bench-") as tmp:
        data = os.path.join(tmp, "data")
        subprocess.run([kensho, "--data", data, "ca", "init"], check=True, capture_output=True)
        subprocess.run([fill, "--data", data, "--kind", "sign", "--count", str(args.entries)],
                       check=True, capture_output=True)
        peer = os.path.join(tmp, "peer")
        os.mkdir(peer)
        # the same serials (7e || 8-octet counter), all keyCompromise
        with open(os.path.join(peer, "index.txt"), "w") as f:
            for i in range(1, args.entries + 1):
                f.write(f"R\t491231000000Z\t261122000000Z,keyCompromise\t7E{i:016X}\tunknown\t/CN=x{i}\n")
        with open(os.path.join(peer, "crlnumber"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(peer, "ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\n"
                    "default_md=sha256\ndefault_crl_days=2\ncrl_extensions=e\n"
                    "unique_subject=no\n[e]\nauthorityKeyIdentifier=keyid:always\n")
        ca_dir = os.path.join(data, "ca")
        kensho_runs, openssl_runs = [], []
        for _ in range(args.runs):
            kensho_runs.append(run_measured(
                [kensho, "--data", data, "crl", "--kind", "sign",
                 "--out", os.path.join(tmp, "kensho.crl")], sample_anon=True))
            openssl_runs.append(run_measured(
                ["openssl", "ca", "-config", "ca.cnf", "-gencrl", "-keyfile",
                 os.path.join(ca_dir, "sign-ca.key"), "-cert", os.path.join(ca_dir, "sign-ca.pem"),
                 "-outdir", peer, "-out", os.path.join(peer, "openssl.crl.pem")], cwd=peer))
        k_time = statistics.median(r[0] for r in kensho_runs)
        o_time = statistics.median(r[0] for r in openssl_runs)
        k_rss = statistics.median(r[1] for r in kensho_runs)
        o_rss = statistics.median(r[1] for r in openssl_runs)
        k_anon = statistics.median(r[2] for r in kensho_runs)
        size = os.path.getsize(os.path.join(tmp, "kensho.crl"))
        print(f"{args.entries} entries, {args.runs} runs each, medians "
              f"(kensho CRL {size} bytes)")
        print(f"  kensho crl        {k_time:7.2f} s  peak RSS {k_rss / 1024:6.0f} MiB "
              f"(anonymous {k_anon / 1024:.1f} MiB)")
        print(f"  openssl ca -gencrl {o_time:6.2f} s  peak RSS {o_rss / 1024:6.0f} MiB")
        print(f"  time ratio openssl/kensho {o_time / k_time:.2f}, RSS ratio {o_rss / k_rss:.2f}")


if __name__ == "__main__":
    main()
