"""Rate limits: a request budget owned by a credential, shared by everything that uses it.

A connection's requests (logins included) pass through ``RateLimitedTransport``, an httpx
transport wrapper that takes a slot from the ``RateLimiter`` before each request and reports
what the platform said about its budget afterwards. Connections whose budget key is equal
share one budget, however many recipes and tasks use them.

The budget is a bucket of ``requests`` tokens in which a spent token comes back ``per``
seconds later (plus a guard), so at most ``requests`` requests start in any window of
``per`` seconds: a plain refilling bucket would allow twice that across a window boundary,
and a platform such as PlanRadar punishes one overshoot with a five-minute lockout.

The limiter's count never runs ahead of the platform's. A slot is stamped when its request
goes out, but the platform counts the request when it arrives, a moment the client cannot
see: somewhere before the answer comes back. So once the answer is in (or the request
failed), the slot is stamped again with that moment (``Bucket.restamp``), the latest time
the platform can have counted it, and its token returns a window after that. Slots are
never handed out ahead of time: a request that must wait sleeps until a slot may be free and
then asks again, so the wait it gets reflects every answer that came in meanwhile. The
guard still absorbs the jitter of a request whose answer is not in yet.

Platform feedback slows the bucket down: a 429, or a ``Retry-After`` on a 429 or 503, pauses
it, and ``X-RateLimit-Remaining`` with ``X-RateLimit-Reset`` pace it: requests go at once
while plenty remain, are spread evenly over the time left once fewer than the ``RESERVE`` of
the platform's budget remain, and wait for the reset when none do. A ``Retry-After`` on any
other answer is ignored: a success says nothing about the budget, and a hostile one must not
stall the connection.

Waits are bounded. A request whose slot is further away than the connection's ``max_wait``
(default ten minutes) fails at once with a ``RateLimitWaitError`` naming the wait and the
moment the budget frees up, and takes no slot. A wait longer than ``SHOWN_WAIT`` is told to
the limiter's ``on_wait`` callback (the command line shows it).

``RateLimiter`` is a small protocol. ``InProcessRateLimiter`` keeps its buckets in memory
(thread-safe, usable from any event loop); ``hookline.http.budget.SharedRateLimiter`` keeps
them in the state store, so that every process of an installation shares them. Both use
the arithmetic of ``Bucket``.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from hookline.errors import RateLimitWaitError

GUARD = 0.05
"""The fraction of a window added before a spent token returns..."""

GUARD_MIN = 0.1
"""...and at least this many seconds: network jitter does not shrink with the window."""

COOLDOWN = 1.0
"""Seconds a budget without a declared window pauses after a 429 without ``Retry-After``."""

MAX_WAIT = 600.0
"""Seconds a request waits for its budget at most, unless its connection sets ``max_wait``."""

SHOWN_WAIT = 3.0
"""Waits longer than this many seconds are told to ``on_wait``."""

RESERVE = 0.1
"""The share of the platform's budget held in reserve: once fewer requests remain, they are
spread over the time left until the reset; while more remain, requests go at once.

The budget is ``X-RateLimit-Limit``, else the most requests the platform said remained since
its last reset. Spreading a nearly full budget only slows short runs down (GitHub's 5000 an
hour would put 0.72 s between any two requests); spreading the reserve keeps a long run from
spending it in a burst and then standing still until the reset.
"""

_EPOCH_THRESHOLD = 1_000_000_000  # a reset value above this is a Unix time, not a delay
_SIGNALS = frozenset({"retry-after", "x-ratelimit-remaining", "x-ratelimit-reset"})
_PAUSING_STATUSES = frozenset({429, 503})  # where Retry-After speaks of the budget


@dataclass(frozen=True, slots=True)
class Budget:
    """At most ``requests`` requests in any window of ``per`` seconds."""

    requests: int
    per: float

    def __str__(self) -> str:
        """``30 calls a minute``, ``30 calls per 10 s``."""
        calls = f"{self.requests} call{'' if self.requests == 1 else 's'}"
        named = {1.0: "a second", 60.0: "a minute", 3600.0: "an hour", 86400.0: "a day"}
        return f"{calls} {named.get(float(self.per)) or f'per {self.per:g} s'}"


@dataclass(frozen=True, slots=True)
class Feedback:
    """What one response said about the budget; every part is optional."""

    refused: bool = False
    retry_after: float | None = None
    remaining: int | None = None
    reset: float | None = None
    limit: int | None = None

    @property
    def is_empty(self) -> bool:
        """True when the response said nothing about the budget."""
        return not self.refused and self.retry_after is None and self.remaining is None


_SILENT = Feedback()
"""What an answer that says nothing about the budget teaches."""


@dataclass(frozen=True, slots=True)
class Wait:
    """A request of ``connector`` waits ``seconds`` for its budget.

    ``asked`` is the pause the platform asked for, when that is what the request waits for.
    """

    connector: str
    seconds: float
    budget: Budget | None
    asked: float | None = None

    @property
    def message(self) -> str:
        """``waiting 42 s for planradar's budget: 30 calls a minute``."""
        if self.asked is not None or self.budget is None:
            why = f"the platform asked for a pause of {seconds_text(self.asked or self.seconds)}"
        else:
            why = str(self.budget)
        return f"waiting {seconds_text(self.seconds)} for {self.connector}'s budget: {why}"


