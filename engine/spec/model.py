"""Connector specs: the compiled, immutable model of a ``spec: hookline/v1`` file.

Loading is ``yaml.safe_load`` with positions → the spec JSON Schema (with the registered auth
types, paginators and verifiers composed in) → cross-checks → these frozen dataclasses, which
hold compiled expressions only. Nothing at run time re-reads the YAML or compiles text: a bad
spec fails in ``hookline validate``, not in the middle of a recipe.

``hookline.spec.build`` builds a ``Spec`` from a loaded document. ``compile_request`` lives
here, beside the ``Request`` it makes, because the builders of plugins' typed blocks (an auth
type's login, a paginator's extra request) compile request blocks with it too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hookline.documents.compiler import Compiler
from hookline.expr.templates import CompiledValue, Expression, Template, truthy
from hookline.spec.placement import place_inputs


@dataclass(frozen=True, slots=True)
class Field:
    """A connection field: what the user gives for a connection."""

    name: str
    type: str
    secret: bool
    required: bool
    default: Any
    description: str
    schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a multipart body: a text value or a file (a path, or base64 bytes)."""

    value: CompiledValue | None
    file: CompiledValue | None
    base64: bool
    filename: CompiledValue | None
    content_type: CompiledValue | None


@dataclass(frozen=True, slots=True)
class RequestAuth:
    """What a request carries instead of the connection's auth: nothing, or its own values.

    ``auth: none`` in a spec is a ``RequestAuth`` with no headers, cookies or query.
    """

    headers: CompiledValue | None = None
    cookies: CompiledValue | None = None
    query: CompiledValue | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """A request template; rendering it against a context gives one HTTP request.

    ``path_inputs`` names the inputs declared ``format: path``: written alone in the path
    (``{{ input.file }}``), such a value keeps its ``/`` between segments. ``auth``, when set,
    replaces what the connection's auth would apply.
    """

    method: str
    path: Template
    query: CompiledValue | None = None
    headers: CompiledValue | None = None
    json: CompiledValue | None = None
    omit_nulls: bool = False
    form: CompiledValue | None = None
    multipart: Mapping[str, Part] | None = None
    body: CompiledValue | None = None
    body_base64: bool = False
    response: str = "json"
    auth: RequestAuth | None = None
    path_inputs: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """A row of an error table: the responses it matches and the error they become.

    ``statuses`` empty and ``status_class`` None match any status; ``headers`` narrows the
    match to responses carrying those headers (each name, lower-case, with the values it may
    have, or None for any value); ``when`` narrows it with a predicate on the body.
    """

    kind: str
    statuses: frozenset[int] = frozenset()
    status_class: int | None = None
    when: Expression | None = None
    message: Expression | None = None
    field: Expression | None = None
    headers: tuple[tuple[str, frozenset[str] | None], ...] = ()

    def matches_status(self, status: int) -> bool:
        """Whether this rule applies to a response with ``status``."""
        if self.statuses:
            return status in self.statuses
        if self.status_class is not None:
            return status // 100 == self.status_class
        return True

    def matches_headers(self, headers: Mapping[str, str]) -> bool:
        """Whether the response ``headers`` (case-insensitive names) are as the rule wants."""
        for name, values in self.headers:
            value = headers.get(name)
            if value is None or (values is not None and value.strip() not in values):
                return False
        return True


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When a failed request is tried again: attempts, backoff with full jitter, time bound."""

    attempts: int = 4
    backoff: float = 0.5
    max_delay: float = 30.0
    total: float = 120.0
    on_rate_limit: bool = True


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-phase timeouts and the total deadline of one request, in seconds."""

    connect: float = 10.0
    read: float = 60.0
    write: float = 60.0
    pool: float = 10.0
    total: float = 300.0


CONNECTION_SETTINGS: Mapping[str, Any] = {
    "max_wait": {
        "type": "number",
        "minimum": 0,
        "description": "The longest a request waits for the rate budget, in seconds (a pause "
        "the platform asks for included); past it the call fails. Default: the spec's "
        "rate_limit.max_wait, else 600",
    },
    "rate_limit": {
        "type": "object",
        "additionalProperties": False,
        "required": ["requests", "per"],
        "description": "The budget this credential really has, where it differs from the "
        "spec's rate_limit (another plan, a test sandbox with a short window)",
        "properties": {
            "requests": {"type": "integer", "minimum": 1, "description": "Requests per window"},
            "per": {"type": "number", "exclusiveMinimum": 0, "description": "The window, in s"},
        },
    },
}
"""Values every connection may give besides its spec's fields: how its budget is held."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A request budget; connections whose rendered ``key`` is equal share one budget."""

    requests: int
    per: float
    key: CompiledValue | None = None
    max_wait: float | None = None


