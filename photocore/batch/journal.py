"""The batch journal: one JSON line per finished capture, appended and fsynced.

A line is written only after the capture's photos are in place, so a capture in the journal
is complete; a batch killed mid-write leaves at most one torn last line, which is ignored on
``--resume`` (that capture is simply done again). The reports are rebuilt from the journal, so
a resumed batch reports every capture, whichever run converted it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..private_files import mkdir_private, open_private

NAME = "journal.jsonl"


class Journal:
    def __init__(self, out_dir, resume: bool):
        self.dir = Path(out_dir) / ".photocore-batch"
        mkdir_private(self.dir)
        self.path = self.dir / NAME
        self.records: dict[str, dict] = {}
        if resume and self.path.exists():
            self._load()
        elif self.path.exists():
            self.path.unlink()  # a fresh batch into the same folder starts a fresh journal
        self._fh = open_private(self.path, "a", encoding="utf-8")

    def _load(self) -> None:
        with open(self.path, "rb") as fh:
            data = fh.read()
        good = 0
        for line in data.split(b"\n"):
            if not line.strip():
                good += len(line) + 1
                continue
            try:
                record = json.loads(line)
            except ValueError:
                break  # a torn last line from a kill: drop it and everything after
            self.records[record["capture"]] = record
            good += len(line) + 1
        if good < len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(min(good, len(data)))

    def done(self, capture: str) -> bool:
        return capture in self.records

    def add(self, record: dict) -> None:
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.records[record["capture"]] = record

    def close(self) -> None:
        self._fh.close()
