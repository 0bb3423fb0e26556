"""The expression language: JMESPath inside ``{{ }}``, compiled once at load, run many times.

Everything dynamic in a spec or recipe is a JMESPath expression between ``{{`` and ``}}``.
A value that is exactly one ``{{ expr }}`` (whitespace around it allowed) renders to the
expression's value with its type; text around expressions makes a string, in which null is
empty, text is itself, and numbers, booleans, arrays and objects are compact JSON. Nothing else
is interpreted: no Python, no Jinja, no eval, so an expression can read its context and call the
registered functions, and nothing more.

``Expressions`` is the runtime: JMESPath's own functions plus those that plugins add through the
``register_functions`` hook, each an ``ExpressionFunction`` whose arguments are checked against
its signature before it runs. Compiling checks syntax, function names and argument counts, so a
mistake fails at load (``hookline validate``) with a caret under the column, never mid-recipe.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import itertools
import json
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import jmespath  # type: ignore[import-untyped, unused-ignore]
from jmespath import exceptions as jmespath_errors  # type: ignore[import-untyped, unused-ignore]
from jmespath.functions import Functions  # type: ignore[import-untyped, unused-ignore]
from jmespath.lexer import Lexer  # type: ignore[import-untyped, unused-ignore]
from jmespath.visitor import _Expression  # type: ignore[import-untyped, unused-ignore]

from .errors import ExpressionError, PluginError
from .plugins import collect, flatten

if TYPE_CHECKING:
    import pluggy

Path = tuple[str | int, ...]
"""A field path into the context: keys, and list indexes as written (negative from the end)."""

TYPE_NAMES = frozenset({"any", "array", "boolean", "expref", "null", "number", "object", "string"})
"""The JMESPath type names a signature may use; ``array-<type>`` also checks every item."""

BUILTIN_FUNCTIONS = frozenset(Functions.FUNCTION_TABLE)
"""JMESPath's own functions, which a plugin cannot replace."""

_CACHE_SIZE = 4096
_ONE_LINE = str.maketrans("\n\r\t\v\f", "     ")
_WINDOW = 76
_OPERATORS = frozenset(
    {"dot", "pipe", "or", "and", "eq", "ne", "gt", "gte", "lt", "lte", "not", "comma", "colon",
     "lbracket", "lbrace", "lparen", "filter", "expref"}
)  # fmt: skip


# ---------------------------------------------------------------- functions


@dataclass(frozen=True, slots=True)
class ExpressionFunction:
    """A function added to the expression language, as a plugin's ``register_functions`` gives it.

    ``signature`` holds, per parameter, the JMESPath type names it accepts (``string``,
    ``number``, ``boolean``, ``array``, ``object``, ``null``, ``expref``, ``any``, or
    ``array-<type>`` for an array whose items all have that type). The last ``optional``
    parameters may be left out, and a ``variadic`` function's last parameter may repeat.
    Arguments are checked against the signature, then ``function`` is called with them
    positionally; it returns JSON-shaped data and reports bad input by raising
    ``ExpressionError`` with a sentence naming what was wrong.
    """

    name: str
    function: Callable[..., Any]
    signature: tuple[tuple[str, ...], ...]
    description: str
    optional: int = 0
    variadic: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or not self.name.isascii():
            raise PluginError(f"expression function name {self.name!r} is not an identifier")
        for types in self.signature:
            if not types or not all(map(_valid_type, types)):
                raise PluginError(
                    f"expression function {self.name}() has a parameter with types {types!r}; "
                    f"use {', '.join(sorted(TYPE_NAMES))} or array-<type>"
                )
        if not 0 <= self.optional <= len(self.signature) or (self.variadic and not self.signature):
            raise PluginError(
                f"expression function {self.name}() declares more optional or variadic "
                "parameters than its signature has"
            )
        if not self.description.strip():
            raise PluginError(f"expression function {self.name}() has no description")
        self._check_callable()

    @property
    def min_args(self) -> int:
        """The fewest arguments a call may pass."""
        return len(self.signature) - self.optional

    @property
    def max_args(self) -> int | None:
        """The most arguments a call may pass; None when the last parameter repeats."""
        return None if self.variadic else len(self.signature)

    @property
    def usage(self) -> str:
        """How a call reads, e.g. ``parse_time(value: string|number, format?: string)``."""
        names = _parameter_names(self.function)
        params = []
        for index, types in enumerate(self.signature):
            name = names[index] if index < len(names) else f"arg{index + 1}"
            mark = "?" if index >= self.min_args else ""
            repeat = "..." if self.variadic and index == len(self.signature) - 1 else ""
            params.append(f"{name}{mark}: {'|'.join(types)}{repeat}")
        return f"{self.name}({', '.join(params)})"

    def _check_callable(self) -> None:
        try:
            bind = inspect.signature(self.function).bind
        except (TypeError, ValueError):  # some callables cannot be introspected; trust them
            return
        counts = {self.min_args, len(self.signature), len(self.signature) + int(self.variadic)}
        for count in sorted(counts):
            try:
                bind(*([None] * count))
            except TypeError:
                raise PluginError(
                    f"expression function {self.name}() cannot be called with {count} "
                    "arguments, which its signature allows"
                ) from None


