"""Compiled closures evaluate exactly as jmespath's interpreter does.

A table of cases pins each node type and each edge of the specification (and of jmespath.py
where it departs from it); every case is checked against the interpreter too, so the table
documents jmespath's behaviour rather than this module's. Differential property tests then
compare the two on generated documents and expressions over the whole grammar:
``HOOKLINE_DIFF_EXAMPLES`` sets how many (2000 by default).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import jmespath  # type: ignore[import-untyped, unused-ignore]
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jmespath import exceptions as jmespath_errors  # type: ignore[import-untyped, unused-ignore]
from jmespath import visitor as jmespath_visitor  # type: ignore[import-untyped, unused-ignore]

from hookline.errors import ExpressionError
from hookline.expr.builtins import register_functions
from hookline.expr.closures import compile_ast
from hookline.expr.functions import function_table, jmespath_options
from hookline.expr.templates import Expression, Expressions
from hookline.plugins.records import ExpressionFunction
from tests.expr.grammar import KEYS, documents, expressions


def _apply(ref: Any, value: Any) -> Any:
    return ref.visit(ref.expression, value)


APPLY = ExpressionFunction(
    "apply", _apply, (("expref",), ("any",)), "The expression evaluated against the value."
)
OPTIONS = [None, jmespath_options(function_table([*register_functions(), APPLY]))]
"""jmespath's own functions alone, and with hookline's and ``apply`` (takes an expref)."""

settings.register_profile(
    "differential",
    max_examples=int(os.environ.get("HOOKLINE_DIFF_EXAMPLES", "2000")),
    deadline=None,
    database=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DIFFERENTIAL = settings.get_profile("differential")

_ADDRESS = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def _tagged(value: Any) -> Any:
    """``value`` with every type made explicit, so ``1``, ``1.0`` and ``true`` differ."""
    if value is None or isinstance(value, bool | int):
        return (type(value).__name__, value)
    if isinstance(value, float):
        return ("float", repr(value))
    if isinstance(value, str):
        return ("str", _ADDRESS.sub("<object>", value))
    if isinstance(value, list):
        return ("list", [_tagged(item) for item in value])
    if isinstance(value, dict):
        return (type(value).__name__, [(key, _tagged(item)) for key, item in value.items()])
    if isinstance(value, jmespath_visitor._Expression):
        return ("expref", repr(value.expression))
    return (type(value).__name__, repr(value))


def _outcome(evaluate: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """What ``evaluate`` gives, or the class and message of what it raises."""
    try:
        return ("value", _tagged(evaluate(*args, **kwargs)))
    except Exception as exc:
        return ("raises", type(exc), _ADDRESS.sub("<object>", str(exc)))


def _parse(text: str) -> Any:
    """The parsed expression, or None when ``text`` does not parse (or is not plain JSON)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return jmespath.compile(text)
    except (jmespath_errors.JMESPathError, Warning, RecursionError):
        return None


def _compiled(text: str, options: Any = None) -> Callable[[Any], Any]:
    return compile_ast(jmespath.compile(text).parsed, options)


# ---------------------------------------------------------------- the table


@dataclasses.dataclass(frozen=True)
class Raises:
    """The expected outcome of a case that fails: the exception's class."""

    kind: type[BaseException]


RECORDS = [{"b": 1, "n": "x"}, {"b": 3, "n": "y"}, {"b": 2, "n": "z"}]

