"""The station's web app: the counter page, the live WebSocket, accept, and the receipt.

Everything is served by this process (Jinja2 templates, plain JS and CSS under ``/static``), so
the counter works offline and the page can run under a strict Content Security Policy (the
library's ``SecurityHeaders``: ``default-src 'self'``, no inline script or style). The page is
meant for the counter PC's own browser on 127.0.0.1 (a secure context, where getUserMedia is
allowed); the WebSocket and accept refuse other origins, so a web page opened elsewhere in the
same browser cannot drive the station.
"""

from __future__ import annotations

import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import segno
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp

from ..errors import PhotocoreError
from ..library.app import SecurityHeaders
from .capture_state import CHECKLIST, Memory, checklist
from .config import StationConfig
from .handover import AcceptError, Station, normalise_id_number
from .live_socket import live

log = logging.getLogger("photocore.station")
HERE = Path(__file__).parent
MAX_BODY = 64 * 1024  # accept's JSON; frames come over the WebSocket


def same_origin(headers) -> bool:
    """No Origin (a non-browser client) or the page's own origin."""
    origin = headers.get("origin")
    if not origin:
        return True
    return urlsplit(origin).netloc.lower() == (headers.get("host") or "").lower()


def qr_data_uri(text: str) -> str:
    """An SVG QR code as a data URI (allowed by the CSP's img-src). Never Micro QR, which segno
    picks for short texts: phone scanners rarely read it."""
    qr = segno.make(text, error="m", micro=False)
    return qr.svg_data_uri(scale=8, border=4, dark="#000", light="#fff")


def create_app(config: StationConfig) -> ASGIApp:
    station = Station(config)  # loads the key now: a wrong passphrase stops the start, not an accept
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="photocore-station")
    memory = Memory()

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        worker.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(lifespan=lifespan, title="photocore station", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.station, app.state.memory = station, memory
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/", response_class=HTMLResponse)
    def counter(request: Request):
        return templates.TemplateResponse(request, "counter.html", {
            "config": config, "checklist": checklist(), "credentials": len(station.credentials)})

    @app.get("/health")
    def health():
        return {"status": "ok", "station": config.station, "library": config.library,
                "signing": station.signer is not None}

    @app.websocket("/ws/live")
    async def ws_live(websocket: WebSocket):
        if not same_origin(websocket.headers):
            await websocket.close(code=1008)
            return
        await websocket.accept()
        await live(websocket, worker, memory, booth=config.booth, shots=config.shots)

    @app.post("/accept")
    async def accept(request: Request):
        if not same_origin(request.headers):
            return _refusal(AcceptError("accept comes from the station's own page only", code="station.origin"), 403)
        try:
            body = await request.json()
            token, id_text, ticked = body.get("token"), body.get("id_number"), set(body.get("checked") or ())
        except (ValueError, AttributeError):
            return _refusal(AcceptError("accept takes JSON {token, id_number, checked}", code="station.bad_request"))
        try:
            id_number = normalise_id_number(id_text)
            missing = [c for c in CHECKLIST if c not in ticked]
            if missing:
                raise AcceptError("the clerk confirms every item of the checklist first: " + ", ".join(missing),
                                  code="station.checklist")
        except AcceptError as exc:
            return _refusal(exc)
        pending = memory.take(str(token or ""))
        if pending is None:
            return _refusal(AcceptError("this photo is no longer waiting (accepted, retaken or the page closed): "
                                        "take it again", code="station.expired"), 409)
        try:
            receipt = await run_in_threadpool(lambda: worker.submit(station.accept, pending, id_number).result())
        except PhotocoreError as exc:
            log.warning("accept failed: %s", exc.code)
            return _refusal(exc, 502 if exc.code.startswith(("publish.", "library.")) else 422)
        rid = memory.keep_receipt(receipt)
        return {"receipt_url": f"/receipt/{rid}", **receipt}

    @app.get("/receipt/{rid}", response_class=HTMLResponse)
    def receipt(request: Request, rid: str):
        data = memory.receipt(rid)
        if data is None:
            return templates.TemplateResponse(request, "receipt.html", {"receipt": None, "config": config},
                                              status_code=404)
        qr = qr_data_uri(data["pickup_code"]) if data.get("pickup_code") else None
        return templates.TemplateResponse(request, "receipt.html", {"receipt": data, "qr": qr, "config": config})

    return SecurityHeaders(app, MAX_BODY)


def _refusal(exc: PhotocoreError, status: int = 400) -> JSONResponse:
    return JSONResponse({"code": exc.code, "message": exc.message}, status_code=status)
