"""A page of records mapped in one call gives what mapping each record does, within the same
budgets, and measures each result as the walk over it would."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookline.errors import ExpressionError
from hookline.expr.budgets import MAX_STEPS, MAX_VALUE_BYTES, TooLarge, _size, value_size
from hookline.expr.templates import Expressions
from tests.expr.grammar import documents

MAPPING = (
    "{case_id: id, title: subject, state: status, severity: priority, customer: customer.shortName}"
)
RECORDS = [
    {"id": 1, "subject": "a", "status": "open", "priority": "low", "customer": {"shortName": "c"}},
    {"id": 2, "subject": None, "status": 3, "customer": None},
    {"subject": "only"},
    [1, 2],
    "text",
    None,
]


@pytest.fixture(scope="module")
def runtime() -> Expressions:
    return Expressions()


@pytest.mark.parametrize(
    "source",
    [MAPPING, "id", "customer.shortName", "[id, subject]", "tags[*].key", "length(@)", "@"],
)
def test_a_page_maps_as_its_records_do_one_by_one(runtime: Expressions, source: str) -> None:
    expression = runtime.compile_expression(source)
    records = [r for r in RECORDS if source != "length(@)" or r is not None]
    assert expression.search_each(records) == [expression.search(r) for r in records]


@settings(max_examples=300, deadline=None)
@given(records=st.lists(documents(), max_size=5))
def test_generated_pages_map_as_their_records_do(runtime: Expressions, records: list[Any]) -> None:
    for source in (MAPPING, "a.b", "[a, b[0]]", "*.a"):
        expression = runtime.compile_expression(source)
        assert expression.search_each(records) == [expression.search(r) for r in records]


def test_only_expressions_that_take_counted_steps_set_the_budget(runtime: Expressions) -> None:
    assert not runtime.compile_expression(MAPPING).counts
    assert runtime.compile_expression(MAPPING).builds
    assert not runtime.compile_expression("a.b[0] || `1`").counts
    for source in ("a[*].b", "a[?b]", "a[]", "length(a)", "*.a"):
        assert runtime.compile_expression(source).counts, source


def test_each_record_gets_its_own_step_budget(runtime: Expressions) -> None:
    expression = runtime.compile_expression("[*]")
    record = list(range(MAX_STEPS // 2 + 1))
    assert expression.search_each([record, record, record]) == [record] * 3


def test_a_record_over_a_budget_fails_the_page_with_a_located_error(
    runtime: Expressions,
) -> None:
    expression = runtime.compile_expression("join('', [a, a, a])")
    big = "x" * (MAX_VALUE_BYTES // 2)
    with pytest.raises(ExpressionError, match=r"join\(\).*larger than 10,000,000 bytes"):
        expression.search_each([{"a": "x"}, {"a": big}])


def test_a_failing_function_fails_the_page_as_it_fails_a_record(runtime: Expressions) -> None:
    expression = runtime.compile_expression("length(a)")
    with pytest.raises(ExpressionError) as one:
        expression.search({"a": 1})
    with pytest.raises(ExpressionError) as page:
        expression.search_each([{"a": "x"}, {"a": 1}])
    assert str(page.value) == str(one.value)


@pytest.mark.parametrize(
    "value",
    [
        {"a": "x", "b": 1, "c": None, "d": True, "e": 1.5},
        {"a": {"b": "x"}, "c": [1, "two", None, [3]], "d": ""},
        {1: "x", "b": [{}]},
        ["x", 1, {"a": "y"}, [None]],
        {},
        "text",
        7,
    ],
)
def test_a_flat_result_is_measured_as_the_walk_measures_it(value: Any) -> None:
    assert value_size(value) == _size(value, {}, MAX_VALUE_BYTES)


def test_a_flat_result_over_the_budget_is_refused() -> None:
    with pytest.raises(TooLarge):
        value_size({"a": "x" * 100}, limit=50)
