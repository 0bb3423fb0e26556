"""Small loopback servers for the runtime's tests, each an ASGI app with inspectable state.

- ``echo_app``: answers every request with what it received (method, raw path, query,
  headers, body), records it with its arrival time, follows a script of canned replies
  when one is queued, and redirects on ``/redirect?to=URL&status=302``.
- ``session_app``: a platform with logins: a JSON login with an optional MFA step
  (TOTP), tokens that expire (plain or JWT), a token refresh, logout, and a PCR-360-like API
  with the key in the path and a login by headers. It counts logins, second steps, refreshes
  and logouts; ``SessionState.configure`` resets it, so one server can serve many tests.

Serve them with ``hookline.run.sandbox.running(app)`` (``serve_echo`` does it for the echo
server); ``spec_from`` loads a spec text, and ``call`` runs one action against a server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from hookline.actions.call import call_action
from hookline.expr.templates import CompiledValue, Expressions
from hookline.http.auth.tokens import totp_code
from hookline.http.connection import CallPolicy, Connection
from hookline.http.ratelimit import InProcessRateLimiter
from hookline.run.sandbox import running
from hookline.spec import model
from hookline.spec.catalog import Catalog
from hookline.spec.model import Spec

USERNAME = "ada@example.com"
PASSWORD = "pa ss/w:rd+%2F"
API_KEY = "k3y/with+slash="
TOTP_SECRET = "JBSWY3DPEHPK3PXP"


FIELDS: dict[str, Any] = {
    "url": {"type": "string"},
    "username": {"type": "string"},
    "password": {"type": "string", "secret": True},
    "api_key": {"type": "string", "secret": True},
    "totp_secret": {"type": "string", "secret": True},
}


PING = {"method": "GET", "path": "/"}


def spec_from(catalog: Catalog, data: str | dict[str, Any], name: str = "demo.yaml") -> Spec:
    """Load and compile a spec given as YAML text or as data."""
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    return catalog.load_spec(Path(name), text=text)


def demo_spec(
    catalog: Catalog,
    *,
    auth: Any = None,
    fields: dict[str, Any] | None = None,
    actions: dict[str, Any] | None = None,
    **connection: Any,
) -> Spec:
    """A spec ``demo`` whose base URL is the ``url`` field, with ``auth`` and settings."""
    block: dict[str, Any] = {
        "fields": fields or FIELDS,
        "required": ["url"],
        "base_url": "{{ connection.url }}",
        **connection,
    }
    if auth is not None:
        block["auth"] = auth
    data = {
        "spec": "hookline/v1",
        "name": "demo",
        "title": "Demo",
        "connection": block,
        "actions": actions
        or {"ping": {"title": "Ping", "request": {"method": "GET", "path": "/"}}},
    }
    return spec_from(catalog, data)


def make_request(
    expressions: Expressions,
    method: str,
    path: str,
    *,
    multipart: dict[str, dict[str, Any]] | None = None,
    **parts: Any,
) -> model.Request:
    """A compiled request template; ``parts`` are query, headers, json, form, body, flags."""
    compiled: dict[str, Any] = {
        key: expressions.compile_value(value)
        for key, value in parts.items()
        if key in ("query", "headers", "json", "form", "body")
    }
    flags = {k: v for k, v in parts.items() if k in ("omit_nulls", "body_base64", "response")}
    files = None
    if multipart is not None:
        files = {
            name: model.Part(
                value=_compiled(expressions, part.get("value")),
                file=_compiled(expressions, part.get("file")),
                base64=part.get("base64", False),
                filename=_compiled(expressions, part.get("filename")),
                content_type=_compiled(expressions, part.get("content_type")),
            )
            for name, part in multipart.items()
        }
    return model.Request(method, expressions.compile(path), multipart=files, **compiled, **flags)


def _compiled(expressions: Expressions, value: Any) -> CompiledValue | None:
    return None if value is None else expressions.compile_value(value)


def open_connection(catalog: Catalog, spec: Spec, url: str, **values: Any) -> Connection:
    """A connection to ``url`` with ``values``, on a rate limiter of its own."""
    return Connection(
        spec,
        {"url": url, **values},
        expressions=catalog.expressions,
        limiter=InProcessRateLimiter(),
    )


async def fetch(connection: Connection, path: str = "/", method: str = "GET") -> Any:
    """Send ``method path`` on ``connection`` (two tries at most); the answer's data."""
    template = make_request(connection.expressions, method, path)
    request = connection.build_request(template, connection.context())
    policy = CallPolicy(retry=model.RetryPolicy(attempts=2, backoff=0.001))
    return (await connection.send(request, policy=policy)).data


