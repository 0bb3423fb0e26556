"""OAuth 2.0 tokens at run time: bought, renewed, applied as ``Authorization: Bearer``.

The protocol details come from Authlib's OAuth 2.0 core (``authlib.oauth2``): the
authorization URL, the token request bodies, PKCE's S256 challenge, state values and token
expiry. Authlib's own httpx client is not used: it is a client of its own (bound to the httpx2
fork), while a connection's token requests must go through the connection's client like its
logins do, under its rate budget, deadline, size cap, retries and redaction. So each session
here is an ``httpx.Auth`` whose flow yields the token request, marked as a login, and then the
real request with the access token. The auth types that make them are
``hookline.http.auth.oauth2``.

Renewal is single flight: concurrent requests that find the token missing or due wait for
one token request. A 401 answer renews the token once, unless another request already did,
and the request is sent once more. An authorization-code session keeps its tokens in the
connection's ``TokenStore`` (the state store's, shared by every process), and its refresh is
single flight across processes too: the session reads the stored tokens first (another
process may have refreshed them), else takes the connection's refresh lease and refreshes
while the other processes wait for and then use the tokens it saves, a rotated refresh token
with them in one write. The lease is renewed while the token request is on its way
(``hookline.http.lease``), so a slow token endpoint never lets a second process refresh too.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from hookline.errors import AuthenticationError, ConfigurationError, RateLimitedError, ServerError
from hookline.expr.templates import CompiledValue
from hookline.http.auth.static import AuthTarget, copy_request
from hookline.http.auth.storage import TokenStore
from hookline.http.lease import Lease
from hookline.http.responses import ErrorContext, error_for, lenient_json
from hookline.http.send import AUTH_REQUEST, Flow

if TYPE_CHECKING:
    from authlib.oauth2.rfc6749 import OAuth2Token

    from hookline.documents.compiler import Compiler

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Client:
    """The settings both grants share, compiled: the token endpoint and the client's identity."""

    token_url: CompiledValue
    client_id: CompiledValue
    client_secret: CompiledValue | None
    scopes: tuple[str, ...]
    client_auth: str
    renew_before: float

    @classmethod
    def from_spec(cls, c: Compiler) -> Client:
        """The shared settings of the block at ``c``."""
        token_url = c.value("token_url")
        client_id = c.value("client_id")
        assert token_url is not None and client_id is not None  # the schemas require them
        return cls(
            token_url=token_url,
            client_id=client_id,
            client_secret=c.value("client_secret"),
            scopes=tuple(c.get("scopes", default=[])),
            client_auth=c.get("client_auth", default="basic"),
            renew_before=float(c.get("renew_before", default=60)),
        )


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """One authorization in progress: the URL to open and what its answer must match."""

    url: str
    state: str
    verifier: str
    redirect_uri: str


