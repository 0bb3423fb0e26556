"""Rate budgets kept in the state store, so that every process of an installation shares them.

``SharedRateLimiter`` is the ``RateLimiter`` a command gives its connections when it has a
state store: a ``serve``, a ``hookline run`` and a ``hookline call`` started together then
take their slots from one budget per credential, and a pause one of them learns (a 429, a
``Retry-After``, a cooldown) holds for all. Each slot is one short transaction on the
budget's row through a ``BudgetLedger`` (``hookline.plugins.protocols``): on SQLite a
``BEGIN IMMEDIATE`` transaction, on PostgreSQL a row lock. The wait itself happens outside
the transaction, as in ``InProcessRateLimiter``, whose arithmetic (``Bucket``) it shares.

Times are Unix times, since processes share no other clock; on one machine they agree, and
several machines sharing PostgreSQL need their clocks kept in step (NTP), as any
distributed rate limit does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from hookline.http.ratelimit import (
    MAX_WAIT,
    Bucket,
    Budget,
    Feedback,
    Wait,
    announce,
    too_long,
)
from hookline.plugins.protocols import BudgetLedger, BudgetState


class SharedRateLimiter:
    """Budgets in a ``BudgetLedger``: one bucket per budget key for every process using it.

    A reserved slot is spent even if its request is cancelled, and a slot further away than
    ``max_wait`` is not reserved at all.
    """

    def __init__(
        self,
        ledger: BudgetLedger,
        *,
        clock: Callable[[], float] = time.time,
        on_wait: Callable[[Wait], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self._clock = clock
        self.on_wait = on_wait

    async def acquire(self, key: str, budget: Budget | None, *, max_wait: float = MAX_WAIT) -> None:
        """Wait for a slot of budget ``key``; ``RateLimitWaitError`` past ``max_wait``."""
        clock = self._clock

        def reserve(state: BudgetState | None) -> tuple[BudgetState | None, Any]:
            now = clock()
            bucket = Bucket.from_data(state)
            if budget is None and bucket.is_idle(now, None):
                return None, (0.0, None)  # nothing to count and nothing to wait for
            start = bucket.next_start(now, budget)
            asked = bucket.paused_for(start)
            wait = start - now
            if wait > max_wait:
                return None, too_long(
                    key, budget, wait=wait, asked=asked, max_wait=max_wait, until=start
                )
            bucket.take(start, budget)
            return bucket.to_data(), (wait, asked)

        result = await self.ledger.update_budget(key, reserve)
        if isinstance(result, Exception):
            raise result
        delay, asked = result
        if delay > 0:
            announce(self.on_wait, key, budget, delay, asked)
            await asyncio.sleep(delay)

    async def feedback(self, key: str, budget: Budget | None, feedback: Feedback) -> None:
        """Pause or pace budget ``key`` for every process, as ``feedback`` says."""
        clock = self._clock

        def learn(state: BudgetState | None) -> tuple[BudgetState | None, None]:
            bucket = Bucket.from_data(state)
            bucket.learn(clock(), budget, feedback)
            return bucket.to_data(), None

        await self.ledger.update_budget(key, learn)
