"""The syntax of expressions: scanning templates, walking parsed trees, pointing at columns.

Three readings of an expression's text that the compiler and the static checks share:

- scanning: where the ``}}`` closing a ``{{`` is (JMESPath braces nest, quotes are skipped),
  and where each function is called;
- the syntax tree JMESPath parses: its nodes in reading order, and the field paths an
  expression reads from its data (``Expression.references``);
- messages: every ``ExpressionError`` ends with the expression and a caret under the column,
  and JMESPath's own syntax errors are reworded as sentences.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from jmespath import exceptions as jmespath_errors  # type: ignore[import-untyped, unused-ignore]
from jmespath.lexer import Lexer  # type: ignore[import-untyped, unused-ignore]

from hookline.errors import ExpressionError

Path = tuple[str | int, ...]
"""A field path into the context: keys, and list indexes as written (negative from the end)."""

_ONE_LINE = str.maketrans("\n\r\t\v\f", "     ")
_WINDOW = 76
_OPERATORS = frozenset(
    {"dot", "pipe", "or", "and", "eq", "ne", "gt", "gte", "lt", "lte", "not", "comma", "colon",
     "lbracket", "lbrace", "lparen", "filter", "expref"}
)  # fmt: skip


# ---------------------------------------------------------------- scanning


def closing(text: str, start: int) -> int:
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
    raise error("'{{' is not closed by '}}'", text, start)


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
    raise error(f"the quote {quote} is not closed", text, start)


def call_positions(source: str) -> dict[str, list[int]]:
    """Where each function is called in ``source``: name → offsets of its name, in order."""
    positions: defaultdict[str, list[int]] = defaultdict(list)
    tokens = list(Lexer().tokenize(source))
    for token, after in itertools.pairwise(tokens):
        if token["type"] == "unquoted_identifier" and after["type"] == "lparen":
            positions[token["value"]].append(token["start"])
    return positions


# ---------------------------------------------------------------- syntax trees


def nodes(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every node of a JMESPath syntax tree, in the order its text reads."""
    yield node
    children = node["children"]
    if node["type"] == "filter_projection":
        children = [children[0], children[2], children[1]]
    for child in children:
        if isinstance(child, dict):  # slice children are plain numbers
            yield from nodes(child)


def read_paths(tree: dict[str, Any]) -> list[Path]:
    """The field paths an expression's syntax ``tree`` reads from the root of its data, once each.

    See ``Expression.references`` for what is reported where a path stops being knowable.
    """
    path, reads = _reads(tree, ())
    return list(dict.fromkeys([*reads, *_known(path)]))


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


def check_negations(source: str, tree: Mapping[str, Any]) -> None:
    """Refuse ``!a.b``: JMESPath reads it as ``(!a).b`` (``!a[0]`` reads as it looks).

    ``!`` binds to the name right after it, and the rest of the path is then read from true
    or false, which always gives null, so ``!vars.ticket`` is never true. The error puts a
    caret under the ``!`` and shows how to negate the whole path.
    """
    negations = [node for node in nodes(tree) if node["type"] == "not_expression"]
    misread = {
        id(node["children"][0])
        for node in nodes(tree)
        if node["type"] == "subexpression"
        and node["children"]
        and isinstance(node["children"][0], dict)
        and node["children"][0]["type"] == "not_expression"
    }
    if not misread:
        return
    starts = [t["start"] for t in Lexer().tokenize(source) if t["type"] == "not"]
    for index, node in enumerate(negations):
        if id(node) in misread:
            position = starts[index] if index < len(starts) else 0
            raise error(
                "`!` applies only to the name right after it, and the rest of the path is "
                "then read from true or false, which is always null; put the path in "
                "parentheses, as in !(vars.ticket)",
                source,
                position,
            )


# ---------------------------------------------------------------- messages


def error(detail: str, text: str, position: int) -> ExpressionError:
    """An error whose message ends with ``text`` and a caret under ``position``."""
    return ExpressionError(
        f"{detail} at column {position + 1}:\n{pointer(text, position)}",
        expression=text,
        column=position + 1,
        detail=detail,
    )


def located(exc: ExpressionError, where: str) -> ExpressionError:
    """``exc`` with ``where`` (a key path, or nothing) in front of its message."""
    if not where:
        return exc
    return ExpressionError(
        f"{where}: {exc}",
        expression=exc.expression,
        column=exc.column,
        detail=f"{where}: {exc.detail}",
    )


def syntax_error(source: str, exc: Any) -> ExpressionError:
    """JMESPath's lexer or parser error ``exc`` as a sentence with a caret."""
    if isinstance(exc, jmespath_errors.LexerError):
        return error(_lexer_detail(exc), source, exc.lexer_position)
    if not isinstance(exc, jmespath_errors.ParseError):
        return error(str(exc), source, 0)
    if isinstance(exc, jmespath_errors.IncompleteExpressionError) or exc.token_type == "EOF":
        last = list(Lexer().tokenize(source))[-2]  # the token before the end
        shown = source[last["start"] :].strip()
        if last["type"] in _OPERATORS:
            return error(f"expected an expression after {shown!r}", source, len(source))
        return error(f"the expression ends too early after {shown!r}", source, len(source))
    if str(exc.msg).startswith(("Invalid function name", "Quoted identifier")):
        return error("only a plain name can be called as a function", source, exc.lex_position)
    return error(f"unexpected {_describe(exc)}", source, exc.lex_position)


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


def pointer(text: str, position: int) -> str:
    """``text`` on one line (a window of it, if long) and a caret under ``position``."""
    line = text.translate(_ONE_LINE)
    if len(line) <= _WINDOW:
        return f"  {line}\n  {' ' * position}^"
    start = max(0, min(position - _WINDOW // 2, len(line) - _WINDOW))
    prefix = "..." if start else ""
    suffix = "..." if start + _WINDOW < len(line) else ""
    shown = prefix + line[start : start + _WINDOW] + suffix
    return f"  {shown}\n  {' ' * (position - start + len(prefix))}^"
