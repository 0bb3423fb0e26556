"""Calling an action: input → request → response → output, each step a short function.

``call_action`` runs one action on an open ``Connection`` and returns its output;
``iter_records`` streams the records of a list action page after page. Both validate the input
against the action's input schema (defaults applied, ``#/objects/NAME`` references resolved),
render the request with ``Connection.build_request`` against ``connection``, ``session`` and
``input`` (and ``page``, the paginator's values), send it through the connection, apply
``records`` and ``select``, and check the output against the output schema: a mismatch is an
``InvalidResponseError`` naming the field, or an ``OutputMismatchWarning`` where the spec says
``strict: false``.

Files. A download (``response: bytes``) is returned as ``{content, content_type, size}`` with
the content as base64 text, or streamed to the file an input named ``save_to`` gives (every
download action accepts ``save_to``) and returned as ``{path, content_type, size}``. Content to
upload is either a path (a multipart ``file`` part reads it) or, for an input declared with
``contentEncoding: base64``, the bytes as base64 text; such an input also accepts ``bytes`` from
Python and ``@PATH`` (a file to read) from anywhere, since ``@`` is not a base64 character. This
keeps file access out of the expression language, which can read its context and nothing else.

Unknown outcomes. When the connection breaks after a request that is not safe to repeat, the
connection raises ``OutcomeUnknownError``. An action with a ``lookup`` then asks the platform
whether the object was made: the first matching record is the output; if none matches the
request is sent again, as many times as the action's retry attempts allow. Without a lookup the
error propagates and the job records the outcome as unknown.

Dry runs. ``call_action(..., dry_run=True)`` renders every request the call would begin with
(the first page for a list, the lookup for a create that has one), secrets redacted, sends
nothing, and returns a ``Plan`` whose ``output`` is the action's first example output.

Composite actions (``calls:`` instead of ``request:``) are run by ``hookline.composite``, whose
calls come back here, one ``call_action`` each; their output is selected and checked here.
"""

from __future__ import annotations

import base64
import binascii
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextlib import aclosing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped, unused-ignore]

from .catalog import suggest
from .connection import CallPolicy, Connection, Response
from .errors import (
    ActionError,
    ConfigurationError,
    InvalidRequestError,
    InvalidResponseError,
    OutcomeUnknownError,
)
from .pagination import Page, with_params
from .responses import truthy
from .spec import Action, Request

SAVE_TO = "save_to"
_SAVE_TO_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "description": "Stream the download to this file instead of returning its content",
}
_MESSAGE_LIMIT = 300


class OutputMismatchWarning(UserWarning):
    """An action's output does not match its output schema, and the spec says ``strict: false``."""


# ---------------------------------------------------------------- the public calls


async def call_action(
    connection: Connection,
    action_name: str,
    input: Mapping[str, Any] | None = None,
    *,
    dry_run: bool = False,
    max_records: int | None = None,
) -> Any:
    """Run ``action_name`` on ``connection`` with ``input``; return its output.

    A list action returns the list of its records (at most ``max_records``; ``iter_records``
    streams them instead). ``dry_run`` sends nothing and returns a ``Plan``.
    """
    call = _Call(connection, action_name)
    values = call.prepare(input)
    if dry_run:
        return await call.plan(values, max_records)
    if call.action.composite is not None:
        return await call.composed(values)
    if call.action.is_list:
        async with aclosing(call.records(values, max_records)) as records:
            return [record async for record in records]
    return await call.single(values)


async def iter_records(
    connection: Connection,
    action_name: str,
    input: Mapping[str, Any] | None = None,
    *,
    max_records: int | None = None,
) -> AsyncIterator[Any]:
    """Stream the records of list action ``action_name``, fetching pages as they are needed.

    ``max_records`` overrides the spec's ``max_records``. Leaving the loop early stops the
    reading (and cancels pages fetched ahead).
    """
    call = _Call(connection, action_name)
    if not call.action.is_list:
        raise ConfigurationError(
            f"{call.label} is not a list action (it has no output.records); use call_action"
        )
    values = call.prepare(input)
    async with aclosing(call.records(values, max_records)) as records:
        async for record in records:
            yield record


