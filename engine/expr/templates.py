"""The expression language: JMESPath inside ``{{ }}``, compiled once at load, run many times.

Everything dynamic in a spec or recipe is a JMESPath expression between ``{{`` and ``}}``.
A value that is exactly one ``{{ expr }}`` (whitespace around it allowed) renders to the
expression's value with its type; text around expressions makes a string, in which null is
empty, text is itself, and numbers, booleans, arrays and objects are compact JSON. Nothing else
is interpreted: no Python, no Jinja, no eval, so an expression can read its context and call the
registered functions, and nothing more.

``Expressions`` is the runtime: JMESPath's own functions plus those that plugins add through the
``register_functions`` hook, each an ``ExpressionFunction`` whose arguments are checked against
its signature before it runs (``hookline.expr.functions``). Compiling checks syntax,
function names and argument counts, so a mistake fails at load (``hookline validate``) with a
caret under the column (``hookline.expr.syntax``), never mid-recipe.

Every evaluation runs within the budgets of ``hookline.expr.budgets``: a bounded number of
steps, and no value it makes (a multi-select, a function's result, a template's text) larger
than ``MAX_VALUE_BYTES``. What an expression only reads from its context is not measured:
it was measured, or parsed within a size cap, when it was made.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import jmespath  # type: ignore[import-untyped, unused-ignore]
from jmespath import exceptions as jmespath_errors  # type: ignore[import-untyped, unused-ignore]

from hookline.errors import ExpressionError
from hookline.expr.budgets import (
    MAX_VALUE_BYTES,
    OverBudget,
    start_evaluation,
    too_large,
    value_size,
)
from hookline.expr.closures import Evaluator, compile_ast
from hookline.expr.functions import (
    CallError,
    check_calls,
    function_table,
    jmespath_options,
    plugin_functions,
    type_of,
    type_words,
)
from hookline.expr.syntax import (
    Path,
    call_positions,
    check_negations,
    closing,
    error,
    located,
    nodes,
    read_paths,
    syntax_error,
)
from hookline.plugins.records import ExpressionFunction

if TYPE_CHECKING:
    import pluggy

__all__ = [
    "CompiledValue",
    "Expression",
    "Expressions",
    "Template",
    "compact_json",
    "truthy",
]

_CACHE_SIZE = 4096
_BUILDERS = frozenset({"multi_select_list", "multi_select_dict", "function_expression"})
_FAILURES = (
    OverBudget,
    CallError,
    jmespath_errors.JMESPathError,
    ArithmeticError,
    RecursionError,
)
"""What an evaluation may raise that is an ``ExpressionError`` to the user."""
_UNCOUNTED = frozenset(
    {
        "and_expression",
        "comparator",
        "current",
        "field",
        "identity",
        "index",
        "index_expression",
        "key_val_pair",
        "literal",
        "multi_select_dict",
        "multi_select_list",
        "not_expression",
        "or_expression",
        "pipe",
        "slice",
        "subexpression",
    }
)
"""Nodes whose compiled closures spend no steps (``hookline.expr.closures``): an expression of
these alone takes as many steps as it has nodes, so its step budget needs no setting."""


# ---------------------------------------------------------------- compiled objects


@dataclass(frozen=True, slots=True)
class Expression:
    """One compiled JMESPath expression: ``source`` as written, at ``offset`` in its template.

    ``builds`` says whether it can make a value (a multi-select or a function call) rather
    than only read one from its data: only then is its result measured. ``counts`` says
    whether it takes steps that count against the step budget (a projection, filter, flatten
    or function call): only then is the budget set before it runs.
    """

    source: str
    offset: int
    parsed: Any = field(repr=False, compare=False)
    options: Any = field(repr=False, compare=False)
    evaluate: Evaluator = field(repr=False, compare=False)
    builds: bool = field(default=True, repr=False, compare=False)
    counts: bool = field(default=True, repr=False, compare=False)

    def search(self, data: Any) -> Any:
        """Evaluate against ``data``; every failure is an ``ExpressionError`` naming the source.

        Within the budgets of ``hookline.expr.budgets``: a bounded number of steps, and a
        result (where the expression builds one) within ``MAX_VALUE_BYTES``.
        """
        try:
            if self.counts:
                start_evaluation()
            result = self.evaluate(data)
            if self.builds:
                value_size(result, "the result")
            return result
        except _FAILURES as exc:
            raise self._failure(exc) from (exc if isinstance(exc, CallError) else None)

    def search_each(self, values: Iterable[Any]) -> list[Any]:
        """``search`` of each of ``values``, in order, each evaluation within its own budgets.

        One call for a page of records: the work per record is only what the expression asks
        for, and measuring the result where it builds one.
        """
        evaluate = self.evaluate
        try:
            if not self.counts and not self.builds:
                return [evaluate(value) for value in values]
            results = []
            for value in values:
                if self.counts:
                    start_evaluation()
                result = evaluate(value)
                if self.builds:
                    value_size(result, "the result")
                results.append(result)
            return results
        except _FAILURES as exc:
            raise self._failure(exc) from (exc if isinstance(exc, CallError) else None)

    def _failure(self, exc: BaseException) -> ExpressionError:
        """The ``ExpressionError`` that the failure ``exc`` of an evaluation is."""
        if isinstance(exc, CallError):
            return self._error(f"{exc.function}(): {exc.message}", exc.function)
        if isinstance(exc, jmespath_errors.JMESPathTypeError):  # raised in JMESPath's functions
            return self._error(
                f"{exc.function_name}(): a value is {type_words([type_of(exc.current_value)])}; "
                f"expected {type_words(exc.expected_types)}",
                exc.function_name,
            )
        if isinstance(exc, ArithmeticError):
            return self._error(f"arithmetic failed: {exc}", None)
        if isinstance(exc, RecursionError):
            return self._error("the data is nested too deeply to evaluate", None)
        return self._error(str(exc), None)  # over a budget, or JMESPath's own error

    def references(self) -> Iterator[Path]:
        """The field paths this expression reads from the root of its data, each once.

        ``trigger.tags[0].key`` reads ``("trigger", "tags", 0, "key")``. Where a path stops being
        knowable (a projection, filter or flatten, a function's result) the known prefix is
        reported: ``trigger.tags[*].key`` reads ``("trigger", "tags")``, ``length(steps.a.items)``
        reads ``("steps", "a", "items")``. Every operand of a comparison, ``||``, ``&&``, ``!``,
        function call and multi-select is reported; ``()`` means the whole root (``@``).
        """
        return iter(read_paths(self.parsed.parsed))

    def _error(self, detail: str, function: str | None) -> ExpressionError:
        positions = call_positions(self.source).get(function or "", [0])
        return error(f"cannot evaluate: {detail}", self.source, positions[0])


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled text with ``{{ }}`` expressions: literal text and ``Expression`` parts."""

    source: str
    parts: tuple[str | Expression, ...]

    @property
    def expressions(self) -> tuple[Expression, ...]:
        """The expressions in the order they appear."""
        return tuple(part for part in self.parts if isinstance(part, Expression))

    @property
    def is_single(self) -> bool:
        """True when the text is one expression with only whitespace around it.

        Such a template renders to the expression's value, keeping its type.
        """
        return len(self.expressions) == 1 and all(
            isinstance(part, Expression) or not part.strip() for part in self.parts
        )

    def render(self, context: Mapping[str, Any]) -> Any:
        """The expression's own value when ``is_single``, otherwise the text with values in it."""
        data = context if isinstance(context, dict) else dict(context)
        if self.is_single:
            return self.expressions[0].search(data)
        pieces = []
        size = 0
        for part in self.parts:
            piece = part if isinstance(part, str) else _text(part.search(data), part)
            size += len(piece)
            if size > MAX_VALUE_BYTES and not isinstance(part, str):
                raise error(f"cannot evaluate: {too_large('the text')}", self.source, part.offset)
            pieces.append(piece)
        return "".join(pieces)

    def references(self) -> Iterator[Path]:
        """The context paths the expressions read, each once, in order of appearance."""
        return iter(dict.fromkeys(p for e in self.expressions for p in e.references()))


@dataclass(frozen=True, slots=True)
class CompiledValue:
    """A JSON-shaped value whose strings with ``{{`` are compiled templates.

    Mapping keys are never templates. Rendering builds fresh containers, so a caller may change
    what it gets without touching the compiled value.
    """

    value: Any

    @property
    def is_static(self) -> bool:
        """True when nothing inside is a template: rendering gives the value as written."""
        return next(self.templates(), None) is None

    def render(self, context: Mapping[str, Any]) -> Any:
        """The value with every template rendered against ``context``."""
        data = context if isinstance(context, dict) else dict(context)
        return _render(self.value, data)

    def templates(self) -> Iterator[tuple[Path, Template]]:
        """Every template inside, with its key path from the top of the value."""
        return _templates(self.value, ())


def _render(value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, Template):
        return value.render(context)
    if isinstance(value, dict):
        return {key: _render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, context) for item in value]
    return value