def window(budget: Budget) -> float:
    """Seconds after which a spent token returns: the budget's window plus the guard."""
    return budget.per + max(budget.per * GUARD, GUARD_MIN)


def seconds_text(seconds: float) -> str:
    """``42 s``, ``1.5 s``, ``1000000000 s``: whole seconds from ten on."""
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def moment_text(unix_time: float) -> str:
    """A Unix time as ``2025-03-04 09:00:00 UTC`` (or words, past the calendar's end)."""
    try:
        return datetime.fromtimestamp(unix_time, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, ValueError, OSError):
        return "beyond the year 9999"


class RateLimiter(Protocol):
    """Grants request slots per budget key and learns from the platform's answers."""

    async def acquire(
        self, key: str, budget: Budget | None, *, max_wait: float = MAX_WAIT
    ) -> float | None:
        """Return when a request under ``key`` may start (``budget`` None: no own budget):
        the slot's stamp, to give back to ``answered`` (None when no slot was counted).

        A slot further away than ``max_wait`` seconds raises ``RateLimitWaitError`` at once.
        """
        ...

    async def answered(
        self,
        key: str,
        budget: Budget | None,
        feedback: Feedback,
        *,
        slot: float | None = None,
    ) -> None:
        """The answer of a request under ``key`` came (or the request failed): stamp its
        ``slot`` with this moment, and slow the budget down as ``feedback`` asks."""
        ...


# ---------------------------------------------------------------- the arithmetic


