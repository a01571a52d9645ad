"""How agency systems prove who they are: OAuth 2.0 client credentials with ``private_key_jwt``
(RFC 6749 4.4, RFC 7521 and RFC 7523, OpenID Connect Core 9), and the access tokens given back.

Each agency system is registered in a clients file (TOML, ``serve --clients FILE``) with its
public key, so the library never holds an agency's secret::

    [[client]]
    id = "police-exit-entry"                     # the OAuth client_id
    agency = "police"                            # an agency of the catalogue: it reads only what this agency issues
    public_key = "exit-entry.pub.pem"            # or jwks = "exit-entry.jwks.json" (paths relative to this file)
    webhook_url = "https://exit-entry.example/photocore"   # optional: told when a citizen decides
    webhook_secret = "env:EXIT_ENTRY_WEBHOOK_SECRET"       # whsec_... (Standard Webhooks), by reference only

The system signs a short assertion (iss = sub = client_id, aud = the token endpoint, exp, jti)
and trades it at ``POST /v1/oauth/token`` for an access token. Each assertion works once: its
``jti`` goes into the shared database until it expires, and the primary key makes a second use
fail in whichever process sees it. The access token is a 300-second JWT HMAC-signed with a key
derived from the service secret, so every process verifies it without the database.

Mutual TLS client authentication (RFC 8705) is not offered: uvicorn does not pass the client's
certificate into the ASGI scope, so the application could never see it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import time
import tomllib
import uuid
import weakref
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeAlias, overload

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OctKey, OKPKey, RSAKey, import_key
from jsonschema import Draft202012Validator
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..caches import memoised
from ..errors import AgencyApiError, BearerError, TokenError
from ..sign.signer import allowing
from .config import resolve_reference
from .db import used_assertions, writing
from .errors import LibraryError

if TYPE_CHECKING:
    from .service import Library

TOKEN_PATH = "/v1/oauth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("ES256", "ES384", "EdDSA", "Ed25519", "RS256", "PS256")  # never "none", never HMAC
KeyType: TypeAlias = Literal["EC", "OKP", "RSA"]  # joserfc's key types we take
SigningKey: TypeAlias = ECKey | OKPKey | RSAKey  # a client's private key, as joserfc signs with it
# what a client's private key may be given as: a joserfc key, a pyca key, or PEM text or bytes
PrivateKeyInput: TypeAlias = SigningKey | PrivateKeyTypes | str | bytes
KEY_TYPES: dict[str, KeyType] = {"ES256": "EC", "ES384": "EC", "EdDSA": "OKP", "Ed25519": "OKP", "RS256": "RSA",
                                 "PS256": "RSA"}
MAX_ASSERTION_LIFETIME = 300  # seconds from iat (or now) to exp
LEEWAY = 30  # seconds of clock difference tolerated between an agency and us
TOKEN_LIFETIME = 300
SCOPE = "photos:pull"
ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068's type, so no other token signed by the service passes as one

_SECRET = {"type": "string", "pattern": "^(env|file):.+"}
SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {"client": {"type": "array", "items": {
        "type": "object", "additionalProperties": False, "required": ["id", "agency"],
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"},
            "agency": {"type": "string", "minLength": 1},
            "name": {"type": "string"},
            "jwks": {"type": "string", "minLength": 1},
            "public_key": {"type": "string", "minLength": 1},
            "webhook_url": {"type": "string", "pattern": "^https?://[^/?#@\\s]+"},
            "webhook_secret": _SECRET,
        },
        "dependentRequired": {"webhook_url": ["webhook_secret"]},
    }}},
}


# -- the registered clients ------------------------------------------------------------------
@dataclass(frozen=True)
class Client:
    id: str
    agency: str
    keys: KeySet
    webhook_url: str | None = None
    webhook_secret: str | None = None  # a reference (env:NAME / file:PATH); the value is read when signing


class Clients:
    """The registered agency systems (empty when the service has no clients file)."""

    def __init__(self, clients: dict[str, Client]) -> None:
        self._clients = clients

    def get(self, client_id: object) -> Client | None:
        return self._clients.get(client_id) if isinstance(client_id, str) else None

    def __len__(self) -> int:
        return len(self._clients)


def load_clients(path: str | os.PathLike[str] | None, agencies: Container[str]) -> Clients:
    """Read and check a clients file; every problem names the file, the client and the key."""
    if path is None:
        return Clients({})
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise LibraryError(f"cannot read the agency clients file {path}: {exc}", code="library.config") from exc
    except tomllib.TOMLDecodeError as exc:
        raise LibraryError(f"{path}: not valid TOML: {exc}", code="library.config") from exc
    problems = []
    for error in Draft202012Validator(SCHEMA).iter_errors(data):
        steps = list(error.absolute_path)
        where = ".".join(str(p) for p in steps) or "(top level)"
        if len(steps) >= 2 and steps[0] == "client" and isinstance(steps[1], int):
            entry = data["client"][steps[1]]
            name = entry.get("id") if isinstance(entry, dict) else None
            where = f"client[{steps[1]}] {name or '(no id)'}" + "".join(f".{p}" for p in steps[2:])
        problems.append(f"{path}: {where}: {error.message}")
    clients: dict[str, Client] = {}
    for i, entry in enumerate(data.get("client", []) if not problems else []):
        where = f"{path}: client[{i}] {entry['id']}"
        try:
            clients[entry["id"]] = _client(entry, path.parent, agencies, clients)
        except LibraryError as exc:
            problems.append(f"{where}: {exc.message}")
    if problems:
        raise LibraryError("invalid agency clients file:\n  " + "\n  ".join(problems), code="library.config")
    return Clients(clients)


def _client(entry: dict, folder: Path, agencies: Container[str], seen: dict[str, Client]) -> Client:
    if entry["id"] in seen:
        raise LibraryError("id: duplicate client id", code="library.config")
    if entry["agency"] not in agencies:
        raise LibraryError(f"agency: {entry['agency']!r} is not an agency of the catalogue", code="library.config")
    if ("jwks" in entry) == ("public_key" in entry):
        raise LibraryError("give exactly one of jwks or public_key", code="library.config")
    kind = "jwks" if "jwks" in entry else "public_key"
    file = folder / entry[kind]
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise LibraryError(f"{kind}: cannot read {file}: {exc}", code="library.config") from exc
    keys = _jwks(raw, kind) if kind == "jwks" else KeySet([_public_key(raw)])
    if "webhook_secret" in entry:
        _check_webhook_secret(resolve_reference(entry["webhook_secret"], "webhook_secret"))
    return Client(entry["id"], entry["agency"], keys, entry.get("webhook_url"), entry.get("webhook_secret"))


def _public_key(pem: bytes) -> ECKey | OKPKey | RSAKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise LibraryError("public_key: not a PEM public key", code="library.config") from exc
    _check_key_kind(key, "public_key")
    return import_key(pem, _kind(key))


def _kind(key: PublicKeyTypes) -> KeyType:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC"
    return "OKP" if isinstance(key, ed25519.Ed25519PublicKey) else "RSA"


def _check_key_kind(key: object, where: str) -> None:
    ok = ((isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in ("secp256r1", "secp384r1"))
          or isinstance(key, ed25519.Ed25519PublicKey)
          or (isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048))
    if not ok:
        raise LibraryError(f"{where}: use an EC P-256/P-384, Ed25519 or RSA (2048 bits or more) key",
                           code="library.config")


def _jwks(raw: bytes, kind: str) -> KeySet:
    try:
        data = json.loads(raw)
        entries = data["keys"]
        if not isinstance(entries, list) or not entries:
            raise ValueError("no keys")
    except (ValueError, KeyError, TypeError) as exc:
        raise LibraryError(f"{kind}: not a JWKS ({{\"keys\": [...]}})", code="library.config") from exc
    keys = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or entry.get("kty") not in ("EC", "OKP", "RSA"):
            raise LibraryError(f"{kind}: key {n}: kty must be EC, OKP or RSA", code="library.config")
        if "d" in entry:  # a registration holds public keys only; a private one here is a leak
            raise LibraryError(f"{kind}: key {n} is a private key: register the public key only",
                               code="library.config")
        try:
            key = import_key(entry)
        except (JoseError, ValueError, TypeError) as exc:
            raise LibraryError(f"{kind}: key {n}: {exc}", code="library.config") from exc
        _check_key_kind(key.raw_value, f"{kind}: key {n}")
        keys.append(key)
    return KeySet(keys)


def _check_webhook_secret(value: str) -> None:
    import base64
    text = value.removeprefix("whsec_")
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError as exc:
        raise LibraryError("webhook_secret: not base64 (whsec_...)", code="library.config") from exc
    if not 24 <= len(key) <= 64:
        raise LibraryError("webhook_secret: must be 24 to 64 random bytes (Standard Webhooks)", code="library.config")


_cache: weakref.WeakKeyDictionary[Library, Clients] = weakref.WeakKeyDictionary()


def clients_for(library: Library) -> Clients:
    """The library's clients, read once per process (restart the service to change them)."""
    clients = _cache.get(library)
    if clients is None:
        clients = _cache[library] = load_clients(library.config.clients, library.catalogue.agencies)
    return clients


