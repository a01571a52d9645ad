"""A reference agency receiver for photocore deliveries: the starting point of an agency's side.

It accepts a signed photo over HTTP and keeps it only when photocore's manifest proves it came,
unchanged, from a station under the agency's trusted root. What the sender's HTTP transport
relies on is all here: 2xx means "stored, do not send again"; 401/400/409/422 are permanent
(retrying cannot help); 429/5xx are worth retrying (with ``Retry-After``). The outbox delivers at
least once, so the ``Idempotency-Key`` (the outbox row id) makes the *effect* exactly once: a
repeat gets the first answer's receipt and nothing is stored again.

Standard library HTTP server (``ThreadingHTTPServer``) so it runs anywhere; put it behind a
TLS-terminating proxy in production. ``standardwebhooks`` is needed only for v1 (HMAC)
signatures, ``cryptography`` (a photocore dependency) does v1a (Ed25519).

    python -m examples.agency_receiver.receiver --port 8080 --trust root.pem --store DIR \\
        [--webhook-secret-env NAME] [--webhook-ed25519-public FILE] [--bearer-token-env NAME] \\
        [--revoked FILE] [--host 127.0.0.1] [--fail-every N] [--status-sequence 503,429] [--delay S]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import email
import email.message
import email.utils
import hashlib
import hmac
import json
import os
import re
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from photocore.sign import verify
from photocore.sign.verify import load_trust, revoked_beside

TOLERANCE = 300  # seconds a webhook-timestamp may be off: the Standard Webhooks default (replay window)
MAX_BODY = 32 * 1024 * 1024  # a credential photo is tens of KB; refuse to buffer anything absurd
PHOTO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")  # photo ids become file names: no paths
EXTENSIONS = {"jpeg": "jpg", "jpg": "jpg", "png": "png", "bmp": "bmp", "jp2": "jp2"}
SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    idempotency_key TEXT NOT NULL UNIQUE,
    photo_id TEXT NOT NULL,
    credential TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    receipt_id TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_photo ON deliveries (photo_id);
"""


