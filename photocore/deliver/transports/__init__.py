"""Transports, registered by name (as Pillow's format plugins): http, sftp, s3, folder."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from ...errors import ConfigError
from .base import FileTransport, RequestTransport

_MODULES = {"http": ("http", "HttpTransport"), "folder": ("folder", "FolderTransport"),
            "sftp": ("sftp", "SftpTransport"), "s3": ("s3", "S3Transport")}


def transport_class(name: str) -> type[FileTransport] | type[RequestTransport]:
    try:
        module, cls = _MODULES[name]
    except KeyError:
        raise ConfigError(f"unknown transport {name!r} (http, sftp, s3, folder)", code="config.invalid") from None
    found: type[FileTransport] | type[RequestTransport] = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    return found


def make_transport(config: Mapping[str, Any]) -> FileTransport | RequestTransport:
    """A transport from an outbox destination config ({"transport", "settings"})."""
    return transport_class(config["transport"]).from_config({"transport": config["transport"], **config["settings"]})
