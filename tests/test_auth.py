"""Auth types against real loopback servers: static credentials, sessions, MFA, TOTP."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette

from hookline.catalog import Catalog
from hookline.connection import CallPolicy, Connection
from hookline.errors import AuthenticationError, PermissionDeniedError, SpecError
from hookline.ratelimit import InProcessRateLimiter
from hookline.sandbox import running
from hookline.tokens import jwt_expiry, totp_code
from hookline.spec import RetryPolicy, Spec
from tests.servers import (
    API_KEY,
    PASSWORD,
    TOTP_SECRET,
    USERNAME,
    EchoState,
    SessionState,
    demo_spec,
    echo_app,
    make_request,
    session_app,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[str, EchoState]]:
    app = echo_app()
    with running(app) as url:
        yield url, app.state.echo


def open_connection(catalog: Catalog, spec: Spec, url: str, **values: Any) -> Connection:
    return Connection(
        spec,
        {"url": url, **values},
        expressions=catalog.expressions,
        limiter=InProcessRateLimiter(),
    )


async def get(connection: Connection, path: str = "/", method: str = "GET") -> Any:
    template = make_request(connection.expressions, method, path)
    request = connection.build_request(template, connection.context())
    policy = CallPolicy(retry=RetryPolicy(attempts=2, backoff=0.001))
    return (await connection.send(request, policy=policy)).data


# ---------------------------------------------------------------- static credentials


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (
            {
                "type": "basic",
                "username": "{{ connection.username }}",
                "password": "{{ connection.password }}",
            },
            {
                "authorization": "Basic "
                + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
            },
        ),
        (
            {"type": "bearer", "token": "{{ connection.api_key }}"},
            {"authorization": f"Bearer {API_KEY}"},
        ),
        (
            {
                "type": "bearer",
                "token": "{{ connection.api_key }}",
                "scheme": "",
                "header": "X-Auth",
            },
            {"x-auth": API_KEY},
        ),
        (
            {
                "type": "api_key",
                "in": "header",
                "name": "Argus-API-Key",
                "key": "{{ connection.api_key }}",
            },
            {"argus-api-key": API_KEY},
        ),
        (
            {
                "type": "headers",
                "headers": {
                    "X-PlanRadar-API-Key": "{{ connection.api_key }}",
                    "X-Client": "hookline",
                },
            },
            {"x-planradar-api-key": API_KEY, "x-client": "hookline"},
        ),
    ],
    ids=["basic", "bearer", "bearer-custom", "api-key-header", "headers"],
)
async def test_static_credentials_reach_the_server(
    catalog: Catalog, echo: tuple[str, EchoState], auth: dict[str, Any], expected: dict[str, str]
) -> None:
    url, _ = echo
    spec = demo_spec(catalog, auth=auth)
    async with open_connection(
        catalog, spec, url, username=USERNAME, password=PASSWORD, api_key=API_KEY
    ) as connection:
        data = await get(connection, "/thing")
    assert data["path"] == "/thing"
    for name, value in expected.items():
        assert data["headers"][name] == value


async def test_api_key_in_the_query(catalog: Catalog, echo: tuple[str, EchoState]) -> None:
    url, _ = echo
    auth = {"type": "api_key", "in": "query", "name": "apikey", "key": "{{ connection.api_key }}"}
    async with open_connection(
        catalog, demo_spec(catalog, auth=auth), url, api_key=API_KEY
    ) as connection:
        data = await get(connection, "/thing")
    assert data["query"] == [["apikey", API_KEY]]


async def test_api_key_in_the_path_follows_the_base_path(
    catalog: Catalog, echo: tuple[str, EchoState]
) -> None:
    url, _ = echo
    auth = {"type": "api_key", "in": "path", "key": "{{ connection.api_key }}"}
    spec = demo_spec(catalog, auth=auth)
    async with open_connection(catalog, spec, url + "/api/", api_key=API_KEY) as connection:
        data = await get(connection, "/login.json")
    assert data["raw_path"] == "/api/k3y%2Fwith%2Bslash%3D/login.json"
    assert data["path"] == f"/api/{API_KEY}/login.json"


# ---------------------------------------------------------------- sessions

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


def serve(**options: Any) -> tuple[Starlette, SessionState]:
    app = session_app(**options)
    return app, app.state.sessions


async def test_a_session_logs_in_once_and_out_on_close(catalog: Catalog) -> None:
    app, state = serve()
    spec = demo_spec(catalog, auth=SESSION)
    with running(app) as url:
        async with open_connection(
            catalog, spec, url, username=USERNAME, password=PASSWORD
        ) as connection:
            for _ in range(3):
                assert (await get(connection, "/api/things"))["items"] == [1, 2, 3]
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
    catalog: Catalog, lifetime: Any, jwt: bool
) -> None:
    app, state = serve(lifetime=0.6, jwt=jwt)
    spec = demo_spec(catalog, auth={**SESSION, "lifetime": lifetime, "renew_before": 0.3})
    with running(app) as url:
        async with open_connection(
            catalog, spec, url, username=USERNAME, password=PASSWORD
        ) as connection:
            await get(connection, "/api/things")
            await asyncio.sleep(0.35)
            await get(connection, "/api/things")
    assert state.logins == 2
    assert state.unauthorized == 0


async def test_a_refused_session_logs_in_again_and_repeats_once(catalog: Catalog) -> None:
    app, state = serve()
    spec = demo_spec(catalog, auth=SESSION)
    with running(app) as url:
        async with open_connection(
            catalog, spec, url, username=USERNAME, password=PASSWORD
        ) as connection:
            await get(connection, "/api/things")
            state.expire_all()
            assert (await get(connection, "/api/things"))["items"] == [1, 2, 3]
    assert (state.logins, state.unauthorized) == (2, 1)


async def test_declared_statuses_renew_the_session(catalog: Catalog) -> None:
    app, state = serve(refusal_status=403)
    plain = demo_spec(catalog, auth=SESSION)
    declared = demo_spec(catalog, auth={**SESSION, "renew_on": {"status": [401, 403]}})
    values = {"username": USERNAME, "password": PASSWORD}
    with running(app) as url:
        for spec in (plain, declared):
            async with open_connection(catalog, spec, url, **values) as connection:
                await get(connection, "/api/things")
                state.expire_all()
                if spec is plain:
                    with pytest.raises(PermissionDeniedError):
                        await get(connection, "/api/things")
                else:
                    assert (await get(connection, "/api/things"))["items"] == [1, 2, 3]
    assert (state.logins, state.unauthorized) == (3, 2)


async def test_a_session_refused_twice_is_an_authentication_error(catalog: Catalog) -> None:
    app, state = serve(lifetime=-1)  # every token is born expired
    spec = demo_spec(catalog, auth=SESSION)
    with running(app) as url:
        async with open_connection(
            catalog, spec, url, username=USERNAME, password=PASSWORD
        ) as connection:
            with pytest.raises(AuthenticationError, match="401"):
                await get(connection, "/api/things")
    assert (state.logins, state.unauthorized) == (2, 2)


async def test_an_expired_session_reported_in_a_200_is_renewed(catalog: Catalog) -> None:
    app, state = serve(expiry_in_body=True)
    auth = {**SESSION, "renew_on": {"when": "status == 'error' && message == 'Session expired'"}}
    spec = demo_spec(catalog, auth=auth)
    with running(app) as url:
        async with open_connection(
            catalog, spec, url, username=USERNAME, password=PASSWORD
        ) as connection:
            await get(connection, "/api/things")
            state.expire_all()
            assert (await get(connection, "/api/things"))["items"] == [1, 2, 3]
    assert (state.logins, state.unauthorized) == (2, 1)


async def test_concurrent_requests_share_one_login(catalog: Catalog) -> None:
    app, state = serve(login_delay=0.1)
    spec = demo_spec(catalog, auth=SESSION)
    with running(app) as url:
        async with open_connection(
            catalog, spec, url, username=USERNAME, password=PASSWORD
        ) as connection:
            await asyncio.gather(*(get(connection, "/api/things") for _ in range(20)))
            assert state.logins == 1
            state.expire_all()
            await asyncio.gather(*(get(connection, "/api/things") for _ in range(20)))
    assert state.logins == 2
    assert state.unauthorized == 20


async def test_a_refused_login_names_no_secret(catalog: Catalog) -> None:
    app, state = serve()
    spec = demo_spec(catalog, auth=SESSION)
    with running(app) as url:
        async with open_connection(
            catalog, spec, url, username=USERNAME, password="wrong-" + PASSWORD
        ) as connection:
            with pytest.raises(
                AuthenticationError, match=r"login was refused.*Invalid credentials"
            ) as caught:
                await get(connection, "/api/things")
    assert PASSWORD not in str(caught.value)
    assert state.refused == 1
    assert state.logouts == 0


async def test_a_login_answer_without_the_captured_value_fails(
    catalog: Catalog, echo: tuple[str, EchoState]
) -> None:
    url, _ = echo
    auth = {key: value for key, value in SESSION.items() if key != "logout"}
    auth |= {"login": {"method": "POST", "path": "/login"}, "capture": {"token": "access_token"}}
    async with open_connection(catalog, demo_spec(catalog, auth=auth), url) as connection:
        with pytest.raises(AuthenticationError, match=r"has no token \(`access_token`\)"):
            await get(connection, "/thing")


# ---------------------------------------------------------------- MFA and TOTP

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


async def test_mfa_with_a_totp_code(catalog: Catalog) -> None:
    app, state = serve(mfa=True)
    spec = demo_spec(catalog, auth=MFA_SESSION)
    values = {"username": USERNAME, "password": PASSWORD, "totp_secret": TOTP_SECRET}
    with running(app) as url:
        async with open_connection(catalog, spec, url, **values) as connection:
            assert (await get(connection, "/api/things"))["items"] == [1, 2, 3]
    assert (state.logins, state.mfa_steps) == (1, 1)


async def test_mfa_with_a_code_from_a_connection_field(catalog: Catalog) -> None:
    app, state = serve(mfa=True)
    fields = {
        "url": {"type": "string"},
        "username": {"type": "string"},
        "password": {"type": "string", "secret": True},
        "mfa_code": {"type": "string", "secret": True},
    }
    auth = {**MFA_SESSION, "mfa": {**MFA_SESSION["mfa"]}}
    auth["mfa"]["request"] = {
        **auth["mfa"]["request"],
        "json": {"code": "{{ login.code }}", "token": "{{ connection.mfa_code }}"},
    }
    spec = demo_spec(catalog, auth=auth, fields=fields)
    values = {"username": USERNAME, "password": PASSWORD, "mfa_code": totp_code(TOTP_SECRET)}
    with running(app) as url:
        async with open_connection(catalog, spec, url, **values) as connection:
            await get(connection, "/api/things")
    assert (state.logins, state.mfa_steps) == (1, 1)


@pytest.mark.parametrize(
    ("moment", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (20000000000, "65353130"),
    ],
)
def test_totp_matches_the_rfc_6238_vectors(moment: int, code: str) -> None:
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp_code(secret, at=moment, digits=8) == code
    assert totp_code(secret.lower(), at=moment, digits=6) == code[2:]


def test_totp_is_an_expression_function(catalog: Catalog) -> None:
    template = catalog.expressions.compile("{{ totp(secret) }}")
    assert template.render({"secret": TOTP_SECRET}) == totp_code(TOTP_SECRET)
    with pytest.raises(Exception, match="not base32"):
        template.render({"secret": "not base32!"})


def test_jwt_expiry_reads_exp_without_verifying() -> None:
    payload = base64.urlsafe_b64encode(b'{"exp": 1700000000}').decode().rstrip("=")
    assert jwt_expiry(f"h.{payload}.sig") == 1700000000
    assert jwt_expiry("not-a-jwt") is None
    assert jwt_expiry("a.!!!.b") is None


# ---------------------------------------------------------------- chains


async def test_a_key_in_the_path_and_a_session_by_headers(catalog: Catalog) -> None:
    app, state = serve()
    auth = [
        {"type": "api_key", "in": "path", "key": "{{ connection.api_key }}"},
        {
            "type": "session",
            "login": {
                "method": "POST",
                "path": "/login.json",
                "headers": {
                    "PCR-AUTH-USERNAME": "{{ connection.username }}",
                    "PCR-AUTH-PASSWORD": "{{ connection.password }}",
                },
            },
            "capture": {"token": "token"},
            "apply": {"headers": {"PCR-AUTH-TOKEN": "{{ session.token }}"}},
            "logout": {"method": "POST", "path": "/logout.json"},
        },
    ]
    spec = demo_spec(catalog, auth=auth)
    values = {"username": USERNAME, "password": PASSWORD, "api_key": API_KEY}
    with running(app) as url:
        async with open_connection(catalog, spec, url + "/api", **values) as connection:
            assert (await get(connection, "/items.json"))["items"] == ["a", "b"]
    assert (state.logins, state.logouts) == (1, 1)


def test_a_connection_has_at_most_one_session(catalog: Catalog) -> None:
    with pytest.raises(SpecError, match="at most one session"):
        demo_spec(catalog, auth=[SESSION, SESSION])
