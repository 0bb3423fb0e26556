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
from hookline.expr.templates import CompiledValue, Expression
from hookline.plugins.protocols import AuthType, Paginator, WebhookVerifier
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
    Form,
    Lookup,
    Output,
    PollTrigger,
    RateLimit,
    Request,
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

    auth_types: Mapping[str, type[AuthType]]
    paginators: Mapping[str, type[Paginator]]
    verifiers: Mapping[str, type[WebhookVerifier]]


@dataclass(frozen=True, slots=True)
class _Shared:
    """What every action and trigger of one spec starts from: the defaults and the builders.

    ``records`` is the default of list actions (``output: {list: true}``) and poll triggers;
    ``select`` that of the other actions that send a request and read JSON, never of a
    composite one.
    """

    errors: tuple[ErrorRule, ...]
    retry: RetryPolicy
    paginate: bool
    builders: Builders
    records: Expression | None = None
    select: Expression | None = None


def build_spec(compiler: Compiler, builders: Builders) -> Spec:
    """Build a Spec from a schema-valid document; problems are recorded on ``compiler``."""
    data = compiler.document.data
    defaults = data.get("defaults", {})
    retry = _retry(defaults.get("retry"), RetryPolicy())
    connection = _connection(compiler.at("connection"), builders, retry)
    shared = _Shared(
        errors=_error_rules(compiler.at("defaults", "errors")),
        retry=retry,
        paginate="paginate" in defaults,
        builders=builders,
        records=compiler.expression("defaults", "records"),
        select=compiler.expression("defaults", "select"),
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


def _connection(c: Compiler, builders: Builders, retry: RetryPolicy) -> ConnectionSpec:
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
        rate_limit=RateLimit(
            rate["requests"],
            float(rate["per"]),
            c.value("rate_limit", "key"),
            float(rate["max_wait"]) if "max_wait" in rate else None,
        )
        if rate
        else None,
        timeouts=Timeouts(**{k: float(v) for k, v in block.get("timeouts", {}).items()}),
        retry=retry,
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
        headers = tuple(
            (name.lower(), None if value is True else frozenset(_texts(value)))
            for name, value in rule.get("headers", {}).items()
        )
        built.append(
            ErrorRule(
                kind=rule["kind"],
                statuses=statuses,
                status_class=status_class,
                when=c.expression(i, "when"),
                message=c.expression(i, "message"),
                field=c.expression(i, "field"),
                headers=headers,
            )
        )
    return tuple(built)


def _texts(value: Any) -> list[str]:
    """A header value or list of them, as the text a response would carry."""
    values = value if isinstance(value, list) else [value]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in values]


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


def _paginate(c: Compiler, is_list: bool, shared: _Shared) -> Compiler | None:
    """The block's own ``paginate``; a list without one takes the spec's default, if any.

    ``paginate: false`` is no paginator at all: one page.
    """
    if c.get("paginate") is False:
        return None
    if c.get("paginate") is not None:
        return c.at("paginate")
    if is_list and shared.paginate:
        return c.root("defaults", "paginate")
    return None


def _paginator(c: Compiler, is_list: bool, shared: _Shared) -> Any:
    """The paginator built from the block's ``paginate`` (or the spec's default)."""
    block = _paginate(c, is_list, shared)
    return None if block is None else _typed(block, shared.builders.paginators)


def _max_pages(c: Compiler, is_list: bool, shared: _Shared) -> int | None:
    """The ``max_pages`` of the block's ``paginate`` (or the spec's default), if it sets one."""
    block = _paginate(c, is_list, shared)
    return None if block is None else block.get("max_pages")