def _valid_type(name: str) -> bool:
    kind, dash, item = name.partition("-")
    return kind in TYPE_NAMES and (not dash or (kind == "array" and item in TYPE_NAMES))


def _parameter_names(function: Callable[..., Any]) -> list[str]:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind is not p.KEYWORD_ONLY]


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, _Expression):
        return "expref"
    return type(value).__name__


def _accepts(types: tuple[str, ...], value: Any) -> bool:
    actual = _type_of(value)
    for name in types:
        kind, _, item = name.partition("-")
        if kind == "any" or (
            kind == actual and (not item or all(_type_of(v) == item for v in value))
        ):
            return True
    return False


class _CallError(Exception):
    """A registered function refused its arguments; carried out of JMESPath to the expression."""

    def __init__(self, function: str, message: str) -> None:
        self.function = function
        self.message = message
        super().__init__(message)


def _call(function: ExpressionFunction, args: Sequence[Any]) -> Any:
    """Check the types of ``args`` (their number was checked at compile time), then call."""
    for index, value in enumerate(args):
        types = function.signature[min(index, len(function.signature) - 1)]
        if not _accepts(types, value):
            raise _CallError(
                function.name,
                f"argument {index + 1} must be {' or '.join(types)}, not {_type_of(value)}",
            )
    try:
        return function.function(*args)
    except ExpressionError as exc:
        raise _CallError(function.name, str(exc)) from exc
    except Exception as exc:  # a plugin's bug reaches the user as an expression error
        raise _CallError(function.name, f"failed: {type(exc).__name__}: {exc}") from exc


def _arity_text(low: int, high: int | None) -> str:
    def count(n: int) -> str:
        return f"{n} argument{'' if n == 1 else 's'}"

    if high is None:
        return f"at least {count(low)}"
    if low == high:
        return "no arguments" if low == 0 else f"exactly {count(low)}"
    return f"{low} to {count(high)}"


def _functions_class(table: Mapping[str, ExpressionFunction]) -> type:
    """A ``jmespath.functions.Functions`` subclass that also dispatches to ``table``."""

    def call_function(self: Any, function_name: str, resolved_args: list[Any]) -> Any:
        function = table.get(function_name)
        if function is None:
            return Functions.call_function(self, function_name, resolved_args)
        return _call(function, resolved_args)

    return type("HooklineFunctions", (Functions,), {"call_function": call_function})


# ---------------------------------------------------------------- compiled objects


