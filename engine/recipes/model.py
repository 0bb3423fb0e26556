"""Recipes: the compiled, immutable model of a ``recipe:`` file, and loading one.

``load_recipe`` reads the YAML with positions, validates it against the recipe JSON Schema,
compiles every template into the frozen dataclasses below, loads each recipe a step calls,
and runs the static checks of ``hookline.recipes.checks``. Every problem of the recipe and of the
recipes it calls is reported at once, located, before anything is sent to a platform; the
objects returned hold compiled expressions only.

A step is one of six kinds (``ActionStep``, ``IfStep``, ``ForEachStep``, ``SetStep``,
``StopStep``, ``CallStep``), all sharing ``Step``'s fields: the key path where it is written
(job history names a step by it), its id, title, retry and error handling.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

from hookline.documents.compiler import Compiler
from hookline.documents.loader import Document, KeyPath, load_document
from hookline.documents.schema_errors import schema_problems
from hookline.errors import ConfigurationError, Problem, RecipeError
from hookline.expr.templates import CompiledValue, Template
from hookline.run.connections import Connections
from hookline.spec.catalog import Catalog, base_schema

DEFAULT_ITEM = "item"
"""The name of a ``for_each`` item when the step gives no ``as``."""
DEFAULT_BACKOFF = 1.0
"""Seconds before a step's first retry when its ``retry`` gives no ``backoff``."""

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# ---------------------------------------------------------------- connections and triggers


@dataclass(frozen=True, slots=True)
class RecipeConnection:
    """A connection the recipe uses, by the name its steps give it.

    ``named`` is the connections-file entry it starts from (if any); ``values`` are the values
    written in the recipe, which override the entry's. ``connector`` is None only while a
    named entry is unknown, which the static checks report.
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

    ``every`` (seconds) or ``cron`` say when a polling trigger polls when served.
    """

    connection: str
    trigger: str
    input: CompiledValue
    every: float | None
    cron: str | None
    path: KeyPath

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
    """Call action ``action`` of connection ``connection`` with ``input`` rendered."""

    connection: str
    action: str
    input: CompiledValue

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
class ForEachStep(Step):
    """Run ``steps`` once per element of ``items``, ``concurrency`` at a time.

    The step's output is a list in item order; each entry maps ``item`` (the item's name) to
    the item and each id of ``steps`` to that step's output for the item.
    """

    items: Template
    item: str
    concurrency: int
    steps: tuple[Step, ...]


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
class CallStep(Step):
    """Run another recipe with ``input`` as its inputs; its outputs are this step's output."""

    recipe: Recipe
    input: CompiledValue


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


def load_recipe(
    path: Path,
    catalog: Catalog,
    *,
    env: Mapping[str, str] = os.environ,
    connections: Connections | None = None,
) -> Recipe:
    """Load, compile and statically check the recipe at ``path`` and every recipe it calls.

    ``env`` is the environment the recipe will run in (``env.NAME`` must be set there);
    ``connections`` is the connections file, so that a connection given by name is checked
    like one written in place. Raises ``RecipeError`` with every located problem.
    """
    named = {} if connections is None else connections.entries
    return _Loader(catalog, env, {name: entry.connector for name, entry in named.items()}).load(
        Path(path), ()
    )


class _Loader:
    """Loads a recipe tree once per file, refusing a recipe that ends up calling itself."""

    def __init__(self, catalog: Catalog, env: Mapping[str, str], named: Mapping[str, str]) -> None:
        self.catalog = catalog
        self.env = env
        self.named = named
        self.loaded: dict[Path, Recipe] = {}

    def load(self, path: Path, calling: tuple[Path, ...]) -> Recipe:
        """Load ``path`` (called from the recipes ``calling``), or the copy loaded before."""
        from hookline.recipes.checks import check_recipe  # the checks read this module's model

        key = path.resolve()
        if key in self.loaded:
            return self.loaded[key]
        document = load_document(path, error=RecipeError)
        problems = schema_problems(document, base_schema("recipe-v1"))
        if problems:
            raise RecipeError(problems)
        builder = _Builder(Compiler(document, self.catalog.expressions), self, (*calling, key))
        recipe = builder.recipe()
        problems = [*builder.compiler.problems, *builder.callee_problems]
        problems += check_recipe(recipe, document, self.catalog, self.env)
        if problems:
            raise RecipeError(sorted(set(problems), key=_order))
        self.loaded[key] = recipe
        return recipe


def _order(problem: Problem) -> tuple[str, int, int, str]:
    return (problem.file or "", problem.line or 0, problem.column or 0, problem.message)