class Reject(Exception):
    """An answer other than success: the status tells the sender whether to retry."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


@dataclass
class Config:
    trust: str | Path  # the issuing root certificate (PEM or DER): the only trust anchor
    store: str | Path  # photos/ and receiver.db go here
    host: str = "127.0.0.1"
    port: int = 8080  # 0: any free port (see server.server_address)
    webhook_secret: str | None = None  # "whsec_<base64>": verify v1 (HMAC-SHA256) signatures
    webhook_public_key: str | Path | None = None  # file: Ed25519 PEM or "whpk_<base64>": verify v1a
    bearer_token: str | None = None
    # revoked.json ({"revoked": [kid, ...]}), re-read on each request; by default the one beside ``trust``
    revoked: str | Path | None = None
    fail_every: int = 0  # fault injection: 500 on every Nth POST /photos
    status_sequence: list[int] = field(default_factory=list)  # fault injection: first answers
    delay: float = 0.0  # fault injection: seconds to wait before answering a POST /photos
    quiet: bool = False  # no access log on stderr


@dataclass(frozen=True)
class Upload:
    photo_id: str
    credential: str
    photo: bytes
    jws: str
    sm2: str | None


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def load_webhook_public_key(path) -> ed25519.Ed25519PublicKey:
    """An Ed25519 public key from a PEM file or a Standard Webhooks "whpk_<base64>" file."""
    data = Path(path).read_bytes().strip()
    if data.startswith(b"whpk_"):
        return ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(data[5:]))
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def parse_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """{field name: raw bytes} of a multipart/form-data body, split by hand so bytes stay exact."""
    header = email.message.Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not boundary:
        raise Reject(400, "request.malformed_multipart", "multipart/form-data without a boundary")
    fields = {}
    for part in (b"\r\n" + body).split(b"\r\n--" + str(boundary).encode("latin-1"))[1:]:
        if part.startswith(b"--"):  # the closing delimiter
            return fields
        head, sep, content = part.partition(b"\r\n\r\n")
        name = email.message_from_bytes(head.strip() + b"\r\n\r\n").get_param("name", header="content-disposition")
        if not sep or not name:
            raise Reject(400, "request.malformed_multipart", "a part without a Content-Disposition name")
        fields[email.utils.collapse_rfc2231_value(name)] = content
    raise Reject(400, "request.malformed_multipart", "the multipart body has no closing boundary")


def parse_upload(content_type: str, body: bytes) -> Upload:
    """The delivery in a JSON body (photo in base64) or a multipart one (photo as a file part)."""
    media = content_type.split(";")[0].strip().lower()
    if media == "multipart/form-data":
        parts = parse_multipart(content_type, body)
        try:
            doc = {k: v.decode("utf-8") for k, v in parts.items() if k != "photo"}
        except UnicodeDecodeError:
            raise Reject(400, "request.malformed_multipart", "a text part is not UTF-8") from None
        photo = parts.get("photo")
    elif media in ("application/json", ""):
        try:
            doc = json.loads(body)
        except ValueError:
            raise Reject(400, "request.malformed_json", "the body is not JSON") from None
        if not isinstance(doc, dict):
            raise Reject(400, "request.malformed_json", "the body must be a JSON object")
        photo = doc.get("image_base64")
        if isinstance(photo, str):
            try:
                photo = _b64(photo)
            except (binascii.Error, ValueError):
                raise Reject(400, "request.bad_base64", "image_base64 is not valid base64") from None
    else:
        raise Reject(415, "request.unsupported_media_type", "send application/json or multipart/form-data")
    missing = [k for k in ("photo_id", "credential", "jws") if not isinstance(doc.get(k), str) or not doc[k]]
    if not isinstance(photo, bytes) or not photo:
        missing.append("photo" if media == "multipart/form-data" else "image_base64")
    if missing:
        raise Reject(400, "request.missing_field", f"missing or empty: {', '.join(missing)}")
    if not PHOTO_ID.match(doc["photo_id"]):
        raise Reject(400, "request.bad_photo_id", "photo_id must be 1-128 letters, digits, '.', '_' or '-'")
    sm2 = doc.get("sm2")
    if sm2 is not None and not isinstance(sm2, str):
        raise Reject(400, "request.missing_field", "sm2, when given, is the sidecar's JSON text")
    return Upload(doc["photo_id"], doc["credential"], photo, doc["jws"], sm2)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write under a temporary name, fsync, rename: a crash leaves the old file or the new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Receiver:
    """The receiver's logic, apart from HTTP: checks, dedupe, verification, storage, fault injection.

    ``fail_every``, ``status_sequence`` and ``delay`` are plain attributes, so a test or a drill
    may change them while the server runs.
    """

    def __init__(self, config: Config):
        self.config = config
        self.root = load_trust(config.trust)
        self.photos = Path(config.store) / "photos"
        self.photos.mkdir(parents=True, exist_ok=True)
        self.db_path = Path(config.store) / "receiver.db"
        self.fail_every, self.delay = config.fail_every, config.delay
        self.status_sequence = list(config.status_sequence)
        self.requests = 0
        self._lock = threading.Lock()
        self._threads = threading.local()
        self._webhook = self._hmac_key = self._ed25519 = None
        if config.webhook_secret:
            from standardwebhooks.webhooks import Webhook  # only v1 needs the package
            self._webhook = Webhook(config.webhook_secret)
            self._hmac_key = base64.b64decode(config.webhook_secret.removeprefix("whsec_") + "==")  # as Webhook does
        if config.webhook_public_key:
            self._ed25519 = load_webhook_public_key(config.webhook_public_key)
        with closing(sqlite3.connect(self.db_path, timeout=30, isolation_level=None)) as db:
            db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer; persists in the file
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        """This thread's connection (the server runs a thread per client connection, and a sender's
        keep-alive connection makes many requests: opening SQLite each time cost ~1 ms of ~6).
        Transactions are explicit."""
        db = getattr(self._threads, "db", None)
        if db is None:
            db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
            db.execute("PRAGMA synchronous=FULL")  # a receipt we have answered must survive a power cut
            self._threads.db = db
        return db

    def count(self) -> int:
        return self._connect().execute("SELECT COUNT(DISTINCT photo_id) FROM deliveries").fetchone()[0]

    def _lookup(self, db, key: str):
        return db.execute("SELECT receipt_id, photo_id FROM deliveries WHERE idempotency_key = ?", (key,)).fetchone()

    def post_photos(self, headers, body: bytes) -> tuple[int, dict, dict]:
        """(status, JSON answer, extra headers) for POST /photos; raises Reject for any refusal.
        ``headers``: any mapping with a case-insensitive ``get`` (http.server's, or a framework's)."""
        self._inject_faults()
        self._check_bearer(headers.get("Authorization"))
        self._check_webhook(headers, body)
        key = headers.get("Idempotency-Key")
        if not key or len(key) > 255:
            raise Reject(400, "request.idempotency_key_missing", "send Idempotency-Key (the outbox row id)")
        if (self._webhook or self._ed25519) and headers.get("webhook-id") != key:
            # the signature covers webhook-id, not Idempotency-Key: bind them, or a captured request
            # could be replayed under a fresh key and stored twice
            raise Reject(400, "request.idempotency_key_mismatch", "Idempotency-Key must equal webhook-id")
        seen = self._lookup(self._connect(), key)
        if seen:  # a retry: same receipt, nothing re-verified or re-stored
            return 200, {"receipt_id": seen[0], "photo_id": seen[1], "duplicate": True}, {}
        upload = parse_upload(headers.get("Content-Type", ""), body)
        result = verify(upload.photo, upload.jws, self.root, self._revoked())
        if not result.valid:
            raise Reject(422, result.code, result.message)
        if (result.manifest.get("photo_id"), result.manifest.get("credential")) != (upload.photo_id, upload.credential):
            raise Reject(422, "receiver.manifest_mismatch", "photo_id and credential must be the signed manifest's")
        return self._store(key, upload, result.manifest)

    def _inject_faults(self) -> None:
        with self._lock:
            self.requests += 1
            n = self.requests
            status = self.status_sequence.pop(0) if self.status_sequence else None
        if status is None and self.fail_every and n % self.fail_every == 0:
            status = 500
        if status is not None:
            raise Reject(status, "fault.injected", f"injected status {status} (request {n})",
                         {"Retry-After": "1"} if status in (429, 503) else {})

    def _check_bearer(self, authorization: str | None) -> None:
        expected = self.config.bearer_token
        if expected and not hmac.compare_digest((authorization or "").encode(), f"Bearer {expected}".encode()):
            raise Reject(401, "auth.bearer", "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})

    def _check_webhook(self, headers, body: bytes) -> None:
        """Standard Webhooks: any entry of webhook-signature that verifies with a configured key passes
        (the header may carry several, e.g. v1 and v1a during a key change)."""
        if not (self._webhook or self._ed25519):
            return
        msg_id, stamp, signature = (headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
        if not (msg_id and stamp and signature):
            raise Reject(401, "webhook.missing_headers", "webhook-id, webhook-timestamp and webhook-signature needed")
        if not re.fullmatch(r"[0-9]{1,12}", stamp) or abs(time.time() - int(stamp)) > TOLERANCE:
            raise Reject(401, "webhook.stale_timestamp", f"webhook-timestamp must be unix seconds within {TOLERANCE}s")
        signed = f"{msg_id}.{stamp}.".encode() + body
        for token in signature.split():
            version, _, value = token.partition(",")
            if version == "v1" and self._webhook and self._verify_v1(msg_id, stamp, token, value, body, signed):
                return
            if version == "v1a" and self._ed25519:
                try:
                    self._ed25519.verify(_b64(value), signed)
                    return
                except (InvalidSignature, binascii.Error, ValueError):
                    pass
        raise Reject(401, "webhook.bad_signature", "no webhook-signature entry verifies with the configured key")

    def _verify_v1(self, msg_id, stamp, token, value, body, signed) -> bool:
        from standardwebhooks.webhooks import WebhookVerificationError
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            # a multipart body holds raw JPEG bytes; standardwebhooks 1.1.0 only takes text, so the
            # same HMAC (f"{id}.{timestamp}." + body) is computed here over the bytes
            try:
                return hmac.compare_digest(hmac.new(self._hmac_key, signed, hashlib.sha256).digest(), _b64(value))
            except (binascii.Error, ValueError):
                return False
        try:
            self._webhook.verify(text, {"webhook-id": msg_id, "webhook-timestamp": stamp, "webhook-signature": token},
                                 json_parse=False)
            return True
        except (WebhookVerificationError, binascii.Error, ValueError):
            return False

    def _revoked(self) -> set[str] | None:
        """The revoked kids, or None when no revocation list is known (neither named nor beside the
        trust anchor). Unreadable: an error, so 500 and retried, never "nothing revoked"."""
        if not self.config.revoked:
            return revoked_beside(self.config.trust)
        data = json.loads(Path(self.config.revoked).read_text(encoding="utf-8"))  # unreadable: 500, retried
        return set(data["revoked"] if isinstance(data, dict) else data)

    def _store(self, key: str, upload: Upload, manifest: dict) -> tuple[int, dict, dict]:
        """Files then the row, in one write transaction: BEGIN IMMEDIATE serialises writers (threads
        and processes), so concurrent duplicates see the first one's row; the UNIQUE key is the
        backstop. A crash before COMMIT leaves only files that the redelivery rewrites identically."""
        sha = hashlib.sha256(upload.photo).hexdigest()
        ext = EXTENSIONS.get(str(manifest.get("image", {}).get("format", "")).lower(), "img")
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            seen = self._lookup(db, key)
            if seen:
                db.execute("ROLLBACK")
                return 200, {"receipt_id": seen[0], "photo_id": seen[1], "duplicate": True}, {}
            same = db.execute("SELECT receipt_id, sha256 FROM deliveries WHERE photo_id = ?",
                              (upload.photo_id,)).fetchone()
            if same and same[1] != sha:
                raise Reject(409, "receiver.photo_id_conflict", "another photo is stored under this photo_id")
            receipt = same[0] if same else str(uuid.uuid4())
            if not same:  # the same photo under a new key (re-enqueued): keep its receipt, files as they are
                _write_atomic(self.photos / f"{upload.photo_id}.jws", upload.jws.encode("utf-8"))
                if upload.sm2:
                    _write_atomic(self.photos / f"{upload.photo_id}.sm2.json", upload.sm2.encode("utf-8"))
                _write_atomic(self.photos / f"{upload.photo_id}.{ext}", upload.photo)
            db.execute("INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?)",
                       (key, upload.photo_id, upload.credential, sha, receipt,
                        dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
            db.execute("COMMIT")
        except sqlite3.IntegrityError:
            db.execute("ROLLBACK")
            seen = self._lookup(db, key)
            return 200, {"receipt_id": seen[0], "photo_id": seen[1], "duplicate": True}, {}
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return (200 if same else 201), {"receipt_id": receipt, "photo_id": upload.photo_id,
                                        **({"duplicate": True} if same else {})}, {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for the sender's connection pool
    disable_nagle_algorithm = True  # headers and body go out as separate writes: without this,
    # Nagle's algorithm and the client's delayed ACK stall every answer by ~40 ms
    server_version = "photocore-agency-receiver/1"

    def _send(self, status: int, doc: dict, headers: dict | None = None) -> None:
        data = json.dumps(doc).encode("utf-8")
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)),
                            **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the sender gave up (timed out); it will retry
            pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/health":
            self._send(200, {"status": "ok"})
        elif path == "/photos/count":
            self._send(200, {"count": self.server.receiver.count()})
        else:
            self._send(404, {"error": "not_found", "message": f"no {path}"})

    def do_POST(self) -> None:
        receiver = self.server.receiver
        try:
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self.close_connection = True
                raise Reject(411, "request.length_required", "send Content-Length (chunked bodies are not read)")
            if int(length) > MAX_BODY:
                self.close_connection = True
                raise Reject(413, "request.too_large", f"bodies are limited to {MAX_BODY} bytes")
            body = self.rfile.read(int(length))  # read before any check, so keep-alive stays in step
            if urlsplit(self.path).path != "/photos":
                raise Reject(404, "not_found", f"no {self.path}")
            status, doc, headers = receiver.post_photos(self.headers, body)
        except Reject as reject:
            status, doc, headers = reject.status, {"error": reject.code, "message": reject.message}, reject.headers
        except Exception as exc:  # noqa: BLE001 - a bug or a broken store: 500, which the sender retries
            self.log_error("internal error: %r", exc)
            status, doc, headers = 500, {"error": "receiver.internal", "message": type(exc).__name__}, {}
        if receiver.delay:
            time.sleep(receiver.delay)  # after the work: the case where a sender times out and must retry
        self._send(status, doc, headers)

    def log_message(self, format, *args) -> None:
        if not self.server.receiver.config.quiet:
            super().log_message(format, *args)


class ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # bursts of concurrent retries should not be refused at connect

    def __init__(self, receiver: Receiver):
        self.receiver = receiver
        super().__init__((receiver.config.host, receiver.config.port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def make_server(config: Config) -> ReceiverServer:
    """A bound, not yet serving, server; ``server.receiver`` is its Receiver. Call serve_forever()."""
    return ReceiverServer(Receiver(config))


def _env(name: str | None) -> str | None:
    if name is None:
        return None
    if not os.environ.get(name):
        sys.exit(f"environment variable {name} is not set")
    return os.environ[name]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.agency_receiver.receiver",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--trust", required=True, help="the issuing root certificate (root.pem)")
    parser.add_argument("--store", required=True, help="directory for photos/ and receiver.db")
    parser.add_argument("--webhook-secret-env", metavar="NAME", help="env var holding the whsec_... secret (v1)")
    parser.add_argument("--webhook-ed25519-public", metavar="FILE", help="Ed25519 public key, PEM or whpk_ (v1a)")
    parser.add_argument("--bearer-token-env", metavar="NAME", help="env var holding the bearer token")
    parser.add_argument("--revoked", metavar="FILE",
                        help="revoked.json from the key store (default: the one beside --trust, if any)")
    parser.add_argument("--fail-every", type=int, default=0, metavar="N", help="fault: 500 on every Nth POST")
    parser.add_argument("--status-sequence", default="", metavar="S,S,...", help="fault: answer these first")
    parser.add_argument("--delay", type=float, default=0.0, metavar="SECONDS", help="fault: answer late")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)
    config = Config(trust=args.trust, store=args.store, host=args.host, port=args.port,
                    webhook_secret=_env(args.webhook_secret_env), webhook_public_key=args.webhook_ed25519_public,
                    bearer_token=_env(args.bearer_token_env), revoked=args.revoked, fail_every=args.fail_every,
                    status_sequence=[int(s) for s in args.status_sequence.split(",") if s.strip()],
                    delay=args.delay, quiet=args.quiet)
    server = make_server(config)
    if not (config.webhook_secret or config.webhook_public_key or config.bearer_token):
        print("warning: no webhook signature or bearer token configured: anyone may POST", file=sys.stderr)
    print(f"listening on {server.url}", flush=True)  # with --port 0, how a test finds the port
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
