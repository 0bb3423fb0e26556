"""Auth types: how a connection's requests carry its credentials.

Each auth type is a builder registered through ``register_auth_types`` (the built-ins below
use the same hook a plugin would): a frozen object with its JSON ``schema``, built once at
spec load by ``from_spec``, whose ``bind(connection)`` returns an ``httpx.Auth`` for one
connection. The built-ins:

- ``none``, ``basic``, ``bearer``, ``api_key`` (in a header, a query parameter, or the first
  path segment after the base URL's path, as PCR-360's ``/api/KEY/login.json``) and
  ``headers`` (static templated headers): credentials rendered once from the connection.
- ``session``: a login request whose answer's values are captured by JMESPath and applied as
  headers, cookies or query parameters (``session.*``); renewed before its lifetime ends
  (a fixed number, a field such as ``expires_in``, or a JWT's ``exp``) and once, reactively,
  when a response carries a declared status (401 by default) or matches a body predicate,
  after which the request is repeated once. Concurrent requests share one login. An optional
  second step (MFA) may use the first answer as ``login.*`` and a ``totp(secret)`` code;
  an optional logout request is sent when the connection closes.

A connection may list several auth types, applied in order (an API key in the path, then a
session); the login request goes through the static ones listed before the session.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self
from urllib.parse import quote

import httpx
import orjson

from .errors import (
    AuthenticationError,
    ConfigurationError,
    ExpressionError,
    InvalidResponseError,
    RateLimitedError,
    ServerError,
    UnsafeRequestError,
)
from .expressions import CompiledValue, Expression, ExpressionFunction
from .hookspecs import hookimpl
from .http import AUTH_REQUEST, ErrorContext, decode_json, error_for, platform_message, truthy
from .redaction import Redactor
from .spec import Request, _request

if TYPE_CHECKING:
    from .compiler import Compiler
    from .spec import Spec

logger = logging.getLogger(__name__)

_TEMPLATE = {"$ref": "#/$defs/template"}
_EXPRESSION = {"$ref": "#/$defs/expression"}


class AuthTarget(Protocol):
    """What an auth type binds to: the parts of a ``Connection`` it reads and fills."""

    spec: Spec
    name: str
    base_url: httpx.URL
    redactor: Redactor
    session: dict[str, Any]

    def context(self, **names: Any) -> dict[str, Any]:
        """The template context: ``connection``, ``session`` and ``names``."""
        ...

    def build_request(self, request: Request, context: Mapping[str, Any]) -> httpx.Request:
        """Render a spec request template into an HTTP request."""
        ...


def _copy(request: httpx.Request) -> httpx.Request:
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
        "properties": {
            "type": {"const": "basic", "description": "HTTP Basic authentication"},
            "username": {
                **_TEMPLATE,
                "description": "The user name, e.g. '{{ connection.username }}'",
            },
            "password": {
                **_TEMPLATE,
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
        "properties": {
            "type": {"const": "bearer", "description": "A bearer token"},
            "token": {**_TEMPLATE, "description": "The token, e.g. '{{ connection.token }}'"},
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
        "properties": {
            "type": {"const": "api_key", "description": "An API key"},
            "key": {**_TEMPLATE, "description": "The key, e.g. '{{ connection.api_key }}'"},
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
        "properties": {
            "type": {"const": "headers", "description": "Static headers"},
            "headers": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": _TEMPLATE,
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


# ---------------------------------------------------------------- sessions

_REQUEST = {"$ref": "#/$defs/request"}


@dataclass(frozen=True, slots=True)
class SessionAuth:
    """A login whose answer's values authenticate the following requests."""

    login: Request
    capture: Mapping[str, Expression]
    public: frozenset[str]
    headers: CompiledValue | None
    cookies: CompiledValue | None
    query: CompiledValue | None
    lifetime: float | None
    lifetime_field: Expression | None
    lifetime_jwt: Expression | None
    renew_before: float
    renew_statuses: frozenset[int]
    renew_when: Expression | None
    mfa: Request | None
    mfa_when: Expression | None
    logout: Request | None

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "login", "capture", "apply"],
        "properties": {
            "type": {"const": "session", "description": "A login request, then its token"},
            "login": {**_REQUEST, "description": "The login request (context: connection)"},
            "capture": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": _EXPRESSION,
                "description": "Values to keep from the login answer, each a JMESPath "
                "expression; available as session.NAME. A login answer without one fails",
            },
            "public": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Captured values that are not secrets (ids), so not redacted",
            },
            "apply": {
                "type": "object",
                "additionalProperties": False,
                "minProperties": 1,
                "description": "How the session authenticates each request (context: session)",
                "properties": {
                    "headers": {
                        "type": "object",
                        "additionalProperties": _TEMPLATE,
                        "description": "Headers, e.g. Authorization: 'Bearer {{ session.token }}'",
                    },
                    "cookies": {
                        "type": "object",
                        "additionalProperties": _TEMPLATE,
                        "description": "Cookies, e.g. token: '{{ session.cookie }}'",
                    },
                    "query": {
                        "type": "object",
                        "additionalProperties": _TEMPLATE,
                        "description": "Query parameters",
                    },
                },
            },
            "lifetime": {
                "description": "How long a login lasts: seconds, or where the answer says it",
                "oneOf": [
                    {"type": "number", "exclusiveMinimum": 0, "description": "Seconds"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["field"],
                        "properties": {
                            "field": {
                                **_EXPRESSION,
                                "description": "Seconds, from the login answer (e.g. expires_in)",
                            }
                        },
                        "description": "A field of the login answer giving seconds",
                    },
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["jwt"],
                        "properties": {
                            "jwt": {
                                **_EXPRESSION,
                                "description": "A JWT in the login answer (e.g. token)",
                            }
                        },
                        "description": "A JWT of the login answer; its exp claim ends the session",
                    },
                ],
            },
            "renew_before": {
                "type": "number",
                "minimum": 0,
                "description": "Log in again this many seconds before the lifetime ends "
                "(default 60, at most half the lifetime)",
            },
            "renew_on": {
                "type": "object",
                "additionalProperties": False,
                "description": "Answers that mean the session ended: log in again, repeat once",
                "properties": {
                    "status": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 400, "maximum": 499},
                        "minItems": 1,
                        "description": "Statuses (default [401])",
                    },
                    "when": {
                        **_EXPRESSION,
                        "description": "A predicate on any answer's body (for APIs that report "
                        "an expired session inside a 200)",
                    },
                },
            },
            "mfa": {
                "type": "object",
                "additionalProperties": False,
                "required": ["request"],
                "description": "A second login step (context: connection; login: the first answer)",
                "properties": {
                    "when": {
                        **_EXPRESSION,
                        "description": "A predicate on the first answer; the step runs only "
                        "where it holds (default: always)",
                    },
                    "request": {
                        **_REQUEST,
                        "description": "The request, e.g. json: {code: '{{ login.code }}', "
                        "token: '{{ totp(connection.totp_secret) }}'}",
                    },
                },
            },
            "logout": {**_REQUEST, "description": "Sent when the connection closes"},
        },
    }

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Compile the requests and expressions; a second session in one connection is a problem."""
        _check_single_session(c)
        lifetime = c.get("lifetime")
        renew = c.get("renew_on", default={})
        return cls(
            login=_request(c.at("login")),
            capture={name: _expression(c, "capture", name) for name in c.get("capture")},
            public=frozenset(c.get("public", default=[])),
            headers=c.value("apply", "headers"),
            cookies=c.value("apply", "cookies"),
            query=c.value("apply", "query"),
            lifetime=float(lifetime) if isinstance(lifetime, int | float) else None,
            lifetime_field=c.expression("lifetime", "field"),
            lifetime_jwt=c.expression("lifetime", "jwt"),
            renew_before=float(c.get("renew_before", default=60)),
            renew_statuses=frozenset(renew.get("status", [401])),
            renew_when=c.expression("renew_on", "when"),
            mfa=_request(c.at("mfa", "request")) if c.get("mfa") else None,
            mfa_when=c.expression("mfa", "when"),
            logout=_request(c.at("logout")) if c.get("logout") else None,
        )

    def bind(self, target: AuthTarget) -> Session:
        """A session for one connection, not logged in yet."""
        return Session(self, target)


def _expression(c: Compiler, *path: str) -> Expression:
    expression = c.expression(*path)
    assert expression is not None  # the schema requires it
    return expression


def _check_single_session(c: Compiler) -> None:
    auths = c.root("connection", "auth").get()
    if not isinstance(auths, list) or not c.base or not isinstance(c.base[-1], int):
        return
    index = c.base[-1]
    if any(isinstance(a, dict) and a.get("type") == "session" for a in auths[:index]):
        c.problem(["type"], "a connection has at most one session auth; merge the two logins")


class Session(httpx.Auth):
    """One connection's login state; its auth flow logs in, renews and repeats as declared.

    Logins are single-flight: the first request that finds the session missing or stale logs
    in under a lock while the others wait and then use its result. A rejected answer triggers
    a new login only if the credentials it carried are still the current ones, so a burst of
    401s costs one login, not one each.
    """

    def __init__(self, spec: SessionAuth, target: AuthTarget) -> None:
        self.spec = spec
        self.target = target
        self.generation = 0
        self.logged_in = False
        self.renew_at: float | None = None
        self._lock: asyncio.Lock | None = None

    def _stale(self, rejected: int | None) -> bool:
        if not self.logged_in or rejected == self.generation:
            return True
        return self.renew_at is not None and time.monotonic() >= self.renew_at

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Log in if needed, send with the session, and once more after a rejection."""
        rejected: int | None = None
        while True:
            if self._stale(rejected):
                if self._lock is None:
                    self._lock = asyncio.Lock()
                async with self._lock:
                    if self._stale(rejected):
                        login = self._mark(
                            self.target.build_request(self.spec.login, self.target.context())
                        )
                        context = self._context(login, "login")
                        body = self._accept((yield login), context, "login")
                        if self.spec.mfa is not None and (
                            self.spec.mfa_when is None or truthy(self.spec.mfa_when.search(body))
                        ):
                            step = self._mark(
                                self.target.build_request(
                                    self.spec.mfa, self.target.context(login=body)
                                )
                            )
                            context = self._context(step, "login")
                            body = self._accept((yield step), context, "second login step")
                        self._establish(body, context)
            used = self.generation
            response = yield self.authorize(request)
            if rejected is not None or not self._rejects(response):
                return
            logger.info(
                "%s: the session was refused (%d); logging in again",
                self.target.name,
                response.status_code,
            )
            rejected = used

    def authorize(self, request: httpx.Request) -> httpx.Request:
        """A copy of ``request`` carrying the session's headers, cookies and query."""
        authorized = _copy(request)
        context = self.target.context()
        if self.spec.headers is not None:
            for name, value in self.spec.headers.render(context).items():
                if value is not None:
                    authorized.headers[name] = str(value)
        if self.spec.cookies is not None:
            pairs = [
                f"{k}={v}" for k, v in self.spec.cookies.render(context).items() if v is not None
            ]
            existing = authorized.headers.get("cookie")
            authorized.headers["cookie"] = "; ".join([existing, *pairs] if existing else pairs)
        if self.spec.query is not None:
            for name, value in self.spec.query.render(context).items():
                if value is not None:
                    authorized.url = authorized.url.copy_set_param(name, str(value))
        return authorized

    def logout_request(self) -> httpx.Request | None:
        """The logout request, carrying the session; None when there is nothing to end."""
        if self.spec.logout is None or not self.logged_in:
            return None
        request = self.target.build_request(self.spec.logout, self.target.context())
        return self._mark(self.authorize(request), "logout")

    def forget(self) -> None:
        """Drop the session (after logout): the next request logs in again."""
        self.logged_in = False
        self.renew_at = None
        self.target.session.clear()

    @staticmethod
    def _mark(request: httpx.Request, role: str = "login") -> httpx.Request:
        request.extensions = {**request.extensions, AUTH_REQUEST: role}
        return request

    def _context(self, request: httpx.Request, action: str) -> ErrorContext:
        return ErrorContext(
            connector=self.target.spec.name,
            action=action,
            method=request.method,
            url=self.target.redactor.redact(str(request.url)),
            redactor=self.target.redactor,
        )

    def _accept(self, response: httpx.Response, context: ErrorContext, step: str) -> Any:
        """The body of a successful login answer; a refusal is an ``AuthenticationError``."""
        status = response.status_code
        if status >= 300:
            data = _quiet_json(response.content, context) or response.text
            error = error_for(response, data, (), context)
            if isinstance(error, RateLimitedError | ServerError):
                raise error
            message = platform_message(data)
            raise context.error(
                AuthenticationError,
                f"{context.where}: the {step} was refused ({status} {response.reason_phrase})"
                + (f": {message}" if message else "")
                + "; check the connection's credentials",
                status=status,
                platform_message=message,
            )
        return (
            decode_json(response.content, context=context, status=status)
            if response.content
            else None
        )

    def _establish(self, body: Any, context: ErrorContext) -> None:
        """Keep the captured values and schedule the renewal."""
        captured = {name: expression.search(body) for name, expression in self.spec.capture.items()}
        missing = [name for name, value in captured.items() if value is None]
        if missing:
            message = platform_message(body)
            raise context.error(
                AuthenticationError,
                f"{context.where}: the login answer has no {', '.join(missing)}"
                + (f" ({message})" if message else "")
                + "; check the connection's credentials",
                platform_message=message,
            )
        for name, value in captured.items():
            if name not in self.spec.public:
                self.target.redactor.add(value)
        self.target.session.clear()
        self.target.session.update(captured)
        lifetime = self._lifetime(body)
        self.generation += 1
        self.logged_in = True
        self.renew_at = None
        if lifetime is not None:
            margin = min(self.spec.renew_before, lifetime / 2)
            self.renew_at = time.monotonic() + lifetime - margin

    def _lifetime(self, body: Any) -> float | None:
        if self.spec.lifetime is not None:
            return self.spec.lifetime
        if self.spec.lifetime_field is not None:
            value = self.spec.lifetime_field.search(body)
            if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
                return float(value)
            logger.warning(
                "%s: the login answer gives no lifetime; renewing on refusal only", self.target.name
            )
        if self.spec.lifetime_jwt is not None:
            expires = jwt_expiry(self.spec.lifetime_jwt.search(body))
            if expires is not None:
                return max(0.0, expires - time.time())
            logger.warning(
                "%s: the login token has no readable exp; renewing on refusal only",
                self.target.name,
            )
        return None

    def _rejects(self, response: httpx.Response) -> bool:
        if response.status_code in self.spec.renew_statuses:
            return True
        if self.spec.renew_when is None or not response.content:
            return False
        context = self._context(response.request, "request")
        return truthy(self.spec.renew_when.search(_quiet_json(response.content, context)))