# ---------------------------------------------------------------- dry runs


@dataclass(frozen=True, slots=True)
class RenderedRequest:
    """A request as it would be sent, secrets redacted; ``role`` says when it is sent."""

    role: str
    method: str
    url: str
    headers: Mapping[str, str]
    body: Any

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON output."""
        return {
            "role": self.role,
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "body": self.body,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """What a call would do: the requests it starts with, and an example of its output.

    Credentials that the connection's auth adds when a request is sent (headers, a login) are
    not part of a plan; every secret in what is shown is replaced by ``***``. ``note`` says
    what the requests leave out: a composite action's calls that need outputs a dry run
    cannot have.
    """

    action: str
    requests: tuple[RenderedRequest, ...]
    output: Any
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON output."""
        data = {
            "dry_run": True,
            "action": self.action,
            "requests": [request.to_dict() for request in self.requests],
            "output": self.output,
        }
        if self.note:
            data["note"] = self.note
        return data


class _Planned(Exception):
    """Stops a paginator at its first request, which a dry run records instead of sending."""


# ---------------------------------------------------------------- one call


class _Call:
    """One call of one action on one connection: the steps ``call_action`` is made of."""

    def __init__(self, connection: Connection, action_name: str) -> None:
        spec = connection.spec
        action = spec.actions.get(action_name)
        if action is None:
            raise ConfigurationError(
                f"connector {spec.name!r} has no action {action_name!r}"
                f"{suggest(action_name, spec.actions)}"
            )
        self.connection = connection
        self.action: Action = action
        self.label = f"{spec.name}.{action_name}"

    @property
    def request(self) -> Request:
        """The action's request; only an action that is not composite reaches for it."""
        request = self.action.request
        assert isinstance(request, Request), f"{self.label} is a composite action"
        return request

    # ------------------------------------------------------------ input

    def prepare(self, input: Mapping[str, Any] | None) -> dict[str, Any]:
        """The input with defaults applied and file contents encoded, validated.

        An optional input given as null counts as not given (a recipe passing a field that
        an object lacks), unless its schema accepts null.
        """
        schema = self.input_schema()
        properties: Mapping[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        values = {
            name: value
            for name, value in (input or {}).items()
            if value is not None or name in required or _accepts_null(properties.get(name))
        }
        for name, prop in properties.items():
            if name not in values and isinstance(prop, Mapping) and "default" in prop:
                values[name] = prop["default"]
        for name, prop in properties.items():
            if (
                name in values
                and isinstance(prop, Mapping)
                and prop.get("contentEncoding") == "base64"
            ):
                values[name] = self._encoded(name, values[name])
        validator = Draft202012Validator(self.connection.spec.schema_with_objects(schema))
        problems = [_input_problem(error, properties) for error in validator.iter_errors(values)]
        if problems:
            raise InvalidRequestError(
                f"{self.label}: {'; '.join(sorted(problems))}",
                connector=self.connection.spec.name,
                action=self.action.name,
            )
        return values

    def input_schema(self) -> dict[str, Any]:
        """The action's input schema; a download also accepts ``save_to``."""
        schema = dict(self.action.input_schema)
        if self.action.request.response == "bytes":
            schema["properties"] = {SAVE_TO: _SAVE_TO_SCHEMA, **schema.get("properties", {})}
        return schema

    def _encoded(self, name: str, value: Any) -> Any:
        """Content for a ``contentEncoding: base64`` input: bytes or ``@PATH`` become base64."""
        if isinstance(value, bytes | bytearray | memoryview):
            return base64.b64encode(value).decode("ascii")
        if isinstance(value, Path) or (isinstance(value, str) and value.startswith("@")):
            path = Path(value if isinstance(value, Path) else value[1:]).expanduser()
            try:
                return base64.b64encode(path.read_bytes()).decode("ascii")
            except OSError as exc:
                raise InvalidRequestError(
                    f"{self.label}: input {name!r}: cannot read {str(path)!r}: {exc.strerror}",
                    connector=self.connection.spec.name,
                    action=self.action.name,
                ) from None
        if isinstance(value, str):
            try:
                base64.b64decode(value, validate=True)
            except binascii.Error:
                raise InvalidRequestError(
                    f"{self.label}: input {name!r} is not base64 text; give the content as "
                    "base64, or a file as @PATH",
                    connector=self.connection.spec.name,
                    action=self.action.name,
                ) from None
        return value

    # ------------------------------------------------------------ requests

    def context(
        self,
        values: Mapping[str, Any],
        page: Mapping[str, Any] | None = None,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """The names a request template sees; a dry run sees ``<session.NAME>`` placeholders."""
        if page is None:
            return self.connection.context(dry_run=dry_run, input=values)
        return self.connection.context(dry_run=dry_run, input=values, page=page)

    async def ready(self, request: Request) -> None:
        """Log the session in first where rendering ``request`` reads ``session.*``."""
        if self.connection.reads_session(request):
            await self.connection.ready()

    def policy(
        self, request: Request, values: Mapping[str, Any], *, idempotent: bool
    ) -> CallPolicy:
        """How the connection sends ``request`` for this action."""
        save_to = values.get(SAVE_TO) if request.response == "bytes" else None
        return CallPolicy(
            action=self.action.name,
            errors=self.action.errors,
            retry=self.action.retry,
            idempotent=idempotent,
            response=request.response,
            save_to=Path(save_to).expanduser() if save_to else None,
        )

    # ------------------------------------------------------------ one answer

    async def single(self, values: Mapping[str, Any]) -> Any:
        """Send the request; after a lost answer, look up (when the spec can) and maybe resend."""
        request = self.request
        policy = self.policy(request, values, idempotent=self.action.idempotent)
        attempts = max(1, self.action.retry.attempts)
        attempt = 0
        while True:
            attempt += 1
            await self.ready(request)
            built = self.connection.build_request(request, self.context(values))
            try:
                response = await self.connection.send(built, policy=policy)
            except OutcomeUnknownError as lost:
                if self.action.lookup is None or attempt >= attempts:
                    raise
                found = await self.look_up(values, lost)
                if found:
                    return found[0]
                continue  # the platform has no such object: sending again is safe
            return self.output(self.shaped(response), index=None)

    async def look_up(self, values: Mapping[str, Any], lost: OutcomeUnknownError) -> list[Any]:
        """The object a lost create made, as a one-item list, or an empty list."""
        lookup = self.action.lookup
        assert lookup is not None
        await self.ready(lookup.request)
        built = self.connection.build_request(lookup.request, self.context(values))
        policy = self.policy(lookup.request, values, idempotent=True)
        try:
            response = await self.connection.send(built, policy=policy)
        except ActionError as exc:
            raise OutcomeUnknownError(
                f"{lost} The lookup that would tell whether it was applied failed too: {exc}",
                connector=lost.connector,
                action=lost.action,
                method=lost.method,
                url=lost.url,
            ) from exc
        data = response.data
        candidates = lookup.records.search(data) if lookup.records is not None else data
        if candidates is None:
            return []
        if not isinstance(candidates, list):
            candidates = [candidates]
        for record in candidates:
            if truthy(lookup.match.search({"record": record, "input": values})):
                return [record]
        return []

    def shaped(self, response: Response) -> Any:
        """The body of ``response`` as output data: downloads become a description of the file."""
        if self.request.response != "bytes":
            return response.data
        if response.path is not None:
            path = Path(response.path)
            return {
                "path": str(path),
                "content_type": response.content_type,
                "size": path.stat().st_size,
            }
        content: bytes = response.data
        return {
            "content": base64.b64encode(content).decode("ascii"),
            "content_type": response.content_type,
            "size": len(content),
        }

    # ------------------------------------------------------------ records

    async def records(
        self, values: Mapping[str, Any], max_records: int | None
    ) -> AsyncGenerator[Any, None]:
        """Every record of a list action, in order, up to ``max_records``."""
        await self.ready(self.request)
        source = _Source(self, values)
        paginator = self.action.paginator
        limit = max_records
        if paginator is None:
            pages: AsyncGenerator[Page, None] = _one_page(source)
        else:
            pages = paginator.pages(source, max_records=max_records)
            limit = max_records if max_records is not None else paginator.max_records
        output = self.action.output
        validator = self.output_validator()
        count = 0
        async with aclosing(pages) as stream:
            async for page in stream:
                records = page.records
                if limit is not None and count + len(records) > limit:
                    records = records[: limit - count]
                if output.select is not None:
                    records = [output.select.search(record) for record in records]
                if validator is not None:
                    for index, record in enumerate(records, start=count):
                        self.check(validator, record, index)
                count += len(records)
                for record in records:
                    yield record
                if limit is not None and count >= limit:
                    return

    def page_records(self, data: Any) -> list[Any]:
        """The records in one page's body, as the spec's ``records`` expression finds them."""
        expression = self.action.output.records
        assert expression is not None
        found = expression.search(data)
        if found is None:
            return []
        if not isinstance(found, list):
            raise InvalidResponseError(
                f"{self.label}: output.records {expression.source!r} found "
                f"{_json_type(found)} in the response, expected a list",
                connector=self.connection.spec.name,
                action=self.action.name,
            )
        return found

    async def composed(self, values: Mapping[str, Any]) -> Any:
        """Run a composite action's calls; ``select`` reads ``{input, calls}``."""
        from .composite import run_calls  # late: composite builds on this module

        calls = await run_calls(self.connection, self.action, values)
        if self.action.output.select is None:
            return self.output(calls, index=None)
        return self.output({"input": values, "calls": calls}, index=None)

    # ------------------------------------------------------------ output

    def output(self, data: Any, *, index: int | None) -> Any:
        """``data`` reshaped by ``select`` and checked against the output schema."""
        select = self.action.output.select
        result = select.search(data) if select is not None else data
        validator = self.output_validator()
        if validator is not None:
            self.check(validator, result, index)
        return result

    def output_validator(self) -> Any:
        """A validator for the output schema (of each record, for a list), or None."""
        schema = self.action.output.schema
        if schema is None:
            return None
        return Draft202012Validator(self.connection.spec.schema_with_objects(schema))

    def check(self, validator: Any, value: Any, index: int | None) -> None:
        """Raise or warn, as the spec says, when ``value`` does not match the output schema."""
        if validator.is_valid(value):
            return
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        where = f"record {index}: " if index is not None else ""
        detail = "; ".join(_output_problem(error) for error in errors[:5])
        message = f"{self.label}: {where}the output does not match its schema: {detail}"
        if not self.action.output.strict:
            warnings.warn(message, OutputMismatchWarning, stacklevel=4)
            return
        raise InvalidResponseError(
            message, connector=self.connection.spec.name, action=self.action.name
        )

    # ------------------------------------------------------------ dry runs

    async def plan(self, values: Mapping[str, Any], max_records: int | None) -> Plan:
        """The requests this call would begin with, redacted, and its example output."""
        example = self.action.examples[0].output if self.action.examples else None
        if self.action.composite is not None:
            from .composite import plan_calls  # late: composite builds on this module

            planned, note = await plan_calls(self.connection, self.action, values)
            return Plan(self.label, tuple(planned), example, note)
        requests = []
        if self.action.is_list:
            requests.append(self.render("first page", await self.first_page(values, max_records)))
        else:
            context = self.context(values, dry_run=True)
            built = self.connection.build_request(self.request, context)
            requests.append(self.render("request", built))
        if self.action.lookup is not None:
            context = self.context(values, dry_run=True)
            built = self.connection.build_request(self.action.lookup.request, context)
            requests.append(self.render("lookup, only after a lost answer", built))
        return Plan(self.label, tuple(requests), example)

    async def first_page(self, values: Mapping[str, Any], max_records: int | None) -> httpx.Request:
        """The first request the paginator would send, without sending it."""
        source = _Source(self, values, dry_run=True)
        paginator = self.action.paginator
        if paginator is None:
            return source.request({})
        pages = paginator.pages(source, max_records=max_records)
        async with aclosing(pages):
            with suppress(_Planned):
                await anext(pages)
        assert source.planned is not None
        return source.planned

    def render(self, role: str, request: httpx.Request) -> RenderedRequest:
        """``request`` as plain data with every secret replaced by ``***``."""
        redact = self.connection.redactor.redact
        headers = {name: redact(value) for name, value in request.headers.items()}
        return RenderedRequest(role, request.method, redact(str(request.url)), headers,
                               _body(request, redact))  # fmt: skip


class _Source:
    """The ``PageSource`` a paginator reads one call's pages through."""

    def __init__(self, call: _Call, values: Mapping[str, Any], *, dry_run: bool = False) -> None:
        self.call = call
        self.values = values
        self.label = call.label
        self.dry_run = dry_run
        self.planned: httpx.Request | None = None
        self.policy = call.policy(call.request, values, idempotent=call.action.idempotent)

    def request(
        self, page: Mapping[str, Any], where: str = "query", values: Mapping[str, Any] | None = None
    ) -> httpx.Request:
        """The action's request with the paginator's parameters, rendered with ``page``."""
        template = self.call.request
        if values:
            template = with_params(template, where, values)
        context = self.call.context(self.values, page, dry_run=self.dry_run)
        return self.call.connection.build_request(template, context)

    async def fetch(self, request: httpx.Request) -> Page:
        """Send one page request; a dry run records it and stops instead."""
        if self.dry_run:
            self.planned = request
            raise _Planned
        response = await self.call.connection.send(request, policy=self.policy)
        return Page(request, response.data, response.headers, self.call.page_records(response.data))


async def _one_page(source: _Source) -> AsyncGenerator[Page, None]:
    """The single page of a list action that does not paginate."""
    yield await source.fetch(source.request({}))


# ---------------------------------------------------------------- messages


def _accepts_null(schema: Any) -> bool:
    if not isinstance(schema, Mapping) or "type" not in schema:
        return True
    kinds = schema["type"]
    return kinds == "null" or (isinstance(kinds, list) and "null" in kinds)


def _field(path: Iterator[Any] | Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _short(message: str) -> str:
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 3] + "..."


def _input_problem(error: ValidationError, properties: Mapping[str, Any]) -> str:
    """One sentence naming the input field ``error`` is about."""
    where = _field(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, Mapping):
        required: list[str] = list(error.validator_value)  # type: ignore[arg-type]
        missing = [name for name in required if name not in error.instance]
        inside = f" in input {where!r}" if where else ""
        return "; ".join(f"input {name!r} is required{inside}" for name in missing)
    if error.validator == "additionalProperties" and not where:
        unknown = sorted(set(error.instance) - set(properties))  # type: ignore[arg-type]
        return "; ".join(f"unknown input {name!r}{suggest(name, properties)}" for name in unknown)
    if where:
        return f"input {where!r}: {_short(error.message)}"
    return f"input: {_short(error.message)}"


def _output_problem(error: ValidationError) -> str:
    where = _field(error.absolute_path)
    return f"field {where!r}: {_short(error.message)}" if where else _short(error.message)


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _body(request: httpx.Request, redact: Any) -> Any:
    """A request body for people: JSON as data, text as text, anything else described."""
    content = request.read()
    if not content:
        return None
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/"):
        return f"<multipart body, {len(content)} bytes>"
    try:
        text = redact(content.decode("utf-8"))
    except UnicodeDecodeError:
        return f"<{content_type or 'binary'} body, {len(content)} bytes>"
    if content_type.startswith("application/json"):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
    return text
