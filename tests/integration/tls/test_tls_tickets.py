#!/usr/bin/env python3
"""Session tickets resume on every worker and on every kenshod that reads the
same ticket key file: kenshod --workers 2 --listen-tls, a client that keeps
one session and reconnects many times (SO_REUSEPORT spreads the connections
over both workers, so per-worker keys would resume about half of them);
resumption across SIGHUP, across a restart, and on a second kenshod with its
own data directory configured with the first one's key file (two machines).
The access log names the worker (pid) that served each connection, so the
test also sees that resumed connections landed on both workers."""
import json
import os
import socket
import ssl
import stat
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import ALLOW_ROOT, BUILD, Server, check, free_port  # noqa: E402

RECONNECTS = 24


def client_context(tls_dir):
    ctx = ssl.create_default_context(cafile=f"{tls_dir}/ca.pem")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # tickets as in RFC 5077
    return ctx


def connect(port, ctx, session=None, ports=None):
    """One HTTPS request on a fresh connection; returns (session, reused).
    With `ports`, the local port of a resumed connection is added to it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        local = raw.getsockname()[1]
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            if not data.startswith(b"HTTP/1.1 200"):
                raise AssertionError(f"healthz answered: {data[:40]!r}")
            if ports is not None and s.session_reused:
                ports.add(local)
            return s.session, s.session_reused


def resumed_count(port, ctx, session, n=RECONNECTS, ports=None):
    return sum(1 for _ in range(n) if connect(port, ctx, session, ports)[1])


def workers_of(log_path, ports):
    """The pids that served connections from these local ports (access log)."""
    pids = set()
    with open(log_path, errors="replace") as f:
        for line in f:
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            peer = entry.get("peer", "")
            if peer.startswith("127.0.0.1:") and int(peer.rsplit(":", 1)[1]) in ports:
                pids.add(entry["pid"])
    return pids


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-tickets-") as tmp:
        data = os.path.join(tmp, "a")
        tls_dir = os.path.join(data, "tls")
        with Server(data=data, tls=True, args=["--workers", "2"]) as server:
            key = os.path.join(tls_dir, "ticket.key")
            st = os.stat(key)
            check(stat.S_IMODE(st.st_mode) == 0o600, f"ticket.key is 0600 ({oct(st.st_mode)})")
            check(len(open(key).read().strip()) == 64, "ticket.key holds 64 hex digits")
            ctx = client_context(tls_dir)
            session, reused = connect(server.tls_port, ctx)
            check(not reused and session is not None and session.has_ticket,
                  "first connection: full handshake, ticket issued")
            ports = set()
            n = resumed_count(server.tls_port, ctx, session, ports=ports)
            print(f"workers 2: {n}/{RECONNECTS} reconnects resumed")
            check(n == RECONNECTS, f"every reconnect resumed on either worker ({n}/{RECONNECTS})")
            # SO_REUSEPORT hashes each connection to a worker; 24 of them all
            # on one worker would happen with probability 2^-23.
            time.sleep(0.5)
            pids = workers_of(server.log_path, ports)
            check(len(pids) == 2, f"resumed connections were served by both workers {pids}")

            # A reload keeps the ticket keys.
            server.proc.send_signal(signal.SIGHUP)
            time.sleep(1.0)
            n = resumed_count(server.tls_port, ctx, session, 8)
            check(n == 8, f"tickets from before SIGHUP resume after it ({n}/8)")

        # A restart: the file outlives the processes.
        with Server(data=data, tls=True, args=["--workers", "2"]) as server:
            n = resumed_count(server.tls_port, ctx, session, 8)
            check(n == 8, f"tickets resume after a restart ({n}/8)")

        # A second "machine": its own data directory, the first one's
        # certificate and ticket key file.
        other = os.path.join(tmp, "b")
        config = os.path.join(tmp, "b.conf")
        with open(config, "w") as f:
            f.write(f"tls.cert = {tls_dir}/server.pem\n"
                    f"tls.key = {tls_dir}/server.key\n"
                    f"tls.trust = {tls_dir}/ca.pem\n"
                    f"tls.ticket_key = {tls_dir}/ticket.key\n")
        with Server(data=other, tls=True, args=["--workers", "2", "--config", config]) as b:
            check(not os.path.exists(os.path.join(other, "tls", "ticket.key")),
                  "a configured key file is used, no other one made")
            n = resumed_count(b.tls_port, ctx, session, 8)
            check(n == 8, f"a ticket from server A resumes on server B ({n}/8)")

        # A different key file: no resumption, but the handshake still works.
        stranger = os.path.join(tmp, "stranger.key")
        fd = os.open(stranger, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, os.urandom(32).hex().encode() + b"\n")
        os.close(fd)
        with open(config, "a") as f:
            f.write(f"tls.ticket_key = {stranger}\n")
        with Server(data=other, tls=True, args=["--config", config]) as b:
            n = resumed_count(b.tls_port, ctx, session, 4)
            check(n == 0, f"another secret does not open the ticket ({n}/4)")

        # A key file readable by others is refused at start.
        os.chmod(stranger, 0o644)
        proc = subprocess.run([os.path.join(BUILD, "daemon", "kenshod"), *ALLOW_ROOT, "--data", other,
                               "--listen", f"127.0.0.1:{free_port()}",
                               "--listen-tls", f"127.0.0.1:{free_port()}",
                               "--config", config], capture_output=True, text=True, timeout=30)
        check(proc.returncode != 0 and "chmod 600" in (proc.stdout + proc.stderr),
              f"a world-readable ticket key refused: rc {proc.returncode}")
    print("ok")


if __name__ == "__main__":
    main()
