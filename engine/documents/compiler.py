"""Compiling a loaded document's expressions, with every failure kept as a located problem.

Specs, recipes and the plugins' builders (auth types, paginators, verifiers) compile their
templates and JMESPath expressions through a ``Compiler``. A failure does not stop the
compiler: it records a ``Problem`` and hands back a stand-in, so one ``hookline validate``
reports every bad expression at once. The problem is located at the line and column of the
mistake itself where the expression is written verbatim in the file (else at its value),
and names the value's own key path: a block of values (``with:``) is compiled value by
value, so one bad template stands in as null for its own key only, and is not read as the
whole block missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hookline.documents.loader import Document, format_path
from hookline.errors import ExpressionError, InvalidDocumentError, Problem
from hookline.expr.syntax import pointer
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
        return CompiledValue(self._tree(raw, tuple(path)))

    def _tree(self, raw: Any, path: Path) -> Any:
        """``raw`` with each text holding ``{{`` compiled, or a null stand-in where it fails."""
        if isinstance(raw, str):
            if "{{" not in raw:
                return raw
            try:
                return self.expressions.compile(raw)
            except ExpressionError as exc:
                self._expression_problem(path, exc)
                return self.expressions.compile(_NULL)
        if isinstance(raw, dict):
            return {key: self._tree(item, (*path, key)) for key, item in raw.items()}
        if isinstance(raw, list):
            return [self._tree(item, (*path, index)) for index, item in enumerate(raw)]
        return raw

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
        """A problem at the column of the mistake where the expression is found verbatim."""
        full = self.base + tuple(path)
        found = self.document.find(full, exc.expression) if exc.column else None
        if found is None:
            self.problem(path, str(exc))
            return
        line, column = found
        column += (exc.column or 1) - 1
        message = f"{exc.detail}:\n{pointer(exc.expression, (exc.column or 1) - 1)}"
        self.problems.append(Problem(message, self.document.file, line, column, format_path(full)))

    def raise_if_problems(self, error: type[InvalidDocumentError]) -> None:
        """Raise ``error`` with every recorded problem, sorted by position, if there are any."""
        if self.problems:
            raise error(sorted(self.problems, key=_position))


def _position(problem: Problem) -> tuple[str, int, int]:
    return (problem.file or "", problem.line or 0, problem.column or 0)


_ABSENT = object()
_NULL = "{{ `null` }}"
"""What a template that does not compile stands in as, so the checks after it go on."""
