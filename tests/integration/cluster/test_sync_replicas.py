#!/usr/bin/env python3
"""Synchronous acknowledgement (docs/cluster.md): a primary with
replication.sync_replicas = 1 and one replica, on loopback.

- 1,000 revocations through the admin API (four operators at once) while
  kensho-bench asks the replica for OCSP answers: after each
  acknowledgement, neither node answers *good* for that certificate (a
  checker asks both directly);
- an intake receipt is acknowledged (201) with the replica following;
- with the replica stopped, a revocation through the admin API and one with
  `kensho revoke` fail after replication.sync_timeout saying how many
  replicas acknowledged, and so does an intake submission; each stands on
  the primary, and the replica, restarted, catches up with all of them."""
import base64
import hashlib
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "intake"))
from harness import BUILD, KENSHO, Server, check, run, wait_for  # noqa: E402
from intake_common import Signer, connect, issue, post  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.x509 import ocsp  # noqa: E402

BENCH = os.path.join(BUILD, "bench", "kensho-bench")
REVOCATIONS = 1000
OPERATORS = 4


def der(tag, body):
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + body


class Asker:
    """Builds RFC 6960 GET requests (SHA-1 CertID, no nonce) for one issuer
    and reads the certificate status of an answer."""

    def __init__(self, issuer_pem):
        issuer = x509.load_pem_x509_certificate(open(issuer_pem, "rb").read())
        self.name_hash = hashlib.sha1(issuer.subject.public_bytes()).digest()
        key = issuer.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        # subjectPublicKey's bits: the SPKI's last element, a BIT STRING
        spki = x509.load_der_x509_certificate  # noqa: F841 (only for the reader)
        self.key_hash = hashlib.sha1(self.bit_string_contents(key)).digest()

    @staticmethod
    def bit_string_contents(spki):
        def read(buf, i):
            tag, n = buf[i], buf[i + 1]
            i += 2
            if n & 0x80:
                k = n & 0x7F
                n = int.from_bytes(buf[i:i + k], "big")
                i += k
            return tag, buf[i:i + n], i + n
        _, inner, _ = read(spki, 0)
        _, _, after_alg = read(inner, 0)
        tag, bits, _ = read(inner, after_alg)
        assert tag == 0x03
        return bits[1:]  # without the unused-bits octet

    def path(self, serial_hex):
        serial = bytes.fromhex(serial_hex if len(serial_hex) % 2 == 0 else "0" + serial_hex)
        if serial[0] & 0x80:
            serial = b"\x00" + serial
        sha1 = der(0x30, der(0x06, bytes.fromhex("2b0e03021a")) + b"\x05\x00")
        cert_id = der(0x30, sha1 + der(0x04, self.name_hash) + der(0x04, self.key_hash)
                      + der(0x02, serial))
        req = der(0x30, der(0x30, der(0x30, der(0x30, cert_id))))
        return "/ocsp/" + urllib.parse.quote(base64.b64encode(req).decode(), safe="")

    @staticmethod
    def status(answer):
        try:
            r = ocsp.load_der_ocsp_response(answer)
        except ValueError:
            return "unparsable"
        if r.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return r.response_status.name  # TRY_LATER from a replica without the answer
        return r.certificate_status.name.lower()


def tls_context(tls, who):
    ctx = ssl.create_default_context(cafile=f"{tls}/ca.pem")
    ctx.load_cert_chain(f"{tls}/clients/{who}.pem", f"{tls}/clients/{who}.key")
    return ctx