class TokenSession(httpx.Auth):
    """A connection's bearer token: bought, renewed and applied; a ``LoginAuth``.

    ``generation`` counts the tokens so far: a 401 renews the token only if the token it
    refused is still the current one, so a burst of 401s costs one token request.
    """

    def __init__(self, client: Client, target: AuthTarget) -> None:
        self.client = client
        self.target = target
        self.token_url = _endpoint(client.token_url, target, "token_url")
        self.client_id = _text(client.client_id, target, "client_id")
        self.client_secret = (
            None
            if client.client_secret is None
            else _text(client.client_secret, target, "client_secret")
        )
        target.redactor.add(self.client_secret)
        self.token: OAuth2Token | None = None
        self.generation = 0
        self._lock: asyncio.Lock | None = None

    # ------------------------------------------------------------ the LoginAuth contract

    def needs_login(self) -> bool:
        """Whether the next request would buy or renew the token first."""
        return self._stale(None)

    def login_flow(self) -> Flow:
        """Buy or renew the token now unless another request already did."""
        return self._renewal(None)

    def logout_request(self) -> httpx.Request | None:
        """Nothing to end: a token expires by itself."""
        return None

    def forget(self) -> None:
        """Drop the token held in memory."""
        self.token = None

    # ------------------------------------------------------------ the flow

    async def async_auth_flow(self, request: httpx.Request) -> Flow:
        """Renew the token if needed, send with it, and once more after a 401."""
        rejected: int | None = None
        while True:
            if self._stale(rejected):
                renewal = self._renewal(rejected)
                try:
                    outgoing = await renewal.__anext__()
                    while True:
                        outgoing = await renewal.asend((yield outgoing))
                except StopAsyncIteration:
                    pass
                finally:
                    await renewal.aclose()
            used = self.generation
            response = yield self.authorize(request)
            if rejected is not None or response.status_code != 401:
                return
            logger.info("%s: the access token was refused (401); renewing it", self.target.name)
            rejected = used

    def authorize(self, request: httpx.Request) -> httpx.Request:
        """A copy of ``request`` carrying the access token."""
        assert self.token is not None  # renewed before every request
        authorized = copy_request(request)
        authorized.headers["Authorization"] = f"Bearer {self.token['access_token']}"
        return authorized

    def _stale(self, rejected: int | None) -> bool:
        if self.token is None or rejected == self.generation:
            return True
        expires_at = self.token.get("expires_at")
        if not isinstance(expires_at, int):
            return False
        lifetime = self.token.get("expires_in")
        margin = self.client.renew_before
        if isinstance(lifetime, int | float) and not isinstance(lifetime, bool):
            margin = min(margin, lifetime / 2)
        return time.time() >= expires_at - margin

    async def _renewal(self, rejected: int | None) -> Flow:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._stale(rejected):
                return
            renewal = self._obtain(rejected)
            try:
                outgoing = await renewal.__anext__()
                while True:
                    outgoing = await renewal.asend((yield outgoing))
            except StopAsyncIteration:
                pass
            finally:
                await renewal.aclose()

    async def _obtain(self, rejected: int | None) -> Flow:
        """The token requests of the grant; each answer passes through ``_accept``."""
        raise NotImplementedError
        yield  # pragma: no cover - makes this an async generator

    # ------------------------------------------------------------ token requests

    def token_request(self, grant_type: str, **params: Any) -> httpx.Request:
        """A token endpoint request, authenticated as the spec's ``client_auth`` says."""
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        if self.client.client_auth == "body" or self.client_secret is None:
            params["client_id"] = self.client_id
            if self.client_secret is not None:
                params["client_secret"] = self.client_secret
        else:
            pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
            basic = base64.b64encode(pair.encode()).decode("ascii")
            self.target.redactor.add(basic)
            headers["Authorization"] = f"Basic {basic}"
        if self.client.scopes and grant_type != "authorization_code":
            params.setdefault("scope", list(self.client.scopes))
        from authlib.oauth2.rfc6749.parameters import prepare_token_request

        body = prepare_token_request(grant_type, **params)
        request = httpx.Request("POST", self.token_url, headers=headers, content=body.encode())
        request.extensions = {AUTH_REQUEST: "login"}
        return request

    def _accept(self, response: httpx.Response, step: str) -> OAuth2Token:
        """The token of a token endpoint answer; a refusal is an ``AuthenticationError``."""
        request = response.request
        context = ErrorContext(
            connector=self.target.spec.name,
            action="token",
            method=request.method,
            url=self.target.redactor.redact(str(request.url)),
            redactor=self.target.redactor,
        )
        data = lenient_json(response, context)
        status = response.status_code
        if status >= 300:
            error = error_for(response, data, (), context)
            if isinstance(error, RateLimitedError | ServerError):
                raise error
            code = data.get("error") if isinstance(data, dict) else None
            detail = data.get("error_description") if isinstance(data, dict) else None
            said = ": ".join(str(part) for part in (code, detail) if part)
            raise context.error(
                AuthenticationError,
                f"{context.where}: the {step} was refused ({status} {response.reason_phrase})"
                + (f": {said}" if said else "")
                + f"; {self._hint()}",
                status=status,
                platform_message=said or None,
            )
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise context.error(
                AuthenticationError,
                f"{context.where}: the {step} answer has no access_token; {self._hint()}",
                status=status,
            )
        kind = str(data.get("token_type", "bearer"))
        if kind.lower() != "bearer":
            raise context.error(
                AuthenticationError,
                f"{context.where}: the token endpoint gave a {kind!r} token; only bearer tokens "
                "are supported",
                status=status,
            )
        for secret in ("access_token", "refresh_token", "id_token"):
            self.target.redactor.add(data.get(secret))
        from authlib.oauth2.rfc6749 import OAuth2Token

        return OAuth2Token(dict(data))

    def _hint(self) -> str:
        return "check the connection's client id and secret"

    def _keep(self, token: OAuth2Token) -> None:
        self.token = token
        self.generation += 1


class ClientCredentialsSession(TokenSession):
    """Tokens bought with the client's own credentials (RFC 6749 §4.4)."""

    def __init__(self, client: Client, target: AuthTarget, audience: CompiledValue | None) -> None:
        super().__init__(client, target)
        self.audience = None if audience is None else _text(audience, target, "audience")

    async def _obtain(self, rejected: int | None) -> Flow:
        params = {"audience": self.audience} if self.audience else {}
        response = yield self.token_request("client_credentials", **params)
        self._keep(self._accept(response, "client credentials grant"))


