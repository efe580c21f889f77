"""Every man page renders without a groff warning and with man -l, and
lists exactly the options its program's --help lists (the page's source in
docs/man/ is the documentation, so neither can drift from the program)."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import BUILD, SOURCE, check, run  # noqa: E402

PROGRAMS = {
    "kenshod.8": os.path.join(BUILD, "daemon", "kenshod"),
    "kensho.1": os.path.join(BUILD, "ca", "kensho"),
    "kensho-card.1": os.path.join(BUILD, "card", "kensho-card"),
    "kensho-bench.1": os.path.join(BUILD, "bench", "kensho-bench"),
}
PAGES = list(PROGRAMS) + ["kenshod.conf.5"]
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def main():
    for page in PAGES:
        path = os.path.join(BUILD, "docs", page)
        check(os.path.exists(path), f"{page} is built")
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", path],
                           capture_output=True, text=True)
        check(r.returncode == 0 and r.stderr == "",
              f"{page}: groff -man -ww renders without warnings {r.stderr.strip()}")
        r = subprocess.run(["man", "-l", path], capture_output=True, text=True,
                           env=dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80"))
        check(r.returncode == 0 and "NAME" in r.stdout and "SEE ALSO" in r.stdout,
              f"{page}: man -l renders it")

    for page, program in PROGRAMS.items():
        if not os.path.exists(program):
            print(f"skip - {program} is not built in this configuration")
            continue
        helped = set(OPTION.findall(run(program, "--help").stdout))
        with open(os.path.join(SOURCE, "docs", "man", page + ".md")) as f:
            documented = set(OPTION.findall(f.read()))
        check(helped == documented,
              f"{page} documents exactly the options of {os.path.basename(program)} --help"
              f" (only in --help: {sorted(helped - documented)};"
              f" only in the page: {sorted(documented - helped)})")

    with open(os.path.join(BUILD, "docs", "kenshod.conf.5")) as f:
        conf = f.read()
    keys = run(PROGRAMS["kenshod.8"], "--config-reference", "markdown").stdout
    for key in (line.split("`")[1] for line in keys.splitlines() if line.startswith("| `")):
        if ".B " + key.replace("-", "\\-") not in conf:
            check(False, f"kenshod.conf(5) describes {key}")
    check("--check-config" in open(os.path.join(SOURCE, "docs", "man", "kenshod.8.md")).read(),
          "kenshod(8) documents --check-config")
    check(".B log.level" in conf and "Applied: live, on SIGHUP" in conf
          and "Applied: at restart" in conf,
          "kenshod.conf(5) describes every key and says which apply live")


if __name__ == "__main__":
    main()
