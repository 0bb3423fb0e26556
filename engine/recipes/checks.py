"""The static checks of a recipe: everything that can be known wrong before a call is made.

``check_recipe`` walks a compiled recipe in the order its steps run, keeping the scope each
template sees (the trigger's event, the steps that ran before, variables, the loop item,
``error`` in ``on_error`` steps), and reports, each as a located ``Problem`` and all at once:

- unknown connections, connectors, actions and triggers (with the close names suggested);
- connection values, trigger inputs, action inputs and a called recipe's inputs that are not
  in the schema, required ones that are missing, and written values of the wrong type;
- references to names that do not exist, to unknown step ids, to steps that run later or
  inside a loop, to variables never set and to environment variables that are not set, and
  references checked against the output schemas (``hookline.recipes.scopes`` checks each one);
- a template whose type is known and does not fit the input it fills;
- webhook credentials that render empty or to a value shipped in an example
  (``hookline.recipes.credentials``).

This module follows the recipe's structure (connections, trigger, steps) and works out the
scope at each place; ``hookline.recipes.scopes`` checks what a template reads against that scope.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hookline.documents.loader import Document, KeyPath
from hookline.errors import ConfigurationError, Problem, suggest
from hookline.expr.templates import CompiledValue
from hookline.recipes.credentials import credential_problems
from hookline.recipes.inputs import type_mismatch, written_problems
from hookline.recipes.model import (
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
    SwitchStep,
    WaitStep,
    branches,
    case_key,
)
from hookline.recipes.scopes import References, Scope
from hookline.recipes.shapes import Shape, list_shape, object_shape, words
from hookline.spec.catalog import Catalog
from hookline.spec.model import Action, PollTrigger, Spec, WebhookTrigger

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
"""The output of a download action (``hookline.actions.call``): the file saved, or its content."""
WAITED = {
    "type": "object",
    "properties": {"waited": {"type": "number"}},
    "additionalProperties": False,
}
"""The output of a ``wait`` for a duration: the seconds waited."""
_CRON_FIELD = re.compile(r"(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*")


def check_recipe(
    recipe: Recipe,
    document: Document,
    catalog: Catalog,
    env: Mapping[str, str] | None,
    unset: list[Problem] | None = None,
) -> list[Problem]:
    """Every static problem of ``recipe`` (compiled from ``document``), located.

    ``env`` None checks environment references for their form only; with ``unset`` given,
    references to variables ``env`` lacks go there instead of being problems.
    """
    return _Checker(recipe, document, catalog, env, unset).run()


class _Checker:
    """One recipe's checks, with the problems found so far and its connections' specs."""

    def __init__(
        self,
        recipe: Recipe,
        document: Document,
        catalog: Catalog,
        env: Mapping[str, str] | None,
        unset: list[Problem] | None,
    ) -> None:
        self.recipe = recipe
        self.document = document
        self.catalog = catalog
        self.env = env
        self.problems: list[Problem] = []
        self.specs: dict[str, Spec] = {}
        self.refs = References(document, env, self.problems, unset)

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
            self.refs.value(value, ("vars", name), Scope(names))
        self.refs.declare(recipe.steps, None)
        scope = self.steps(
            recipe.steps,
            Scope({**names, "steps": None, "vars": None}, vars=frozenset(recipe.vars)),
        )
        for name, value in recipe.outputs.items():
            self.refs.value(value, ("outputs", name), scope)
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
        # Values not written here come from the connections file (or a sandbox) when it runs.
        satisfied = connection.named is not None or not values
        self.inputs(path, values, schema, label, "field", satisfied=satisfied)
        for key, value in connection.values.items():
            self.refs.value(value, (*path, key), Scope({"env": None}))

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
        given = {"every": trigger.every, "cron": trigger.cron, "jitter": trigger.jitter}
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
                f"{trigger.cron!r} is not a cron expression that ever fires: "
                "five fields (minute hour day month weekday) of numbers, *, ranges, "
                "lists and steps, e.g. '*/15 * * * *'",
            )
        if trigger.timezone is not None and not _is_zone(trigger.timezone):
            self.problem(
                (*trigger.path, "timezone"),
                f"unknown time zone {trigger.timezone!r}: give an IANA name such as "
                "Europe/Oslo, America/New_York or UTC",
            )
        self.action_input(
            trigger.path,
            trigger.input,
            found.input_schema,
            spec,
            trigger.event,
            Scope({"env": None}),
        )
        if isinstance(found, WebhookTrigger) and self.env is not None:
            # without the environment (validate in CI) the credentials cannot be judged
            self.problems += credential_problems(self.document, trigger, found, spec, self.env)
        schema = found.output_schema
        return (
            None if schema is None else Shape.of(schema, f"the {trigger.event} event", spec.objects)
        )

    def manual(self, trigger: ManualTrigger) -> Shape:
        """Check declared inputs; their shape is the event's."""
        from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]
        from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped, unused-ignore]

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

    def steps(self, steps: Iterable[Step], scope: Scope) -> Scope:
        """Check steps in order; the scope after them."""
        for step in steps:
            output = self.step(step, scope)
            if step.recover:
                self.steps(step.recover, scope.with_name("error", ERROR_SHAPE))
            if step.id is not None:
                scope = replace(scope, steps={**scope.steps, step.id: output})
            if isinstance(step, SetStep):
                scope = replace(scope, vars=scope.vars | set(step.values))
            ran = [self.steps(branch, scope) for branch in branches(step)]
            if ran:
                scope = replace(
                    scope,
                    steps={k: v for after in ran for k, v in after.steps.items()},
                    vars=frozenset().union(*(after.vars for after in ran)),
                )
        return scope

    def step(self, step: Step, scope: Scope) -> Shape | None:
        """Check one step (not the steps it contains, but a loop's body); its output shape."""
        if step.retry is not None and not isinstance(step, ActionStep):
            self.problem((*step.path, "retry"), "`retry` applies to action steps only")
        if isinstance(step, ActionStep):
            return self.action(step, scope)
        if isinstance(step, IfStep):
            self.refs.single(
                step.condition, (*step.path, "if"), scope, "{{ trigger.priority == 'high' }}"
            )
            return None
        if isinstance(step, SwitchStep):
            self.switch(step, scope)
            return None
        if isinstance(step, WaitStep):
            return self.wait(step, scope)
        if isinstance(step, ForEachStep):
            return self.loop(step, scope)
        if isinstance(step, SetStep):
            shapes = {
                name: self.refs.value(value, (*step.path, "set", name), scope)
                for name, value in step.values.items()
            }
            return object_shape(shapes, f"the variables set by step {step.id!r}")
        if isinstance(step, StopStep):
            if step.message is not None:
                self.refs.template(step.message, (*step.path, "stop", "message"), scope)
            return None
        assert isinstance(step, CallStep)
        return self.call(step, scope)

    def action(self, step: ActionStep, scope: Scope) -> Shape | None:
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
            self.refs.value(step.input, (*step.path, "with"), scope)
            return None
        self.action_input(step.path, step.input, action.input_schema, spec, step.label, scope)
        return _output_shape(spec, action, step.id, step.label)

    def switch(self, step: SwitchStep, scope: Scope) -> None:
        """Check a switch's value, and that each case is a value it can have."""
        where = (*step.path, "switch")
        shape = self.refs.single(step.value, where, scope, "{{ trigger.priority }}")
        values = None if shape is None else _enum_texts(shape)
        if values is None:
            return
        for key in step.cases:
            if key not in values:
                self.problem(
                    (*step.path, "cases", key),
                    f"case {key!r} never matches: {step.value.source.strip()!r} is one of "
                    f"{', '.join(sorted(values))}{suggest(key, sorted(values))}",
                    key=True,
                )

    def wait(self, step: WaitStep, scope: Scope) -> Shape | None:
        """Check a wait's action, input and condition; the shape of its output."""
        until = step.until
        if until is None:
            return Shape.of(WAITED, f"steps.{step.id}" if step.id else "the wait's output")
        where = (*step.path, "wait")
        spec = self.spec_of(until.connection, (*where, "action"))
        action = None if spec is None else spec.actions.get(until.action)
        if spec is None or action is None:
            if spec is not None:
                self.problem(
                    (*where, "action"),
                    f"connector {spec.name!r} has no action "
                    f"{until.action!r}{suggest(until.action, spec.actions)}",
                )
            self.refs.value(until.input, (*where, "with"), scope)
            self.refs.template(until.condition, (*where, "until"), scope.with_name("result", None))
            return None
        self.action_input(where, until.input, action.input_schema, spec, until.label, scope)
        output = _output_shape(spec, action, step.id, until.label)
        result = None if output is None else replace(output, label="result")
        self.refs.single(
            until.condition,
            (*where, "until"),
            scope.with_name("result", result),
            "{{ result.status == 'closed' }}",
        )
        return output

    def action_input(
        self,
        path: KeyPath,
        input: CompiledValue,
        schema: Mapping[str, Any],
        spec: Spec,
        label: str,
        scope: Scope,
    ) -> None:
        """Check a ``with`` block against an input schema: keys, required, types, references."""
        full = spec.schema_with_objects(schema)
        assert isinstance(full, Mapping)
        self.inputs((*path, "with"), input.value, full, label, "input")
        properties = schema.get("properties", {})
        for key_path, template in input.templates():
            shape = self.refs.template(template, (*path, "with", *key_path), scope)
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

    def loop(self, step: ForEachStep, scope: Scope) -> Shape | None:
        """Check a for_each and its body; the shape of its output."""
        items = self.refs.single(step.items, (*step.path, "for_each"), scope, "{{ steps.search }}")
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

    def call(self, step: CallStep, scope: Scope) -> Shape | None:
        """Check a recipe step against the called recipe; the shape of its outputs."""
        callee = step.recipe
        for path, template in step.input.templates():
            self.refs.template(template, (*step.path, "with", *path), scope)
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


