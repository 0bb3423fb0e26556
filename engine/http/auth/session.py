"""The ``session`` auth type: log in, keep what the answer says, renew, log out.

A login request's answer gives values (a token, a tenant id) captured by JMESPath and
applied to each request as headers, cookies or query parameters (``session.*``). A session
is renewed before its lifetime ends (a fixed number, a field such as ``expires_in``, or a
JWT's ``exp``): by a refresh request where the spec declares one (PlexTrac's
``PUT /api/v1/token/refresh``; a login there counts against ten a minute and repeats MFA),
else by logging in again. A refused refresh, a session already expired, and a refused request
log in again. A request is refused when its answer carries a declared status (401 by default;
403 where a platform uses it) or matches a body predicate (some APIs report an expired
session inside a 200); it is then repeated once. Concurrent requests share one login. An
optional second step (MFA) may use the first answer as ``login.*`` and a code from a
connection field or from ``totp(secret)`` (RFC 6238); an optional logout request is sent when
the connection closes.

Where the connection has a session cache (the state store's), a login's results are shared by
every process using the same credential (``hookline.http.auth.shared``): a process takes up a
cached session that is not yet due for renewal instead of logging in, one process at a time
logs in or refreshes, and a session the platform refused is never taken up again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

import httpx

from hookline.errors import (
    ActionError,
    AuthenticationError,
    RateLimitedError,
    ServerError,
    suggest,
)
from hookline.expr.templates import CompiledValue, Expression
from hookline.http.auth.shared import SharedLogin
from hookline.http.auth.static import EXPRESSION, TEMPLATE, AuthTarget, copy_request
from hookline.http.auth.tokens import jwt_expiry
from hookline.http.responses import (
    ErrorContext,
    decode_json,
    error_for,
    lenient_json,
    platform_message,
    truthy,
)
from hookline.http.send import AUTH_REQUEST, Flow
from hookline.plugins.protocols import CachedSession
from hookline.spec.model import Request, compile_request

if TYPE_CHECKING:
    from hookline.documents.compiler import Compiler

logger = logging.getLogger(__name__)

_REQUEST = {"$ref": "#/$defs/request"}


@dataclass(frozen=True, slots=True)
class Refresh:
    """A request that renews a valid session, and what to keep from its answer."""

    request: Request
    capture: Mapping[str, Expression]


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
    mfa_fields: tuple[str, ...]
    refresh: Refresh | None
    logout: Request | None

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "login", "capture", "apply"],
        "description": "A login request whose answer's values (captured by JMESPath) "
        "authenticate the following requests; renewed before it expires (by a refresh "
        "request, where one is declared) and once after a refusal, with an optional second "
        "step (MFA) and logout",
        "properties": {
            "type": {"const": "session", "description": "A login request, then its token"},
            "login": {**_REQUEST, "description": "The login request (context: connection)"},
            "capture": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": EXPRESSION,
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
                "description": "How the session authenticates each request: headers, cookies "
                "and query, each a mapping of names to templates (context: session)",
                "properties": {
                    "headers": {
                        "type": "object",
                        "additionalProperties": TEMPLATE,
                        "description": "Headers, e.g. Authorization: 'Bearer {{ session.token }}'",
                    },
                    "cookies": {
                        "type": "object",
                        "additionalProperties": TEMPLATE,
                        "description": "Cookies, e.g. token: '{{ session.cookie }}'",
                    },
                    "query": {
                        "type": "object",
                        "additionalProperties": TEMPLATE,
                        "description": "Query parameters",
                    },
                },
            },
            "lifetime": {
                "description": "How long a login lasts: seconds; {field: EXPRESSION} giving "
                "seconds from the answer (expires_in); or {jwt: EXPRESSION} giving a JWT whose "
                "exp claim ends it. Without one, the session is renewed on refusal only",
                "oneOf": [
                    {"type": "number", "exclusiveMinimum": 0, "description": "Seconds"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["field"],
                        "properties": {
                            "field": {
                                **EXPRESSION,
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
                                **EXPRESSION,
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
                "description": "Answers that mean the session ended, to log in again and repeat "
                "the request once: status (a list, default [401]) and when (a predicate on the "
                "body, for APIs that report an expired session inside a 200)",
                "properties": {
                    "status": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 400, "maximum": 499},
                        "minItems": 1,
                        "description": "Statuses (default [401])",
                    },
                    "when": {
                        **EXPRESSION,
                        "description": "A predicate on any answer's body (for APIs that report "
                        "an expired session inside a 200)",
                    },
                },
            },
            "mfa": {
                "type": "object",
                "additionalProperties": False,
                "required": ["request"],
                "description": "A second login step (MFA): request (context: connection, and "
                "login, the first answer) and when (a predicate on the first answer; default "
                "always). The code comes from a field or from totp(connection.SECRET)",
                "properties": {
                    "fields": {
                        "type": "array",
                        "items": {"type": "string"},
                        "minItems": 1,
                        "description": "The connection fields that can give the code (e.g. "
                        "[totp_secret, mfa_code]): when the first answer asks for the step "
                        "and none of them is set, the login fails saying the user needs MFA "
                        "and naming them, rather than evaluating the step without a code",
                    },
                    "when": {
                        **EXPRESSION,
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
            "refresh": {
                "type": "object",
                "additionalProperties": False,
                "required": ["request"],
                "description": "A request that renews a session while it is still valid, used "
                "instead of a new login when its lifetime nears its end (a login may count "
                "against a limit, and repeat MFA). It carries the session as apply says. A "
                "refused refresh, a session already expired, or a refused request log in "
                "again. Needs lifetime",
                "properties": {
                    "request": {
                        **_REQUEST,
                        "description": "The request (context: connection, session), e.g. "
                        "method: PUT, path: /api/v1/token/refresh",
                    },
                    "capture": {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": EXPRESSION,
                        "description": "Values to keep from its answer, each a JMESPath "
                        "expression (default: the login's capture); values it does not "
                        "capture keep their login value",
                    },
                },
            },
            "logout": {**_REQUEST, "description": "Sent when the connection closes"},
        },
        "dependentRequired": {"refresh": ["lifetime"]},
    }

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Compile the requests and expressions; a second session in one connection is a problem."""
        _check_single_session(c)
        lifetime = c.get("lifetime")
        renew = c.get("renew_on", default={})
        capture = _captures(c, "capture")
        refresh = None
        if c.get("refresh"):
            refresh = Refresh(
                compile_request(c.at("refresh", "request")),
                _captures(c, "refresh", "capture") if c.get("refresh", "capture") else capture,
            )
        return cls(
            login=compile_request(c.at("login")),
            capture=capture,
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
            mfa=compile_request(c.at("mfa", "request")) if c.get("mfa") else None,
            mfa_when=c.expression("mfa", "when"),
            mfa_fields=_mfa_fields(c),
            refresh=refresh,
            logout=compile_request(c.at("logout")) if c.get("logout") else None,
        )

    def bind(self, target: AuthTarget) -> Session:
        """A session for one connection, not logged in yet."""
        return Session(self, target)


