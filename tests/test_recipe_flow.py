"""Lookup tables, ``switch`` and ``wait``: loaded, checked before a run, and run on the tracker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hookline.errors import RecipeError
from hookline.recipes.load import load_recipe
from hookline.recipes.model import SwitchStep, WaitStep, case_key
from hookline.run import waits
from hookline.run.jobs import Observer
from hookline.run.store import JobRecord
from hookline.spec.catalog import Catalog
from tests.recipe_kit import Harness, Planned, TrackerState, serve_tracker, tracker_catalog, write

ENV = {"TRACKER_URL": "http://127.0.0.1:9", "TRACKER_TOKEN": "t"}
HEAD = """\
recipe: r
connections:
  tracker:
    connector: tracker
    base_url: "{{ env.TRACKER_URL }}"
    token: "{{ env.TRACKER_TOKEN }}"
"""
MANUAL = "trigger: {manual: {inputs: {priority: {type: string, default: high}}}}\n"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return tracker_catalog(tmp_path_factory.mktemp("specs"))


@pytest.fixture
def tracker() -> Iterator[TrackerState]:
    yield from serve_tracker()


@pytest.fixture
def harness(catalog: Catalog, tmp_path: Path, tracker: TrackerState) -> Harness:
    return Harness(catalog, tmp_path, tracker.url)


@pytest.fixture
def waited(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make waiting instant; the seconds each pause would have slept."""
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(waits, "pause", pause)
    return pauses


def load(catalog: Catalog, folder: Path, body: str, head: str = HEAD + MANUAL) -> Any:
    return load_recipe(write(folder, "r.yaml", head + body), catalog, env=ENV)


def problems(catalog: Catalog, folder: Path, body: str, head: str = HEAD + MANUAL) -> list[str]:
    with pytest.raises(RecipeError) as info:
        load(catalog, folder, body, head)
    return [str(problem) for problem in info.value.problems]


def steps_of(job: JobRecord) -> dict[str, Any]:
    return {step.path: step for step in job.steps}


# ---------------------------------------------------------------- lookup tables

TABLES = """\
tables:
  severity: {critical: Critical, high: High, "1": One}
  routes: routes.yaml
"""


def test_lookup_reads_a_table_in_place_or_from_a_file(
    harness: Harness, tracker: TrackerState, tmp_path: Path
) -> None:
    write(tmp_path, "routes.yaml", "high: {queue: soc, ticket: 1}\nlow: {queue: desk, ticket: 2}\n")
    path = harness.recipe(
        TABLES
        + """\
steps:
  - action: tracker.add_comment
    with:
      id: "{{ lookup('routes', trigger.title).ticket }}"
      text: "{{ lookup('severity', 'high') }} to {{ lookup('routes', trigger.title).queue }}"
outputs:
  missing: "{{ lookup('severity', 'none') || 'Medium' }}"
  number: "{{ lookup('severity', `1`) }}"
""",
    )
    outcome, _ = harness.run(path, {"title": "low"})
    assert outcome.status == "succeeded", outcome.error
    assert tracker.comments == [{"id": 1, "ticket_id": 2, "text": "High to desk"}]
    assert outcome.outputs == {"missing": "Medium", "number": "One"}


def test_a_lookup_of_a_table_the_recipe_lacks_is_refused_at_load(
    catalog: Catalog, tmp_path: Path
) -> None:
    body = """\
tables:
  severity: {high: High}
steps:
  - set: {a: "{{ lookup('severty', inputs.priority) }}", b: "{{ lookup(inputs.priority, 'x') }}"}
"""
    found = problems(catalog, tmp_path, body)
    assert len(found) == 2, found
    assert "steps[0].set.a: lookup(): the recipe has no table 'severty' (did you mean " in found[0]
    assert "steps[0].set.b: lookup() names its table as text" in found[1]


def test_a_table_file_that_cannot_be_read_is_a_problem_at_its_name(
    catalog: Catalog, tmp_path: Path
) -> None:
    write(tmp_path, "list.yaml", "- a\n- b\n")
    body = """\
tables:
  gone: missing.yaml
  listed: list.yaml
steps: []
"""
    found = problems(catalog, tmp_path, body)
    assert len(found) == 2, found
    assert "tables.gone: table 'gone':" in found[0] and "missing.yaml" in found[0]
    assert "tables.listed: table 'listed':" in found[1] and "holds no mapping" in found[1]


def test_lookup_without_tables_says_the_recipe_has_none(catalog: Catalog, tmp_path: Path) -> None:
    found = problems(catalog, tmp_path, "steps:\n  - set: {a: \"{{ lookup('x', 'y') }}\"}\n")
    assert "no table 'x' (its tables: none; add a tables: block)" in found[0]


