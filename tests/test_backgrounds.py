"""Background choice (issue 16 item 3): the colour the person asks for, where the credential
allows it, with a typed error otherwise; the report and contact sheet say which was used."""

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
from photocore.backgrounds import choose, colour_name
from photocore.catalogue import load_catalogue

from conftest import NEUTRAL

EXE = str(Path(sys.executable).with_name("photocore"))
GAOKAO = "education.gaokao-registration"  # white or light blue
PHYSICIAN = "health.physician-qualification-certificate"  # white, red or blue
ID_CARD = "police.resident-id-card"  # white only


def corners(data: bytes) -> np.ndarray:
    """Mean colour of the photo's two top corners: background, whatever the framing."""
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(float)
    h, w = rgb.shape[:2]
    side = w // 12
    return np.concatenate([rgb[:h // 12, :side], rgb[:h // 12, w - side:]]).reshape(-1, 3).mean(axis=0)


def test_names_match_the_catalogue_colours():
    assert [colour_name(c) for c in ("#FFFFFF", "#D2D2D2", "#64C5FF", "#628BCE", "#D74532")] == \
        ["white", "grey", "blue", "blue", "red"]


def test_run_choice_applies_where_allowed_and_per_credential_choice_is_checked():
    catalogue = load_catalogue()
    profiles = [catalogue.get(c) for c in (GAOKAO, PHYSICIAN, ID_CARD)]
    assert choose(profiles, None) == {GAOKAO: "#FFFFFF", PHYSICIAN: "#FFFFFF", ID_CARD: "#FFFFFF"}
    assert choose(profiles, "blue") == {GAOKAO: "#64C5FF", PHYSICIAN: "#628BCE", ID_CARD: "#FFFFFF"}
    assert choose(profiles, {PHYSICIAN: "red"})[PHYSICIAN] == "#D74532"
    assert choose(profiles, {PHYSICIAN: "#d74532"})[PHYSICIAN] == "#D74532"
    for bad, code in ((lambda: choose(profiles, {GAOKAO: "red"}), "config.background_not_allowed"),
                      (lambda: choose(profiles[2:], "blue"), "config.background_not_allowed"),
                      (lambda: choose(profiles, "green"), "config.invalid_background"),
                      (lambda: choose(profiles, "#12345"), "config.invalid_background"),
                      (lambda: choose(profiles, {"police.passport": "white"}), "config.unknown_credential")):
        with pytest.raises(photocore.ConfigError) as raised:
            bad()
        assert raised.value.code == code


@pytest.mark.slow
def test_photos_get_the_chosen_colour():
    conversion = photocore.convert(NEUTRAL[1], [GAOKAO, PHYSICIAN, ID_CARD],
                                   background={PHYSICIAN: "red", GAOKAO: "blue"})
    made = {o.credential: o.rendition for o in conversion.outcomes}
    assert all(o.ok for o in conversion.outcomes)
    red, blue, white = corners(made[PHYSICIAN].data), corners(made[GAOKAO].data), corners(made[ID_CARD].data)
    assert red[0] > 180 and red[1] < 110 and red[2] < 100, red  # #D74532 is (215, 69, 50)
    assert blue[2] > 220 and blue[0] < 140, blue  # #64C5FF is (100, 197, 255)
    assert white.min() > 235, white
    assert (made[PHYSICIAN].background, made[GAOKAO].background, made[ID_CARD].background) == \
        ("#D74532", "#64C5FF", "#FFFFFF")


@pytest.mark.slow
def test_cli_background_option(tmp_path):
    run = subprocess.run([EXE, "convert", str(NEUTRAL[1]), "--out", str(tmp_path / "a"), "--credential", GAOKAO,
                          "--credential", ID_CARD, "--background", "blue"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    rows = {r["credential"]: r for r in json.loads((tmp_path / "a" / "report.json").read_text())}
    assert rows[GAOKAO]["background"] == "#64C5FF" and rows[ID_CARD]["background"] == "#FFFFFF"
    assert 'class="swatch" style="background:#64C5FF"' in (tmp_path / "a" / "index.html").read_text()
    refused = subprocess.run([EXE, "convert", str(NEUTRAL[1]), "--out", str(tmp_path / "b"), "--credential", ID_CARD,
                              "--background", "red"], capture_output=True, text=True)
    assert refused.returncode == 2 and "config.background_not_allowed" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "b").exists()
