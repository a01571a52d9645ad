"""Live guidance at the counter: camera frames in, one instruction at a time and the photo out.

    from photocore.live import LiveSession

    with LiveSession() as session:
        for frame in camera:                      # HxWx3 uint8 RGB
            result = session.feed(frame)
            say(result.instruction)               # most important first; .message_zh / .message_en
            draw(result.overlay)                  # face box, eye line, crown and chin lines, target
            if result.captured:                   # the full check passed on the best recent frame
                photos = photocore.convert(result.captured.report.analysis, credentials)  # no second analysis

Tracking keeps each frame far cheaper than a full analysis (``tracker.py``); the full check
runs on the chosen frame only (``session.py``). Codes and ranking: ``instructions.py``.
"""

from .frames import read_frames
from .instructions import RANK, Instruction
from .session import LiveCapture, LiveResult, LiveSession, LiveStats, Overlay

__all__ = ["Instruction", "LiveCapture", "LiveResult", "LiveSession", "LiveStats", "Overlay", "RANK", "read_frames"]
