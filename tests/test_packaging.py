"""A quiet, complete install (issue 18 item 9): pyproject.toml lists every folder that ships
files as a package, names its files under package-data, and setuptools builds the wheel
without one warning (offline: the dev extra's setuptools, no build isolation)."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _shipped_files() -> dict[str, list[str]]:
    """{package: [file names]} for every folder under photocore/ (following the _specs link)."""
    found: dict[str, list[str]] = {}
    todo = [ROOT / "photocore"]
    while todo:
        folder = todo.pop()
        package = ".".join(folder.relative_to(ROOT).parts)
        found[package] = sorted(p.name for p in folder.iterdir() if p.is_file())
        todo += [p for p in folder.iterdir() if p.is_dir() and p.name != "__pycache__"]
    return {package: files for package, files in found.items() if files}


def test_every_folder_with_files_is_a_listed_package_and_its_data_is_named():
    packages, data = set(CONFIG["packages"]), CONFIG.get("package-data", {})
    shipped = _shipped_files()
    assert not sorted(set(shipped) - packages), "folders with files that pyproject.toml does not list"
    unnamed = [f"{package}/{name}" for package, files in shipped.items() for name in files
               if not name.endswith(".py") and not any(fnmatch.fnmatch(name, pattern)
                                                      for pattern in data.get(package, []))]
    assert not unnamed, f"files no package-data pattern ships: {unnamed}"


@pytest.mark.slow
def test_the_wheel_builds_without_warnings_and_holds_the_catalogue(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("photocore", "specs"):  # photocore/_specs stays a link to ../specs
        shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--no-build-isolation",
                            "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    output = built.stdout + built.stderr
    assert built.returncode == 0, output[-3000:]
    assert "warning" not in output.lower(), output[-3000:]
    (wheel,) = (tmp_path / "dist").glob("photocore-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    specs = {"photocore/_specs/" + p.relative_to(ROOT / "specs").as_posix() for p in (ROOT / "specs").rglob("*")
             if p.is_file()}
    assert specs and not sorted(specs - names)
    entry_points = zipfile.ZipFile(wheel).read("photocore-0.1.0.dist-info/entry_points.txt").decode()
    assert "[photocore.adapters]" in entry_points and "folder-xml = photocore.adapters.folder_xml:FolderXml" in \
        entry_points
