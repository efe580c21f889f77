#!/usr/bin/env python3
"""Crash safety of /v1/intake: kenshod is killed with SIGKILL in the middle of
a stream of submissions from several clients, then restarted on the same
data. Every receipt a client was given must be present and intact (same
original digest, same receipt bytes), and every stored record must be whole:
numbers dense from 1, each receipt verifying with openssl and naming its own
record."""
import base64
import json
import os
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Server, check  # noqa: E402
from intake_common import Signer, allow_plain, connect, issue, post, sha256_hex, verify_receipt  # noqa: E402

CLIENTS = 4
APPLICATIONS = 600
KILL_AFTER_ACKS = 80


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-crash-") as tmp:
        data = os.path.join(tmp, "data")
        acks, lock = [], threading.Lock()
        with Server(data=data, args=allow_plain(tmp)) as srv:
            person = os.path.join(tmp, "person")
            issue(data, person)
            signer = Signer(os.path.join(person, "sign.pem"), os.path.join(person, "sign.key"))
            bodies = [signer.sign(f"application {i}\n".encode()) for i in range(APPLICATIONS)]
            todo = list(range(APPLICATIONS))

            def client():
                conn = connect(srv.port)
                while True:
                    with lock:
                        if not todo:
                            return
                        i = todo.pop(0)
                    try:
                        status, h, receipt = post(conn, "/v1/intake", bodies[i])
                    except Exception:
                        return  # the server died: this one was not acknowledged
                    if status == 201:
                        with lock:
                            acks.append((int(h["kensho-receipt"]), bodies[i], receipt))

            threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 30
            while len(acks) < KILL_AFTER_ACKS and time.monotonic() < deadline:
                time.sleep(0.005)
            srv.proc.send_signal(signal.SIGKILL)
            for t in threads:
                t.join()
            srv.proc.wait()
            check(srv.proc.returncode == -signal.SIGKILL, "kenshod was killed with SIGKILL")
            check(len(acks) >= KILL_AFTER_ACKS, f"{len(acks)} receipts were acknowledged first")
            check(len(acks) < APPLICATIONS, "and the kill came in the middle of the stream")

        with Server(data=data, args=allow_plain(tmp)) as srv:
            receipt_pem = os.path.join(data, "ca/receipt.pem")
            intact = 0
            for number, body, receipt in acks:
                status, _, state = srv.get(f"/v1/intake/{number}")
                state = json.loads(state)
                if (status == 200 and state["sha256"] == sha256_hex(body) and
                        base64.b64decode(state["receipt_cms"]) == receipt):
                    intact += 1
            check(intact == len(acks), f"all {len(acks)} acknowledged receipts are present and intact")

            n = 1
            whole = True
            while True:
                status, _, state = srv.get(f"/v1/intake/{n}")
                if status == 404:
                    break
                state = json.loads(state)
                content = verify_receipt(base64.b64decode(state["receipt_cms"]), receipt_pem, tmp)
                if (status != 200 or content is None or content["receipt"] != n or
                        content["sha256"] != state["sha256"] or not state["result"]["valid"]):
                    whole = False
                    print(f"record {n} is not whole: {state}")
                n += 1
            stored = n - 1
            check(whole, f"every stored record (1..{stored}) is whole and its receipt verifies")
            check(stored >= len(acks), "no acknowledged record is missing from the dense range")

            conn = connect(srv.port)
            number, body, receipt = acks[-1]
            status, h, again = post(conn, "/v1/intake", body)
            check(status == 200 and again == receipt, "resubmitting after the crash returns the first receipt")
            status, h, _ = post(conn, "/v1/intake", signer.sign(b"after the restart\n"))
            check(status == 201 and int(h["kensho-receipt"]) == stored + 1,
                  "numbering continues after the last stored record")
    return 0


if __name__ == "__main__":
    sys.exit(main())
