"""photocore: one ID-photo capture, checked for every credential.

The small public API a kiosk needs::

    capture = photocore.decode(path_or_bytes)      # typed DecodeError on bad input
                                                   # (or photocore.from_pixels(frame) for a live frame)
    analysis = photocore.analyse(capture)          # face models run once
    report = photocore.check(analysis)             # verdicts for the capture (and credentials)
    photos = photocore.convert(capture, ids)       # each credential's photo, or why not

Everything raised on purpose is a ``photocore.PhotocoreError`` with a stable ``code``.
"""

import sys
import types
from typing import TYPE_CHECKING

# Loaded on first use, so a process that needs only part of photocore (the photo library
# service, the catalogue tools) does not load the face models' libraries.
_EXPORTS = {"Analysis": "analysis", "analyse": "analysis", "CheckReport": "check", "check": "check",
            "Conversion": "convert", "convert": "convert", "Capture": "decode", "decode": "decode",
            "from_pixels": "decode", "AnalysisError": "errors", "ConfigError": "errors", "DecodeError": "errors",
            "PhotocoreError": "errors"}

if TYPE_CHECKING:
    from .analysis import Analysis, analyse
    from .check import CheckReport, check
    from .convert import Conversion, convert
    from .decode import Capture, decode, from_pixels
    from .errors import AnalysisError, ConfigError, DecodeError, PhotocoreError


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'photocore' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _Package(types.ModuleType):
    """Importing a submodule sets it as an attribute of its package, and three submodules share
    their name with a function exported here (``check``, ``convert``, ``decode``): the function
    is kept, as an eager ``from .check import check`` would have left it."""

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name and value.__name__ == f"{__name__}.{name}":
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = sorted(_EXPORTS)
