"""Folder drop: a local directory or a mounted network share.

Each file is written under a temporary name and renamed into place (atomic on one file
system), sidecars first and the photo last, so a reader that sees the photo sees its .jws.
Names derive from the photo id, so a repeated delivery rewrites the same files.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .base import Delivery, DeliveryError, Receipt, check_config

KEYS = {"transport", "directory"}


class FolderTransport:
    def __init__(self, directory: str):
        self.directory = Path(directory)

    @classmethod
    def from_config(cls, cfg: dict) -> "FolderTransport":
        check_config("folder", cfg, KEYS, ("directory",))
        return cls(cfg["directory"])

    def _write(self, name: str, data: bytes, delivery_id: str) -> None:
        tmp = self.directory / f".{name}.{delivery_id}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.directory / name)

    def send(self, delivery: Delivery) -> Receipt:
        name = f"{delivery.photo_id}-{delivery.filename}"
        target = self.directory / name
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if target.exists() and hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(delivery.data).digest():
                return Receipt(str(target), "already delivered")
            self._write(f"{name}.jws", delivery.jws.encode("ascii"), delivery.id)
            if delivery.sm2:
                self._write(f"{name}.sm2.json", delivery.sm2, delivery.id)
            self._write(name, delivery.data, delivery.id)
        except PermissionError as exc:
            raise DeliveryError(f"cannot write to {self.directory}: {exc}", code="deliver.folder_denied",
                                permanent=True) from exc
        except OSError as exc:  # a share that is not mounted, a full disk: may pass
            raise DeliveryError(f"cannot write to {self.directory}: {exc}", code="deliver.folder_unavailable") from exc
        return Receipt(str(target), "written")

    def close(self) -> None:
        pass
