"""The credential catalogue: counts, researched numbers, validation of broken files, overlays."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from photocore.catalogue import CatalogueError, load_catalogue, validate
from photocore.catalogue import docs
from photocore.framing import unsatisfiable_reason

ROOT = Path(__file__).resolve().parents[1]
AGENCIES = {"police", "hrss", "healthcare", "health", "market", "transport", "maritime", "fisheries", "education",
            "civil-affairs", "disability", "veterans", "housing", "emergency", "justice", "culture-tourism",
            "citizen-card", "data"}


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def test_exactly_18_agencies_and_184_credentials(catalogue):
    assert set(catalogue.agencies) == AGENCIES
    assert len(catalogue.credentials) == 184
    assert all(catalogue.of_agency(a) for a in AGENCIES)
    assert all(p.agency in AGENCIES and p.id.startswith(p.agency + ".") for p in catalogue.credentials.values())


def test_version_and_content_hash(catalogue):
    assert catalogue.version and len(catalogue.content_hash) == 64


def test_every_profile_resolves_is_sourced_and_satisfiable(catalogue):
    for p in list(catalogue.credentials.values()) + list(catalogue.bases.values()):
        assert p.sources, p.id
        assert all(s["confidence"] in ("high", "medium", "low") for s in p.sources)
        assert unsatisfiable_reason(p) is None, p.id
        assert p.width[0] <= p.width[1] and p.height[0] <= p.height[1]


def test_credentials_without_a_spec_say_what_they_inherit(catalogue):
    inherited = [p for p in catalogue.credentials.values() if p.sources[0]["ref"].startswith("inherits ")]
    assert inherited, "expected credentials that only inherit their agency's base"
    for p in inherited:
        assert p.sources[0]["confidence"] == "low"
        assert p.sources[0]["ref"] == f"inherits {p.chain[1]}", p.id


@pytest.mark.parametrize("ident,size,dpi,mm", [
    ("police.resident-id-card", ((358, 358), (441, 441)), 350, (26, 32)),
    ("police.residence-permit", ((358, 358), (441, 441)), 350, (26, 32)),
    ("police.driving-licence", ((260, 260), (378, 378)), 300, (22, 32)),
    ("police.passport", ((354, 480), (472, 640)), 300, (30, 40)),
    ("police.hk-macao-permit", ((354, 480), (472, 640)), 300, (30, 40)),
    ("hrss.social-security-card", ((358, 358), (441, 441)), 350, (26, 32)),
    ("healthcare.medical-insurance-card", ((358, 358), (441, 441)), 350, (26, 32)),
    ("maritime.seafarer-passport", ((330, 330), (437, 437)), 300, (28, 37)),
    ("citizen-card.citizen-card", ((358, 358), (441, 441)), 350, (26, 32)),
    ("veterans.preferential-card", ((352, 352), (440, 440)), 300, (None, None)),
])
def test_named_credentials_carry_the_researched_numbers(catalogue, ident, size, dpi, mm):
    p = catalogue.get(ident)
    assert (p.width, p.height) == size and p.dpi == dpi and (p.width_mm, p.height_mm) == mm


def test_resident_id_card_rules(catalogue):
    p = catalogue.get("police.resident-id-card")
    assert p.background == ("#FFFFFF",) and p.jpeg_quality_min == 70 and p.formats == ("jpeg",)
    face = p.raw["geometry"]["face_width"]
    assert (face["min"], face["max"], face["unit"]) == (193, 221, "px")
    assert p.content["glasses"] == "required-if-worn"
    assert catalogue.get("police.driving-licence").raw["geometry"]["crown_to_chin"]["max"] == 260
    assert catalogue.get("culture-tourism.tour-guide-card").sources


def test_reuse_days_load_and_inherit(catalogue):
    card = catalogue.get("police.resident-id-card")
    assert card.reuse_days == 1095 and card.to_dict()["reuse_days"] == 1095
    assert catalogue.get("data.id-card-e-certificate").reuse_days == 1095  # inherits the credential
    assert catalogue.bases["exit-entry"].reuse_days == 365
    for ident in ("police.passport", "police.hk-macao-permit", "police.taiwan-permit"):
        assert catalogue.get(ident).reuse_days == 365, ident
    assert catalogue.bases["ga461"].reuse_days is None  # set on the card, not on its base
    assert any(s.get("keys") == ["reuse_days"] and "统一照片库" in s["ref"] for s in card.sources)


def test_reuse_window_falls_back_to_max_age_then_none(catalogue):
    assert catalogue.get("police.resident-id-card").reuse_window_days == 1095
    assert catalogue.get("police.passport").reuse_window_days == 365
    permit = catalogue.get("police.residence-permit")  # ga461, but max_age_days 365 and no reuse_days
    assert permit.reuse_days is None and permit.reuse_window_days == permit.max_age_days == 365
    licence = catalogue.get("police.driving-licence")
    assert licence.reuse_days is None and licence.reuse_window_days == 180
    temporary = catalogue.get("police.temporary-id-card")
    assert temporary.reuse_days is None and temporary.max_age_days is None and temporary.reuse_window_days is None


def test_reference_page_is_current(catalogue):
    page = ROOT / "docs" / "catalogue.md"
    assert page.read_text(encoding="utf-8") == docs.render(catalogue), \
        "docs/catalogue.md is stale: run `photocore specs docs`"


# -- validation of broken catalogues ---------------------------------------------------------

GOOD = """
[[credential]]
id = "police.test-card"
name_zh = "测试卡"
name_en = "Test card"
inherits = "ga461"
kb_max = 25
[[credential.sources]]
ref = "a test notice"
confidence = "medium"
keys = ["kb_max"]
"""


def overlay(tmp_path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def problems_for(tmp_path, files) -> list[str]:
    catalogue, problems = validate(overlay(tmp_path, files))
    assert catalogue is None and problems
    return problems


def test_a_good_overlay_adds_and_replaces(tmp_path):
    replaced = GOOD.replace("police.test-card", "police.resident-id-card").replace("测试卡", "居民身份证")
    catalogue, problems = validate(overlay(tmp_path, {"credentials/police.toml": GOOD + replaced}))
    assert problems == []
    assert catalogue.get("police.test-card").kb_max == 25
    assert catalogue.get("police.resident-id-card").kb_max == 25
    assert len(catalogue.credentials) == 185
    assert catalogue.content_hash != load_catalogue().content_hash


BROKEN = {
    "unknown key": (GOOD.replace("kb_max = 25", "kb_max = 25\ncolor = 'rgb'"), ["credentials/police.toml",
                                                                               "police.test-card", "color"]),
    "wrong unit": (GOOD.replace("kb_max = 25", 'geometry.face_width = { min = 1, max = 2, unit = "cm" }')
                   .replace('keys = ["kb_max"]', 'keys = ["geometry.face_width"]'), ["geometry.face_width.unit", "'cm'"]),
    "mm against dpi": (GOOD.replace("kb_max = 25", "width_mm = 40").replace('["kb_max"]', '["width_mm"]'),
                       ["width_mm", "358 px at 350 dpi"]),
    "kb upside down": (GOOD.replace("kb_max = 25", "kb_min = 50\nkb_max = 25")
                       .replace('["kb_max"]', '["kb_min", "kb_max"]'), ["kb_min", "above kb_max"]),
    "range upside down": (GOOD.replace("kb_max = 25", 'geometry.crown_gap = { min = 30, max = 10, unit = "px" }')
                          .replace('["kb_max"]', '["geometry.crown_gap"]'), ["geometry.crown_gap", "upside down"]),
    "size range upside down": (GOOD.replace("kb_max = 25", "width_px = { min = 500, max = 400 }\naspect = '4:5'")
                               .replace('["kb_max"]', '["width_px", "aspect"]'), ["width_px", "upside down"]),
    "duplicate id": (GOOD + GOOD, ["police.test-card", "duplicate id"]),
    "unknown base": (GOOD.replace('"ga461"', '"ga999"'), ["inherits", "ga999"]),
    "cycle": (GOOD.replace('inherits = "ga461"', 'inherits = "police.other"')
              + GOOD.replace("police.test-card", "police.other").replace('inherits = "ga461"',
                                                                         'inherits = "police.test-card"'),
              ["circular"]),
    "unsourced value": (GOOD.replace('keys = ["kb_max"]', 'keys = []'), ["kb_max", "no source"]),
    "wrong agency file": (GOOD.replace("police.test-card", "health.test-card"), ["must start with", "police."]),
    "bad confidence": (GOOD.replace('"medium"', '"sure"'), ["confidence", "'sure'"]),
    "not toml": ("[[credential]\nid = ", ["not valid TOML"]),
    "impossible geometry": (GOOD.replace("kb_max = 25", 'geometry.crown_to_chin = { min = 0.95, max = 0.99, unit = "height" }\n'
                                         'geometry.crown_gap = { min = 0.2, max = 0.3, unit = "height" }')
                            .replace('["kb_max"]', '["geometry.crown_to_chin", "geometry.crown_gap"]'),
                            ["no framing meets all rules"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_overlays_are_rejected_with_file_key_and_problem(tmp_path, case):
    text, expected = BROKEN[case]
    problems = problems_for(tmp_path, {"credentials/police.toml": text})
    joined = "\n".join(problems)
    assert "credentials/police.toml" in joined, joined
    for fragment in expected:
        assert fragment in joined, (case, joined)


@pytest.mark.parametrize("days", [0, 3651])
def test_reuse_days_out_of_range_is_a_catalogue_error(tmp_path, days):
    text = GOOD.replace("kb_max = 25", f"reuse_days = {days}").replace('["kb_max"]', '["reuse_days"]')
    with pytest.raises(CatalogueError) as info:
        load_catalogue(overlay(tmp_path, {"credentials/police.toml": text}))
    joined = "\n".join(info.value.problems)
    assert "credentials/police.toml" in joined and f"(police.test-card).reuse_days: {days} is" in joined, joined
    assert "unknown key" not in joined, joined


def test_reuse_days_in_an_overlay_overrides_the_inherited_window(tmp_path):
    text = GOOD.replace('inherits = "ga461"', 'inherits = "police.passport"').replace(
        "kb_max = 25", "reuse_days = 30").replace('["kb_max"]', '["reuse_days"]')
    catalogue, problems = validate(overlay(tmp_path, {"credentials/police.toml": text}))
    assert problems == []
    assert catalogue.get("police.test-card").reuse_window_days == 30
    assert catalogue.get("police.passport").reuse_window_days == 365


def test_broken_agencies_file(tmp_path):
    text = '[[agency]]\nid = "police"\nname_zh = "x"\nname_en = "y"\n[[agency]]\nid = "police"\nname_zh = "x"\nname_en = "y"\n'
    assert any("duplicate id" in p for p in problems_for(tmp_path, {"agencies.toml": text}))


def test_loading_a_broken_overlay_raises_a_typed_error(tmp_path):
    with pytest.raises(CatalogueError) as info:
        load_catalogue(overlay(tmp_path, {"credentials/police.toml": GOOD.replace("kb_max = 25", "kb_max = -1")}))
    assert info.value.code == "catalogue.invalid" and info.value.problems


# -- the command line -----------------------------------------------------------------------

def run(*args, env=None):
    exe = Path(sys.executable).with_name("photocore")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120, env=env)


def test_specs_list_json_fields():
    proc = run("specs", "list", "--agency", "police", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows and all(r["agency"] == "police" for r in rows)
    need = {"id", "agency", "name_zh", "name_en", "width_px", "height_px", "dpi", "formats", "kb_min", "kb_max",
            "background", "max_age_days", "sources"}
    assert need <= set(rows[0])


def test_specs_agencies_and_show():
    rows = json.loads(run("specs", "agencies", "--json").stdout)
    assert len(rows) == 18 and sum(r["credentials"] for r in rows) == 184
    shown = json.loads(run("specs", "show", "police.driving-licence", "--json").stdout)
    assert shown["width_px"] == 260 and shown["sources"]
    assert json.loads(run("specs", "show", "police.resident-id-card", "--json").stdout)["reuse_days"] == 1095
    proc = run("specs", "show", "police.nope")
    assert proc.returncode == 2 and "config.unknown_credential" in proc.stderr


def test_specs_validate_and_overlay_from_the_environment(tmp_path):
    good = overlay(tmp_path / "good", {"credentials/police.toml": GOOD})
    assert run("specs", "validate", str(good)).returncode == 0
    bad = overlay(tmp_path / "bad", {"credentials/police.toml": GOOD.replace("ga461", "nothing")})
    proc = run("specs", "validate", str(bad))
    assert proc.returncode == 2 and "nothing" in proc.stderr and "Traceback" not in proc.stderr
    import os
    env = {**os.environ, "PHOTOCORE_CATALOGUE": str(good)}
    rows = json.loads(run("specs", "list", "--agency", "police", "--json", env=env).stdout)
    assert "police.test-card" in {r["id"] for r in rows}
