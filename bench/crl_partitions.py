#!/usr/bin/env python3
"""CRL partitions benchmark: a synthetic population from `kensho gen`
(people spread over the municipalities by population, data/municipalities.tsv),
then per kind the CA's whole full CRL (`kensho crl --kind K`) against every
municipality's partition (`kensho crl --kind K --partition all`), in
alternating runs. Prints medians of wall time, and the CRLs' sizes: the whole
CRL, all partitions together, the largest partition and the median one.

  python3 bench/crl_partitions.py [--build build] [--people 1000000] [--runs 3]
"""
import argparse
import glob
import os
import re
import statistics
import subprocess
import tempfile
import time


def timed(cmd):
    start = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--people", type=int, default=1000000)
    ap.add_argument("--revoked", default="0.05")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    kensho = os.path.abspath(os.path.join(args.build, "ca", "kensho"))
    with tempfile.TemporaryDirectory(prefix="kensho-partition-bench-") as tmp:
        data = os.path.join(tmp, "data")
        subprocess.run([kensho, "--data", data, "ca", "init", "--crl-partitions"], check=True,
                       capture_output=True)
        gen_s = timed([kensho, "--data", data, "gen", "--people", str(args.people),
                       "--revoked", args.revoked])
        print(f"{args.people} people, --revoked {args.revoked}: kensho gen {gen_s:.1f} s")
        for kind in ("sign", "auth"):
            whole, parts = [], []
            for _ in range(args.runs):
                whole.append(timed([kensho, "--data", data, "crl", "--kind", kind]))
                parts.append(timed([kensho, "--data", data, "crl", "--kind", kind,
                                    "--partition", "all"]))
            whole_size = os.path.getsize(os.path.join(data, "crl", f"{kind}.crl"))
            sizes = [os.path.getsize(p) for p in glob.glob(os.path.join(data, "crl", f"{kind}-*.crl"))
                     if re.search(r"-\d{6}\.crl$", p)]
            print(f"{kind}: {args.runs} runs each, medians")
            print(f"  whole CRL       {statistics.median(whole):7.2f} s  {whole_size} bytes")
            print(f"  {len(sizes)} partitions {statistics.median(parts):7.2f} s  {sum(sizes)} bytes in all, "
                  f"largest {max(sizes)}, median {int(statistics.median(sizes))}")


if __name__ == "__main__":
    main()