@dataclass(frozen=True, slots=True)
class Output:
    """How a response becomes output: ``records`` makes a list action, ``select`` reshapes."""

    select: Expression | None = None
    records: Expression | None = None
    schema: Mapping[str, Any] | bool | None = None
    strict: bool = True


@dataclass(frozen=True, slots=True)
class Lookup:
    """A request that finds what a create would have made, making the create safe to retry.

    ``select`` makes the action's output from the matching record (it reads ``record`` and
    ``input``, as ``match`` does); without one the record is the output as found.
    """

    request: Request
    match: Expression
    records: Expression | None = None
    select: Expression | None = None


@dataclass(frozen=True, slots=True)
class Form:
    """One conditional form of an action's request: sent when ``when`` holds."""

    when: Expression
    request: Request


@dataclass(frozen=True, slots=True)
class Example:
    """An example input and the output (shape) it gives."""

    title: str
    input: Mapping[str, Any]
    output: Any


@dataclass(frozen=True, slots=True)
class ActionCall:
    """A call of another action of the same spec; ``input`` renders to that action's input.

    ``condition``, when set and not true, skips the call (its output is null).
    """

    id: str
    action: str
    input: CompiledValue | None = None
    condition: CompiledValue | None = None


@dataclass(frozen=True, slots=True)
class ForEachCall:
    """A loop: ``calls`` run once per item of the list ``items`` renders to, in order.

    The item is named ``item`` in their templates; the output is one entry per item holding
    the item and the nested calls' outputs by id.
    """

    id: str
    items: CompiledValue
    item: str
    calls: tuple[Call, ...]
    condition: CompiledValue | None = None


Call = ActionCall | ForEachCall


@dataclass(frozen=True, slots=True)
class Composite:
    """How a composite action runs: calls to other actions of its spec, one after another.

    Its output is data selected from ``{input, calls}``, never a download.
    """

    calls: tuple[Call, ...]


@dataclass(frozen=True, slots=True)
class Action:
    """One operation on a platform, compiled.

    Exactly one of ``request`` and ``calls`` is set: an action sends one HTTP ``Request``
    (read page after page by ``paginator`` for a list), or it is a ``Composite`` of calls to
    other actions of the spec (the ``calls:`` key in place of ``request:``). An action whose
    request is written as a list of forms has the conditional ones in ``forms``, tried in
    order, and the last, unconditional one in ``request``; ``request_for`` picks.
    """

    name: str
    title: str
    description: str
    input_schema: Mapping[str, Any]
    request: Request | None
    calls: Composite | None
    output: Output
    errors: tuple[ErrorRule, ...]
    retry: RetryPolicy
    idempotent: bool
    paginator: Any = None
    max_pages: int | None = None
    lookup: Lookup | None = None
    examples: tuple[Example, ...] = ()
    forms: tuple[Form, ...] = ()

    def __post_init__(self) -> None:
        if (self.request is None) == (self.calls is None):
            raise ValueError(f"action {self.name!r} needs exactly one of a request and calls")

    def request_for(self, context: Mapping[str, Any]) -> Request | None:
        """The request to send for ``context`` (``input``, ``connection``): the first form
        whose ``when`` holds (JMESPath truth), else ``request``."""
        for form in self.forms:
            if truthy(form.when.search(context)):
                return form.request
        return self.request

    @property
    def is_list(self) -> bool:
        """A list action yields records one by one, page after page."""
        return self.output.records is not None

    @property
    def is_download(self) -> bool:
        """Whether the output is a file (``response: bytes``) rather than data."""
        return self.request is not None and self.request.response == "bytes"

    @property
    def composite(self) -> Composite | None:
        """The calls of a composite action, as ``calls``; None for one that sends a request."""
        return self.calls


@dataclass(frozen=True, slots=True)
class PollTrigger:
    """A trigger that polls a request; each record not seen before is an event."""

    name: str
    title: str
    description: str
    input_schema: Mapping[str, Any]
    request: Request
    records: Expression
    id: Expression
    errors: tuple[ErrorRule, ...]
    retry: RetryPolicy
    paginator: Any = None
    max_pages: int | None = None
    cursor_value: Expression | None = None
    cursor_initial: CompiledValue | None = None
    select: Expression | None = None
    output_schema: Mapping[str, Any] | bool | None = None
    examples: tuple[Example, ...] = ()
    type: str = "poll"


@dataclass(frozen=True, slots=True)
class WebhookTrigger:
    """A trigger fed by the platform's POSTs; ``verifier`` checks each request."""

    name: str
    title: str
    description: str
    input_schema: Mapping[str, Any]
    id: Expression
    verifier: Any = None
    filter: Expression | None = None
    select: Expression | None = None
    output_schema: Mapping[str, Any] | bool | None = None
    examples: tuple[Example, ...] = ()
    type: str = "webhook"


