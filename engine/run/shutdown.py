"""Stopping on SIGTERM or Ctrl-C: no new work, the running jobs given a grace period.

The first SIGTERM or SIGINT sets ``requested``: nothing new starts (no poll cycle, no job, no
webhook request accepted), and what runs may finish within the grace period. A second signal
sets ``forced``: the jobs still running are interrupted now. An interrupted job is stored as
``interrupted`` and resumed at its first unfinished step by the next start; jobs that never
started stay queued. ``hookline serve`` and ``hookline run`` stop the same way.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Collection
from types import TracebackType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Shutdown:
    """The stop requests of one process, as events on its loop; an async context manager
    that installs the signal handlers while it is open."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.forced = asyncio.Event()
        self.signal: int | None = None
        self._installed: list[int] = []

    def request(self, signum: int | None = None) -> None:
        """Ask to stop; asked a second time, stop now."""
        if self.requested.is_set():
            self.forced.set()
            return
        self.signal = signum
        self.requested.set()

    async def __aenter__(self) -> Shutdown:
        loop = asyncio.get_running_loop()
        for signum in SIGNALS:
            try:
                loop.add_signal_handler(signum, self.request, signum)
            except (RuntimeError, ValueError, NotImplementedError):  # not the main thread
                continue
            self._installed.append(signum)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._installed:
            loop.remove_signal_handler(signum)
        self._installed.clear()

    async def finish(self, tasks: Collection[asyncio.Task[Any]], grace: float) -> None:
        """Wait for ``tasks`` for at most ``grace`` seconds (less if forced), then cancel the
        rest and wait for them to wind up (an interrupted job records itself)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        forced = asyncio.ensure_future(self.forced.wait())
        try:
            while not forced.done():
                pending = {task for task in tasks if not task.done()}
                remaining = deadline - loop.time()
                if not pending or remaining <= 0:
                    break
                await asyncio.wait(
                    {*pending, forced}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            forced.cancel()
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
