"""A quick answer to "is this value valid?" for the plain schemas most checks use.

Loading jsonschema is a good part of a command's start-up, and most values a command checks
before its first request (a connections file, a connection's values, an action's input) are
valid against schemas made of a few keywords: ``type``, ``properties``, ``required``,
``additionalProperties``, ``enum``, bounds and patterns. ``plainly_valid`` decides those
without jsonschema. It says True only when the value is valid by Draft 2020-12's rules; a
schema with any other validating keyword (``$ref``, ``oneOf``, ``if``, ...), or a value it
does not match, gives False, and the caller asks jsonschema, which also explains what is
wrong. So the answer is the same, and only its cost differs. A test holds the two alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

VALIDATION_KEYWORDS = frozenset(
    {
        "$dynamicRef",
        "$ref",
        "additionalProperties",
        "allOf",
        "anyOf",
        "const",
        "contains",
        "dependentRequired",
        "dependentSchemas",
        "enum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "format",
        "if",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "not",
        "oneOf",
        "pattern",
        "patternProperties",
        "prefixItems",
        "properties",
        "propertyNames",
        "required",
        "type",
        "unevaluatedItems",
        "unevaluatedProperties",
        "uniqueItems",
    }
)
"""Every keyword Draft 2020-12 validates with (jsonschema's ``Draft202012Validator``); the
others are annotations, which never make a value invalid."""

HANDLED = frozenset(
    {
        "additionalProperties",
        "const",
        "enum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "format",  # an annotation: hookline validates with format checking off
        "items",
        "maxItems",
        "maxLength",
        "maximum",
        "minItems",
        "minLength",
        "minimum",
        "pattern",
        "properties",
        "propertyNames",
        "required",
        "type",
    }
)
"""The validating keywords ``plainly_valid`` decides itself."""

_NOT_HANDLED = VALIDATION_KEYWORDS - HANDLED


def plainly_valid(value: Any, schema: Any) -> bool:
    """True when ``value`` is valid against ``schema``, decided without jsonschema; False
    when it is not, or when ``schema`` uses a keyword this check leaves to jsonschema."""
    try:
        return _valid(value, schema)
    except (RecursionError, re.error, KeyError, TypeError, ValueError):
        return False


def _valid(value: Any, schema: Any) -> bool:
    if schema is True:
        return True
    if not isinstance(schema, dict) or not _NOT_HANDLED.isdisjoint(schema):
        return False
    if "type" in schema and not _has_type(value, schema["type"]):
        return False
    if "enum" in schema and not any(_same(value, choice) for choice in schema["enum"]):
        return False
    if "const" in schema and not _same(value, schema["const"]):
        return False
    if isinstance(value, str):
        return _valid_text(value, schema)
    if _is_number(value):
        return _valid_number(value, schema)
    if isinstance(value, dict):
        return _valid_object(value, schema)
    if isinstance(value, list):
        return _valid_array(value, schema)
    return True


def _valid_text(value: str, schema: dict[str, Any]) -> bool:
    if "minLength" in schema and len(value) < schema["minLength"]:
        return False
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return False
    return "pattern" not in schema or re.search(schema["pattern"], value) is not None


def _valid_number(value: float, schema: dict[str, Any]) -> bool:
    return not (
        ("minimum" in schema and value < schema["minimum"])
        or ("maximum" in schema and value > schema["maximum"])
        or ("exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"])
        or ("exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"])
    )


def _valid_object(value: dict[Any, Any], schema: dict[str, Any]) -> bool:
    if not all(name in value for name in schema.get("required", ())):
        return False
    properties = schema.get("properties", {})
    additional = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            if not _valid(item, properties[name]):
                return False
        elif not _valid(item, additional):
            return False
    names = schema.get("propertyNames", True)
    return names is True or all(_valid(name, names) for name in value)


def _valid_array(value: list[Any], schema: dict[str, Any]) -> bool:
    if "minItems" in schema and len(value) < schema["minItems"]:
        return False
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        return False
    items = schema.get("items", True)
    return items is True or all(_valid(item, items) for item in value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: _is_number(v) and (isinstance(v, int) or float(v).is_integer()),
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _has_type(value: Any, kinds: Any) -> bool:
    names = [kinds] if isinstance(kinds, str) else kinds
    return any(_TYPES[name](value) for name in names)  # an unknown name: KeyError, unsure


def _same(value: Any, choice: Any) -> bool:
    """jsonschema's equality for scalars (``true`` is not ``1``); containers are left to it."""
    if isinstance(value, list | dict) or isinstance(choice, list | dict):
        raise ValueError("left to jsonschema")
    if isinstance(value, bool) or isinstance(choice, bool):
        return isinstance(value, bool) and isinstance(choice, bool) and value == choice
    return bool(value == choice)
