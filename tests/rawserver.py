"""A scripted HTTP/1.1 server on loopback that answers raw bytes, for hostile-server tests.

``serve_raw(answer)`` calls ``answer(head, body)`` for each request and writes what it
returns as is (an awaitable may be returned, to take its time), so a test can send any
framing, encoding or nonsense a real platform might. ``None`` hangs up. It counts the
connections it accepted and the most it held open at once. ``serve_raw_in_thread`` runs it
on a loop of its own, for a caller that runs its own (the command line).
"""

from __future__ import annotations

import asyncio
import inspect
import queue
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

Answer = Callable[[bytes, bytes], bytes | Awaitable[bytes | None] | None]


@dataclass
class Served:
    """A scripted server's base URL and what it saw."""

    url: str
    port: int = 0
    connections: int = 0
    open: int = 0
    peak_open: int = 0
    requests: list[bytes] = field(default_factory=list)


def reply(body: bytes = b"ok", *headers: bytes, status: bytes = b"200 OK") -> bytes:
    """A raw answer with a Content-Length, unless the headers frame it otherwise."""
    lines = [b"HTTP/1.1 " + status, *headers]
    if not any(h.lower().startswith((b"transfer-encoding", b"content-length")) for h in headers):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def target(head: bytes) -> bytes:
    """The request target of a raw request head: ``/path?query``."""
    return head.split(b" ", 2)[1]


@asynccontextmanager
async def serve_raw(answer: Answer, tls: ssl.SSLContext | None = None) -> AsyncIterator[Served]:
    """Serve on 127.0.0.1 until the block ends; each request is answered by ``answer``."""
    served = Served("")

    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        served.connections += 1
        served.open += 1
        served.peak_open = max(served.peak_open, served.open)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                served.requests.append(head + body)
                raw = answer(head, body)
                written = await raw if inspect.isawaitable(raw) else raw
                if written is None:
                    break
                writer.write(written)
                await writer.drain()
                lowered = written.lower()
                framed = b"content-length" in lowered or b"chunked" in lowered
                if b"connection: close" in lowered or not framed:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            served.open -= 1
            handlers.discard(task)
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    served.port = server.sockets[0].getsockname()[1]
    served.url = f"{'https' if tls else 'http'}://127.0.0.1:{served.port}"
    try:
        async with server:
            yield served
    finally:  # connections a client left open end with the server
        for handler in list(handlers):
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


@contextmanager
def serve_raw_in_thread(answer: Answer) -> Iterator[Served]:
    """``serve_raw`` on an event loop of its own, for a caller that runs its own loop (a CLI)."""
    loop = asyncio.new_event_loop()
    ready: queue.Queue[Served] = queue.Queue()
    stop = asyncio.Event()

    async def main() -> None:
        async with serve_raw(answer) as served:
            ready.put(served)
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        yield ready.get(timeout=10)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()
