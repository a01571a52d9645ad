"""The shared photo library's operations, independent of HTTP: publish, consent, pull, the
citizen's view, deletion and retention. The web layer (``app``) only maps requests onto these.

Consent is the unit of sharing: an agency reads a photo only through a grant, made when the
citizen approves that agency's request for one credential the agency issues, and only while the
grant, the capture and that credential's reuse window all last. Every ingest, view, download,
request, approval, pull, revocation and deletion appends a row to the audit chain in the same
transaction as the change it records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..catalogue import Catalogue, load_catalogue
from ..sign.manifest import unverified_manifest
from ..sign.verify import VerifyInputError, load_trust, revoked_beside, verify_compact, verify_many
from . import audit as audit_log
from .config import LibraryConfig
from .crypto import KeyWrapper, LocalKeyWrapper, ServiceKeys, last_six, new_pickup_code, seal, unseal
from .db import (
    captures,
    database_url,
    erase_freed,
    grants,
    open_database,
    photos,
    pickup_codes,
    reading,
    requests,
    throttle,
    writing,
)
from .errors import LibraryError, not_found
from .store import open_store

DAY = 86400.0
PICKUP_DAYS = 90  # a receipt's pickup code opens "我的照片" for this long
REQUEST_DAYS = 7  # an agency's reuse request waits this long for the citizen
GRANT_DAYS = 30  # an approval lets the agency pull for this long (never past the reuse window)
BINDING_MAX_AGE = 600  # seconds: a publish's person binding must be this fresh
MAX_FAILURES_PER_CODE = 5
MAX_FAILURES_PER_CLIENT = 20
FAILURE_WINDOW = 900.0
PUBLISH_TYPE = "photocore-publish+jwt"


@dataclass(frozen=True)
class Published:
    capture_id: str
    pickup_code: str
    photos: int
    new: bool

    def to_dict(self) -> dict:
        return {"capture_id": self.capture_id, "pickup_code": self.pickup_code, "photos": self.photos,
                "new": self.new}


@dataclass(frozen=True)
class Photo:
    data: bytes
    jws: str
    filename: str
    credential: str
    photo_id: str


def person_binding(compact_jws: str, id_number: str) -> str:
    """What a publish's binding token commits to: this signing, for this person (without
    revealing the ID number to anyone who sees the token)."""
    from .crypto import normalise_id_number
    digest = hashlib.sha256(compact_jws.encode("ascii")).hexdigest()
    return hashlib.sha256(f"{digest}:{normalise_id_number(id_number)}".encode()).hexdigest()


def _pair_photos_with_signatures(files: dict[str, bytes]) -> list[tuple[str, bytes, str]]:
    """(credential photo name, photo bytes, token) for every signature in an upload. A signature
    whose photo is missing (or was altered, so its hash matches nothing) is refused, and so is a
    photo that no signature covers."""
    photos_by_hash = {hashlib.sha256(data).hexdigest(): (name, data) for name, data in files.items()
                      if not name.endswith((".jws", ".json", ".html"))}
    pairs, covered = [], set()
    for name, raw in files.items():
        if not name.endswith(".jws"):
            continue
        try:
            token = raw.decode("ascii").strip()
            claimed = unverified_manifest(token)["image"]["sha256"]
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise LibraryError(f"{name} is not a photocore signature", code="library.invalid_signature") from exc
        if claimed not in photos_by_hash:
            raise LibraryError(f"{name[:-4]}: the photo it signs is not in the upload, or was altered",
                               code="library.invalid_signature")
        covered.add(claimed)
        pairs.append((name[:-4], photos_by_hash[claimed][1], token))
    for digest, (name, _) in photos_by_hash.items():
        if digest not in covered:
            raise LibraryError(f"{name} has no signature {name}.jws", code="library.unsigned")
    if not pairs:
        raise LibraryError("no signed photo in the upload", code="library.unsigned")
    return pairs


def object_folder(capture_id: str, data_key: bytes) -> str:
    """Where a capture's objects go: one folder per data key, so that two publishes of the same
    new capture at once (a station's retry) never overwrite each other's ciphertext; the rows
    that commit name their own folder, the other's objects go when the capture is purged."""
    tag = hmac.new(data_key, b"photocore-object-folder", hashlib.sha256).hexdigest()[:16]
    return f"captures/{capture_id}/{tag}"


def capture_id_of(compact_jws: str) -> str:
    """A capture's id: derived from the station's one signature over its photos, so publishing
    the same conversion again names the same capture (idempotent)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "photocore:capture:" + hashlib.sha256(compact_jws.encode()).hexdigest()))


class Library:
    """One process's handle on the shared library: stateless apart from its connections."""

    def __init__(self, config: LibraryConfig, catalogue=None, wrapper: KeyWrapper | None = None):
        """``wrapper``: a KMS or HSM client that wraps data keys (see ``crypto.KeyWrapper``);
        by default the key-encryption key from the configuration, or derived from the secret."""
        self.config = config
        self.keys = ServiceKeys.derive(config.service_secret())
        self.wrapper = wrapper or LocalKeyWrapper(config.key_encryption_key() or self.keys.kek)
        self._catalogue = catalogue  # None: the configured catalogue, read again when its files change
        self.engine = open_database(database_url(config.database, config.data_dir))
        audit_log.ensure_head(self.engine)
        self.recorder = audit_log.Recorder(self.engine, self.keys.checkpoint)
        self._local = threading.local()
        self.store = open_store(config.store, config.data_dir)
        self.roots: list[x509.Certificate] = [load_trust(p) for p in config.trust]

    @property
    def catalogue(self) -> Catalogue:
        """The catalogue given at start, or the built-in one with $PHOTOCORE_CATALOGUE's overlay as
        its files are now: an edited overlay takes effect without a restart."""
        return self._catalogue or load_catalogue()

    # -- helpers -------------------------------------------------------------------------
    def revoked(self) -> set[str]:
        """Revoked station keys, read at each use so a revocation takes effect at once: the
        ``--revoked`` lists, and the ``revoked.json`` beside each trusted root (read by default)."""
        gone: set[str] = set()
        for root in self.config.trust:
            try:
                gone |= revoked_beside(root) or set()
            except VerifyInputError as exc:
                raise LibraryError(exc.message, code="library.config") from exc
        for path in self.config.revoked:
            try:
                gone |= set(json.loads(Path(path).read_text(encoding="utf-8"))["revoked"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise LibraryError(f"cannot read the revocation list {path}: {exc}", code="library.config") from exc
        return gone

    def _append(self, conn, **row) -> None:
        audit_log.append(conn, self.keys.checkpoint, **row)

    def _tx(self):
        return writing(self.engine)

    def _lookup(self, statement, params: dict):
        """One row of a hot read, on a connection this thread keeps (no pool round trip per
        request); the read's transaction is ended at once, so no snapshot is held between requests."""
        conn = getattr(self._local, "reader", None)
        if conn is None or conn.closed:
            conn = self._local.reader = reading(self.engine)
        try:
            return conn.execute(statement, params).first()
        except SQLAlchemyError:
            conn.invalidate()  # a broken connection is not kept
            self._local.reader = None
            raise
        finally:
            if not conn.invalidated:
                conn.rollback()

    def _data_key(self, capture_row) -> bytes:
        if capture_row.wrapped_key is None:
            raise not_found()
        return self.wrapper.unwrap(bytes(capture_row.wrapped_key), capture_row.id.encode())

    def reuse_days(self, credential: str, catalogue: Catalogue | None = None) -> int:
        profile = (catalogue or self.catalogue).get(credential)
        days = getattr(profile, "reuse_window_days", None) or profile.max_age_days
        return int(days or self.config.reuse_default_days)

    # -- publishing (a station) ------------------------------------------------------------
    def _verify_photos(self, pairs: list[tuple[bytes, str]]) -> list[dict]:
        """Each photo's manifest, once its station signature (checked once per capture), chain,
        revocation and hash verify against one of the trusted roots."""
        if not self.roots:
            raise LibraryError("this library trusts no issuing root (serve --trust ROOT.pem)", code="library.config")
        gone = self.revoked()
        results = []
        for root in self.roots:
            results = verify_many(pairs, root, gone)
            if all(r.valid for r in results) or any(r.code not in (None, "verify.untrusted_chain") for r in results):
                break
        for r in results:
            if not r.valid:
                raise LibraryError(f"{r.code}: {r.message}", code="library.invalid_signature")
        return [r.manifest for r in results]

    def _verify_binding(self, binding: str, compact: str, id_number: str, kid: str) -> None:
        gone = self.revoked()
        result = None
        for root in self.roots:
            result = verify_compact(binding, root, gone)
            if result.valid or result.code != "verify.untrusted_chain":
                break
        if result is None or not result.valid:
            raise LibraryError(f"the publish binding is refused: {result.code if result else 'no trust root'}: "
                               f"{result.message if result else ''}", code="library.invalid_signature")
        body = result.manifest
        if body.get("typ") != PUBLISH_TYPE or body.get("binding") != person_binding(compact, id_number):
            raise LibraryError("the publish binding is for another capture or another person",
                               code="library.invalid_signature")
        if not isinstance(body.get("iat"), (int, float)) or abs(time.time() - body["iat"]) > BINDING_MAX_AGE:
            raise LibraryError("the publish binding is stale (signed more than 10 minutes ago)",
                               code="library.invalid_signature")

    def publish(self, id_number: str, files: dict[str, bytes], binding: str | None,
                master: bytes | None = None) -> Published:
        """Verify and store one signed conversion for a person. ``files``: ``<photo name>.jws`` ->
        token for every credential, as `convert --sign` wrote them, and the photos they sign (each
        distinct file once is enough: they are matched by hash); ``binding``: the station's
        signature tying this signing to this person. Nothing is stored unless everything verifies."""
        person_key = self.keys.person_key(id_number)
        pairs = _pair_photos_with_signatures(files)
        if not pairs:
            raise LibraryError("no signed photo in the upload", code="library.unsigned")
        manifests = self._verify_photos([(data, token) for _, data, token in pairs])
        verified = [(name, data, token, manifest)
                    for (name, data, token), manifest in zip(pairs, manifests, strict=True)]
        compacts = {token.split("~", 1)[0] for _, _, token in pairs}
        if len(compacts) != 1:
            raise LibraryError("the photos come from more than one signing: publish one capture at a time",
                               code="library.malformed")
        compact = compacts.pop()
        common = verified[0][3]
        if binding is None:
            raise LibraryError("the upload carries no station binding (publish signs one with the station key)",
                               code="library.unsigned")
        self._verify_binding(binding, compact, id_number, common["signer"]["kid"])
        catalogue = self.catalogue  # once: each look checks the catalogue's files
        for *_, manifest in verified:
            if manifest["credential"] not in catalogue.credentials:
                raise LibraryError(f"unknown credential {manifest['credential']}", code="library.unknown_credential")
        capture_id = capture_id_of(compact)
        captured = _timestamp(common.get("capture", {}).get("captured_at") or common["issued_at"])
        code = new_pickup_code()
        with self._tx() as conn:
            row = conn.execute(select(captures).where(captures.c.id == capture_id)).first()
            if row is not None and row.person_key != person_key:
                raise LibraryError("this capture was published for another person", code="library.conflict")
            if row is not None and row.wrapped_key is None:
                raise LibraryError("this capture was deleted by its owner and cannot be published again",
                                   code="library.conflict")
        new = row is None
        data_key = os.urandom(32) if new else self._data_key(row)
        known_rows = [] if new else self._photo_rows(capture_id)
        known = {r.id for r in known_rows}
        folder = known_rows[0].object.rsplit("/", 1)[0] if known_rows else object_folder(capture_id, data_key)
        # objects first (ciphertext under a key not yet committed anywhere); the rows last, in one
        # transaction: a publish cut short leaves at most unreadable orphans that purge sweeps
        # Credentials that share a photo share its object (184 credentials need about 15 files),
        # and all photos share the station's one compact JWS, sealed into the capture's row; each
        # photo's own part of its signature (the disclosure, a few hundred bytes) into its row.
        rows, written = [], set()
        for name, data, token, manifest in verified:
            photo_id = manifest["photo_id"]
            if photo_id in known:
                continue
            ext = name.rsplit(".", 1)[-1].lower()
            obj = f"{folder}/{manifest['image']['sha256']}.{ext}"
            if obj not in written:
                self.store.put(obj, seal(data_key, obj, data))
                written.add(obj)
            profile = catalogue.get(manifest["credential"])
            rows.append({"id": photo_id, "capture_id": capture_id, "credential": manifest["credential"],
                         "agency": profile.agency, "object": obj, "extension": ext,
                         "disclosure": seal(data_key, f"{capture_id}/{photo_id}", token.split("~")[1].encode()),
                         "sha256": manifest["image"]["sha256"], "bytes": len(data),
                         "valid_until": captured + self.reuse_days(manifest["credential"], catalogue) * DAY})
        if master is not None and new:
            obj = f"{folder}/master"
            self.store.put(obj, seal(data_key, obj, master))
        verdicts = {m["credential"]: m["verdicts"] for *_, m in verified}
        try:
            with self._tx() as conn:
                if new:
                    conn.execute(insert(captures).values(
                        id=capture_id, person_key=person_key, station=common["capture"].get("station_id", "?"),
                        operator=common["capture"].get("operator_id"), device=common["capture"].get("device"),
                        captured_at=captured, published_at=time.time(),
                        catalogue_version=common["catalogue"]["version"], signer_kid=common["signer"]["kid"],
                        verdicts=json.dumps(verdicts, sort_keys=True), has_master=int(master is not None),
                        wrapped_key=self.wrapper.wrap(data_key, capture_id.encode()), kek_id=self.wrapper.key_id,
                        signature=seal(data_key, f"{capture_id}/signature", compact.encode("ascii")),
                        keep_until=max([r["valid_until"] for r in rows] or [captured])))
                elif rows:
                    keep = max(r["valid_until"] for r in rows)
                    conn.execute(update(captures).where(captures.c.id == capture_id)
                                 .values(keep_until=_greatest(captures.c.keep_until, keep)))
                if rows:
                    conn.execute(insert(photos), rows)
                conn.execute(delete(pickup_codes).where(pickup_codes.c.capture_id == capture_id))
                conn.execute(insert(pickup_codes).values(
                    code_hash=self.keys.pickup_hash(code), proof=self.keys.pickup_proof(code, last_six(id_number)),
                    person_key=person_key, capture_id=capture_id, expires_at=time.time() + PICKUP_DAYS * DAY,
                    failures=0))
                self._append(conn, action="ingest", actor=f"station:{common['capture'].get('station_id', '?')}",
                             person_key=person_key, capture_id=capture_id, reference=f"{len(rows)} photos")
        except IntegrityError as exc:  # two publishes of the same capture at once: the other one won
            raise LibraryError("this capture is being published by another request; try again",
                               code="library.conflict") from exc
        return Published(capture_id, code, len(verified), new)

    def _photo_rows(self, capture_id: str):
        with reading(self.engine) as conn:
            return conn.execute(select(photos).where(photos.c.capture_id == capture_id)).fetchall()

    # -- the citizen ---------------------------------------------------------------------
    def login_with_code(self, code: str, last_six_digits: str, client: str) -> str:
        """The person key a receipt's pickup code opens, checked with the ID number's last six
        digits. Failures are counted per client address and per code; both lock out."""
        code_hash = self.keys.pickup_hash(code)
        now = time.time()
        self._check_throttle(f"client:{client}", MAX_FAILURES_PER_CLIENT, now)
        with self._tx() as conn:
            row = conn.execute(select(pickup_codes).where(pickup_codes.c.code_hash == code_hash)).first()
            ok = (row is not None and row.expires_at > now and row.failures < MAX_FAILURES_PER_CODE
                  and _equal(row.proof, self.keys.pickup_proof(code, last_six_digits)))
            if ok:
                self._append(conn, action="login", actor="citizen", person_key=row.person_key,
                             capture_id=row.capture_id, reference="pickup code")
                return row.person_key
            if row is not None:
                conn.execute(update(pickup_codes).where(pickup_codes.c.code_hash == code_hash)
                             .values(failures=pickup_codes.c.failures + 1))
        self._fail_throttle(f"client:{client}", now)
        if row is not None and row.failures + 1 >= MAX_FAILURES_PER_CODE:
            raise LibraryError("this pickup code is locked after repeated failures; ask the counter for a new one",
                               code="library.locked")
        raise LibraryError("the pickup code or the ID number's last six digits are wrong", code="library.unauthorized")

    def _check_throttle(self, key: str, limit: int, now: float) -> None:
        with reading(self.engine) as conn:
            row = conn.execute(select(throttle).where(throttle.c.key == key)).first()
        if row is not None and now - row.window_start < FAILURE_WINDOW and row.failures >= limit:
            raise LibraryError("too many failed attempts from this address; try again later",
                               code="library.rate_limited")

    def _fail_throttle(self, key: str, now: float) -> None:
        for attempt in range(2):
            try:
                with self._tx() as conn:
                    row = conn.execute(select(throttle).where(throttle.c.key == key)).first()
                    if row is None:
                        conn.execute(insert(throttle).values(key=key, window_start=now, failures=1))
                    elif now - row.window_start >= FAILURE_WINDOW:
                        conn.execute(update(throttle).where(throttle.c.key == key)
                                     .values(window_start=now, failures=1))
                    else:
                        conn.execute(update(throttle).where(throttle.c.key == key)
                                     .values(failures=throttle.c.failures + 1))
                return
            except IntegrityError:  # another process inserted this key's first failure at the same moment
                if attempt:
                    raise

    def login_with_id_number(self, id_number: str, via: str = "OpenID Connect") -> str:
        """The person key for a citizen the provincial single sign-on vouched for (the ID number
        claim of a verified ID token); the login is audited like a pickup-code login."""
        person_key = self.keys.person_key(id_number)
        with self._tx() as conn:
            self._append(conn, action="login", actor="citizen", person_key=person_key, reference=via)
        return person_key

    def overview(self, person_key: str) -> dict:
        """Everything "我的照片" shows: captures with their photos and windows, requests,
        grants and the person's own audit rows."""
        now = time.time()
        with reading(self.engine) as conn:
            caps = conn.execute(select(captures).where(captures.c.person_key == person_key,
                                                       captures.c.deleted_at.is_(None))
                                .order_by(captures.c.captured_at.desc())).fetchall()
            ids = [c.id for c in caps]
            photo_rows = conn.execute(select(photos).where(photos.c.capture_id.in_(ids))
                                      .order_by(photos.c.credential)).fetchall() if ids else []
            req_rows = conn.execute(select(requests).where(requests.c.person_key == person_key)
                                    .order_by(requests.c.created_at.desc())).fetchall()
            grant_rows = conn.execute(select(grants).where(grants.c.person_key == person_key)
                                      .order_by(grants.c.created_at.desc())).fetchall()
            history = audit_log.rows_for_person(conn, person_key)
        by_capture: dict[str, list] = {}
        for p in photo_rows:
            by_capture.setdefault(p.capture_id, []).append(
                {"photo_id": p.id, "credential": p.credential, "agency": p.agency, "valid_until": p.valid_until,
                 "valid": p.valid_until > now, "bytes": p.bytes, "extension": p.extension})
        return {
            "captures": [{"capture_id": c.id, "captured_at": c.captured_at, "station": c.station,
                          "published_at": c.published_at, "keep_until": c.keep_until,
                          "photos": by_capture.get(c.id, [])} for c in caps],
            "requests": [_request_dict(r, now) for r in req_rows],
            "grants": [{"grant_id": g.id, "request_id": g.request_id, "agency": g.agency, "credential": g.credential,
                        "created_at": g.created_at, "expires_at": g.expires_at, "revoked_at": g.revoked_at,
                        "active": g.revoked_at is None and g.expires_at > now} for g in grant_rows],
            "history": [{"seq": h["seq"], "at": h["at"], "action": h["action"], "actor": h["actor"],
                         "credential": h["credential"], "agency": h["agency"], "reference": h["reference"],
                         "capture_id": h["capture_id"]} for h in history],
        }

    def citizen_photo(self, person_key: str, photo_id: str, action: str = "download") -> Photo:
        """A photo of the citizen's own (for the thumbnail, action "view"; or a download)."""
        with reading(self.engine) as conn:
            row = conn.execute(select(photos, captures.c.wrapped_key, captures.c.signature, captures.c.person_key)
                               .join(captures, captures.c.id == photos.c.capture_id)
                               .where(photos.c.id == photo_id, captures.c.person_key == person_key,
                                      captures.c.deleted_at.is_(None))).first()
        if row is None:
            raise not_found()
        photo = self._load_photo(row)
        self.recorder.record(action=action, actor="citizen", person_key=person_key, capture_id=row.capture_id,
                             photo_id=row.id, credential=row.credential)
        return photo

    def _load_photo(self, row) -> Photo:
        if row.wrapped_key is None:
            raise not_found()
        data_key = self.wrapper.unwrap(bytes(row.wrapped_key), row.capture_id.encode())
        data = unseal(data_key, row.object, self.store.get(row.object))
        compact = unseal(data_key, f"{row.capture_id}/signature", bytes(row.signature)).decode("ascii")
        disclosure = unseal(data_key, f"{row.capture_id}/{row.id}", bytes(row.disclosure)).decode("ascii")
        token = f"{compact}~{disclosure}~"
        return Photo(data, token, f"{row.credential}.{row.extension}", row.credential, row.id)

    def delete_capture(self, person_key: str, capture_id: str) -> None:
        """The citizen deletes a capture: its data key is destroyed at once (its objects, and any
        copy of them in a backup, become unreadable), its grants end; purge removes the rest."""
        now = time.time()
        with self._tx() as conn:
            done = conn.execute(update(captures).where(captures.c.id == capture_id,
                                                       captures.c.person_key == person_key,
                                                       captures.c.deleted_at.is_(None))
                                .values(deleted_at=now, wrapped_key=None)).rowcount
            if not done:
                raise not_found()
            photo_ids = select(photos.c.id).where(photos.c.capture_id == capture_id).scalar_subquery()
            conn.execute(update(grants).where(grants.c.photo_id.in_(photo_ids), grants.c.revoked_at.is_(None))
                         .values(revoked_at=now))
            conn.execute(delete(pickup_codes).where(pickup_codes.c.capture_id == capture_id))
            self._append(conn, action="delete", actor="citizen", person_key=person_key, capture_id=capture_id)
        try:
            self.store.delete_capture(capture_id)
        except LibraryError:
            pass  # unreadable already; purge retries the deletion

    # -- consent ----------------------------------------------------------------------------
    def create_request(self, *, agency: str, client_id: str, id_number: str, credential: str, application_ref: str,
                       purpose: str, callback_url: str | None = None) -> dict:
        """An agency system asks to reuse the person's photo for one credential it issues. The
        answer is the same whether or not the person has a photo (it reveals nothing)."""
        catalogue = self.catalogue
        if credential not in catalogue.credentials:
            raise LibraryError(f"unknown credential {credential!r}", code="library.unknown_credential")
        if catalogue.get(credential).agency != agency:
            raise LibraryError(f"{credential} is not issued by agency {agency}", code="library.forbidden")
        for name, value, size in (("application_ref", application_ref, 200), ("purpose", purpose, 500)):
            if not isinstance(value, str) or not value.strip() or len(value) > size:
                raise LibraryError(f"{name} must be 1-{size} characters", code="library.malformed")
        person_key = self.keys.person_key(id_number)
        now = time.time()
        request_id = str(uuid.uuid4())
        with self._tx() as conn:
            conn.execute(insert(requests).values(
                id=request_id, agency=agency, client_id=client_id, person_key=person_key, credential=credential,
                application_ref=application_ref.strip(), purpose=purpose.strip(), callback_url=callback_url,
                status="pending", created_at=now, expires_at=now + REQUEST_DAYS * DAY))
            self._append(conn, action="request", actor=f"agency:{agency}/{client_id}", person_key=person_key,
                         credential=credential, agency=agency, reference=application_ref.strip()[:200])
        return {"request_id": request_id, "status": "pending", "credential": credential,
                "expires_at": _iso(now + REQUEST_DAYS * DAY)}

    def counter_token(self, request_id: str) -> str:
        """Opens the counter's QR page for one request (no agency login in the clerk's browser);
        the page shows only the QR code and the request's status, nothing personal."""
        import hmac
        return hmac.new(self.keys.token, f"counter:{request_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def check_counter_token(self, request_id: str, token: str) -> None:
        if not _equal(self.counter_token(request_id), str(token)):
            raise not_found()

    def request_for_counter(self, request_id: str, token: str) -> dict:
        """The little an agency counter's QR page may show of a request (opened with its counter
        token, no login): credential, agency and status; nothing personal."""
        self.check_counter_token(request_id, token)
        with reading(self.engine) as conn:
            row = conn.execute(select(requests.c.credential, requests.c.agency, requests.c.status,
                                      requests.c.expires_at).where(requests.c.id == request_id)).first()
        if row is None:
            raise not_found()
        status = "expired" if row.status == "pending" and row.expires_at <= time.time() else row.status
        return {"credential": row.credential, "agency": row.agency, "status": status}

    def public_url(self, fallback: str) -> str:
        return (self.config.public_url or fallback).rstrip("/")

    def request_for_agency(self, agency: str, request_id: str) -> dict:
        with reading(self.engine) as conn:
            row = conn.execute(select(requests).where(requests.c.id == request_id, requests.c.agency == agency)).first()
        if row is None:
            raise not_found()
        return _request_dict(row, time.time(), for_agency=True)

    def request_for_citizen(self, person_key: str, request_id: str) -> dict:
        now = time.time()
        with reading(self.engine) as conn:
            row = conn.execute(select(requests).where(requests.c.id == request_id,
                                                      requests.c.person_key == person_key)).first()
            if row is None:
                raise not_found()
            photo = self._best_photo(conn, person_key, row.credential, now)
        out = _request_dict(row, now)
        out["photo"] = None if photo is None else {"photo_id": photo.id, "capture_id": photo.capture_id,
                                                   "valid_until": photo.valid_until}
        return out

    def _best_photo(self, conn, person_key: str, credential: str, now: float):
        """The newest capture's photo for the credential whose reuse window is still open."""
        return conn.execute(select(photos).join(captures, captures.c.id == photos.c.capture_id)
                            .where(captures.c.person_key == person_key, captures.c.deleted_at.is_(None),
                                   photos.c.credential == credential, photos.c.valid_until > now)
                            .order_by(captures.c.captured_at.desc()).limit(1)).first()

    def decide(self, person_key: str, request_id: str, approve: bool) -> dict:
        """The citizen approves (a grant for the best photo) or refuses an agency's request."""
        now = time.time()
        with self._tx() as conn:
            row = conn.execute(select(requests).where(requests.c.id == request_id,
                                                      requests.c.person_key == person_key)).first()
            if row is None:
                raise not_found()
            if row.status != "pending" or row.expires_at <= now:
                raise LibraryError(f"this request is already {_request_dict(row, now)['status']}",
                                   code="library.conflict")
            grant_id = None
            if approve:
                photo = self._best_photo(conn, person_key, row.credential, now)
                if photo is None:
                    raise LibraryError("you have no photo that may still be used for this credential",
                                       code="library.conflict")
                grant_id = str(uuid.uuid4())
                conn.execute(insert(grants).values(
                    id=grant_id, request_id=row.id, person_key=person_key, photo_id=photo.id, agency=row.agency,
                    credential=row.credential, created_at=now,
                    expires_at=min(photo.valid_until, now + GRANT_DAYS * DAY)))
            status = "approved" if approve else "refused"
            conn.execute(update(requests).where(requests.c.id == row.id)
                         .values(status=status, decided_at=now, grant_id=grant_id))
            self._append(conn, action="approve" if approve else "refuse", actor="citizen", person_key=person_key,
                         credential=row.credential, agency=row.agency, reference=row.application_ref,
                         photo_id=None if grant_id is None else photo.id)
        return {"request_id": request_id, "status": status, "callback_url": row.callback_url, "agency": row.agency,
                "client_id": row.client_id}

    def revoke_grant(self, person_key: str, grant_id: str) -> None:
        with self._tx() as conn:
            row = conn.execute(select(grants).where(grants.c.id == grant_id, grants.c.person_key == person_key,
                                                    grants.c.revoked_at.is_(None))).first()
            if row is None:
                raise not_found()
            conn.execute(update(grants).where(grants.c.id == grant_id).values(revoked_at=time.time()))
            self._append(conn, action="revoke", actor="citizen", person_key=person_key, photo_id=row.photo_id,
                         credential=row.credential, agency=row.agency, reference=row.request_id)

    def pull(self, agency: str, client_id: str, request_id: str) -> Photo:
        """The photo an approved request grants to ``agency``. Every reason it cannot be had
        (another agency's request, no such request, not approved, grant revoked or expired,
        capture deleted or purged) gets the same answer. The pull is logged (durably, by group
        commit) before the photo is handed out."""
        photo, row = self.read_pull(agency, client_id, request_id)
        self.recorder.record(**row)
        return photo

    async def pull_async(self, agency: str, client_id: str, request_id: str) -> Photo:
        """``pull`` for the event loop: the lookup and decryption run inline (well under a
        millisecond), the wait for the log's commit holds no thread."""
        photo, row = self.read_pull(agency, client_id, request_id)
        await self.recorder.record_async(**row)
        return photo

    def read_pull(self, agency: str, client_id: str, request_id: str) -> tuple[Photo, dict]:
        """(the photo, its audit row): everything of a pull but logging it."""
        row = self._lookup(_PULL, {"request_id": request_id, "agency": agency, "now": time.time()})
        if row is None:
            raise not_found()
        return self._load_photo(row), dict(
            action="pull", actor=f"agency:{agency}/{client_id}", person_key=row.person_key, capture_id=row.capture_id,
            photo_id=row.id, credential=row.credential, agency=agency, reference=row.application_ref)

    # -- retention ---------------------------------------------------------------------------
    def purge(self, now: float | None = None) -> dict:
        """Remove captures past every reuse window or deleted by their owner (rows and objects),
        expire old requests, forget used assertions and old throttles, sign a checkpoint."""
        from .db import used_assertions
        now = now or time.time()
        with reading(self.engine) as conn:
            due = conn.execute(select(captures.c.id, captures.c.person_key)
                               .where(or_(captures.c.keep_until <= now, captures.c.deleted_at.is_not(None)))).fetchall()
        purged = 0
        for capture_id, person_key in due:
            self.store.delete_capture(capture_id)
            with self._tx() as conn:
                photo_ids = select(photos.c.id).where(photos.c.capture_id == capture_id).scalar_subquery()
                conn.execute(delete(grants).where(grants.c.photo_id.in_(photo_ids)))
                conn.execute(delete(pickup_codes).where(pickup_codes.c.capture_id == capture_id))
                conn.execute(delete(photos).where(photos.c.capture_id == capture_id))
                if conn.execute(delete(captures).where(captures.c.id == capture_id)).rowcount:
                    purged += 1
                    self._append(conn, action="purge", actor="service", person_key=person_key, capture_id=capture_id)
        with self._tx() as conn:
            expired = conn.execute(update(requests).where(requests.c.status == "pending", requests.c.expires_at <= now)
                                   .values(status="expired")).rowcount
            conn.execute(delete(pickup_codes).where(pickup_codes.c.expires_at <= now))
            conn.execute(delete(used_assertions).where(used_assertions.c.expires_at <= now))
            conn.execute(delete(throttle).where(throttle.c.window_start <= now - FAILURE_WINDOW))
        orphans = self._sweep_orphans(now)
        audit_log.checkpoint(self.engine, self.keys.checkpoint)
        if purged:
            erase_freed(self.engine)  # the purged rows and deleted keys gone from the SQLite files too
        return {"purged": purged, "expired_requests": expired, "orphans": orphans}

    def _sweep_orphans(self, now: float) -> int:
        """Objects of publishes that never committed (a process killed mid-publish): ciphertext
        whose key was never stored. Removed once they are an hour old."""
        lister = getattr(self.store, "capture_folders", None)
        if lister is None:
            return 0
        with reading(self.engine) as conn:
            known = {r[0] for r in conn.execute(select(captures.c.id))}
        swept = 0
        for capture_id, modified in lister():
            if capture_id not in known and now - modified > 3600:
                self.store.delete_capture(capture_id)
                swept += 1
        return swept

    def health(self) -> dict:
        try:
            with reading(self.engine) as conn:
                conn.execute(select(captures.c.id).limit(1)).first()
        except SQLAlchemyError as exc:
            raise LibraryError("the database does not answer", code="library.unavailable") from exc
        return {"status": "ok"}


# Built once: an agency pull is the hot path (hundreds a second), and building the statement
# costs more than running it.
_PULL = (select(photos.c.id, photos.c.capture_id, photos.c.credential, photos.c.object, photos.c.extension,
                photos.c.disclosure, captures.c.wrapped_key, captures.c.signature, grants.c.person_key,
                requests.c.application_ref)
         .select_from(requests.join(grants, grants.c.id == requests.c.grant_id)
                      .join(photos, photos.c.id == grants.c.photo_id)
                      .join(captures, captures.c.id == photos.c.capture_id))
         .where(requests.c.id == bindparam("request_id"), requests.c.agency == bindparam("agency"),
                requests.c.status == "approved", grants.c.agency == bindparam("agency"),
                grants.c.revoked_at.is_(None), grants.c.expires_at > bindparam("now"),
                photos.c.valid_until > bindparam("now"), captures.c.deleted_at.is_(None),
                captures.c.wrapped_key.is_not(None)))


def _request_dict(row, now: float, for_agency: bool = False) -> dict:
    status = "expired" if row.status == "pending" and row.expires_at <= now else row.status
    out = {"request_id": row.id, "status": status, "credential": row.credential, "agency": row.agency,
           "application_ref": row.application_ref, "purpose": row.purpose, "created_at": _iso(row.created_at),
           "expires_at": _iso(row.expires_at), "decided_at": _iso(row.decided_at) if row.decided_at else None}
    if not for_agency:
        out["created"] = row.created_at
    return out


def _greatest(column, value):
    from sqlalchemy import case
    return case((column > value, column), else_=value)


def _equal(a: str, b: str) -> bool:
    import hmac
    return hmac.compare_digest(a, b)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def _timestamp(text: str) -> float:
    try:
        when = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise LibraryError(f"the manifest's capture time {text!r} is not ISO 8601", code="library.malformed") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()
