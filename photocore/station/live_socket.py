"""``/ws/live``: camera frames in (JPEG blobs), guidance out (JSON), one LiveSession per connection.

Why a WebSocket: the page sends the next frame only when the answer to the last one arrived,
so the preview never queues frames behind a slow analysis and the instruction on screen is at
most one frame old. Why one worker thread for the whole station: a counter has one camera, the
face models are loaded once per thread (``photocore.analyse``), and a LiveSession must be fed
from one thread at a time; the accept (convert and sign) runs on the same thread for the same
reason. A dropped connection closes its session and forgets its pending capture; a new
connection starts a fresh session.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time

import cv2
import numpy as np
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..judge import FAIL, NOT_ASSESSED
from ..live import LiveSession
from .capture_state import checklist

log = logging.getLogger("photocore.station")
MAX_FRAME_BYTES = 4 * 1024 * 1024  # a 1280x720 JPEG is ~100 kB; anything near this is not a camera frame

BAD_FRAME = {"code": "station.bad_frame", "message_zh": "收到的画面无法读取，请检查摄像头",
             "message_en": "The picture from the camera could not be read; please check the camera"}


def _json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, default=float)  # numpy scalars in the overlay


def jpeg_data_uri(rgb: np.ndarray, quality: int = 88) -> str:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def decode_frame(data: bytes) -> np.ndarray | None:
    if not data or len(data) > MAX_FRAME_BYTES:
        return None
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def captured_message(pending) -> dict:
    """What the clerk sees of the photo taken: the photo, the annotated check, every verdict
    that is not a pass, and the checklist of what no model judges."""
    from ..annotate import annotate
    report = pending.report
    verdicts = [v for r in report.results for v in r.verdicts]
    return {"type": "captured", "token": pending.token, "compliant": report.compliant,
            "image": jpeg_data_uri(pending.frame),
            "annotated": jpeg_data_uri(annotate(report.analysis, report.results)),
            "fails": [v.to_dict() for v in verdicts if v.status == FAIL],
            "not_assessed": [v.to_dict() for v in verdicts if v.status == NOT_ASSESSED],
            "checklist": checklist()}


async def live(websocket: WebSocket, worker, memory) -> None:
    loop = asyncio.get_running_loop()
    session = await loop.run_in_executor(worker, LiveSession)
    token = None
    start = time.monotonic()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            if message.get("text") is not None:
                try:
                    command = json.loads(message["text"]).get("type")
                except (ValueError, AttributeError):
                    command = None
                if command in ("retake", "reset"):
                    memory.forget(token)
                    token = None
                    await loop.run_in_executor(worker, session.retake if command == "retake" else session.reset)
                    await websocket.send_text(_json({"type": command}))
                continue
            frame = decode_frame(message.get("bytes") or b"")
            if frame is None:
                await websocket.send_text(_json({"type": "live", "instructions": [BAD_FRAME], "overlay": None}))
                continue
            t = time.monotonic() - start
            result = await loop.run_in_executor(worker, session.feed, frame, t)
            answer = {"type": "live", "instructions": [i.to_dict() for i in result.instructions],
                      "overlay": result.overlay.to_dict(), "size": [frame.shape[1], frame.shape[0]],
                      "compliant": result.compliant, "still": result.still}
            if result.captured is not None:
                memory.forget(token)
                c = result.captured
                pending = memory.hold(np.array(c.frame), c.capture, c.report)
                token = pending.token
                answer["captured"] = await loop.run_in_executor(worker, captured_message, pending)
                log.info("capture taken (frame %d of this session)", c.index)
            await websocket.send_text(_json(answer))
    except WebSocketDisconnect:
        pass
    finally:
        memory.forget(token)  # an unaccepted photo leaves with the connection
        await loop.run_in_executor(worker, session.close)
