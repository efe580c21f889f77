"""The refresher in kenshod: with ocsp.validity = 60s and ocsp.refresh_before
= 45s every answer falls due 15 s after it is signed. Two workers run, but
only one refresher holds the store's lease: every missing answer gets signed
exactly once (the refresh counter summed over workers equals the number that
were missing), and re-signed once when due (a second round), and a certificate revoked meanwhile answers revoked through
openssl ocsp. Only bounded waits."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from common import make_data, revoke  # noqa: E402
from harness import KENSHO, Server, check, run, wait_for  # noqa: E402

VALIDITY, BEFORE = 60, 45


def status(data):
    r = run(KENSHO, "--data", data, "ocsp", "status", "--json", "--validity", str(VALIDITY),
            "--refresh-before", str(BEFORE))
    return json.loads(r.stdout)


def metric_sum(server, name):
    _, _, body = server.get("/metrics")
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.split()[-1])
    return total


def main():
    tmp = tempfile.TemporaryDirectory(prefix="kensho-refresher-")
    data, (alice,) = make_data(tmp.name, people=1)  # issued: pre-signed at issuance
    run(KENSHO, "--data", data, "gen", "--people", "10", "--seed", "3")  # none pre-signed
    before = status(data)
    total, missing = before["certificates"], before["missing"]
    check(missing >= 10 and before["fresh"] == total - missing, f"a population to refresh: {before}")
    config = os.path.join(tmp.name, "kenshod.conf")
    with open(config, "w") as f:
        f.write(f"ocsp.validity = {VALIDITY}s\nocsp.refresh_before = {BEFORE}s\n")

    with Server(data=data, args=["--workers", "2", "--config", config]) as srv:
        def caught_up():
            s = status(data)
            return s["missing"] == 0 and s["due"] == 0

        wait_for("every missing answer signed", caught_up, timeout=14)
        signed = metric_sum(srv, "kensho_ocsp_refresh_signatures_total")
        check(signed == missing, f"each missing answer signed once ({signed} for {missing})")
        check(metric_sum(srv, "kensho_ocsp_refresh_lease") == 1, "one worker holds the lease")

        # revoked meanwhile: kensho revoke pre-signs the revoked answer
        revoke(data, "sign", alice.sign_serial, "keyCompromise")
        ca = os.path.join(data, "ca", "sign-ca.pem")
        r = run("openssl", "ocsp", "-issuer", ca, "-cert", alice.sign, "-url", srv.url + "/ocsp",
                "-CAfile", ca, "-no_nonce", check=False)
        check(": revoked" in r.stdout, f"revoked through openssl ocsp: {r.stdout}{r.stderr}")

        # what the refresher signed falls due 15 s later: the second round
        # re-signs each once more. (The answers the CLI pre-signed at
        # issuance and revocation carry its default validity, 1h.)
        wait_for("every refreshed answer re-signed",
                 lambda: metric_sum(srv, "kensho_ocsp_refresh_signatures_total") >= 2 * missing,
                 timeout=40)
        signed = metric_sum(srv, "kensho_ocsp_refresh_signatures_total")
        check(signed == 2 * missing, f"each answer re-signed once ({signed} for 2 x {missing})")
        wait_for("caught up again", caught_up, timeout=10)
        r = run("openssl", "ocsp", "-issuer", ca, "-cert", alice.sign, "-url", srv.url + "/ocsp",
                "-CAfile", ca, "-no_nonce", check=False)
        check(": revoked" in r.stdout, f"still revoked after the refresh: {r.stdout}{r.stderr}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
