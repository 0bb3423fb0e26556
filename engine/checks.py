"""The static checks of a recipe: everything that can be known wrong before a call is made.

``check_recipe`` walks a compiled recipe in the order its steps run, keeping the scope each
template sees (the trigger's event, the steps that ran before, variables, the loop item,
``error`` in ``on_error`` steps), and reports, each as a located ``Problem`` and all at once:

- unknown connections, connectors, actions and triggers (with the close names suggested);
- connection values, trigger inputs, action inputs and a called recipe's inputs that are not
  in the schema, required ones that are missing, and written values of the wrong type;
- references to names that do not exist, to unknown step ids, to steps that run later or
  inside a loop, and to variables never set;
- data references checked against the output schemas: ``{{ trigger.subjct }}`` names the
  fields the event does have, as a typed data pill would (JMESPath would read null);
- a template whose type is known and does not fit the input it fills;
- ``env.NAME`` references to variables that are not set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped, unused-ignore]

from .catalog import Catalog, suggest
from .errors import ConfigurationError, Problem
from .expressions import CompiledValue, Template
from .inputs import is_plain, type_mismatch, written_problems
from .loader import Document, KeyPath, format_path
from .recipe import (
    ActionStep,
    CallStep,
    ForEachStep,
    IfStep,
    ManualTrigger,
    Recipe,
    RecipeConnection,
    SetStep,
    Step,
    StopStep,
)
from .shapes import (
    Shape,
    ShapeError,
    did_you_mean,
    json_type,
    list_shape,
    object_shape,
    words,
)
from .spec import Action, PollTrigger, Spec

ERROR_SHAPE = Shape.of(
    {
        "type": "object",
        "properties": {
            "kind": {"type": "string"},
            "message": {"type": "string"},
            "step": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "error",
)
DOWNLOAD = {
    "type": "object",
    "properties": {
        "path": {"type": "string"},
        "content": {"type": "string"},
        "content_type": {"type": "string"},
        "size": {"type": "integer"},
    },
    "additionalProperties": False,
}
"""The output of a download action (``hookline.actions``): the file saved, or its content."""
_CRON_FIELD = re.compile(r"(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*")


def check_recipe(
    recipe: Recipe, document: Document, catalog: Catalog, env: Mapping[str, str]
) -> list[Problem]:
    """Every static problem of ``recipe`` (compiled from ``document``), located."""
    return _Checker(recipe, document, catalog, env).run()


@dataclass(frozen=True, slots=True)
class _Scope:
    """What a template may read: root names with their shapes, visible steps and variables."""

    names: Mapping[str, Shape | None]
    steps: Mapping[str, Shape | None] = field(default_factory=dict)
    vars: frozenset[str] = frozenset()

    def with_name(self, name: str, shape: Shape | None) -> _Scope:
        """This scope with one more root name."""
        return replace(self, names={**self.names, name: shape})


@dataclass(frozen=True, slots=True)
class _Declared:
    """Where a step id is written, and the for_each whose body holds it, if any."""

    path: KeyPath
    loop: ForEachStep | None


class _Checker:
    """One recipe's checks, with the problems found so far and the step ids it declares."""

    def __init__(
        self, recipe: Recipe, document: Document, catalog: Catalog, env: Mapping[str, str]
    ) -> None:
        self.recipe = recipe
        self.document = document
        self.catalog = catalog
        self.env = env
        self.problems: list[Problem] = []
        self.specs: dict[str, Spec] = {}
        self.declared: dict[str, _Declared] = {}

    def problem(self, path: KeyPath, message: str, *, key: bool = False) -> None:
        """Record a problem at ``path`` of the recipe."""
        self.problems.append(self.document.problem(path, message, key=key))

    def run(self) -> list[Problem]:
        """Check the whole recipe; every problem found."""
        recipe = self.recipe
        for connection in recipe.connections.values():
            self.connection(connection)
        trigger_shape = self.trigger()
        names: dict[str, Shape | None] = {"trigger": trigger_shape, "env": None}
        if isinstance(recipe.trigger, ManualTrigger):
            names["inputs"] = trigger_shape
        for name, value in recipe.vars.items():
            self.value(value, ("vars", name), _Scope(names))
        self.declare(recipe.steps, None)
        scope = self.steps(
            recipe.steps,
            _Scope({**names, "steps": None, "vars": None}, vars=frozenset(recipe.vars)),
        )
        for name, value in recipe.outputs.items():
            self.value(value, ("outputs", name), scope)
        return self.problems

    # ------------------------------------------------------------ connections and trigger

    def connection(self, connection: RecipeConnection) -> None:
        """Check one connection: its connector, fields and templates."""
        path = connection.path
        if connection.connector is None:
            if connection.named is None:
                self.problem(
                    path,
                    "a connection needs `connector:` or `connection:` (a name "
                    "from the connections file)",
                )
            else:
                self.problem(
                    path,
                    f"no connection named {connection.named!r} in the "
                    "connections file; write it there (`hookline sandbox "
                    "--write-connections` writes sandbox ones) or give `connector:` "
                    "and its values here",
                )
            return
        try:
            spec = self.catalog.spec(connection.connector)
        except ConfigurationError as exc:
            self.problem(path if connection.named else (*path, "connector"), str(exc))
            return
        self.specs[connection.name] = spec
        values = {key: value.value for key, value in connection.values.items()}
        schema = spec.connection.values_schema()
        label = f"connector {spec.name!r}"
        self.inputs(path, values, schema, label, "field", satisfied=connection.named is not None)
        for key, value in connection.values.items():
            self.value(value, (*path, key), _Scope({"env": None}))

    def trigger(self) -> Shape | None:
        """Check the trigger; the shape of its event (None when unknown)."""
        trigger = self.recipe.trigger
        if isinstance(trigger, ManualTrigger):
            return self.manual(trigger)
        spec = self.spec_of(trigger.connection, (*trigger.path, "event"))
        if spec is None:
            return None
        found = spec.triggers.get(trigger.trigger)
        if found is None:
            self.problem(
                (*trigger.path, "event"),
                f"connector {spec.name!r} has no trigger "
                f"{trigger.trigger!r}{suggest(trigger.trigger, spec.triggers)}",
            )
            return None
        given = {"every": trigger.every, "cron": trigger.cron}
        for key in (k for k, v in given.items() if v is not None):
            if not isinstance(found, PollTrigger):
                self.problem(
                    (*trigger.path, key),
                    f"{trigger.event} is a webhook trigger: "
                    f"the platform sends its events, so `{key}` does not apply",
                )
        if trigger.cron is not None and not _is_cron(trigger.cron):
            self.problem(
                (*trigger.path, "cron"),
                f"{trigger.cron!r} is not a cron expression: "
                "five fields (minute hour day month weekday) of numbers, *, ranges, "
                "lists and steps, e.g. '*/15 * * * *'",
            )
        self.action_input(
            trigger.path,
            trigger.input,
            found.input_schema,
            spec,
            trigger.event,
            _Scope({"env": None}),
        )
        schema = found.output_schema
        return (
            None if schema is None else Shape.of(schema, f"the {trigger.event} event", spec.objects)
        )

    def manual(self, trigger: ManualTrigger) -> Shape:
        """Check declared inputs; their shape is the event's."""
        for name, schema in trigger.inputs_schema["properties"].items():
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                self.problem(
                    (*trigger.path, "manual", "inputs", name),
                    f"input {name!r} is not a valid JSON Schema: {exc.message}",
                )
        for index, name in enumerate(trigger.inputs_schema["required"]):
            if name not in trigger.inputs_schema["properties"]:
                inputs = trigger.inputs_schema["properties"]
                self.problem(
                    (*trigger.path, "manual", "required", index),
                    f"required input {name!r} is not declared{suggest(name, inputs)}",
                )
        return Shape.of(trigger.inputs_schema, "the recipe's input")

    def spec_of(self, connection: str, path: KeyPath) -> Spec | None:
        """The spec of a connection the recipe names, or None (reported once)."""
        if connection in self.specs:
            return self.specs[connection]
        if connection not in self.recipe.connections:
            known = self.recipe.connections
            listed = ", ".join(sorted(known)) or "none"
            self.problem(
                path,
                f"unknown connection {connection!r}{suggest(connection, known)}; "
                f"the recipe's connections: {listed}",
            )
        return None

    # ------------------------------------------------------------ steps

    def declare(self, steps: Iterable[Step], loop: ForEachStep | None) -> None:
        """Record every step id with where it is written; a repeated id is a problem."""
        for step in steps:
            if step.id is not None:
                first = self.declared.get(step.id)
                if first is not None:
                    line = self.document.locate(first.path) or (0, 0)
                    self.problem(
                        (*step.path, "id"),
                        f"step id {step.id!r} is used twice (first at line {line[0]})",
                    )
                else:
                    self.declared[step.id] = _Declared(step.path, loop)
            self.declare(step.recover, loop)
            if isinstance(step, IfStep):
                self.declare((*step.then, *step.otherwise), loop)
            elif isinstance(step, ForEachStep):
                self.declare(step.steps, step)

    def steps(self, steps: Iterable[Step], scope: _Scope) -> _Scope:
        """Check steps in order; the scope after them."""
        for step in steps:
            output = self.step(step, scope)
            if step.recover:
                self.steps(step.recover, scope.with_name("error", ERROR_SHAPE))
            if step.id is not None:
                scope = replace(scope, steps={**scope.steps, step.id: output})
            if isinstance(step, SetStep):
                scope = replace(scope, vars=scope.vars | set(step.values))
            elif isinstance(step, IfStep):
                then = self.steps(step.then, scope)
                otherwise = self.steps(step.otherwise, scope)
                scope = replace(
                    scope, steps={**then.steps, **otherwise.steps}, vars=then.vars | otherwise.vars
                )
        return scope

    def step(self, step: Step, scope: _Scope) -> Shape | None:
        """Check one step (not the steps it contains, but a loop's body); its output shape."""
        if step.retry is not None and not isinstance(step, ActionStep):
            self.problem((*step.path, "retry"), "`retry` applies to action steps only")
        if isinstance(step, ActionStep):
            return self.action(step, scope)
        if isinstance(step, IfStep):
            self.single(
                step.condition, (*step.path, "if"), scope, "{{ trigger.priority == 'high' }}"
            )
            return None
        if isinstance(step, ForEachStep):
            return self.loop(step, scope)
        if isinstance(step, SetStep):
            shapes = {
                name: self.value(value, (*step.path, "set", name), scope)
                for name, value in step.values.items()
            }
            return object_shape(shapes, f"the variables set by step {step.id!r}")
        if isinstance(step, StopStep):
            if step.message is not None:
                self.template(step.message, (*step.path, "stop", "message"), scope)
            return None
        assert isinstance(step, CallStep)
        return self.call(step, scope)

    def action(self, step: ActionStep, scope: _Scope) -> Shape | None:
        """Check an action step; the shape of its output."""
        spec = self.spec_of(step.connection, (*step.path, "action"))
        action = None if spec is None else spec.actions.get(step.action)
        if spec is None or action is None:
            if spec is not None:
                self.problem(
                    (*step.path, "action"),
                    f"connector {spec.name!r} has no action "
                    f"{step.action!r}{suggest(step.action, spec.actions)}",
                )
            self.value(step.input, (*step.path, "with"), scope)
            return None
        self.action_input(step.path, step.input, action.input_schema, spec, step.label, scope)
        return _output_shape(spec, action, step)

    def action_input(
        self,
        path: KeyPath,
        input: CompiledValue,
        schema: Mapping[str, Any],
        spec: Spec,
        label: str,
        scope: _Scope,
    ) -> None:
        """Check a ``with`` block against an input schema: keys, required, types, references."""
        full = spec.schema_with_objects(schema)
        assert isinstance(full, Mapping)
        self.inputs((*path, "with"), input.value, full, label, "input")
        properties = schema.get("properties", {})
        for key_path, template in input.templates():
            shape = self.template(template, (*path, "with", *key_path), scope)
            if len(key_path) == 1 and key_path[0] in properties:
                expected = Shape.of(properties[key_path[0]], "", spec.objects)
                mismatch = type_mismatch(template, shape, expected)
                if mismatch:
                    self.problem(
                        (*path, "with", *key_path), f"input {key_path[0]!r} of {label} {mismatch}"
                    )

    def inputs(
        self,
        where: KeyPath,
        value: Any,
        schema: Mapping[str, Any],
        label: str,
        noun: str,
        *,
        satisfied: bool = False,
    ) -> None:
        """Record the problems of the written parts of a ``with`` or connection block."""
        self.problems += written_problems(
            self.document, where, value, schema, f"{label}: ", noun, satisfied=satisfied
        )

    def loop(self, step: ForEachStep, scope: _Scope) -> Shape | None:
        """Check a for_each and its body; the shape of its output."""
        items = self.single(step.items, (*step.path, "for_each"), scope, "{{ steps.search }}")
        item: Shape | None = None
        kinds = None if items is None else items.types()
        if items is not None and kinds is not None and "array" not in kinds:
            self.problem(
                (*step.path, "for_each"),
                f"for_each needs a list, but {step.items.source.strip()!r} gives {words(kinds)}",
            )
        elif items is not None:
            item = items.item()
        if step.item in scope.names:
            self.problem(
                (*step.path, "as"),
                f"the item name {step.item!r} would hide the "
                f"job's {step.item!r}; choose another name",
            )
        body = self.steps(step.steps, scope.with_name(step.item, _relabel(item, step.item)))
        inner = {step.item: item, **{k: v for k, v in body.steps.items() if k not in scope.steps}}
        label = f"steps.{step.id}" if step.id else "the for_each output"
        return list_shape(object_shape(inner, f"{label}[]"), label)

    def call(self, step: CallStep, scope: _Scope) -> Shape | None:
        """Check a recipe step against the called recipe; the shape of its outputs."""
        callee = step.recipe
        for path, template in step.input.templates():
            self.template(template, (*step.path, "with", *path), scope)
        if not callee.name:  # failed to load; its own problems are reported
            return None
        if not isinstance(callee.trigger, ManualTrigger):
            self.problem(
                (*step.path, "recipe"),
                f"recipe {callee.name!r} has a trigger "
                "event; a recipe called as a step must have a manual trigger",
            )
            return None
        self.inputs(
            (*step.path, "with"),
            step.input.value,
            callee.trigger.inputs_schema,
            f"recipe {callee.name!r}",
            "input",
        )
        label = f"steps.{step.id}" if step.id else f"the outputs of {callee.name!r}"
        return object_shape(dict.fromkeys(callee.outputs), label)

    # ------------------------------------------------------------ templates

    def single(
        self, template: Template, path: KeyPath, scope: _Scope, example: str
    ) -> Shape | None:
        """Check a template that must be one expression (an ``if``, a ``for_each``)."""
        compiled = template.source == _written(self.document.data, path)
        if compiled and not template.is_single:
            self.problem(path, f'{path[-1]} takes one {{{{ expression }}}}, e.g. "{example}"')
        return self.template(template, path, scope)

    def value(self, value: CompiledValue, path: KeyPath, scope: _Scope) -> Shape | None:
        """Check the templates inside ``value``; the shape of a value that is one template."""
        shapes = {inner: self.template(t, (*path, *inner), scope) for inner, t in value.templates()}
        if value.is_static:
            return Shape.of({"type": json_type(value.value)}, format_path(path))
        return shapes.get(())

    def template(self, template: Template, path: KeyPath, scope: _Scope) -> Shape | None:
        """Check every reference; the shape of the template's value when it is a plain path."""
        fallbacks = _env_with_fallback(template)
        shapes = [
            self.reference(ref, path, scope)
            for ref in template.references()
            if not (len(ref) == 2 and ref[0] == "env" and ref[1] in fallbacks)
        ]
        plain = template.is_single and is_plain(template.expressions[0])
        return shapes[0] if plain and len(shapes) == 1 else None

    def reference(self, ref: tuple[str | int, ...], path: KeyPath, scope: _Scope) -> Shape | None:
        """Check one data reference; the shape of what it reads."""
        if not ref or not isinstance(ref[0], str):
            return None
        root, rest = ref[0], ref[1:]
        shown = _show(ref)
        if root not in scope.names:
            allowed = sorted(scope.names)
            self.problem(
                path,
                f"{shown}: unknown name {root!r}{did_you_mean(root, allowed)}; "
                f"here an expression reads {', '.join(allowed)}",
            )
            return None
        if not rest or not isinstance(rest[0], str):
            return scope.names[root]
        name = rest[0]
        if root == "env":
            if name not in self.env:
                self.problem(path, f"{shown}: the environment variable {name!r} is not set")
            return None
        if root == "vars":
            if name not in scope.vars:
                self.problem(
                    path,
                    f"{shown}: no variable {name!r} is set before this point"
                    f"{suggest(name, sorted(scope.vars))}",
                )
            return None
        if root == "steps":
            if name not in scope.steps:
                self.problem(path, f"{shown}: {self.unseen_step(name, path, scope)}")
                return None
            return self.follow(scope.steps[name], rest[1:], shown, path)
        return self.follow(scope.names[root], rest, shown, path)

    def follow(
        self, shape: Shape | None, rest: tuple[str | int, ...], shown: str, path: KeyPath
    ) -> Shape | None:
        """The shape at ``rest`` below ``shape``; a problem where the schema has no such path."""
        if shape is None:
            return None
        try:
            return shape.follow(rest)
        except ShapeError as exc:
            self.problem(path, f"{shown}: {exc}")
            return None

    def unseen_step(self, name: str, path: KeyPath, scope: _Scope) -> str:
        """Why step ``name`` cannot be read here, as a sentence."""
        declared = self.declared.get(name)
        if declared is None:
            return f"no step has the id {name!r}{suggest(name, scope.steps)}"
        if path[: len(declared.path)] == declared.path:
            return f"step {name!r} cannot read its own output"
        loop = declared.loop
        if loop is not None and path[: len(loop.path)] != loop.path:
            via = (
                f"read it as steps.{loop.id}[*].{name}"
                if loop.id
                else "give the for_each an id and read steps.ID[*]." + name
            )
            return f"step {name!r} runs inside the for_each at {format_path(loop.path)}; {via}"
        if (self.document.locate(declared.path) or (0, 0)) > (self.document.locate(path) or (0, 0)):
            return (
                f"step {name!r} runs later ({format_path(declared.path)}); a step reads only "
                "the steps before it"
            )
        return f"step {name!r} has not run at this point ({format_path(declared.path)})"


