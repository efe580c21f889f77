#!/usr/bin/env python3
"""The operator's status page: GET / is one self-contained HTML page and
GET /v1/status its JSON, for loopback callers of a plain listener (while
status.local is true) and operators over TLS (tests/integration/tls/
test_roles_matrix.py covers the TLS callers). A headless Chromium loads the
page with --workers 2: no console errors, and the numbers its script wrote
match /metrics scraped just before and after."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Server, check, wait_for  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
REQUESTS = 40  # made before the page loads, so the chart has something to show


def scrape(srv):
    status, _, body = srv.get("/metrics")
    assert status == 200, status
    return body.decode()


def metric(text, series):
    m = re.search(r"^" + re.escape(series) + r" (\S+)$", text, re.M)
    assert m, f"{series} not in /metrics"
    return float(m.group(1))


def requests_total(text):
    return sum(float(v) for v in re.findall(r"^kensho_http_requests_total\{[^}]*\} (\S+)$", text, re.M))


def status_json(srv):
    status, headers, body = srv.get("/v1/status")
    check(status == 200, f"/v1/status answers 200 on loopback (got {status})")
    check(headers.get("Content-Type") == "application/json", "/v1/status is JSON")
    return json.loads(body)


def dom_text(dom, element_id):
    m = re.search(r'id="' + re.escape(element_id) + r'"[^>]*>([^<]*)<', dom)
    assert m, f"#{element_id} not in the page's DOM"
    return m.group(1)


def number(text):
    return float(text.replace(",", ""))


def load_in_chromium(url):
    """The DOM after the page's scripts ran, and Chromium's log."""
    profile = tempfile.mkdtemp(prefix="kensho-chromium-")
    try:
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
             "--virtual-time-budget=5000", "--dump-dom", url],
            capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    check(proc.returncode == 0, f"chromium loaded {url} (exit {proc.returncode})")
    return proc.stdout, proc.stderr


def check_page_and_json(srv):
    status, headers, body = srv.get("/")
    check(status == 200, "GET / answers 200 to a loopback caller")
    check(headers.get("Content-Type", "").startswith("text/html"), "GET / is HTML")
    page = body.decode()
    # Nothing loads from elsewhere: the network it runs on is closed.
    check(not re.search(r"<(link|img|iframe)\b|\bsrc=|https?://(?!www\.w3\.org/2000/svg)", page),
          "the page references no external asset")
    check("default-src 'none'" in headers.get("Content-Security-Policy", ""),
          "the page's CSP forbids loading anything else")
    status, _, _ = srv.get("/nope")
    check(status == 404, "an unknown path still answers 404 (/ is not a prefix route)")

    before = scrape(srv)
    s = status_json(srv)
    after = scrape(srv)
    version = re.search(r'^kensho_build_info\{version="([^"]+)"\} 1$', before, re.M).group(1)
    check(s["version"] == version, f"version {s['version']} as in kensho_build_info")
    check(s["workers"] == 2 == metric(before, "kensho_workers"), "2 workers, as on /metrics")
    check(s["started_at"] == metric(before, "kensho_start_time_seconds"),
          "start time as kensho_start_time_seconds")
    check(s["replication"]["role"] == "primary" and s["replication"]["epoch"] == 1,
          "a node without --replica-of: primary at epoch 1")
    check(requests_total(before) <= s["requests"]["total"] <= requests_total(after),
          "requests total between the scrapes before and after")
    crls = {(c["kind"], c["delta"]): c for c in s["crls"]}
    check(len(crls) == 6, "six lists: each CA's full and delta CRLs and its ARL")
    check(("sign-arl", False) in crls and ("auth-arl", False) in crls, "the ARLs are listed")
    for (kind, delta), c in crls.items():
        labels = f'kind="{kind}",delta="{"true" if delta else "false"}"'
        check(c["number"] == metric(after, f"kensho_crl_number{{{labels}}}"),
              f"{kind} delta={delta} cRLNumber as on /metrics")
        check(c["next_update"] == metric(after, f"kensho_crl_next_update_seconds{{{labels}}}"),
              f"{kind} delta={delta} nextUpdate as on /metrics")
    check(s["ocsp"]["cached_responses"] > 0, "the demo population's responses are counted")
    # Each worker's window starts when that worker did; one that started
    # after the requests above sees the next ones (the metrics are shared).
    for _ in range(20):
        points = s["window"]["points"]
        if points and sum(p["requests"] for p in points) > 0:
            break
        for _ in range(5):
            srv.get("/healthz")
        s = status_json(srv)
    check(points and sum(p["requests"] for p in points) > 0,
          "the rolling window holds requests made since start")
    check(sum(p["requests"] for p in points) <= s["requests"]["total"],
          "the window holds no more requests than were answered")
    check(any(p["p99_ms"] is not None for p in points), "latency percentiles computed")


def check_freshness(srv):
    """Worker 0 counts the cached answers over the whole store off the loop;
    every worker's /v1/status and /metrics then show the same counts, which
    add up to the store's certificates."""
    counted = wait_for("the cached OCSP answers are counted",
                       lambda: status_json(srv)["ocsp"]["cached_answers"]["counted_at"])
    s = status_json(srv)
    f = s["ocsp"]["cached_answers"]
    m = re.search(r"demo data in .*: \d+ people, (\d+) certificates, \d+ revoked, "
                  r"and the demo person's (\d+) certificates", srv.output())
    check(m, "the start-up log gives the demo population's size")
    certificates = int(m.group(1)) + int(m.group(2))
    check(f["fresh"] + f["due"] + f["missing"] == certificates,
          f"fresh {f['fresh']} + due {f['due']} + missing {f['missing']} = {certificates} certificates")
    check(f["fresh"] + f["due"] <= s["ocsp"]["cached_responses"],
          "no more usable answers than cached responses")
    check(f["fresh"] > 0, "the answers pre-signed at issuance are fresh")
    text = scrape(srv)
    for state in ("fresh", "due", "missing"):
        check(metric(text, f'kensho_ocsp_cached_answers{{state="{state}"}}') == f[state],
              f"{state} as on /metrics")
    check(metric(text, "kensho_ocsp_cached_answers_counted_seconds") == counted,
          "the count's time as on /metrics")
    # Every worker answers the same figures (worker 0 counted them).
    for _ in range(8):
        g = status_json(srv)["ocsp"]["cached_answers"]
        check(g["counted_at"] == counted and g["fresh"] == f["fresh"], "the same counts from any worker")
    return f


