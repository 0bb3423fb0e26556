"""Sessions against a real loopback platform: login, renewal by refresh or login, MFA, readiness."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hookline.actions.checks import check_connection
from hookline.errors import (
    AuthenticationError,
    InvalidRequestError,
    PermissionDeniedError,
    SpecError,
)
from hookline.http.auth.session import Session
from hookline.http.auth.tokens import totp_code
from hookline.http.connection import CallPolicy, Connection
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog
from tests.servers import (
    PASSWORD,
    TOTP_SECRET,
    USERNAME,
    SessionState,
    demo_spec,
    fetch,
    make_request,
    open_connection,
    session_app,
)

pytestmark = pytest.mark.anyio

SESSION: dict[str, Any] = {
    "type": "session",
    "login": {
        "method": "POST",
        "path": "/api/login",
        "json": {"username": "{{ connection.username }}", "password": "{{ connection.password }}"},
    },
    "capture": {"token": "token", "tenant_id": "tenant_id"},
    "public": ["tenant_id"],
    "apply": {"headers": {"Authorization": "Bearer {{ session.token }}"}},
    "logout": {"method": "POST", "path": "/api/logout"},
}

MFA_SESSION = {
    **SESSION,
    "mfa": {
        "when": "mfa_enabled",
        "request": {
            "method": "POST",
            "path": "/api/login/mfa",
            "json": {"code": "{{ login.code }}", "token": "{{ totp(connection.totp_secret) }}"},
        },
    },
}

REFRESHED: dict[str, Any] = {
    **SESSION,
    "lifetime": {"field": "expires_in"},
    "refresh": {"request": {"method": "PUT", "path": "/api/token/refresh"}},
}
"""A session renewed by refresh, capturing what the login captures (the refresh has no tenant)."""

REFRESHED_TOKEN = {**REFRESHED, "refresh": {**REFRESHED["refresh"], "capture": {"token": "token"}}}
"""A session renewed by refresh, keeping the tenant id of its login."""

CREDENTIALS = {"username": USERNAME, "password": PASSWORD}
TENANT_THINGS = "/api/tenants/{{ session.tenant_id }}/things"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, SessionState]]:
    app = session_app()
    with running(app) as url:
        yield url, app.state.sessions


@pytest.fixture
def platform(server: tuple[str, SessionState]) -> tuple[str, SessionState]:
    """The session server, started afresh with default options."""
    url, state = server
    state.configure()
    return url, state


def connect(catalog: Catalog, auth: Any, url: str, **values: Any) -> Connection:
    return open_connection(catalog, demo_spec(catalog, auth=auth), url, **{**CREDENTIALS, **values})


def session_of(connection: Connection) -> Session:
    assert connection.auth is not None and isinstance(connection.auth.login, Session)
    return connection.auth.login


def make_due(connection: Connection, *, expired: bool = False) -> None:
    """Move the session's renewal time (and with ``expired`` its expiry) into the past."""
    session = session_of(connection)
    now = time.monotonic()
    session.renew_at = now - 1
    if expired:
        session.expires_at = now - 1


# ---------------------------------------------------------------- logging in and renewing


