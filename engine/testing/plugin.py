"""The pytest plugin of the test kit, registered through the ``pytest11`` entry point.

Installing hookline makes these fixtures available to every test suite in the environment:

- ``hookline_catalog`` (session): the connectors and sandboxes of every installed plugin.
- ``served``: ``served(connector, seed=0, **options)`` is a context manager serving a fresh
  sandbox on loopback and giving a ``Served`` harness (``call``, ``session``,
  ``simulate_polls``, the sandbox's ``state`` and ``url``).
- ``cassette``: ``cassette(name, connector, seed=0, values=None, **options)`` is a context
  manager giving a ``Taped`` harness that replays the cassette ``name`` (``.yaml`` added when
  it has no suffix) from the cassette folder, or records it when the file does not exist or
  ``--hookline-record`` is given: against the sandbox (``seed`` and ``options`` go to it), or
  against the connection that ``--hookline-connection NAME`` names in the connections file.
  ``values`` replace connection values of a replay (a secret's stand-in of the right form).
- ``clock``: a ``Clock`` that starts now and moves only when told.

The cassette folder is ``--hookline-cassettes DIR``, else ``cassettes`` beside the test file.
A suite overrides ``hookline_catalog`` in its ``conftest.py`` to choose the plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from hookline.plugins.manager import get_plugin_manager
from hookline.run.connections import load_connections
from hookline.spec.catalog import Catalog
from hookline.testing.clock import Clock
from hookline.testing.served import Served, serve
from hookline.testing.suite import NOT_INSTALLED
from hookline.testing.tape import Taped, taped


def pytest_addoption(parser: pytest.Parser) -> None:
    """The kit's command-line options."""
    group = parser.getgroup("hookline", "hookline connector tests")
    group.addoption(
        "--hookline-record",
        action="store_true",
        help="Record every cassette again instead of replaying it.",
    )
    group.addoption(
        "--hookline-cassettes",
        metavar="DIR",
        help="The folder of cassettes (default: 'cassettes' beside each test file).",
    )
    group.addoption(
        "--hookline-connection",
        metavar="NAME",
        help="Record cassettes against this connection of the connections file, not a sandbox.",
    )


@pytest.fixture(scope="session")
def hookline_catalog() -> Catalog:
    """The built-in connectors and those of every installed plugin.

    A connector it does not know is reported with ``NOT_INSTALLED``: a plugin's package must
    be installed for its own tests to see its connectors.
    """
    return Catalog(get_plugin_manager(), unknown_hint=NOT_INSTALLED)


@pytest.fixture
def served(hookline_catalog: Catalog) -> Callable[..., AbstractContextManager[Served]]:
    """``served(connector, seed=0, **options)``: a context manager serving its sandbox."""

    def open_sandbox(name: str, *, seed: int = 0, **options: Any) -> AbstractContextManager[Served]:
        return serve(hookline_catalog, name, seed=seed, **options)

    return open_sandbox


@pytest.fixture
def cassette(
    request: pytest.FixtureRequest, hookline_catalog: Catalog
) -> Callable[..., AbstractContextManager[Taped]]:
    """``cassette(name, connector, seed=0, values=None, **options)``: replay or record one."""
    config = request.config
    folder_option = config.getoption("--hookline-cassettes")
    folder = Path(folder_option) if folder_option else request.path.parent / "cassettes"
    record_all = bool(config.getoption("--hookline-record"))
    connection = config.getoption("--hookline-connection")

    def open_cassette(
        name: str,
        connector: str,
        *,
        seed: int = 0,
        values: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> AbstractContextManager[Taped]:
        path = folder / name if Path(name).suffix else folder / f"{name}.yaml"
        record = record_all or not path.exists()
        if record:
            values = None
            if connection:
                entry = load_connections(hookline_catalog).resolve(connection, connector=connector)
                values = entry.values
        return taped(
            hookline_catalog, path, connector, record=record, values=values, seed=seed, **options
        )

    return open_cassette


@pytest.fixture
def clock() -> Iterator[Clock]:
    """A clock at the current time that moves only when the test moves it."""
    yield Clock()
