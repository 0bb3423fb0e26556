"""Expression functions: what a plugin registers, and how every call of a function is checked.

JMESPath's own functions are fixed; plugins add more through the ``register_functions`` hook,
each an ``ExpressionFunction`` with a typed signature. This module holds the
table of them (a name registered twice, or one JMESPath already has, is a ``PluginError``
naming the plugins), and the checks of a call: the number of arguments when an expression
compiles (``check_calls``), their types before each call, for JMESPath's functions too.

A call given the wrong type says which argument and what was expected:
``totp(): argument 1 (secret) is null; expected text``. A null argument is most often a field
or connection value that is not set, so naming the parameter points the reader at it.

No function may make text larger than ``MAX_VALUE_BYTES`` (``hookline.expr.budgets``):
JMESPath's ``join`` and ``to_string`` are measured before they build, and every function's
text is measured after.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jmespath  # type: ignore[import-untyped, unused-ignore]
from jmespath.functions import Functions  # type: ignore[import-untyped, unused-ignore]
from jmespath.visitor import _Expression  # type: ignore[import-untyped, unused-ignore]

from hookline.errors import ExpressionError, PluginError
from hookline.expr.budgets import MAX_VALUE_BYTES, TooLarge, too_large, value_size
from hookline.expr.syntax import call_positions, error, nodes
from hookline.plugins.manager import collect, flatten
from hookline.plugins.records import ExpressionFunction

if TYPE_CHECKING:
    import pluggy

BUILTIN_FUNCTIONS = frozenset(Functions.FUNCTION_TABLE)
"""JMESPath's own functions, which a plugin cannot replace."""

_WORDS = {
    "any": "any value",
    "array": "a list",
    "boolean": "a boolean",
    "expref": "an &expression",
    "null": "null",
    "number": "a number",
    "object": "a mapping",
    "string": "text",
}
_ITEM_WORDS = {
    "any": "values",
    "array": "lists",
    "boolean": "booleans",
    "expref": "&expressions",
    "null": "nulls",
    "number": "numbers",
    "object": "mappings",
    "string": "text",
}


# ---------------------------------------------------------------- the table


def function_table(functions: Iterable[ExpressionFunction]) -> dict[str, ExpressionFunction]:
    """The functions by name; a name given twice or one JMESPath has is a ``PluginError``."""
    table: dict[str, ExpressionFunction] = {}
    for function in functions:
        if function.name in BUILTIN_FUNCTIONS:
            raise PluginError(_replaces_builtin(function.name, ""))
        if function.name in table:
            raise PluginError(f"expression function {function.name}() is registered twice")
        table[function.name] = function
    return table


def plugin_functions(pm: pluggy.PluginManager) -> list[ExpressionFunction]:
    """Every plugin's ``register_functions``, checked.

    A name registered twice, or one that would replace a JMESPath function, is a
    ``PluginError`` naming the plugins involved.
    """
    owners: dict[str, str] = {}
    found: list[ExpressionFunction] = []
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
        found.append(function)
    return found


def _replaces_builtin(name: str, source: str) -> str:
    return (
        f"expression function {name}(){source} would replace JMESPath's own function of that "
        "name; choose another name"
    )


def jmespath_options(table: Mapping[str, ExpressionFunction]) -> Any:
    """JMESPath options whose functions are its own plus ``table``'s, every call checked."""
    return jmespath.Options(custom_functions=_Functions(table))


class _Functions(Functions):  # type: ignore[misc]
    """JMESPath's functions and the registered ones, arguments checked with hookline's words."""

    def __init__(self, table: Mapping[str, ExpressionFunction]) -> None:
        super().__init__()
        self.table = table

    def call_function(self, function_name: str, resolved_args: list[Any]) -> Any:
        """Call a registered function, or hand the call to JMESPath's own; text within budget."""
        function = self.table.get(function_name)
        if function is None:
            _measure_first(function_name, resolved_args)
            result = super().call_function(function_name, resolved_args)
        else:
            result = _call(function, resolved_args)
        if isinstance(result, str) and len(result) > MAX_VALUE_BYTES:
            raise CallError(function_name, too_large("the text"))
        return result

    def _type_check(
        self, actual: list[Any], signature: Sequence[Mapping[str, Any]], function_name: str
    ) -> None:
        """JMESPath's check of its own functions' arguments, failing as ``_call`` does."""
        for index, (value, parameter) in enumerate(zip(actual, signature, strict=False)):
            types = tuple(parameter["types"])
            if types and not _accepts(types, value):
                raise CallError(function_name, _mismatch(index, None, types, value))


# ---------------------------------------------------------------- calls


