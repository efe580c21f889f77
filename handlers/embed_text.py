#!/usr/bin/env python3
"""Turns a text file into a C header holding it as one string constant, so a
page like handlers/status.html stays editable as HTML and ships inside
kenshod. Usage: embed_text.py NAME INPUT OUTPUT"""
import sys


def main():
    name, source, target = sys.argv[1:4]
    with open(source, "rb") as f:
        data = f.read()
    lines = [f"/* Generated from {source.rsplit('/', 1)[-1]} by embed_text.py: edit that file. */",
             "#pragma once", f"static const char {name}[] ="]
    # One C string literal per source line; octal escapes for anything
    # outside printable ASCII keep the bytes exact (UTF-8 included).
    for line in data.splitlines(keepends=True) or [b""]:
        out = []
        for b in line:
            c = chr(b)
            if c in '"\\':
                out.append("\\" + c)
            elif 0x20 <= b < 0x7f and c != "?":  # '?' would risk trigraphs
                out.append(c)
            else:
                out.append(f"\\{b:03o}")
        lines.append('        "' + "".join(out) + '"')
    lines[-1] += ";"
    with open(target, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