def _quiet_json(content: bytes, context: ErrorContext) -> Any:
    try:
        return decode_json(content, context=context) if content else None
    except InvalidResponseError:
        return None


def jwt_expiry(token: Any) -> float | None:
    """The ``exp`` claim (Unix seconds) of a JWT, read without verifying it; None if unreadable.

    The token came from the platform over the connection's own channel; its signature is
    the platform's business, the expiry is all hookline needs.
    """
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    expires = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(expires, int | float) and not isinstance(expires, bool):
        return float(expires)
    return None


# ---------------------------------------------------------------- the chain


class AuthChain(httpx.Auth):
    """Several auth types in order; at most one of them has a flow of its own (a session).

    Static credentials listed before the flow's auth go on every request, its login
    included; those after it only on the requests it sends with its own credentials. A flow
    marks its login requests with the ``AUTH_REQUEST`` extension set to ``login``.
    """

    def __init__(self, auths: Sequence[httpx.Auth]) -> None:
        flows = [i for i, auth in enumerate(auths) if not isinstance(auth, StaticAuth)]
        if len(flows) > 1:
            raise ConfigurationError(
                "a connection has at most one session (or other auth that logs in)"
            )
        split = flows[0] if flows else len(auths)
        self.flow = auths[split] if flows else None
        self.before = [a for a in auths[:split] if isinstance(a, StaticAuth)]
        self.after = [a for a in auths[split + 1 :] if isinstance(a, StaticAuth)]

    def _static(self, request: httpx.Request, *, login: bool) -> httpx.Request:
        prepared = _copy(request)
        for auth in self.before if login else [*self.before, *self.after]:
            auth.apply(prepared)
        return prepared

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Apply the static credentials around the flow's requests."""
        if self.flow is None:
            yield self._static(request, login=False)
            return
        flow = self.flow.async_auth_flow(request)
        try:
            outgoing = await flow.__anext__()
            while True:
                login = outgoing.extensions.get(AUTH_REQUEST) == "login"
                response = yield self._static(outgoing, login=login)
                try:
                    outgoing = await flow.asend(response)
                except StopAsyncIteration:
                    return
        finally:
            await flow.aclose()

    def logout_request(self) -> httpx.Request | None:
        """The session's logout request with every static credential, or None."""
        if not isinstance(self.flow, Session):
            return None
        request = self.flow.logout_request()
        return None if request is None else self._static(request, login=False)

    def forget(self) -> None:
        """Drop the session, if any (after its logout)."""
        if isinstance(self.flow, Session):
            self.flow.forget()


