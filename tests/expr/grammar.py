"""Hypothesis strategies for the differential tests: JSON documents and JMESPath texts.

Documents use a few keys (``KEYS``) that expressions also read, so fields hit as often as they
miss, and they mix every JSON type with the values where JMESPath and Python disagree: ``0``
and ``1`` beside ``true`` and ``false``, ``1.0`` beside ``1``, empty text, lists and objects.

Expressions are written as text over the whole grammar: identifiers (bare and quoted), ``@``,
literals and raw strings, sub-expressions, indexes, slices (negative and zero steps), list,
object, slice, flatten and filter projections, multi-select lists and hashes, comparisons,
``&&``, ``||``, ``!``, pipes, parentheses, and calls of every JMESPath function and of some
registered ones, with the right number of arguments mostly, ``&expressions`` where a function
takes one, and arguments of any type. Operands are parenthesised or not at random, so
projections both continue into what follows and stop at a parenthesis. A text may still fail
to parse; the test skips those.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from jmespath.functions import Functions  # type: ignore[import-untyped, unused-ignore]

KEYS = ("a", "b", "c", "foo", "with space")
"""The keys documents use and expressions read."""

PLUGIN_FUNCTIONS = {
    "apply": 2,
    "default": 2,
    "json_encode": 1,
    "lower": 1,
    "split": 2,
    "to_int": 1,
    "where": 3,
}
"""Registered functions calls may name, with their number of arguments (none is random)."""

_TEXT = st.text(alphabet="ab0 -.é", max_size=4)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 3),
    st.integers(),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, -2.5, 1e300]),
    st.floats(allow_nan=False, allow_infinity=False),
    _TEXT,
    st.sampled_from(KEYS),
)


def documents() -> st.SearchStrategy[Any]:
    """JSON values, nested, with keys from ``KEYS`` mostly; objects at the top mostly."""
    keys = st.one_of(st.sampled_from(KEYS), _TEXT)
    values = st.recursive(
        _SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(keys, inner, max_size=4),
        ),
        max_leaves=14,
    )
    return st.one_of(st.dictionaries(st.sampled_from(KEYS), values, max_size=5), values)


def expressions() -> st.SearchStrategy[str]:
    """JMESPath texts over the whole grammar."""
    return st.recursive(_atoms(), _compounds, max_leaves=12)


# ---------------------------------------------------------------- pieces


def _identifier() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(KEYS[:4]),
        st.sampled_from(KEYS).map(json.dumps),
        st.just("missing"),
    )


def _literal() -> st.SearchStrategy[str]:
    json_values = st.recursive(
        _SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
        max_leaves=5,
    )
    return json_values.map(lambda value: "`" + json.dumps(value).replace("`", "\\`") + "`")


def _raw_string() -> st.SearchStrategy[str]:
    return st.one_of(_TEXT, st.sampled_from(KEYS)).map(lambda text: f"'{text}'")


def _number() -> st.SearchStrategy[str]:
    return st.integers(-4, 4).map(str)


def _slice() -> st.SearchStrategy[str]:
    part = st.one_of(st.just(""), _number())
    step = st.one_of(st.just(""), st.just(":"), _number().map(lambda n: f":{n}"))
    return st.tuples(part, part, step).map(lambda p: f"{p[0]}:{p[1]}{p[2]}")


def _atoms() -> st.SearchStrategy[str]:
    return st.one_of(
        _identifier(),
        _identifier(),
        st.just("@"),
        _literal(),
        _raw_string(),
        st.sampled_from(["*", "[*]", "[]"]),
        _number().map(lambda n: f"[{n}]"),
        _slice().map(lambda s: f"[{s}]"),
    )


def _group(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """The text as it is, or in parentheses."""
    return st.tuples(inner, st.booleans()).map(lambda p: f"({p[0]})" if p[1] else p[0])


def _join(template: str, *parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map(lambda values: template.format(*values))


def _compounds(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    operand = _group(inner)
    pairs = st.lists(st.tuples(_identifier(), inner), min_size=1, max_size=3)
    hashes = pairs.map(lambda items: "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}")
    lists = st.lists(inner, min_size=1, max_size=3).map(lambda items: f"[{', '.join(items)}]")
    call = _calls(inner)
    return st.one_of(
        # sub-expressions: what may follow a dot
        _join("{}.{}", operand, _identifier()),
        _join("{}.{}", operand, st.one_of(hashes, lists, call, st.just("*"))),
        # brackets: index, slice, projections, filters
        _join("{}[{}]", operand, _number()),
        _join("{}[{}]", operand, _slice()),
        _join("{}{}", operand, st.sampled_from(["[*]", "[]", ".*"])),
        _join("{}[?{}]", operand, inner),
        _join("[?{}]", inner),
        # operators
        _join("{} {} {}", operand, st.sampled_from(_COMPARATORS), operand),
        _join("{} {} {}", operand, st.sampled_from(["&&", "||", "|"]), operand),
        _join("!{}", operand),
        _join("({})", inner),
        _join("&{}", operand),
        hashes,
        lists,
        call,
        call,
    )


_COMPARATORS = ["==", "!=", "<", "<=", ">", ">="]
_BUILTINS: dict[str, list[dict[str, Any]]] = {
    name: entry["signature"] for name, entry in Functions.FUNCTION_TABLE.items()
}


def _calls(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A call of a JMESPath or registered function, arguments mostly right in number."""
    expref = inner.map(lambda text: f"&{text}")
    names = st.sampled_from(sorted(_BUILTINS) + sorted(PLUGIN_FUNCTIONS))

    def arguments(name: str) -> st.SearchStrategy[str]:
        if name in _BUILTINS:
            signature = _BUILTINS[name]
            kinds: list[Callable[[], st.SearchStrategy[str]]] = [
                (lambda: st.one_of(expref, expref, inner))
                if "expref" in parameter["types"]
                else (lambda: st.one_of(inner, inner, inner, expref))
                for parameter in signature
            ]
            extra = 2 if signature and signature[-1].get("variadic") else 0
        else:
            kinds = [lambda: st.one_of(inner, expref)] * PLUGIN_FUNCTIONS[name]
            extra = 0
        count = st.one_of(
            st.just(len(kinds)),
            st.just(len(kinds)),
            st.integers(max(0, len(kinds) - 1), len(kinds) + 1 + extra),
        )
        return count.flatmap(
            lambda n: st.tuples(
                *(kinds[min(i, len(kinds) - 1)]() if kinds else inner for i in range(n))
            ).map(", ".join)
        )

    return names.flatmap(lambda name: arguments(name).map(lambda args: f"{name}({args})"))
