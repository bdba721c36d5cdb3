#!/usr/bin/env python3
"""Longest Rust functions and largest files (test modules and tests.rs files excluded).

Usage: tools/code-shape/longest.py REPO [DIR...]   (default DIRs: src crates)"""
import re, sys, os
root = sys.argv[1]
dirs = sys.argv[2:] or ["src", "crates"]
fns, files = [], []
for d in dirs:
    for dp, _, fs in os.walk(os.path.join(root, d)):
        for f in fs:
            if not f.endswith(".rs") or f.endswith("tests.rs"):
                continue
            p = os.path.join(dp, f)
            lines = open(p).read().split("\n")
            # cut at #[cfg(test)] mod
            end = len(lines)
            for i, l in enumerate(lines):
                if l.startswith("#[cfg(test)]") and i + 1 < len(lines) and lines[i+1].startswith("mod "):
                    end = i; break
            lines = lines[:end]
            files.append((len(lines), os.path.relpath(p, root)))
            i = 0
            while i < len(lines):
                l = lines[i]
                m = re.match(r"\s*(pub(\([^)]*\))? )?(async )?(const )?fn (\w+)", l)
                if m:
                    depth, started, j = 0, False, i
                    while j < len(lines):
                        for ch in lines[j]:
                            if ch == "{": depth += 1; started = True
                            elif ch == "}": depth -= 1
                        if lines[j].rstrip().endswith(";") and not started: break
                        if started and depth == 0: break
                        j += 1
                    if started:
                        fns.append((j - i + 1, os.path.relpath(p, root), m.group(5)))
                i += 1
fns.sort(reverse=True); files.sort(reverse=True)
print("longest functions:"); [print(f"  {n:5} {p} {name}") for n, p, name in fns[:6]]
print("largest files:"); [print(f"  {n:5} {p}") for n, p in files[:6]]
