"""Accept: every credential's photo from the captured frame, signed, and handed over.

Why here and not in the page: the station's key never leaves this process, and the clerk's
"accept" is the only moment anything about the citizen is written. The capture goes to the
shared photo library when one is configured (``publish``: the library verifies every signature
and answers the pickup code printed on the receipt), else to ``<out>/<capture id>/`` exactly as
``photocore convert --sign`` writes it; with an agency systems file, that folder is then pushed
to the durable outbox (``photocore.deliver.push``, as ``photocore push`` does) for every system
that takes one of its credentials, and ``photocore deliver`` delivers it. The time from accept
to handed over is measured and logged (never the ID number).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..catalogue import load_catalogue
from ..convert import convert
from ..errors import AcceptError
from .config import StationConfig

if TYPE_CHECKING:
    from .capture_state import Pending

log = logging.getLogger("photocore.station")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def normalise_id_number(text: str) -> str:
    """A resident ID number (GB 11643: 17 digits and a check character), checked: a typo at the
    counter would file the photos under nobody, or under someone else."""
    value = "".join(str(text or "").split()).upper()
    if len(value) != 18 or not value[:17].isdigit() or value[17] not in "0123456789X":
        raise AcceptError("an ID number has 18 characters: 17 digits and a digit or X", code="station.bad_id_number")
    check = "10X98765432"[sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True)) % 11]
    if value[17] != check:
        raise AcceptError("the ID number's check character does not match: please type it again",
                          code="station.bad_id_number")
    return value


class Station:
    """The configured station: its signer (loaded once, so a wrong passphrase fails at start)."""

    def __init__(self, config: StationConfig):
        self.config = config
        self.signer = None
        if config.keys:
            from ..sign import load_signer
            self.signer = load_signer(config.keys)
        self.systems, self.outbox, self.system_names = {}, None, {}
        if config.systems:
            import tomllib

            from ..deliver.outbox import open_outbox
            from ..deliver.systems import load_systems
            self.systems = load_systems(config.systems)  # a bad file or a missing key stops the start
            self.outbox = open_outbox(config.data_dir, config.database, config.outbox_key_file)
            with open(config.systems, "rb") as fh:
                for entry in tomllib.load(fh).get("system", []):
                    self.system_names[entry["id"]] = (entry.get("name_zh", entry["id"]),
                                                      entry.get("name_en", entry["id"]))
        self.catalogue = catalogue = load_catalogue()
        self.credentials = list(config.credentials or catalogue.credentials)
        self.names = {c: catalogue.get(c).name_zh for c in self.credentials}

    def signing(self, captured_at: dt.datetime):
        if self.signer is None:
            return None
        from ..sign import CaptureInfo
        from ..sign.stage import SigningOptions
        return SigningOptions(self.signer, CaptureInfo(self.config.station, operator_id=self.config.operator,
                                                       captured_at=captured_at.isoformat(timespec="seconds"),
                                                       device=self.config.device))

    def accept(self, pending: Pending, id_number: str) -> dict:
        """Convert, sign, hand over; returns what the receipt shows. Runs on the station's worker.
        The face models ran once, for the live check: the conversion starts from its analysis."""
        started = time.perf_counter()
        captured_at = dt.datetime.fromtimestamp(pending.taken_at, dt.UTC)
        conversion = convert(pending.report.analysis, self.credentials, captured_at=captured_at,
                             signing=self.signing(captured_at), deadline=self.config.deadline)
        converted = time.perf_counter()
        made = [o for o in conversion.outcomes if o.ok]
        if not made:
            raise AcceptError("no credential's photo could be made from this capture: please retake",
                              code="station.not_converted")
        receipt: dict[str, Any] = {"station": self.config.station, "operator": self.config.operator,
                   "accepted_at": dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds"),
                   "credentials": [{"id": o.credential, "name": self.names.get(o.credential, o.credential)}
                                   for o in made],
                   "failed": [o.credential for o in conversion.outcomes if not o.ok],
                   "signed": bool(conversion.signed)}
        if self.config.library:
            from ..library.publish import PublishError, publish
            files: dict[str, bytes] = {}
            assert self.signer is not None  # StationConfig requires keys with a library
            for outcome in made:
                assert outcome.rendition is not None  # an outcome that is ok has its photo
                name = f"{outcome.credential}.{outcome.rendition.extension}"
                signed = conversion.signed[outcome.credential]  # a library needs keys (StationConfig)
                files[name], files[name + ".jws"] = signed.data, signed.jws.encode("ascii")
            try:
                answer = publish(files, id_number, self.config.library, self.signer)
            except PublishError as exc:
                raise AcceptError(exc.message, code=exc.code) from exc
            receipt.update(capture_id=answer["capture_id"], pickup_code=answer["pickup_code"],
                           library=self.config.library, new=answer.get("new"))
        else:
            receipt.update(self._write(conversion))
            if self.systems:
                receipt["outbox"] = self._queue(Path(receipt["folder"]))
        done = time.perf_counter()
        receipt["timing_ms"] = {"convert_and_sign": round((converted - started) * 1000),
                                "handover": round((done - converted) * 1000),
                                "total": round((done - started) * 1000)}
        log.info("capture %s accepted: %d credential photos, converted and signed in %d ms, handed over to %s "
                 "in %d ms, %d ms in all", receipt["capture_id"], len(made), receipt["timing_ms"]["convert_and_sign"],
                 "the library" if self.config.library else "the outbox" if self.systems else "the folder",
                 receipt["timing_ms"]["handover"],
                 receipt["timing_ms"]["total"])
        return receipt

    def _queue(self, folder: Path) -> list[dict]:
        """The signed folder into the outbox, once per system (``photocore push``'s own logic: the
        outbox row is the idempotency key, so an accept repeated by a retry queues nothing twice)."""
        from ..deliver.push import push
        assert self.outbox is not None  # opened with the systems file
        queued = []
        for system in self.systems.values():
            counts = push(self.outbox, [folder], system)
            if counts["queued"] or counts["already_queued"]:
                name_zh, name_en = self.system_names.get(system.id, (system.id, system.id))
                queued.append({"system": system.id, "name_zh": name_zh, "name_en": name_en,
                               "queued": counts["queued"], "already_queued": counts["already_queued"]})
        return queued

    def _write(self, conversion) -> dict:
        """The signed folder, as `convert --sign` writes it, named by the id the library would give."""
        from ..contact_sheet import write_conversion
        from ..library.service import capture_id_of
        if conversion.signed:
            compact = next(iter(conversion.signed.values())).jws.split("~", 1)[0]
            capture_id = capture_id_of(compact)
        else:
            import uuid
            capture_id = str(uuid.uuid4())
        folder = self.config.out / capture_id
        write_conversion(conversion, folder, self.catalogue, f"photocore station {self.config.station}: {capture_id}")
        return {"capture_id": capture_id, "folder": str(Path(folder).resolve())}
