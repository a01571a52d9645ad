"""What one station is: its key store, where captures go, and who is at the counter.

Kept apart from the app so that the CLI, the tests and an integrator's own launcher build the
same object, and so that a wrong passphrase or a library without keys fails at start-up, not
when the first citizen is waiting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError

DEFAULT_PORT = 8401


@dataclass
class StationConfig:
    keys: str | Path | None = None  # the station's key store (photocore keys init); None: unsigned, folder only
    library: str | None = None  # the shared photo library's URL; None: write to ``out``
    station: str = "station-1"  # on every capture's signed manifest
    operator: str | None = None
    device: str | None = None
    out: Path = field(default_factory=lambda: Path("station-out"))
    credentials: tuple[str, ...] | None = None  # None: every credential of the catalogue

    def __post_init__(self):
        self.out = Path(self.out)
        if self.library and not self.keys:
            raise ConfigError("--library needs the station's key store to sign and bind its captures: "
                              "give --keys DIR (or PHOTOCORE_KEYS)", code="config.invalid")
        if self.library and not self.library.startswith(("http://", "https://")):
            raise ConfigError(f"--library must be an http(s) URL, not {self.library!r}", code="config.invalid")

    @classmethod
    def from_args(cls, args) -> "StationConfig":
        return cls(keys=args.keys or os.environ.get("PHOTOCORE_KEYS") or None, library=args.library,
                   station=args.station or os.environ.get("PHOTOCORE_STATION", "station-1"),
                   operator=args.operator or os.environ.get("PHOTOCORE_OPERATOR"),
                   device=os.environ.get("PHOTOCORE_DEVICE"), out=Path(args.out))
