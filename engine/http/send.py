"""Sending one request within bounds, with its auth flow, redirects and retries.

``Sender`` is the stack under ``Connection.send``, one small layer each::

    send        retries: backoff with full jitter, Retry-After, bounded attempts and time
    _drive      the auth flow (httpx.Auth): logins and renewals are requests like others
    _exchange   redirects, only where the spec allows them, credentials never leaving the origin
    _fetch      one HTTP exchange: headers checked, the body read (and decompressed) under a
                size cap, or streamed to a file

and the client's transport stack below it: ``RateLimitedTransport`` (waits for a slot) →
``DeadlineTransport`` (a total deadline on each exchange, body included, so a server that
drips one byte a second cannot hang a job; httpx's own timeouts are per phase) → the network
(``hookline.http.network``: httpx's own transport), or a plugin's in-process transport.
What an answer means (its JSON, the typed error) is ``hookline.http.responses``' business.

The auth flow is driven here rather than by httpx so that every response it sees (login,
renewal, the real one) has already been read under the size cap and the deadline, and so that
a redirect is re-authenticated only on the connection's own origin. ``run_flow`` drives a flow
that sends only its own requests (a login ahead of a call) with the same retries.

Which failures are retried: connect errors and pool timeouts always (nothing was sent);
read errors, lost connections and 502/503/504 only for idempotent requests and auth requests;
429, and an error answer the error table makes ``rate_limited`` (GitHub's 403), for every
method (the platform refused it) unless the retry policy says ``on_rate_limit: false``. A
non-idempotent request whose answer was lost raises ``OutcomeUnknownError``: the platform may
have applied it, and repeating it could apply it twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import tempfile
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

from hookline.errors import (
    ActionError,
    InvalidRequestError,
    InvalidResponseError,
    OutcomeUnknownError,
    RateLimitedError,
    ResponseTooLargeError,
    ServerError,
    TransportError,
    UnsafeRequestError,
)
from hookline.http.decoding import BadEncoding, codings, decoded
from hookline.http.ratelimit import retry_after
from hookline.http.redaction import Redactor
from hookline.http.responses import ErrorContext, Response, decode_json, error_for, lenient_json
from hookline.spec.model import ErrorRule, RetryPolicy

logger = logging.getLogger(__name__)

AUTH_REQUEST = "hookline.auth_request"
"""Request extension marking a request an auth type made: its role (login, refresh, logout)."""

OWN_CREDENTIALS = "hookline.own_credentials"
"""Request extension marking a request that carries its own credentials, or none on purpose
(a spec request's ``auth``): the connection's auth does not touch it."""

MAX_REDIRECTS = 10
RETRY_STATUSES = frozenset({429, 502, 503, 504})
_NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_LOST_ANSWER = (
    httpx.ReadError,
    httpx.WriteError,
    httpx.TimeoutException,
    httpx.RemoteProtocolError,
)
_REDIRECT_SAFE_HEADERS = frozenset({"accept", "accept-language", "user-agent", "content-type"})
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a tab is the one allowed in a value

Flow = AsyncGenerator[httpx.Request, httpx.Response]
"""An auth flow: it yields the requests to send and is sent each one's answer."""

_Attempt = Callable[[], Awaitable[httpx.Response | None]]


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """How one call is sent and read: its error table, retries, and the response's form.

    ``response`` is ``json`` (parsed), ``text`` or ``bytes``; ``save_to`` streams a successful
    answer's body to that file instead of holding it in memory.
    """

    action: str | None = None
    errors: tuple[ErrorRule, ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    idempotent: bool = False
    response: str = "json"
    save_to: Path | None = None


# ---------------------------------------------------------------- the deadline


class DeadlineExceeded(httpx.TimeoutException):
    """An exchange, body included, took longer than its total deadline."""


class DeadlineTransport(httpx.AsyncBaseTransport):
    """Bounds each exchange, from sending to the last byte of the body, by ``seconds``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, seconds: float) -> None:
        self.inner = inner
        self.seconds = seconds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send within the deadline; the body stream keeps counting against it."""
        deadline = asyncio.get_running_loop().time() + self.seconds
        try:
            async with asyncio.timeout_at(deadline):
                response = await self.inner.handle_async_request(request)
        except TimeoutError:
            raise self._exceeded(request) from None
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _DeadlineStream(
            response.stream, deadline, partial(self._exceeded, request)
        )
        return response

    def _exceeded(self, request: httpx.Request) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"no complete answer within the total deadline of {self.seconds:g} s", request=request
        )

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()


class _DeadlineStream(httpx.AsyncByteStream):
    def __init__(
        self,
        stream: httpx.AsyncByteStream,
        deadline: float,
        exceeded: Callable[[], DeadlineExceeded],
    ) -> None:
        self.stream = stream
        self.deadline = deadline
        self.exceeded = exceeded

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self.stream.__aiter__()
        while True:
            try:
                async with asyncio.timeout_at(self.deadline):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise self.exceeded() from None
            yield chunk

    async def aclose(self) -> None:
        await self.stream.aclose()


# ---------------------------------------------------------------- sending


def _answer_lost(exc: httpx.TransportError) -> bool:
    """Whether the request may have reached the platform before the exchange failed."""
    return isinstance(exc, _LOST_ANSWER) and not isinstance(exc, _NOTHING_SENT)


def _rate_limit_of(
    response: httpx.Response, policy: CallPolicy, context: ErrorContext
) -> RateLimitedError | None:
    """The rate limit the error table makes of an error answer that is not a 429, if any.

    GitHub answers a spent budget with a 403 that only its headers tell from a refused
    permission; once a rule says so, it is retried as a 429 is.
    """
    if response.status_code < 400 or not any(r.kind == "rate_limited" for r in policy.errors):
        return None
    error = error_for(response, lenient_json(response, context), policy.errors, context)
    return error if isinstance(error, RateLimitedError) else None


def _auth_request_failed(exc: httpx.TransportError) -> bool:
    """Whether the exchange that failed was an auth type's (safe to repeat), not the call's."""
    try:
        return AUTH_REQUEST in exc.request.extensions
    except RuntimeError:  # an exception raised without its request
        return False


def _attach(exc: httpx.RequestError, request: httpx.Request) -> None:
    """Give ``exc`` the request it is about where it has none, as httpx's client would."""
    try:
        exc.request  # noqa: B018  (raises RuntimeError when the exception has no request)
    except RuntimeError:
        exc.request = request


def header_problem(what: str, value: str) -> str | None:
    """What makes ``value`` unfit to send as ``what`` (``header 'X-Key'``), or None.

    A control character (a line break above all) would end the header early and let the
    rest of the value pose as headers of its own. The value is never shown: it may be a
    credential.
    """
    found = _CONTROL.search(value)
    if found is None:
        return None
    return (
        f"{what} holds a control character (U+{ord(found.group()):04X}) at "
        f"character {found.start() + 1}, which cannot be sent; the value is not shown"
    )


def origin(url: httpx.URL) -> tuple[str, str, int]:
    """Scheme, host and port (the default one filled in): what must not change."""
    port = url.port or (443 if url.scheme == "https" else 80)
    return url.scheme, url.host, port


class Sender:
    """Sends a connection's requests: auth flow, redirects, size cap, retries, errors.

    Requests go straight to ``transport`` (the client's own) with the client's timeouts and
    event hooks. The client's own auth, redirect and cookie handling would only repeat what
    this class does (its cookie jar is never sent), at a cost on every request.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        transport: httpx.AsyncBaseTransport,
        auth: httpx.Auth | None,
        base_url: httpx.URL,
        redactor: Redactor,
        connector: str,
        max_response_bytes: int,
        follow_redirects: bool,
    ) -> None:
        self.client = client
        self.transport = transport
        self.timeout = client.timeout.as_dict()
        self.auth = auth
        self.origin = origin(base_url)
        self.redactor = redactor
        self.connector = connector
        self.max_response_bytes = max_response_bytes
        self.follow_redirects = follow_redirects

    def context(self, request: httpx.Request, action: str | None) -> ErrorContext:
        """The error context of ``request``, its URL redacted."""
        return ErrorContext(
            connector=self.connector,
            action=action,
            method=request.method,
            url=self.redactor.redact(str(request.url)),
            redactor=self.redactor,
        )

    async def send(
        self, request: httpx.Request, policy: CallPolicy, *, authenticate: bool = True
    ) -> Response:
        """Send ``request`` under ``policy``; a successful answer, or a typed ``ActionError``."""
        context = self.context(request, policy.action)
        if origin(request.url) != self.origin:
            raise context.error(
                UnsafeRequestError,
                f"{context.where} is not on the connection's origin "
                f"{self.origin[0]}://{self.origin[1]}:{self.origin[2]}; refusing to send it",
            )
        auth = self.auth if authenticate and OWN_CREDENTIALS not in request.extensions else None
        attempt: _Attempt
        if auth is None:
            attempt = partial(self._exchange, request, policy.save_to)
        else:
            attempt = partial(self._drive, partial(auth.async_auth_flow, request), policy.save_to)
        response = await self._retrying(attempt, policy, context)
        assert response is not None  # a request's flow ends with the request's own answer
        return self._result(response, policy, context)

    async def run_flow(self, flow: Callable[[], Flow], policy: CallPolicy) -> None:
        """Drive an auth flow that sends only its own requests, with the retries of ``send``.

        ``flow`` makes a fresh flow for each try. Its requests' answers are its to judge: a
        refusal is the exception it raises.
        """
        context = ErrorContext(
            connector=self.connector, action=policy.action, redactor=self.redactor
        )
        await self._retrying(partial(self._drive, flow, None), policy, context)

    async def _retrying(
        self, attempt: _Attempt, policy: CallPolicy, context: ErrorContext
    ) -> httpx.Response | None:
        """The answer of the first try that is not worth repeating, or the error of the last."""
        started = time.monotonic()
        tries = 0
        while True:
            tries += 1
            try:
                response = await attempt()
            except httpx.TransportError as exc:
                safe = policy.idempotent or _auth_request_failed(exc)
                failure = self._transport_failure(exc, safe, context)
                delay = None
                if isinstance(exc, _NOTHING_SENT) or (safe and _answer_lost(exc)):
                    delay = self._delay(tries, policy.retry, started, None)
                if delay is None:
                    raise failure from None
                reason = f"failed ({type(exc).__name__})"
            except (RateLimitedError, ServerError) as exc:  # an auth request refused for now
                wait = exc.retry_after if isinstance(exc, RateLimitedError) else None
                delay = None
                if self._retryable(exc.status, policy, login=True):
                    delay = self._delay(tries, policy.retry, started, wait)
                if delay is None:
                    raise
                reason = f"login answered {exc.status}"
            else:
                if response is None:
                    return response
                if response.status_code in RETRY_STATUSES:
                    retryable = self._retryable(response.status_code, policy, login=False)
                    wait = retry_after(response.headers)
                else:
                    limited = _rate_limit_of(response, policy, context)
                    retryable = limited is not None and policy.retry.on_rate_limit
                    wait = None if limited is None else limited.retry_after
                if not retryable:
                    return response
                delay = self._delay(tries, policy.retry, started, wait)
                if delay is None:
                    return response
                reason = f"answered {response.status_code}"
            logger.info(
                "%s %s; retrying in %.2f s (attempt %d of %d)",
                context.where,
                reason,
                delay,
                tries + 1,
                policy.retry.attempts,
            )
            await asyncio.sleep(delay)

    @staticmethod
    def _retryable(status: int | None, policy: CallPolicy, *, login: bool) -> bool:
        if status not in RETRY_STATUSES:
            return False
        if status == 429:
            return policy.retry.on_rate_limit
        return login or policy.idempotent

    @staticmethod
    def _delay(tries: int, retry: RetryPolicy, started: float, wait: float | None) -> float | None:
        """Seconds before the next try, or None when no try is left within the bounds."""
        if tries >= retry.attempts or (wait is not None and wait > retry.max_delay):
            return None
        ceiling = min(retry.max_delay, retry.backoff * 2 ** (tries - 1))
        delay = max(random.uniform(0, ceiling), wait or 0.0)
        if time.monotonic() - started + delay > retry.total:
            return None
        return delay

    @staticmethod
    def _transport_failure(
        exc: httpx.TransportError, safe: bool, context: ErrorContext
    ) -> ActionError:
        detail = str(exc) or type(exc).__name__
        if _answer_lost(exc) and not safe:
            return context.error(
                OutcomeUnknownError,
                f"{context.where} was sent but its answer was lost ({detail}); it is not "
                f"repeated because it is not idempotent. Check on the platform whether it "
                f"was applied",
            )
        return context.error(TransportError, f"{context.where} failed: {detail}")

    async def _drive(
        self, make_flow: Callable[[], Flow], save_to: Path | None
    ) -> httpx.Response | None:
        """One try: the flow's requests in turn; the last answer, or None if it sent none."""
        flow = make_flow()
        response = None
        try:
            outgoing = await flow.__anext__()
            while True:
                response = await self._exchange(outgoing, save_to)
                outgoing = await flow.asend(response)
        except StopAsyncIteration:
            return response
        finally:
            await flow.aclose()

    async def _exchange(self, request: httpx.Request, save_to: Path | None) -> httpx.Response:
        """Send one request, following redirects where the spec allows them."""
        carries_credentials = True
        for _ in range(MAX_REDIRECTS + 1):
            response = await self._fetch(request, save_to)
            if not (self.follow_redirects and response.has_redirect_location):
                return response
            request, carries_credentials = self._redirect(request, response, carries_credentials)
        context = self.context(request, None)
        raise context.error(
            InvalidResponseError, f"{context.where} redirected more than {MAX_REDIRECTS} times"
        )

    def _redirect(
        self, request: httpx.Request, response: httpx.Response, carries_credentials: bool
    ) -> tuple[httpx.Request, bool]:
        """The request a redirect asks for; off the origin it carries no credential."""
        url = request.url.join(response.headers["location"])
        context = self.context(request, None)
        if url.scheme not in ("http", "https"):
            raise context.error(
                UnsafeRequestError, f"{context.where} redirected to a {url.scheme!r} URL"
            )
        method = request.method
        if (response.status_code in (302, 303) and method != "HEAD") or (
            response.status_code == 301 and method == "POST"
        ):
            method = "GET"
        content = request.read() if method == request.method else None
        if carries_credentials and origin(url) == self.origin:
            headers = httpx.Headers(request.headers)
        else:
            carries_credentials = False
            url = self._without_secrets(url)
            headers = httpx.Headers(
                {k: v for k, v in request.headers.items() if k.lower() in _REDIRECT_SAFE_HEADERS}
            )
            if content and self.redactor.reveals(content.decode("utf-8", "replace")):
                raise context.error(
                    UnsafeRequestError,
                    f"{context.where} redirected to another origin with a body that holds a "
                    "credential; refusing to send it there",
                )
        for name in ("host", "content-length", "transfer-encoding"):
            headers.pop(name, None)
        if not content:
            headers.pop("content-type", None)
        redirected = httpx.Request(method, url, headers=headers, content=content or None)
        redirected.extensions = dict(request.extensions)
        logger.debug("following a redirect to %s", self.redactor.redact(str(url)))
        return redirected, carries_credentials

    def _without_secrets(self, url: httpx.URL) -> httpx.URL:
        """``url`` without the query parameters and path segments that hold a secret."""
        reveals = self.redactor.reveals
        params = [(k, v) for k, v in url.params.multi_items() if not reveals(v)]
        path = "/".join(
            s for s in url.raw_path.split(b"?")[0].decode().split("/") if not reveals(s)
        )
        return url.copy_with(raw_path=(path or "/").encode()).copy_with(params=params)

    async def _fetch(self, request: httpx.Request, save_to: Path | None) -> httpx.Response:
        """One exchange; the answer's body read under the size cap (or saved to a file)."""
        if "timeout" not in request.extensions:
            request.extensions = {**request.extensions, "timeout": self.timeout}
        self._check_headers(request)
        hooks = self.client.event_hooks
        try:
            for hook in hooks["request"]:
                await hook(request)
            response = await self.transport.handle_async_request(request)
            response.request = request
            try:
                for hook in hooks["response"]:
                    await hook(response)
                self._check_declared_size(response)
                if (
                    save_to is not None
                    and response.is_success
                    and AUTH_REQUEST not in request.extensions
                ):
                    await self._save(response, save_to)
                    content = b""
                else:
                    content = b"".join([chunk async for chunk in self._capped(response)])
            finally:
                await response.aclose()
        except httpx.RequestError as exc:
            _attach(exc, request)
            raise
        headers = response.headers
        if "content-encoding" in headers:
            headers = httpx.Headers(headers)
            headers.pop("content-encoding")  # the content below is already decoded
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %d",
                request.method,
                self.redactor.redact(str(request.url)),
                response.status_code,
            )
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=content,
            request=request,
            extensions=response.extensions,
        )

    def _check_headers(self, request: httpx.Request) -> None:
        """Refuse a header value an auth type or a template filled with control characters."""
        for name, value in request.headers.items():
            problem = header_problem(f"header {name!r}", value)
            if problem is not None:
                context = self.context(request, None)
                raise context.error(InvalidRequestError, f"{context.where}: {problem}")

    def _check_declared_size(self, response: httpx.Response) -> None:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            raise self._too_large(response.request)

    async def _capped(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body's chunks, decompressed as they come, until they pass the size cap.

        The cap counts decompressed bytes as they are produced (``hookline.http.decoding``),
        so a small compressed answer that would inflate to gigabytes stops at the cap.
        """
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        try:
            layers = codings(response.headers)
            chunks = decoded(aiter(stream), layers) if layers else aiter(stream)
            size = 0
            async for chunk in chunks:
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise self._too_large(response.request)
                yield chunk
        except BadEncoding as exc:
            context = self.context(response.request, None)
            raise context.error(
                InvalidResponseError,
                f"{context.where} answered {response.status_code} with a body that cannot be "
                f"read: {exc}",
                status=response.status_code,
            ) from None

    def _too_large(self, request: httpx.Request) -> ActionError:
        context = self.context(request, None)
        return context.error(
            ResponseTooLargeError,
            f"{context.where} answered with more than {self.max_response_bytes:,} bytes, the "
            "connection's max_response_bytes",
        )

    async def _save(self, response: httpx.Response, path: Path) -> None:
        """Stream the body to ``path`` through a temporary file, replaced at the end."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as file:
                async for chunk in self._capped(response):
                    file.write(chunk)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _result(
        self, response: httpx.Response, policy: CallPolicy, context: ErrorContext
    ) -> Response:
        """The answer as a ``Response``, or the typed error it means."""
        status = response.status_code
        if 300 <= status < 400:
            location = self.redactor.redact(response.headers.get("location", "nowhere"))
            raise context.error(
                InvalidResponseError,
                f"{context.where} answered {status} with a redirect to {location}; redirects "
                "are followed only where the spec sets connection.follow_redirects",
                status=status,
            )
        content = response.content
        if status >= 400:
            data = lenient_json(response, context)
        elif policy.save_to is not None:
            data = None
        elif policy.response == "json":
            data = decode_json(content, context=context, status=status) if content else None
        elif policy.response == "text":
            data = response.text
        else:
            data = content
        error = error_for(response, data, policy.errors, context)
        if error is not None:
            raise error
        return Response(
            status=status,
            headers=response.headers,
            url=self.redactor.redact(str(response.request.url)),
            data=data,
            content_type=response.headers.get("content-type"),
            path=policy.save_to,
            content=content,
        )
