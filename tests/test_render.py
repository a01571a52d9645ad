"""Rendering every credential's photo from real captures, and checking each photo again."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import photocore
from photocore.catalogue import load_catalogue
from photocore.render import count_renders, pixel_key, render_all, render_key
from photocore.render.verify import verify

from conftest import DATA, NEUTRAL, jpeg_bytes, load_rgb

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample_capture.jpg"
PORTRAIT = DATA / "misc_woman_portrait.jpg"
MARGIN_CODES = {"render.margin_top", "render.margin_bottom", "render.margin_sides"}


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def rendered(path_or_bytes, profiles, backgrounds=None):
    capture = photocore.decode(path_or_bytes)
    analysis = photocore.analyse(capture)
    return render_all(capture, analysis, profiles, backgrounds=backgrounds), analysis




# london_neutral_001's loose curls used to re-measure 0.09 narrower than the master portrait's head
# width rule (a strict xfail); its photo is now framed from the skull (the curls above it cut, as
# GA 461 allows) and meets every rule and the sensible-head check.
@pytest.mark.slow
@pytest.mark.parametrize("face", [SAMPLE, *NEUTRAL[:3]], ids=lambda p: p.stem)
def test_round_trip_all_184_credentials(catalogue, face):
    """Every photo, decoded and analysed again, meets its own credential's rules, and looks like an
    ID photo whatever rules it names: the whole head inside with a gap above it, room below the
    chin for the shoulders, a sane head size, the eyes above the middle, the face centred
    (``verify(sensible=True)``, bands in ``photocore.render.verify.SENSIBLE``)."""
    profiles = list(catalogue.credentials.values())
    out, _ = rendered(face, profiles)
    assert set(out) == set(catalogue.credentials)
    checked = {}
    for credential, r in out.items():
        if not r.ok:
            # a capture may lack room for some framings; that must be said, never faked
            assert r.data is None and {f.code for f in r.failures} <= MARGIN_CODES, (credential, r.failures)
            continue
        if r.render_key not in checked:
            checked[r.render_key] = verify(r.data, catalogue.get(credential), hair_cropped=r.frame.hair_cropped,
                                           sensible=True)
        assert checked[r.render_key] == [], (credential, [str(v) for v in checked[r.render_key]])
        assert r.reached_target and r.width and r.dpi == catalogue.get(credential).dpi
    produced = sum(r.ok for r in out.values())
    assert produced >= 150, produced
    if face == SAMPLE:
        assert produced == 184


def test_184_credentials_need_few_distinct_renders(catalogue, monkeypatch):
    import photocore.render as render_module
    profiles = list(catalogue.credentials.values())
    distinct = count_renders(profiles)
    assert 5 <= distinct <= 40
    calls, regions = [], []
    real, real_region = render_module.cut, render_module.Source._region
    monkeypatch.setattr(render_module, "cut", lambda source, frame: calls.append(frame) or real(source, frame))
    monkeypatch.setattr(render_module.Source, "_region", lambda *a: regions.append(1) or real_region(*a))
    out, _ = rendered(SAMPLE, profiles)
    assert len(calls) <= len({pixel_key(p) for p in profiles}) <= distinct  # pixels shared across files
    assert len(calls) == len(set(calls))  # each frame cut once, whatever colours it is made in
    assert len(regions) == 1  # one matte serves every photo, including sizes shrunk for the byte window
    by_key = {}
    for credential, r in out.items():
        by_key.setdefault(r.render_key, r)
        assert by_key[r.render_key] is r  # the very same rendition object is shared
        assert r.render_key == render_key(catalogue.get(credential))


def test_outputs_carry_no_exif_or_gps(catalogue):
    image = Image.open(NEUTRAL[0])
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(0x8825)[2] = (30.0, 0.0, 0.0)  # GPS latitude
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif)
    assert b"CameraMaker" in buffer.getvalue()
    out, _ = rendered(buffer.getvalue(), [catalogue.get("police.resident-id-card")])
    data = out["police.resident-id-card"].data
    assert b"Exif" not in data and b"CameraMaker" not in data
    with Image.open(io.BytesIO(data)) as im:
        assert not im.getexif() and im.info["dpi"] == (350, 350) and "exif" not in im.info


def test_background_replaced_only_where_allowed(catalogue):
    out, _ = rendered(SAMPLE, [catalogue.get("police.resident-id-card"), catalogue.get("police.passport")])
    id_photo = np.asarray(Image.open(io.BytesIO(out["police.resident-id-card"].data)).convert("RGB")).astype(int)
    passport = np.asarray(Image.open(io.BytesIO(out["police.passport"].data)).convert("RGB")).astype(int)
    corner = id_photo[:20, :20].reshape(-1, 3).mean(axis=0)
    assert (corner > 245).all(), corner  # white, as GA 461 requires
    original = passport[:20, :20].reshape(-1, 3).mean(axis=0)
    assert (original < 240).all() and (original > 180).all(), original  # the capture's own light grey


def test_eyes_are_levelled(catalogue):
    image = load_rgb(NEUTRAL[1])
    h, w = image.shape[:2]
    tilted = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), 6, 1.0), (w, h),
                            borderMode=cv2.BORDER_REPLICATE)
    out, before = rendered(jpeg_bytes(tilted), [catalogue.get("police.resident-id-card")])
    after = photocore.analyse(photocore.decode(out["police.resident-id-card"].data))
    assert abs(before.pose[2]) > 4 and abs(after.pose[2]) < 1.5


def overlay(tmp_path, body: str) -> str:
    (tmp_path / "credentials").mkdir(exist_ok=True)
    (tmp_path / "credentials" / "police.toml").write_text(textwrap.dedent(body), encoding="utf-8")
    return str(tmp_path)


@pytest.fixture(scope="module")
def red_card(tmp_path_factory):
    """A 35x45 (小二寸) photo on red #D74532, where a pale wall left in the hair shows most."""
    root = overlay(tmp_path_factory.mktemp("red"), """
        [[credential]]
        id = "police.red-card"
        name_zh = "红底小二寸"
        name_en = "Red 35x45 card"
        inherits = "xiao-ercun"
        background = ["#D74532"]
        [[credential.derived]]
        keys = ["background"]
        note = "test: a red background"
    """)
    return load_catalogue(root).get("police.red-card")