def test_lookup_is_unknown_outside_recipes(catalog: Catalog) -> None:
    assert "lookup" not in catalog.expressions.functions


# ---------------------------------------------------------------- switch

SWITCH = """\
steps:
  - id: route
    switch: "{{ trigger.title }}"
    cases:
      high:
        - id: urgent
          action: tracker.add_comment
          with: {id: 1, text: urgent}
      low:
        - id: later
          action: tracker.add_comment
          with: {id: 2, text: later}
    default:
      - set: {note: "no case for {{ trigger.title }}"}
outputs:
  urgent: "{{ steps.urgent.text }}"
  later: "{{ steps.later.text }}"
"""


@pytest.mark.parametrize(
    ("priority", "case", "comments", "outputs"),
    [
        ("high", "high", [(1, "urgent")], {"urgent": "urgent", "later": None}),
        ("low", "low", [(2, "later")], {"urgent": None, "later": "later"}),
        ("normal", None, [], {"urgent": None, "later": None}),
    ],
)
def test_switch_runs_the_case_its_value_picks(
    harness: Harness,
    tracker: TrackerState,
    priority: str,
    case: str | None,
    comments: list[tuple[int, str]],
    outputs: dict[str, Any],
) -> None:
    outcome, job = harness.run(harness.recipe(SWITCH), {"title": priority})
    assert outcome.status == "succeeded", outcome.error
    assert [(c["ticket_id"], c["text"]) for c in tracker.comments] == comments
    assert outcome.outputs == outputs
    record = steps_of(job)["steps[0]"]
    assert (record.action, record.input) == ("switch", {"switch": priority, "case": case})
    if case is not None:
        assert steps_of(job)[f"steps[0].cases.{case}[0]"].status == "succeeded"


def test_switch_compares_numbers_and_booleans_as_their_json_text() -> None:
    values = (1, True, "1", 1.5, None, [1], {"a": 1})
    assert [case_key(v) for v in values] == ["1", "true", "1", "1.5", None, None, None]


def test_a_case_the_value_can_never_have_is_refused(catalog: Catalog, tmp_path: Path) -> None:
    head = HEAD + "trigger: {manual: {inputs: {priority: {enum: [high, low, 1]}}}}\n"
    body = """\
steps:
  - switch: "{{ trigger.priority }}"
    cases:
      hihg: [{set: {a: 1}}]
      low: [{set: {a: 2}}]
      "1": [{set: {a: 3}}]
"""
    found = problems(catalog, tmp_path, body, head)
    assert len(found) == 1, found
    assert found[0].endswith(
        "r.yaml:11:7: steps[0].cases.hihg: case 'hihg' never matches: '{{ trigger.priority }}' "
        "is one of 1, high, low (did you mean 'high'?)"
    ), found


def test_steps_of_a_case_are_readable_after_the_switch(catalog: Catalog, tmp_path: Path) -> None:
    recipe = load(catalog, tmp_path, SWITCH.replace("trigger.title", "trigger.priority"))
    assert isinstance(recipe.steps[0], SwitchStep)
    assert list(recipe.steps[0].cases) == ["high", "low"]


def test_a_switch_is_one_expression_with_cases(catalog: Catalog, tmp_path: Path) -> None:
    text = SWITCH.replace("trigger.title", "trigger.priority")
    found = problems(catalog, tmp_path, text.replace('"{{ trigger.priority }}"', '"p {{ @ }}"'))
    assert "steps[0].switch: switch takes one {{ expression }}" in found[0], found
    found = problems(catalog, tmp_path, "steps:\n  - switch: '{{ inputs.priority }}'\n")
    assert len(found) == 1 and "cases" in found[0], found


# ---------------------------------------------------------------- wait


def test_a_wait_for_a_duration_pauses_and_is_recorded(
    harness: Harness, tracker: TrackerState, waited: list[float]
) -> None:
    path = harness.recipe("steps:\n  - id: pause\n    wait: 10m\n")
    outcome, job = harness.run(path)
    assert outcome.status == "succeeded" and waited == [600.0]
    record = steps_of(job)["steps[0]"]
    assert (record.action, record.input, record.output) == (
        "wait",
        {"wait": 600.0},
        {"waited": 600.0},
    )


UNTIL = """\
steps:
  - id: ready
    wait:
      action: tracker.get_ticket
      with: {id: 2}
      until: "{{ result.priority == 'high' }}"
      every: 30s
      timeout: 5m
outputs:
  title: "{{ steps.ready.title }}"
"""