def _captures(c: Compiler, *path: str) -> dict[str, Expression]:
    """The ``{name: JMESPath}`` mapping at ``path``, compiled."""
    captures = {}
    for name in c.get(*path):
        expression = c.expression(*path, name)
        assert expression is not None  # the schema requires it
        captures[name] = expression
    return captures


def _mfa_fields(c: Compiler) -> tuple[str, ...]:
    """The fields ``mfa.fields`` names; each must be a field of the connection."""
    names: list[str] = c.get("mfa", "fields", default=None) or []
    known = c.root("connection", "fields").get(default={})
    for index, name in enumerate(names):
        if name not in known:
            c.problem(
                ["mfa", "fields", index],
                f"{name!r} is not a field of the connection{suggest(name, known)}",
            )
    return tuple(names)


def _check_single_session(c: Compiler) -> None:
    auths = c.root("connection", "auth").get()
    if not isinstance(auths, list) or not c.base or not isinstance(c.base[-1], int):
        return
    index = c.base[-1]
    if any(isinstance(a, dict) and a.get("type") == "session" for a in auths[:index]):
        c.problem(["type"], "a connection has at most one session auth; merge the two logins")


class Session(httpx.Auth):
    """One connection's login state; its auth flow logs in, renews and repeats as declared.

    Renewals are single-flight: the first request that finds the session missing or stale
    renews it under a lock while the others wait and then use its result. A rejected answer
    triggers a new login only if the credentials it carried are still the current ones, so a
    burst of 401s costs one login, not one each. ``generation`` counts the sessions so far;
    ``stamp`` names the current one in the session cache, where there is one.
    """

    def __init__(self, spec: SessionAuth, target: AuthTarget) -> None:
        self.spec = spec
        self.target = target
        self.generation = 0
        self.logged_in = False
        self.renew_at: float | None = None
        self.expires_at: float | None = None
        self.stamp: str | None = None
        self._lock: asyncio.Lock | None = None
        self._wall: tuple[float | None, float | None] = (None, None)  # expiry, renewal (Unix)
        cache = target.sessions
        self._shared = (
            None
            if cache is None
            else SharedLogin(
                cache, target.credential, connection=target.name, connector=target.spec.name
            )
        )

    def needs_login(self) -> bool:
        """Whether the next request would log in or renew first: no session, or one due."""
        return self._stale(None)

    def _stale(self, rejected: int | None) -> bool:
        if not self.logged_in or rejected == self.generation:
            return True
        return self.renew_at is not None and time.monotonic() >= self.renew_at

    def _refreshable(self, rejected: int | None) -> bool:
        """Whether a refresh may renew the session: declared, not refused, not yet expired."""
        return (
            self.spec.refresh is not None
            and self.logged_in
            and rejected != self.generation
            and self.expires_at is not None
            and time.monotonic() < self.expires_at
        )

    def login_flow(self) -> Flow:
        """Log in, or refresh, now unless another request already did; nothing else is sent."""
        return self._renewal(None)

    async def _renewal(self, rejected: int | None) -> Flow:
        """The requests that renew the session, unless it was renewed while this one waited.

        ``rejected`` is the generation of a session the platform refused, which only a new
        login replaces; a session merely due is refreshed where the spec allows it.
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._stale(rejected):
                return
            shared = self._shared
            try:
                if shared is not None and await self._take_up(shared, rejected):
                    return
                if self._refreshable(rejected):
                    assert self.spec.refresh is not None
                    template = self.spec.refresh.request
                    request = self.target.build_request(template, self.target.context())
                    if self._refreshed((yield self._mark(self.authorize(request), "refresh"))):
                        await self._publish()
                        return
                login = self._mark(
                    self.target.build_request(self.spec.login, self.target.context())
                )
                context = self._context(login, "login")
                body = self._accept((yield login), context, "login")
                if self.spec.mfa is not None and (
                    self.spec.mfa_when is None or truthy(self.spec.mfa_when.search(body))
                ):
                    self._check_mfa_code()
                    step = self._mark(
                        self.target.build_request(self.spec.mfa, self.target.context(login=body))
                    )
                    context = self._context(step, "login")
                    body = self._accept((yield step), context, "second login step")
                self._establish(body, context, refresh=False)
                await self._publish()
            finally:
                if shared is not None:
                    await shared.release()

    # ------------------------------------------------------------ the session cache

    async def _take_up(self, shared: SharedLogin, rejected: int | None) -> bool:
        """Take up a usable cached session, or hold the login lease (False: renew now).

        With the lease held, a cached session still valid but due for renewal is taken up,
        so that a refresh can renew it.
        """
        refused = self.stamp if rejected is not None and rejected == self.generation else None
        found, fresh = await shared.take_up(refused=refused, held=self.stamp)
        if found is not None:
            self._adopt(found)
        return fresh

    def _adopt(self, cached: CachedSession) -> None:
        """Use a session another process established, as if this one had logged in."""
        for name, value in cached.values.items():
            if name not in self.spec.public:
                self.target.redactor.add(value)
        self.target.session.clear()
        self.target.session.update(cached.values)
        self.generation += 1
        self.logged_in = True
        self.stamp = cached.stamp
        self._wall = (cached.expires_at, cached.renew_at)
        offset = time.monotonic() - time.time()
        self.expires_at = None if cached.expires_at is None else cached.expires_at + offset
        self.renew_at = None if cached.renew_at is None else cached.renew_at + offset
        logger.debug("%s: took up the cached session", self.target.name)

    async def _publish(self) -> None:
        """Cache the session just established, for every process of the credential."""
        if self._shared is None:
            return
        self.stamp = uuid.uuid4().hex
        expires, renew = self._wall
        cached = CachedSession(dict(self.target.session), self.stamp, expires, renew)
        await self._shared.publish(cached)

    def _check_mfa_code(self) -> None:
        """Refuse to go on with an MFA step that no field of the connection can answer."""
        fields = self.spec.mfa_fields
        values = self.target.context()["connection"]
        if fields and all(values.get(name) in (None, "") for name in fields):
            context = ErrorContext(
                connector=self.target.spec.name, action="login", redactor=self.target.redactor
            )
            raise context.error(
                AuthenticationError,
                f"{context.where}: this user needs MFA: give {' or '.join(fields)} in "
                f"connection {self.target.name!r}",
            )

    async def async_auth_flow(self, request: httpx.Request) -> Flow:
        """Log in if needed, send with the session, and once more after a rejection."""
        rejected: int | None = None
        while True:
            if self._stale(rejected):
                renewal = self._renewal(rejected)
                try:
                    outgoing = await renewal.__anext__()
                    while True:
                        outgoing = await renewal.asend((yield outgoing))
                except StopAsyncIteration:
                    pass
                finally:
                    await renewal.aclose()
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

    def preview(self, request: httpx.Request) -> httpx.Request:
        """``request`` as the session would send it, its values read as placeholders.

        For dry runs: nothing is sent and no login happens, so every value the session
        adds is a ``<session.NAME>`` placeholder; the names of what it adds are real.
        """
        return self.authorize(request, dry_run=True)

    def authorize(self, request: httpx.Request, *, dry_run: bool = False) -> httpx.Request:
        """A copy of ``request`` carrying the session's headers, cookies and query."""
        authorized = copy_request(request)
        context = self.target.context(dry_run=dry_run)
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
        self.renew_at = self.expires_at = None
        self.stamp = None
        self._wall = (None, None)
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
            data = lenient_json(response, context)
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

    def _refreshed(self, response: httpx.Response) -> bool:
        """Whether the refresh's answer renewed the session; if not, say why and log in."""
        context = self._context(response.request, "refresh")
        try:
            self._establish(self._accept(response, context, "refresh"), context, refresh=True)
        except ActionError as exc:
            logger.warning("%s: logging in again, as %s", self.target.name, exc)
            return False
        return True

    def _establish(self, body: Any, context: ErrorContext, *, refresh: bool) -> None:
        """Keep the captured values and schedule the renewal.

        A refresh's values replace those it captures again and keep the others.
        """
        capture = self.spec.refresh.capture if refresh and self.spec.refresh else self.spec.capture
        captured = {name: expression.search(body) for name, expression in capture.items()}
        missing = [name for name, value in captured.items() if value is None]
        if missing:
            message = platform_message(body)
            raise context.error(
                AuthenticationError,
                f"{context.where}: the {'refresh' if refresh else 'login'} answer has no "
                + ", ".join(f"{name} (`{capture[name].source}`)" for name in missing)
                + (f" ({message})" if message else "")
                + "; check the connection's credentials",
                platform_message=message,
            )
        for name, value in captured.items():
            if name not in self.spec.public:
                self.target.redactor.add(value)
        if not refresh:
            self.target.session.clear()
        self.target.session.update(captured)
        lifetime = self._lifetime(body)
        self.generation += 1
        self.logged_in = True
        self.renew_at = self.expires_at = None
        self._wall = (None, None)
        if lifetime is not None:
            early = min(self.spec.renew_before, lifetime / 2)
            self.expires_at = time.monotonic() + lifetime
            self.renew_at = self.expires_at - early
            expires = time.time() + lifetime
            self._wall = (expires, expires - early)

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
        return truthy(self.spec.renew_when.search(lenient_json(response, context)))
