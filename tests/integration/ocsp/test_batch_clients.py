"""Batch answers (ocsp.batch, `kensho presign --ocsp-batch`) against real
OCSP clients: docs/ocsp.md's compatibility table, asserted so it cannot drift.

17 certificates of one CA are pre-signed in batches of 1, 2 and 16
certificates per signed response; kenshod (refresher off, so the cache stays
as presign wrote it) serves them. For each size a certificate whose answer
names exactly that many certificates is checked with openssl ocsp, GnuTLS
ocsptool, python3-cryptography (its one-response API and its responses
iterator), Java's PKIXRevocationChecker, NSS vfychain and Go's
x/crypto/ocsp ParseResponseForCert and ParseResponse. Every request must be
answered from the cache (the batch's bytes; the `signed` counter does not
move) and each client's verdict must be the one in TABLE. Then one member
of the 16-batch is revoked: every client says revoked for it, and the batch
(whose bytes say good for it) no longer answers the other members. Last, a SHA-256 CertID request is
signed once and then served from the cache beside the SHA-1 answer.

With KENSHO_PRINT_TABLE=1 it prints the measured table in docs/ocsp.md's
form (and still asserts)."""
import os
import re
import shutil
import sys
import tempfile
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, Server, check, free_port, run  # noqa: E402

SIZES = (1, 2, 16)
PEOPLE = 17
CLIENTS_DIR = os.path.join(os.path.dirname(__file__), "clients")

ALL_GOOD = {1: "good", 2: "good", 16: "good"}
ONE_ONLY = {1: "good", 2: "error", 16: "error"}
# client -> batch size -> verdict for a good certificate answered by a batch
TABLE = {
    "openssl ocsp": ALL_GOOD,
    "GnuTLS ocsptool": ALL_GOOD,
    "python cryptography: certificate_status": ONE_ONLY,
    "python cryptography: responses": ALL_GOOD,
    "Java PKIXRevocationChecker": ALL_GOOD,
    "NSS vfychain": ALL_GOOD,
    "Go ocsp.ParseResponseForCert": ALL_GOOD,
    "Go ocsp.ParseResponse": ONE_ONLY,
}


def metric(url, answer):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(r'^kensho_ocsp_answers_total\{answer="%s"\} (\S+)$' % answer, text, re.M)
    return float(m.group(1)) if m else 0.0


def fetch(url, ca, cert, algorithm=None):
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, ca, algorithm or hashes.SHA1()).build()
    body = req.public_bytes(serialization.Encoding.DER)
    r = urllib.request.Request(url + "/ocsp", data=body,
                               headers={"Content-Type": "application/ocsp-request"})
    with urllib.request.urlopen(r, timeout=10) as resp:
        return ocsp.load_der_ocsp_response(resp.read())


