"""Adapters found through the ``photocore.adapters`` entry point group, and the binding of an
adapter to a transport that the delivery workers send through.

Nothing is cached: the entry points are read when a systems file is loaded and when a worker
first meets a destination, so an adapter package installed while a worker runs is seen by the
next destination it opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ..deliver.transports import make_transport
from ..deliver.transports.base import Delivery, DeliveryError, FileTransport, Receipt, RequestTransport, Transport
from ..errors import ConfigError
from .base import FILE_TRANSPORTS, REQUEST_TRANSPORTS, Adapter, Payload, check_name

GROUP = "photocore.adapters"


@dataclass(frozen=True)
class Installed:
    """One adapter entry point: its name, where it points, and which package ships it."""

    name: str
    target: str  # "module:Class"
    distribution: str | None
    version: str | None


def _entry_points(name: str | None = None) -> list[EntryPoint]:
    found = entry_points(group=GROUP)
    return sorted((ep for ep in found if name is None or ep.name == name), key=lambda ep: (ep.name, ep.value))


def available() -> list[Installed]:
    """Every adapter entry point installed, sorted by name."""
    return [Installed(ep.name, ep.value, ep.dist.name if ep.dist else None, ep.dist.version if ep.dist else None)
            for ep in _entry_points()]


def adapter_class(name: str) -> type[Adapter]:
    """The adapter class registered as ``name``: ``deliver.unknown_adapter`` when none is,
    ``deliver.adapter_broken`` when it cannot be imported, is not an ``Adapter``, or two
    packages claim the name."""
    found = {ep.value: ep for ep in _entry_points(name)}
    if not found:
        known = ", ".join(sorted({i.name for i in available()})) or "none"
        raise ConfigError(f"unknown adapter {name!r}: no package registers it in the entry point group {GROUP} "
                          f"(installed: {known})", code="deliver.unknown_adapter")
    if len(found) > 1:
        raise ConfigError(f"adapter {name!r} is registered more than once: {', '.join(sorted(found))}",
                          code="deliver.adapter_broken")
    (ep,) = found.values()
    try:
        cls = ep.load()
    except Exception as exc:  # an integrator's package that does not import: say which and why
        raise ConfigError(f"adapter {name!r} ({ep.value}) cannot be loaded: {type(exc).__name__}: {exc}",
                          code="deliver.adapter_broken") from exc
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise ConfigError(f"adapter {name!r} ({ep.value}) is not a photocore.adapters.Adapter subclass",
                          code="deliver.adapter_broken")
    if not cls.transports or set(cls.transports) - set(FILE_TRANSPORTS + REQUEST_TRANSPORTS):
        raise ConfigError(f"adapter {name!r} ({ep.value}) names no transport, or one photocore does not have: "
                          f"{cls.transports!r}", code="deliver.adapter_broken")
    return cls


def make_adapter(name: str, settings: Mapping[str, Any] | None, *, transport: str, system: str) -> Adapter:
    """The adapter ``name`` with its settings, for a system reached through ``transport``."""
    cls = adapter_class(name)
    if transport not in cls.transports:
        raise ConfigError(f"adapter {name!r} is carried by {', '.join(cls.transports)}, not by {transport}",
                          code="config.invalid")
    return cls(settings, system=system)


class Adapted(Transport):
    """A transport carrying an adapter's payload: sends like a transport, so the worker, the
    outbox and the retry rules do not change."""

    def __init__(self, adapter: Adapter, transport: FileTransport | RequestTransport):
        self.adapter, self.transport = adapter, transport

    def send(self, delivery: Delivery) -> Receipt:
        payload = self.adapter.payload(delivery)
        if not isinstance(payload, Payload):
            raise DeliveryError(f"adapter {type(self.adapter).__name__} returned {type(payload).__name__}, "
                                "not a Payload", code="deliver.bad_payload", permanent=True)
        if payload.request is not None:
            if not isinstance(self.transport, RequestTransport):
                raise DeliveryError("this adapter makes an HTTP request but the transport stores files",
                                    code="deliver.bad_payload", permanent=True)
            return self.transport.post(payload.request, delivery)
        if not isinstance(self.transport, FileTransport):
            raise DeliveryError("this adapter makes files but the transport posts requests",
                                code="deliver.bad_payload", permanent=True)
        for file in payload.files:
            check_name(file.name)
        return self.transport.put(payload.files, delivery)

    def close(self) -> None:
        self.transport.close()


def make_sender(config: Mapping[str, Any], system: str = "system") -> Transport:
    """What a destination's deliveries go through: its transport (``{"transport", "settings"}``),
    with the adapter on top when the config names one (``"adapter"``, ``"adapter_settings"``)."""
    name = config.get("adapter")
    settings = config.get("settings") or {}
    if name and config["transport"] == "http" and {"mode", "fields"} & set(settings):
        raise ConfigError(f"{system}: http mode and fields shape the transport's own body; with adapter {name!r} "
                          "the adapter makes the body (set them in the adapter's settings)", code="config.invalid")
    adapter = make_adapter(name, config.get("adapter_settings"), transport=config["transport"],
                           system=system) if name else None
    transport = make_transport(dict(config))
    return Adapted(adapter, transport) if adapter is not None else transport
