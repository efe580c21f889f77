#!/usr/bin/env python3
"""Roles on the TLS listener: /v1/intake takes a caller whose client
certificate the policy maps to `intake` (the demo PKI's clients/intake.pem)
and refuses others with 403; /v1/verify takes a relying party."""
import http.client
import json
import os
import ssl
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Server, check  # noqa: E402
from intake_common import Signer, issue, post, verify_receipt  # noqa: E402


def tls_connect(srv, client=None):
    ctx = ssl.create_default_context(cafile=os.path.join(srv.data, "tls/ca.pem"))
    if client:
        base = os.path.join(srv.data, "tls/clients", client)
        ctx.load_cert_chain(base + ".pem", base + ".key")
    return http.client.HTTPSConnection("127.0.0.1", srv.tls_port, context=ctx, timeout=30)


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-intake-tls-") as tmp, Server(tls=True) as srv:
        issue(srv.data, os.path.join(tmp, "p"))
        signer = Signer(os.path.join(tmp, "p/sign.pem"), os.path.join(tmp, "p/sign.key"))
        body = signer.sign(b"application over TLS\n")

        status, h, receipt = post(tls_connect(srv, "intake"), "/v1/intake", body)
        check(status == 201, "TLS caller with the intake role: 201")
        content = verify_receipt(receipt, os.path.join(srv.data, "ca/receipt.pem"), tmp)
        check(content is not None and content["receipt"] == int(h["kensho-receipt"]),
              "and its receipt verifies")
        status, _, answer = post(tls_connect(srv, "relying-party"), "/v1/intake", body)
        check(status == 403 and json.loads(answer)["error"] == "forbidden",
              "TLS caller without the intake role: 403")
        status, _, _ = post(tls_connect(srv), "/v1/intake", body)
        check(status == 403, "TLS caller without a certificate: 403")
        status, _, answer = post(tls_connect(srv, "relying-party"), "/v1/verify", body)
        check(status == 200 and json.loads(answer)["valid"], "relying party may verify over TLS")
        status, _, answer = post(http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30),
                                 "/v1/intake", body)
        check(status == 403 and "intake.allow_plain" in json.loads(answer)["detail"],
              "plain listener (intake.allow_plain default false): 403 naming the setting")
    return 0


if __name__ == "__main__":
    sys.exit(main())
