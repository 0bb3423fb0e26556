"""What a test calls a connector through: its spec, connection values, and where requests go.

A ``Harness`` opens connections of one connector through the real runtime (auth, pagination,
retries, error tables, redaction). Its subclasses say where the requests travel:
``hookline.testing.served.Served`` to a sandbox served on loopback, and
``hookline.testing.tape.Taped`` through a cassette, recorded or replayed. Tests are
synchronous; ``call`` and ``session`` run the runtime's coroutines to completion.

Each harness has a rate limiter of its own, so a sandbox served on a port an earlier test used
does not inherit that test's spent budget or 429 pause (budgets are keyed by base URL and
credentials).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, TypeVar

import httpx

from hookline.actions.call import call_action
from hookline.http.connection import Connection
from hookline.http.ratelimit import InProcessRateLimiter, RateLimiter
from hookline.spec.catalog import Catalog
from hookline.spec.model import Spec
from hookline.testing.polls import PollSimulation, by_event_key, simulate_polls

T = TypeVar("T")


class Harness:
    """Connections of connector ``spec.name`` with ``values``, for one test.

    ``limiter`` is the rate limiter its connections share (a fresh one by default; a
    ``Clock.limiter()`` to move budgets by hand).
    """

    def __init__(
        self,
        catalog: Catalog,
        spec: Spec,
        values: Mapping[str, Any],
        *,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.catalog = catalog
        self.spec = spec
        self.values = dict(values)
        self.limiter: RateLimiter = limiter or InProcessRateLimiter()

    def transport(self) -> httpx.AsyncBaseTransport | None:
        """The transport of the next connection (None: the network); subclasses choose."""
        local = self.catalog.transports.get(self.spec.name)
        return None if local is None else local(self.values)

    def opened(self, connection: Connection) -> None:
        """Called with each new connection before it is used (a recorder learns its secrets)."""

    def connection(self, **overrides: Any) -> Connection:
        """A connection (not yet used); ``overrides`` replace connection values."""
        connection = Connection(
            self.spec,
            {**self.values, **overrides},
            expressions=self.catalog.expressions,
            limiter=self.limiter,
            transport=self.transport(),
        )
        self.opened(connection)
        return connection

    def call(self, action: str, input: Mapping[str, Any] | None = None, **overrides: Any) -> Any:
        """Run one action in a fresh connection and return its output."""

        async def go() -> Any:
            async with self.connection(**overrides) as conn:
                return await call_action(conn, action, input or {})

        return asyncio.run(go())

    def session(self, work: Callable[[Connection], Awaitable[T]], **overrides: Any) -> T:
        """Run ``work`` with one open connection (closed, with logout, afterwards)."""

        async def go() -> T:
            async with self.connection(**overrides) as conn:
                return await work(conn)

        return asyncio.run(go())

    def simulate_polls(
        self,
        trigger: str,
        input: Mapping[str, Any] | None = None,
        *,
        rounds: int = 3,
        between: Callable[[int], object] | None = None,
        identity: Callable[[str, Any], Hashable] = by_event_key,
    ) -> PollSimulation:
        """Poll ``trigger`` ``rounds`` times, ``between(n)`` before cycle n (``simulate_polls``)."""
        return simulate_polls(
            self, trigger, input, rounds=rounds, between=between, identity=identity
        )
