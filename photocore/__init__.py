"""photocore: one ID-photo capture, checked for every credential.

The small public API a kiosk needs::

    capture = photocore.decode(path_or_bytes)      # typed DecodeError on bad input
    analysis = photocore.analyse(capture)          # face models run once
    report = photocore.check(analysis)             # verdicts for the capture (and credentials)
    report.compliant, report.to_dict()

Everything raised on purpose is a ``photocore.PhotocoreError`` with a stable ``code``.
"""

from .analysis import Analysis, analyse
from .check import CheckReport, check
from .decode import Capture, decode
from .errors import AnalysisError, ConfigError, DecodeError, PhotocoreError

__all__ = ["Analysis", "AnalysisError", "Capture", "CheckReport", "ConfigError", "DecodeError",
           "PhotocoreError", "analyse", "check", "decode"]
