"""Who may use the console: the operator token, sessions, and CSRF checks.

- **The operator token** is ``HOOKLINE_CONSOLE_TOKEN`` when set; otherwise one is generated
  at the first start, shown once, and only its SHA-256 hash is kept (in the state store, the
  ``console_access`` table). A token is random (32 bytes), so a plain hash is enough: there
  is nothing to guess a password from. Tokens are compared as hashes, in constant time, and
  never logged. A console on a host that is not loopback needs a token that exists before
  it starts (the variable, or one generated earlier), so that no stranger can read one.
- **A session** is what signing in with the token gives: a random id in a cookie that is
  ``HttpOnly``, ``SameSite=Strict`` and ``Secure`` when the page came over https; the store
  keeps only the id's hash, with who signed in and until when (12 hours).
- **CSRF**: every request that changes something carries the session's CSRF token (a form
  field ``csrf`` or the header ``X-CSRF-Token``; an HMAC of the session id, so nothing more
  is stored), and its ``Origin`` (or, without one, its ``Referer``) must be the console's
  own. A script that sends ``Authorization: Bearer <token>`` has no cookie to abuse, and is
  taken at its word.
- **Wrong tokens** count against the client's address: after ``WRONG_TOKENS`` of them within
  ``WRONG_WINDOW`` seconds, no token from that address is checked until the oldest is that
  old (``TooManyTries``; the sign-in and the API answer 429 with ``Retry-After``). Sessions
  already open are not affected. Behind a reverse proxy every client has the proxy's address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from hookline.errors import ConfigurationError
from hookline.run.store import SqlCursor, SqlStore

TOKEN_VARIABLE = "HOOKLINE_CONSOLE_TOKEN"
"""The environment variable that gives the operator token."""

WRONG_TOKENS = 10
"""How many wrong tokens an address may send within ``WRONG_WINDOW`` seconds."""

WRONG_WINDOW = 60.0
"""The window, in seconds, over which wrong tokens are counted."""

COOKIE = "hookline_console"
"""The session cookie's name."""

SESSION_SECONDS = 12 * 3600.0
"""How long a session lasts."""

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS console_access (
        name TEXT PRIMARY KEY, hash TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS console_sessions (
        key TEXT PRIMARY KEY, actor TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL)""",
)


def digest(text: str) -> str:
    """The SHA-256 of ``text``, in hex."""
    return hashlib.sha256(text.encode()).hexdigest()


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is on this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Operator:
    """Who makes a request: a signed-in session (with its CSRF token) or a bearer script."""

    actor: str
    csrf: str = ""
    bearer: bool = False


@dataclass(frozen=True, slots=True)
class Granted:
    """The console's access: the token's hash, and the token itself when it was just made
    (to be shown once, by the caller, and then forgotten)."""

    token_hash: str
    new_token: str | None = None


async def prepare_access(store: SqlStore, environ: Mapping[str, str], host: str) -> Granted:
    """The operator token's hash: from ``HOOKLINE_CONSOLE_TOKEN``, kept in the store, or
    made now (loopback only)."""
    await store.create_tables(SCHEMA)
    given = environ.get(TOKEN_VARIABLE, "")
    if given:
        if len(given) < 16:
            raise ConfigurationError(
                f"{TOKEN_VARIABLE} is shorter than 16 characters; use a long random value"
            )
        return Granted(digest(given))

    def kept(cur: SqlCursor) -> str | None:
        cur.execute("SELECT hash FROM console_access WHERE name = 'operator'")
        row = cur.fetchone()
        return None if row is None else str(row[0])

    found = await store.transaction(kept)
    if found is not None:
        return Granted(found)
    if not is_loopback(host):
        raise ConfigurationError(
            f"the console on {host}, which is not a loopback address, needs an operator token "
            f"made beforehand: set {TOKEN_VARIABLE}, or serve with --no-console"
        )
    token = secrets.token_urlsafe(32)

    def keep(cur: SqlCursor) -> str:
        cur.execute(
            "INSERT INTO console_access (name, hash, created_at) VALUES ('operator', ?, ?) "
            "ON CONFLICT (name) DO NOTHING",
            (digest(token), time.time()),
        )
        cur.execute("SELECT hash FROM console_access WHERE name = 'operator'")
        return str(cur.fetchone()[0])

    stored = await store.transaction(keep)
    # another process may have made one at the same moment: then its token is the one
    return Granted(stored, token if stored == digest(token) else None)


class TooManyTries(Exception):
    """Too many wrong tokens came from one address: none is checked for ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"too many wrong operator tokens from this address; try again in {seconds:.0f} s"
        )
        self.seconds = seconds


