"""Deliveries per second through the outbox to the reference receiver on 127.0.0.1.

1 and 4 worker threads, SQLite and PostgreSQL (a private server started for the run), each
photo a real signed rendition that the receiver verifies and stores. Target: at least 300
deliveries per second with SQLite on this machine.

    .venv/bin/python benchmarks/deliver.py [--items 600]
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import pg  # noqa: E402

import photocore  # noqa: E402
from photocore.catalogue import load_catalogue  # noqa: E402
from photocore.deliver.outbox import Outbox, Policy, connect_outbox, new_key  # noqa: E402
from photocore.deliver.systems import System  # noqa: E402
from photocore.deliver.worker import Worker  # noqa: E402
from photocore.sign import CaptureInfo, build_manifest, init_keys, load_signer, sign_manifest  # noqa: E402

MINIMAL = """
import json, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        body = json.dumps({"receipt_id": self.headers["idempotency-key"]}).encode()
        self.send_response(201); self.send_header("content-length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
"""


def start_receiver(keys: Path, store: Path, no_fsync: bool = False, minimal: bool = False):
    prefix = ["-c", "import os, runpy; os.fsync = lambda fd: None; "
              "runpy.run_module('examples.agency_receiver.receiver', run_name='__main__')"] if no_fsync else \
        ["-m", "examples.agency_receiver.receiver"]
    if minimal:  # acknowledges without verifying or storing: what the outbox and transport cost alone
        proc = subprocess.Popen([sys.executable, "-c", MINIMAL], stdout=subprocess.PIPE, text=True)
        return proc, proc.stdout.readline().split()[-1].strip()
    proc = subprocess.Popen([sys.executable, *prefix, "--port", "0", "--quiet",
                             "--trust", str(keys / "root.pem"), "--store", str(store)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    return proc, line.split()[-1].strip()


def fill(box: Outbox, url: str, items: int, photo: bytes, signer, catalogue) -> None:
    system = System("agency", ("*",), "http", {"url": f"{url}/photos"})
    box.register_destination(system.id, system.destination_config())
    for _ in range(items):
        manifest = build_manifest(photo, credential="police.resident-id-card", catalogue=catalogue, verdicts=[],
                                  capture=CaptureInfo("bench"), image={"format": "jpeg"}, signer=signer)
        box.enqueue(photo_id=manifest["photo_id"], credential="police.resident-id-card", destination=system.id,
                    filename="police.resident-id-card.jpg", data=photo, jws=sign_manifest(manifest, signer))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=600)
    parser.add_argument("--minimal-receiver", action="store_true",
                        help="a receiver that only acknowledges: the outbox and HTTP transport alone")
    parser.add_argument("--receiver-no-fsync", action="store_true",
                        help="run the receiver without fsync, to see how much of the time is its disk")
    args = parser.parse_args(argv)
    os.environ.setdefault("PHOTOCORE_KEY_PASSPHRASE", "benchmark-only")
    tmp = Path(tempfile.mkdtemp(prefix="photocore-deliver-bench-"))
    init_keys(tmp / "keys")
    signer, catalogue = load_signer(tmp / "keys"), load_catalogue()
    capture = photocore.decode(ROOT / "examples" / "sample_capture.jpg")
    conversion = photocore.convert(capture, ["police.resident-id-card"])
    photo = conversion.outcomes[0].rendition.data
    key = base64.b64decode(new_key())
    server = pg.PostgresServer().start() if pg.available() else None
    print(f"{args.items} deliveries of a {len(photo) / 1024:.0f} KB signed photo, verified and stored by the receiver")
    try:
        for backend in ("sqlite", "postgresql"):
            if backend == "postgresql" and server is None:
                print("postgresql: binaries not installed, skipped")
                continue
            for threads in (1, 4):
                store = tmp / f"store-{backend}-{threads}"
                receiver, url = start_receiver(tmp / "keys", store, args.receiver_no_fsync, args.minimal_receiver)
                location = (str(tmp / f"{backend}-{threads}.sqlite3") if backend == "sqlite"
                            else server.fresh_database(f"bench{threads}"))
                box = connect_outbox(location, key, Policy())
                fill(box, url, args.items, photo, signer, catalogue)
                start = time.perf_counter()
                stats = Worker(box, threads=threads, once=True).run(install_signals=False)
                elapsed = time.perf_counter() - start
                receiver.terminate()
                receiver.wait()
                print(f"{backend:10} {threads} worker(s): {stats.delivered / elapsed:7.0f} deliveries/s "
                      f"({stats.delivered} delivered, {stats.retried + stats.dead} failed, {elapsed:.2f} s)")
                box.close()
    finally:
        if server:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
