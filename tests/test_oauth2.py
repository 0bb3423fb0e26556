"""The OAuth 2.0 auth types against a local authorization server: grants, renewal, authorizing.

Where the tokens are kept, refresh across processes, the commands and the import of old
token files are ``test_oauth_tokens``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookline.errors import AuthenticationError, ConfigurationError, SpecError
from hookline.http.auth.grants import AuthorizationCodeSession, TokenSession
from hookline.http.connection import Connection
from hookline.http.ratelimit import InProcessRateLimiter
from hookline.run.authorize import authorize
from hookline.run.keys import InstallationKey, new_key
from hookline.run.sandbox import running
from hookline.run.store import SqliteStore
from hookline.run.tokens import StoreTokens
from hookline.spec.catalog import Catalog
from tests.oauth_server import CLIENT_ID, CLIENT_SECRET, OAuthState, oauth_app
from tests.servers import demo_spec, fetch

pytestmark = pytest.mark.anyio

FIELDS: dict[str, Any] = {
    "url": {"type": "string"},
    "client_id": {"type": "string"},
    "client_secret": {"type": "string", "secret": True},
}

CLIENT_CREDENTIALS: dict[str, Any] = {
    "type": "oauth2_client_credentials",
    "token_url": "{{ connection.url }}/token",
    "client_id": "{{ connection.client_id }}",
    "client_secret": "{{ connection.client_secret }}",
    "scopes": ["things:read", "things:write"],
    "audience": "https://api.example",
}

AUTHORIZATION_CODE: dict[str, Any] = {
    "type": "oauth2_authorization_code",
    "authorize_url": "{{ connection.url }}/authorize",
    "token_url": "{{ connection.url }}/token",
    "client_id": "{{ connection.client_id }}",
    "client_secret": "{{ connection.client_secret }}",
    "scopes": ["things:read"],
    "authorize_params": {"prompt": "consent"},
}

VALUES = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, OAuthState]]:
    state = OAuthState()
    with running(oauth_app(state)) as url:
        yield url, state


@pytest.fixture
def oauth(server: tuple[str, OAuthState]) -> tuple[str, OAuthState]:
    """The authorization server, with nothing issued yet."""
    url, state = server
    state.configure()
    return url, state


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[StoreTokens]:
    """Tokens in a SQLite state store of the test's own."""
    database = SqliteStore(tmp_path / "state.db")
    yield StoreTokens(database, InstallationKey(new_key()))
    await database.close()


def connect(
    catalog: Catalog,
    auth: dict[str, Any],
    url: str,
    store: StoreTokens | None = None,
    **values: Any,
) -> Connection:
    spec = demo_spec(catalog, auth=auth, fields=FIELDS)
    return Connection(
        spec,
        {"url": url, **VALUES, **values},
        expressions=catalog.expressions,
        name="crm",
        limiter=InProcessRateLimiter(),
        token_store=store,
    )


def token_session(connection: Connection) -> TokenSession:
    assert connection.auth is not None and isinstance(connection.auth.flow, TokenSession)
    return connection.auth.flow


def expire(connection: Connection) -> None:
    """Make the connection's token due for renewal."""
    session = token_session(connection)
    assert session.token is not None
    session.token["expires_at"] = int(time.time()) - 1


async def browse(url: str) -> None:
    """What a person's browser does: open the URL and follow the redirect to the callback."""
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        answer = await browser.get(url)
    assert answer.status_code == 200, answer.text


# ---------------------------------------------------------------- client credentials


async def test_client_credentials_buy_one_token_for_many_requests(
    catalog: Catalog, oauth: tuple[str, OAuthState]
) -> None:
    url, state = oauth
    async with connect(catalog, CLIENT_CREDENTIALS, url) as connection:
        for _ in range(3):
            assert (await fetch(connection, "/api/things"))["items"] == [{"id": 1}, {"id": 2}]
    assert state.grants == {"client_credentials": 1}
    form = state.token_forms[0]
    assert form["scope"] == "things:read things:write"
    assert form["audience"] == "https://api.example"
    assert "client_secret" not in form and state.client_auth == ["basic"]