# ---------------------------------------------------------------- helpers


def _output_shape(spec: Spec, action: Action, step_id: str | None, called: str) -> Shape | None:
    label = f"steps.{step_id}" if step_id else f"the output of {called}"
    if action.is_download:
        return Shape.of(DOWNLOAD, label)
    schema = action.output.schema
    if action.is_list:
        return list_shape(None if schema is None else Shape.of(schema, "", spec.objects), label)
    return None if schema is None else Shape.of(schema, label, spec.objects)


def _enum_texts(shape: Shape) -> set[str] | None:
    """The values a shape allows, as a switch compares them; None when not a fixed set."""
    found: set[str] = set()
    for alternative in shape.alternatives() or [{}]:
        if "const" in alternative:
            values = [alternative["const"]]
        elif isinstance(alternative.get("enum"), list):
            values = alternative["enum"]
        else:
            return None
        found |= {key for key in map(case_key, values) if key is not None}
    return found


def _is_cron(text: str) -> bool:
    fields = text.split()
    if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(f) for f in fields):
        return False
    from croniter import CroniterError, croniter  # type: ignore[import-untyped, unused-ignore]

    try:  # croniter also knows the ranges, and a date that never comes (31 February)
        croniter(text, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except (CroniterError, ValueError, KeyError):
        return False
    return True


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _relabel(shape: Shape | None, label: str) -> Shape | None:
    return None if shape is None else replace(shape, label=label)