Trigger = PollTrigger | WebhookTrigger


@dataclass(frozen=True, slots=True)
class ConnectionSpec:
    """What a connection needs (fields) and how its requests are made."""

    fields: Mapping[str, Field]
    base_url: CompiledValue
    auth: tuple[Any, ...] = ()
    headers: CompiledValue | None = None
    rate_limit: RateLimit | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_response_bytes: int = 64 * 1024 * 1024
    follow_redirects: bool = False
    test_action: str | None = None
    test_input: CompiledValue = field(default_factory=lambda: CompiledValue({}))

    @property
    def secret_fields(self) -> tuple[str, ...]:
        """Names of the fields whose values are redacted everywhere."""
        return tuple(name for name, f in self.fields.items() if f.secret)

    def with_defaults(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` with the default of each field they do not give."""
        defaults = {name: f.default for name, f in self.fields.items() if f.default is not None}
        return {**defaults, **values}

    def values_schema(self) -> dict[str, Any]:
        """The JSON Schema a connection's values must satisfy (connections files, recipes)."""
        properties: dict[str, Any] = {
            name: {k: v for k, v in f.schema.items() if k not in ("secret", "default")}
            for name, f in self.fields.items()
        }
        properties["allow_insecure_http"] = {
            "type": "boolean",
            "description": "Allow secrets over plain http to a host that is not loopback",
        }
        for name, schema in CONNECTION_SETTINGS.items():
            properties.setdefault(name, dict(schema))
        return {
            "type": "object",
            "properties": properties,
            "required": [name for name, f in self.fields.items() if f.required],
            "additionalProperties": False,
        }


@dataclass(frozen=True, slots=True)
class Spec:
    """A compiled connector spec."""

    name: str
    title: str
    description: str
    connection: ConnectionSpec
    actions: Mapping[str, Action]
    triggers: Mapping[str, Trigger]
    objects: Mapping[str, Any]
    file: str
    docs_url: str | None = None

    def schema_with_objects(self, schema: Mapping[str, Any] | bool) -> Mapping[str, Any] | bool:
        """``schema`` made self-contained: its ``#/objects/NAME`` references resolve."""
        if isinstance(schema, bool):
            return schema
        return {**schema, "objects": dict(self.objects)}


# ---------------------------------------------------------------- compiling requests


def compile_request(
    c: Compiler,
    *,
    path_inputs: frozenset[str] = frozenset(),
    form: bool = False,
    inputs: Sequence[str] | None = None,
) -> Request:
    """Compile the request block at ``c`` (actions, triggers, lookups, auth types' requests).

    ``path_inputs`` are the inputs of the action whose values are paths (``format: path``);
    ``form`` says the block is one of an action's forms of its request, where ``when`` may
    stand (the caller compiles it); ``inputs`` names the inputs of its action or trigger, in
    order, which its ``inputs`` block may send by name (``hookline.spec.placement``).
    """
    block = c.get()
    path = c.template("path")
    values = {key: c.value(key) for key in ("query", "json", "form")}
    if "inputs" in block:
        to = block["inputs"]["to"]
        values[to] = place_inputs(c, inputs, path, values[to])
    parts = block.get("multipart")
    if "when" in block and not form:
        c.problem(
            ["when"],
            "`when` picks one of several forms of a request; it applies only to an action's "
            "request written as a list of forms",
            key=True,
        )
    return Request(
        method=block["method"],
        path=path,
        query=values["query"],
        headers=c.value("headers"),
        json=values["json"],
        omit_nulls=block.get("omit_nulls", False),
        form=values["form"],
        multipart=None if parts is None else {n: _part(c.at("multipart", n)) for n in parts},
        body=c.value("body"),
        body_base64=block.get("body_base64", False),
        response=block.get("response", "json"),
        auth=_request_auth(c),
        path_inputs=path_inputs,
    )


def _request_auth(c: Compiler) -> RequestAuth | None:
    """The request's own ``auth``: ``none``, or its own headers, cookies and query."""
    block = c.get("auth")
    if block is None:
        return None
    if block == "none":
        return RequestAuth()
    return RequestAuth(
        headers=c.value("auth", "headers"),
        cookies=c.value("auth", "cookies"),
        query=c.value("auth", "query"),
    )


def _part(c: Compiler) -> Part:
    """A multipart part: a template written alone is its text value."""
    block = c.get()
    if not isinstance(block, dict):
        return Part(c.value(), None, False, None, None)
    return Part(
        value=c.value("value"),
        file=c.value("file"),
        base64=bool(block.get("base64", False)),
        filename=c.value("filename"),
        content_type=c.value("content_type"),
    )
