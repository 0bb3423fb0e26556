"""The loopback server that runs platform simulators.

A connector plugin registers a ``hookline.Sandbox`` (``hookline.plugins.records``): a factory
for an ASGI app that behaves as the platform's documentation says. ``running`` serves one app
in a background thread (tests, the demo); ``serve`` serves several in the foreground until
Ctrl-C or SIGTERM (``hookline sandbox``); ``Delayed`` adds a latency to every answer.
uvicorn is imported when a server starts.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from hookline.errors import ConfigurationError
from hookline.plugins.records import ASGIApp

if TYPE_CHECKING:
    import uvicorn


def _bind(host: str, port: int, option: str | None = None) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Named as TCP, so that asyncio sets TCP_NODELAY on the connections it accepts (it checks
    # the protocol): without it a keep-alive exchange waits 40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)  # connections queue from now, before the server runs
    except OSError as exc:
        sock.close()
        message = f"cannot listen on {host}:{port}: {exc.strerror}"
        if exc.errno == errno.EADDRINUSE and option is not None:
            message += (
                f"; another program (or another hookline) may have the port: give {option} N "
                f"for another, or {option} 0 for any free one"
            )
        raise ConfigurationError(message) from None
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(app: ASGIApp) -> uvicorn.Server:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", lifespan="auto", access_log=False)
    return uvicorn.Server(config)


@contextmanager
def running(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` on ``host:port`` (port 0: any free one) in a thread; yield its base URL."""
    sock = _bind(host, port)
    server = _server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise ConfigurationError(f"the server for {_url(sock)} did not start")
        time.sleep(0.005)
    try:
        yield _url(sock)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def bind_all(host: str, ports: Sequence[int], *, option: str | None = None) -> list[socket.socket]:
    """Bind one listening socket per port before anything is served, so a clash fails early;
    a port in use is named with the command-line ``option`` that chooses another, if given."""
    socks: list[socket.socket] = []
    try:
        for port in ports:
            socks.append(_bind(host, port, option))
    except ConfigurationError:
        for sock in socks:
            sock.close()
        raise
    return socks


def base_url(sock: socket.socket) -> str:
    """The ``http://host:port`` URL a bound socket answers on."""
    return _url(sock)


def serve(apps: Sequence[tuple[ASGIApp, socket.socket]]) -> None:
    """Serve each app on its socket until Ctrl-C or SIGTERM stops them all cleanly."""
    import uvicorn

    class QuietServer(uvicorn.Server):
        """A server that leaves signals to ``serve``, which stops every server on one signal."""

        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    servers = [QuietServer(_server(app).config) for app, _ in apps]

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop)
        await asyncio.gather(
            *(server.serve(sockets=[sock]) for server, (_, sock) in zip(servers, apps, strict=True))
        )

    asyncio.run(main())


class Delayed:
    """An ASGI app that answers each HTTP request ``seconds`` later than ``app`` would: a
    platform's network and processing time, for measuring against (``--latency``)."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Wait, then let ``app`` answer."""
        if scope["type"] == "http":
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)
