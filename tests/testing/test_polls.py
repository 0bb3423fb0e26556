"""Poll simulations: cursors carried over, keys delivered once, misses and repeats named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hookline.testing import PollSimulation

NEW_ITEM = {
    "type": "IN",
    "description": "No dial tone on extension 7868",
    "requestor": 212,
    "urgency": "HIGH",
    "location": 103,
    "due_date": "2026/06/05",
}


def test_a_key_read_again_is_delivered_once() -> None:
    polls = PollSimulation()
    polls.add([("1", {}), ("2", {})], cursor=2)
    polls.add([("2", {}), ("3", {})], cursor=3)  # the cursor's own record, read again
    assert [[key for key, _ in cycle] for cycle in polls.delivered] == [["1", "2"], ["3"]]
    polls.assert_each_once(["1", "2", "3"])


def test_a_missed_item_and_an_item_under_two_keys_are_named() -> None:
    polls = PollSimulation(identity=lambda key, event: event["id"])
    polls.add([("a@1", {"id": "a"})], cursor=1)
    polls.add([("a@2", {"id": "a"})], cursor=2)
    assert polls.duplicated() == ["a"] and polls.missed(["a", "b"]) == ["b"]
    with pytest.raises(AssertionError, match=r"missed: \['b'\]; delivered more than once: \['a'\]"):
        polls.assert_each_once(["a", "b"])


def test_polls_of_a_sandbox_deliver_what_was_created_between_them(
    served: Callable[..., Any],
) -> None:
    with served("pcr360", seed=1) as pcr:
        made: list[str] = []

        def create(round: int) -> None:
            made.append(str(pcr.call("create_service_desk", NEW_ITEM)["recid"]))

        polls = pcr.simulate_polls(
            "new_service_desk_record", {"after_recid": 10030}, rounds=3, between=create
        )
    assert [len(cycle) for cycle in polls.delivered] == [6, 1, 1]
    assert polls.cursors[1:] == [int(recid) for recid in made]
    polls.assert_each_once(made)
