"""Sending: retries and Retry-After, typed errors, hostile answers, bounds, redirects."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookline.errors import (
    ActionError,
    AuthenticationError,
    InvalidRequestError,
    InvalidResponseError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    SpecError,
    TransportError,
    UnsafeRequestError,
)
from hookline.http.connection import CallPolicy, Connection
from hookline.http.ratelimit import InProcessRateLimiter
from hookline.spec.catalog import Catalog
from hookline.spec.model import ErrorRule, RetryPolicy
from tests.servers import EchoState, Reply, demo_spec, make_request, serve_echo, spec_from

pytestmark = pytest.mark.anyio

KEY = "k3y-in-the-query"
FAST = RetryPolicy(attempts=4, backoff=0.001, max_delay=2.0, total=10.0)


@pytest.fixture(scope="module")
def other() -> Iterator[tuple[str, EchoState]]:
    """A second echo server, for requests that must not reach the first."""
    yield from serve_echo()


def connect(
    catalog: Catalog,
    url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    **connection: Any,
) -> Connection:
    auth = [
        {"type": "api_key", "in": "query", "name": "key", "key": "{{ connection.api_key }}"},
        {"type": "headers", "headers": {"X-Token": "{{ connection.password }}"}},
    ]
    spec = demo_spec(catalog, auth=auth, **connection)
    values = {"url": url, "api_key": KEY, "password": "header-secret"}
    return Connection(
        spec,
        values,
        expressions=catalog.expressions,
        transport=transport,
        limiter=InProcessRateLimiter(),
    )


async def call(
    connection: Connection,
    method: str = "GET",
    path: str = "/thing",
    *,
    idempotent: bool | None = None,
    **policy: Any,
) -> Any:
    template = make_request(
        connection.expressions, method, path, json={"a": 1} if method == "POST" else None
    )
    request = connection.build_request(template, connection.context())
    policy.setdefault("retry", FAST)
    safe = method in ("GET", "PUT", "DELETE") if idempotent is None else idempotent
    return await connection.send(
        request, policy=CallPolicy(action="act", idempotent=safe, **policy)
    )


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


# ---------------------------------------------------------------- retries


@pytest.mark.parametrize(
    "retry_after", ["0", "0.01", http_date(-5)], ids=["seconds", "fraction", "http-date"]
)
@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_retryable_statuses_are_retried_honouring_retry_after(
    catalog: Catalog, server: tuple[str, EchoState], status: int, retry_after: str
) -> None:
    url, state = server
    state.replies.extend(
        [Reply(status, headers={"Retry-After": retry_after}), Reply(200, {"ok": 1})]
    )
    async with connect(catalog, url) as connection:
        response = await call(connection)
    assert response.data == {"ok": 1}
    assert len(state.seen) == 2


async def test_retry_after_beyond_max_delay_is_not_waited_for(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    state.replies.append(Reply(429, {"message": "slow down"}, {"Retry-After": http_date(120)}))
    async with connect(catalog, url) as connection:
        with pytest.raises(RateLimitedError, match="slow down") as caught:
            await call(connection)
    assert caught.value.retry_after is not None and 100 < caught.value.retry_after <= 120
    assert len(state.seen) == 1


async def test_rate_limited_answers_are_not_retried_when_the_policy_says_so(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    state.replies.extend([Reply(429), Reply(200)])
    retry = RetryPolicy(attempts=4, backoff=0.001, on_rate_limit=False)
    async with connect(catalog, url) as connection:
        with pytest.raises(RateLimitedError):
            await call(connection, retry=retry)
    assert len(state.seen) == 1


async def test_attempts_are_bounded(catalog: Catalog, server: tuple[str, EchoState]) -> None:
    url, state = server
    state.replies.extend([Reply(503, {"error": "down"})] * 5)
    async with connect(catalog, url) as connection:
        with pytest.raises(ServerError, match="503 Service Unavailable: down"):
            await call(connection, retry=RetryPolicy(attempts=3, backoff=0.001))
    assert len(state.seen) == 3


async def test_total_time_is_bounded(catalog: Catalog, server: tuple[str, EchoState]) -> None:
    url, state = server
    state.replies.extend([Reply(503, headers={"Retry-After": "1"})] * 3)
    async with connect(catalog, url) as connection:
        with pytest.raises(ServerError):
            await call(connection, retry=RetryPolicy(attempts=5, backoff=0.001, total=0.5))
    assert len(state.seen) == 1


async def test_post_is_not_retried_after_a_server_error(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    state.replies.extend([Reply(503), Reply(200)])
    async with connect(catalog, url) as connection:
        with pytest.raises(ServerError):
            await call(connection, "POST")
    assert len(state.seen) == 1


async def test_post_is_retried_when_idempotent_or_refused_for_rate(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    refused = Reply(429, headers={"Retry-After": "0"})
    state.replies.extend([Reply(503), Reply(201, {"id": 1}), refused, Reply(201, {"id": 2})])
    async with connect(catalog, url) as connection:
        assert (await call(connection, "POST", idempotent=True)).data == {"id": 1}
        assert (await call(connection, "POST")).data == {"id": 2}
    assert [s.method for s in state.seen] == ["POST"] * 4


class FailingFirst(httpx.AsyncBaseTransport):
    """Raises ``error`` for the first ``count`` requests, then sends for real."""

    def __init__(self, error: type[httpx.TransportError], count: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.error = error
        self.count = count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.count:
            self.count -= 1
            raise self.error("simulated", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_connect_errors_are_retried_even_for_post(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    transport = FailingFirst(httpx.ConnectError, 2)
    async with connect(catalog, url, transport=transport) as connection:
        response = await call(connection, "POST")
    assert response.data["method"] == "POST"
    assert len(state.seen) == 1


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
async def test_connect_errors_exhausting_attempts_are_transport_errors(
    catalog: Catalog, error: type[httpx.TransportError]
) -> None:
    transport = FailingFirst(error, 10)
    async with connect(catalog, "http://127.0.0.1:9", transport=transport) as connection:
        with pytest.raises(TransportError, match="simulated") as caught:
            await call(connection, "POST")
    assert type(caught.value) is TransportError
    assert transport.count == 10 - FAST.attempts


@asynccontextmanager
async def dropping_server() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A server that reads each request and closes the connection without answering."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.close()
        await server.wait_closed()


async def test_a_lost_answer_to_a_post_is_an_unknown_outcome(catalog: Catalog) -> None:
    async with dropping_server() as (url, received), connect(catalog, url) as connection:
        with pytest.raises(OutcomeUnknownError, match="not idempotent") as caught:
            await call(connection, "POST")
    assert len(received) == 1
    assert caught.value.method == "POST"
    assert KEY not in str(caught.value) and KEY not in (caught.value.url or "")


async def test_a_lost_answer_to_a_get_is_retried(catalog: Catalog) -> None:
    async with dropping_server() as (url, received), connect(catalog, url) as connection:
        with pytest.raises(TransportError):
            await call(connection, retry=RetryPolicy(attempts=3, backoff=0.001))
    assert len(received) == 3


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ActionError),
        (422, InvalidRequestError),
        (500, ServerError),
    ],
)
async def test_statuses_map_to_typed_errors(
    catalog: Catalog, server: tuple[str, EchoState], status: int, error: type[ActionError]
) -> None:
    url, state = server
    state.replies.append(Reply(status, {"message": f"platform says {status}"}))
    async with connect(catalog, url) as connection:
        with pytest.raises(error) as caught:
            await call(connection)
    exc = caught.value
    assert type(exc) is error
    assert (exc.status, exc.method, exc.connector, exc.action) == (status, "GET", "demo", "act")
    assert exc.platform_message == f"platform says {status}"
    assert exc.url == f"{url}/thing"
    assert KEY not in str(exc)


async def test_the_error_table_comes_first_and_can_match_a_200(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    expressions = catalog.expressions
    rules = (
        ErrorRule(
            kind="permission",
            statuses=frozenset({403, 412}),
            message=expressions.compile_expression("messages[0].message"),
            field=expressions.compile_expression("messages[0].field"),
        ),
        ErrorRule(
            kind="not_found",
            when=expressions.compile_expression("status == 'error' && code == 'NOPE'"),
            message=expressions.compile_expression("reason"),
        ),
    )
    state.replies.append(
        Reply(
            412,
            {"messages": [{"message": "Not allowed", "field": "priority", "type": "FIELD_ERROR"}]},
        )
    )
    state.replies.append(Reply(200, {"status": "error", "code": "NOPE", "reason": "gone"}))
    async with connect(catalog, url) as connection:
        with pytest.raises(PermissionDeniedError, match="Not allowed") as refused:
            await call(connection, errors=rules)
        with pytest.raises(NotFoundError, match="gone"):
            await call(connection, errors=rules)
    assert refused.value.field == "priority"


GITHUB_ERRORS = """
spec: hookline/v1
name: hub
title: Hub
connection: {fields: {url: {type: string}}, base_url: "{{ connection.url }}"}
defaults:
  errors:
    - status: [403, 429]
      headers: {X-RateLimit-Remaining: "0"}
      kind: rate_limited
    - status: 403
      headers: {X-GitHub-SSO: true}
      kind: authentication
