"""The hookline plugin of Issuehub: its spec and its sandbox.

hookline loads this module through the ``hookline`` entry point in ``pyproject.toml``.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from importlib.resources.abc import Traversable

from hookline import Sandbox, hookimpl

from . import sandbox


@hookimpl
def register_connectors() -> Sequence[Traversable]:
    """The connector's spec, shipped in the package."""
    return [files("hookline_issuehub").joinpath("issuehub.yaml")]


@hookimpl
def register_sandboxes() -> Sequence[Sandbox]:
    """The local simulator of the API."""
    return [
        Sandbox(
            name="issuehub",
            title="Issuehub",
            create_app=sandbox.create_app,
            connection=sandbox.demo_connection,
            credentials=sandbox.DEMO_CREDENTIALS,
        )
    ]
