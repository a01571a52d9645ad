"""The citizen's pages ("我的照片") and the agency counter's QR page, served by the library app.

Server-rendered Jinja2 templates, one stylesheet and one small script from ``/static`` (the
app's CSP allows nothing inline and nothing from elsewhere). Chinese by default, English with
``?lang=en`` (remembered in a cookie). Why the pieces are as they are:

- **Sessions are stateless** like the service: an HS256 JWT in an HttpOnly, SameSite=Lax cookie
  (Secure over https), signed with a key derived from ``library.keys.session``, holding only
  the person key and a 20-minute expiry (the cookie itself lasts until the browser closes, so
  the login page can tell the citizen their session ended). Any process of the deployment can
  read it; nothing is stored. An OpenID login in flight (state, nonce, PKCE verifier) is a second such cookie,
  10 minutes long, scoped to ``/me/oidc``.
- **CSRF**: every POST form carries an HMAC of the session cookie (so the token dies with the
  session), and the handler also checks that Origin (or Referer) names this host. The pages
  send ``Referrer-Policy: same-origin`` instead of the app's ``no-referrer``, because under
  ``no-referrer`` browsers send ``Origin: null`` on form posts and the check could not work.
  The login form, having no session yet, carries a token bound to its own (signed) time.
- **One not-found page** for unknown ids and other people's ids alike (the service raises the
  same ``not_found()`` for both).
- The counter page is opened with a per-request token (``library.counter_token``) and shows the
  QR code, the credential and the status only: nothing about the person.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import logging
import time
import zipfile
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import segno
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from starlette.concurrency import run_in_threadpool

from ..catalogue import Catalogue
from .api_agency import notify_decision
from .errors import LibraryError, not_found
from .page_text import LANGS, TEXT, pick_lang, text
from .service import GRANT_DAYS, Library

log = logging.getLogger("photocore.library.pages")

HERE = Path(__file__).parent
TEMPLATES, STATIC = HERE / "templates", HERE / "static"
SESSION_COOKIE, OIDC_COOKIE, LANG_COOKIE = "photocore_session", "photocore_oidc", "photocore_lang"
SESSION_SECONDS = 20 * 60  # a session lasts this long; logging in again with the code is cheap
OIDC_SECONDS = 10 * 60  # an OpenID login must come back within this
LOGIN_FORM_SECONDS = 60 * 60  # a login form may be this old
LANG_SECONDS = 365 * 86400
CST = dt.timezone(dt.timedelta(hours=8))  # the pages show Beijing time (China has no daylight saving)
THUMB_PREFERENCE = ("police.resident-id-card", "police.passport", "hrss.social-security-card")
MEDIA_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}
AGENCY_ACTIONS = ("request", "approve", "refuse", "pull", "revoke")
DONE_NOTICES = ("approved", "refused", "revoked", "deleted", "logged_out")


class LoginNeeded(Exception):
    """The page needs a session and the request has none (or an expired one)."""


# -- signed cookies and CSRF tokens ---------------------------------------------------------------


def _subkey(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, f"photocore-pages:{purpose}".encode(), hashlib.sha256).digest()


class Sessions:
    """Stateless signed cookies (HS256 JWTs) and the CSRF tokens bound to them."""

    def __init__(self, session_secret: bytes):
        self._jwt_key = OctKey.import_key(_subkey(session_secret, "jwt"))
        self._csrf_key = _subkey(session_secret, "csrf")

    def issue(self, kind: str, claims: dict, seconds: int) -> str:
        now = int(time.time())
        return jwt.encode({"alg": "HS256"}, {**claims, "kind": kind, "iat": now, "exp": now + seconds},
                          self._jwt_key, algorithms=["HS256"])

    def read(self, kind: str, value: str | None) -> dict | None:
        """The claims of a valid, unexpired cookie of this kind, else None."""
        if not value or len(value) > 4096:
            return None
        try:
            token = jwt.decode(value, self._jwt_key, algorithms=["HS256"])
            jwt.JWTClaimsRegistry(exp={"essential": True}, kind={"essential": True, "value": kind}).validate(
                token.claims)
        except (JoseError, ValueError, TypeError):
            return None
        return dict(token.claims)

    def csrf_token(self, binding: str) -> str:
        return hmac.new(self._csrf_key, binding.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, binding: str, token: str) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(binding), token)

    def login_token(self) -> str:
        """The login form's token: no session exists yet, so it is bound to its own time."""
        stamp = str(int(time.time()))
        return f"{stamp}.{self.csrf_token('login:' + stamp)}"

    def login_token_ok(self, token: str) -> bool:
        stamp, _, mac = (token or "").partition(".")
        if not stamp.isdigit() or time.time() - int(stamp) > LOGIN_FORM_SECONDS:
            return False
        return self.csrf_ok("login:" + stamp, mac)


