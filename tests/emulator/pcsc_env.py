"""A private pcsc-lite stack for one test run: its own pcscd (foreground, own
socket, own reader configuration with the vpcd driver on a free port) and the
virtual JPKI card plugged into it. See README.md in this folder.

pcscd 1.9.9 always uses /run/pcscd/pcscd.comm and /run/pcscd/pcscd.pid (the
PCSCLITE_CSOCK_NAME variable is read by the client library only), so the test
runs in a private mount namespace where a temporary directory is bind-mounted
on /run/pcscd: neither a system pcscd nor a parallel test run can collide.
"""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "jpki_card.py")
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
NS_MARK = "KENSHO_PCSC_PRIVATE_NS"
STARTUP_TIMEOUT = 10.0


def enter_private_namespace():
    """Re-executes the current script in a private mount namespace with a
    fresh /run/pcscd (once; a no-op inside). Needs root (CAP_SYS_ADMIN)."""
    if os.environ.get(NS_MARK):
        run_dir = tempfile.mkdtemp(prefix="kensho-pcscd-run-")
        os.makedirs("/run/pcscd", exist_ok=True)
        subprocess.run(["mount", "--bind", run_dir, "/run/pcscd"], check=True)
        return
    if os.geteuid() != 0:
        sys.exit("card tests need root to run a private pcscd (mount namespace)")
    env = dict(os.environ, **{NS_MARK: "1"})
    cmd = ["unshare", "--mount", "--propagation", "private", sys.executable] + sys.argv
    os.execvpe("unshare", cmd, env)


def _port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port_pair():
    """A port p with p and p+1 free: vpcd opens two slots, p and p+1."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p < 65535 and _port_free(p) and _port_free(p + 1):
            return p
    raise RuntimeError("no free port pair for vpcd")


def _stop(proc, timeout=5):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_listening(port, proc, timeout=STARTUP_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pcscd exited with {proc.returncode} during start-up")
        with contextlib.suppress(OSError):
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as c:
                c.close()
                # vpcd takes the connection as a card; give it time to see
                # the close before the real card arrives.
                time.sleep(0.2)
                return
        time.sleep(0.05)
    raise TimeoutError(f"pcscd's vpcd slot did not listen on {port} within {timeout}s")


class PcscStack:
    """pcscd with a vpcd reader; insert() plugs in a virtual card."""

    def __init__(self, workdir, card_tool):
        self.workdir = workdir
        self.card_tool = card_tool
        self.port = free_port_pair()
        self.conf = os.path.join(workdir, "reader.conf.d")
        os.makedirs(self.conf, exist_ok=True)
        with open(os.path.join(self.conf, "vpcd"), "w") as f:
            f.write(f'FRIENDLYNAME "Virtual PCD"\n'
                    f"DEVICENAME   /dev/null:0x{self.port:04X}\n"
                    f"LIBPATH      {VPCD_DRIVER}\n"
                    f"CHANNELID    0x{self.port:04X}\n")
        self.pcscd = None
        self.card = None
        self.log_path = os.path.join(workdir, "pcscd.log")

    def start(self):
        # -e: errors only; never -a (APDU logging would log PINs).
        self.log = open(self.log_path, "wb")
        self.pcscd = subprocess.Popen(["pcscd", "--foreground", "-e", "--config", self.conf],
                                      stdout=self.log, stderr=subprocess.STDOUT)
        _wait_listening(self.port, self.pcscd)
        return self

    def insert(self, card_args, wait_present=True):
        """Starts the emulator (replacing any card) with the given options."""
        self.remove()
        cmd = [sys.executable, EMULATOR, "--port", str(self.port)] + list(card_args)
        self.card_log = open(os.path.join(self.workdir, "card.log"), "ab")
        self.card = subprocess.Popen(cmd, stdout=self.card_log, stderr=subprocess.STDOUT)
        if wait_present:
            self.wait_card(True)

    def remove(self):
        if self.card is not None:
            _stop(self.card)
            self.card = None
            self.wait_card(False)

    def wait_card(self, present, timeout=STARTUP_TIMEOUT):
        """Waits until pcscd sees the card in (or out of) the first slot."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.card is not None and self.card.poll() is not None and present:
                raise RuntimeError(f"emulator exited with {self.card.returncode}")
            if self.reader_has_card() == present:
                return
            time.sleep(0.05)
        raise TimeoutError(f"card {'insertion' if present else 'removal'} not seen in {timeout}s")

    def reader_has_card(self):
        """Asks through the real client: does the first vpcd slot hold a card?"""
        r = subprocess.run([self.card_tool, "readers"], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            name, _, state = line.rpartition("\t")
            if name.endswith(" 00 00"):
                return state == "card"
        return False

    def stop(self):
        _stop(self.card)
        _stop(self.pcscd)
        self.card = self.pcscd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
