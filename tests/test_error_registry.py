"""The one error registry (photocore/error_codes.toml) agrees with the code and the README.

(a) every code the package raises is in the registry, given by a class the registry names;
(b) every registry code is raised somewhere, or marked reserved (a class default nothing
raises) or a pattern (made at run time); (c) the README's tables are the generated ones;
and every exception class lives in photocore/errors.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from photocore import docs_tables, errors

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def raised() -> dict[str, set[str]]:
    return docs_tables.raised_codes()


@pytest.fixture(scope="module")
def table() -> dict[str, docs_tables.ErrorRow]:
    rows: dict[str, docs_tables.ErrorRow] = {}
    for row in docs_tables.error_rows():
        for code in row.codes:
            assert code not in rows, f"{code} is in the registry twice"
            rows[code] = row
    return rows


def test_scanner_finds_codes(raised):
    # the scanner itself works: literals, class defaults, argparse prefixes and result fields
    assert {"decode.empty", "capture.deadline", "library.invalid_client", "config.invalid_path"} <= set(raised)
    assert raised["verify.bad_signature"] == {"-"}


def test_every_raised_code_is_in_the_registry(raised, table):
    missing = sorted(set(raised) - set(table))
    assert not missing, f"raised in photocore/ but not in photocore/error_codes.toml: {missing}"


def test_raised_by_the_classes_the_registry_names(raised, table):
    wrong = {code: sorted(classes - set(table[code].classes) - ({"-"} if not table[code].classes else set()))
             for code, classes in raised.items() if code in table}
    wrong = {code: classes for code, classes in wrong.items() if classes}
    assert not wrong, f"codes raised by classes photocore/error_codes.toml does not name: {wrong}"


def test_every_registry_code_is_raised_or_reserved(raised, table):
    unused = sorted(code for code, row in table.items() if code not in raised and not (row.reserved or row.pattern))
    assert not unused, f"in photocore/error_codes.toml but never raised (mark reserved = true?): {unused}"
    stale = sorted(code for code, row in table.items() if code in raised and row.reserved)
    assert not stale, f"marked reserved but raised: {stale}"


def test_registry_classes_exist():
    classes = docs_tables.exception_classes()
    for row in docs_tables.error_rows():
        for name in row.classes:
            assert name in classes, f"{row.codes}: no class {name} in photocore/errors.py"


def test_library_codes_have_an_http_status(table):
    library = {code for code in table if code.startswith("library.")}
    assert library == set(errors.LIBRARY_STATUS)


def test_requirement_codes_match_the_profiles():
    registry = [code for row in docs_tables.requirement_rows() for code in row.codes]
    assert len(registry) == len(set(registry))
    assert set(registry) == docs_tables.profile_codes()


def test_readme_tables_are_generated():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert docs_tables.render(text) == text, "run: python -m photocore.docs_tables --write README.md"
    assert docs_tables.main(["--check", str(ROOT / "README.md")]) == 0


def test_check_fails_on_a_stale_readme(tmp_path):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    stale = tmp_path / "README.md"
    row = "| `decode.empty` | `DecodeError` | 2 | zero bytes |"
    assert row in text
    stale.write_text(text.replace(row, "| `decode.empty` | x | 2 | y |"), encoding="utf-8")
    assert docs_tables.main(["--check", str(stale)]) == 1
    assert docs_tables.main(["--write", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == text


# Control flow inside one module, never raised to a caller: a page redirecting to sign-in, and a
# verification step's "not valid" that the same module turns into a result.
INTERNAL_SIGNALS = {"photocore/library/pages.py LoginNeeded", "photocore/sign/verify.py _Invalid"}


def test_every_exception_class_is_in_errors_py():
    elsewhere = []
    for path in sorted((ROOT / "photocore").rglob("*.py")):
        if path.name == "errors.py" and path.parent.name == "photocore":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception", "Unavailable"))
                                                 or b.id in docs_tables.exception_classes()) for b in node.bases):
                if f"{path.relative_to(ROOT).as_posix()} {node.name}" not in INTERNAL_SIGNALS:
                    elsewhere.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not elsewhere, f"exception classes outside photocore/errors.py: {elsewhere}"


def test_old_import_paths_still_work():
    from photocore.catalogue.load import CatalogueError
    from photocore.deliver.transports.base import DeliveryError
    from photocore.library.agency_auth import AgencyApiError, BearerError, TokenError
    from photocore.library.errors import STATUS, LibraryError
    from photocore.sheet import SheetError
    from photocore.sign.keys import KeyStoreError

    assert CatalogueError is errors.CatalogueError and DeliveryError is errors.DeliveryError
    assert (AgencyApiError, BearerError, TokenError) == (errors.AgencyApiError, errors.BearerError, errors.TokenError)
    assert LibraryError is errors.LibraryError and STATUS is errors.LIBRARY_STATUS
    assert SheetError is errors.SheetError and KeyStoreError is errors.KeyStoreError


# -- --debug / PHOTOCORE_DEBUG: tracebacks on request, never by default ---------------------------
def _failing(exc: BaseException):
    def run(args):
        raise exc
    return run


@pytest.mark.parametrize(("exc", "status", "line"), [
    (errors.DecodeError("zero bytes", code="decode.empty"), 2, "decode.empty: zero bytes"),
    (RuntimeError("boom"), 3, "internal.error: RuntimeError: boom"),
])
@pytest.mark.parametrize("how", ["default", "flag", "flag-after", "env", "env-off"])
def test_debug_shows_tracebacks(monkeypatch, capsys, exc, status, line, how):
    from photocore import cli

    monkeypatch.delenv("PHOTOCORE_DEBUG", raising=False)
    monkeypatch.setattr(cli, "cmd_check", _failing(exc))
    argv = ["check", "x.jpg"]
    if how == "flag":
        argv.insert(0, "--debug")
    elif how == "flag-after":  # after the subcommand, as people type it
        argv.append("--debug")
    elif how == "env":
        monkeypatch.setenv("PHOTOCORE_DEBUG", "1")
    elif how == "env-off":
        monkeypatch.setenv("PHOTOCORE_DEBUG", "0")
    assert cli.main(argv) == status
    err = capsys.readouterr().err
    assert line in err
    assert ("Traceback (most recent call last)" in err) == (how in ("flag", "flag-after", "env"))


# inside the command, stderr is a copy of file descriptor 2 (cli._quiet_native_logs): capfd
def test_debug_shows_the_traceback_of_one_unusable_image(monkeypatch, capfd, tmp_path):
    from photocore import cli

    monkeypatch.delenv("PHOTOCORE_DEBUG", raising=False)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert cli.main(["check", str(empty)]) == 2
    err = capfd.readouterr().err
    assert "decode.empty" in err and "Traceback" not in err
    assert cli.main(["--debug", "check", str(empty)]) == 2
    err = capfd.readouterr().err
    assert "Traceback (most recent call last)" in err and "decode.empty" in err
