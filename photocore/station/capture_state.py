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

import numpy as np

from ..judge import messages

# what no bundled model judges: the clerk confirms each one before accepting
CHECKLIST = ("head.covering", "face.occlusion", "jewellery.absent", "ears.visible")
RECEIPTS_KEPT = 50
RECEIPT_SECONDS = 3600.0


def checklist() -> list[dict]:
    texts = messages()
    return [{"code": code, "title_zh": texts[code]["title_zh"], "title_en": texts[code]["title_en"]}
            for code in CHECKLIST]


@dataclass
class Pending:
    token: str
    frame: np.ndarray  # RGB, as the camera gave it
    capture: object  # photocore.Capture
    report: object  # photocore.CheckReport
    taken_at: float  # time.time()


class Memory:
    """Pending captures by token and recent receipts by id; thread-safe (the WebSocket handlers
    and the accept route run concurrently)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}
        self._receipts: OrderedDict[str, tuple[float, dict]] = OrderedDict()

    def hold(self, frame, capture, report) -> Pending:
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
