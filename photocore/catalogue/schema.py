"""JSON Schema of the catalogue files (specs/*.toml): shape, types, units and enums.

The schema catches what a schema can (unknown keys, wrong types, unknown units, values out of
range); ``load.py`` adds the checks that need the whole catalogue (inheritance, duplicates,
pixels against mm x dpi, ranges upside down, sources covering every key).
"""

from __future__ import annotations

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
_source = {
    "type": "object", "additionalProperties": False, "required": ["ref", "confidence"],
    "properties": {
        "ref": {"type": "string", "minLength": 1},
        "url": {"type": "string", "minLength": 1},
        "confidence": {"enum": CONFIDENCE},
        "keys": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "note": {"type": "string"},
    },
}
_conflict = {
    "type": "object", "additionalProperties": False, "required": ["key", "note"],
    "properties": {"key": {"type": "string"}, "note": {"type": "string", "minLength": 1}},
}

PROFILE_PROPERTIES = {
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
    "background_replace": {"type": "boolean"},
    "max_age_days": {"type": "integer", "minimum": 1, "maximum": 3650},
    "reuse_days": {"type": "integer", "minimum": 1, "maximum": 3650},
    "c2pa": {"type": "boolean"},
    "geometry": {"type": "object", "additionalProperties": False,
                 "properties": {rule: _geometry_rule for rule in GEOMETRY_RULES}},
    "content": {"type": "object", "additionalProperties": False, "properties": {
        "glasses": {"enum": GLASSES},
        "head_covering": {"enum": HEAD_COVERING},
        "jewellery": {"enum": JEWELLERY},
        "ears_visible": {"type": "boolean"},
        "neutral_expression": {"type": "boolean"},
        "mouth_closed": {"type": "boolean"},
    }},
    "sources": {"type": "array", "minItems": 1, "items": _source},
    "conflicts": {"type": "array", "items": _conflict},
}

# Keys a source may name: top-level profile keys and "geometry.<rule>" / "content.<rule>".
PROFILE_KEYS = ({k for k in PROFILE_PROPERTIES if k not in ("geometry", "content", "sources", "conflicts", "inherits")}
                | {f"geometry.{r}" for r in GEOMETRY_RULES}
                | {f"content.{r}" for r in PROFILE_PROPERTIES["content"]["properties"]})

_base = {"type": "object", "additionalProperties": False, "required": ["title", "sources"],
         "properties": {"title": {"type": "string", "minLength": 1}, **PROFILE_PROPERTIES}}
_credential = {
    "type": "object", "additionalProperties": False,
    "required": ["id", "name_zh", "name_en", "inherits", "sources"],
    "properties": {
        "id": {"type": "string", "pattern": r"^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$"},
        "name_zh": {"type": "string", "minLength": 1},
        "name_en": {"type": "string", "minLength": 1},
        **PROFILE_PROPERTIES,
    },
}
_agency = {
    "type": "object", "additionalProperties": False, "required": ["id", "name_zh", "name_en"],
    "properties": {"id": {"type": "string", "pattern": r"^[a-z][a-z0-9-]*$"},
                   "name_zh": {"type": "string", "minLength": 1},
                   "name_en": {"type": "string", "minLength": 1}},
}

FILE_SCHEMAS = {
    "catalogue": {"type": "object", "additionalProperties": False, "required": ["version"],
                  "properties": {"version": {"type": "string", "minLength": 1}, "title": {"type": "string"}}},
    "agencies": {"type": "object", "additionalProperties": False, "required": ["agency"],
                 "properties": {"agency": {"type": "array", "items": _agency}}},
    "bases": {"type": "object", "additionalProperties": False, "required": ["base"],
              "properties": {"base": {"type": "object", "additionalProperties": _base}}},
    "credentials": {"type": "object", "additionalProperties": False, "required": ["credential"],
                    "properties": {"credential": {"type": "array", "items": _credential}}},
}
