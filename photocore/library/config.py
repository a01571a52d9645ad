"""How a library service process is configured: options first, then the environment.

Every process of one deployment gets the same database, store, secret and trust roots, and so
behaves the same; nothing else is kept between requests.

    PHOTOCORE_HOME            data folder (SQLite file and encrypted objects by default)
    PHOTOCORE_DATABASE_URL    postgresql://... to share one database between processes and hosts
    PHOTOCORE_STORE           s3://BUCKET/PREFIX?endpoint=URL, or file:///PATH
    PHOTOCORE_LIBRARY_SECRET  base64 of 32 random bytes (or --secret env:NAME|file:PATH)
    PHOTOCORE_LIBRARY_KEK     the key-encryption key, same form (default: derived from the secret)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .crypto import new_secret, parse_secret
from .errors import LibraryError

ENV_HOME = "PHOTOCORE_HOME"
ENV_DATABASE = "PHOTOCORE_DATABASE_URL"
ENV_STORE = "PHOTOCORE_STORE"
ENV_SECRET = "PHOTOCORE_LIBRARY_SECRET"
ENV_KEK = "PHOTOCORE_LIBRARY_KEK"
DEFAULT_REUSE_DAYS = 180  # a credential whose catalogue entry gives neither a reuse window nor a photo age limit


def resolve_reference(reference: str, what: str) -> str:
    """The value behind ``env:NAME`` or ``file:PATH`` (never logged, never written)."""
    kind, _, name = reference.partition(":")
    if kind == "env":
        value = os.environ.get(name)
        if not value:
            raise LibraryError(f"environment variable {name} ({what}) is not set", code="library.config")
        return value
    if kind == "file":
        try:
            return Path(name).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise LibraryError(f"cannot read {what} from {name}: {exc}", code="library.config") from exc
    raise LibraryError(f"{what} must be given as env:NAME or file:PATH", code="library.config")


@dataclass
class LibraryConfig:
    data_dir: Path
    database: str | None = None  # None: SQLite in data_dir
    store: str | None = None  # None: encrypted files in data_dir/objects
    trust: list[Path] = field(default_factory=list)  # issuing roots whose stations may publish
    revoked: list[Path] = field(default_factory=list)  # revocation lists (keys revoked.json), read per request
    secret: str | None = None  # env:NAME | file:PATH; None: $PHOTOCORE_LIBRARY_SECRET, else a key file in data_dir
    kek: str | None = None  # env:NAME | file:PATH; None: derived from the secret
    clients: Path | None = None  # agency clients (see agency_auth)
    public_url: str | None = None  # how agencies and citizens reach this service (token audience, QR links)
    oidc: dict | None = None  # {"issuer":..., "client_id":..., "client_secret": "env:..", "id_claim": ...}
    max_upload: int = 64 * 1024 * 1024
    reuse_default_days: int = DEFAULT_REUSE_DAYS

    @classmethod
    def from_env(cls, data_dir: str | os.PathLike | None = None, **options) -> LibraryConfig:
        home = Path(data_dir or os.environ.get(ENV_HOME) or Path.home() / ".photocore")
        options.setdefault("database", None)
        options["database"] = options["database"] or os.environ.get(ENV_DATABASE)
        options["store"] = options.get("store") or os.environ.get(ENV_STORE)
        return cls(data_dir=home, **{k: v for k, v in options.items() if v is not None or k in ("database",)})

    def service_secret(self) -> bytes:
        """The service secret. With none configured, an embedded deployment keeps one in
        ``DATA_DIR/library.secret`` (mode 0600, made on first start) so `photocore serve` runs with
        no setup; a deployment of several processes must pass the same secret to each."""
        if self.secret:
            return parse_secret(resolve_reference(self.secret, "the library secret"), "the library secret")
        if os.environ.get(ENV_SECRET):
            return parse_secret(os.environ[ENV_SECRET], ENV_SECRET)
        path = self.data_dir / "library.secret"
        if not path.exists():
            try:
                self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(new_secret())
            except FileExistsError:
                pass  # another process made it first
            except OSError as exc:
                raise LibraryError(f"cannot create {path}: {exc}", code="library.config") from exc
        return parse_secret(resolve_reference(f"file:{path}", "the library secret"), str(path))

    def key_encryption_key(self) -> bytes | None:
        if self.kek:
            return parse_secret(resolve_reference(self.kek, "the key-encryption key"), "the key-encryption key")
        if os.environ.get(ENV_KEK):
            return parse_secret(os.environ[ENV_KEK], ENV_KEK)
        return None
