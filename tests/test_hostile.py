"""Hostile and awkward input (issue 14, items 3 and 4): no internal errors from data, and
revocation known or said to be unknown.

- Real faces from tests/data pushed against every edge and corner: ``check`` gives verdicts, and a
  measure that cannot see what it needs says "not assessed", never a silent pass.
- Real tokens from a real key store: bit flips in each x5c certificate give a ``Verification``
  (``verify.malformed`` for what cannot be parsed), never an exception.
- The revocation list beside the trust anchor is found without being named; with none the result
  says ``revocation: "unknown"``.
"""

from __future__ import annotations

import base64
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photocore.analysis import analyse, linear_luminance
from photocore.catalogue import load_catalogue
from photocore.check import check
from photocore.decode import decode
from photocore.errors import PhotocoreError
from photocore.measures import measure_all
from photocore.sign import CaptureInfo, build_manifest, init_keys, load_root, load_signer, revoke, sign_manifest, verify
from photocore.sign.signer import thumbprint
from photocore.sign.verify import Verification, VerifyInputError, revoked_beside, verify_compact, verify_many

FACES = Path(__file__).resolve().parent / "data" / "faces"
SUBJECTS = ["london_neutral_001.jpg", "london_neutral_005.jpg", "london_smiling_030.jpg", "interfaces_010.jpg"]


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _crops(image: Image.Image, frac: float) -> dict[str, Image.Image]:
    """The capture cut so the face sits at each edge and corner (``frac``: how far in the cut is)."""
    w, h = image.size
    cx, cy = int(w * frac) + w // 4, int(h * frac) + h // 4  # cut beyond the left/top part
    ox, oy = int(w * frac), int(h * frac)  # cut off the left/top part
    boxes = {"right": (0, 0, cx, h), "bottom": (0, 0, w, cy), "left": (ox, 0, w, h), "top": (0, oy, w, h),
             "bottom-right": (0, 0, cx, cy), "top-left": (ox, oy, w, h), "top-right": (0, oy, cx, h),
             "bottom-left": (ox, 0, w, cy)}
    return {name: image.crop(box) for name, box in boxes.items()}


@pytest.mark.slow
@pytest.mark.parametrize("subject", SUBJECTS)
def test_faces_at_every_edge_give_verdicts_not_internal_errors(subject):
    image = Image.open(FACES / subject).convert("RGB")
    for frac in (0.2, 0.4, 0.55):
        for name, crop in _crops(image, frac).items():
            try:
                report = check(_png(crop), ["capture"])
            except PhotocoreError:  # a typed refusal is a fine answer; anything else is a bug
                continue
            assert report.results, (subject, frac, name)
            for m in report.measurements.values():
                assert (m.value is None) == (m.score is None), (subject, frac, name, m)
                assert m.value is not None or m.reason, (subject, frac, name, m)


