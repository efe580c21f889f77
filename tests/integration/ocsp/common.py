"""A data directory made by the real `kensho` CLI (ca init, issue, revoke)
plus a foreign CA made by openssl, for the OCSP integration tests."""
import base64
import os
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, run  # noqa: E402


class Person:
    def __init__(self, out, sign_serial, auth_serial):
        self.dir = out
        self.sign = os.path.join(out, "sign.pem")
        self.auth = os.path.join(out, "auth.pem")
        self.sign_serial = sign_serial
        self.auth_serial = auth_serial


def make_data(tmp, people=2):
    """kensho ca init + `people` issued pairs in tmp/data."""
    data = os.path.join(tmp, "data")
    run(KENSHO, "--data", data, "ca", "init")
    persons = []
    for i in range(people):
        out = os.path.join(tmp, f"p{i}")
        r = run(KENSHO, "--data", data, "issue", "--name", f"試験　太郎{i}", "--birth", "1980-01-02",
                "--sex", "1", "--address", "東京都千代田区霞が関2-1-2", "--out", out)
        serials = dict(line.split() for line in r.stdout.splitlines() if line.split()[:1] in (["sign"], ["auth"]))
        persons.append(Person(out, serials["sign"], serials["auth"]))
    return data, persons


def revoke(data, kind, serial, reason):
    run(KENSHO, "--data", data, "revoke", "--kind", kind, "--serial", serial, "--reason", reason)


def foreign_ca(tmp):
    """A CA kensho has never heard of."""
    key = os.path.join(tmp, "foreign.key")
    pem = os.path.join(tmp, "foreign.pem")
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", pem, "-days", "30", "-subj", "/CN=Foreign CA")
    return pem


def post(url, body, content_type="application/ocsp-request"):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, dict(r.headers), r.read()


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def get_path(der, form="std"):
    """The GET path segment for a request, in the forms clients produce."""
    b64 = base64.b64encode(der).decode()
    if form == "std":
        return b64
    if form == "pct":
        return urllib.parse.quote(b64, safe="")
    if form == "url-nopad":
        return base64.urlsafe_b64encode(der).decode().rstrip("=")
    if form == "space":
        return "/" + b64.replace("+", " ").replace(" ", "%20")
    raise ValueError(form)


MALFORMED = bytes.fromhex("3003 0a01 01")
TRY_LATER = bytes.fromhex("3003 0a01 03")
UNAUTHORIZED = bytes.fromhex("3003 0a01 06")