@dataclass(frozen=True, slots=True)
class Expression:
    """One compiled JMESPath expression: ``source`` as written, at ``offset`` in its template."""

    source: str
    offset: int
    parsed: Any = field(repr=False, compare=False)
    options: Any = field(repr=False, compare=False)

    def search(self, data: Any) -> Any:
        """Evaluate against ``data``; every failure is an ``ExpressionError`` naming the source."""
        try:
            return self.parsed.search(data, options=self.options)
        except _CallError as exc:
            raise self._error(f"{exc.function}(): {exc.message}", exc.function) from exc
        except jmespath_errors.JMESPathTypeError as exc:
            raise self._error(
                f"{exc.function_name}() expects {' or '.join(exc.expected_types)}, "
                f"not {_type_of(exc.current_value)}",
                exc.function_name,
            ) from None
        except jmespath_errors.JMESPathError as exc:
            raise self._error(str(exc), None) from None
        except ArithmeticError as exc:
            raise self._error(f"arithmetic failed: {exc}", None) from None
        except RecursionError:
            raise self._error("the data is nested too deeply to evaluate", None) from None

    def references(self) -> Iterator[Path]:
        """The field paths this expression reads from the root of its data, each once.

        ``trigger.tags[0].key`` reads ``("trigger", "tags", 0, "key")``. Where a path stops being
        knowable (a projection, filter or flatten, a function's result) the known prefix is
        reported: ``trigger.tags[*].key`` reads ``("trigger", "tags")``, ``length(steps.a.items)``
        reads ``("steps", "a", "items")``. Every operand of a comparison, ``||``, ``&&``, ``!``,
        function call and multi-select is reported; ``()`` means the whole root (``@``).
        """
        path, reads = _reads(self.parsed.parsed, ())
        return iter(dict.fromkeys([*reads, *_known(path)]))

    def _error(self, detail: str, function: str | None) -> ExpressionError:
        positions = _call_positions(self.source).get(function or "", [0])
        return _error(f"cannot evaluate: {detail}", self.source, positions[0])


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
        return "".join(
            part if isinstance(part, str) else _text(part.search(data), part) for part in self.parts
        )

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
        table: dict[str, ExpressionFunction] = {}
        for function in functions:
            if function.name in BUILTIN_FUNCTIONS:
                raise PluginError(_replaces_builtin(function.name, ""))
            if function.name in table:
                raise PluginError(f"expression function {function.name}() is registered twice")
            table[function.name] = function
        self.functions: Mapping[str, ExpressionFunction] = MappingProxyType(table)
        self._options = jmespath.Options(custom_functions=_functions_class(table)())
        self._template = functools.lru_cache(maxsize=_CACHE_SIZE)(self._parse_template)
        self._expression = functools.lru_cache(maxsize=_CACHE_SIZE)(self._parse_expression)

    @classmethod
    def from_plugins(cls, pm: pluggy.PluginManager) -> Expressions:
        """Build the runtime from every plugin's ``register_functions``.

        A name registered twice, or one that would replace a JMESPath function, is a
        ``PluginError`` naming the plugins involved.
        """
        owners: dict[str, str] = {}
        table: dict[str, ExpressionFunction] = {}
        for plugin, function in flatten(collect(pm, "register_functions")):
            if not isinstance(function, ExpressionFunction):
                raise PluginError(
                    f"plugin {plugin!r} returned {type(function).__name__} from "
                    "register_functions; expected ExpressionFunction objects"
                )
            name = function.name
            if name in BUILTIN_FUNCTIONS:
                raise PluginError(_replaces_builtin(name, f" (plugin {plugin!r})"))
            if owners.get(name) == plugin:
                raise PluginError(f"plugin {plugin!r} registers expression function {name}() twice")
            if name in owners:
                raise PluginError(
                    f"expression function {name}() is registered by both plugin "
                    f"{owners[name]!r} and plugin {plugin!r}; uninstall one of them"
                )
            owners[name] = plugin
            table[name] = function
        return cls(table.values())

    def compile(self, text: str, *, where: str = "") -> Template:
        """Compile a text with ``{{ }}`` expressions; ``where`` prefixes any error message."""
        try:
            return self._template(text)
        except ExpressionError as exc:
            raise _located(exc, where) from None

    def compile_expression(self, text: str, *, where: str = "") -> Expression:
        """Compile a bare JMESPath expression (a field such as ``select`` or ``records``)."""
        try:
            return self._expression(text)
        except ExpressionError as exc:
            raise _located(exc, where) from None

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
            end = _closing(text, start)
            if start > position:
                parts.append(text[position:start])
            inner = text[start + 2 : end]
            offset = start + 2 + len(inner) - len(inner.lstrip())
            if not inner.strip():
                raise _error("empty expression", text, start)
            parts.append(self._compile(inner.strip(), offset))
            position = end + 2
        if position < len(text):
            parts.append(text[position:])
        return Template(text, tuple(parts))

    def _parse_expression(self, text: str) -> Expression:
        source = text.strip()
        offset = len(text) - len(text.lstrip())
        if not source:
            raise _error("empty expression", text, 0)
        if source.startswith("{{"):
            raise _error("this field takes a bare JMESPath expression, without '{{ }}'", source, 0)
        return self._compile(source, offset)

    def _compile(self, source: str, offset: int) -> Expression:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", PendingDeprecationWarning)
                parsed = jmespath.compile(source)
        except PendingDeprecationWarning:
            raise _error(
                "a `literal` must hold JSON; write text as 'text'", source, source.find("`")
            ) from None
        except jmespath_errors.JMESPathError as exc:
            raise _syntax_error(source, exc) from None
        except RecursionError:
            raise _error("the expression is nested too deeply", source, 0) from None
        self._check_calls(source, parsed.parsed)
        return Expression(source, offset, parsed, self._options)

    def _check_calls(self, source: str, tree: Mapping[str, Any]) -> None:
        calls = [node for node in _nodes(tree) if node["type"] == "function_expression"]
        if not calls:
            return
        positions = _call_positions(source)
        seen: Counter[str] = Counter()
        for node in calls:
            name, count = node["value"], len(node["children"])
            found = positions.get(name, [])
            position = found[seen[name]] if seen[name] < len(found) else 0
            seen[name] += 1
            arity = self._arity(name)
            if arity is None:
                known = sorted(BUILTIN_FUNCTIONS | set(self.functions))
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]}()?)" if close else ""
                raise _error(f"unknown function {name}(){hint}", source, position)
            low, high = arity
            if count < low or (high is not None and count > high):
                raise _error(
                    f"{name}() takes {_arity_text(low, high)} but is given {count}",
                    source,
                    position,
                )

    def _arity(self, name: str) -> tuple[int, int | None] | None:
        if name in self.functions:
            function = self.functions[name]
            return function.min_args, function.max_args
        if name in BUILTIN_FUNCTIONS:
            signature = Functions.FUNCTION_TABLE[name]["signature"]
            variadic = bool(signature) and signature[-1].get("variadic", False)
            return len(signature), None if variadic else len(signature)
        return None


