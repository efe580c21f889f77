"""docs/configuration-reference.md is exactly what kenshod prints from its
key tables, and the example configuration is a valid file: with every key
that has a default uncommented, `kenshod --check-config` accepts it, so
every default written in the tables is one kenshod accepts."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import KENSHOD, SOURCE, check, run  # noqa: E402


def main():
    r = run(os.path.join(SOURCE, "scripts", "gen-config-reference"), "--check", KENSHOD,
            check=False)
    check(r.returncode == 0,
          "docs/configuration-reference.md matches `kenshod --config-reference markdown`"
          + ("" if r.returncode == 0 else ":\n" + r.stdout[-3000:] + r.stderr))

    example = run(KENSHOD, "--config-reference", "example").stdout
    keys = run(KENSHOD, "--config-reference", "markdown").stdout
    named = {line.split("`")[1] for line in keys.splitlines() if line.startswith("| `")}
    in_example = {line[1:].split(" =")[0] for line in example.splitlines()
                  if line.startswith("#") and " =" in line and not line.startswith("# ")}
    check(named and named == in_example,
          f"the example names every key of the reference ({len(named)} keys)")
    active = [line[1:] for line in example.splitlines()
              if line.startswith("#") and not line.startswith("# ") and " = " in line]
    with tempfile.TemporaryDirectory(prefix="kensho-example-") as tmp:
        plain = os.path.join(tmp, "commented.conf")
        with open(plain, "w") as f:
            f.write(example)
        check(run(KENSHOD, "--check-config", plain, check=False).returncode == 0,
              "the example as installed passes --check-config")
        defaults = os.path.join(tmp, "defaults.conf")
        with open(defaults, "w") as f:
            f.write("\n".join(active) + "\n")
        r = run(KENSHOD, "--check-config", defaults, check=False)
        check(r.returncode == 0,
              f"all {len(active)} defaults uncommented pass --check-config: {r.stderr.strip()}")

    r = run(KENSHOD, "--config-reference", "html", check=False)
    check(r.returncode != 0 and "markdown, roff, example" in r.stderr,
          "an unknown format is refused with the accepted ones")


if __name__ == "__main__":
    main()