def test_a_wait_until_calls_the_action_until_the_condition_holds(
    harness: Harness, tracker: TrackerState, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[float] = []

    async def pause(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 2:
            tracker.tickets[1]["priority"] = "high"

    monkeypatch.setattr(waits, "pause", pause)
    outcome, job = harness.run(harness.recipe(UNTIL))
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {"title": "Second"} and calls == [30.0, 30.0]
    record = steps_of(job)["steps[0]"]
    assert record.attempts == 3 and record.output["priority"] == "high"
    assert record.input == {
        "action": "tracker.get_ticket",
        "with": {"id": 2},
        "every": 30.0,
        "timeout": 300.0,
    }
    assert tracker.requests.count("GET /tickets/2") == 3


def test_a_wait_that_times_out_fails_with_kind_timeout_and_is_bounded(
    harness: Harness, tracker: TrackerState, waited: list[float]
) -> None:
    body = UNTIL.replace("outputs:", "    on_error: continue\n  - set: {after: 1}\noutputs:")
    outcome, job = harness.run(harness.recipe(body))
    assert outcome.status == "succeeded"
    record = steps_of(job)["steps[0]"]
    assert record.status == "failed" and record.error is not None
    assert record.error["kind"] == "timeout"
    assert (
        "{{ result.priority == 'high' }} did not hold after 11 calls of tracker.get_ticket"
        in (record.error["message"])
    )
    assert record.attempts == 11 and len(waited) == 10  # 5 minutes, every 30 seconds
    assert steps_of(job)["steps[1]"].status == "succeeded"


class _Notes(Observer):
    def __init__(self) -> None:
        self.notes: list[tuple[str, dict[str, Any]]] = []

    def note(self, message: str, **data: Any) -> None:
        self.notes.append((message, data))


@pytest.mark.parametrize(
    ("body", "said", "seconds"),
    [
        ("steps:\n  - id: pause\n    wait: 90m\n", "steps[0] waits 1h 30m", 5400.0),
        (
            UNTIL,
            "steps[0] calls tracker.get_ticket every 30s until {{ result.priority == 'high' }}, "
            "for at most 5m",
            300.0,
        ),
    ],
    ids=["duration", "until"],
)
def test_a_wait_says_what_it_waits_for_before_it_waits(
    harness: Harness, waited: list[float], body: str, said: str, seconds: float
) -> None:
    """A run that sits in a wait is not mistaken for one that hangs."""
    observer = _Notes()
    _, job = harness.run(harness.recipe(body), observer=observer)
    assert observer.notes == [
        (f"job {job.id[:12]}: {said}", {"job": job.id, "step": "steps[0]", "seconds": seconds})
    ]


def test_a_dry_run_of_a_wait_plans_one_call(harness: Harness, tracker: TrackerState) -> None:
    planned = Planned()
    before = list(tracker.requests)
    outcome, _ = harness.run(harness.recipe(UNTIL), observer=planned)
    assert outcome.status == "succeeded" and tracker.requests == before
    assert planned.plans[0] is not None and planned.plans[0].action == "tracker.get_ticket"


def test_a_wait_is_checked_before_a_run(catalog: Catalog, tmp_path: Path) -> None:
    body = UNTIL.replace("tracker.get_ticket", "tracker.get_tikcet").replace(
        "result.priority", "reslt.priority"
    )
    found = problems(catalog, tmp_path, body)
    assert any(
        "steps[0].wait.action: connector 'tracker' has no action 'get_tikcet'" in p for p in found
    )
    assert any("unknown name 'reslt' (did you mean 'result'?)" in p for p in found), found
    found = problems(catalog, tmp_path, UNTIL.replace("result.priority", "result.priorty"))
    assert "steps[0].wait.until: result.priorty: result has no field 'priorty'" in found[0], found


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("timeout: 5m", "timeout: 2d", "steps[0].wait.timeout: 2d is longer than a wait may be"),
        ("every: 30s", "every: 10m", "steps[0].wait.every: every (10m) is longer than the timeout"),
        ("every: 30s", "every: soon", "steps[0].wait.every: a duration is a number and a unit"),
    ],
)
def test_a_wait_is_bounded(
    catalog: Catalog, tmp_path: Path, old: str, new: str, message: str
) -> None:
    found = problems(catalog, tmp_path, UNTIL.replace(old, new))
    assert any(message in p for p in found), found


def test_a_wait_step_holds_its_timeout_and_call(catalog: Catalog, tmp_path: Path) -> None:
    step = load(catalog, tmp_path, UNTIL).steps[0]
    assert isinstance(step, WaitStep) and step.until is not None
    assert (step.seconds, step.until.every, step.until.label) == (300.0, 30.0, "tracker.get_ticket")
