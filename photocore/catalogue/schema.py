"""JSON Schema of the catalogue files (specs/*.toml): shape, types, units and enums.

The schema catches what a schema can (unknown keys, wrong types, unknown units, values out of
range); ``load.py`` adds the checks that need the whole catalogue (inheritance, duplicates,
pixels against mm x dpi, ranges upside down, sources covering every key).
"""

from __future__ import annotations

from typing import Any

GEOMETRY_RULES = {
    # rule -> axis it is measured along
    "face_width": "width",
    "head_width": "width",
    "eye_centre_x": "width",
    "inter_eye": "width",
    "crown_to_chin": "height",
    "crown_gap": "height",
    "chin_gap": "height",
    "eye_line_from_top": "height",
    "eye_line_from_bottom": "height",
}
# Where the standard a profile follows puts the head, for framing only (never judged): the
# solver aims at these within what the geometry rules allow (see framing.py).
PLACEMENT_RULES = ("crown_to_chin", "crown_gap", "chin_gap", "eye_line_from_top", "eye_line_from_bottom")
UNITS = ["px", "mm", "width", "height"]
GLASSES = ["required-if-worn", "allowed", "no-tinted", "forbidden"]
HEAD_COVERING = ["forbidden", "religious-allowed"]
JEWELLERY = ["allowed", "forbidden"]
CONFIDENCE = ["high", "medium", "low"]

_size = {
    "oneOf": [
        {"type": "integer", "minimum": 16, "maximum": 10000},
        {"type": "object", "additionalProperties": False, "required": ["min", "max"],
         "properties": {"min": {"type": "integer", "minimum": 16, "maximum": 10000},
                        "max": {"type": "integer", "minimum": 16, "maximum": 10000}}},
    ]
}
_bound = {"type": "number", "minimum": 0}
_geometry_rule = {
    "type": "object", "additionalProperties": False, "required": ["unit"],
    "anyOf": [{"required": ["min"]}, {"required": ["max"]}],
    "properties": {"min": _bound, "max": _bound, "unit": {"enum": UNITS}},
}
KINDS = ["standard", "official", "secondary"]
# One source is one document: a single page, its title, a short quote of the rule it supports
# (in the page's own language), the day it was read, and what kind of document it is. A
# secondary page (a re-statement by someone other than the issuing authority) is never "high".
_source = {
    "type": "object", "additionalProperties": False,
    "required": ["kind", "title", "url", "quote", "retrieved", "confidence"],
    "properties": {
        "kind": {"enum": KINDS},
        "title": {"type": "string", "minLength": 1},
        "url": {"type": "string", "pattern": r"^https?://[^\s;]+$"},
        "quote": {"type": "string", "minLength": 4, "maxLength": 600},
        "retrieved": {"type": "string", "pattern": r"^20[0-9]{2}-[01][0-9]-[0-3][0-9]$"},
        "confidence": {"enum": CONFIDENCE},
        "keys": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "note": {"type": "string"},
    },
    "if": {"properties": {"kind": {"const": "secondary"}}},
    "then": {"properties": {"confidence": {"enum": ["medium", "low"]}}},
}
# photocore's own reading of its sources: arithmetic on them, a reading of a rounded figure, or a
# default where no source gives a number. Always low confidence, never a document.
_derived = {
    "type": "object", "additionalProperties": False, "required": ["keys", "note"],
    "properties": {
        "keys": {"type": "array", "minItems": 1, "items": {"type": "string"}, "uniqueItems": True},
        "note": {"type": "string", "minLength": 1},
    },
}
_conflict = {
    "type": "object", "additionalProperties": False, "required": ["key", "note"],
    "properties": {"key": {"type": "string"}, "note": {"type": "string", "minLength": 1}},
}

