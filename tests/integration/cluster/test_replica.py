#!/usr/bin/env python3
"""A primary and a replica on loopback (docs/cluster.md).

- the replica bootstraps from the primary's snapshot and files, then serves
  the same pre-signed OCSP bytes, the same lookup and the same CRL; after a
  revocation on the primary it converges to the primary's new answer, and
  its change feed (/v1/changes) is the primary's;
- it refuses writes with 503 read_only_replica naming the primary;
- stopped while changes happen, it catches up on restart;
- with a cursor older than the primary's retained log it takes a fresh
  snapshot on restart;
- with its primary gone for longer than replication.max_lag, /readyz fails."""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, Server, check, run, wait_for  # noqa: E402


def post(url, body, ctype):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def replica_config(tmp, primary_data, extra=""):
    tls = os.path.join(primary_data, "tls")
    path = os.path.join(tmp, "replica.conf")
    with open(path, "w") as f:
        f.write(f"replication.cert = {tls}/clients/replica.pem\n"
                f"replication.key = {tls}/clients/replica.key\n"
                f"replication.ca = {tls}/ca.pem\n"
                "replication.poll_wait = 1s\n"
                "replication.files_interval = 1s\n"
                "replication.max_lag = 5s\n"
                "intake.allow_plain = true\n" + extra)
    return path


def serial_of(pem):
    out = run("openssl", "x509", "-in", pem, "-noout", "-serial").stdout
    return out.strip().split("=")[1].lower()


