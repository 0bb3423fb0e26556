"""When poll triggers poll: ``every`` intervals and ``cron`` expressions, with jitter.

Each served poll trigger has one loop: wait for its next slot, run one cycle to its end,
compute the next slot. Cycles of one trigger therefore never overlap in a process (and
``hookline.run.claims`` keeps two processes from polling one trigger at once); a cycle that
runs past its next slot makes that slot start as soon as it ends, once.

Slots are computed from the start of the last cycle as the store remembers it, so a restart
keeps the rhythm, and a slot missed while nothing was running (one or a hundred) is polled
once on start, not once per missed slot: a poll reads everything since the cursor anyway.
A trigger never polled before polls on start.

Jitter: each wait for a slot is lengthened by a random part of ``jitter`` seconds (by default
a tenth of the interval, at most 30 seconds), so that recipes sharing a platform do not all
poll it at the same instant. A first or missed slot is polled at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped, unused-ignore]

MAX_JITTER = 30.0
"""The most default jitter: a tenth of the interval, up to this many seconds."""


@dataclass(frozen=True, slots=True)
class Every:
    """A poll every ``seconds``."""

    seconds: float

    def next_slot(self, last: float | None, now: float) -> float:
        """When the cycle after one begun at ``last`` is due (now, if that is past)."""
        if last is None:
            return now
        return max(now, last + self.seconds)

    def interval(self, now: float) -> float:
        """The time between two slots around ``now``."""
        return self.seconds

    def __str__(self) -> str:
        return f"every {_short(self.seconds)}"


@dataclass(frozen=True, slots=True)
class Cron:
    """A poll at each time a five-field cron expression names, read in ``zone``."""

    expression: str
    zone: tzinfo = UTC

    @classmethod
    def of(cls, expression: str, timezone: str | None) -> Cron:
        """The schedule of ``expression`` in the IANA zone ``timezone`` (None: UTC)."""
        return cls(expression, ZoneInfo(timezone) if timezone else UTC)

    def next_slot(self, last: float | None, now: float) -> float:
        """Now when a slot passed since ``last`` (or nothing ran yet), else the next slot."""
        if last is None or last < self._previous(now):
            return now
        return self._next(now)

    def interval(self, now: float) -> float:
        """The time between the slots around ``now``."""
        return self._next(now) - self._previous(now)

    def _next(self, moment: float) -> float:
        start = datetime.fromtimestamp(moment, self.zone)
        return float(croniter(self.expression, start).get_next(float))

    def _previous(self, moment: float) -> float:
        start = datetime.fromtimestamp(moment, self.zone)
        return float(croniter(self.expression, start).get_prev(float))

    def __str__(self) -> str:
        zone = getattr(self.zone, "key", "UTC")
        return f"cron {self.expression!r} ({zone})"


Schedule = Every | Cron


def default_jitter(schedule: Schedule, now: float) -> float:
    """A tenth of the schedule's interval, at most ``MAX_JITTER`` seconds."""
    return min(MAX_JITTER, schedule.interval(now) / 10)


@dataclass
class Timetable:
    """One trigger's loop: when its cycles start, and what it is doing now."""

    name: str
    schedule: Schedule
    cycle: Callable[[], Awaitable[None]]
    last: float | None = None
    jitter: float | None = None
    clock: Callable[[], float] = time.time
    next_at: float | None = None
    running: bool = False
    rng: random.Random = field(default_factory=random.Random)

    def due(self, now: float) -> float:
        """When the next cycle starts: its slot plus a random part of the jitter (none for a
        first or missed slot, which is polled at once)."""
        slot = self.schedule.next_slot(self.last, now)
        if slot <= now:
            return slot
        spread = default_jitter(self.schedule, now) if self.jitter is None else self.jitter
        return slot + self.rng.uniform(0, spread) if spread > 0 else slot

    async def run(self, stop: asyncio.Event) -> None:
        """Run cycles at their slots until ``stop`` is set; a running cycle is awaited."""
        while not stop.is_set():
            self.next_at = self.due(self.clock())
            delay = self.next_at - self.clock()
            if delay > 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return
            self.last = self.clock()
            self.running = True
            try:
                await self.cycle()
            finally:
                self.running = False


def _short(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
