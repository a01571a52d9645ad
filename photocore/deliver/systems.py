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
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass

from jsonschema import Draft202012Validator

from ..errors import ConfigError
from .transports import transport_class

TRANSPORTS = ("http", "sftp", "s3", "folder")
_SECRET = {"type": "string", "pattern": "^(env|file):.+"}
SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["system"],
    "properties": {"system": {"type": "array", "minItems": 1, "items": {
        "type": "object", "additionalProperties": False, "required": ["id", "credentials", "transport"],
        "properties": {
            "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
            "name_zh": {"type": "string"}, "name_en": {"type": "string"},
            "credentials": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
            "transport": {"enum": list(TRANSPORTS)},
            "rate_limit": {"type": "number", "exclusiveMinimum": 0},
            "http": {"type": "object", "properties": {
                "url": {"type": "string", "pattern": "^https?://"},
                "auth": {"type": "object", "properties": {"type": {"enum": ["bearer"]}, "token": _SECRET},
                         "required": ["type", "token"], "additionalProperties": False},
                "webhook": {"type": "object", "additionalProperties": False,
                            "properties": {"secret": _SECRET, "ed25519_key": _SECRET}},
                "timeout": {"type": "number", "exclusiveMinimum": 0}}},
            "sftp": {"type": "object", "properties": {"password": _SECRET}},
            "s3": {"type": "object", "properties": {"access_key": _SECRET, "secret_key": _SECRET}},
            "folder": {"type": "object"},
        },
    }}},
}


@dataclass(frozen=True)
class System:
    id: str
    credentials: tuple[str, ...]
    transport: str
    settings: dict
    rate_limit: float | None = None

    def takes(self, credential: str) -> bool:
        return any(fnmatch.fnmatchcase(credential, pattern) for pattern in self.credentials)

    def destination_config(self) -> dict:
        """What the outbox keeps to reach this system (references only, no secret values)."""
        return {"transport": self.transport, "settings": self.settings, "rate_limit": self.rate_limit}


def load_systems(path) -> dict[str, System]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}", code="config.systems_missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", code="config.invalid") from exc
    problems = []
    for error in Draft202012Validator(SCHEMA).iter_errors(data):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        problems.append(f"{path}: {where}: {error.message}")
    systems: dict[str, System] = {}
    for i, entry in enumerate(data.get("system", []) if not problems else []):
        if entry["id"] in systems:
            problems.append(f"{path}: system[{i}] {entry['id']}: duplicate id")
        settings = dict(entry.get(entry["transport"], {}))
        try:
            transport_class(entry["transport"]).from_config({"transport": entry["transport"], **settings})
        except ConfigError as exc:
            problems.append(f"{path}: system[{i}] {entry['id']}: {entry['transport']}: {exc.message}")
        systems[entry["id"]] = System(entry["id"], tuple(entry["credentials"]), entry["transport"], settings,
                                      entry.get("rate_limit"))
    if problems:
        raise ConfigError("invalid systems file:\n  " + "\n  ".join(problems), code="config.invalid")
    return systems


def endpoint_system(url: str) -> System:
    """The quick-test destination of ``push --endpoint URL``: a plain JSON POST."""
    return System(f"endpoint:{url}", ("*",), "http", {"url": url, "mode": "json"})
