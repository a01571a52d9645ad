"""The command line refuses bad paths and counts with a typed error (exit 2, no traceback),
caps `batch --workers` at the machine's cores, and writes portraits and keys 0600 (folders 0700)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import NEUTRAL

pytestmark = pytest.mark.slow  # photocore as a subprocess, signed conversions

EXE = str(Path(sys.executable).with_name("photocore"))
CREDENTIALS = ["--credential", "police.resident-id-card", "--credential", "police.passport"]


def run(*args, cwd=None, env=None, timeout=600):
    environ = {k: v for k, v in os.environ.items() if k != "PHOTOCORE_FILE_MODE"}
    environ.update({"PHOTOCORE_KEY_PASSPHRASE": "hardening test passphrase", **(env or {})})
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=environ,
                          preexec_fn=lambda: os.umask(0o022))


def assert_refused(result, code: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert code in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "internal.error" not in result.stderr, result.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture()
def a_file(tmp_path) -> Path:
    path = tmp_path / "somefile"
    path.write_text("not a folder")
    return path


# -- item 5: paths and counts ---------------------------------------------------------------

def test_keys_init_onto_an_existing_file(a_file):
    assert_refused(run("keys", "init", str(a_file)), "keys.exists")
    assert a_file.read_text() == "not a folder"


def test_keys_init_onto_an_existing_store(tmp_path):
    assert run("keys", "init", str(tmp_path / "ks")).returncode == 0
    assert_refused(run("keys", "init", str(tmp_path / "ks")), "keys.exists")


def test_keys_init_into_an_unwritable_folder(a_file):
    assert_refused(run("keys", "init", str(a_file / "sub")), "keys.unwritable")


def test_keys_list_on_a_missing_folder(tmp_path):
    result = run("keys", "list", str(tmp_path / "nowhere"))
    assert_refused(result, "keys.missing")
    assert result.stdout == ""


@pytest.mark.parametrize("argv", [
    ["keys", "init", ""],
    ["keys", "list", ""],
    ["convert", "--out", "", str(NEUTRAL[0])],
    ["convert", "--out", "out", ""],
    ["specs", "validate", ""],
    ["batch", "", "out"],
    ["batch", "in", ""],
    ["check", ""],
    ["verify", "photo.jpg", "--trust", ""],
    ["push", "", "--endpoint", "http://127.0.0.1:9/"],
])
def test_empty_paths_are_refused(tmp_path, argv):
    result = run(*argv, cwd=tmp_path)
    assert_refused(result, "config.empty_path")
    assert not any(tmp_path.iterdir()), "nothing may be written for a refused command"


@pytest.mark.parametrize("workers", ["0", "-1", "two", "1.5"])
def test_batch_workers_must_be_a_positive_count(tmp_path, workers):
    (tmp_path / "in").mkdir()
    assert_refused(run("batch", "--workers", workers, str(tmp_path / "in"), str(tmp_path / "out")),
                   "config.invalid_count")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [
    ["deliver", "--workers", "0"],
    ["deliver", "--max-attempts", "0"],
    ["deliver", "--lease", "-1"],
    ["outbox", "list", "--limit", "0"],
    ["keys", "init", "ks", "--usage-days", "0"],
])
def test_other_counts_are_validated(tmp_path, argv):
    assert_refused(run(*argv, cwd=tmp_path), "config.invalid_count")


def test_batch_into_a_file(tmp_path, a_file):
    (tmp_path / "in").mkdir()
    assert_refused(run("batch", "--workers", "1", str(tmp_path / "in"), str(a_file)), "output.unwritable")
    assert a_file.read_text() == "not a folder"


def test_batch_into_an_unwritable_folder(tmp_path, a_file):
    (tmp_path / "in").mkdir()
    assert_refused(run("batch", "--workers", "1", str(tmp_path / "in"), str(a_file / "sub")), "output.unwritable")


def test_batch_workers_are_capped_at_the_cores_unless_forced(tmp_path):
    (tmp_path / "in").mkdir()  # no captures: no process is started, only the decision is shown
    cores = os.cpu_count() or 1
    capped = run("batch", "--quiet", "--workers", str(cores + 1000), str(tmp_path / "in"), str(tmp_path / "out"))
    assert capped.returncode == 0, capped.stderr
    assert "batch.workers_capped" in capped.stderr and f"using {cores}" in capped.stderr
    forced = run("batch", "--quiet", "--force-workers", "--workers", str(cores + 1), str(tmp_path / "in"),
                 str(tmp_path / "out2"))
    assert forced.returncode == 0, forced.stderr
    assert "batch.workers_capped" not in forced.stderr
    within = run("batch", "--quiet", "--workers", str(cores), str(tmp_path / "in"), str(tmp_path / "out3"))
    assert within.returncode == 0 and "batch.workers_capped" not in within.stderr


# -- item 7: private files ------------------------------------------------------------------

@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A key store, a signed conversion, an annotation, a signed batch of two captures and an
    outbox push, all made under umask 022."""
    root = tmp_path_factory.mktemp("private")
    keys = root / "keys"
    assert run("keys", "init", str(keys)).returncode == 0
    convert = run("convert", str(NEUTRAL[0]), "--out", str(root / "conv" / "nested"), *CREDENTIALS,
                  "--sign", "--keys", str(keys))
    assert convert.returncode in (0, 1), convert.stderr
    check = run("check", str(NEUTRAL[0]), "--annotate", str(root / "annotated.png"))
    assert check.returncode in (0, 1), check.stderr
    src = root / "in"
    src.mkdir()
    shutil.copy(NEUTRAL[0], src / "a.jpg")
    shutil.copy(NEUTRAL[1], src / "b.jpg")
    (src / "broken.jpg").write_bytes(NEUTRAL[2].read_bytes()[:3000])  # a failed capture: a thumbnail in report.html
    batch = run("batch", "--quiet", "--workers", "1", *CREDENTIALS, "--sign", "--keys", str(keys), str(src),
                str(root / "batch"))
    assert batch.returncode in (0, 1), batch.stderr
    key = subprocess.run([EXE, "outbox", "keygen"], capture_output=True, text=True, check=True).stdout.strip()
    push = run("push", str(root / "conv" / "nested"), "--endpoint", "http://127.0.0.1:9/receive",
               "--data-dir", str(root / "home" / "photocore"), env={"PHOTOCORE_OUTBOX_KEY": key})
    assert push.returncode == 0, push.stderr
    return root


