"""An OpenAPI document as the converter reads it: JSON-shaped, OpenAPI 3, references resolvable.

Decisions worth knowing:

- YAML is read with ``yaml.safe_load`` and made JSON-shaped: keys become text (YAML reads the
  response code ``200:`` as a number), dates become ISO 8601 text, and a document that
  contains itself through an alias is refused rather than walked forever.
- A Swagger 2.0 document is upgraded to the OpenAPI 3 shape on the way in
  (``swagger2.upgrade``), so everything after this module reads one format. OpenAPI 3.0, 3.1
  and later 3.x documents are read as they are; their differences are in schemas, which
  ``schemas.SchemaConverter`` handles.
- Only local references (``#/components/...``) are followed; a reference to another file or
  URL is reported and left out.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from hookline.errors import InvalidDocumentError, Problem
from hookline.spec.openapi import swagger2

METHODS = ("get", "put", "post", "delete", "patch")
"""The HTTP methods an action's request can use, as OpenAPI path items name them."""
OTHER_METHODS = ("head", "options", "trace", "query")
"""Methods an OpenAPI path item may have that no action can send."""

_MAX_HOPS = 32


def load_openapi(path: Path) -> dict[str, Any]:
    """The OpenAPI or Swagger document in the JSON or YAML file at ``path``, JSON-shaped.

    A file that cannot be read or parsed, or that is not an OpenAPI 3.x or Swagger 2.0
    document, raises ``InvalidDocumentError`` naming the file.
    """
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _error(f"cannot read the OpenAPI document: {exc.strerror}", file) from None
    except UnicodeDecodeError:
        raise _error("the OpenAPI document is not UTF-8 text", file) from None
    data: Any
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _error(f"not JSON: {exc.msg}", file, exc.lineno, exc.colno) from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = None if mark is None else mark.line + 1
            column = None if mark is None else mark.column + 1
            reason = getattr(exc, "problem", None) or "cannot be parsed"
            raise _error(f"not YAML: {reason}", file, line, column) from None
    shaped = json_shaped(data, file)
    version_of(shaped, file)
    return dict(shaped)


def version_of(data: Any, file: str | None = None) -> str:
    """``OpenAPI 3.0.2`` or ``Swagger 2.0``; anything else raises ``InvalidDocumentError``."""
    if isinstance(data, Mapping):
        openapi, swagger = data.get("openapi"), data.get("swagger")
        if isinstance(openapi, str) and openapi.startswith("3."):
            return f"OpenAPI {openapi}"
        if str(swagger) == "2.0":
            return "Swagger 2.0"
    raise _error(
        "not an OpenAPI 3.x or Swagger 2.0 document: expected a top-level `openapi: 3.x` or "
        "`swagger: '2.0'`",
        file,
    )


def json_shaped(value: Any, file: str | None = None) -> Any:
    """``value`` with text keys, dates as ISO 8601 text and no cycles (shared parts stay shared)."""
    done: dict[int, Any] = {}
    active: set[int] = set()

    def shape(item: Any) -> Any:
        if isinstance(item, dict | list):
            key = id(item)
            if key in done:
                return done[key]
            if key in active:
                raise _error(
                    "the document contains itself (a YAML alias of an enclosing value)", file
                )
            active.add(key)
            if isinstance(item, dict):
                result: Any = {_key(k): shape(v) for k, v in item.items()}
            else:
                result = [shape(v) for v in item]
            active.discard(key)
            done[key] = result
            return result
        if isinstance(item, datetime.date | datetime.datetime):
            return item.isoformat()
        if isinstance(item, bytes):
            return base64.b64encode(item).decode("ascii")
        if isinstance(item, set | tuple):
            return [shape(v) for v in item]
        return item

    return shape(value)


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, datetime.date | datetime.datetime):
        return key.isoformat()
    return str(key)


def _error(
    message: str, file: str | None, line: int | None = None, column: int | None = None
) -> InvalidDocumentError:
    return InvalidDocumentError([Problem(message, file=file, line=line, column=column)])


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation: its method and path, the operation object, and its parameters.

    ``parameters`` holds the path item's and the operation's parameters with references
    followed, the operation's replacing the path item's of the same name and location.
    """

    method: str
    path: str
    spec: Mapping[str, Any]
    parameters: tuple[Mapping[str, Any], ...]

    @property
    def label(self) -> str:
        """``GET /pets/{id}``, how messages and notes name the operation."""
        return f"{self.method.upper()} {self.path}"


class OpenAPI:
    """A document in the OpenAPI 3 shape, with its references resolvable.

    ``unresolved`` collects every reference that could not be followed, for one note.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        shaped = json_shaped(data)
        self.source = version_of(shaped)
        self.data: Mapping[str, Any] = (
            swagger2.upgrade(shaped) if self.source == "Swagger 2.0" else shaped
        )
        self.unresolved: list[str] = []

    @property
    def schemas(self) -> Mapping[str, Any]:
        """``components.schemas`` (Swagger's ``definitions``), by their names."""
        return _mapping(_mapping(self.data.get("components")).get("schemas"))

    def pointer(self, ref: str) -> Any | None:
        """The value a local reference (``#/components/...``) points at, or None."""
        if not ref.startswith("#"):
            return None
        value: Any = self.data
        for raw in ref[1:].split("/")[1:] if ref != "#" else []:
            part = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return None
        return value

    def deref(self, value: Any) -> Mapping[str, Any]:
        """``value`` with its ``$ref`` chain followed; an empty mapping where it leads nowhere."""
        for _ in range(_MAX_HOPS):
            if not isinstance(value, Mapping):
                return {}
            ref = value.get("$ref")
            if not isinstance(ref, str):
                return value
            target = self.pointer(ref)
            if target is None:
                self.unresolved.append(ref)
                return {}
            value = target
        return {}

    def operations(self) -> Iterator[Operation]:
        """Every operation, in the document's order."""
        for path, item in _mapping(self.data.get("paths")).items():
            resolved = self.deref(item)
            shared = self._parameters(resolved.get("parameters"))
            for method, operation in resolved.items():
                if method not in (*METHODS, *OTHER_METHODS) or not isinstance(operation, Mapping):
                    continue
                own = self._parameters(operation.get("parameters"))
                keys = {_parameter_key(p) for p in own}
                merged = [p for p in shared if _parameter_key(p) not in keys] + own
                yield Operation(method, str(path), operation, tuple(merged))

    def _parameters(self, raw: Any) -> list[Mapping[str, Any]]:
        found = []
        for item in raw if isinstance(raw, list) else []:
            parameter = self.deref(item)
            if isinstance(parameter.get("name"), str) and isinstance(parameter.get("in"), str):
                found.append(parameter)
        return found


def _parameter_key(parameter: Mapping[str, Any]) -> tuple[str, str]:
    return str(parameter.get("in")), str(parameter.get("name"))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
