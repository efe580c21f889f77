#!/usr/bin/env python3
"""Three kenshod nodes behind a real HAProxy running deploy/haproxy.cfg
(docs/cluster.md, "Behind HAProxy"): a primary and two replicas, each with a
server.listen_proxy listener; HAProxy terminates TLS on loopback.

- every node answers the same pre-signed OCSP bytes for a sample of the
  population, the same CRLs and the same lookups; so does HAProxy;
- under a constant open-loop load through HAProxy (kensho-bench, every
  answer checked), SIGKILL a replica, restart it, issue a person on the
  primary (the restarted replica catches up), then SIGKILL the primary:
  not one status request fails;
- a write through HAProxy with the primary down reaches a replica, the
  backup, which refuses it naming the primary."""
import json
import re
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import BUILD, KENSHO, SOURCE, Server, check, free_port, run, wait_for, wait_for_port  # noqa: E402

BENCH = os.path.join(BUILD, "bench", "kensho-bench")
DEPLOY_CFG = os.path.join(SOURCE, "deploy", "haproxy.cfg")
BALANCER_IP = "127.0.0.3"  # HAProxy's source towards the nodes, in proxy.trusted
PEOPLE = 300
# Known certificates only: an unknown serial has no pre-signed answer, and a
# replica, holding no key, answers it tryLater (docs/cluster.md).
MIX = "0.9,0.1,0"


def node_config(tmp, name, proxy_port, extra=""):
    path = os.path.join(tmp, f"{name}.conf")
    with open(path, "w") as f:
        f.write(f"server.listen_proxy = 127.0.0.1:{proxy_port}\n"
                f"proxy.trusted = {BALANCER_IP}/32\n" + extra)
    return path


def replica_extra(tls):
    return (f"tls.trust = {tls}/ca.pem\ntls.policy = {tls}/policy.conf\n"
            f"replication.cert = {tls}/clients/replica.pem\n"
            f"replication.key = {tls}/clients/replica.key\n"
            f"replication.ca = {tls}/ca.pem\n"
            "replication.poll_wait = 1s\n"
            "replication.files_interval = 1s\n"
            # longer than the test runs without a primary: the replicas stay ready
            "replication.max_lag = 120s\n")


def sampled_answers(data, url, out):
    """The answers one node gives for the same seeded sample of the
    population, each checked by kensho-bench (status as the store says)."""
    r = run(BENCH, "--url", url + "/ocsp", "--ocsp-data", data, "--pool", "40", "--seed", "7", "--mix", MIX,
            "--prefetch", "--setup-only", "--save-responses", out, check=False)
    if r.returncode != 0:
        print(r.stdout[-2000:], r.stderr[-2000:])
        return None
    with open(out) as f:
        return sorted(f.read().split())  # in the order they came


