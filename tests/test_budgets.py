"""Expression budgets: what a few characters can ask for is bounded in size and in steps,
and the refusal names the expression; loops over projections end in about a second."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest

from hookline.errors import ExpressionError
from hookline.expr.budgets import MAX_VALUE_BYTES, TooLarge, value_size
from hookline.expr.templates import Expressions
from tests.cli_kit import Hookline
from tests.measure import measured_call

DOUBLING_JOIN = " | ".join(["join('', [@, @])"] * 30)  # 2 ** 30 characters from one
DOUBLING_LIST = "[@, @][]" * 30  # a list of 2 ** 30 items from one
DEEP_DAG = "[@, @] | " * 40 + "@"  # a value that refers 2 ** 40 times to the data


def search(runtime: Expressions, expression: str, data: Any) -> Any:
    return runtime.compile_expression(expression).search(data)


@pytest.fixture(scope="module")
def runtime(catalog: Any) -> Expressions:
    return catalog.expressions  # type: ignore[no-any-return]


def test_a_join_that_doubles_a_string_stops_at_the_size_budget(runtime: Expressions) -> None:
    outcome = measured_call(lambda: search(runtime, DOUBLING_JOIN, "x"))
    assert isinstance(outcome.error, ExpressionError)
    message = str(outcome.error)
    assert "join(): the joined text would be larger than 10,000,000 bytes" in message
    assert "join('', [@, @]) | join" in message and "^" in message  # the expression, a caret
    assert outcome.seconds < 5
    assert outcome.peak_mib < 200


def test_a_chain_of_flattens_stops_at_the_step_budget(runtime: Expressions) -> None:
    outcome = measured_call(lambda: search(runtime, DOUBLING_LIST, [1]), memory=False)
    assert isinstance(outcome.error, ExpressionError)
    assert "the evaluation took more than 1,000,000 steps" in str(outcome.error)
    assert outcome.seconds < 10  # about two seconds; the list is never more than a million long


def test_a_value_that_refers_to_its_data_many_times_is_measured_as_written(
    runtime: Expressions,
) -> None:
    outcome = measured_call(lambda: search(runtime, DEEP_DAG, {"text": "x" * 100}))
    assert isinstance(outcome.error, ExpressionError)
    assert "the result would be larger than 10,000,000 bytes" in str(outcome.error)
    assert outcome.seconds < 2
    for writer in ("to_string(@)", "json_encode(@)"):
        outcome = measured_call(partial(search, runtime, f"{DEEP_DAG} | {writer}", "x"))
        assert isinstance(outcome.error, ExpressionError)
        assert "the text would be larger than 10,000,000 bytes" in str(outcome.error)
        assert outcome.seconds < 2 and outcome.peak_mib < 200


@pytest.mark.parametrize(
    ("expression", "data"),
    [
        ("html_escape(@)", "&" * 3_000_000),  # 3 MB of input, 15 MB escaped
        ("url_encode(@)", "\u20ac" * 2_000_000),  # 2 M characters, 18 MB encoded
        ("replace(@, 'a', 'aaaaaaaaaa')", "a" * 2_000_000),
        ("upper(@)", "\ufb03" * 4_000_000),  # each ligature upper-cases to three letters
    ],
)
def test_functions_that_grow_text_stay_within_the_budget(
    runtime: Expressions, expression: str, data: str
) -> None:
    outcome = measured_call(lambda: search(runtime, expression, data))
    assert isinstance(outcome.error, ExpressionError)
    assert "larger than 10,000,000 bytes" in str(outcome.error)
    assert outcome.peak_mib < 200


def test_a_template_whose_text_grows_past_the_budget_names_its_expression(
    runtime: Expressions,
) -> None:
    template = runtime.compile("{{ a }}{{ a }}{{ b }}")
    with pytest.raises(ExpressionError, match=r"the text would be larger .* at column 18") as e:
        template.render({"a": "x" * 4_000_000, "b": "y" * 4_000_000})
    assert "{{ a }}{{ a }}{{ b }}" in str(e.value)


def test_values_within_the_budget_are_untouched(runtime: Expressions) -> None:
    records = [{"id": n, "name": f"record {n}", "tags": ["a", "b"]} for n in range(20_000)]
    found = search(runtime, "[*].{id: id, name: name, tags: tags}", records)
    assert found == records
    assert search(runtime, "join(',', [*].name)", records).count(",") == 19_999
    big = "x" * (MAX_VALUE_BYTES - 10)
    assert search(runtime, "@", big) is big  # reading is never measured
    assert len(search(runtime, "join('', [@])", big)) == len(big)


def test_value_size_counts_shared_values_as_often_as_they_appear() -> None:
    shared = ["x" * 1000]
    assert value_size([shared] * 3) == 2 + 3 * (1 + 2 + 1 + 1002)
    nested: Any = "x"
    for _ in range(40):
        nested = [nested, nested]
    with pytest.raises(TooLarge, match="larger than 10,000,000 bytes"):
        value_size(nested)


SPEC = """\
spec: hookline/v1
name: demo
title: Demo
connection:
  fields: {url: {type: string}}
  required: [url]
  base_url: "{{ connection.url }}"
actions:
  ping: {title: Ping, request: {method: GET, path: /}}
"""

RECIPE = f"""\
recipe: doubling
trigger: {{manual: {{inputs: {{}}}}}}
steps:
  - id: grow
    set: {{text: "{{{{ 'x' | {DOUBLING_JOIN} }}}}"}}
"""


def test_a_recipe_over_budget_fails_its_step_with_a_message_not_a_traceback(
    tmp_path: Path,
) -> None:
    hookline = Hookline(tmp_path, SPEC)
    recipe = tmp_path / "doubling.yaml"
    recipe.write_text(RECIPE)
    outcome = measured_call(
        lambda: hookline.invoke("run", str(recipe), "--state", str(tmp_path / "state.db"))
    )
    result = outcome.result
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "steps[0]" in result.output and "larger than 10,000,000 bytes" in result.output
    assert outcome.seconds < 10
    assert outcome.peak_mib < 200
