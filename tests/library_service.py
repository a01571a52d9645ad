"""The shared photo library as a real service, for tests: `photocore serve` under uvicorn as a
child process on a free 127.0.0.1 port, and a station's signed conversions to publish into it.

    station = sample_station(tmp_path_factory)          # key store + signed conversions, once a session
    svc = start_library(tmp_path, trust=station.root, clients=clients_toml)
    answer = station.publish("a", "330902198503120027", svc.url)   # capture_id, pickup_code, ...
    svc.stop()

``Receiver`` (and the module-scoped ``receiver`` fixture, imported as ``receiver_fixture`` by the test
modules that use it) is an agency system's webhook endpoint; ``assert_problem`` checks a refusal's
problem document.

The child gets the key passphrase, and none of the library variables of the caller's
environment (a developer's PHOTOCORE_HOME or database never leaks into a test).
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from servers import free_port, stop_process, wait_for_child

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
        stop_process(self.process)
        self.process = None


def healthy(url: str) -> bool:
    """The library service at ``url`` answers GET /v1/health (not yet, while it cannot be reached)."""
    try:
        return httpx.get(url + "/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def serve(port: int, data_dir: Path, log: Path, options=(), env: dict | None = None) -> subprocess.Popen:
    """`photocore serve` on ``port`` with its data in ``data_dir``, appending its output to
    ``log``, once it answers GET /v1/health (stopped again if it does not); ``env=None``: this
    process's environment, as it is."""
    with open(log, "ab") as out:
        process = subprocess.Popen([*PHOTOCORE, "serve", "--port", str(port), "--data-dir", str(data_dir),
                                    *map(str, options)], stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env)
    try:
        wait_for_child(process, lambda: healthy(f"http://127.0.0.1:{port}"), "photocore serve", log)
    except BaseException:
        stop_process(process)
        raise
    return process


def start_library(tmp_path, *, trust, clients=None, extra_args=(), env=None) -> RunningLibrary:
    """`photocore serve` on a free port, answering GET /v1/health, with its data in a new folder
    under ``tmp_path``; ``trust`` is one root PEM or a list of them."""
    port = free_port()
    folder = Path(tmp_path) / f"library-{port}"
    folder.mkdir(parents=True)
    options = []
    for root in trust if isinstance(trust, (list, tuple)) else [trust]:
        options += ["--trust", root]
    if clients is not None:
        options += ["--clients", clients]
    running = RunningLibrary(f"http://127.0.0.1:{port}", port, folder / "data", folder / "serve.log")
    running.process = serve(port, running.data_dir, running.log, [*options, *extra_args], env=child_env(env))
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


class Receiver:
    """An agency system's webhook endpoint on 127.0.0.1: keeps each POST as (headers, raw body
    bytes, path) in ``received``, answering 204."""

    def __init__(self):
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.append((dict(self.headers.items()), body, self.path))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module", name="receiver")  # the tests' argument is not the imported name
def receiver_fixture():
    r = Receiver()
    yield r
    r.stop()


def assert_problem(response: httpx.Response, status: int, code: str) -> dict:
    """``response`` is the problem document (RFC 9457) of a refusal with ``status`` and ``code``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code and body["status"] == status and body["type"] == f"urn:photocore:problem:{code}"
    return body
