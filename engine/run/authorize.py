"""Authorizing an OAuth 2.0 connection: a person approves in a browser, hookline keeps the tokens.

``authorize`` opens a one-shot HTTP listener on 127.0.0.1 (a free port the system picks), makes
the authorization URL with that listener as redirect URI, a fresh ``state`` and a PKCE S256
challenge, and hands the URL to ``announce`` (the command prints it). It then waits, for a
bounded time, for the browser to come back with the code; the ``state`` must match, and the
code is exchanged (with the PKCE verifier) through the connection itself, so the token request
has the connection's retries and redaction. The tokens go to the connection's token store
(the state store's, ``hookline.run.tokens``).

The listener answers only ``GET /callback``: anything else is a 404 and the wait goes on. Its
reads are bounded (one request line and its headers, 16 KiB in all, 10 seconds), and it
closes as soon as the answer came or the time ran out.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlsplit

from hookline.errors import AuthenticationError, ConfigurationError
from hookline.http.auth.grants import AuthorizationCodeSession
from hookline.http.connection import Connection

CALLBACK_PATH = "/callback"
_MAX_HEAD = 16 * 1024
_READ_SECONDS = 10.0
_PAGE = (
    "<!doctype html><meta charset=utf-8><title>hookline</title>"
    "<p>{message}</p><p>You can close this window.</p>"
)


class Callback:
    """A loopback listener that waits for one ``GET /callback?...`` and keeps its query."""

    def __init__(self) -> None:
        self.answer: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self.server: asyncio.Server | None = None
        self.redirect_uri = ""

    async def start(self) -> None:
        """Listen on 127.0.0.1, on a free port."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.redirect_uri = f"http://127.0.0.1:{port}{CALLBACK_PATH}"

    async def close(self) -> None:
        """Stop listening."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_SECONDS)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            writer.close()
            return
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, _, rest = line.partition(" ")
        target = rest.rsplit(" ", 1)[0]
        parts = urlsplit(target)
        if method != "GET" or parts.path != CALLBACK_PATH or self.answer.done():
            await _reply(writer, 404, "Not an authorization callback.")
            return
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        message = "hookline has the answer: authorized." if "code" in query else "Not authorized."
        await _reply(writer, 200, message)
        self.answer.set_result(query)


async def _reply(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    body = _PAGE.format(message=message).encode()
    reason = {200: "OK", 404: "Not Found"}[status]
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    try:
        await writer.drain()
    finally:
        writer.close()


def oauth_session(connection: Connection) -> AuthorizationCodeSession:
    """The connection's authorization-code auth; a ``ConfigurationError`` if it has none."""
    flow = connection.auth.flow if connection.auth is not None else None
    if not isinstance(flow, AuthorizationCodeSession):
        raise ConfigurationError(
            f"connection {connection.name!r} ({connection.spec.name}) does not use the "
            "oauth2_authorization_code auth type; there is nothing to authorize"
        )
    return flow


async def authorize(
    connection: Connection,
    announce: Callable[[str], Awaitable[None] | None],
    *,
    timeout: float = 300.0,
) -> None:
    """Run one authorization of ``connection`` and keep its tokens; ``announce`` gets the URL."""
    session = oauth_session(connection)
    session.storage()  # fails before the browser is sent anywhere
    callback = Callback()
    await callback.start()
    try:
        request = session.authorization(callback.redirect_uri)
        shown = announce(request.url)
        if inspect.isawaitable(shown):
            await shown
        try:
            query = await asyncio.wait_for(asyncio.shield(callback.answer), timeout)
        except TimeoutError:
            raise AuthenticationError(
                f"connection {connection.name!r}: no answer from the browser within "
                f"{timeout:g} seconds; run the command again and open the URL it prints",
                connector=connection.spec.name,
            ) from None
    finally:
        await callback.close()
    if "error" in query:
        detail = query.get("error_description", "")
        raise AuthenticationError(
            f"connection {connection.name!r}: the authorization was refused: {query['error']}"
            + (f" ({detail})" if detail else ""),
            connector=connection.spec.name,
            platform_message=detail or query["error"],
        )
    if not hmac.compare_digest(query.get("state", ""), request.state):
        raise AuthenticationError(
            f"connection {connection.name!r}: the answer's state does not match the "
            "authorization's; it was not used (run the command again)",
            connector=connection.spec.name,
        )
    code = query.get("code")
    if not code:
        raise AuthenticationError(
            f"connection {connection.name!r}: the answer holds no authorization code",
            connector=connection.spec.name,
        )
    session.accept_code(code, request)
    await connection.ready()
