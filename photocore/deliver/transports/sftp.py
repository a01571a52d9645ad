"""SFTP drop with asyncssh, called from synchronous code.

asyncssh is asyncio-only, so the transport owns an event loop on a daemon thread and hands it
coroutines: ``send`` then works from any thread, even one already running its own loop. One
connection is kept open between deliveries and made again when it drops. Each file goes up
under ``.<name>.<delivery id>.tmp`` and is renamed into place (``posix-rename``, atomic; plain
rename where the server lacks it), in the order given: sidecars first and the photo last, so a
reader that sees the photo sees its .jws. A last file already there with the same bytes is
"already delivered"; one with other bytes is replaced, as the folder transport does.

Host keys are checked: ``known_hosts`` (a path to an OpenSSH known_hosts file) is required, and
the server must show a key listed there. Only ``insecure_skip_host_key_check = true`` turns the
check off, so whoever answers on host:port gets the photos; a warning says so once per
transport. Neither setting is a ``deliver.sftp_host_key`` error.

``timeout`` bounds each network step (connecting, logging in, every SFTP request), not the whole
delivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import posixpath
import threading
from collections.abc import Sequence

import asyncssh

from ...errors import ConfigError, PhotocoreError
from .base import Delivery, DeliveryError, File, FileTransport, Receipt, Secret, check_config, check_path

log = logging.getLogger(__name__)

KEYS = {"transport", "host", "port", "username", "password", "private_key", "private_key_file", "known_hosts",
        "insecure_skip_host_key_check", "directory", "timeout"}

# Retrying cannot help: wrong credentials or host key, or the server refuses the path.
_PERMANENT = (asyncssh.PermissionDenied, asyncssh.HostKeyNotVerifiable, asyncssh.IllegalUserName,
              asyncssh.KeyExchangeFailed, asyncssh.ProtocolNotSupported, asyncssh.KeyImportError,
              asyncssh.KeyEncryptionError, asyncssh.SFTPPermissionDenied, asyncssh.SFTPNoSuchFile,
              asyncssh.SFTPNoSuchPath, asyncssh.SFTPNotADirectory, asyncssh.SFTPWriteProtect,
              asyncssh.SFTPInvalidFilename, asyncssh.SFTPFileIsADirectory)
# The connection went away under us: a kept connection gets one fresh try within the same send.
_CONNECTION_LOST = (asyncssh.ConnectionLost, asyncssh.SFTPConnectionLost, asyncssh.SFTPNoConnection,
                    asyncssh.ServiceNotAvailable, ConnectionError, EOFError)


class SftpTransport(FileTransport):
    def __init__(self, host: str, *, username: str, port: int = 22, password: str | None = None,
                 private_key: str | None = None, private_key_file: str | None = None,
                 known_hosts: str | None = None, insecure_skip_host_key_check: bool = False, directory: str = ".",
                 timeout: float = 20.0):
        if not known_hosts and insecure_skip_host_key_check is not True:
            raise ConfigError(f"sftp {host}: known_hosts is required (an OpenSSH known_hosts file with the server's "
                              "host key); insecure_skip_host_key_check = true turns host-key checking off",
                              code="deliver.sftp_host_key")
        self.host, self.port, self.username = host, int(port), username
        self.directory = directory.rstrip("/") or "/"
        self.known_hosts, self.timeout = known_hosts, float(timeout)
        self.skip_host_key_check = not known_hosts
        self._password = Secret(password) if password else None
        self._private_key = Secret(private_key) if private_key else None  # reference to the key's text
        self._private_key_file = private_key_file
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._lock = threading.Lock()  # one delivery at a time on the one connection
        self._warned = False

    @classmethod
    def from_config(cls, cfg: dict) -> SftpTransport:
        check_config("sftp", cfg, KEYS, ("host", "username"))
        if not any(cfg.get(k) for k in ("password", "private_key", "private_key_file")):
            raise ConfigError("sftp: one of password, private_key, private_key_file is required",
                              code="config.invalid")
        return cls(cfg["host"], username=cfg["username"], port=cfg.get("port", 22), password=cfg.get("password"),
                   private_key=cfg.get("private_key"), private_key_file=cfg.get("private_key_file"),
                   known_hosts=cfg.get("known_hosts"),
                   insecure_skip_host_key_check=cfg.get("insecure_skip_host_key_check", False),
                   directory=cfg.get("directory", "."), timeout=cfg.get("timeout", 20))

    # -- the event loop this transport owns --------------------------------------------------------

    def _run(self, coro):
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name=f"sftp-{self.host}", daemon=True)
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _op(self, awaitable):
        return await asyncio.wait_for(awaitable, self.timeout)

    # -- connection ---------------------------------------------------------------------------------

    async def _client(self):
        if self._conn is not None and self._conn.is_closed():
            await self._drop()
        if self._sftp is not None:
            return self._sftp
        options = {"username": self.username, "connect_timeout": self.timeout, "login_timeout": self.timeout,
                   "config": None, "agent_path": None, "gss_host": None, "client_keys": None}
        if self.known_hosts:
            try:
                options["known_hosts"] = asyncssh.read_known_hosts(self.known_hosts)
            except (OSError, ValueError) as exc:  # missing or unreadable file, or not known_hosts lines
                raise ConfigError(f"sftp: cannot read known_hosts {self.known_hosts}: "
                                  f"{getattr(exc, 'strerror', None) or exc}", code="deliver.sftp_host_key") from None
        else:
            options["known_hosts"] = None
            if not self._warned:
                log.warning("sftp %s:%s: insecure_skip_host_key_check is set, the server's host key is NOT checked",
                            self.host, self.port)
                self._warned = True
        if self._password is not None:
            options["password"] = self._password.value()
        if self._private_key is not None:
            options["client_keys"] = [asyncssh.import_private_key(self._private_key.value())]
        elif self._private_key_file:
            try:
                options["client_keys"] = [asyncssh.read_private_key(self._private_key_file)]
            except OSError as exc:
                raise ConfigError(f"sftp: cannot read private_key_file {self._private_key_file}: {exc.strerror}",
                                  code="config.invalid") from None
        self._conn = await asyncssh.connect(self.host, self.port, **options)
        try:
            self._sftp = await self._op(self._conn.start_sftp_client())
            await self._made_directory(self._sftp)
        except BaseException:
            await self._drop()
            raise
        return self._sftp

    async def _made_directory(self, sftp: asyncssh.SFTPClient) -> None:
        try:
            await self._op(sftp.makedirs(self.directory, exist_ok=True))
        except _CONNECTION_LOST:
            raise
        except asyncssh.SFTPError as exc:  # asyncssh says SFTPFailure for "a file is in the way"
            if not await self._op(sftp.isdir(self.directory)):
                raise DeliveryError(f"sftp {self.host}:{self.port}: no directory {self.directory} and cannot make it: "
                                    f"{exc.reason}", code="deliver.sftp_permanent", permanent=True) from exc

    async def _drop(self) -> None:
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.close()
            try:
                await asyncio.wait_for(conn.wait_closed(), self.timeout)
            except Exception:  # noqa: BLE001 - closing a dead connection: nothing left to save
                pass

    # -- delivery -----------------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return name if self.directory == "." else posixpath.join(self.directory, name)

    async def _read_back(self, sftp, path: str) -> bytes | None:
        try:
            fh = await self._op(sftp.open(path, "rb"))
        except asyncssh.SFTPNoSuchFile:
            return None
        try:
            return await self._op(fh.read())
        finally:
            await self._op(fh.close())

    async def _put(self, sftp, name: str, data: bytes, delivery_id: str) -> None:
        target = self._path(name)
        folder, base = posixpath.split(target)
        tmp = posixpath.join(folder, f".{base}.{delivery_id}.tmp")
        if folder and folder != self.directory:
            await self._op(sftp.makedirs(folder, exist_ok=True))
        fh = await self._op(sftp.open(tmp, "wb"))
        try:
            await self._op(fh.write(data))
        finally:
            await self._op(fh.close())
        try:
            await self._op(sftp.posix_rename(tmp, target))
        except asyncssh.SFTPOpUnsupported:
            # Plain SFTP rename refuses an existing target: make it absent first (not atomic then).
            if await self._op(sftp.exists(target)):
                await self._op(sftp.remove(target))
            await self._op(sftp.rename(tmp, target))

    async def _upload(self, files: Sequence[File], delivery: Delivery) -> Receipt:
        sftp = await self._client()
        last = files[-1]
        target = self._path(last.name)
        try:
            size = (await self._op(sftp.stat(target))).size
        except asyncssh.SFTPNoSuchFile:
            size = None
        if size == len(last.data):
            existing = await self._read_back(sftp, target)
            if existing is not None and hashlib.sha256(existing).digest() == hashlib.sha256(last.data).digest():
                return Receipt(target, "already delivered")
        for file in files:
            await self._put(sftp, file.name, file.data, delivery.id)
        return Receipt(target, "uploaded")

    async def _send(self, files: Sequence[File], delivery: Delivery) -> Receipt:
        kept = self._sftp is not None and self._conn is not None and not self._conn.is_closed()
        try:
            return await self._upload(files, delivery)
        except _CONNECTION_LOST:
            await self._drop()
            if not kept:
                raise
        return await self._upload(files, delivery)  # the kept connection had gone stale: once more, fresh

    def fetch(self, name: str) -> bytes | None:
        async def read() -> bytes | None:
            return await self._read_back(await self._client(), self._path(check_path(name)))

        return self._call(read())

    def put(self, files: Sequence[File], delivery: Delivery) -> Receipt:
        for file in files:
            check_path(file.name)
        return self._call(self._send(files, delivery))

    def _call(self, coro):
        """Run one step on the connection; asyncssh's errors become DeliveryErrors."""
        where = f"{self.username}@{self.host}:{self.port}"
        with self._lock:
            try:
                return self._run(coro)
            except PhotocoreError:  # ours already (a missing secret, a bad path in the config)
                raise
            except asyncssh.HostKeyNotVerifiable as exc:
                self._run(self._drop())
                raise DeliveryError(f"sftp {where}: the server's host key is not in {self.known_hosts}: {exc}",
                                    code="deliver.sftp_host_key", permanent=True) from exc
            except _PERMANENT as exc:
                self._run(self._drop())
                raise DeliveryError(f"sftp {where}: {type(exc).__name__}: {exc}", code="deliver.sftp_permanent",
                                    permanent=True) from exc
            except (TimeoutError, asyncssh.Error, OSError) as exc:
                # refused, timed out, dropped; any other SFTP failure (full disk, ...) may pass too
                self._run(self._drop())
                raise DeliveryError(f"sftp {where}: {type(exc).__name__}: {exc}",
                                    code="deliver.sftp_unavailable") from exc

    def close(self) -> None:
        with self._lock:
            if self._loop is None or self._thread is None:  # never started (both are set together)
                return
            self._run(self._drop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=self.timeout)
            self._loop.close()
            self._loop = self._thread = None
