"""`photocore serve`: the library app under uvicorn, in one or several worker processes.

Each worker builds its own ``Library`` from the same configuration (passed to the workers in
``PHOTOCORE_LIBRARY_CONFIG`` as JSON of options and secret *references*, never secret values)
and shares only the database and the object store with the others. A background thread in
each process runs the retention job every hour (it is idempotent, so several may run).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
from dataclasses import asdict
from pathlib import Path

from .config import LibraryConfig
from .errors import LibraryError

ENV_CONFIG = "PHOTOCORE_LIBRARY_CONFIG"
ENV_SUPERVISOR = "PHOTOCORE_SERVE_PID"  # the `photocore serve` process itself, not one of its workers
PURGE_EVERY = 3600.0
log = logging.getLogger("photocore.library")


def _dump(config: LibraryConfig) -> str:
    return json.dumps({k: ([str(p) for p in v] if isinstance(v, list) else str(v) if isinstance(v, Path) else v)
                       for k, v in asdict(config).items()})


def _load(text: str) -> LibraryConfig:
    raw = json.loads(text)
    raw["data_dir"] = Path(raw["data_dir"])
    raw["trust"] = [Path(p) for p in raw.get("trust", [])]
    raw["revoked"] = [Path(p) for p in raw.get("revoked", [])]
    raw["clients"] = Path(raw["clients"]) if raw.get("clients") else None
    return LibraryConfig(**raw)


def _purge_loop(library, stop: threading.Event) -> None:
    while not stop.wait(PURGE_EVERY):
        try:
            library.purge()
        except LibraryError as exc:
            log.warning("purge failed: %s", exc.code)


def app_from_env():
    """The uvicorn factory each worker process calls."""
    supervisor = os.environ.get(ENV_SUPERVISOR)
    if supervisor != str(os.getpid()):  # a worker of `serve --workers N`: die with it
        from ..orphans import exit_with_parent
        exit_with_parent(int(supervisor) if supervisor and supervisor.isdigit() else None)
    from .app import create_app
    from .service import Library

    library = Library(_load(os.environ[ENV_CONFIG]))
    stop = threading.Event()
    threading.Thread(target=_purge_loop, args=(library, stop), daemon=True, name="photocore-purge").start()
    app = create_app(library)
    # The models, catalogue and app live as long as the process: keep them out of the cyclic
    # collector's full passes, which otherwise stall requests for milliseconds (p99).
    gc.collect()
    gc.freeze()
    return app


def serve(config: LibraryConfig, host: str = "127.0.0.1", port: int = 8400, workers: int = 1,
          log_level: str = "warning") -> None:
    import uvicorn

    from .agency_auth import clients_for
    from .service import Library
    clients_for(Library(config))  # fail here, with a typed error, before any worker starts (schema made once)
    os.environ[ENV_CONFIG] = _dump(config)
    os.environ[ENV_SUPERVISOR] = str(os.getpid())
    uvicorn.run("photocore.library.server:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, access_log=False, server_header=False, proxy_headers=False)
