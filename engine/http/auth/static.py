"""Auth types: how a connection's requests carry its credentials.

Each auth type is a builder registered through ``register_auth_types`` (the built-ins below
use the same hook a plugin would): a frozen object with its JSON ``schema``, built once at
spec load by ``from_spec``, whose ``bind(connection)`` returns an ``httpx.Auth`` for one
connection. The built-ins:

- ``none``, ``basic``, ``bearer``, ``api_key`` (in a header, a query parameter, or the first
  path segment after the base URL's path, as PCR-360's ``/api/KEY/login.json``) and
  ``headers`` (static templated headers): credentials rendered once from the connection.
- ``session`` (``hookline.http.auth.session``): a login whose answer's values authenticate the
  following requests, renewed before it expires and once after a refusal.

A connection may list several auth types, applied in order (an API key in the path, then a
session); the login request goes through the static ones listed before the session.
"""

from __future__ import annotations

import base64
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, runtime_checkable
from urllib.parse import quote

import httpx

from hookline.errors import ConfigurationError, UnsafeRequestError
from hookline.expr.templates import CompiledValue
from hookline.http.auth.storage import TokenStore
from hookline.http.redaction import Redactor
from hookline.http.send import AUTH_REQUEST, Flow

if TYPE_CHECKING:
    from hookline.documents.compiler import Compiler
    from hookline.plugins.protocols import SessionCache
    from hookline.spec.model import Request, Spec

TEMPLATE = {"$ref": "#/$defs/template"}
"""Schema of a value that may hold ``{{ }}`` templates, for auth types' own schemas."""

EXPRESSION = {"$ref": "#/$defs/expression"}
"""Schema of a bare JMESPath expression, for auth types' own schemas."""


class AuthTarget(Protocol):
    """What an auth type binds to: the parts of a ``Connection`` it reads and fills.

    ``sessions`` (None: none) shares login results between processes under ``credential``,
    a hash that names who the credentials belong to; ``token_store`` keeps OAuth tokens under
    ``entry``, the connections-file entry the connection was opened from.
    """

    spec: Spec
    name: str
    entry: str
    base_url: httpx.URL
    redactor: Redactor
    session: dict[str, Any]
    token_store: TokenStore | None
    sessions: SessionCache | None
    credential: str

    def context(self, *, dry_run: bool = False, **names: Any) -> dict[str, Any]:
        """The template context: ``connection``, ``session`` and ``names``.

        With ``dry_run``, ``session.NAME`` reads as the text ``<session.NAME>``.
        """
        ...

    def build_request(self, request: Request, context: Mapping[str, Any]) -> httpx.Request:
        """Render a spec request template into an HTTP request."""
        ...


def copy_request(request: httpx.Request) -> httpx.Request:
    """A copy to add credentials to, leaving the caller's request as it was for a retry."""
    return httpx.Request(
        request.method,
        request.url,
        headers=request.headers,
        stream=request.stream,
        extensions=dict(request.extensions),
    )


def _render_text(value: CompiledValue, target: AuthTarget, what: str) -> str:
    rendered = value.render(target.context())
    if rendered is None or isinstance(rendered, dict | list):
        raise ConfigurationError(
            f"connection {target.name!r}: {what} renders to "
            f"{'nothing' if rendered is None else 'a ' + type(rendered).__name__}; "
            "check the connection's fields"
        )
    if isinstance(rendered, bool):
        return "true" if rendered else "false"
    return str(rendered)


# ---------------------------------------------------------------- static credentials


