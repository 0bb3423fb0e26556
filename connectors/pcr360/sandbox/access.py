"""Who may call: API keys with per-section permissions, API users, and token sessions.

An API key (in the URL path) carries Read and Write permission for each section (Services,
Equipment, Service Desk, SNMP) and may expire. In token mode, the default, a caller first
POSTs ``login.json`` with ``PCR-AUTH-USERNAME``/``PCR-AUTH-PASSWORD`` and gets a JWT, then
sends it as ``PCR-AUTH-TOKEN``. A session ends when its lifetime
(AUTH_SESSION_LIFETIME_SECONDS) or its inactivity limit (AUTH_SESSION_ACTIVITY_SECONDS) runs
out, 0 meaning never; at logout; or when an admin deletes the token or the API user. The JWT
only names a session: a token whose session is gone is refused at once, whatever its ``exp``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .calls import ApiError, Call

if TYPE_CHECKING:
    from .state import Pcr360State


class Section(StrEnum):
    """The sections an API key grants Read and Write permission on."""

    SERVICES = "Services"
    EQUIPMENT = "Equipment"
    SERVICE_DESK = "Service Desk"
    SNMP = "SNMP"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key and its permissions; ``expires_at`` is epoch seconds or None (never)."""

    key: str
    description: str
    read: frozenset[Section]
    write: frozenset[Section]
    expires_at: float | None = None

    def require(self, section: Section, *, write: bool = False) -> None:
        """Refuse with 403 unless this key has Read (or Write) permission on ``section``."""
        granted = self.write if write else self.read
        if section not in granted:
            mode = "Write" if write else "Read"
            raise ApiError(403, f"The API key lacks {mode} permission for {section}")


@dataclass(frozen=True, slots=True)
class ApiUser:
    """A user allowed to log in through the API; ``expires_at`` ends its API access."""

    username: str
    password: str
    expires_at: float | None = None


@dataclass(slots=True)
class Session:
    """A live token session; ``last_activity`` moves on every authenticated call."""

    token_id: str
    username: str
    api_key: str
    issued_at: float
    last_activity: float


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the path's API key and, in token mode, the live session."""

    key: ApiKey
    session: Session | None

    @property
    def username(self) -> str:
        """The user recorded as MODIFIED_BY on writes (``API`` for anonymous calls)."""
        return self.session.username if self.session else "API"


def check_key(state: Pcr360State, api_key: str) -> ApiKey:
    """The key named in the path; 401 when unknown or past its expiration date."""
    key = state.keys.get(api_key)
    if key is None:
        raise ApiError(401, "Invalid API key")
    if key.expires_at is not None and state.now() >= key.expires_at:
        raise ApiError(401, "The API key has expired")
    return key


def login(state: Pcr360State, call: Call, caller: Caller) -> dict[str, Any]:
    """Open a session for the user in the headers and return its token."""
    key = caller.key
    username = call.header("PCR-AUTH-USERNAME")
    password = call.header("PCR-AUTH-PASSWORD")
    if username is None or password is None:
        raise ApiError(401, "Login needs the PCR-AUTH-USERNAME and PCR-AUTH-PASSWORD headers")
    user = state.users.get(username)
    if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
        raise ApiError(401, "Invalid username or password")
    now = state.now()
    if user.expires_at is not None and now >= user.expires_at:
        raise ApiError(401, "API access for this user has expired")
    _purge_expired(state, username, key.key, now)
    token_id = f"{state.rng.getrandbits(64):016x}"
    state.sessions[token_id] = Session(token_id, username, key.key, now, now)
    return {"status": "success", "token": _encode(state, token_id, username, key.key, now)}


def logout(state: Pcr360State, call: Call, caller: Caller) -> dict[str, Any]:
    """End the caller's session; the token is refused from now on."""
    if caller.session is None:
        raise ApiError(401, "Authentication required: send the PCR-AUTH-TOKEN header")
    state.sessions.pop(caller.session.token_id, None)
    return {"status": "success", "message": "Logged out"}


def authenticate(state: Pcr360State, call: Call, key: ApiKey) -> Session:
    """The live session named by ``PCR-AUTH-TOKEN``, its activity clock renewed; else 401."""
    token = call.header("PCR-AUTH-TOKEN")
    if token is None:
        raise ApiError(401, "Authentication required: send the PCR-AUTH-TOKEN header")
    claims = decode_token(state, token)
    session = state.sessions.get(str(claims.get("jti")))
    if session is None:
        raise ApiError(401, "The authentication token is not valid (logged out or revoked)")
    if session.api_key != key.key:
        raise ApiError(401, "The authentication token was issued for another API key")
    now = state.now()
    reason = _expiry(state, session, now)
    if reason:
        raise ApiError(401, reason)
    user = state.users.get(session.username)
    if user is None or (user.expires_at is not None and now >= user.expires_at):
        raise ApiError(401, "API access for this user has ended")
    session.last_activity = now
    return session


def token_id(token: str) -> str | None:
    """The session id a token names, read without checking its signature."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(_unb64(payload))
    except (IndexError, ValueError):
        return None
    return str(claims["jti"]) if isinstance(claims, dict) and "jti" in claims else None


def decode_token(state: Pcr360State, token: str) -> dict[str, Any]:
    """The claims of a token this app signed; 401 for anything else."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ApiError(401, "The authentication token is malformed")
    expected = _sign(state.secret, f"{parts[0]}.{parts[1]}")
    if not hmac.compare_digest(expected.encode(), parts[2].encode()):
        raise ApiError(401, "The authentication token signature is invalid")
    claims = json.loads(_unb64(parts[1]))
    if not isinstance(claims, dict):
        raise ApiError(401, "The authentication token is malformed")
    return claims


def _expiry(state: Pcr360State, session: Session, now: float) -> str | None:
    lifetime = state.session_lifetime_seconds
    if lifetime and now >= session.issued_at + lifetime:
        return "The session has expired: log in again"
    activity = state.session_activity_seconds
    if activity and now >= session.last_activity + activity:
        return "The session timed out after inactivity: log in again"
    return None


def _purge_expired(state: Pcr360State, username: str, api_key: str, now: float) -> None:
    """Delete the user's expired sessions for this key, as the platform does at login."""
    for sid, session in list(state.sessions.items()):
        same = session.username == username and session.api_key == api_key
        if same and _expiry(state, session, now):
            del state.sessions[sid]


def _encode(state: Pcr360State, sid: str, username: str, api_key: str, now: float) -> str:
    claims: dict[str, Any] = {"sub": username, "key": api_key, "iat": int(now), "jti": sid}
    if state.session_lifetime_seconds:
        claims["exp"] = int(now) + state.session_lifetime_seconds
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{body}.{_sign(state.secret, f'{header}.{body}')}"


def _sign(secret: bytes, message: str) -> str:
    return _b64(hmac.new(secret, message.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
