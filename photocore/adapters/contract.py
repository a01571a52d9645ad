"""The contract every adapter keeps, as checks an integrator runs against theirs.

    from photocore.adapters.contract import check_adapter

    def test_my_adapter(tmp_path):
        check_adapter("hrss-card-drop", {"name": "{reference}"}, workdir=tmp_path)

``check_adapter`` raises ``ContractError`` (an ``AssertionError``, so pytest shows every
finding) unless the adapter, on signed deliveries made for the purpose (synthetic pictures, a
throwaway key):

- **loads**: by name through the ``photocore.adapters`` entry points (or given as a class), with
  the settings given;
- **kind**: makes files when carried by folder, sftp or s3, one request when carried by http;
- **deterministic**: the same delivery gives the same payload, twice and from a fresh instance
  (a retry lands on the same names with the same bytes);
- **portable names**: every file name is "/"-separated parts of A-Z a-z 0-9 . _ -;
- **no biometric data in names**: names (and multipart file names, request headers, S3
  metadata) do not change when the photo does, and never hold its digest;
- **metadata valid**: JSON parses (and follows the adapter's ``metadata_schema``), XML parses
  with no DOCTYPE, S3 metadata is ASCII within 2 KB; the photo travels byte-exact and is the
  only picture; the signature (and the SM2 sidecar, when there is one) travels with it;
- **every credential**: a delivery for each credential of the catalogue maps, and no two
  deliveries share a file name;
- **round trip**: a delivery goes through a real transport and reads back byte-exact; sent
  again by a fresh transport it is stored once. Without ``transport=`` the kit uses a folder
  (file adapters) or an HTTP receiver it starts on 127.0.0.1 (request adapters); pass a
  transport config (``{"transport": "sftp", "settings": {...}}``) to go through your server.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import re
import tempfile
import threading
import types
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from ..deliver.transports import make_transport
from ..deliver.transports.base import Delivery, FileTransport
from ..errors import ContractError, PhotocoreError
from .base import FILE_TRANSPORTS, REQUEST_TRANSPORTS, Adapter, Payload, check_name
from .registry import Adapted, adapter_class

ISSUED_AT = dt.datetime(2026, 3, 31, 17, 30, tzinfo=dt.UTC)  # the local date differs east of UTC
SM2_SIDECAR = b'{"alg":"SM2-SM3","signature":"3045022100c0ffee","signer":"contract-station"}'


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str = ""


@dataclass
class ContractReport:
    adapter: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.findings) and all(f.ok for f in self.findings)

    def add(self, check: str, problems: list[str], passed: str = "") -> bool:
        self.findings.append(Finding(check, not problems, "; ".join(problems[:5]) + (
            f" (and {len(problems) - 5} more)" if len(problems) > 5 else "") if problems else passed))
        return not problems

    def summary(self) -> str:
        lines = [f"adapter {self.adapter}: {'keeps' if self.ok else 'BREAKS'} the photocore adapter contract"]
        lines += [f"  {'ok  ' if f.ok else 'FAIL'} {f.check}{': ' + f.detail if f.detail else ''}"
                  for f in self.findings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"adapter": self.adapter, "ok": self.ok,
                "findings": [{"check": f.check, "ok": f.ok, "detail": f.detail} for f in self.findings]}


# -- signed deliveries made for the checks ---------------------------------------------------------

def _picture(size: tuple[int, int], seed: int) -> bytes:
    """A synthetic JPEG (a colour ramp, no face): what the checks carry instead of a portrait."""
    import numpy as np
    from PIL import Image

    w, h = size
    ramp = np.add.outer(np.arange(h), np.arange(w)).astype(np.uint16)
    pixels = np.stack([(ramp * (3 + seed)) % 256, (ramp * 5) % 256, np.full_like(ramp, 40 * seed % 256)], axis=-1)
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(out, "JPEG", quality=85)
    return out.getvalue()


def _signer() -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import NameOID

    from ..sign.signer import FileSigner

    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "photocore adapter contract (throwaway)")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(ISSUED_AT - dt.timedelta(days=1))
            .not_valid_after(ISSUED_AT + dt.timedelta(days=3650)).sign(key, None))
    return FileSigner(key, [cert.public_bytes(serialization.Encoding.DER)])


def sample_deliveries(credentials: Iterable[str] | None = None, *, picture_seed: int = 1,
                      size: tuple[int, int] = (90, 120), sm2: bool = False, signer: Any = None) -> list[Delivery]:
    """One signed delivery per credential (default: every credential of the catalogue, the
    international ones too), with a synthetic picture, references ``CT-00001``..., and a
    manifest signed at a fixed time."""
    from ..sign.manifest import CaptureInfo, ManifestSigner, manifest_common

    if credentials is None:
        from ..catalogue import load_catalogue

        loaded = load_catalogue()
        # the 184 credentials of the agencies, and the international passports and visas
        ids = sorted({*loaded.credentials, *getattr(loaded, "international", {})})
        catalogue = types.SimpleNamespace(version=loaded.version, content_hash=loaded.content_hash)
    else:
        ids = list(credentials)
        catalogue = types.SimpleNamespace(version="contract", content_hash="0" * 64)
    photo = _picture(size, picture_seed)
    signer = signer or _signer()
    common = manifest_common(catalogue=catalogue, signer=signer, issued_at=ISSUED_AT,
                             capture=CaptureInfo("contract-station", captured_at=ISSUED_AT.isoformat()))
    image = {"sha256": hashlib.sha256(photo).hexdigest(), "bytes": len(photo), "format": "jpeg",
             "width": size[0], "height": size[1], "dpi": 300}
    entries = [{"credential": c, "photo_id": f"00000000-0000-4000-8000-{i:012d}", "image": image, "verdicts": {}}
               for i, c in enumerate(ids, 1)]
    tokens = ManifestSigner(signer).sign_all(common, entries) if entries else []
    return [Delivery(id=f"contract-{i:05d}", photo_id=e["photo_id"], credential=e["credential"],
                     filename=f"{e['credential']}.jpg", data=photo, jws=token, sm2=SM2_SIDECAR if sm2 else None,
                     reference=f"CT-{i:05d}")
            for i, (e, token) in enumerate(zip(entries, tokens, strict=True), 1)]


# -- reading a payload back ---------------------------------------------------------------------

@dataclass(frozen=True)
class _Part:
    name: str  # file name, or multipart field name
    filename: str | None
    content_type: str
    data: bytes


def _multipart(body: bytes, content_type: str) -> list[_Part]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise ValueError("multipart content type without a boundary")
    delimiter = b"--" + match.group(1).encode("ascii")
    if not body.startswith(delimiter + b"\r\n") or not body.rstrip(b"\r\n").endswith(delimiter + b"--"):
        raise ValueError("the body does not start and end with the boundary")
    parts = []
    for chunk in body[len(delimiter) + 2:body.rstrip(b"\r\n").rindex(delimiter + b"--") - 2].split(
            b"\r\n" + delimiter + b"\r\n"):
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("a part without headers")
        headers = dict(line.split(":", 1) for line in head.decode("utf-8").split("\r\n"))
        headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
        disposition = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if not disposition.startswith("form-data") or not name:
            raise ValueError(f"a part without a form-data name: {disposition!r}")
        parts.append(_Part(name.group(1), filename.group(1) if filename else None,
                           headers.get("content-type", "text/plain"), data))
    return parts


def _parts(payload: Payload) -> list[_Part]:
    if payload.request is not None:
        r = payload.request
        if r.content_type.startswith("multipart/form-data"):
            return _multipart(r.body, r.content_type)
        return [_Part("(body)", None, r.content_type.split(";")[0].strip(), r.body)]
    return [_Part(f.name, f.name, f.content_type, f.data) for f in payload.files]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def _is_xml(content_type: str) -> bool:
    return content_type in ("application/xml", "text/xml") or content_type.endswith("+xml")


def _texts(part: _Part) -> list[str]:
    """The strings a metadata part carries (JSON string values, XML text and attributes)."""
    if _is_json(part.content_type):
        return list(_strings(json.loads(part.data)))
    if _is_xml(part.content_type):
        root = ET.fromstring(part.data)
        return [t.strip() for el in root.iter() for t in [el.text or "", *el.attrib.values()] if t.strip()]
    return []


def _names(payload: Payload) -> list[str]:
    """Everything a receiver sees before opening a file: names, part file names, headers, S3 metadata."""
    names = list(payload.names)
    if payload.request is not None:
        names += [f"{k}: {v}" for k, v in payload.request.headers.items()]
        if payload.request.content_type.startswith("multipart/form-data"):
            names += [p.filename or p.name for p in _parts(payload)]
    names += [f"{k}={v}" for f in payload.files for k, v in f.metadata.items()]
    return names


# -- the checks ------------------------------------------------------------------------------------

def _metadata_problems(adapter: Adapter, delivery: Delivery, payload: Payload) -> list[str]:
    problems = []
    try:
        parts = _parts(payload)
    except ValueError as exc:
        return [f"{delivery.credential}: the request body does not parse: {exc}"]
    photos, texts = 0, []
    schema = getattr(adapter, "metadata_schema", None)
    for part in parts:
        where = f"{delivery.credential}: {part.filename or part.name}"
        if part.data == delivery.data:
            photos += 1
            continue
        if part.data in (delivery.jws.encode("ascii"), delivery.sm2):
            continue  # a sidecar carried as it is: not the adapter's metadata
        if part.content_type.startswith("image/"):
            problems.append(f"{where}: a picture that is not the delivered photo ({part.content_type})")
        if _is_xml(part.content_type) and re.search(rb"<!(DOCTYPE|ENTITY)", part.data):
            problems.append(f"{where}: XML with a DOCTYPE or ENTITY (receivers must not have to expand them)")
            continue
        try:
            part_texts = _texts(part)
        except (ValueError, ET.ParseError) as exc:
            problems.append(f"{where}: {part.content_type} that does not parse: {exc}")
            continue
        texts += part_texts
        if schema is not None and _is_json(part.content_type):
            doc = json.loads(part.data)
            photos += sum(1 for s in _strings(doc) if s == base64.b64encode(delivery.data).decode("ascii"))
            errors = [f"{'.'.join(map(str, e.absolute_path)) or '(document)'}: {e.message}"
                      for e in Draft202012Validator(dict(schema)).iter_errors(doc)]
            problems += [f"{where}: not the adapter's metadata_schema: {e}" for e in errors[:3]]
        elif _is_json(part.content_type):
            photos += sum(1 for s in _strings(json.loads(part.data))
                          if s == base64.b64encode(delivery.data).decode("ascii"))
    if photos != 1:
        problems.append(f"{delivery.credential}: the photo travels {photos} times, byte-exact (once expected)")
    blobs = {part.data for part in parts}
    if delivery.jws not in texts and delivery.jws.encode("ascii") not in blobs:
        problems.append(f"{delivery.credential}: the signature does not travel with the photo (a file of its "
                        "own, or a JSON value, XML text or attribute)")
    if delivery.sm2 is not None:
        sm2 = delivery.sm2.decode("utf-8")
        encoded = base64.b64encode(delivery.sm2).decode("ascii")
        if delivery.sm2 not in blobs and sm2 not in texts and encoded not in texts:
            problems.append(f"{delivery.credential}: the SM2 sidecar does not travel with the photo")
    for file in payload.files:
        meta = dict(file.metadata)
        size = sum(len(k) + len(v) for k, v in meta.items())
        bad = [k for k, v in meta.items() if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", k)
               or not re.fullmatch(r"[\x20-\x7e]*", v)]
        if bad or size > 1800 or "sha256" in meta:
            problems.append(f"{delivery.credential}: {file.name}: S3 metadata must be lower-case ASCII keys and "
                            f"printable ASCII values, under 1800 bytes, without the transport's sha256 ({bad})")
    return problems


def _name_problems(delivery: Delivery, payload: Payload, other: Payload) -> list[str]:
    problems = []
    for name in payload.names:
        try:
            check_name(name)
        except PhotocoreError as exc:
            problems.append(exc.message)
    digest = hashlib.sha256(delivery.data).hexdigest()
    names = _names(payload)
    if names != _names(other):
        problems.append(f"{delivery.credential}: names change with the photo's pixels: {names} vs {_names(other)}")
    leaked = [n for n in names if digest[:16] in n.lower() or digest[-16:] in n.lower()]
    if leaked:
        problems.append(f"{delivery.credential}: a name holds the photo's digest: {leaked[0]}")
    return problems


class LoopbackReceiver(ThreadingHTTPServer):
    """An HTTP endpoint on 127.0.0.1 that keeps every request and stores each idempotency key once."""

    daemon_threads = True

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.stored: dict[str, bytes] = {}
        self.lock = threading.Lock()

        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                key = headers.get("idempotency-key", "")
                with receiver.lock:
                    receiver.requests.append((headers, body))
                    fresh = key not in receiver.stored
                    receiver.stored.setdefault(key, body)
                answer = json.dumps({"receipt_id": f"r-{hashlib.sha256(key.encode()).hexdigest()[:12]}"}).encode()
                self.send_response(201 if fresh else 200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/photos"
        threading.Thread(target=self.serve_forever, name="contract-receiver", daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def _round_trip(report: ContractReport, cls: type[Adapter], settings: Mapping[str, Any] | None,
                transport: Mapping[str, Any] | None, workdir: Path, deliveries: list[Delivery]) -> None:
    check = "round trip through a real transport"
    kind = "request" if set(cls.transports) <= set(REQUEST_TRANSPORTS) else "files"
    receiver = None
    if transport is None:
        if kind == "request":
            receiver = LoopbackReceiver()
            transport = {"transport": "http", "settings": {"url": receiver.url, "timeout": 10}}
        elif "folder" in cls.transports:
            transport = {"transport": "folder", "settings": {"directory": str(workdir / "drop")}}
        else:
            report.add(check, [f"carried by {', '.join(cls.transports)} only: pass transport= (the kit starts "
                               "a folder or an HTTP receiver by itself)"])
            return
    problems: list[str] = []
    try:
        adapter = cls(settings, system="contract")
        for delivery in deliveries:
            payload = adapter.payload(delivery)
            senders = [make_transport(dict(transport)) for _ in range(2)]  # the second: as after a crash
            try:
                first = Adapted(adapter, senders[0]).send(delivery)
                again = Adapted(adapter, senders[1]).send(delivery)
                if payload.files:
                    stored = senders[1]
                    assert isinstance(stored, FileTransport)  # Adapted.send put the files through it
                    for file in payload.files:
                        data = stored.fetch(file.name)
                        if data != file.data:
                            problems.append(f"{delivery.credential}: {file.name} reads back "
                                            f"{'nothing' if data is None else 'other bytes'}")
                    if not again.detail.startswith("already delivered"):
                        problems.append(f"{delivery.credential}: sent again, it was written again ({again.detail})")
                elif receiver is not None:
                    seen = [(h, b) for h, b in receiver.requests if h.get("idempotency-key") == delivery.id]
                    request = payload.request
                    assert request is not None
                    if len(seen) != 2 or any(b != request.body for _, b in seen):
                        problems.append(f"{delivery.credential}: the receiver got {len(seen)} request(s) for the "
                                        "delivery, not the payload's body twice")
                    elif any(h.get("content-type") != request.content_type for h, _ in seen):
                        problems.append(f"{delivery.credential}: the content type changed on the way")
                    if not first.receipt_id or first.receipt_id != again.receipt_id:
                        problems.append(f"{delivery.credential}: receipts {first.receipt_id!r}, {again.receipt_id!r}")
            finally:
                for sender in senders:
                    sender.close()
    except PhotocoreError as exc:
        problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        if receiver is not None:
            receiver.stop()
    where = transport.get("transport") if transport else "?"
    report.add(check, problems, f"{len(deliveries)} deliveries through {where}, stored once each, read back exact")


def check_adapter(adapter: str | type[Adapter], settings: Mapping[str, Any] | None = None, *,
                  transport: Mapping[str, Any] | None = None, workdir: str | Path | None = None,
                  credentials: Iterable[str] | None = None, raise_on_failure: bool = True) -> ContractReport:
    """Run the contract against ``adapter`` (an entry point name, or the class) with ``settings``;
    ``transport`` for the round trip (``{"transport": ..., "settings": {...}}``); ``credentials``
    to limit "every credential" (default: the whole catalogue)."""
    name = adapter if isinstance(adapter, str) else f"{adapter.__module__}:{adapter.__qualname__}"
    report = ContractReport(name)
    try:
        cls = adapter_class(adapter) if isinstance(adapter, str) else adapter
        instance = cls(settings, system="contract")
    except PhotocoreError as exc:
        report.add("loads", [f"{exc.code}: {exc.message}"])
        return _finish(report, raise_on_failure)
    report.add("loads", [], f"{cls.__module__}.{cls.__qualname__}, carried by {', '.join(cls.transports)}")

    signer = _signer()
    try:
        everyone = sample_deliveries(credentials, signer=signer)
    except PhotocoreError as exc:  # the catalogue itself does not load
        report.add("every credential", [f"{exc.code}: {exc.message.splitlines()[0]}"])
        return _finish(report, raise_on_failure)
    if not everyone:
        report.add("every credential", ["no credentials to check"])
        return _finish(report, raise_on_failure)
    first = everyone[0]
    # another application of the same credential, with an SM2 sidecar
    with_sm2 = replace(first, sm2=SM2_SIDECAR, id="contract-sm2", reference="CT-SM2",
                       photo_id="00000000-0000-4000-8000-999999999999")
    repainted = sample_deliveries([first.credential], picture_seed=7, size=(120, 160), signer=signer)[0]
    payloads: dict[str, Payload] = {}
    problems: list[str] = []
    for delivery in everyone:
        try:
            payloads[delivery.id] = instance.payload(delivery)
        except Exception as exc:  # noqa: BLE001 - any failure here is the finding
            problems.append(f"{delivery.credential}: {type(exc).__name__}: {exc}")
    owners: dict[str, str] = {}
    for delivery in everyone:
        made = payloads.get(delivery.id)
        for file_name in made.names if isinstance(made, Payload) else ():
            if file_name in owners:
                problems.append(f"{delivery.credential} and {owners[file_name]} both write {file_name}")
            owners.setdefault(file_name, delivery.credential)
    report.add("every credential", problems, f"{len(everyone)} credentials map, no two share a file name")
    if first.id not in payloads:
        return _finish(report, raise_on_failure)

    payload = payloads[first.id]
    expected = "files" if set(cls.transports) <= set(FILE_TRANSPORTS) else "request"
    kind_ok = isinstance(payload, Payload) and payload.kind == expected and all(
        isinstance(payloads[d], Payload) and payloads[d].kind == expected for d in payloads)
    report.add("kind", [] if kind_ok else [f"carried by {', '.join(cls.transports)}, so {expected} expected"],
               f"{expected} for {', '.join(cls.transports)}")
    if not kind_ok:
        return _finish(report, raise_on_failure)

    fresh = cls(settings, system="contract")
    report.add("deterministic", [] if instance.payload(first) == payload == fresh.payload(first) else
               ["the same delivery gives different payloads (names or bytes): a retry would not land on the "
                "same files"], "same delivery, same payload, from a fresh instance too")
    report.add("portable names and no biometric data in names",
               _name_problems(first, payload, instance.payload(repainted)),
               f"{len(_names(payload))} name(s), independent of the pixels")
    report.add("metadata valid", _metadata_problems(instance, first, payload)
               + _metadata_problems(instance, with_sm2, instance.payload(with_sm2)),
               "parses, follows its schema, carries the photo once, the signature and the SM2 sidecar")

    with tempfile.TemporaryDirectory(prefix="photocore-contract-") as scratch:
        _round_trip(report, cls, settings, transport, Path(workdir or scratch), [first, with_sm2])
    return _finish(report, raise_on_failure)


def _finish(report: ContractReport, raise_on_failure: bool) -> ContractReport:
    if raise_on_failure and not report.ok:
        raise ContractError(report)
    return report
