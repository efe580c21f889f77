#!/usr/bin/env python3
"""Every route kenshod registers against every kind of caller: which may use
it and which are refused (403 JSON, or OCSP's own `unauthorized` response).

The routes are read from kenshod's own debug log ("route: PATH METHODS
roles=..."), so a route added without a row in MATRIX fails this test."""
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Server, check, run  # noqa: E402

CALLERS = ["plain", "plain-no-rp", "tls-anonymous", "operator", "relying-party",
           "personal", "intake", "unnamed", "replica"]
# plain:         plain HTTP, plain.relying_party = true (the default)
# plain-no-rp:   plain HTTP, plain.relying_party = false
# tls-anonymous: TLS without a client certificate (demo policy: relying-party anonymous)
# operator ... intake, replica: TLS with the demo PKI's client certificates (DIR/tls/clients/)
# unnamed:       TLS with a certificate from the demo TLS CA that no policy rule names

# Y: the route serves this caller; N: refused before the handler runs.
MATRIX = {
    #                         plain no-rp anon  oper  rp    pers  intk  unnamed repl
    "/healthz":              "Y     Y     Y     Y     Y     Y     Y     Y       Y",
    "/readyz":               "Y     Y     Y     Y     Y     Y     Y     Y       Y",
    "/metrics":              "Y     Y     Y     Y     Y     Y     Y     Y       Y",
    "/crl/sign.crl":         "Y     N     Y     N     Y     Y     N     N       N",
    "/crl/sign-delta.crl":   "Y     N     Y     N     Y     Y     N     N       N",
    "/crl/auth.crl":         "Y     N     Y     N     Y     Y     N     N       N",
    "/crl/auth-delta.crl":   "Y     N     Y     N     Y     Y     N     N       N",
    "/crl/sign/arl.crl":     "Y     N     Y     N     Y     Y     N     N       N",
    "/crl/auth/arl.crl":     "Y     N     Y     N     Y     Y     N     N       N",
    "/crl/":                 "Y     N     Y     N     Y     Y     N     N       N",
    "/v1/certs/":            "Y     N     Y     N     Y     Y     N     N       N",
    "/v1/changes":           "Y     N     Y     N     Y     Y     N     N       N",
    "/ocsp":                 "Y     N     Y     N     Y     Y     N     N       N",
    "/ocsp/":                "Y     N     Y     N     Y     Y     N     N       N",
    "/v1/verify":            "Y     N     Y     N     Y     Y     N     N       N",
    "/v1/intake":            "N     N     N     N     N     N     Y     N       N",
    "/v1/intake/":           "N     N     N     N     N     N     Y     N       N",
    "/tsa":                  "N     N     N     N     N     N     Y     N       N",
    "/v1/log/sth":           "N     N     N     N     N     N     Y     N       N",
    "/v1/log/sth/":          "N     N     N     N     N     N     Y     N       N",
    "/v1/log/proof/inclusion":   "N     N     N     N     N     N     Y     N       N",
    "/v1/log/proof/consistency": "N     N     N     N     N     N     Y     N       N",
    "/v1/admin/issue":       "N     N     N     Y     N     N     N     N       N",
    "/v1/admin/revoke":      "N     N     N     Y     N     N     N     N       N",
    "/v1/admin/event":       "N     N     N     Y     N     N     N     N       N",
    "/v1/admin/reload":      "N     N     N     Y     N     N     N     N       N",
    # the status page: operators over TLS, and plain callers on loopback
    # (every caller here is on 127.0.0.1; over TLS that alone opens nothing)
    "/":                     "Y     Y     N     Y     N     N     N     N       N",
    "/v1/status":            "Y     Y     N     Y     N     N     N     N       N",
    "/v1/replication/changes":  "N     N     N     N     N     N     N     N       Y",
    "/v1/replication/snapshot": "N     N     N     N     N     N     N     N       Y",
    "/v1/replication/files":    "N     N     N     N     N     N     N     N       Y",
    "/v1/replication/state":    "N     N     N     N     N     N     N     N       Y",
}

# One request per route: method, target, body.
REQUESTS = {
    "/healthz": ("GET", "/healthz", None),
    "/readyz": ("GET", "/readyz", None),
    "/metrics": ("GET", "/metrics", None),
    "/crl/sign.crl": ("GET", "/crl/sign.crl", None),
    "/crl/sign-delta.crl": ("GET", "/crl/sign-delta.crl", None),
    "/crl/auth.crl": ("GET", "/crl/auth.crl", None),
    "/crl/auth-delta.crl": ("GET", "/crl/auth-delta.crl", None),
    "/crl/sign/arl.crl": ("GET", "/crl/sign/arl.crl", None),
    "/crl/auth/arl.crl": ("GET", "/crl/auth/arl.crl", None),
    "/crl/": ("GET", "/crl/sign-132217.crl", None),
    "/v1/certs/": ("GET", "/v1/certs/sign/01", None),
    "/v1/changes": ("GET", "/v1/changes?after=0", None),
    "/ocsp": ("POST", "/ocsp", b"\x30\x00"),
    "/ocsp/": ("GET", "/ocsp/MAA=", None),
    "/v1/verify": ("POST", "/v1/verify", b"not a signature"),
    "/v1/intake": ("POST", "/v1/intake", b"not an application"),
    "/v1/intake/": ("GET", "/v1/intake/0123456789abcdef", None),
    "/tsa": ("POST", "/tsa", b"\x30\x00"),
    "/v1/log/sth": ("GET", "/v1/log/sth", None),
    "/v1/log/sth/": ("GET", "/v1/log/sth/1", None),
    "/v1/log/proof/inclusion": ("GET", "/v1/log/proof/inclusion?index=0&size=1", None),
    "/v1/log/proof/consistency": ("GET", "/v1/log/proof/consistency?first=1&second=1", None),
    "/v1/admin/issue": ("POST", "/v1/admin/issue", b""),
    "/v1/admin/revoke": ("POST", "/v1/admin/revoke", b""),
    "/v1/admin/event": ("POST", "/v1/admin/event", b""),
    "/v1/admin/reload": ("POST", "/v1/admin/reload", b""),
    "/": ("GET", "/", None),
    "/v1/status": ("GET", "/v1/status", None),
    "/v1/replication/changes": ("GET", "/v1/replication/changes?after=0", None),
    "/v1/replication/snapshot": ("GET", "/v1/replication/snapshot", None),
    "/v1/replication/files": ("GET", "/v1/replication/files", None),
    "/v1/replication/state": ("GET", "/v1/replication/state", None),
}

