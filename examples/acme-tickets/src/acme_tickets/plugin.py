"""The hookline plugin of Acme Tickets: its spec, auth type, paginator, function and sandbox.

hookline loads this module through the ``hookline`` entry point in ``pyproject.toml``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.resources import files
from importlib.resources.abc import Traversable

from hookline import AuthType, ExpressionFunction, Paginator, Sandbox, hookimpl

from . import sandbox
from .auth import AcmeHmacAuth
from .functions import FUNCTIONS
from .paging import AcmeSeekPaginator


@hookimpl
def register_connectors() -> Sequence[Traversable]:
    """The connector's spec, shipped in the package."""
    return [files("acme_tickets").joinpath("acme_tickets.yaml")]


@hookimpl
def register_auth_types() -> Mapping[str, type[AuthType]]:
    """Acme's signed requests."""
    return {"acme_hmac": AcmeHmacAuth}


@hookimpl
def register_paginators() -> Mapping[str, type[Paginator]]:
    """Acme's keyset pages."""
    return {"acme_seek": AcmeSeekPaginator}


@hookimpl
def register_functions() -> Sequence[ExpressionFunction]:
    """``acme_ref(number)``."""
    return FUNCTIONS


@hookimpl
def register_sandboxes() -> Sequence[Sandbox]:
    """The local simulator of Acme's API."""
    return [
        Sandbox(
            name="acme_tickets",
            title="Acme Tickets",
            create_app=sandbox.create_app,
            connection=sandbox.demo_connection,
            credentials=sandbox.DEMO_CREDENTIALS,
        )
    ]
