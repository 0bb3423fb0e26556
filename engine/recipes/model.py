"""Recipes: the compiled, immutable model of a ``recipe:`` file.

``hookline.recipes.load`` builds these objects from a document; they hold compiled
expressions only.

A step is one of eight kinds (``ActionStep``, ``IfStep``, ``SwitchStep``, ``ForEachStep``,
``SetStep``, ``StopStep``, ``CallStep``, ``WaitStep``), all sharing ``Step``'s fields: the key
path where it is written (job history names a step by it), its id, title, retry and error
handling.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hookline.documents.loader import KeyPath
from hookline.errors import ConfigurationError
from hookline.expr.templates import CompiledValue, Template

DEFAULT_ITEM = "item"
"""The name of a ``for_each`` item when the step gives no ``as``."""
DEFAULT_BACKOFF = 1.0
"""Seconds before a step's first retry when its ``retry`` gives no ``backoff``."""
DEFAULT_MAX_ITEMS = 10_000
"""The most items a ``for_each`` accepts when the step gives no ``max_items``."""


# ---------------------------------------------------------------- connections and triggers


@dataclass(frozen=True, slots=True)
class RecipeConnection:
    """A connection the recipe uses, by the name its steps give it.

    ``named`` is the connections-file entry it starts from (if any); ``values`` are the values
    written in the recipe, which override the entry's. A name the file lacks that is a
    connector's name stands for a connection of that connector with no values but its
    fields' defaults (enough for ``file``; others then need their values from somewhere, such
    as ``--sandbox``). ``connector`` is None only while a named entry is unknown, which the
    static checks report.
    """

    name: str
    connector: str | None
    named: str | None
    values: Mapping[str, CompiledValue]
    path: KeyPath


@dataclass(frozen=True, slots=True)
class ManualTrigger:
    """A recipe run by hand: ``inputs_schema`` is the JSON Schema of its declared inputs."""

    inputs_schema: Mapping[str, Any]
    path: KeyPath

    @property
    def event(self) -> str:
        """What starts the recipe, as job history and progress name it."""
        return "manual"


@dataclass(frozen=True, slots=True)
class EventTrigger:
    """A platform event: trigger ``trigger`` of connection ``connection``, polled or pushed.

    ``every`` (seconds) or ``cron`` (read in ``timezone``, an IANA name; None is UTC) say when
    a polling trigger polls when served, each poll up to ``jitter`` seconds late (None: the
    default). ``alert_after`` (seconds) is how long the trigger may go without news before
    ``hookline triggers`` flags it.
    """

    connection: str
    trigger: str
    input: CompiledValue
    every: float | None
    cron: str | None
    path: KeyPath
    timezone: str | None = None
    jitter: float | None = None
    alert_after: float | None = None

    @property
    def event(self) -> str:
        """The event's name as written: ``CONNECTION.TRIGGER``."""
        return f"{self.connection}.{self.trigger}"


RecipeTrigger = ManualTrigger | EventTrigger


# ---------------------------------------------------------------- steps


@dataclass(frozen=True, slots=True)
class Retry:
    """A step tried ``attempts`` times in all, waiting ``backoff`` seconds, doubled each time."""

    attempts: int
    backoff: float


@dataclass(frozen=True, slots=True)
class Step:
    """What every step has: where it is written, its id and title, retry and error handling.

    ``on_error`` is ``stop`` (the job fails), ``continue`` (the next step runs; this one's
    output is null) or ``steps`` (``recover`` runs with ``error`` in the context, then the
    next step).
    """

    path: KeyPath
    id: str | None
    title: str
    retry: Retry | None
    on_error: str
    recover: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class ActionStep(Step):
    """Call action ``action`` of connection ``connection`` with ``input`` rendered.

    ``max_pages`` bounds the pages a list action reads (None: the spec's bound).
    """

    connection: str
    action: str
    input: CompiledValue
    max_pages: int | None = None

    @property
    def label(self) -> str:
        """The action as written: ``CONNECTION.ACTION``."""
        return f"{self.connection}.{self.action}"


@dataclass(frozen=True, slots=True)
class IfStep(Step):
    """Run ``then`` when ``condition`` is truthy (JMESPath truth), else ``otherwise``."""

    condition: Template
    then: tuple[Step, ...]
    otherwise: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class SwitchStep(Step):
    """Run the steps of the case whose key is ``value``'s text, else ``default``."""

    value: Template
    cases: Mapping[str, tuple[Step, ...]]
    default: tuple[Step, ...]

    def branch(self, value: Any) -> tuple[str | None, tuple[Step, ...]]:
        """The case ``value`` picks (None for the default) and its steps."""
        key = case_key(value)
        if key is not None and key in self.cases:
            return key, self.cases[key]
        return None, self.default