# -- the token endpoint ----------------------------------------------------------------------
def issue_token(library: Library, clients: Clients, form: dict, issuer: str) -> dict:
    """RFC 6749 4.4 with RFC 7523 client authentication: an access token for a valid assertion.
    ``issuer`` is the service's public URL (the token endpoint is ``issuer + TOKEN_PATH``)."""
    if not form.get("grant_type"):
        raise TokenError("grant_type is required", code="library.malformed", error="invalid_request")
    if form["grant_type"] != "client_credentials":
        raise TokenError("only grant_type=client_credentials is supported", code="library.malformed",
                         error="unsupported_grant_type")
    scopes = set((form.get("scope") or SCOPE).split())
    if scopes != {SCOPE}:
        raise TokenError(f"the only scope is {SCOPE}", code="library.malformed", error="invalid_scope")
    if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
        raise TokenError(f"authenticate with client_assertion_type={ASSERTION_TYPE} and a client_assertion "
                         "(private_key_jwt)")
    client, claims = verify_assertion(clients, form["client_assertion"], (issuer + TOKEN_PATH, issuer),
                                      form.get("client_id"))
    _spend(library, client.id, claims["jti"], claims["exp"])
    return access_token(library, client, issuer)


def verify_assertion(clients: Clients, assertion: str, audiences: tuple[str, ...],
                     client_id: str | None = None) -> tuple[Client, dict]:
    """The registered client that signed ``assertion``, and its claims; ``TokenError`` otherwise."""
    if len(assertion) > 8192 or not assertion.isascii():
        raise TokenError("the client assertion is not a compact JWS")
    try:
        compact = jws.extract_compact(assertion.encode("ascii"))
        header, claims = compact.headers(), json.loads(compact.payload)
    except (JoseError, ValueError, TypeError) as exc:
        raise TokenError("the client assertion is not a compact JWS") from exc
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise TokenError(f"assertion algorithm {alg!r} is not accepted (use one of {', '.join(ALGORITHMS)})")
    if not isinstance(claims, dict) or not isinstance(claims.get("iss"), str) or claims.get("sub") != claims["iss"]:
        raise TokenError("the assertion's iss and sub must both be the client_id")
    if client_id is not None and client_id != claims["iss"]:
        raise TokenError("client_id differs from the assertion's issuer")
    client = clients.get(claims["iss"])
    if client is None:
        raise TokenError("unknown client" if len(clients) else "this library has no agency clients configured")
    if not _signature_ok(client, assertion, header, alg):
        raise TokenError("the assertion's signature does not verify with the client's registered key")
    _check_claims(claims, audiences, time.time())
    return client, claims


