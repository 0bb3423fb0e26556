"""Connections: a connector spec plus one user's connection values, ready to send requests.

A ``Connection`` validates the values against the spec's connection schema (defaults filled
in, secrets never shown in a message), checks that the base URL keeps credentials safe, binds
the spec's auth types, and owns one pooled ``httpx.AsyncClient`` whose transport takes a slot
of the connection's rate budget before every request (logins too) and bounds every exchange
by the total deadline. ``build_request`` renders a spec request template; ``send`` sends it
through ``hookline.http.Sender`` (auth, redirects, size cap, retries, typed errors).

A template may read ``session.*`` (PlexTrac's paths hold ``{{ session.tenant_id }}``, captured
at login), but a request is rendered before it is sent, so before its auth flow would log in.
A caller therefore awaits ``ready()`` before rendering a request that ``reads_session``; a dry
run renders with ``context(dry_run=True)`` instead, which shows ``<session.NAME>`` and never
logs in.

A rendered path can never leave the base URL: each expression inside a path template is
rendered on its own and percent-encoded whole (``/`` included), so a value such as ``../x``,
``@evil.host`` or ``%2F`` stays one segment on the configured host.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from .auth import AuthChain, NoneAuth
from .errors import ConfigurationError, HooklineError, InvalidRequestError, UnsafeRequestError
from .expressions import CompiledValue, Expressions, Template, compact_json
from .http import CallPolicy, DeadlineTransport, Sender, origin
from .loader import Document
from .ratelimit import Budget, RateLimitedTransport, RateLimiter, default_limiter
from .redaction import Redactor, protect_logging
from .responses import ErrorContext, Response
from .schema_errors import schema_problems
from .spec import Part, Request, RetryPolicy, Spec

__all__ = ["CallPolicy", "Connection", "ConnectionCheck", "Response"]

logger = logging.getLogger(__name__)

_ABSOLUTE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")
_BODIES = ("json", "form", "multipart", "body")
_LOGOUT = CallPolicy(action="logout", retry=RetryPolicy(attempts=1), response="bytes")
_SESSION_READERS_KEPT = 1024
_session_readers: dict[int, tuple[Request, bool]] = {}


def _user_agent() -> str:
    from . import __version__  # late: the package itself may import this module

    return f"hookline/{__version__}"


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """A passed connection test: the action that ran and, for a list, the records it read."""

    connection: str
    connector: str
    action: str
    records: int | None

    def __str__(self) -> str:
        read = "" if self.records is None else f", {self.records} record(s) read"
        return f"{self.connector} connection {self.connection!r} works ({self.action}{read})"


class Connection:
    """A spec plus a user's connection values: one pooled client, its auth, budget, redactor.

    Use as ``async with Connection(spec, values, expressions=...) as conn:``; closing logs
    out (for sessions that declare it) and closes the client. ``limiter`` defaults to the
    process-wide one, so connections with the same budget key share their budget;
    ``transport`` replaces the network transport under the rate limit and the deadline.
    """

    def __init__(
        self,
        spec: Spec,
        values: Mapping[str, Any],
        *,
        expressions: Expressions,
        name: str | None = None,
        limiter: RateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.spec = spec
        self.name = name or spec.name
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
        auths = [auth.bind(self) for auth in spec.connection.auth]
        self.auth = AuthChain(auths) if auths else None
        settings = spec.connection
        timeouts = settings.timeouts
        budget = (
            Budget(settings.rate_limit.requests, settings.rate_limit.per)
            if settings.rate_limit
            else None
        )
        self.client = httpx.AsyncClient(
            transport=RateLimitedTransport(
                DeadlineTransport(transport or httpx.AsyncHTTPTransport(), timeouts.total),
                limiter=limiter or default_limiter(),
                key=self._budget_key(),
                budget=budget,
            ),
            timeout=httpx.Timeout(
                connect=timeouts.connect,
                read=timeouts.read,
                write=timeouts.write,
                pool=timeouts.pool,
            ),
            follow_redirects=False,
        )
        self._login = CallPolicy(action="login", retry=settings.retry, response="bytes")
        self._headers_read_session = _reads(settings.headers, "session")
        self._sender = Sender(
            self.client,
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
        values = {
            name: field.default
            for name, field in self.spec.connection.fields.items()
            if field.default is not None
        }
        values.update(given)
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
        shown = self.redactor.redact(str(rendered))
        try:
            url = httpx.URL(str(rendered).rstrip("/")) if isinstance(rendered, str) else None
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            problem = "is not an http or https URL"
        elif url.userinfo:
            problem = "holds a user name or password; give credentials in the connection's fields"
        elif url.query or url.fragment:
            problem = "has a query or fragment; give the bare base URL"
        else:
            return url
        raise ConfigurationError(f"connection {self.name!r}: the base URL {shown!r} {problem}")

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
        return self._headers_read_session or _reads_session(request)

    def build_request(self, request: Request, context: Mapping[str, Any]) -> httpx.Request:
        """Render ``request`` against ``context`` into an HTTP request on the base URL.

        Path values are percent-encoded whole; a path that would be absolute or leave the
        base URL is an ``UnsafeRequestError``; input that cannot form a request (an empty
        path value, an unreadable file, bad base64) is an ``InvalidRequestError``.
        """
        data = context if isinstance(context, dict) else dict(context)
        errors = ErrorContext(
            connector=self.spec.name, method=request.method, redactor=self.redactor
        )
        url = self._url(request.path, data, errors)
        headers = self._headers(request, data, errors)
        bodies = [name for name in _BODIES if getattr(request, name) is not None]
        if len(bodies) > 1:
            raise errors.error(
                InvalidRequestError, f"the request has several bodies ({', '.join(bodies)})"
            )
        content: bytes | None = None
        form: dict[str, Any] | None = None
        files: list[tuple[str, tuple[str | None, bytes, str | None]]] | None = None
        if request.json is not None:
            content = _json_body(request.json.render(data), request.omit_nulls, errors)
            headers.setdefault("content-type", "application/json")
        elif request.form is not None:
            rendered = request.form.render(data)
            form = _omit_nulls(rendered) if request.omit_nulls else rendered
        elif request.multipart is not None:
            files = []
            for name, part in request.multipart.items():
                entry = _part(name, part, data, request.omit_nulls, errors)
                if entry is not None:
                    files.append((name, entry))
        elif request.body is not None:
            content = _raw_body(request.body.render(data), request.body_base64, errors)
        params = _params(request.query.render(data) if request.query else None, errors)
        return httpx.Request(
            request.method,
            url,
            params=tuple(params) if params else None,
            headers=headers,
            content=content,
            data=form,
            files=files or None,
        )

    def _url(self, path: Template, context: dict[str, Any], errors: ErrorContext) -> httpx.URL:
        rendered = "".join(
            part if isinstance(part, str) else _segment(part.search(context), part.source, errors)
            for part in path.parts
        )
        if _ABSOLUTE.match(rendered):
            raise errors.error(
                UnsafeRequestError,
                f"the path {self.redactor.redact(rendered)!r} is an absolute URL; a request "
                "path is relative to the connection's base URL",
            )
        if not rendered.startswith("/"):
            rendered = "/" + rendered
        try:
            url = httpx.URL(str(self.base_url) + rendered)
        except httpx.InvalidURL as exc:
            raise errors.error(
                InvalidRequestError, f"the path does not form a URL: {exc}"
            ) from None
        base = self.base_url.raw_path.rstrip(b"/")
        path_only = url.raw_path.split(b"?", 1)[0]
        if origin(url) != origin(self.base_url) or not (
            path_only == base or path_only.startswith(base + b"/")
        ):
            raise errors.error(
                UnsafeRequestError,
                f"the path {self.redactor.redact(rendered)!r} leaves the connection's base URL",
            )
        return url

    def _headers(
        self, request: Request, context: dict[str, Any], errors: ErrorContext
    ) -> httpx.Headers:
        headers = httpx.Headers(
            {
                "user-agent": self._user_agent,
                "accept": "application/json" if request.response == "json" else "*/*",
            }
        )
        for source in (self.spec.connection.headers, request.headers):
            for name, value in _rendered_mapping(source, context).items():
                if value is None:
                    headers.pop(name, None)
                    continue
                text = _text(value, f"header {name!r}", errors)
                if "\r" in text or "\n" in text:
                    raise errors.error(InvalidRequestError, f"header {name!r} holds a line break")
                headers[name] = text
        return headers

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
        return await self._sender.send(request, policy)

    async def test(self) -> ConnectionCheck:
        """Run the spec's ``connection.test`` action: whether the connection works, in short.

        A list action reads one record at most. Its failure is raised as it is (an
        ``AuthenticationError`` for refused credentials, ...); a spec without a test is a
        ``ConfigurationError``.
        """
        from .actions import call_action  # late: actions builds on this module

        settings = self.spec.connection
        if settings.test_action is None:
            raise ConfigurationError(
                f"connector {self.spec.name!r} declares no connection test; its spec can name "
                "one with connection.test: {action: NAME}"
            )
        await self.ready()
        output = await call_action(self, settings.test_action, settings.test_input, max_records=1)
        is_list = self.spec.actions[settings.test_action].is_list
        return ConnectionCheck(
            self.name, self.spec.name, settings.test_action, len(output) if is_list else None
        )

    async def close(self) -> None:
        """Log out (where the session declares a logout) and close the client; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            logout = self.auth.logout_request() if self.auth else None
            if logout is not None:
                try:
                    await self._sender.send(logout, _LOGOUT, authenticate=False)
                except HooklineError as exc:
                    logger.warning(
                        "%s: logout failed: %s", self.name, self.redactor.redact(str(exc))
                    )
                assert self.auth is not None
                self.auth.forget()
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