def test_byte_window_that_cannot_be_met_says_so_and_never_pads(tmp_path):
    root = overlay(tmp_path, """
        [[credential]]
        id = "police.tiny-card"
        name_zh = "小文件"
        name_en = "Tiny file"
        inherits = "ga461"
        kb_min = 1
        kb_max = 3
        [[credential.derived]]
        keys = ["kb_min", "kb_max"]
        note = "test"

        [[credential]]
        id = "police.huge-card"
        name_zh = "大文件"
        name_en = "Huge file"
        inherits = "ga461"
        kb_min = 400
        kb_max = 500
        [[credential.derived]]
        keys = ["kb_min", "kb_max"]
        note = "test"
    """)
    catalogue = load_catalogue(root)
    out, _ = rendered(SAMPLE, [catalogue.get("police.tiny-card"), catalogue.get("police.huge-card")])
    tiny, huge = out["police.tiny-card"], out["police.huge-card"]
    assert not tiny.reached_target and tiny.failures[0].code == "render.bytes_over" and tiny.quality == 70
    assert not huge.reached_target and huge.failures[0].code == "render.bytes_under"
    assert huge.bytes < 400 * 1024  # not padded up to the minimum
    assert huge.quality == 100


def test_grey_and_png_profiles(tmp_path):
    root = overlay(tmp_path, """
        [[credential]]
        id = "police.grey-card"
        name_zh = "黑白"
        name_en = "Grey card"
        inherits = "ga461"
        colour = "grey"
        formats = ["png"]
        kb_max = 400
        [[credential.derived]]
        keys = ["colour", "formats", "kb_max"]
        note = "test"
    """)
    catalogue = load_catalogue(root)
    out, _ = rendered(SAMPLE, [catalogue.get("police.grey-card")])
    r = out["police.grey-card"]
    with Image.open(io.BytesIO(r.data)) as im:
        assert im.format == "PNG" and im.mode == "L" and im.size == (358, 441) and round(im.info["dpi"][0]) == 350
    assert r.extension == "png"