def _signature_ok(client: Client, assertion: str, header: dict, alg: str) -> bool:
    """Tries the client's keys of the algorithm's type, the one named by ``kid`` first (a kid is
    only a hint: the signature must verify with a registered key either way)."""
    kid = header.get("kid")
    keys = sorted((k for k in client.keys if k.key_type == KEY_TYPES[alg]
                   and (not k.alg or k.alg == alg or {k.alg, alg} == {"EdDSA", "Ed25519"})),
                  key=lambda k: k.kid != kid)
    for key in keys:
        try:
            jws.deserialize_compact(assertion, key, registry=allowing([alg]))
            return True
        except (JoseError, ValueError, TypeError):
            continue
    return False


@overload
def _number(claims: dict, name: str, required: Literal[True]) -> float: ...
@overload
def _number(claims: dict, name: str, required: Literal[False]) -> float | None: ...
def _number(claims: dict, name: str, required: bool) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TokenError(f"the assertion's {name} must be a number (seconds since 1970)")
    return float(value)


def _check_claims(claims: dict, audiences: tuple[str, ...], now: float) -> None:
    aud = claims.get("aud")
    given = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    wanted = {a.rstrip("/") for a in audiences}
    if not any(isinstance(a, str) and a.rstrip("/") in wanted for a in given):
        raise TokenError(f"the assertion's aud must be this token endpoint ({audiences[0]})")
    exp = _number(claims, "exp", True)
    iat, nbf = _number(claims, "iat", False), _number(claims, "nbf", False)
    if exp <= now - LEEWAY:
        raise TokenError("the assertion has expired")
    if (iat is not None and iat > now + LEEWAY) or (nbf is not None and nbf > now + LEEWAY):
        raise TokenError("the assertion is not valid yet (iat or nbf in the future)")
    if exp - (iat if iat is not None else now) > MAX_ASSERTION_LIFETIME:
        raise TokenError(f"the assertion lives longer than {MAX_ASSERTION_LIFETIME} s (exp - iat)")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= 256:
        raise TokenError("the assertion needs a jti (a unique id, at most 256 characters)")


