"""The kiosk API of photocore/__init__.py: typed sources and results, and the face models run once.

README "For a kiosk: four calls": decode, analyse, check(analysis), convert(analysis, ids). The
models run in ``photocore.analysis.run._analyse_as_is`` (detector, mesh and segmenter, once per upright
capture); a wrapper counts its calls.
"""

from __future__ import annotations

import dataclasses
import io
from importlib import resources

import pytest
from PIL import Image

import photocore
import photocore.analysis
from photocore.convert import Outcome
from photocore.judge import Result, Verdict
from photocore.render import Rendition

from conftest import NEUTRAL

CREDENTIALS = ["police.resident-id-card", "hrss.social-security-card"]  # the README's example


@pytest.fixture
def model_runs(monkeypatch) -> list[object]:
    """One entry per run of the face models, whoever asked for it."""
    calls: list[object] = []
    real = photocore.analysis.run._analyse_as_is

    def counted(capture):
        calls.append(capture)
        return real(capture)

    monkeypatch.setattr(photocore.analysis.run, "_analyse_as_is", counted)
    return calls


def test_kiosk_four_calls_run_the_models_once(model_runs):
    capture = photocore.decode(NEUTRAL[0])
    analysis = photocore.analyse(capture)
    report = photocore.check(analysis)
    conversion = photocore.convert(analysis, CREDENTIALS)
    assert len(model_runs) == 1, "check and convert must not analyse an Analysis again"
    assert analysis.capture is capture  # upright already: kept as it came
    assert report.analysis is analysis and conversion.analysis is analysis
    assert report.compliant
    assert "decode" not in conversion.timings and "analyse" not in conversion.timings
    assert [o.credential for o in conversion.outcomes] == CREDENTIALS
    for outcome in conversion.outcomes:
        assert isinstance(outcome, Outcome) and isinstance(outcome.result, Result)
        assert all(isinstance(v, Verdict) for v in outcome.result.verdicts)
        assert isinstance(outcome.rendition, Rendition)
        assert outcome.ok, outcome.failures
    # From the capture, convert analyses (once more) and makes the same photos.
    again = photocore.convert(capture, CREDENTIALS)
    assert len(model_runs) == 2
    assert {"decode", "analyse"} <= set(again.timings)
    assert [o.rendition.data for o in again.outcomes] == [o.rendition.data for o in conversion.outcomes]


def test_check_takes_an_analysis_a_capture_a_path_or_bytes(model_runs):
    path = NEUTRAL[1]
    capture = photocore.decode(path)
    reports = [photocore.check(path), photocore.check(path.read_bytes()), photocore.check(capture)]
    assert len(model_runs) == 3
    analysis = reports[-1].analysis
    reports.append(photocore.check(analysis, CREDENTIALS[:1]))
    assert len(model_runs) == 3  # an Analysis is judged as it is
    assert reports[-1].analysis is analysis and analysis.capture is capture
    verdicts = [[(v.code, v.status, v.value) for v in r.results[0].verdicts] for r in reports[:3]]
    assert verdicts[0] == verdicts[1] == verdicts[2]
    assert reports[-1].results[0].credential == CREDENTIALS[0]


def test_an_analysis_keeps_the_upright_capture_it_came_from(model_runs):
    """A capture on its side is turned before it is analysed: the analysis keeps the turned one,
    so convert(analysis) renders the upright picture without analysing again."""
    with Image.open(NEUTRAL[0]) as im:
        sideways = io.BytesIO()
        im.convert("RGB").rotate(90, expand=True).save(sideways, "JPEG", quality=92)
    capture = photocore.decode(sideways.getvalue())
    analysis = photocore.analyse(capture)
    assert analysis.quarter_turns != 0
    assert analysis.capture is not None and analysis.capture is not capture
    assert analysis.capture.turns == analysis.quarter_turns
    assert (analysis.capture.width, analysis.capture.height) == analysis.full_size == (capture.height, capture.width)
    runs = len(model_runs)
    conversion = photocore.convert(analysis, CREDENTIALS[:1])
    assert len(model_runs) == runs
    assert conversion.turned_degrees == 90 * analysis.quarter_turns
    assert conversion.outcomes[0].ok, conversion.outcomes[0].failures


def test_convert_needs_the_capture_an_analysis_came_from():
    analysis = photocore.analyse(photocore.decode(NEUTRAL[0]))
    with pytest.raises(TypeError, match="no capture|has none"):
        photocore.convert(dataclasses.replace(analysis, capture=None), CREDENTIALS[:1])


def test_typed_results_are_exported_and_the_package_ships_py_typed():
    names = ["Analysis", "Capture", "CheckReport", "Conversion", "Failure", "Outcome", "Rendition", "Result",
             "Verdict"]
    for name in names:
        assert name in photocore.__all__
        assert isinstance(getattr(photocore, name), type), name
    assert photocore.Outcome is Outcome and photocore.Rendition is Rendition and photocore.Verdict is Verdict
    assert resources.files("photocore").joinpath("py.typed").is_file()
