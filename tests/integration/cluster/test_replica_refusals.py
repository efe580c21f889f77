#!/usr/bin/env python3
"""Bad input to a replica (docs/cluster.md), each refused with a clear
message and nothing applied:

- a client certificate without the replica role;
- a primary URL that is not kensho (python's http.server over TLS);
- a corrupt snapshot, and a truncated one (with and without a matching
  digest), served by a fake primary: nothing installed as DIR/store;
- an undecodable change after a good snapshot: the batch is not applied."""
import http.server
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import ALLOW_ROOT, KENSHOD, Server, check, free_port, run, wait_for  # noqa: E402
import hashlib  # noqa: E402


def replica_conf(tmp, tls, cert="replica", name="replica.conf"):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(f"replication.cert = {tls}/clients/{cert}.pem\n"
                f"replication.key = {tls}/clients/{cert}.key\n"
                f"replication.ca = {tls}/ca.pem\n"
                "replication.poll_wait = 1s\nreplication.files_interval = 1s\n")
    return path


def run_replica_once(data, conf, url, timeout=60):
    """A replica that must refuse to start: its exit status and output."""
    port = free_port()
    p = subprocess.run([KENSHOD, "--data", data, "--listen", f"127.0.0.1:{port}", "--config", conf,
                        "--replica-of", url] + ALLOW_ROOT,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


class Fake:
    """A TLS server on loopback that answers like a primary, in a given way."""

    def __init__(self, tls, routes):
        self.routes = routes
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path, _, query = self.path.partition("?")
                answer = fake.routes.get(path)
                if answer is None:
                    self.send_error(404)
                    return
                status, headers, body = answer(urllib.parse.parse_qs(query)) if callable(answer) else answer
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(f"{tls}/server.pem", f"{tls}/server.key")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self):
        return f"https://localhost:{self.port}"


def snapshot_answer(body, digest_of=None):
    digest = hashlib.sha256(body if digest_of is None else digest_of).hexdigest()
    return (200, {"Content-Type": "application/octet-stream", "X-Kensho-Sequence": "1",
                  "X-Kensho-Snapshot-SHA256": digest}, body)


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-refusals-") as tmp:
        pdata = os.path.join(tmp, "primary")
        with Server(data=pdata, tls=True) as primary:
            tls = os.path.join(pdata, "tls")
            url = f"https://localhost:{primary.tls_port}"

            # a certificate the primary grants no replica role
            data = os.path.join(tmp, "r-wrong")
            rc, out = run_replica_once(data, replica_conf(tmp, tls, "intake", "wrong.conf"), url)
            check(rc != 0 and "not granted the replica role" in out,
                  "a certificate without the replica role: refused, saying so")
            check(not os.path.exists(os.path.join(data, "store", "data.mdb")), "nothing installed")

            # the real snapshot and files, for the fake primaries below
            curl = ["curl", "-sS", "--fail", "--cacert", f"{tls}/ca.pem", "--cert",
                    f"{tls}/clients/replica.pem", "--key", f"{tls}/clients/replica.key"]
            snap = os.path.join(tmp, "snapshot.mdb")
            run(*curl, "-o", snap, f"{url}/v1/replication/snapshot")
            files = os.path.join(tmp, "files.bin")
            run(*curl, "-o", files, f"{url}/v1/replication/files")
            snapshot = open(snap, "rb").read()
            bundle = open(files, "rb").read()
            check(len(snapshot) > 4096 and bundle[:1] == b"\x01", "fetched a snapshot and a files bundle")
        conf = replica_conf(tmp, tls)

        # not kensho: python's own file server over TLS
        with Fake(tls, {}) as fake:
            data = os.path.join(tmp, "r-notkensho")
            rc, out = run_replica_once(data, conf, fake.url)
            check(rc != 0 and "as a kensho primary does" in out and "status 404" in out,
                  "a primary URL that is not kensho: refused, saying so")

        cases = [
            ("corrupt", snapshot_answer(os.urandom(len(snapshot))), "is not a kensho store"),
            ("truncated", snapshot_answer(snapshot[: len(snapshot) // 2]), "is not a kensho store"),
            ("cut short", snapshot_answer(snapshot[: len(snapshot) // 2], digest_of=snapshot),
             "arrived damaged or incomplete"),
        ]
        for name, answer, words in cases:
            with Fake(tls, {"/v1/replication/snapshot": answer}) as fake:
                data = os.path.join(tmp, "r-" + name.replace(" ", "-"))
                rc, out = run_replica_once(data, conf, fake.url)
                check(rc != 0 and words in out, f"a {name} snapshot: refused ({words})")
                check(not os.path.exists(os.path.join(data, "store", "data.mdb")),
                      f"a {name} snapshot: no store installed")

        # an undecodable change after a good snapshot
        polls = []

        def changes(query):
            after = int(query["after"][0])
            polls.append(after)
            garbage = b"\x01" + b"\xff" * 40
            batch = (after + 1).to_bytes(8, "big") + len(garbage).to_bytes(4, "big") + garbage
            return (200, {"Content-Type": "application/x-kensho-changes",
                          "X-Kensho-Last-Sequence": str(after + 1)}, batch)

        routes = {"/v1/replication/snapshot": snapshot_answer(snapshot),
                  "/v1/replication/files": (200, {"Content-Type": "application/x-kensho-files"}, bundle),
                  "/v1/replication/changes": changes}
        with Fake(tls, routes) as fake:
            data = os.path.join(tmp, "r-badchange")
            replica = Server(data=data, args=["--config", conf, "--replica-of", fake.url])
            with replica:
                wait_for("the undecodable change was refused",
                         lambda: "undecodable; nothing of the batch was applied" in replica.output())
                first = polls[0]
                status, _, metrics = replica.get("/metrics")
                check(b"\nkensho_replication_applied_sequence 0\n" in metrics,
                      "the applied sequence did not move")
                check(all(a == first for a in polls), "every poll asked again from the same cursor")
                check(replica.get("/readyz")[0] != 200, "and the replica is not ready")


if __name__ == "__main__":
    main()
