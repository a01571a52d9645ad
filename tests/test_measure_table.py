"""Each measure's table in profiles/measures.toml (issue 18 item 5): one per measure, checked
when it loads, and the curves scoring as the formulas they replaced did, ties included."""

from __future__ import annotations

import math
import tomllib
from importlib import resources

import pytest

from photocore.errors import ConfigError
from photocore.measures import REGISTRY, base
from photocore.measures.base import NotAssessed, Reading, measure
from photocore.measures.scores import KINDS, NONE, score_mapping
from photocore.measures.table import SOURCE, TABLES, Table, check_tables, read_tables


def test_every_measure_has_exactly_one_table_and_every_table_a_measure():
    text = resources.files("photocore.profiles").joinpath(SOURCE).read_text(encoding="utf-8")
    names = list(tomllib.loads(text))
    assert sorted(names) == sorted(REGISTRY) == sorted(TABLES)
    assert len(names) == len(set(names))
    for name, fn in REGISTRY.items():
        assert fn.__name__ == name  # registered under its function's name


def test_every_kind_is_used():
    text = resources.files("photocore.profiles").joinpath(SOURCE).read_text(encoding="utf-8")
    used = {entry["score"]["kind"] for entry in tomllib.loads(text).values()}
    assert used == {*KINDS, NONE}


def test_measurements_carry_their_tables_unit_and_decimals(neutral_report):
    for name, m in neutral_report.measurements.items():
        table = TABLES[name]
        assert m.unit == table.unit, name
        if m.value is not None and table.digits is not None:
            assert round(m.value, table.digits) == m.value, name
        assert (m.score is None) == (m.value is None), name


def test_the_registry_completes_what_a_measure_returns(monkeypatch):
    tables = {"reads": Table("px", "a test value", 1, score_mapping({"kind": "line", "through": [0, 0], "slope": 10},
                                                                     "t")),
              "reads_input": Table("px", "scored by another number", None,
                                   score_mapping({"kind": "ramp", "input": "other", "start": [0, 0],
                                                  "end": [1, 100]}, "t")),
              "never": Table("share", "never assessed", None, None)}
    monkeypatch.setattr(base, "TABLES", tables)
    monkeypatch.setattr(base, "REGISTRY", {})

    @measure
    def reads(analysis):
        return 3.14159 if analysis else NotAssessed("nothing to read", {"why": 1})

    @measure
    def reads_input(analysis):
        return Reading(7.0, details={"d": 1}, inputs={"other": 0.25})

    @measure
    def never(analysis):
        return 0.5

    assert base.REGISTRY == {"reads": reads, "reads_input": reads_input, "never": never}
    m = reads(True)
    assert (m.name, m.value, m.score, m.unit, m.reason, m.details) == ("reads", 3.1, 31, "px", None, {})
    m = reads(False)
    assert (m.value, m.score, m.unit, m.reason, m.details) == (None, None, "px", "nothing to read", {"why": 1})
    m = reads_input(None)
    assert (m.value, m.score, m.details) == (7.0, 25, {"d": 1})
    with pytest.raises(ValueError, match="'never' gave a value"):
        never(None)
    with pytest.raises(ValueError, match="registered twice"):
        measure(reads.__wrapped__)


def test_a_measure_without_a_table_does_not_register():
    def no_such_measure(analysis):
        return 1.0
    with pytest.raises(ConfigError, match=r"no table \[no_such_measure\]"):
        measure(no_such_measure)
    assert "no_such_measure" not in REGISTRY


def test_a_table_without_a_measure_is_named():
    check_tables(REGISTRY)
    with pytest.raises(ConfigError, match="eye_visiblity") as caught:
        check_tables(REGISTRY, [*TABLES, "eye_visiblity"])
    assert caught.value.code == "config.unknown_measure"


GOOD = '[eyes_open]\nunit = "ratio"\ndescription = "lid opening"\n'


