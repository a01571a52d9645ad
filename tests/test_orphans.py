"""No orphans: `kill -9` of `photocore batch` / `photocore serve` takes their worker processes
(and multiprocessing's resource tracker) down with it within seconds (issue 14, item 6)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import DATA, wait_for

pytestmark = [pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="reads /proc; PR_SET_PDEATHSIG is Linux-only"),
              pytest.mark.slow]  # batch and serve with their worker processes, killed

EXE = str(Path(sys.executable).with_name("photocore"))
FACE = DATA / "london_neutral_001.jpg"
EXIT_WITHIN = 10.0


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, state, start time) of ``pid`` from /proc, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    return int(fields[1]), fields[0], int(fields[19])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(root: int) -> dict[int, int]:
    """{pid: start time} of every live process below ``root``."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            table[int(entry)] = stat
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _state, start) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = start
                frontier.append(pid)
    return found


def alive(pid: int, start: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[2] == start and stat[1] not in ("Z", "X")  # a zombie has exited


def kill_parent_and_time_orphans(process: subprocess.Popen, family: dict[int, int], what: str) -> float:
    names = sorted(" ".join(_cmdline(pid).split()[-2:])[-50:] for pid in family)
    os.kill(process.pid, signal.SIGKILL)  # only the parent, not its process group
    process.wait(timeout=10)
    killed = time.monotonic()
    deadline = killed + EXIT_WITHIN
    while (left := {pid: _cmdline(pid) for pid, start in family.items() if alive(pid, start)}):
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: still running {EXIT_WITHIN:.0f} s after kill -9 of the parent: {left}")
        time.sleep(0.02)
    took = time.monotonic() - killed
    print(f"\n{what}: {len(family)} descendant(s) {names} "
          f"exited {took:.2f} s after kill -9 of the parent")
    return took


def kill_group(process: subprocess.Popen | None) -> None:
    if process is None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


@pytest.mark.parametrize("working", [True, False], ids=["working", "starting"])
def test_batch_workers_and_resource_tracker_die_with_a_killed_batch(tmp_path, working):
    """``working``: the batch is killed once its journal holds a finished capture, so the workers
    are converting. ``starting``: killed the moment its workers exist, while they still import
    (a worker used to ask for its parent's death signal only after its parent was gone, and then
    waited on a queue it held both ends of, for good)."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(20):
        shutil.copy(FACE, src / f"face_{i:02d}.jpg")
    process = subprocess.Popen([EXE, "batch", str(src), str(tmp_path / "out"), "--workers", "2",
                                "--credential", "police.resident-id-card", "--quiet"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        def workers_up():
            family = descendants(process.pid)
            workers = [pid for pid in family if "spawn_main" in _cmdline(pid)]
            assert process.poll() is None, "the batch ended before its workers could be seen"
            return family if len(workers) >= 2 else None

        family = wait_for(workers_up, 40, "2 batch workers")
        if working:
            journal = tmp_path / "out" / ".photocore-batch" / "journal.jsonl"

            def a_capture_done():
                assert process.poll() is None, "the batch ended before it could be killed at work"
                return journal.exists() and journal.read_text().strip()

            wait_for(a_capture_done, 120, "the first capture in the batch journal")
        family.update(descendants(process.pid))
        assert any("resource_tracker" in _cmdline(pid) for pid in family), {p: _cmdline(p) for p in family}
        kill_parent_and_time_orphans(process, family, "batch --workers 2")
    finally:
        kill_group(process)


def test_serve_workers_die_with_a_killed_serve(tmp_path):
    env = {**os.environ, "PHOTOCORE_KEY_PASSPHRASE": "orphans test passphrase"}
    for name in ("PHOTOCORE_HOME", "PHOTOCORE_DATABASE_URL", "PHOTOCORE_STORE", "PHOTOCORE_LIBRARY_SECRET",
                 "PHOTOCORE_LIBRARY_KEK", "PHOTOCORE_LIBRARY_CONFIG", "PHOTOCORE_SERVE_PID"):
        env.pop(name, None)
    keys = tmp_path / "keys"
    made = subprocess.run([EXE, "keys", "init", str(keys)], capture_output=True, text=True, env=env, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert made.returncode == 0, made.stdout + made.stderr
    from servers import free_port
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")
    process = subprocess.Popen([EXE, "serve", "--port", str(port), "--data-dir", str(tmp_path / "data"),
                                "--trust", str(keys / "root.pem"), "--workers", "2"],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                               start_new_session=True)
    try:
        def healthy():
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 40, "GET /v1/health")
        def workers_up():
            family = descendants(process.pid)
            return family if len([pid for pid in family if "spawn_main" in _cmdline(pid)]) >= 2 else None

        family = wait_for(workers_up, 20, "2 serve workers")
        kill_parent_and_time_orphans(process, family, "serve --workers 2")
    finally:
        kill_group(process)
        log.close()
