"""Enqueue signed photos (what `photocore convert --sign` wrote) for a destination."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..sign.manifest import unverified_manifest
from .outbox import Outbox
from .systems import System


def _manifest(token: str) -> dict:
    """The manifest inside our own signature (read, not verified: we are the producer)."""
    try:
        manifest = unverified_manifest(token)
        return {"credential": manifest["credential"], "photo_id": manifest["photo_id"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError("not a photocore signature (.jws)", code="push.bad_signature") from exc


def signed_photos(paths) -> list[Path]:
    """Photos with a .jws beside them, from files and folders (folders searched recursively, so a
    whole `photocore batch --sign` output can be pushed at once)."""
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.with_name(p.name + ".jws").exists()
                            and not p.name.endswith((".jws", ".json")) and ".photocore-batch" not in p.parts)
        elif path.is_file():
            if not path.with_name(path.name + ".jws").exists():
                raise ConfigError(f"{path} has no signature {path.name}.jws beside it (convert --sign)",
                                  code="push.unsigned")
            found.append(path)
        else:
            raise ConfigError(f"{path} does not exist", code="push.missing")
    return found


def push(outbox: Outbox, paths, system: System, reference: str | None = None) -> dict:
    """Enqueue each signed photo the system takes; returns counts. ``reference``: the agency's
    application reference for the one photo pushed (adapters name files by it)."""
    from ..adapters.base import REFERENCE

    if reference is not None and not REFERENCE.match(reference):
        raise ConfigError(f"application reference {reference!r}: 1-64 of A-Z a-z 0-9 . _ -, starting with a letter "
                          "or digit", code="push.bad_reference")
    counts = {"queued": 0, "already_queued": 0, "not_for_system": 0}
    taken = []
    for photo in signed_photos(paths):
        token = photo.with_name(photo.name + ".jws").read_text(encoding="ascii").strip()
        manifest = _manifest(token)
        if not system.takes(manifest["credential"]):
            counts["not_for_system"] += 1
            continue
        taken.append((photo, token, manifest))
    if reference is not None and len(taken) > 1:
        raise ConfigError(f"an application reference names one photo, and {len(taken)} photos here go to "
                          f"{system.id}: push them one by one", code="push.reference_ambiguous")
    outbox.register_destination(system.id, system.destination_config())
    for photo, token, manifest in taken:
        sm2_path = photo.with_name(photo.name + ".sm2.json")
        _, added = outbox.enqueue(photo_id=manifest["photo_id"], credential=manifest["credential"],
                                  destination=system.id, filename=photo.name, data=photo.read_bytes(), jws=token,
                                  sm2=sm2_path.read_bytes() if sm2_path.exists() else None, reference=reference)
        counts["queued" if added else "already_queued"] += 1
    return counts
