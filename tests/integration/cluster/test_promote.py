#!/usr/bin/env python3
"""Promotion and fencing (docs/cluster.md, "Promotion"): a primary with
replication.sync_replicas = 1 and replication.peers, and one replica, on
loopback.

- SIGKILL the primary during a stream of intake submissions; `kensho
  promote` refuses while the replica's DIR/ca has no keys; with the keys,
  POST /v1/admin/promote on the replica, and restart it as the primary:
  every receipt that was acknowledged is there, byte for byte, and
  it takes writes at epoch 2;
- the old primary, restarted as a primary, learns from its peer that it was
  replaced: /readyz fails saying so, intake and `kensho revoke` are refused
  naming the new primary;
- restarted with --replica-of the new primary it rejoins (a fresh snapshot
  when its log went further than the new primary's) and follows it."""
import base64
import glob
import http.client
import json
import os
import shutil
import ssl
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "intake"))
from harness import KENSHO, Server, check, run, wait_for  # noqa: E402
from intake_common import Signer, issue  # noqa: E402


def state(node, tls):
    """GET /v1/replication/state over TLS with the replica certificate."""
    ctx = ssl.create_default_context(cafile=f"{tls}/ca.pem")
    ctx.load_cert_chain(f"{tls}/clients/replica.pem", f"{tls}/clients/replica.key")
    conn = http.client.HTTPSConnection("localhost", node.tls_port, context=ctx, timeout=10)
    conn.request("GET", "/v1/replication/state")
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, json.loads(body) if r.status == 200 else body