async def test_a_session_logs_in_once_and_out_on_close(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    async with connect(catalog, SESSION, url) as connection:
        for _ in range(3):
            assert (await fetch(connection, "/api/things"))["items"] == [1, 2, 3]
        assert connection.session["tenant_id"] == 7
        token = connection.session["token"]
        assert connection.redactor.redact(f"token {token}") == "token ***"
        assert connection.redactor.redact("tenant 7") == "tenant 7"
    assert connection.session == {}
    assert (state.logins, state.logouts, state.unauthorized) == (1, 1, 0)


@pytest.mark.parametrize(
    ("lifetime", "jwt"),
    [(0.6, False), ({"field": "expires_in"}, False), ({"jwt": "token"}, True)],
    ids=["fixed", "expires-in", "jwt-exp"],
)
async def test_a_session_is_renewed_before_its_lifetime_ends(
    catalog: Catalog, platform: tuple[str, SessionState], lifetime: Any, jwt: bool
) -> None:
    url, state = platform
    state.configure(lifetime=0.6, jwt=jwt)
    auth = {**SESSION, "lifetime": lifetime, "renew_before": 0.3}
    async with connect(catalog, auth, url) as connection:
        await fetch(connection, "/api/things")
        await asyncio.sleep(0.35)
        await fetch(connection, "/api/things")
    assert state.logins == 2
    assert state.unauthorized == 0


async def test_a_refused_session_logs_in_again_and_repeats_once(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    async with connect(catalog, SESSION, url) as connection:
        await fetch(connection, "/api/things")
        state.expire_all()
        assert (await fetch(connection, "/api/things"))["items"] == [1, 2, 3]
    assert (state.logins, state.unauthorized) == (2, 1)


async def test_declared_statuses_renew_the_session(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    state.configure(refusal_status=403)
    declared = {**SESSION, "renew_on": {"status": [401, 403]}}
    for auth in (SESSION, declared):
        async with connect(catalog, auth, url) as connection:
            await fetch(connection, "/api/things")
            state.expire_all()
            if auth is SESSION:
                with pytest.raises(PermissionDeniedError):
                    await fetch(connection, "/api/things")
            else:
                assert (await fetch(connection, "/api/things"))["items"] == [1, 2, 3]
    assert (state.logins, state.unauthorized) == (3, 2)


async def test_a_session_refused_twice_is_an_authentication_error(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    state.configure(lifetime=-1)  # every token is born expired
    async with connect(catalog, SESSION, url) as connection:
        with pytest.raises(AuthenticationError, match="401"):
            await fetch(connection, "/api/things")
    assert (state.logins, state.unauthorized) == (2, 2)


async def test_an_expired_session_reported_in_a_200_is_renewed(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    state.configure(expiry_in_body=True)
    auth = {**SESSION, "renew_on": {"when": "status == 'error' && message == 'Session expired'"}}
    async with connect(catalog, auth, url) as connection:
        await fetch(connection, "/api/things")
        state.expire_all()
        assert (await fetch(connection, "/api/things"))["items"] == [1, 2, 3]
    assert (state.logins, state.unauthorized) == (2, 1)


async def test_concurrent_requests_share_one_login(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    state.configure(login_delay=0.1)
    async with connect(catalog, SESSION, url) as connection:
        await asyncio.gather(*(fetch(connection, "/api/things") for _ in range(20)))
        assert state.logins == 1
        state.expire_all()
        await asyncio.gather(*(fetch(connection, "/api/things") for _ in range(20)))
    assert state.logins == 2
    assert state.unauthorized == 20


async def test_a_refused_login_names_no_secret(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    async with connect(catalog, SESSION, url, password="wrong-" + PASSWORD) as connection:
        with pytest.raises(
            AuthenticationError, match=r"login was refused.*Invalid credentials"
        ) as caught:
            await fetch(connection, "/api/things")
    assert PASSWORD not in str(caught.value)
    assert (state.refused, state.logouts) == (1, 0)


async def test_a_login_answer_without_the_captured_value_fails(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, _ = platform
    auth = {**SESSION, "capture": {"token": "access_token"}}
    async with connect(catalog, auth, url) as connection:
        with pytest.raises(AuthenticationError, match=r"has no token \(`access_token`\)"):
            await fetch(connection, "/api/things")


# ---------------------------------------------------------------- refresh


async def test_a_due_session_is_refreshed_without_a_login_or_mfa(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    state.configure(lifetime=0.6, mfa=True)
    auth = {**MFA_SESSION, **REFRESHED_TOKEN, "renew_before": 0.3}
    async with connect(catalog, auth, url, totp_secret=TOTP_SECRET) as connection:
        await fetch(connection, "/api/things")
        first = connection.session["token"]
        await asyncio.sleep(0.35)
        await fetch(connection, "/api/things")
        renewed = connection.session["token"]
        assert renewed != first
        assert connection.session["tenant_id"] == 7  # kept: the refresh does not capture it
        assert connection.redactor.redact(renewed) == "***"
    assert (state.logins, state.mfa_steps, state.refreshes) == (1, 1, 1)
    assert (state.unauthorized, state.logouts) == (0, 1)


@pytest.mark.parametrize(
    ("auth", "refresh_status"),
    [(REFRESHED_TOKEN, 403), (REFRESHED_TOKEN, 500), (REFRESHED, 200)],
    ids=["refused", "server-error", "answer-without-a-captured-value"],
)
async def test_a_failed_refresh_falls_back_to_a_login(
    catalog: Catalog,
    platform: tuple[str, SessionState],
    caplog: pytest.LogCaptureFixture,
    auth: dict[str, Any],
    refresh_status: int,
) -> None:
    url, state = platform
    state.configure(refresh_status=refresh_status)
    async with connect(catalog, auth, url) as connection:
        await fetch(connection, "/api/things")
        make_due(connection)
        with caplog.at_level(logging.WARNING, logger="hookline.http.auth.session"):
            assert (await fetch(connection, "/api/things"))["items"] == [1, 2, 3]
    assert (state.refreshes, state.logins) == (1, 2)
    assert "logging in again" in caplog.text
    assert PASSWORD not in caplog.text


async def test_an_expired_or_refused_session_logs_in_rather_than_refresh(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    async with connect(catalog, REFRESHED_TOKEN, url) as connection:
        await fetch(connection, "/api/things")
        make_due(connection, expired=True)
        await fetch(connection, "/api/things")
        state.expire_all()
        await fetch(connection, "/api/things")
    assert (state.refreshes, state.logins, state.unauthorized) == (0, 3, 1)


async def test_concurrent_requests_share_one_refresh(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    async with connect(catalog, REFRESHED_TOKEN, url) as connection:
        await fetch(connection, "/api/things")
        make_due(connection)
        await asyncio.gather(*(fetch(connection, "/api/things") for _ in range(20)))
    assert (state.refreshes, state.logins, state.unauthorized) == (1, 1, 0)


def test_a_refresh_needs_a_lifetime(catalog: Catalog) -> None:
    auth = {**SESSION, "refresh": REFRESHED["refresh"]}
    with pytest.raises(SpecError, match="lifetime"):
        demo_spec(catalog, auth=auth)


# ---------------------------------------------------------------- readiness


async def test_ready_logs_in_once_before_a_request_that_reads_the_session(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    state.configure(login_delay=0.05)
    template = make_request(catalog.expressions, "GET", TENANT_THINGS)
    async with connect(catalog, SESSION, url) as connection:
        assert connection.reads_session(template)
        with pytest.raises(InvalidRequestError, match=r"session\.tenant_id }} is empty"):
            connection.build_request(template, connection.context())
        await asyncio.gather(*(connection.ready() for _ in range(5)))
        assert state.logins == 1
        await connection.ready()
        request = connection.build_request(template, connection.context())
        assert request.url.path == "/api/tenants/7/things"
        assert (await connection.send(request, policy=CallPolicy())).data["items"]
    assert state.logins == 1


async def test_ready_renews_a_due_session_by_refresh(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    async with connect(catalog, REFRESHED_TOKEN, url) as connection:
        await connection.ready()
        make_due(connection)
        await connection.ready()
        await fetch(connection, "/api/things")
    assert (state.logins, state.refreshes, state.unauthorized) == (1, 1, 0)


async def test_ready_raises_a_refused_login(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    async with connect(catalog, SESSION, url, password="wrong") as connection:
        with pytest.raises(AuthenticationError, match="login was refused") as caught:
            await connection.ready()
    assert "wrong" not in str(caught.value)
    assert state.refused == 1


async def test_the_connection_test_logs_in_before_a_tenant_path(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    actions = {
        "list_things": {
            "title": "Things of the tenant",
            "request": {"method": "GET", "path": TENANT_THINGS},
            "output": {"records": "items"},
        }
    }
    spec = demo_spec(catalog, auth=SESSION, actions=actions, test={"action": "list_things"})
    async with open_connection(catalog, spec, url, **CREDENTIALS) as connection:
        check = await check_connection(connection)
    assert (check.action, check.records) == ("list_things", 1)
    assert "works" in str(check)
    assert state.logins == 1


# ---------------------------------------------------------------- MFA


async def test_mfa_with_a_totp_code(catalog: Catalog, platform: tuple[str, SessionState]) -> None:
    url, state = platform
    state.configure(mfa=True)
    async with connect(catalog, MFA_SESSION, url, totp_secret=TOTP_SECRET) as connection:
        assert (await fetch(connection, "/api/things"))["items"] == [1, 2, 3]
    assert (state.logins, state.mfa_steps) == (1, 1)


async def test_an_mfa_step_that_no_field_can_answer_says_which_fields_to_give(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    state.configure(mfa=True)
    auth = {**MFA_SESSION, "mfa": {**MFA_SESSION["mfa"], "fields": ["totp_secret"]}}
    async with connect(catalog, auth, url) as connection:
        with pytest.raises(AuthenticationError, match="this user needs MFA: give totp_secret"):
            await fetch(connection, "/api/things")
    assert state.mfa_steps == 0


def test_mfa_fields_must_be_fields_of_the_connection(catalog: Catalog) -> None:
    auth = {**MFA_SESSION, "mfa": {**MFA_SESSION["mfa"], "fields": ["totp_secrt"]}}
    with pytest.raises(SpecError, match="'totp_secrt' is not a field of the connection"):
        demo_spec(catalog, auth=auth)


async def test_mfa_with_a_code_from_a_connection_field(
    catalog: Catalog, platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    state.configure(mfa=True)
    fields = {
        "url": {"type": "string"},
        "username": {"type": "string"},
        "password": {"type": "string", "secret": True},
        "mfa_code": {"type": "string", "secret": True},
    }
    step = MFA_SESSION["mfa"]
    auth = {
        **MFA_SESSION,
        "mfa": {
            **step,
            "request": {
                **step["request"],
                "json": {"code": "{{ login.code }}", "token": "{{ connection.mfa_code }}"},
            },
        },
    }
    spec = demo_spec(catalog, auth=auth, fields=fields)
    values = {**CREDENTIALS, "mfa_code": totp_code(TOTP_SECRET)}
    async with open_connection(catalog, spec, url, **values) as connection:
        await fetch(connection, "/api/things")
    assert (state.logins, state.mfa_steps) == (1, 1)
