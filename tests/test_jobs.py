"""Running jobs against the tracker over loopback: step kinds, failures, history, reruns."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hookline.plugins.manager import collect_named
from hookline.run.store import JobRecord
from hookline.spec.catalog import Catalog
from tests.recipe_kit import (
    TOKEN,
    Harness,
    Planned,
    TrackerState,
    serve_tracker,
    tracker_catalog,
)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return tracker_catalog(tmp_path_factory.mktemp("specs"))


@pytest.fixture
def tracker() -> Iterator[tuple[TrackerState, str]]:
    for state in serve_tracker():
        yield state, state.url


@pytest.fixture
def harness(catalog: Catalog, tmp_path: Path, tracker: tuple[TrackerState, str]) -> Harness:
    return Harness(catalog, tmp_path, tracker[1])


def steps_of(job: JobRecord) -> dict[str, Any]:
    return {step.path: step for step in job.steps}


# ---------------------------------------------------------------- step kinds


def test_action_steps_read_earlier_outputs_and_the_trigger(harness: Harness, tracker: Any) -> None:
    state, _ = tracker
    path = harness.recipe("""\
steps:
  - id: created
    action: tracker.create_ticket
    with: {title: "{{ trigger.title }}", priority: high}
  - id: comment
    action: tracker.add_comment
    with: {id: "{{ steps.created.id }}", text: "made {{ steps.created.title }}"}
outputs:
  ticket: "{{ steps.created.id }}"
""")
    outcome, job = harness.run(path, {"title": "Third"})
    assert outcome.status == "succeeded" and outcome.outputs == {"ticket": 3}
    assert state.tickets[-1]["title"] == "Third"
    assert state.comments == [{"id": 1, "ticket_id": 3, "text": "made Third"}]
    recorded = steps_of(job)
    assert recorded["steps[1]"].input == {"id": 3, "text": "made Third"}
    assert recorded["steps[1]"].action == "tracker.add_comment"
    assert job.status == "succeeded" and job.outputs == {"ticket": 3}


def test_if_runs_the_branch_the_condition_picks(harness: Harness, tracker: Any) -> None:
    state, _ = tracker
    path = harness.recipe("""\
steps:
  - id: ticket
    action: tracker.get_ticket
    with: {id: 1}
  - if: "{{ steps.ticket.priority == 'high' }}"
    then:
      - action: tracker.add_comment
        with: {id: 1, text: urgent}
    else:
      - action: tracker.add_comment
        with: {id: 1, text: later}
""")
    outcome, job = harness.run(path)
    assert outcome.status == "succeeded"
    assert [c["text"] for c in state.comments] == ["urgent"]
    assert steps_of(job)["steps[1]"].input == {"if": True}
    assert "steps[1].then[0]" in steps_of(job)


def test_for_each_keeps_item_order_and_bounds_concurrency(harness: Harness, tracker: Any) -> None:
    state, _ = tracker
    state.delay = 0.05
    path = harness.recipe("""\
steps:
  - id: each
    for_each: "{{ [`1`, `2`, `1`, `2`, `1`, `2`] }}"
    as: number
    concurrency: 3
    steps:
      - id: note
        action: tracker.add_comment
        with: {id: "{{ number }}", text: "n{{ number }}"}
outputs:
  notes: "{{ steps.each[*].note.text }}"
  numbers: "{{ steps.each[*].number }}"
""")
    outcome, job = harness.run(path)
    assert outcome.status == "succeeded"
    assert outcome.outputs == {
        "notes": ["n1", "n2", "n1", "n2", "n1", "n2"],
        "numbers": [1, 2, 1, 2, 1, 2],
    }
    assert state.most_in_flight == 3
    assert "steps[0].for_each[5].steps[0]" in steps_of(job)


def test_for_each_refuses_more_items_than_its_max_items_before_running_any(
    harness: Harness, tracker: Any
) -> None:
    state, _ = tracker
    path = harness.recipe("""\
steps:
  - id: each
    for_each: "{{ ['a', 'b', 'c'] }}"
    max_items: 2
    steps:
      - action: tracker.touch
        with: {key: "{{ item }}"}
""")
    outcome, job = harness.run(path)
    assert outcome.status == "failed" and outcome.error is not None
    assert outcome.error["kind"] == "too_many_items"
    assert "for_each got 3 items, more than its max_items of 2" in outcome.error["message"]
    assert state.touches == {}
    assert steps_of(job)["steps[0]"].status == "failed"


def test_for_each_accepts_at_most_10000_items_unless_the_recipe_says_more(
    harness: Harness, tracker: Any
) -> None:
    trigger = "trigger: {manual: {inputs: {items: {type: array}}}}\n"
    body = """\
steps:
  - for_each: "{{ inputs.items }}"
    max_items: %s
    steps:
      - set: {last: "{{ item }}"}
