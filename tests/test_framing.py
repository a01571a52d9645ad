"""Framing where the rules leave the head's height open: the base's placement (issue 16 item 4)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

import photocore
from photocore.catalogue import load_catalogue
from photocore.framing import FaceGeometry, _aim, solve_frame
from photocore.render import render_all
from photocore.render.verify import verify

from conftest import NEUTRAL, load_rgb  # noqa: F401

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample_capture.jpg"
SEAFARER = "maritime.seafarer-passport"


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def _face(k: float = 400.0, hair: float = 0.0) -> FaceGeometry:
    """The canonical face (face width 1) at ``k`` capture px per face width, with ``hair`` face
    widths of hair above the skull."""
    c = FaceGeometry.canonical()
    return FaceGeometry(face_width=k, head_width=k * c.head_width, inter_eye=k * c.inter_eye,
                        crown_y=k * (c.crown_y - hair) + 2 * k, eye_y=k * c.eye_y + 2 * k, chin_y=k * c.chin_y + 2 * k,
                        eye_x=2 * k)


def _photo_geometry(data: bytes, width: int, height: int) -> dict:
    face = FaceGeometry.from_analysis(photocore.analyse(photocore.decode(data)))
    return {"crown_gap": face.crown_y / height, "chin_gap": (height - face.chin_y) / height,
            "crown_to_chin": (face.chin_y - face.crown_y) / height, "face_width": face.face_width / width}


def test_aim_is_the_middle_of_what_is_nearest_every_band():
    assert _aim((0, 10), [(2, 6), (4, 8)], 0) == 5  # overlap: its middle
    assert _aim((0, 10), [(1, 2), (6, 7)], 0) == 4  # apart: the middle of the gap between them
    assert _aim((0, 3), [(5, 9)], 0) == 3  # beyond the rules: the nearest end the rules allow
    assert _aim((0, 10), [], 7) == 5  # no placement: the middle of the rules, as before
    assert _aim((-math.inf, math.inf), [(2, 4)], 0) == 3  # nothing to obey: the placement itself


@pytest.mark.slow
@pytest.mark.parametrize("face", [SAMPLE, NEUTRAL[1], NEUTRAL[2]], ids=lambda p: p.stem)
def test_seafarer_passport_has_room_for_the_shoulders(catalogue, face):
    """Its rules fix only the face width (55-75 % of the width) and centring. Framed at the
    middle of that with the default crown gap, the head filled 83-95 % of the height and the chin
    sat 1-30 px above the bottom edge; the base's placement (head 70-80 %, crown gap 6-10 %) now
    leaves 57-77 px below the chin."""
    profile = catalogue.get(SEAFARER)
    assert profile.placement and not {"crown_gap", "chin_gap", "eye_line_from_top"} & set(profile.geometry)
    capture = photocore.decode(face)
    r = render_all(capture, photocore.analyse(capture), [profile])[SEAFARER]
    assert r.ok and (r.width, r.height) == (330, 437)
    assert verify(r.data, profile, sensible=True) == []  # its own rules still hold, and it looks right
    g = _photo_geometry(r.data, r.width, r.height)
    assert 0.05 <= g["crown_gap"] <= 0.11, g
    assert g["chin_gap"] >= 0.13, g
    assert 0.70 <= g["crown_to_chin"] <= 0.81, g
    assert 0.54 <= g["face_width"] <= 0.76, g


def test_without_its_placement_the_seafarer_photo_is_cramped_and_the_check_says_so(catalogue):
    """The 'sensible head' check of the round trip catches what the profile's own rules cannot."""
    profile = replace(catalogue.get(SEAFARER), placement={})
    capture = photocore.decode(SAMPLE)
    r = render_all(capture, photocore.analyse(capture), [profile])[SEAFARER]
    assert r.ok
    violations = verify(r.data, profile, sensible=True)
    assert verify(r.data, profile) == []  # every rule it names is met ...
    assert "sensible.chin_gap" in {v.rule for v in violations}, violations  # ... and the chin is at the edge
    assert _photo_geometry(r.data, r.width, r.height)["chin_gap"] < 0.07


def test_placement_never_rejects_a_capture(catalogue):
    """A head too tall for the placement (big hair) is framed within the rules, not refused:
    the face width rule holds and the head stays inside the photo, balanced between the bands."""
    profile = catalogue.get(SEAFARER)
    tall = _face(hair=0.6)  # hair 0.6 face widths above the skull: the head 2.3 face widths tall
    frame = solve_frame(profile, tall)
    assert frame.feasible and not frame.hair_cropped
    assert 0.55 - 1e-6 <= tall.face_width / frame.crop_width <= 0.75 + 1e-6  # the rule holds
    crown_gap = (tall.crown_y - frame.top) / frame.crop_height
    chin_gap = (frame.top + frame.crop_height - tall.chin_y) / frame.crop_height
    # the 5 % the head leaves is shared between the crown gap and the chin gap bands, not all given to one
    assert crown_gap > 0.02 and abs(crown_gap - chin_gap) < 0.005, (crown_gap, chin_gap)


def test_profiles_without_vertical_rule_or_placement_get_the_framing_default(catalogue):
    """An overlay profile with nothing to say about the head (no scale or vertical rule, no
    placement) is framed by framing.py's documented default: head 62-72 %, crown gap 5-12 %."""
    profile = replace(catalogue.get("health.physician-qualification-certificate"), geometry={}, placement={})
    face = _face()
    frame = solve_frame(profile, face)
    head = (face.chin_y - face.crown_y) / frame.crop_height
    crown_gap = (face.crown_y - frame.top) / frame.crop_height
    assert frame.feasible and abs(head - 0.67) < 0.01 and abs(crown_gap - 0.085) < 0.01, (head, crown_gap)
