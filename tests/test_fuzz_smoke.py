"""The fuzz harness (benchmarks/fuzz.py, issue 14 item 8) in miniature, so that it keeps working
and so that a crash or a hang on hostile input fails the suite, not only a long run.

Every family is equally likely here (``--uniform``), so a few hundred cases touch each of them.
Time and memory budgets are not asserted: on a shared machine they measure the neighbours too;
the long runs report them.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a few hundred fuzz cases

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "benchmarks" / "fuzz.py"


def _family_names() -> set[str]:
    spec = importlib.util.spec_from_file_location("fuzz_harness", FUZZ)
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # dataclasses look it up
    spec.loader.exec_module(module)
    return {f.name for f in module.FAMILIES}


def test_a_few_hundred_cases_of_every_family_without_a_crash_or_a_hang(tmp_path):
    out, saved = tmp_path / "fuzz.json", tmp_path / "cases"
    proc = subprocess.run([sys.executable, str(FUZZ), "--cases", "300", "--seed", "14", "--uniform",
                           "--json", str(out), "--save-dir", str(saved)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode in (0, 1) and out.exists(), proc.stderr[-3000:]  # 1: a finding, looked at below
    report = json.loads(out.read_text())
    assert set(report["families"]) == _family_names()
    assert report["total"]["cases"] == 300
    bad = [f for f in report["findings"] if f["outcome"] in ("crash", "hang")]
    assert not bad, "\n\n".join(f"{f['outcome']} in {f['family']} case {f['case']} (replay: benchmarks/fuzz.py "
                                f"--replay {f['saved']}):\n{f['detail']}" for f in bad)
    assert (report["total"]["crashes"], report["total"]["hangs"]) == (0, 0)
