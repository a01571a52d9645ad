"""Every cache photocore keeps, in one place: what it holds, its key, and what makes it stale.

photocore caches three kinds of things, and nothing else:
- work on files shipped inside the package (profiles, messages, the smile model): they change
  only with an upgrade, which restarts the process;
- pure functions of immutable values (a credential profile's keys, a colour's CIELAB);
- the credential catalogue, the one set of files a deployment edits while services run: it is
  keyed by the modification stamps of its files, so the next ``load_catalogue`` after an edit
  reads it again.
Per-object caches (``Analysis.shared`` and its derived geometry, a catalogue's photo ids, an
OIDC verifier's keys) live and die with their object and are listed here for completeness.

A function is memoised with ``@memoised``, which finds its entry by the function's own name
(``judge.load_profile``): a memoised function without an entry fails at import, an entry no
function claims fails in the tests.
``clear()`` empties every memoised function (tests; a service after its shipped files changed).
The README's "Caches" table is generated from ``CACHES`` (``python -m photocore.docs_tables``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Cache:
    name: str  # module-relative name of what is cached, e.g. "judge.load_profile"
    holds: str
    key: str
    invalidation: str
    maxsize: int | None = None  # entries kept (least recently used dropped); None: unbounded
    memoised: bool = True  # a function memoised with ``memoised``; False: a per-object cache, listed only


_SHIPPED = "never while the process runs: the file ships inside the package, an upgrade restarts it"
_PURE = "never: a pure function of an immutable key"
_PROFILE_KEY = ("never: profiles are immutable; a reloaded catalogue makes new profile objects, whose "
                "entries push the old ones out")

CACHES: dict[str, Cache] = {c.name: c for c in (
    Cache("catalogue.load._load", "the resolved credential catalogue (built-in specs with an overlay)",
          "overlay folder, and (path, inode, mtime, size) of every catalogue file read",
          "any catalogue file edited, added or removed: the next load_catalogue() reads the files again",
          maxsize=8),
    Cache("judge.load_profile", "a shipped requirement profile (photocore/profiles/*.toml)", "profile name",
          _SHIPPED),
    Cache("judge.messages", "the clerk's messages (profiles/messages.toml)", "none", _SHIPPED),
    Cache("judge._texts", "a verdict's Chinese and English message", "(code, status, assessed)", _SHIPPED),
    Cache("live.instructions.live_limits", "the live requirements read from a profile", "profile name",
          _SHIPPED),
    Cache("live.instructions.exposure_limits", "the live exposure limits", "profile name", _SHIPPED),
    Cache("live.instructions.margin_limits", "the live margin limits", "profile name", _SHIPPED),
    Cache("measures.expression.model", "the smile model's coefficients (measures/smile_model.json)", "none",
          _SHIPPED),
    Cache("credentials._measure_rules", "a credential's capture rules with its own codes and policies",
          "profile object", _PROFILE_KEY, maxsize=512),
    Cache("credentials.judge_key", "everything a credential's verdicts depend on", "profile object",
          _PROFILE_KEY, maxsize=4096),
    Cache("credentials._key_numbers", "small numbers standing for judge keys (equal keys, equal numbers)",
          "profile object", _PROFILE_KEY, maxsize=4096),
    Cache("credentials._KEY_NUMBERS", "the numbers given to judge keys, in order of first use (behind a lock)",
          "judge key", "never: a number must keep its meaning; one entry per distinct set of photo rules",
          memoised=False),
    Cache("credentials._lab", "CIELAB of a catalogue colour", "hex colour", _PURE, maxsize=256),
    Cache("credentials._tints", "CIELAB of a colour and its tints towards white", "hex colour", _PURE,
          maxsize=256),
    Cache("render.pixel_key", "the digest naming the pixels a profile asks for", "profile object",
          _PROFILE_KEY, maxsize=4096),
    Cache("render.render_key", "the digest naming the file a profile asks for", "profile object",
          _PROFILE_KEY, maxsize=4096),
    Cache("sheet._cjk_font_file", "the font the print sheet's Chinese labels use",
          "none ($PHOTOCORE_CJK_FONT and fontconfig are read on first use)",
          "never while the process runs: install a font or set the variable, then restart", maxsize=1),
    Cache("library.agency_auth._derived_key", "the key agency access tokens are signed with", "token secret",
          _PURE, maxsize=8),
    Cache("analysis.models.models", "MediaPipe graphs, one set per thread", "thread",
          "never: built on a thread's first analysis, freed with the thread", memoised=False),
    Cache("Analysis.shared", "work several measures share (face histogram, background mask, skin level)",
          "the function computing it", "none: it lives and dies with its Analysis", memoised=False),
    Cache("Catalogue._photo_ids", "which distinct photo each credential takes", "none",
          "none: it lives and dies with its Catalogue (a reloaded catalogue computes it again)",
          memoised=False),
    Cache("library.agency_auth.clients_for", "the agency clients file, checked", "the Library object",
          "never while the service runs: a clients file is checked whole at start, so an edit takes effect "
          "with a restart, and a broken edit never half-applies", memoised=False),
    Cache("batch.job._signing", "the station signer, its key decrypted once per batch worker process",
          "(key file, station)", "never: it lives and dies with the worker process", memoised=False),
    Cache("library.oidc.OidcClient", "an identity provider's discovery document and signing keys",
          "issuer", "after cache_ttl seconds (600), or at once for a token signed with an unknown key",
          memoised=False),
)}

_CLEARERS: dict[str, Callable[[], None]] = {}


def memoised(fn: F) -> F:
    """``functools.lru_cache`` for ``fn``, sized and documented by its entry in ``CACHES``."""
    name = f"{fn.__module__.removeprefix('photocore.')}.{fn.__qualname__}"
    entry = CACHES.get(name)
    if entry is None or not entry.memoised:
        raise LookupError(f"cache {name!r} is not listed in photocore/caches.py")
    if name in _CLEARERS:
        raise LookupError(f"cache {name!r} is claimed twice")
    cached = functools.lru_cache(maxsize=entry.maxsize)(fn)
    _CLEARERS[name] = cached.cache_clear
    return cached  # type: ignore[return-value]  # lru_cache keeps the signature


def clear() -> None:
    """Empty every memoised function's cache (per-object caches go with their objects)."""
    for clear_one in _CLEARERS.values():
        clear_one()


def unclaimed() -> list[str]:
    """Listed memoised caches no imported function has claimed (the tests import every module)."""
    return sorted(name for name, c in CACHES.items() if c.memoised and name not in _CLEARERS)


FileStamp = tuple[tuple[str, int, int, int], ...]


def file_stamp(folders: Iterable[str | os.PathLike[str]], suffix: str = ".toml") -> FileStamp:
    """(path, inode, mtime, size) of every ``suffix`` file directly in ``folders``, sorted: it
    changes when one of them is edited, replaced, added or removed (a missing folder has none)."""
    found = []
    for folder in folders:
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.endswith(suffix) and entry.is_file():
                        st = entry.stat()
                        found.append((entry.path, st.st_ino, st.st_mtime_ns, st.st_size))
        except (FileNotFoundError, NotADirectoryError):
            continue
    return tuple(sorted(found))
