"""What an operation answers: the output block of its action, and media types.

The output comes from the first 2xx response (``200`` before ``201``…, then ``2XX``). JSON
gives the output schema; text (``text/*``, XML) makes the request read text, anything else
bytes (a download). A JSON array makes a list action, ``records: "@"``. So does an object
with one list field that looks like the records, on a ``GET`` of a collection (a path that
does not end in a parameter): a field named ``data``, ``items``, ``results``…, or the only
list beside a total, count or cursor. That guess is noted for review, and the object is
handed to ``paging`` to look for a total or a next-page token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeAlias

from hookline.spec.openapi.document import OpenAPI, Operation
from hookline.spec.openapi.draft import KeyPath, Notes
from hookline.spec.openapi.names import identifier
from hookline.spec.openapi.schemas import SchemaConverter, is_array

_RECORD_FIELDS = frozenset(
    {
        "data",
        "items",
        "results",
        "records",
        "values",
        "value",
        "entries",
        "list",
        "content",
        "elements",
        "hits",
        "rows",
        "objects",
        "resources",
    }
)
_SIZE_FIELDS = frozenset(
    {"total", "count", "totalcount", "offset", "limit", "page", "next", "cursor"}
)

Listing: TypeAlias = tuple[dict[str, Any], frozenset[str]]
"""A list response: the shaped object its records sit in ({} for an array), header names."""


def read_output(
    api: OpenAPI,
    converter: SchemaConverter,
    notes: Notes,
    operation: Operation,
    action: KeyPath,
    request: dict[str, Any],
) -> tuple[dict[str, Any] | None, Listing | None]:
    """The output block of the action at ``action``, and for a list what paging reads.

    Sets ``request["response"]`` for an answer that is not JSON.
    """
    response = _success(api, operation)
    if response is None:
        return None, None
    headers = frozenset(str(h).lower() for h in _mapping(response.get("headers")))
    content = _mapping(response.get("content"))
    if not content:
        return None, None
    media = pick_media(content)
    if not is_json(media):
        request["response"] = "text" if is_text(media) else "bytes"
        return None, None
    raw = _mapping(content[media]).get("schema")
    if raw is None:
        return None, None
    shape = converter.shape(raw)
    where = (*action, "output", "schema")
    if is_binary(shape):
        request["response"] = "bytes"
        return None, None
    if is_array(shape):
        output: dict[str, Any] = {"records": "@"}
        item = _item(shape)
        if item is not None:
            output["schema"] = converter.convert(item, where)
        return {**output, "strict": False}, ({}, headers)
    field = _records_field(converter, operation, shape)
    if field is not None:
        guess = f"guessed: the records are the {field!r} list of the response"
        notes.add((*action, "output"), guess)
        output = {"records": identifier(field)}
        item = _item(converter.shape(shape["properties"][field]))
        if item is not None:
            output["schema"] = converter.convert(item, where)
        return {**output, "strict": False}, (shape, headers)
    return {"schema": converter.convert(raw, where), "strict": False}, None


def is_json(media: str) -> bool:
    """Whether a media type is JSON (``application/json``, ``application/problem+json``…)."""
    kind = media.split(";", 1)[0].strip().lower()
    return kind in ("*/*", "application/*") or kind.endswith(("/json", "+json"))


def is_text(media: str) -> bool:
    """Whether a media type is text that an action reads as it is."""
    kind = media.split(";", 1)[0].strip().lower()
    return kind.startswith("text/") or kind.endswith(("/xml", "+xml"))


def is_binary(shape: Mapping[str, Any]) -> bool:
    """Whether a shaped schema is a file's bytes (``type: string, format: binary``)."""
    return shape.get("type") == "string" and shape.get("format") in ("binary", "byte", "base64")


def pick_media(content: Mapping[str, Any]) -> str:
    """The media type an action uses: JSON first, then a form, then the first given."""
    kinds = list(content)
    for test in (
        is_json,
        lambda k: k.startswith("application/x-www-form-urlencoded"),
        lambda k: k.startswith("multipart/"),
    ):
        for kind in kinds:
            if test(kind.lower()):
                return kind
    return kinds[0]


def _success(api: OpenAPI, operation: Operation) -> Mapping[str, Any] | None:
    responses = _mapping(operation.spec.get("responses"))
    codes = sorted(c for c in responses if len(c) == 3 and c.startswith("2") and c.isdigit())
    codes += [c for c in responses if c.upper() == "2XX"]
    for code in codes:
        response = api.deref(responses[code])
        if response:
            return response
    return None


def _records_field(
    converter: SchemaConverter, operation: Operation, shape: Mapping[str, Any]
) -> str | None:
    """The list field that holds a collection's records, on a ``GET`` of a collection."""
    if operation.method != "get" or operation.path.rstrip("/").endswith("}"):
        return None
    properties = _mapping(shape.get("properties"))
    lists = [name for name, raw in properties.items() if is_array(converter.shape(raw))]
    named = [name for name in lists if name.lower() in _RECORD_FIELDS]
    if len(named) == 1:
        return named[0]
    squashed = {re.sub(r"[_\-]", "", name).lower() for name in properties}
    if len(lists) == 1 and squashed & _SIZE_FIELDS:
        return lists[0]
    return None


def _item(shape: Mapping[str, Any]) -> Any | None:
    """The schema of an array's items (``items: [X]``, which old documents write, is X)."""
    items = shape.get("items")
    if isinstance(items, list) and len(items) == 1:
        items = items[0]
    return items if isinstance(items, Mapping | bool) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