actions:
  ping: {title: Ping, request: {method: GET, path: /thing}}
"""


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4000000000"}, RateLimitedError),
        ({"X-RateLimit-Remaining": "12"}, PermissionDeniedError),
        ({"x-github-sso": "required; url=https://github.com/orgs/x/sso"}, AuthenticationError),
        ({}, PermissionDeniedError),
    ],
    ids=["limit-spent", "limit-left", "sso-any-value", "no-headers"],
)
async def test_error_rules_can_match_response_headers(
    catalog: Catalog,
    server: tuple[str, EchoState],
    headers: dict[str, str],
    error: type[Exception],
) -> None:
    url, state = server
    rules = spec_from(catalog, GITHUB_ERRORS).actions["ping"].errors
    state.replies.append(Reply(403, {"message": "API rate limit exceeded"}, headers))
    async with connect(catalog, url) as connection:
        with pytest.raises(error) as caught:
            await call(connection, errors=rules)
    assert type(caught.value) is error
    if isinstance(caught.value, RateLimitedError):
        assert caught.value.retry_after is not None and caught.value.retry_after > 0


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_answer_the_error_table_makes_a_rate_limit_is_retried_as_a_429(
    catalog: Catalog, server: tuple[str, EchoState], method: str
) -> None:
    url, state = server
    rules = spec_from(catalog, GITHUB_ERRORS).actions["ping"].errors
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"}
    state.replies.extend([Reply(403, {"message": "API rate limit exceeded"}, spent), Reply(200)])
    async with connect(catalog, url) as connection:
        response = await call(connection, method, errors=rules)
    assert response.status == 200
    assert len(state.seen) == 2


async def test_a_rate_limit_of_the_error_table_is_not_retried_when_the_policy_says_so(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    rules = spec_from(catalog, GITHUB_ERRORS).actions["ping"].errors
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"}
    state.replies.extend([Reply(403, {"message": "API rate limit exceeded"}, spent), Reply(200)])
    retry = RetryPolicy(attempts=4, backoff=0.001, on_rate_limit=False)
    async with connect(catalog, url) as connection:
        with pytest.raises(RateLimitedError, match="API rate limit exceeded"):
            await call(connection, errors=rules, retry=retry)
    assert len(state.seen) == 1


def test_an_error_rule_header_value_must_be_text_a_list_or_true(catalog: Catalog) -> None:
    bad = GITHUB_ERRORS.replace("{X-GitHub-SSO: true}", "{X-GitHub-SSO: false}")
    with pytest.raises(SpecError, match="X-GitHub-SSO"):
        spec_from(catalog, bad)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 300 + b"]" * 300, "nested more than"),
        (b"[" * 2000 + b"]" * 2000, "depth"),
        (b'{"n": ' + b"9" * 5000 + b"}", "infinity"),
        (b'{"n": NaN}', "invalid JSON"),
        (b'{"s": "\\ud800"}', "surrogate"),
        (b"<html>oops</html>", "invalid JSON"),
    ],
    ids=["deep", "deeper", "huge-number", "nan", "lone-surrogate", "html"],
)
async def test_hostile_json_is_an_invalid_response(
    catalog: Catalog, server: tuple[str, EchoState], body: bytes, reason: str
) -> None:
    url, state = server
    state.replies.append(Reply(200, body, {"content-type": "application/json"}))
    async with connect(catalog, url) as connection:
        with pytest.raises(InvalidResponseError, match=reason) as caught:
            await call(connection)
    assert len(str(caught.value)) < 400


# ---------------------------------------------------------------- bounds


async def test_a_declared_body_over_the_cap_is_refused(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    state.replies.append(Reply(200, b"x" * 5000))
    async with connect(catalog, url, max_response_bytes=1024) as connection:
        with pytest.raises(InvalidResponseError, match="more than 1,024 bytes"):
            await call(connection, response="bytes")


async def test_a_streamed_body_over_the_cap_is_refused(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    state.replies.append(Reply(200, b"x" * 3000, drip=0.0))  # chunked, no length
    async with connect(catalog, url, max_response_bytes=1024) as connection:
        with pytest.raises(InvalidResponseError, match="max_response_bytes"):
            await call(connection, response="bytes")


async def test_a_credential_with_a_line_break_is_refused_before_sending(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    spec = demo_spec(
        catalog, auth={"type": "headers", "headers": {"X-Token": "{{ connection.password }}"}}
    )
    secret = "s3cret\r\nX-Injected: 1"
    values = {"url": url, "password": secret}
    async with Connection(spec, values, expressions=catalog.expressions) as connection:
        with pytest.raises(InvalidRequestError, match="'x-token' holds a control character") as e:
            await call(connection)
    assert "s3cret" not in str(e.value)
    assert state.seen == []


async def test_a_slow_drip_hits_the_total_deadline(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    state.replies.append(Reply(200, b"x" * 1000, drip=0.05))
    async with connect(catalog, url, timeouts={"read": 5, "total": 0.3}) as connection:
        with pytest.raises(TransportError, match=r"total deadline of 0\.3 s"):
            await call(connection, retry=RetryPolicy(attempts=1))
        state.replies.append(Reply(201, b"x" * 1000, drip=0.05))
        with pytest.raises(OutcomeUnknownError):
            await call(connection, "POST", retry=RetryPolicy(attempts=1))


async def test_responses_as_text_bytes_and_a_saved_file(
    catalog: Catalog, server: tuple[str, EchoState], tmp_path: Path
) -> None:
    url, state = server
    state.replies.extend(
        [
            Reply(200, "héllo", {"content-type": "text/plain; charset=utf-8"}),
            Reply(200, b"\x89PNG", {"content-type": "image/png"}),
            Reply(200, b"file-content" * 100, {"content-type": "application/pdf"}),
        ]
    )
    target = tmp_path / "out" / "report.pdf"
    async with connect(catalog, url) as connection:
        assert (await call(connection, response="text")).data == "héllo"
        binary = await call(connection, response="bytes")
        saved = await call(connection, response="bytes", save_to=target)
    assert (binary.data, binary.content_type) == (b"\x89PNG", "image/png")
    assert saved.path == target and saved.data is None
    assert target.read_bytes() == b"file-content" * 100
    assert [p.name for p in target.parent.iterdir()] == ["report.pdf"]


# ---------------------------------------------------------------- redirects


async def test_redirects_are_not_followed_unless_the_spec_says_so(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    async with connect(catalog, url) as connection:
        with pytest.raises(InvalidResponseError, match="follow_redirects"):
            await call(connection, "GET", "/redirect?to=/elsewhere")
    assert len(state.seen) == 1


async def test_a_same_origin_redirect_keeps_the_credentials(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    async with connect(catalog, url, follow_redirects=True) as connection:
        response = await call(connection, "GET", "/redirect?to=/landing")
    assert response.data["path"] == "/landing"
    assert state.seen[1].headers["x-token"] == "header-secret"


@pytest.mark.parametrize("status", [302, 307])
async def test_a_cross_origin_redirect_carries_no_credentials(
    catalog: Catalog,
    server: tuple[str, EchoState],
    other: tuple[str, EchoState],
    status: int,
) -> None:
    url, _ = server
    other_url, other_state = other
    other_state.reset()
    target = f"{other_url}/landing/{KEY}?key={KEY}&keep=1"
    spec_auth = [
        {"type": "api_key", "in": "path", "key": "{{ connection.api_key }}"},
        {
            "type": "session",
            "login": {"method": "GET", "path": "/login"},
            "capture": {"token": "headers.host"},
            "apply": {
                "headers": {"Authorization": "Bearer {{ session.token }}"},
                "cookies": {"sid": "{{ session.token }}"},
            },
        },
    ]
    spec = demo_spec(catalog, auth=spec_auth, follow_redirects=True)
    values = {"url": url, "api_key": KEY}
    async with Connection(spec, values, expressions=catalog.expressions) as connection:
        template = make_request(
            catalog.expressions, "GET", "/redirect", query={"to": target, "status": status}
        )
        response = await connection.send(
            connection.build_request(template, connection.context()), policy=CallPolicy()
        )
    assert response.data["path"] == "/landing"
    seen = other_state.seen[0]
    assert seen.query == [("keep", "1")]
    for name in ("authorization", "cookie", "x-token"):
        assert name not in seen.headers
    assert KEY not in seen.raw_path and KEY not in str(seen.headers)


async def test_a_cross_origin_redirect_with_a_secret_body_is_refused(
    catalog: Catalog, server: tuple[str, EchoState], other: tuple[str, EchoState]
) -> None:
    url, _ = server
    other_url, other_state = other
    other_state.reset()
    async with connect(catalog, url, follow_redirects=True) as connection:
        template = make_request(
            catalog.expressions,
            "POST",
            "/redirect",
            query={"to": other_url + "/steal", "status": 307},
            json={"password": "{{ connection.password }}"},
        )
        with pytest.raises(UnsafeRequestError, match="another origin"):
            await connection.send(
                connection.build_request(template, connection.context()),
                policy=CallPolicy(idempotent=True),
            )
    assert other_state.seen == []