CASES: list[tuple[str, Any, Any]] = [
    # fields and sub-expressions: anything without keys gives null
    ("a", {"a": 1}, 1),
    ("a", {"b": 1}, None),
    ("a.b.c", {"a": {"b": {"c": "d"}}}, "d"),
    ("a.b.c", {"a": {"b": 5}}, None),
    ("a.b", {"a": [{"b": 1}]}, None),
    ("a", "text", None),
    ("a", None, None),
    ('"with space"', {"with space": 1}, 1),
    # indexes: lists only, negative from the end, out of range is null
    ("[0]", [1, 2], 1),
    ("[-1]", [1, 2], 2),
    ("[2]", [1, 2], None),
    ("[-3]", [1, 2], None),
    ("[0]", {"0": 1}, None),
    ("[0]", "ab", None),
    ("a[0][1]", {"a": [[1, 2]]}, 2),
    # slices: Python's, lists only, and a projection
    ("[1:3]", [0, 1, 2, 3], [1, 2]),
    ("[::2]", [0, 1, 2, 3, 4], [0, 2, 4]),
    ("[::-1]", [0, 1, 2], [2, 1, 0]),
    ("[-2:]", [0, 1, 2], [1, 2]),
    ("[5:0:-2]", [0, 1, 2, 3, 4, 5], [5, 3, 1]),
    ("[10:]", [0, 1], []),
    ("[:]", "text", None),
    ("[::0]", [1], Raises(ValueError)),
    ("[::0]", {"a": 1}, None),
    ("[:2].a", [{"a": 1}, {"a": 2}, {"a": 3}], [1, 2]),
    # multi-selects: null stays null, anything else builds
    ("{x: a, y: b}", {"a": 1}, {"x": 1, "y": None}),
    ("{x: a}", None, None),
    ("{x: a}", [1], {"x": None}),
    ("{x: a, x: b}", {"a": 1, "b": 2}, {"x": 2}),
    ("[a, b]", {"a": 1, "b": 2}, [1, 2]),
    ("[a, b]", None, None),
    ("a.[b, c]", {"a": {"b": 1}}, [1, None]),
    ("a.{b: b}", {"a": {"b": 1}}, {"b": 1}),
    ("a[*].[b, n]", {"a": RECORDS[:2]}, [[1, "x"], [3, "y"]]),
    # literals and raw strings
    ("`[1, 2]`", None, [1, 2]),
    ('`"x"`', None, "x"),
    ("`null`", {}, None),
    ("'raw'", None, "raw"),
    ("'it\\'s'", None, "it's"),
    # equality: JSON's, where 1 == 1.0 but 0 and 1 are never booleans (at the top level only)
    ("`1` == `1.0`", None, True),
    ("`true` == `1`", None, False),
    ("`0` == `false`", None, False),
    ("`1` != `true`", None, True),
    ("`[1]` == `[true]`", None, True),
    ("a == b", {"a": {"x": [1]}, "b": {"x": [1]}}, True),
    ("a == b", {}, True),
    ("a != b", {"a": 1}, True),
    # ordering: numbers and (in jmespath.py) strings; anything else is null
    ("a < b", {"a": 1, "b": 2}, True),
    ("a < b", {"a": "a", "b": "b"}, True),
    ("a >= b", {"a": 2, "b": 2.0}, True),
    ("a > b", {"a": 1, "b": 2}, False),
    ("a < b", {"a": True, "b": 2}, None),
    ("a < b", {"a": [1], "b": [2]}, None),
    ("a <= b", {"b": 1}, None),
    ("a < b", {"a": 1, "b": "x"}, Raises(TypeError)),
    # truthiness: empty text, list, object, false and null are false; 0 is true
    ("a || b", {"a": 0, "b": 1}, 0),
    ("a || b", {"a": "", "b": 1}, 1),
    ("a || b", {"a": [], "b": {}}, {}),
    ("a && b", {"a": 0, "b": 2}, 2),
    ("a && b", {"a": {}, "b": 2}, {}),
    ("!a", {"a": 0}, False),
    ("!a", {"a": 0.0}, False),
    ("!a", {"a": ""}, True),
    ("!a", {"a": []}, True),
    ("!a", {}, True),
    ("!a", {"a": "x"}, False),
    # pipes stop projections
    ("a[*].b | [0]", {"a": [{"b": 1}, {"b": 2}]}, 1),
    ("a[*].b[0]", {"a": [{"b": 1}, {"b": 2}]}, []),
    ("a | b", {"a": {"b": 1}}, 1),
    # list and object projections drop nulls; the wrong kind of value is null
    ("a[*].b", {"a": [{"b": 1}, {"c": 2}, {"b": None}, {"b": 3}]}, [1, 3]),
    ("a[*]", {"a": [1, None, 2]}, [1, 2]),
    ("a[*]", {"a": {"b": 1}}, None),
    ("a[*].b[*]", {"a": [{"b": [1, None]}, {"b": None}, {"b": []}]}, [[1], []]),
    ("(a[*]).b", {"a": [{"b": 1}]}, None),
    ("*.a", {"x": {"a": 1}, "y": {"a": 2}, "z": 3}, [1, 2]),
    ("*", [1, 2], None),
    ("a.*", {"a": "text"}, None),
    # flatten: one level, lists only
    ("[]", [1, [2, [3]], []], [1, 2, [3]]),
    ("[]", [None, 1], [1]),
    ("[][]", [[1, [2]]], [1, 2]),
    ("a[]", {"a": {"b": 1}}, None),
    ("a[].b", {"a": [[{"b": 1}], {"b": 2}]}, [1, 2]),
    # filters
    ("a[?b == `1`].n", {"a": RECORDS}, ["x"]),
    ("a[?b]", {"a": [{"b": 0}, {"b": ""}, {"b": "x"}, {}]}, [{"b": 0}, {"b": "x"}]),
    ("a[?b > `1`].n", {"a": RECORDS}, ["y", "z"]),
    ("a[?b]", {"a": {"b": 1}}, None),
    ("[?@ > `1`]", [1, 2, 3], [2, 3]),
    ("[?@ == `1`]", [True, 1, 1.0], [1, 1.0]),
    # the current node
    ("@", 5, 5),
    ("a[?@ == `2`]", {"a": [1, 2]}, [2]),
    # functions, with exprefs, and their errors
    ("length(a)", {"a": "abc"}, 3),
    ("length(a)", {"a": 1}, Raises(jmespath_errors.JMESPathTypeError)),
    ("length(a, b)", {}, Raises(jmespath_errors.ArityError)),
    ("nothing(a)", {}, Raises(jmespath_errors.UnknownFunctionError)),
    ("not_null(a, b, `3`)", {}, 3),
    ("to_number('1.5')", None, 1.5),
    ("sort_by(a, &b)[*].n", {"a": RECORDS}, ["x", "z", "y"]),
    ("sort_by(a, &n)", {"a": [{"n": 1}, {"n": "x"}]}, Raises(jmespath_errors.JMESPathTypeError)),
    ("max_by(a, &b).n", {"a": RECORDS}, "y"),
    ("min_by(a, &b).n", {"a": RECORDS}, "x"),
    ("map(&b, a)", {"a": [{"b": 1}, {}]}, [1, None]),
    ("map(&[b, n], a[:1])", {"a": RECORDS}, [[1, "x"]]),
    ("sort_by(a, b)", {"a": RECORDS, "b": "b"}, Raises(jmespath_errors.JMESPathTypeError)),
    ("type(&a)", None, None),
]


