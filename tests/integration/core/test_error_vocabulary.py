"""The error vocabulary (docs/api.md "Errors") is one list: every code in
core/http_errors.h is snake_case and documented in docs/api.md's table, every
documented code is defined, and every exchange_respond_error() call in the
sources names its code through an HTTP_ERROR_* constant (or a defined code),
never an ad-hoc string."""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import SOURCE, check  # noqa: E402

SOURCE_DIRS = ["core", "handlers", "daemon", "tls", "storage", "pki", "ca"]


def read(path):
    with open(os.path.join(SOURCE, path), encoding="utf-8") as f:
        return f.read()


def defined_codes():
    text = read("core/http_errors.h")
    return dict(re.findall(r'#define (HTTP_ERROR_[A-Z_]+) "([^"]*)"', text))


def documented_codes():
    text = read("docs/api.md")
    section = text.split("## Errors", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \| \d{3} \|", section, re.M))


def call_sites():
    """(file, line, third argument) of every exchange_respond_error call."""
    out = []
    for d in SOURCE_DIRS:
        for path in sorted(glob.glob(os.path.join(SOURCE, d, "**", "*.c"), recursive=True)):
            text = open(path, encoding="utf-8").read()
            for m in re.finditer(r"\bexchange_respond_error\s*\(", text):
                # the argument list, up to the matching parenthesis
                depth, i, args, cur = 1, m.end(), [], ""
                while depth and i < len(text):
                    ch = text[i]
                    if ch == '"':
                        j = i + 1
                        while text[j] != '"':
                            j += 2 if text[j] == "\\" else 1
                        cur += text[i:j + 1]
                        i = j + 1
                        continue
                    if ch in "([":
                        depth += 1
                    elif ch in ")]":
                        depth -= 1
                    if ch == "," and depth == 1:
                        args.append(cur.strip())
                        cur = ""
                    elif depth:
                        cur += ch
                    i += 1
                args.append(cur.strip())
                line = text.count("\n", 0, m.start()) + 1
                rel = os.path.relpath(path, SOURCE)
                if rel == "core/exchange.c" and args[0].startswith("struct exchange"):
                    continue  # the definition
                out.append((rel, line, args[2] if len(args) > 2 else ""))
    return out


def main():
    codes = defined_codes()
    check(len(codes) >= 20, f"core/http_errors.h defines the vocabulary ({len(codes)} codes)")
    bad = [c for c in codes.values() if not re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", c)]
    check(not bad, f"every code is snake_case {bad}")
    check(len(set(codes.values())) == len(codes), "no two constants share a code")
    documented = documented_codes()
    missing = sorted(set(codes.values()) - documented)
    check(not missing, f"every defined code is in docs/api.md's Errors table {missing}")
    extra = sorted(documented - set(codes.values()))
    check(not extra, f"every documented code is defined in core/http_errors.h {extra}")

    sites = call_sites()
    check(len(sites) >= 30, f"found the call sites ({len(sites)})")
    problems = []
    for path, line, arg in sites:
        for literal in re.findall(r'"((?:[^"\\]|\\.)*)"', arg):
            if literal not in codes.values():
                problems.append(f"{path}:{line}: undefined code \"{literal}\"")
            else:
                problems.append(f"{path}:{line}: \"{literal}\" given as a string; use its HTTP_ERROR_ constant")
        for name in re.findall(r"\bHTTP_ERROR_[A-Z_]+\b", arg):
            if name not in codes:
                problems.append(f"{path}:{line}: {name} is not defined")
    check(not problems, "every call site uses a defined code constant:\n  " + "\n  ".join(problems))
    # functions that pick a code (admin.c's error_for) use constants too
    unknown = set()
    for d in SOURCE_DIRS:
        for path in glob.glob(os.path.join(SOURCE, d, "**", "*.c"), recursive=True):
            unknown |= set(re.findall(r"\bHTTP_ERROR_[A-Z_]+\b", open(path, encoding="utf-8").read())) - set(codes)
    check(not unknown, f"no undefined HTTP_ERROR_ constant anywhere {sorted(unknown)}")

if __name__ == "__main__":
    main()
