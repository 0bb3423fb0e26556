"""Rate budgets kept in the state store, so that every process of an installation shares them.

``SharedRateLimiter`` is the ``RateLimiter`` a command gives its connections when it has a
state store: a ``serve``, a ``hookline run`` and a ``hookline call`` started together then
take their slots from one budget per credential, and a pause one of them learns (a 429, a
``Retry-After``, a cooldown) holds for all. Taking a slot is one short transaction on the
budget's row through a ``BudgetLedger`` (``hookline.plugins.protocols``): on SQLite a
``BEGIN IMMEDIATE`` transaction, on PostgreSQL a row lock; its answer is another, which
stamps the slot with the moment the answer came. A wait happens outside any transaction,
as in ``InProcessRateLimiter``, whose arithmetic (``Bucket``) it shares, and ends with a
new try, which sees the slots stamped meanwhile.

Times are Unix times, since processes share no other clock; on one machine they agree, and
several machines sharing PostgreSQL need their clocks kept in step (NTP), as any
distributed rate limit does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, cast

from hookline.errors import RateLimitWaitError
from hookline.http.ratelimit import MAX_WAIT, Bucket, Budget, Feedback, Wait, announce
from hookline.plugins.protocols import BudgetLedger, BudgetState


class SharedRateLimiter:
    """Budgets in a ``BudgetLedger``: one bucket per budget key for every process using it.

    A slot is taken only when it is free (a request that must wait sleeps, then asks again),
    and stamped again when its answer comes (``Bucket.restamp``), so that no process counts
    a slot free before the platform does. A slot taken is spent even if its request is
    cancelled, and a slot further away than ``max_wait`` is not waited for at all.
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

    async def acquire(
        self, key: str, budget: Budget | None, *, max_wait: float = MAX_WAIT
    ) -> float | None:
        """Wait for a slot of budget ``key``; its stamp. ``RateLimitWaitError`` past
        ``max_wait``."""
        clock = self._clock
        began = clock()

        def attempt(state: BudgetState | None) -> tuple[BudgetState | None, Any]:
            now = clock()
            bucket = Bucket.from_data(state)
            if budget is None and bucket.is_idle(now, None):
                return None, (None, 0.0, None)  # nothing to count and nothing to wait for
            try:
                slot, wait, asked = bucket.try_take(
                    key, budget, now, began=began, max_wait=max_wait
                )
            except RateLimitWaitError as exc:
                return None, exc
            return (bucket.to_data() if wait <= 0 else None), (slot, wait, asked)

        told = False
        while True:
            result = await self.ledger.update_budget(key, attempt)
            if isinstance(result, Exception):
                raise result
            slot, delay, asked = result
            if delay <= 0:
                return cast("float | None", slot)
            if not told:
                announce(self.on_wait, key, budget, delay, asked)
                told = True
            await asyncio.sleep(delay)

    async def answered(
        self,
        key: str,
        budget: Budget | None,
        feedback: Feedback,
        *,
        slot: float | None = None,
    ) -> None:
        """Stamp ``slot`` with now, and pause or pace budget ``key`` for every process as
        ``feedback`` says; one transaction."""
        clock = self._clock

        def settle(state: BudgetState | None) -> tuple[BudgetState | None, None]:
            bucket = Bucket.from_data(state)
            bucket.settle(clock(), budget, feedback, slot)
            return bucket.to_data(), None

        await self.ledger.update_budget(key, settle)
