"""Connections: a connector spec plus one user's connection values, ready to send requests.

A ``Connection`` validates the values against the spec's connection schema (defaults filled
in, secrets never shown in a message), checks that the base URL keeps credentials safe, binds
the spec's auth types, and owns one pooled ``httpx.AsyncClient`` whose transport takes a slot
of the connection's rate budget before every request (logins too) and bounds every exchange
by the total deadline, over httpx's own transport with the environment's proxies
(``hookline.http.network``) unless a plugin answers in-process. ``build_request`` renders a
spec request template; ``send`` sends it through ``hookline.http.send.Sender`` (auth,
redirects, size cap, retries, typed errors).

A template may read ``session.*`` (PlexTrac's paths hold ``{{ session.tenant_id }}``, captured
at login), but a request is rendered before it is sent, so before its auth flow would log in.
A caller therefore awaits ``ready()`` before rendering a request that ``reads_session``; a dry
run renders with ``context(dry_run=True)`` instead, which shows ``<session.NAME>`` and never
logs in. Rendering itself, and why a path value cannot leave the base URL, is
``hookline.http.rendering``'s.

Given a ``SessionCache`` (``sessions``, from the state store), a connection shares its login
with every process that uses the same credential (``credential``, a hash of the connector,
base URL and values) and leaves the session open when it closes, for the next one to reuse;
``logout()`` ends it for all. Its rate budget is the spec's ``rate_limit`` unless the values
give their own, and ``max_wait`` bounds every wait for it (``hookline.http.ratelimit``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import ipaddress
import json
import logging
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from hookline.documents.loader import Document
from hookline.documents.schema_errors import schema_problems
from hookline.errors import ConfigurationError, HooklineError
from hookline.expr.templates import Expressions
from hookline.http.auth.static import AuthChain, NoneAuth
from hookline.http.auth.storage import TokenStore
from hookline.http.network import NetworkTransport
from hookline.http.ratelimit import (
    MAX_WAIT,
    Budget,
    RateLimitedTransport,
    RateLimiter,
    default_limiter,
)
from hookline.http.redaction import Redactor, protect_logging
from hookline.http.rendering import RequestRenderer, reads, reads_session
from hookline.http.responses import Response
from hookline.http.send import CallPolicy, DeadlineTransport, Sender
from hookline.plugins.protocols import SessionCache
from hookline.spec.catalog import Catalog
from hookline.spec.model import Request, RetryPolicy, Spec
from hookline.version import __version__

__all__ = ["CallPolicy", "Connection", "Response", "base_url_problem", "connect"]

logger = logging.getLogger(__name__)

_LOGOUT = CallPolicy(action="logout", retry=RetryPolicy(attempts=1), response="bytes")


def base_url_problem(rendered: Any) -> str | None:
    """What is wrong with ``rendered`` as a base URL ("the base URL 'X' is not ..."); None
    when it is a bare http or https URL. A user name and password in it are shown as ``***``.
    The connections file is checked with it as it loads."""
    try:
        url = httpx.URL(str(rendered).rstrip("/")) if isinstance(rendered, str) else None
    except httpx.InvalidURL:
        url = None
    shown = str(rendered)
    if url is None or url.scheme not in ("http", "https") or not url.host:
        problem = "is not an http or https URL"
    elif url.userinfo:
        shown = str(url.copy_with(username="***", password=None))
        problem = "holds a user name or password; give credentials in the connection's fields"
    elif url.query or url.fragment:
        problem = "has a query or fragment; give the bare base URL"
    else:
        return None
    return f"the base URL {shown!r} {problem}"


def _user_agent() -> str:
    return f"hookline/{__version__}"


class Connection:
    """A spec plus a user's connection values: one pooled client, its auth, budget, redactor.

    Use as ``async with Connection(spec, values, expressions=...) as conn:``; closing logs
    out (for sessions that declare it, unless the session is shared through ``sessions``)
    and closes the client. ``limiter`` defaults to the process-wide one, so connections with
    the same budget key share their budget; ``transport`` replaces the network transport
    under the rate limit and the deadline; ``token_store`` keeps the tokens an OAuth
    authorization gave, under ``entry`` (the connections-file entry the values came from,
    ``name`` unless said); ``sessions`` shares logins between processes.
    ``answers_dry_runs`` says that the transport answers as the platform would but changes
    nothing (an in-process connector's dry-run transport), so a dry run may send to it and
    show real outputs instead of the spec's examples.
    """

    def __init__(
        self,
        spec: Spec,
        values: Mapping[str, Any],
        *,
        expressions: Expressions,
        name: str | None = None,
        entry: str | None = None,
        limiter: RateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        token_store: TokenStore | None = None,
        sessions: SessionCache | None = None,
        answers_dry_runs: bool = False,
    ) -> None:
        self.spec = spec
        self.token_store = token_store
        self.sessions = sessions
        self.answers_dry_runs = answers_dry_runs
        self.name = name or spec.name
        self.entry = entry or self.name
        self.expressions = expressions
        self.redactor = Redactor(
            values.get(f.name) for f in spec.connection.fields.values() if f.secret
        )
        protect_logging(self.redactor)
        self.values: Mapping[str, Any] = self._validated(values)
        self.session: dict[str, Any] = {}
        self._user_agent = _user_agent()
        self.base_url = self._base_url()
        self._check_transport_security()
        self.credential = self._credential()
        auths = [auth.bind(self) for auth in spec.connection.auth]
        self.auth = AuthChain(auths) if auths else None
        settings = spec.connection
        timeouts = settings.timeouts
        self.max_wait = self._max_wait()
        self.budget = self._budget()
        self.budget_key = self._budget_key()
        stack = RateLimitedTransport(
            DeadlineTransport(transport or NetworkTransport(), timeouts.total),
            limiter=limiter or default_limiter(),
            key=self.budget_key,
            budget=self.budget,
            max_wait=self.max_wait,
        )
        self.client = httpx.AsyncClient(
            transport=stack,
            timeout=httpx.Timeout(
                connect=timeouts.connect,
                read=timeouts.read,
                write=timeouts.write,
                pool=timeouts.pool,
            ),
            follow_redirects=False,
        )
        self._login = self._bounded(
            CallPolicy(action="login", retry=settings.retry, response="bytes")
        )
        self._headers_read_session = reads(settings.headers, "session")
        self._renderer = RequestRenderer(
            spec.name, self.base_url, settings.headers, self._user_agent, self.redactor
        )
        self._sender = Sender(
            self.client,
            transport=stack,
            auth=self.auth,
            base_url=self.base_url,
            redactor=self.redactor,
            connector=spec.name,
            max_response_bytes=settings.max_response_bytes,
            follow_redirects=settings.follow_redirects,
        )
        self._closed = False

    # ------------------------------------------------------------ setting up

    def _validated(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The values with defaults filled in; problems raise one redacted message."""
        values = self.spec.connection.with_defaults(given)
        document = Document(values, f"connection {self.name!r}")
        problems = schema_problems(document, self.spec.connection.values_schema())
        if problems:
            lines = "\n".join(f"  {self.redactor.redact(str(p))}" for p in problems)
            raise ConfigurationError(
                f"connection {self.name!r} of connector {self.spec.name!r} cannot be used:\n{lines}"
            )
        return values

    def _base_url(self) -> httpx.URL:
        rendered = self.spec.connection.base_url.render(self.context())
        problem = base_url_problem(rendered)
        if problem is not None:
            raise ConfigurationError(f"connection {self.name!r}: {self.redactor.redact(problem)}")
        return httpx.URL(str(rendered).rstrip("/"))

    def _check_transport_security(self) -> None:
        url = self.base_url
        if url.scheme == "https" or self.values.get("allow_insecure_http") is True:
            return
        if _is_loopback(url.host):
            return
        has_credentials = bool(self.redactor) or any(
            not isinstance(auth, NoneAuth) for auth in self.spec.connection.auth
        )
        if has_credentials:
            raise ConfigurationError(
                f"connection {self.name!r} would send credentials over plain http to "
                f"{url.host}; use https, or set allow_insecure_http: true on the connection "
                "if the network path is trusted"
            )

    def _budget(self) -> Budget | None:
        """The values' ``rate_limit`` if given, else the spec's."""
        given = self.values.get("rate_limit")
        if isinstance(given, Mapping):
            return Budget(int(given["requests"]), float(given["per"]))
        rate = self.spec.connection.rate_limit
        return Budget(rate.requests, rate.per) if rate else None

    def _max_wait(self) -> float:
        """The values' ``max_wait`` if given, else the spec's, else ten minutes."""
        given = self.values.get("max_wait")
        if isinstance(given, int | float) and not isinstance(given, bool):
            return float(given)
        rate = self.spec.connection.rate_limit
        return rate.max_wait if rate is not None and rate.max_wait is not None else MAX_WAIT

    def _bounded(self, policy: CallPolicy) -> CallPolicy:
        """``policy`` with no wait between tries longer than ``max_wait`` (nor Retry-After)."""
        if policy.retry.max_delay <= self.max_wait:
            return policy
        retry = dataclasses.replace(policy.retry, max_delay=self.max_wait)
        return dataclasses.replace(policy, retry=retry)

    def _credential(self) -> str:
        """Who a session belongs to: the connector, base URL and values, hashed.

        Every value counts (a user name as much as a password), so two users of one instance
        never share a session; the secrets themselves never leave the process.
        """
        values = json.dumps(self.values, sort_keys=True, default=str, separators=(",", ":"))
        owner = "\0".join([self.spec.name, str(self.base_url), values])
        return f"{self.spec.name}:{hashlib.sha256(owner.encode()).hexdigest()}"

    def _budget_key(self) -> str:
        """Who owns the rate budget: the spec's key, else the base URL and credentials."""
        rate = self.spec.connection.rate_limit
        if rate is not None and rate.key is not None:
            owner = str(rate.key.render(self.context()))
        else:
            secrets = sorted(
                str(self.values.get(f.name))
                for f in self.spec.connection.fields.values()
                if f.secret
            )
            owner = "\0".join([str(self.base_url), *secrets])
        return f"{self.spec.name}:{hashlib.sha256(owner.encode()).hexdigest()[:32]}"

    # ------------------------------------------------------------ rendering

    def context(self, *, dry_run: bool = False, **names: Any) -> dict[str, Any]:
        """The template context: ``connection`` (values), ``session`` (captured), ``names``.

        With ``dry_run``, ``session.NAME`` renders as ``<session.NAME>``: a dry run never logs
        in, and shows no captured value.
        """
        session = _SessionPlaceholders() if dry_run else self.session
        return {"connection": self.values, "session": session, **names}

    def reads_session(self, request: Request) -> bool:
        """Whether rendering ``request`` reads ``session``, so ``ready()`` must come first.

        Its templates are looked at once and remembered (the connection's headers count too).
        """
        return self._headers_read_session or reads_session(request)

    def build_request(
        self, request: Request, context: Mapping[str, Any], *, action: str | None = None
    ) -> httpx.Request:
        """Render ``request`` against ``context`` into an HTTP request on the base URL.

        Path values are percent-encoded whole; a path that would be absolute or leave the
        base URL is an ``UnsafeRequestError``; input that cannot form a request (an empty
        path value, an unreadable file, bad base64) is an ``InvalidRequestError``. Errors
        name the connector and ``action``, the action or trigger the request is for.
        """
        return self._renderer.render(request, context, action=action)

    def with_credentials(self, request: httpx.Request) -> httpx.Request:
        """``request`` with the credentials auth would add, for showing it (dry runs).

        Nothing is sent and no one logs in: a session's values are ``<session.NAME>``
        placeholders. Every added value is a credential; show them redacted.
        """
        return self.auth.preview(request) if self.auth is not None else request

    # ------------------------------------------------------------ sending

    async def ready(self) -> None:
        """Log in now if the session has no values or they are due for renewal; else nothing.

        Cheap when there is nothing to do, so it may precede every request that reads
        ``session``. The login is the auth flow's own (single flight: concurrent callers and
        requests share one; a refresh where the spec declares one), sent with the
        connection's retry policy; a refusal is an ``AuthenticationError``.
        """
        if self.auth is not None and self.auth.needs_login():
            await self._sender.run_flow(self.auth.login_flow, self._login)

    async def send(self, request: httpx.Request, *, policy: CallPolicy) -> Response:
        """Send ``request`` with auth, rate limit, retries, deadline and size cap.

        Returns the successful answer; raises the ``ActionError`` kind the answer means (the
        error table first, then by status), ``OutcomeUnknownError`` for a non-idempotent
        request whose answer was lost, ``UnsafeRequestError`` for a request off the origin.
        """
        return await self._sender.send(request, self._bounded(policy))

    async def logout(self) -> bool:
        """End the credential's session for every process: log out, drop the cached session.

        The spec's logout request is sent where it declares one and the session is still
        valid. Returns whether there was a session to end.
        """
        if self.auth is None or self.auth.login is None:
            return False
        if self.sessions is None:
            ended = not self.auth.needs_login()
            await self._end_session()
            return ended
        cached = await self.sessions.load(self.credential)
        if cached is None:
            return False
        if cached.expires_at is None or cached.expires_at > time.time():
            await self.ready()  # takes up the cached session, to carry it on the logout
            await self._end_session()
        await self.sessions.drop(self.credential)
        return True

    async def _end_session(self) -> None:
        """Send the logout request, if there is one, and forget the session."""
        logout = self.auth.logout_request() if self.auth else None
        if logout is not None:
            try:
                await self._sender.send(logout, _LOGOUT, authenticate=False)
            except HooklineError as exc:
                logger.warning("%s: logout failed: %s", self.name, self.redactor.redact(str(exc)))
            assert self.auth is not None
            self.auth.forget()

    async def close(self) -> None:
        """Log out (where the session declares a logout) and close the client; idempotent.

        A session shared through ``sessions`` stays open for the next process to reuse.
        """
        if self._closed:
            return
        self._closed = True
        try:
            if self.sessions is None:
                await self._end_session()
        finally:
            await self.client.aclose()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


# ---------------------------------------------------------------- pieces


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _SessionPlaceholders(dict[str, Any]):
    """``session`` in a dry run: every ``session.NAME`` reads as the text ``<session.NAME>``.

    JMESPath reads an object's fields with ``get``, so this is the one method that matters.
    """

    def get(self, key: str, default: Any = None, /) -> Any:
        return f"<session.{key}>"


def connect(
    catalog: Catalog,
    connector: str,
    values: Mapping[str, Any],
    *,
    name: str | None = None,
    entry: str | None = None,
    limiter: RateLimiter | None = None,
    token_store: TokenStore | None = None,
    sessions: SessionCache | None = None,
    dry_run: bool = False,
) -> Connection:
    """A connection of ``connector`` with ``values`` (not yet opened: nothing is sent).

    A connector a plugin answers in-process (``register_transports``) gets its transport;
    the others go over the network. ``limiter`` and ``sessions`` share budgets and logins
    (default: this process's limiter, no shared sessions); ``token_store`` keeps OAuth tokens
    under ``entry``. For a ``dry_run``, a transport
    factory that takes a ``dry_run`` keyword gives a transport that changes nothing, which the
    dry run uses.
    """
    spec = catalog.spec(connector)
    local = catalog.transports.get(spec.name)
    dry = dry_run and local is not None and _takes_dry_run(local)
    transport = None
    if local is not None:
        transport = local(values, dry_run=True) if dry else local(values)
    return Connection(
        spec,
        values,
        expressions=catalog.expressions,
        name=name,
        entry=entry,
        limiter=limiter,
        transport=transport,
        token_store=token_store,
        sessions=sessions,
        answers_dry_runs=dry,
    )


def _takes_dry_run(factory: Any) -> bool:
    try:
        return "dry_run" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a callable without a signature Python can read
        return False
