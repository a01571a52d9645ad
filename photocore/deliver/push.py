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


def push(outbox: Outbox, paths, system: System) -> dict:
    """Enqueue each signed photo the system takes; returns counts."""
    outbox.register_destination(system.id, system.destination_config())
    counts = {"queued": 0, "already_queued": 0, "not_for_system": 0}
    for photo in signed_photos(paths):
        token = photo.with_name(photo.name + ".jws").read_text(encoding="ascii").strip()
        manifest = _manifest(token)
        if not system.takes(manifest["credential"]):
            counts["not_for_system"] += 1
            continue
        sm2_path = photo.with_name(photo.name + ".sm2.json")
        _, added = outbox.enqueue(photo_id=manifest["photo_id"], credential=manifest["credential"],
                                  destination=system.id, filename=photo.name, data=photo.read_bytes(), jws=token,
                                  sm2=sm2_path.read_bytes() if sm2_path.exists() else None)
        counts["queued" if added else "already_queued"] += 1
    return counts