class _Builder:
    """Builds one recipe's model from its schema-valid document."""

    def __init__(self, compiler: Compiler, loader: _Loader, calling: tuple[Path, ...]) -> None:
        self.compiler = compiler
        self.loader = loader
        self.calling = calling
        self.callees: list[Recipe] = []
        self.callee_problems: list[Problem] = []

    @property
    def document(self) -> Document:
        """The document being built."""
        return self.compiler.document

    def recipe(self) -> Recipe:
        """The whole recipe."""
        data = self.document.data
        c = self.compiler
        return Recipe(
            name=data["recipe"],
            title=data.get("title", ""),
            description=data.get("description", ""),
            file=self.document.file,
            connections={
                name: self.connection(name, block)
                for name, block in data.get("connections", {}).items()
            },
            trigger=self.trigger(data["trigger"]),
            vars={name: _value(c, "vars", name) for name in data.get("vars", {})},
            steps=self.steps(("steps",)),
            outputs={name: _value(c, "outputs", name) for name in data.get("outputs", {})},
            callees=tuple(self.callees),
        )

    def connection(self, name: str, block: Any) -> RecipeConnection:
        """One entry of ``connections``: a name, or a mapping with values."""
        path: KeyPath = ("connections", name)
        if isinstance(block, str):
            return RecipeConnection(name, self.loader.named.get(block), block, {}, path)
        values = {
            key: _value(self.compiler, *path, key)
            for key in block
            if key not in ("connector", "connection")
        }
        named = block.get("connection")
        connector = block.get("connector") or (self.loader.named.get(named) if named else None)
        return RecipeConnection(name, connector, named, values, path)

    def trigger(self, block: Mapping[str, Any]) -> RecipeTrigger:
        """The manual trigger, or the event a connection's trigger gives."""
        path: KeyPath = ("trigger",)
        if "event" not in block:
            manual = block.get("manual", {})
            inputs = manual.get("inputs", {})
            schema = {
                "type": "object",
                "properties": dict(inputs),
                "required": list(manual.get("required", [])),
                "additionalProperties": False,
            }
            return ManualTrigger(schema, path)
        connection, _, name = block["event"].partition(".")
        every = block.get("every")
        return EventTrigger(
            connection=connection,
            trigger=name,
            input=self.compiler.value("trigger", "with") or CompiledValue({}),
            every=_seconds(every) if every else None,
            cron=block.get("cron"),
            path=path,
        )

    def steps(self, path: KeyPath) -> tuple[Step, ...]:
        """The list of steps at ``path`` (absent: none)."""
        blocks = self.compiler.get(*path, default=[])
        return tuple(self.step((*path, index), block) for index, block in enumerate(blocks))

    def step(self, path: KeyPath, block: Mapping[str, Any]) -> Step:
        """One step, of the kind its key names."""
        c = self.compiler
        retry = block.get("retry")
        on_error = block.get("on_error", "stop")
        common: dict[str, Any] = {
            "path": path,
            "id": block.get("id"),
            "title": block.get("title", ""),
            "retry": Retry(retry["attempts"], float(retry.get("backoff", DEFAULT_BACKOFF)))
            if retry
            else None,
            "on_error": on_error if isinstance(on_error, str) else "steps",
            "recover": self.steps((*path, "on_error")) if isinstance(on_error, list) else (),
        }
        if "action" in block:
            connection, _, action = block["action"].partition(".")
            return ActionStep(
                **common,
                connection=connection,
                action=action,
                input=c.value(*path, "with") or CompiledValue({}),
            )
        if "if" in block:
            return IfStep(
                **common,
                condition=c.template(*path, "if"),
                then=self.steps((*path, "then")),
                otherwise=self.steps((*path, "else")),
            )
        if "for_each" in block:
            return ForEachStep(
                **common,
                items=c.template(*path, "for_each"),
                item=block.get("as", DEFAULT_ITEM),
                concurrency=block.get("concurrency", 1),
                steps=self.steps((*path, "steps")),
            )
        if "set" in block:
            values = {name: _value(c, *path, "set", name) for name in block["set"]}
            return SetStep(**common, values=values)
        if "stop" in block:
            stop = block["stop"]
            message = c.template(*path, "stop", "message") if "message" in stop else None
            return StopStep(**common, status=stop["status"], message=message)
        return CallStep(
            **common,
            recipe=self.callee(path, block["recipe"]),
            input=c.value(*path, "with") or CompiledValue({}),
        )

    def callee(self, path: KeyPath, target: str) -> Recipe:
        """The recipe a step calls, loaded and checked; a stand-in when it cannot be."""
        file = Path(self.document.file).parent / target
        key = file.resolve()
        where = (*path, "recipe")
        if key in self.calling:
            chain = " → ".join(p.name for p in (*self.calling[self.calling.index(key) :], key))
            return self._broken(
                where, f"the recipe calls itself ({chain}); a recipe cannot recurse"
            )
        if not file.is_file():
            return self._broken(where, f"no recipe file {str(file)!r}")
        try:
            recipe = self.loader.load(file, self.calling)
        except RecipeError as exc:
            self.callee_problems.extend(exc.problems)
            return _placeholder()
        self.callees.append(recipe)
        return recipe

    def _broken(self, path: KeyPath, message: str) -> Recipe:
        self.compiler.problem(path, message)
        return _placeholder()


def _placeholder() -> Recipe:
    """A stand-in for a callee that failed to load; its problems are reported instead."""
    return Recipe("", "", "", "", {}, ManualTrigger({}, ()), {}, (), {})


def _value(c: Compiler, *path: str | int) -> CompiledValue:
    return c.value(*path) or CompiledValue(None)


def _seconds(every: str) -> float:
    return float(int(every[:-1]) * _UNITS[every[-1]])
