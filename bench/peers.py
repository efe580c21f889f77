"""Peers that kensho-bench measures kenshod against, each started on a free
loopback port with its own temporary configuration and always stopped:
nginx serving files, CFSSL's ocspserve, and `openssl ocsp -index`."""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BUILD = os.environ.get("KENSHO_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "build"))
KENSHO_BENCH = os.path.join(BUILD, "bench", "kensho-bench")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError):
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        time.sleep(0.05)
    raise TimeoutError(f"{proc.args[0]} is not listening on {port} after {timeout}s")


class Peer:
    """A server process on 127.0.0.1:port in a temporary directory."""

    name = "peer"
    # A line the server prints when it accepts connections; when set, it is
    # awaited instead of probing the port (a probe connection would stall a
    # server that handles one connection at a time).
    ready_line = None

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix=f"kensho-{self.name}-")
        self.port = free_port()
        self.proc = None

    def command(self):
        raise NotImplementedError

    def start(self):
        log = open(os.path.join(self.dir, "output.log"), "wb")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.dir, start_new_session=True)
        if self.ready_line:
            self.wait_for_line(os.path.join(self.dir, "output.log"))
        else:
            wait_for_port(self.port, self.proc)
        return self

    def wait_for_line(self, path, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.proc.args[0]} exited with {self.proc.returncode}")
            with open(path, "rb") as f:
                if self.ready_line.encode() in f.read():
                    return
            time.sleep(0.05)
        raise TimeoutError(f"{self.proc.args[0]} did not print {self.ready_line!r} in {timeout}s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


class Nginx(Peer):
    """nginx serving a directory of files as static content: the practical
    ceiling for serving pre-signed bytes."""

    name = "nginx"

    def __init__(self, files, workers=1, content_type="application/ocsp-response", cpu=None):
        super().__init__()
        self.cpu = cpu
        self.root = os.path.join(self.dir, "www")
        os.makedirs(self.root)
        os.chmod(self.dir, 0o755)  # nginx's workers may run as another user
        for rel, data in files.items():
            path = os.path.join(self.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, 0o644)
        conf = f"""
daemon off;
worker_processes {workers};
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    default_type {content_type};
    types {{ }}
    keepalive_requests 1000000;
    client_body_temp_path {self.dir}/body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    server {{
        listen 127.0.0.1:{self.port} reuseport;
        root {self.root};
    }}
}}
"""
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)

    def command(self):
        pin = [] if self.cpu is None else ["taskset", "-c", str(self.cpu)]
        return pin + ["nginx", "-c", self.conf, "-p", self.dir]


class Cfssl(Peer):
    """CFSSL's ocspserve answering from a file of base64 DER responses."""

    name = "cfssl"

    def __init__(self, responses):
        super().__init__()
        self.responses = os.path.join(self.dir, "responses")
        import base64
        with open(self.responses, "w") as f:
            for der in responses:
                f.write(base64.b64encode(der).decode() + "\n")

    def command(self):
        return ["cfssl", "ocspserve", "-address", "127.0.0.1", "-port", str(self.port),
                "-responses", self.responses, "-loglevel", "5"]


class OpensslOcsp(Peer):
    """`openssl ocsp -index`: signs every answer live from a CA index file."""

    name = "openssl-ocsp"
    ready_line = "waiting for OCSP client connections"

    def __init__(self, index_lines, ca_pem, responder_pem, responder_key, workers=1):
        super().__init__()
        self.index = os.path.join(self.dir, "index.txt")
        with open(self.index, "w") as f:
            f.write("".join(line + "\n" for line in index_lines))
        self.ca, self.rsigner, self.rkey = ca_pem, responder_pem, responder_key
        self.workers = workers

    def command(self):
        # OpenSSL 3.0's -port takes only a number (it binds every address);
        # the benchmark still sends to 127.0.0.1 only.
        cmd = ["openssl", "ocsp", "-index", self.index, "-port", str(self.port),
               "-CA", self.ca, "-rsigner", self.rsigner, "-rkey", self.rkey, "-nmin", "60",
               "-ignore_err"]
        if self.workers > 1:
            cmd += ["-multi", str(self.workers)]
        return cmd


def bench(url, *args, label="run", timeout=None, prefix=()):
    """Runs kensho-bench (after `prefix`, e.g. taskset) and returns
    (returncode, parsed JSON result or None, text)."""
    import json
    cmd = [*prefix, KENSHO_BENCH, "--url", url, "--label", label, "--json", "-", *map(str, args)]
    duration = 10.0
    if "--duration" in args:
        duration = float(args[list(args).index("--duration") + 1])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout or duration + 30)
    result = None
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            result = json.loads(line)
    return p.returncode, result, p.stdout + p.stderr