def main():
    if not shutil.which("haproxy"):
        print("1..0 # SKIP haproxy is not installed (scripts/setup installs it)")
        return
    with tempfile.TemporaryDirectory(prefix="kensho-lb-") as tmp:
        pdata = os.path.join(tmp, "primary")
        proxy_ports = [free_port() for _ in range(3)]
        hport = free_port()
        pconf = node_config(tmp, "primary", proxy_ports[0],
                            "crl.check_interval = 200ms\nreplication.retain = 100000\n")
        with Server(data=pdata, tls=True, args=["--config", pconf]) as primary:
            tls = os.path.join(pdata, "tls")
            run(KENSHO, "--data", pdata, "gen", "--people", PEOPLE, "--revoked", "0.1", "--seed", "3")
            run(KENSHO, "--data", pdata, "presign")
            primary_url = f"https://localhost:{primary.tls_port}"
            replicas = []
            for i in (1, 2):
                conf = node_config(tmp, f"replica{i}", proxy_ports[i], replica_extra(tls))
                replicas.append(Server(data=os.path.join(tmp, f"replica{i}"),
                                       args=["--config", conf, "--replica-of", primary_url]))
            try:
                for r in replicas:
                    r.start()
                nodes = [primary] + replicas
                for n in replicas:
                    wait_for(f"replica on {n.port} ready", lambda n=n: n.get("/readyz")[0] == 200, 60)

                # --- the same bytes on every node --------------------------
                def same_answers():
                    got = [sampled_answers(pdata, n.url, os.path.join(tmp, f"answers{k}"))
                           for k, n in enumerate(nodes)]
                    return got if got[0] and got[0] == got[1] == got[2] else None
                answers = wait_for("OCSP: the same pre-signed bytes from all three nodes for 80 sampled "
                                   "certificates", same_answers, 60)
                for crl in ("/crl/sign.crl", "/crl/auth.crl"):
                    wait_for(f"{crl}: the same bytes on all three nodes",
                             lambda crl=crl: len({n.get(crl)[2] for n in nodes}) == 1
                             and nodes[0].get(crl)[0] == 200)
                feed = json.loads(primary.get("/v1/changes?after=0&limit=5")[2])
                lookups = [f"/v1/certs/{c['kind']}/{c['serial']}" for c in feed["changes"]] \
                    or ["/v1/certs/sign/00"]
                for path in lookups:
                    check(len({n.get(path)[2] for n in nodes}) == 1, f"lookup {path}: the same JSON on all three")

                # --- HAProxy in front ---------------------------------------
                bundle = os.path.join(tmp, "server.bundle")
                with open(bundle, "w") as f:
                    f.write(open(f"{tls}/server.pem").read() + open(f"{tls}/server.key").read())
                os.chmod(bundle, 0o600)
                env = dict(os.environ, KENSHO_LB_BIND=f"127.0.0.1:{hport}", KENSHO_LB_CERT=bundle,
                           KENSHO_LB_CLIENT_CA=f"{tls}/ca.pem", KENSHO_LB_SOURCE=BALANCER_IP,
                           **{f"KENSHO_BACKEND_{i + 1}": f"127.0.0.1:{p}" for i, p in enumerate(proxy_ports)})
                r = subprocess.run(["haproxy", "-c", "-q", "-f", DEPLOY_CFG], env=env, capture_output=True,
                                   text=True)
                check(r.returncode == 0, f"haproxy -c accepts deploy/haproxy.cfg: {r.stderr[-300:]}")
                hlog = open(os.path.join(tmp, "haproxy.log"), "wb")
                hap = subprocess.Popen(["haproxy", "-db", "-f", DEPLOY_CFG], stdout=hlog,
                                       stderr=subprocess.STDOUT, env=env)
                try:
                    wait_for_port(hport, proc=hap)
                    lb = f"https://localhost:{hport}"
                    via_lb = run(BENCH, "--url", lb + "/ocsp", "--cacert", f"{tls}/ca.pem", "--ocsp-data",
                                 pdata, "--pool", "40", "--seed", "7", "--mix", MIX, "--prefetch", "--setup-only",
                                 "--save-responses", os.path.join(tmp, "answers-lb"), check=False)
                    check(via_lb.returncode == 0 and sorted(open(os.path.join(tmp, "answers-lb")).read().split()) == answers[0],
                          "through HAProxy: the same bytes")

                    # --- constant load; a replica, then the primary, killed --
                    result = os.path.join(tmp, "load.json")
                    load = subprocess.Popen([BENCH, "--url", lb + "/ocsp", "--cacert", f"{tls}/ca.pem",
                                             "--ocsp-data", pdata, "--pool", "100", "--seed", "9", "--mix", MIX,
                                             "--rate", "200", "--connections", "8", "--duration", "24",
                                             "--check-share", "1", "--json", result],
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                    started = time.monotonic()
                    time.sleep(3)
                    victim = replicas[0]
                    victim.proc.kill()
                    victim.proc.wait()
                    print(f"# SIGKILL replica 1 at {time.monotonic() - started:.1f} s", flush=True)
                    time.sleep(3)
                    run(KENSHO, "--data", pdata, "issue", "--name", "Cluster Person", "--birth", "1990-01-01",
                        "--sex", "1", "--address", "東京都清瀬市上清戸1-1-1", "--out", os.path.join(tmp, "new"))
                    new_serial = run("openssl", "x509", "-in", os.path.join(tmp, "new", "sign.pem"), "-noout",
                                     "-serial").stdout.strip().split("=")[1].lower()
                    victim.start()
                    print(f"# replica 1 restarted at {time.monotonic() - started:.1f} s", flush=True)
                    wait_for("the restarted replica caught up (knows the person issued while it was down)",
                             lambda: victim.get(f"/v1/certs/sign/{new_serial}")[0] == 200)
                    wait_for("the restarted replica is ready again", lambda: victim.get("/readyz")[0] == 200)
                    left = 14 - (time.monotonic() - started)
                    if left > 0:
                        time.sleep(left)
                    primary.proc.kill()
                    primary.proc.wait()
                    print(f"# SIGKILL primary at {time.monotonic() - started:.1f} s", flush=True)
                    out, _ = load.communicate(timeout=120)
                    print(out.decode("utf-8", "replace")[-1500:])
                    res = json.load(open(result))
                    print(json.dumps(res))
                    errors = sum(res["errors"].values())
                    check(res["requests"] > 2000 and res["status"]["2xx"] == res["requests"]
                          and errors == 0 and res["checks"]["failed"] == 0
                          and res["checks"]["sampled"] == res["requests"],
                          f"under load through HAProxy, a replica and then the primary killed: "
                          f"{res['requests']} requests, {res['status']['2xx']} answered 200, "
                          f"{errors} errors, {res['checks']['failed']} of {res['checks']['sampled']} "
                          "answers wrong")

                    # HAProxy's log: after the termination state, actconn/feconn/beconn/srv_conn/
                    # retries ("+" when redispatched), then the queues
                    hlog.flush()
                    retried = [line for line in open(os.path.join(tmp, "haproxy.log"), errors="replace")
                               if re.search(r" [\w-]{4} \d+/\d+/\d+/\d+/\+?[1-9]\d* \d+/\d+ \"", line)]
                    print("".join(retried[:6]), end="")
                    check(retried, f"and that was HAProxy sending {len(retried)} requests a dead node dropped "
                          "to another node")

                    # --- writes with the primary down -----------------------
                    r = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", f"{tls}/ca.pem",
                                        "--cert", f"{tls}/clients/operator.pem", "--key",
                                        f"{tls}/clients/operator.key", "-H", "Content-Type: application/json",
                                        "--data-binary", "{}", "-o", "-", "-w", "\n%{http_code}",
                                        f"{lb}/v1/admin/revoke"], capture_output=True, text=True, timeout=30)
                    body, _, code = r.stdout.rpartition("\n")
                    check(code == "503" and json.loads(body).get("error") == "read_only_replica"
                          and json.loads(body).get("primary") == primary_url,
                          f"a write with the primary down reaches a backup replica: 503 read_only_replica "
                          f"naming the primary ({code} {body[:200]})")
                finally:
                    hap.terminate()
                    hap.wait(10)
                    hlog.close()
            finally:
                for r in replicas:
                    r.stop()


if __name__ == "__main__":
    main()
