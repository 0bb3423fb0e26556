"""Shapes: what a data reference may find, read from the JSON Schemas of outputs and events.

The static checks follow each ``{{ trigger.subject }}`` or ``{{ steps.finding.id }}`` through
the schema of what it reads, as a typed data pill would: a field the schema does not declare
is an error naming the fields it does, and the type at the end of the path is known for the
type checks. A ``Shape`` is one self-contained JSON Schema (a spec's ``#/objects/NAME``
references are inlined when it is made) and a label saying what it describes.

Schemas are read leniently: where a schema says nothing (no ``properties``, a free
``additionalProperties``, no ``type``), anything goes, so a path is refused only when the
schema really excludes it. ``oneOf``/``anyOf`` branches are alternatives (a field is known if
any branch declares it); ``allOf`` members are merged.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hookline.documents.schema_errors import TYPE_WORDS

_DEPTH = 32


class ShapeError(Exception):
    """A path the schema excludes; the message is a sentence for a located problem."""


@dataclass(frozen=True, slots=True)
class Shape:
    """A self-contained JSON Schema and what it describes, for messages."""

    schema: Any
    label: str

    @classmethod
    def of(cls, schema: Any, label: str, objects: Mapping[str, Any] | None = None) -> Shape:
        """A shape for ``schema``, its ``#/objects/NAME`` references inlined from ``objects``.

        A reference that cannot be resolved, or that nests deeper than a few levels (a
        recursive object), reads as "anything".
        """
        return cls(_inline(schema, objects or {}, 0), label)

    def alternatives(self) -> list[Mapping[str, Any]]:
        """The schemas a value may match: ``oneOf``/``anyOf`` branches, ``allOf`` merged.

        An empty list means the schema allows anything (``true``, ``{}``) or cannot be read.
        """
        found: list[Mapping[str, Any]] = list(_alternatives(self.schema, 0))
        return [] if any(not alt for alt in found) else found

    def types(self) -> frozenset[str] | None:
        """The JSON types a value may have; None when any type is possible."""
        alternatives = self.alternatives()
        if not alternatives:
            return None
        found: set[str] = set()
        for alt in alternatives:
            kinds = _types(alt)
            if kinds is None:
                return None
            found |= kinds
        return frozenset(found)

    def field(self, name: str) -> Shape | None:
        """The shape of field ``name``; None when it may hold anything.

        Raises ``ShapeError`` when no alternative can have the field: the value is not a
        mapping, or its declared fields do not include ``name``.
        """
        alternatives = self.alternatives()
        if not alternatives:
            return None
        found: list[Any] = []
        declared: list[str] = []
        kinds: set[str] = set()
        for alt in alternatives:
            types = _types(alt)
            if types is not None and "object" not in types:
                kinds |= types
                continue
            properties = alt.get("properties", {})
            extra = alt.get("additionalProperties")
            if name in properties:
                found.append(properties[name])
            elif isinstance(extra, Mapping):
                found.append(extra)
            elif extra is True or alt.get("patternProperties") or not properties:
                return None
            else:
                declared += [key for key in properties if key not in declared]
        if found:
            return self._union(found, f"{self.label}.{name}")
        if declared:
            fields = ", ".join(sorted(declared))
            raise ShapeError(
                f"{self.label} has no field {name!r}{did_you_mean(name, declared)}; "
                f"its fields are {fields}"
            )
        raise ShapeError(f"{self.label} is {_describe(kinds)}, which has no field {name!r}")

    def item(self, index: int | str = 0) -> Shape | None:
        """The shape of an element of a list; None when it may be anything.

        Raises ``ShapeError`` when the value cannot be a list.
        """
        alternatives = self.alternatives()
        if not alternatives:
            return None
        found: list[Any] = []
        kinds: set[str] = set()
        for alt in alternatives:
            types = _types(alt)
            if types is not None and "array" not in types:
                kinds |= types
                continue
            items = alt.get("items")
            if items is None or items is True:
                return None
            found.append(items)
        if found:
            return self._union(found, f"{self.label}[{index}]")
        raise ShapeError(f"{self.label} is {_describe(kinds)}, not a list; it has no [{index}]")

    def follow(self, path: tuple[str | int, ...]) -> Shape | None:
        """The shape at ``path`` below this one (None once anything is possible)."""
        shape: Shape | None = self
        for part in path:
            if shape is None:
                return None
            shape = shape.item(part) if isinstance(part, int) else shape.field(part)
        return shape

    def _union(self, schemas: list[Any], label: str) -> Shape:
        return Shape(schemas[0] if len(schemas) == 1 else {"anyOf": schemas}, label)


def object_shape(fields: Mapping[str, Shape | None], label: str) -> Shape:
    """A closed mapping with these fields (a field of None may hold anything)."""
    properties = {name: {} if shape is None else shape.schema for name, shape in fields.items()}
    return Shape({"type": "object", "properties": properties, "additionalProperties": False}, label)


def list_shape(item: Shape | None, label: str) -> Shape:
    """A list whose items have shape ``item`` (None: anything)."""
    return Shape({"type": "array", **({} if item is None else {"items": item.schema})}, label)


def words(types: frozenset[str]) -> str:
    """``text or an integer``: JSON types as a user reads them."""
    names = [TYPE_WORDS.get(kind, kind) for kind in sorted(types)]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def compatible(actual: frozenset[str], expected: frozenset[str]) -> bool:
    """Whether a value of one of ``actual`` types may fit a field of ``expected`` types.

    Null is left out (whether a field may be null is the platform's business), and integers
    and numbers are interchangeable, since a number may well be whole.
    """
    numeric = {"integer", "number"}
    given = actual - {"null"}
    if not given:
        return True
    widened = set(expected) | (numeric if expected & numeric else set())
    return bool(given & widened)


# ---------------------------------------------------------------- reading schemas


def _types(schema: Mapping[str, Any]) -> frozenset[str] | None:
    kind = schema.get("type")
    if isinstance(kind, str):
        return frozenset({kind})
    if isinstance(kind, list):
        return frozenset(kind)
    if "properties" in schema:
        return frozenset({"object"})
    if "items" in schema:
        return frozenset({"array"})
    if "const" in schema or "enum" in schema:
        values = [schema["const"]] if "const" in schema else list(schema["enum"])
        return frozenset(json_type(value) for value in values)
    return None


def json_type(value: Any) -> str:
    """The JSON type name of a plain value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _alternatives(schema: Any, depth: int) -> Iterator[dict[str, Any]]:
    """``schema`` as plain alternatives; an empty dict stands for "anything"."""
    if depth > _DEPTH or not isinstance(schema, Mapping):
        yield {}
        return
    branches = [*schema.get("oneOf", ()), *schema.get("anyOf", ())]
    base = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf", "allOf")}
    for member in schema.get("allOf", ()):
        for alt in _alternatives(member, depth + 1):
            base = _merge(base, alt)
    if not branches:
        yield base
        return
    for branch in branches:
        for alt in _alternatives(branch, depth + 1):
            yield _merge(base, alt) if alt else {}


_OBJECTS = "#/objects/"
_REF_DEPTH = 6


def _inline(schema: Any, objects: Mapping[str, Any], depth: int) -> Any:
    """``schema`` with each ``#/objects/NAME`` reference replaced by that object's schema."""
    if isinstance(schema, list):
        return [_inline(item, objects, depth) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = objects.get(ref.removeprefix(_OBJECTS)) if ref.startswith(_OBJECTS) else None
        if target is None or depth >= _REF_DEPTH:
            return {}
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        merged = {**target, **rest} if isinstance(target, Mapping) else target
        return _inline(merged, objects, depth + 1)
    return {key: _inline(value, objects, depth) for key, value in schema.items()}


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**a, **b}
    if "properties" in a and "properties" in b:
        merged["properties"] = {**a["properties"], **b["properties"]}
    return merged


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(kinds: set[str]) -> str:
    return words(frozenset(kinds)) if kinds else "not a mapping"
