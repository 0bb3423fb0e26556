"""A server that fails in the middle of an answer, behind the fault proxy: every failure ends,
in bounded time, as a typed error (retried where that is safe), never a hang or a traceback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookline.errors import OutcomeUnknownError, TransportError
from hookline.http.connection import CallPolicy, Connection
from hookline.http.ratelimit import InProcessRateLimiter
from hookline.spec.catalog import Catalog
from hookline.spec.model import RetryPolicy
from tests.cli_kit import Hookline
from tests.faultproxy import Fault, fault_proxy
from tests.servers import EchoState, Reply, demo_spec

LONG = {"data": ["x" * 1000] * 100}  # about 100 KB of JSON, so a cut lands mid-body


def connection(catalog: Catalog, url: str, **settings: Any) -> Connection:
    return Connection(
        demo_spec(catalog, **settings),
        {"url": url},
        expressions=catalog.expressions,
        limiter=InProcessRateLimiter(),
    )


async def send(conn: Connection, method: str = "GET", *, attempts: int = 2) -> Any:
    """One call; a GET is a read that may be repeated, a POST is not."""
    request = httpx.Request(method, f"{conn.base_url}/items")
    policy = CallPolicy(
        idempotent=method == "GET", retry=RetryPolicy(attempts=attempts, backoff=0.001)
    )
    return (await conn.send(request, policy=policy)).data


def run(
    catalog: Catalog,
    upstream: str,
    fault: Fault,
    method: str = "GET",
    **settings: Any,
) -> tuple[BaseException | None, float, int]:
    """Send one call through a proxy applying ``fault``: its error, seconds, connections."""

    async def main() -> tuple[BaseException | None, float, int]:
        async with (
            fault_proxy(upstream, fault) as proxy,
            connection(catalog, proxy.url, **settings) as conn,
        ):
            started = time.perf_counter()
            try:
                await send(conn, method)
            except Exception as exc:
                return exc, time.perf_counter() - started, proxy.connections
            return None, time.perf_counter() - started, proxy.connections

    return asyncio.run(main())


@pytest.mark.parametrize("kind", ["cut", "reset"])
def test_an_answer_cut_mid_body_is_retried_then_a_transport_error(
    catalog: Catalog, server: tuple[str, EchoState], kind: str
) -> None:
    url, state = server
    state.replies.extend([Reply(body=LONG), Reply(body=LONG)])
    error, seconds, connections = run(catalog, url, Fault(kind, after=5000))
    assert isinstance(error, TransportError)
    assert connections == 2  # a read is repeated once, as the policy allows
    assert seconds < 5


@pytest.mark.parametrize("kind", ["cut", "reset"])
def test_a_create_cut_mid_body_is_an_unknown_outcome_sent_once(
    catalog: Catalog, server: tuple[str, EchoState], kind: str
) -> None:
    url, state = server
    state.replies.append(Reply(body=LONG))
    error, seconds, connections = run(catalog, url, Fault(kind, after=5000), "POST")
    assert isinstance(error, OutcomeUnknownError)
    assert [seen.method for seen in state.seen] == ["POST"]
    assert connections == 1
    assert seconds < 5


def test_garbage_instead_of_an_answer_is_a_transport_error(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, _ = server
    error, seconds, _ = run(catalog, url, Fault("garbage"))
    assert isinstance(error, TransportError)
    assert seconds < 5


def test_a_stalled_answer_ends_at_the_total_deadline(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    state.replies.extend([Reply(body=LONG), Reply(body=LONG)])
    timeouts = {"read": 30, "total": 0.5}
    error, seconds, _ = run(catalog, url, Fault("stall", after=5000), timeouts=timeouts)
    assert isinstance(error, TransportError)
    assert "total deadline of 0.5 s" in str(error)
    assert 0.5 <= seconds < 3  # two tries of half a second, not thirty


def test_a_slow_answer_within_the_timeouts_arrives_and_a_slower_one_times_out(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, _ = server
    error, seconds, _ = run(catalog, url, Fault("delay", seconds=0.2))
    assert error is None and seconds >= 0.2
    error, seconds, _ = run(catalog, url, Fault("delay", seconds=2), timeouts={"read": 0.2})
    assert isinstance(error, TransportError) and "ReadTimeout" in str(error)
    assert seconds < 1.5


SPEC = """\
spec: hookline/v1
name: demo
title: Demo
connection:
  fields: {url: {type: string}}
  required: [url]
  base_url: "{{ connection.url }}"
  timeouts: {total: 0.5}
defaults:
  retry: {attempts: 1}
actions:
  ping: {title: Ping, request: {method: GET, path: /}}
"""


def test_the_command_line_reports_a_stalled_server_without_a_traceback(
    tmp_path: Path, server: tuple[str, EchoState]
) -> None:
    url, state = server
    state.replies.append(Reply(body=LONG))
    hookline = Hookline(tmp_path, SPEC)

    async def main() -> Any:
        async with fault_proxy(url, Fault("stall", after=5000)) as proxy:
            connections = hookline.connections(f"demo: {{connector: demo, url: '{proxy.url}'}}\n")
            return await asyncio.to_thread(
                hookline.invoke, "call", "demo.ping", "--connections", str(connections)
            )

    started = time.perf_counter()
    result = asyncio.run(main())
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "total deadline" in result.stderr
    assert time.perf_counter() - started < 10
