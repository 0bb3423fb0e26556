"""HTTP/1.1 over asyncio sockets: the network transport under every connection.

``HTTP11Transport`` is an ``httpx.AsyncBaseTransport``: hookline builds ``httpx.Request``
objects and reads ``httpx.Response`` objects as before, and h11 (httpx's own HTTP/1.1 parser)
frames every message. It exists for speed. httpx's default transport (httpcore on anyio)
spends about a millisecond of CPU on each request, more than parsing a 100 KB JSON page
takes; this one reads and writes through an asyncio protocol directly, so a page costs a
fraction of that (``docs/performance.md`` has the numbers).

It keeps httpx's defaults: at most 100 open connections (a request waits for one up to its
``pool`` timeout), at most 20 kept idle, an idle one closed after 5 seconds; TLS verified with
httpx's default SSL context (``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` are honoured), created on
the first https connection; the request's ``connect``, ``read``, ``write`` and ``pool``
timeouts; httpx's exception types. It speaks HTTP/1.1 only and connects directly: hookline's
connections never used HTTP/2, and passing a transport to httpx already turns off
environment proxies.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import suppress
from typing import Any

import h11
import httpx

MAX_CONNECTIONS = 100
MAX_IDLE = 20
IDLE_EXPIRY = 5.0
_MAX_HEAD = 100 * 1024  # the largest response head accepted, as httpcore's
_READ_HIGH_WATER = 256 * 1024  # received bytes held before the socket stops reading
_WRITE_BATCH = 64 * 1024  # request body bytes gathered into one write

Origin = tuple[bytes, str, int]
"""Scheme, host and port: the connections of one origin are interchangeable."""

_DEFAULT_PORTS = {b"http": 80, b"https": 443}


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """httpx's default SSL context, built once per process (loading the CAs takes ~50 ms)."""
    context = httpx.create_ssl_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


class HTTP11Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive connections, pooled per origin, over asyncio sockets."""

    def __init__(
        self,
        *,
        max_connections: int = MAX_CONNECTIONS,
        max_idle: int = MAX_IDLE,
        idle_expiry: float = IDLE_EXPIRY,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._slots = asyncio.Semaphore(max_connections)
        self._max_idle = max_idle
        self._idle_expiry = idle_expiry
        self._ssl_context = ssl_context
        self._idle: deque[_Connection] = deque()
        self._waiting = 0
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a pooled connection; the body streams from that connection."""
        timeouts: Mapping[str, float | None] = request.extensions.get("timeout", {})
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"the URL scheme {url.scheme!r} is not supported")
        origin = (scheme, url.raw_host.decode("ascii"), url.port or _DEFAULT_PORTS[scheme])
        connection = await self._connection(origin, timeouts)
        try:
            head = await connection.exchange(request, timeouts)
        except BaseException:
            self.discard(connection)
            raise
        return httpx.Response(
            head.status_code,
            headers=head.headers.raw_items(),
            stream=_Body(self, connection, timeouts.get("read")),
            extensions={"http_version": b"HTTP/" + head.http_version, "reason_phrase": head.reason},
        )

    async def aclose(self) -> None:
        """Close the idle connections; busy ones close when their answer has been read."""
        self._closed = True
        while self._idle:
            self.discard(self._idle.popleft())

    # ------------------------------------------------------------ the pool

    async def _connection(
        self, origin: Origin, timeouts: Mapping[str, float | None]
    ) -> _Connection:
        """An idle connection to ``origin`` that is still open, else a new one."""
        now = time.monotonic()
        while self._idle and now - self._idle[0].idle_since > self._idle_expiry:
            self.discard(self._idle.popleft())
        for connection in reversed(self._idle):
            if connection.origin == origin:
                self._idle.remove(connection)
                if connection.reusable():
                    return connection
                self.discard(connection)
                break
        if self._slots.locked() and self._idle:  # make room: the oldest idle one goes
            self.discard(self._idle.popleft())
        self._waiting += 1
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no connection became free within the pool timeout") from None
        finally:
            self._waiting -= 1
        try:
            return await _Connection.open(origin, self._tls(origin), timeouts.get("connect"))
        except BaseException:
            self._slots.release()
            raise

    def _tls(self, origin: Origin) -> ssl.SSLContext | None:
        if origin[0] != b"https":
            return None
        return self._ssl_context or default_ssl_context()

    def recycle(self, connection: _Connection) -> None:
        """Keep a connection whose answer was read in full, if it can carry another request
        and no request is waiting for a free slot (which closing it gives)."""
        state = connection.h11
        if state.our_state is h11.DONE and state.their_state is h11.DONE:
            state.start_next_cycle()
        if (
            self._closed
            or self._waiting
            or len(self._idle) >= self._max_idle
            or not connection.reusable()
        ):
            self.discard(connection)
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)

    def discard(self, connection: _Connection) -> None:
        """Close a connection and free its slot; each connection is discarded once."""
        if connection.close():
            self._slots.release()


