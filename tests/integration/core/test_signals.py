"""Process model: SIGTERM drains (in-flight requests finish with
Connection: close, idle connections close, exit 0 within the bound), SIGHUP
does not stop the server, and with --workers 2 the supervisor restarts a
worker that dies and stops all of them on SIGTERM."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from harness import Server, check  # noqa: E402
from client import Conn, get, wait_until  # noqa: E402


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and fields[0] != "Z":
                    out.append(int(entry))
            except OSError:
                pass
    return sorted(out)



def listening(port):
    """How many sockets listen on 127.0.0.1:port (one per worker)."""
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if line.strip())

def main():
    srv = Server(args=["--no-access-log"]).start()
    try:
        srv.proc.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        check(srv.get("/healthz")[0] == 200, "SIGHUP runs reload hooks and keeps serving")

        idle = Conn(srv.port)
        idle.send(get("/healthz"))
        idle.response()
        # In flight: the head is in, the body is still coming.
        busy = Conn(srv.port)
        busy.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345")
        time.sleep(0.2)
        start = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        check(idle.closed_by_server(3), "idle keep-alive connection closed on SIGTERM")
        time.sleep(0.3)
        check(srv.proc.poll() is None, "still running while a request is in flight")
        busy.send(b"67890")
        st, headers, _ = busy.response()
        check(st == 405 and headers.get("connection") == "close",
              "the in-flight request is answered, with Connection: close")
        busy.close()
        rc = srv.proc.wait(10)
        check(rc == 0 and time.monotonic() - start < 10, f"exits 0 after draining (rc {rc})")
    finally:
        srv.stop()

    srv = Server(args=["--no-access-log", "--workers", "2"]).start()
    try:
        check(wait_until(lambda: len(children(srv.proc.pid)) == 2, 5), "two workers forked")
        # Forked is not yet listening (a worker may still be starting, slowly
        # under ASan): wait until both hold a listening socket on the port.
        check(wait_until(lambda: listening(srv.port) == 2, 30), "both workers listen (SO_REUSEPORT)")
        statuses = [srv.get("/healthz")[0] for _ in range(20)]
        check(statuses == [200] * 20, "20 requests served by the workers")
        victim = children(srv.proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        check(wait_until(lambda: victim not in children(srv.proc.pid), 5), "the killed worker is gone")
        # A connection the kernel had already queued on the dead worker's
        # listener is reset (SO_REUSEPORT; unless net.ipv4.tcp_migrate_req=1,
        # see docs/configuration.md): allow a retry in that moment, no more.
        def answered():
            try:
                return srv.get("/healthz")[0] == 200
            except OSError:
                return False
        check(wait_until(answered, 1), "another worker answers right after the kill")

        def replaced():
            now = children(srv.proc.pid)  # one snapshot: the kill may land between two
            return len(now) == 2 and victim not in now and listening(srv.port) == 2

        # a worker that dies within 1 s of its start is restarted after 1 s
        check(wait_until(replaced, 30), "the supervisor restarts a killed worker, which listens again")
        check(srv.get("/healthz")[0] == 200, "still serving after the restart")
        start = time.monotonic()
        workers = children(srv.proc.pid)
        srv.proc.send_signal(signal.SIGTERM)
        rc = srv.proc.wait(15)
        # The bound kenshod promises: limits.drain_timeout (10 s) + 2 s. A worker
        # restarted a moment ago may still be starting (slow under ASan), so
        # a fixed few seconds would measure the machine, not the contract.
        took = time.monotonic() - start
        check(rc == 0 and took < 12, f"supervisor exits 0 on SIGTERM ({rc}, {took:.1f} s)")
        check(all(not os.path.exists(f"/proc/{w}") or
                  open(f"/proc/{w}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
                  for w in workers), "no worker left behind")
        logged = wait_until(lambda: "restarted worker" in srv.output(), 3)
        if not logged:
            sys.stderr.write(srv.output())
        check(logged, "the restart is logged")
    finally:
        srv.stop()


main()