# -- names and times ------------------------------------------------------------------------------


class Names:
    """Agency and credential names from the catalogue, in the page's language."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue

    def credential(self, credential_id: str | None, lang: str) -> str:
        profile = self.catalogue.credentials.get(credential_id or "")
        if profile is None:
            return credential_id or ""
        return profile.name_en if lang == "en" else profile.name_zh

    def agency(self, agency_id: str | None, lang: str) -> str:
        agency = self.catalogue.agencies.get(agency_id or "")
        if agency is None:
            return agency_id or ""
        return agency.name_en if lang == "en" else agency.name_zh


def day(ts: float | None) -> str:
    return "" if ts is None else dt.datetime.fromtimestamp(ts, CST).strftime("%Y-%m-%d")


def minute(ts: float | None) -> str:
    return "" if ts is None else dt.datetime.fromtimestamp(ts, CST).strftime("%Y-%m-%d %H:%M")


def _iso_ts(value: str | None) -> float | None:
    return None if not value else dt.datetime.fromisoformat(value).timestamp()


# -- what the overview shows ----------------------------------------------------------------------


def _thumb_photo(photos: list[dict]) -> dict | None:
    """The photo a capture is shown by: a browser-viewable, still valid one, the ID card's first."""
    viewable = [p for p in photos if p["extension"] in MEDIA_TYPES]
    for preferred in THUMB_PREFERENCE:
        for p in viewable:
            if p["credential"] == preferred and p["valid"]:
                return p
    return next((p for p in viewable if p["valid"]), viewable[0] if viewable else None)


def capture_view(capture: dict, names: Names, lang: str) -> dict:
    photos = [{**p, "name": names.credential(p["credential"], lang), "until": day(p["valid_until"])}
              for p in capture["photos"]]
    photos.sort(key=lambda p: (not p["valid"], p["name"]))
    thumb = _thumb_photo(capture["photos"])
    return {"id": capture["capture_id"], "taken": minute(capture["captured_at"]), "station": capture["station"],
            "photos": photos, "valid": sum(p["valid"] for p in photos), "total": len(photos),
            "thumb": thumb["photo_id"] if thumb else None}


def request_view(req: dict, names: Names, lang: str) -> dict:
    return {**req, "agency_name": names.agency(req["agency"], lang),
            "credential_name": names.credential(req["credential"], lang),
            "requested": minute(_iso_ts(req["created_at"])), "until": minute(_iso_ts(req["expires_at"]))}


def grant_view(grant: dict, names: Names, lang: str) -> dict:
    state = "active" if grant["active"] else "revoked" if grant["revoked_at"] else "ended"
    return {**grant, "state": state, "agency_name": names.agency(grant["agency"], lang),
            "credential_name": names.credential(grant["credential"], lang),
            "granted": day(grant["created_at"]), "until": day(grant["expires_at"])}


def history_line(row: dict, names: Names, lang: str) -> dict:
    fields = {"agency": names.agency(row["agency"], lang), "credential": names.credential(row["credential"], lang),
              "station": (row["actor"] or "").removeprefix("station:"), "action": row["action"]}
    key = f"act_{row['action']}"
    what = text(key if key in TEXT else "act_other", lang, **fields)
    ref = row["reference"] if row["action"] in ("request", "approve", "refuse", "pull") else None
    return {"at": minute(row["at"]), "what": what, "ref": ref, "action": row["action"],
            "agency_side": row["action"] in AGENCY_ACTIONS}


# -- the counter ------------------------------------------------------------------------------------


def qr_data_uri(url: str) -> str:
    return segno.make(url, error="m", micro=False).svg_data_uri(scale=10, border=4)


def _notify(library: Library, decision: dict) -> None:
    """Tell the agency (its webhook). A failure there must not hide the citizen's decision, which
    is already committed: it is logged, by type only, and the agency can still poll."""
    try:
        notify_decision(library, decision)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("notifying the agency of a decision failed: %s", type(exc).__name__)