def test_convert_outputs_are_private(written):
    out = written / "conv" / "nested"
    files = [p for p in out.iterdir()]
    assert any(p.suffix == ".jpg" for p in files) and any(p.name.endswith(".jws") for p in files)
    assert {"report.json", "index.html"} <= {p.name for p in files}
    for path in files:
        assert mode(path) == 0o600, path
    assert mode(out) == 0o700 and mode(out.parent) == 0o700


def test_annotation_is_private(written):
    assert mode(written / "annotated.png") == 0o600


def test_key_store_private_keys(written):
    keys = written / "keys"
    assert mode(keys) == 0o700 and mode(keys / "stations") == 0o700
    for path in [keys / "root.key.pem", *(keys / "stations").glob("*.key.pem")]:
        assert mode(path) == 0o600, path


def test_batch_outputs_are_private(written):
    out = written / "batch"
    photos = [p for p in out.rglob("*") if p.is_file() and p.suffix == ".jpg"]
    assert len(photos) >= 2, list(out.rglob("*"))
    assert any(p.name.endswith(".jws") for p in out.rglob("*"))
    for path in out.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert mode(path) == expected, (path, oct(mode(path)))
    assert mode(out) == 0o700
    assert (out / ".photocore-batch" / "journal.jsonl").exists()
    assert {"report.html", "report.csv", "report.json"} <= {p.name for p in out.iterdir()}


def test_outbox_database_is_private(written):
    home = written / "home" / "photocore"
    files = sorted(home.glob("outbox.sqlite3*"))
    assert home / "outbox.sqlite3" in files
    for path in files:  # the database, and its -wal and -shm while they exist
        assert mode(path) == 0o600, path
    assert mode(home) == 0o700


def test_outbox_wal_and_shm_are_private_while_open(tmp_path, monkeypatch):
    import base64

    from photocore.deliver.outbox import connect_outbox, new_key

    monkeypatch.delenv("PHOTOCORE_FILE_MODE", raising=False)
    old = os.umask(0o022)
    try:
        outbox = connect_outbox(str(tmp_path / "data" / "outbox.sqlite3"), base64.b64decode(new_key()))
        outbox.counts()
        files = sorted((tmp_path / "data").glob("outbox.sqlite3*"))
        assert {p.name for p in files} >= {"outbox.sqlite3", "outbox.sqlite3-wal", "outbox.sqlite3-shm"}
        for path in files:
            assert mode(path) == 0o600, path
        assert mode(tmp_path / "data") == 0o700
    finally:
        os.umask(old)


def test_the_operator_may_ask_for_another_mode(tmp_path):
    result = run("check", str(NEUTRAL[0]), "--annotate", str(tmp_path / "shared.png"),
                 env={"PHOTOCORE_FILE_MODE": "0640"})
    assert result.returncode in (0, 1), result.stderr
    assert mode(tmp_path / "shared.png") == 0o640
