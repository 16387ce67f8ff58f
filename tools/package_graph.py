"""Draw ocr's package graph from the code and check its rules.

    python tools/package_graph.py            # print the graph (Mermaid) and the rule check
    python tools/package_graph.py --write docs/packages.md
    python tools/package_graph.py --check    # exit 1 on an import circle or an upward import

Every ``import`` in ``ocr/`` counts, including ones inside functions. Packages are ranked
(:data:`LAYERS`); a module may import its own package and packages of a lower rank only.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# lower first; a package may import only those of a lower rank
LAYERS = {
    "ocr.assets": 0, "ocr.geometry": 0, "ocr.messages": 0,
    "ocr.config": 1, "ocr.text": 1, "ocr.models": 1,
    "ocr.data": 2,
    "ocr.reading": 3,
    "ocr.train": 4, "ocr.service": 4,
    "ocr": 5,  # ocr/__init__.py: the public API
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The ``ocr`` modules a file imports (a name imported from a package counts as the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
                break
    return found


def package_of(module: str) -> str:
    for candidate in sorted(LAYERS, key=len, reverse=True):
        if module == candidate or module.startswith(candidate + "."):
            return candidate
    raise KeyError(f"{module}: no layer in LAYERS")


def module_graph() -> dict[str, set[str]]:
    files = sorted((ROOT / "ocr").rglob("*.py"))
    modules = {module_name(f) for f in files}
    return {module_name(f): imports(f, modules) - {module_name(f)} for f in files}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while (w := stack.pop()) != v:
                on_stack.discard(w)
                group.append(w)
            on_stack.discard(v)
            if group:
                groups.append(sorted([v, *group]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def problems(graph: dict[str, set[str]]) -> list[str]:
    """Every import circle and every import of a package of the same or a higher rank."""
    found = [f"import circle: {' <-> '.join(group)}" for group in circles(graph)]
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = package_of(module), package_of(target)
            if a != b and LAYERS[b] >= LAYERS[a]:
                found.append(f"upward import: {module} (rank {LAYERS[a]}) imports {target} (rank {LAYERS[b]})")
    return found


def mermaid(graph: dict[str, set[str]]) -> str:
    edges = sorted({(package_of(m), package_of(t)) for m, ts in graph.items() for t in ts} - {(p, p) for p in LAYERS})
    lines = ["```mermaid", "graph BT"]
    lines += [f"  {a.replace('.', '_')}[{a}] --> {b.replace('.', '_')}[{b}]" for a, b in edges]
    return "\n".join(lines + ["```"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", help="write the graph and the rules to this Markdown file")
    parser.add_argument("--check", action="store_true", help="only check the rules")
    args = parser.parse_args()
    graph = module_graph()
    found = problems(graph)
    for problem in found:
        print(problem, file=sys.stderr)
    if args.check:
        return 1 if found else 0
    ranks = "\n".join(f"| `{p}` | {r} |" for p, r in sorted(LAYERS.items(), key=lambda kv: (kv[1], kv[0])))
    text = (f"# Package graph\n\nDrawn from the code by `python tools/package_graph.py --write docs/packages.md`;"
            f" an arrow means \"imports\". A package imports only packages of a lower rank (checked by"
            f" `tests/test_layout.py`).\n\n{mermaid(graph)}\n\n"
            f"| package | rank |\n|---|---|\n{ranks}\n")
    if args.write:
        Path(args.write).write_text(text)
    else:
        print(text)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