def call(
    catalog: Catalog, spec: Spec, url: str, action: str, input: Any = None, **options: Any
) -> Any:
    """Run ``action`` in a fresh connection to ``url``; its output (or plan, on a dry run)."""

    async def main() -> Any:
        async with Connection(spec, {"url": url}, expressions=catalog.expressions) as connection:
            return await call_action(connection, action, input, **options)

    return asyncio.run(main())


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
        if request.url.path.endswith("/redirect"):
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


def serve_echo() -> Iterator[tuple[str, EchoState]]:
    """Serve a new ``echo_app`` while the generator runs; yield its base URL and state once."""
    app = echo_app()
    with running(app) as url:
        yield url, app.state.echo


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
    """Tokens and counters of the session server; ``configure`` starts it afresh."""

    lifetime: float = 60.0
    jwt: bool = False
    mfa: bool = False
    login_delay: float = 0.0
    expiry_in_body: bool = False
    refusal_status: int = 401
    refresh_status: int = 200
    tokens: dict[str, float] = field(default_factory=dict)
    challenges: set[str] = field(default_factory=set)
    logins: int = 0
    mfa_steps: int = 0
    refreshes: int = 0
    logouts: int = 0
    refused: int = 0
    unauthorized: int = 0

    def configure(self, **options: Any) -> SessionState:
        """Forget every token and count, and take ``options`` (the defaults otherwise)."""
        fresh = SessionState(**options)
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))
        return self

    def expire_all(self) -> None:
        """End every session on the server's side, as an admin or a timeout would."""
        self.tokens.clear()

    def token(self) -> str:
        """A new token, live for ``lifetime`` seconds (a JWT with ``exp`` when ``jwt``)."""
        expires = time.time() + self.lifetime
        if self.jwt:
            claims = json.dumps({"sub": USERNAME, "exp": expires}).encode()
            payload = base64.urlsafe_b64encode(claims).decode().rstrip("=")
            token = f"eyJhbGciOiJIUzI1NiJ9.{payload}.{secrets.token_urlsafe(8)}"
        else:
            token = secrets.token_hex(16)
        self.tokens[token] = expires
        return token

    def issue(self) -> dict[str, Any]:
        """A login: a new token and the answer that carries it."""
        self.logins += 1
        token = self.token()
        return {"status": "success", "token": token, "expires_in": self.lifetime, "tenant_id": 7}

    def valid(self, token: str | None) -> bool:
        """Whether ``token`` is a live session."""
        return token is not None and self.tokens.get(token, 0) > time.time()


