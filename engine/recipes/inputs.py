"""Inputs: what a ``with`` block or a connection's values fill, checked against its schema.

Part of the static checks. ``written_problems`` validates the values written in the recipe
against the JSON Schema of the action's (trigger's, called recipe's, connector's) inputs,
treating templated values as unknown: unknown names (with the close one suggested), required
ones missing (an input with a default is not), written values of the wrong type. A template
whose value has a known type (a plain data reference, a literal, text around expressions) is
compared with the type the input expects by ``type_mismatch``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from hookline.documents.loader import Document, KeyPath, format_path
from hookline.documents.schema_errors import schema_problems
from hookline.errors import Problem
from hookline.expr.templates import Expression, Template
from hookline.recipes.shapes import Shape, compatible, json_type, words

_PLAIN_NODES = frozenset({"field", "subexpression", "index_expression", "index"})


def written_problems(
    document: Document,
    where: KeyPath,
    value: Any,
    schema: Mapping[str, Any],
    prefix: str,
    noun: str,
    *,
    satisfied: bool = False,
) -> list[Problem]:
    """The problems of the block at ``where`` against ``schema``, located in ``document``.

    ``value`` is the block with templates compiled; keys holding a template may have any
    value here. ``satisfied`` waives the required names (a named connection supplies them).
    Messages start with ``prefix`` and call the keys ``noun``s ("unknown input 'titel'").
    """
    data = value if isinstance(value, Mapping) else {}
    properties = dict(schema.get("properties", {}))
    for key, item in data.items():
        if key in properties and _holds_template(item):
            properties[key] = True
    required = [
        name
        for name in schema.get("required", [])
        if not satisfied
        and not (isinstance(properties.get(name), Mapping) and "default" in properties[name])
    ]
    relaxed = {**schema, "properties": properties, "required": required}
    problems = []
    for found in schema_problems(_subdocument(document, where, data), relaxed):
        message = found.message.replace("unknown key", f"unknown {noun}", 1)
        message = message.replace("missing required key", f"missing required {noun}", 1)
        inner = found.path
        shown = format_path(where) + (inner if inner.startswith("[") or not inner else f".{inner}")
        problems.append(replace(found, message=prefix + message, path=shown))
    return problems


def type_mismatch(template: Template, shape: Shape | None, expected: Shape) -> str | None:
    """``expects an integer, but '{{ x }}' gives text``, or None when the types may fit.

    ``shape`` is what the template reads (None: unknown). Only a mismatch that is certain is
    reported: a value of unknown type, or a field that may be null, passes.
    """
    wanted = expected.types()
    given = _template_types(template, shape)
    if wanted is None or given is None or compatible(given, wanted):
        return None
    return f"expects {words(wanted)}, but {template.source.strip()!r} gives {words(given)}"


def is_plain(expression: Expression) -> bool:
    """A path of fields and indexes (``trigger.tags[0].key``), whose value's shape is known."""
    stack = [expression.parsed.parsed]
    while stack:
        node = stack.pop()
        if node["type"] not in _PLAIN_NODES:
            return False
        stack.extend(child for child in node["children"] if isinstance(child, dict))
    return True


def _template_types(template: Template, shape: Shape | None) -> frozenset[str] | None:
    if not template.is_single:
        return frozenset({"string"})
    node = template.expressions[0].parsed.parsed
    if node["type"] == "literal":
        return frozenset({json_type(node["value"])})
    return None if shape is None else shape.types()


def _subdocument(document: Document, base: KeyPath, data: Any) -> Document:
    """A document of the value at ``base``, with positions relative to it."""
    size = len(base)
    values = {p[size:]: pos for p, pos in document.value_positions.items() if p[:size] == base}
    keys = {p[size:]: pos for p, pos in document.key_positions.items() if p[:size] == base}
    if () not in values:
        values[()] = document.locate(base) or (0, 0)
    return Document(data, document.file, values, keys)


def _holds_template(value: Any) -> bool:
    if isinstance(value, Template):
        return True
    if isinstance(value, Mapping):
        return any(_holds_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_template(v) for v in value)
    return False
