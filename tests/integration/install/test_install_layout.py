"""`meson install` puts the programs, the man pages (man1, man5, man8 under
mandir, where man(1) finds them), the example configuration (sysconfdir/
kensho) and, when the tree has deploy/kenshod.service, the systemd unit in
place. Installs into a temporary DESTDIR only."""
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
        unit = [f for f in files if f.endswith("systemd/system/kenshod.service")]
        if os.path.exists(os.path.join(SOURCE, "deploy", "kenshod.service")):
            check(len(unit) == 1, f"installs the systemd unit ({unit})")
        else:
            check(not unit, "no deploy/kenshod.service in this tree: no unit installed")

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
