"""The one place a captured photo lives before the clerk accepts it: this process's memory.

Why: nothing about a citizen may be stored until the photo is accepted. Each WebSocket
connection holds at most one pending capture, reachable through a random one-time token (the
page receives it over its own WebSocket only); retake, accept or a closed connection forgets
it. Receipts are kept the same way, a bounded number and for a short time, so the clerk can
print again; the files themselves are in the library or the output folder.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..judge import messages

if TYPE_CHECKING:  # the station's pages load before the face models do
    from ..check import CheckReport
    from ..decode import Capture

# what no bundled model judges: the clerk confirms each one before accepting
CHECKLIST = ("head.covering", "face.occlusion", "jewellery.absent", "ears.visible")
RECEIPTS_KEPT = 50
RECEIPT_SECONDS = 3600.0


# at a self-service booth nobody else looks: the citizen answers the same items as questions
QUESTIONS = {
    "head.covering": ("您是否未戴帽子、头巾等遮盖头部的物品（宗教或医疗原因除外）？",
                      "Is your head uncovered (no hat or scarf, unless for religious or medical reasons)?"),
    "face.occlusion": ("您的脸部（眉毛、眼睛、脸颊）是否没有被头发或其他物品遮挡？",
                       "Is your face (eyebrows, eyes, cheeks) free of hair or anything else covering it?"),
    "jewellery.absent": ("您是否已摘下耳环、项链等首饰？",
                         "Have you taken off earrings, necklaces and other jewellery?"),
    "ears.visible": ("您的双耳是否露出？", "Are both your ears visible?"),
}


def checklist() -> list[dict]:
    texts = messages()
    return [{"code": code, "title_zh": texts[code]["title_zh"], "title_en": texts[code]["title_en"],
             "question_zh": QUESTIONS[code][0], "question_en": QUESTIONS[code][1]}
            for code in CHECKLIST]


@dataclass
class Pending:
    token: str
    frame: np.ndarray  # RGB, as the camera gave it
    capture: Capture
    report: CheckReport  # the live check of the master capture; its ``analysis`` is converted on accept
    taken_at: float  # time.time()


class Memory:
    """Pending captures by token and recent receipts by id; thread-safe (the WebSocket handlers
    and the accept route run concurrently)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}
        self._receipts: OrderedDict[str, tuple[float, dict]] = OrderedDict()

    def hold(self, frame: np.ndarray, capture: Capture, report: CheckReport) -> Pending:
        pending = Pending(secrets.token_urlsafe(24), frame, capture, report, time.time())
        with self._lock:
            self._pending[pending.token] = pending
        return pending

    def peek(self, token: str) -> Pending | None:
        with self._lock:
            return self._pending.get(token)

    def take(self, token: str) -> Pending | None:
        """The pending capture, removed: a token works once."""
        with self._lock:
            return self._pending.pop(token, None)

    def forget(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._pending.pop(token, None)

    def keep_receipt(self, receipt: dict) -> str:
        rid = secrets.token_urlsafe(12)
        now = time.monotonic()
        with self._lock:
            self._receipts[rid] = (now, receipt)
            while len(self._receipts) > RECEIPTS_KEPT or (
                    self._receipts and now - next(iter(self._receipts.values()))[0] > RECEIPT_SECONDS):
                self._receipts.popitem(last=False)
        return rid

    def receipt(self, rid: str) -> dict | None:
        with self._lock:
            item = self._receipts.get(rid)
        if item is None or time.monotonic() - item[0] > RECEIPT_SECONDS:
            return None
        return item[1]
