"""A forward HTTP proxy on loopback that counts what passes through it.

It speaks the two forms a client uses with a proxy: ``CONNECT host:port`` (a tunnel, for
https) and an absolute-form request such as ``GET http://host:port/path`` (for http), which it
forwards to the origin in origin form with ``Connection: close`` and relays until the origin
hangs up. ``seen`` lists each request line's method and target.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Proxy:
    """The proxy's URL and the requests it relayed: ``(method, target)``."""

    url: str
    seen: list[tuple[str, str]] = field(default_factory=list)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.write_eof()


async def _relay(
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    origin: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    try:
        await asyncio.gather(_pipe(client[0], origin[1]), _pipe(origin[0], client[1]))
    finally:
        origin[1].close()


@asynccontextmanager
async def forward_proxy() -> AsyncIterator[Proxy]:
    """Serve the proxy on 127.0.0.1 until the block ends."""
    proxy = Proxy("")

    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                line, _, rest = head.partition(b"\r\n")
                method, target, _ = line.decode("latin-1").split(" ", 2)
                proxy.seen.append((method, target))
                if method == "CONNECT":
                    host, _, port = target.rpartition(":")
                    origin = await asyncio.open_connection(host, int(port))
                    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    await writer.drain()
                    await _relay((reader, writer), origin)
                    return
                url = urlsplit(target)
                length = 0
                headers = []
                for header in rest.split(b"\r\n"):
                    name = header.partition(b":")[0].strip().lower()
                    if name == b"content-length":
                        length = int(header.partition(b":")[2])
                    if header and name not in (b"connection", b"proxy-connection"):
                        headers.append(header)
                body = await reader.readexactly(length)
                origin_reader, origin_writer = await asyncio.open_connection(
                    url.hostname, url.port or 80
                )
                path = (url.path or "/") + (f"?{url.query}" if url.query else "")
                forwarded = [f"{method} {path} HTTP/1.1".encode(), *headers, b"Connection: close"]
                try:
                    origin_writer.write(b"\r\n".join(forwarded) + b"\r\n\r\n" + body)
                    await origin_writer.drain()
                    while data := await origin_reader.read(65536):
                        writer.write(data)
                        await writer.drain()
                finally:
                    origin_writer.close()
                return  # the origin's answer was delimited by its close, so the client's is too
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            handlers.discard(task)
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with server:
            yield proxy
    finally:  # connections a client left open end with the server
        for handler in list(handlers):
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
