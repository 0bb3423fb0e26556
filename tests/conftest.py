"""Fixtures shared by the whole suite: the built-in plugins' catalog and an echo server.

``catalog`` is also the catalog of the test kit's fixtures (``served``, ``cassette``, from
``hookline.testing.plugin``), so the suite sees the built-ins and no installed plugin.

Every test starts without proxy variables (a connection reads them as httpx does, and the
suite's servers are on loopback); a test that needs one sets it.

``echo`` is module-scoped (one server per test module); ``server`` is the same server with
what it saw and its queued replies cleared, so each test starts from nothing. Every test gets
a state store of its own through ``HOOKLINE_STATE`` (commands that open connections keep rate
budgets and sessions there), so none writes into the checkout's ``.hookline``; the spec cache
of the command line is one of the session's own, through ``HOOKLINE_CACHE_DIR``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hookline.plugins.manager import get_plugin_manager
from hookline.spec.catalog import Catalog
from tests.servers import EchoState, serve_echo

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(autouse=True)
def state_of_its_own(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh default state store for each test."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("HOOKLINE_STATE", str(folder / "state.db"))


@pytest.fixture(autouse=True, scope="session")
def spec_cache_of_its_own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A spec cache for the session, so that no test reads or writes the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOOKLINE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The built-in plugins, without third-party entry points."""
    return Catalog(get_plugin_manager(entry_points=False))


@pytest.fixture(scope="session")
def hookline_catalog(catalog: Catalog) -> Catalog:
    """The kit's catalog: the built-in plugins, as ``catalog``."""
    return catalog


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[str, EchoState]]:
    """An echo server on loopback for the module's tests: its base URL and its state."""
    yield from serve_echo()


@pytest.fixture
def server(echo: tuple[str, EchoState]) -> tuple[str, EchoState]:
    """The module's echo server, emptied of what earlier tests sent and queued."""
    echo[1].reset()
    return echo