@dataclass(slots=True)
class Bucket:
    """One budget's state: the start times of the latest slots, pauses and pacing.

    Times are read from one clock (monotonic in a process, Unix time in a shared store).
    ``asked`` is the pause the platform asked for that ends at ``not_before``. ``peak`` is
    the platform's budget in its window ending at ``peak_until``: its limit, else the most
    requests it said remained.
    """

    grants: list[float] = field(default_factory=list)
    not_before: float = 0.0
    asked: float | None = None
    spacing: float = 0.0
    spacing_until: float = 0.0
    last: float = 0.0
    peak: int = 0
    peak_until: float = 0.0

    @classmethod
    def from_data(cls, data: Mapping[str, Any] | None) -> Bucket:
        """A bucket from ``to_data``'s form; a fresh one from None or a foreign shape."""
        if not data:
            return cls()
        try:
            asked = data.get("asked")
            return cls(
                grants=[float(t) for t in data.get("grants", [])],
                not_before=float(data.get("not_before", 0.0)),
                asked=None if asked is None else float(asked),
                spacing=float(data.get("spacing", 0.0)),
                spacing_until=float(data.get("spacing_until", 0.0)),
                last=float(data.get("last", 0.0)),
                peak=int(data.get("peak", 0)),
                peak_until=float(data.get("peak_until", 0.0)),
            )
        except (TypeError, ValueError, AttributeError):
            return cls()

    def to_data(self) -> dict[str, Any]:
        """JSON-shaped state, for a shared store."""
        return {
            "grants": self.grants,
            "not_before": self.not_before,
            "asked": self.asked,
            "spacing": self.spacing,
            "spacing_until": self.spacing_until,
            "last": self.last,
            "peak": self.peak,
            "peak_until": self.peak_until,
        }

    def next_start(self, now: float, budget: Budget | None) -> float:
        """When the next slot would start; nothing changes."""
        start = max(now, self.not_before, self.last)
        if self.spacing and start < self.spacing_until:
            start = max(start, self.last + self.spacing)
        if budget is not None and len(self.grants) >= budget.requests:
            start = max(start, self.grants[-budget.requests] + window(budget))
        return start

    def paused_for(self, start: float) -> float | None:
        """The pause the platform asked for, when that is what a slot at ``start`` waits for."""
        return self.asked if self.asked is not None and self.not_before >= start else None

    def take(self, start: float, budget: Budget | None) -> None:
        """Spend the slot at ``start``."""
        if budget is not None:
            self.grants.append(start)
            del self.grants[: max(0, len(self.grants) - budget.requests)]
        self.last = start

    def restamp(self, slot: float, at: float, budget: Budget) -> None:
        """Stamp the slot taken at ``slot`` with ``at``, when its answer came.

        The platform counted the request at some moment in between; ``at`` is the latest it
        can have been, so the slot's token returns a window after it. A slot that has left
        the list (``requests`` slots were taken after it) still goes back in at ``at``,
        where it may delay the next one.
        """
        if at <= slot:
            return
        with suppress(ValueError):
            self.grants.remove(slot)
        bisect.insort(self.grants, at)
        del self.grants[: max(0, len(self.grants) - budget.requests)]

    def settle(
        self, now: float, budget: Budget | None, feedback: Feedback, slot: float | None
    ) -> None:
        """What an answer at ``now`` teaches: ``restamp`` its slot, ``learn`` its feedback."""
        if slot is not None and budget is not None:
            self.restamp(slot, now, budget)
        if not feedback.is_empty:
            self.learn(now, budget, feedback)

    def try_take(
        self, key: str, budget: Budget | None, now: float, *, began: float, max_wait: float | None
    ) -> tuple[float | None, float, float | None]:
        """Take a slot at ``now`` if one is free: ``(slot, 0, None)`` (``slot`` None when
        nothing is counted); else nothing is taken: ``(None, wait, asked)``, the seconds
        until one may be and the pause the platform asked for, if that is the reason.

        A slot further than ``max_wait`` from ``began`` (when the request first asked)
        raises the ``RateLimitWaitError`` of ``too_long``.
        """
        start = self.next_start(now, budget)
        asked = self.paused_for(start)
        if max_wait is not None and start - began > max_wait:
            wait = start - now
            raise too_long(
                key, budget, wait=wait, asked=asked, max_wait=max_wait, until=time.time() + wait
            )
        if start > now:
            return None, start - now, asked
        self.take(now, budget)
        return (now if budget is not None else None), 0.0, None

    def learn(self, now: float, budget: Budget | None, feedback: Feedback) -> None:
        """Pause or pace the bucket as ``feedback`` says."""
        pause = feedback.retry_after
        if pause is None and feedback.refused:
            pause = budget.per if budget is not None else COOLDOWN
        if pause is None and feedback.remaining == 0 and feedback.reset is not None:
            pause = feedback.reset
        if pause is not None:
            if now + pause > self.not_before:
                self.not_before = now + pause
                self.asked = pause
            if budget is not None:  # resume evenly, not in a burst
                self.spacing = budget.per / budget.requests
                self.spacing_until = self.not_before + budget.per
        elif feedback.remaining is not None and feedback.reset is not None:
            self.pace(now, feedback.remaining, feedback.reset, feedback.limit)

    def pace(self, now: float, remaining: int, reset: float, limit: int | None) -> None:
        """Spread ``remaining`` (at least one) requests over the ``reset`` seconds left once
        they are fewer than the ``RESERVE`` of the budget; else let them go at once."""
        seen = self.peak if now < self.peak_until else 0
        self.peak = limit if limit is not None else max(seen, remaining)
        self.peak_until = now + reset
        self.spacing = reset / remaining if remaining < self.peak * RESERVE else 0.0
        self.spacing_until = now + reset

    def is_idle(self, now: float, budget: Budget | None) -> bool:
        """Whether the bucket holds nothing that could delay a slot from ``now`` on."""
        return (
            self.not_before <= now
            and (not self.spacing or self.spacing_until <= now)
            and (budget is None or not self.grants or self.grants[-1] + window(budget) <= now)
        )


