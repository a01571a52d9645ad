"""A failed verdict shows the value and the limit of the part that failed (issue 15 item 6):
the person and the clerk must be able to see what to fix from the numbers shown."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

import photocore
from photocore.judge import FAIL, Rule, _verdict, load_profile
from photocore.measures import Measurement

FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"
TAGS = {"underexposed", "coloured_background", "dark_background", "tight_crop", "face_too_close", "greyscale",
        "shadow_face", "shadow_background"}


def outside(value: float, limit: str) -> bool | None:
    """Whether ``value`` breaks the limit as shown; None for limits that are words, not numbers."""
    limit = re.sub(r"\s*\(±[^)]*\)", "", limit)
    if m := re.fullmatch(r"\|x\| <= (-?[\d.]+)", limit):
        return abs(value) > float(m[1])
    if m := re.fullmatch(r"(?:[a-z_% 1-9]+ )?(<=|>=|=) (-?[\d.e+-]+)", limit):
        bound = float(m[2])
        return {"<=": value > bound, ">=": value < bound, "=": value != bound}[m[1]]
    if m := re.fullmatch(r"(-?[\d.]+) to (-?[\d.]+)", limit):
        return not float(m[1]) <= value <= float(m[2])
    return None


def _tagged() -> list[Path]:
    with open(FACES / "MANIFEST.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if TAGS & set(r["tags"].split(";"))]
    return [FACES / r["file"] for r in rows]


@pytest.mark.slow
@pytest.mark.skipif(not FACES.is_dir(), reason="../shared/faces is beside the checkout in CI")
def test_every_failed_verdict_shows_a_value_outside_its_limit():
    failed = 0
    for path in _tagged():
        result = photocore.check(path)
        for verdict in result.results[0].verdicts:
            if verdict.status != FAIL or verdict.value is None:
                continue
            failed += 1
            verdict_outside = outside(float(verdict.value), verdict.limit)
            assert verdict_outside is not False, (path.name, verdict)
    assert failed >= 20  # the tagged defects do fail: the property is tested on real failures


def _rule(code: str) -> Rule:
    return next(r for r in load_profile("capture").rules if r.code == code)


def test_clipped_share_is_what_an_exposure_failure_shows():
    rule = _rule("image.exposure")
    inside = sum(rule.limit) / 2
    verdict = _verdict(rule, Measurement("exposure", inside, 50.0, "ratio",
                                         details={"dark_share": 0.0, "bright_share": 0.3, "image_p99": 1.0}))
    assert verdict.status == FAIL and verdict.value == 0.3 and verdict.limit == "bright share <= 0.05"


def test_chroma_is_what_a_background_colour_failure_shows():
    rule = _rule("background.colour")
    verdict = _verdict(rule, Measurement("background_colour", 80.0, 50.0, "L*", details={"chroma": 30.0}))
    assert verdict.status == FAIL and verdict.value == 30.0 and outside(verdict.value, verdict.limit)
    passing = _verdict(rule, Measurement("background_colour", 80.0, 90.0, "L*", details={"chroma": 3.0}))
    assert passing.status == "pass" and passing.value == 80.0


def test_a_short_margin_shows_its_side():
    rule = _rule("frame.margins")
    details = {side: need + 1 for side, need in rule.limit.items()}
    side = next(iter(rule.limit))
    details[side] = rule.limit[side] / 4
    verdict = _verdict(rule, Measurement("margins", 0.0, 10.0, "T", details=details))
    assert verdict.status == FAIL and verdict.limit.startswith(side) and outside(verdict.value, verdict.limit)