class Guard:
    """Checks tokens, opens and ends sessions, and checks state-changing requests."""

    def __init__(
        self, store: SqlStore, token_hash: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.token_hash = token_hash
        self.clock = clock
        self._wrong: dict[str, deque[float]] = {}

    def token_matches(self, token: str, address: str) -> bool:
        """Whether ``token`` is the operator token (compared as hashes, in constant time); a
        wrong one counts against ``address``, which past the limit gets ``TooManyTries``."""
        now = self.clock()
        wrong = self._wrong.get(address)
        if wrong is not None:
            while wrong and wrong[0] <= now - WRONG_WINDOW:
                wrong.popleft()
            if len(wrong) >= WRONG_TOKENS:
                raise TooManyTries(wrong[0] + WRONG_WINDOW - now)
        if hmac.compare_digest(digest(token), self.token_hash):
            return True
        if len(self._wrong) >= 1024:  # forget addresses whose wrong tokens are all old
            stale = [key for key, times in self._wrong.items() if times[-1] <= now - WRONG_WINDOW]
            for key in stale:
                del self._wrong[key]
        self._wrong.setdefault(address, deque()).append(now)
        return False

    async def open_session(self, actor: str) -> str:
        """A new session for ``actor``; its id, for the cookie."""
        session = secrets.token_urlsafe(32)
        now = time.time()

        def work(cur: SqlCursor) -> None:
            cur.execute("DELETE FROM console_sessions WHERE expires_at < ?", (now,))
            cur.execute(
                "INSERT INTO console_sessions (key, actor, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (digest(session), actor, now, now + SESSION_SECONDS),
            )

        await self.store.transaction(work)
        return session

    async def end_session(self, session: str) -> None:
        """Forget a session."""
        await self.store.transaction(
            lambda cur: cur.execute(
                "DELETE FROM console_sessions WHERE key = ?", (digest(session),)
            )
        )

    async def operator(self, request: Request) -> Operator | None:
        """Who makes ``request``: a valid bearer token or session cookie, else None."""
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return (
                Operator("api (bearer token)", bearer=True)
                if self.token_matches(credentials.strip(), address(request))
                else None
            )
        session = request.cookies.get(COOKIE)
        if not session:
            return None
        now = time.time()

        def work(cur: SqlCursor) -> Any:
            cur.execute("SELECT actor FROM console_sessions WHERE key = ? AND expires_at > ?",
                        (digest(session), now))  # fmt: skip
            return cur.fetchone()

        row = await self.store.transaction(work)
        return None if row is None else Operator(str(row[0]), csrf=csrf_token(session))

    def refusal(self, request: Request, who: Operator, form: Mapping[str, Any]) -> str | None:
        """Why a state-changing request must be refused, or None when it may go on."""
        if who.bearer:
            return None
        if not same_origin(request):
            return "the request did not come from the console's own pages (Origin or Referer)"
        given = str(form.get("csrf") or request.headers.get("x-csrf-token") or "")
        if not given or not hmac.compare_digest(given, who.csrf):
            return "the request's CSRF token is missing or wrong; reload the page and try again"
        return None


def address(request: Request) -> str:
    """The address a request came from, as the connection shows it."""
    return request.client.host if request.client is not None else ""


def csrf_token(session: str) -> str:
    """The CSRF token of a session: an HMAC of its id, so nothing more is kept."""
    return hmac.new(session.encode(), b"hookline console csrf", hashlib.sha256).hexdigest()


def own_origin(request: Request) -> str:
    """The origin the console is served from, as the browser sees it."""
    host = request.headers.get("host") or request.url.netloc
    return f"{request.url.scheme}://{host}"


def same_origin(request: Request) -> bool:
    """Whether ``Origin`` (or, without it, ``Referer``) is the console's own origin."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return hmac.compare_digest(origin.rstrip("/"), own_origin(request))


def set_session_cookie(response: Response, request: Request, session: str) -> None:
    """Give the browser its session cookie (``Secure`` when served over https)."""
    response.set_cookie(
        COOKIE,
        session,
        max_age=int(SESSION_SECONDS),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