def cert_status(resp_der, tmp):
    path = os.path.join(tmp, "resp.der")
    with open(path, "wb") as f:
        f.write(resp_der)
    text = run("openssl", "ocsp", "-respin", path, "-resp_text", "-noverify").stdout
    return "revoked" if "Cert Status: revoked" in text else "good" if "Cert Status: good" in text else "?"


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-cluster-") as tmp:
        pdata = os.path.join(tmp, "primary")
        rdata = os.path.join(tmp, "replica")
        pconf = os.path.join(tmp, "primary.conf")
        with open(pconf, "w") as f:
            f.write("crl.check_interval = 100ms\ncrl.delta_after_ms = 300\nreplication.retain = 5\n")
        with Server(data=pdata, tls=True, args=["--config", pconf]) as primary:
            primary_url = f"https://localhost:{primary.tls_port}"
            rconf = replica_config(tmp, pdata)
            replica = Server(data=rdata, args=["--config", rconf, "--replica-of", primary_url])
            with replica:
                check("installed a snapshot" in replica.output(), "the replica bootstrapped from a snapshot")
                check(not os.path.exists(os.path.join(rdata, "ca", "sign-ca.key"))
                      and not os.path.exists(os.path.join(rdata, "ca", "sign-ocsp.key")),
                      "no private key reached the replica")
                wait_for("the replica is ready", lambda: replica.get("/readyz")[0] == 200)
                metrics = replica.get("/metrics")[2].decode()
                check("kensho_replication_lag_seconds " in metrics
                      and "kensho_replication_applied_sequence " in metrics,
                      "the replica exports its lag and applied sequence")

                # the same pre-signed OCSP bytes, lookup and CRL
                demo = os.path.join(pdata, "demo", "sign.pem")
                req = os.path.join(tmp, "req.der")
                run("openssl", "ocsp", "-issuer", os.path.join(pdata, "ca", "sign-ca.pem"),
                    "-cert", demo, "-no_nonce", "-reqout", req)
                body = open(req, "rb").read()
                ps, pans = post(primary.url + "/ocsp", body, "application/ocsp-request")
                rs, rans = post(replica.url + "/ocsp", body, "application/ocsp-request")
                check(ps == 200 and rs == 200 and pans == rans and cert_status(pans, tmp) == "good",
                      "OCSP: the replica answers the primary's pre-signed bytes (good)")
                # a request that needs live signing (a nonce): tryLater, never a signature
                nreq = os.path.join(tmp, "nonce.der")
                run("openssl", "ocsp", "-issuer", os.path.join(pdata, "ca", "sign-ca.pem"),
                    "-cert", demo, "-reqout", nreq)
                rs, rans = post(replica.url + "/ocsp", open(nreq, "rb").read(),
                                "application/ocsp-request")
                check(rs == 200 and rans == bytes.fromhex("30030a0103"),
                      "OCSP with a nonce on the replica: tryLater (it holds no key)")
                serial = serial_of(demo)
                lookup = f"/v1/certs/sign/{serial}"
                check(primary.get(lookup)[2] == replica.get(lookup)[2], "lookup: the same JSON")
                wait_for("CRL: the same bytes",
                         lambda: primary.get("/crl/sign.crl")[2] == replica.get("/crl/sign.crl")[2])

                # writes are refused, naming the primary
                status, answer = post(replica.url + "/v1/intake", b"x", "application/cms")
                answer = json.loads(answer)
                check(status == 503 and answer["error"] == "read_only_replica"
                      and answer["primary"] == primary_url,
                      "intake on the replica: 503 read_only_replica naming the primary")

                # a revocation on the primary reaches the replica
                run(KENSHO, "--data", pdata, "revoke", "--kind", "sign", "--serial", serial,
                    "--reason", "keyCompromise")

                def converged():
                    ps, pans = post(primary.url + "/ocsp", body, "application/ocsp-request")
                    rs, rans = post(replica.url + "/ocsp", body, "application/ocsp-request")
                    return ps == 200 and pans == rans and cert_status(rans, tmp) == "revoked"
                wait_for("OCSP after revocation: the replica answers the primary's revoked bytes",
                         converged)
                status, _, text = replica.get(lookup)
                check(status == 200 and json.loads(text)["status"] == "revoked",
                      "lookup on the replica: revoked")
                wait_for("delta CRL: the same bytes on both after the revocation",
                         lambda: primary.get("/crl/sign-delta.crl")[2]
                         == replica.get("/crl/sign-delta.crl")[2])
                feed = "/v1/changes?after=0&limit=1000"
                pfeed = json.loads(primary.get(feed)[2])
                check(json.loads(replica.get(feed)[2]) == pfeed
                      and any(c["serial"] == serial.lower() and c.get("reason") == "keyCompromise"
                              for c in pfeed["changes"]),
                      "change feed: the same cursors and entries on both, the revocation in it")

            # stopped while two changes happen (within retention): catches up
            auth = os.path.join(pdata, "demo", "auth.pem")
            auth_serial = serial_of(auth)
            run(KENSHO, "--data", pdata, "revoke", "--kind", "auth", "--serial", auth_serial,
                "--reason", "keyCompromise")
            with Server(data=rdata, args=["--config", rconf, "--replica-of", primary_url]) as replica:
                check("installed a snapshot" not in replica.output(),
                      "restart within retention: no snapshot taken")
                wait_for("the replica caught up with the revocation made while it was down",
                         lambda: json.loads(replica.get(f"/v1/certs/auth/{auth_serial}")[2])
                         .get("status") == "revoked")

            # stopped while more changes than the primary retains happen: re-bootstraps
            for i in range(8):
                run(KENSHO, "--data", pdata, "issue", "--name", f"Person {i}", "--birth", "1990-01-01",
                    "--sex", "1", "--address", "東京都清瀬市上清戸1-1-1", "--out", os.path.join(tmp, f"p{i}"))
            last = serial_of(os.path.join(tmp, "p7", "sign.pem"))
            with Server(data=rdata, args=["--config", rconf, "--replica-of", primary_url]) as replica:
                out = replica.output()
                check("taking a fresh snapshot" in out and "installed a snapshot" in out,
                      "a cursor older than the retained log: a fresh snapshot")
                status, _, text = replica.get(f"/v1/certs/sign/{last}")
                check(status == 200, "the re-bootstrapped replica knows the newest certificate")
                wait_for("the replica is ready again", lambda: replica.get("/readyz")[0] == 200)

                # the primary goes away: past replication.max_lag the replica stops being ready
                primary.stop()
                wait_for("with the primary unreachable past max_lag, /readyz fails and says why",
                         lambda: replica.get("/readyz")[0] == 503
                         and b"unreachable" in replica.get("/readyz")[2])
                status, answer = post(replica.url + "/ocsp", body, "application/ocsp-request")
                check(status == 200 and answer == bytes.fromhex("30030a0103"),
                      "and answers OCSP with tryLater: it may hold an answer since revoked")


if __name__ == "__main__":
    main()
