"""Issuehub through hookline's test kit, against its sandbox and from a cassette."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hookline import (
    AuthenticationError,
    Catalog,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    call_action,
)
from hookline.testing import Clock, check_described, check_examples, run_examples

REPO = {"owner": "octo", "repo": "hello"}


def test_the_spec_is_described_and_its_examples_match_its_schemas(
    hookline_catalog: Catalog,
) -> None:
    spec = hookline_catalog.spec("issuehub")
    check_described(spec)
    check_examples(spec)


def test_every_example_runs_against_the_sandbox(hookline_catalog: Catalog) -> None:
    failed = [str(run) for run in run_examples(hookline_catalog, "issuehub") if not run.ok]
    assert failed == []


def test_list_issues_follows_the_link_header_past_one_page(served: Callable[..., Any]) -> None:
    with served("issuehub", issue_count=250) as hub:
        issues = hub.call("list_issues", {**REPO, "state": "all"})
    assert [issue["number"] for issue in issues] == list(range(250, 0, -1))


def test_list_issues_stops_at_max_records(served: Callable[..., Any]) -> None:
    with served("issuehub", issue_count=250) as hub:
        issues = hub.session(
            lambda conn: call_action(conn, "list_issues", {**REPO, "state": "all"}, max_records=5)
        )
        spent = hub.state.used
    assert [issue["number"] for issue in issues] == [250, 249, 248, 247, 246]
    assert spent == 1


def test_list_issues_filters_by_state_and_since(served: Callable[..., Any]) -> None:
    with served("issuehub", issue_count=9) as hub:
        open_ones = hub.call("list_issues", REPO)
        closed = hub.call("list_issues", {**REPO, "state": "closed"})
        recent = hub.call("list_issues", {**REPO, "state": "all", "since": "2026-01-08T09:00:00Z"})
    assert [i["number"] for i in open_ones] == [8, 7, 5, 4, 2, 1]
    assert [i["number"] for i in closed] == [9, 6, 3]
    assert [i["number"] for i in recent] == [9, 8]


def test_a_filed_issue_is_stored_open(served: Callable[..., Any]) -> None:
    with served("issuehub") as hub:
        issue = hub.call("create_issue", {**REPO, "title": "Docs typo", "labels": ["docs"]})
        stored = hub.state.issues[issue["number"]]
    assert stored == issue
    assert (stored["state"], stored["labels"], stored["body"]) == ("open", ["docs"], None)


def test_an_update_changes_only_the_given_fields(served: Callable[..., Any]) -> None:
    with served("issuehub") as hub:
        before = dict(hub.state.issues[1])
        hub.call("update_issue", {**REPO, "number": 1, "state": "closed", "labels": []})
        after = hub.state.issues[1]
    assert (after["state"], after["labels"]) == ("closed", [])
    assert (after["title"], after["body"]) == (before["title"], before["body"])


def test_a_comment_is_added_to_its_issue(served: Callable[..., Any]) -> None:
    with served("issuehub") as hub:
        comment = hub.call("add_comment", {**REPO, "number": 2, "body": "Fixed in 1.2."})
        assert hub.state.comments[2] == [comment]
        assert hub.state.issues[2]["comments"] == 1


def test_an_unknown_issue_is_not_found(served: Callable[..., Any]) -> None:
    with served("issuehub") as hub, pytest.raises(NotFoundError, match="Not Found"):
        hub.call("get_issue", {**REPO, "number": 99})


def test_a_refused_title_is_an_invalid_request(served: Callable[..., Any]) -> None:
    with served("issuehub") as hub, pytest.raises(InvalidRequestError, match="Validation Failed"):
        hub.call("update_issue", {**REPO, "number": 1, "title": "x" * 300})


def test_a_wrong_token_is_refused_and_not_shown(served: Callable[..., Any]) -> None:
    with served("issuehub") as hub, pytest.raises(AuthenticationError) as refused:
        hub.call("get_issue", {**REPO, "number": 1}, token="not-the-token")
    assert "Bad credentials" in str(refused.value)
    assert "not-the-token" not in str(refused.value)


def test_a_403_with_no_requests_left_is_a_rate_limit(
    served: Callable[..., Any], clock: Clock
) -> None:
    with served("issuehub", rate_limit=1, window=60, clock=clock) as hub:
        hub.state.used = 1
        hub.state.reset = int(clock()) + 3600
        with pytest.raises(RateLimitedError) as limited:
            hub.call("get_issue", {**REPO, "number": 1})
    assert not isinstance(limited.value, PermissionDeniedError)
    assert "API rate limit exceeded" in str(limited.value)


def test_a_403_for_a_spent_budget_is_retried_once_the_window_resets(
    served: Callable[..., Any],
) -> None:
    with served("issuehub", rate_limit=1, window=2) as hub:
        hub.state.spend()  # the window's only request is gone
        issue = hub.call("get_issue", {**REPO, "number": 1})
        assert (issue["number"], hub.state.used) == (1, 1)


def test_polls_report_each_new_or_changed_issue_once(
    served: Callable[..., Any], clock: Clock
) -> None:
    changes: list[tuple[int, str]] = []
    with served("issuehub", issue_count=0, window=1, clock=clock) as hub:

        def change(round: int) -> None:
            clock.advance(60)
            for n in range(3):
                issue = hub.call("create_issue", {**REPO, "title": f"Round {round}, issue {n}"})
                changes.append((issue["number"], issue["updated_at"]))
            issue = hub.call("update_issue", {**REPO, "number": 1, "title": f"Renamed {round}"})
            changes.append((issue["number"], issue["updated_at"]))

        polls = hub.simulate_polls(
            "issue_changed",
            REPO,
            rounds=4,
            between=change,
            identity=lambda key, event: (event["number"], event["updated_at"]),
        )
    polls.assert_each_once(changes)


def test_filing_and_reading_an_issue_replays_from_a_cassette(
    cassette: Callable[..., Any],
) -> None:
    with cassette("file-and-get", "issuehub") as recorded:
        issue = recorded.call("create_issue", {**REPO, "title": "Spare"})
        again = recorded.call("get_issue", {**REPO, "number": issue["number"]})
    assert again == issue
