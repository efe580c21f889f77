"""Store-wide signature counts by purpose: `kensho issue`, `gen`, `presign`,
kenshod's refresher and its live signing all add to the same counters
(DIR/store/counters), and any worker's /metrics shows the sum of every
process's signatures as `kensho_ocsp_signatures_total{purpose=...}`, as does
`kensho ocsp status` (text, --json, and --watch's signatures per second).
Also /metrics' batch size and oldest answer's age gauges."""
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import make_data  # noqa: E402
from harness import KENSHO, Server, check, run, wait_for  # noqa: E402

NONCE_REQUESTS = 6


def status(data, *args):
    return json.loads(run(KENSHO, "--data", data, "ocsp", "status", "--json", *args).stdout.splitlines()[0])


def scrape(server):
    """Every kensho_ocsp_signatures_total series of one scrape, by purpose,
    and the whole text."""
    _, _, body = server.get("/metrics")
    text = body.decode()
    counts = {m.group(1): float(m.group(2)) for m in
              re.finditer(r'^kensho_ocsp_signatures_total\{purpose="(\w+)"\} (\S+)$', text, re.M)}
    return counts, text


def gauge(text, name):
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def main():
    tmp = tempfile.TemporaryDirectory(prefix="kensho-sigcount-")
    data, (alice,) = make_data(tmp.name, people=1)  # issue pre-signs both certificates
    s = status(data)
    check(s["signatures"] == {"live": 0, "refresh": 0, "issuance": 2},
          f"kensho issue counted two issuance signatures: {s['signatures']}")
    run(KENSHO, "--data", data, "gen", "--people", "20", "--seed", "5")  # none pre-signed
    missing = status(data)["missing"]
    check(missing > 20, f"gen left {missing} answers to sign")
    text = run(KENSHO, "--data", data, "ocsp", "status").stdout
    check(re.search(r"^signed issuance\s+2$", text, re.M) and re.search(r"^signed live\s+0$", text, re.M),
          "the text form prints the counts by purpose")

    config = os.path.join(tmp.name, "kenshod.conf")
    with open(config, "w") as f:
        f.write("log.access = off\n")
    with Server(data=data, args=["--workers", "2", "--config", config]) as srv:
        # The refresher (one per store, under its lease) signs the missing ones.
        wait_for("the refresher signed every missing answer",
                 lambda: status(data)["missing"] == 0, timeout=30)
        wait_for("the refresh count reached the missing answers",
                 lambda: status(data)["signatures"]["refresh"] >= missing, timeout=10)
        refresh = status(data)["signatures"]["refresh"]
        check(refresh == missing, f"each missing answer signed once by the refresher ({refresh} for {missing})")

        # Nonce requests are signed live on whichever worker accepts them.
        ca = os.path.join(data, "ca", "sign-ca.pem")
        for _ in range(NONCE_REQUESTS):
            r = run("openssl", "ocsp", "-issuer", ca, "-cert", alice.sign, "-url", srv.url + "/ocsp",
                    "-CAfile", ca, check=False)
            check("good" in r.stdout and "Nonce" not in r.stderr, "a nonce answer, signed live")
        # Signatures by another process (kensho issue) show in kenshod's /metrics at once.
        run(KENSHO, "--data", data, "issue", "--name", "試験　花子", "--birth", "1990-03-04", "--sex", "2",
            "--address", "東京都千代田区霞が関2-1-2", "--out", os.path.join(tmp.name, "hanako"))
        want = {"live": NONCE_REQUESTS, "refresh": missing, "issuance": 4}
        # Each scrape opens a new connection: with SO_REUSEPORT they land on
        # both workers, and every one must show the store-wide sums.
        for _ in range(8):
            counts, text = scrape(srv)
            check(counts == want, f"/metrics shows the store-wide counts {want}: {counts}")
        check("# TYPE kensho_ocsp_signatures_total counter" in text, "the signature counts are counters")
        check(gauge(text, "kensho_ocsp_batch_size") == 1, "batch size 1 without ocsp.batch")
        age = gauge(text, "kensho_ocsp_cached_answer_oldest_age_seconds")
        check(age is not None and age >= 0, f"the oldest answer's age is a gauge ({age})")
        s = status(data)
        check(s["signatures"] == want, f"kensho ocsp status agrees: {s['signatures']}")

        # --watch: per-second rates by purpose over each interval.
        r = run(KENSHO, "--data", data, "ocsp", "status", "--json", "--watch", "0.3", "--count", "2")
        lines = r.stdout.splitlines()
        check(len(lines) == 3, f"one status and two rate lines: {lines}")
        rates = [json.loads(line)["signatures_per_second"] for line in lines[1:]]
        check(all(set(x) == {"live", "refresh", "issuance"} and all(v >= 0 for v in x.values())
                  for x in rates), f"rates by purpose: {rates}")
        r = run(KENSHO, "--data", data, "ocsp", "status", "--watch", "0", check=False)
        check(r.returncode != 0, "--watch 0 is refused")


if __name__ == "__main__":
    main()
