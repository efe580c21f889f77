"""deploy/'s dashboard and alert rules against the real kenshod: the rules
pass `promtool check rules`, each alert fires on its synthetic series
(`promtool test rules` with deploy/prometheus/kensho-alerts.test.yml), the
Grafana dashboard is JSON whose every query is valid PromQL, and every
kensho_* metric name the dashboard or the rules use is exposed by a running
kenshod's /metrics (a histogram's base name by its _bucket, _sum and _count
series), so a renamed metric cannot leave a panel or an alert silently empty."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import SOURCE, Server, check  # noqa: E402

DEPLOY = os.path.join(SOURCE, "deploy")
RULES = os.path.join(DEPLOY, "prometheus", "kensho-alerts.yml")
RULE_TESTS = os.path.join(DEPLOY, "prometheus", "kensho-alerts.test.yml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "kensho.json")
NAME = re.compile(r"kensho_[a-z_]+")


def promtool(*args):
    tool = shutil.which("promtool")
    check(tool is not None, "promtool is installed (Debian package prometheus; scripts/setup)")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)


def dashboard_queries(dashboard):
    """Every target expression of every panel, rows' nested panels too."""
    out = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            out += [t["expr"] for t in inner.get("targets", [])]
    return out


def check_promql(queries):
    """Parses each query with promtool by making it a recording rule; the
    dashboard's variables are replaced by what Grafana would put there."""
    with tempfile.TemporaryDirectory(prefix="kensho-promql-") as tmp:
        path = os.path.join(tmp, "dashboard-queries.yml")
        with open(path, "w") as f:
            f.write("groups:\n  - name: dashboard\n    rules:\n")
            for i, q in enumerate(queries):
                q = q.replace("$__rate_interval", "1m").replace("$instance", ".*")
                f.write(f"      - record: dashboard_query_{i}\n        expr: {json.dumps(q)}\n")
        r = promtool("check", "rules", path)
        check(r.returncode == 0, f"every dashboard query is valid PromQL: {r.stdout}{r.stderr}")


def exposed_names(text):
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines()
            if line and not line.startswith("#")}


def main():
    r = promtool("check", "rules", RULES)
    check(r.returncode == 0 and "SUCCESS" in r.stdout, f"promtool check rules: {r.stdout}{r.stderr}")
    r = promtool("test", "rules", RULE_TESTS)
    check(r.returncode == 0 and "SUCCESS" in r.stdout, f"promtool test rules: {r.stdout}{r.stderr}")
    with open(RULES) as f:
        rules_text = f.read()
    alerts = set(re.findall(r"^\s*- alert: (\w+)", rules_text, re.M))
    with open(RULE_TESTS) as f:
        tested = set(re.findall(r"^\s*alertname: (\w+)", f.read(), re.M))
    check(alerts and alerts <= tested, f"every alert has a unit test (untested: {alerts - tested})")

    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    queries = dashboard_queries(dashboard)
    check(len(queries) >= 10, f"the dashboard has panels with queries ({len(queries)})")
    check_promql(queries)

    wanted = set(NAME.findall(json.dumps(dashboard))) | set(NAME.findall(rules_text))
    with Server(tls=True) as srv:
        # A few requests first, so routes' counters and histograms exist.
        for path in ("/healthz", "/readyz", "/crl/sign.crl", "/ocsp/AA", "/v1/certs/sign/00"):
            srv.get(path)
        status, _, body = srv.get("/metrics")
        check(status == 200, "/metrics answers")
        names = exposed_names(body.decode())
    missing = []
    for name in sorted(wanted):
        forms = {name, name + "_bucket", name + "_sum", name + "_count"}
        if not forms & names:
            missing.append(name)
    check(not missing, f"every metric the dashboard and rules use is exposed "
                       f"({len(wanted)} names; missing: {missing})")


if __name__ == "__main__":
    main()
