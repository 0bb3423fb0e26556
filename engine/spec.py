"""Connector specs: the compiled, immutable model of a ``spec: hookline/v1`` file.

Loading is ``yaml.safe_load`` with positions → the spec JSON Schema (with the registered auth
types, paginators and verifiers composed in) → cross-checks → these frozen dataclasses, which
hold compiled expressions only. Nothing at run time re-reads the YAML or compiles text: a bad
spec fails in ``hookline validate``, not in the middle of a recipe.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, TypeVar

from .compiler import Compiler
from .expressions import CompiledValue, Expression, Template

IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE"})

_T = TypeVar("_T")


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
class Request:
    """A request template; rendering it against a context gives one HTTP request."""

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


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """A row of an error table: the responses it matches and the error they become.

    ``statuses`` empty and ``status_class`` None match any status; ``when`` narrows the match
    with a predicate on the body.
    """

    kind: str
    statuses: frozenset[int] = frozenset()
    status_class: int | None = None
    when: Expression | None = None
    message: Expression | None = None
    field: Expression | None = None

    def matches_status(self, status: int) -> bool:
        """Whether this rule applies to a response with ``status``."""
        if self.statuses:
            return status in self.statuses
        if self.status_class is not None:
            return status // 100 == self.status_class
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


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A request budget; connections whose rendered ``key`` is equal share one budget."""

    requests: int
    per: float
    key: CompiledValue | None = None


@dataclass(frozen=True, slots=True)
class Output:
    """How a response becomes output: ``records`` makes a list action, ``select`` reshapes."""

    select: Expression | None = None
    records: Expression | None = None
    schema: Mapping[str, Any] | bool | None = None
    strict: bool = True


@dataclass(frozen=True, slots=True)
class Lookup:
    """A request that finds what a create would have made, making the create safe to retry."""

    request: Request
    match: Expression
    records: Expression | None = None


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

    It stands where a request stands in an ``Action``. ``response`` answers what a request's
    does, for code that asks how any action's output is read: a composite's output is data
    selected from ``{input, calls}``, never a download.
    """

    calls: tuple[Call, ...]
    response: ClassVar[str] = "json"


@dataclass(frozen=True, slots=True)
class Action:
    """One operation on a platform, compiled.

    ``request`` is how the action runs: one HTTP ``Request`` (read page after page by
    ``paginator`` for a list), or a ``Composite`` of calls to other actions of the spec.
    """

    name: str
    title: str
    description: str
    input_schema: Mapping[str, Any]
    request: Request | Composite
    output: Output
    errors: tuple[ErrorRule, ...]
    retry: RetryPolicy
    idempotent: bool
    paginator: Any = None
    lookup: Lookup | None = None
    examples: tuple[Example, ...] = ()

    @property
    def is_list(self) -> bool:
        """A list action yields records one by one, page after page."""
        return self.output.records is not None

    @property
    def composite(self) -> Composite | None:
        """The calls of a composite action; None for an action that sends a request."""
        return self.request if isinstance(self.request, Composite) else None


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
    test_input: Mapping[str, Any] = field(default_factory=dict)

    @property
    def secret_fields(self) -> tuple[str, ...]:
        """Names of the fields whose values are redacted everywhere."""
        return tuple(name for name, f in self.fields.items() if f.secret)

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


# ------------------------------------------------------------------------------- building


@dataclass(frozen=True, slots=True)
class Builders:
    """The registered builders a spec's typed blocks are made with, by type name."""

    auth_types: Mapping[str, Any]
    paginators: Mapping[str, Any]
    verifiers: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class _Shared:
    """What every action and trigger of one spec starts from: the defaults and the builders."""

    errors: tuple[ErrorRule, ...]
    retry: RetryPolicy
    paginate: bool
    builders: Builders


