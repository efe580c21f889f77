"""SIGHUP re-reads --config FILE: keys marked live (log.access, the
per-request limits) take effect at once; a changed key that needs a restart
is named in the log; a file that does not validate changes nothing, is
logged with the reason, and the server keeps serving with the configuration
it had."""
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Server, check  # noqa: E402

LONG_PATH = "/v1/certs/sign/" + "0" * 100  # 115 bytes of request-target


def wait_for_output(srv, text, count=1, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if srv.output().count(text) >= count:
            return True
        time.sleep(0.05)
    return False


def access_lines(srv):
    return sum(1 for line in srv.output().splitlines() if line.startswith("{"))


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-reload-") as tmp:
        conf = os.path.join(tmp, "kenshod.conf")
        write(conf, "log.access = on\nlimits.uri_bytes = 8K\n")
        with Server(args=["--config", conf]) as srv:
            status, _, _ = srv.get(LONG_PATH)
            check(status != 414, f"a 115-byte target is within limits.uri_bytes = 8K ({status})")
            check(srv.get("/healthz")[0] == 200, "serves /healthz")
            deadline = time.monotonic() + 10
            while access_lines(srv) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            check(access_lines(srv) >= 2, "log.access = on: requests are logged")

            # Live keys and a restart-only key change together.
            write(conf, "log.access = off\nlimits.uri_bytes = 64\n"
                        "tls.handshake_timeout = 5s\n")
            srv.proc.send_signal(signal.SIGHUP)
            check(wait_for_output(srv, "config: reloaded"), "SIGHUP re-reads the file")
            out = srv.output()
            check("tls.handshake_timeout changed: takes effect at restart" in out,
                  "a changed restart-only key is named in the log")
            check("limits.uri_bytes changed: applied" in out, "a changed live key is logged as applied")
            logged = access_lines(srv)
            status, _, _ = srv.get(LONG_PATH)
            check(status == 414, f"limits.uri_bytes = 64 applies at once: 414 ({status})")
            check(srv.get("/healthz")[0] == 200, "still serves /healthz")
            time.sleep(0.5)  # the access log is flushed once per loop turn
            check(access_lines(srv) == logged, "log.access = off applies at once: nothing logged")

            # A broken file: refused with the reason, the old configuration stays.
            write(conf, "log.access = on\nlimits.uri_bytes = lots\n")
            srv.proc.send_signal(signal.SIGHUP)
            check(wait_for_output(srv, "config: reload of"), "a broken file is reported")
            out = srv.output()
            check("refused, the previous configuration stays in force" in out
                  and "limits.uri_bytes" in out.split("config: reload of", 1)[1],
                  "the refusal names the bad key")
            check(srv.proc.poll() is None, "kenshod keeps running after a refused reload")
            status, _, _ = srv.get(LONG_PATH)
            check(status == 414, f"the previous limits.uri_bytes = 64 stays in force ({status})")
            time.sleep(0.5)
            check(access_lines(srv) == logged, "the previous log.access = off stays in force")

            # Fixed again: the reload goes through.
            write(conf, "log.access = on\nlimits.uri_bytes = 8K\n")
            srv.proc.send_signal(signal.SIGHUP)
            check(wait_for_output(srv, "config: reloaded", count=2), "a fixed file reloads")
            status, _, _ = srv.get(LONG_PATH)
            check(status != 414, f"limits.uri_bytes back to 8K ({status})")
        check(srv.proc.returncode == 0, "kenshod exits 0 on SIGTERM")


if __name__ == "__main__":
    main()
