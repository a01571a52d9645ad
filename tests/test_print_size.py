"""Physical size (issue 16 item 5): every photo prints at its profile's millimetres, and a
profile that accepts a range of pixel sizes gets the standard's nominal size by default."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from photocore.catalogue import load_catalogue

from conftest import NEUTRAL

pytestmark = pytest.mark.slow  # every credential's photo printed and measured

EXE = str(Path(sys.executable).with_name("photocore"))


def test_every_photo_prints_at_its_profiles_size(tmp_path):
    run = subprocess.run([EXE, "convert", str(NEUTRAL[1]), "--all", "--out", str(tmp_path)], capture_output=True,
                         text=True)
    assert run.returncode in (0, 1), run.stderr
    catalogue = load_catalogue()
    rows = [r for r in json.loads((tmp_path / "report.json").read_text()) if r["status"] == "ok"]
    assert len(rows) > 150
    checked = 0
    for row in rows:
        profile = catalogue.get(row["credential"])
        with Image.open(tmp_path / row["file"]) as im:
            assert im.size == (row["width"], row["height"])
            if row["dpi"]:
                assert round(float(im.info["dpi"][0])) == row["dpi"], row["credential"]
        if profile.width_mm and row["dpi"]:
            checked += 1
            assert abs(row["width_mm"] - profile.width_mm) <= 0.5, (row["credential"], row["width_mm"])
            assert abs(row["height_mm"] - profile.height_mm) <= 0.5, (row["credential"], row["height_mm"])
    assert checked > 100
    passport = next(r for r in rows if r["credential"] == "police.passport")
    assert (passport["width"], passport["height"]) == (354, 472)
    assert (passport["width_mm"], passport["height_mm"]) == (30.0, 40.0)


def test_a_larger_file_on_request_keeps_the_printed_size(tmp_path):
    run = subprocess.run([EXE, "convert", str(NEUTRAL[1]), "--out", str(tmp_path), "--credential", "police.passport",
                          "--credential", "police.resident-id-card", "--largest"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    rows = {r["credential"]: r for r in json.loads((tmp_path / "report.json").read_text())}
    passport, id_card = rows["police.passport"], rows["police.resident-id-card"]
    assert passport["width"] > 354 and passport["dpi"] > 300  # the capture allows more than the nominal size
    assert abs(passport["width_mm"] - 30) <= 0.2 and abs(passport["height_mm"] - 40) <= 0.3
    with Image.open(tmp_path / passport["file"]) as im:
        assert round(float(im.info["dpi"][0])) == passport["dpi"]
    assert (id_card["width"], id_card["height"], id_card["dpi"]) == (358, 441, 350)  # a fixed size stays as it is
