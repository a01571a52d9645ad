"""S3 (AWS, MinIO, Ceph RGW) delivery with boto3.

Files in the order given (sidecars first, photo last), each ``put_object`` with
``If-None-Match: *`` and a ``sha256`` metadata entry beside the adapter's: the store writes a key
once, so a delivery repeated after a crash cannot overwrite anything. A 412 on a key that holds
our bytes (its ``sha256`` metadata matches) means that part was delivered already; other bytes
under the same key are a permanent conflict. Stores that ignore If-None-Match (old Ceph and MinIO
releases) overwrite instead: same bytes, so the result is the same, but a conflict goes unseen.

``prefix`` is a folder: "incoming" and "incoming/" both give "incoming/<photo id>-<filename>"
(or "incoming/<the adapter's name>").
Without ``access_key``/``secret_key`` boto3's own credential chain (instance role, ...) is used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)

from ...errors import ConfigError
from .base import Delivery, DeliveryError, File, FileTransport, Receipt, Secret, check_config, check_path

KEYS = {"transport", "endpoint_url", "bucket", "prefix", "region", "access_key", "secret_key", "timeout",
        "addressing_style"}
def _retry_after(headers: dict) -> float | None:
    try:
        return float(headers["retry-after"])
    except (KeyError, TypeError, ValueError):
        return None


def delivery_error(exc: Exception, where: str) -> DeliveryError:
    """What a failed S3 call means for the outbox: 4xx is final except 408/429; 5xx and the network retry."""
    if isinstance(exc, ClientError):
        meta = exc.response.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode") or 0
        code = exc.response.get("Error", {}).get("Code", "?")
        message = f"s3 {where}: HTTP {status} {code}"
        # 409 ConditionalRequestConflict: another conditional write to the key is in flight.
        if status >= 500 or status in (408, 429) or code == "ConditionalRequestConflict":
            return DeliveryError(message, code="deliver.s3_unavailable",
                                 retry_after=_retry_after(meta.get("HTTPHeaders", {})))
        return DeliveryError(message, code="deliver.s3_permanent", permanent=True)
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError, ParamValidationError)):
        return DeliveryError(f"s3 {where}: {exc}", code="deliver.s3_permanent", permanent=True)
    # connection refused, timeouts, dropped connections, and whatever else botocore met on the way
    return DeliveryError(f"s3 {where}: {type(exc).__name__}: {exc}", code="deliver.s3_unavailable")


class S3Transport(FileTransport):
    def __init__(self, bucket: str, *, endpoint_url: str | None = None, prefix: str = "", region: str = "us-east-1",
                 access_key: str | None = None, secret_key: str | None = None, timeout: float = 20.0,
                 addressing_style: str = "path"):
        if addressing_style not in ("path", "virtual", "auto"):
            raise ConfigError(f"s3: addressing_style must be path, virtual or auto, not {addressing_style!r}",
                              code="config.invalid")
        if bool(access_key) != bool(secret_key):
            raise ConfigError("s3: access_key and secret_key go together", code="config.invalid")
        self.bucket, self.endpoint_url, self.region = bucket, endpoint_url, region
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._access_key = Secret(access_key) if access_key else None
        self._secret_key = Secret(secret_key) if secret_key else None
        self._config = Config(
            region_name=region,
            retries={"total_max_attempts": 1},  # one try: the outbox does the retrying, with its own backoff
            connect_timeout=float(timeout), read_timeout=float(timeout),
            s3={"addressing_style": addressing_style},
            # Only send/check checksums when an operation demands them: botocore >= 1.36 adds CRC
            # checksums to every upload by default, which MinIO and Ceph RGW reject on some versions.
            request_checksum_calculation="when_required", response_checksum_validation="when_required")
        self._client = None

    @classmethod
    def from_config(cls, cfg: dict) -> S3Transport:
        check_config("s3", cfg, KEYS, ("bucket",))
        return cls(cfg["bucket"], endpoint_url=cfg.get("endpoint_url"), prefix=cfg.get("prefix", ""),
                   region=cfg.get("region", "us-east-1"), access_key=cfg.get("access_key"),
                   secret_key=cfg.get("secret_key"), timeout=cfg.get("timeout", 20),
                   addressing_style=cfg.get("addressing_style", "path"))

    def _s3(self):
        if self._client is None:
            credentials = {}
            if self._access_key is not None:
                credentials = {"aws_access_key_id": self._access_key.value(),
                               "aws_secret_access_key": self._secret_key.value()}
            self._client = boto3.session.Session().client("s3", endpoint_url=self.endpoint_url,
                                                           config=self._config, **credentials)
        return self._client

    def _put(self, key: str, file: File) -> tuple[str, bool]:
        """Store the file at key once; (ETag, already there)."""
        sha256 = hashlib.sha256(file.data).hexdigest()
        try:
            answer = self._s3().put_object(
                Bucket=self.bucket, Key=key, Body=file.data, IfNoneMatch="*", ContentType=file.content_type,
                Metadata={**file.metadata, "sha256": sha256})
            return answer.get("ETag", ""), False
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 412:
                raise
        head = self._s3().head_object(Bucket=self.bucket, Key=key)
        if head.get("Metadata", {}).get("sha256") != sha256:
            raise DeliveryError(f"s3 s3://{self.bucket}/{key}: holds other bytes than this delivery",
                                code="deliver.s3_conflict", permanent=True)
        return head.get("ETag", ""), True

    def put(self, files: Sequence[File], delivery: Delivery) -> Receipt:
        keys = [self.prefix + check_path(f.name) for f in files]
        where = f"s3://{self.bucket}/{keys[-1]}"
        try:
            for file, key in zip(files, keys, strict=True):
                etag, already = self._put(key, file)
        except (ClientError, BotoCoreError) as exc:
            raise delivery_error(exc, where) from exc
        return Receipt(where, f"already delivered (ETag {etag})" if already else f"stored (ETag {etag})")

    def fetch(self, name: str) -> bytes | None:
        try:
            return self._s3().get_object(Bucket=self.bucket, Key=self.prefix + check_path(name))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise delivery_error(exc, f"s3://{self.bucket}/{self.prefix}{name}") from exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
