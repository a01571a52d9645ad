"""photocore: one ID-photo capture, checked for every credential.

The small public API a kiosk needs::

    capture = photocore.decode(path_or_bytes)      # typed DecodeError on bad input
                                                   # (or photocore.from_pixels(frame) for a live frame)
    analysis = photocore.analyse(capture)          # the face models run, once
    report = photocore.check(analysis)             # verdicts for the capture (and credentials)
    photos = photocore.convert(analysis, ids)      # each credential's photo, or why not

``check`` and ``convert`` take an ``Analysis`` (nothing is analysed again: it keeps the upright
``Capture`` it was made from), a ``Capture``, or what ``decode`` reads. Their results are typed:
``CheckReport`` and ``Conversion``, made of ``Result`` (a credential's ``Verdict`` per
requirement), ``Outcome`` and ``Rendition`` (the photo, or its ``Failure`` reasons).

Everything raised on purpose is a ``photocore.PhotocoreError`` with a stable ``code``.
"""

import sys
import types
from typing import TYPE_CHECKING, Any

# Loaded on first use, so a process that needs only part of photocore (the photo library
# service, the catalogue tools) does not load the face models' libraries.
_EXPORTS = {"Analysis": "analysis", "analyse": "analysis", "CheckReport": "check", "check": "check",
            "Conversion": "convert", "Outcome": "convert", "convert": "convert", "Capture": "decode",
            "ImageSource": "decode", "decode": "decode", "from_pixels": "decode", "Result": "judge",
            "Verdict": "judge", "Failure": "render", "Rendition": "render", "AnalysisError": "errors",
            "ConfigError": "errors", "DecodeError": "errors", "PhotocoreError": "errors"}

if TYPE_CHECKING:  # what __getattr__ gives, for type checkers ("X as X": re-exported)
    from .analysis import Analysis as Analysis
    from .analysis import analyse as analyse
    from .check import CheckReport as CheckReport
    from .check import check as check
    from .convert import Conversion as Conversion
    from .convert import Outcome as Outcome
    from .convert import convert as convert
    from .decode import Capture as Capture
    from .decode import ImageSource as ImageSource
    from .decode import decode as decode
    from .decode import from_pixels as from_pixels
    from .errors import AnalysisError as AnalysisError
    from .errors import ConfigError as ConfigError
    from .errors import DecodeError as DecodeError
    from .errors import PhotocoreError as PhotocoreError
    from .judge import Result as Result
    from .judge import Verdict as Verdict
    from .render import Failure as Failure
    from .render import Rendition as Rendition


def __getattr__(name: str) -> Any:
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

    def __setattr__(self, name: str, value: object) -> None:
        if (isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name
                and value.__name__ == f"{__name__}.{name}"):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = sorted(_EXPORTS)
