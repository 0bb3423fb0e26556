"""The account-wide rate limit: 30 calls a minute across all tokens, then a cooldown.

PlanRadar documents "30 requests per minute per account, aggregated across all tokens"; an
account that exceeds it is put in a 5-minute cooldown during which requests are rejected. The
sandbox counts every authenticated call in a sliding window, rejects all calls while a cooldown
runs (it does not extend it), and gives the account a fresh budget once the cooldown ends. With
``cooldown`` 0 there is no lockout: a call is refused only while the window is full.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class RateLimiter:
    """A sliding-window call budget per account, with a cooldown once it is overshot."""

    def __init__(
        self,
        *,
        limit: int,
        window: float,
        cooldown: float,
        clock: Callable[[], float],
        retry_after: bool,
    ) -> None:
        self.limit = limit
        self.window = window
        self.cooldown = cooldown
        self.clock = clock
        self.retry_after = retry_after
        self.calls: dict[str, deque[float]] = {}
        self.cooldown_until: dict[str, float] = {}

    def admit(self, account: str) -> float | None:
        """Count a call of ``account``; None when allowed, else the seconds until it may retry."""
        now = self.clock()
        until = self.cooldown_until.get(account, 0.0)
        if now < until:
            return until - now
        calls = self.calls.setdefault(account, deque())
        while calls and calls[0] <= now - self.window:
            calls.popleft()
        if len(calls) < self.limit:
            calls.append(now)
            return None
        if self.cooldown > 0:
            self.cooldown_until[account] = now + self.cooldown
            calls.clear()
            return self.cooldown
        return calls[0] + self.window - now