OCSP_UNAUTHORIZED = bytes.fromhex("30030a0106")  # RFC 6960 §2.3, unsigned


def registered_routes(log):
    return set(re.findall(r"route: (\S+) \S+ roles=", log))


def make_unnamed_cert(tls_dir, out_dir):
    """A client certificate from the demo TLS CA that the policy names for nothing."""
    key, csr, pem, ext = (os.path.join(out_dir, n) for n in
                          ("unnamed.key", "unnamed.csr", "unnamed.pem", "ext.cnf"))
    with open(ext, "w") as f:
        f.write("keyUsage = digitalSignature\nextendedKeyUsage = clientAuth\n")
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    run("openssl", "req", "-new", "-key", key, "-subj", "/CN=unnamed/O=kensho demo", "-out", csr)
    run("openssl", "x509", "-req", "-in", csr, "-CA", f"{tls_dir}/ca.pem", "-CAkey",
        f"{tls_dir}/ca.key", "-CAcreateserial", "-days", "30", "-sha256", "-extfile", ext,
        "-out", pem)
    return pem, key


def tls_context(tls_dir, cert=None):
    ctx = ssl.create_default_context(cafile=f"{tls_dir}/ca.pem")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(*cert)
    return ctx


def ask(conn, route):
    method, target, body = REQUESTS[route]
    headers = {}
    if route.startswith("/ocsp") and method == "POST":
        headers["Content-Type"] = "application/ocsp-request"
    if route == "/tsa":
        headers["Content-Type"] = "application/timestamp-query"
    if route.startswith("/v1/admin/"):
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, target, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, r.getheader("Content-Type", ""), data


def refused(route, status, ctype, data):
    """True if the answer is the router's refusal, in the route's own form."""
    if route.startswith("/ocsp"):
        return status == 200 and ctype == "application/ocsp-response" and data == OCSP_UNAUTHORIZED
    if status != 403:
        return False
    answer = json.loads(data)
    return answer.get("error") == "forbidden" and "role" in answer.get("detail", "")


def walk(caller, connect, routes, failures):
    column = CALLERS.index(caller)
    for route in sorted(routes):
        want_allowed = MATRIX[route].split()[column] == "Y"
        status, ctype, data = ask(connect(), route)
        was_refused = refused(route, status, ctype, data)
        if want_allowed == was_refused:
            failures.append(f"{caller} {route}: expected {'served' if want_allowed else 'refused'}, "
                            f"got {status} {ctype} {data[:120]!r}")


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="kensho-roles-") as tmp:
        data = os.path.join(tmp, "data")
        with Server(data=data, tls=True, args=["--log-level", "debug"]) as srv:
            routes = registered_routes(srv.output())
            check(routes == set(MATRIX), f"the matrix covers every route kenshod registers "
                  f"(missing: {sorted(routes - set(MATRIX))}, stale: {sorted(set(MATRIX) - routes)})")
            tls_dir = os.path.join(data, "tls")
            unnamed = make_unnamed_cert(tls_dir, tmp)
            walk("plain", lambda: http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20),
                 routes, failures)
            for caller in CALLERS[2:]:
                if caller == "tls-anonymous":
                    cert = None
                elif caller == "unnamed":
                    cert = unnamed
                else:
                    cert = (f"{tls_dir}/clients/{caller}.pem", f"{tls_dir}/clients/{caller}.key")
                ctx = tls_context(tls_dir, cert)
                walk(caller, lambda: http.client.HTTPSConnection("localhost", srv.tls_port,
                                                                 context=ctx, timeout=20),
                     routes, failures)
        config = os.path.join(tmp, "no-rp.conf")
        with open(config, "w") as f:
            f.write("plain.relying_party = false\n")
        with Server(data=data, args=["--config", config]) as srv:
            walk("plain-no-rp", lambda: http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20),
                 routes, failures)
    for f in failures:
        print("not ok -", f, flush=True)
    check(not failures, f"all {len(MATRIX) * len(CALLERS)} route x caller cells as the matrix says")


if __name__ == "__main__":
    main()
