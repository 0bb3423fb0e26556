"""A small OAuth 2.0 authorization server with one protected API, for the OAuth auth types' tests.

- ``GET /authorize``: checks the client, ``response_type=code`` and a PKCE S256 challenge,
  then redirects to ``redirect_uri`` with a code and the request's ``state``.
- ``POST /token``: the ``client_credentials``, ``authorization_code`` (redirect URI and PKCE
  verifier checked against the code's challenge) and ``refresh_token`` grants; client
  authentication by HTTP Basic or in the form. Refresh tokens rotate: each is good once.
- ``GET /api/things``: answers 200 to a current access token, 401 to anything else.

``OAuthState`` counts every grant and can expire or revoke the tokens, so one server serves
many tests (``configure`` resets it).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "hookline-client"
CLIENT_SECRET = "s3cret/with:odd+chars"


@dataclass
class OAuthState:
    """What the server issued and was asked, by grant."""

    lifetime: int = 3600
    token_delay: float = 0.0
    grants: dict[str, int] = field(default_factory=dict)
    access: dict[str, float] = field(default_factory=dict)
    refresh: set[str] = field(default_factory=set)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_forms: list[dict[str, str]] = field(default_factory=list)
    client_auth: list[str] = field(default_factory=list)

    def configure(self, **options: Any) -> OAuthState:
        """Forget everything issued and set ``lifetime`` or ``token_delay``."""
        fresh = OAuthState(**options)
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))
        return self

    def revoke_access(self) -> None:
        """Every access token issued so far is refused from now on (refresh tokens stay)."""
        self.access.clear()

    def issue(self, *, with_refresh: bool) -> dict[str, Any]:
        token = secrets.token_urlsafe(16)
        self.access[token] = time.time() + self.lifetime
        answer: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.lifetime,
        }
        if with_refresh:
            refresh = secrets.token_urlsafe(16)
            self.refresh.add(refresh)
            answer["refresh_token"] = refresh
        return answer


def _client(request: Request, form: dict[str, str]) -> tuple[str | None, str | None, str]:
    header = request.headers.get("authorization", "")
    if header.startswith("Basic "):
        pair = base64.b64decode(header[6:]).decode()
        client_id, _, secret = pair.partition(":")
        return unquote(client_id), unquote(secret), "basic"
    return form.get("client_id"), form.get("client_secret"), "body"


def _error(code: str, status: int = 400, description: str = "") -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


def oauth_app(state: OAuthState) -> Starlette:
    """The authorization server and its API, serving ``state``."""

    async def authorize(request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return _error("unauthorized_client")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return _error("invalid_request", description="PKCE S256 is required")
        code = secrets.token_urlsafe(12)
        state.codes[code] = {
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
            "scope": q.get("scope", ""),
        }
        answer = {"code": code, "state": q.get("state", "")}
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode(answer)}", status_code=302)

    async def token(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        state.token_forms.append(form)
        grant = form.get("grant_type", "")
        state.grants[grant] = state.grants.get(grant, 0) + 1
        if state.token_delay:
            await asyncio.sleep(state.token_delay)
        client_id, secret, how = _client(request, form)
        state.client_auth.append(how)
        if client_id != CLIENT_ID or secret not in (CLIENT_SECRET, None):
            return _error("invalid_client", 401, "unknown client or wrong secret")
        if grant == "client_credentials":
            if secret is None:
                return _error("invalid_client", 401, "a secret is required")
            return JSONResponse(state.issue(with_refresh=False))
        if grant == "authorization_code":
            issued = state.codes.pop(form.get("code", ""), None)
            if issued is None:
                return _error("invalid_grant", description="unknown or used code")
            if form.get("redirect_uri") != issued["redirect_uri"]:
                return _error("invalid_grant", description="redirect_uri differs")
            verifier = form.get("code_verifier", "")
            if create_s256_code_challenge(verifier) != issued["challenge"]:
                return _error("invalid_grant", description="PKCE verification failed")
            return JSONResponse(state.issue(with_refresh=True))
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            if refresh not in state.refresh:
                return _error("invalid_grant", description="the refresh token is not valid")
            state.refresh.discard(refresh)
            return JSONResponse(state.issue(with_refresh=True))
        return _error("unsupported_grant_type")

    async def things(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ")
        if state.access.get(token, 0) < time.time():
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse({"items": [{"id": 1}, {"id": 2}]})

    return Starlette(
        routes=[
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
            Route("/api/things", things),
        ]
    )
