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

ERRORS = {
    "station.bad_frame": ("收到的画面无法读取，请检查摄像头",
                          "The picture from the camera could not be read; please check the camera"),
    "station.frame_too_large": ("收到的画面过大，请降低摄像头分辨率",
                                "The picture from the camera is too large; please lower the camera's resolution"),
    "station.bad_message": ("工位页面发送了无法识别的指令，请刷新页面", "The page sent a command the station does not "
                                                                "know; please reload the page"),
    "station.no_shots_left": ("已拍满，请从已拍的照片中选择一张", "No shots left: please pick one of the photos taken"),
    "station.unknown_shot": ("这张照片已失效，请重新选择或重拍",
                             "This photo is no longer waiting; pick another or retake"),
}


def error(code: str) -> dict:
    """A typed error the page can show: never a closed socket, never a traceback."""
    zh, en = ERRORS[code]
    item = {"code": code, "message_zh": zh, "message_en": en}
    return {"type": "error", **item, "instructions": [item]}


def _json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, default=float)  # numpy scalars in the overlay


def jpeg_data_uri(rgb: np.ndarray, quality: int = 88) -> str:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def decode_frame(data: bytes) -> np.ndarray | None:
    if not data or len(data) > MAX_FRAME_BYTES or data[:2] != b"\xff\xd8":  # JPEG only
        return None
    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        return None
    return None if bgr is None or bgr.ndim != 3 else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def thumbnail(rgb: np.ndarray, height: int = 240) -> str:
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)
    return jpeg_data_uri(small, quality=80)


def shot_message(pending, number: int, shots: int) -> dict:
    """Booth mode: one more photo on the strip (a thumbnail), not yet the review."""
    return {"type": "shot", "token": pending.token, "number": number, "of": shots, "left": shots - number,
            "compliant": pending.report.compliant, "thumbnail": thumbnail(pending.frame)}


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


async def live(websocket: WebSocket, worker, memory, booth: bool = False, shots: int = 3) -> None:
    """One connection, one LiveSession. Clerk mode: a capture goes straight to review (``captured``).
    Booth mode: each capture is a ``shot`` on the strip; ``retake`` guides again until ``shots``
    were taken; ``{"type": "pick", "token": ...}`` sends the chosen one's review (``picked``) and
    forgets the others. Text commands: retake, reset, pick. Anything else is a typed ``error``."""
    loop = asyncio.get_running_loop()
    session = await loop.run_in_executor(worker, LiveSession)
    token = None  # the photo under review
    strip: list[str] = []  # booth: the shots' tokens, in order
    start = time.monotonic()

    def forget_all():
        nonlocal token
        memory.forget(token)
        for t in strip:
            memory.forget(t)
        token = None
        strip.clear()

    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            if message.get("text") is not None:
                try:
                    body = json.loads(message["text"])
                    command = body.get("type")
                except (ValueError, AttributeError):
                    body, command = {}, None
                if command == "reset" or (command == "retake" and not booth):
                    forget_all()
                    await loop.run_in_executor(worker, session.retake if command == "retake" else session.reset)
                    await websocket.send_text(_json({"type": command}))
                elif command == "retake":  # booth: another shot, the strip stays
                    if token is not None:  # retake from the review of a picked shot: start over
                        forget_all()
                    if len(strip) >= shots:
                        await websocket.send_text(_json(error("station.no_shots_left")))
                        continue
                    memory.forget(token)
                    token = None
                    await loop.run_in_executor(worker, session.retake)
                    await websocket.send_text(_json({"type": "retake", "left": shots - len(strip)}))
                elif command == "pick" and booth:
                    chosen = str(body.get("token") or "")
                    pending = memory.peek(chosen) if chosen in strip else None
                    if pending is None:
                        await websocket.send_text(_json(error("station.unknown_shot")))
                        continue
                    for other in strip:
                        if other != chosen:
                            memory.forget(other)
                    strip[:] = [chosen]
                    token = chosen
                    review = await loop.run_in_executor(worker, captured_message, pending)
                    await websocket.send_text(_json({"type": "picked", "captured": review}))
                else:
                    await websocket.send_text(_json(error("station.bad_message")))
                continue
            data = message.get("bytes") or b""
            frame = decode_frame(data)
            if frame is None:
                code = "station.frame_too_large" if len(data) > MAX_FRAME_BYTES else "station.bad_frame"
                await websocket.send_text(_json(error(code)))
                continue
            t = time.monotonic() - start
            result = await loop.run_in_executor(worker, session.feed, frame, t)
            answer = {"type": "live", "instructions": [i.to_dict() for i in result.instructions],
                      "overlay": result.overlay.to_dict(), "size": [frame.shape[1], frame.shape[0]],
                      "compliant": result.compliant, "still": result.still}
            if result.captured is not None:
                c = result.captured
                if booth and len(strip) >= shots:  # cannot happen from the page; a stray frame
                    await websocket.send_text(_json(answer))
                    continue
                if not booth:
                    memory.forget(token)
                pending = memory.hold(np.array(c.frame), c.capture, c.report)
                if booth:
                    strip.append(pending.token)
                    answer["shot"] = await loop.run_in_executor(worker, shot_message, pending, len(strip), shots)
                else:
                    token = pending.token
                    answer["captured"] = await loop.run_in_executor(worker, captured_message, pending)
                log.info("capture taken (frame %d of this session)", c.index)
            await websocket.send_text(_json(answer))
    except WebSocketDisconnect:
        pass
    finally:
        forget_all()  # unaccepted photos leave with the connection
        await loop.run_in_executor(worker, session.close)