"""
    default = harness.recipe(trigger + body.replace("    max_items: %s\n", ""), manual=False)
    started = time.perf_counter()
    outcome, _ = harness.run(default, {"items": list(range(10_001))})
    assert outcome.status == "failed" and outcome.error is not None
    assert "more than its max_items of 10,000" in outcome.error["message"]
    assert time.perf_counter() - started < 10
    raised = harness.recipe(trigger + body % 20_000, "raised", manual=False)
    outcome, _ = harness.run(raised, {"items": list(range(3))})
    assert outcome.status == "succeeded"


def test_set_makes_variables_for_later_steps(harness: Harness, tracker: Any) -> None:
    state, _ = tracker
    path = harness.recipe("""\
vars: {prefix: "[bot]"}
steps:
  - set: {text: "{{ vars.prefix }} {{ trigger.title }}"}
  - action: tracker.add_comment
    with: {id: 2, text: "{{ vars.text }}"}
""")
    assert harness.run(path)[0].status == "succeeded"
    assert state.comments[0]["text"] == "[bot] hello"


def test_values_that_hold_the_whole_context_are_kept_and_recorded(
    harness: Harness, tracker: Any
) -> None:
    path = harness.recipe("""\
vars: {start: "{{ @ }}"}
steps:
  - id: whole
    set: {x: "{{ @ }}", all: "{{ steps }}"}
  - id: loop
    for_each: "{{ [@, steps] }}"
    steps:
      - set: {y: "{{ @ }}"}
outputs:
  title: "{{ vars.x.inputs.title }}"
  before: "{{ vars.start.inputs.title }}"
  steps: "{{ keys(vars.x.steps) }}"
  loops: "{{ length(steps.loop) }}"
""")
    outcome, job = harness.run(path)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {"title": "hello", "before": "hello", "steps": [], "loops": 2}
    assert steps_of(job)["steps[0]"].input["x"]["inputs"] == {"title": "hello"}


def test_stop_ends_the_job_with_its_status_and_message(harness: Harness, tracker: Any) -> None:
    state, _ = tracker
    path = harness.recipe("""\
steps:
  - if: "{{ trigger.title == 'skip me' }}"
    then:
      - stop: {status: skipped, message: "nothing to do for {{ trigger.title }}"}
  - action: tracker.add_comment
    with: {id: 1, text: done}
""")
    outcome, job = harness.run(path, {"title": "skip me"})
    assert outcome.status == "skipped"
    assert outcome.error == {
        "kind": "stopped",
        "message": "nothing to do for skip me",
        "step": "steps[0].then[0]",
    }
    assert state.comments == [] and job.status == "skipped"


def test_a_called_recipe_runs_as_a_step_and_gives_its_outputs(
    harness: Harness, tracker: Any
) -> None:
    state, _ = tracker
    harness.recipe(
        """\
trigger:
  manual:
    inputs: {id: {type: integer}, prefix: {type: string, default: "title is "}}
    required: [id]
steps:
  - id: ticket
    action: tracker.get_ticket
    with: {id: "{{ inputs.id }}"}
outputs:
  title: "{{ inputs.prefix }}{{ steps.ticket.title }}"
""",
        name="lookup",
        manual=False,
    )
    path = harness.recipe("""\
steps:
  - id: looked
    recipe: lookup.yaml
    with: {id: 2}
  - action: tracker.add_comment
    with: {id: 2, text: "{{ steps.looked.title }}"}
""")
    outcome, job = harness.run(path)
    assert outcome.status == "succeeded"
    assert state.comments[0]["text"] == "title is Second"
    assert steps_of(job)["steps[0].recipe.steps[0]"].output["title"] == "Second"
    assert steps_of(job)["steps[0]"].output == {"title": "title is Second"}


# ---------------------------------------------------------------- failures


def test_retry_tries_a_failing_step_again(harness: Harness, tracker: Any) -> None:
    state, _ = tracker
    state.fail["/touch/a"] = 2
    path = harness.recipe("""\
steps:
  - action: tracker.touch
    with: {key: a}
    retry: {attempts: 3, backoff: 0}
""")
    outcome, job = harness.run(path)
    assert outcome.status == "succeeded"
    assert job.steps[0].attempts == 3 and state.touches == {"a": 1}


def test_a_failed_step_is_named_and_ends_the_job(harness: Harness, tracker: Any) -> None:
    state, _ = tracker
    state.fail["/touch/b"] = 1
    path = harness.recipe("""\
steps:
  - id: first
    action: tracker.touch
    with: {key: a}
  - id: second
    action: tracker.touch
    with: {key: b}
  - action: tracker.touch
    with: {key: c}
