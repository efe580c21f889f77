"""Log files for 24/365 operation: with log.format = json every line of the
people-facing log is a JSON object with time, level, pid, worker and
message; log.file and log.access_file take the place of stderr and stdout,
and SIGUSR1 (as logrotate sends it after renaming them) makes kenshod write
new lines to new files at the configured paths -- with one process and with
--workers 2, where the supervisor forwards the signal to every worker. A path
that cannot be opened stops start-up with a message naming the key."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHOD, Server, check, free_port  # noqa: E402


def read_lines(path):
    try:
        with open(path, "rb") as f:
            return [line for line in f.read().split(b"\n") if line]
    except FileNotFoundError:
        return []


def json_lines(path):
    """Every line of path parsed as JSON (fails on a line that is not)."""
    out = []
    for line in read_lines(path):
        try:
            out.append(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as e:
            raise AssertionError(f"{path}: line is not JSON: {line!r}: {e}")
    return out


def poll(fn, timeout=20.0):
    """fn's value once it is truthy, or its last value after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def write_config(directory):
    config = os.path.join(directory, "kenshod.conf")
    with open(config, "w") as f:
        f.write("log.format = json\n"
                f"log.file = {directory}/kenshod.log\n"
                f"log.access_file = {directory}/access.log\n")
    return config


def request_ids(srv, count):
    ids = []
    for _ in range(count):
        status, headers, _ = srv.get("/healthz")
        check(status == 200, "request answered")
        ids.append(headers["X-Request-Id"])
    return ids


def access_ids(path):
    return {line["id"] for line in json_lines(path)}


def check_error_lines(lines, workers):
    check(lines, "the error log has lines")
    for line in lines:
        check(isinstance(line.get("time"), str) and line["time"].endswith("Z")
              and line.get("level") in ("error", "warn", "info", "debug")
              and isinstance(line.get("pid"), int) and isinstance(line.get("message"), str),
              f"a JSON error line with time, level, pid and message: {line}")
    seen = {line["worker"] for line in lines if "worker" in line}
    check(seen and seen <= set(range(workers)), f"worker lines name their worker {sorted(seen)}")


def rotate_and_check(srv, directory, workers):
    log, access = f"{directory}/kenshod.log", f"{directory}/access.log"
    # Every worker is listening (so handles SIGUSR1) before the rotation.
    check(poll(lambda: {line.get("worker") for line in json_lines(log)
                        if line["message"].startswith("listening on")} == set(range(workers)),
               60), "every worker started")
    before = request_ids(srv, 3)
    check(poll(lambda: set(before) <= access_ids(access)),
          "access lines go to log.access_file, as JSON")
    check(not any(b"/healthz" in line for line in read_lines(srv.log_path)),
          "and not to stdout")
    lines = json_lines(log)
    check_error_lines(lines, workers)

    os.rename(log, log + ".1")
    os.rename(access, access + ".1")
    srv.proc.send_signal(signal.SIGUSR1)
    # Each process says it reopened, in the new file: the supervisor (no
    # worker field) and every worker.
    want = {"supervisor"} if workers > 1 else set()
    want |= set(range(workers))

    def reopened():
        got = {line.get("worker", "supervisor") for line in json_lines(log)
               if line["message"] == "log: log files reopened"}
        return got >= want and got
    check(poll(reopened), f"every process reopened {log} ({sorted(map(str, want))})")
    lines = json_lines(log)
    check_error_lines(lines, workers)
    check(all(line.get("component") == "log" for line in lines
              if line["message"].startswith("log: ")),
          "a message's leading 'component:' is also a field of its own")
    after = request_ids(srv, 20)
    check(poll(lambda: set(after) <= access_ids(access)),
          "requests after SIGUSR1 are logged in the new access file")
    check(not (set(after) & access_ids(access + ".1")), "and not in the renamed one")
    check(set(before) <= access_ids(access + ".1"), "the renamed file keeps the earlier lines")
    check(srv.proc.poll() is None, "kenshod keeps running after SIGUSR1")


def main():
    for workers in (1, 2):
        with tempfile.TemporaryDirectory(prefix="kensho-logs-") as directory:
            srv = Server(args=["--config", write_config(directory), "--workers", str(workers)])
            with srv:
                rotate_and_check(srv, directory, workers)
            check(srv.proc.returncode == 0, f"--workers {workers}: stops cleanly")

    with tempfile.TemporaryDirectory(prefix="kensho-logs-") as directory:
        missing = f"{directory}/no-such-dir/kenshod.log"
        proc = subprocess.run([KENSHOD, "--data", f"{directory}/data", "--listen",
                               f"127.0.0.1:{free_port()}", "--config", "/dev/stdin"],
                              input=f"log.file = {missing}\n", capture_output=True,
                              text=True, timeout=30)
        check(proc.returncode == 1 and "log.file" in proc.stderr and missing in proc.stderr,
              f"an unopenable log.file stops start-up naming it: {proc.stderr.strip()}")
        check(not os.path.exists(f"{directory}/data"), "before the data directory is made")
        proc = subprocess.run([KENSHOD, "--check-config", "/dev/stdin"],
                              input="log.format = xml\n", capture_output=True, text=True,
                              timeout=30)
        check(proc.returncode == 1 and "log.format" in proc.stderr
              and "text, json" in proc.stderr,
              f"log.format accepts text or json: {proc.stderr.strip()}")


if __name__ == "__main__":
    main()
