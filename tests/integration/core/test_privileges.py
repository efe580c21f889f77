"""kenshod does not serve as root by accident: started as root without
--user or --allow-root it refuses, says what to do, and creates nothing.
With --user nobody (and two workers, and TLS) it binds, gives the data
directory it created to nobody, and every worker serves as nobody; a reload
then re-reads the TLS key as nobody. Needs root (the suite and CI run as
root); skipped otherwise."""
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHOD, Server, check, free_port, wait_for  # noqa: E402


def kenshod(*args):
    """kenshod with exactly these arguments (no --allow-root added)."""
    return subprocess.run([KENSHOD, *args], capture_output=True, text=True, timeout=60)


def refuses(tmp, what, args, needles):
    data = os.path.join(tmp, "data")
    r = kenshod("--data", data, "--listen", f"127.0.0.1:{free_port()}", *args)
    check(r.returncode != 0, f"{what}: exits {r.returncode}")
    for needle in needles:
        check(needle in r.stderr, f"{what}: says {needle!r} (stderr: {r.stderr.strip()[:400]})")
    check(not os.path.exists(data), f"{what}: no data directory created")


def uids(pid):
    """The real, effective, saved and filesystem uids of a process."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return []


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def main():
    if os.geteuid() != 0:
        print("skip - needs root to test running as root and dropping to another user")
        sys.exit(77)
    nobody = pwd.getpwnam("nobody")
    with tempfile.TemporaryDirectory(prefix="kensho-priv-") as tmp:
        refuses(tmp, "as root without --user or --allow-root", [],
                ["refusing to run as root", "--user", "useradd --system", "--allow-root"])
        conf = os.path.join(tmp, "root.conf")
        with open(conf, "w") as f:
            f.write("server.allow_root = off\n")
        refuses(tmp, "as root with server.allow_root = off", ["--config", conf],
                ["refusing to run as root"])
        refuses(tmp, "--user of an unknown account", ["--user", "no-such-kensho-user"],
                ['no user "no-such-kensho-user"', "useradd --system"])
        r = kenshod("--user", "root", "--data", os.path.join(tmp, "data"),
                    "--listen", f"127.0.0.1:{free_port()}")
        check(r.returncode != 0 and "name an unprivileged user" in r.stderr,
              f"--user root is refused: {r.stderr.strip()[:200]}")

        # nobody must be able to reach the data directory's parent.
        os.chmod(tmp, 0o755)
        data = os.path.join(tmp, "served")
        with Server(data=data, tls=True,
                    args=["--no-access-log", "--workers", "2", "--user", "nobody"]) as srv:
            check(srv.get("/healthz")[0] == 200, "--user nobody: serves /healthz")
            workers = children(srv.proc.pid)
            check(len(workers) == 2, f"two workers: {workers}")
            # /healthz may come from the first worker while the second one still
            # starts; each worker drops root once its listeners are bound.
            for pid in workers:
                try:
                    wait_for(f"worker {pid} to become nobody",
                             lambda: uids(pid) == [nobody.pw_uid] * 4, timeout=20)
                except AssertionError:
                    pass  # the check below says what it runs as
                check(uids(pid) == [nobody.pw_uid] * 4,
                      f"worker {pid} runs as nobody, for good: Uid {uids(pid)}")
            for root, dirs, files in os.walk(data):
                for name in dirs + files:
                    path = os.path.join(root, name)
                    owner = os.lstat(path).st_uid
                    if owner != nobody.pw_uid:
                        raise AssertionError(f"{path} belongs to uid {owner}, not nobody")
            check(os.stat(data).st_uid == nobody.pw_uid,
                  "the data directory kenshod created, and all below it, belongs to nobody")
            key = os.path.join(data, "tls", "server.key")
            check(os.stat(key).st_mode & 0o077 == 0, "the TLS key stays owner-only")
            srv.proc.send_signal(signal.SIGHUP)
            wait_for("both workers to reload TLS",
                     lambda: srv.output().count("tls: reloaded certificate") >= 2)
            check("reload refused" not in srv.output(),
                  "after SIGHUP, nobody re-reads the TLS certificate and key")
            # One answer judged whole: with two workers, the next request may
            # reach the worker that has not loaded the CRL yet.
            crl = wait_for("the signing CRL", lambda: (lambda r: r if r[0] == 200 else None)(
                srv.get("/crl/sign.crl")))
            check(crl[2][:1] == b"\x30", "serves the signing CRL as nobody")


if __name__ == "__main__":
    main()
