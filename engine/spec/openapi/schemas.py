"""OpenAPI schemas turned into the JSON Schemas (draft 2020-12) a spec holds.

A reference to a named schema (``#/components/schemas/Pet``, Swagger's ``#/definitions/Pet``)
becomes a shared object, ``$ref: '#/objects/pet'``, the only kind of ``$ref`` a spec allows;
only the objects that some action reaches are written, in the document's order. Recursive
schemas stay recursive through those references. Any other local reference is copied in
place, and one that leads back into itself is left open (``{}``) with a note.

Keywords are translated where OpenAPI 3.0 differs from JSON Schema: ``nullable: true`` adds
``null`` to the type, ``example`` becomes ``examples``, a boolean ``exclusiveMinimum`` takes
the ``minimum``'s value, ``items`` given as a list becomes ``prefixItems``, Swagger's ``file``
type is binary text. Annotations that a spec has no use for (``xml``, ``discriminator``,
``externalDocs``, ``x-*`` extensions) are dropped, as is a ``pattern`` that Python's regular
expressions cannot compile, so a generated schema never fails when it is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hookline.spec.openapi.document import OpenAPI
from hookline.spec.openapi.draft import KeyPath, Notes
from hookline.spec.openapi.names import Namer, snake

OBJECT_REF = "#/objects/"
SCHEMA_REF = "#/components/schemas/"
JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
_MAX_DEPTH = 24
"""Nesting kept below one schema; deeper parts are left open (the spec loader caps depth)."""

_FIRST = ("type", "format", "title", "description")
"""Keys written first, as the built-in specs do."""
_ANNOTATIONS = ("title", "description", "format", "contentEncoding", "contentMediaType", "$comment")
_FLAGS = ("uniqueItems", "readOnly", "writeOnly", "deprecated")
_COUNTS = (
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "maxProperties",
    "minProperties",
    "maxContains",
    "minContains",
)
_SUBSCHEMAS = (
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "if",
    "then",
    "else",
)
_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")


class SchemaConverter:
    """Converts the schemas of one document, collecting the shared objects they refer to."""

    def __init__(self, api: OpenAPI, notes: Notes) -> None:
        self.api = api
        self.notes = notes
        namer = Namer()
        self.object_names = {name: namer.claim(snake(name, "object")) for name in api.schemas}
        self._wanted: list[str] = []
        self._inlining: list[str] = []

    # ------------------------------------------------------------------ converting

    def convert(self, raw: Any, where: KeyPath) -> Any:
        """``raw`` as a JSON Schema for the spec value at ``where`` (where notes go)."""
        return self._convert(raw, where, 0)

    def objects(self) -> dict[str, Any]:
        """Every shared object a converted schema refers to, and those they refer to."""
        converted: dict[str, Any] = {}
        while len(converted) < len(set(self._wanted)):
            for name in list(self._wanted):
                if name not in converted:
                    where = ("objects", self.object_names[name])
                    schema = self._convert(self.api.schemas[name], where, 0)
                    if isinstance(schema, dict) and not {"title", "description"} & set(schema):
                        schema = {"title": name, **schema}
                    converted[name] = schema
        objects = {
            self.object_names[name]: converted[name]
            for name in self.api.schemas
            if name in converted
        }
        for name in _self_applied(objects):
            self.notes.add(
                ("objects", name),
                "the schema applies itself without nesting (a $ref, allOf, anyOf or oneOf loop), "
                "which no value can be checked against; left open",
            )
            objects[name] = {"title": _title(objects[name])}
        return objects

    def _convert(self, raw: Any, where: KeyPath, depth: int) -> Any:
        if isinstance(raw, bool):
            return raw
        if not isinstance(raw, Mapping):
            self.notes.add(where, "a schema in the document is not a mapping; it was left open")
            return {}
        if depth > _MAX_DEPTH:
            self.notes.add(where, "the schema nests deeper than this converter follows; left open")
            return {}
        if isinstance(raw.get("$ref"), str):
            return self._reference(raw, where, depth)
        out: dict[str, Any] = {}
        for key, value in raw.items():
            self._keyword(out, key, value, raw, where, depth)
        if raw.get("nullable") is True:
            out = _nullable(out)
        first = {key: out[key] for key in _FIRST if key in out}
        return {**first, **out}

    def _keyword(
        self,
        out: dict[str, Any],
        key: str,
        value: Any,
        raw: Mapping[str, Any],
        where: KeyPath,
        depth: int,
    ) -> None:
        """Translate one keyword of ``raw`` into ``out`` (or leave it out)."""
        if key == "type":
            kinds = _types(value)
            if value == "file" or (isinstance(value, list) and "file" in value):
                out.setdefault("format", "binary")
            if kinds:
                out["type"] = kinds[0] if isinstance(value, str) else kinds
            else:
                self.notes.add(where, f"type {value!r} is not a JSON type; left out")
        elif key in _ANNOTATIONS and isinstance(value, str):
            out[key] = value
        elif key == "pattern" and isinstance(value, str):
            if _compiles(value):
                out[key] = value
            else:
                self.notes.add(
                    where, f"pattern {value!r} is not a Python regular expression; left out"
                )
        elif key in _FLAGS and isinstance(value, bool):
            out[key] = value
        elif key in _COUNTS and _count(value) is not None:
            out[key] = _count(value)
        elif key in ("maximum", "minimum", "multipleOf") and _number(value):
            if not (key == "multipleOf" and value <= 0):
                out[key] = value
        elif key in ("exclusiveMaximum", "exclusiveMinimum"):
            bound = "maximum" if key == "exclusiveMaximum" else "minimum"
            if _number(value):
                out[key] = value
            elif value is True and _number(raw.get(bound)):
                out[key] = raw[bound]
                out.pop(bound, None)
        elif key in ("default", "const"):
            out[key] = value
        elif key == "example" and "examples" not in raw:
            out["examples"] = [value]
        elif key in ("examples", "enum") and isinstance(value, list) and value:
            out[key] = value
        elif key == "required" and isinstance(value, list):
            names = list(dict.fromkeys(v for v in value if isinstance(v, str)))
            if names:
                out[key] = names
        elif key in ("properties", "patternProperties", "dependentSchemas") and isinstance(
            value, Mapping
        ):
            out[key] = {
                name: self._convert(item, where, depth + 1)
                for name, item in value.items()
                if key != "patternProperties" or _compiles(name)
            }
        elif key == "dependentRequired" and isinstance(value, Mapping):
            out[key] = {
                name: [v for v in items if isinstance(v, str)]
                for name, items in value.items()
                if isinstance(items, list)
            }
        elif key == "items" and isinstance(value, list) and len(value) == 1:
            out["items"] = self._convert(value[0], where, depth + 1)
        elif key == "items" and isinstance(value, list):
            out["prefixItems"] = [self._convert(item, where, depth + 1) for item in value]
        elif key in ("items", *_SUBSCHEMAS) and isinstance(value, Mapping | bool):
            out[key] = self._convert(value, where, depth + 1)
        elif key in _LISTS and isinstance(value, list) and value:
            out[key] = [self._convert(item, where, depth + 1) for item in value]

    def _reference(self, raw: Mapping[str, Any], where: KeyPath, depth: int) -> Any:
        ref: str = raw["$ref"]
        extra = {k: raw[k] for k in ("description",) if isinstance(raw.get(k), str)}
        name = ref[len(SCHEMA_REF) :].replace("~1", "/").replace("~0", "~")
        if ref.startswith(SCHEMA_REF) and name in self.api.schemas:
            self._wanted.append(name)
            target: Any = {"$ref": OBJECT_REF + self.object_names[name], **extra}
        elif ref in self._inlining:
            self.notes.add(where, f"$ref {ref!r} refers back into itself; left open there")
            return {}
        else:
            found = self.api.pointer(ref)
            if found is None:
                self.notes.add(where, f"$ref {ref!r} is not in this document; left open")
                return {}
            self._inlining.append(ref)
            try:
                target = self._convert(found, where, depth + 1)
            finally:
                self._inlining.pop()
            if extra and isinstance(target, dict):
                target = {**target, **extra}
        if raw.get("nullable") is True:
            return {"anyOf": [target, {"type": "null"}]}
        return target

    # ------------------------------------------------------------------ reading shapes

    def shape(self, raw: Any) -> dict[str, Any]:
        """``raw`` with references followed and ``allOf`` parts merged, as the document wrote it.

        For looking at what a schema holds (its ``type``, ``properties``, ``required``,
        ``items``) rather than for writing it: property schemas stay unconverted.
        """
        return self._shape(raw, 0)

    def _shape(self, raw: Any, depth: int) -> dict[str, Any]:
        for _ in range(16):
            if not isinstance(raw, Mapping) or not isinstance(raw.get("$ref"), str):
                break
            raw = self.api.pointer(raw["$ref"])
        if not isinstance(raw, Mapping) or depth > 8:
            return {}
        merged: dict[str, Any] = {k: v for k, v in raw.items() if k != "allOf"}
        for part in raw.get("allOf", []) if isinstance(raw.get("allOf"), list) else []:
            shaped = self._shape(part, depth + 1)
            merged["properties"] = {
                **_mapping(shaped.get("properties")),
                **_mapping(merged.get("properties")),
            }
            merged["required"] = list(
                dict.fromkeys([*_names(shaped.get("required")), *_names(merged.get("required"))])
            )
            if "type" in shaped and "type" not in merged:
                merged["type"] = shaped["type"]
        return merged


def _self_applied(objects: Mapping[str, Any]) -> list[str]:
    """Objects that reach themselves through in-place keywords only: checking would not end.

    ``properties`` and ``items`` nest (each step checks a smaller value); ``$ref``,
    ``allOf``, ``anyOf``, ``oneOf``, ``not`` and ``if``/``then``/``else`` do not.
    """
    edges = {name: _in_place_refs(schema) for name, schema in objects.items()}
    looping = []
    for start in objects:
        seen: set[str] = set()
        todo = list(edges[start])
        while todo:
            name = todo.pop()
            if name == start:
                looping.append(start)
                break
            if name not in seen and name in edges:
                seen.add(name)
                todo.extend(edges[name])
    return looping


def _in_place_refs(schema: Any) -> set[str]:
    found: set[str] = set()
    if not isinstance(schema, Mapping):
        return found
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(OBJECT_REF):
        found.add(ref[len(OBJECT_REF) :])
    for key in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(key) or []:
            found |= _in_place_refs(part)
    for key in ("not", "if", "then", "else"):
        found |= _in_place_refs(schema.get(key))
    return found


def _title(schema: Any) -> str:
    return str(schema.get("title", "")) if isinstance(schema, Mapping) else ""


def is_object(shape: Mapping[str, Any]) -> bool:
    """Whether a shaped schema describes an object with properties of its own."""
    kinds = shape.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
    return bool(_mapping(shape.get("properties"))) and (not kinds or "object" in kinds)


def is_array(shape: Mapping[str, Any]) -> bool:
    """Whether a shaped schema describes an array."""
    kinds = shape.get("type")
    return kinds == "array" or (isinstance(kinds, list) and "array" in kinds)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` that also accepts null (OpenAPI 3.0's ``nullable: true``)."""
    kinds = schema.get("type")
    if isinstance(kinds, str) and kinds != "null":
        schema["type"] = [kinds, "null"]
    elif isinstance(kinds, list) and "null" not in kinds:
        schema["type"] = [*kinds, "null"]
    elif kinds is None and any(key in schema for key in ("allOf", "anyOf", "oneOf")):
        return {"anyOf": [schema, {"type": "null"}]}
    if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema


def _types(value: Any) -> list[str]:
    kinds = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    found = ["string" if kind == "file" else kind for kind in kinds]
    return list(dict.fromkeys(kind for kind in found if kind in JSON_TYPES))


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return False
    return True


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value < 0 or value != int(value):
        return None
    return int(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _names(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