def _templates(value: Any, path: Path) -> Iterator[tuple[Path, Template]]:
    if isinstance(value, Template):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _templates(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _templates(item, (*path, index))


def truthy(value: Any) -> bool:
    """JMESPath truth: null, false and empty text, lists and objects are false; 0 is true."""
    if value is None or value is False:
        return False
    return not (isinstance(value, str | list | dict) and not value)


def compact_json(value: Any) -> str:
    """``value`` as compact JSON text; ``ExpressionError`` when it is not JSON data."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ExpressionError(f"the value is not JSON data: {exc}") from None
    except RecursionError:
        raise ExpressionError("the value is nested too deeply to write as JSON") from None


def _text(value: Any, expression: Expression) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return compact_json(value)
    except ExpressionError as exc:
        raise expression._error(str(exc), None) from None


# ---------------------------------------------------------------- the runtime


class Expressions:
    """The expression runtime: JMESPath plus registered functions; compiles and caches.

    Compiled templates are immutable and cached by their text, so compiling the same text
    again is cheap and safe to share.
    """

    def __init__(self, functions: Iterable[ExpressionFunction] = ()) -> None:
        table = function_table(functions)
        self.functions: Mapping[str, ExpressionFunction] = MappingProxyType(table)
        self._options = jmespath_options(table)
        self._template = functools.lru_cache(maxsize=_CACHE_SIZE)(self._parse_template)
        self._expression = functools.lru_cache(maxsize=_CACHE_SIZE)(self._parse_expression)

    @classmethod
    def from_plugins(cls, pm: pluggy.PluginManager) -> Expressions:
        """Build the runtime from every plugin's ``register_functions``.

        A name registered twice, or one that would replace a JMESPath function, is a
        ``PluginError`` naming the plugins involved.
        """
        return cls(plugin_functions(pm))

    def with_functions(self, functions: Iterable[ExpressionFunction]) -> Expressions:
        """A runtime with ``functions`` added to this one's: a recipe's ``lookup``, bound to
        its tables. A name this runtime has already is a ``PluginError``."""
        return Expressions([*self.functions.values(), *functions])

    def compile(self, text: str, *, where: str = "") -> Template:
        """Compile a text with ``{{ }}`` expressions; ``where`` prefixes the message of an error
        found while compiling (not of one raised when the template renders)."""
        try:
            return self._template(text)
        except ExpressionError as exc:
            raise located(exc, where) from None

    def compile_expression(self, text: str, *, where: str = "") -> Expression:
        """Compile a bare JMESPath expression (a field such as ``select`` or ``records``)."""
        try:
            return self._expression(text)
        except ExpressionError as exc:
            raise located(exc, where) from None

    def compile_value(self, value: Any, *, where: str = "") -> CompiledValue:
        """Compile every string holding ``{{`` inside a JSON-shaped value; the rest stays."""
        return CompiledValue(self._compile_tree(value, where))

    def _compile_tree(self, value: Any, where: str) -> Any:
        if isinstance(value, str):
            return self.compile(value, where=where) if "{{" in value else value
        if isinstance(value, Mapping):
            return {k: self._compile_tree(v, _key_path(where, k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._compile_tree(v, _key_path(where, i)) for i, v in enumerate(value)]
        return value

    def _parse_template(self, text: str) -> Template:
        parts: list[str | Expression] = []
        position = 0
        while (start := text.find("{{", position)) != -1:
            end = closing(text, start)
            if start > position:
                parts.append(text[position:start])
            inner = text[start + 2 : end]
            offset = start + 2 + len(inner) - len(inner.lstrip())
            if not inner.strip():
                raise error("empty expression", text, start)
            parts.append(self._compile(inner.strip(), offset))
            position = end + 2
        if position < len(text):
            parts.append(text[position:])
        return Template(text, tuple(parts))

    def _parse_expression(self, text: str) -> Expression:
        source = text.strip()
        offset = len(text) - len(text.lstrip())
        if not source:
            raise error("empty expression", text, 0)
        if source.startswith("{{"):
            raise error("this field takes a bare JMESPath expression, without '{{ }}'", source, 0)
        return self._compile(source, offset)

    def _compile(self, source: str, offset: int) -> Expression:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", PendingDeprecationWarning)
                parsed = jmespath.compile(source)
        except PendingDeprecationWarning:
            raise error(
                "a `literal` must hold JSON; write text as 'text'", source, source.find("`")
            ) from None
        except jmespath_errors.JMESPathError as exc:
            raise syntax_error(source, exc) from None
        except RecursionError:
            raise error("the expression is nested too deeply", source, 0) from None
        check_calls(source, parsed.parsed, self.functions)
        check_negations(source, parsed.parsed)
        kinds = {node["type"] for node in nodes(parsed.parsed)}
        evaluate = compile_ast(parsed.parsed, self._options)
        builds, counts = not kinds.isdisjoint(_BUILDERS), not kinds <= _UNCOUNTED
        return Expression(source, offset, parsed, self._options, evaluate, builds, counts)


def _key_path(where: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else str(key)
