"""HTTP(S) delivery with httpx: JSON (base64 photo) or multipart, bearer or mutual-TLS auth,
Standard Webhooks signatures (v1 HMAC-SHA256, v1a Ed25519), and the idempotency key on every
request. Status codes decide retrying: 2xx delivered; 408, 429 and 5xx (with Retry-After) and
network errors retry; any other 4xx is permanent (a dead letter at once).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from ...errors import ConfigError
from .base import Delivery, DeliveryError, Receipt, Request, RequestTransport, Secret, check_config, content_type_of

KEYS = {"transport", "url", "mode", "fields", "auth", "mtls", "webhook", "timeout", "headers"}
DEFAULT_FIELDS = {"photo_id": "photo_id", "credential": "credential", "image": "image_base64", "jws": "jws",
                  "sm2": "sm2"}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def webhook_signature(msg_id: str, timestamp: int, body: bytes, *, secret: str | None = None,
                      ed25519_pem: bytes | None = None) -> str:
    """Standard Webhooks' ``webhook-signature`` value: f"{id}.{timestamp}.{body}" signed with v1
    (HMAC-SHA256 under the ``whsec_``-prefixed base64 secret) and/or v1a (Ed25519, a PEM private
    key). Shared by deliveries and the library's agency notifications."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    parts = []
    if secret is not None:
        key = base64.b64decode(secret.removeprefix("whsec_") + "==")
        parts.append("v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode())
    if ed25519_pem is not None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
        private = serialization.load_pem_private_key(ed25519_pem, None)
        if not isinstance(private, ed25519.Ed25519PrivateKey):
            raise ConfigError(f"the webhook's ed25519_key is a {type(private).__name__}, not an Ed25519 key",
                              code="config.invalid")
        parts.append("v1a," + base64.b64encode(private.sign(signed)).decode())
    return " ".join(parts)


class HttpTransport(RequestTransport):
    def __init__(self, url: str, *, mode: str = "json", fields: dict | None = None, auth: dict | None = None,
                 mtls: dict | None = None, webhook: dict | None = None, timeout: float = 20.0,
                 headers: dict | None = None):
        if mode not in ("json", "multipart"):
            raise ConfigError(f"http.mode must be json or multipart, not {mode!r}", code="config.invalid")
        self.url, self.mode = url, mode
        self.fields = {**DEFAULT_FIELDS, **(fields or {})}
        self.auth = auth or {}
        self.webhook = webhook or {}
        self.headers = dict(headers or {})
        self._mtls = mtls
        self._timeout = timeout
        self._client: httpx.Client | None = None

    @classmethod
    def from_config(cls, cfg: dict) -> HttpTransport:
        check_config("http", cfg, KEYS, ("url",))
        return cls(cfg["url"], mode=cfg.get("mode", "json"), fields=cfg.get("fields"), auth=cfg.get("auth"),
                   mtls=cfg.get("mtls"), webhook=cfg.get("webhook"), timeout=float(cfg.get("timeout", 20)),
                   headers=cfg.get("headers"))

    def _http(self) -> httpx.Client:
        if self._client is None:
            options: dict[str, Any] = {"timeout": self._timeout}
            if self._mtls:  # paths to PEM files; the key file itself is the secret, never copied
                import ssl
                context = ssl.create_default_context(cafile=self._mtls.get("ca"))
                context.load_cert_chain(self._mtls["cert"], self._mtls["key"])
                options["verify"] = context
            self._client = httpx.Client(**options)
        return self._client

    def _request(self, delivery: Delivery) -> Request:
        """The transport's own body (without an adapter): JSON with the photo in base64, or multipart."""
        f = self.fields
        if self.mode == "json":
            doc = {f["photo_id"]: delivery.photo_id, f["credential"]: delivery.credential,
                   f["image"]: base64.b64encode(delivery.data).decode("ascii"), f["jws"]: delivery.jws}
            if delivery.sm2:
                doc[f["sm2"]] = delivery.sm2.decode("utf-8")
            return Request(json.dumps(doc).encode("utf-8"), "application/json")
        files = {"photo": (delivery.filename, delivery.data, content_type_of(delivery.filename))}
        data = {f["photo_id"]: delivery.photo_id, f["credential"]: delivery.credential, f["jws"]: delivery.jws}
        if delivery.sm2:
            data[f["sm2"]] = delivery.sm2.decode("utf-8")
        request = httpx.Request("POST", self.url, data=data, files=files)
        return Request(request.read(), request.headers["content-type"])

    def _signature(self, msg_id: str, timestamp: int, body: bytes) -> str:
        secret = Secret(self.webhook["secret"]).value() if "secret" in self.webhook else None
        pem = Secret(self.webhook["ed25519_key"]).value().encode() if "ed25519_key" in self.webhook else None
        return webhook_signature(msg_id, timestamp, body, secret=secret, ed25519_pem=pem)

    def send(self, delivery: Delivery) -> Receipt:
        return self.post(self._request(delivery), delivery)

    def post(self, request: Request, delivery: Delivery) -> Receipt:
        """POST ``request`` with this system's headers and auth, the idempotency key and, when
        configured, Standard Webhooks signatures over its body."""
        body = request.body
        headers = {**self.headers, **request.headers, "content-type": request.content_type,
                   "idempotency-key": delivery.id}
        if self.auth.get("type") == "bearer":
            headers["authorization"] = f"Bearer {Secret(self.auth['token']).value()}"
        if self.webhook:
            timestamp = int(time.time())
            headers.update({"webhook-id": delivery.id, "webhook-timestamp": str(timestamp),
                            "webhook-signature": self._signature(delivery.id, timestamp, body)})
        try:
            response = self._http().post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"timed out: {exc}", code="deliver.http_timeout") from exc
        except httpx.TransportError as exc:
            raise DeliveryError(f"cannot reach {self.url}: {exc}", code="deliver.http_unreachable") from exc
        status = response.status_code
        if 200 <= status < 300:
            try:
                answer = response.json()
                receipt = answer.get("receipt_id") or answer.get("id")
            except ValueError:
                receipt = None
            return Receipt(str(receipt) if receipt else None, f"HTTP {status}")
        detail = response.text[:300]
        if status in (408, 429) or status >= 500:
            raise DeliveryError(f"HTTP {status}: {detail}", code=f"deliver.http_{status}",
                                retry_after=_retry_after(response))
        raise DeliveryError(f"HTTP {status}: {detail}", code=f"deliver.http_{status}", permanent=True)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
