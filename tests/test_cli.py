"""`photocore check` as a user runs it: output shape, exit codes, typed errors, annotation."""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import NEUTRAL, SUNGLASSES, load_rgb

pytestmark = pytest.mark.slow  # each test runs photocore as a subprocess (imports and models: seconds)

SHARED_FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"


def run(*args, timeout=300):
    exe = Path(sys.executable).with_name("photocore")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "photocore.cli"]
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=timeout)


def assert_no_traceback(proc):
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


def test_json_shape_for_one_file():
    proc = run("check", str(NEUTRAL[0]), "--json")
    assert_no_traceback(proc)
    out = json.loads(proc.stdout)
    assert set(out) == {"file", "faces", "turned_degrees", "results"}
    assert out["faces"] == 1 and out["turned_degrees"] == 0
    (result,) = out["results"]
    assert set(result) == {"credential", "compliant", "requirements"} and result["credential"] == "capture"
    for req in result["requirements"]:
        assert set(req) == {"code", "status", "value", "limit", "message_zh", "message_en"}
        assert req["status"] in ("pass", "fail", "not_assessed")
        assert req["value"] is None or isinstance(req["value"], (int, float))
        assert req["message_zh"] and req["message_en"]
    assert proc.returncode == (0 if result["compliant"] else 1)


def test_failing_capture_exits_1_with_messages_for_the_clerk():
    proc = run("check", str(SUNGLASSES[1]))
    assert proc.returncode == 1
    assert "FAIL eyes.visible" in proc.stdout
    assert "请摘下墨镜" in proc.stdout and "Please remove your sunglasses" in proc.stdout


def test_several_files_give_a_list(tmp_path):
    proc = run("check", str(NEUTRAL[0]), str(SUNGLASSES[0]), "--json")
    out = json.loads(proc.stdout)
    assert isinstance(out, list) and [o["file"] for o in out] == [str(NEUTRAL[0]), str(SUNGLASSES[0])]
    assert proc.returncode == 1


def test_annotate_writes_an_image(tmp_path):
    target = tmp_path / "annotated.png"
    proc = run("check", str(SUNGLASSES[0]), "--annotate", str(target))
    assert proc.returncode == 1 and target.exists()
    drawn = np.asarray(Image.open(target).convert("RGB"))
    original = load_rgb(SUNGLASSES[0])
    assert drawn.shape == original.shape and np.abs(drawn.astype(int) - original).mean() > 1


def _png_claiming(width, height) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


MALFORMED = {
    "empty.jpg": (lambda: b"", "decode.empty"),
    "truncated.jpg": (lambda: NEUTRAL[0].read_bytes()[: NEUTRAL[0].stat().st_size // 2], "decode.truncated"),
    "random.jpg": (lambda: random.Random(7).randbytes(5000), "decode.unsupported"),
    "huge.png": (lambda: _png_claiming(100_000, 100_000), "decode.too_large"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_input_exits_2_with_its_code(tmp_path, name):
    make, code = MALFORMED[name]
    path = tmp_path / name
    path.write_bytes(make())
    proc = run("check", str(path))
    assert_no_traceback(proc)
    assert proc.returncode == 2 and code in proc.stderr
    proc = run("check", str(path), "--json")
    assert json.loads(proc.stdout)["error"]["code"] == code


def test_missing_file_is_unreadable(tmp_path):
    proc = run("check", str(tmp_path / "nope.jpg"))
    assert proc.returncode == 2 and "decode.unreadable" in proc.stderr


def test_cmyk_and_16_bit_images_are_checked_not_rejected(tmp_path):
    rgb = Image.open(NEUTRAL[0]).convert("RGB")
    rgb.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=92)
    grey16 = (np.asarray(rgb.convert("L")).astype(np.uint16) * 257)
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    proc = run("check", str(tmp_path / "cmyk.jpg"), str(tmp_path / "grey16.png"), "--json")
    assert_no_traceback(proc)
    cmyk, grey = json.loads(proc.stdout)
    assert cmyk["faces"] == 1 and grey["faces"] == 1
    colour = {r["code"]: r["status"] for r in grey["results"][0]["requirements"]}["image.colour"]
    assert colour == "fail"  # a greyscale file is not a colour photo


def test_unknown_credential_exits_2():
    proc = run("check", str(NEUTRAL[0]), "--credential", "police.no-such-card")
    assert proc.returncode == 2 and "config.unknown_credential" in proc.stderr
    assert_no_traceback(proc)


@pytest.mark.skipif(not SHARED_FACES.is_dir(), reason="../shared/faces is not beside this checkout")
def test_every_shared_face_gives_a_result_or_a_typed_error():
    files = sorted(str(p) for p in SHARED_FACES.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    assert len(files) >= 190
    proc = run("check", *files, "--json", timeout=1200)
    assert_no_traceback(proc)
    out = json.loads(proc.stdout)
    assert len(out) == len(files)
    for entry in out:
        assert "results" in entry or entry["error"]["code"].startswith("decode."), entry["file"]
    assert proc.returncode in (1, 2)
