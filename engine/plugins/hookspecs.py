"""Every extension point of hookline, as pluggy hook specifications.

Built-in connectors, auth types, paginators and functions are registered through these same
hooks (see ``hookline.plugins.manager.DEFAULT_PLUGINS``), so a third-party plugin has no weaker path
than the core. Each hook is called with keyword arguments and returns data; the host does the
work. Hooks only ever gain arguments, so a plugin written against an older hookline keeps
working (pluggy passes an implementation only the arguments it names).

A plugin is a module with functions decorated by ``hookline.hookimpl``, exposed through the
entry point group ``hookline`` or named with ``--plugin module.path``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import pluggy

from hookline.plugins.protocols import AuthType, Executor, Paginator, StateStore, WebhookVerifier
from hookline.plugins.records import ExecutorConfig, ExpressionFunction, Sandbox

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
    error tables and redaction apply as to any connector. A factory that also takes a
    keyword ``dry_run`` is called with ``dry_run=True`` for dry runs, and returns a transport
    that answers as the real one would but changes nothing (the ``file`` connector keeps
    what a dry run writes in memory, so a later read of the same run finds it); dry runs
    then show its answers instead of the actions' example outputs.
    """


# ---------------------------------------------------------------- runtime building blocks


@hookspec
def register_auth_types() -> Mapping[str, type[AuthType]]:  # type: ignore[empty-body]
    """Return ``{type name: auth type}`` for the ``connection.auth.type`` values this plugin adds.

    Called once when the catalogue is built. An auth type is a class meeting
    ``hookline.AuthType``:

    - ``schema``: a class attribute, the full JSON Schema of its ``auth`` block (``type`` a
      ``const`` of its name, a ``description`` on every property; ``{"$ref":
      "#/$defs/template"}`` and ``"#/$defs/expression"`` for templated values). It is
      composed into the spec schema, so a spec's block is validated and located like any
      other, and the spec reference documents it.
    - ``from_spec(cls, c: hookline.Compiler)``: a classmethod building the frozen, compiled
      object from the block at ``c`` (``c.get`` for raw values, ``c.value`` for templates,
      ``c.expression`` for JMESPath, ``hookline.spec.model.compile_request(c.at(KEY))`` for a
      request block, ``c.problem`` for a located problem). Called once at spec load.
    - ``bind(connection)``: returns an ``httpx.Auth`` for one ``Connection`` (it reads
      ``spec``, ``name``, ``base_url``, ``redactor``, ``session``, ``context()`` and
      ``build_request()``). Its ``async_auth_flow`` applies the credentials to each request;
      a flow that logs in yields its login requests first, marked with the
      ``hookline.http.send.AUTH_REQUEST`` extension (``login``), and may be a
      ``hookline.http.auth.static.LoginAuth`` (``needs_login``, ``login_flow``, ``logout_request``,
      ``forget``) so that a connection can log in before rendering a request that reads
      ``session`` and log out when it closes. Every secret it learns goes to
      ``connection.redactor``.
    """


@hookspec
def register_paginators() -> Mapping[str, type[Paginator]]:  # type: ignore[empty-body]
    """Return ``{type name: paginator}`` for the ``paginate.type`` values this plugin adds.

    Called once when the catalogue is built. A paginator is a class meeting
    ``hookline.Paginator``:

    - ``schema``: a class attribute, the full JSON Schema of its ``paginate`` block (``type``
      a ``const`` of its name, a ``description`` on every property), composed into the spec
      schema and documented in the spec reference.
    - ``from_spec(cls, c: hookline.Compiler)``: a classmethod building the frozen, compiled
      object from the block at ``c``, once at spec load.
    - ``max_records``: an attribute, the spec's bound on the records read (None: no bound).
    - ``pages(source, *, max_records=None)``: an async iterator of
      ``hookline.actions.pages.Page`` objects, fetched only as the caller asks for them. It
      never sends anything itself: ``source`` (a ``hookline.actions.pages.PageSource``) renders
      the action's request with the paginator's values (``source.request(page, where,
      values)``) and sends it through the connection's auth, rate limit and retries
      (``source.fetch(request)``); ``source.label`` names the action in messages. A link
      the platform gives for the next page must stay on the first request's origin.

    The engine bounds every read whatever the paginator does: a fetch past the block's
    ``max_pages`` (part of every schema ``block_schema`` makes) ends the read with a
    warning, and a page whose body repeats an earlier one of the read is an error.
    """


@hookspec
def register_functions() -> Sequence[ExpressionFunction]:  # type: ignore[empty-body]
    """Return the expression functions this plugin adds to the JMESPath language.

    Called when the expression runtime is built. A function name registered twice is an
    error naming both plugins; built-in JMESPath functions cannot be replaced.
    """


@hookspec
def register_webhook_verifiers() -> Mapping[str, type[WebhookVerifier]]:  # type: ignore[empty-body]
    """Return ``{type name: verifier}`` for the ``verify.type`` values of webhook triggers.

    A verifier (``hookline.WebhookVerifier``) decides whether an incoming webhook request is
    authentic (HTTP Basic, a shared header, an HMAC signature), comparing secrets in constant
    time.
    """


# ---------------------------------------------------------------- running recipes


@hookspec
def register_executors() -> Mapping[str, Callable[[ExecutorConfig], Executor]]:  # type: ignore[empty-body]
    """Return ``{name: executor factory}`` for the ``--executor`` values this plugin adds.

    An executor (``hookline.Executor``) runs jobs: in-process on asyncio by default, on workers
    at scale. The factory takes the command's ``hookline.ExecutorConfig`` (concurrency, broker
    URL, queue) and should import what it needs only when called, so that a command that does
    not choose it does not pay for it.
    """


@hookspec
def register_state_stores() -> Mapping[str, Callable[[str], StateStore]]:  # type: ignore[empty-body]
    """Return ``{URL scheme: store factory}`` for the ``--state`` URLs this plugin handles.

    A state store (``hookline.StateStore``) keeps trigger cursors, seen event keys and job
    history; it needs no hookline base class. The factory takes the URL and returns an open
    store.
    """


@hookspec
def register_sandboxes() -> Sequence[Sandbox]:  # type: ignore[empty-body]
    """Return the platform simulators (``hookline.Sandbox``) this plugin provides.

    ``hookline sandbox`` serves them on loopback and writes connections pointing at them;
    ``hookline run --sandbox`` runs recipes against them; the test kit (``hookline.testing``)
    and ``hookline test`` run each connector's tests and examples against its sandbox.
    """