def check_chromium(srv, freshness):
    if not os.access(CHROMIUM, os.X_OK):
        print(f"SKIP: {CHROMIUM} is missing (scripts/setup installs Debian's chromium)")
        return
    before = scrape(srv)
    dom, log = load_in_chromium(srv.url + "/")
    after = scrape(srv)
    # The page logs nothing, so any console message (an uncaught exception,
    # a CSP refusal, a failed fetch) is a fault.
    errors = [line for line in log.splitlines()
              if ":CONSOLE" in line or "Uncaught" in line or "Refused to" in line]
    check(not errors, "no console messages: " + "; ".join(errors[:3]))
    loaded = re.search(r'<body[^>]*data-loaded="(\d+)"', dom)
    check(loaded and int(loaded.group(1)) >= 1, "the page's script filled in /v1/status")
    version = re.search(r'kensho_build_info\{version="([^"]+)"\}', before).group(1)
    check(dom_text(dom, "version") == version, "page: version as on /metrics")
    check(number(dom_text(dom, "workers")) == metric(before, "kensho_workers"),
          "page: worker count as on /metrics")
    check(dom_text(dom, "replication") == "primary", "page: primary")
    shown = number(dom_text(dom, "requests-total"))
    check(requests_total(before) <= shown <= requests_total(after),
          f"page: requests total {shown:.0f} between the scrapes before "
          f"({requests_total(before):.0f}) and after ({requests_total(after):.0f})")
    for kind in ("sign", "auth"):
        for delta in (False, True):
            element = f"crl-{kind}{'-delta' if delta else ''}-number"
            labels = f'kind="{kind}",delta="{"true" if delta else "false"}"'
            check(number(dom_text(dom, element)) == metric(after, f"kensho_crl_number{{{labels}}}"),
                  f"page: {kind} {'delta' if delta else 'full'} cRLNumber as on /metrics")
    check("<path" in dom.split('id="chart-rate"', 1)[1].split("</svg>", 1)[0],
          "page: the rate chart was drawn")
    shown = [number(v) for v in dom_text(dom, "ocsp-freshness").split(" / ")]
    check(shown == [freshness["fresh"], freshness["due"], freshness["missing"]],
          f"page: answers fresh / due / missing as counted ({shown})")


def check_local_off():
    with tempfile.TemporaryDirectory(prefix="kensho-status-") as tmp:
        config = os.path.join(tmp, "kenshod.conf")
        with open(config, "w") as f:
            f.write("status.local = false\n")
        with Server(args=["--config", config]) as srv:
            for path in ("/", "/v1/status"):
                status, _, body = srv.get(path)
                check(status == 403, f"{path} refused on loopback with status.local = false")
                detail = json.loads(body)["detail"]
                check("status.local" in detail and "operator" in detail,
                      f"the refusal names what opens it: {detail}")
            status, _, _ = srv.get("/healthz")
            check(status == 200, "other routes unaffected")


def main():
    with Server(args=["--workers", "2"]) as srv:
        for _ in range(REQUESTS):
            status, _, _ = srv.get("/healthz")
            assert status == 200
        check_page_and_json(srv)
        freshness = check_freshness(srv)
        check_chromium(srv, freshness)
    check_local_off()


if __name__ == "__main__":
    main()
