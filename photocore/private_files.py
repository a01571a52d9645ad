"""Files that hold a portrait or a key: created owner-only (0600, folders 0700), unless the
operator asks otherwise with $PHOTOCORE_FILE_MODE, never readable by others by accident of the
umask. Used by convert, batch, the outbox and the annotations."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .errors import ConfigError

ENV_FILE_MODE = "PHOTOCORE_FILE_MODE"


def file_mode() -> int:
    """The mode of the files photocore writes that hold a portrait or a key: 0600, unless the
    operator asks otherwise with $PHOTOCORE_FILE_MODE (octal, e.g. 0640)."""
    text = os.environ.get(ENV_FILE_MODE)
    if not text:
        return 0o600
    try:
        mode = int(text, 8)
    except ValueError:
        raise ConfigError(f"{ENV_FILE_MODE}={text!r} is not an octal file mode (e.g. 0600)",
                          code="config.invalid") from None
    if not 0 <= mode <= 0o777:
        raise ConfigError(f"{ENV_FILE_MODE}={text!r} is not a file mode (0000 to 0777)", code="config.invalid")
    return mode


def dir_mode() -> int:
    """Folders photocore creates: the file mode plus search (x) wherever read is granted."""
    mode = file_mode()
    return mode | ((mode & 0o444) >> 2) | 0o700


def mkdir_private(path) -> Path:
    """``mkdir -p`` where every folder created gets ``dir_mode()`` (folders that exist are left as they are)."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    path.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        os.chmod(folder, dir_mode())  # not the umask's 0755: these hold portraits
    return path


def write_private(path, data: bytes) -> None:
    """Write ``data`` via a temporary file and rename (a reader never sees half a photo); the file
    is created with ``file_mode()``, never readable by others by accident of the umask."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), file_mode())
            fh.write(data)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.replace(tmp, path)


def open_private(path, mode: str = "w", **kwargs):
    """``open(path, mode)`` for a text or binary file created (or truncated) with ``file_mode()``."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, file_mode())
    return os.fdopen(fd, mode, **kwargs)