class AuthorizationCodeSession(TokenSession):
    """Tokens a person authorized (RFC 6749 §4.1 with PKCE), kept in the token store.

    ``authorization()`` starts an authorization; ``accept_code()`` hands over the code the
    callback received, and the next renewal exchanges it. Without tokens in the store, a
    request is an ``AuthenticationError`` that says to authorize.
    """

    def __init__(
        self,
        client: Client,
        target: AuthTarget,
        authorize_url: CompiledValue,
        authorize_params: CompiledValue | None,
    ) -> None:
        super().__init__(client, target)
        self.authorize_url = authorize_url
        self.authorize_params = authorize_params
        self.store: TokenStore | None = target.token_store
        self._code: tuple[str, str, str] | None = None

    def authorization(self, redirect_uri: str) -> AuthorizationRequest:
        """A new authorization: its URL (state and S256 challenge included) and checks."""
        from authlib.common.security import generate_token
        from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        state = generate_token(32)
        verifier = generate_token(64)
        extra = (
            {}
            if self.authorize_params is None
            else self.authorize_params.render(self.target.context())
        )
        url = prepare_grant_uri(
            str(_endpoint(self.authorize_url, self.target, "authorize_url")),
            self.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=list(self.client.scopes) or None,
            state=state,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
            **{str(k): str(v) for k, v in extra.items() if v is not None},
        )
        return AuthorizationRequest(url, state, verifier, redirect_uri)

    def accept_code(self, code: str, authorization: AuthorizationRequest) -> None:
        """Exchange ``code`` at the next renewal (``Connection.ready()``) and keep the tokens."""
        self.target.redactor.add(code)
        self._code = (code, authorization.verifier, authorization.redirect_uri)
        self.token = None

    def _hint(self) -> str:
        return f"run `hookline connections authorize {self.target.entry}` again"

    async def _obtain(self, rejected: int | None) -> Flow:
        if self._code is not None:
            code, verifier, redirect_uri = self._code
            self._code = None
            request = self.token_request(
                "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=verifier
            )
            await self._save(self._accept((yield request), "authorization code exchange"))
            return
        refused = None if rejected is None or self.token is None else self.token["access_token"]
        if await self._take_up(refused):
            return
        name = self.target.entry
        lease = Lease(
            self.storage(),
            name,
            work=f"refresh the OAuth tokens of connection {name!r}",
            connector=self.target.spec.name,
        )

        async def refreshed() -> bool | None:
            return await self._take_up(refused) or None

        if await lease.take(refreshed):
            return  # the lease holder refreshed them
        try:
            if await self._take_up(refused):
                return  # refreshed between the last look and the lease
            assert self.token is not None  # _take_up keeps the stored tokens
            refresh = self.token.get("refresh_token")
            if not refresh:
                raise self._unauthorized()
            answer = yield self.token_request("refresh_token", refresh_token=refresh)
            token = self._accept(answer, "token refresh")
            token.setdefault("refresh_token", refresh)  # a server that does not rotate it
            await self._save(token)
        finally:
            await lease.release()

    async def _take_up(self, refused: str | None) -> bool:
        """Keep the stored tokens; whether their access token is good to use as it is.

        Another process may have refreshed them; ``refused`` is an access token the platform
        refused, never good to use.
        """
        data = await self.storage().load(self.target.entry)
        if not data or not isinstance(data.get("access_token"), str):
            raise self._unauthorized()
        for secret in ("access_token", "refresh_token"):
            self.target.redactor.add(data.get(secret))
        if self.token is None or data["access_token"] != self.token["access_token"]:
            from authlib.oauth2.rfc6749 import OAuth2Token

            self._keep(OAuth2Token(data))
        return data["access_token"] != refused and not self._stale(None)

    def _unauthorized(self) -> AuthenticationError:
        entry = self.target.entry
        return AuthenticationError(
            f"connection {entry!r} is not authorized"
            + (" any more" if self.token is not None else "")
            + f"; run `hookline connections authorize {entry}`",
            connector=self.target.spec.name,
        )

    def storage(self) -> TokenStore:
        """Where the tokens are kept; a ``ConfigurationError`` if nowhere."""
        if self.store is None:
            raise ConfigurationError(
                f"connection {self.target.name!r} has nowhere to keep its OAuth tokens; open it "
                "with a state store (every hookline command that opens connections does)"
            )
        return self.store

    async def _save(self, token: OAuth2Token) -> None:
        """Use ``token`` from now on, and keep it (with its refresh token) in one write."""
        self._keep(token)
        kept = ("access_token", "refresh_token", "token_type", "expires_at", "expires_in", "scope")
        await self.storage().save(self.target.entry, {k: token[k] for k in kept if k in token})

    async def forget_tokens(self) -> bool:
        """Forget the kept tokens, for every process; whether there were any."""
        self.token = None
        return await self.storage().delete(self.target.entry)


def _text(value: CompiledValue, target: AuthTarget, what: str) -> str:
    rendered = value.render(target.context())
    if rendered is None or isinstance(rendered, dict | list) or rendered == "":
        raise ConfigurationError(
            f"connection {target.name!r}: the OAuth {what} renders to nothing; check the "
            "connection's fields"
        )
    return str(rendered)


def _endpoint(value: CompiledValue, target: AuthTarget, what: str) -> httpx.URL:
    """An endpoint URL: https, or http to a loopback host (where tests and sandboxes run)."""
    text = _text(value, target, what)
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        url = None
    loopback = url is not None and url.host in ("localhost", "127.0.0.1", "::1")
    if (
        url is None
        or not url.host
        or not (url.scheme == "https" or (url.scheme == "http" and loopback))
    ):
        raise ConfigurationError(
            f"connection {target.name!r}: the OAuth {what} {text!r} must be an https URL "
            "(or http to a loopback host)"
        )
    return url
