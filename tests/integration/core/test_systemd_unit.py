"""The unit meson writes from deploy/kenshod.service.in names this build's
install paths (ExecStart is PREFIX/BINDIR/kenshod, --config the installed
SYSCONFDIR/kensho/kenshod.conf), is a unit systemd accepts (a copy whose
ExecStart names the built kenshod passes `systemd-analyze verify` without a
single complaint), and keeps what operating kenshod relies on (Type=notify
with a watchdog, a dedicated user, a read-only system with the data directory
as the one writable place). The verify step is skipped where systemd-analyze
is missing."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import BUILD, KENSHOD, check, run  # noqa: E402

UNIT = os.path.join(BUILD, "kenshod.service")


def install_paths():
    """(bindir, sysconfdir) of this build as absolute paths."""
    info = run("meson", "introspect", "--buildoptions", BUILD).stdout
    options = {o["name"]: o["value"] for o in json.loads(info)}
    prefix = options["prefix"]
    return (os.path.join(prefix, options["bindir"]), os.path.join(prefix, options["sysconfdir"]))


def directives(text):
    """{key: [values]} of the unit's [Service] section."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def main():
    with open(UNIT) as f:
        text = f.read()
    d = directives(text)
    for key, value in [("Type", "notify"), ("NoNewPrivileges", "yes"),
                       ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                       ("User", "kensho"), ("StateDirectory", "kensho")]:
        check(d.get(key) == [value], f"{key}={value} (unit has {d.get(key)})")
    check("WatchdogSec" in d, "the unit sets a watchdog interval")
    exec_start = d.get("ExecStart", [""])[0]
    check("--data /var/lib/kensho" in exec_start,
          f"the data directory is the StateDirectory, writable under ProtectSystem=strict: {exec_start}")
    check("--allow-root" not in exec_start, "the unit does not serve as root")
    bindir, sysconfdir = install_paths()
    installed = os.path.join(bindir, "kenshod") + " "
    check(exec_start.startswith(installed), f"ExecStart names the installed {installed}: {exec_start}")
    config = os.path.join(sysconfdir, "kensho", "kenshod.conf")
    check(f"--config {config}" in exec_start, f"ExecStart reads the installed {config}: {exec_start}")
    check("@" not in text, "every @PLACEHOLDER@ of the template is filled in")

    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("skip - systemd-analyze is not installed; the directives were checked")
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix="kensho-unit-") as tmp:
        copy = os.path.join(tmp, "kenshod.service")
        with open(copy, "w") as f:
            f.write(text.replace(installed, os.path.abspath(KENSHOD) + " "))
        # Documentation= names man pages: systemd-analyze runs man(1) on
        # each, here over the pages this build generated.
        mandir = os.path.join(tmp, "man")
        for section, page in (("8", "kenshod.8"), ("5", "kenshod.conf.5")):
            os.makedirs(os.path.join(mandir, "man" + section), exist_ok=True)
            os.symlink(os.path.join(BUILD, "docs", page), os.path.join(mandir, "man" + section, page))
        r = subprocess.run([analyze, "verify", copy], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, SYSTEMD_LOG_LEVEL="notice", MANPATH=mandir))
        check(r.returncode == 0, f"systemd-analyze verify exits 0 ({r.returncode}): {r.stderr}")
        complaints = [line for line in (r.stdout + r.stderr).splitlines() if "kenshod.service" in line]
        check(complaints == [], f"systemd-analyze verify says nothing about the unit: {complaints}")


if __name__ == "__main__":
    main()
