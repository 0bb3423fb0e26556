"""Leases in the state store, kept by their holder for as long as its work runs.

What several processes must do once between them is done under a lease: running a job and
polling a trigger (``hookline.run.claims``), logging in for a credential
(``hookline.http.auth.shared``), refreshing a connection's OAuth tokens
(``hookline.http.auth.grants``). A lease is short, and its holder renews it in the
background every third of its length while the work runs (``Heartbeat``), then gives it
back. So the lease lasts as long as the work, however long a login or a token request
takes, and a holder that died stops renewing: its lease runs out within one lease period.

``Lease`` is the lease of a login or a token refresh: a process that finds it held waits for
the holder's result, looking every ``POLL`` seconds, for at most ``WAIT`` seconds; past
that it fails, saying what it waited for and how long. A fixed lease that its holder did not
renew would let a second process take it while the first one's request was still on its way,
and a server that rotates refresh tokens would then take one of the two processes' token for
a stolen one.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from types import TracebackType
from typing import Protocol, TypeVar

from hookline.errors import AuthenticationError
from hookline.http.ratelimit import seconds_text

T = TypeVar("T")

LEASE = 30.0
"""Seconds a login or refresh lease holds without renewal: how long a holder that died
delays the others."""

POLL = 0.1
"""Seconds between two looks for the holder's result while another process holds a lease."""

WAIT = 300.0
"""Seconds a process waits for another's login or token refresh: a request's default total
deadline."""

logger = logging.getLogger(__name__)


class Heartbeat:
    """Calls ``renew`` every ``every`` seconds in the background, from ``start`` to ``stop``
    (or for the ``async with`` block).

    A renewal that fails (the store briefly unreachable) is tried again at the next beat, so
    a lease three beats long survives two failures in a row.
    """

    def __init__(self, renew: Callable[[], Awaitable[object]], every: float) -> None:
        self.renew = renew
        self.every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin beating."""
        self._task = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        """Stop beating; a renewal under way is cancelled."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            with suppress(Exception):
                await self.renew()

    async def __aenter__(self) -> Heartbeat:
        self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


class Leases(Protocol):
    """Leases by key, shared by every process: what ``TokenStore`` and ``SessionCache``
    offer."""

    async def claim(self, key: str, holder: str, seconds: float) -> bool:
        """Take the lease of ``key`` for ``seconds`` unless another holder's lease still
        runs; the holder claiming again keeps it ``seconds`` from now."""
        ...

    async def release(self, key: str, holder: str) -> None:
        """Give the lease of ``key`` back, if ``holder`` still holds it."""
        ...


class Lease:
    """The lease of one login or token refresh, as this process takes, keeps and gives it
    back.

    ``work`` says what the holder does (``refresh the OAuth tokens of connection 'crm'``),
    for the messages of a process that waits; ``connector`` names the connector in its error.
    """

    def __init__(self, leases: Leases, key: str, *, work: str, connector: str) -> None:
        self.leases = leases
        self.key = key
        self.work = work
        self.connector = connector
        self.holder = uuid.uuid4().hex
        self.held = False
        self._heartbeat = Heartbeat(self._renew, LEASE / 3)

    async def take(self, done: Callable[[], Awaitable[T | None]]) -> T | None:
        """Hold the lease, or return the result another holder's work left.

        None means this process holds the lease now, renewed until ``release``. While
        another process holds it, ``done`` is asked every ``POLL`` seconds for that
        process's result (None: not there yet); past ``WAIT`` seconds the wait fails.
        """
        until = time.monotonic() + WAIT
        told = False
        while not await self.leases.claim(self.key, self.holder, LEASE):
            if not told:
                logger.info(
                    "waiting up to %s for another process to %s", seconds_text(WAIT), self.work
                )
                told = True
            await asyncio.sleep(POLL)
            found = await done()
            if found is not None:
                return found
            if time.monotonic() >= until:
                raise AuthenticationError(
                    f"waited {seconds_text(WAIT)} for another process to {self.work}, and it "
                    "is still at it; try again once it has finished (or its process has "
                    f"stopped: its lease then runs out within {seconds_text(LEASE)})",
                    connector=self.connector,
                )
        self.held = True
        self._heartbeat.start()
        return None

    async def release(self) -> None:
        """Stop renewing the lease and give it back; nothing if this process does not hold it."""
        if self.held:
            self.held = False
            await self._heartbeat.stop()
            await self.leases.release(self.key, self.holder)

    async def _renew(self) -> None:
        if not await self.leases.claim(self.key, self.holder, LEASE):
            logger.warning(
                "the lease to %s was taken over after this process stalled for longer than "
                "%s; another process may do it too",
                self.work,
                seconds_text(LEASE),
            )
