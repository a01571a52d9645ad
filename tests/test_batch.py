"""`photocore batch` over a real mixed folder: outputs, reports, kill and --resume, Dask."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import DATA, NEUTRAL, SUNGLASSES, wait_for

pytestmark = pytest.mark.slow  # photocore batch over folders, kill and resume, a dask cluster

EXE = str(Path(sys.executable).with_name("photocore"))
CREDENTIALS = ["--credential", "police.resident-id-card", "--credential", "maritime.seafarer-passport"]


def mixed_folder(root: Path) -> Path:
    src = root / "in"
    (src / "district-a").mkdir(parents=True)
    (src / "district-b" / "2019").mkdir(parents=True)
    shutil.copy(NEUTRAL[0], src / "district-a" / "chen.jpg")
    shutil.copy(NEUTRAL[1], src / "district-b" / "2019" / "li.JPG")
    shutil.copy(NEUTRAL[2], src / "district-b" / "wang_no_extension")  # found by content, not by name
    shutil.copy(SUNGLASSES[1], src / "district-a" / "zhao.jpg")  # fails its checks
    (src / "district-b" / "broken.jpg").write_bytes(NEUTRAL[3].read_bytes()[:4000])  # truncated
    (src / "district-a" / "notes.txt").write_text("not a capture")
    return src


def tree_hash(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def run(*args, timeout=600):
    return subprocess.run([EXE, "batch", *args], capture_output=True, text=True, timeout=timeout)


def report_rows(out: Path) -> list[dict]:
    with open(out / "report.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.images, self.text = set(), [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img":
            self.images.append(attrs["src"])

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    src = mixed_folder(root)
    before = tree_hash(src)
    proc = run(str(src), str(root / "out"), *CREDENTIALS, "--workers", "2", "--quiet")
    return root, src, before, proc


def test_batch_converts_good_records_failures_and_goes_on(local_run):
    root, src, before, proc = local_run
    out = root / "out"
    assert proc.returncode == 1, proc.stderr  # some captures failed: said by the exit code
    assert "Traceback" not in proc.stderr
    assert tree_hash(src) == before  # the input is never modified
    for rel in ("district-a/chen", "district-b/2019/li", "district-b/wang_no_extension"):
        for credential in ("police.resident-id-card", "maritime.seafarer-passport"):
            assert (out / rel / f"{credential}.jpg").stat().st_size > 10_000, (rel, credential)
    rows = report_rows(out)
    by_capture = {}
    for row in rows:
        by_capture.setdefault(row["capture"], []).append(row)
    assert set(by_capture) == {"district-a/chen.jpg", "district-b/2019/li.JPG", "district-b/wang_no_extension",
                               "district-a/zhao.jpg", "district-b/broken.jpg"}
    assert all(r["status"] == "error" and r["codes"] == "decode.truncated" for r in by_capture["district-b/broken.jpg"])
    zhao = by_capture["district-a/zhao.jpg"]
    assert all(r["status"] == "failed" and "eyes.visible" in r["codes"] for r in zhao)
    assert float(by_capture["district-a/chen.jpg"][0]["inter_eye_distance"]) > 90
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))[0].keys() >= {"capture", "status", "codes"}


def test_html_report_is_self_contained_and_says_why(local_run):
    root, *_ = local_run
    page = _Page()
    page.feed((root / "out" / "report.html").read_text(encoding="utf-8"))
    assert {"summary", "per-credential", "per-reason", "failed"} <= page.ids
    text = "".join(page.text)
    assert "5 captures" in text and "decode.truncated" in text and "eyes.visible" in text
    assert "请摘下墨镜" in text and "Please remove your sunglasses" in text
    assert page.images and all(src.startswith("data:image/jpeg;base64,") for src in page.images)  # offline


def test_kill_and_resume_finishes_without_redoing_work(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    faces = sorted(DATA.glob("london_neutral_*.jpg"))
    for i in range(10):
        shutil.copy(faces[i % len(faces)], src / f"capture-{i:02d}.jpg")
    out = tmp_path / "out"
    journal = out / ".photocore-batch" / "journal.jsonl"
    worker = subprocess.Popen([EXE, "batch", str(src), str(out), *CREDENTIALS, "--workers", "1", "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def three_done():
        assert worker.poll() is None, "the batch finished before it could be killed mid-run"
        return journal.exists() and len(journal.read_text().splitlines()) >= 3

    wait_for(three_done, 240, "3 captures in the batch journal")
    os.killpg(worker.pid, signal.SIGKILL)  # the batch and its worker processes, mid-run
    worker.wait()
    done_before = [json.loads(line)["capture"] for line in journal.read_text().splitlines() if line.strip()]
    assert 3 <= len(done_before) < 10
    stamps = {c: (out / Path(c).with_suffix("") / "maritime.seafarer-passport.jpg").stat().st_mtime_ns
              for c in done_before}
    proc = run(str(src), str(out), *CREDENTIALS, "--workers", "1", "--resume", "--quiet")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line)["capture"] for line in journal.read_text().splitlines() if line.strip()]
    assert sorted(lines) == sorted(f"capture-{i:02d}.jpg" for i in range(10))  # each exactly once
    for capture, stamp in stamps.items():  # not converted a second time
        assert (out / Path(capture).with_suffix("") / "maritime.seafarer-passport.jpg").stat().st_mtime_ns == stamp
    rows = report_rows(out)
    assert len(rows) == 20 and all(r["status"] == "ok" for r in rows)


def test_dask_cluster_gives_the_same_report(local_run, tmp_path):
    import distributed
    root, src, _, _ = local_run
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    try:
        proc = run(str(src), str(tmp_path / "out"), *CREDENTIALS, "--scheduler", cluster.scheduler_address, "--quiet")
    finally:
        cluster.close()
    assert proc.returncode == 1, proc.stderr
    strip = ("capture", "credential", "status", "codes", "file", "inter_eye_distance", "yaw")
    local = sorted(tuple(r[k] for k in strip) for r in report_rows(root / "out"))
    dask = sorted(tuple(r[k] for k in strip) for r in report_rows(tmp_path / "out"))
    assert local == dask


def test_debug_prints_where_a_captures_error_came_from_and_keeps_it_out_of_the_reports(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "broken.jpg").write_bytes(NEUTRAL[3].read_bytes()[:4000])  # truncated: fails in decode
    proc = run(str(src), str(tmp_path / "out"), *CREDENTIALS, "--workers", "1", "--quiet", "--debug")
    assert proc.returncode == 1, proc.stderr
    assert "broken.jpg:\nTraceback (most recent call last)" in proc.stderr and "decode.truncated" in proc.stderr
    assert "Traceback" not in (tmp_path / "out" / "report.json").read_text(encoding="utf-8")
    assert report_rows(tmp_path / "out")[0]["codes"] == "decode.truncated"
