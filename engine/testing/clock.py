"""A clock that tests move by hand: platform time in sandboxes, budgets in the rate limiter.

Time-dependent behaviour (a token that expires, a rate-limit window that refills, a poll
scheduled every few minutes) is tested by giving the same ``Clock`` to the things that read
the time: a sandbox's ``clock`` option (``served(name, clock=clock)``), the rate limiter
(``clock.limiter()``), and code that sleeps (``await clock.sleep(60)`` returns at once, the
clock 60 seconds later). Nothing waits for real time to pass.
"""

from __future__ import annotations

import asyncio
import time

from hookline.http.ratelimit import InProcessRateLimiter


class Clock:
    """Call it for the time in epoch seconds; set ``now`` or ``advance`` it.

    It starts at ``start``, else at the real time when it is made, and never moves by itself.
    """

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward."""
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` and let other tasks run once; no real waiting."""
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)

    def limiter(self) -> InProcessRateLimiter:
        """A rate limiter of its own whose budgets refill as this clock moves.

        Pass it as ``limiter=`` to a ``Connection`` (``Served.connection(limiter=...)``). A
        request that would have to wait for a slot still waits in real time, so move the
        clock past the window before sending it.
        """
        return InProcessRateLimiter(self)
