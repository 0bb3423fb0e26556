"""Small loopback servers for the runtime's tests, each an ASGI app with inspectable state.

- ``echo_app``: answers every request with what it received (method, raw path, query,
  headers, body), records it with its arrival time, follows a script of canned replies
  when one is queued, and redirects on ``/redirect?to=URL&status=302``.
- ``session_app``: a platform with logins: a JSON login with an optional MFA step
  (TOTP), tokens that expire (plain or JWT), logout, and a PCR-360-like API with the key in
  the path and a login by headers. It counts logins, second steps and logouts.

Serve them with ``hookline.sandbox.running(app)``; ``spec_from`` loads a spec text.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from hookline.auth import totp_code
from hookline.catalog import Catalog
from hookline.spec import Spec

USERNAME = "ada@example.com"
PASSWORD = "pa ss/w:rd+%2F"
API_KEY = "k3y/with+slash="
TOTP_SECRET = "JBSWY3DPEHPK3PXP"


def spec_from(catalog: Catalog, text: str, name: str = "test.yaml") -> Spec:
    """Load and compile a spec given as YAML text."""
    return catalog.load_spec(Path(name), text=text)


# ---------------------------------------------------------------- echo


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    raw_path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    at: float
    port: int


@dataclass
class Reply:
    """A canned reply; ``drip`` sends the body one byte every ``drip`` seconds."""

    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    drip: float | None = None


@dataclass
class EchoState:
    """What the echo server saw, and the replies queued for its next requests."""

    seen: list[Seen] = field(default_factory=list)
    replies: deque[Reply] = field(default_factory=deque)

    def reset(self) -> None:
        """Forget what was seen and queued."""
        self.seen.clear()
        self.replies.clear()


def echo_app() -> Starlette:
    """An app that echoes requests, plays queued replies, and redirects on ``/redirect``."""
    state = EchoState()

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        state.seen.append(
            Seen(
                method=request.method,
                path=request.url.path,
                raw_path=request.scope["raw_path"].decode("latin-1"),
                query=list(request.query_params.multi_items()),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                at=time.monotonic(),
                port=request.url.port or 0,
            )
        )
        if state.replies:
            return _play(state.replies.popleft())
        if request.url.path == "/redirect":
            return RedirectResponse(
                request.query_params["to"], status_code=int(request.query_params.get("status", 302))
            )
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "raw_path": request.scope["raw_path"].decode("latin-1"),
                "query": list(request.query_params.multi_items()),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": body.decode("utf-8", "replace"),
            }
        )

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(routes=[Route("/{rest:path}", endpoint, methods=methods)])
    app.state.echo = state
    return app


def _play(reply: Reply) -> Response:
    body = reply.body
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
        reply.headers.setdefault("content-type", "application/json")
    content = body.encode() if isinstance(body, str) else body
    if reply.drip is None:
        return Response(content, status_code=reply.status, headers=reply.headers)
    delay = reply.drip

    async def drip() -> AsyncIterator[bytes]:
        for index in range(len(content)):
            yield content[index : index + 1]
            await asyncio.sleep(delay)

    return StreamingResponse(drip(), status_code=reply.status, headers=reply.headers)


# ---------------------------------------------------------------- sessions


@dataclass
class SessionState:
    """Tokens and counters of the session server."""

    lifetime: float = 60.0
    jwt: bool = False
    mfa: bool = False
    login_delay: float = 0.0
    expiry_in_body: bool = False
    tokens: dict[str, float] = field(default_factory=dict)
    challenges: set[str] = field(default_factory=set)
    logins: int = 0
    mfa_steps: int = 0
    logouts: int = 0
    refused: int = 0
    unauthorized: int = 0

    def expire_all(self) -> None:
        """End every session on the server's side, as an admin or a timeout would."""
        self.tokens.clear()

    def issue(self) -> dict[str, Any]:
        """A new token and the login answer that carries it."""
        self.logins += 1
        expires = time.time() + self.lifetime
        if self.jwt:
            claims = json.dumps({"sub": USERNAME, "exp": expires}).encode()
            payload = base64.urlsafe_b64encode(claims).decode().rstrip("=")
            token = f"eyJhbGciOiJIUzI1NiJ9.{payload}.{secrets.token_urlsafe(8)}"
        else:
            token = secrets.token_hex(16)
        self.tokens[token] = expires
        return {"status": "success", "token": token, "expires_in": self.lifetime, "tenant_id": 7}

    def valid(self, token: str | None) -> bool:
        """Whether ``token`` is a live session."""
        return token is not None and self.tokens.get(token, 0) > time.time()


