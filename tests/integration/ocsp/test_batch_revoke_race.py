"""DESIGN rule 1 with batch answers: revocations commit while the refresher
signs batches and clients keep asking.

kenshod runs two workers with ocsp.batch = 4 and answers that fall due
3 s after they are signed (ocsp.validity 60s, ocsp.refresh_before 57s), so
the refresher re-signs batches all the time. Three client threads ask GET
for 12 certificates round-robin while `kensho revoke` (another process)
revokes 6 of them one after another. Every answer to a request sent after a
revocation's command returned is parsed: no SingleResponse in it — for the
certificate asked or any other member of a batch — may say good for that
certificate. The test also shows it could fail: batch answers were served
during the run, the refresher signed, and every revoked certificate was asked
about after its revocation. Bounded: 6 revocations, about 5 s of load."""
import http.client
import os
import sys
import tempfile
import threading
import time
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import get_path, make_data, revoke  # noqa: E402
from harness import KENSHO, Server, check, run  # noqa: E402

PEOPLE = 12
REVOKED = 6
CLIENTS = 3
PAUSE = 0.5  # between revocations
TAIL = 1.5  # of load after the last revocation


def hammer(port, paths, stop, results):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    i = 0
    while not stop.is_set():
        index = i % len(paths)
        i += 1
        sent = time.monotonic()
        conn.request("GET", paths[index])
        r = conn.getresponse()
        results.append((sent, index, r.status, r.read()))
    conn.close()


def metric_sum(url, name):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def main():
    tmp = tempfile.TemporaryDirectory(prefix="kensho-batch-race-")
    data, persons = make_data(tmp.name, people=PEOPLE)
    ca_pem = os.path.join(data, "ca", "sign-ca.pem")
    with open(ca_pem, "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    certs, paths = [], []
    for p in persons:
        with open(p.sign, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        certs.append(cert)
        req = ocsp.OCSPRequestBuilder().add_certificate(cert, ca, hashes.SHA1()).build()
        paths.append("/ocsp/" + get_path(req.public_bytes(serialization.Encoding.DER), "pct"))
    run(KENSHO, "--data", data, "presign", "--all", "--ocsp-batch", "4", "--validity", "60",
        "--refresh-before", "57")
    config = os.path.join(tmp.name, "kenshod.conf")
    with open(config, "w") as f:
        f.write("ocsp.validity = 60s\nocsp.refresh_before = 57s\nocsp.batch = 4\n"
                "ocsp.refresh_batch = 8\n")

    with Server(data=data, args=["--workers", "2", "--config", config]) as srv:
        refreshed_before = metric_sum(srv.url, "kensho_ocsp_refresh_signatures_total")
        stop = threading.Event()
        results = [[] for _ in range(CLIENTS)]
        threads = [threading.Thread(target=hammer, args=(srv.port, paths, stop, results[i]))
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        acked = {}  # serial -> monotonic time its revocation was acknowledged
        try:
            time.sleep(PAUSE)
            for p, cert in zip(persons[:REVOKED], certs[:REVOKED]):
                revoke(data, "sign", p.sign_serial, "keyCompromise")
                acked[cert.serial_number] = time.monotonic()
                time.sleep(PAUSE)
            time.sleep(TAIL)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=15)
        refreshed = metric_sum(srv.url, "kensho_ocsp_refresh_signatures_total") - refreshed_before

    answers = [a for r in results for a in r]
    check(all(status == 200 for _, _, status, _ in answers), "every request answered 200")
    after = {serial: 0 for serial in acked}
    batched = bad = unsigned = unnamed = 0
    for sent, index, _, body in answers:
        resp = ocsp.load_der_ocsp_response(body)
        if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            unsigned += 1
            continue
        singles = list(resp.responses)
        batched += len(singles) > 1
        unnamed += not any(s.serial_number == certs[index].serial_number for s in singles)
        for s in singles:
            when = acked.get(s.serial_number)
            if when is None or sent <= when:
                continue
            if s.serial_number == certs[index].serial_number:
                after[s.serial_number] += 1
            if s.certificate_status != ocsp.OCSPCertStatus.REVOKED:
                bad += 1
    print(f"{len(answers)} answers, {batched} batch answers, refresher signed {refreshed:.0f}, "
          f"asked after revocation: {after}")
    check(unsigned == 0, f"every answer is a signed one ({unsigned} were not)")
    check(unnamed == 0, f"every answer names the certificate asked ({unnamed} did not)")
    check(bad == 0, f"no answer after a revocation's acknowledgement says good for it ({bad} did)")
    check(batched > 0, "batch answers were served during the run")
    check(refreshed > 0, "the refresher signed during the run")
    check(all(n > 0 for n in after.values()), "every revoked certificate was asked after its revocation")
    print("ok")


if __name__ == "__main__":
    main()
