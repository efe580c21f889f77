"""CRLs are never served past their nextUpdate (docs/architecture.md rule 6).

With validities of a few seconds, kenshod reissues each CRL before its
nextUpdate, so `openssl verify -crl_check` keeps passing over several
periods. With generation off and a CRL from `kensho crl --validity 3`,
the CRL expires: its URL answers 503, /readyz fails naming it, the
kensho_crl_stale gauge is 1 and the log says so once; publishing a new
CRL puts everything right again. Every wait is bounded polling."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHO, Server, check, run, wait_for  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding  # noqa: E402


def openssl_verify(tmp, ca, cert, crl_der, at):
    """openssl verify -crl_check of cert against one CRL, at unix time `at`."""
    pem = os.path.join(tmp, "verify.crl.pem")
    with open(pem, "wb") as f:
        f.write(x509.load_der_x509_crl(crl_der).public_bytes(Encoding.PEM))
    r = subprocess.run(["openssl", "verify", "-crl_check", "-attime", str(at), "-CAfile", ca,
                        "-CRLfile", pem, cert], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def metric(server, name, labels):
    status, _, body = server.get("/metrics")
    for line in body.decode().splitlines():
        if line.startswith(f"{name}{{") and all(l in line for l in labels):
            return float(line.rsplit(" ", 1)[1])
    return None


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-crl-fresh-") as tmp:
        data = os.path.join(tmp, "data")
        run(KENSHO, "--data", data, "ca", "init")
        people = []
        for name in ("good", "bad"):
            out = os.path.join(tmp, name)
            run(KENSHO, "--data", data, "issue", "--name", "KENSHO TARO", "--birth",
                "1980-01-02", "--sex", "1", "--address", "東京都千代田区千代田1-1", "--out", out)
            people.append(out)
        good, bad = (os.path.join(p, "sign.pem") for p in people)
        bad_serial = x509.load_pem_x509_certificate(open(bad, "rb").read()).serial_number
        run(KENSHO, "--data", data, "revoke", "--kind", "sign", "--serial", f"{bad_serial:x}",
            "--reason", "keyCompromise")
        ca = os.path.join(data, "ca", "sign-ca.pem")

        # -- short validities: reissued before nextUpdate, period after period
        config = os.path.join(tmp, "short.conf")
        with open(config, "w") as f:
            f.write("crl.check_interval = 200ms\ncrl.full_validity = 4s\n"
                    "crl.delta_validity = 4s\ncrl.refresh_before = 2s\n"
                    "crl.delta_after_ms = 300\n")
        with Server(data=data, args=["--config", config]) as server:
            wait_for("the generated full CRL is served",
                     lambda: server.get("/crl/sign.crl")[0] == 200)
            numbers = set()
            deadline = time.monotonic() + 90
            while len(numbers) < 4 and time.monotonic() < deadline:
                status, _, body = server.get("/crl/sign.crl")
                fetched = int(time.time())
                check(status == 200, "the full CRL is served, never 503")
                crl = x509.load_der_x509_crl(body)
                numbers.add(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
                rc, out = openssl_verify(tmp, ca, good, body, fetched)
                check(rc == 0, f"openssl verify -crl_check: the good certificate is OK ({out.strip()})")
                rc, out = openssl_verify(tmp, ca, bad, body, fetched)
                check(rc != 0 and "certificate revoked" in out,
                      "openssl verify -crl_check: the revoked one is revoked")
                status, _, _ = server.get("/crl/sign-delta.crl")
                check(status == 200, "the delta CRL is served, never 503")
                time.sleep(0.3)
            check(len(numbers) >= 4, f"the full CRL was reissued period after period {sorted(numbers)}")
            status, _, body = server.get("/readyz")
            check(status == 200 and json.loads(body)["checks"]["crl"] == "ok", "/readyz: crl ok")
            nu = metric(server, "kensho_crl_next_update_seconds", ['kind="sign"', 'delta="false"'])
            check(nu is not None and nu > 0, f"kensho_crl_next_update_seconds for sign.crl ({nu})")
            check(metric(server, "kensho_crl_number", ['kind="sign"', 'delta="false"']) >= 1,
                  "kensho_crl_number for sign.crl")
            check(metric(server, "kensho_crl_stale", ['kind="sign"', 'delta="true"']) == 0,
                  "kensho_crl_stale is 0 while fresh")
            check("passed its nextUpdate" not in server.output(), "no CRL expired")

        # -- generation off, a CRL of three seconds: it expires and says so
        run(KENSHO, "--data", data, "crl", "--kind", "sign", "--validity", "3")
        config = os.path.join(tmp, "off.conf")
        with open(config, "w") as f:
            f.write("crl.check_interval = 100ms\ncrl.generate = false\n")
        with Server(data=data, args=["--config", config]) as server:
            wait_for("after its nextUpdate the full CRL answers 503",
                     lambda: server.get("/crl/sign.crl")[0] == 503)
            status, headers, body = server.get("/crl/sign.crl")
            error = json.loads(body)
            check(headers.get("Content-Type", "").startswith("application/json")
                  and "/crl/sign.crl" in error["detail"] and "nextUpdate" in error["detail"],
                  f"a JSON error that names the CRL and why: {error}")
            status, _, body = server.get("/readyz")
            ready = json.loads(body)
            check(status == 503 and "/crl/sign.crl" in ready["checks"]["crl"],
                  f"/readyz fails with a crl check naming it: {ready['checks']['crl']}")
            wait_for("kensho_crl_stale is 1 for sign.crl",
                     lambda: metric(server, "kensho_crl_stale", ['kind="sign"', 'delta="false"']) == 1)
            # the other three (from the first run) expire as well; by then
            # the sign.crl error has had many checks to be repeated in
            wait_for("every expired CRL is logged",
                     lambda: all(f"{p} (number" in server.output() and "passed its nextUpdate" in server.output()
                                 for p in ("/crl/sign-delta.crl", "/crl/auth.crl", "/crl/auth-delta.crl")))
            logged = [l for l in server.output().splitlines()
                      if "/crl/sign.crl (number" in l and "passed its nextUpdate" in l]
            check(len(logged) == 1, f"the log says it once: {logged}")

            # a new CRL puts it right (and new ARLs: the first run's expired too)
            for args in (["--kind", "sign"], ["--kind", "sign", "--delta"],
                         ["--kind", "auth"], ["--kind", "auth", "--delta"],
                         ["--kind", "sign", "--arl"], ["--kind", "auth", "--arl"]):
                run(KENSHO, "--data", data, "crl", *args)
            wait_for("a newly published CRL is served again",
                     lambda: server.get("/crl/sign.crl")[0] == 200)
            wait_for("/readyz is ready again", lambda: server.get("/readyz")[0] == 200)
            check(metric(server, "kensho_crl_stale", ['kind="sign"', 'delta="false"']) == 0,
                  "kensho_crl_stale is 0 again")
    print("ok")


if __name__ == "__main__":
    main()