def session_app(
    *,
    lifetime: float = 60.0,
    jwt: bool = False,
    mfa: bool = False,
    login_delay: float = 0.0,
    expiry_in_body: bool = False,
) -> Starlette:
    """A platform with logins.

    ``POST /api/login`` takes ``{"username", "password"}``; with ``mfa`` it answers
    ``{"mfa_enabled": true, "code": CHALLENGE}`` and ``POST /api/login/mfa`` takes
    ``{"code": CHALLENGE, "token": TOTP}``. ``GET /api/things`` needs ``Authorization: Bearer
    TOKEN`` (401 without a live one, or a 200 with ``{"status": "error"}`` when
    ``expiry_in_body``). ``POST /api/logout`` ends the session. Under ``/api/{key}/`` a
    PCR-360-like API: ``login.json`` by headers, ``items.json`` and ``logout.json`` with
    ``PCR-AUTH-TOKEN``.
    """
    state = SessionState(lifetime, jwt, mfa, login_delay, expiry_in_body)

    async def login(request: Request) -> Response:
        body = await request.json()
        await asyncio.sleep(state.login_delay)
        if body.get("username") != USERNAME or body.get("password") != PASSWORD:
            state.refused += 1
            return JSONResponse({"status": "error", "message": "Invalid credentials"}, 401)
        if state.mfa:
            challenge = secrets.token_hex(8)
            state.challenges.add(challenge)
            return JSONResponse({"status": "success", "mfa_enabled": True, "code": challenge})
        return JSONResponse(state.issue())

    async def second_step(request: Request) -> Response:
        body = await request.json()
        state.mfa_steps += 1
        now = time.time()
        codes = {totp_code(TOTP_SECRET, at=now), totp_code(TOTP_SECRET, at=now - 30)}
        if body.get("code") not in state.challenges or body.get("token") not in codes:
            return JSONResponse({"status": "error", "message": "Invalid MFA code"}, 401)
        state.challenges.discard(body["code"])
        return JSONResponse(state.issue())

    def bearer(request: Request) -> str | None:
        value = request.headers.get("authorization", "")
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None

    async def things(request: Request) -> Response:
        if not state.valid(bearer(request)):
            state.unauthorized += 1
            if state.expiry_in_body:
                return JSONResponse({"status": "error", "message": "Session expired"})
            return JSONResponse({"message": "Token expired"}, 401)
        return JSONResponse({"status": "success", "items": [1, 2, 3]})

    async def logout(request: Request) -> Response:
        token = bearer(request)
        if not state.valid(token):
            return JSONResponse({"message": "Not logged in"}, 401)
        del state.tokens[token]  # type: ignore[arg-type]
        state.logouts += 1
        return Response(status_code=204)

    async def key_login(request: Request) -> Response:
        if request.path_params["key"] != API_KEY:
            return JSONResponse({"status": "error", "message": "Unknown API key"}, 403)
        if (
            request.headers.get("pcr-auth-username") != USERNAME
            or request.headers.get("pcr-auth-password") != PASSWORD
        ):
            return JSONResponse({"status": "error", "message": "Bad login"}, 401)
        return JSONResponse(state.issue())

    async def key_items(request: Request) -> Response:
        if request.path_params["key"] != API_KEY:
            return JSONResponse({"status": "error", "message": "Unknown API key"}, 403)
        if not state.valid(request.headers.get("pcr-auth-token")):
            return JSONResponse({"status": "error", "message": "Not authorized"}, 401)
        return JSONResponse({"status": "success", "items": ["a", "b"]})

    async def key_logout(request: Request) -> Response:
        token = request.headers.get("pcr-auth-token")
        if request.path_params["key"] != API_KEY or not state.valid(token):
            return JSONResponse({"status": "error", "message": "Not authorized"}, 401)
        del state.tokens[token]  # type: ignore[arg-type]
        state.logouts += 1
        return JSONResponse({"status": "success"})

    app = Starlette(
        routes=[
            Route("/api/login", login, methods=["POST"]),
            Route("/api/login/mfa", second_step, methods=["POST"]),
            Route("/api/things", things, methods=["GET"]),
            Route("/api/logout", logout, methods=["POST"]),
            Route("/api/{key:path}/login.json", key_login, methods=["POST"]),
            Route("/api/{key:path}/items.json", key_items, methods=["GET"]),
            Route("/api/{key:path}/logout.json", key_logout, methods=["POST"]),
        ]
    )
    app.state.sessions = state
    return app
