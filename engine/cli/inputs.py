"""``--input KEY=VALUE``: a value read as the type its input declares.

``hookline call`` (an action's inputs) and ``hookline run`` (a manual recipe's) read each
value the same way, against the input's JSON Schema (``#/objects/NAME`` references
resolved):

- a value that parses as JSON and has a type other than text that the input accepts is
  that JSON (``5``, ``true``, ``["bug"]``, ``{"a": 1}``);
- else, for an input that accepts text, the text exactly as written (``-i id=0042`` gives
  ``"0042"``, and ``-i 'title="x"'`` keeps its quotes);
- else, for a list input, a list of the one item the value reads as (``-i labels=bug``
  gives ``["bug"]``);
- an input declared without a type takes JSON where it parses, else the text.

A key given several times makes a list, each value read as an item of a list input. What
does not fit is left for the input's validation to name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
import orjson

from hookline.recipes.shapes import Shape, ShapeError, json_type

_ABSENT = object()


def read_inputs(
    pairs: tuple[str, ...],
    properties: Mapping[str, Any] | None = None,
    objects: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The values of ``--input KEY=VALUE`` pairs, each read as ``properties`` declares it.

    A pair without ``=`` or without a key is a usage error (``click.BadParameter``).
    """
    given: dict[str, list[str]] = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--input")
        given.setdefault(key, []).append(text)
    values: dict[str, Any] = {}
    for key, texts in given.items():
        schema = (properties or {}).get(key)
        shape = Shape.of(schema, key, objects) if isinstance(schema, Mapping) else None
        if len(texts) == 1:
            values[key] = read_value(texts[0], shape)
        else:
            item = _item(shape)
            values[key] = [read_value(text, item) for text in texts]
    return values


def read_value(text: str, shape: Shape | None) -> Any:
    """One value, read as ``shape`` (None: any type) accepts it; see the module docstring."""
    parsed = _json(text)
    kinds = None if shape is None else shape.types()
    if kinds is None:
        return text if parsed is _ABSENT else parsed
    if parsed is not _ABSENT and not isinstance(parsed, str) and _fits(json_type(parsed), kinds):
        return parsed
    if "string" in kinds:
        return text
    if "array" in kinds:
        return [read_value(text, _item(shape))]
    return text if parsed is _ABSENT else parsed


def _fits(kind: str, kinds: frozenset[str]) -> bool:
    return kind in kinds or (kind == "integer" and "number" in kinds)


def _item(shape: Shape | None) -> Shape | None:
    """The shape of an item of a list input; None (any type) when it is not a list."""
    if shape is None:
        return None
    try:
        return shape.item()
    except ShapeError:
        return None


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _ABSENT
