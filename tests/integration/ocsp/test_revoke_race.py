"""DESIGN rule 1 under load: clients hammer GET for one certificate (served
from the pre-signed cache) while `kensho revoke`, another process, revokes
it. Once the revoke command has returned, no request sent afterwards may be
answered `good`, and the answers must switch to `revoked`."""
import http.client
import os
import sys
import tempfile
import threading
import time

from cryptography.x509 import ocsp

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import get_path, make_data, revoke  # noqa: E402
from harness import Server, check, run  # noqa: E402

CLIENTS = 2
HAMMER_SECONDS = 1.5


def hammer(port, path, stop, results):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not stop.is_set():
        sent = time.monotonic()
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        results.append((sent, r.status, body))
    conn.close()


def main():
    tmp = tempfile.TemporaryDirectory(prefix="kensho-race-")
    data, (alice,) = make_data(tmp.name, people=1)
    sign_ca = os.path.join(data, "ca", "sign-ca.pem")
    req = os.path.join(tmp.name, "req.der")
    run("openssl", "ocsp", "-issuer", sign_ca, "-cert", alice.sign, "-no_nonce", "-reqout", req)
    with open(req, "rb") as f:
        path = "/ocsp/" + get_path(f.read())

    # Two worker processes share the port and the store, as in production.
    with Server(data=data, args=["--workers", "2"]) as srv:
        status, _, body = srv.get(path)  # signed once, cached in the shared store
        check(status == 200 and ocsp.load_der_ocsp_response(body).certificate_status == ocsp.OCSPCertStatus.GOOD,
              "good before the revocation (and now cached)")
        stop = threading.Event()
        results = [[] for _ in range(CLIENTS)]
        threads = [threading.Thread(target=hammer, args=(srv.port, path, stop, results[i]))
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(HAMMER_SECONDS / 3)
        revoke(data, "sign", alice.sign_serial, "keyCompromise")
        committed = time.monotonic()  # the revoke command returned after its commit
        time.sleep(HAMMER_SECONDS * 2 / 3)
        stop.set()
        for t in threads:
            t.join()

    answers = [a for r in results for a in r]
    statuses = {}
    for sent, http_status, body in answers:
        assert http_status == 200, http_status
        resp = ocsp.load_der_ocsp_response(body)
        statuses[body] = resp.certificate_status
    before = [a for a in answers if a[0] < committed]
    after = [a for a in answers if a[0] > committed]
    good_after = [a for a in after if statuses[a[2]] == ocsp.OCSPCertStatus.GOOD]
    print(f"{len(answers)} answers: {len(before)} sent before the revoke returned, {len(after)} after")
    check(len(before) > 50 and len(after) > 50, "the clients were busy on both sides of the revocation")
    check(any(statuses[a[2]] == ocsp.OCSPCertStatus.GOOD for a in before), "good while not revoked")
    check(not good_after, f"no good after the revocation committed ({len(good_after)} seen)")
    check(all(statuses[a[2]] == ocsp.OCSPCertStatus.REVOKED for a in after), "revoked after it")
    tmp.cleanup()


if __name__ == "__main__":
    main()