def _spend(library: Library, client_id: str, jti: str, exp: float) -> None:
    """Record the assertion as used until it could no longer be accepted; the primary key
    refuses a second use in any process sharing the database."""
    key = hashlib.sha256(f"{client_id}\n{jti}".encode()).hexdigest()
    try:
        with writing(library.engine) as conn:
            conn.execute(insert(used_assertions).values(jti=key, expires_at=exp + LEEWAY))
    except IntegrityError as exc:
        raise TokenError("this client assertion was already used (jti seen before)", code="library.replayed") from exc
    except SQLAlchemyError as exc:
        raise LibraryError("the database does not answer", code="library.unavailable") from exc


# -- access tokens ---------------------------------------------------------------------------
class Agency(NamedTuple):
    agency: str
    client_id: str


def _token_key(library: Library) -> OctKey:
    """A key for access tokens only, derived from the service's token key (domain separation)."""
    return _derived_key(library.keys.token)


@memoised
def _derived_key(token_secret: bytes) -> OctKey:
    return OctKey.import_key(hmac.new(token_secret, b"agency-access-token-v1", hashlib.sha256).digest())


def access_token(library: Library, client: Client, issuer: str) -> dict:
    now = int(time.time())
    claims = {"iss": issuer, "sub": client.id, "client_id": client.id, "agency": client.agency, "scope": SCOPE,
              "iat": now, "exp": now + TOKEN_LIFETIME, "jti": uuid.uuid4().hex}
    token = jwt.encode({"alg": "HS256", "typ": ACCESS_TOKEN_TYPE}, claims, _token_key(library))
    return {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "scope": SCOPE}