PROFILE_PROPERTIES: dict[str, Any] = {  # JSON Schema
    "inherits": {"type": "string", "minLength": 1},
    "width_px": _size,
    "height_px": _size,
    "aspect": {"type": "string", "pattern": r"^[1-9][0-9]*:[1-9][0-9]*$"},
    "dpi": {"type": "integer", "minimum": 72, "maximum": 1200},
    "width_mm": {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
    "height_mm": {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
    "formats": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": ["jpeg", "png", "bmp"]}},
    "colour": {"enum": ["rgb", "grey"]},
    "jpeg_quality_min": {"type": "integer", "minimum": 1, "maximum": 100},
    "kb_min": {"type": "number", "exclusiveMinimum": 0, "maximum": 20480},
    "kb_max": {"type": "number", "exclusiveMinimum": 0, "maximum": 20480},
    "background": {"type": "array", "minItems": 1, "uniqueItems": True,
                   "items": {"type": "string", "pattern": "^#[0-9A-Fa-f]{6}$"}},
    "background_tolerance": {"type": "number", "minimum": 0, "maximum": 100},
    # colours of ``background`` that are lower limits of lightness, not centres: the colour itself
    # or any lighter tint of it (mixed towards white) is accepted, a darker one is not
    "background_min_lightness": {"type": "array", "minItems": 1, "uniqueItems": True,
                                 "items": {"type": "string", "pattern": "^#[0-9A-Fa-f]{6}$"}},
    "background_replace": {"type": "boolean"},
    "max_age_days": {"type": "integer", "minimum": 1, "maximum": 3650},
    "reuse_days": {"type": "integer", "minimum": 1, "maximum": 3650},
    "c2pa": {"type": "boolean"},
    "geometry": {"type": "object", "additionalProperties": False,
                 "properties": {rule: _geometry_rule for rule in GEOMETRY_RULES}},
    "placement": {"type": "object", "additionalProperties": False,
                  "properties": {rule: _geometry_rule for rule in PLACEMENT_RULES}},
    "content": {"type": "object", "additionalProperties": False, "properties": {
        "glasses": {"enum": GLASSES},
        "head_covering": {"enum": HEAD_COVERING},
        "jewellery": {"enum": JEWELLERY},
        "ears_visible": {"type": "boolean"},
        "neutral_expression": {"type": "boolean"},
        "mouth_closed": {"type": "boolean"},
    }},
    "sources": {"type": "array", "minItems": 1, "items": _source},
    "derived": {"type": "array", "minItems": 1, "items": _derived},
    "conflicts": {"type": "array", "items": _conflict},
}

# Keys a source may name: top-level profile keys and "geometry.<rule>" / "content.<rule>".
PROFILE_KEYS = ({k for k in PROFILE_PROPERTIES
                 if k not in ("geometry", "placement", "content", "sources", "derived", "conflicts", "inherits")}
                | {f"geometry.{r}" for r in GEOMETRY_RULES}
                | {f"placement.{r}" for r in PLACEMENT_RULES}
                | {f"content.{r}" for r in PROFILE_PROPERTIES["content"]["properties"]})

_base = {"type": "object", "additionalProperties": False, "required": ["title", "sources"],
         "properties": {"title": {"type": "string", "minLength": 1}, **PROFILE_PROPERTIES}}
_credential = {
    "type": "object", "additionalProperties": False,
    "required": ["id", "name_zh", "name_en"],
    "properties": {
        "id": {"type": "string", "pattern": r"^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$"},
        "name_zh": {"type": "string", "minLength": 1},
        "name_en": {"type": "string", "minLength": 1},
        # the same document under another name (an electronic version, or one card issued under
        # several names): everything comes from that credential, nothing may be set here
        "alias_of": {"type": "string", "minLength": 1},
        # why this credential takes what it inherits, when no source of its own says so
        "inherits_note": {"type": "string", "minLength": 1},
        **PROFILE_PROPERTIES,
    },
}  # exactly one of inherits / alias_of, and sources or inherits_note: checked in load.py
_agency = {
    "type": "object", "additionalProperties": False, "required": ["id", "name_zh", "name_en"],
    "properties": {"id": {"type": "string", "pattern": r"^[a-z][a-z0-9-]*$"},
                   "name_zh": {"type": "string", "minLength": 1},
                   "name_en": {"type": "string", "minLength": 1}},
}

FILE_SCHEMAS = {
    "authorities": {"type": "object", "additionalProperties": False, "required": ["authority"],
                    "properties": {"authority": {"type": "array", "items": _agency}}},
    "catalogue": {"type": "object", "additionalProperties": False, "required": ["version"],
                  "properties": {"version": {"type": "string", "minLength": 1}, "title": {"type": "string"}}},
    "agencies": {"type": "object", "additionalProperties": False, "required": ["agency"],
                 "properties": {"agency": {"type": "array", "items": _agency}}},
    "bases": {"type": "object", "additionalProperties": False, "required": ["base"],
              "properties": {"base": {"type": "object", "additionalProperties": _base}}},
    "credentials": {"type": "object", "additionalProperties": False, "required": ["credential"],
                    "properties": {"credential": {"type": "array", "items": _credential}}},
}
