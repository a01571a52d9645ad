"""Judging real captures against credentials: content rules, framing feasibility, age."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import pytest

import photocore
from photocore.analysis import analyse

from conftest import NEUTRAL, SUNGLASSES, jpeg_bytes, load_rgb, report_for

PORTRAIT = Path(__file__).parent / "data" / "faces" / "misc_woman_portrait.jpg"


def verdicts(report, credential):
    result = next(r for r in report.results if r.credential == credential)
    return {v.code: v for v in result.verdicts}


def test_neutral_capture_can_produce_the_resident_id_card():
    report = photocore.check(NEUTRAL[0], credentials=["police.resident-id-card"])
    v = verdicts(report, "police.resident-id-card")
    for code in ("geometry.margin_top", "geometry.margin_bottom", "geometry.margin_sides", "geometry.resolution"):
        assert v[code].status == "pass", (code, v[code])
    assert "frame.margins" not in v  # replaced by the credential's own geometry
    assert v["glasses.present"].status == "pass"


def test_crown_cut_off_fails_margin_top():
    v = verdicts(photocore.check(PORTRAIT, credentials=["police.resident-id-card"]), "police.resident-id-card")
    assert v["geometry.margin_top"].status == "fail"
    assert v["geometry.margin_top"].message_en.startswith("Not enough room above the head")


def test_small_capture_fails_resolution():
    small = cv2.resize(load_rgb(NEUTRAL[0]), (240, 240), interpolation=cv2.INTER_AREA)
    report = photocore.check(jpeg_bytes(small), credentials=["police.resident-id-card", "police.driving-licence"])
    assert verdicts(report, "police.resident-id-card")["geometry.resolution"].status == "fail"
    assert verdicts(report, "police.resident-id-card")["geometry.resolution"].value > 1.2


def test_glasses_forbidden_by_a_credential(tmp_path):
    (tmp_path / "credentials").mkdir()
    (tmp_path / "credentials" / "police.toml").write_text(textwrap.dedent("""
        [[credential]]
        id = "police.no-glasses-card"
        name_zh = "无眼镜证"
        name_en = "No-glasses card"
        inherits = "ga461"
        content.glasses = "forbidden"
        [[credential.derived]]
        keys = ["content.glasses"]
        note = "a local notice forbidding glasses"
    """), encoding="utf-8")
    report = photocore.check(SUNGLASSES[1], credentials=["police.no-glasses-card", "police.resident-id-card"],
                             catalogue=str(tmp_path))
    assert verdicts(report, "police.no-glasses-card")["glasses.present"].status == "fail"
    assert verdicts(report, "police.resident-id-card")["glasses.present"].status == "pass"


def test_capture_age_against_max_age_days():
    analysis = report_for(NEUTRAL[0]).analysis
    old = photocore.check(analysis, ["hrss.social-security-card"], captured_at=datetime.now() - timedelta(days=400))
    new = photocore.check(analysis, ["hrss.social-security-card"], captured_at=datetime.now() - timedelta(days=3))
    unknown = photocore.check(analysis, ["hrss.social-security-card"])
    assert verdicts(old, "hrss.social-security-card")["capture.age"].status == "fail"
    assert verdicts(new, "hrss.social-security-card")["capture.age"].status == "pass"
    assert verdicts(unknown, "hrss.social-security-card")["capture.age"].status == "not_assessed"


def test_background_that_may_not_be_replaced_must_already_match():
    image = load_rgb(NEUTRAL[0]).copy()
    a = analyse(photocore.decode(jpeg_bytes(image)))
    mask = cv2.resize(a.person_mask, (image.shape[1], image.shape[0])) < 0.1
    image[mask] = (200, 40, 40)  # a red wall
    report = photocore.check(jpeg_bytes(image), credentials=["police.passport", "police.resident-id-card"])
    assert verdicts(report, "police.passport")["background.colour"].status == "fail"
    grey = photocore.check(NEUTRAL[0], credentials=["police.passport"])  # light grey is accepted
    assert verdicts(grey, "police.passport")["background.colour"].status == "pass"


def test_models_run_once_for_many_credentials(monkeypatch):
    import importlib
    check_module = importlib.import_module("photocore.check")
    calls = []
    real = check_module.analyse
    monkeypatch.setattr(check_module, "analyse", lambda c: calls.append(1) or real(c))
    ids = list(photocore.catalogue.load_catalogue().credentials)[:40]
    report = photocore.check(NEUTRAL[1], credentials=ids)
    assert len(calls) == 1 and len(report.results) == 40


@pytest.mark.slow
def test_cli_all_credentials_json():
    exe = Path(sys.executable).with_name("photocore")
    proc = subprocess.run([str(exe), "check", str(NEUTRAL[0]), "--all", "--json"], capture_output=True, text=True,
                          timeout=300)
    assert "Traceback" not in proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["results"]) == 184
    codes = {r["code"] for res in out["results"] for r in res["requirements"]}
    assert {"geometry.margin_top", "geometry.resolution", "capture.age"} <= codes


@pytest.mark.slow
def test_judging_many_credentials_at_once_equals_judging_each_alone():
    """The shared work (measure verdicts by rule set, one face geometry) changes nothing."""
    from photocore.catalogue import load_catalogue
    from photocore.credentials import judge_credential, judge_credentials
    from photocore.measures import measure_all

    from conftest import SMILING
    profiles = list(load_catalogue().credentials.values())
    for path in (NEUTRAL[0], SUNGLASSES[0], SMILING[0]):
        capture = photocore.decode(path)
        analysis = analyse(capture)
        measurements = measure_all(analysis)
        together = judge_credentials(measurements, analysis, profiles, now=datetime(2026, 11, 29))
        for profile in profiles:
            alone = judge_credential(measurements, analysis, profile, now=datetime(2026, 11, 29))
            assert together[profile.id].verdicts == alone.verdicts, (path.name, profile.id)
