"""Each OpenAPI operation as one action: its name, title, inputs and request.

What is exact: the method and path (``/pets/{petId}`` becomes ``/pets/{{ input.pet_id }}``),
the path, query and header parameters as inputs with their schemas, descriptions and
``required``, array parameters sent as the document's ``style``/``explode`` say (repeated, or
joined by commas, spaces, pipes or tabs), ``deepObject`` parameters, and the request body.
The output is ``responses``'s, the paginator ``paging``'s.

Decided here:

- A JSON (or form, or multipart) body that is an object with properties is flattened: each
  property becomes an input (``readOnly`` ones are left out) and the body is written member
  by member with ``omit_nulls: true``, so an input that is not given is not sent. Any other
  body is one input, ``body``. A body of another media type is raw text, or bytes given as
  base64 or ``@PATH``.
- An input name taken by an earlier parameter gets the location as a prefix
  (``query_id``, ``body_id``).
- The title is the summary's first line, else the ``operationId``'s words.
- ``HEAD``, ``OPTIONS`` and ``TRACE`` operations are skipped: an action cannot send them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hookline.spec.openapi import paging
from hookline.spec.openapi.document import METHODS, OpenAPI, Operation
from hookline.spec.openapi.draft import KeyPath, Notes
from hookline.spec.openapi.names import Namer, identifier, snake
from hookline.spec.openapi.responses import is_binary, is_json, is_text, pick_media, read_output
from hookline.spec.openapi.schemas import SchemaConverter, is_array, is_object

_TEMPLATE = re.compile(r"\{([^{}]+)\}")
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
_DELIMITERS = {
    "form": ",",
    "simple": ",",
    "spaceDelimited": " ",
    "pipeDelimited": "|",
    "tabDelimited": "\t",
}


def build_actions(
    api: OpenAPI, converter: SchemaConverter, notes: Notes
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Every operation as an action, by name; and the operations skipped, with the reason."""
    namer = Namer()
    actions: dict[str, Any] = {}
    skipped: list[str] = []
    for operation in api.operations():
        if operation.method not in METHODS:
            skipped.append(f"{operation.label}: an action cannot send {operation.method.upper()}")
            continue
        name = namer.claim(action_name(operation))
        actions[name] = _ActionBuilder(api, converter, notes, operation, name).build()
    return actions, tuple(skipped)


def action_name(operation: Operation) -> str:
    """The ``operationId`` snake-cased, else the method and the path's words."""
    operation_id = operation.spec.get("operationId")
    if isinstance(operation_id, str) and snake(operation_id, ""):
        return snake(operation_id, "call")
    words = _TEMPLATE.sub(lambda match: f" {match.group(1)} ", operation.path)
    return snake(f"{operation.method} {words}", operation.method)


def title_of(operation: Operation) -> str:
    """The summary's first line, else the ``operationId``'s words, else ``GET /path``."""
    summary = operation.spec.get("summary")
    if isinstance(summary, str) and summary.strip():
        return summary.strip().splitlines()[0].strip().rstrip(".")
    operation_id = operation.spec.get("operationId")
    words = snake(operation_id, "").replace("_", " ") if isinstance(operation_id, str) else ""
    return words.capitalize() if words else operation.label