@pytest.mark.parametrize(("text", "data", "expected"), CASES)
def test_case_gives_what_the_interpreter_gives(text: str, data: Any, expected: Any) -> None:
    compiled = _compiled(text)
    if isinstance(expected, Raises):
        with pytest.raises(expected.kind):
            compiled(data)
        with pytest.raises(expected.kind):
            jmespath.search(text, data)
    else:
        assert _tagged(compiled(data)) == _tagged(expected)
        assert _tagged(jmespath.search(text, data)) == _tagged(expected)


def test_table_covers_every_node_type_the_parser_makes() -> None:
    def types(node: Any) -> set[str]:
        found = {node["type"]}
        for child in node["children"]:
            if isinstance(child, dict):
                found |= types(child)
        return found

    covered = set().union(*(types(jmespath.compile(text).parsed) for text, _, _ in CASES))
    visited = dir(jmespath_visitor.TreeInterpreter)
    assert covered >= {name.removeprefix("visit_") for name in visited if name.startswith("visit_")}


def test_expref_reaches_a_registered_function_and_runs_compiled() -> None:
    runtime = Expressions([APPLY])
    expression = runtime.compile_expression("apply(&{n: n}, a[0])")
    assert expression.search({"a": RECORDS}) == {"n": "x"}
    assert _compiled("apply(&n, @)", OPTIONS[1])(RECORDS[0]) == "x"


