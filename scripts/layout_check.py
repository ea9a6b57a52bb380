"""Check the package layout: no import cycles, modules of one job, no private cross-imports.

    python scripts/layout_check.py [--max-lines 600] [--max-modules 12]

Reads archive/ and ingest/ with `ast` (nothing is imported, so lazy imports inside functions
count too), prints the largest modules and widest packages, and exits 1 on an import cycle
between modules, a module over --max-lines, a package with more than --max-modules modules
directly in it, a private name (`_x`) imported from another module, ingest/ importing archive/
(the readers stay pure), or a module importing a later stage of the data flow (STAGES).
tests/test_layout.py runs it, so the layout stays true.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("archive", "ingest")

# The stages in data-flow order: a module may import its own stage and earlier ones only.
STAGES = {
    "ingest": 0,
    "archive": 0,  # the package itself: the version string
    "archive.errors": 0,
    "archive.store": 1,
    "archive.diffs": 2,
    "archive.passages": 2,
    "archive.ledger": 2,
    "archive.record": 3,
    "archive.refs": 3,
    "archive.lookup": 4,
    "archive.verify": 4,
    "archive.verify_run": 4,
    "archive.verify_corpus": 4,
    "archive.export": 4,
    "archive.publish": 5,
    "archive.cli": 6,
    "archive.__main__": 6,
}


def stage(module: str) -> int:
    """The stage of a module: that of the longest STAGES prefix naming its package."""
    while module not in STAGES:
        module = module.rpartition(".")[0]
    return STAGES[module]


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under the packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, list[str]]]:
    """(target module, names imported from it) for every import in the file, lazy ones too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if base in known and (known[base].parent / f"{alias.name}.c").exists():
                    continue  # a compiled core (its C source beside it): a leaf, not Python
                out.append((sub, []) if sub in known else (base, [alias.name]))
    return out


def owner(target: str, known: dict[str, Path]) -> str | None:
    """The module of ours a dotted import target lands in (None: outside the project)."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def graph(known: dict[str, Path]) -> tuple[dict[str, set[str]], list[str]]:
    """Module edges (importing a package runs its __init__, which imports what it
    re-exports: those are edges too) and the rule violations found on the way."""
    edges: dict[str, set[str]] = {m: set() for m in known}
    problems = []
    for name, path in known.items():
        for target, names in imports(name, path, known):
            mod = owner(target, known)
            if mod is None or mod == name:
                continue
            edges[name].add(mod)
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                problems.append(f"private import: {name} imports {', '.join(private)} from {mod}")
            if name.startswith("ingest") and mod.startswith("archive"):
                problems.append(f"ingest imports archive: {name} -> {mod}")
            elif stage(mod) > stage(name):
                problems.append(f"imports a later stage: {name} -> {mod}")
    return edges, problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(edges[nxt]))))
                elif nxt in on:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-lines", type=int, default=600)
    parser.add_argument("--max-modules", type=int, default=12)
    args = parser.parse_args(argv)
    known = modules(ROOT)
    edges, problems = graph(known)
    problems += ["cycle: " + " <-> ".join(c) for c in cycles(edges)]
    sizes = sorted(
        (
            (len(p.read_text(encoding="utf-8").splitlines()), str(p.relative_to(ROOT)))
            for p in known.values()
        ),
        reverse=True,
    )
    problems += [
        f"module over {args.max_lines} lines: {f} ({n})" for n, f in sizes if n > args.max_lines
    ]
    width: dict[str, int] = {}
    for name, path in known.items():
        if path.name != "__init__.py":
            parent = name.rpartition(".")[0]
            width[parent] = width.get(parent, 0) + 1
    problems += [
        f"package with {n} modules (over {args.max_modules}): {p}"
        for p, n in sorted(width.items())
        if n > args.max_modules
    ]
    print("largest modules:", ", ".join(f"{f} {n}" for n, f in sizes[:5]))
    print(
        "widest packages:",
        ", ".join(f"{p} {n}" for p, n in sorted(width.items(), key=lambda x: -x[1])[:5]),
    )
    for problem in problems:
        print(problem)
    print(
        f"{len(known)} modules, {sum(map(len, edges.values()))} import edges,"
        f" {len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
