"""``hookline show``: a connector, or one of its actions or triggers, as a reader needs it.

Schemas are shown resolved: a ``#/objects/NAME`` reference is replaced by what it stands
for, and each value is described in words, with its allowed values, its default and whether
it is required (``one of IN, SO``; ``an integer, at least 1``; ``text, or a list of
them``). An output is shown as its fields, one level deep, rather than as raw JSON Schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hookline.documents.schema_errors import TYPE_WORDS
from hookline.errors import ConfigurationError, suggest
from hookline.recipes.shapes import Shape
from hookline.spec.model import Action, Spec, Trigger
from hookline.spec.reference import output_lead

_WIDTH = 120
_ENUM_SHOWN = 12
_BOUNDS = (
    ("minimum", "at least"),
    ("maximum", "at most"),
    ("exclusiveMinimum", "more than"),
    ("exclusiveMaximum", "less than"),
    ("minLength", "at least {} character"),
    ("maxLength", "at most {} character"),
    ("minItems", "at least {} item"),
    ("maxItems", "at most {} item"),
)


@click.command()
@click.argument("target", metavar="CONNECTOR[.ACTION]")
@click.pass_obj
def show(app: Any, target: str) -> None:
    """Show a connector (connection, actions, triggers) or one action or trigger in full.

    Inputs and fields are listed with their type in words, allowed values, default and
    whether they are required, shared objects resolved.
    """
    name, _, member = target.partition(".")
    spec: Spec = app.catalog.spec(name)
    console = Console(width=_WIDTH)
    if not member:
        for part in _connector(spec):
            console.print(part, highlight=False)
        return
    block = spec.actions.get(member) or spec.triggers.get(member)
    if block is None:
        raise ConfigurationError(
            f"connector {name!r} has no action or trigger {member!r}"
            f"{suggest(member, [*spec.actions, *spec.triggers])}"
        )
    for part in _member(spec, block):
        console.print(part, highlight=False)


def _connector(spec: Spec) -> Iterator[Any]:
    yield f"[bold]{escape(spec.name)}[/bold] — {escape(spec.title)}"
    if spec.description:
        yield escape(spec.description)
    yield "\n[bold]Connection fields[/bold] (* required)"
    fields = spec.connection.fields.values()
    yield _table(
        (
            f.name,
            f.required,
            describe(f.schema, spec.objects) + (", secret" if f.secret else ""),
            _default(f.schema),
            f.description,
        )
        for f in fields
    )
    yield "\n[bold]Actions[/bold]"
    for action in spec.actions.values():
        yield f"  {escape(action.name)}: {escape(action.title)}"
    if spec.triggers:
        yield "\n[bold]Triggers[/bold]"
        for trigger in spec.triggers.values():
            yield f"  {escape(trigger.name)} ({trigger.type}): {escape(trigger.title)}"


def _member(spec: Spec, block: Action | Trigger) -> Iterator[Any]:
    yield f"[bold]{escape(spec.name)}.{escape(block.name)}[/bold] — {escape(block.title)}"
    if block.description:
        yield escape(block.description)
    schema = block.input_schema
    required = set(schema.get("required", []))
    properties: Mapping[str, Any] = schema.get("properties", {})
    if properties:
        yield "\n[bold]Inputs[/bold] (* required)"
        yield _table(
            (
                name,
                name in required,
                describe(prop, spec.objects),
                _default(prop),
                _description(prop, spec.objects),
            )
            for name, prop in properties.items()
        )
    else:
        yield "\n[bold]Inputs[/bold]: none"
    yield from _output(spec, block)
    for example in block.examples:
        yield f"\n[bold]Example[/bold]{': ' + escape(example.title) if example.title else ''}"
        yield "input: " + escape(json.dumps(example.input))
        yield "output: " + escape(json.dumps(example.output, indent=2))


def _output(spec: Spec, block: Action | Trigger) -> Iterator[Any]:
    schema: Any = block.output.schema if isinstance(block, Action) else block.output_schema
    if schema is None:
        return
    resolved = Shape.of(schema, "", spec.objects).schema
    kind = describe(resolved, spec.objects)
    yield f"\n[bold]Output[/bold]: {escape(' '.join(p for p in (output_lead(block), kind) if p))}"
    fields = _fields(resolved)
    if fields:
        yield _table(
            (name, name in required, describe(prop, spec.objects), "", _description(prop, {}))
            for name, prop, required in fields
        )


def _fields(schema: Any) -> list[tuple[str, Any, set[str]]]:
    """The top-level fields of an object schema (its ``allOf`` members merged)."""
    if not isinstance(schema, Mapping):
        return []
    found: dict[str, Any] = {}
    required: set[str] = set(schema.get("required", []))
    for member in [schema, *schema.get("allOf", [])]:
        if isinstance(member, Mapping):
            found.update(member.get("properties", {}))
            required |= set(member.get("required", []))
    return [(name, prop, required) for name, prop in found.items()]


def describe(schema: Any, objects: Mapping[str, Any], depth: int = 0) -> str:
    """A schema in words: its type, allowed values and bounds, references resolved."""
    resolved = Shape.of(schema, "", objects).schema if depth == 0 else schema
    if resolved is True or not isinstance(resolved, Mapping) or depth > 4:
        return "any value"
    if "const" in resolved:
        return f"exactly {_value(resolved['const'])}"
    if "enum" in resolved:
        values = [_value(v) for v in resolved["enum"]]
        shown = values[:_ENUM_SHOWN] + (["..."] if len(values) > _ENUM_SHOWN else [])
        return "one of " + ", ".join(shown)
    branches = [*resolved.get("anyOf", []), *resolved.get("oneOf", [])]
    if branches:
        return _alternatives(branches, objects, depth)
    kind = resolved.get("type")
    kinds = [kind] if isinstance(kind, str) else list(kind or [])
    if not kinds:
        kinds = ["object"] if "properties" in resolved else ["array"] if "items" in resolved else []
    if not kinds:
        return "any value"
    words = [_type(k, resolved, objects, depth) for k in kinds]
    text = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
    return text + _bounds(resolved)


def _alternatives(branches: list[Any], objects: Mapping[str, Any], depth: int) -> str:
    one, *rest = branches
    if (
        len(branches) == 2
        and isinstance(rest[0], Mapping)
        and rest[0].get("type") == "array"
        and rest[0].get("items") == one
    ):
        return f"{describe(one, objects, depth + 1)}; or a list of them"
    return "; or ".join(describe(branch, objects, depth + 1) for branch in branches)


def _type(kind: str, schema: Mapping[str, Any], objects: Mapping[str, Any], depth: int) -> str:
    if kind == "array":
        items = schema.get("items")
        return (
            "a list"
            if items in (None, True)
            else f"a list of {describe(items, objects, depth + 1)}"
        )
    if kind == "object" and schema.get("properties"):
        names = list(schema["properties"])
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        return f"a mapping ({shown})"
    word = TYPE_WORDS.get(kind, kind)
    fmt = schema.get("format")
    return f"{word} ({fmt})" if kind == "string" and isinstance(fmt, str) else word


def _bounds(schema: Mapping[str, Any]) -> str:
    parts = []
    for key, words in _BOUNDS:
        if key in schema:
            bound = schema[key]
            if "{}" in words:
                parts.append(words.format(bound) + ("" if bound == 1 else "s"))
            else:
                parts.append(f"{words} {bound}")
    return f", {', '.join(parts)}" if parts else ""


def _default(schema: Any) -> str:
    if isinstance(schema, Mapping) and "default" in schema:
        return _value(schema["default"])
    return ""


def _description(schema: Any, objects: Mapping[str, Any]) -> str:
    if not isinstance(schema, Mapping):
        return ""
    if isinstance(schema.get("description"), str):
        return str(schema["description"])
    resolved = Shape.of(schema, "", objects).schema
    described = resolved.get("description") if isinstance(resolved, Mapping) else None
    return described if isinstance(described, str) else ""


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _table(rows: Iterator[tuple[str, bool, str, str, str]]) -> Table:
    table = Table("", "type", "default", "description", box=None, pad_edge=False)
    table.columns[0].no_wrap = True
    for name, required, kind, default, description in rows:
        mark = " *" if required else ""
        table.add_row(f"  {escape(name)}{mark}", escape(kind), escape(default), escape(description))
    return table
