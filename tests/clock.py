"""A clock the tests move by hand, for the sandboxes' and the rate limiter's ``clock`` options."""

from __future__ import annotations

import time


class Clock:
    """Call it for the time; set ``now`` or ``advance`` it. It starts at ``start``, else now."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward."""
        self.now += seconds