def too_long(
    key: str,
    budget: Budget | None,
    *,
    wait: float,
    asked: float | None,
    max_wait: float,
    until: float,
) -> RateLimitWaitError:
    """The error of a request whose slot is ``wait`` seconds away, past ``max_wait``."""
    connector = key.partition(":")[0]
    if asked is not None:
        why = (
            f"the platform asked for a pause of {seconds_text(asked)} (until "
            f"{moment_text(until)}, {seconds_text(wait)} from now)"
        )
    else:
        why = (
            f"its budget ({budget or 'none'}) has no free slot for {seconds_text(wait)} "
            f"(until {moment_text(until)})"
        )
    return RateLimitWaitError(
        f"{connector}: {why}, longer than the connection's max_wait of "
        f"{seconds_text(max_wait)}; nothing was sent. Try again later, or raise the "
        "connection's max_wait",
        wait=wait,
        until=until,
        asked=asked,
        connector=connector,
    )


def announce(
    on_wait: Callable[[Wait], None] | None,
    key: str,
    budget: Budget | None,
    delay: float,
    asked: float | None,
) -> None:
    """Tell ``on_wait`` of a wait longer than ``SHOWN_WAIT``."""
    if on_wait is not None and delay > SHOWN_WAIT:
        on_wait(Wait(key.partition(":")[0], delay, budget, asked))


class InProcessRateLimiter:
    """Budgets kept in this process's memory, shared by every connection and event loop in it.

    A slot is taken under a thread lock and waited for with ``asyncio.sleep``, so no asyncio
    primitive ties the limiter to one loop. A slot taken is spent even if its request is
    cancelled: the limiter errs towards fewer requests.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        on_wait: Callable[[Wait], None] | None = None,
    ) -> None:
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()
        self.on_wait = on_wait

    async def acquire(
        self, key: str, budget: Budget | None, *, max_wait: float = MAX_WAIT
    ) -> float | None:
        """Wait for a slot of budget ``key``; its stamp. ``RateLimitWaitError`` past
        ``max_wait``."""
        began = self._clock()
        told = False
        while True:
            slot, delay, asked = self._try(key, budget, began, max_wait)
            if delay <= 0:
                return slot
            if not told:
                announce(self.on_wait, key, budget, delay, asked)
                told = True
            await asyncio.sleep(delay)

    def reserve(self, key: str, budget: Budget | None, *, max_wait: float | None = None) -> float:
        """Take a slot of ``key`` if one is free now (0), else the seconds until one may be."""
        return self._try(key, budget, self._clock(), max_wait)[1]

    def _try(
        self, key: str, budget: Budget | None, began: float, max_wait: float | None
    ) -> tuple[float | None, float, float | None]:
        with self._lock:
            bucket = self._buckets.setdefault(key, Bucket())
            return bucket.try_take(key, budget, self._clock(), began=began, max_wait=max_wait)

    async def answered(
        self,
        key: str,
        budget: Budget | None,
        feedback: Feedback,
        *,
        slot: float | None = None,
    ) -> None:
        """Stamp ``slot`` with now, and pause or pace budget ``key`` as ``feedback`` says."""
        with self._lock:
            self._buckets.setdefault(key, Bucket()).settle(self._clock(), budget, feedback, slot)


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
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
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
    limit = _number(headers.get("x-ratelimit-limit"))
    if reset is not None and reset > _EPOCH_THRESHOLD:
        reset = max(0.0, reset - time.time())
    return Feedback(
        refused=status == 429,
        retry_after=retry_after(headers) if status in _PAUSING_STATUSES else None,
        remaining=None if remaining is None else int(remaining),
        reset=reset,
        limit=None if limit is None else int(limit),
    )


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number >= 0 and math.isfinite(number) else None


class RateLimitedTransport(httpx.AsyncBaseTransport):
    """Takes a slot of one budget before each request; reports the answer's budget signals."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        limiter: RateLimiter,
        key: str,
        budget: Budget | None,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self.inner = inner
        self.limiter = limiter
        self.key = key
        self.budget = budget
        self.max_wait = max_wait

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Wait for a slot, send, then stamp the slot and learn from the status and headers."""
        slot = await self.limiter.acquire(self.key, self.budget, max_wait=self.max_wait)
        try:
            response = await self.inner.handle_async_request(request)
        except Exception:  # it may have reached the platform all the same
            if slot is not None:
                await self.limiter.answered(self.key, self.budget, _SILENT, slot=slot)
            raise
        status, headers = response.status_code, response.headers
        feedback = _SILENT
        if status == 429 or not _SIGNALS.isdisjoint(headers.keys()):  # most answers say nothing
            feedback = feedback_of(status, headers)
        if slot is not None or not feedback.is_empty:
            await self.limiter.answered(self.key, self.budget, feedback, slot=slot)
        return response

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()
