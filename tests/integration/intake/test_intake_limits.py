#!/usr/bin/env python3
"""The bounds of /v1/intake: a full queue answers 503 with Retry-After at
once (intake.queue_max), and plain-HTTP callers are refused unless
intake.allow_plain is on."""
import json
import os
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Server, check  # noqa: E402
from intake_common import Signer, connect, issue, post  # noqa: E402

CLIENTS = 16


def write_config(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-limits-") as tmp:
        data = os.path.join(tmp, "data")
        tight = write_config(tmp, "tight.conf", "intake.queue_max = 1\nintake.batch_max = 1\n"
                             "intake.allow_plain = true\n")
        with Server(data=data, args=["--config", tight]) as srv:
            issue(data, os.path.join(tmp, "p"))
            signer = Signer(os.path.join(tmp, "p/sign.pem"), os.path.join(tmp, "p/sign.key"))
            bodies = [signer.sign(f"application {i}\n".encode()) for i in range(CLIENTS)]
            conns = [connect(srv.port) for _ in range(CLIENTS)]
            for c in conns:
                c.connect()
            start = threading.Barrier(CLIENTS)
            answers = [None] * CLIENTS

            def client(i):
                start.wait()
                answers[i] = post(conns[i], "/v1/intake", bodies[i])

            threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            statuses = [a[0] for a in answers]
            busy = [a for a in answers if a[0] == 503]
            print("statuses:", statuses)
            check(set(statuses) <= {201, 503}, "every submission is either stored or refused")
            check(statuses.count(201) >= 1, "some were stored")
            check(len(busy) >= 1 and all(b[1].get("retry-after") == "1" for b in busy),
                  "a full queue answers 503 with Retry-After")
            retry = busy[0]
            i = answers.index(retry)
            status, _, _ = post(connect(srv.port), "/v1/intake", bodies[i])
            check(status == 201, "a refused submission succeeds when retried")

        with Server(data=data) as srv:
            status, _, answer = post(connect(srv.port), "/v1/intake", bodies[0])
            answer = json.loads(answer)
            check(status == 403 and answer["error"] == "forbidden",
                  "intake.allow_plain unset (false): plain-HTTP submission refused (403)")
            check("intake role over TLS" in answer["detail"] and
                  "intake.allow_plain" in answer["detail"],
                  "and the answer says intake needs the intake role over TLS, naming the setting")
            check(srv.get("/v1/intake/1")[0] == 403, "and so is reading a receipt")
            status, _, _ = post(connect(srv.port), "/v1/verify", bodies[0])
            check(status == 200, "while /v1/verify stays open")
    return 0


if __name__ == "__main__":
    sys.exit(main())
