"""Citizen login with the provincial app's single sign-on: a small OpenID Connect relying party.

Authorization code flow with PKCE (S256), ``state`` and ``nonce``, written with httpx and joserfc
so the service needs no other OAuth library. Why each check is here:

- the discovery document's ``issuer`` must equal the configured issuer exactly (OIDC Discovery
  §4.3), so a misconfigured or hijacked discovery URL cannot name another issuer's keys;
- ID tokens are accepted only when signed with RS256 or ES256 by a key from the issuer's JWKS,
  chosen by ``kid``: never ``none`` and never HS* (a JWKS public key or the client secret used
  as an HMAC key is the classic algorithm-confusion forgery);
- ``iss``, ``aud``/``azp``, ``exp``, ``iat`` and ``nonce`` are checked as OIDC Core §3.1.3.7
  asks, so a token minted for another client, another login or another time is refused;
- discovery and JWKS are cached for ``cache_ttl`` seconds; a token whose ``kid`` is not in the
  cached JWKS makes one refetch (the issuer rotated its keys), never more per token.

The caller keeps ``state``, ``nonce`` and ``code_verifier`` from :meth:`OidcClient.start` in the
user's session, compares the callback's ``state`` with the stored one (``hmac.compare_digest``)
before calling :meth:`OidcClient.finish`, and uses each set once.

Errors are :class:`LibraryError` with ``library.bad_token`` (the login or its ID token is not
acceptable), ``library.unavailable`` (the issuer cannot be reached or answered nonsense) or
``library.config`` (the options themselves are wrong). No message ever holds the client secret,
the code, the verifier or the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from typing import TypeGuard
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey, import_key

from ..sign.signer import allowing
from .config import resolve_reference
from .errors import LibraryError

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "ES256")  # what an ID token may be signed with; never "none", never HS*
DEFAULT_CACHE_TTL = 600.0  # seconds discovery and JWKS are trusted before being fetched again
DEFAULT_CLOCK_SKEW = 60.0  # seconds of clock difference tolerated on iat and exp
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _bad_token(message: str) -> LibraryError:
    log.warning("OpenID login refused: %s", message)
    return LibraryError(f"login refused: {message}", code="library.bad_token")


def _unavailable(message: str) -> LibraryError:
    log.warning("OpenID issuer unavailable: %s", message)
    return LibraryError(f"the login service cannot be used: {message}", code="library.unavailable")


def _url_ok(url: object) -> TypeGuard[str]:
    """HTTPS only, except plain HTTP to this machine (tests, a sidecar): tokens and the client
    secret must not cross a network in clear."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if not parts.hostname or parts.fragment:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge of a verifier (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    """One relying party for one issuer and client id; safe to share between threads.

    ``options`` is the ``oidc`` dict of :class:`~photocore.library.config.LibraryConfig`:
    ``{"issuer": URL, "client_id": str, "client_secret": "env:NAME" | "file:PATH" | None,
    "id_claim": "id_number"}``. With a secret the client authenticates to the token endpoint
    with HTTP Basic (client_secret_basic); without one it is a public client that PKCE protects.
    """

    def __init__(self, options: dict, *, http: httpx.Client | None = None, cache_ttl: float = DEFAULT_CACHE_TTL,
                 clock_skew: float = DEFAULT_CLOCK_SKEW, timeout: float = 10.0):
        if not isinstance(options, dict):
            raise LibraryError("the OpenID Connect options must be a dict", code="library.config")
        issuer = options.get("issuer")
        if not _url_ok(issuer) or urlsplit(issuer).query:
            raise LibraryError("the OpenID issuer must be an https:// URL without query (http:// only to "
                               "127.0.0.1 or localhost)", code="library.config")
        client_id = options.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise LibraryError("the OpenID client_id must be a non-empty string", code="library.config")
        id_claim = options.get("id_claim") or "id_number"
        if not isinstance(id_claim, str):
            raise LibraryError("the OpenID id_claim must be a claim name", code="library.config")
        secret_ref = options.get("client_secret")
        if secret_ref is not None and not isinstance(secret_ref, str):
            raise LibraryError("the OpenID client secret must be given as env:NAME or file:PATH", code="library.config")
        self.issuer: str = issuer
        self.client_id: str = client_id
        self.id_claim: str = id_claim
        # resolved once, held only here; __repr__ and every message leave it out
        self._secret: str | None = resolve_reference(secret_ref, "the OpenID client secret") if secret_ref else None
        self.cache_ttl = float(cache_ttl)
        self.clock_skew = float(clock_skew)
        self._own_http = http is None
        self._http = http or httpx.Client(timeout=timeout, follow_redirects=False)
        self._lock = threading.Lock()
        self._metadata: dict | None = None
        self._metadata_at = 0.0
        self._keys: list[tuple[str | None, RSAKey | ECKey]] | None = None
        self._keys_at = 0.0
        self._keys_uri: str | None = None

    def __repr__(self) -> str:
        return f"OidcClient(issuer={self.issuer!r}, client_id={self.client_id!r}, confidential={self.confidential})"

    @property
    def confidential(self) -> bool:
        """True when a client secret is configured (client_secret_basic at the token endpoint)."""
        return self._secret is not None

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> OidcClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- issuer metadata and keys ------------------------------------------------------------

    def _get_json(self, url: str, what: str) -> dict:
        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise _unavailable(f"cannot fetch the {what} from {url} ({type(exc).__name__}: {exc})") from exc
        if response.status_code != 200:
            raise _unavailable(f"the {what} at {url} answered HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError as exc:
            raise _unavailable(f"the {what} at {url} is not JSON") from exc
        if not isinstance(document, dict):
            raise _unavailable(f"the {what} at {url} is not a JSON object")
        return document

    def metadata(self, *, refresh: bool = False) -> dict:
        """The issuer's discovery document, checked and cached for ``cache_ttl`` seconds."""
        with self._lock:
            now = time.monotonic()
            if refresh or self._metadata is None or now - self._metadata_at >= self.cache_ttl:
                url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
                document = self._get_json(url, "OpenID discovery document")
                if document.get("issuer") != self.issuer:
                    raise _unavailable(f"the discovery document at {url} names issuer "
                                       f"{str(document.get('issuer'))[:200]!r}, not the configured {self.issuer!r}")
                for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not _url_ok(document.get(name)):
                        raise _unavailable(f"the discovery document at {url} has no usable {name} "
                                           "(https:// required)")
                self._metadata, self._metadata_at = document, now
                log.info("OpenID discovery for %s loaded", self.issuer)
            return self._metadata

    def _load_keys(self, jwks_uri: str) -> list[tuple[str | None, RSAKey | ECKey]]:
        """Fetch the JWKS and keep only keys that may verify an ID token: RSA, and EC on P-256,
        meant for signatures. Symmetric ("oct") keys are never taken from a JWKS."""
        document = self._get_json(jwks_uri, "JWKS")
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise _unavailable(f"the JWKS at {jwks_uri} has no keys list")
        keys: list[tuple[str | None, RSAKey | ECKey]] = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC"):
                continue
            if entry.get("use", "sig") != "sig":
                continue
            if entry.get("kty") == "EC" and entry.get("crv") != "P-256":
                continue
            public = {k: v for k, v in entry.items() if k not in ("d", "p", "q", "dp", "dq", "qi", "oth")}
            try:
                key = import_key(public)
            except (JoseError, ValueError, TypeError) as exc:
                log.warning("skipping an unusable key in the JWKS at %s: %s", jwks_uri, type(exc).__name__)
                continue
            if not isinstance(key, RSAKey | ECKey):  # kty was RSA or EC: never another kind
                continue
            kid = entry.get("kid")
            keys.append((kid if isinstance(kid, str) else None, key))
        log.info("OpenID JWKS for %s loaded: %d signing key(s)", self.issuer, len(keys))
        return keys

    def _signing_keys(self, *, refresh: bool = False) -> list[tuple[str | None, RSAKey | ECKey]]:
        jwks_uri = self.metadata()["jwks_uri"]
        with self._lock:
            now = time.monotonic()
            if (refresh or self._keys is None or self._keys_uri != jwks_uri
                    or now - self._keys_at >= self.cache_ttl):
                self._keys, self._keys_at, self._keys_uri = self._load_keys(jwks_uri), now, jwks_uri
            return self._keys

    @staticmethod
    def _pick(keys, kid: str | None, alg: str):
        kty = "RSA" if alg == "RS256" else "EC"
        usable = [key for key_id, key in keys
                  if key.key_type == kty and key.get("alg", alg) == alg and (kid is None or key_id == kid)]
        if kid is None:
            return usable[0] if len(usable) == 1 else None  # no kid: only when the choice is unambiguous
        return usable[0] if usable else None

    # -- the flow ------------------------------------------------------------------------------

    def start(self, redirect_uri: str) -> tuple[str, str, str, str]:
        """Begin a login: ``(authorization_url, state, nonce, code_verifier)``. Send the user to
        the URL; keep the other three in their session for :meth:`finish`."""
        if not isinstance(redirect_uri, str) or not redirect_uri:
            raise LibraryError("redirect_uri must be an absolute URL", code="library.config")
        endpoint = self.metadata()["authorization_endpoint"]
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        code_verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43-128
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
                  "scope": "openid", "state": state, "nonce": nonce,
                  "code_challenge": s256(code_verifier), "code_challenge_method": "S256"}
        parts = urlsplit(endpoint)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
        url = urlunsplit(parts._replace(query=urlencode(query + list(params.items()))))
        return url, state, nonce, code_verifier

    def _redeem(self, code: str, redirect_uri: str, code_verifier: str) -> str:
        """Exchange the code at the token endpoint; the ID token it answers with (not yet checked)."""
        endpoint = self.metadata()["token_endpoint"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": code_verifier}
        headers = {"Accept": "application/json"}
        if self._secret is not None:
            # RFC 6749 §2.3.1: id and secret are form-encoded before Basic's base64
            pair = f"{quote_plus(self.client_id)}:{quote_plus(self._secret)}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            form["client_id"] = self.client_id
        try:
            response = self._http.post(endpoint, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise _unavailable(f"cannot reach the token endpoint {endpoint} ({type(exc).__name__}: {exc})") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            error = body.get("error") if isinstance(body, dict) else None
            error = error[:64] if isinstance(error, str) else None
            if response.status_code == 400 and error in ("invalid_grant", "invalid_request"):
                # a code used twice, expired, for another redirect_uri, or a wrong PKCE verifier
                raise _bad_token(f"the issuer refused the authorization code ({error})")
            raise _unavailable(f"the token endpoint {endpoint} answered HTTP {response.status_code}"
                               + (f" ({error})" if error else ""))
        if not isinstance(body, dict):
            raise _unavailable(f"the token endpoint {endpoint} did not answer a JSON object")
        id_token = body.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise _unavailable(f"the token endpoint {endpoint} answered without an id_token")
        return id_token

    def _verify_signature(self, id_token: str) -> dict:
        try:
            header = jws.extract_compact(id_token.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise _bad_token("the ID token is not a compact JWS") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise _bad_token(f"the ID token is signed with {str(alg)[:20]!r}; "
                             f"only {', '.join(ALGORITHMS)} are accepted")
        if kid is not None and not isinstance(kid, str):
            raise _bad_token("the ID token's kid is not a string")
        key = self._pick(self._signing_keys(), kid, alg)
        if key is None:
            # a kid we have not seen: the issuer may have rotated its keys since we cached them
            key = self._pick(self._signing_keys(refresh=True), kid, alg)
        if key is None:
            raise _bad_token(f"no {alg} key with kid {str(kid)[:64]!r} in the issuer's JWKS")
        try:
            token = jwt.decode(id_token, key, registry=allowing([alg]))
        except JoseError as exc:
            raise _bad_token(f"the ID token's signature does not verify ({type(exc).__name__})") from exc
        if not isinstance(token.claims, dict):
            raise _bad_token("the ID token's payload is not a JSON object")
        return dict(token.claims)

    def check_claims(self, claims: dict, nonce: str, *, now: float | None = None) -> dict:
        """The OIDC Core §3.1.3.7 checks on already signature-verified claims."""
        now = time.time() if now is None else now
        if claims.get("iss") != self.issuer:
            raise _bad_token(f"the ID token was issued by {str(claims.get('iss'))[:200]!r}, not {self.issuer!r}")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences) \
                or self.client_id not in audiences:
            raise _bad_token("the ID token is not meant for this client (aud)")
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != self.client_id:
            raise _bad_token("the ID token was issued to another party (azp)")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not _is_number(exp) or not _is_number(iat):
            raise _bad_token("the ID token lacks a numeric exp or iat")
        if exp + self.clock_skew <= now:
            raise _bad_token("the ID token has expired")
        if iat > now + self.clock_skew:
            raise _bad_token("the ID token is issued in the future (iat)")
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not isinstance(nonce, str) or not nonce \
                or not hmac.compare_digest(sent.encode(), nonce.encode()):
            raise _bad_token("the ID token's nonce does not match this login")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise _bad_token("the ID token has no subject (sub)")
        self.person_id(claims)
        return claims

    def finish(self, code: str, redirect_uri: str, nonce: str, code_verifier: str) -> dict:
        """Redeem the callback's code and return the ID token's claims once every check passes."""
        if not isinstance(code, str) or not code or len(code) > 2048:
            raise _bad_token("the callback carries no usable authorization code")
        if not isinstance(code_verifier, str) or not code_verifier:
            raise _bad_token("no PKCE verifier for this login")
        id_token = self._redeem(code, redirect_uri, code_verifier)
        claims = self._verify_signature(id_token)
        return self.check_claims(claims, nonce)

    def person_id(self, claims: dict) -> str:
        """The citizen's ID number: the configured ``id_claim`` of verified claims."""
        value = claims.get(self.id_claim) if isinstance(claims, dict) else None
        if not isinstance(value, str) or not value.strip():
            raise _bad_token(f"the ID token has no {self.id_claim!r} claim")
        return value.strip()
