"""A capture on its side or upside down, with no EXIF to say so (issue 15 item 5): analysis turns
it upright, says so, and judges and renders it as the upright capture."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import photocore

from conftest import NEUTRAL, SMILING, report_for

EXE = str(Path(sys.executable).with_name("photocore"))


def turned_jpeg(path: Path, k: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(np.rot90(np.asarray(Image.open(path).convert("RGB")), k))).save(
        buf, "JPEG", quality=92)
    return buf.getvalue()


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("path", NEUTRAL[:3] + SMILING[:1], ids=lambda p: p.stem)
def test_turned_capture_is_judged_as_the_upright_one(path, k):
    upright = report_for(path)
    turned = photocore.check(turned_jpeg(path, k))
    assert upright.analysis.quarter_turns == 0
    assert (k + turned.analysis.quarter_turns) % 4 == 0
    assert turned.to_dict()["turned_degrees"] == 90 * turned.analysis.quarter_turns
    before = {v.code: v.status for v in upright.results[0].verdicts}
    after = {v.code: v.status for v in turned.results[0].verdicts}
    assert before == after


def test_every_upright_test_face_stays_as_it_is():
    for path in NEUTRAL + SMILING:
        assert report_for(path).analysis.quarter_turns == 0, path.name


@pytest.mark.slow
def test_upside_down_capture_converts_to_the_upright_photo(tmp_path):
    credential = "police.resident-id-card"
    upright = photocore.convert(NEUTRAL[0], [credential]).outcomes[0]
    turned_file = tmp_path / "upside_down.jpg"
    turned_file.write_bytes(turned_jpeg(NEUTRAL[0], 2))
    run = subprocess.run([EXE, "convert", str(turned_file), "--out", str(tmp_path / "out"), "--credential", credential],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "turned 180 degrees" in run.stdout
    row = json.loads((tmp_path / "out" / "report.json").read_text())[0]
    assert row["turned_degrees"] == 180
    made = np.asarray(Image.open(tmp_path / "out" / row["file"]).convert("RGB")).astype(int)
    expected = np.asarray(Image.open(io.BytesIO(upright.rendition.data)).convert("RGB")).astype(int)
    assert made.shape == expected.shape
    assert np.abs(made - expected).mean() < 6  # the same photo, not a rotated one (that differs by ~40)
    assert np.abs(made - expected[::-1, ::-1]).mean() > 20


@pytest.mark.slow
def test_the_upside_down_check_runs_only_when_the_detector_is_unsure(monkeypatch):
    """An upright face the full-range detector is sure of (analysis.UPRIGHT_SCORE) is not run
    through the short-range detector twice; every test face turned half round is, and is put back."""
    from photocore.analysis import run as analysis

    calls = []
    real = analysis.upright_scores
    monkeypatch.setattr(analysis, "upright_scores", lambda *args: calls.append(args) or real(*args))
    for path in NEUTRAL + SMILING:
        upright = photocore.analyse(photocore.decode(path))
        assert upright.faces[0].score >= analysis.UPRIGHT_SCORE and not calls, path.name
        turned = photocore.analyse(photocore.decode(turned_jpeg(path, 2)))
        assert calls and turned.quarter_turns == 2, path.name
        calls.clear()
