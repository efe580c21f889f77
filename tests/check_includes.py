#!/usr/bin/env python3
"""The folder dependency rules, checked from the #includes.

Every source folder's README.md has one line

    Allowed includes: NAME, NAME, ...

naming the kensho folders and foreign libraries its .c and .h files may
include (its own folder is always allowed). `base` stands for core's
loop-free part (core/buf.h, json.h, log.h, encoding.h, role_set.h, version.h), which
every folder may name without depending on the event loop. This script reads
every #include of every product source, reports each one the folder's README
does not allow (a foreign library counts when a kensho header brings it in
too), and reports a cycle between folders. It exits 1 on any finding.

    check_includes.py [SOURCE_ROOT] [--graph] [--self-test]

--graph prints the folder dependency graph actually included (a line per
folder: `folder -> dep, dep`) and exits 0. --self-test first checks the
checker on a small tree with one of each finding.
"""
import os
import re
import sys

# Headers of core/ that form kensho_base (no event loop).
BASE_HEADERS = {"buf.h", "json.h", "log.h", "encoding.h", "role_set.h", "version.h"}

# Foreign libraries by the header paths that name them.
FOREIGN = {
    "mbedtls": re.compile(r"^(mbedtls|psa)/"),
    "lmdb": re.compile(r"^lmdb\.h$"),
    "libuv": re.compile(r"^uv\.h$|^uv/"),
    "llhttp": re.compile(r"^llhttp\.h$"),
    "pcsclite": re.compile(r"^(winscard\.h|pcsclite\.h|wintypes\.h|reader\.h|PCSC/)"),
    "cmocka": re.compile(r"^cmocka\.h$"),
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
RULE = re.compile(r"^Allowed includes:\s*(.*)$", re.M)
# Folders that hold no product code.
NOT_PRODUCT = {"tests", "build", "build-asan", "docs", "deploy", "scripts", "subprojects"}


def folders(root):
    """The product folders: top-level directories with C sources."""
    out = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if name.startswith(".") or name in NOT_PRODUCT or not os.path.isdir(path):
            continue
        if name.startswith("build"):
            continue
        if any(f.endswith((".c", ".h")) for f in os.listdir(path)):
            out.append(name)
    return out


def allowed(root, folder):
    """The names a folder's README allows, or None when it states none."""
    readme = os.path.join(root, folder, "README.md")
    if not os.path.exists(readme):
        return None
    with open(readme, encoding="utf-8") as f:
        m = RULE.search(f.read())
    if not m:
        return None
    names = [n.strip().rstrip(".") for n in m.group(1).split(",")]
    return {n for n in names if n and n != "none"}


def includes(root, folder):
    """(file, line, kind, name) for every include: kind is 'kensho' or 'foreign'."""
    local = set(os.listdir(os.path.join(root, folder)))
    for fname in sorted(os.listdir(os.path.join(root, folder))):
        if not fname.endswith((".c", ".h")):
            continue
        path = os.path.join(root, folder, fname)
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for m in INCLUDE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            inc = m.group(2)
            where = f"{folder}/{fname}:{line}"
            if "/" in inc and m.group(1) == '"':
                top, rest = inc.split("/", 1)
                if top == "core" and rest in BASE_HEADERS:
                    yield where, inc, "base"
                else:
                    yield where, inc, top
                continue
            if m.group(1) == '"' and inc in local:
                continue
            for lib, pat in FOREIGN.items():
                if pat.search(inc):
                    yield where, inc, lib
                    break


def header_foreign(root, rel, memo):
    """The foreign libraries a kensho header brings in, through the kensho
    headers it includes in turn (rel: "folder/name.h")."""
    if rel in memo:
        return memo[rel]
    libs = memo[rel] = set()
    path = os.path.join(root, rel)
    if not os.path.isfile(path):
        return libs
    folder = rel.split("/", 1)[0]
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for m in INCLUDE.finditer(text):
        inc = m.group(2)
        if m.group(1) == '"':
            sub = inc if "/" in inc else f"{folder}/{inc}"
            libs |= header_foreign(root, sub, memo)
            continue
        for lib, pat in FOREIGN.items():
            if pat.search(inc):
                libs.add(lib)
    return libs


def find_cycle(graph):
    """A list of folders forming a cycle, or None."""
    state = {}

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep, stack)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def self_test():
    """The checker finds what it must on a tree made to break each rule."""
    import tempfile
    files = {
        "a/README.md": "Allowed includes: b, base\n",
        "a/x.c": ('#include "a/x.h"\n#include "b/y.h"\n#include "core/log.h"\n#include <lmdb.h>\n'
                  '#include "b/z.h"\n'),
        "a/x.h": "",
        "b/README.md": "Allowed includes: a\n",
        "b/y.h": '#include "a/x.h"\n',
        "b/z.h": '#include "w.h"\n',
        "b/w.h": '#include <mbedtls/md.h>\n',
        "c/y.c": '#include "core/server.h"\n',
    }
    with tempfile.TemporaryDirectory(prefix="check-includes-") as root:
        for path, text in files.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write(text)
        found = check(root)
    want = ["a/x.c:4: includes lmdb.h (lmdb)", "c/README.md: no 'Allowed includes:' line",
            "a/x.c:5: includes b/z.h, which brings in mbedtls", "b/w.h:1: includes mbedtls/md.h",
            "c/y.c:1: includes core/server.h (core)", "cycle: a -> b -> a"]
    missing = [w for w in want if not any(w in p for p in found)]
    if missing or len(found) != len(want):
        print("self-test failed; expected", want, "found", found)
        return False
    print(f"self-test: the {len(want)} planted findings are reported")
    return True


def check(root):
    """Every finding for the tree at root (a list of lines)."""
    problems = []
    graph = {}
    memo = {}
    for folder in folders(root):
        rules = allowed(root, folder)
        if rules is None:
            problems.append(f"{folder}/README.md: no 'Allowed includes:' line")
            rules = set()
        deps = graph.setdefault(folder, set())
        for where, inc, name in includes(root, folder):
            if name == folder or (folder == "core" and name == "base"):
                continue
            if name not in FOREIGN:
                deps.add(name)
            if name not in FOREIGN:
                for lib in sorted(header_foreign(root, inc, memo) - rules):
                    problems.append(f"{where}: includes {inc}, which brings in {lib}; "
                                    f"{folder}/README.md does not allow {lib}")
            if name in rules or (name == "base" and "core" in rules):
                continue
            problems.append(f"{where}: includes {inc} ({name}), which {folder}/README.md does not allow")
    cycle = find_cycle(graph)
    if cycle:
        problems.append("folders include each other in a cycle: " + " -> ".join(cycle))
    return problems


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    root = args[0] if args else os.path.join(os.path.dirname(__file__), "..")
    root = os.path.abspath(root)
    graph = {}
    foreign = {}
    for folder in folders(root):
        deps = graph.setdefault(folder, set())
        libs = foreign.setdefault(folder, set())
        for where, inc, name in includes(root, folder):
            if name == folder or (folder == "core" and name == "base"):
                continue
            (libs if name in FOREIGN else deps).add(name)
    if "--graph" in argv:
        for folder in sorted(graph):
            libs = ", ".join(sorted(foreign[folder]))
            print(f"{folder} -> {', '.join(sorted(graph[folder])) or '(none)'}"
                  + (f"  [{libs}]" if libs else ""))
        return 0
    if "--self-test" in argv and not self_test():
        return 1
    problems = check(root)
    for p in problems:
        print(p)
    print(f"{len(folders(root))} folders checked, {len(problems)} findings")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