def post_intake(port, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/v1/intake", body=body, headers={"Content-Type": "application/cms"})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def receipt_of(node, number):
    """The signed receipt GET /v1/intake/N holds (base64 in its JSON)."""
    status, _, body = node.get(f"/v1/intake/{number}")
    return base64.b64decode(json.loads(body)["receipt_cms"]) if status == 200 else None


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-promote-") as tmp:
        pdata, rdata = os.path.join(tmp, "primary"), os.path.join(tmp, "replica")
        pconf, rconf, rprimary = (os.path.join(tmp, n) for n in ("p.conf", "r.conf", "r-primary.conf"))
        primary = Server(data=pdata, tls=True, args=["--config", pconf])
        replica = Server(data=rdata, tls=True, args=["--config", rconf, "--replica-of",
                                                     f"https://localhost:{primary.tls_port}"])
        tls = os.path.join(pdata, "tls")
        client = (f"replication.cert = {tls}/clients/replica.pem\n"
                  f"replication.key = {tls}/clients/replica.key\n"
                  f"replication.ca = {tls}/ca.pem\n")
        with open(pconf, "w") as f:
            f.write(client + "replication.sync_replicas = 1\nreplication.sync_timeout = 5s\n"
                    f"replication.peers = https://localhost:{replica.tls_port}\n"
                    "replication.peer_interval = 500ms\nintake.allow_plain = true\n")
        with open(rconf, "w") as f:
            f.write(client + f"tls.trust = {tls}/ca.pem\ntls.policy = {tls}/policy.conf\n"
                    "replication.poll_wait = 1s\nreplication.files_interval = 1s\n"
                    "intake.allow_plain = true\n")
        with open(rprimary, "w") as f:
            f.write(client + f"tls.trust = {tls}/ca.pem\ntls.policy = {tls}/policy.conf\n"
                    f"replication.peers = https://localhost:{primary.tls_port}\n"
                    "intake.allow_plain = true\n")
        acknowledged = {}
        try:
            primary.start()
            # the same TLS PKI on both nodes, as an operator deploys it
            shutil.copytree(tls, os.path.join(rdata, "tls"))
            replica.start()
            wait_for("the replica is ready", lambda: replica.get("/readyz")[0] == 200, 60)
            status, st = state(primary, tls)
            check(status == 200 and st["role"] == "primary" and st["epoch"] == 1,
                  f"the primary's state: primary at epoch 1 ({st})")

            # --- intake stream; SIGKILL the primary in the middle ----------
            person = os.path.join(tmp, "person")
            issue(pdata, person)
            signer = Signer(os.path.join(person, "sign.pem"), os.path.join(person, "sign.key"))
            stop = threading.Event()
            errors = []

            def stream(k):
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        status, headers, body = post_intake(primary.port, signer.sign(f"app {k}-{i}".encode()))
                    except OSError as e:
                        errors.append(str(e))
                        return
                    if status == 201:
                        acknowledged[int(headers["kensho-receipt"])] = body
            threads = [threading.Thread(target=stream, args=(k,)) for k in range(3)]
            for t in threads:
                t.start()
            wait_for("receipts acknowledged while the replica follows", lambda: len(acknowledged) >= 30, 60)
            primary.proc.kill()
            primary.proc.wait()
            stop.set()
            for t in threads:
                t.join(40)
            print(f"# {len(acknowledged)} receipts acknowledged before SIGKILL", flush=True)

            # --- promote the replica ------------------------------------------
            r = run(KENSHO, "--data", rdata, "promote", check=False)
            check(r.returncode != 0 and "sign-ca.key" in r.stderr,
                  f"promote without the keys is refused, naming them: {r.stderr.strip()[:200]}")
            for key in glob.glob(os.path.join(pdata, "ca", "*.key")):
                shutil.copy2(key, os.path.join(rdata, "ca"))
            # through the replica's admin API (the command line does the same)
            ctx = ssl.create_default_context(cafile=f"{tls}/ca.pem")
            ctx.load_cert_chain(f"{tls}/clients/operator.pem", f"{tls}/clients/operator.key")
            conn = http.client.HTTPSConnection("localhost", replica.tls_port, context=ctx, timeout=30)
            conn.request("POST", "/v1/admin/promote", body=b"",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            resp = conn.getresponse()
            answer = json.loads(resp.read())
            check(resp.status == 200 and answer["epoch"] == 2,
                  f"POST /v1/admin/promote on the replica: epoch 2 ({resp.status} {answer})")
            replica.stop()
            new = Server(data=rdata, tls=True, args=["--config", rprimary])
            new.port, new.tls_port = replica.port, replica.tls_port
            with new:
                status, st = state(new, tls)
                check(status == 200 and st["role"] == "primary" and st["epoch"] == 2,
                      f"restarted without --replica-of: primary at epoch 2 ({st})")
                missing = [n for n, body in acknowledged.items() if receipt_of(new, n) != body]
                check(not missing, f"every one of the {len(acknowledged)} acknowledged receipts is on "
                      f"the new primary byte for byte (differing: {missing[:5]})")
                status, headers, _ = post_intake(new.port, signer.sign(b"after promotion"))
                check(status == 201, f"the new primary takes intake ({status})")

                # --- the old primary comes back: fenced --------------------
                old = Server(data=pdata, tls=True, args=["--config", pconf])
                old.port, old.tls_port = primary.port, primary.tls_port
                with old:
                    ready = old.get("/readyz")
                    check(ready[0] == 503 and b"fenced" in ready[2],
                          f"the old primary is not ready, fenced: {ready[2][:200]}")
                    status, _, body = post_intake(old.port, signer.sign(b"to the old primary"))
                    answer = json.loads(body)
                    check(status == 503 and answer["error"] == "fenced"
                          and answer["primary"] == f"https://localhost:{new.tls_port}",
                          f"intake on the old primary: 503 fenced naming the new one ({answer})")
                    auth = os.path.join(person, "auth.pem")
                    serial = run("openssl", "x509", "-in", auth, "-noout", "-serial").stdout.split("=")[1].strip()
                    r = run(KENSHO, "--data", pdata, "revoke", "--kind", "auth", "--serial", serial,
                            "--reason", "keyCompromise", check=False)
                    check(r.returncode != 0 and "fenced" in r.stderr,
                          f"kensho revoke on the old primary is refused: {r.stderr.strip()[:200]}")

                # --- it rejoins as a replica of the new primary ---------------
                rejoin_conf = os.path.join(tmp, "rejoin.conf")
                with open(rejoin_conf, "w") as f:
                    f.write(client + "replication.poll_wait = 1s\nreplication.files_interval = 1s\n")
                with Server(data=pdata, args=["--config", rejoin_conf, "--replica-of",
                                              f"https://localhost:{new.tls_port}"]) as rejoined:
                    wait_for("the old primary, rejoined as a replica, is ready",
                             lambda: rejoined.get("/readyz")[0] == 200, 60)
                    run(KENSHO, "--data", rdata, "revoke", "--kind", "auth", "--serial", serial,
                        "--reason", "keyCompromise")
                    wait_for("it follows the new primary (a revocation made there)",
                             lambda: json.loads(rejoined.get(f"/v1/certs/auth/{serial}")[2] or b"{}")
                             .get("status") == "revoked")
        finally:
            for s in (primary, replica):
                s.stop()


if __name__ == "__main__":
    main()