async def test_client_credentials_can_go_in_the_form(
    catalog: Catalog, oauth: tuple[str, OAuthState]
) -> None:
    url, state = oauth
    auth = {**CLIENT_CREDENTIALS, "client_auth": "body"}
    async with connect(catalog, auth, url) as connection:
        await fetch(connection, "/api/things")
    assert state.client_auth == ["body"]
    assert state.token_forms[0]["client_secret"] == CLIENT_SECRET


async def test_a_due_token_is_bought_again_once_for_concurrent_requests(
    catalog: Catalog, oauth: tuple[str, OAuthState]
) -> None:
    url, state = oauth
    async with connect(catalog, CLIENT_CREDENTIALS, url) as connection:
        await fetch(connection, "/api/things")
        expire(connection)
        state.token_delay = 0.1
        await asyncio.gather(*(fetch(connection, "/api/things") for _ in range(8)))
    assert state.grants == {"client_credentials": 2}


async def test_a_401_renews_the_token_once_and_repeats_the_request(
    catalog: Catalog, oauth: tuple[str, OAuthState]
) -> None:
    url, state = oauth
    async with connect(catalog, CLIENT_CREDENTIALS, url) as connection:
        await fetch(connection, "/api/things")
        state.revoke_access()
        await asyncio.gather(*(fetch(connection, "/api/things") for _ in range(4)))
    assert state.grants == {"client_credentials": 2}


async def test_a_refused_client_is_an_authentication_error_without_the_secret(
    catalog: Catalog, oauth: tuple[str, OAuthState]
) -> None:
    url, _ = oauth
    wrong = "not-the/secret"
    async with connect(catalog, CLIENT_CREDENTIALS, url, client_secret=wrong) as connection:
        with pytest.raises(AuthenticationError, match="invalid_client") as error:
            await fetch(connection, "/api/things")
    assert error.value.status == 401
    assert wrong not in str(error.value) and "check the connection's client id" in str(error.value)


def test_a_token_url_must_be_https_off_loopback(catalog: Catalog) -> None:
    auth = {**CLIENT_CREDENTIALS, "token_url": "http://auth.example/token"}
    with pytest.raises(ConfigurationError, match="must be an https URL"):
        connect(catalog, auth, "https://api.example")


def test_the_schema_requires_the_client_secret_for_client_credentials(catalog: Catalog) -> None:
    auth = {k: v for k, v in CLIENT_CREDENTIALS.items() if k != "client_secret"}
    with pytest.raises(SpecError, match="client_secret"):
        demo_spec(catalog, auth=auth, fields=FIELDS)


# ---------------------------------------------------------------- authorization code


async def test_authorize_exchanges_the_code_with_pkce_and_keeps_the_tokens(
    catalog: Catalog, oauth: tuple[str, OAuthState], store: StoreTokens
) -> None:
    url, state = oauth
    async with connect(catalog, AUTHORIZATION_CODE, url, store) as connection:
        await authorize(connection, browse, timeout=10)
        assert (await fetch(connection, "/api/things"))["items"]
    assert state.grants == {"authorization_code": 1}
    exchange = state.token_forms[0]
    assert exchange["redirect_uri"].startswith("http://127.0.0.1:")
    assert len(exchange["code_verifier"]) >= 43
    tokens = await store.load("crm")
    assert tokens is not None and tokens["access_token"] in state.access
    assert tokens["refresh_token"] in state.refresh


async def test_a_new_connection_uses_the_kept_tokens_and_refreshes_them(
    catalog: Catalog, oauth: tuple[str, OAuthState], store: StoreTokens
) -> None:
    url, state = oauth
    async with connect(catalog, AUTHORIZATION_CODE, url, store) as connection:
        await authorize(connection, browse, timeout=10)
    first = await store.load("crm")
    assert first is not None
    async with connect(catalog, AUTHORIZATION_CODE, url, store) as connection:
        await fetch(connection, "/api/things")
        assert state.grants == {"authorization_code": 1}
        expire(connection)
        state.token_delay = 0.1
        await asyncio.gather(*(fetch(connection, "/api/things") for _ in range(6)))
    assert state.grants == {"authorization_code": 1, "refresh_token": 1}
    rotated = await store.load("crm")
    assert rotated is not None and rotated["refresh_token"] != first["refresh_token"]
    assert rotated["refresh_token"] in state.refresh


