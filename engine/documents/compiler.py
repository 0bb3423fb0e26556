"""Compiling a loaded document's expressions, with every failure kept as a located problem.

Specs, recipes and the plugins' builders (auth types, paginators, verifiers) compile their
templates and JMESPath expressions through a ``Compiler``. A failure does not stop the
compiler: it records a ``Problem`` at the value's file, line and column and hands back a
stand-in, so one ``hookline validate`` reports every bad expression at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hookline.documents.loader import Document
from hookline.errors import ExpressionError, InvalidDocumentError, Problem
from hookline.expr.templates import CompiledValue, Expression, Expressions, Template

Path = tuple[str | int, ...]


class Compiler:
    """Compiles the values of one document below ``base`` (a key path), collecting problems."""

    def __init__(
        self,
        document: Document,
        expressions: Expressions,
        base: Path = (),
        problems: list[Problem] | None = None,
    ) -> None:
        self.document = document
        self.expressions = expressions
        self.base = base
        self.problems: list[Problem] = [] if problems is None else problems

    def at(self, *path: str | int) -> Compiler:
        """A compiler for the block at ``path`` below this one, sharing the problem list."""
        return Compiler(self.document, self.expressions, self.base + path, self.problems)

    def root(self, *path: str | int) -> Compiler:
        """A compiler for the block at the absolute ``path``, sharing the problem list."""
        return Compiler(self.document, self.expressions, path, self.problems)

    def get(self, *path: str | int, default: Any = None) -> Any:
        """The raw value at ``path`` below the base, or ``default`` when it is absent."""
        value: Any = self.document.data
        for key in self.base + path:
            if isinstance(key, int):
                if not isinstance(value, list) or key >= len(value):
                    return default
            elif not isinstance(value, dict) or key not in value:
                return default
            value = value[key]
        return value

    def problem(self, path: Sequence[str | int], message: str, *, key: bool = False) -> None:
        """Record a problem at ``path`` below the base."""
        self.problems.append(self.document.problem(self.base + tuple(path), message, key=key))

    def value(self, *path: str | int) -> CompiledValue | None:
        """Compile the templates in the value at ``path``; None when the value is absent."""
        raw = self.get(*path, default=_ABSENT)
        if raw is _ABSENT:
            return None
        try:
            return self.expressions.compile_value(raw)
        except ExpressionError as exc:
            self._expression_problem(path, exc)
            return self.expressions.compile_value(None)

    def template(self, *path: str | int) -> Template:
        """Compile the text template at ``path`` (an absent value compiles as empty text)."""
        raw = self.get(*path, default="")
        try:
            return self.expressions.compile(str(raw))
        except ExpressionError as exc:
            self._expression_problem(path, exc)
            return self.expressions.compile("")

    def expression(self, *path: str | int) -> Expression | None:
        """Compile the bare JMESPath expression at ``path``; None when it is absent."""
        raw = self.get(*path, default=None)
        if raw is None:
            return None
        try:
            return self.expressions.compile_expression(str(raw))
        except ExpressionError as exc:
            self._expression_problem(path, exc)
            return self.expressions.compile_expression("`null`")

    def _expression_problem(self, path: Sequence[str | int], exc: ExpressionError) -> None:
        self.problem(path, str(exc))

    def raise_if_problems(self, error: type[InvalidDocumentError]) -> None:
        """Raise ``error`` with every recorded problem, sorted by position, if there are any."""
        if self.problems:
            raise error(sorted(self.problems, key=_position))


def _position(problem: Problem) -> tuple[str, int, int]:
    return (problem.file or "", problem.line or 0, problem.column or 0)


_ABSENT = object()