def _measure_first(name: str, args: Sequence[Any]) -> None:
    """Refuse a call of JMESPath's ``join`` or ``to_string`` whose text would be too large.

    Both build their text in one go, so the size is worked out from the arguments first.
    """
    if name == "join" and len(args) == 2 and isinstance(args[1], list):
        separator = args[0] if isinstance(args[0], str) else ""
        size = len(separator) * max(len(args[1]) - 1, 0)
        for item in args[1]:
            size += len(item) if isinstance(item, str) else 0
            if size > MAX_VALUE_BYTES:
                raise CallError(name, too_large("the joined text"))
    elif name == "to_string" and args and not isinstance(args[0], str):
        try:
            value_size(args[0], "the text")
        except TooLarge as exc:
            raise CallError(name, str(exc)) from None


class CallError(Exception):
    """A function refused its arguments; carried out of JMESPath to the expression."""

    def __init__(self, function: str, message: str) -> None:
        self.function = function
        self.message = message
        super().__init__(message)


def _call(function: ExpressionFunction, args: Sequence[Any]) -> Any:
    """Check the types of ``args`` (their number was checked at compile time), then call."""
    for index, value in enumerate(args):
        types = function.signature[min(index, len(function.signature) - 1)]
        if not _accepts(types, value):
            parameter = function.parameter(index)
            raise CallError(function.name, _mismatch(index, parameter, types, value))
    try:
        return function.function(*args)
    except ExpressionError as exc:
        raise CallError(function.name, str(exc)) from exc
    except Exception as exc:  # a plugin's bug reaches the user as an expression error
        raise CallError(function.name, f"failed: {type(exc).__name__}: {exc}") from exc


def type_of(value: Any) -> str:
    """The JMESPath type name of ``value`` (a Python type name for what JSON cannot hold)."""
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


def _accepts(types: Sequence[str], value: Any) -> bool:
    actual = type_of(value)
    for name in types:
        kind, _, item = name.partition("-")
        if kind == "any" or (
            kind == actual and (not item or all(type_of(v) == item for v in value))
        ):
            return True
    return False


def _mismatch(index: int, parameter: str | None, types: Sequence[str], value: Any) -> str:
    """``argument 1 (secret) is null; expected text``."""
    named = f" ({parameter})" if parameter else ""
    given = _word(type_of(value))
    items = {name.partition("-")[2] for name in types if name.startswith("array-")}
    if isinstance(value, list) and items:
        odd = [type_of(v) for v in value if type_of(v) not in items]
        given = f"a list holding {_word(odd[0])}" if odd else "a list of mixed types"
    return f"argument {index + 1}{named} is {given}; expected {type_words(types)}"


def type_words(types: Sequence[str]) -> str:
    """``text or a number``: JMESPath type names as a reader says them."""
    names = []
    for name in types:
        kind, dash, item = name.partition("-")
        names.append(f"a list of {_ITEM_WORDS[item]}" if dash else _word(kind))
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _word(kind: str) -> str:
    return _WORDS.get(kind, kind)


# ---------------------------------------------------------------- compile-time checks


def check_calls(
    source: str, tree: Mapping[str, Any], table: Mapping[str, ExpressionFunction]
) -> None:
    """Refuse a call of an unknown function, or one with the wrong number of arguments.

    The ``ExpressionError`` marks the function's name in ``source``, and suggests the closest
    known name for an unknown one.
    """
    calls = [node for node in nodes(tree) if node["type"] == "function_expression"]
    if not calls:
        return
    positions = call_positions(source)
    seen: Counter[str] = Counter()
    for node in calls:
        name, count = node["value"], len(node["children"])
        found = positions.get(name, [])
        position = found[seen[name]] if seen[name] < len(found) else 0
        seen[name] += 1
        arity = _arity(name, table)
        if arity is None:
            known = sorted(BUILTIN_FUNCTIONS | set(table))
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}()?)" if close else ""
            raise error(f"unknown function {name}(){hint}", source, position)
        low, high = arity
        if count < low or (high is not None and count > high):
            raise error(
                f"{name}() takes {_arity_text(low, high)} but is given {count}", source, position
            )


def _arity(name: str, table: Mapping[str, ExpressionFunction]) -> tuple[int, int | None] | None:
    if name in table:
        return table[name].min_args, table[name].max_args
    if name in BUILTIN_FUNCTIONS:
        signature = Functions.FUNCTION_TABLE[name]["signature"]
        variadic = bool(signature) and signature[-1].get("variadic", False)
        return len(signature), None if variadic else len(signature)
    return None


def _arity_text(low: int, high: int | None) -> str:
    def count(n: int) -> str:
        return f"{n} argument{'' if n == 1 else 's'}"

    if high is None:
        return f"at least {count(low)}"
    if low == high:
        return "no arguments" if low == 0 else f"exactly {count(low)}"
    return f"{low} to {count(high)}"
