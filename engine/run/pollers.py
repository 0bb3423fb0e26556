"""Which process polls a poll trigger: the one that holds its lease in the state store.

Several ``hookline serve`` processes may serve the same recipes, for availability. Each poll
trigger is polled by one of them at a time: the **holder** of the trigger's lease
(``hookline.run.claims``, ``hold_trigger``). A ``Poller`` per trigger and process:

- while it does not hold the lease, it looks every ``check`` seconds (a third of the lease)
  and never polls; it takes the lease when it is free: never taken, let go by a holder that
  stopped, run out (its holder died or stalled on another machine), or held by a process of
  this machine that has exited;
- once it holds the lease, it runs the trigger's timetable from the last cycle any holder
  began (so a takeover neither polls twice in a row nor skips a slot); the lease is renewed
  by the process's heartbeat (``Claims.renewing``), and each cycle holds it again first: a
  cycle that finds it lost (a stall past the lease) is not run, and the poller goes back to
  looking;
- when the service stops, it lets the lease go, so another process takes over at its next
  look rather than after the lease runs out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field

from hookline.run.claims import Claims
from hookline.run.scheduler import Schedule, Timetable


@dataclass
class Poller:
    """Polls one trigger on ``schedule`` while this process holds its lease.

    ``cycle`` runs one cycle and says whether the lease was still held (False: not run);
    ``taken`` is told when this process takes the lease. A look that fails (the store
    unreachable) is a look that found the lease held: the next one tries again.
    """

    recipe: str
    trigger: str
    schedule: Schedule
    claims: Claims
    cycle: Callable[[], Awaitable[bool]]
    jitter: float | None = None
    taken: Callable[[], None] = lambda: None
    holding: bool = False
    timetable: Timetable = field(init=False)
    _lost: asyncio.Event = field(init=False, default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.timetable = Timetable(self.recipe, self.schedule, self._cycle, jitter=self.jitter)

    @property
    def check(self) -> float:
        """Seconds between two looks at the lease while another process holds it."""
        return self.claims.lease / 3

    async def run(self, stop: asyncio.Event) -> None:
        """Look, hold and poll until ``stop`` is set; then let the lease go."""
        try:
            while not stop.is_set():
                if await self._take():
                    await self._poll_while_held(stop)
                else:
                    await _pause(stop, self.check)
        finally:
            self.holding = False
            with suppress(Exception):
                await self.claims.let_go(self.recipe, self.trigger)

    async def _take(self) -> bool:
        try:
            hold = await self.claims.hold_trigger(self.recipe, self.trigger)
        except Exception:
            return False
        if hold is None:
            return False
        self.timetable.last = hold.last_cycle
        self.holding = True
        if hold.taken:
            self.taken()
        return True

    async def _poll_while_held(self, stop: asyncio.Event) -> None:
        self._lost = asyncio.Event()
        relay = asyncio.create_task(_relay(stop, self._lost))
        try:
            await self.timetable.run(self._lost)
        finally:
            relay.cancel()

    async def _cycle(self) -> None:
        if not await self.cycle():
            self.holding = False
            self._lost.set()


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