def test_failures_have_codes(catalogue):
    profiles = [catalogue.get("police.resident-id-card")]
    out, _ = rendered(PORTRAIT, profiles)  # the crown is cut off by the top edge
    assert [f.code for f in out["police.resident-id-card"].failures] == ["render.margin_top"]
    small = cv2.resize(load_rgb(NEUTRAL[0]), (240, 240), interpolation=cv2.INTER_AREA)
    out, _ = rendered(jpeg_bytes(small), profiles)
    assert "render.resolution" in {f.code for f in out["police.resident-id-card"].failures}
    out, _ = rendered(jpeg_bytes(np.full((300, 300, 3), 200, np.uint8)), profiles)
    assert out["police.resident-id-card"].failures[0].code == "render.no_face"
    assert all(f.message_zh and f.message_en for f in out["police.resident-id-card"].failures)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.text = [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.slow
def test_cli_convert_writes_photos_report_and_contact_sheet(tmp_path):
    exe = Path(sys.executable).with_name("photocore")
    proc = subprocess.run([str(exe), "convert", str(SAMPLE), "--all", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "index.html" in proc.stdout
    rows = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert len(rows) == 184
    need = {"credential", "status", "file", "width", "height", "dpi", "bytes", "quality", "reached_target",
            "render_key", "failures"}
    for row in rows:
        assert need <= set(row)
        if row["status"] == "ok":
            assert (tmp_path / row["file"]).stat().st_size == row["bytes"]
            assert row["file"] == f"{row['credential']}.jpg"
    page = _Links()
    page.feed((tmp_path / "index.html").read_text(encoding="utf-8"))
    assert sorted(page.images) == sorted(r["file"] for r in rows if r["file"])
    text = "".join(page.text)
    assert "police.resident-id-card" in text and "居民身份证" in text
    assert len({r["render_key"] for r in rows}) == count_renders(load_catalogue().credentials.values())


@pytest.mark.slow
def test_cli_convert_failures_and_bad_input(tmp_path):
    exe = Path(sys.executable).with_name("photocore")
    proc = subprocess.run([str(exe), "convert", str(PORTRAIT), "--credential", "police.resident-id-card",
                           "--out", str(tmp_path / "a"), "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    (row,) = json.loads(proc.stdout)
    assert row["status"] == "failed" and row["file"] is None
    codes = [f["code"] for f in row["failures"]]  # a capture failing its checks is not rendered: the check's codes
    assert "geometry.margin_top" in codes, codes  # the crown is cut off by the top edge
    assert all(f["message_zh"] and f["message_en"] for f in row["failures"]), row["failures"]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    proc = subprocess.run([str(exe), "convert", str(bad), "--out", str(tmp_path / "b")], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2 and "decode.unsupported" in proc.stderr and "Traceback" not in proc.stderr


def test_cut_maps_pixel_centres_exactly():
    """Each photo pixel X samples levelled capture point frame.left + (X + 0.5) * step exactly,
    through every pyramid level (bilinear warps and the pyramid's symmetric kernels keep a
    linear ramp linear, so any half-pixel slip would show)."""
    import math
    from types import SimpleNamespace

    from photocore.framing import Frame
    from photocore.render.pixels import Source, cut

    w, h = 1200, 900
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    ramp = cv2.merge([xs, ys, np.zeros_like(xs)])  # each pixel holds its own centre
    capture = SimpleNamespace(width=w, height=h, pixels=lambda *_: ramp)
    roll, centre = 3.0, np.array([600.0, 450.0])
    frames = [Frame(round(400 * s), round(500 * s), s, 400.0 + s, 250.0 - s, 400.0, 500.0) for s in
              (0.93, 0.71, 0.55, 0.37, 0.26, 0.2)]
    source = Source(capture, None, frames, [], roll, centre)
    t = math.radians(roll)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    for frame in frames:
        photo = cut(source, frame)
        step = frame.crop_width / frame.width_px
        gy, gx = np.mgrid[0:frame.height_px, 0:frame.width_px] + 0.5
        levelled = np.stack([frame.left + gx * step, frame.top + gy * step], axis=-1)
        expected = (levelled - centre) @ rot.T + centre
        error = np.abs(photo[..., :2] - expected).max() / step  # in photo pixels
        assert error < 0.03, (frame.scale, error)


def test_median_colour_is_numpys_median():
    from photocore.render.pixels import median_colour
    rng = np.random.default_rng(1)
    for trial in range(200):
        h, w = rng.integers(1, 60, 2)
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        if trial % 3 == 0:
            image = (image // 37 * 37).astype(np.uint8)  # many ties
        mask = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        pixels = image[mask > 0]
        expected = np.median(pixels, axis=0) if len(pixels) else np.full(3, 255.0)
        assert np.array_equal(median_colour(image, mask), expected.astype(np.float32)), trial


def _in_photo(analysis, frame, points):
    """Analysis points (px) as photo pixels of ``frame``: levelled about the eyes, then cut."""
    import math

    from photocore.framing import eye_line_angle
    t = math.radians(-eye_line_angle(analysis))
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    centre = analysis.eye_mid * analysis.scale
    levelled = (np.asarray(points) * analysis.scale - centre) @ rot.T + centre
    return (levelled - [frame.left, frame.top]) * frame.width_px / frame.crop_width


def _without_hair_gaps(monkeypatch):
    import photocore.render.pixels as pixels
    monkeypatch.setattr(pixels, "fill_hair_gaps", lambda image, share, *rest: share)


@pytest.mark.parametrize("face, most", [(SAMPLE, 30), (NEUTRAL[0], 1200)], ids=["sample", "london_neutral_001"])
def test_background_seen_through_hair_is_replaced(red_card, monkeypatch, face, most):
    """The sample's curl beside the jaw and 001's curls beside the ear let the wall show
    through; the segmenter counts them as person, so the old renderer kept pale patches of
    wall there on red (sample 89 px, 001 6061 px). The matte's unsure band takes the sample's
    (5 px with the fill, 18 without); 001's curls are sure person to the segmenter, and only
    fill_hair_gaps finds the wall in them (689 px with it, 6095 without, when written)."""
    from photocore.analysis import landmarks as L
    profile = red_card
    assert profile.background_replace and profile.background[0] == "#D74532"

    def pale_wall_left(out, analysis):
        rendition = out[profile.id]
        photo = np.asarray(Image.open(io.BytesIO(rendition.data)).convert("RGB")).astype(int)
        oval = _in_photo(analysis, rendition.frame, analysis.landmarks[L.FACE_OVAL, :2])
        face = np.zeros(photo.shape[:2], np.uint8)
        cv2.fillPoly(face, [np.round(oval).astype(np.int32)], 1)
        chin_row = int(_in_photo(analysis, rendition.frame, [analysis.chin])[0][1])
        pale = (photo.min(axis=2) > 170) & (photo.max(axis=2) - photo.min(axis=2) < 30) & (face == 0)
        return int(pale[:chin_row].sum())  # above the chin: no shirt, only hair, ears and wall

    with monkeypatch.context() as m:
        _without_hair_gaps(m)
        before = pale_wall_left(*rendered(face, [profile]))
    after = pale_wall_left(*rendered(face, [profile]))
    assert after <= most, (before, after)
    if face != SAMPLE:
        assert before > 3000, before  # the patches are there without the fill
        assert after < 0.2 * before, (before, after)


@pytest.mark.slow
@pytest.mark.parametrize("face", [SAMPLE, *NEUTRAL[:4]], ids=lambda p: p.stem)
def test_hair_gaps_leave_the_face_alone(red_card, monkeypatch, face):
    """Only hair and wall change: the face oval is the same pixels with or without the fill,
    and so is everything below the chin but hair hanging down from above it."""
    from photocore.analysis import landmarks as L
    profile = red_card
    with monkeypatch.context() as m:
        _without_hair_gaps(m)
        plain, _ = rendered(face, [profile])
    filled, analysis = rendered(face, [profile])
    a, b = (np.asarray(Image.open(io.BytesIO(r[profile.id].data)).convert("RGB")).astype(int) for r in (plain, filled))
    frame = filled[profile.id].frame
    face_mask = np.zeros(a.shape[:2], np.uint8)
    oval = np.round(_in_photo(analysis, frame, analysis.landmarks[L.FACE_OVAL, :2])).astype(np.int32)
    cv2.fillPoly(face_mask, [oval], 1)
    face_mask = cv2.erode(face_mask, np.ones((15, 15), np.uint8))  # the oval's edge may hold hair, and JPEG blocks
    chin_row = int(_in_photo(analysis, frame, [analysis.chin])[0][1])
    changed = np.abs(a - b).max(axis=2) > 12  # beyond re-encoding noise
    assert not changed[face_mask > 0].any()
    # below the chin only hair hanging from above changes (the wall seen through it): every
    # changed patch there is within 5 px of one reaching up above the chin, so a shirt never is
    _, patches = cv2.connectedComponents(cv2.dilate(changed.astype(np.uint8), np.ones((11, 11), np.uint8)))
    from_above = np.unique(patches[:chin_row][changed[:chin_row]])
    assert np.isin(patches[chin_row + 16:][changed[chin_row + 16:]], from_above).all()
    assert changed.any()  # the fill did something on every face: at least the halo at the hair's edge
