"""Poll triggers under test: one cycle, and many cycles with the platform changing between them.

``poll_once`` runs one cycle as ``hookline.run.triggers.poll`` does for a recipe, without
the state store. ``simulate_polls`` runs several, carrying the cursor from one to the next
and letting the test change the platform in between, then says which items were delivered:
a key seen in an earlier cycle is not delivered again, as the state store refuses a second
job for one event key. ``PollSimulation.assert_each_once`` fails when an expected item never
arrived (a cursor that moved past it, a page boundary that skipped it) or arrived twice
under different keys.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hookline.http.connection import Connection
from hookline.run.triggers import event_key, event_of, trigger_records
from hookline.spec.model import PollTrigger

if TYPE_CHECKING:
    from hookline.testing.harness import Harness

Event = tuple[str, Any]
"""An event key and the event (the record reshaped by the trigger's ``select``)."""


async def poll_once(
    conn: Connection, name: str, input: Mapping[str, Any], cursor: Any
) -> tuple[list[Event], Any]:
    """One cycle of poll trigger ``name``: the (event key, event) pairs and the cursor it leaves.

    The cursor (or ``cursor.initial``) goes into the request, the records are read page after
    page with ``trigger_records``, and the cursor moves to the greatest ``cursor.value`` seen
    (a trigger without a cursor leaves it as it was).
    """
    trigger = conn.spec.triggers[name]
    if not isinstance(trigger, PollTrigger):
        raise AssertionError(f"{conn.spec.name}.{name} is not a poll trigger")
    if cursor is None and trigger.cursor_initial is not None:
        cursor = trigger.cursor_initial.render(conn.context(input=dict(input)))
    context = conn.context(input=dict(input), cursor=cursor)
    events = []
    async for record in trigger_records(conn, trigger, context):
        events.append((event_key(trigger, record), event_of(trigger, record)))
        if trigger.cursor_value is not None:
            value = trigger.cursor_value.search(record)
            cursor = value if cursor is None or value > cursor else cursor
    return events, cursor


def by_event_key(key: str, event: Any) -> Hashable:
    """The default identity of an event's item: its event key."""
    return key


@dataclass
class PollSimulation:
    """What several poll cycles read and delivered.

    ``polls`` holds each cycle's events as read; ``delivered`` each cycle's events whose key
    no earlier cycle had (and only the first of a key within one); ``cursors`` the cursor after
    each cycle. ``identity(key, event)`` names the item an event is about (the event key by
    default; give one that reads the record's id to catch an item delivered under two keys).
    """

    identity: Callable[[str, Any], Hashable] = by_event_key
    polls: list[list[Event]] = field(default_factory=list)
    delivered: list[list[Event]] = field(default_factory=list)
    cursors: list[Any] = field(default_factory=list)

    def add(self, events: list[Event], cursor: Any) -> None:
        """Record one cycle."""
        seen = {key for cycle in self.delivered for key, _ in cycle}
        new = []
        for key, event in events:
            if key not in seen:
                seen.add(key)
                new.append((key, event))
        self.polls.append(events)
        self.delivered.append(new)
        self.cursors.append(cursor)

    def items(self) -> dict[Hashable, int]:
        """How many times each item was delivered."""
        counts: dict[Hashable, int] = {}
        for cycle in self.delivered:
            for key, event in cycle:
                item = self.identity(key, event)
                counts[item] = counts.get(item, 0) + 1
        return counts

    def duplicated(self) -> list[Hashable]:
        """The items delivered more than once."""
        return [item for item, count in self.items().items() if count > 1]

    def missed(self, expected: Iterable[Hashable]) -> list[Hashable]:
        """The ``expected`` items never delivered."""
        counts = self.items()
        return [item for item in expected if item not in counts]

    def assert_each_once(self, expected: Iterable[Hashable]) -> None:
        """Fail unless every ``expected`` item was delivered, and no item more than once."""
        expected = list(expected)
        missed, duplicated = self.missed(expected), self.duplicated()
        if missed or duplicated:
            lines = [f"{len(self.polls)} polls delivered {sum(map(len, self.delivered))} events"]
            if missed:
                lines.append(f"missed: {missed!r}")
            if duplicated:
                lines.append(f"delivered more than once: {duplicated!r}")
            raise AssertionError("; ".join(lines))


def simulate_polls(
    harness: Harness,
    trigger: str,
    input: Mapping[str, Any] | None = None,
    *,
    rounds: int = 3,
    between: Callable[[int], object] | None = None,
    identity: Callable[[str, Any], Hashable] = by_event_key,
) -> PollSimulation:
    """Poll ``trigger`` ``rounds`` times, each in a fresh connection, the cursor carried over.

    ``between(n)`` runs before cycle ``n`` (1, 2, ...): create, update or delete items there,
    through ``harness.call`` or the sandbox's state.
    """
    simulation = PollSimulation(identity)
    cursor: Any = None

    async def cycle(conn: Connection) -> tuple[list[Event], Any]:
        return await poll_once(conn, trigger, input or {}, cursor)

    for number in range(rounds):
        if number and between is not None:
            between(number)
        events, cursor = harness.session(cycle)
        simulation.add(events, cursor)
    return simulation