def build_spec(compiler: Compiler, builders: Builders) -> Spec:
    """Build a Spec from a schema-valid document; problems are recorded on ``compiler``."""
    data = compiler.document.data
    defaults = data.get("defaults", {})
    connection = _connection(compiler.at("connection"), builders)
    shared = _Shared(
        errors=_error_rules(compiler.at("defaults", "errors")),
        retry=_retry(defaults.get("retry"), connection.retry),
        paginate="paginate" in defaults,
        builders=builders,
    )
    return Spec(
        name=data["name"],
        title=data["title"],
        description=data.get("description", ""),
        connection=connection,
        actions={
            name: _action(compiler.at("actions", name), name, shared)
            for name in data.get("actions", {})
        },
        triggers={
            name: _trigger(compiler.at("triggers", name), name, shared)
            for name in data.get("triggers", {})
        },
        objects=data.get("objects", {}),
        file=compiler.document.file,
        docs_url=data.get("docs_url"),
    )


def compile_request(c: Compiler) -> Request:
    """Compile the request block at ``c`` (actions, triggers, lookups, auth types' requests)."""
    block = c.get()
    parts = block.get("multipart")
    return Request(
        method=block["method"],
        path=c.template("path"),
        query=c.value("query"),
        headers=c.value("headers"),
        json=c.value("json"),
        omit_nulls=block.get("omit_nulls", False),
        form=c.value("form"),
        multipart=None if parts is None else {n: _part(c.at("multipart", n)) for n in parts},
        body=c.value("body"),
        body_base64=block.get("body_base64", False),
        response=block.get("response", "json"),
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


def _connection(c: Compiler, builders: Builders) -> ConnectionSpec:
    block = c.get()
    required = set(block.get("required", []))
    fields = {
        name: Field(
            name=name,
            type=schema["type"],
            secret=bool(schema.get("secret", False)),
            required=name in required,
            default=schema.get("default"),
            description=schema.get("description", ""),
            schema=schema,
        )
        for name, schema in block["fields"].items()
    }
    auth_blocks = block.get("auth", [])
    if isinstance(auth_blocks, dict):
        auths = (_typed(c.at("auth"), builders.auth_types),)
    else:
        auths = tuple(_typed(c.at("auth", i), builders.auth_types) for i in range(len(auth_blocks)))
    rate = block.get("rate_limit")
    test = block.get("test", {})
    return ConnectionSpec(
        fields=fields,
        base_url=_present(c.value("base_url")),
        auth=auths,
        headers=c.value("headers"),
        rate_limit=RateLimit(rate["requests"], float(rate["per"]), c.value("rate_limit", "key"))
        if rate
        else None,
        timeouts=Timeouts(**{k: float(v) for k, v in block.get("timeouts", {}).items()}),
        retry=_retry(block.get("retry"), RetryPolicy()),
        max_response_bytes=block.get("max_response_bytes", 64 * 1024 * 1024),
        follow_redirects=block.get("follow_redirects", False),
        test_action=test.get("action"),
        test_input=test.get("input", {}),
    )


def _typed(c: Compiler, table: Mapping[str, Any]) -> Any:
    """The block at ``c`` built by the registered builder its ``type`` names."""
    return table[c.get("type")].from_spec(c)


def _present(value: _T | None) -> _T:
    assert value is not None  # the schema requires it
    return value


def _retry(block: Mapping[str, Any] | None, base: RetryPolicy) -> RetryPolicy:
    """``base`` with the settings ``block`` gives."""
    return replace(base, **block) if block else base


def _error_rules(c: Compiler) -> tuple[ErrorRule, ...]:
    """The error table at ``c`` (a list of rules, or absent)."""
    built = []
    for i, rule in enumerate(c.get(default=[])):
        status = rule.get("status")
        statuses: frozenset[int] = frozenset()
        status_class = None
        if isinstance(status, int):
            statuses = frozenset({status})
        elif isinstance(status, list):
            statuses = frozenset(status)
        elif isinstance(status, str):
            status_class = int(status[0])
        built.append(
            ErrorRule(
                kind=rule["kind"],
                statuses=statuses,
                status_class=status_class,
                when=c.expression(i, "when"),
                message=c.expression(i, "message"),
                field=c.expression(i, "field"),
            )
        )
    return tuple(built)


def _input_schema(block: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": dict(block.get("input", {})),
        "required": list(block.get("required", [])),
        "additionalProperties": False,
    }


def _examples(block: Mapping[str, Any]) -> tuple[Example, ...]:
    return tuple(
        Example(e.get("title", ""), e.get("input", {}), e.get("output"))
        for e in block.get("examples", [])
    )


def _paginator(c: Compiler, is_list: bool, shared: _Shared) -> Any:
    """The block's own paginator; a list without one takes the spec's default, if any."""
    paginators = shared.builders.paginators
    if c.get("paginate") is not None:
        return _typed(c.at("paginate"), paginators)
    if is_list and shared.paginate:
        return _typed(c.root("defaults", "paginate"), paginators)
    return None


def _action(c: Compiler, name: str, shared: _Shared) -> Action:
    block = c.get()
    how: Request | Composite
    if "calls" in block:
        how = Composite(_calls(c.at("calls")))
        idempotent = block.get("idempotent", False)
    else:
        how = compile_request(c.at("request"))
        idempotent = block.get("idempotent", how.method in IDEMPOTENT_METHODS)
    output = block.get("output", {})
    lookup = None
    if "lookup" in block:
        lookup = Lookup(
            request=compile_request(c.at("lookup", "request")),
            match=c.expression("lookup", "match") or c.expressions.compile_expression("`true`"),
            records=c.expression("lookup", "records"),
        )
    return Action(
        name=name,
        title=block["title"],
        description=block.get("description", ""),
        input_schema=_input_schema(block),
        request=how,
        output=Output(
            select=c.expression("output", "select"),
            records=c.expression("output", "records"),
            schema=output.get("schema"),
            strict=output.get("strict", True),
        ),
        errors=_error_rules(c.at("errors")) + shared.errors,
        retry=_retry(block.get("retry"), shared.retry),
        idempotent=idempotent,
        paginator=_paginator(c, "records" in output, shared),
        lookup=lookup,
        examples=_examples(block),
    )


def _calls(c: Compiler) -> tuple[Call, ...]:
    """The list of calls at ``c`` (a composite's, or a loop's)."""
    return tuple(_call(c.at(i)) for i in range(len(c.get(default=[]))))


def _call(c: Compiler) -> Call:
    block = c.get()
    if "for_each" in block:
        return ForEachCall(
            id=block["id"],
            items=_present(c.value("for_each")),
            item=block["as"],
            calls=_calls(c.at("calls")),
            condition=c.value("if"),
        )
    return ActionCall(
        id=block["id"],
        action=block["action"],
        input=c.value("with"),
        condition=c.value("if"),
    )


def _trigger(c: Compiler, name: str, shared: _Shared) -> Trigger:
    block = c.get()
    common = {
        "name": name,
        "title": block["title"],
        "description": block.get("description", ""),
        "input_schema": _input_schema(block),
        "select": c.expression("select"),
        "output_schema": block.get("output"),
        "examples": _examples(block),
    }
    if block["type"] == "webhook":
        verifiers = shared.builders.verifiers
        return WebhookTrigger(
            id=_present(c.expression("id")),
            verifier=_typed(c.at("verify"), verifiers) if "verify" in block else None,
            filter=c.expression("filter"),
            **common,
        )
    return PollTrigger(
        request=compile_request(c.at("request")),
        records=_present(c.expression("records")),
        id=_present(c.expression("id")),
        errors=_error_rules(c.at("errors")) + shared.errors,
        retry=shared.retry,
        paginator=_paginator(c, True, shared),
        cursor_value=c.expression("cursor", "value"),
        cursor_initial=c.value("cursor", "initial"),
        **common,
    )


def iter_schemas(data: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every JSON Schema in a spec document with its key path: objects, inputs, outputs."""
    for name, schema in data.get("objects", {}).items():
        yield ("objects", name), schema
    for kind in ("actions", "triggers"):
        for name, block in data.get(kind, {}).items():
            for field_name, schema in block.get("input", {}).items():
                yield (kind, name, "input", field_name), schema
            output = block.get("output")
            if kind == "actions" and isinstance(output, dict) and "schema" in output:
                yield (kind, name, "output", "schema"), output["schema"]
            elif kind == "triggers" and output is not None:
                yield (kind, name, "output"), output
