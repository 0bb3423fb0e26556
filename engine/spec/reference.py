"""Reference documentation generated from the JSON Schemas, so the docs cannot drift.

``hookline docs`` writes docs/spec-reference.md and docs/recipe-reference.md from the
composed spec schema (built-in and plugin auth types, paginators and verifiers included) and
the recipe schema; a test fails when the committed files differ from what this produces.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from typing import Any

from hookline.spec.catalog import OBJECT_REF, Catalog, base_schema
from hookline.spec.model import Action, Spec, Trigger

REF = "#/$defs/"

_SLUG_DROP = re.compile(r"[^\w\- ]")


def slug(title: str) -> str:
    """The anchor a Markdown renderer (GitHub's) gives a heading with ``title``."""
    return _SLUG_DROP.sub("", title.strip().lower()).replace(" ", "-")


def _inline(schema: Any) -> bool:
    """An object written in place (not a ``$ref``) whose keys deserve a section of their own."""
    return isinstance(schema, Mapping) and bool(schema.get("properties")) and "$ref" not in schema


def _branches(schema: Mapping[str, Any]) -> list[Any]:
    return [b for union in ("oneOf", "anyOf") for b in schema.get(union, [])]


def _nested(schema: Any) -> bool:
    """Whether ``schema``, or a branch of it, is an inline object with a section."""
    if not isinstance(schema, Mapping):
        return False
    return _inline(schema) or any(_inline(b) for b in _branches(schema))


def _type_of(schema: Mapping[str, Any], anchor: str | None = None) -> str:
    """The type of ``schema`` for a table cell; inline objects link to ``anchor``."""
    if "$ref" in schema:
        return _link(schema["$ref"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    for union in ("oneOf", "anyOf"):
        if union in schema:
            return " or ".join(_type_of(branch, anchor) for branch in schema[union])
    kind = schema.get("type")
    if _inline(schema) and anchor:
        return f"[object](#{anchor})"
    if kind == "array" and isinstance(schema.get("items"), Mapping):
        return f"list of {_type_of(schema['items'], anchor)}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), Mapping):
        return f"mapping of names to {_type_of(schema['additionalProperties'], anchor)}"
    if kind == "object" and not schema.get("properties"):
        return "mapping of names to any value"
    if isinstance(kind, list):
        return " or ".join(kind)
    return str(kind) if kind else "any value"


def _link(ref: str) -> str:
    if ref.startswith(OBJECT_REF):
        name = ref.removeprefix(OBJECT_REF)
        return f"[{name}](#{slug(f'Object {name}')})"
    name = ref.removeprefix(REF)
    return f"[{name}](#{slug(name)})"


def _child(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _table(schema: Mapping[str, Any], prefix: str | None) -> Iterator[str]:
    """The key table; with a ``prefix``, nested objects link to their sections below it."""
    properties = schema.get("properties", {})
    if not properties:
        return
    required = set(schema.get("required", []))
    yield "| key | type | required | description |"
    yield "|---|---|---|---|"
    for key, prop in properties.items():
        description = _with_default(prop.get("description", "").replace("|", "\\|"), prop)
        mark = "yes" if key in required else ""
        anchor = slug(_child(prefix, key)) if prefix is not None and _nested(prop) else None
        yield f"| `{key}` | {_type_of(prop, anchor)} | {mark} | {description} |"


def _with_default(description: str, prop: Mapping[str, Any]) -> str:
    """The description, followed by the property's default where it has one."""
    if "default" in prop:
        description += f" (default: `{json.dumps(prop['default'])}`)"
    return description


def _section(
    title: str, schema: Mapping[str, Any], level: int = 2, prefix: str | None = None
) -> Iterator[str]:
    """A heading, the description, the key table; then a section per nested object.

    Nested sections are titled by their dotted path below ``prefix`` (default: the title),
    which is also what the key table links to.
    """
    prefix = title if prefix is None else prefix
    yield f"{'#' * min(level, 6)} {title}"
    yield ""
    if schema.get("description"):
        yield schema["description"].rstrip(".") + "."
        yield ""
    rows = list(_table(schema, prefix))
    if rows:
        yield from rows
        yield ""
    elif not _branches(schema):
        yield f"Type: {_type_of(schema)}" + (
            f", matching `{schema['pattern']}`." if "pattern" in schema else "."
        )
        yield ""
    for branch in _branches(schema):
        if _inline(branch):
            name = branch.get("description", "variant").split(":")[0].rstrip(".")
            yield from _section(f"{title}: {name}", branch, level + 1, prefix)
    for key, prop in schema.get("properties", {}).items():
        if _nested(prop):
            yield from _section(_child(prefix, key), prop, level + 1)


def _typed_sections(title: str, kind: str, table: Mapping[str, Any]) -> Iterator[str]:
    yield f"## {title}"
    yield ""
    for name, builder in sorted(table.items()):
        yield from _section(f"`{name}` {kind}", builder.schema, level=3, prefix=name)


def render_schema(schema: Mapping[str, Any], *, intro: str) -> str:
    """Markdown for a schema: the top level and its objects, then every definition, in order."""
    lines = [f"# {schema['title']}", "", intro, ""]
    lines += _section("Top level", schema, prefix="")
    for name, definition in schema.get("$defs", {}).items():
        if isinstance(definition, Mapping):
            lines += _section(name, definition)
    return "\n".join(lines).rstrip() + "\n"


def spec_reference(catalog: Catalog) -> str:
    """docs/spec-reference.md: the connector spec grammar and every registered building block."""
    schema = base_schema("spec-v1")
    text = render_schema(
        schema,
        intro=(
            "Generated by `hookline docs` from the spec schema shipped in the package "
            "(`hookline/schemas/spec-v1.json`); do not edit by hand. Strings marked as "
            "templates may hold `{{ expressions }}` (see [expressions](expressions.md))."
        ),
    )
    blocks = [
        *_typed_sections("Auth types", "auth type", catalog.builders.auth_types),
        *_typed_sections("Paginators", "paginator", catalog.builders.paginators),
        *_typed_sections("Webhook verifiers", "verifier", catalog.builders.verifiers),
    ]
    return text + "\n" + "\n".join(blocks).rstrip() + "\n"


def recipe_reference() -> str:
    """docs/recipe-reference.md: the recipe grammar."""
    return render_schema(
        base_schema("recipe-v1"),
        intro=(
            "Generated by `hookline docs` from the recipe schema shipped in the package "
            "(`hookline/schemas/recipe-v1.json`); do not edit by hand. For completion in an "
            "editor, start a recipe with `# yaml-language-server: $schema=` and the path of "
            "that file (`hookline schema recipe` prints it)."
        ),
    )


def connector_reference(spec: Spec, plugin: str | None = None) -> str:
    """docs/connectors/NAME.md: a connector's connection, actions and triggers.

    ``plugin`` names the plugin that registered the spec, for a connector not built in.
    """
    source = f"the spec of plugin `{plugin}`" if plugin else f"`specs/{spec.name}.yaml`"
    lines = [
        f"# {spec.title} (`{spec.name}`)",
        "",
        f"Generated by `hookline docs` from {source}; do not edit by hand.",
        "",
    ]
    if spec.description:
        lines += [spec.description, ""]
    if spec.docs_url:
        lines += [f"Platform API documentation: <{spec.docs_url}>", ""]
    lines += ["## Connection", "", "| field | type | required | secret | description |"]
    lines += ["|---|---|---|---|---|"]
    for f in spec.connection.fields.values():
        lines.append(
            f"| `{f.name}` | {f.type} | {'yes' if f.required else ''} | "
            f"{'yes' if f.secret else ''} | {_with_default(_cell(f.description), f.schema)} |"
        )
    auth = ", ".join(f"`{_auth_type(a)}`" for a in spec.connection.auth) or "`none`"
    lines += ["", f"Auth: {auth}."]
    if spec.connection.rate_limit:
        limit = spec.connection.rate_limit
        lines.append(f"Rate limit: {limit.requests} requests per {limit.per:g} seconds.")
    lines += ["", "## Actions", ""]
    for action in spec.actions.values():
        lines += _member(spec, action, "action")
    if spec.triggers:
        lines += ["## Triggers", ""]
        for trigger in spec.triggers.values():
            lines += _member(spec, trigger, f"{trigger.type} trigger")
    if spec.objects:
        lines += ["## Objects", ""]
        for name, schema in spec.objects.items():
            lines += [f"### Object `{name}`", ""]
            if isinstance(schema, Mapping):
                if schema.get("description"):
                    lines += [_cell(schema["description"]), ""]
                lines += [*_table(schema, None), ""]
    return "\n".join(lines).rstrip() + "\n"


def output_lead(block: Action | Trigger) -> str:
    """The words before an output's shape, the same on a reference page and in ``hookline show``:
    a list action's records, a trigger's events, or nothing for a single value."""
    if isinstance(block, Trigger):
        return "each event is"
    return "a list of records, read page by page; each record is" if block.is_list else ""


def _auth_type(auth: Any) -> str:
    return str(type(auth).schema["properties"]["type"]["const"])


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _member(spec: Spec, block: Action | Trigger, kind: str) -> list[str]:
    lines = [f"### `{block.name}`", "", f"{block.title} ({kind}).", ""]
    if block.description:
        lines += [block.description.strip(), ""]
    properties = block.input_schema.get("properties", {})
    if properties:
        required = set(block.input_schema.get("required", []))
        lines += ["| input | type | required | description |", "|---|---|---|---|"]
        for name, prop in properties.items():
            prop = prop if isinstance(prop, Mapping) else {}
            lines.append(
                f"| `{name}` | {_type_of(prop)} | {'yes' if name in required else ''} | "
                f"{_with_default(_cell(prop.get('description', '')), prop)} |"
            )
        lines.append("")
    schema = block.output.schema if isinstance(block, Action) else block.output_schema
    if schema is not None:
        shape = _type_of(schema) if isinstance(schema, Mapping) else "any value"
        lines += [f"Output: {' '.join(p for p in (output_lead(block), shape) if p)}.", ""]
    if block.examples:
        example = block.examples[0]
        if kind == "action":
            lines += ["```sh", _call_line(spec.name, block.name, example.input), "```", ""]
        lines += ["Example output:", "", "```json", json.dumps(example.output, indent=2), "```", ""]
    return lines


def _call_line(connector: str, action: str, example: Mapping[str, Any]) -> str:
    if any(isinstance(v, Mapping | list) for v in example.values()):
        return f"hookline call {connector}.{action} --input-json '{json.dumps(example)}'"
    parts = [f"hookline call {connector}.{action}"]
    for key, value in example.items():
        text = value if isinstance(value, str) else json.dumps(value)
        parts.append(f"--input {key}={shlex.quote(text)}")
    return " ".join(parts)