def admin_revoke(conn, serial):
    body = f"kind=sign&serial={serial}&reason=keyCompromise"
    conn.request("POST", "/v1/admin/revoke", body=body,
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    return r.status, r.read()


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-sync-") as tmp:
        pdata = os.path.join(tmp, "primary")
        rdata = os.path.join(tmp, "replica")
        pconf = os.path.join(tmp, "primary.conf")
        with open(pconf, "w") as f:
            f.write("replication.sync_replicas = 1\nreplication.sync_timeout = 3s\n"
                    "intake.allow_plain = true\n")
        with Server(data=pdata, tls=True, args=["--config", pconf]) as primary:
            tls = os.path.join(pdata, "tls")
            run(KENSHO, "--data", pdata, "gen", "--people", REVOCATIONS + 100, "--revoked", "0",
                "--seed", "5")
            run(KENSHO, "--data", pdata, "presign")
            index = os.path.join(tmp, "index.txt")
            run(BENCH, "--url", primary.url + "/ocsp", "--ocsp-data", pdata, "--issuer", "sign",
                "--mix", "1,0,0", "--pool", REVOCATIONS + 2, "--openssl-index", index, "--setup-only")
            serials = [line.split("\t")[3] for line in open(index) if line.startswith("V\t")]
            check(len(serials) == REVOCATIONS + 2, f"{len(serials)} good signing certificates to revoke")
            asker = Asker(os.path.join(pdata, "ca", "sign-ca.pem"))
            rconf = os.path.join(tmp, "replica.conf")
            with open(rconf, "w") as f:
                f.write(f"replication.cert = {tls}/clients/replica.pem\n"
                        f"replication.key = {tls}/clients/replica.key\n"
                        f"replication.ca = {tls}/ca.pem\n"
                        "replication.poll_wait = 5s\nreplication.files_interval = 1s\n")
            primary_url = f"https://localhost:{primary.tls_port}"
            replica = Server(data=rdata, args=["--config", rconf, "--replica-of", primary_url])
            with replica:
                wait_for("the replica is ready", lambda: replica.get("/readyz")[0] == 200, 60)
                check(replica.get(asker.path(serials[0]))[2] and
                      Asker.status(replica.get(asker.path(serials[0]))[2]) == "good",
                      "before: the replica answers good for the first certificate")

                # --- 1,000 revocations under load, each checked on both ---------
                load = subprocess.Popen([BENCH, "--url", replica.url + "/ocsp", "--ocsp-data", pdata,
                                         "--mix", "1,0,0", "--pool", "200", "--seed", "11",
                                         "--rate", "100", "--connections", "4", "--duration", "120",
                                         "--check-share", "0"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                todo = list(serials[:REVOCATIONS])
                lock = threading.Lock()
                seen = {"acked": 0, "good": [], "failed": [], "revoked": 0, "try_later": 0}

                def operator():
                    conn = http.client.HTTPSConnection("localhost", primary.tls_port,
                                                       context=tls_context(tls, "operator"), timeout=30)
                    while True:
                        with lock:
                            if not todo:
                                return
                            serial = todo.pop()
                        status, body = admin_revoke(conn, serial)
                        if status != 200:
                            with lock:
                                seen["failed"].append((serial, status, body[:200]))
                            continue
                        answers = [Asker.status(n.get(asker.path(serial))[2]) for n in (primary, replica)]
                        with lock:
                            seen["acked"] += 1
                            if "good" in answers:
                                seen["good"].append((serial, answers))
                            seen["revoked"] += answers.count("revoked")
                            seen["try_later"] += answers.count("TRY_LATER")
                started = time.monotonic()
                threads = [threading.Thread(target=operator) for _ in range(OPERATORS)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                took = time.monotonic() - started
                load.terminate()
                load.wait(10)
                print(f"# {seen['acked']} revocations acknowledged in {took:.1f} s; answers after "
                      f"each: {seen['revoked']} revoked, {seen['try_later']} tryLater", flush=True)
                check(not seen["failed"], f"every revocation acknowledged: {seen['failed'][:3]}")
                check(seen["acked"] == REVOCATIONS and not seen["good"],
                      f"after each of {REVOCATIONS} acknowledgements neither node answered good "
                      f"({seen['good'][:3]})")
                metrics = primary.get("/metrics")[2].decode()
                check("kensho_replication_sync_total" in metrics,
                      "the primary counts acknowledged writes (kensho_replication_sync_total)")

                # --- an intake receipt, acknowledged with the replica following
                person = os.path.join(tmp, "person")
                issue(pdata, person)
                signer = Signer(os.path.join(person, "sign.pem"), os.path.join(person, "sign.key"))
                conn = connect(primary.port)
                status, _, _ = post(conn, "/v1/intake", signer.sign(b"application 1"),
                                    {"Content-Type": "application/cms"})
                check(status == 201, f"intake with the replica following: 201 ({status})")

            # --- the replica stopped: writes fail after the timeout, and stand
            last, spare = serials[REVOCATIONS], serials[REVOCATIONS + 1]
            conn = http.client.HTTPSConnection("localhost", primary.tls_port,
                                               context=tls_context(tls, "operator"), timeout=30)
            t0 = time.monotonic()
            status, body = admin_revoke(conn, last)
            waited = time.monotonic() - t0
            answer = json.loads(body)
            check(status == 503 and answer["error"] == "not_replicated"
                  and "only 0 of the 1 replicas" in answer["detail"] and waited >= 2.5,
                  f"admin revoke with the replica down: 503 not_replicated after the timeout "
                  f"({status} {answer} after {waited:.1f} s)")
            r = run(KENSHO, "--data", pdata, "revoke", "--kind", "sign", "--serial", spare,
                    "--reason", "keyCompromise", check=False)
            check(r.returncode != 0 and "only 0 of the 1 replicas" in r.stderr,
                  f"kensho revoke with the replica down fails saying so: {r.stderr.strip()[:300]}")
            conn = connect(primary.port)
            second = signer.sign(b"application 2")  # signed once: the same bytes twice
            status, _, body = post(conn, "/v1/intake", second, {"Content-Type": "application/cms"})
            check(status == 503 and json.loads(body)["error"] == "not_replicated",
                  f"intake with the replica down: 503 not_replicated ({status} {body[:200]})")
            for serial in (last, spare):
                check(Asker.status(primary.get(asker.path(serial))[2]) == "revoked",
                      f"{serial} stands revoked on the primary")

            with Server(data=rdata, args=["--config", rconf, "--replica-of", primary_url]) as replica:
                for serial in (last, spare):
                    wait_for(f"the restarted replica answers revoked for {serial}",
                             lambda serial=serial: Asker.status(replica.get(asker.path(serial))[2])
                             == "revoked", 60)
                status, _, body = post(connect(primary.port), "/v1/intake", second,
                                       {"Content-Type": "application/cms"})
                check(status == 200, f"the same application again, the replica back: its receipt "
                      f"({status} {body[:200]})")


if __name__ == "__main__":
    main()
