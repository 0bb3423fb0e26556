"""Contract tests: each connector's spec against its sandbox, through the real runtime.

``served`` starts a sandbox on loopback and gives its state (to check effects) and the
connection values that point at it; ``call`` runs one action in a fresh connection;
``session`` runs a coroutine with one connection kept open across calls (token expiry,
refresh, logout).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from hookline.actions import call_action
from hookline.catalog import Catalog
from hookline.connection import Connection
from hookline.sandbox import running
from hookline.spec import Spec

T = TypeVar("T")


@dataclass
class Served:
    """A sandbox being served: its app state, base URL, connection values and the spec."""

    catalog: Catalog
    spec: Spec
    state: Any
    url: str
    values: dict[str, Any]

    def connection(self, **overrides: Any) -> Connection:
        """A connection to the sandbox; ``overrides`` replace connection values."""
        return Connection(
            self.spec, {**self.values, **overrides}, expressions=self.catalog.expressions
        )

    def call(self, action: str, input: dict[str, Any] | None = None, **overrides: Any) -> Any:
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


@pytest.fixture
def served(catalog: Catalog) -> Iterator[Callable[..., Any]]:
    """``served(name, seed=0, **options)``: a context manager serving that sandbox."""

    @contextmanager
    def serve(name: str, *, seed: int = 0, **options: Any) -> Iterator[Served]:
        box = catalog.sandboxes[name]
        app = box.create_app(seed=seed, **options)
        with running(app) as url:
            yield Served(catalog, catalog.spec(name), app.state.sandbox, url, box.connection(url))

    yield serve