# ---------------------------------------------------------------- TOTP


def totp_code(secret: str, *, at: float | None = None, digits: int = 6, period: int = 30) -> str:
    """The RFC 6238 time-based one-time password (HMAC-SHA1) for a base32 ``secret``.

    ``secret`` is the text authenticator apps take (case and spaces ignored, padding
    optional); ``at`` is a Unix time (default now).
    """
    cleaned = secret.replace(" ", "").upper()
    try:
        key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise ExpressionError("totp(): the secret is not base32 text") from None
    counter = int((time.time() if at is None else at) // period)
    mac = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = (int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF) % 10**digits
    return str(code).zfill(digits)


def _totp(secret: str, digits: float = 6) -> str:
    if digits not in (6, 7, 8):
        raise ExpressionError("totp(): digits must be 6, 7 or 8")
    return totp_code(secret, digits=int(digits))


@hookimpl
def register_auth_types() -> dict[str, Any]:
    """The built-in auth types."""
    return {
        "none": NoneAuth,
        "basic": BasicAuth,
        "bearer": BearerAuth,
        "api_key": ApiKeyAuth,
        "headers": HeadersAuth,
        "session": SessionAuth,
    }


@hookimpl
def register_functions() -> list[ExpressionFunction]:
    """``totp(secret, digits?)``: the current one-time code for an MFA login step."""
    return [
        ExpressionFunction(
            "totp",
            _totp,
            (("string",), ("number",)),
            "The current RFC 6238 one-time code (HMAC-SHA1, 30 s) for a base32 secret, as text "
            "of 6 digits (or the digits given: 6, 7 or 8).",
            optional=1,
        )
    ]
