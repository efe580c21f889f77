"""kenshod speaks systemd's notification protocol (sd_notify) without systemd:
this test plays the service manager. It binds the AF_UNIX datagram socket
named in NOTIFY_SOCKET, sets WATCHDOG_USEC, and checks, with one worker and
with --workers 2, that the main process (never a worker) says READY=1 with a
STATUS once every worker listens, RELOADING=1 then READY=1 around SIGHUP,
WATCHDOG=1 again and again, and STOPPING=1 on SIGTERM. With two workers, a
worker whose loop is stalled (SIGSTOP) stops the watchdog pings until it runs
again. Bounded waits only: no assertion about how long anything took."""
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Server, check  # noqa: E402

WATCHDOG_USEC = 1_000_000  # systemd's WatchdogSec=1s
INTERVAL = WATCHDOG_USEC / 1e6


class Manager:
    """The service manager's end of NOTIFY_SOCKET: each datagram with the
    pid of the process that sent it (SO_PASSCRED)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.seen = []

    def receive(self, timeout):
        """The next (pid, {key: value}) or None after timeout seconds."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        pid = None
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", value[:12])[0]
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        self.seen.append((pid, fields))
        return pid, fields

    def wait_for(self, key, timeout=30.0):
        """Reads until a message with key arrives; returns (it, the non-watchdog
        messages before it). Fails after timeout seconds."""
        deadline = time.monotonic() + timeout
        before = []
        while time.monotonic() < deadline:
            got = self.receive(deadline - time.monotonic())
            if got is None:
                break
            if key in got[1]:
                return got, before
            if "WATCHDOG" not in got[1]:
                before.append(got)
        raise AssertionError(f"no {key} within {timeout}s; seen {self.seen[-10:]}")

    def drain(self, seconds):
        """Reads everything sent during the next `seconds`; returns it."""
        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            got = self.receive(left)
            if got:
                out.append(got)
        return out

    def close(self):
        self.sock.close()


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def listening(port):
    """How many sockets listen on 127.0.0.1:port (one per worker)."""
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def run(workers, tmp):
    path = os.path.join(tmp, f"notify-{workers}")
    manager = Manager(path)
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    srv = Server(args=["--no-access-log", "--workers", str(workers)], env=env)
    try:
        srv.start()
        main = srv.proc.pid
        tag = f"{workers} worker(s):"

        (pid, ready), before = manager.wait_for("READY")
        check(pid == main, f"{tag} READY=1 comes from the main process ({pid} == {main})")
        check(before == [], f"{tag} nothing but READY=1 announces the start: {before}")
        check(f"http://127.0.0.1:{srv.port}/" in ready.get("STATUS", ""),
              f"{tag} READY=1 carries a STATUS naming the listener: {ready.get('STATUS')!r}")
        check(listening(srv.port) == workers,
              f"{tag} at READY=1 every worker listens ({listening(srv.port)} sockets)")
        check(srv.get("/healthz")[0] == 200, f"{tag} serving after READY=1")

        for n in range(3):
            (pid, _), _ = manager.wait_for("WATCHDOG", timeout=10 * INTERVAL)
            check(pid == main, f"{tag} WATCHDOG=1 #{n + 1} from the main process")

        srv.proc.send_signal(signal.SIGHUP)
        (pid, reloading), before = manager.wait_for("RELOADING")
        check(pid == main and before == [], f"{tag} SIGHUP: RELOADING=1 first, from the main process")
        check(reloading.get("MONOTONIC_USEC", "").isdigit(),
              f"{tag} RELOADING=1 carries MONOTONIC_USEC (systemd 253+ reads it)")
        (pid, again), before = manager.wait_for("READY")
        check(pid == main and "STATUS" in again and before == [],
              f"{tag} then READY=1 with a STATUS once the reload ran: {again}")
        check(srv.get("/healthz")[0] == 200, f"{tag} serving after the reload")

        if workers > 1:
            stalled = children(main)[0]
            os.kill(stalled, signal.SIGSTOP)
            try:
                # Pings may still come until the worker's last heartbeat is one
                # interval old; after that, none while it stays stopped.
                manager.drain(3 * INTERVAL)
                late = [m for m in manager.drain(4 * INTERVAL) if "WATCHDOG" in m[1]]
                check(late == [], f"{tag} no WATCHDOG=1 in 4 intervals while worker {stalled} "
                      f"is stopped ({len(late)} seen)")
                check("has not turned its event loop" in srv.output(),
                      f"{tag} the supervisor logs which worker stalled")
            finally:
                os.kill(stalled, signal.SIGCONT)
            (pid, _), _ = manager.wait_for("WATCHDOG", timeout=10 * INTERVAL)
            check(pid == main, f"{tag} WATCHDOG=1 again once the worker runs")

        srv.proc.send_signal(signal.SIGTERM)
        (pid, stopping), _ = manager.wait_for("STOPPING")
        check(pid == main, f"{tag} SIGTERM: STOPPING=1 from the main process")
        check(srv.proc.wait(30) == 0, f"{tag} exits 0 after draining")
        manager.drain(0.2)
        senders = {pid for pid, _ in manager.seen}
        check(senders == {main}, f"{tag} every notification came from the main process: {senders}")
    finally:
        srv.stop()
        manager.close()
        if srv.tmp:
            srv.tmp.cleanup()


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-notify-") as tmp:
        run(1, tmp)
        run(2, tmp)


if __name__ == "__main__":
    main()
