"""A TCP proxy on loopback that misbehaves on purpose, in front of a sandbox or local server.

``fault_proxy(upstream_url)`` relays bytes both ways, and ``Fault`` says what goes wrong on
the way back, for the connections opened after it is set:

- ``delay``: a connection's answers wait ``seconds`` before their first byte;
- ``cut``: ``after`` bytes of the answer pass, then the connection closes (a clean FIN);
- ``reset``: ``after`` bytes pass, then the connection is reset (RST);
- ``garbage``: the request is read and ``data`` comes back instead of an answer;
- ``stall``: ``after`` bytes pass, then nothing more, with the connection left open.

``connections`` counts the connections accepted, so a test can see retries and reuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Fault:
    """What goes wrong with the answers of the next connections (``pass``: nothing)."""

    kind: str = "pass"
    after: int = 0
    seconds: float = 0.0
    data: bytes = b"\x16\x03garbage that is not HTTP\r\n\r\n"


@dataclass
class FaultProxy:
    """The proxy's URL, the fault it applies now, and how many connections it accepted."""

    url: str
    fault: Fault = field(default_factory=Fault)
    connections: int = 0


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a reset rather than a goodbye."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(ConnectionError, RuntimeError, OSError):
            writer.write_eof()


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fault: Fault) -> None:
    """Relay the upstream's answers to the client, with ``fault`` applied."""
    if fault.kind == "delay":
        await asyncio.sleep(fault.seconds)
    if fault.kind in ("pass", "delay"):
        await _forward(reader, writer)
        return
    passed = 0
    while passed < fault.after:
        data = await reader.read(min(65536, fault.after - passed))
        if not data:
            break
        writer.write(data)
        await writer.drain()
        passed += len(data)
    if fault.kind == "cut":
        writer.close()
    elif fault.kind == "reset":
        _reset(writer)
    elif fault.kind == "stall":
        await asyncio.Event().wait()  # until the proxy closes


@asynccontextmanager
async def fault_proxy(upstream: str, fault: Fault | None = None) -> AsyncIterator[FaultProxy]:
    """Serve a proxy to ``upstream`` (an http URL) on 127.0.0.1 until the block ends."""
    origin = httpx.URL(upstream)
    proxy = FaultProxy("", fault or Fault())
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        proxy.connections += 1
        fault = proxy.fault
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            if fault.kind == "garbage":
                await reader.readuntil(b"\r\n\r\n")
                writer.write(fault.data)
                await writer.drain()
                return
            up_reader, up_writer = await asyncio.open_connection(origin.host, origin.port)
            try:
                await asyncio.gather(_forward(reader, up_writer), _answer(up_reader, writer, fault))
            finally:
                up_writer.close()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with server:
            yield proxy
    finally:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
