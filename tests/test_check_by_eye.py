""""Check by eye" is never lost (issue 15 item 7): every requirement a credential cares about
that was not assessed is listed, in Chinese and English, in convert's report.json, on its
contact sheet and in the batch reports."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import NEUTRAL

pytestmark = pytest.mark.slow  # convert and batch as subprocesses

EXE = str(Path(sys.executable).with_name("photocore"))
PASSPORT, ID_CARD = "police.passport", "police.resident-id-card"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("convert")
    run = subprocess.run([EXE, "convert", str(NEUTRAL[0]), "--out", str(out), "--credential", PASSPORT,
                          "--credential", ID_CARD], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return out, run.stdout


def test_report_json_lists_not_assessed_per_credential(converted):
    out, _ = converted
    rows = {r["credential"]: r for r in json.loads((out / "report.json").read_text())}
    passport = rows[PASSPORT]
    assert passport["status"] == "ok"  # a photo is made, and the clerk is still told what to look at
    codes = [n["code"] for n in passport["not_assessed"]]
    assert "jewellery.absent" in codes and "head.covering" in codes
    assert "jewellery.absent" not in [n["code"] for n in rows[ID_CARD]["not_assessed"]]  # not its rule
    for item in passport["not_assessed"]:
        assert set(item) == {"code", "message_zh", "message_en"}
        assert "人工核对" in item["message_zh"] and "check by eye" in item["message_en"].lower()


def test_contact_sheet_and_console_name_them(converted):
    out, stdout = converted
    sheet = (out / "index.html").read_text()
    assert 'id="check-by-eye"' in sheet and "未佩戴首饰 / No jewellery" in sheet
    assert "CHECK BY EYE (1 credentials) jewellery.absent" in stdout


def test_batch_reports_list_them(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "a.jpg").write_bytes(NEUTRAL[0].read_bytes())
    run = subprocess.run([EXE, "batch", str(inbox), str(tmp_path / "out"), "--credential", PASSPORT, "--credential",
                          ID_CARD, "--workers", "1", "--quiet"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    with open(tmp_path / "out" / "report.csv", newline="", encoding="utf-8") as fh:
        rows = {r["credential"]: r for r in csv.DictReader(fh)}
    assert "jewellery.absent" in rows[PASSPORT]["not_assessed"].split(";")
    assert "jewellery.absent" not in rows[ID_CARD]["not_assessed"].split(";")
    page = (tmp_path / "out" / "report.html").read_text()
    table = page[page.index("id='check-by-eye'"):page.index("id='failed'")]
    assert "jewellery.absent" in table and "未佩戴首饰" in table and "No jewellery" in table
