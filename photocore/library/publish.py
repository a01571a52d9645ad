"""Publishing from a station: hand a signed conversion to the shared photo library.

The upload is what `photocore convert --sign` wrote (each photo and its ``.jws``), plus a
binding: a JWS the station signs with its own key, tying this signing to this person's ID
number, so that signed photos copied from anywhere cannot be filed under someone else. The
library verifies every signature before it stores anything and answers with the capture id and
the pickup code printed on the citizen's receipt.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path

import httpx
from joserfc import jws

from ..errors import ConfigError, PublishError
from ..sign.manifest import canonical
from ..sign.signer import Signer, public_jwk, registry, thumbprint
from .service import PUBLISH_TYPE, person_binding


def binding_token(signer: Signer, compact_jws: str, id_number: str) -> str:
    """The station's signature over (this signing, this person)."""
    header = {"alg": signer.alg, "typ": PUBLISH_TYPE, "kid": thumbprint(signer.chain[0]),
              "x5c": [base64.b64encode(der).decode("ascii") for der in signer.chain]}
    payload = {"typ": PUBLISH_TYPE, "binding": person_binding(compact_jws, id_number), "iat": int(time.time())}
    return jws.serialize_compact(header, canonical(payload), public_jwk(signer.chain[0]), registry=registry(signer))


def conversion_files(folder: str | Path) -> dict[str, bytes]:
    """Photos with their signatures from a `convert --sign` folder (report and contact sheet left out)."""
    root = Path(folder)
    if not root.is_dir():
        raise PublishError(f"{root} is not a folder written by `photocore convert --sign`")
    files, unsigned = {}, []
    for path in sorted(root.iterdir()):
        if path.is_file() and path.with_name(path.name + ".jws").is_file():
            files[path.name] = path.read_bytes()
            files[path.name + ".jws"] = path.with_name(path.name + ".jws").read_bytes()
        elif path.is_file() and not path.name.startswith(".") and not path.name.endswith((".jws", ".json", ".html")):
            unsigned.append(path.name)  # a photo whose signature is gone: never left out silently
    if not files:
        raise PublishError(f"{root} holds no signed photo (<photo> with <photo>.jws beside it): convert with --sign",
                           code="publish.unsigned", refused=False)
    if unsigned:
        raise PublishError(f"{', '.join(unsigned)} in {root} has no signature (<photo>.jws): not published",
                           code="publish.unsigned", refused=True)
    return files


def publish(files: dict[str, bytes], id_number: str, url: str, signer: Signer, *, master: bytes | None = None,
            timeout: float = 60.0, client: httpx.Client | None = None) -> dict:
    """Upload one capture's signed photos to the library at ``url``; returns its answer
    (``capture_id``, ``pickup_code``, ``photos``, ``new``)."""
    tokens = {f[:-4]: data.decode("ascii", "replace").strip() for f, data in files.items() if f.endswith(".jws")}
    compacts = {t.split("~", 1)[0] for t in tokens.values()}
    if len(compacts) != 1:
        raise PublishError("the folder holds photos from more than one signing: publish one capture at a time")
    binding = binding_token(signer, compacts.pop(), id_number)
    # every signature, but each distinct photo once: the library matches them by hash (184
    # credentials share about 15 files, so this sends about a tenth of the bytes)
    sent: set[bytes] = set()
    multipart = []
    for name, data in files.items():
        if not name.endswith(".jws"):
            digest = hashlib.sha256(data).digest()
            if digest in sent:
                continue
            sent.add(digest)
        multipart.append(("files", (name, data, "application/octet-stream")))
    if master is not None:
        multipart.append(("master", ("master", master, "application/octet-stream")))
    fields = {"id_number": id_number, "binding": binding}
    own = client is None
    http = client or httpx.Client(timeout=timeout)
    try:
        response = http.post(url.rstrip("/") + "/v1/captures", data=fields, files=multipart)
    except httpx.HTTPError as exc:
        raise PublishError(f"cannot reach the photo library at {url}: {type(exc).__name__}",
                           code="publish.unreachable") from exc
    finally:
        if own:
            http.close()
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code in (200, 201):
        return body
    code = body.get("code") if isinstance(body, dict) else None
    detail = body.get("detail") if isinstance(body, dict) else None
    refused = response.status_code in (409, 422)
    raise PublishError(detail or f"the library answered HTTP {response.status_code}",
                       code=code or f"publish.http_{response.status_code}", refused=refused)


def publish_folder(folder: str | Path, id_number: str, url: str, keys: str | Path, *,
                   master: str | Path | None = None) -> dict:
    """`photocore publish`: the folder's signed photos, bound with the station key in ``keys``."""
    from ..sign import load_signer
    files = conversion_files(folder)
    try:
        master_bytes = Path(master).read_bytes() if master else None
    except OSError as exc:
        raise ConfigError(f"cannot read the master image {master}: {exc}", code="publish.unusable") from exc
    return publish(files, id_number, url, load_signer(keys), master=master_bytes)


def report_json(answer: dict) -> str:
    return json.dumps(answer, ensure_ascii=False)
