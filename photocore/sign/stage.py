"""Sign the photos of a conversion: one manifest and JWS per credential's photo.

Each credential gets its own manifest (its own photo id, its own verdicts), so an agency sees
only the credential it issues, never which other credentials the same person applied for.
The photo's hash is computed once per distinct rendition. Where C2PA is wanted (per
credential in the catalogue, or for all with ``c2pa=True``), the manifest is embedded first
and the JWS covers the final bytes; the renderer keeps room for it under the byte window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass

from PIL import Image

from .manifest import CaptureInfo, ManifestSigner, build_manifest, canonical
from .signer import Signer


@dataclass
class SigningOptions:
    signer: Signer
    capture: CaptureInfo
    c2pa: bool | None = None  # None: as each credential's profile says; True/False: for all
    sm2: object | None = None  # an Sm2Signer, for a detached national-crypto signature too

    def wants_c2pa(self, profile) -> bool:
        return "jpeg" == profile.formats[0] and (profile.c2pa if self.c2pa is None else self.c2pa)


@dataclass(frozen=True)
class SignedPhoto:
    data: bytes  # the photo as delivered (with the C2PA manifest when embedded)
    jws: str
    manifest: dict
    c2pa: bool
    sm2: bytes | None = None


def c2pa_reserve(options: SigningOptions) -> int:
    """Bytes a C2PA manifest from this signer adds to a JPEG, measured on a blank one, plus slack."""
    from .c2pa import embed
    blank = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(blank, "JPEG", quality=80)
    embedded = embed(blank.getvalue(), options.signer, credential="x" * 48, station_id=options.capture.station_id,
                     captured_at=options.capture.captured_at, title="x" * 64 + ".jpg")
    return len(embedded) - len(blank.getvalue()) + 512


def sign_outcomes(outcomes, catalogue, options: SigningOptions, now: dt.datetime | None = None) -> dict:
    """{credential id: SignedPhoto} for every outcome that produced a photo."""
    signer = ManifestSigner(options.signer)
    issued_at = now or dt.datetime.now(dt.timezone.utc)
    digests: dict[int, str] = {}
    out = {}
    for outcome in outcomes:
        if not outcome.ok:
            continue
        r = outcome.rendition
        profile = catalogue.get(outcome.credential)
        data, embedded = r.data, False
        if options.wants_c2pa(profile):
            from .c2pa import embed
            data = embed(data, options.signer, credential=outcome.credential, station_id=options.capture.station_id,
                         captured_at=options.capture.captured_at, title=f"{outcome.credential}.{r.extension}")
            embedded = True
        key = id(data)
        if key not in digests:
            digests[key] = hashlib.sha256(data).hexdigest()
        manifest = build_manifest(data, credential=outcome.credential, catalogue=catalogue,
                                  verdicts=outcome.result.verdicts, capture=options.capture,
                                  image={"format": r.format, "width": r.width, "height": r.height, "dpi": r.dpi},
                                  signer=options.signer, issued_at=issued_at, photo_sha256=digests[key])
        sm2 = options.sm2.sidecar(canonical(manifest)) if options.sm2 else None
        out[outcome.credential] = SignedPhoto(data, signer.sign(manifest), manifest, embedded, sm2)
    return out