class Clients:
    def __init__(self, tmp, data, url):
        self.tmp, self.url = tmp, url
        self.ca_pem = os.path.join(data, "ca", "sign-ca.pem")
        with open(self.ca_pem, "rb") as f:
            self.ca = x509.load_pem_x509_certificate(f.read())
        # Java: compiled here, run with the JDK's own PKIX validator
        self.java = os.path.join(tmp, "java")
        os.makedirs(self.java)
        run("javac", "-d", self.java, os.path.join(CLIENTS_DIR, "OcspCheck.java"))
        # Go: Debian's golang-golang-x-crypto-dev in /usr/share/gocode, GOPATH
        # mode, no network and no module download
        env = dict(os.environ, GOPATH="/usr/share/gocode", GO111MODULE="off", GOFLAGS="",
                   GOPROXY="off", GOTOOLCHAIN="local", GOCACHE=os.path.join(tmp, "gocache"))
        self.go = os.path.join(tmp, "goocsp")
        run("go", "build", "-o", self.go, os.path.join(CLIENTS_DIR, "goocsp", "main.go"), env=env)
        # NSS: a database trusting the CA; vfychain asks the AIA's responder
        self.nss = "sql:" + os.path.join(tmp, "nss")
        os.makedirs(self.nss[4:])
        run("certutil", "-N", "-d", self.nss, "--empty-password")
        run("certutil", "-A", "-d", self.nss, "-n", "sign-ca", "-t", "CT,C,C", "-i", self.ca_pem)

    def verdicts(self, pem):
        """Each client's verdict on the certificate in `pem`."""
        with open(pem, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        ocsp_url = self.url + "/ocsp"
        out = {}
        r = run("openssl", "ocsp", "-issuer", self.ca_pem, "-cert", pem, "-url", ocsp_url,
                "-CAfile", self.ca_pem, "-no_nonce", check=False)
        m = re.search(r"^%s: (good|revoked|unknown)$" % re.escape(pem), r.stdout, re.M)
        ok = r.returncode == 0 and "Response verify OK" in r.stderr
        out["openssl ocsp"] = m.group(1) if m and ok else "error"

        r = run("ocsptool", "--ask=" + ocsp_url, "--load-issuer", self.ca_pem, "--load-cert", pem,
                "--load-trust", self.ca_pem, check=False)
        text = r.stdout + r.stderr
        serial = format(cert.serial_number, "x").rjust(2, "0")
        m = re.search(r"Serial Number: 0*%s\s+Certificate Status: (\w+)" % serial.lstrip("0"), text)
        ok = r.returncode == 0 and "Verifying OCSP Response: Success." in text
        out["GnuTLS ocsptool"] = m.group(1) if m and ok else "error"

        resp = fetch(self.url, self.ca, cert)
        try:
            single = resp.certificate_status.name.lower()
            if resp.serial_number != cert.serial_number:
                single = "error"
        except ValueError:
            single = "error"
        out["python cryptography: certificate_status"] = single
        found = [s.certificate_status.name.lower() for s in resp.responses
                 if s.serial_number == cert.serial_number]
        out["python cryptography: responses"] = found[0] if len(found) == 1 else "error"

        r = run("java", "-cp", self.java, "OcspCheck", self.ca_pem, pem, ocsp_url, check=False)
        line = r.stdout.strip()
        out["Java PKIXRevocationChecker"] = line if line in ("good", "revoked") else "error"

        r = run("vfychain", "-d", self.nss, "-pp", "-u", "4", "-g", "leaf", "-h", "requireFreshInfo",
                "-m", "ocsp", "-s", "failIfNoInfo", "-a", pem, check=False)
        text = r.stdout + r.stderr
        if r.returncode == 0 and "Chain is good!" in text:
            out["NSS vfychain"] = "good"
        elif "ERROR -8180" in text:  # SEC_ERROR_REVOKED_CERTIFICATE
            out["NSS vfychain"] = "revoked"
        else:
            out["NSS vfychain"] = "error"
            print("  vfychain:", text.strip().replace("\n", "\n  vfychain: "))

        r = run(self.go, self.ca_pem, pem, ocsp_url, check=False)
        for name in ("ParseResponseForCert", "ParseResponse"):
            m = re.search(r"^%s: (good|revoked|unknown) true$" % name, r.stdout, re.M)
            out["Go ocsp." + name] = m.group(1) if m else "error"
        for line in (r.stdout + r.stderr).splitlines():
            print("  go:", line)
        return out


def answer_sizes(url, ca, pems):
    """pem -> number of SingleResponses in its (cached) answer."""
    sizes = {}
    for pem in pems:
        with open(pem, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        sizes[pem] = len(list(fetch(url, ca, cert).responses))
    return sizes


def main():
    for tool in ("openssl", "ocsptool", "javac", "java", "go", "vfychain", "certutil"):
        check(shutil.which(tool), f"{tool} is installed (scripts/setup)")
    tmp = tempfile.TemporaryDirectory(prefix="kensho-batch-clients-")
    data = os.path.join(tmp.name, "data")
    port = free_port()
    # NSS asks the responder named in the certificate's AIA
    run(KENSHO, "--data", data, "ca", "init", "--base-url", f"http://127.0.0.1:{port}")
    pems = []
    for i in range(PEOPLE):
        out = os.path.join(tmp.name, f"p{i}")
        run(KENSHO, "--data", data, "issue", "--name", f"Batch {i}", "--birth", "1980-01-02",
            "--sex", "1", "--address", "東京都清瀬市上清戸1-1-1", "--out", out)
        pems.append(os.path.join(out, "sign.pem"))
    config = os.path.join(tmp.name, "kenshod.conf")
    with open(config, "w") as f:
        f.write("ocsp.refresh_rate = 0\n")  # the cache stays as presign wrote it

    srv = Server(data=data, args=["--config", config])
    srv.port = port
    measured = {name: {} for name in TABLE}
    with srv:
        clients = Clients(tmp.name, data, srv.url)
        chosen = {}
        for size in SIZES:
            r = run(KENSHO, "--data", data, "presign", "--all", "--ocsp-batch", str(size))
            print(r.stdout.strip())
            sizes = answer_sizes(srv.url, clients.ca, pems)
            check(max(sizes.values()) == size, f"batches of at most {size}: {sorted(sizes.values())}")
            pem = next(p for p in pems if sizes[p] == size)
            chosen[size] = pem
            signed = metric(srv.url, "signed")
            verdicts = clients.verdicts(pem)
            check(metric(srv.url, "signed") == signed,
                  f"every client was answered from the cache (batch of {size})")
            for name, verdict in verdicts.items():
                measured[name][size] = verdict

        if os.environ.get("KENSHO_PRINT_TABLE"):
            print("| client | " + " | ".join(f"batch of {s}" for s in SIZES) + " |")
            print("|---|" + "---|" * len(SIZES))
            for name in TABLE:
                print(f"| {name} | " + " | ".join(measured[name][s] for s in SIZES) + " |")
        for name, expected in TABLE.items():
            check(measured[name] == expected, f"{name}: {measured[name]}, table says {expected}")

        # A member of a 16-batch revoked: every client says revoked for it,
        # and the batch keeps answering the others.
        big = chosen[16]
        sizes = answer_sizes(srv.url, clients.ca, pems)
        others = [p for p in pems if sizes[p] == 16 and p != big]
        serial = format(x509.load_pem_x509_certificate(open(big, "rb").read()).serial_number, "x")
        run(KENSHO, "--data", data, "revoke", "--kind", "sign", "--serial", serial, "--reason",
            "keyCompromise")
        verdicts = clients.verdicts(big)
        # its own answer is a plain one again (kensho revoke pre-signs it)
        check(all(v == "revoked" for v in verdicts.values()), f"every client says revoked: {verdicts}")
        with open(others[0], "rb") as f:
            other = x509.load_pem_x509_certificate(f.read())
        resp = fetch(srv.url, clients.ca, other)
        check([s.serial_number for s in resp.responses] == [other.serial_number]
              and resp.certificate_status == ocsp.OCSPCertStatus.GOOD,
              "the batch, which says good for the revoked one, no longer answers the others")

        # SHA-256 CertIDs: signed once, then cached beside the SHA-1 answer.
        signed = metric(srv.url, "signed")
        for _ in range(3):
            resp = fetch(srv.url, clients.ca, other, hashes.SHA256())
            check(resp.hash_algorithm.name == "sha256", "the answer repeats the SHA-256 CertID")
            resp = fetch(srv.url, clients.ca, other)
            check(resp.responses and all(s.hash_algorithm.name == "sha1" for s in resp.responses),
                  "the SHA-1 answer is still the batch's")
        check(metric(srv.url, "signed") == signed + 1, "a SHA-256 request costs one signature, once")
    print("ok")


if __name__ == "__main__":
    main()