def _action(c: Compiler, name: str, shared: _Shared) -> Action:
    block = c.get()
    paths = _path_inputs(block)
    inputs = tuple(block.get("input", {}))
    request: Request | None = None
    forms: tuple[Form, ...] = ()
    if "calls" not in block:
        request, forms = _forms(c.at("request"), paths, inputs)
    calls = Composite(_calls(c.at("calls"))) if request is None else None
    methods = {form.request.method for form in forms} | {request.method if request else ""}
    idempotent = block.get("idempotent", methods <= IDEMPOTENT_METHODS)
    output = block.get("output", {})
    is_list = "records" in output or bool(output.get("list"))
    records = c.expression("output", "records")
    if is_list and records is None:
        records = shared.records
        if records is None:
            c.problem(
                ["output", "list"],
                "a list action needs records: give output.records, or "
                "defaults.records for every list action",
            )
    select = c.expression("output", "select")
    if select is None and not is_list and request is not None and request.response == "json":
        select = shared.select
    lookup = None
    if "lookup" in block:
        lookup = Lookup(
            request=compile_request(c.at("lookup", "request"), path_inputs=paths, inputs=inputs),
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
            select=select,
            records=records,
            schema=output.get("schema"),
            strict=output.get("strict", True),
        ),
        errors=_error_rules(c.at("errors")) + shared.errors,
        retry=_retry(block.get("retry"), shared.retry),
        idempotent=idempotent,
        paginator=_paginator(c, is_list, shared),
        max_pages=_max_pages(c, is_list, shared),
        lookup=lookup,
        examples=_examples(block),
        forms=forms,
    )


def _path_inputs(block: Mapping[str, Any]) -> frozenset[str]:
    """The inputs declared ``format: path``, whose ``/`` a request path keeps."""
    inputs = block.get("input", {})
    return frozenset(
        name
        for name, schema in inputs.items()
        if isinstance(schema, Mapping) and schema.get("format") == "path"
    )


def _forms(
    c: Compiler, paths: frozenset[str], inputs: tuple[str, ...]
) -> tuple[Request, tuple[Form, ...]]:
    """An action's request: one block, or a list of forms (each but the last with ``when``).

    A list whose last form has a ``when``, or whose earlier form lacks one (the forms after
    it could never be sent), or whose forms read their answers differently, is a problem.
    """
    block = c.get()
    if isinstance(block, Mapping):
        return compile_request(c, path_inputs=paths, inputs=inputs), ()
    last = len(block) - 1
    forms: list[Form] = []
    for index, written in enumerate(block):
        at = c.at(index)
        request = compile_request(at, path_inputs=paths, form=True, inputs=inputs)
        when = c.expression(index, "when")
        if index == last:
            if when is not None:
                c.problem(
                    [index, "when"],
                    "the last form of a request is sent when no other form's `when` holds; "
                    "it has no `when` of its own",
                    key=True,
                )
            return request, tuple(forms)
        if when is None:
            c.problem(
                [index],
                f"only the last form of a request may go without `when`: form {index + 1} "
                "would always be sent, and the forms after it never",
            )
            continue
        if written.get("response", "json") != block[last].get("response", "json"):
            c.problem(
                [index, "response"],
                "every form of a request reads its answer the same way (`response`); the "
                "action's output does not depend on which form was sent",
            )
        forms.append(Form(when, request))
    raise AssertionError("unreachable: the schema asks for at least two forms")


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
        request=compile_request(
            c.at("request"), path_inputs=_path_inputs(block), inputs=tuple(block.get("input", {}))
        ),
        records=_trigger_records(c, shared),
        id=_present(c.expression("id")),
        errors=_error_rules(c.at("errors")) + shared.errors,
        retry=shared.retry,
        paginator=_paginator(c, True, shared),
        max_pages=_max_pages(c, True, shared),
        cursor_value=c.expression("cursor", "value"),
        cursor_initial=c.value("cursor", "initial"),
        **common,
    )


def _trigger_records(c: Compiler, shared: _Shared) -> Expression:
    """A poll trigger's ``records``, else ``defaults.records``; a problem when neither is."""
    records = c.expression("records")
    if records is None:
        records = shared.records
    if records is None:
        c.problem(
            ["type"],
            "a poll trigger needs records: give its records, or defaults.records for every "
            "list action and poll trigger",
        )
        return c.expressions.compile_expression("`null`")  # stands in so the checks go on
    return records


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