class StaticAuth(httpx.Auth):
    """Credentials fixed for the connection's life: headers, query parameters, a path key."""

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        path_key: str | None = None,
        base_path: bytes = b"",
    ) -> None:
        self.headers = dict(headers or {})
        self.params = dict(params or {})
        self.segment = None if path_key is None else quote(path_key, safe="").encode("ascii")
        self.base_path = base_path.rstrip(b"/")

    def apply(self, request: httpx.Request) -> None:
        """Add the credentials to ``request`` in place."""
        request.headers.update(self.headers)
        for name, value in self.params.items():
            request.url = request.url.copy_set_param(name, value)
        if self.segment is not None:
            self._insert_segment(request, self.segment)

    def _insert_segment(self, request: httpx.Request, segment: bytes) -> None:
        path, separator, query = request.url.raw_path.partition(b"?")
        if not (path == self.base_path or path.startswith(self.base_path + b"/")):
            raise UnsafeRequestError(
                "a request outside the connection's base path cannot carry its path key",
                method=request.method,
            )
        rest = path[len(self.base_path) :]
        if rest == b"/" + segment or rest.startswith(b"/" + segment + b"/"):
            return  # a link the platform gave already holds the key
        raw = self.base_path + b"/" + segment + rest + separator + query
        request.url = request.url.copy_with(raw_path=raw)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Apply the credentials and send."""
        self.apply(request)
        yield request


@dataclass(frozen=True, slots=True)
class NoneAuth:
    """No credentials: for public APIs and platforms reached through a gateway."""

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type"],
        "description": "No credentials: public APIs, or platforms reached through a gateway",
        "properties": {"type": {"const": "none", "description": "No credentials"}},
    }

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Nothing to build."""
        return cls()

    def bind(self, target: AuthTarget) -> StaticAuth:
        """An auth that adds nothing."""
        return StaticAuth()


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """HTTP Basic: ``Authorization: Basic base64(username:password)``."""

    username: CompiledValue
    password: CompiledValue

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "username", "password"],
        "description": "HTTP Basic: Authorization: Basic base64(username:password)",
        "properties": {
            "type": {"const": "basic", "description": "HTTP Basic authentication"},
            "username": {
                **TEMPLATE,
                "description": "The user name, e.g. '{{ connection.username }}'",
            },
            "password": {
                **TEMPLATE,
                "description": "The password, e.g. '{{ connection.password }}'",
            },
        },
    }

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Compile the user name and password templates."""
        return cls(_present(c, "username"), _present(c, "password"))

    def bind(self, target: AuthTarget) -> StaticAuth:
        """Render the pair once; its base64 form joins the connection's secrets."""
        username = _render_text(self.username, target, "the basic auth's username")
        password = _render_text(self.password, target, "the basic auth's password")
        target.redactor.add_credentials(username, password)
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return StaticAuth(headers={"Authorization": f"Basic {token}"})


@dataclass(frozen=True, slots=True)
class BearerAuth:
    """A token in a header: ``Authorization: Bearer <token>`` unless told otherwise."""

    token: CompiledValue
    scheme: str
    header: str

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "token"],
        "description": "A token in a header: Authorization: Bearer TOKEN unless told otherwise",
        "properties": {
            "type": {"const": "bearer", "description": "A bearer token"},
            "token": {**TEMPLATE, "description": "The token, e.g. '{{ connection.token }}'"},
            "scheme": {
                "type": "string",
                "description": "The word before the token (default Bearer; empty for none)",
            },
            "header": {"type": "string", "description": "The header (default Authorization)"},
        },
    }

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Compile the token template."""
        return cls(
            _present(c, "token"),
            c.get("scheme", default="Bearer"),
            c.get("header", default="Authorization"),
        )

    def bind(self, target: AuthTarget) -> StaticAuth:
        """Render the token once; it joins the connection's secrets."""
        token = _render_text(self.token, target, "the bearer auth's token")
        target.redactor.add(token)
        value = f"{self.scheme} {token}" if self.scheme else token
        return StaticAuth(headers={self.header: value})


@dataclass(frozen=True, slots=True)
class ApiKeyAuth:
    """An API key in a header, a query parameter, or the URL path."""

    key: CompiledValue
    location: str
    name: str | None

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "key", "in"],
        "description": "An API key in a header, a query parameter, or the URL path",
        "properties": {
            "type": {"const": "api_key", "description": "An API key"},
            "key": {**TEMPLATE, "description": "The key, e.g. '{{ connection.api_key }}'"},
            "in": {
                "enum": ["header", "query", "path"],
                "description": "Where it goes: a header, a query parameter, or the first path "
                "segment after the base URL's path (https://host/api/KEY/...)",
            },
            "name": {
                "type": "string",
                "description": "The header or query parameter name (not used for path)",
            },
        },
        "if": {"properties": {"in": {"enum": ["header", "query"]}}},
        "then": {"required": ["name"]},
    }

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Compile the key template."""
        return cls(_present(c, "key"), c.get("in"), c.get("name"))

    def bind(self, target: AuthTarget) -> StaticAuth:
        """Render the key once; it joins the connection's secrets."""
        key = _render_text(self.key, target, "the api_key auth's key")
        target.redactor.add(key)
        if self.location == "path":
            return StaticAuth(path_key=key, base_path=target.base_url.raw_path)
        assert self.name is not None  # the schema requires it
        if self.location == "query":
            return StaticAuth(params={self.name: key})
        return StaticAuth(headers={self.name: key})


@dataclass(frozen=True, slots=True)
class HeadersAuth:
    """Static templated headers, such as PlanRadar's ``X-PlanRadar-API-Key``."""

    headers: Mapping[str, CompiledValue]

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "headers"],
        "description": "Static headers rendered from the connection's fields",
        "properties": {
            "type": {"const": "headers", "description": "Static headers"},
            "headers": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": TEMPLATE,
                "description": "Header name to value, e.g. X-Api-Key: '{{ connection.token }}'",
            },
        },
    }

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Compile each header's template."""
        return cls({name: _present(c, "headers", name) for name in c.get("headers")})

    def bind(self, target: AuthTarget) -> StaticAuth:
        """Render the headers once."""
        return StaticAuth(
            headers={
                name: _render_text(value, target, f"the auth header {name!r}")
                for name, value in self.headers.items()
            }
        )


