"""The README's code tables, generated from the one registry, ``photocore/error_codes.toml``,
and its table of caches, from ``photocore/caches.py``.

``python -m photocore.docs_tables --check README.md`` exits 1 when the README's tables differ
from the registry; ``--write README.md`` rewrites them. The tables sit between marker comments
(``<!-- errors:begin -->`` ... ``<!-- errors:end -->``, and the same for ``requirements`` and
``caches``).
``raised_codes`` finds every code the package raises (by reading its source, not running it);
tests/test_error_registry.py checks the registry against it.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import errors

PACKAGE = Path(__file__).resolve().parent
REGISTRY = PACKAGE / "error_codes.toml"
RULE_FILES = ("capture.toml", "credential.toml", "replaced-background.toml")
DEFAULT_EXIT = 2  # what `photocore` exits with on any typed error (photocore/cli.py)
_PREFIXED = re.compile(r"^([a-z_]+\.[a-z_]+): ")


@dataclass(frozen=True)
class ErrorRow:
    codes: tuple[str, ...]
    classes: tuple[str, ...]
    meaning: str
    exit: int = DEFAULT_EXIT
    reserved: bool = False
    pattern: bool = False


@dataclass(frozen=True)
class RequirementRow:
    codes: tuple[str, ...]
    measure: str
    limit: str


def _registry() -> dict[str, Any]:
    with open(REGISTRY, "rb") as fh:
        return tomllib.load(fh)


def error_rows() -> list[ErrorRow]:
    rows = []
    for entry in _registry().get("error", []):
        classes = str(entry["class"])
        rows.append(ErrorRow(codes=tuple(entry["codes"]),
                             classes=tuple(c.strip() for c in classes.split(",") if c.strip() != "-"),
                             meaning=str(entry["meaning"]), exit=int(entry.get("exit", DEFAULT_EXIT)),
                             reserved=bool(entry.get("reserved", False)), pattern=bool(entry.get("pattern", False))))
    return rows


def requirement_rows() -> list[RequirementRow]:
    return [RequirementRow(codes=tuple(entry["codes"]), measure=str(entry["measure"]),
                           limit=str(entry["limit"]))
            for entry in _registry().get("requirement", [])]


def profile_codes() -> set[str]:
    """The requirement codes the judging profiles define (their ``[[rule]] code``)."""
    codes: set[str] = set()
    for name in RULE_FILES:
        with open(PACKAGE / "profiles" / name, "rb") as fh:
            codes.update(rule["code"] for rule in tomllib.load(fh).get("rule", []))
    return codes


def exception_classes() -> dict[str, type[BaseException]]:
    return {name: obj for name, obj in vars(errors).items()
            if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == errors.__name__}


def default_code(cls: type[BaseException]) -> str | None:
    """The code an instance made without ``code=`` carries."""
    init = inspect.signature(cls.__init__).parameters.get("code")
    if init is not None and isinstance(init.default, str):
        return init.default
    code = getattr(cls, "code", None)
    return code if isinstance(code, str) else None


def raised_codes(root: Path = PACKAGE) -> dict[str, set[str]]:
    """code -> the classes (or ``"-"`` for a result field) it is given to in the package's source:
    every ``code="x.y"`` literal, the default code of a class raised without one, the failure
    code of a signature check (``_Invalid("verify.x", ...)`` in sign/verify.py), and the
    ``"x.y: ..."`` prefix of an argparse type error."""
    classes = exception_classes()
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "__init__":  # a class passing its own code up to its base
                continue
            code = next((k.value for k in node.keywords if k.arg == "code"), None)
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                found.setdefault(code.value, set()).add(name if name in classes else "-")
            elif code is None and name in classes:
                default = default_code(classes[name])
                if default is not None:
                    found.setdefault(default, set()).add(name)
            elif code is None and name == "_Invalid" and node.args:  # a verify result's failure code
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.setdefault(first.value, set()).add("-")
            elif code is None and name == "ArgumentTypeError" and node.args:
                first = node.args[0]
                text = first.value if isinstance(first, ast.Constant) else (
                    first.values[0].value if isinstance(first, ast.JoinedStr) and first.values
                    and isinstance(first.values[0], ast.Constant) else None)
                match = _PREFIXED.match(text) if isinstance(text, str) else None
                if match:
                    found.setdefault(match.group(1), set()).add("ConfigError")
    return found


def _codes_cell(codes: tuple[str, ...], sep: str = ", ") -> str:
    return sep.join(f"`{c}`" for c in codes)


def _exit_cell(row: ErrorRow) -> str:
    statuses = sorted({errors.LIBRARY_STATUS[c][0] for c in row.codes if c in errors.LIBRARY_STATUS})
    if statuses:
        return "HTTP " + " / ".join(str(s) for s in statuses)
    return str(row.exit)


def error_table() -> str:
    lines = ["| code | class | exit | meaning |", "|---|---|---|---|"]
    for row in error_rows():
        classes = ", ".join(f"`{c}`" for c in row.classes) or "-"
        lines.append(f"| {_codes_cell(row.codes)} | {classes} | {_exit_cell(row)} | {row.meaning} |")
    return "\n".join(lines)


def requirement_table() -> str:
    lines = ["| code | measure (native unit) | master-capture limit |", "|---|---|---|"]
    for row in requirement_rows():
        lines.append(f"| {_codes_cell(row.codes, ' / ')} | {row.measure} | {row.limit} |")
    return "\n".join(lines)


def cache_table() -> str:
    from .caches import CACHES
    lines = ["| cache | holds | key | stale when |", "|---|---|---|---|"]
    for c in CACHES.values():
        lines.append(f"| `{c.name}` | {c.holds} | {c.key} | {c.invalidation} |")
    return "\n".join(lines)


TABLES = {"errors": error_table, "requirements": requirement_table, "caches": cache_table}


def render(text: str) -> str:
    """``text`` with every marked table replaced by the generated one."""
    for name, make in TABLES.items():
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        if text.count(begin) != 1 or text.count(end) != 1:
            raise ValueError(f"the README needs exactly one {begin} and one {end}")
        head, rest = text.split(begin)
        _, tail = rest.split(end)
        text = f"{head}{begin}\n{make()}\n{end}{tail}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m photocore.docs_tables", description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", metavar="README", type=Path, help="exit 1 if the tables are not up to date")
    mode.add_argument("--write", metavar="README", type=Path, help="rewrite the tables")
    args = parser.parse_args(argv)
    path: Path = args.check or args.write
    text = path.read_text(encoding="utf-8")
    new = render(text)
    if args.write:
        if new != text:
            path.write_text(new, encoding="utf-8")
        return 0
    if new != text:
        print(f"{path}: the generated tables differ from photocore/error_codes.toml or caches.py; run "
              f"python -m photocore.docs_tables --write {path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