class _ActionBuilder:
    """Builds one action; inputs are claimed in order: path, query, header, body."""

    def __init__(
        self,
        api: OpenAPI,
        converter: SchemaConverter,
        notes: Notes,
        operation: Operation,
        name: str,
    ) -> None:
        self.api = api
        self.converter = converter
        self.notes = notes
        self.operation = operation
        self.where: KeyPath = ("actions", name)
        self.inputs: dict[str, Any] = {}
        self.required: list[str] = []
        self.names = Namer()

    def build(self) -> dict[str, Any]:
        operation = self.operation
        action: dict[str, Any] = {"title": title_of(operation)}
        description = _text(operation.spec.get("description"))
        if operation.spec.get("deprecated") is True:
            description = ("Deprecated. " + description).strip()
        if description and description != action["title"]:
            action["description"] = description
        request: dict[str, Any] = {"method": operation.method.upper()}
        output, listing = read_output(
            self.api, self.converter, self.notes, operation, self.where, request
        )
        query = {p["name"]: p for p in self._located("query")}
        paginate = None
        if listing is not None:
            shapes = {name: self.converter.shape(_schema(p)) for name, p in query.items()}
            paginate = paging.guess(shapes, listing[0], listing[1], self.converter.shape)
        owned = paginate.owned if paginate is not None else frozenset()
        request["path"] = self._path()
        rendered_query = self._query([p for name, p in query.items() if name not in owned])
        if rendered_query:
            request["query"] = rendered_query
        headers = self._headers()
        for parameter in self._located("cookie"):
            self.notes.add(
                (*self.where, "request"),
                f"cookie parameter {parameter['name']!r} is not sent: add it as a Cookie header "
                "if the platform needs it",
            )
        self._body(request, headers)
        if headers:
            request["headers"] = headers
        if self.inputs:
            action["input"] = self.inputs
        if self.required:
            action["required"] = self.required
        action["request"] = _ordered(request)
        if paginate is not None:
            action["paginate"] = paginate.block
            self.notes.add((*self.where, "paginate"), f"guessed: {paginate.reason}")
        if output is not None:
            action["output"] = output
        return action

    # ------------------------------------------------------------------ inputs

    def _located(self, location: str) -> list[Mapping[str, Any]]:
        return [p for p in self.operation.parameters if p.get("in") == location]

    def _input(
        self, source: str, prefix: str, schema: Any, description: str, required: bool
    ) -> str:
        """Claim an input for ``source`` (a document name) and declare its schema."""
        base = snake(source, "value")
        name = self.names.claim(base, f"{prefix}_{base}")
        converted = self.converter.convert(schema, (*self.where, "input", name))
        if isinstance(converted, dict):
            if description and "description" not in converted:
                converted = {**converted, "description": description}
        else:
            converted = {"description": description} if converted else {"not": {}}
        self.inputs[name] = converted
        if required:
            self.required.append(name)
        return name

    def _parameter_input(self, parameter: Mapping[str, Any], required: bool) -> str:
        location = str(parameter["in"])
        description = _text(parameter.get("description")) or (
            f"The {location} parameter `{parameter['name']}`"
        )
        return self._input(
            str(parameter["name"]),
            location,
            _schema(parameter),
            description,
            required or parameter.get("required") is True,
        )

    def _path(self) -> str:
        declared = {str(p["name"]): p for p in self._located("path")}
        claimed: dict[str, str] = {}

        def substitute(match: re.Match[str]) -> str:
            raw = match.group(1)
            if raw not in claimed:
                parameter = declared.get(raw)
                if parameter is None:
                    self.notes.add(
                        (*self.where, "request", "path"),
                        f"the path names {{{raw}}}, which the document does not declare; "
                        "it was made a required text input",
                    )
                    parameter = {"name": raw, "in": "path", "schema": {"type": "string"}}
                claimed[raw] = self._parameter_input(parameter, required=True)
            return _use(claimed[raw])

        path = _TEMPLATE.sub(substitute, self.operation.path) or "/"
        return path if path.startswith("/") else "/" + path

    def _query(self, parameters: list[Mapping[str, Any]]) -> dict[str, Any]:
        query: dict[str, Any] = {}
        for parameter in parameters:
            name = self._parameter_input(parameter, required=False)
            source = str(parameter["name"])
            shape = self.converter.shape(_schema(parameter))
            style = str(parameter.get("style", "form"))
            explode = parameter.get("explode", style == "form")
            if is_object(shape):
                prefix = style == "deepObject"
                if style not in ("deepObject", "form") or explode is False:
                    self.notes.add(
                        (*self.where, "request", "query"),
                        f"object parameter {source!r} ({style}) is sent one member per parameter",
                    )
                for member in shape["properties"]:
                    key = f"{source}[{member}]" if prefix else str(member)
                    query[key] = _use(f"{name}.{identifier(str(member))}")
            elif is_array(shape) and explode is False:
                query[source] = _joined(name, _DELIMITERS.get(style, ","))
            else:
                query[source] = _use(name)
        return query

    def _headers(self) -> dict[str, Any]:
        headers: dict[str, Any] = {}
        for parameter in self._located("header"):
            source = str(parameter["name"])
            if source.lower() in _IGNORED_HEADERS:
                continue
            name = self._parameter_input(parameter, required=False)
            shape = self.converter.shape(_schema(parameter))
            headers[source] = _joined(name, ",") if is_array(shape) else _use(name)
        return headers

    # ------------------------------------------------------------------ the body

    def _body(self, request: dict[str, Any], headers: dict[str, Any]) -> None:
        body = self.api.deref(self.operation.spec.get("requestBody"))
        content = body.get("content")
        if not isinstance(content, Mapping) or not content:
            return
        required = body.get("required") is True
        description = _text(body.get("description")) or "The request body"
        media = pick_media(content)
        schema = _mapping(content[media]).get("schema", {})
        shape = self.converter.shape(schema)
        kind = media.split(";", 1)[0].strip().lower()
        if is_json(kind) and not is_binary(shape):
            if is_object(shape):
                request["json"] = self._members(shape, "")
                request["omit_nulls"] = True
            else:
                name = self._input("body", "request", schema, description, required)
                request["json"] = _use(name)
        elif kind == "application/x-www-form-urlencoded" and is_object(shape):
            request["form"] = self._members(shape, "")
            request["omit_nulls"] = True
        elif kind.startswith("multipart/") and is_object(shape):
            request["multipart"] = self._members(shape, "multipart")
            request["omit_nulls"] = True
        else:
            self._raw_body(request, headers, kind, schema, description, required)

    def _members(self, shape: Mapping[str, Any], parts: str) -> dict[str, Any]:
        """Each property of a body object as an input; the body written member by member."""
        required = set(shape.get("required") or [])
        members: dict[str, Any] = {}
        for source, raw in _mapping(shape.get("properties")).items():
            member = self.converter.shape(raw)
            if member.get("readOnly") is True:
                continue
            file = parts == "multipart" and is_binary(member)
            schema = {"type": "string", "contentEncoding": "base64"} if file else raw
            description = _text(_mapping(raw).get("description")) or _text(
                member.get("description")
            )
            if file:
                description = (description + " " if description else "") + (
                    "The file's content: @PATH of a file, or base64 text"
                )
            name = self._input(
                source,
                "body",
                schema,
                description or f"The body's `{source}` member",
                source in required,
            )
            if file:
                members[source] = {"file": _use(name), "base64": True, "filename": source}
                self.notes.add(
                    (*self.where, "request", "multipart"),
                    f"file part {source!r} is sent with the file name {source!r}",
                )
            else:
                members[source] = _use(name)
        return members

    def _raw_body(
        self,
        request: dict[str, Any],
        headers: dict[str, Any],
        kind: str,
        schema: Any,
        description: str,
        required: bool,
    ) -> None:
        if is_text(kind):
            name = self._input("body", "request", {"type": "string"}, description, required)
            request["body"] = _use(name)
        else:
            name = self._input(
                "body",
                "request",
                {"type": "string", "contentEncoding": "base64"},
                f"{description}: @PATH of a file, or base64 text",
                required,
            )
            request["body"] = _use(name)
            request["body_base64"] = True
        if "*" in kind:
            self.notes.add(
                (*self.where, "request", "headers"),
                f"the document accepts {kind}; application/octet-stream is sent",
            )
            kind = "application/octet-stream"
        headers["Content-Type"] = kind


def _use(expression: str) -> str:
    """A template giving ``input.EXPRESSION``."""
    return "{{ input." + expression + " }}"


def _joined(name: str, delimiter: str) -> str:
    """A template joining a list input's items into one value (null stays null: left out)."""
    text = delimiter.replace("\t", "\\t")
    return "{{ " + f"input.{name} && join('{text}', input.{name}[*].to_string(@))" + " }}"


def _schema(parameter: Mapping[str, Any]) -> Any:
    """A parameter's schema (from ``schema``, or the first entry of ``content``)."""
    if "schema" in parameter:
        return parameter["schema"]
    for media in _mapping(parameter.get("content")).values():
        return _mapping(media).get("schema", {})
    return {}


def _ordered(request: dict[str, Any]) -> dict[str, Any]:
    """The request's keys in the order specs write them."""
    order = ("method", "path", "query", "headers", "json", "form", "multipart", "body")
    rank = {key: index for index, key in enumerate(order)}
    return {key: request[key] for key in sorted(request, key=lambda k: rank.get(k, len(order)))}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
