"""The smile measure on real faces: neutral ones pass, smiles fail, closed-mouth ones included;
the shipped model is the one the rule expects, and its leave-one-person-out figures are real."""

import csv
import dataclasses
import importlib.util
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
from photocore.measures.scores import clamp_score
from photocore.measures.smile_features import FEATURES, features

from conftest import DATA, NEUTRAL, SMILING

ROOT = Path(__file__).resolve().parents[1]
SHARED_FACES = ROOT.parent / "shared" / "faces"
needs_shared = pytest.mark.skipif(not SHARED_FACES.is_dir(), reason="../shared/faces is not beside this checkout")


def _rule():
    return next(r for r in load_profile("capture").rules if r.code == "expression.neutral")


def _shipped() -> dict:
    return json.loads(resources.files("photocore.measures").joinpath("smile_model.json").read_text(encoding="utf-8"))


@cache
def _measured(path: str):
    """The smile measurement of one photo, with its features unrounded and whether its mouth is open."""
    analysis = analyse(decode(path))
    mouth = next(r for r in load_profile("capture").rules if r.code == "mouth.closed")
    mouth_open = judge({"mouth_open": REGISTRY["mouth_open"](analysis)}, Profile("mouth", (mouth,))).verdicts[0]
    return REGISTRY["smile"](analysis), features(analysis), mouth_open.status == "fail"


def _smile(path: str):
    return _measured(path)[0]


def _fit_smile():
    spec = importlib.util.spec_from_file_location("fit_smile", ROOT / "benchmarks" / "fit_smile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_one_persons_smile_moves_every_cue_the_smiling_way():
    """Person 009 of the London set, neutral and smiling (both in tests/data): the mouth widens,
    its corners rise between nose and chin, the lips thin, the fold darkens against the skin
    beside the mouth, the cheeks and the lower lids rise; the neutral photo (a mouth that turns
    up at rest: it is the London neutral face with the second highest held-out probability)
    does not fail."""
    neutral, smiling = (_smile(str(DATA / f"london_{kind}_009.jpg")) for kind in ("neutral", "smiling"))
    n, s = neutral.details, smiling.details
    assert s["mouth_width"] > n["mouth_width"] and s["corner_lift"] > n["corner_lift"]
    assert s["corner_level"] < n["corner_level"] and s["lip_height"] < n["lip_height"]
    assert s["fold_contrast"] > n["fold_contrast"] + 0.1  # its spread over the London people: 0.08
    assert s["cheek_height"] < n["cheek_height"] and s["lower_lid"] < n["lower_lid"]
    assert _status(neutral) != "fail" and _status(smiling) == "fail"


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
    # 41 of 51 held out person by person (fit_smile.py); the shipped model fails 42 (the model
    # before the fold, the lips' height and the corners' level failed 37) and sends most of
    # the others to a check by eye
    assert statuses.count("fail") >= 0.8 * len(paths)
    assert statuses.count("pass") <= 0.15 * len(paths)
    assert np.median(values) > 90


@pytest.mark.slow
@needs_shared
def test_closed_mouth_smiles_fail():
    """The smiles that mouth.closed lets through are the ones this measure is for: 27 of the 51
    London smiles; the shipped model fails 18 of them (the model before, 13)."""
    paths = [p for p in _manifest(lambda f, tags: f.startswith("london/smiling/")) if not _measured(p)[2]]
    assert len(paths) >= 20
    failed = sum(_status(_smile(p)) == "fail" for p in paths)
    assert failed >= 0.6 * len(paths)


@pytest.mark.slow
@needs_shared
def test_held_out_figures_are_real_and_meet_the_goal():
    """fit_smile.py's leave-one-person-out run on the London features, repeated here: at least
    80% of the smiles fail on a model and threshold fitted without their person, no neutral
    face fails, and the figures written in smile_model.json are these."""
    fit_smile = _fit_smile()
    paths = _manifest(lambda f, tags: f.startswith(("london/neutral/", "london/smiling/")))
    assert len(paths) == 102
    x = np.array([[_measured(p)[1][name] for name in FEATURES] for p in paths])
    y = np.array(["/smiling/" in p for p in paths], float)
    people = np.array([Path(p).stem for p in paths])
    found = wrong = 0
    for _, neutral, smiling, limit, _ in fit_smile.judged_held_out(x, y, people):
        found += int((smiling > limit).sum())
        wrong += int((neutral > limit).sum())
    assert found >= 0.8 * 51 and wrong == 0
    lopo = _shipped()["provenance"]["lopo"]
    assert lopo["smiling_detected"] == f"{found}/51" and lopo["neutral_false_rejects"] == f"{wrong}/51"