def authenticate(library: Library, clients: Clients, authorization: str | None) -> Agency:
    """The agency an ``Authorization: Bearer`` header speaks for. A client removed from the
    clients file loses access at once, even with a token still unexpired."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BearerError("an access token is required (Authorization: Bearer, from POST /v1/oauth/token)",
                          error=None)
    try:
        if len(token) > 4096:
            raise ValueError("too long")
        decoded = jwt.decode(token.strip(), _token_key(library), algorithms=["HS256"])
    except (JoseError, ValueError, TypeError) as exc:
        raise BearerError("the access token is not valid") from exc
    claims = decoded.claims
    exp = claims.get("exp")
    if decoded.header.get("typ") != ACCESS_TOKEN_TYPE or not isinstance(exp, int) or isinstance(exp, bool):
        raise BearerError("the access token is not valid")
    if exp <= time.time():
        raise BearerError("the access token has expired")
    if SCOPE not in str(claims.get("scope", "")).split():
        raise BearerError(f"the access token lacks scope {SCOPE}", error="insufficient_scope")
    client = clients.get(claims.get("sub"))
    if client is None or client.agency != claims.get("agency"):
        raise BearerError("the access token's client is no longer registered")
    return Agency(client.agency, client.id)


# -- for agency integrators (and the tests and benchmark) --------------------------------------
def client_assertion(client_id: str, private_key: PrivateKeyInput, audience: str, alg: str = "ES256",
                     lifetime: int = 60, *, kid: str | None = None, claims: dict | None = None) -> str:
    """A ``private_key_jwt`` client assertion for the token endpoint at ``audience``.
    ``private_key`` is a PEM private key (bytes or text), a pyca key, or a joserfc key;
    ``claims`` adds or replaces claims (tests use it to make bad assertions)."""
    if alg not in KEY_TYPES:
        raise LibraryError(f"alg must be one of {', '.join(ALGORITHMS)}", code="library.config")
    key = _signing_key(private_key, alg)
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + lifetime,
            "jti": uuid.uuid4().hex, **(claims or {})}
    header = {"alg": alg, "typ": "JWT"}
    key_id = kid or key.kid
    if key_id:
        header["kid"] = key_id
    return jwt.encode(header, body, key, algorithms=[alg])


def _signing_key(private_key: PrivateKeyInput, alg: str) -> SigningKey:
    """A joserfc key from a joserfc key, a pyca private key, or PEM text or bytes."""
    if isinstance(private_key, (ECKey, OKPKey, RSAKey)):
        return private_key
    if hasattr(private_key, "private_bytes"):
        private_key = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption())
    try:
        return import_key(private_key, KEY_TYPES.get(alg, "EC"))
    except (JoseError, ValueError, TypeError) as exc:
        raise LibraryError(f"not a {KEY_TYPES.get(alg, 'EC')} private key for {alg}", code="library.config") from exc


@dataclass(frozen=True)
class PulledPhoto:
    data: bytes
    signature: str  # the SD-JWT the station signed; verify with photocore.sign.verify against the root
    filename: str
    media_type: str
    photo_id: str


class AgencyClient:
    """An agency system's side of the library's API, over one keep-alive HTTP connection pool::

        with AgencyClient("https://photos.example", "police-exit-entry", pem) as api:
            req = api.create_request("110101199003071234", "police.passport", "APP-1", "passport renewal")
            ... the citizen approves (webhook, or poll api.status(req["request_id"])) ...
            photo = api.photo(req["request_id"])
    """

    def __init__(self, url: str, client_id: str, private_key: PrivateKeyInput, *, alg: str = "ES256",
                 kid: str | None = None, audience: str | None = None, http: httpx.Client | None = None,
                 timeout: float = 10.0) -> None:
        self.url, self.client_id, self.alg, self.kid = url.rstrip("/"), client_id, alg, kid
        self.audience = audience or self.url + TOKEN_PATH
        self._key = _signing_key(private_key, alg)
        self._own = http is None
        self.http = http or httpx.Client(timeout=timeout)
        self._token: str | None = None
        self._token_until = 0.0

    def __enter__(self) -> AgencyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own:
            self.http.close()

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:  # Any: httpx's request options
        try:
            return self.http.request(method, self.url + path, **options)
        except httpx.HTTPError as exc:
            raise AgencyApiError(f"cannot reach the photo library at {self.url}: {type(exc).__name__}",
                                 code="agency.unreachable") from exc

    @staticmethod
    def _check(response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        problem = problem if isinstance(problem, dict) else {}
        raise AgencyApiError(problem.get("detail") or f"HTTP {response.status_code}",
                             code=problem.get("code") or f"http.{response.status_code}",
                             status=response.status_code, problem=problem)

    def token(self) -> str:
        """An access token, reused until shortly before it expires."""
        if self._token is None or time.time() > self._token_until:
            assertion = client_assertion(self.client_id, self._key, self.audience, self.alg, kid=self.kid)
            answer = self._check(self._send("POST", TOKEN_PATH, data={
                "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion, "scope": SCOPE})).json()
            self._token, self._token_until = answer["access_token"], time.time() + answer["expires_in"] - 30
        return self._token

    def _api(self, method: str, path: str, **options: Any) -> httpx.Response:  # Any: as _send
        response = self._send(method, path, headers={"Authorization": f"Bearer {self.token()}"}, **options)
        if response.status_code == 401:
            self._token = None  # expired or revoked meanwhile: one fresh token, one retry
            response = self._send(method, path, headers={"Authorization": f"Bearer {self.token()}"}, **options)
        return self._check(response)

    def create_request(self, id_number: str, credential: str, application_ref: str, purpose: str,
                       callback_url: str | None = None) -> dict:
        body = {"id_number": id_number, "credential": credential, "application_ref": application_ref,
                "purpose": purpose}
        if callback_url:
            body["callback_url"] = callback_url
        return self._api("POST", "/v1/requests", json=body).json()

    def status(self, request_id: str) -> dict:
        return self._api("GET", f"/v1/requests/{request_id}").json()

    def photo(self, request_id: str) -> PulledPhoto:
        response = self._api("GET", f"/v1/requests/{request_id}/photo")
        disposition = response.headers.get("content-disposition", "")
        filename = disposition.split("filename=", 1)[-1].strip('"') if "filename=" in disposition else ""
        return PulledPhoto(response.content, response.headers.get("photocore-signature", ""), filename,
                           response.headers.get("content-type", ""), response.headers.get("photocore-photo-id", ""))

    def signature(self, request_id: str) -> str:
        return self._api("GET", f"/v1/requests/{request_id}/signature").text