def case_key(value: Any) -> str | None:
    """The text a switch compares with its case keys: text as it is, a number or boolean as
    its JSON text; None (no case matches) for null, a list or a mapping."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return None


@dataclass(frozen=True, slots=True)
class ForEachStep(Step):
    """Run ``steps`` once per element of ``items``, ``concurrency`` at a time.

    The step's output is a list in item order; each entry maps ``item`` (the item's name) to
    the item and each id of ``steps`` to that step's output for the item. More than
    ``max_items`` items is the step's error, before any runs.
    """

    items: Template
    item: str
    concurrency: int
    steps: tuple[Step, ...]
    max_items: int = DEFAULT_MAX_ITEMS


@dataclass(frozen=True, slots=True)
class SetStep(Step):
    """Set variables (``vars.NAME``) for the steps that follow; the output is what was set."""

    values: Mapping[str, CompiledValue]


@dataclass(frozen=True, slots=True)
class StopStep(Step):
    """End the job (or the called recipe) with ``status`` and a ``message``."""

    status: str
    message: Template | None


@dataclass(frozen=True, slots=True)
class Until:
    """What a wait calls: ``action`` of ``connection`` with ``input``, every ``every``
    seconds, until ``condition`` holds on its output (``result``)."""

    connection: str
    action: str
    input: CompiledValue
    condition: Template
    every: float

    @property
    def label(self) -> str:
        """The action as written: ``CONNECTION.ACTION``."""
        return f"{self.connection}.{self.action}"


@dataclass(frozen=True, slots=True)
class WaitStep(Step):
    """Wait ``seconds``; or, with ``until``, call its action until its condition holds, for
    at most ``seconds`` (the timeout)."""

    seconds: float
    until: Until | None = None


@dataclass(frozen=True, slots=True)
class CallStep(Step):
    """Run another recipe with ``input`` as its inputs; its outputs are this step's output."""

    recipe: Recipe
    input: CompiledValue


def branches(step: Step) -> tuple[tuple[Step, ...], ...]:
    """The lists of steps of which a step runs one (an ``if``'s, a ``switch``'s); none for a
    step of another kind. Steps in any of them can be read after the step."""
    if isinstance(step, IfStep):
        return (step.then, step.otherwise)
    if isinstance(step, SwitchStep):
        return (*step.cases.values(), step.default)
    return ()


# ---------------------------------------------------------------- the recipe


@dataclass(frozen=True, slots=True)
class Recipe:
    """A compiled recipe; ``callees`` are the recipes its steps call."""

    name: str
    title: str
    description: str
    file: str
    connections: Mapping[str, RecipeConnection]
    trigger: RecipeTrigger
    vars: Mapping[str, CompiledValue]
    steps: tuple[Step, ...]
    outputs: Mapping[str, CompiledValue]
    callees: tuple[Recipe, ...] = field(default=(), repr=False)

    @property
    def path(self) -> str:
        """The recipe file's absolute path, as job history keeps it (for reruns)."""
        return str(Path(self.file).resolve())

    @property
    def is_manual(self) -> bool:
        """True for a recipe run by hand (or called by another)."""
        return isinstance(self.trigger, ManualTrigger)

    def walk(self) -> list[Recipe]:
        """This recipe and every recipe it calls, directly or not, each once."""
        found: dict[str, Recipe] = {}
        pending = [self]
        while pending:
            recipe = pending.pop()
            if recipe.file not in found:
                found[recipe.file] = recipe
                pending.extend(recipe.callees)
        return list(found.values())


# ---------------------------------------------------------------- inputs


def manual_inputs(trigger: ManualTrigger, given: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs with declared defaults applied; ``ConfigurationError`` names every problem."""
    properties: Mapping[str, Any] = trigger.inputs_schema["properties"]
    values = with_defaults(trigger.inputs_schema, given)
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

    problems = []
    for error in Draft202012Validator(trigger.inputs_schema).iter_errors(values):
        where = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "required":
            missing = [name for name in error.validator_value if name not in values]
            problems += [f"input {name!r} is required" for name in missing]
        elif error.validator == "additionalProperties":
            known = ", ".join(sorted(properties)) or "none"
            unknown = sorted(set(values) - set(properties))
            problems += [f"unknown input {name!r} (inputs: {known})" for name in unknown]
        else:
            problems.append(f"input {where!r}: {error.message}")
    if problems:
        raise ConfigurationError("; ".join(problems))
    return values


def with_defaults(schema: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` with the ``default`` of each input of ``schema`` it leaves out."""
    values = dict(given)
    for name, prop in schema.get("properties", {}).items():
        if name not in values and isinstance(prop, Mapping) and "default" in prop:
            values[name] = prop["default"]
    return values
