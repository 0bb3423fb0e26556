"""Waiting inside a job: for a duration, or until an action's output says the wait is over.

A ``wait`` step is bounded when the recipe loads (a day at most), and again here: a wait
until a condition calls its action at most ``timeout / every + 1`` times and stops at its
deadline, whatever the clock or the platform do. ``pause`` is the one place a job sleeps, so
that a test can make waiting instant.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


async def pause(seconds: float) -> None:
    """Sleep ``seconds`` on the running loop."""
    await asyncio.sleep(seconds)


class WaitTimedOut(Exception):
    """The condition did not hold within the timeout; ``result`` is the last output seen."""

    def __init__(self, checks: int, waited: float, result: Any) -> None:
        self.checks = checks
        self.waited = waited
        self.result = result
        super().__init__(f"the condition did not hold after {checks} checks in {waited:g} s")


@dataclass(frozen=True, slots=True)
class Waited:
    """How a wait until a condition ended: the output that met it, after ``checks`` calls."""

    result: Any
    checks: int
    waited: float


async def wait_until(
    check: Callable[[], Awaitable[Any]],
    holds: Callable[[Any], bool],
    *,
    every: float,
    timeout: float,
    on_check: Callable[[int], None] = lambda checks: None,
) -> Waited:
    """Call ``check`` until ``holds`` accepts its output, ``every`` seconds apart.

    Stops with ``WaitTimedOut`` when the next call would come after ``timeout`` seconds, or
    after ``timeout / every + 1`` calls, whichever comes first. ``on_check`` is told the
    number of calls so far, after each one.
    """
    started = time.monotonic()
    most = math.floor(timeout / every) + 1 if every > 0 else 1
    checks = 0
    while True:
        result = await check()
        checks += 1
        on_check(checks)
        waited = time.monotonic() - started
        if holds(result):
            return Waited(result, checks, waited)
        if checks >= most or waited + every > timeout:
            raise WaitTimedOut(checks, round(waited, 3), result)
        await pause(every)
