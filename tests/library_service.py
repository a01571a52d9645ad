"""The shared photo library as a real service, for tests: `photocore serve` under uvicorn as a
child process on a free 127.0.0.1 port, and a station's signed conversions to publish into it.

    station = sample_station(tmp_path_factory)          # key store + signed conversions, once a session
    svc = start_library(tmp_path, trust=station.root, clients=clients_toml)
    answer = station.publish("a", "330902198503120027", svc.url)   # capture_id, pickup_code, ...
    svc.stop()

The child gets the key passphrase, and none of the library variables of the caller's
environment (a developer's PHOTOCORE_HOME or database never leaks into a test).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from servers import free_port, wait_until

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample_capture.jpg"
_SCRIPT = Path(sys.executable).with_name("photocore")
PHOTOCORE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "from photocore.cli import main; main()"]
PASSPHRASE = "library-service-tests"
STATION_ID = "zs-001"
CREDENTIALS = ("police.resident-id-card", "police.passport", "hrss.social-security-card")
_LIBRARY_ENV = ("PHOTOCORE_HOME", "PHOTOCORE_DATABASE_URL", "PHOTOCORE_STORE", "PHOTOCORE_LIBRARY_SECRET",
                "PHOTOCORE_LIBRARY_KEK", "PHOTOCORE_LIBRARY_CONFIG")


def child_env(env: dict | None = None) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in _LIBRARY_ENV}
    return {**base, "PHOTOCORE_KEY_PASSPHRASE": PASSPHRASE, **(env or {})}


def cli(*args, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*PHOTOCORE, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=child_env(env))


@dataclass
class RunningLibrary:
    url: str
    port: int
    data_dir: Path
    log: Path
    process: subprocess.Popen | None = field(repr=False, default=None)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start_library(tmp_path, *, trust, clients=None, extra_args=(), env=None) -> RunningLibrary:
    """`photocore serve` on a free port, answering GET /v1/health, with its data in a new folder
    under ``tmp_path``; ``trust`` is one root PEM or a list of them."""
    port = free_port()
    folder = Path(tmp_path) / f"library-{port}"
    folder.mkdir(parents=True)
    options = ["--port", str(port), "--data-dir", str(folder / "data")]
    for root in trust if isinstance(trust, (list, tuple)) else [trust]:
        options += ["--trust", str(root)]
    if clients is not None:
        options += ["--clients", str(clients)]
    running = RunningLibrary(f"http://127.0.0.1:{port}", port, folder / "data", folder / "serve.log")
    with open(running.log, "ab") as log:
        running.process = subprocess.Popen([*PHOTOCORE, "serve", *options, *map(str, extra_args)], stdout=log,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=child_env(env))

    def up() -> bool:
        if running.process.poll() is not None:
            raise RuntimeError(f"photocore serve exited:\n{running.output()}")
        try:
            return httpx.get(running.url + "/v1/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=60, what="photocore serve")
    except BaseException:
        running.stop()
        raise
    return running


@dataclass
class Station:
    """A key store (`photocore keys init`) and signed conversions of the sample capture, each
    `photocore convert --sign` run giving a distinct capture."""

    folder: Path
    credentials: tuple[str, ...] = CREDENTIALS

    @property
    def keys(self) -> Path:
        return self.folder / "keys"

    @property
    def root(self) -> Path:
        return self.keys / "root.pem"

    def conversion(self, name: str = "a") -> Path:
        out = self.folder / f"conversion-{name}"
        if not (out / "report.json").exists():
            picks = [a for c in self.credentials for a in ("--credential", c)]
            made = cli("convert", SAMPLE, *picks, "--out", out, "--sign", "--keys", self.keys,
                       "--station", STATION_ID)
            assert made.returncode == 0, made.stdout + made.stderr
        return out

    def publish(self, name: str, id_number: str, url: str) -> dict:
        made = cli("publish", self.conversion(name), "--person", id_number, "--to", url, "--keys", self.keys,
                   "--json")
        assert made.returncode == 0, made.stdout + made.stderr
        return json.loads(made.stdout)


_stations: dict[Path, Station] = {}


def sample_station(tmp_path_factory) -> Station:
    """One station per test session (whichever module asks first makes it)."""
    base = tmp_path_factory.getbasetemp()
    if base not in _stations:
        station = Station(tmp_path_factory.mktemp("station"))
        made = cli("keys", "init", station.keys, "--station", STATION_ID)
        assert made.returncode == 0, made.stdout + made.stderr
        _stations[base] = station
    return _stations[base]
