"""Folder drop: a local directory or a mounted network share.

Each file is written under a temporary name and renamed into place (atomic on one file
system), in the order given: sidecars first and the photo last, so a reader that sees the
photo sees its sidecars. Names derive from the delivery (the photo id, or an adapter's
application reference), so a repeated delivery rewrites the same files; when the last file is
already there with the same bytes nothing is written ("already delivered").
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from .base import Delivery, DeliveryError, File, FileTransport, Receipt, check_config, check_path

KEYS = {"transport", "directory"}


class FolderTransport(FileTransport):
    def __init__(self, directory: str):
        self.directory = Path(directory)

    @classmethod
    def from_config(cls, cfg: dict) -> FolderTransport:
        check_config("folder", cfg, KEYS, ("directory",))
        return cls(cfg["directory"])

    def _write(self, target: Path, data: bytes, delivery_id: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{delivery_id}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)

    def put(self, files: Sequence[File], delivery: Delivery) -> Receipt:
        targets = [self.directory / check_path(f.name) for f in files]
        last = targets[-1]
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if last.exists() and hashlib.sha256(last.read_bytes()).digest() == hashlib.sha256(files[-1].data).digest():
                return Receipt(str(last), "already delivered")
            for file, target in zip(files, targets, strict=True):
                self._write(target, file.data, delivery.id)
        except PermissionError as exc:
            raise DeliveryError(f"cannot write to {self.directory}: {exc}", code="deliver.folder_denied",
                                permanent=True) from exc
        except OSError as exc:  # a share that is not mounted, a full disk: may pass
            raise DeliveryError(f"cannot write to {self.directory}: {exc}", code="deliver.folder_unavailable") from exc
        return Receipt(str(last), "written")

    def fetch(self, name: str) -> bytes | None:
        try:
            return (self.directory / check_path(name)).read_bytes()
        except FileNotFoundError:
            return None

    def close(self) -> None:
        pass