def test_expref_given_to_a_function_reads_as_an_expref() -> None:
    reference = _compiled("&a.b")(None)
    assert isinstance(reference, jmespath_visitor._Expression)
    assert reference.visit(reference.expression, {"a": {"b": 2}}) == 2
    assert reference.visit({"type": "field", "children": [], "value": "a"}, {"a": 3}) == 3


def test_node_the_compiler_does_not_know_is_left_to_the_interpreter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def visit_twice(interpreter: Any, node: Any, value: Any) -> Any:
        return [interpreter.visit(node["children"][0], value)] * 2

    monkeypatch.setattr(jmespath_visitor.TreeInterpreter, "visit_twice", visit_twice, raising=False)
    tree = {"type": "twice", "children": [{"type": "field", "children": [], "value": "a"}]}
    assert compile_ast({"type": "field", "children": [], "value": "a"})({"a": 1}) == 1
    assert compile_ast(tree)({"a": 1}) == [1, 1]
    with pytest.raises(NotImplementedError, match="mystery"):
        compile_ast({"type": "mystery", "children": []})(None)


def test_dict_class_option_builds_multi_select_hashes() -> None:
    options = jmespath.Options(dict_cls=OrderedDict)
    result = _compiled("{b: b, a: a}", options)({"a": 1, "b": 2})
    assert type(result) is OrderedDict
    assert list(result.items()) == [("b", 2), ("a", 1)]


# ---------------------------------------------------------------- through the runtime


def _interpreted(expression: Expression) -> Expression:
    """The same expression, run by jmespath's interpreter as before closures."""
    parsed, options = expression.parsed, expression.options
    return dataclasses.replace(expression, evaluate=lambda data: parsed.search(data, options))


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("length(a)", {"a": 1}),
        ("sort_by(a, &n)", {"a": [{"n": 1}, {"n": "x"}]}),
        ("max(a)", {"a": [1, "a"]}),
        ("lower(a)", {"a": None}),
        ("to_int('x')", {}),
        ("where(a, 'n', `1`)", {"a": "no"}),
        ("apply(a, b)", {}),
        ("a || ceil(to_number('1e400'))", {}),
    ],
)
def test_runtime_errors_read_as_before(text: str, data: Any) -> None:
    compiled = Expressions([*register_functions(), APPLY]).compile_expression(text)
    with pytest.raises(ExpressionError) as before:
        _interpreted(compiled).search(data)
    with pytest.raises(ExpressionError) as after:
        compiled.search(data)
    assert str(after.value) == str(before.value)


def test_error_from_a_compiled_function_call_names_the_function() -> None:
    with pytest.raises(ExpressionError) as caught:
        Expressions().compile_expression("b || length(a)").search({"a": 1})
    assert str(caught.value).startswith(
        "cannot evaluate: length(): argument 1 is a number; expected text, a list or a mapping"
    )
    assert " at column 6:" in str(caught.value)


# ---------------------------------------------------------------- differential


def _assert_agrees(text: str, data: Any) -> None:
    # to_string() writes an &expression as its repr, memory address included: runs differ
    assume("to_string" not in text or "&" not in text)
    parsed = _parse(text)
    assume(parsed is not None)
    for options in OPTIONS:
        compiled = compile_ast(parsed.parsed, options)
        expected = _outcome(jmespath.search, text, copy.deepcopy(data), options=options)
        assert _outcome(compiled, copy.deepcopy(data)) == expected, options


@DIFFERENTIAL
@given(text=expressions(), data=documents())
def test_generated_expression_agrees_with_the_interpreter(text: str, data: Any) -> None:
    _assert_agrees(text, data)


@settings(DIFFERENTIAL, max_examples=max(1, DIFFERENTIAL.max_examples // 4))
@given(
    call=st.sampled_from(["sort_by(@, &{})", "max_by(@, &{})", "min_by(@, &{})", "map(&{}, @)"]),
    text=expressions(),
    data=st.lists(st.dictionaries(st.sampled_from(KEYS), documents(), max_size=3), max_size=4),
)
def test_generated_expref_agrees_with_the_interpreter(call: str, text: str, data: Any) -> None:
    _assert_agrees(call.format(text), data)
