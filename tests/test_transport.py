"""The HTTP/1.1 transport: keep-alive and its limits, framing, timeouts, errors, TLS."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from hookline.http.transport import HTTP11Transport

pytestmark = pytest.mark.anyio


@dataclass
class Served:
    """A scripted server's base URL and what it saw."""

    url: str
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)


@asynccontextmanager
async def serve(
    answer: Callable[[bytes, bytes], bytes | None], tls: ssl.SSLContext | None = None
) -> AsyncIterator[Served]:
    """Serve on loopback: ``answer(head, body)`` gives the raw reply (None: hang up)."""
    served = Served("")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                served.requests.append(head + body)
                reply = answer(head, body)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                framed = b"content-length" in reply.lower() or b"chunked" in reply.lower()
                if (
                    b"connection: close" in reply.lower()
                    or b"x-hang-up" in reply.lower()
                    or not framed
                ):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    served.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    async with server:
        yield served


def reply(body: bytes = b"ok", *headers: bytes, status: bytes = b"200 OK") -> bytes:
    """A raw answer with a Content-Length, unless the headers frame it otherwise."""
    lines = [b"HTTP/1.1 " + status, *headers]
    if not any(h.lower().startswith((b"transfer-encoding", b"content-length")) for h in headers):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def get(
    transport: HTTP11Transport, url: str, method: str = "GET", **timeouts: float
) -> tuple[httpx.Response, bytes]:
    request = httpx.Request(method, url)
    request.extensions["timeout"] = timeouts
    response = await transport.handle_async_request(request)
    assert isinstance(response.stream, httpx.AsyncByteStream)
    body = b"".join([chunk async for chunk in response.stream])
    await response.aclose()
    return response, body


# ---------------------------------------------------------------- keep-alive


async def test_sequential_requests_share_one_connection() -> None:
    async with serve(lambda head, body: reply(head.split()[1])) as served:
        transport = HTTP11Transport()
        bodies = [(await get(transport, f"{served.url}/n{i}?q=1"))[1] for i in range(5)]
        await transport.aclose()
    assert bodies == [f"/n{i}?q=1".encode() for i in range(5)]
    assert served.connections == 1


async def test_the_answer_keeps_its_status_reason_and_headers() -> None:
    answer = reply(b"gone", b"X-Custom: Yes", status=b"410 Gone For Good")
    async with serve(lambda head, body: answer) as served:
        transport = HTTP11Transport()
        response, body = await get(transport, served.url)
        await transport.aclose()
    assert (response.status_code, response.reason_phrase, body) == (410, "Gone For Good", b"gone")
    assert response.headers["x-custom"] == "Yes"
    assert response.http_version == "HTTP/1.1"


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async with serve(lambda head, body: reply(b"ok", b"X-Hang-Up: after this")) as served:
        transport = HTTP11Transport()
        await get(transport, served.url)
        await asyncio.sleep(0.05)  # the server's goodbye arrives
        _, body = await get(transport, served.url)
        await transport.aclose()
    assert body == b"ok"
    assert served.connections == 2


async def test_a_server_that_hangs_up_is_a_remote_protocol_error() -> None:
    async with serve(lambda head, body: None if b"/bye" in head else reply()) as served:
        transport = HTTP11Transport()
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await get(transport, f"{served.url}/bye")
        _, body = await get(transport, served.url)
        await transport.aclose()
    assert body == b"ok"


async def test_idle_connections_expire() -> None:
    async with serve(lambda head, body: reply()) as served:
        transport = HTTP11Transport(idle_expiry=0.0)
        await get(transport, served.url)
        await asyncio.sleep(0.01)
        await get(transport, served.url)
        await transport.aclose()
    assert served.connections == 2


async def test_an_unread_body_closes_its_connection() -> None:
    async with serve(lambda head, body: reply(b"x" * 1000)) as served:
        transport = HTTP11Transport()
        response = await transport.handle_async_request(httpx.Request("GET", served.url))
        await response.aclose()
        _, body = await get(transport, served.url)
        await transport.aclose()
    assert body == b"x" * 1000
    assert served.connections == 2


async def test_a_request_waits_for_a_free_connection_up_to_the_pool_timeout() -> None:
    async with serve(lambda head, body: reply()) as served:
        transport = HTTP11Transport(max_connections=1)
        held = await transport.handle_async_request(httpx.Request("GET", served.url))
        with pytest.raises(httpx.PoolTimeout):
            await get(transport, served.url, pool=0.05)
        waiting = asyncio.ensure_future(get(transport, served.url, pool=2))
        while not (transport._waiting or waiting.done()):  # queued for a slot
            await asyncio.sleep(0)
        await held.aread()  # frees the slot: the waiting request gets it
        _, body = await waiting
        await transport.aclose()
    assert body == b"ok"


