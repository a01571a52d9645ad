"""A real OpenID Provider on 127.0.0.1 for the login tests, run by uvicorn in a background thread.

It stands in for the provincial app's single sign-on, so the relying party
(photocore.library.oidc) is tested over real HTTP against discovery, JWKS, an authorization page
and a token endpoint that check what a real provider checks (client, redirect_uri, PKCE, single
use codes), and can be told to misbehave in the ways a relying party must notice.

    issuer = LocalIssuer().start()
    issuer.url, issuer.client_id, issuer.client_secret   # secret is None with confidential=False
    issuer.next_login = "330106199001011234"             # prefills the "log in as" form
    issuer.misbehave = "expired"                          # see MISBEHAVIOURS
    issuer.extra_claims = {"azp": "x", "nonce": None}     # merged into the next ID tokens; None removes
    issuer.rotate()                                       # publish a new key and sign with it
    issuer.requests["/jwks"]                              # how often each path was asked
    issuer.stop()
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import html
import json
import secrets
import socket
import threading
import time
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

import uvicorn
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

HOST = "127.0.0.1"
CODE_TTL = 60  # seconds an authorization code may wait before redemption
TOKEN_TTL = 300  # seconds an ID token lives

MISBEHAVIOURS = {
    None: "behave",
    "wrong_issuer": "ID tokens carry another iss",
    "wrong_discovery_issuer": "the discovery document names another issuer",
    "wrong_audience": "ID tokens are for another client",
    "multiple_audiences": "aud lists this client and another, without azp",
    "expired": "ID tokens expired ten minutes ago",
    "future_iat": "ID tokens are issued ten minutes in the future",
    "bad_signature": "ID tokens are signed by an unpublished key under the current kid",
    "unknown_kid": "ID tokens are signed by an unpublished key with an unpublished kid",
    "no_nonce": "ID tokens carry no nonce",
    "no_id_claim": "ID tokens carry no ID number claim",
    "alg_none": "ID tokens are unsigned (alg none)",
    "hs256": "ID tokens are HMAC-signed with the client secret",
    "token_error": "the token endpoint answers 500",
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _with_query(url: str, params: dict) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _oauth_error(error: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status, headers={"Cache-Control": "no-store"})


class LocalIssuer:
    """One client registration (``client_id``, ``client_secret`` or a public client) and a
    signing key set, served over HTTP on a free port of 127.0.0.1."""

    def __init__(self, *, client_id: str = "photocore-library", confidential: bool = True,
                 id_claim: str = "id_number", redirect_uris: list[str] | None = None):
        self.client_id = client_id
        self.client_secret: str | None = secrets.token_urlsafe(24) if confidential else None
        self.id_claim = id_claim
        self.redirect_uris = redirect_uris  # None: any redirect_uri is accepted (still bound to its code)
        self.next_login: str | None = None
        self.extra_claims: dict = {}
        self._misbehave: str | None = None
        self.requests: collections.Counter = collections.Counter()
        self._lock = threading.Lock()
        self._keys: list[RSAKey | ECKey] = []
        self._codes: dict[str, dict] = {}
        self._add_key("RS256")
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None
        self.url: str = ""

    # -- keys ----------------------------------------------------------------------------------

    def _add_key(self, alg: str) -> RSAKey | ECKey:
        kid = f"k{len(self._keys) + 1}-{secrets.token_hex(4)}"
        if alg == "RS256":
            key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
        elif alg == "ES256":
            key = ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": "ES256"})
        else:
            raise ValueError(f"no {alg} keys here")
        with self._lock:
            self._keys.append(key)
        return key

    @property
    def signing_key(self) -> RSAKey | ECKey:
        return self._keys[-1]

    def rotate(self, alg: str = "RS256") -> str:
        """Publish a new key (the old ones stay in the JWKS) and sign from now on with it; its kid."""
        return self._add_key(alg).kid

    def jwks(self) -> dict:
        with self._lock:
            return {"keys": [key.as_dict(private=False) for key in self._keys]}

    # -- misbehaviour --------------------------------------------------------------------------

    @property
    def misbehave(self) -> str | None:
        return self._misbehave

    @misbehave.setter
    def misbehave(self, mode: str | None) -> None:
        if mode not in MISBEHAVIOURS:
            raise ValueError(f"unknown misbehaviour {mode!r}; one of {sorted(m for m in MISBEHAVIOURS if m)}")
        self._misbehave = mode

    def behave(self) -> None:
        """Back to a correct provider (for fixtures shared between tests)."""
        self._misbehave, self.extra_claims, self.next_login = None, {}, None

    # -- tokens --------------------------------------------------------------------------------

    def id_token(self, grant: dict) -> str:
        """The ID token for a redeemed code, bent as ``misbehave`` and ``extra_claims`` say."""
        now, mode = int(time.time()), self._misbehave
        claims = {"iss": self.url, "sub": "sub-" + hashlib.sha256(grant["id_number"].encode()).hexdigest()[:16],
                  "aud": self.client_id, "iat": now, "exp": now + TOKEN_TTL, "auth_time": grant["auth_time"],
                  self.id_claim: grant["id_number"]}
        if grant.get("nonce") is not None:
            claims["nonce"] = grant["nonce"]
        if mode == "wrong_issuer":
            claims["iss"] = self.url + "/elsewhere"
        elif mode == "wrong_audience":
            claims["aud"] = "someone-else"
        elif mode == "multiple_audiences":
            claims["aud"] = [self.client_id, "someone-else"]
        elif mode == "expired":
            claims["iat"], claims["exp"] = now - 1200, now - 600
        elif mode == "future_iat":
            claims["iat"] = now + 600
        elif mode == "no_nonce":
            claims.pop("nonce", None)
        elif mode == "no_id_claim":
            claims.pop(self.id_claim, None)
        for name, value in self.extra_claims.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        key = self.signing_key
        alg = key.get("alg")
        header = {"alg": alg, "kid": key.kid}
        if mode == "alg_none":
            head = _b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": key.kid}).encode())
            return f"{head}.{_b64url(json.dumps(claims).encode())}."
        if mode == "hs256":
            secret = (self.client_secret or "public-client").encode()
            return jwt.encode({"alg": "HS256", "kid": key.kid}, claims, OctKey.import_key(secret), algorithms=["HS256"])
        if mode in ("bad_signature", "unknown_kid"):
            key = RSAKey.generate_key(2048)
            header = {"alg": "RS256", "kid": self.signing_key.kid if mode == "bad_signature" else "unpublished"}
        return jwt.encode(header, claims, key, algorithms=[header["alg"]])

    # -- HTTP ----------------------------------------------------------------------------------

    def _count(self, request: Request) -> None:
        self.requests[request.url.path] += 1

    async def _discovery(self, request: Request) -> Response:
        self._count(request)
        issuer = self.url + "/other" if self._misbehave == "wrong_discovery_issuer" else self.url
        return JSONResponse({
            "issuer": issuer,
            "authorization_endpoint": self.url + "/authorize",
            "token_endpoint": self.url + "/token",
            "jwks_uri": self.url + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            "scopes_supported": ["openid"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", self.id_claim],
        })

    async def _jwks(self, request: Request) -> Response:
        self._count(request)
        return JSONResponse(self.jwks())

    def _check_authorize(self, params) -> str | None:
        """What is wrong with an authorization request, or None."""
        if params.get("client_id") != self.client_id:
            return "unknown client_id"
        redirect_uri = params.get("redirect_uri") or ""
        if not redirect_uri.startswith(("http://", "https://")):
            return "redirect_uri missing"
        if self.redirect_uris is not None and redirect_uri not in self.redirect_uris:
            return "redirect_uri not registered"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if "openid" not in (params.get("scope") or "").split():
            return "scope must include openid"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE S256 required"
        return None

    async def _authorize(self, request: Request) -> Response:
        """GET: the "log in as" page; POST: the login, answered with a redirect carrying the code."""
        self._count(request)
        params = dict(request.query_params) if request.method == "GET" else dict(await request.form())
        problem = self._check_authorize(params)
        if problem:  # never redirect to an unchecked redirect_uri: show the error here
            return HTMLResponse(f"<p>bad request: {html.escape(problem)}</p>", status_code=400)
        if request.method == "GET":
            prefill = params.get("login_hint") or self.next_login or ""
            hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                             for k, v in params.items() if k not in ("login_hint", "id_number"))
            return HTMLResponse(
                '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>省政务服务 登录</title>'
                '<form method="post" action="/authorize">'
                f'<label>Log in as (ID number) <input name="id_number" value="{html.escape(prefill)}"></label>'
                f'{hidden}<button type="submit">Log in</button></form></html>')
        id_number = (params.get("id_number") or "").strip()
        if not id_number:
            return HTMLResponse("<p>enter an ID number</p>", status_code=400)
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = {"client_id": params["client_id"], "redirect_uri": params["redirect_uri"],
                                 "nonce": params.get("nonce"), "code_challenge": params["code_challenge"],
                                 "id_number": id_number, "auth_time": int(time.time()),
                                 "expires": time.time() + CODE_TTL}
        answer = {"code": code}
        if params.get("state"):
            answer["state"] = params["state"]
        return RedirectResponse(_with_query(params["redirect_uri"], answer), status_code=303)

    def _client_id_of(self, request: Request, form: dict) -> str | None:
        """The authenticated client: Basic with the secret for a confidential client, a bare
        client_id in the form for a public one."""
        if self.client_secret is None:
            return form.get("client_id") if "authorization" not in request.headers else None
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except ValueError:
            return None
        client_id, secret = unquote_plus(client_id), unquote_plus(secret)
        if client_id == self.client_id and hmac.compare_digest(secret.encode(), self.client_secret.encode()):
            return client_id
        return None

    async def _token(self, request: Request) -> Response:
        self._count(request)
        if self._misbehave == "token_error":
            return Response("upstream exploded", status_code=500)
        form = dict(await request.form())
        client_id = self._client_id_of(request, form)
        if client_id != self.client_id:
            return _oauth_error("invalid_client", 401)
        if form.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type")
        with self._lock:
            grant = self._codes.pop(form.get("code") or "", None)  # single use, even if what follows fails
        if grant is None or grant["expires"] < time.time() or grant["client_id"] != client_id \
                or grant["redirect_uri"] != form.get("redirect_uri"):
            return _oauth_error("invalid_grant")
        verifier = form.get("code_verifier") or ""
        challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
        if not hmac.compare_digest(challenge, grant["code_challenge"]):
            return _oauth_error("invalid_grant")
        return JSONResponse({"access_token": secrets.token_urlsafe(32), "token_type": "Bearer",
                             "expires_in": TOKEN_TTL, "scope": "openid", "id_token": self.id_token(grant)},
                            headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self._discovery),
            Route("/jwks", self._jwks),
            Route("/authorize", self._authorize, methods=["GET", "POST"]),
            Route("/token", self._token, methods=["POST"]),
        ])

    # -- process -------------------------------------------------------------------------------

    def start(self) -> LocalIssuer:
        """Listen on a free port (the socket is bound here, so no other process can take it)."""
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((HOST, 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        config = uvicorn.Config(self.app(), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="test-oidc-issuer", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the local OpenID issuer did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop listening and close the port: afterwards the issuer is unreachable."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> LocalIssuer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