@pytest.mark.parametrize(("text", "message"), [
    (GOOD + 'score = { kind = "spline", x0 = 0.15 }', "unknown kind 'spline'"),
    (GOOD + 'score = { x0 = 0.15, w = 0.04 }', "missing 'kind'"),
    (GOOD + 'score = { kind = "sigmoid", x0 = 0.15 }', "missing parameter 'w'"),
    (GOOD + 'score = { kind = "sigmoid", x0 = 0.15, w = 0.04, x1 = 2 }', "unknown parameter 'x1'"),
    (GOOD + 'score = { kind = "sigmoid", x0 = "0.15", w = 0.04 }', "x0 must be a number"),
    (GOOD + 'score = { kind = "sigmoid", x0 = 0.15, w = 0.04, falling = 1 }', "falling must be true or false"),
    (GOOD + 'score = { kind = "ramp", start = [0, 0], end = [1] }', r"end must be a \[value, score\] pair"),
    (GOOD + 'score = { kind = "sigmoid", x0 = 0.15, w = 0.04, times = [{ x0 = 1 }] }',
     r"times\[0\]: missing parameter 'w'"),
    (GOOD + 'score = { kind = "none", x0 = 1 }', "takes no parameters"),
    (GOOD + 'score = { kind = "ramp", input = 3, start = [0, 0], end = [1, 100] }', "input must be a name"),
    (GOOD + 'score = { kind = "cosine_squared", times = 2 }', "times must be a list of tables"),
    (GOOD + 'digits = -1\nscore = { kind = "none" }', "digits must be a whole number"),
    (GOOD + 'colour = "red"\nscore = { kind = "none" }', "unknown key 'colour'"),
    (GOOD, "missing 'score'"),
    ('[eyes_open]\ndescription = "lid opening"\nscore = { kind = "none" }', "missing 'unit'"),
    ('eyes_open = 3', "must be a table"),
])
def test_a_bad_table_is_refused_naming_its_measure(text, message):
    with pytest.raises(ConfigError, match=message) as caught:
        read_tables(text)
    assert "[eyes_open]" in str(caught.value)


def test_the_shipped_tables_read_cleanly():
    text = resources.files("photocore.profiles").joinpath(SOURCE).read_text(encoding="utf-8")
    assert read_tables(text).keys() == TABLES.keys()


def _sigmoid(x, x0, w):
    z = (x0 - x) / w
    return 0.0 if z > 700 else 1.0 / (1.0 + math.exp(z))


# The formulas the curves replaced (photocore before issue 18 item 5), before clamping.
FORMER = {
    "background_shadow": lambda v: 100 * (1 - v / 0.3),
    "background_cutout": lambda v: 100 * (1 - v),
    "face_occlusion": lambda v: 100 * (1 - v),
    "eye_visibility": lambda v: 100 * min(1.0, max(0.0, v) / 0.4),
    "lens_darkness": lambda v: 100 * min(1.0, v / 0.8),
    "margins": lambda v: 100 * min(1.0, v / 0.5),
    "hair_over_brows": lambda v: 100 * v,
    "dynamic_range": lambda v: 12.5 * v,
    "glasses_frame": lambda v: 100 - 25 * max(0.0, v - 1),
    "smile": lambda v: 100 - v,
    "background_colour": lambda v: v,
    "lens_glare": lambda v: round(1 / (v + 0.01)),
    "illumination_uniformity": lambda v: 100 * v ** 0.3,
    "luminance_variance": lambda v: 100 * math.sin(math.pi * 60 * v / (60 * v + 1)),
    "head_size": lambda v: 200 * (1 - _sigmoid(abs(v - 0.45), 0, 0.05)),
    "skin_colour": lambda v: 200 * (1 - _sigmoid(v, 0, 10)),
    "yaw": lambda v: 100 * max(0.0, math.cos(math.radians(v))) ** 2,
}
SPAN = {"dynamic_range": 8, "glasses_frame": 4, "smile": 100, "background_colour": 100, "luminance_variance": 0.1,
        "skin_colour": 40, "yaw": 100}  # the values tried are 0-2 times this (1 if not listed)


@pytest.mark.parametrize("name", FORMER)
def test_the_curves_score_as_the_formulas_they_replaced(name):
    """Ratios of small whole numbers (shares of pixels, medians of grey levels) land exactly on
    halves, where the order of the arithmetic decides the rounding: 17/40 is one."""
    score = TABLES[name].score
    assert score is not None
    for d in range(1, 161):
        for n in range(0, 2 * d + 1):
            v = n / d * SPAN.get(name, 1)
            assert score(v, {}) == int(min(100, max(0, round(FORMER[name](v))))), (name, n, d)


def test_exposure_scores_its_brightest_pixels_too():
    score = TABLES["exposure"].score
    assert score is not None
    for mean in (0.1, 0.15, 0.3, 0.5, 0.88, 0.95):
        for p99 in (0.2, 0.35, 0.6, 1.0):
            former = 100 * _sigmoid(mean, 0.15, 0.04) * (1 - _sigmoid(mean, 0.9, 0.03)) * _sigmoid(p99, 0.35, 0.05)
            assert score(mean, {"image_p99": p99}) == int(min(100, max(0, round(former))))