""")
    outcome, job = harness.run(path)
    assert outcome.status == "failed" and job.status == "failed"
    assert outcome.error is not None
    assert outcome.error["step"] == "steps[1]" and outcome.error["step_id"] == "second"
    assert outcome.error["kind"] == "error" and outcome.error["status"] == 409
    assert [s.status for s in job.steps] == ["succeeded", "failed"]
    assert state.touches == {"a": 1}


def test_on_error_continue_passes_over_a_failed_step(harness: Harness, tracker: Any) -> None:
    state, _ = tracker
    state.fail["/touch/b"] = 1
    path = harness.recipe("""\
steps:
  - id: broken
    action: tracker.touch
    with: {key: b}
    on_error: continue
  - action: tracker.touch
    with: {key: "after {{ steps.broken || 'nothing' }}"}
""")
    outcome, job = harness.run(path)
    assert outcome.status == "succeeded"
    assert state.touches == {"after nothing": 1}
    assert [s.status for s in job.steps] == ["failed", "succeeded"]


def test_on_error_steps_run_with_the_error(harness: Harness, tracker: Any) -> None:
    state, _ = tracker
    state.fail["/touch/b"] = 1
    path = harness.recipe("""\
steps:
  - action: tracker.touch
    with: {key: b}
    on_error:
      - action: tracker.add_comment
        with: {id: 1, text: "{{ error.step }} failed: {{ error.kind }}"}
  - action: tracker.touch
    with: {key: c}
""")
    outcome, _ = harness.run(path)
    assert outcome.status == "succeeded"
    assert state.comments[0]["text"] == "steps[0] failed: error"
    assert state.touches == {"c": 1}


def test_a_failure_inside_a_loop_fails_the_loop_and_stops_new_items(
    harness: Harness, tracker: Any
) -> None:
    state, _ = tracker
    state.fail["/touch/b"] = 1
    path = harness.recipe("""\
steps:
  - id: each
    for_each: "{{ ['a', 'b', 'c', 'd'] }}"
    steps:
      - action: tracker.touch
        with: {key: "{{ item }}"}
""")
    outcome, job = harness.run(path)
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error["step"] == "steps[0].for_each[1].steps[0]"
    assert state.touches == {"a": 1}
    assert steps_of(job)["steps[0]"].status == "failed"


def test_secrets_are_redacted_in_job_history(harness: Harness) -> None:
    path = harness.recipe("""\
steps:
  - id: leaky
    action: tracker.add_comment
    with: {id: 1, text: "token={{ env.TRACKER_TOKEN }}"}
""")
    outcome, job = harness.run(path)
    assert outcome.status == "succeeded"
    assert job.steps[0].input == {"id": 1, "text": "***"}  # rendered from env: all of it
    assert job.steps[0].output == {"id": 1, "text": "token=***"}
    assert TOKEN not in repr(job)


def test_rerun_continues_from_the_failed_step_with_earlier_outputs_reused(
    harness: Harness, tracker: Any
) -> None:
    state, _ = tracker
    state.fail["/tickets/3/comments"] = 1
    path = harness.recipe("""\
steps:
  - id: created
    action: tracker.create_ticket
    with: {title: "{{ trigger.title }}"}
  - action: tracker.add_comment
    with: {id: "{{ steps.created.id }}", text: follow-up}
""")
    outcome, job = harness.run(path)
    assert outcome.status == "failed" and len(state.tickets) == 3
    assert job.steps[0].output["id"] == 3

    again, rerun = harness.rerun(path, job.id)
    assert again.status == "succeeded"
    assert len(state.tickets) == 3, "the ticket made by the first run is reused, not made again"
    assert state.comments == [{"id": 1, "ticket_id": 3, "text": "follow-up"}]
    assert [s.status for s in rerun.steps] == ["succeeded", "succeeded"]


def test_dry_run_sends_nothing_and_uses_example_outputs(harness: Harness, tracker: Any) -> None:
    state, _ = tracker
    path = harness.recipe("""\
steps:
  - id: created
    action: tracker.create_ticket
    with: {title: planned}
  - action: tracker.add_comment
    with: {id: "{{ steps.created.id }}", text: "on {{ steps.created.title }}"}
""")
    planned = Planned()
    outcome, job = harness.run(path, observer=planned)
    assert outcome.status == "succeeded"
    assert state.requests == []
    assert job.steps == () and job.status == "queued", "a dry run leaves no history"
    assert planned.steps[1].input == {"id": 101, "text": "on Example"}
    plan = planned.plans[0]
    assert plan is not None and plan.requests[0].method == "POST"
    assert plan.requests[0].url.endswith("/tickets")


def test_the_inline_executor_is_registered_through_the_hook(catalog: Catalog) -> None:
    executors = collect_named(catalog.pm, "register_executors", "executor")
    assert "inline" in executors