def test_cheek_cut_off_at_the_bottom_is_not_assessed():
    """The probe's case: the image ends mid-face, below the eyes, so a cheek patch is empty
    (it reached cv2.transform and raised cv2.error)."""
    image = Image.open(FACES / "london_neutral_001.jpg").convert("RGB")
    w, h = image.size
    crashed_before = image.crop((int(w * 0.2), 0, w, int(h * 0.2) + h // 4))
    analysis = analyse(decode(_png(crashed_before)))
    measures = measure_all(analysis)  # raised cv2.error before the fix
    lighting = measures["illumination_uniformity"]
    if analysis.has_face:
        height, width = analysis.image.shape[:2]
        from photocore.analysis import landmarks as L
        outside = any(not (0 < analysis.point(i)[0] < width - 1 and 0 < analysis.point(i)[1] < height - 1)
                      for i in (L.RIGHT_CHEEK, L.LEFT_CHEEK))
        if outside:
            assert lighting.value is None and "outside" in lighting.reason
    check(_png(crashed_before), ["capture"])


def test_face_padded_against_the_right_and_bottom_edges():
    image = Image.open(FACES / "london_neutral_001.jpg").convert("RGB")
    w, h = image.size
    for shift in (0.45, 0.55, 0.65):
        face = image.crop((0, 0, int(w * shift), int(h * shift)))
        canvas = Image.new("RGB", (face.width * 2, face.height * 2), (210, 210, 210))
        canvas.paste(face, (face.width, face.height))  # the face ends where the canvas ends
        report = check(_png(canvas), ["capture"])
        assert report.results


def test_linear_luminance_of_an_empty_region_is_empty():
    assert linear_luminance(np.zeros((0, 5, 3), np.uint8)).shape == (0, 5)
    assert linear_luminance(np.zeros((4, 0, 3), np.uint8)).shape == (4, 0)


# --- verification ---------------------------------------------------------------------------

PHOTO = (FACES / "london_neutral_001.jpg").read_bytes()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHOTOCORE_KEY_PASSPHRASE", "hostile input test")
        path = tmp_path_factory.mktemp("keys")
        init_keys(path)
        signer = load_signer(path)
        manifest = build_manifest(PHOTO, credential="police.resident-id-card", catalogue=load_catalogue(), verdicts=[],
                                  capture=CaptureInfo("zs-001", "op-7", "2026-11-28T09:00:00+08:00", "kiosk-3"),
                                  image={"format": "jpeg"}, signer=signer)
        return {"path": path, "token": sign_manifest(manifest, signer), "kid": signer.kid}


def _with_cert(token: str, index: int, der: bytes, rekid: bool) -> str:
    compact, disclosure, _ = token.split("~")
    head, payload, signature = compact.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    header["x5c"] = list(header["x5c"])
    header["x5c"][index] = base64.b64encode(der).decode()
    if rekid and index == 0:  # an attacker names the corrupt certificate, to get past the kid check
        header["kid"] = thumbprint(der)
    head = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return f"{head}.{payload}.{signature}~{disclosure}~"


def test_the_untouched_token_verifies(store):
    result = verify(PHOTO, store["token"], load_root(store["path"]), revoked_beside(store["path"] / "root.pem"))
    assert result.valid and result.revocation == "checked"


def test_flipped_x509_version_is_malformed_not_an_exception(store):
    header = json.loads(base64.urlsafe_b64decode(store["token"].split(".")[0] + "=="))
    der = bytearray(base64.b64decode(header["x5c"][0]))
    assert der[10:13] == b"\x02\x01\x02"  # TBSCertificate's [0] version: INTEGER 2 (X.509 v3)
    der[12] ^= 1
    token = _with_cert(store["token"], 0, bytes(der), rekid=True)
    result = verify(PHOTO, token, load_root(store["path"]))
    assert (result.valid, result.code) == (False, "verify.malformed")


@pytest.mark.slow
def test_bit_flips_in_every_x5c_certificate_give_a_verification(store):
    root = load_root(store["path"])
    token = store["token"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    codes: dict[str, int] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography warns about e.g. a negative serial number
        for index, cert in enumerate(header["x5c"]):
            der = base64.b64decode(cert)
            for rekid in ((False, True) if index == 0 else (False,)):
                for pos in range(min(300, len(der))):
                    for bit in (0x01, 0x80):
                        flipped = bytearray(der)
                        flipped[pos] ^= bit
                        bad = _with_cert(token, index, bytes(flipped), rekid)
                        result = verify(PHOTO, bad, root, set())
                        assert isinstance(result, Verification), (index, pos, bit)
                        assert result.code is None or result.code.startswith("verify."), result
                        (many,) = verify_many([(PHOTO, bad)], root, set())
                        assert (many.valid, many.code) == (result.valid, result.code), (index, pos, bit)
                        assert isinstance(verify_compact(bad.split("~")[0], root), Verification)
                        codes[result.code] = codes.get(result.code, 0) + 1
    assert codes.get("verify.malformed", 0) > 0


# --- revocation by default ------------------------------------------------------------------

def test_without_any_revocation_list_the_result_says_unknown(store):
    root = load_root(store["path"])
    result = verify(PHOTO, store["token"], root)
    assert result.valid and result.revocation == "unknown"
    assert result.to_dict()["revocation"] == "unknown"
    assert verify(PHOTO, store["token"], root, set()).to_dict()["revocation"] == "checked"
    (many,) = verify_many([(PHOTO, store["token"])], root)
    assert many.revocation == "unknown"
    assert verify(PHOTO, "nonsense", root).revocation == "unknown"


def test_revoked_beside_reads_the_key_stores_list(store, tmp_path, monkeypatch):
    root_pem = store["path"] / "root.pem"
    assert revoked_beside(root_pem) == set()
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "root.pem").write_bytes(root_pem.read_bytes())
    assert revoked_beside(alone / "root.pem") is None  # no list: unknown, not "nothing revoked"
    (alone / "revoked.json").write_text("{not json")
    with pytest.raises(VerifyInputError) as info:
        revoked_beside(alone / "root.pem")
    assert info.value.code == "verify.bad_revocation"
    (alone / "revoked.json").write_text(json.dumps({"revoked": "everything"}))
    with pytest.raises(VerifyInputError):
        revoked_beside(alone / "root.pem")


def test_a_revoked_key_is_refused_without_naming_the_list(tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOCORE_KEY_PASSPHRASE", "hostile input test")
    init_keys(tmp_path)
    signer = load_signer(tmp_path)
    manifest = build_manifest(PHOTO, credential="police.resident-id-card", catalogue=load_catalogue(), verdicts=[],
                              capture=CaptureInfo("zs-001", "op-7"), image={"format": "jpeg"}, signer=signer)
    token = sign_manifest(manifest, signer)
    revoke(tmp_path, signer.kid)
    trust = tmp_path / "root.pem"
    result = verify(PHOTO, token, load_root(tmp_path), revoked_beside(trust))
    assert (result.valid, result.code, result.revocation) == (False, "verify.revoked", "checked")