async def test_an_idle_connection_makes_room_for_another_origin() -> None:
    async with (
        serve(lambda head, body: reply(b"a")) as first,
        serve(lambda head, body: reply(b"b")) as second,
    ):
        transport = HTTP11Transport(max_connections=1)
        _, a = await get(transport, first.url)
        _, b = await get(transport, second.url, pool=0.05)
        _, again = await get(transport, first.url, pool=0.05)
        await transport.aclose()
    assert (a, b, again) == (b"a", b"b", b"a")
    assert (first.connections, second.connections) == (2, 1)


# ---------------------------------------------------------------- framing


async def test_chunked_and_close_delimited_bodies_are_read_whole() -> None:
    answers = {
        b"/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
        b"/until-close": b"HTTP/1.1 200 OK\r\n\r\nall of it",
    }
    async with serve(lambda head, body: answers[head.split()[1]]) as served:
        transport = HTTP11Transport()
        _, chunked = await get(transport, f"{served.url}/chunked")
        _, until_close = await get(transport, f"{served.url}/until-close")
        _, again = await get(transport, f"{served.url}/chunked")
        await transport.aclose()
    assert (chunked, until_close, again) == (b"abcdefg", b"all of it", b"abcdefg")
    assert served.connections == 2  # a body delimited by the close ends its connection


async def test_informational_answers_are_skipped() -> None:
    async with serve(lambda head, body: b"HTTP/1.1 100 Continue\r\n\r\n" + reply()) as served:
        transport = HTTP11Transport()
        response, body = await get(transport, served.url)
        await transport.aclose()
    assert (response.status_code, body) == (200, b"ok")


async def test_a_head_answer_has_no_body_and_keeps_the_connection() -> None:
    def answer(head: bytes, body: bytes) -> bytes:
        if head.startswith(b"HEAD"):
            return b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"
        return reply()

    async with serve(answer) as served:
        transport = HTTP11Transport()
        response, head_body = await get(transport, served.url, "HEAD")
        _, body = await get(transport, served.url)
        await transport.aclose()
    assert (response.headers["content-length"], head_body, body) == ("5000", b"", b"ok")
    assert served.connections == 1


async def test_large_bodies_both_ways_arrive_whole() -> None:
    big = bytes(range(256)) * 20_000  # 5 MB, past every buffer's high-water mark
    async with serve(lambda head, body: reply(body[::-1])) as served:
        transport = HTTP11Transport()
        request = httpx.Request("POST", served.url, content=big)
        response = await transport.handle_async_request(request)
        echoed = await response.aread()
        await transport.aclose()
    assert echoed == big[::-1]


# ---------------------------------------------------------------- failures


async def test_a_silent_server_is_a_read_timeout() -> None:
    partial = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\npart"
    async with serve(lambda head, body: partial) as served:
        transport = HTTP11Transport()
        with pytest.raises(httpx.ReadTimeout):
            await get(transport, served.url, read=0.05)
        await transport.aclose()


async def test_nothing_listening_is_a_connect_error() -> None:
    transport = HTTP11Transport()
    with pytest.raises(httpx.ConnectError):
        await get(transport, "http://127.0.0.1:9/")


async def test_a_malformed_answer_is_a_remote_protocol_error() -> None:
    async with serve(lambda head, body: b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n") as served:
        transport = HTTP11Transport()
        with pytest.raises(httpx.RemoteProtocolError):
            await get(transport, served.url)
        await transport.aclose()


async def test_a_header_with_a_line_break_is_refused_before_sending() -> None:
    async with serve(lambda head, body: reply()) as served:
        transport = HTTP11Transport()
        request = httpx.Request("GET", served.url, headers={"X-Bad": "a\r\nX-Injected: 1"})
        with pytest.raises(httpx.LocalProtocolError):
            await transport.handle_async_request(request)
        await transport.aclose()
    assert served.requests == []


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


async def test_tls_to_a_trusted_certificate(certificate: tuple[Path, Path]) -> None:
    async with serve(lambda head, body: reply(b"secret"), server_context(certificate)) as served:
        transport = HTTP11Transport(ssl_context=ssl.create_default_context(cafile=certificate[0]))
        _, first = await get(transport, served.url)
        _, second = await get(transport, served.url)
        await transport.aclose()
    assert (first, second) == (b"secret", b"secret")
    assert served.connections == 1


async def test_an_untrusted_certificate_is_refused(certificate: tuple[Path, Path]) -> None:
    async with serve(lambda head, body: reply(b"secret"), server_context(certificate)) as served:
        transport = HTTP11Transport()
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            await get(transport, served.url)
        await transport.aclose()
    assert served.requests == []