# ---------------------------------------------------------------- rendering pieces


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


def _reads(value: Template | CompiledValue | None, name: str) -> bool:
    """Whether rendering ``value`` reads the context name ``name`` (or the whole context)."""
    if value is None:
        return False
    templates: Iterator[Template] = (
        iter([value]) if isinstance(value, Template) else (t for _, t in value.templates())
    )
    return any(path[:1] in ((name,), ()) for t in templates for path in t.references())


def _reads_session(request: Request) -> bool:
    """Whether ``request``'s templates read ``session``; remembered per request template."""
    known = _session_readers.get(id(request))
    if known is not None and known[0] is request:
        return known[1]
    values: list[Template | CompiledValue | None] = [
        request.path,
        request.query,
        request.headers,
        request.json,
        request.form,
        request.body,
    ]
    for part in (request.multipart or {}).values():
        values += [part.value, part.file, part.filename, part.content_type]
    reads = any(_reads(value, "session") for value in values)
    if len(_session_readers) >= _SESSION_READERS_KEPT:  # templates made per call come and go
        _session_readers.clear()
    _session_readers[id(request)] = (request, reads)
    return reads


def _segment(value: Any, source: str, errors: ErrorContext) -> str:
    """One rendered path value, percent-encoded whole so that it stays one segment."""
    text = _text(value, f"the path value {{{{ {source} }}}}", errors)
    if not text:
        raise errors.error(
            InvalidRequestError,
            f"the path value {{{{ {source} }}}} is empty; the request would name another resource",
        )
    if set(text) == {"."}:  # '.' and '..' would be read as the current or parent directory
        return "%2E" * len(text)
    try:
        return quote(text, safe="")
    except UnicodeEncodeError:
        raise errors.error(
            InvalidRequestError, f"the path value {{{{ {source} }}}} is not valid text"
        ) from None