def _replaces_builtin(name: str, source: str) -> str:
    return (
        f"expression function {name}(){source} would replace JMESPath's own function of that "
        "name; choose another name"
    )


def _key_path(where: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else str(key)


def _located(exc: ExpressionError, where: str) -> ExpressionError:
    if not where:
        return exc
    return ExpressionError(f"{where}: {exc}", expression=exc.expression, column=exc.column)


# ---------------------------------------------------------------- references


def _reads(node: dict[str, Any], current: Path | None) -> tuple[Path | None, list[Path]]:
    """The path of ``node``'s value (None when unknowable) and the other paths it reads.

    ``current`` is the path of the value ``node`` is evaluated against; None inside
    projections, whose items have no path a schema could check.
    """
    kind = node["type"]
    children = [child for child in node["children"] if isinstance(child, dict)]
    if kind == "field":
        return (None if current is None else (*current, node["value"])), []
    if kind in ("current", "identity"):
        return current, []
    if kind in ("subexpression", "pipe"):
        path, reads = current, []
        for child in children:
            path, more = _follow(child, path)
            reads += more
        return path, reads
    if kind == "index_expression":
        path, reads = _reads(children[0], current)
        for index in children[1:]:
            if index["type"] != "index" or path is None:
                return None, reads + _known(path)
            path = (*path, index["value"])
        return path, reads
    if kind in ("projection", "value_projection", "filter_projection", "flatten"):
        path, reads = _reads(children[0], current)
        return None, reads + _known(path)
    if kind == "expref":  # evaluated later, against values a function picks
        return None, []
    reads = []
    for child in children:
        path, more = _reads(child, current)
        reads += more + _known(path)
    return None, reads


def _follow(node: dict[str, Any], base: Path | None) -> tuple[Path | None, list[Path]]:
    """``_reads`` for a node applied to ``base``, reporting ``base`` if nothing extends it."""
    path, reads = _reads(node, base)
    if base and not any(p[: len(base)] == base for p in [*reads, *_known(path)]):
        reads = [*reads, base]
    return path, reads


def _known(path: Path | None) -> list[Path]:
    return [] if path is None else [path]


# ---------------------------------------------------------------- scanning and messages


def _closing(text: str, start: int) -> int:
    """The index of the ``}}`` closing the ``{{`` at ``start``.

    Braces of JMESPath hashes nest, and quoted text is skipped, so ``{{ {a: b} }}`` and
    ``{{ '}}' }}`` close where a reader expects.
    """
    depth = 0
    index = start + 2
    while index < len(text):
        char = text[index]
        if char in "'\"`":
            index = _skip_quoted(text, index)
            continue
        if char == "{":
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        elif char == "}" and text.startswith("}}", index):
            return index
        index += 1
    raise _error("'{{' is not closed by '}}'", text, start)


def _skip_quoted(text: str, start: int) -> int:
    quote = text[start]
    index = start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
        elif text[index] == quote:
            return index + 1
        else:
            index += 1
    raise _error(f"the quote {quote} is not closed", text, start)


def _nodes(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every node of a JMESPath syntax tree, in the order its text reads."""
    yield node
    children = node["children"]
    if node["type"] == "filter_projection":
        children = [children[0], children[2], children[1]]
    for child in children:
        if isinstance(child, dict):  # slice children are plain numbers
            yield from _nodes(child)


def _call_positions(source: str) -> dict[str, list[int]]:
    """Where each function is called in ``source``: name → offsets of its name, in order."""
    positions: defaultdict[str, list[int]] = defaultdict(list)
    tokens = list(Lexer().tokenize(source))
    for token, after in itertools.pairwise(tokens):
        if token["type"] == "unquoted_identifier" and after["type"] == "lparen":
            positions[token["value"]].append(token["start"])
    return positions


def _syntax_error(source: str, exc: Any) -> ExpressionError:
    if isinstance(exc, jmespath_errors.LexerError):
        return _error(_lexer_detail(exc), source, exc.lexer_position)
    if not isinstance(exc, jmespath_errors.ParseError):
        return _error(str(exc), source, 0)
    if isinstance(exc, jmespath_errors.IncompleteExpressionError) or exc.token_type == "EOF":
        last = list(Lexer().tokenize(source))[-2]  # the token before the end
        shown = source[last["start"] :].strip()
        if last["type"] in _OPERATORS:
            return _error(f"expected an expression after {shown!r}", source, len(source))
        return _error(f"the expression ends too early after {shown!r}", source, len(source))
    if str(exc.msg).startswith(("Invalid function name", "Quoted identifier")):
        return _error("only a plain name can be called as a function", source, exc.lex_position)
    return _error(f"unexpected {_describe(exc)}", source, exc.lex_position)


def _lexer_detail(exc: Any) -> str:
    message = str(exc.message)
    if message.startswith("Unknown token"):
        hint = " (did you mean '=='?)" if exc.lexer_value == "=" else ""
        return f"unexpected character {exc.lexer_value!r}{hint}"
    if message.startswith("Unclosed"):
        return f"the quote {message.split()[1]} is not closed"
    if message.startswith("Bad token"):
        return "a `literal` must hold JSON"
    return message[:1].lower() + message[1:]


def _describe(exc: Any) -> str:
    kind, value = exc.token_type, exc.token_value
    if kind == "LITERAL":
        return "literal"
    if kind == "NUMBER":
        return f"number {value}"
    if kind.endswith("IDENTIFIER"):
        return f"name {value!r}"
    return repr(str(value))


def _error(detail: str, text: str, position: int) -> ExpressionError:
    """An error whose message ends with ``text`` and a caret under ``position``."""
    return ExpressionError(
        f"{detail} at column {position + 1}:\n{_pointer(text, position)}",
        expression=text,
        column=position + 1,
    )


def _pointer(text: str, position: int) -> str:
    line = text.translate(_ONE_LINE)
    if len(line) <= _WINDOW:
        return f"  {line}\n  {' ' * position}^"
    start = max(0, min(position - _WINDOW // 2, len(line) - _WINDOW))
    prefix = "..." if start else ""
    suffix = "..." if start + _WINDOW < len(line) else ""
    shown = prefix + line[start : start + _WINDOW] + suffix
    return f"  {shown}\n  {' ' * (position - start + len(prefix))}^"
