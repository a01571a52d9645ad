"""What one station is: its key store, where captures go, and who is at the counter.

Kept apart from the app so that the CLI, the tests and an integrator's own launcher build the
same object, and so that a wrong passphrase or a library without keys fails at start-up, not
when the first citizen is waiting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..deadline import Deadline
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
    systems: str | Path | None = None  # agency systems file: accepted photos are queued in the outbox
    data_dir: str | None = None  # the outbox's folder (else $PHOTOCORE_HOME, ~/.photocore)
    database: str | None = None  # a shared PostgreSQL outbox (else $PHOTOCORE_DATABASE_URL)
    outbox_key_file: str | None = None  # else $PHOTOCORE_OUTBOX_KEY, as `photocore push`
    booth: bool = False  # self-service: the citizen takes up to ``shots`` photos and picks one
    shots: int = 3
    deadline: float = 30.0  # seconds one accepted capture may take to convert (capture.deadline past it)

    def __post_init__(self):
        self.out = Path(self.out)
        if self.library and not self.keys:
            raise ConfigError("--library needs the station's key store to sign and bind its captures: "
                              "give --keys DIR (or PHOTOCORE_KEYS)", code="config.invalid")
        if self.library and not self.library.startswith(("http://", "https://")):
            raise ConfigError(f"--library must be an http(s) URL, not {self.library!r}", code="config.invalid")
        if self.library and self.systems:
            raise ConfigError("give --library (publish to the shared photo library) or --systems (queue for "
                              "agency systems in the outbox), not both", code="config.invalid")
        if self.systems and not self.keys:
            raise ConfigError("--systems hands over signed photos only: give --keys DIR (or PHOTOCORE_KEYS)",
                              code="config.invalid")
        if not 1 <= int(self.shots) <= 9:
            raise ConfigError("--shots takes 1 to 9", code="config.invalid")
        Deadline(self.deadline)  # a ConfigError now, not at the first capture

    @classmethod
    def from_args(cls, args) -> StationConfig:
        return cls(keys=args.keys or os.environ.get("PHOTOCORE_KEYS") or None, library=args.library,
                   station=args.station or os.environ.get("PHOTOCORE_STATION", "station-1"),
                   operator=args.operator or os.environ.get("PHOTOCORE_OPERATOR"),
                   device=os.environ.get("PHOTOCORE_DEVICE"), out=Path(args.out),
                   systems=getattr(args, "systems", None), data_dir=getattr(args, "data_dir", None),
                   database=getattr(args, "database", None), outbox_key_file=getattr(args, "outbox_key_file", None),
                   booth=bool(getattr(args, "booth", False)), shots=getattr(args, "shots", None) or 3,
                   deadline=getattr(args, "deadline", None) or 30.0)