def _text(value: Any, what: str, errors: ErrorContext) -> str:
    """A scalar as request text: true/false, numbers as JSON, null as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return compact_json(value)
    raise errors.error(
        InvalidRequestError, f"{what} renders to {type(value).__name__}, not a text or number"
    )


def _rendered_mapping(value: CompiledValue | None, context: dict[str, Any]) -> dict[str, Any]:
    if value is None:
        return {}
    rendered = value.render(context)
    return rendered if isinstance(rendered, dict) else {}


def _params(rendered: Any, errors: ErrorContext) -> list[tuple[str, str]]:
    """Query pairs: a list value repeats its parameter, a null value is left out."""
    if not isinstance(rendered, dict):
        return []
    pairs = []
    for name, value in rendered.items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                pairs.append((name, _text(item, f"query parameter {name!r}", errors)))
    return pairs


def _omit_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _omit_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_omit_nulls(item) for item in value]
    return value


def _json_body(value: Any, omit_nulls: bool, errors: ErrorContext) -> bytes:
    try:
        return orjson.dumps(_omit_nulls(value) if omit_nulls else value)
    except TypeError as exc:
        raise errors.error(InvalidRequestError, f"the JSON body cannot be written: {exc}") from None


def _raw_body(value: Any, is_base64: bool, errors: ErrorContext) -> bytes:
    text = _text(value, "the body", errors)
    if is_base64:
        return _decode_base64(text, "the body", errors)
    return text.encode("utf-8")


def _decode_base64(text: str, what: str, errors: ErrorContext) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise errors.error(InvalidRequestError, f"{what} is not valid base64") from None


def _part(
    name: str, part: Part, context: dict[str, Any], omit_nulls: bool, errors: ErrorContext
) -> tuple[str | None, bytes, str | None] | None:
    """A multipart part: (file name or None, content, content type or None); None to omit."""
    what = f"multipart part {name!r}"
    filename = part.filename.render(context) if part.filename else None
    content_type = part.content_type.render(context) if part.content_type else None
    if part.file is None:
        value = part.value.render(context) if part.value else None
        if value is None and omit_nulls:
            return None
        content = _text(value, what, errors).encode("utf-8")
    else:
        source = _text(part.file.render(context), what, errors)
        if part.base64:
            content = _decode_base64(source, what, errors)
        else:
            try:
                content = Path(source).read_bytes()
            except OSError as exc:
                raise errors.error(
                    InvalidRequestError,
                    f"{what}: cannot read the file {source!r}: {exc.strerror or exc}",
                ) from None
    return (
        None if filename is None else str(filename),
        content,
        None if content_type is None else str(content_type),
    )
