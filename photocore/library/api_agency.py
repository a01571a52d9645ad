"""The agencies' API (``/v1``, tag "agencies"): a business system asks to reuse a citizen's photo
for one credential its agency issues, learns the citizen's answer (webhook or polling) and pulls
exactly that photo with the station's signature.

- ``POST /v1/oauth/token``: client credentials with ``private_key_jwt`` (see ``agency_auth``).
- ``POST /v1/requests``: a reuse request; the answer links the citizen's approval page and the
  counter page (a QR code of that link, for a citizen standing at the counter).
- ``GET /v1/requests/{id}``: its status. ``GET /v1/requests/{id}/photo``: the photo's bytes,
  with the signature (SD-JWT) in the ``Photocore-Signature`` header, and
  ``GET /v1/requests/{id}/signature`` for clients behind proxies that cap header size (nginx's
  default buffer is one 4 KB page; a signature is about 5 KB). Both are audited pulls.

Whatever an agency may not see (another agency's request, no grant, a revoked or expired grant,
a deleted or purged capture) gets the one ``not_found()`` answer from the service.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Form, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from ..deliver.transports.base import CONTENT_TYPES
from ..deliver.transports.http import webhook_signature
from .agency_auth import TOKEN_PATH, Agency, BearerError, authenticate, clients_for, issue_token
from .app import problem_response
from .config import resolve_reference
from .errors import LibraryError
from .service import Library

log = logging.getLogger("photocore.library")
WEBHOOK_TIMEOUT = 5.0
SD_JWT = "application/sd-jwt"  # RFC 9901's media type
_bearer = HTTPBearer(auto_error=False, scheme_name="agencyToken",
                     description=f"An access token from POST {TOKEN_PATH} (client credentials, private_key_jwt).")


BEARER: dict[str, Any] = {"security": [{"agencyToken": []}]}  # for routes that check the bearer token themselves


class ReuseRequest(BaseModel):
    """What an agency system asks for: one credential its agency issues, for one application."""

    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(min_length=1, max_length=64, description="the citizen's ID number (never stored)")
    credential: str = Field(min_length=1, max_length=100, description="a credential id the client's agency issues")
    application_ref: str = Field(min_length=1, max_length=200, description="the agency's application reference")
    purpose: str = Field(min_length=1, max_length=500, description="shown to the citizen when asked to approve")
    callback_url: str | None = Field(None, max_length=2000, pattern=r"^https?://[^/?#@\s]+",
                                     description="told of the decision (Standard Webhooks); same origin as the "
                                                 "client's registered webhook_url when it has one")


class RequestState(BaseModel):
    model_config = ConfigDict(extra="allow")
    request_id: str
    status: str = Field(description="pending, approved, refused or expired")
    credential: str


class RequestCreated(RequestState):
    approve_url: str = Field(description="where the citizen approves, online (我的照片)")
    counter_url: str = Field(description="the counter's page: a QR code of approve_url and the live status")


class TokenAnswer(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str


def _filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def install(app: FastAPI, library: Library) -> None:
    clients = clients_for(library)  # a bad clients file stops the process here, with its problems listed

    async def current_agency(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Agency:
        header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
        return authenticate(library, clients, header)

    async def bearer_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BearerError)  # the handler of BearerError only
        response = problem_response(exc)
        response.headers["WWW-Authenticate"] = exc.www_authenticate()
        return response

    app.add_exception_handler(BearerError, bearer_error)
    router = APIRouter(prefix="/v1", tags=["agencies"])
    who_asks = Depends(current_agency)  # a default value, not an annotation: annotations are strings here

    @router.post(TOKEN_PATH.removeprefix("/v1"), response_model=TokenAnswer,
                 summary="An access token for a client assertion (client credentials, private_key_jwt)",
                 description="RFC 6749 4.4 with RFC 7523 client authentication. The assertion is a JWT signed "
                             "with the client's registered key: iss = sub = client_id, aud = this endpoint's URL, "
                             "exp at most 300 s after iat, a jti never used before. Errors are problem documents "
                             "with our `code` and RFC 6749's `error`. Unknown form fields are ignored (RFC 6749 3.2).")
    def token(request: Request, grant_type: Annotated[str | None, Form()] = None,
              client_assertion_type: Annotated[str | None, Form()] = None,
              client_assertion: Annotated[str | None, Form()] = None,
              scope: Annotated[str | None, Form()] = None, client_id: Annotated[str | None, Form()] = None):
        form = {"grant_type": grant_type, "client_assertion_type": client_assertion_type,
                "client_assertion": client_assertion, "scope": scope, "client_id": client_id}
        answer = issue_token(library, clients, form, library.public_url(str(request.base_url)))
        return JSONResponse(answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @router.post("/requests", status_code=201, response_model=RequestCreated,
                 summary="Ask to reuse a citizen's photo for one credential your agency issues",
                 description="The answer is the same whether or not the person has a photo. The citizen approves "
                             "at approve_url (online) or by scanning the QR code on counter_url (at the counter).")
    def create_request(body: ReuseRequest, request: Request, response: Response, who: Agency = who_asks) -> dict:
        if body.callback_url:
            _check_callback(clients.get(who.client_id), body.callback_url)
        created = library.create_request(agency=who.agency, client_id=who.client_id, id_number=body.id_number,
                                         credential=body.credential, application_ref=body.application_ref,
                                         purpose=body.purpose, callback_url=body.callback_url)
        base, request_id = library.public_url(str(request.base_url)), created["request_id"]
        response.headers["Location"] = f"/v1/requests/{request_id}"
        return {**created, "approve_url": f"{base}/me/requests/{request_id}",
                "counter_url": f"{base}/counter/{request_id}?t={library.counter_token(request_id)}"}

    @router.get("/requests/{request_id}", response_model=RequestState,
                summary="A request's status (poll it, or register a webhook)")
    def request_status(request_id: str, who: Agency = who_asks) -> dict:
        return library.request_for_agency(who.agency, request_id)

    @router.get("/requests/{request_id}/photo", response_class=Response,
                summary="The approved photo's bytes; its signature (SD-JWT) in the Photocore-Signature header",
                responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/bmp": {}}}},
                openapi_extra=BEARER)
    async def photo(request_id: str, request: Request) -> Response:
        # the hot path (hundreds a second): the bearer check without FastAPI's dependency machinery
        who = authenticate(library, clients, request.headers.get("authorization"))
        pulled = await library.pull_async(who.agency, who.client_id, request_id)
        ext = pulled.filename.rsplit(".", 1)[-1].lower()
        return Response(pulled.data, media_type=CONTENT_TYPES.get(ext, "application/octet-stream"), headers={
            "Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="{_filename(pulled.filename)}"',
            "Photocore-Photo-Id": pulled.photo_id, "Photocore-Credential": pulled.credential,
            "Photocore-Signature": pulled.jws})

    @router.get("/requests/{request_id}/signature", response_class=Response,
                summary="The approved photo's signature (SD-JWT, RFC 9901): verify it against the issuing root",
                responses={200: {"content": {SD_JWT: {}}}}, openapi_extra=BEARER)
    async def signature(request_id: str, request: Request) -> Response:
        who = authenticate(library, clients, request.headers.get("authorization"))
        pulled = await library.pull_async(who.agency, who.client_id, request_id)
        return Response(pulled.jws, media_type=SD_JWT, headers={
            "Cache-Control": "no-store", "Photocore-Photo-Id": pulled.photo_id,
            "Content-Disposition": f'attachment; filename="{_filename(pulled.filename)}.jws"'})

    app.include_router(router)


def _origin(url: str) -> tuple[str, str]:
    parsed = httpx.URL(url)
    return parsed.scheme, f"{parsed.host}:{parsed.port or (443 if parsed.scheme == 'https' else 80)}"


def _check_callback(client, url: str) -> None:
    """A callback is signed with the client's webhook secret, so one is needed; and when the
    client registered a webhook_url, callbacks stay on its origin (the service is never aimed at
    hosts the agency did not register)."""
    if client is None or not client.webhook_secret:
        raise LibraryError("callback_url needs a webhook_secret registered for this client (to sign the call)",
                           code="library.malformed")
    try:
        if client.webhook_url and _origin(url) != _origin(client.webhook_url):
            raise LibraryError("callback_url must be on the origin of the client's registered webhook_url",
                               code="library.forbidden")
    except httpx.InvalidURL as exc:
        raise LibraryError("callback_url is not a valid URL", code="library.malformed") from exc


def notify_decision(library: Library, decision: dict, *, wait: bool = False) -> None:
    """Tell the agency that the citizen decided (``decision`` is what ``Library.decide`` returned):
    POST {type, request_id, status} to the request's callback_url or the client's webhook_url,
    signed as Standard Webhooks (v1, HMAC-SHA256 with the client's webhook secret). By default in
    a background thread, so a slow agency never holds up the citizen's page; failures are logged
    (no secret, no personal data) and dropped: agencies can always poll."""
    client = clients_for(library).get(decision.get("client_id"))
    if client is None or client.agency != decision.get("agency") or not client.webhook_secret:
        return
    url = decision.get("callback_url") or client.webhook_url
    if not url:
        return
    body = json.dumps({"type": "request.decided", "request_id": decision["request_id"],
                       "status": decision["status"]}, separators=(",", ":")).encode()
    args = (client, url, f"msg_{decision['request_id']}", body)
    if wait:
        _deliver(*args)
    else:
        threading.Thread(target=_deliver, args=args, daemon=True, name="photocore-webhook").start()


def _deliver(client, url: str, msg_id: str, body: bytes) -> None:
    where = f"request {msg_id.removeprefix('msg_')} to client {client.id}"
    try:
        secret = resolve_reference(client.webhook_secret, f"client {client.id}'s webhook_secret")
        stamp = int(time.time())
        headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(stamp),
                   "webhook-signature": webhook_signature(msg_id, stamp, body, secret=secret)}
        response = httpx.post(url, content=body, headers=headers, timeout=WEBHOOK_TIMEOUT)
        if not response.is_success:
            log.warning("webhook for %s: HTTP %d", where, response.status_code)
    except Exception as exc:  # noqa: BLE001 - a notification never fails the decision; polling remains
        log.warning("webhook for %s failed: %s", where, type(exc).__name__)
