"""The library service's web app: the versioned API (``/v1``, OpenAPI at ``/openapi.json``) and
the pages ("我的照片" for citizens, the agency counter's QR page).

Errors are RFC 9457 problem documents with stable codes (see ``errors``). Every answer carries
security headers; photos and personal pages are never cached. Requests larger than the upload
limit are refused before they are read.
"""

from __future__ import annotations

import contextlib
import logging
import os

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import PhotocoreError
from .errors import LibraryError
from .service import Library

log = logging.getLogger("photocore.library")
PROBLEM = "application/problem+json"
REQUEST_THREADS = int(os.environ.get("PHOTOCORE_REQUEST_THREADS", "8"))
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


def problem_response(error: LibraryError) -> JSONResponse:
    headers = {"Retry-After": "900"} if error.code in ("library.rate_limited", "library.locked") else None
    return JSONResponse(error.problem(), status_code=error.status, media_type=PROBLEM, headers=headers)


class SecurityHeaders:
    """Pure ASGI middleware (cheap on every request): security headers, no caching of anything
    personal, and the upload size limit checked from Content-Length."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            response = problem_response(LibraryError(f"the request is larger than {self.max_body} bytes",
                                                     code="library.too_large"))
            return await response(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise LibraryError(f"the request is larger than {self.max_body} bytes", code="library.too_large")
            return message

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"x-frame-options", b"DENY"), (b"content-security-policy", CSP.encode()),
                         (b"cross-origin-opener-policy", b"same-origin")]
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = headers + [h for h in extra if h[0] not in names]
            await send(message)

        started = False

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except Exception as exc:  # noqa: BLE001 - a bug: answer 500 and log its type, never a traceback with request data
            log.error("internal error: %s", type(exc).__name__)
            if not started:
                await JSONResponse({"type": "urn:photocore:problem:library.internal", "title": "Internal error",
                                    "status": 500, "code": "library.internal"}, status_code=500,
                                   media_type=PROBLEM)(scope, receive, send_with_headers)


def create_app(library: Library) -> ASGIApp:
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        # Few request threads: the work is short and holds the GIL; 40 threads (anyio's default)
        # only take turns with each other, which costs latency (measured: benchmarks/serve.py).
        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        yield

    app = FastAPI(lifespan=lifespan, title="photocore shared photo library", version="1",
                  description="One capture, reused by every agency with the citizen's consent. "
                              "Errors are RFC 9457 problem details with a stable `code`.")
    app.state.library = library

    @app.exception_handler(LibraryError)
    async def _library_error(_request: Request, exc: LibraryError):
        return problem_response(exc)

    @app.exception_handler(PhotocoreError)
    async def _photocore_error(_request: Request, exc: PhotocoreError):
        return problem_response(LibraryError(exc.message, code="library.malformed"))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError):
        errors = exc.errors()
        unknown = [e for e in errors if e.get("type") == "extra_forbidden"]
        first = (unknown or errors or [{}])[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        code = "library.unknown_field" if unknown else "library.malformed"
        return problem_response(LibraryError(f"{where}: {first.get('msg', 'invalid')}", code=code))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            from .errors import not_found
            return problem_response(not_found())
        return JSONResponse({"type": "about:blank", "title": str(exc.detail), "status": exc.status_code,
                             "code": f"http.{exc.status_code}"}, status_code=exc.status_code, media_type=PROBLEM)

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception):  # Starlette re-raises it: SecurityHeaders logs it
        return JSONResponse({"type": "urn:photocore:problem:library.internal", "title": "Internal error",
                             "status": 500, "code": "library.internal"}, status_code=500, media_type=PROBLEM)

    @app.get("/v1/health", tags=["service"], summary="200 once the service can reach its database")
    def health() -> dict:
        return library.health()

    @app.post("/v1/captures", tags=["stations"], status_code=201,
              summary="Publish a signed conversion (multipart: id_number, binding, files[], master?)",
              description="Every photo's SD-JWT signature and the station's binding are verified against the "
                          "trust roots and revocation list before anything is stored. Idempotent by capture "
                          "(the station's signature): publishing again adds nothing and issues a new pickup code.")
    async def publish(request: Request) -> dict:
        try:
            form = await request.form(max_files=1000, max_fields=10, max_part_size=library.config.max_upload)
        except LibraryError:
            raise
        except Exception as exc:  # python-multipart's parse errors
            raise LibraryError(f"unreadable multipart upload: {type(exc).__name__}", code="library.malformed") from exc
        allowed = {"id_number", "binding", "files", "master"}
        unknown = sorted(set(form.keys()) - allowed)
        if unknown:
            raise LibraryError(f"unknown field(s): {', '.join(unknown)}", code="library.unknown_field")
        id_number, binding = form.get("id_number"), form.get("binding")
        if not isinstance(id_number, str) or not isinstance(binding, str):
            raise LibraryError("id_number and binding are required text fields", code="library.malformed")
        files = {}
        for upload in form.getlist("files"):
            if isinstance(upload, str) or not upload.filename or "/" in upload.filename or upload.filename in files:
                raise LibraryError("each file needs a unique plain file name", code="library.malformed")
            files[upload.filename] = await upload.read()
        master = form.get("master")
        master_bytes = await master.read() if master is not None and not isinstance(master, str) else None
        published = await run_in_threadpool(library.publish, id_number, files, binding, master_bytes)
        return published.to_dict()

    from . import api_agency, pages  # they use this module's problem_response
    api_agency.install(app, library)
    pages.install(app, library)
    return SecurityHeaders(app, library.config.max_upload + 1024 * 1024)
