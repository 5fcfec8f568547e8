"""The stream engine's size: its largest files and functions by lines, and the count of Faust or
aiokafka private members used outside `streams/kafka/internals.py`.

    python -m bench.code_size [--top 5] [PACKAGE ...]
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRIVATE = re.compile(r"\.(_[a-z]\w*)\b")  # `x._name`: a private member of some object
OWN = re.compile(r"(?:self\.(_[a-z]\w*)\s*[:=]|def (_[a-z]\w*)|^(_[A-Za-z]\w*)\s*[:=])", re.M)  # ones the project defines


def functions(path: Path) -> list[tuple[int, str]]:
    """(lines, qualified name) of every function and method in a file."""
    tree = ast.parse(path.read_text())
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((child.end_lineno - child.lineno + 1, f"{prefix}{child.name}"))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("packages", nargs="*", default=["streams"])
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    for package in args.packages:
        files = sorted((ROOT / package).rglob("*.py"))
        sizes = sorted(((len(f.read_text().splitlines()), f.relative_to(ROOT)) for f in files), reverse=True)
        funcs = sorted(((n, f"{f.relative_to(ROOT)}:{name}") for f in files for n, name in functions(f)), reverse=True)
        nested = [(n, name) for n, name in funcs if name.count(".") > name.count("/") and not _is_method(name)]
        print(f"{package}/: {len(files)} files, {sum(n for n, _ in sizes)} lines")
        print("  largest files:", ", ".join(f"{path} {n}" for n, path in sizes[: args.top]))
        print("  largest functions:", ", ".join(f"{name} {n}" for n, name in funcs[: args.top]))
        print(f"  functions nested in functions: {len(nested)}", ", ".join(name.split(":")[1] for _, name in nested))
        # Private names used on any object that the project's own code never defines: Faust's or aiokafka's.
        own = {name for f in ROOT.glob("*/**/*.py") if ".venv" not in f.parts and f.name != "internals.py" for m in OWN.finditer(f.read_text()) for name in m.groups() if name}
        private = [
            f"{f.relative_to(ROOT)}:{i + 1} {m.group(1)}"
            for f in files
            if f.name != "internals.py"
            for i, line in enumerate(f.read_text().splitlines())
            for m in PRIVATE.finditer(line.split("#")[0])
            if m.group(1) not in own
        ]
        print(f"  private members used outside streams/kafka/internals.py: {len(private)}", *private[:10], sep="\n    ")


def _is_method(name: str) -> bool:
    # "Class.method" is a method; "function.inner" is a closure. Classes start upper-case.
    parts = name.split(":")[1].split(".")
    return all(p.lstrip("_")[:1].isupper() for p in parts[:-1])


if __name__ == "__main__":
    main()
