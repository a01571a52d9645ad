"""Load, overlay, validate and resolve the credential catalogue.

Layers: the built-in catalogue shipped in the wheel, then optionally an integrator's folder
(``--catalogue DIR`` or ``PHOTOCORE_CATALOGUE``) with the same layout whose entries add to or
replace the built-in ones. Every problem found names the file, the entry, the key and what is
wrong; all problems are collected before one ``CatalogueError`` is raised.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from jsonschema import Draft202012Validator

from ..errors import ConfigError
from .schema import FILE_SCHEMAS, GEOMETRY_RULES, PROFILE_KEYS

ENV_OVERLAY = "PHOTOCORE_CATALOGUE"
TOLERANCE = 0.02  # pixels against mm x dpi, and sizes against the aspect


class CatalogueError(ConfigError):
    """The catalogue (built-in or overlay) is invalid; ``problems`` lists every finding."""

    code = "catalogue.invalid"

    def __init__(self, problems: list[str]):
        self.problems = problems
        head = f"{len(problems)} problem(s) in the credential catalogue"
        super().__init__(head + ":\n  " + "\n  ".join(problems))


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
    agency: str | None
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
    max_age_days: int | None
    reuse_days: int | None  # how long after capture a shared-library photo may be reused
    c2pa: bool  # embed a C2PA manifest when signing (the JWS sidecar is always written)
    geometry: dict[str, Range]  # fraction of the photo width or height (see schema.GEOMETRY_RULES)
    raw: dict = field(repr=False)  # the merged keys as written, for display
    sources: tuple[dict, ...] = ()  # own sources first, then inherited ones ("from": id)
    conflicts: tuple[dict, ...] = ()

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
            "max_age_days": self.max_age_days, "reuse_days": self.reuse_days, "c2pa": self.c2pa,
            "geometry": {k: self.raw["geometry"][k] for k in sorted(self.raw.get("geometry", {}))},
            "geometry_fraction": {k: [r.min, r.max] for k, r in sorted(self.geometry.items())},
            "content": self.content,
            "sources": list(self.sources), "conflicts": list(self.conflicts),
        }


@dataclass
class Catalogue:
    version: str
    title: str
    agencies: dict[str, Agency]
    bases: dict[str, PhotoProfile]
    credentials: dict[str, PhotoProfile]
    content_hash: str
    overlay: str | None = None

    def get(self, credential_id: str) -> PhotoProfile:
        try:
            return self.credentials[credential_id]
        except KeyError:
            raise ConfigError(f"unknown credential {credential_id!r} (see `photocore specs list`)",
                              code="config.unknown_credential") from None

    def of_agency(self, agency: str) -> list[PhotoProfile]:
        return [p for p in self.credentials.values() if p.agency == agency]


# -- reading files ---------------------------------------------------------------------------

def _builtin_dir():
    return resources.files("photocore").joinpath("_specs")


def _read_layer(root, label: str, problems: list[str]) -> dict:
    """{"catalogue": (file, data) | None, "agencies": ..., "bases": ..., "credentials": [(file, data)]}."""
    layer = {"catalogue": None, "agencies": None, "bases": None, "credentials": []}

    def read(entry, kind):
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

    for kind in ("catalogue", "agencies", "bases"):
        entry = root.joinpath(f"{kind}.toml")
        if entry.is_file():
            layer[kind] = read(entry, kind)
    credentials = root.joinpath("credentials")
    if credentials.is_dir():
        for entry in sorted(credentials.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                got = read(entry, "credentials")
                if got:
                    layer["credentials"].append(got)
    return layer


def _json_path(data, path) -> str:
    """'credential[3] police.x: geometry.face_width.unit' style location of a schema error."""
    parts, node, out = list(path), data, []
    for i, part in enumerate(parts):
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


def _schema_message(error) -> str:
    if error.validator == "additionalProperties":
        return f"unknown key(s): {error.message.split('(')[-1].rstrip(')')}"
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {error.validator_value}"
    if error.validator == "oneOf" and isinstance(error.instance, dict):
        return f"{error.instance!r} must be a whole number of pixels or {{ min, max }}"
    return error.message


# -- resolving ------------------------------------------------------------------------------

def _flat_keys(entry: dict) -> set[str]:
    keys = {k for k in entry if k in PROFILE_KEYS}
    keys |= {f"geometry.{k}" for k in entry.get("geometry", {})}
    keys |= {f"content.{k}" for k in entry.get("content", {})}
    return keys


def _merge(parent: dict, child: dict) -> dict:
    merged = dict(parent)
    for key, value in child.items():
        if key in ("geometry", "content"):
            merged[key] = {**parent.get(key, {}), **value}
        elif key not in ("sources", "conflicts", "inherits", "id", "name_zh", "name_en", "title"):
            merged[key] = value
    return merged


def _size(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (value["min"], value["max"])


def _aspect(text: str) -> float:
    w, h = text.split(":")
    return int(w) / int(h)


def _fraction(rule: str, spec: dict, bound: str, ref_w: int, ref_h: int, mm_w, mm_h, aspect: float) -> float | None:
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
    def __init__(self, entries: dict[str, tuple[str, str, dict]], problems: list[str]):
        self.entries = entries  # id -> (file, kind, data)
        self.problems = problems
        self.merged: dict[str, tuple[dict, tuple[str, ...], list[dict]] | None] = {}

    def merged_of(self, ident: str, trail=()) -> tuple[dict, tuple[str, ...], list[dict]] | None:
        if ident in self.merged:
            return self.merged[ident]
        file, kind, data = self.entries[ident]
        parent_id = data.get("inherits")
        own_sources = [dict(s) for s in data.get("sources", [])]
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
    covered: set[str] = set()
    for i, source in enumerate(data.get("sources", [])):
        keys = source.get("keys")
        if keys is None:
            covered |= own
            continue
        for key in keys:
            if key not in PROFILE_KEYS:
                problems.append(f"{where}: sources[{i}].keys: {key!r} is not a profile key")
            elif key not in own:
                problems.append(f"{where}: sources[{i}].keys: {key!r} is not set by this entry")
        covered |= set(keys)
    for key in sorted(own - covered):
        problems.append(f"{where}: {key}: no source for this value (add it to a source's keys)")
    for i, conflict in enumerate(data.get("conflicts", [])):
        if conflict.get("key") not in PROFILE_KEYS:
            problems.append(f"{where}: conflicts[{i}].key: {conflict.get('key')!r} is not a profile key")


def _build_profile(file: str, kind: str, ident: str, data: dict, merged: dict, chain, sources,
                   conflicts, problems: list[str]) -> PhotoProfile | None:
    where = f"{file}: {kind} {ident}"
    start = len(problems)
    for key in ("width_px", "height_px", "formats", "colour", "background"):
        if key not in merged:
            problems.append(f"{where}: {key}: missing (set it here or in what it inherits)")
    if len(problems) > start:
        return None
    width, height = _size(merged["width_px"]), _size(merged["height_px"])
    for key, (low, high) in (("width_px", width), ("height_px", height)):
        if low > high:
            problems.append(f"{where}: {key}: range upside down (min {low} > max {high})")
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
    if "jpeg" not in merged["formats"] and "jpeg_quality_min" in merged and "jpeg_quality_min" in data:
        problems.append(f"{where}: jpeg_quality_min: set, but jpeg is not among the formats")
    geometry = {}
    for rule, spec in merged.get("geometry", {}).items():
        key = f"{where}: geometry.{rule}"
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
        geometry[rule] = Range(low, high)
    agency = ident.split(".")[0] if kind == "credential" else None
    return PhotoProfile(
        id=ident, kind=kind, agency=agency, name_zh=data.get("name_zh", data.get("title", ident)),
        name_en=data.get("name_en", data.get("title", ident)), chain=tuple(chain), width=width, height=height,
        aspect=aspect, dpi=dpi, width_mm=mm_w, height_mm=mm_h, formats=tuple(merged["formats"]),
        colour=merged["colour"], jpeg_quality_min=merged.get("jpeg_quality_min"), kb_min=merged.get("kb_min"),
        kb_max=merged.get("kb_max"), background=tuple(c.upper() for c in merged["background"]),
        background_tolerance=merged.get("background_tolerance"),
        background_replace=bool(merged.get("background_replace", False)), max_age_days=merged.get("max_age_days"),
        reuse_days=merged.get("reuse_days"), c2pa=bool(merged.get("c2pa", False)),
        geometry=geometry, raw=merged, sources=tuple(sources), conflicts=tuple(conflicts),
    )


def _assemble(layers: list[tuple[str, dict]], problems: list[str]) -> Catalogue | None:
    version, title = None, ""
    agencies: dict[str, Agency] = {}
    entries: dict[str, tuple[str, str, dict]] = {}
    for label, layer in layers:
        if layer["catalogue"]:
            _, data = layer["catalogue"]
            version, title = data.get("version", version), data.get("title", title)
        if layer["agencies"]:
            file, data = layer["agencies"]
            seen = set()
            for a in data.get("agency", []):
                if a["id"] in seen:
                    problems.append(f"{file}: agency {a['id']}: duplicate id")
                seen.add(a["id"])
                agencies[a["id"]] = Agency(a["id"], a["name_zh"], a["name_en"])
        layer_ids: dict[str, str] = {}
        if layer["bases"]:
            file, data = layer["bases"]
            for ident, base in data.get("base", {}).items():
                layer_ids[ident] = file
                entries[ident] = (file, "base", base)
        for file, data in layer["credentials"]:
            agency_of_file = Path(file).stem
            for cred in data.get("credential", []):
                ident = cred["id"]
                if ident in layer_ids:
                    problems.append(f"{file}: credential {ident}: duplicate id (also in {layer_ids[ident]})")
                    continue
                if ident.split(".")[0] != agency_of_file:
                    problems.append(f"{file}: credential {ident}: id must start with this file's agency "
                                    f"'{agency_of_file}.'")
                layer_ids[ident] = file
                entries[ident] = (file, "credential", cred)
    if version is None:
        problems.append("catalogue.toml: version: missing")
    for ident, (file, kind, data) in entries.items():
        if kind == "credential" and ident.split(".")[0] not in agencies:
            problems.append(f"{file}: credential {ident}: agency {ident.split('.')[0]!r} is not in agencies.toml")
        _check_entry(file, kind, ident, data, problems)
    resolver = _Resolver(entries, problems)
    bases, credentials = {}, {}
    for ident, (file, kind, data) in entries.items():
        merged = resolver.merged_of(ident)
        if merged is None:
            continue
        merged_data, chain, sources = merged
        conflicts = [{**c, "from": link} if link != ident else dict(c)
                     for link in chain for c in entries[link][2].get("conflicts", [])]
        profile = _build_profile(file, kind, ident, data, merged_data, chain, sources, conflicts, problems)
        if profile is None:
            continue
        from ..framing import unsatisfiable_reason  # late import: framing imports this module
        reason = unsatisfiable_reason(profile)
        if reason:
            problems.append(f"{file}: {kind} {ident}: geometry: no framing meets all rules at once ({reason})")
        (credentials if kind == "credential" else bases)[ident] = profile
    if problems:
        return None
    digest = hashlib.sha256(json.dumps(
        {"agencies": {k: vars(v) for k, v in sorted(agencies.items())},
         "credentials": {k: v.to_dict() for k, v in sorted(credentials.items())}},
        sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
    return Catalogue(version=version, title=title, agencies=agencies, bases=bases, credentials=credentials,
                     content_hash=digest)


def _layers(overlay: str | None, problems: list[str]) -> list[tuple[str, dict]]:
    layers = [("specs", _read_layer(_builtin_dir(), "specs", problems))]
    if overlay:
        root = Path(overlay)
        if not root.is_dir():
            raise ConfigError(f"catalogue overlay {overlay!r} is not a folder", code="config.catalogue_missing")
        layers.append((str(root), _read_layer(root, str(root), problems)))
    return layers


@lru_cache(maxsize=8)
def _load(overlay: str | None) -> Catalogue:
    problems: list[str] = []
    layers = _layers(overlay, problems)
    catalogue = None if problems else _assemble(layers, problems)
    if problems:
        raise CatalogueError(problems)
    catalogue.overlay = overlay
    return catalogue


def load_catalogue(overlay: str | os.PathLike | None = None) -> Catalogue:
    """The built-in catalogue, with ``overlay`` (or $PHOTOCORE_CATALOGUE) laid over it."""
    overlay = overlay or os.environ.get(ENV_OVERLAY) or None
    return _load(str(Path(overlay).resolve()) if overlay else None)


def validate(directory: str | os.PathLike) -> tuple[Catalogue | None, list[str]]:
    """Validate ``directory`` as an overlay on the built-in catalogue: (catalogue, problems)."""
    try:
        return _load(str(Path(directory).resolve())), []
    except CatalogueError as exc:
        return None, exc.problems
