"""The station's accept: from the clerk's "accept" to every credential signed and handed over.

One photo is taken the way the counter takes it (a LiveSession over the same 1280x720 clip as
benchmarks/live.py, until automatic capture fires); then ``Station.accept`` (what ``POST
/accept`` runs on the station's worker) is timed 5 times for each handover, median reported:

- folder: signed photos written to ``--out/<capture id>/`` (no library, no systems file);
- outbox: the same folder, then queued in the durable outbox (SQLite, encrypted) for one
  agency system taking every credential, as ``photocore station --systems FILE`` does; the
  time for ``photocore deliver`` to drain those rows to a folder drop is reported apart;
- library: published to a real ``photocore serve`` (a child process on 127.0.0.1, embedded
  SQLite and encrypted files, trusting the station's root made by ``photocore keys init``).

Each accept converts and signs every credential of the catalogue anew (a new signing, so a new
capture id and, for the library, another citizen each time). All cores, as the station runs.

    .venv/bin/python benchmarks/station.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live import FACE, frame_at  # the same clip as the live benchmark

from photocore.deliver.outbox import new_key
from photocore.live import LiveSession
from photocore.station.capture_state import Memory
from photocore.station.config import StationConfig
from photocore.station.handover import Station

PASSPHRASE = "benchmark-station"
_SCRIPT = Path(sys.executable).with_name("photocore")
PHOTOCORE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "from photocore.cli import main; main()"]


def id_number(serial: int) -> str:
    body = f"330902198503{serial:05d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def take_photo():
    """The pending capture, as the WebSocket handler holds it after automatic capture."""
    face = np.asarray(Image.open(FACE).convert("RGB"))
    rng = np.random.default_rng(0)
    with LiveSession() as session:
        for i in range(300):
            result = session.feed(frame_at(face, i, rng))
            if result.captured is not None:
                c = result.captured
                return Memory().hold(np.array(c.frame), c.capture, c.report)
    raise SystemExit("no capture in 300 frames")


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_library(root: Path, trust: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(root / "library.log", "ab")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHOTOCORE_HOME", "PHOTOCORE_DATABASE",
                                                                    "PHOTOCORE_STORE", "PHOTOCORE_LIBRARY"))}
    process = subprocess.Popen([*PHOTOCORE, "serve", "--port", str(port), "--data-dir", str(root / "library"),
                                "--trust", str(trust)], stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"photocore serve exited: see {root / 'library.log'}")
        try:
            if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("photocore serve did not start")


def timed(station: Station, pending, runs: int, first_serial: int) -> tuple[list[dict], list[float]]:
    receipts, wall = [], []
    for i in range(runs):
        start = time.perf_counter()
        receipts.append(station.accept(pending, id_number(first_serial + i)))
        wall.append((time.perf_counter() - start) * 1000)
    return receipts, wall


def report(name: str, receipts: list[dict], wall: list[float], extra: str = "") -> None:
    med = lambda key: statistics.median(r["timing_ms"][key] for r in receipts)  # noqa: E731
    print(f"  {name:8s} accept -> handed over: median {statistics.median(wall):.0f} ms "
          f"(min {min(wall):.0f}, max {max(wall):.0f}); convert and sign {med('convert_and_sign'):.0f} ms, "
          f"handover {med('handover'):.0f} ms{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ["PHOTOCORE_KEY_PASSPHRASE"] = PASSPHRASE
    os.environ["PHOTOCORE_OUTBOX_KEY"] = new_key()
    with tempfile.TemporaryDirectory(prefix="photocore-bench-station-") as tmp:
        root = Path(tmp)
        subprocess.run([*PHOTOCORE, "keys", "init", str(root / "keys"), "--station", "zs-001"], check=True,
                       capture_output=True, stdin=subprocess.DEVNULL)
        pending = take_photo()
        folder = Station(StationConfig(keys=root / "keys", station="zs-001", out=root / "folder"))
        print(f"station accept: {len(folder.credentials)} credentials, median of {args.runs} accepts each "
              f"({os.cpu_count()} cores)")
        folder.accept(pending, id_number(0))  # models and fonts loaded: not an accept's cost

        receipts, wall = timed(folder, pending, args.runs, 1)
        report("folder", receipts, wall, f"; {len(receipts[0]['credentials'])} photos signed")

        systems = root / "systems.toml"
        systems.write_text(f'[[system]]\nid = "all-agencies"\ncredentials = ["*"]\ntransport = "folder"\n'
                           f'[system.folder]\ndirectory = "{root / "drop"}"\n', encoding="utf-8")
        outbox = Station(StationConfig(keys=root / "keys", station="zs-001", out=root / "queued", systems=systems,
                                       data_dir=str(root / "home")))
        receipts, wall = timed(outbox, pending, args.runs, 100)
        queued = sum(q["queued"] for q in receipts[0]["outbox"])
        from photocore.deliver.outbox import open_outbox
        from photocore.deliver.worker import Worker
        start = time.perf_counter()
        stats = Worker(open_outbox(str(root / "home")), once=True).run(install_signals=False)
        drain = (time.perf_counter() - start) * 1000
        report("outbox", receipts, wall, f"; {queued} rows queued per accept (then photocore deliver drained "
                                         f"{stats.delivered} rows to a folder drop in {drain:.0f} ms)")

        library, url = start_library(root, root / "keys" / "root.pem")
        try:
            published = Station(StationConfig(keys=root / "keys", station="zs-001", library=url))
            receipts, wall = timed(published, pending, args.runs, 200)
            report("library", receipts, wall, f"; {receipts[0]['library']}, pickup code {receipts[0]['pickup_code']}, "
                                              f"new capture each time: {all(r['new'] for r in receipts)}")
        finally:
            library.terminate()
            library.wait(timeout=30)


if __name__ == "__main__":
    main()
