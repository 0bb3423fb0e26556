"""Building a ``Spec`` from a loaded spec document: one small builder per block.

The document has passed the spec JSON Schema, so a builder reads it without re-checking
shapes; what it does check it records on the ``Compiler`` as a located problem, so one
``hookline validate`` reports every bad expression. Typed blocks (auth, ``paginate``,
``verify``) are built by the builder their ``type`` names, from ``Builders``, which the
``register_*`` hooks fill.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from hookline.documents.compiler import Compiler
from hookline.expr.templates import CompiledValue
from hookline.spec.model import (
    Action,
    ActionCall,
    Call,
    Composite,
    ConnectionSpec,
    ErrorRule,
    Example,
    Field,
    ForEachCall,
    Lookup,
    Output,
    PollTrigger,
    RateLimit,
    RetryPolicy,
    Spec,
    Timeouts,
    Trigger,
    WebhookTrigger,
    compile_request,
)

IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE"})
"""The methods whose requests may be repeated safely: an action using one is idempotent."""

_T = TypeVar("_T")


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
        test_input=c.value("test", "input") or CompiledValue({}),
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
    request = None if "calls" in block else compile_request(c.at("request"))
    calls = Composite(_calls(c.at("calls"))) if request is None else None
    idempotent = block.get(
        "idempotent", request is not None and request.method in IDEMPOTENT_METHODS
    )
    output = block.get("output", {})
    lookup = None
    if "lookup" in block:
        lookup = Lookup(
            request=compile_request(c.at("lookup", "request")),
            match=c.expression("lookup", "match") or c.expressions.compile_expression("`true`"),
            records=c.expression("lookup", "records"),
            select=c.expression("lookup", "select"),
        )
    return Action(
        name=name,
        title=block["title"],
        description=block.get("description", ""),
        input_schema=_input_schema(block),
        request=request,
        calls=calls,
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
