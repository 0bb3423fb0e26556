"""Loading a recipe: YAML with positions, the recipe JSON Schema, the compiled model, the checks.

``load_recipe`` reads the YAML with positions, validates it against the recipe JSON Schema,
compiles every template into the frozen dataclasses of ``hookline.recipes.model``, loads each
recipe a step calls, and runs the static checks of ``hookline.recipes.checks``. Every problem of
the recipe and of the recipes it calls is reported at once, located, before anything is sent to
a platform.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hookline.documents.compiler import Compiler
from hookline.documents.loader import Document, KeyPath, load_document
from hookline.documents.schema_errors import schema_problems
from hookline.errors import Problem, RecipeError
from hookline.expr.templates import CompiledValue
from hookline.recipes.checks import check_recipe
from hookline.recipes.model import (
    DEFAULT_BACKOFF,
    DEFAULT_ITEM,
    DEFAULT_MAX_ITEMS,
    ActionStep,
    CallStep,
    EventTrigger,
    ForEachStep,
    IfStep,
    ManualTrigger,
    Recipe,
    RecipeConnection,
    RecipeTrigger,
    Retry,
    SetStep,
    Step,
    StopStep,
    SwitchStep,
    Until,
    WaitStep,
)
from hookline.recipes.tables import load_tables, recipe_expressions, table_problems
from hookline.spec.catalog import Catalog, base_schema

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_WAIT = 86400
"""The longest a ``wait`` step may wait (or poll for), in seconds: a day."""


class _ProcessEnvironment(Mapping[str, str]):
    """``os.environ`` as it is when read, written ``os.environ`` in a signature.

    ``load_recipe``'s default: ``os.environ`` itself would print every variable, secrets
    included, in ``help(load_recipe)``.
    """

    def __getitem__(self, name: str) -> str:
        return os.environ[name]

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)

    def __repr__(self) -> str:
        return "os.environ"


def load_recipe(
    path: Path,
    catalog: Catalog,
    *,
    env: Mapping[str, str] | None = _ProcessEnvironment(),
    connectors: Mapping[str, str] | None = None,
    unset_env: list[Problem] | None = None,
    text: str | None = None,
) -> Recipe:
    """Load, compile and statically check the recipe at ``path`` and every recipe it calls.

    ``env`` is the environment the recipe will run in (``env.NAME`` must be set there); None
    when it is not known, as when validating in CI without secrets: then ``env.NAME`` is
    checked for its form only. With ``unset_env`` given, references to variables ``env``
    lacks are added to it rather than refused. ``connectors`` names the connector of each
    connection in the connections file, so that a connection given by name is checked like
    one written in place; a name the file lacks that names a connector stands for a
    connection of that connector. ``text`` gives the recipe's content (``path`` then only
    names it and locates the recipes it calls). Raises ``RecipeError`` with every located
    problem.
    """
    loader = _Loader(catalog, env, connectors or {}, unset_env)
    return loader.load(Path(path), (), text)


class _Loader:
    """Loads a recipe tree once per file, refusing a recipe that ends up calling itself."""

    def __init__(
        self,
        catalog: Catalog,
        env: Mapping[str, str] | None,
        named: Mapping[str, str],
        unset_env: list[Problem] | None,
    ) -> None:
        self.catalog = catalog
        self.env = env
        self.named = named
        self.unset_env = unset_env
        self.loaded: dict[Path, Recipe] = {}

    def connector_of(self, name: str) -> str | None:
        """The connector of connections-file entry ``name``; a connector's own name stands
        for a connection of that connector when the file has no such entry."""
        if name in self.named:
            return self.named[name]
        return name if name in self.catalog.connectors else None

    def load(self, path: Path, calling: tuple[Path, ...], text: str | None = None) -> Recipe:
        """Load ``path`` (called from the recipes ``calling``), or the copy loaded before."""
        key = path.resolve()
        if key in self.loaded and text is None:
            return self.loaded[key]
        document = load_document(path, error=RecipeError, text=text)
        if not _looks_like_a_recipe(document.data):
            raise RecipeError([document.problem((), _not_a_recipe(document.data))])
        problems = schema_problems(document, base_schema("recipe-v1"))
        if problems:
            raise RecipeError(problems)
        tables, problems = load_tables(document)
        expressions = recipe_expressions(self.catalog.expressions, tables)
        builder = _Builder(Compiler(document, expressions), self, (*calling, key))
        recipe = builder.recipe()
        problems += [*builder.compiler.problems, *builder.callee_problems]
        problems += table_problems(document, tables, expressions)
        problems += check_recipe(recipe, document, self.catalog, self.env, self.unset_env)
        if problems:
            raise RecipeError(sorted(set(problems), key=_order))
        self.loaded[key] = recipe
        return recipe


def _looks_like_a_recipe(data: Any) -> bool:
    """Whether ``data`` has a key of a recipe's own, so that its schema problems (a misspelt
    ``recipe:``) help more than one line saying it is something else."""
    return isinstance(data, dict) and not {"recipe", "trigger", "steps"}.isdisjoint(data)


def _not_a_recipe(data: Any) -> str:
    """What a document that is no recipe is, and what a recipe looks like."""
    spec = isinstance(data, dict) and "spec" in data
    what = "a connector spec, not a recipe" if spec else "not a recipe"
    shape = "a mapping whose first key is `recipe: NAME`, with `trigger` and `steps`"
    return f"{what}: a recipe is {shape}"


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
            return RecipeConnection(name, self.loader.connector_of(block), block, {}, path)
        values = {
            key: _value(self.compiler, *path, key)
            for key in block
            if key not in ("connector", "connection")
        }
        named = block.get("connection")
        connector = block.get("connector") or (self.loader.connector_of(named) if named else None)
        if named is None and not values and self.loader.named.get(name) == connector:
            named = name  # `connector:` alone: the values of the file's entry of this name
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
        every, jitter, alert_after = (block.get(k) for k in ("every", "jitter", "alert_after"))
        return EventTrigger(
            connection=connection,
            trigger=name,
            input=self.compiler.value("trigger", "with") or CompiledValue({}),
            every=_seconds(every) if every else None,
            cron=block.get("cron"),
            path=path,
            timezone=block.get("timezone"),
            jitter=_seconds(jitter) if jitter is not None else None,
            alert_after=_seconds(alert_after) if alert_after else None,
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
                max_pages=block.get("max_pages"),
            )
        if "if" in block:
            return IfStep(
                **common,
                condition=c.template(*path, "if"),
                then=self.steps((*path, "then")),
                otherwise=self.steps((*path, "else")),
            )
        if "switch" in block:
            return SwitchStep(
                **common,
                value=c.template(*path, "switch"),
                cases={key: self.steps((*path, "cases", key)) for key in block["cases"]},
                default=self.steps((*path, "default")),
            )
        if "wait" in block:
            return self.wait(path, block["wait"], common)
        if "for_each" in block:
            return ForEachStep(
                **common,
                items=c.template(*path, "for_each"),
                item=block.get("as", DEFAULT_ITEM),
                concurrency=block.get("concurrency", 1),
                steps=self.steps((*path, "steps")),
                max_items=block.get("max_items", DEFAULT_MAX_ITEMS),
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

    def wait(self, path: KeyPath, block: Any, common: dict[str, Any]) -> WaitStep:
        """A wait: a duration, or an action called until a condition holds."""
        where: KeyPath = (*path, "wait")
        if isinstance(block, str):
            return WaitStep(**common, seconds=self.duration(where, block))
        connection, _, action = block["action"].partition(".")
        every = self.duration((*where, "every"), block["every"])
        timeout = self.duration((*where, "timeout"), block["timeout"])
        if every > timeout:
            self.compiler.problem(
                (*where, "every"),
                f"every ({block['every']}) is longer than the timeout ({block['timeout']}): "
                "the action would be called once",
            )
        until = Until(
            connection=connection,
            action=action,
            input=self.compiler.value(*where, "with") or CompiledValue({}),
            condition=self.compiler.template(*where, "until"),
            every=every,
        )
        return WaitStep(**common, seconds=timeout, until=until)

    def duration(self, path: KeyPath, text: str) -> float:
        """Seconds of a duration; one longer than ``MAX_WAIT`` is a problem."""
        seconds = _seconds(text)
        if seconds > MAX_WAIT:
            self.compiler.problem(
                path,
                f"{text} is longer than a wait may be ({MAX_WAIT // 3600:g} hours); a job "
                "that waits holds its place, so wait for longer with a polling trigger",
            )
        return seconds

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


def _seconds(duration: str) -> float:
    """Seconds in ``5m``, ``30s``, ``2h``, ``1d`` (or ``0``)."""
    if duration == "0":
        return 0.0
    return float(int(duration[:-1]) * _UNITS[duration[-1]])
