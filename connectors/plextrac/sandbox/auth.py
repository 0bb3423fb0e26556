"""Login, the MFA step, token refresh, and the checks that guard every other endpoint.

``POST /api/v1/authenticate`` answers ``{status, tenant_id, cookie, token}``; for a user with
MFA it answers ``{status, tenant_id, mfa_enabled: true, code}`` instead, and
``POST /api/v1/authenticate/mfa`` trades that ``code`` plus a six-digit TOTP for the tokens.
Failures are deliberately vague (one message for a wrong password, an unknown user and a
disabled account), as the platform's are.

The ``token`` goes in ``Authorization``, with or without the ``Bearer`` scheme (working clients
send both forms). The ``cookie`` is a second JWT, signed with its own key, that only
``GET /api/v1/uploads/...`` accepts, as cookie ``token=<cookie>``. Both expire after
``token_lifetime`` seconds; ``PUT /api/v1/token/refresh`` renews them while they are valid.

Authentication requests (both login steps) are limited per instance, whoever sends them and
whether they succeed: by default 10 per sliding minute, then 429 with ``Retry-After``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .replies import ApiError, json_object, text_field
from .state import MfaChallenge, PlexTracState, state_of
from .tokens import decode_jwt, encode_jwt, totp_matches

UserHandler = Callable[[Request, dict[str, Any]], Awaitable[Response]]

_LOGIN_FAILED = "Could not authenticate with the supplied credentials"


def _count_auth_request(state: PlexTracState) -> None:
    limit = state.options.auth_rate_limit
    if not limit:
        return
    now = state.now()
    window = state.options.auth_rate_window
    sent = state.auth_requests
    while sent and sent[0] <= now - window:
        sent.popleft()
    if len(sent) >= limit:
        retry_after = max(1, math.ceil(sent[0] + window - now))
        raise ApiError(
            429,
            f"Too many authentication requests: at most {limit} per instance every "
            f"{window:g} seconds; retry after {retry_after} seconds",
            {"Retry-After": str(retry_after)},
        )
    sent.append(now)


def _session(state: PlexTracState, user: dict[str, Any]) -> dict[str, Any]:
    issued = int(state.now())
    claims = {
        "username": user["email"],
        "tenantId": state.tenant_id,
        "iat": issued,
        "exp": issued + state.options.token_lifetime,
    }
    return {
        "status": "success",
        "tenant_id": state.tenant_id,
        "cookie": encode_jwt(claims, state.cookie_secret),
        "token": encode_jwt(claims, state.token_secret),
    }


def _claimed_user(state: PlexTracState, token: str, secret: bytes) -> dict[str, Any]:
    claims = decode_jwt(token, secret)
    if claims is None:
        raise ApiError(401, "Invalid token")
    expires = claims.get("exp")
    if not isinstance(expires, int) or state.now() >= expires:
        raise ApiError(401, "Token expired")
    user = state.users.get(str(claims.get("username", "")).lower())
    if user is None or user["disabled"]:
        raise ApiError(401, "Invalid token")
    return user


def bearer_token(request: Request) -> str:
    """The session token of ``Authorization``, with or without the ``Bearer`` scheme."""
    header = request.headers.get("authorization", "").strip()
    scheme, _, rest = header.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else header
    if not token:
        raise ApiError(401, "Missing authentication")
    return token


def authenticated(handler: UserHandler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap ``handler(request, user)`` so it runs only for a valid, unexpired session token."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        state = state_of(request)
        user = _claimed_user(state, bearer_token(request), state.token_secret)
        return await handler(request, user)

    return endpoint


def cookie_user(request: Request) -> dict[str, Any]:
    """The user of the ``token`` cookie; the uploads endpoint's only accepted credential."""
    if "authorization" in request.headers:
        raise ApiError(401, "Authorization header is not accepted here; send cookie token")
    cookie = request.cookies.get("token")
    if not cookie:
        raise ApiError(401, "Missing authentication")
    state = state_of(request)
    return _claimed_user(state, cookie, state.cookie_secret)


async def authenticate(request: Request) -> Response:
    """``POST /api/v1/authenticate``: password login, or the first half of an MFA login."""
    state = state_of(request)
    _count_auth_request(state)
    body = await json_object(request)
    username = text_field(body, "username", required=True)
    password = text_field(body, "password", required=True)
    assert username is not None and password is not None
    email = username.lower()
    user = state.users.get(email)
    if user is None or user["disabled"] or state.passwords.get(email) != password:
        raise ApiError(401, _LOGIN_FAILED)
    if email in state.totp_secrets:
        code = state.new_uuid()
        expires_at = state.now() + state.options.mfa_challenge_lifetime
        state.mfa_challenges[code] = MfaChallenge(email, expires_at)
        return JSONResponse(
            {"status": "success", "tenant_id": state.tenant_id, "mfa_enabled": True, "code": code}
        )
    user["lastLogin"] = state.now_ms()
    return JSONResponse(_session(state, user))


async def authenticate_mfa(request: Request) -> Response:
    """``POST /api/v1/authenticate/mfa``: ``code`` from step one plus a six-digit ``token``."""
    state = state_of(request)
    _count_auth_request(state)
    body = await json_object(request)
    code = text_field(body, "code", required=True)
    one_time = text_field(body, "token", required=True)
    assert code is not None and one_time is not None
    challenge = state.mfa_challenges.get(code)
    if challenge is None or state.now() >= challenge.expires_at:
        raise ApiError(401, "Invalid or expired MFA code; authenticate again")
    secret = state.totp_secrets[challenge.email]
    if not (
        one_time.isdigit() and len(one_time) == 6 and totp_matches(secret, one_time, state.now())
    ):
        raise ApiError(401, "Invalid MFA token")
    del state.mfa_challenges[code]
    user = state.users[challenge.email]
    user["lastLogin"] = state.now_ms()
    return JSONResponse(_session(state, user))


@authenticated
async def refresh_token(request: Request, user: dict[str, Any]) -> Response:
    """``PUT /api/v1/token/refresh``: a fresh token and cookie for a still-valid token."""
    return JSONResponse(_session(state_of(request), user))
