"""Acme Tickets through hookline's test kit: against its sandbox, and from cassettes.

The kit's fixtures come with hookline (its pytest plugin): ``hookline_catalog`` holds every
installed plugin, this one included; ``served`` serves the sandbox; ``cassette`` replays a
recorded exchange, recording it first when the file is missing; ``clock`` is time that moves
only when the test says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from hookline import AuthenticationError, Catalog, NotFoundError, call_action
from hookline.testing import Clock, check_described, check_examples, run_examples

REQUESTER = "ana@example.org"


def test_the_spec_is_described_and_its_examples_match_its_schemas(
    hookline_catalog: Catalog,
) -> None:
    spec = hookline_catalog.spec("acme_tickets")
    check_described(spec)
    check_examples(spec)


def test_every_example_runs_against_the_sandbox(hookline_catalog: Catalog) -> None:
    failed = [str(run) for run in run_examples(hookline_catalog, "acme_tickets") if not run.ok]
    assert failed == []


def test_list_tickets_reads_every_page(served: Callable[..., Any]) -> None:
    with served("acme_tickets", ticket_count=47) as acme:
        tickets = acme.call("list_tickets")
        assert acme.state.requests == 3  # 20 a page
    assert [ticket["id"] for ticket in tickets] == list(range(1, 48))
    assert tickets[0]["ref"] == "ACME-001001"


def test_list_tickets_stops_at_max_records(served: Callable[..., Any]) -> None:
    with served("acme_tickets", ticket_count=47) as acme:
        tickets = acme.session(lambda conn: call_action(conn, "list_tickets", max_records=25))
        assert acme.state.requests == 2  # no page is asked for past the bound
    assert [ticket["id"] for ticket in tickets] == list(range(1, 26))


def test_a_created_ticket_is_stored_open(served: Callable[..., Any]) -> None:
    with served("acme_tickets") as acme:
        ticket = acme.call("create_ticket", {"subject": "Fax is out", "requester": REQUESTER})
        stored = acme.state.tickets[ticket["id"]]
    assert (stored["subject"], stored["status"], stored["priority"]) == (
        "Fax is out",
        "open",
        "normal",
    )
    assert ticket["ref"] == "ACME-001013"


def test_an_unknown_ticket_is_not_found(served: Callable[..., Any]) -> None:
    with served("acme_tickets") as acme, pytest.raises(NotFoundError, match="No ticket 99"):
        acme.call("get_ticket", {"id": 99})


def test_a_wrong_secret_signs_requests_the_platform_refuses(served: Callable[..., Any]) -> None:
    with served("acme_tickets") as acme, pytest.raises(AuthenticationError) as refused:
        acme.call("get_ticket", {"id": 1}, secret="not-the-secret")
    assert "The signature does not match the request" in str(refused.value)
    assert "not-the-secret" not in str(refused.value)


def test_a_signature_is_good_for_five_minutes_of_the_platforms_clock(
    served: Callable[..., Any],
) -> None:
    clock = Clock(time.time() + 600)  # the platform's clock runs ten minutes ahead
    with served("acme_tickets", clock=clock) as acme:
        with pytest.raises(AuthenticationError, match="more than 5 minutes off"):
            acme.call("get_ticket", {"id": 1})
        clock.advance(-360)  # four minutes ahead: still within the window
        assert acme.call("get_ticket", {"id": 1})["id"] == 1


def test_polls_for_new_tickets_miss_none_and_repeat_none(
    served: Callable[..., Any], clock: Clock
) -> None:
    # The clock stands still, so each round's tickets are created in one second, the second
    # the cursor holds: polls that asked strictly after the cursor would miss them.
    with served("acme_tickets", clock=clock) as acme:

        def create_seven(round: int) -> None:
            for number in range(7):
                subject = f"Round {round}, ticket {number}"
                acme.call("create_ticket", {"subject": subject, "requester": REQUESTER})

        polls = acme.simulate_polls(
            "new_ticket", rounds=4, between=create_seven, identity=lambda key, event: event["id"]
        )
    polls.assert_each_once(range(1, 12 + 3 * 7 + 1))
    assert [len(cycle) for cycle in polls.delivered] == [12, 7, 7, 7]
    assert len(polls.polls[3]) == 21  # read again from the cursor's second, over two pages


def test_closing_a_ticket_with_a_note_replays_from_its_cassette(
    cassette: Callable[..., Any],
) -> None:
    with cassette("close-with-note", "acme_tickets") as acme:
        ticket = acme.call("create_ticket", {"subject": "Toner", "requester": REQUESTER})
        acme.call("add_comment", {"id": ticket["id"], "body": "Replaced the toner."})
        closed = acme.call("update_ticket", {"id": ticket["id"], "status": "closed"})
    assert (closed["ref"], closed["status"], closed["comments"]) == ("ACME-001013", "closed", 1)
