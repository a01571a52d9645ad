"""Explicit state: every cache is listed in photocore/caches.py, the catalogue is read again
when its files change, and measures share work only through ``Analysis.shared``."""

from __future__ import annotations

import ast
import importlib
import os
import threading
from pathlib import Path

import pytest
from test_catalogue import GOOD  # a valid overlay credential

import photocore
from photocore import caches
from photocore.catalogue import load_catalogue
from photocore.catalogue.load import ENV_OVERLAY

PACKAGE = Path(photocore.__file__).parent


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def test_every_listed_cache_is_claimed_by_a_function_once_every_module_is_imported():
    for path in sorted(PACKAGE.rglob("*.py")):  # every file: some folders are namespace packages
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] != "__main__":
            importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    assert caches.unclaimed() == []


def test_nothing_memoises_outside_the_listing():
    """functools' caches anywhere but caches.py would be state the listing does not show."""
    found = []
    for path, tree in _sources():
        if path.name == "caches.py":
            continue
        for node in ast.walk(tree):
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if name in {"lru_cache", "cache"} and isinstance(node, ast.Name | ast.Attribute):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert found == []


def test_no_object_is_written_through_its_dict():
    """Measures once cached work in ``Analysis.__dict__``: now ``Analysis.shared`` is the way."""
    writes = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del)
                    and isinstance(node.value, ast.Attribute) and node.value.attr == "__dict__"):
                writes.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "__dict__"):
                writes.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert writes == []


def test_a_memoised_function_must_be_listed():
    def unlisted() -> int:
        return 1
    with pytest.raises(LookupError, match="not listed"):
        caches.memoised(unlisted)


def test_clear_empties_every_memoised_function():
    from photocore.judge import load_profile
    load_profile("capture")
    assert load_profile.cache_info().currsize >= 1  # type: ignore[attr-defined]
    caches.clear()
    assert load_profile.cache_info().currsize == 0  # type: ignore[attr-defined]
    assert load_profile("capture").rules  # and it reads the file again


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_an_edited_overlay_is_read_again_and_an_unchanged_one_is_not(tmp_path):
    card = tmp_path / "credentials" / "police.toml"
    _write(card, GOOD)
    first = load_catalogue(tmp_path)
    assert first.get("police.test-card").kb_max == 25
    assert load_catalogue(tmp_path) is first  # nothing changed: the same object, no reading

    _write(card, GOOD.replace("kb_max = 25", "kb_max = 30").replace("25K", "30K"))
    edited = load_catalogue(tmp_path)
    assert edited is not first and edited.get("police.test-card").kb_max == 30

    _write(tmp_path / "credentials" / "hrss.toml", GOOD.replace("police.test-card", "hrss.test-card"))
    added = load_catalogue(tmp_path)
    assert "hrss.test-card" in added.credentials

    (tmp_path / "credentials" / "hrss.toml").unlink()
    assert "hrss.test-card" not in load_catalogue(tmp_path).credentials


def test_a_running_library_sees_an_edited_overlay_without_a_restart(tmp_path, monkeypatch):
    from photocore.library.config import LibraryConfig
    from photocore.library.service import Library

    overlay = tmp_path / "overlay"
    card = overlay / "credentials" / "police.toml"
    _write(card, GOOD)
    monkeypatch.setenv(ENV_OVERLAY, str(overlay))
    library = Library(LibraryConfig(data_dir=tmp_path / "lib"))
    try:
        assert "police.test-card" in library.catalogue.credentials
        _write(card, GOOD.replace("police.test-card", "police.renamed-card"))
        assert "police.renamed-card" in library.catalogue.credentials
        assert "police.test-card" not in library.catalogue.credentials
    finally:
        library.engine.dispose()


def test_analysis_shared_computes_once_and_hands_every_thread_the_same_value(neutral_analysis):
    calls = []

    def work(analysis) -> list[int]:
        calls.append(1)
        return [analysis.image.shape[0]]

    results = []
    threads = [threading.Thread(target=lambda: results.append(neutral_analysis.shared(work))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is results[0] for r in results)  # one object, whoever computed it
    assert results[0] == [neutral_analysis.image.shape[0]]
    before = len(calls)
    assert neutral_analysis.shared(work) is results[0] and len(calls) == before


@pytest.fixture(scope="module")
def neutral_analysis():
    from conftest import NEUTRAL
    return photocore.analyse(photocore.decode(NEUTRAL[0]))


def test_file_stamp_sees_edits_additions_and_removals(tmp_path):
    (tmp_path / "a.toml").write_text("x = 1")
    before = caches.file_stamp([tmp_path, tmp_path / "missing"])
    assert len(before) == 1
    (tmp_path / "a.toml").write_text("x = 22")
    assert caches.file_stamp([tmp_path]) != before
    (tmp_path / "b.toml").write_text("")
    (tmp_path / "c.txt").write_text("")  # not a catalogue file
    assert len(caches.file_stamp([tmp_path])) == 2
    os.remove(tmp_path / "a.toml")
    assert [Path(p).name for p, *_ in caches.file_stamp([tmp_path])] == ["b.toml"]