def session_app(**options: Any) -> Starlette:
    """A platform with logins; ``options`` are ``SessionState``'s (``configure`` changes them).

    ``POST /api/login`` takes ``{"username", "password"}``; with ``mfa`` it answers
    ``{"mfa_enabled": true, "code": CHALLENGE}`` and ``POST /api/login/mfa`` takes
    ``{"code": CHALLENGE, "token": TOTP}``. ``GET /api/things`` and
    ``GET /api/tenants/7/things`` need ``Authorization: Bearer TOKEN`` (``refusal_status``
    without a live one, or a 200 with ``{"status": "error"}`` when ``expiry_in_body``).
    ``PUT /api/token/refresh`` trades a live token for ``{"token", "expires_in"}`` (no tenant
    id), or answers ``refresh_status`` when that is not 200. ``POST /api/logout`` ends the
    session. Under ``/api/{key}/`` a PCR-360-like API: ``login.json`` by headers,
    ``items.json`` and ``logout.json`` with ``PCR-AUTH-TOKEN``.
    """
    state = SessionState(**options)

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
            return JSONResponse({"message": "Token expired"}, state.refusal_status)
        if request.path_params.get("tenant", "7") != "7":
            return JSONResponse({"message": "No such tenant"}, 404)
        return JSONResponse({"status": "success", "items": [1, 2, 3]})

    async def refresh(request: Request) -> Response:
        state.refreshes += 1
        if not state.valid(bearer(request)):
            state.unauthorized += 1
            return JSONResponse({"message": "Token expired"}, 401)
        if state.refresh_status != 200:
            return JSONResponse({"message": "Refresh refused"}, state.refresh_status)
        return JSONResponse({"token": state.token(), "expires_in": state.lifetime})

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
            Route("/api/tenants/{tenant}/things", things, methods=["GET"]),
            Route("/api/token/refresh", refresh, methods=["PUT"]),
            Route("/api/logout", logout, methods=["POST"]),
            Route("/api/{key:path}/login.json", key_login, methods=["POST"]),
            Route("/api/{key:path}/items.json", key_items, methods=["GET"]),
            Route("/api/{key:path}/logout.json", key_logout, methods=["POST"]),
        ]
    )
    app.state.sessions = state
    return app


# ---------------------------------------------------------------- pages, files and creates


@dataclass
class PagedState:
    """What the paged server saw: each request's path and parameters, and how many overlapped."""

    total: int
    delay: float = 0.0
    seen: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    def records(self, start: int, count: int) -> list[dict[str, Any]]:
        """The records ``start`` to ``start + count`` of the list (fewer at its end)."""
        end = min(start + max(count, 0), self.total)
        return [{"id": i, "name": f"record {i}"} for i in range(max(start, 0), end)]

    def paths(self) -> list[str]:
        """The paths requested, in order."""
        return [path for path, _ in self.seen]


