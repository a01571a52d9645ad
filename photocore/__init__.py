"""photocore: one ID-photo capture, checked for every credential.

The small public API a kiosk needs::

    capture = photocore.decode(path_or_bytes)      # typed DecodeError on bad input
                                                   # (or photocore.from_pixels(frame) for a live frame)
    analysis = photocore.analyse(capture)          # face models run once
    report = photocore.check(analysis)             # verdicts for the capture (and credentials)
    photos = photocore.convert(capture, ids)       # each credential's photo, or why not

Everything raised on purpose is a ``photocore.PhotocoreError`` with a stable ``code``.
"""

from .analysis import Analysis, analyse
from .check import CheckReport, check
from .convert import Conversion, convert
from .decode import Capture, decode, from_pixels
from .errors import AnalysisError, ConfigError, DecodeError, PhotocoreError

__all__ = ["Analysis", "AnalysisError", "Capture", "CheckReport", "ConfigError", "Conversion", "DecodeError",
           "PhotocoreError", "analyse", "check", "convert", "decode", "from_pixels"]
