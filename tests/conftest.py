"""Fixtures shared by the whole suite: the built-in plugins' catalog and an echo server.

``echo`` is module-scoped (one server per test module); ``server`` is the same server with
what it saw and its queued replies cleared, so each test starts from nothing. Every test gets
a state store of its own through ``HOOKLINE_STATE`` (commands that open connections keep rate
budgets and sessions there), so none writes into the checkout's ``.hookline``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hookline.plugins.manager import get_plugin_manager
from hookline.spec.catalog import Catalog
from tests.servers import EchoState, serve_echo


@pytest.fixture(autouse=True)
def state_of_its_own(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh default state store for each test."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("HOOKLINE_STATE", str(folder / "state.db"))


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The built-in plugins, without third-party entry points."""
    return Catalog(get_plugin_manager(entry_points=False))


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[str, EchoState]]:
    """An echo server on loopback for the module's tests: its base URL and its state."""
    yield from serve_echo()


@pytest.fixture
def server(echo: tuple[str, EchoState]) -> tuple[str, EchoState]:
    """The module's echo server, emptied of what earlier tests sent and queued."""
    echo[1].reset()
    return echo
