"""The network under a connection: httpx's transport, its pool, proxies and TLS from the
environment, and how it meets framing, timeouts and broken servers."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookline.errors import ConfigurationError, TransportError
from hookline.http.connection import CallPolicy, Connection
from hookline.http.network import NetworkTransport
from hookline.http.ratelimit import InProcessRateLimiter
from hookline.spec.catalog import Catalog
from hookline.spec.model import RetryPolicy, Spec
from tests.forwardproxy import forward_proxy
from tests.rawserver import reply, serve_raw, target
from tests.servers import demo_spec, fetch

pytestmark = pytest.mark.anyio


def connection(catalog: Catalog, url: str, spec: Spec | None = None, **options: Any) -> Connection:
    return Connection(
        spec or demo_spec(catalog),
        {"url": url},
        expressions=catalog.expressions,
        limiter=InProcessRateLimiter(),
        **options,
    )


async def get(conn: Connection, path: str = "/") -> Any:
    """GET ``path`` once, as a read that may be repeated: a failure is a ``TransportError``."""
    request = httpx.Request("GET", f"{conn.base_url}{path}")
    policy = CallPolicy(idempotent=True, retry=RetryPolicy(attempts=1))
    return (await conn.send(request, policy=policy)).data


# ---------------------------------------------------------------- proxies from the environment


def closing(body: bytes) -> bytes:
    return reply(body, b"Connection: close")


async def test_an_http_call_goes_through_HTTP_PROXY(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        serve_raw(lambda head, body: closing(b'"direct?"')) as origin,
        forward_proxy() as proxy,
    ):
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with connection(catalog, origin.url) as conn:
            data = await fetch(conn, "/cases?q=1")
    assert data == "direct?"
    assert proxy.seen == [("GET", f"{origin.url}/cases?q=1")]
    assert [target(r) for r in origin.requests] == [b"/cases?q=1"]


async def test_an_https_call_tunnels_through_HTTPS_PROXY(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]
) -> None:
    tls = server_context(certificate)
    async with (
        serve_raw(lambda head, body: reply(b'"secret"'), tls) as origin,
        forward_proxy() as proxy,
    ):
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        async with connection(catalog, origin.url) as conn:
            first, second = await fetch(conn), await fetch(conn)
    assert (first, second) == ("secret", "secret")
    assert proxy.seen == [("CONNECT", f"127.0.0.1:{origin.port}")]  # one tunnel, kept alive
    assert origin.connections == 1


async def test_NO_PROXY_sends_the_call_around_the_proxy(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve_raw(lambda head, body: reply(b'"direct"')) as origin, forward_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "example.com,127.0.0.1")
        async with connection(catalog, origin.url) as conn:
            data = await fetch(conn)
    assert data == "direct"
    assert proxy.seen == []
    assert origin.connections == 1


def test_a_proxy_setting_that_cannot_be_used_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "ftp://user:hunter2@proxy.example:21")
    with pytest.raises(ConfigurationError, match="cannot be used") as caught:
        NetworkTransport()
    assert "hunter2" not in str(caught.value)


# ---------------------------------------------------------------- the pool


async def test_200_requests_20_at_a_time_open_at_most_the_pool_size(catalog: Catalog) -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        await asyncio.sleep(0.002)
        return reply(b'"' + target(head) + b'"')

    async with serve_raw(answer) as served:
        pool = NetworkTransport(limits=httpx.Limits(max_connections=4))
        async with connection(catalog, served.url, transport=pool) as conn:
            paths = iter(range(200))
            answers: list[Any] = []

            async def worker() -> None:
                for n in paths:
                    answers.append(await fetch(conn, f"/n{n}"))

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(20)))
            seconds = time.perf_counter() - started
    assert sorted(answers) == sorted(f"/n{n}" for n in range(200))
    assert served.connections <= 4
    assert served.peak_open <= 4
    assert seconds < 10


async def test_sequential_calls_share_one_connection(catalog: Catalog) -> None:
    async with (
        serve_raw(lambda head, body: reply(b'"' + target(head) + b'"')) as served,
        connection(catalog, served.url) as conn,
    ):
        answers = [await fetch(conn, f"/n{i}") for i in range(5)]
    assert answers == [f"/n{i}" for i in range(5)]
    assert served.connections == 1


async def test_a_connection_the_server_closed_while_idle_is_not_reused(catalog: Catalog) -> None:
    async with (
        serve_raw(lambda head, body: closing(b'"ok"')) as served,
        connection(catalog, served.url) as conn,
    ):
        await fetch(conn)
        await asyncio.sleep(0.05)  # the server's goodbye arrives
        data = await fetch(conn)
    assert data == "ok"
    assert served.connections == 2


# ---------------------------------------------------------------- framing


async def test_chunked_close_delimited_and_informational_answers_are_read(
    catalog: Catalog,
) -> None:
    answers = {
        b"/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'3\r\n"ab\r\n2\r\nc"\r\n0\r\n\r\n',
        b"/until-close": b'HTTP/1.1 200 OK\r\n\r\n"all of it"',
        b"/informational": b"HTTP/1.1 100 Continue\r\n\r\n" + reply(b'"after 100"'),
    }
    async with (
        serve_raw(lambda head, body: answers[target(head)]) as served,
        connection(catalog, served.url) as conn,
    ):
        found = [await fetch(conn, path.decode()) for path in answers]
    assert found == ["abc", "all of it", "after 100"]


async def test_large_bodies_both_ways_arrive_whole(catalog: Catalog) -> None:
    big = bytes(range(256)) * 20_000  # 5 MB
    async with (
        serve_raw(lambda head, body: reply(body[::-1])) as served,
        connection(catalog, served.url) as conn,
    ):
        request = httpx.Request("POST", served.url, content=big)
        response = await conn.send(request, policy=CallPolicy(response="bytes"))
    assert response.data == big[::-1]


# ---------------------------------------------------------------- failures


async def test_a_server_that_hangs_up_a_silent_one_and_a_malformed_one_are_transport_errors(
    catalog: Catalog,
) -> None:
    spec = demo_spec(catalog, timeouts={"read": 0.1})
    answers: dict[bytes, bytes | None] = {
        b"/bye": None,
        b"/silent": b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\npart",
        b"/malformed": b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    }
    async with (
        serve_raw(lambda head, body: answers[target(head)]) as served,
        connection(catalog, served.url, spec) as conn,
    ):
        for path, expected in [
            ("/bye", "disconnected"),
            ("/silent", "ReadTimeout"),
            ("/malformed", "Content-Length"),
        ]:
            started = time.perf_counter()
            with pytest.raises(TransportError, match=expected):
                await get(conn, path)
            assert time.perf_counter() - started < 2


async def test_nothing_listening_is_a_transport_error(catalog: Catalog) -> None:
    async with connection(catalog, "http://127.0.0.1:9") as conn:
        with pytest.raises(TransportError, match="failed"):
            await get(conn)


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


async def test_SSL_CERT_FILE_names_the_trusted_roots(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]
) -> None:
    async with serve_raw(lambda head, body: reply(b'"tls"'), server_context(certificate)) as served:
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        async with connection(catalog, served.url) as conn:
            assert await fetch(conn) == "tls"


async def test_an_untrusted_certificate_is_refused(
    catalog: Catalog, certificate: tuple[Path, Path]
) -> None:
    async with (
        serve_raw(lambda head, body: reply(b'"tls"'), server_context(certificate)) as served,
        connection(catalog, served.url) as conn,
    ):
        with pytest.raises(TransportError, match="certificate verify failed"):
            await fetch(conn)
    assert served.requests == []


def test_unreadable_certificates_are_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigurationError, match="SSL_CERT_FILE"):
        NetworkTransport()


async def test_plain_http_never_loads_the_roots_and_https_loads_them_once(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    pool = NetworkTransport()
    async with serve_raw(lambda head, body: reply(b'"plain"')) as served:
        async with connection(catalog, served.url, transport=pool) as conn:
            assert await fetch(conn) == "plain"
        assert pool._direct is None  # no TLS context was made for it
    async with serve_raw(lambda head, body: reply(b'"tls"'), server_context(certificate)) as served:
        pool = NetworkTransport()
        async with connection(catalog, served.url, transport=pool) as conn:
            assert await fetch(conn) == "tls"
            assert pool._direct is not None and pool.route(httpx.URL(served.url)) is pool.direct


async def test_an_https_url_never_goes_through_the_plain_pool() -> None:
    pool = NetworkTransport()
    assert pool.route(httpx.URL("http://example.com/")) is pool.plain
    assert pool.route(httpx.URL("https://example.com/")) is pool.direct
    assert pool.plain is not pool.direct
    await pool.aclose()
