#!/usr/bin/env python3
"""Module dependency cycles in a crate's src/: nodes are module paths (file granularity), edges
come from `crate::a::b` and `super::x` paths in the code, grouped imports (`use super::{a, b}`)
included (tests modules excluded). An edge between a module and its own submodules is not
counted: a module and its parts are one room."""
import os, re, sys
root = sys.argv[1]
src = os.path.join(root, "src")
mods = {}
for dp, _, fs in os.walk(src):
    for f in fs:
        if not f.endswith(".rs") or f in ("main.rs",) or f.endswith("tests.rs"):
            continue
        rel = os.path.relpath(os.path.join(dp, f), src)[:-3].split(os.sep)
        if rel[-1] in ("mod", "lib"):
            rel = rel[:-1]
        mods["::".join(rel)] = os.path.join(dp, f)
def resolve(path):
    parts = path.split("::")
    while parts:
        k = "::".join(parts)
        if k in mods:
            return k
        parts = parts[:-1]
    return None
edges = {m: set() for m in mods}
for m, p in mods.items():
    text = open(p).read()
    cut = re.search(r"^#\[cfg\(test\)\]\s*\nmod ", text, re.M)
    if cut:
        text = text[:cut.start()]
    # comments (doc links) are not dependencies
    text = "\n".join(l for l in text.split("\n") if not l.lstrip().startswith("//"))
    parent = m.rsplit("::", 1)[0] if "::" in m else ""
    # grouped imports (`use super::{a, b::C}`, `crate::x::{y, z}`) as one path per item
    def expand(match):
        root, prefix, items = match.group(1), match.group(2), match.group(3)
        paths = [f"{root}::{prefix[:-2]}"] if prefix else []
        for item in items.split(","):
            head = item.strip().split("::")[0].split(" ")[0]
            if head and head != "self" and re.match(r"[a-z_][a-z_0-9]*$", head):
                paths.append(f"{root}::{prefix}{head}")
        return " ".join(paths)
    text = re.sub(r"\b(crate|super)::((?:[a-z_][a-z_0-9]*::)*)\{([^{}]*)\}", expand, text)
    for ref in re.findall(r"crate::([a-z_][a-z_0-9]*(?:::[a-z_][a-z_0-9]*)*)", text):
        t = resolve(ref)
        if t and t != m and not m.startswith(t + "::") and not t.startswith(m + "::"):
            edges[m].add(t)
    for ref in re.findall(r"super::([a-z_][a-z_0-9]*(?:::[a-z_][a-z_0-9]*)*)", text):
        base = parent if not p.endswith("mod.rs") else m.rsplit("::", 1)[0] if "::" in m else ""
        t = resolve((base + "::" if base else "") + ref)
        if t and t != m and not m.startswith(t + "::") and not t.startswith(m + "::"):
            edges[m].add(t)
# Tarjan SCC
idx, low, st, on, out, n = {}, {}, [], set(), [], [0]
def sc(v):
    idx[v] = low[v] = n[0]; n[0] += 1; st.append(v); on.add(v)
    for w in edges[v]:
        if w not in idx:
            sc(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1:
            out.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in edges:
    if v not in idx:
        sc(v)
print(f"{len(mods)} modules, {sum(len(e) for e in edges.values())} edges, {len(out)} cycles")
for c in out:
    print("  cycle:", " <-> ".join(c))