# ---------------------------------------------------------------- helpers


def _output_shape(spec: Spec, action: Action, step: ActionStep) -> Shape | None:
    label = f"steps.{step.id}" if step.id else f"the output of {step.label}"
    if action.request.response == "bytes":
        return Shape.of(DOWNLOAD, label)
    schema = action.output.schema
    if action.is_list:
        return list_shape(None if schema is None else Shape.of(schema, "", spec.objects), label)
    return None if schema is None else Shape.of(schema, label, spec.objects)


def _written(data: Any, path: KeyPath) -> Any:
    """The value at ``path`` as the document holds it."""
    for part in path:
        data = data[part]
    return data


def _is_cron(text: str) -> bool:
    fields = text.split()
    return len(fields) == 5 and all(_CRON_FIELD.fullmatch(f) for f in fields)


def _relabel(shape: Shape | None, label: str) -> Shape | None:
    return None if shape is None else replace(shape, label=label)


def _env_with_fallback(template: Template) -> set[str | int]:
    """Variables read as ``env.NAME || fallback``: unset, they take the fallback."""
    names: set[str | int] = set()
    for expression in template.expressions:
        stack = [expression.parsed.parsed]
        while stack:
            node = stack.pop()
            children = [c for c in node.get("children", []) if isinstance(c, dict)]
            stack.extend(children)
            if node.get("type") == "or_expression" and children:
                left = children[0]
                fields = [c.get("value") for c in left.get("children", [])]
                if left.get("type") == "subexpression" and fields[:1] == ["env"]:
                    names.update(fields[1:2])
    return names


def _show(ref: tuple[str | int, ...]) -> str:
    return "".join(
        f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(ref)
    )
