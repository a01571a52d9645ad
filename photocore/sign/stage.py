"""Sign the photos of a conversion: one manifest per credential's photo, one signature in all.

Each credential gets its own manifest (its own photo id, its own verdicts), disclosed only to
its agency, so an agency never sees which other credentials the same person applied for; the
station signs the capture's manifests once (see ``manifest``). The photo's hash is computed
once per distinct rendition. Where C2PA is wanted (per
credential in the catalogue, or for all with ``c2pa=True``), the manifest is embedded first
and the JWS covers the final bytes; the renderer keeps room for it under the byte window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from PIL import Image

from .manifest import CaptureInfo, ManifestSigner, manifest_common, new_photo_ids, signed_payload, verdict_summary
from .signer import Signer

if TYPE_CHECKING:
    from ..catalogue import Catalogue, PhotoProfile
    from ..convert import Outcome
    from .sm2 import Sm2Signer  # snowland-smx is an optional extra


@dataclass
class SigningOptions:
    signer: Signer
    capture: CaptureInfo
    c2pa: bool | None = None  # None: as each credential's profile says; True/False: for all
    sm2: Sm2Signer | None = None  # for a detached national-crypto signature too

    def wants_c2pa(self, profile: PhotoProfile) -> bool:
        return "jpeg" == profile.formats[0] and (profile.c2pa if self.c2pa is None else self.c2pa)

    @cached_property
    def manifest_signer(self) -> ManifestSigner:
        """Built once (key, header, JOSE registry) and reused for every capture signed with these options."""
        return ManifestSigner(self.signer)


@dataclass(frozen=True)
class SignedPhoto:
    data: bytes  # the photo as delivered (with the C2PA manifest when embedded)
    jws: str  # the SD-JWT: compact JWS ~ this photo's disclosure ~
    common: dict[str, Any]  # the manifest's part shared by the capture's photos
    entry: dict[str, Any]  # the manifest's part only this photo's agency sees
    c2pa: bool
    sm2: bytes | None = None

    @property
    def manifest(self) -> dict[str, Any]:
        """The photo's whole manifest, as ``verify`` returns it."""
        return {**self.common, **self.entry}


def c2pa_reserve(options: SigningOptions) -> int:
    """Bytes a C2PA manifest from this signer adds to a JPEG, measured on a blank one, plus slack."""
    from .c2pa import embed
    blank = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(blank, "JPEG", quality=80)
    embedded = embed(blank.getvalue(), options.signer, credential="x" * 48, station_id=options.capture.station_id,
                     captured_at=options.capture.captured_at, title="x" * 64 + ".jpg")
    return len(embedded) - len(blank.getvalue()) + 512


def sign_outcomes(outcomes: Sequence[Outcome], catalogue: Catalogue, options: SigningOptions,
                  now: dt.datetime | None = None) -> dict[str, SignedPhoto]:
    """{credential id: SignedPhoto} for every outcome that produced a photo."""
    common = manifest_common(catalogue=catalogue, capture=options.capture, signer=options.signer,
                             issued_at=now or dt.datetime.now(dt.UTC))
    images: dict[int, dict[str, Any]] = {}  # one image description per distinct file
    summaries: dict[int, dict[str, Any]] = {}  # one verdict summary per distinct verdict set
    photos: list[tuple[str, bytes, bool, dict[str, Any]]] = []  # (credential, data, embedded, entry)
    # an outcome that is ok has its rendition and the rendition its bytes
    made = [(o, o.rendition, o.rendition.data) for o in outcomes
            if o.ok and o.rendition is not None and o.rendition.data is not None]
    for (outcome, r, data), photo_id in zip(made, new_photo_ids(len(made)), strict=True):
        profile = catalogue.get(outcome.credential)
        embedded = False
        if options.wants_c2pa(profile):
            from .c2pa import embed
            data = embed(data, options.signer, credential=outcome.credential, station_id=options.capture.station_id,
                         captured_at=options.capture.captured_at, title=f"{outcome.credential}.{r.extension}")
            embedded = True
        if id(data) not in images:
            images[id(data)] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "format": r.format,
                                "width": r.width, "height": r.height, "dpi": r.dpi}
        verdicts = outcome.result.verdicts
        if id(verdicts) not in summaries:
            summaries[id(verdicts)] = verdict_summary(verdicts)
        entry = {"credential": outcome.credential, "photo_id": photo_id, "image": images[id(data)],
                 "verdicts": summaries[id(verdicts)]}
        photos.append((outcome.credential, data, embedded, entry))
    tokens = options.manifest_signer.sign_all(common, [entry for *_, entry in photos])
    # SM2 signs what the JWS signs: the capture's one payload, so one SM2 signature serves all photos
    sidecar = options.sm2.sidecar(signed_payload(tokens[0])) if options.sm2 and tokens else None
    out: dict[str, SignedPhoto] = {}
    for (credential, data, embedded, entry), token in zip(photos, tokens, strict=True):
        out[credential] = SignedPhoto(data, token, common, entry, embedded, sidecar)
    return out
