"""Count photocore's functions and how many are fully annotated (issue 18 item 2).

A function is fully annotated when every parameter except a method's ``self``/``cls`` (and
``*args``/``**kwargs`` if present) has an annotation and the return is annotated (``__init__``
included, as mypy --strict wants). Lambdas are not functions here. Read with ``ast``: nothing
is imported.

    python benchmarks/annotations.py [--per-file] [PATH ...]   (default: photocore/)
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _fully_annotated(node: ast.FunctionDef | ast.AsyncFunctionDef, in_class: bool) -> bool:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    is_static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)
    if in_class and positional and not is_static:
        positional = positional[1:]  # self / cls
    params = [*positional, *args.kwonlyargs]
    if args.vararg is not None:
        params.append(args.vararg)
    if args.kwarg is not None:
        params.append(args.kwarg)
    return node.returns is not None and all(p.annotation is not None for p in params)


def count(path: Path) -> tuple[int, int]:
    """(functions, fully annotated functions) in one source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    total = annotated = 0

    def visit(node: ast.AST, in_class: bool) -> None:
        nonlocal total, annotated
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                total += 1
                annotated += _fully_annotated(child, in_class)
                visit(child, False)
            elif isinstance(child, ast.ClassDef):
                visit(child, True)
            else:
                visit(child, in_class)

    visit(tree, False)
    return total, annotated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "photocore"])
    parser.add_argument("--per-file", action="store_true", help="one line per file as well")
    options = parser.parse_args()
    files = sorted({f for p in options.paths for f in ([p] if p.is_file() else p.rglob("*.py"))})
    total = annotated = 0
    for f in files:
        n, a = count(f)
        total += n
        annotated += a
        if options.per_file and n:
            print(f"{a:4d}/{n:<4d} {f.relative_to(ROOT) if f.is_relative_to(ROOT) else f}")
    share = 100 * annotated / total if total else 100.0
    print(f"{annotated} of {total} functions fully annotated ({share:.1f}%) in {len(files)} files")


if __name__ == "__main__":
    main()