def _present(c: Compiler, *path: str) -> CompiledValue:
    value = c.value(*path)
    assert value is not None  # the schema requires it
    return value


# ---------------------------------------------------------------- the chain


@runtime_checkable
class LoginAuth(Protocol):
    """An auth flow with a login of its own (a session): what a connection asks of it.

    ``needs_login`` says whether the next request would log in (or renew) first; it is called
    before every request that reads ``session``, so it must be cheap. ``login_flow`` yields
    only the login's requests, marked with the ``AUTH_REQUEST`` extension, sharing the auth
    flow's single flight. ``logout_request`` and ``forget`` end the session on close.
    """

    def needs_login(self) -> bool:
        """Whether the session must be logged in or renewed before the next request."""
        ...

    def login_flow(self) -> Flow:
        """Log in (or renew) now unless another request already did; no other request."""
        ...

    def logout_request(self) -> httpx.Request | None:
        """The logout request, carrying the session; None when there is nothing to end."""
        ...

    def forget(self) -> None:
        """Drop the session: the next request logs in again."""
        ...


@runtime_checkable
class PreviewAuth(Protocol):
    """An auth flow that can show what it adds to a request without sending anything."""

    def preview(self, request: httpx.Request) -> httpx.Request:
        """``request`` with what the flow adds to it (placeholders for values not known)."""
        ...


class AuthChain(httpx.Auth):
    """Several auth types in order; at most one of them has a flow of its own (a session).

    Static credentials listed before the flow's auth go on every request, its login
    included; those after it only on the requests it sends with its own credentials. A flow
    marks its login requests with the ``AUTH_REQUEST`` extension set to ``login``; a flow
    that is a ``LoginAuth`` can also log in ahead of a request and end its session on close.
    """

    def __init__(self, auths: Sequence[httpx.Auth]) -> None:
        flows = [i for i, auth in enumerate(auths) if not isinstance(auth, StaticAuth)]
        if len(flows) > 1:
            raise ConfigurationError(
                "a connection has at most one session (or other auth that logs in)"
            )
        split = flows[0] if flows else len(auths)
        self.flow = auths[split] if flows else None
        self.login = self.flow if isinstance(self.flow, LoginAuth) else None
        self.before = [a for a in auths[:split] if isinstance(a, StaticAuth)]
        self.after = [a for a in auths[split + 1 :] if isinstance(a, StaticAuth)]

    def _static(self, request: httpx.Request, *, login: bool) -> httpx.Request:
        prepared = copy_request(request)
        for auth in self.before if login else [*self.before, *self.after]:
            auth.apply(prepared)
        return prepared

    def async_auth_flow(self, request: httpx.Request) -> Flow:
        """The flow's requests for ``request`` (or ``request`` alone), with static credentials."""
        if self.flow is None:
            return self._applied(_alone(request))
        return self._applied(self.flow.async_auth_flow(request))

    def preview(self, request: httpx.Request) -> httpx.Request:
        """``request`` with every credential the chain adds, sending nothing (dry runs).

        A flow that is a ``PreviewAuth`` (a session) adds its own, read as placeholders; one
        that is not adds nothing here.
        """
        prepared = self._static(request, login=False)
        if isinstance(self.flow, PreviewAuth):
            prepared = self.flow.preview(prepared)
        return prepared

    def needs_login(self) -> bool:
        """Whether the flow would log in (or renew) before the next request."""
        return self.login is not None and self.login.needs_login()

    def login_flow(self) -> Flow:
        """The flow's login alone, with static credentials; only after ``needs_login()``."""
        assert self.login is not None  # needs_login() is false without one
        return self._applied(self.login.login_flow())

    async def _applied(self, flow: Flow) -> Flow:
        """``flow`` with the static credentials applied around each of its requests."""
        try:
            outgoing = await flow.__anext__()
            while True:
                login = outgoing.extensions.get(AUTH_REQUEST) == "login"
                response = yield self._static(outgoing, login=login)
                outgoing = await flow.asend(response)
        except StopAsyncIteration:
            return
        finally:
            await flow.aclose()

    def logout_request(self) -> httpx.Request | None:
        """The flow's logout request with every static credential, or None."""
        request = self.login.logout_request() if self.login is not None else None
        return None if request is None else self._static(request, login=False)

    def forget(self) -> None:
        """Drop the flow's login state, if it keeps any (after its logout)."""
        if self.login is not None:
            self.login.forget()


async def _alone(request: httpx.Request) -> Flow:
    """The flow of an auth with nothing to add: the request itself."""
    yield request
