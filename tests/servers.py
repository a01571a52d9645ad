"""Real servers for transport tests, on 127.0.0.1 only, each stopped by the test that started it.

``SftpServer``: an asyncssh SSH/SFTP server on its own event loop thread, chrooted to a folder,
that can be stopped and started again on the same port (to test reconnecting).
``MotoServer``: moto's S3-compatible HTTP server as a child process.
``stop_process``: SIGTERM, then SIGKILL, for a server run as a child process.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float = 30.0, what: str = "server") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up within {timeout} s")
        time.sleep(0.1)


def wait_for_child(process: subprocess.Popen, answers, what: str, log: Path, timeout: float = 60) -> None:
    """Wait until ``answers()`` is true for a server just started as the child ``process``; the
    child exiting first is a RuntimeError quoting its ``log``."""
    def up() -> bool:
        if process.poll() is not None:
            output = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"{what} exited ({process.returncode}); {log}:\n{output}")
        return answers()

    wait_until(up, timeout=timeout, what=what)


def stop_process(process: subprocess.Popen | None, timeout: float = 15) -> None:
    """Stop a child process still running: SIGTERM, then SIGKILL if it has not exited within
    ``timeout`` seconds. Nothing for ``None`` or a process that has already exited."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


class SftpServer:
    """Password and/or public-key logins for the given users; SFTP only, rooted at ``root``."""

    def __init__(self, root: Path, *, passwords: dict[str, str] | None = None,
                 public_keys: dict[str, list] | None = None, posix_rename: bool = True):
        import asyncssh

        self.root, self.port = Path(root), free_port()
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.passwords, self.public_keys = passwords or {}, public_keys or {}
        self.posix_rename = posix_rename
        self._loop = self._thread = self._acceptor = None
        self._connections: set = set()

    def known_hosts_line(self, key=None) -> str:
        key = key or self.host_key
        return f"[{HOST}]:{self.port} {key.export_public_key().decode().strip()}\n"

    def _server_factory(self):
        import asyncssh

        server = self

        class Server(asyncssh.SSHServer):
            def connection_made(self, conn):
                self.conn = conn
                server._connections.add(conn)

            def connection_lost(self, exc):
                server._connections.discard(self.conn)

            def begin_auth(self, username):
                return True  # always ask for credentials

            def password_auth_supported(self):
                return bool(server.passwords)

            def validate_password(self, username, password):
                return server.passwords.get(username) == password

            def public_key_auth_supported(self):
                return bool(server.public_keys)

            def validate_public_key(self, username, key):
                return any(key.public_data == k.public_data for k in server.public_keys.get(username, []))

        return Server

    def _sftp_factory(self, chan):
        import asyncssh

        server = self

        class Sftp(asyncssh.SFTPServer):
            def posix_rename(self, oldpath, newpath):
                if not server.posix_rename:
                    raise asyncssh.SFTPOpUnsupported("posix-rename not supported here")
                return super().posix_rename(oldpath, newpath)

        return Sftp(chan, chroot=str(self.root))

    def start(self) -> SftpServer:
        import asyncssh

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-sftp-server", daemon=True)
        self._thread.start()

        async def listen():
            return await asyncssh.listen(HOST, self.port, server_host_keys=[self.host_key], reuse_address=True,
                                         server_factory=self._server_factory(), sftp_factory=self._sftp_factory,
                                         allow_scp=False)

        self._acceptor = asyncio.run_coroutine_threadsafe(listen(), self._loop).result(timeout=30)
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection, as a server going down does."""
        if self._loop is None:
            return

        async def shutdown():
            self._acceptor.close()
            await self._acceptor.wait_closed()
            for conn in list(self._connections):
                conn.close()
            self._connections.clear()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
        self._loop = self._thread = self._acceptor = None


class MotoServer:
    """``python -m moto.server`` from this interpreter's environment, logging to ``log``."""

    def __init__(self, log: Path, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log = Path(log)
        self.process: subprocess.Popen | None = None

    def _answers(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2) as response:
            return response.status == 200

    def start(self) -> MotoServer:
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)],
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)

        try:
            wait_for_child(self.process, self._answers, "moto server", self.log)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None