class _Body(httpx.AsyncByteStream):
    """A response body read from its connection; the connection is recycled at its end."""

    def __init__(
        self, transport: HTTP11Transport, connection: _Connection, timeout: float | None
    ) -> None:
        self.transport = transport
        self.connection = connection
        self.timeout = timeout
        self.finished = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while True:
                event = await self.connection.next_event(self.timeout)
                if isinstance(event, h11.EndOfMessage):
                    break
                if not isinstance(event, h11.Data):
                    raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} in a body")
                yield bytes(event.data)
        except BaseException:
            self._finish(reuse=False)
            raise
        self._finish(reuse=True)

    async def aclose(self) -> None:
        """Stop reading: a connection left in the middle of a body cannot be reused."""
        self._finish(reuse=False)

    def _finish(self, *, reuse: bool) -> None:
        if not self.finished:
            self.finished = True
            if reuse:
                self.transport.recycle(self.connection)
            else:
                self.transport.discard(self.connection)


# ---------------------------------------------------------------- one connection


class _Connection:
    """One HTTP/1.1 connection: h11's state and the socket under it."""

    def __init__(self, origin: Origin, socket: _Socket) -> None:
        self.origin = origin
        self.socket = socket
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD)
        self.idle_since = 0.0
        self.closed = False

    @classmethod
    async def open(
        cls, origin: Origin, tls: ssl.SSLContext | None, timeout: float | None
    ) -> _Connection:
        """Connect (and shake hands, for TLS) within ``timeout``."""
        _, host, port = origin
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, socket = await loop.create_connection(
                    _Socket, host, port, ssl=tls, server_hostname=host if tls else None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"no connection to {host}:{port} within {timeout} s"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return cls(origin, socket)

    def reusable(self) -> bool:
        """Whether another request may be sent: both sides idle and the socket still open."""
        return (
            not self.closed
            and self.socket.is_open()
            and self.h11.our_state is h11.IDLE
            and self.h11.their_state is h11.IDLE
        )

    async def exchange(
        self, request: httpx.Request, timeouts: Mapping[str, float | None]
    ) -> h11.Response:
        """Send ``request``; the answer's head (informational answers skipped)."""
        with suppress(httpx.WriteError):  # a server may answer (413, ...) before the whole body
            await self._send(request, timeouts.get("write"))
        while True:
            event = await self.next_event(timeouts.get("read"))
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} for a head")

    async def _send(self, request: httpx.Request, timeout: float | None) -> None:
        """The request head and body, gathered into writes of up to ``_WRITE_BATCH`` bytes."""
        assert isinstance(request.stream, httpx.AsyncByteStream)
        send = self.h11.send
        try:
            pending = [
                send(h11.Request(method=request.method, target=request.url.raw_path,
                                 headers=request.headers.raw))
            ]  # fmt: skip
            size = len(pending[0])
            async for chunk in request.stream:
                data = send(h11.Data(data=chunk))
                pending.append(data)
                size += len(data)
                if size >= _WRITE_BATCH:
                    await self.socket.write(b"".join(pending), timeout)
                    pending, size = [], 0
            pending.append(send(h11.EndOfMessage()))
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        await self.socket.write(b"".join(pending), timeout)

    async def next_event(self, timeout: float | None) -> Any:
        """The next h11 event of the answer, reading from the socket as h11 needs."""
        state = self.h11
        while True:
            try:
                event = state.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event
            data = await self.socket.read(timeout)
            if not data and state.their_state is h11.SEND_RESPONSE:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            state.receive_data(data)

    def close(self) -> bool:
        """Close the socket; True the first time only."""
        if self.closed:
            return False
        self.closed = True
        self.socket.close()
        return True


class _Socket(asyncio.Protocol):
    """A connection's bytes: received ones buffered (reading pauses past a high-water mark),
    written ones sent at once or, when the peer is slow, after a drain."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self._reading_paused = False
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    # asyncio's side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _READ_HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self._reading_paused = True
        self._wake_reader()

    def eof_received(self) -> None:
        self.eof = True
        self._wake_reader()

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake_reader()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        waiter, self._writable = self._writable, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_reader(self) -> None:
        waiter = self._readable
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # hookline's side

    def is_open(self) -> bool:
        """Open, and nothing unasked-for received (an idle connection must stay silent)."""
        transport = self.transport
        return not (self.eof or self.buffer or transport is None or transport.is_closing())

    async def read(self, timeout: float | None) -> bytes:
        """Every byte received so far, waiting up to ``timeout`` for one; b"" at the end."""
        if not self.buffer and not self.eof:
            self._readable = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._readable
            except TimeoutError:
                raise httpx.ReadTimeout(f"no data within the read timeout of {timeout} s") from None
            finally:
                self._readable = None
        data = bytes(self.buffer)
        self.buffer.clear()
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        if not data and self.error is not None:
            raise httpx.ReadError(str(self.error) or type(self.error).__name__)
        return data

    async def write(self, data: bytes, timeout: float | None) -> None:
        """Send ``data``, waiting up to ``timeout`` for the peer to take it if it is slow."""
        transport = self.transport
        if transport is None or transport.is_closing():
            detail = f": {self.error}" if self.error else ""
            raise httpx.WriteError(f"the connection is closed{detail}")
        if data:
            transport.write(data)
        waiter = self._writable
        if waiter is not None:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(waiter)
            except TimeoutError:
                raise httpx.WriteTimeout(
                    f"the server took no data within the write timeout of {timeout} s"
                ) from None
            if self.error is not None:
                raise httpx.WriteError(str(self.error))

    def close(self) -> None:
        """Close the socket now: a connection is closed when its messages are complete or
        abandoned, so nothing is left to send, and TLS skips its closing handshake (as httpx's
        default transport does), which a slow peer could stretch to half a minute."""
        if self.transport is not None:
            self.transport.abort()