def _safe_next(value: str | None) -> str:
    """Only a path of these pages may follow a login (never another site: ``//evil`` or ``/\\evil``)."""
    if value and value.startswith("/me") and not value.startswith(("//", "/\\")) and "\\" not in value:
        return value
    return "/me"


# -- the pages ------------------------------------------------------------------------------------


class Pages:
    """Route handlers over one ``Library``; holds nothing per request."""

    def __init__(self, library: Library):
        self.library = library
        self.sessions = Sessions(library.keys.session)
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True)
        self._oidc = None

    # -- request helpers --------------------------------------------------------------------
    def lang(self, request: Request) -> str:
        return pick_lang(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))

    def base_url(self, request: Request) -> str:
        return self.library.public_url(str(request.base_url))

    def person(self, request: Request) -> str | None:
        claims = self.sessions.read("session", request.cookies.get(SESSION_COOKIE))
        sub = claims.get("sub") if claims else None
        return sub if isinstance(sub, str) else None

    def csrf(self, request: Request) -> str:
        return self.sessions.csrf_token("session:" + request.cookies.get(SESSION_COOKIE, ""))

    def same_origin(self, request: Request) -> bool:
        """Origin (else Referer) must name this host, or the configured public URL's."""
        allowed = {request.headers.get("host", "")}
        if self.library.config.public_url:
            allowed.add(urlsplit(self.library.config.public_url).netloc)
        origin = request.headers.get("origin")
        source = origin if origin and origin != "null" else request.headers.get("referer")
        return bool(source) and urlsplit(source).netloc in allowed

    def check_post(self, request: Request, token: str) -> str:
        """The person behind a POST whose session, CSRF token and origin are all right."""
        person = self.person(request)
        if person is None:
            raise LoginNeeded()
        if not self.same_origin(request) or not self.sessions.csrf_ok(
                "session:" + request.cookies.get(SESSION_COOKIE, ""), token):
            raise LibraryError("the form is missing its token, or comes from another site", code="library.csrf")
        return person

    def secure(self, request: Request) -> bool:
        return request.url.scheme == "https"

    def set_cookie(self, request: Request, response: Response, name: str, value: str, seconds: int | None,
                   path: str = "/") -> None:
        """HttpOnly, SameSite=Lax, Secure over https. ``seconds`` None: gone when the browser closes."""
        response.set_cookie(name, value, max_age=seconds, path=path, httponly=True, samesite="lax",
                            secure=self.secure(request))

    # -- rendering --------------------------------------------------------------------------
    def render(self, request: Request, template: str, status: int = 200, here: str | None = None,
               **context) -> HTMLResponse:
        """A page in the request's language; its language link leads back to ``here`` (default: this
        page with its query) in the other language."""
        lang = self.lang(request)
        other = "en" if lang == "zh" else "zh"
        if here is None:
            query = {k: v for k, v in request.query_params.items() if k not in ("lang", "done")}
            here = f"{request.url.path}?{urlencode(query)}" if query else request.url.path
        lang_url = f"{here}{'&' if '?' in here else '?'}lang={other}"
        page = self.env.get_template(template).render(
            t=lambda key, **fields: text(key, lang, **fields), lang=lang, other_lang=other, lang_url=lang_url,
            **context)
        response = HTMLResponse(page, status_code=status, headers={"Referrer-Policy": "same-origin"})
        if request.query_params.get("lang") in LANGS:
            self.set_cookie(request, response, LANG_COOKIE, lang, LANG_SECONDS)
        return response

    def error_page(self, request: Request, error: LibraryError) -> HTMLResponse:
        """The page for a refusal. Not-found is one page, byte for byte, whatever the id was."""
        keys = {"library.not_found": ("nf_title", "nf_body"), "library.csrf": ("csrf_title", "csrf_body")}
        title_key, body_key = keys.get(error.code, ("error_title", "error_body"))
        return self.render(request, "message.html", error.status, here="/me", title_key=title_key,
                           body_key=body_key, code=None if error.code == "library.not_found" else error.code,
                           csrf=None)

    def to_login(self, request: Request, next_path: str | None = None) -> RedirectResponse:
        target = next_path or request.url.path
        return RedirectResponse(f"/me/login?next={quote(_safe_next(target))}", status_code=303)

    def guarded(self, request: Request, action, csrf: str | None = None):
        """Run ``action(person)`` for a logged-in person (and, for a POST, a valid CSRF token);
        a missing session leads to the login, a refusal to its page."""
        try:
            person = self.person(request) if csrf is None else self.check_post(request, csrf)
            if person is None:
                raise LoginNeeded()
            return action(person)
        except LoginNeeded:
            return self.to_login(request, None if request.method == "GET" else "/me")
        except LibraryError as exc:
            return self.error_page(request, exc)

    # -- login ------------------------------------------------------------------------------
    def login_page(self, request: Request, error_key: str | None = None, status: int = 200,
                   next_path: str | None = None) -> HTMLResponse:
        done = request.query_params.get("done")
        notice = f"done_{done}" if done in DONE_NOTICES else None
        if notice is None and error_key is None and request.cookies.get(SESSION_COOKIE):
            notice = "err_session"  # a session cookie that no longer opens anything: it ran out
        next_path = _safe_next(next_path or request.query_params.get("next"))
        here = "/me/login" + (f"?{urlencode({'next': next_path})}" if next_path != "/me" else "")
        return self.render(request, "login.html", status, here=here, error_key=error_key, csrf=None,
                           login_token=self.sessions.login_token(), oidc=bool(self.library.config.oidc),
                           next=next_path, notice_key=notice)

    def start_session(self, request: Request, person: str, next_path: str) -> RedirectResponse:
        response = RedirectResponse(_safe_next(next_path), status_code=303)
        token = self.sessions.issue("session", {"sub": person}, SESSION_SECONDS)
        # a browser-session cookie: the JWT's own expiry ends it, and the login page can then say so
        self.set_cookie(request, response, SESSION_COOKIE, token, None)
        return response

    def login(self, request: Request, code: str, last6: str, token: str, next_path: str) -> Response:
        if not self.same_origin(request) or not self.sessions.login_token_ok(token):
            return self.error_page(request, LibraryError("login form forged or expired", code="library.csrf"))
        code, last6 = code.strip(), last6.strip().upper()
        if not code or len(last6) != 6 or not last6.isalnum():
            return self.login_page(request, "err_malformed", 400, next_path)
        client = request.client.host if request.client else "unknown"
        try:
            person = self.library.login_with_code(code, last6, client)
        except LibraryError as exc:
            key = {"library.locked": "err_locked", "library.rate_limited": "err_rate_limited",
                   "library.unauthorized": "err_unauthorized"}.get(exc.code, "err_malformed")
            return self.login_page(request, key, exc.status, next_path)
        return self.start_session(request, person, next_path)

    # -- OpenID Connect ---------------------------------------------------------------------
    def oidc_client(self):
        if self._oidc is None:
            from .oidc import OidcClient
            self._oidc = OidcClient(self.library.config.oidc)
        return self._oidc

    def oidc_start(self, request: Request) -> Response:
        if not self.library.config.oidc:
            return self.error_page(request, not_found())
        redirect_uri = self.base_url(request) + "/me/oidc/callback"
        try:
            url, state, nonce, verifier = self.oidc_client().start(redirect_uri)
        except LibraryError as exc:
            log.warning("OpenID login could not start: %s", exc.code)
            return self.login_page(request, "err_oidc_unavailable", 503)
        cookie = self.sessions.issue("oidc", {"state": state, "nonce": nonce, "cv": verifier,
                                              "next": _safe_next(request.query_params.get("next"))}, OIDC_SECONDS)
        response = RedirectResponse(url, status_code=303)
        self.set_cookie(request, response, OIDC_COOKIE, cookie, OIDC_SECONDS, path="/me/oidc")
        return response

    def oidc_callback(self, request: Request) -> Response:
        if not self.library.config.oidc:
            return self.error_page(request, not_found())
        flow = self.sessions.read("oidc", request.cookies.get(OIDC_COOKIE))
        state, code = request.query_params.get("state", ""), request.query_params.get("code", "")
        if flow is None or request.query_params.get("error") or not code \
                or not hmac.compare_digest(str(flow.get("state", "")).encode(), state.encode()):
            return self.login_page(request, "err_oidc", 400)
        try:
            client = self.oidc_client()
            claims = client.finish(code, self.base_url(request) + "/me/oidc/callback", flow["nonce"], flow["cv"])
            person = self.library.login_with_id_number(client.person_id(claims))
        except LibraryError as exc:
            key = "err_oidc_unavailable" if exc.code in ("library.unavailable", "library.config") else "err_oidc"
            return self.login_page(request, key, 503 if key == "err_oidc_unavailable" else 401)
        response = self.start_session(request, person, flow.get("next") or "/me")
        response.delete_cookie(OIDC_COOKIE, path="/me/oidc")
        return response

    @property
    def names(self) -> Names:
        """Names from the catalogue as its files are now: take them once per request (each
        look at the catalogue checks its files)."""
        return Names(self.library.catalogue)

    # -- the overview and its actions ---------------------------------------------------------
    def overview(self, request: Request, person: str) -> HTMLResponse:
        lang = self.lang(request)
        data = self.library.overview(person)
        done = request.query_params.get("done")
        names = self.names
        rows = [history_line(h, names, lang) for h in data["history"]]
        return self.render(
            request, "me.html", csrf=self.csrf(request),
            captures=[capture_view(c, names, lang) for c in data["captures"]],
            pending=[request_view(r, names, lang) for r in data["requests"] if r["status"] == "pending"],
            grants=[grant_view(g, names, lang) for g in data["grants"]],
            agency_history=[r for r in rows if r["agency_side"]], history=rows,
            notice_key=f"done_{done}" if done in DONE_NOTICES else None,
            notice_agency=names.agency(request.query_params.get("agency"), lang))

    def photo(self, person: str, photo_id: str, download: bool) -> Response:
        photo = self.library.citizen_photo(person, photo_id, "download" if download else "view")
        if not download:
            ext = photo.filename.rsplit(".", 1)[-1].lower()
            return Response(photo.data, media_type=MEDIA_TYPES.get(ext, "application/octet-stream"),
                            headers={"Cache-Control": "no-store", "Content-Disposition": "inline"})
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(photo.filename, photo.data)
            archive.writestr(photo.filename + ".jws", photo.jws)
        name = f"photocore-{photo.credential}.zip"
        return Response(buffer.getvalue(), media_type="application/zip",
                        headers={"Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="{name}"'})

    def one_request(self, request: Request, person: str, request_id: str, status: int = 200,
                    error_key: str | None = None) -> HTMLResponse:
        lang = self.lang(request)
        req = request_view(self.library.request_for_citizen(person, request_id), self.names, lang)
        photo = req.get("photo")
        taken = None
        if photo:
            capture = next((c for c in self.library.overview(person)["captures"]
                            if c["capture_id"] == photo["capture_id"]), None)
            taken = minute(capture["captured_at"]) if capture else None
        done = request.query_params.get("done")
        return self.render(request, "request.html", status, csrf=self.csrf(request), req=req, photo=photo,
                           photo_taken=taken, photo_until=day(photo["valid_until"]) if photo else None,
                           grant_days=GRANT_DAYS,
                           error_key=error_key, notice_key=f"done_{done}" if done in DONE_NOTICES else None)

    async def decide(self, request: Request, request_id: str, decision: str, token: str, back: str) -> Response:
        try:
            person = self.check_post(request, token)
        except LoginNeeded:
            return self.to_login(request, f"/me/requests/{request_id}")
        except LibraryError as exc:
            return self.error_page(request, exc)
        if decision not in ("approve", "refuse"):
            return self.error_page(request, LibraryError("decision must be approve or refuse",
                                                         code="library.malformed"))
        try:
            outcome = await run_in_threadpool(self.library.decide, person, request_id, decision == "approve")
        except LibraryError as exc:
            if exc.code != "library.conflict":
                return self.error_page(request, exc)
            return await run_in_threadpool(self.one_request, request, person, request_id, 409, "err_conflict")
        await run_in_threadpool(_notify, self.library, outcome)
        done = "approved" if outcome["status"] == "approved" else "refused"
        target = f"/me/requests/{request_id}" if back == "request" else "/me"
        return RedirectResponse(f"{target}?{urlencode({'done': done, 'agency': outcome['agency']})}",
                                status_code=303)

    def delete_page(self, request: Request, person: str, capture_id: str) -> HTMLResponse:
        lang = self.lang(request)
        capture = next((c for c in self.library.overview(person)["captures"] if c["capture_id"] == capture_id), None)
        if capture is None:
            raise not_found()
        return self.render(request, "delete.html", csrf=self.csrf(request),
                           capture=capture_view(capture, self.names, lang))

    # -- the counter ------------------------------------------------------------------------
    def counter_status(self, request: Request, request_id: str, token: str) -> dict:
        req = self.library.request_for_counter(request_id, token)
        label = {"pending": "counter_waiting", "approved": "counter_approved", "refused": "counter_refused",
                 "expired": "counter_expired"}.get(req["status"], "counter_waiting")
        return {**req, "label": text(label, self.lang(request)), "final": req["status"] != "pending"}

    def counter(self, request: Request, request_id: str, token: str) -> HTMLResponse:
        lang = self.lang(request)
        try:
            state = self.counter_status(request, request_id, token)
        except LibraryError as exc:
            return self.error_page(request, exc)
        url = f"{self.base_url(request)}/me/requests/{quote(request_id)}"
        status_url = f"/counter/{quote(request_id)}/status?{urlencode({'t': token, 'lang': lang})}"
        names = self.names
        response = self.render(request, "counter.html", csrf=None, qr=qr_data_uri(url), target=url,
                               state=state, status_url=status_url,
                               credential_name=names.credential(state["credential"], lang),
                               agency_name=names.agency(state["agency"], lang))
        response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's URL
        return response


def install(app: FastAPI, library: Library) -> None:
    """Add the pages and ``/static`` to the library app."""
    pages = Pages(library)
    router = APIRouter(include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @router.get("/me/login")
    def login_form(request: Request):
        if pages.person(request) is not None:
            return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
        return pages.login_page(request)

    @router.post("/me/login")
    def login(request: Request, code: str = Form(""), last6: str = Form(""), csrf: str = Form(""),
              next: str = Form("/me")):
        return pages.login(request, code, last6, csrf, next)

    @router.get("/me/oidc/start")
    def oidc_start(request: Request):
        return pages.oidc_start(request)

    @router.get("/me/oidc/callback")
    def oidc_callback(request: Request):
        return pages.oidc_callback(request)

    @router.post("/me/logout")
    def logout(request: Request, csrf: str = Form("")):
        def out(_person):
            response = RedirectResponse("/me/login?done=logged_out", status_code=303)
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response
        return pages.guarded(request, out, csrf=csrf)

    @router.get("/me")
    def me(request: Request):
        return pages.guarded(request, lambda person: pages.overview(request, person))

    @router.get("/me/photos/{photo_id}/thumb")
    def thumb(request: Request, photo_id: str):
        return pages.guarded(request, lambda person: pages.photo(person, photo_id, download=False))

    @router.get("/me/photos/{photo_id}/download")
    def download(request: Request, photo_id: str):
        return pages.guarded(request, lambda person: pages.photo(person, photo_id, download=True))

    @router.get("/me/requests/{request_id}")
    def one_request(request: Request, request_id: str):
        return pages.guarded(request, lambda person: pages.one_request(request, person, request_id))

    @router.post("/me/requests/{request_id}/decide")
    async def decide(request: Request, request_id: str, decision: str = Form(""), csrf: str = Form(""),
                     back: str = Form("me")):
        return await pages.decide(request, request_id, decision, csrf, back)

    @router.post("/me/grants/{grant_id}/revoke")
    def revoke(request: Request, grant_id: str, csrf: str = Form("")):
        def act(person):
            pages.library.revoke_grant(person, grant_id)
            return RedirectResponse("/me?done=revoked#grants", status_code=303)
        return pages.guarded(request, act, csrf=csrf)

    @router.get("/me/captures/{capture_id}/delete")
    def delete_form(request: Request, capture_id: str):
        return pages.guarded(request, lambda person: pages.delete_page(request, person, capture_id))

    @router.post("/me/captures/{capture_id}/delete")
    def delete(request: Request, capture_id: str, csrf: str = Form("")):
        def act(person):
            pages.library.delete_capture(person, capture_id)
            return RedirectResponse("/me?done=deleted", status_code=303)
        return pages.guarded(request, act, csrf=csrf)

    @router.get("/counter/{request_id}")
    def counter(request: Request, request_id: str, t: str = ""):
        return pages.counter(request, request_id, t)

    @router.get("/counter/{request_id}/status")
    def counter_status(request: Request, request_id: str, t: str = ""):
        try:
            state = pages.counter_status(request, request_id, t)
        except LibraryError as exc:
            from .app import problem_response
            return problem_response(exc)
        return JSONResponse({"status": state["status"], "label": state["label"], "final": state["final"]},
                            headers={"Cache-Control": "no-store"})

    app.include_router(router)