def paged_app(total: int = 23, *, delay: float = 0.0) -> Starlette:
    """A list of ``total`` records ``{"id", "name"}`` behind every pagination style.

    - ``GET /offset?offset&limit`` → ``{"data", "meta": {"total"}}``; ``no_total=1`` leaves
      the total out, ``count=-1`` reports it as -1 (Argus: counting timed out).
    - ``POST /v2/search`` with ``{"pagination": {"offset", "limit"}, ...}`` → PlexTrac v2's
      ``{"status", "data", "meta": {"pagination": {"offset", "limit", "total"}}}``.
    - ``GET /pages?page&pagesize`` → PlanRadar's ``{"data", "meta": {"count", "pages"}}``.
    - ``POST /sql.json`` with form (or JSON) ``page`` and ``limit`` → PCR-360's
      ``{"status", "page": "1", "count", "total_count": "23", "results"}`` (counts as text).
    - ``GET /cursor?cursor&limit`` and ``POST /cursor`` with ``{"paging": {"after"}}`` →
      ``{"items", "next_cursor"}``; ``repeat=1`` gives the same cursor every time.
    - ``GET /next?start`` → ``{"items", "links": {"next"}}`` (five per page), the link relative,
      absolute with ``absolute=1``, or ``foreign`` (a URL) on the second page.
    - ``GET /linked?page`` → five items per page and an RFC 8288 ``Link`` header.
    - ``/stolen`` records that it was reached (a next link must never lead there).

    Every request is recorded in ``app.state.paged.seen``; with ``delay`` each answer waits
    that long, and ``most_in_flight`` says how many requests were served at once.
    """
    state = PagedState(total, delay)

    async def hold(request: Request, params: dict[str, Any]) -> None:
        state.seen.append((request.url.path, params))
        state.in_flight += 1
        state.most_in_flight = max(state.most_in_flight, state.in_flight)
        try:
            await asyncio.sleep(state.delay)
        finally:
            state.in_flight -= 1

    async def offset(request: Request) -> Response:
        params = dict(request.query_params)
        await hold(request, params)
        body: dict[str, Any] = {"data": state.records(int(params["offset"]), int(params["limit"]))}
        if "no_total" not in params:
            body["meta"] = {"total": int(params.get("count", state.total))}
        return JSONResponse(body)

    async def search(request: Request) -> Response:
        body = await request.json()
        await hold(request, body)
        start, limit = body["pagination"]["offset"], body["pagination"]["limit"]
        meta = {"pagination": {"offset": start, "limit": limit, "total": state.total}}
        data = state.records(start, limit)
        return JSONResponse({"status": "success", "data": data, "meta": meta})

    async def pages(request: Request) -> Response:
        params = dict(request.query_params)
        await hold(request, params)
        number, size = int(params["page"]), int(params["pagesize"])
        meta = {"count": state.total, "pages": -(-state.total // size), "page": number}
        return JSONResponse({"data": state.records((number - 1) * size, size), "meta": meta})

    async def sql(request: Request) -> Response:
        if request.headers.get("content-type", "").startswith("application/json"):
            params = await request.json()
        else:
            async with request.form() as form:
                params = dict(form)
        await hold(request, params)
        number, limit = int(params["page"]), int(params["limit"])
        rows = state.records((number - 1) * limit, limit)
        return JSONResponse(
            {"status": "success", "page": str(number), "count": len(rows),
             "total_count": str(state.total), "results": rows}
        )  # fmt: skip

    async def cursor(request: Request) -> Response:
        if request.method == "POST":
            params = await request.json()
            token = params.get("paging", {}).get("after")
            limit = int(params.get("paging", {}).get("size", 5))
        else:
            params = dict(request.query_params)
            token, limit = params.get("cursor"), int(params.get("limit", 5))
        await hold(request, params)
        start = int(token.removeprefix("after-")) if token else 0
        items = state.records(start, limit)
        following = start + len(items)
        next_cursor = f"after-{following}" if following < state.total else None
        if request.query_params.get("repeat"):
            next_cursor = "after-5"
        return JSONResponse({"items": items, "next_cursor": next_cursor})

    async def next_link(request: Request) -> Response:
        params = dict(request.query_params)
        await hold(request, params)
        start = int(params.get("start", 0))
        items = state.records(start, 5)
        link: str | None = None
        if start + 5 < state.total:
            query = "&".join(f"{k}={v}" for k, v in params.items() if k != "start")
            link = f"/next?start={start + 5}" + (f"&{query}" if query else "")
            if "absolute" in params:
                link = str(request.base_url).rstrip("/") + link
            if "foreign" in params and start == 0:
                link = params["foreign"]
        return JSONResponse({"items": items, "links": {"next": link, "self": str(request.url)}})

    async def linked(request: Request) -> Response:
        params = dict(request.query_params)
        await hold(request, params)
        number = int(params.get("page", 1))
        size = int(params.get("per_page", 5))
        carried = f"&per_page={size}" if "per_page" in params else ""  # as GitHub's links do
        base = str(request.base_url).rstrip("/")
        links = [f'<{base}/linked?page=1{carried}>; rel="first"']
        if number * size < state.total:
            links.insert(0, f'<{base}/linked?page={number + 1}{carried}>; rel="next last"')
        headers = {"link": ", ".join(links)}
        return JSONResponse({"items": state.records((number - 1) * size, size)}, headers=headers)

    async def stolen(request: Request) -> Response:
        await hold(request, dict(request.query_params))
        return JSONResponse({"items": [], "stolen": True})

    app = Starlette(
        routes=[
            Route("/offset", offset),
            Route("/v2/search", search, methods=["POST"]),
            Route("/pages", pages),
            Route("/sql.json", sql, methods=["POST"]),
            Route("/cursor", cursor, methods=["GET", "POST"]),
            Route("/next", next_link),
            Route("/linked", linked),
            Route("/stolen", stolen),
        ]
    )
    app.state.paged = state
    return app


def files_app() -> Starlette:
    """Uploads and downloads.

    ``GET /files/{name}`` answers ``file_content(name)`` as ``image/png``;
    ``POST /upload`` (multipart) answers each part: text fields as ``fields``, files as
    ``files: {name: {"filename", "content_type", "content"}}`` with the content base64-encoded;
    ``POST /attachments`` takes Argus's ``{"name", "mimeType", "data": BASE64}`` and answers
    ``{"name", "content"}`` with the decoded content base64-encoded again.
    """

    async def download(request: Request) -> Response:
        return Response(file_content(request.path_params["name"]), media_type="image/png")

    async def upload(request: Request) -> Response:
        fields: dict[str, Any] = {}
        files: dict[str, Any] = {}
        async with request.form() as form:
            for name, value in form.multi_items():
                if isinstance(value, str):
                    fields[name] = value
                else:
                    files[name] = {
                        "filename": value.filename,
                        "content_type": value.content_type,
                        "content": base64.b64encode(await value.read()).decode("ascii"),
                    }
        return JSONResponse({"fields": fields, "files": files})

    async def attachment(request: Request) -> Response:
        body = await request.json()
        content = base64.b64decode(body["data"], validate=True)
        return JSONResponse(
            {"name": body["name"], "content": base64.b64encode(content).decode("ascii")}
        )

    return Starlette(
        routes=[
            Route("/files/{name}", download),
            Route("/upload", upload, methods=["POST"]),
            Route("/attachments", attachment, methods=["POST"]),
        ]
    )


def file_content(name: str) -> bytes:
    """The bytes ``files_app`` serves for ``name``: binary, and not valid UTF-8."""
    return b"\x89PNG\r\n\x1a\n\x00\xff" + name.encode() * 100


@dataclass
class CreateState:
    """Items made by the create server, and how many of its next answers to lose."""

    items: list[dict[str, Any]] = field(default_factory=list)
    posts: int = 0
    lose: int = 0
    lose_before_create: bool = False


def create_app() -> Starlette:
    """Creates whose answer can be lost, and the lookup that finds what they made.

    ``POST /items`` with ``{"external_id", "title"}`` makes an item ``{"id", "external_id",
    "title"}`` and answers it. While ``lose`` is above zero an answer is cut off mid-body (the
    connection closes after the headers), after the item was made, or before it was made when
    ``lose_before_create``. ``GET /items?external_id=`` answers ``{"items": [...]}``.
    """
    state = CreateState()

    async def create(request: Request) -> Response:
        body = await request.json()
        state.posts += 1
        losing = state.lose > 0
        state.lose -= 1 if losing else 0
        if not (losing and state.lose_before_create):
            item = {"id": len(state.items) + 1, **body}
            state.items.append(item)
        if losing:
            return StreamingResponse(_cut_off(), media_type="application/json")
        return JSONResponse(item, status_code=201)

    async def find(request: Request) -> Response:
        wanted = request.query_params.get("external_id")
        return JSONResponse({"items": [i for i in state.items if i["external_id"] == wanted]})

    app = Starlette(
        routes=[Route("/items", create, methods=["POST"]), Route("/items", find, methods=["GET"])]
    )
    app.state.creates = state
    return app


class AnswerLost(Exception):
    """Raised inside a response body, so the server closes the connection mid-answer."""


async def _cut_off() -> AsyncIterator[bytes]:
    yield b'{"id": '
    raise AnswerLost("the answer was lost on purpose")