async def test_a_401_refreshes_the_authorized_token_once(
    catalog: Catalog, oauth: tuple[str, OAuthState], store: StoreTokens
) -> None:
    url, state = oauth
    async with connect(catalog, AUTHORIZATION_CODE, url, store) as connection:
        await authorize(connection, browse, timeout=10)
        state.revoke_access()
        await asyncio.gather(*(fetch(connection, "/api/things") for _ in range(3)))
    assert state.grants == {"authorization_code": 1, "refresh_token": 1}


async def test_an_unauthorized_connection_says_to_authorize(
    catalog: Catalog, oauth: tuple[str, OAuthState], store: StoreTokens
) -> None:
    url, state = oauth
    async with connect(catalog, AUTHORIZATION_CODE, url, store) as connection:
        with pytest.raises(AuthenticationError, match="hookline connections authorize crm"):
            await fetch(connection, "/api/things")
    assert state.grants == {}


async def test_a_refused_refresh_says_to_authorize_again(
    catalog: Catalog, oauth: tuple[str, OAuthState], store: StoreTokens
) -> None:
    url, state = oauth
    async with connect(catalog, AUTHORIZATION_CODE, url, store) as connection:
        await authorize(connection, browse, timeout=10)
        state.refresh.clear()
        expire(connection)
        with pytest.raises(AuthenticationError, match=r"invalid_grant.*authorize crm` again"):
            await fetch(connection, "/api/things")


async def test_an_answer_with_another_state_is_not_used(
    catalog: Catalog, oauth: tuple[str, OAuthState], store: StoreTokens
) -> None:
    url, state = oauth

    async def forged(authorization_url: str) -> None:
        async with httpx.AsyncClient() as browser:
            answer = await browser.get(authorization_url)
            location = httpx.URL(answer.headers["location"])
            await browser.get(location.copy_set_param("state", "forged"))

    async with connect(catalog, AUTHORIZATION_CODE, url, store) as connection:
        with pytest.raises(AuthenticationError, match="state does not match"):
            await authorize(connection, forged, timeout=10)
    assert state.grants == {}
    assert await store.load("crm") is None


async def test_authorize_waits_a_bounded_time(
    catalog: Catalog, oauth: tuple[str, OAuthState], store: StoreTokens
) -> None:
    url, _ = oauth
    async with connect(catalog, AUTHORIZATION_CODE, url, store) as connection:
        with pytest.raises(AuthenticationError, match=r"no answer from the browser within 0\.2"):
            await authorize(connection, lambda _: None, timeout=0.2)


async def test_a_refusal_in_the_browser_is_reported(
    catalog: Catalog, oauth: tuple[str, OAuthState], store: StoreTokens
) -> None:
    url, _ = oauth

    async def refuse(authorization_url: str) -> None:
        session = token_session(connection)
        assert isinstance(session, AuthorizationCodeSession)
        redirect = httpx.URL(authorization_url).params["redirect_uri"]
        async with httpx.AsyncClient() as browser:
            await browser.get(redirect, params={"error": "access_denied", "state": "x"})

    async with connect(catalog, AUTHORIZATION_CODE, url, store) as connection:
        with pytest.raises(AuthenticationError, match="refused: access_denied"):
            await authorize(connection, refuse, timeout=10)


async def test_the_authorization_url_carries_state_and_an_s256_challenge(
    catalog: Catalog, oauth: tuple[str, OAuthState], store: StoreTokens
) -> None:
    url, _ = oauth
    async with connect(catalog, AUTHORIZATION_CODE, url, store) as connection:
        session = token_session(connection)
        assert isinstance(session, AuthorizationCodeSession)
        request = session.authorization("http://127.0.0.1:9/callback")
    params = httpx.URL(request.url).params
    assert params["client_id"] == CLIENT_ID and params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256" and params["state"] == request.state
    assert params["scope"] == "things:read" and params["prompt"] == "consent"
    assert request.verifier not in request.url
