#!/usr/bin/env python3
"""Checks the crate's module graph: no import cycles between modules, no source file with
more than MAX_LINES lines of non-test code, and a README Layout table that matches the tree.

A module imports another when its non-test code names it in a `use` (crate::, super::, self::)
or in a `crate::a::b` path. A child naming its own parent counts, so a package's shared types
live in a leaf module that both import, never in the parent that declares them.

    python3 tests/check_module_graph.py [--graph]
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
MAX_LINES = 600


def module_files():
    """Module path (tuple) -> file, for every module file under src/ (lib.rs is the root)."""
    mods = {}
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
            if rel == ["lib"]:
                mods[()] = path
            elif rel == ["main"]:
                continue
            elif rel[-1] == "mod":
                mods[tuple(rel[:-1])] = path
            else:
                mods[tuple(rel)] = path
    return mods


def strip_tests(text):
    """The file without `#[cfg(test)]` items (a module block or a `mod x;` line) and comments."""
    text = re.sub(r"//[^\n]*", "", text)
    out, i = [], 0
    while True:
        j = text.find("#[cfg(test)]", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        k = j + len("#[cfg(test)]")
        semi, brace = text.find(";", k), text.find("{", k)
        if semi >= 0 and (brace < 0 or semi < brace):
            i = semi + 1
            continue
        depth, k = 0, brace
        while k < len(text):
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        i = k + 1
    return "".join(out)


def resolve(mods, here, segments):
    """The longest module prefix that `segments` (already absolute) names."""
    for n in range(len(segments), -1, -1):
        if tuple(segments[:n]) in mods:
            return tuple(segments[:n])
    return ()


def imports(mods, module, text):
    found = set()
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        tree = m.group(1)
        head = re.match(r"\s*((?:crate|super|self)(?:::\w+)*)", tree)
        if not head:
            # A bare path names a child module of this one (Rust 2018 paths), or a crate.
            head = re.match(r"\s*(\w+)((?:::\w+)*)", tree)
            if not head or tuple(module) + (head.group(1),) not in mods:
                continue
            head = re.match(r"\s*(\w+(?:::\w+)*)", tree)
            base = ["self"] + head.group(1).split("::")
        else:
            base = head.group(1).split("::")
        rest = tree[head.end():]
        inner = re.match(r"\s*::\s*\{(.*)\}\s*$", rest, re.S)
        if inner:
            for part in inner.group(1).split(","):
                first = re.match(r"\s*(\w+)", part)
                if first:
                    paths.append(base + [first.group(1)])
        else:
            tail = re.match(r"\s*::\s*(\w+)", rest)
            paths.append(base + ([tail.group(1)] if tail else []))
    for m in re.finditer(r"\bcrate((?:::\w+)+)", text):
        paths.append(["crate"] + m.group(1).split("::")[1:])
    for p in paths:
        cur = list(module)
        segs = list(p)
        if segs[0] == "crate":
            cur, segs = [], segs[1:]
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                cur = cur[:-1]
            segs = segs[1:]
        target = resolve(mods, module, cur + segs)
        found.add(target)
    found.discard(module)
    return found


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def layout_problems():
    """Every `src/...` path the README's Layout table names exists; every entry directly under
    src/ has a row; and a folder's row names each of its files and subfolders (mod.rs aside)."""
    readme = open(os.path.join(ROOT, "..", "README.md"), encoding="utf-8").read()
    section = readme.split("## Layout", 1)[-1]
    rows = [l for l in section.splitlines() if l.startswith("| `")]
    problems = []
    named = {}
    for row in rows:
        cells = row.split("|")
        paths = re.findall(r"`(src/[^`]*)`", cells[1]) if len(cells) > 2 else []
        for path in paths:
            named[path.rstrip("/")] = cells[2] if len(cells) > 2 else ""
            if not os.path.exists(os.path.join(ROOT, "..", path)):
                problems.append(f"README Layout names {path}, which does not exist")
    for entry in sorted(os.listdir(ROOT)):
        full = os.path.join(ROOT, entry)
        key = f"src/{entry}"
        if os.path.isdir(full) or entry.endswith(".rs"):
            if key not in named:
                problems.append(f"README Layout has no row for {key}")
            elif os.path.isdir(full):
                text = named[key]
                for child in sorted(os.listdir(full)):
                    stem = child[:-3] if child.endswith(".rs") else child
                    if child == "mod.rs" or not (child.endswith(".rs") or os.path.isdir(os.path.join(full, child))):
                        continue
                    if not re.search(rf"\b{re.escape(stem)}\b", text):
                        problems.append(f"README Layout's row for {key}/ does not mention {stem}")
    return problems


def name(m):
    return "crate" if not m else "::".join(m)


def main():
    mods = module_files()
    graph, too_long = {}, []
    for module, path in sorted(mods.items()):
        text = strip_tests(open(path, encoding="utf-8").read())
        # The crate root declares every module; its `pub use`s are not dependencies.
        graph[module] = set() if module == () else imports(mods, module, text)
        lines = [l for l in text.splitlines() if l.strip()]
        if len(lines) > MAX_LINES:
            too_long.append((os.path.relpath(path, os.path.join(ROOT, "..")), len(lines)))
    if "--graph" in sys.argv:
        for m in sorted(graph):
            print(f"{name(m)} -> {', '.join(sorted(name(t) for t in graph[m]))}")
    bad = cycles(graph)
    layout = layout_problems()
    for p in layout:
        print(p, file=sys.stderr)
    for comp in bad:
        print("import cycle: " + " <-> ".join(name(m) for m in comp), file=sys.stderr)
    for path, n in too_long:
        print(f"{path}: {n} lines of non-test code (limit {MAX_LINES})", file=sys.stderr)
    if bad or too_long or layout:
        sys.exit(1)
    print(f"module graph: {len(graph)} modules, no cycles, every file within {MAX_LINES} lines; README Layout matches src/")


if __name__ == "__main__":
    main()
