"""kensho's command line refuses what would hurt and explains itself:
`issue` twice into one --out keeps the first person's keys (unless --force),
checked before anything is committed; every subcommand has --help with its
own usage; options without a value, unknown events and the remote mode's
readable private keys are refused with a message that says so."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import KENSHO, check, run  # noqa: E402

PERSON = ["--name", "山田\u3000太郎", "--birth", "1980-04-01", "--sex", "1",
          "--address", "東京都千代田区千代田1番1号"]


def kensho(*args):
    return run(KENSHO, *args, check=False)


def audit_lines(data):
    return kensho("--data", data, "audit").stdout.splitlines()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def check_issue_does_not_overwrite(tmp):
    data, out = os.path.join(tmp, "data"), os.path.join(tmp, "person")
    check(kensho("--data", data, "ca", "init").returncode == 0, "ca init")
    r = kensho("--data", data, "issue", *PERSON, "--out", out)
    check(r.returncode == 0, f"first issue: {r.stderr}")
    first = {name: read(os.path.join(out, name))
             for name in ("sign.pem", "sign.key", "auth.pem", "auth.key")}
    before = audit_lines(data)

    r = kensho("--data", data, "issue", *PERSON, "--out", out)
    check(r.returncode != 0, f"second issue into the same --out fails (exit {r.returncode})")
    check("exists; refusing to overwrite" in r.stderr and "--force" in r.stderr,
          f"it says why and how: {r.stderr.strip()}")
    check(all(read(os.path.join(out, n)) == b for n, b in first.items()),
          "the first person's keys and certificates are untouched")
    check(audit_lines(data) == before and r.stdout == "", "nothing was issued or committed")

    # Only a key file left (the certificates moved away) is protected too.
    os.remove(os.path.join(out, "sign.pem"))
    os.remove(os.path.join(out, "auth.pem"))
    r = kensho("--data", data, "issue", *PERSON, "--out", out)
    check(r.returncode != 0 and "sign.key exists" in r.stderr, "a lone private key is protected")

    r = kensho("--data", data, "issue", *PERSON, "--out", out, "--force")
    check(r.returncode == 0, "--force replaces them")
    check(read(os.path.join(out, "sign.key")) != first["sign.key"], "with new keys")

    # A renewal writes new keys: the same protection.
    serial = dict(line.split() for line in r.stdout.splitlines())["auth"]
    r = kensho("--data", data, "event", "--kind", "auth", "--serial", serial, "renew", "--out", out)
    check(r.returncode != 0 and "refusing to overwrite" in r.stderr, "event renew into a full --out fails")
    check(len(audit_lines(data)) == len(before) + 1, "and commits nothing")


def check_usage(tmp):
    data = os.path.join(tmp, "data")
    r = kensho("--data")
    check(r.returncode == 2 and "--data needs a value" in r.stderr, f"--data without a value: {r.stderr.strip()}")
    r = kensho("--server")
    check(r.returncode == 2 and "--server needs a value" in r.stderr, "--server without a value")
    for command, words in (("revoke", "revoke --kind"), ("issue", "issue --name"),
                           ("event", "event --serial"), ("gen", "gen --people"),
                           ("crl", "crl --kind"), ("audit", "audit ")):
        r = kensho("--data", data, command, "--help")
        check(r.returncode == 0 and r.stdout.startswith("usage: kensho") and words in r.stdout,
              f"kensho {command} --help: {r.stdout.strip()}")
    r = kensho("--data", data, "ca", "init", "--help")
    check(r.returncode == 0 and "ca init [--base-url URL]" in r.stdout, "kensho ca init --help")
    r = kensho("--data", data, "ca", "init", "--bogus")
    check(r.returncode == 2 and "kensho ca init: unknown option --bogus" in r.stderr,
          f"ca init names itself: {r.stderr.strip()}")
    r = kensho("--data", data, "event", "--kind", "sign", "--serial", "01", "frobnicate")
    check(r.returncode == 2 and 'unknown event "frobnicate"' in r.stderr and "renew" in r.stderr,
          f"an unknown event is named: {r.stderr.strip()}")
    r = kensho("--help")
    event = [line for line in r.stdout.splitlines() if line.strip().startswith("event ")]
    check(event and all(o in event[0] for o in ("--address", "--name", "--sign-pubkey", "--out")),
          f"kensho --help shows event's options: {event}")
    check("--force" in r.stdout, "kensho --help shows --force")


def check_remote_key_permissions(tmp):
    """The remote mode loads the operator's key with kenshod's own check:
    owner-only, and a symbolic link is judged by the file it points to."""
    data = os.path.join(tmp, "data")
    cert = os.path.join(data, "ca", "sign-ca.pem")
    key = os.path.join(tmp, "operator.key")
    shutil.copy(os.path.join(data, "ca", "sign-ca.key"), key)
    link = os.path.join(tmp, "operator-link.key")
    os.symlink(key, link)
    remote = ["--server", "https://127.0.0.1:1", "--cert", cert, "--cacert", cert]
    for mode, path, what in ((0o644, key, "a 0644 key"), (0o640, key, "a 0640 key"),
                             (0o644, link, "a symlink to a 0644 key")):
        os.chmod(key, mode)
        r = kensho(*remote, "--key", path, "reload")
        check(r.returncode != 0 and "readable by group or others" in r.stderr,
              f"remote refuses {what}: {r.stderr.strip()}")
    os.chmod(key, 0o600)
    r = kensho(*remote, "--key", link, "reload")
    check("readable by group or others" not in r.stderr,
          f"an owner-only key is loaded (then the connection fails: {r.stderr.strip()})")


def main():
    with tempfile.TemporaryDirectory(prefix="kensho-cli-safety-") as tmp:
        check_issue_does_not_overwrite(tmp)
        check_usage(tmp)
        check_remote_key_permissions(tmp)


if __name__ == "__main__":
    main()
