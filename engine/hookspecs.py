"""Every extension point of hookline, as pluggy hook specifications.

Built-in connectors, auth types, paginators and functions are registered through these same
hooks (see ``hookline.plugins.DEFAULT_PLUGINS``), so a third-party plugin has no weaker path
than the core. Each hook is called with keyword arguments and returns data; the host does the
work. Hooks only ever gain arguments, so a plugin written against an older hookline keeps
working (pluggy passes an implementation only the arguments it names).

A plugin is a module with functions decorated by ``hookline.hookimpl``, exposed through the
entry point group ``hookline`` or named with ``--plugin module.path``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .expressions import ExpressionFunction
    from .sandbox import Sandbox

hookspec = pluggy.HookspecMarker("hookline")
hookimpl = pluggy.HookimplMarker("hookline")


# ---------------------------------------------------------------- connectors


@hookspec
def register_connectors() -> Sequence[Path | Traversable]:  # type: ignore[empty-body]
    """Return the connector spec files (YAML) this plugin provides.

    Each is a path, or a ``Traversable`` from ``importlib.resources.files(...)`` (which also
    works when the plugin is installed zipped).

    Called once when the connector catalogue is built. Each file is loaded, validated against
    the spec schema and compiled; a connector name registered twice is an error naming both
    plugins.
    """


@hookspec
def register_transports() -> Mapping[str, Any]:  # type: ignore[empty-body]
    """Return ``{connector name: transport factory}`` for connectors answered in-process.

    Every connection of such a connector sends its requests through
    ``factory(values) -> httpx.AsyncBaseTransport`` instead of the network (the built-in
    ``file`` connector reads and writes local files this way). Auth, rate limits, retries,
    error tables and redaction apply as to any connector.
    """


# ---------------------------------------------------------------- runtime building blocks


@hookspec
def register_auth_types() -> Mapping[str, Any]:  # type: ignore[empty-body]
    """Return ``{type name: auth type}`` for the ``connection.auth.type`` values this plugin adds.

    An auth type is a class with ``from_spec(config, compile)`` building it from the spec's
    ``auth`` block at load time, and ``bind(connection)`` returning an ``httpx.Auth`` whose
    ``async_auth_flow`` applies credentials (and logs in, for sessions) per request.
    """


@hookspec
def register_paginators() -> Mapping[str, Any]:  # type: ignore[empty-body]
    """Return ``{type name: paginator}`` for the ``paginate.type`` values this plugin adds.

    A paginator builds from the spec's ``paginate`` block at load time and, at run time, says
    which request fetches the next page given the last response, or that there is none.
    """


@hookspec
def register_functions() -> Sequence[ExpressionFunction]:  # type: ignore[empty-body]
    """Return the expression functions this plugin adds to the JMESPath language.

    Called when the expression runtime is built. A function name registered twice is an
    error naming both plugins; built-in JMESPath functions cannot be replaced.
    """


@hookspec
def register_webhook_verifiers() -> Mapping[str, Any]:  # type: ignore[empty-body]
    """Return ``{type name: verifier}`` for the ``verify.type`` values of webhook triggers.

    A verifier decides whether an incoming webhook request is authentic (HTTP Basic, a shared
    header, an HMAC signature), comparing secrets in constant time.
    """


# ---------------------------------------------------------------- running recipes


@hookspec
def register_executors() -> Mapping[str, Any]:  # type: ignore[empty-body]
    """Return ``{name: executor factory}`` for the ``--executor`` values this plugin adds.

    An executor runs jobs: in-process on asyncio by default, on workers at scale.
    """


@hookspec
def register_state_stores() -> Mapping[str, Any]:  # type: ignore[empty-body]
    """Return ``{URL scheme: store factory}`` for the ``--state`` URLs this plugin handles.

    A state store keeps trigger cursors, seen event keys and job history. The factory takes
    the URL and returns an open store.
    """


@hookspec
def register_sandboxes() -> Sequence[Sandbox]:  # type: ignore[empty-body]
    """Return the platform simulators (``hookline.Sandbox``) this plugin provides.

    ``hookline sandbox`` serves them on loopback and writes connections pointing at them;
    contract tests run each connector's spec against its sandbox.
    """
