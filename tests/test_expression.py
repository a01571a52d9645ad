"""The smile measure on real faces: neutral ones pass, smiles fail, the shipped model is the one the rule expects."""

import csv
import dataclasses
import json
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from photocore.analysis import analyse
from photocore.decode import decode
from photocore.errors import AnalysisError
from photocore.judge import Profile, judge, load_profile
from photocore.measures import REGISTRY, expression
from photocore.measures.base import clamp_score
from photocore.measures.smile_features import FEATURES

from conftest import NEUTRAL, SMILING

SHARED_FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"
needs_shared = pytest.mark.skipif(not SHARED_FACES.is_dir(), reason="../shared/faces is not beside this checkout")


def _rule():
    return next(r for r in load_profile("capture").rules if r.code == "expression.neutral")


def _shipped() -> dict:
    return json.loads(resources.files("photocore.measures").joinpath("smile_model.json").read_text(encoding="utf-8"))


@cache
def _smile(path: str):
    return REGISTRY["smile"](analyse(decode(path)))


def _status(m) -> str:
    return judge({"smile": m}, Profile("expression", (_rule(),))).verdicts[0].status


def _manifest(keep) -> list[str]:
    rows = csv.DictReader(open(SHARED_FACES / "MANIFEST.csv", encoding="utf-8"))
    return [str(SHARED_FACES / r["file"]) for r in rows if keep(r["file"], r["tags"].split(";"))]


def test_shipped_model_matches_the_features_and_the_rule():
    data = _shipped()
    rule = _rule()
    assert tuple(data["features"]) == FEATURES
    assert rule.measure == "smile" and rule.kind == "max" and rule.limit == 50
    # the rule fails exactly where the fit put its threshold
    assert rule.limit + rule.uncertainty == data["fail_above_percent"]
    provenance = data["provenance"]
    assert provenance["command"].endswith("benchmarks/fit_smile.py") and provenance["people"] == 51
    assert {"fitted", "data", "lopo", "other_faces"} <= provenance.keys()


def test_value_is_a_probability_with_its_features():
    neutral, smiling = _smile(str(NEUTRAL[0])), _smile(str(SMILING[0]))
    for m in (neutral, smiling):
        assert m.unit == "%" and isinstance(m.value, float) and 0 <= m.value <= 100
        assert m.score == clamp_score(100 - m.value)
        assert set(m.details) == set(FEATURES)
        assert 0.4 < m.details["mouth_width"] < 0.9  # mouth width over the outer eye corners
    assert neutral.value < 50 < _shipped()["fail_above_percent"] < smiling.value
    assert smiling.details["mouth_width"] > neutral.details["mouth_width"]
    assert smiling.details["teeth"] > neutral.details["teeth"] == 0


def test_a_face_outside_the_image_is_not_assessed():
    analysis = analyse(decode(str(NEUTRAL[0])))
    moved = dataclasses.replace(analysis, landmarks=analysis.landmarks + [10 * analysis.image.shape[1], 0, 0])
    m = REGISTRY["smile"](moved)
    assert m.value is None and m.reason == expression.OUTSIDE
    assert _status(m) == "not_assessed"


def test_a_model_for_other_features_is_refused(monkeypatch):
    expression.model.cache_clear()
    monkeypatch.setattr(expression, "FEATURES", FEATURES[:-1])
    with pytest.raises(AnalysisError) as caught:
        expression.model()
    assert caught.value.code == "analysis.models"
    expression.model.cache_clear()


@pytest.mark.slow
@needs_shared
def test_london_neutral_faces_do_not_fail():
    paths = _manifest(lambda f, tags: f.startswith("london/neutral/"))
    assert len(paths) == 51
    failed = [Path(p).name for p in paths if _status(_smile(p)) == "fail"]
    assert failed == []


@pytest.mark.slow
@needs_shared
def test_other_compliant_faces_do_not_fail():
    paths = _manifest(lambda f, tags: not f.startswith("london/") and "compliant_pose" in tags)
    assert paths
    failed = [p for p in paths if _status(_smile(p)) == "fail"]
    assert failed == []


@pytest.mark.slow
@needs_shared
def test_most_london_smiles_fail():
    paths = _manifest(lambda f, tags: f.startswith("london/smiling/"))
    assert len(paths) == 51
    values = np.array([_smile(p).value for p in paths])
    statuses = [_status(_smile(p)) for p in paths]
    # 38 of 51 held out person by person (fit_smile.py); the shipped model fails 37, and sends
    # most of the others to a check by eye
    assert statuses.count("fail") >= 0.7 * len(paths)
    assert statuses.count("pass") <= 0.2 * len(paths)
    assert np.median(values) > 90
