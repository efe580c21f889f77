"""`meson install` puts the programs, the man pages (man1, man5, man8 under
mandir, where man(1) finds them), the example configuration (sysconfdir/
kensho), kenshod.conf from that example on a first install only, and, when
the tree has deploy/kenshod.service.in, the systemd unit naming the installed
kenshod and configuration. Installs into a temporary DESTDIR only."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import BUILD, SOURCE, check, run  # noqa: E402


def installed_files(root):
    out = set()
    for dirpath, _, names in os.walk(root):
        for name in names:
            out.add(os.path.relpath(os.path.join(dirpath, name), root))
    return out


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-install-") as dest:
        r = run("meson", "install", "-C", BUILD, "--no-rebuild", "--destdir", dest, check=False)
        check(r.returncode == 0, f"meson install --destdir succeeds {r.stderr[-2000:]}")
        files = installed_files(dest)
        info = run("meson", "introspect", "--buildoptions", BUILD).stdout
        options = {o["name"]: o["value"] for o in json.loads(info)}
        prefix = options["prefix"].lstrip("/")
        mandir = os.path.join(prefix, options["mandir"])
        sysconfdir = options["sysconfdir"]
        if not os.path.isabs(sysconfdir):
            sysconfdir = os.path.join("/", prefix, sysconfdir)
        etc = os.path.join(sysconfdir, "kensho").lstrip("/")
        expected = [os.path.join(prefix, options["bindir"], p) for p in ("kenshod", "kensho")]
        expected += [os.path.join(mandir, "man8", "kenshod.8"),
                     os.path.join(mandir, "man1", "kensho.1"),
                     os.path.join(mandir, "man1", "kensho-card.1"),
                     os.path.join(mandir, "man1", "kensho-bench.1"),
                     os.path.join(mandir, "man5", "kenshod.conf.5"),
                     os.path.join(etc, "kenshod.conf.example")]
        for path in expected:
            check(path in files, f"installs {path}")
        conf = os.path.join(dest, etc, "kenshod.conf")
        check(os.path.exists(conf), f"installs {etc}/kenshod.conf from the example")
        check(os.stat(conf).st_mode & 0o777 == 0o640, "kenshod.conf is not world-readable")
        unit = [f for f in files if f.endswith("systemd/system/kenshod.service")]
        if os.path.exists(os.path.join(SOURCE, "deploy", "kenshod.service.in")):
            check(len(unit) == 1, f"installs the systemd unit ({unit})")
            with open(os.path.join(dest, unit[0])) as f:
                exec_start = [line for line in f.read().splitlines() if line.startswith("ExecStart=")]
            kenshod_path = "/" + os.path.join(prefix, options["bindir"], "kenshod")
            check(exec_start and exec_start[0].startswith(f"ExecStart={kenshod_path} "),
                  f"the unit starts the installed {kenshod_path}: {exec_start}")
            check(exec_start and f"--config /{etc}/kenshod.conf" in exec_start[0],
                  f"the unit reads the installed /{etc}/kenshod.conf: {exec_start}")
        else:
            check(not unit, "no deploy/kenshod.service.in in this tree: no unit installed")

        # A second install keeps an operator's edited kenshod.conf.
        with open(conf, "a") as f:
            f.write("\n# edited by the operator\n")
        r = run("meson", "install", "-C", BUILD, "--no-rebuild", "--destdir", dest, check=False)
        check(r.returncode == 0, f"a second meson install succeeds {r.stderr[-2000:]}")
        with open(conf) as f:
            check(f.read().endswith("# edited by the operator\n"), "a second install keeps the edited kenshod.conf")

        env = dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80")
        for section, name in (("8", "kenshod"), ("5", "kenshod.conf"), ("1", "kensho")):
            r = subprocess.run(["man", "-M", os.path.join(dest, mandir), section, name],
                               capture_output=True, text=True, env=env)
            check(r.returncode == 0 and name.upper() in r.stdout,
                  f"man -M MANDIR {section} {name} finds the installed page")
        kenshod = os.path.join(dest, prefix, options["bindir"], "kenshod")
        example = os.path.join(dest, etc, "kenshod.conf.example")
        r = run(kenshod, "--check-config", example, check=False)
        check(r.returncode == 0, "the installed kenshod accepts the installed example")


if __name__ == "__main__":
    main()
