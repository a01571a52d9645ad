"""Agency systems: which credentials each consuming system takes, and how to reach it.

A TOML file, validated like the catalogue (errors name the file, the system and the key);
secrets appear only as references (``env:NAME`` or ``file:PATH``), never as values::

    [[system]]
    id = "police-exit-entry"
    credentials = ["police.passport", "police.hk-macao-permit"]   # fnmatch patterns allowed
    transport = "http"
    rate_limit = 20                                              # deliveries per second
    [system.http]
    url = "https://exit-entry.example/photos"
    auth = { type = "bearer", token = "env:EXIT_ENTRY_TOKEN" }
    webhook = { secret = "env:EXIT_ENTRY_WEBHOOK_SECRET" }

``adapter = "NAME"`` lays deliveries out as the consuming system expects (``photocore.adapters``:
``json-api``, ``folder-xml``, ``s3-archive``, or an integrator's package); its settings go in the
table of the same name, ``[system.NAME]``. Without it, the transport's own layout.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from ..errors import ConfigError

TRANSPORTS = ("http", "sftp", "s3", "folder")
_SECRET = {"type": "string", "pattern": "^(env|file):.+"}
SCHEMA: dict[str, Any] = {  # JSON Schema of the systems file
    "type": "object", "additionalProperties": False, "required": ["system"],
    "properties": {"system": {"type": "array", "minItems": 1, "items": {
        "type": "object", "additionalProperties": False, "required": ["id", "credentials", "transport"],
        "properties": {
            "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
            "name_zh": {"type": "string"}, "name_en": {"type": "string"},
            "credentials": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
            "transport": {"enum": list(TRANSPORTS)},
            "adapter": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
            "rate_limit": {"type": "number", "exclusiveMinimum": 0},
            "http": {"type": "object", "properties": {
                "url": {"type": "string", "pattern": "^https?://"},
                "auth": {"type": "object", "properties": {"type": {"enum": ["bearer"]}, "token": _SECRET},
                         "required": ["type", "token"], "additionalProperties": False},
                "webhook": {"type": "object", "additionalProperties": False,
                            "properties": {"secret": _SECRET, "ed25519_key": _SECRET}},
                "timeout": {"type": "number", "exclusiveMinimum": 0}}},
            "sftp": {"type": "object", "properties": {"password": _SECRET, "known_hosts": {"type": "string"},
                                                      "insecure_skip_host_key_check": {"type": "boolean"}}},
            "s3": {"type": "object", "properties": {"access_key": _SECRET, "secret_key": _SECRET}},
            "folder": {"type": "object"},
        },
    }}},
}


SYSTEM_KEYS = frozenset(SCHEMA["properties"]["system"]["items"]["properties"])


@dataclass(frozen=True)
class System:
    id: str
    credentials: tuple[str, ...]
    transport: str
    settings: dict
    rate_limit: float | None = None
    adapter: str | None = None  # an entry point of photocore.adapters
    adapter_settings: dict = field(default_factory=dict)

    def takes(self, credential: str) -> bool:
        return any(fnmatch.fnmatchcase(credential, pattern) for pattern in self.credentials)

    def destination_config(self) -> dict:
        """What the outbox keeps to reach this system (references only, no secret values)."""
        config = {"transport": self.transport, "settings": self.settings, "rate_limit": self.rate_limit}
        if self.adapter:
            config |= {"adapter": self.adapter, "adapter_settings": self.adapter_settings}
        return config


def load_systems(path) -> dict[str, System]:
    """The systems of a systems file, each checked as a worker will use it (transport settings,
    adapter found and given its settings). Every problem is listed; the error's code is the
    problems' own when they share one (``deliver.unknown_adapter``, ``deliver.sftp_host_key``),
    else ``config.invalid``."""
    from ..adapters.registry import make_sender

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}", code="config.systems_missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", code="config.invalid") from exc
    # each adapter's settings table is named after it: set aside before the schema sees the system
    adapter_tables: list[dict] = []
    for entry in data.get("system", []) if isinstance(data.get("system"), list) else []:
        name = entry.get("adapter") if isinstance(entry, dict) else None
        table = entry.pop(name, {}) if isinstance(name, str) and name not in SYSTEM_KEYS else {}
        adapter_tables.append(table if isinstance(table, dict) else {"(not a table)": table})
    problems: list[tuple[str, str]] = []
    for error in Draft202012Validator(SCHEMA).iter_errors(data):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        problems.append((f"{path}: {where}: {error.message}", "config.invalid"))
    systems: dict[str, System] = {}
    for i, entry in enumerate(data.get("system", []) if not problems else []):
        if entry["id"] in systems:
            problems.append((f"{path}: system[{i}] {entry['id']}: duplicate id", "config.invalid"))
        adapter = entry.get("adapter")
        if adapter in SYSTEM_KEYS:
            problems.append((f"{path}: system[{i}] {entry['id']}: {adapter!r} cannot name an adapter",
                             "deliver.unknown_adapter"))
            continue
        system = System(entry["id"], tuple(entry["credentials"]), entry["transport"],
                        dict(entry.get(entry["transport"], {})), entry.get("rate_limit"), adapter,
                        dict(adapter_tables[i]))
        try:
            make_sender(system.destination_config(), system.id).close()
        except ConfigError as exc:
            problems.append((f"{path}: system[{i}] {entry['id']}: {exc.message}", exc.code))
        systems[entry["id"]] = system
    if problems:
        codes = {code for _, code in problems}
        raise ConfigError("invalid systems file:\n  " + "\n  ".join(m for m, _ in problems),
                          code=codes.pop() if len(codes) == 1 else "config.invalid")
    return systems


def endpoint_system(url: str) -> System:
    """The quick-test destination of ``push --endpoint URL``: a plain JSON POST."""
    return System(f"endpoint:{url}", ("*",), "http", {"url": url, "mode": "json"})
