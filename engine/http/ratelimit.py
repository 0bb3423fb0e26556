"""Rate limits: a request budget owned by a credential, shared by everything in the process.

A connection's requests (logins included) pass through ``RateLimitedTransport``, an httpx
transport wrapper that takes a slot from the ``RateLimiter`` before each request and reports
what the platform said about its budget afterwards. Connections whose budget key is equal
share one budget, however many recipes and tasks use them.

The budget is a bucket of ``requests`` tokens in which a spent token comes back ``per``
seconds later (plus a guard), so at most ``requests`` requests start in any window of
``per`` seconds: a plain refilling bucket would allow twice that across a window boundary,
and a platform such as PlanRadar punishes one overshoot with a five-minute lockout. The
guard absorbs network jitter between the moment a slot is granted and the moment the
platform counts the request.

Platform feedback slows the bucket down: a 429 or a ``Retry-After`` pauses it, and
``X-RateLimit-Remaining`` with ``X-RateLimit-Reset`` spread the remaining requests evenly
over the time left. ``RateLimiter`` is a small protocol; ``InProcessRateLimiter`` keeps its
state in memory (thread-safe, usable from any event loop), and a store shared by worker
processes can implement the same two methods.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

GUARD = 0.05
"""The fraction of a window added before a spent token returns..."""

GUARD_MIN = 0.1
"""...and at least this many seconds: network jitter does not shrink with the window."""

COOLDOWN = 1.0
"""Seconds a budget without a declared window pauses after a 429 without ``Retry-After``."""

_EPOCH_THRESHOLD = 1_000_000_000  # a reset value above this is a Unix time, not a delay
_SIGNALS = frozenset({"retry-after", "x-ratelimit-remaining", "x-ratelimit-reset"})


@dataclass(frozen=True, slots=True)
class Budget:
    """At most ``requests`` requests in any window of ``per`` seconds."""

    requests: int
    per: float


@dataclass(frozen=True, slots=True)
class Feedback:
    """What one response said about the budget; every part is optional."""

    refused: bool = False
    retry_after: float | None = None
    remaining: int | None = None
    reset: float | None = None

    @property
    def is_empty(self) -> bool:
        """True when the response said nothing about the budget."""
        return not self.refused and self.retry_after is None and self.remaining is None


def window(budget: Budget) -> float:
    """Seconds after which a spent token returns: the budget's window plus the guard."""
    return budget.per + max(budget.per * GUARD, GUARD_MIN)


class RateLimiter(Protocol):
    """Grants request slots per budget key and learns from the platform's answers."""

    async def acquire(self, key: str, budget: Budget | None) -> None:
        """Return when a request under ``key`` may start (``budget`` None: no own budget)."""
        ...

    async def feedback(self, key: str, budget: Budget | None, feedback: Feedback) -> None:
        """Slow the budget ``key`` down as the platform's answer asks."""
        ...


@dataclass(slots=True)
class _Bucket:
    grants: deque[float] = field(default_factory=deque)
    not_before: float = 0.0
    spacing: float = 0.0
    spacing_until: float = 0.0
    last: float = 0.0


class InProcessRateLimiter:
    """Budgets kept in this process's memory, shared by every connection and event loop in it.

    A slot is reserved under a thread lock and then waited for with ``asyncio.sleep``, so no
    asyncio primitive ties the limiter to one loop. A reserved slot is spent even if its
    request is cancelled: the limiter errs towards fewer requests.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    async def acquire(self, key: str, budget: Budget | None) -> None:
        """Wait for a slot of budget ``key``."""
        delay = self.reserve(key, budget)
        if delay > 0:
            await asyncio.sleep(delay)

    def reserve(self, key: str, budget: Budget | None) -> float:
        """Reserve the next free slot of ``key``; return the seconds until it starts."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.setdefault(key, _Bucket())
            start = max(now, bucket.not_before, bucket.last)
            if bucket.spacing and start < bucket.spacing_until:
                start = max(start, bucket.last + bucket.spacing)
            if budget is not None:
                if len(bucket.grants) >= budget.requests:
                    start = max(start, bucket.grants[0] + window(budget))
                bucket.grants.append(start)
                while len(bucket.grants) > budget.requests:
                    bucket.grants.popleft()
            bucket.last = start
            return start - now

    async def feedback(self, key: str, budget: Budget | None, feedback: Feedback) -> None:
        """Pause or pace budget ``key`` as ``feedback`` says."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.setdefault(key, _Bucket())
            pause = feedback.retry_after
            if pause is None and feedback.refused:
                pause = budget.per if budget is not None else COOLDOWN
            if pause is None and feedback.remaining == 0 and feedback.reset is not None:
                pause = feedback.reset
            if pause is not None:
                bucket.not_before = max(bucket.not_before, now + pause)
                if budget is not None:  # resume evenly, not in a burst
                    bucket.spacing = budget.per / budget.requests
                    bucket.spacing_until = bucket.not_before + budget.per
            elif feedback.remaining is not None and feedback.reset is not None:
                bucket.spacing = feedback.reset / max(feedback.remaining, 1)
                bucket.spacing_until = now + feedback.reset


_default: InProcessRateLimiter | None = None
_default_lock = threading.Lock()


def default_limiter() -> InProcessRateLimiter:
    """The limiter every connection of this process uses unless it is given another."""
    global _default
    with _default_lock:
        if _default is None:
            _default = InProcessRateLimiter()
        return _default


# ---------------------------------------------------------------- reading the platform's signals


def retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait that ``Retry-After`` asks for (delay-seconds or an HTTP-date), or None."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def feedback_of(status: int, headers: Mapping[str, str]) -> Feedback:
    """What a response's status and headers say about the budget."""
    remaining = _number(headers.get("x-ratelimit-remaining"))
    reset = _number(headers.get("x-ratelimit-reset"))
    if reset is not None and reset > _EPOCH_THRESHOLD:
        reset = max(0.0, reset - time.time())
    return Feedback(
        refused=status == 429,
        retry_after=retry_after(headers),
        remaining=None if remaining is None else int(remaining),
        reset=reset,
    )


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number >= 0 and number == number and number != float("inf") else None


class RateLimitedTransport(httpx.AsyncBaseTransport):
    """Takes a slot of one budget before each request; reports the answer's budget signals."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        limiter: RateLimiter,
        key: str,
        budget: Budget | None,
    ) -> None:
        self.inner = inner
        self.limiter = limiter
        self.key = key
        self.budget = budget

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Wait for a slot, send, and learn from the status and headers."""
        await self.limiter.acquire(self.key, self.budget)
        response = await self.inner.handle_async_request(request)
        status, headers = response.status_code, response.headers
        if status == 429 or not _SIGNALS.isdisjoint(headers.keys()):  # most answers say nothing
            feedback = feedback_of(status, headers)
            if not feedback.is_empty:
                await self.limiter.feedback(self.key, self.budget, feedback)
        return response

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()
