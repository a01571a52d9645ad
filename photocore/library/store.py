"""Where the library keeps its (already encrypted) objects: a folder, or an S3-compatible store.

Both hold only ciphertext (see ``crypto``): names are ``captures/<capture id>/<object>``, and a
capture's objects are deleted together when it is purged. Several service processes on
several hosts share an S3 store (or a shared folder).
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from pathlib import Path
from typing import Protocol

from .errors import LibraryError


class ObjectStore(Protocol):
    def put(self, name: str, data: bytes) -> None: ...

    def get(self, name: str) -> bytes: ...

    def delete_capture(self, capture_id: str) -> None: ...


class FolderStore:
    """Objects as files under ``root`` (mode 0600, folders 0700), written by atomic rename."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise LibraryError(f"cannot create the object folder {self.root}: {exc}", code="library.config") from exc

    def _path(self, name: str) -> Path:
        return self.root / name

    def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        try:
            if not path.parent.is_dir():
                for folder in reversed([p for p in path.parents if self.root in p.parents]):
                    folder.mkdir(exist_ok=True, mode=0o700)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")  # threads write too
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise LibraryError(f"cannot write to the object folder: {exc}", code="library.unavailable") from exc

    def get(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError as exc:
            raise LibraryError("stored object missing", code="library.not_found") from exc
        except OSError as exc:
            raise LibraryError(f"cannot read the object folder: {exc}", code="library.unavailable") from exc

    def delete_capture(self, capture_id: str) -> None:
        shutil.rmtree(self.root / "captures" / capture_id, ignore_errors=True)

    def capture_folders(self) -> list[tuple[str, float]]:
        """(capture id, last change) of every capture with objects here."""
        base = self.root / "captures"
        return [(p.name, p.stat().st_mtime) for p in base.iterdir() if p.is_dir()] if base.is_dir() else []


class S3Store:
    """``s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=...``; credentials from boto3's
    own chain (environment, instance role), never from the URL."""

    def __init__(self, url: str):
        import boto3
        from botocore.config import Config

        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        if not parts.netloc:
            raise LibraryError(f"store URL {url!r} names no bucket (s3://BUCKET/PREFIX)", code="library.config")
        self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
        self.client = boto3.client("s3", endpoint_url=query.get("endpoint"),
                                   region_name=query.get("region", "us-east-1"),
                                   config=Config(retries={"max_attempts": 3, "mode": "standard"},
                                                 s3={"addressing_style": "path"}, max_pool_connections=32,
                                                 request_checksum_calculation="when_required",
                                                 response_checksum_validation="when_required"))

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _error(self, exc: Exception, what: str) -> LibraryError:
        from botocore.exceptions import ClientError
        if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return LibraryError("stored object missing", code="library.not_found")
        return LibraryError(f"object store {what} failed: {type(exc).__name__}", code="library.unavailable")

    def put(self, name: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(name), Body=data)
        except Exception as exc:  # botocore's network and client errors
            raise self._error(exc, "write") from exc

    def get(self, name: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"].read()
        except Exception as exc:
            raise self._error(exc, "read") from exc

    def delete_capture(self, capture_id: str) -> None:
        prefix = self._key(f"captures/{capture_id}/")
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
        except Exception as exc:
            raise self._error(exc, "delete") from exc

    def capture_folders(self) -> list[tuple[str, float]]:
        """(capture id, newest object's time) of every capture with objects in the bucket."""
        base = self._key("captures/")
        newest: dict[str, float] = {}
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
                for o in page.get("Contents", []):
                    capture_id = o["Key"][len(base):].split("/", 1)[0]
                    newest[capture_id] = max(newest.get(capture_id, 0.0), o["LastModified"].timestamp())
        except Exception as exc:
            raise self._error(exc, "list") from exc
        return list(newest.items())


def open_store(url: str | None, data_dir: Path) -> ObjectStore:
    if not url:
        return FolderStore(data_dir / "objects")
    if url.startswith("s3://"):
        return S3Store(url)
    if url.startswith("file://"):
        return FolderStore(urllib.parse.urlsplit(url).path)
    raise LibraryError(f"store URL {url!r}: use s3://BUCKET/PREFIX?endpoint=URL or file:///PATH", code="library.config")
