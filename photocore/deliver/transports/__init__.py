"""Transports, registered by name (as Pillow's format plugins): http, sftp, s3, folder."""

from __future__ import annotations

import importlib

from ...errors import ConfigError

_MODULES = {"http": ("http", "HttpTransport"), "folder": ("folder", "FolderTransport"),
            "sftp": ("sftp", "SftpTransport"), "s3": ("s3", "S3Transport")}


def transport_class(name: str):
    try:
        module, cls = _MODULES[name]
    except KeyError:
        raise ConfigError(f"unknown transport {name!r} (http, sftp, s3, folder)", code="config.invalid") from None
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def make_transport(config: dict):
    """A transport from an outbox destination config ({"transport", "settings"})."""
    return transport_class(config["transport"]).from_config({"transport": config["transport"], **config["settings"]})
