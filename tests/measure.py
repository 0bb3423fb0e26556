"""Measuring bounded work: how long it took, the most memory it held, how it ended.

Memory is what Python allocated while the work ran (``tracemalloc``), which is where an
inflated body, a doubled string or a runaway list would live. Tracing slows work that
allocates many small objects several times over; ``memory=False`` times it untraced.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class Measured:
    """How one piece of work went: its result or error, seconds taken, peak MiB held."""

    result: Any
    error: BaseException | None
    seconds: float
    peak_mib: float


def _start(memory: bool) -> float:
    if memory:
        tracemalloc.start()
        tracemalloc.reset_peak()
    return time.perf_counter()


def _stop(started: float, result: Any, error: BaseException | None) -> Measured:
    seconds = time.perf_counter() - started
    peak = 0
    if tracemalloc.is_tracing():
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return Measured(result, error, seconds, peak / MIB)


async def measured(work: Awaitable[Any], *, memory: bool = True) -> Measured:
    """Await ``work``, catching what it raises, and say how it went."""
    started = _start(memory)
    try:
        result = await work
    except Exception as exc:
        return _stop(started, None, exc)
    return _stop(started, result, None)


def measured_call(work: Callable[[], Any], *, memory: bool = True) -> Measured:
    """Call ``work``, catching what it raises, and say how it went."""
    started = _start(memory)
    try:
        result = work()
    except Exception as exc:
        return _stop(started, None, exc)
    return _stop(started, result, None)
