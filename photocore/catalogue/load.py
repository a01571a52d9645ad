"""Load, overlay, validate and resolve the credential catalogue.

Layers: the built-in catalogue shipped in the wheel, then optionally an integrator's folder
(``--catalogue DIR`` or ``PHOTOCORE_CATALOGUE``) with the same layout whose entries add to or
replace the built-in ones. Every problem found names the file, the entry, the key and what is
wrong; all problems are collected before one ``CatalogueError`` is raised.

Two catalogues share one loader: the 18 agencies' credentials (``specs/``, scope "china") and the
world's passport and visa photos (``specs/international/``, scope "international", issuing
authorities in ``authorities.toml``). ``Catalogue.get`` finds either, so every command that takes
a credential id takes both; listings keep them apart.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from ..caches import FileStamp, file_stamp, memoised
from ..errors import CatalogueError, ConfigError
from .schema import FILE_SCHEMAS, GEOMETRY_RULES, PROFILE_KEYS

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

SCOPES = ("china", "international")

ENV_OVERLAY = "PHOTOCORE_CATALOGUE"
TOLERANCE = 0.02  # pixels against mm x dpi, and sizes against the aspect


@dataclass(frozen=True)
class Agency:
    id: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Range:
    min: float | None
    max: float | None

    def contains(self, value: float, slack: float = 0.0) -> bool:
        return ((self.min is None or value >= self.min - slack)
                and (self.max is None or value <= self.max + slack))


@dataclass(frozen=True, eq=False)  # identity: profiles are built once per catalogue
class PhotoProfile:
    """A resolved photo profile: inheritance applied, geometry in fractions of the photo."""

    id: str
    kind: str  # "credential" or "base"
    agency: str | None  # the issuing agency (china) or authority (international) of a credential
    name_zh: str
    name_en: str
    chain: tuple[str, ...]  # this entry, then what it inherits from, nearest first
    width: tuple[int, int]  # (min, max) output width in px; equal when fixed
    height: tuple[int, int]
    aspect: float  # width / height
    dpi: int | None
    width_mm: float | None
    height_mm: float | None
    formats: tuple[str, ...]
    colour: str
    jpeg_quality_min: int | None
    kb_min: float | None
    kb_max: float | None
    background: tuple[str, ...]
    background_tolerance: float | None
    background_replace: bool
    background_min_lightness: tuple[str, ...]  # colours of ``background`` that are lower limits, not centres
    max_age_days: int | None
    reuse_days: int | None  # how long after capture a shared-library photo may be reused
    c2pa: bool  # embed a C2PA manifest when signing (the JWS sidecar is always written)
    geometry: dict[str, Range]  # fraction of the photo width or height (see schema.GEOMETRY_RULES)
    raw: dict = field(repr=False)  # the merged keys as written, for display
    sources: tuple[dict, ...] = ()  # own sources first, then inherited ones ("from": id)
    conflicts: tuple[dict, ...] = ()
    derived: tuple[dict, ...] = ()  # photocore's own readings and defaults, with the keys they set
    scope: str = "china"  # "china" (the 18 agencies) or "international"
    alias_of: str | None = None  # the credential this one is the same document as
    inherits_note: str | None = None  # why it takes what it inherits, when no source of its own says
    placement: dict[str, Range] = field(default_factory=dict)  # framing aim, never judged (framing.py)
    @property
    def content(self) -> dict:
        return dict(self.raw.get("content", {}))

    @property
    def reuse_window_days(self) -> int | None:
        """Days after capture a library photo may be reused: reuse_days, else max_age_days, else None."""
        return self.reuse_days if self.reuse_days is not None else self.max_age_days

    @property
    def fixed_size(self) -> bool:
        return self.width[0] == self.width[1] and self.height[0] == self.height[1]

    def to_dict(self) -> dict:
        """The resolved profile as plain data (also what the content hash covers)."""
        return {
            "id": self.id, "agency": self.agency, "name_zh": self.name_zh, "name_en": self.name_en,
            "inherits": list(self.chain[1:]),
            "width_px": self.width[0], "height_px": self.height[0],
            "max_width_px": self.width[1], "max_height_px": self.height[1],
            "dpi": self.dpi, "width_mm": self.width_mm, "height_mm": self.height_mm,
            "formats": list(self.formats), "colour": self.colour, "jpeg_quality_min": self.jpeg_quality_min,
            "kb_min": self.kb_min, "kb_max": self.kb_max, "background": list(self.background),
            "background_tolerance": self.background_tolerance, "background_replace": self.background_replace,
            "background_min_lightness": list(self.background_min_lightness),
            "max_age_days": self.max_age_days, "reuse_days": self.reuse_days, "c2pa": self.c2pa,
            "geometry": {k: self.raw["geometry"][k] for k in sorted(self.raw.get("geometry", {}))},
            "geometry_fraction": {k: [r.min, r.max] for k, r in sorted(self.geometry.items())},
            "placement": {k: self.raw["placement"][k] for k in sorted(self.raw.get("placement", {}))},
            "content": self.content, "scope": self.scope, "alias_of": self.alias_of,
            "inherits_note": self.inherits_note,
            "sources": list(self.sources), "derived": list(self.derived), "conflicts": list(self.conflicts),
        }

    def photo_key(self) -> tuple:
        """What makes the photo file itself, as the renderer sees it (``render.render_key``): size,
        colour, the background painted in when it may be replaced, framing, DPI, first format,
        quality floor and byte window. Credentials with equal keys get the same file from one
        capture; rules on the sitting (content, age, reuse) and accepted alternatives do not
        make another photo."""
        framing = [*self.geometry.items(), *((f"placement.{k}", r) for k, r in self.placement.items())]
        geometry = tuple(sorted((k, None if r.min is None else round(r.min, 4),
                                 None if r.max is None else round(r.max, 4)) for k, r in framing))
        return (self.width, self.height, round(self.aspect, 6), self.colour, self.background_replace,
                self.background[0] if self.background_replace else None, geometry, self.dpi, self.formats[:1],
                self.jpeg_quality_min, self.kb_min, self.kb_max)


@dataclass(frozen=True)
class Photo:
    """One distinct photo: the profile that defines it and every credential that uses it."""

    id: str  # the most general profile (base or credential) that already asks for exactly this photo
    profile: PhotoProfile
    credentials: tuple[str, ...]

    def to_dict(self) -> dict:
        p = self.profile
        return {"photo": self.id, "scope": p.scope, "width_px": p.width[0], "height_px": p.height[0],
                "max_width_px": p.width[1], "max_height_px": p.height[1], "dpi": p.dpi,
                "background": list(p.background), "kb_min": p.kb_min, "kb_max": p.kb_max,
                "credentials": len(self.credentials), "aliases": list(self.credentials)}


@dataclass
class Catalogue:
    version: str
    title: str
    agencies: dict[str, Agency]
    bases: dict[str, PhotoProfile]
    credentials: dict[str, PhotoProfile]  # the 18 agencies' credentials (scope "china")
    content_hash: str
    overlay: str | None = None
    international: dict[str, PhotoProfile] = field(default_factory=dict)  # specs/international/
    authorities: dict[str, Agency] = field(default_factory=dict)  # who issues the international ones

    def get(self, credential_id: str) -> PhotoProfile:
        profile = self.credentials.get(credential_id) or self.international.get(credential_id)
        if profile is None:
            raise ConfigError(f"unknown credential {credential_id!r} (see `photocore specs list --catalogue all`)",
                              code="config.unknown_credential")
        return profile

    def of_agency(self, agency: str) -> list[PhotoProfile]:
        return [p for p in self.credentials.values() if p.agency == agency]

    def in_scope(self, scope: str = "china") -> list[PhotoProfile]:
        """The credentials of one catalogue: "china", "international" or "all"."""
        if scope not in (*SCOPES, "all"):
            raise ConfigError(f"unknown catalogue {scope!r}: china, international or all",
                              code="config.unknown_catalogue")
        china = list(self.credentials.values()) if scope in ("china", "all") else []
        return china + (list(self.international.values()) if scope in ("international", "all") else [])

    def photo_of(self, credential_id: str) -> str:
        """The id of the distinct photo a credential uses (see ``photos``)."""
        return self._photo_ids[credential_id]

    def photos(self, scope: str = "china") -> list[Photo]:
        """The distinct photos behind the credentials of ``scope``: a person needs one photo per
        entry, and each entry lists the credentials that take it."""
        ids = self._photo_ids
        groups: dict[str, list[str]] = {}
        for p in self.in_scope(scope):
            groups.setdefault(ids[p.id], []).append(p.id)
        out = []
        for photo_id, members in groups.items():
            profile = self.bases.get(photo_id) or self.get(photo_id)
            out.append(Photo(photo_id, profile, tuple(members)))
        return out

    @cached_property
    def _photo_ids(self) -> dict[str, str]:
        """Credential id -> the id of the distinct photo it takes (computed once per catalogue)."""
        every = {**self.bases, **self.credentials, **self.international}
        by_key: dict[tuple, str] = {}
        ids = {}
        for p in (*self.credentials.values(), *self.international.values()):
            key = p.photo_key()
            # the most general profile in the chain that already asks for exactly this photo
            own = next(link for link in reversed(p.chain) if every[link].photo_key() == key)
            ids[p.id] = by_key.setdefault((p.scope, key), own)
        return ids


# -- reading files ---------------------------------------------------------------------------

def _builtin_dir() -> Traversable:
    return resources.files("photocore").joinpath("_specs")


def _read_layer(root: Traversable, label: str, problems: list[str], scope: str = "china") -> dict:
    """{"catalogue": (file, data) | None, "agencies": ..., "bases": ..., "credentials": [(file, data)],
    "international": the same for the international/ folder}."""
    layer: dict[str, Any] = {"catalogue": None, "agencies": None, "bases": None, "credentials": [],
                             "international": None}

    def read(entry: Traversable, kind: str) -> tuple[str, dict[str, Any]] | None:
        name = f"{label}/{entry.name}" if kind != "credentials" else f"{label}/credentials/{entry.name}"
        try:
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            problems.append(f"{name}: not UTF-8 text ({exc.reason})")
            return None
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"{name}: not valid TOML: {exc}")
            return None
        for error in sorted(Draft202012Validator(FILE_SCHEMAS[kind]).iter_errors(data), key=lambda e: list(e.path)):
            problems.append(f"{name}: {_json_path(data, error.absolute_path)}: {_schema_message(error)}")
        return (name, data)

    kinds = ("catalogue", "agencies", "bases") if scope == "china" else ("authorities", "bases")
    for kind in kinds:
        entry = root.joinpath(f"{kind}.toml")
        if entry.is_file():
            layer["agencies" if kind == "authorities" else kind] = read(entry, kind)
    credentials = root.joinpath("credentials")
    if credentials.is_dir():
        for entry in sorted(credentials.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                got = read(entry, "credentials")
                if got:
                    layer["credentials"].append(got)
    international = root.joinpath("international")
    if scope == "china" and international.is_dir():
        layer["international"] = _read_layer(international, f"{label}/international", problems, "international")
    return layer


def _json_path(data: dict[str, Any], path: Iterable[str | int]) -> str:
    """'credential[3] police.x: geometry.face_width.unit' style location of a schema error."""
    parts = list(path)
    node: Any = data  # walks down through the TOML's tables, arrays and values
    out: list[str] = []
    for part in parts:
        if isinstance(part, int):
            ident = node[part].get("id") if isinstance(node, list) and isinstance(node[part], dict) else None
            out[-1] = f"{out[-1]}[{part}]" + (f" ({ident})" if ident else "")
        else:
            out.append(str(part))
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(out) or "(top level)"


def _schema_message(error: ValidationError) -> str:
    if error.validator == "additionalProperties":
        return f"unknown key(s): {error.message.split('(')[-1].rstrip(')')}"
    if (error.validator == "enum" and list(error.path)[-1:] == ["confidence"]
            and error.validator_value == ["medium", "low"]):
        return f"{error.instance!r}: a secondary page (kind = \"secondary\") is never high confidence"
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {error.validator_value}"
    if error.validator == "oneOf" and isinstance(error.instance, dict):
        return f"{error.instance!r} must be a whole number of pixels or {{ min, max }}"
    return error.message


# -- resolving ------------------------------------------------------------------------------

def _flat_keys(entry: dict) -> set[str]:
    keys = {k for k in entry if k in PROFILE_KEYS}
    keys |= {f"geometry.{k}" for k in entry.get("geometry", {})}
    keys |= {f"placement.{k}" for k in entry.get("placement", {})}
    keys |= {f"content.{k}" for k in entry.get("content", {})}
    return keys


def _merge(parent: dict, child: dict) -> dict:
    merged = dict(parent)
    for key, value in child.items():
        if key in ("geometry", "placement", "content"):
            merged[key] = {**parent.get(key, {}), **value}
        elif key not in ("sources", "derived", "conflicts", "inherits", "alias_of", "inherits_note", "id",
                         "name_zh", "name_en", "title"):
            merged[key] = value
    return merged


def _size(value: int | dict[str, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (value["min"], value["max"])


def _aspect(text: str) -> float:
    w, h = text.split(":")
    return int(w) / int(h)


def _fraction(rule: str, spec: dict, bound: str, ref_w: int, ref_h: int, mm_w: float | None, mm_h: float | None,
              aspect: float) -> float | None:
    value = spec.get(bound)
    if value is None:
        return None
    axis, unit = GEOMETRY_RULES[rule], spec["unit"]
    if unit == "px":
        return value / (ref_w if axis == "width" else ref_h)
    if unit == "mm":
        return value / (mm_w if axis == "width" else mm_h)
    if unit == axis:
        return value
    # a fraction of the other side: convert through the aspect (width = aspect * height)
    return value / aspect if axis == "width" else value * aspect


class _Resolver:
    def __init__(self, entries: dict[str, tuple[str, str, dict, str]], problems: list[str]) -> None:
        self.entries = entries  # id -> (file, kind, data)
        self.problems = problems
        self.merged: dict[str, tuple[dict, tuple[str, ...], list[dict]] | None] = {}

    def merged_of(self, ident: str, trail: tuple[str, ...] = ()) -> tuple[dict, tuple[str, ...], list[dict]] | None:
        if ident in self.merged:
            return self.merged[ident]
        file, kind, data = self.entries[ident][:3]
        parent_id = data.get("inherits") or data.get("alias_of")
        own_sources = [dict(s) for s in data.get("sources", [])]
        result: tuple[dict, tuple[str, ...], list[dict]] | None
        if parent_id is None:
            result = (_merge({}, data), (ident,), own_sources)
        elif parent_id in trail or parent_id == ident:
            self.problems.append(f"{file}: {kind} {ident}: inherits: circular inheritance "
                                 f"({' -> '.join((*trail, ident, parent_id))})")
            result = None
        elif parent_id not in self.entries:
            self.problems.append(f"{file}: {kind} {ident}: inherits: {parent_id!r} is neither a base nor a credential")
            result = None
        else:
            parent = self.merged_of(parent_id, (*trail, ident))
            if parent is None:
                result = None
            else:
                p_data, p_chain, p_sources = parent
                inherited = [{**s, "from": s.get("from", p_chain[0])} for s in p_sources]
                result = (_merge(p_data, data), (ident, *p_chain), own_sources + inherited)
        self.merged[ident] = result
        return result


def _check_entry(file: str, kind: str, ident: str, data: dict, problems: list[str]) -> None:
    """Checks on what an entry writes itself: sources cover its keys, names are real keys."""
    where = f"{file}: {kind} {ident}"
    own = _flat_keys(data)
    if kind == "credential":
        if ("inherits" in data) == ("alias_of" in data):
            problems.append(f"{where}: inherits: set exactly one of inherits (a base or credential) "
                            f"and alias_of (the same document under another name)")
        if not data.get("sources") and not data.get("inherits_note") and not data.get("derived"):
            problems.append(f"{where}: sources: a credential needs a source of its own, a derived entry, or an "
                            f"inherits_note saying why it takes what it inherits")
        if "alias_of" in data and own:
            problems.append(f"{where}: alias_of: an alias is the same document as {data['alias_of']!r} and sets "
                            f"nothing of its own ({', '.join(sorted(own))})")
    covered: set[str] = set()
    for label, items in (("sources", data.get("sources", [])), ("derived", data.get("derived", []))):
        for i, source in enumerate(items):
            keys = source.get("keys")
            if keys is None:
                covered |= own
                continue
            for key in keys:
                if key not in PROFILE_KEYS:
                    problems.append(f"{where}: {label}[{i}].keys: {key!r} is not a profile key")
                elif key not in own:
                    problems.append(f"{where}: {label}[{i}].keys: {key!r} is not set by this entry")
            covered |= set(keys)
    for key in sorted(own - covered):
        problems.append(f"{where}: {key}: no source for this value (add it to the keys of a source, or of a "
                        f"derived entry if photocore chose it)")
    for i, conflict in enumerate(data.get("conflicts", [])):
        if conflict.get("key") not in PROFILE_KEYS:
            problems.append(f"{where}: conflicts[{i}].key: {conflict.get('key')!r} is not a profile key")


def _build_profile(file: str, kind: str, ident: str, data: dict, merged: dict, chain: Iterable[str],
                   sources: Iterable[dict], conflicts: Iterable[dict], problems: list[str],
                   derived: Iterable[dict] = (), scope: str = "china") -> PhotoProfile | None:
    where = f"{file}: {kind} {ident}"
    start = len(problems)
    for key in ("width_px", "height_px", "formats", "colour", "background"):
        if key not in merged:
            problems.append(f"{where}: {key}: missing (set it here or in what it inherits)")
    if len(problems) > start:
        return None
    width, height = _size(merged["width_px"]), _size(merged["height_px"])
    for key, (least, most) in (("width_px", width), ("height_px", height)):
        if least > most:
            problems.append(f"{where}: {key}: range upside down (min {least} > max {most})")
    fixed = width[0] == width[1] and height[0] == height[1]
    if "aspect" in merged:
        aspect = _aspect(merged["aspect"])
        for w, h in ((width[0], height[0]), (width[1], height[1])):
            if abs(w / h - aspect) / aspect > TOLERANCE:
                problems.append(f"{where}: aspect: {merged['aspect']} does not match {w}x{h} px")
    elif not fixed:
        problems.append(f"{where}: aspect: required when the pixel size is a range")
        aspect = width[0] / height[0]
    else:
        aspect = width[0] / height[0]
    dpi, mm_w, mm_h = merged.get("dpi"), merged.get("width_mm"), merged.get("height_mm")
    if dpi:
        for key, px, mm in (("width_mm", width[0], mm_w), ("height_mm", height[0], mm_h)):
            if mm is not None:
                expected = px / dpi * 25.4
                if abs(expected - mm) / mm > TOLERANCE:
                    problems.append(f"{where}: {key}: {mm} mm does not match {px} px at {dpi} dpi "
                                    f"({expected:.1f} mm, more than 2% apart)")
    if merged.get("kb_min") is not None and merged.get("kb_max") is not None and merged["kb_min"] > merged["kb_max"]:
        problems.append(f"{where}: kb_min: {merged['kb_min']} KB is above kb_max {merged['kb_max']} KB")
    background = tuple(c.upper() for c in merged["background"])
    minimum = tuple(c.upper() for c in merged.get("background_min_lightness", ()))
    for colour in minimum:
        if colour not in background:
            problems.append(f"{where}: background_min_lightness: {colour} is not one of the background colours "
                            f"({', '.join(background)})")
    if "jpeg" not in merged["formats"] and "jpeg_quality_min" in merged and "jpeg_quality_min" in data:
        problems.append(f"{where}: jpeg_quality_min: set, but jpeg is not among the formats")
    geometry: dict[str, Range] = {}
    placement: dict[str, Range] = {}
    for table, rule, spec in [("geometry", *i) for i in merged.get("geometry", {}).items()] + \
            [("placement", *i) for i in merged.get("placement", {}).items()]:
        key = f"{where}: {table}.{rule}"
        if spec["unit"] == "mm" and (mm_w is None or mm_h is None):
            problems.append(f"{key}: unit mm needs width_mm and height_mm")
            continue
        low = _fraction(rule, spec, "min", width[0], height[0], mm_w, mm_h, aspect)
        high = _fraction(rule, spec, "max", width[0], height[0], mm_w, mm_h, aspect)
        if low is not None and high is not None and low > high:
            problems.append(f"{key}: range upside down (min {spec['min']} > max {spec['max']} {spec['unit']})")
            continue
        if (low or 0) > 1 or (high is not None and high > 1.0 + 1e-9 and rule != "inter_eye"):
            problems.append(f"{key}: {spec} is larger than the photo itself")
            continue
        (geometry if table == "geometry" else placement)[rule] = Range(low, high)
    agency = ident.split(".")[0] if kind == "credential" else None
    return PhotoProfile(
        id=ident, kind=kind, agency=agency, name_zh=data.get("name_zh", data.get("title", ident)),
        name_en=data.get("name_en", data.get("title", ident)), chain=tuple(chain), width=width, height=height,
        aspect=aspect, dpi=dpi, width_mm=mm_w, height_mm=mm_h, formats=tuple(merged["formats"]),
        colour=merged["colour"], jpeg_quality_min=merged.get("jpeg_quality_min"), kb_min=merged.get("kb_min"),
        kb_max=merged.get("kb_max"), background=background,
        background_tolerance=merged.get("background_tolerance"),
        background_replace=bool(merged.get("background_replace", False)), background_min_lightness=minimum,
        max_age_days=merged.get("max_age_days"),
        reuse_days=merged.get("reuse_days"), c2pa=bool(merged.get("c2pa", False)),
        geometry=geometry, raw=merged, sources=tuple(sources), conflicts=tuple(conflicts),
        derived=tuple(derived), scope=scope, alias_of=data.get("alias_of"), inherits_note=data.get("inherits_note"),
        placement=placement,
    )


def _assemble(layers: list[tuple[str, dict]], problems: list[str]) -> Catalogue | None:
    version, title = None, ""
    issuers: dict[str, dict[str, Agency]] = {"china": {}, "international": {}}
    entries: dict[str, tuple[str, str, dict, str]] = {}  # id -> (file, kind, data, scope)
    for _label, layer in layers:
        if layer["catalogue"]:
            _, data = layer["catalogue"]
            version, title = data.get("version", version), data.get("title", title)
        layer_ids: dict[str, str] = {}
        for scope, part in (("china", layer), ("international", layer.get("international"))):
            if not part:
                continue
            if part["agencies"]:
                file, data = part["agencies"]
                word = "agency" if scope == "china" else "authority"
                seen = set()
                for a in data.get(word, []):
                    if a["id"] in seen:
                        problems.append(f"{file}: {word} {a['id']}: duplicate id")
                    seen.add(a["id"])
                    issuers[scope][a["id"]] = Agency(a["id"], a["name_zh"], a["name_en"])
            if part["bases"]:
                file, data = part["bases"]
                for ident, base in data.get("base", {}).items():
                    if ident in layer_ids:
                        problems.append(f"{file}: base {ident}: duplicate id (also in {layer_ids[ident]})")
                        continue
                    layer_ids[ident] = file
                    entries[ident] = (file, "base", base, scope)
            for file, data in part["credentials"]:
                agency_of_file = Path(file).stem
                for cred in data.get("credential", []):
                    ident = cred["id"]
                    if ident in layer_ids:
                        problems.append(f"{file}: credential {ident}: duplicate id (also in {layer_ids[ident]})")
                        continue
                    if ident.split(".")[0] != agency_of_file:
                        problems.append(f"{file}: credential {ident}: id must start with this file's "
                                        f"{'agency' if scope == 'china' else 'authority'} '{agency_of_file}.'")
                    layer_ids[ident] = file
                    entries[ident] = (file, "credential", cred, scope)
    if version is None:
        problems.append("catalogue.toml: version: missing")
    for ident, (file, kind, data, scope) in entries.items():
        if kind == "credential" and ident.split(".")[0] not in issuers[scope]:
            where = "agencies.toml" if scope == "china" else "international/authorities.toml"
            problems.append(f"{file}: credential {ident}: {'agency' if scope == 'china' else 'authority'} "
                            f"{ident.split('.')[0]!r} is not in {where}")
        target = data.get("alias_of")
        if kind == "credential" and target is not None and entries.get(target, (0, ""))[1] != "credential":
            problems.append(f"{file}: credential {ident}: alias_of: {target!r} is not a credential")
        _check_entry(file, kind, ident, data, problems)
    resolver = _Resolver(entries, problems)
    bases: dict[str, PhotoProfile] = {}
    found: dict[str, dict[str, PhotoProfile]] = {"china": {}, "international": {}}
    for ident, (file, kind, data, scope) in entries.items():
        merged = resolver.merged_of(ident)
        if merged is None:
            continue
        merged_data, chain, sources = merged
        conflicts = [{**c, "from": link} if link != ident else dict(c)
                     for link in chain for c in entries[link][2].get("conflicts", [])]
        derived = [{**d, "from": link} if link != ident else dict(d)
                   for link in chain for d in entries[link][2].get("derived", [])]
        profile = _build_profile(file, kind, ident, data, merged_data, chain, sources, conflicts, problems,
                                 derived, scope)
        if profile is None:
            continue
        from ..framing import unsatisfiable_reason  # late import: framing imports this module
        reason = unsatisfiable_reason(profile)
        if reason:
            problems.append(f"{file}: {kind} {ident}: geometry: no framing meets all rules at once ({reason})")
        if kind == "credential":
            found[scope][ident] = profile
        else:
            bases[ident] = profile
    if problems or version is None:  # a missing version is one of the problems
        return None
    credentials, international = found["china"], found["international"]
    digest = hashlib.sha256(json.dumps(
        {"agencies": {k: vars(v) for k, v in sorted(issuers["china"].items())},
         "credentials": {k: v.to_dict() for k, v in sorted(credentials.items())},
         "authorities": {k: vars(v) for k, v in sorted(issuers["international"].items())},
         "international": {k: v.to_dict() for k, v in sorted(international.items())}},
        sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
    return Catalogue(version=version, title=title, agencies=issuers["china"], bases=bases, credentials=credentials,
                     content_hash=digest, international=international, authorities=issuers["international"])


def _layers(overlay: str | None, problems: list[str]) -> list[tuple[str, dict]]:
    layers = [("specs", _read_layer(_builtin_dir(), "specs", problems))]
    if overlay:
        root = Path(overlay)
        if not root.is_dir():
            raise ConfigError(f"catalogue overlay {overlay!r} is not a folder", code="config.catalogue_missing")
        layers.append((str(root), _read_layer(root, str(root), problems)))
    return layers


def _folders(root: Path) -> list[Path]:
    """The folders a catalogue layer is read from (see ``_read_layer``)."""
    return [root, root / "credentials", root / "international", root / "international" / "credentials"]


def _stamp(overlay: str | None) -> FileStamp:
    """What ``_load`` is keyed on besides the overlay: the catalogue files as they are now."""
    folders = _folders(Path(str(_builtin_dir())))
    if overlay:
        folders += _folders(Path(overlay))
    return file_stamp(folders)


@memoised
def _load(overlay: str | None, stamp: FileStamp) -> Catalogue:
    """The catalogue from the files whose state is ``stamp`` (an edit makes a new key)."""
    problems: list[str] = []
    layers = _layers(overlay, problems)
    catalogue = None if problems else _assemble(layers, problems)
    if problems or catalogue is None:  # _assemble gives None only with problems
        raise CatalogueError(problems)
    catalogue.overlay = overlay
    return catalogue


def load_catalogue(overlay: str | os.PathLike | None = None) -> Catalogue:
    """The built-in catalogue, with ``overlay`` (or $PHOTOCORE_CATALOGUE) laid over it: read
    again when any of its files has changed since the last call, else the same object."""
    overlay = overlay or os.environ.get(ENV_OVERLAY) or None
    folder = str(Path(overlay).resolve()) if overlay else None
    return _load(folder, _stamp(folder))


def validate(directory: str | os.PathLike) -> tuple[Catalogue | None, list[str]]:
    """Validate ``directory`` as an overlay on the built-in catalogue: (catalogue, problems)."""
    try:
        folder = str(Path(directory).resolve())
        return _load(folder, _stamp(folder)), []
    except CatalogueError as exc:
        return None, exc.problems
