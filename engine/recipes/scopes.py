"""Scopes: what a recipe's template may read where it is written, and each reference checked.

The static checks (``hookline.recipes.checks``) walk a recipe in the order its steps run and carry a
``Scope``: the root names a template there may read, with the shapes their schemas give, the
steps that ran before it and the variables set so far. ``References`` checks every data
reference of a template against that scope, as a typed data pill would: a name that does not
exist, a step that has not run yet (or runs later, or inside a loop), a variable never set, an
environment variable that is not set, and a field the schema does not have
(``{{ trigger.subjct }}`` names the fields the event does have; JMESPath would read null).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hookline.documents.loader import Document, KeyPath, format_path
from hookline.errors import Problem, suggest
from hookline.expr.templates import CompiledValue, Template
from hookline.recipes.inputs import is_plain
from hookline.recipes.model import ForEachStep, Step, branches
from hookline.recipes.shapes import Shape, ShapeError, did_you_mean, json_type
from hookline.spec.scopes import bare_literal


@dataclass(frozen=True, slots=True)
class Scope:
    """What a template may read: root names with their shapes, visible steps and variables."""

    names: Mapping[str, Shape | None]
    steps: Mapping[str, Shape | None] = field(default_factory=dict)
    vars: frozenset[str] = frozenset()

    def with_name(self, name: str, shape: Shape | None) -> Scope:
        """This scope with one more root name."""
        return replace(self, names={**self.names, name: shape})


@dataclass(frozen=True, slots=True)
class Declared:
    """Where a step id is written, and the for_each whose body holds it, if any."""

    path: KeyPath
    loop: ForEachStep | None


class References:
    """The data-reference checks of one recipe, recording problems on a shared list.

    ``declare`` records where every step id is written before the steps are checked, so a
    reference to a step that has not run yet can say why. ``env`` is the environment the
    recipe will run in; None when it is not known (``hookline validate``), and then only the
    form of ``env.NAME`` is checked. An unset variable is a problem, or goes to ``unset``
    when that list is given (``validate --strict-env`` shows them as warnings).
    """

    def __init__(
        self,
        document: Document,
        env: Mapping[str, str] | None,
        problems: list[Problem],
        unset: list[Problem] | None = None,
    ) -> None:
        self.document = document
        self.env = env
        self.problems = problems
        self.unset = problems if unset is None else unset
        self.declared: dict[str, Declared] = {}

    def problem(self, path: KeyPath, message: str, *, key: bool = False) -> None:
        """Record a problem at ``path`` of the recipe."""
        self.problems.append(self.document.problem(path, message, key=key))

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
                    self.declared[step.id] = Declared(step.path, loop)
            self.declare(step.recover, loop)
            for branch in branches(step):
                self.declare(branch, loop)
            if isinstance(step, ForEachStep):
                self.declare(step.steps, step)

    def single(self, template: Template, path: KeyPath, scope: Scope, example: str) -> Shape | None:
        """Check a template that must be one expression (an ``if``, a ``for_each``)."""
        compiled = template.source == _written(self.document.data, path)
        if compiled and not template.is_single:
            self.problem(path, f'{path[-1]} takes one {{{{ expression }}}}, e.g. "{example}"')
        return self.template(template, path, scope)

    def value(self, value: CompiledValue, path: KeyPath, scope: Scope) -> Shape | None:
        """Check the templates inside ``value``; the shape of a value that is one template."""
        shapes = {inner: self.template(t, (*path, *inner), scope) for inner, t in value.templates()}
        if value.is_static:
            return Shape.of({"type": json_type(value.value)}, format_path(path))
        return shapes.get(())

    def template(self, template: Template, path: KeyPath, scope: Scope) -> Shape | None:
        """Check every reference; the shape of the template's value when it is a plain path."""
        fallbacks = _env_with_fallback(template)
        shapes = [
            self.reference(ref, path, scope)
            for ref in template.references()
            if not (len(ref) == 2 and ref[0] == "env" and ref[1] in fallbacks)
        ]
        plain = template.is_single and is_plain(template.expressions[0])
        return shapes[0] if plain and len(shapes) == 1 else None

    def reference(self, ref: tuple[str | int, ...], path: KeyPath, scope: Scope) -> Shape | None:
        """Check one data reference; the shape of what it reads."""
        if not ref or not isinstance(ref[0], str):
            return None
        root, rest = ref[0], ref[1:]
        shown = _show(ref)
        if root not in scope.names:
            allowed = sorted(scope.names)
            self.problem(
                path,
                f"{shown}: "
                + (
                    bare_literal(root)
                    or f"unknown name {root!r}{did_you_mean(root, allowed)}; "
                    f"here an expression reads {', '.join(allowed)}"
                ),
            )
            return None
        if root == "env":
            self.environment(rest, shown, path)
            return None
        if not rest or not isinstance(rest[0], str):
            return scope.names[root]
        name = rest[0]
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

    def environment(self, rest: tuple[str | int, ...], shown: str, path: KeyPath) -> None:
        """Check ``env.NAME``: one variable, named as a variable can be, set where known."""
        problem = env_problem(rest)
        if problem is not None:
            self.problem(path, f"{shown}: {problem}")
            return
        name = str(rest[0])
        if self.env is not None and name not in self.env:
            where = self.document.problem(
                path, f"{shown}: the environment variable {name!r} is not set"
            )
            self.unset.append(where)

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

    def unseen_step(self, name: str, path: KeyPath, scope: Scope) -> str:
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

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def env_problem(rest: tuple[str | int, ...]) -> str | None:
    """What is wrong with reading ``env`` followed by ``rest``, or None for ``env.NAME``."""
    if not rest or not isinstance(rest[0], str):
        return "read one environment variable by its name: env.NAME"
    if not _ENV_NAME.fullmatch(rest[0]):
        return (
            f"{rest[0]!r} is not an environment variable name "
            "(letters, digits and '_', not starting with a digit)"
        )
    if len(rest) > 1:
        return f"an environment variable is text, so env.{rest[0]} has no {_show(rest[1:])!r}"
    return None


def _written(data: Any, path: KeyPath) -> Any:
    """The value at ``path`` as the document holds it."""
    for part in path:
        data = data[part]
    return data


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
