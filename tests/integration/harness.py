"""Shared helpers for kensho's integration tests: where the programs are,
free loopback ports, and a running kenshod that is always stopped."""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BUILD = os.environ.get("KENSHO_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SOURCE = os.environ.get("KENSHO_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
KENSHOD = os.path.join(BUILD, "daemon", "kenshod")
KENSHO = os.path.join(BUILD, "ca", "kensho")
# kenshod refuses to serve as root unless told so; the suite runs as root.
ALLOW_ROOT = ["--allow-root"] if os.geteuid() == 0 else []


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=20.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError):
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def wait_for_ready(notify, proc, timeout=60.0):
    """Reads the notify socket until kenshod says READY=1 (every worker
    listens); fails if the process exits first or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kenshod exited with {proc.returncode} before READY=1")
        notify.settimeout(0.2)
        try:
            message = notify.recv(4096).decode("utf-8", "replace")
        except socket.timeout:
            continue
        if "READY=1" in message.split("\n"):
            return
    raise TimeoutError(f"kenshod sent no READY=1 within {timeout}s")


def run(*args, check=True, **kw):
    """Runs a command, echoing it; returns the CompletedProcess."""
    print("$", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], check=check, capture_output=True, text=kw.pop("text", True), **kw)


class Server:
    """kenshod on a free loopback port, with its own data directory unless
    one is given. Use as a context manager; stops with SIGTERM (then SIGKILL)."""

    def __init__(self, data=None, args=(), tls=False, env=None):
        self.tmp = None
        if data is None:
            self.tmp = tempfile.TemporaryDirectory(prefix="kensho-test-")
            data = os.path.join(self.tmp.name, "data")
        self.data = data
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.args = list(args)
        self.env = env
        self.proc = None
        self.log_path = os.path.join(tempfile.gettempdir(), f"kenshod-{self.port}.log")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def tls_url(self):
        return f"https://127.0.0.1:{self.tls_port}"

    def start(self):
        cmd = [KENSHOD, "--data", self.data, "--listen", f"127.0.0.1:{self.port}"]
        if self.tls_port:
            cmd += ["--listen-tls", f"127.0.0.1:{self.tls_port}"]
        cmd += self.args + ALLOW_ROOT
        self.log = open(self.log_path, "wb")
        env = dict(os.environ, **(self.env or {}))
        # The port answers once the first worker listens; READY=1 on the
        # notify socket comes once every worker does. A test that plays the
        # notify socket itself passes NOTIFY_SOCKET and waits for the port.
        notify = None
        if "NOTIFY_SOCKET" not in env:
            notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            name = f"kensho-test-{os.getpid()}-{self.port}"
            notify.bind("\0" + name)
            env["NOTIFY_SOCKET"] = "@" + name
        try:
            self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
            if notify is not None:
                wait_for_ready(notify, self.proc)
            wait_for_port(self.port, proc=self.proc)
            if self.tls_port:
                wait_for_port(self.tls_port, proc=self.proc)
        finally:
            if notify is not None:
                notify.close()  # later notifications fail quietly in kenshod
        return self

    def stop(self, timeout=15.0):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def get(self, path, headers=None):
        """GET over plain HTTP; returns (status, headers, body) without raising on 4xx/5xx."""
        req = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        rc = self.stop()
        if exc[0] is not None:
            sys.stderr.write("---- kenshod output ----\n" + self.output()[-8000:])
        if self.tmp:
            self.tmp.cleanup()
        return False


def check(cond, what):
    """Asserts with a message that says what was expected."""
    if not cond:
        raise AssertionError(what)
    print("ok -", what, flush=True)


def wait_for(what, cond, timeout=30.0):
    """Polls cond until it returns something true, within timeout seconds;
    prints `ok - what` and returns that value, or fails saying what it
    waited for. Bounded polling, never a timed assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            check(True, what)
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
