"""The PlexTrac sandbox: login, MFA, token lifetime and refresh, the auth rate limit, users.

Written against PlexTrac's documented behaviour (docs/sandboxes/plextrac.md), not a spec.
"""

from __future__ import annotations

import base64
import json
import warnings
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from hookline.connectors.plextrac.sandbox import DEMO_CREDENTIALS, create_app, demo_connection
from hookline.connectors.plextrac.sandbox.tokens import totp
from hookline.errors import ConfigurationError
from hookline.run.sandbox import running
from hookline.testing import Clock

with warnings.catch_warnings():
    # starlette asks for the httpx2 package; the installed httpx works the same for tests.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PASSWORD = "plextrac-demo"
MFA_SECRET = "JBSWY3DPEHPK3PXP"
TENANT = 7


@pytest.fixture
def clock() -> Clock:
    return Clock(1_760_000_000.0)


@pytest.fixture
def client(clock: Clock) -> TestClient:
    return TestClient(create_app(clock=clock))


def login(
    client: TestClient, username: str = "demo@example.com", password: str = PASSWORD
) -> httpx.Response:
    result: httpx.Response = client.post(
        "/api/v1/authenticate", json={"username": username, "password": password}
    )
    return result


def bearer(client: TestClient, username: str = "demo@example.com") -> dict[str, str]:
    return {"Authorization": f"Bearer {login(client, username).json()['token']}"}


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    body: dict[str, Any] = response.json()
    assert body["status"] == "error"
    assert body["statusCode"] == status
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_root_answers_without_authentication(client: TestClient) -> None:
    response = client.get("/api/v1/")
    assert response.status_code == 200
    assert response.json() == {"text": "Authenticate at /authenticate"}


def test_authenticate_returns_status_tenant_cookie_and_token(client: TestClient) -> None:
    body = login(client).json()
    assert body["status"] == "success"
    assert body["tenant_id"] == TENANT
    assert body["cookie"].startswith("eyJ") and body["token"].startswith("eyJ")
    assert body["cookie"] != body["token"]


def test_token_is_a_jwt_with_username_tenant_and_a_15_minute_expiry(
    client: TestClient, clock: Clock
) -> None:
    token_claims = claims(login(client).json()["token"])
    assert token_claims["username"] == "demo@example.com"
    assert token_claims["tenantId"] == TENANT
    assert token_claims["iat"] == int(clock.now)
    assert token_claims["exp"] - token_claims["iat"] == 900


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("demo@example.com", "wrong"),
        ("nobody@example.com", PASSWORD),
        ("former.employee@example.com", PASSWORD),
    ],
)
def test_failed_login_is_a_vague_401(client: TestClient, username: str, password: str) -> None:
    body = assert_error(login(client, username, password), 401)
    assert body["error"] == "Unauthorized"
    assert body["message"] == "Could not authenticate with the supplied credentials"
    assert "token" not in body


def test_login_without_password_is_400(client: TestClient) -> None:
    response = client.post("/api/v1/authenticate", json={"username": "demo@example.com"})
    assert assert_error(response, 400)["message"] == '"password" is required'


def test_login_with_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/api/v1/authenticate", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400)


def test_username_is_case_insensitive(client: TestClient) -> None:
    assert login(client, "Demo@Example.com").json()["status"] == "success"


def test_bearer_and_bare_authorization_headers_both_work(client: TestClient) -> None:
    token = login(client).json()["token"]
    for header in (f"Bearer {token}", f"bearer {token}", token):
        response = client.get("/api/v1/user/whoami", headers={"Authorization": header})
        assert response.status_code == 200
        assert response.json()["email"] == "demo@example.com"


def test_missing_token_gets_401(client: TestClient) -> None:
    assert_error(client.get("/api/v1/client/list"), 401)


@pytest.mark.parametrize("header", ["Bearer not-a-jwt", "Bearer a.b.c", "garbage"])
def test_malformed_token_gets_401(client: TestClient, header: str) -> None:
    assert_error(client.get("/api/v1/client/list", headers={"Authorization": header}), 401)


def test_token_from_another_instance_gets_401(client: TestClient) -> None:
    other = TestClient(create_app())
    foreign = bearer(other)
    assert_error(client.get("/api/v1/client/list", headers=foreign), 401)


def test_token_signed_with_altered_claims_gets_401(client: TestClient) -> None:
    header, payload, signature = login(client).json()["token"].split(".")
    forged_claims = {**claims(f"{header}.{payload}.{signature}"), "exp": 9_999_999_999}
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=")
    forged = f"{header}.{forged_payload.decode()}.{signature}"
    assert_error(client.get("/api/v1/client/list", headers={"Authorization": forged}), 401)


def test_expired_token_gets_401(client: TestClient, clock: Clock) -> None:
    headers = bearer(client)
    clock.now += 899
    assert client.get("/api/v1/client/list", headers=headers).status_code == 200
    clock.now += 1
    assert assert_error(client.get("/api/v1/client/list", headers=headers), 401)["message"] == (
        "Token expired"
    )


def test_token_lifetime_option_shortens_sessions(clock: Clock) -> None:
    client = TestClient(create_app(clock=clock, token_lifetime=5))
    body = login(client).json()
    assert claims(body["token"])["exp"] - claims(body["token"])["iat"] == 5
    clock.now += 5
    assert_error(client.get("/api/v1/client/list", headers=bearer_of(body)), 401)


def bearer_of(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['token']}"}


def test_refresh_returns_a_new_token_that_outlives_the_old(
    client: TestClient, clock: Clock
) -> None:
    first = login(client).json()
    clock.now += 800
    refreshed = client.put("/api/v1/token/refresh", headers=bearer_of(first))
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert set(body) == {"status", "tenant_id", "token", "cookie"}
    assert body["status"] == "success" and body["tenant_id"] == TENANT
    assert claims(body["token"])["exp"] == claims(first["token"])["exp"] + 800
    clock.now += 200
    assert_error(client.get("/api/v1/client/list", headers=bearer_of(first)), 401)
    assert client.get("/api/v1/client/list", headers=bearer_of(body)).status_code == 200


def test_refresh_after_expiry_gets_401(client: TestClient, clock: Clock) -> None:
    headers = bearer(client)
    clock.now += 900
    assert_error(client.put("/api/v1/token/refresh", headers=headers), 401)


def test_mfa_user_gets_a_challenge_instead_of_a_token(client: TestClient) -> None:
    body = login(client, "mfa@example.com").json()
    assert body["status"] == "success"
    assert body["mfa_enabled"] is True
    assert body["tenant_id"] == TENANT
    assert isinstance(body["code"], str) and body["code"]
    assert "token" not in body and "cookie" not in body


def mfa_login(client: TestClient, code: str, one_time: str) -> httpx.Response:
    result: httpx.Response = client.post(
        "/api/v1/authenticate/mfa", json={"code": code, "token": one_time}
    )
    return result


def test_mfa_step_with_the_current_totp_gives_a_session(client: TestClient, clock: Clock) -> None:
    code = login(client, "mfa@example.com").json()["code"]
    response = mfa_login(client, code, totp(MFA_SECRET, clock.now))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success" and body["tenant_id"] == TENANT
    assert claims(body["token"])["username"] == "mfa@example.com"
    whoami = client.get("/api/v1/user/whoami", headers=bearer_of(body)).json()
    assert whoami["mfa_enabled"] is True


def test_mfa_accepts_a_code_from_the_previous_step(client: TestClient, clock: Clock) -> None:
    code = login(client, "mfa@example.com").json()["code"]
    assert mfa_login(client, code, totp(MFA_SECRET, clock.now - 30)).status_code == 200


@pytest.mark.parametrize("one_time", ["000000", "12345", "abcdef"])
def test_mfa_with_a_wrong_totp_gets_401(client: TestClient, clock: Clock, one_time: str) -> None:
    code = login(client, "mfa@example.com").json()["code"]
    assert_error(mfa_login(client, code, one_time), 401)


def test_mfa_with_a_stale_totp_gets_401(client: TestClient, clock: Clock) -> None:
    code = login(client, "mfa@example.com").json()["code"]
    assert_error(mfa_login(client, code, totp(MFA_SECRET, clock.now - 120)), 401)


def test_mfa_challenge_is_single_use(client: TestClient, clock: Clock) -> None:
    code = login(client, "mfa@example.com").json()["code"]
    assert mfa_login(client, code, totp(MFA_SECRET, clock.now)).status_code == 200
    assert_error(mfa_login(client, code, totp(MFA_SECRET, clock.now)), 401)


def test_mfa_challenge_expires(client: TestClient, clock: Clock) -> None:
    code = login(client, "mfa@example.com").json()["code"]
    clock.now += 300
    assert_error(mfa_login(client, code, totp(MFA_SECRET, clock.now)), 401)


def test_totp_follows_rfc_6238() -> None:
    # RFC 6238 appendix B, SHA-1 seed "12345678901234567890", last six digits.
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp(secret, 59) == "287082"
    assert totp(secret, 1111111109) == "081804"
    assert totp(secret, 2000000000) == "279037"


def test_eleventh_auth_request_in_a_minute_gets_429(client: TestClient, clock: Clock) -> None:
    for attempt in range(10):
        password = PASSWORD if attempt % 2 else "wrong"
        assert login(client, password=password).status_code in (200, 401)
        clock.now += 1
    response = login(client)
    body = assert_error(response, 429)
    assert body["error"] == "Too Many Requests"
    assert int(response.headers["Retry-After"]) == 50
    clock.now += 50
    assert login(client).status_code == 200


def test_mfa_step_counts_towards_the_auth_limit(clock: Clock) -> None:
    client = TestClient(create_app(clock=clock, auth_rate_limit=2))
    code = login(client, "mfa@example.com").json()["code"]
    assert mfa_login(client, code, totp(MFA_SECRET, clock.now)).status_code == 200
    assert_error(login(client), 429)


def test_auth_rate_limit_can_be_disabled(clock: Clock) -> None:
    client = TestClient(create_app(clock=clock, auth_rate_limit=None))
    assert all(login(client).status_code == 200 for _ in range(15))


def test_api_calls_do_not_count_towards_the_auth_limit(client: TestClient) -> None:
    headers = bearer(client)
    for _ in range(20):
        client.get("/api/v1/client/list", headers=headers)
    assert login(client).status_code == 200


def test_whoami_v1_and_v2_describe_the_caller(client: TestClient) -> None:
    headers = bearer(client, "std.user@example.com")
    v1 = client.get("/api/v1/user/whoami", headers=headers).json()
    v2 = client.get("/api/v2/whoami", headers=headers).json()
    assert v1["email"] == "std.user@example.com"
    assert v1["role"] == "STD_USER" and v1["isAdmin"] is False
    assert v1["tenant_id"] == TENANT and isinstance(v1["user_id"], int)
    assert v2["status"] == "success" and v2["data"]["user_id"] == v1["user_id"]
    assert "password" not in json.dumps(v1)


def test_login_updates_last_login(client: TestClient, clock: Clock) -> None:
    login(client, "analyst@example.com")
    state = client.app.state.sandbox  # type: ignore[attr-defined]
    assert state.users["analyst@example.com"]["lastLogin"] == int(clock.now * 1000)


def users_page(client: TestClient, headers: dict[str, str], **params: Any) -> httpx.Response:
    result: httpx.Response = client.get(
        f"/api/v2/tenants/{TENANT}/users", headers=headers, params=params
    )
    return result


def test_tenant_users_list_has_the_documented_attributes(client: TestClient) -> None:
    body = users_page(client, bearer(client)).json()
    assert body["status"] == "success"
    assert body["meta"]["pagination"] == {"offset": 0, "limit": 10, "total": 5}
    first = body["data"][0]
    for key in ("email", "role", "createdAt", "lastLogin", "firstName", "lastName"):
        assert key in first


def test_tenant_users_pages_by_offset_and_limit(client: TestClient) -> None:
    headers = bearer(client)
    everyone = [u["email"] for u in users_page(client, headers, limit=10).json()["data"]]
    page = users_page(client, headers, offset=2, limit=2).json()
    assert [u["email"] for u in page["data"]] == everyone[2:4]
    assert page["meta"]["pagination"] == {"offset": 2, "limit": 2, "total": 5}


def test_tenant_users_sort_and_filter(client: TestClient) -> None:
    headers = bearer(client)
    by_last = users_page(client, headers, sortBy="lastName", order="DESCEND").json()["data"]
    assert [u["lastName"] for u in by_last] == ["Reyes", "Patel", "Okafor", "Morgan", "Chen"]
    found = users_page(client, headers, filter="pat").json()
    assert [u["email"] for u in found["data"]] == ["std.user@example.com"]
    assert found["meta"]["pagination"]["total"] == 1


@pytest.mark.parametrize(
    "params", [{"sortBy": "age"}, {"order": "UP"}, {"limit": "0"}, {"offset": "-1"}]
)
def test_tenant_users_rejects_bad_parameters(client: TestClient, params: dict[str, str]) -> None:
    assert_error(users_page(client, bearer(client), **params), 400)


def test_another_tenants_users_are_forbidden(client: TestClient) -> None:
    response = client.get("/api/v2/tenants/99/users", headers=bearer(client))
    assert_error(response, 403)


def test_legacy_user_list_wraps_records_in_rows(client: TestClient) -> None:
    rows = client.get(f"/api/v1/tenant/{TENANT}/user/list", headers=bearer(client)).json()
    assert len(rows) == 5
    row = next(r for r in rows if r["data"]["email"] == "demo@example.com")
    assert row["id"] == str(row["data"]["user_id"]) and row["doc_id"] == [row["data"]["user_id"]]
    assert row["data"]["roles"] == ["ADMIN"] and row["data"]["fullName"] == "Casey Morgan"


def test_unknown_path_and_wrong_method_answer_json_errors(client: TestClient) -> None:
    assert assert_error(client.get("/api/v1/nothing-here"), 404)["error"] == "Not Found"
    assert_error(client.delete("/api/v1/"), 405)


def test_demo_credentials_name_both_demo_users() -> None:
    assert "demo@example.com" in DEMO_CREDENTIALS and PASSWORD in DEMO_CREDENTIALS
    assert "mfa@example.com" in DEMO_CREDENTIALS and MFA_SECRET in DEMO_CREDENTIALS


def test_demo_connection_logs_in_over_a_real_socket() -> None:
    with running(create_app()) as base_url:
        connection = demo_connection(base_url)
        assert set(connection) == {"instance_url", "username", "password"}
        response = httpx.post(
            f"{connection['instance_url']}/api/v1/authenticate",
            json={"username": connection["username"], "password": connection["password"]},
        )
    assert response.status_code == 200
    assert "mfa_enabled" not in response.json()


@pytest.mark.parametrize(
    ("option", "value", "least"),
    [
        ("token_lifetime", -1, "1"),
        ("token_lifetime", 0, "1"),
        ("auth_rate_limit", -1, "0"),
        ("auth_rate_window", 0, "0.001"),
        ("mfa_challenge_lifetime", 0, "1"),
        ("webhook_retries", -1, "0"),
        ("webhook_timeout", 0, "0.001"),
    ],
)
def test_an_option_below_its_least_value_is_refused_by_name(
    option: str, value: float, least: str
) -> None:
    options: dict[str, Any] = {option: value}
    with pytest.raises(ConfigurationError) as error:
        create_app(**options)
    assert str(error.value) == (
        f"plextrac sandbox: option {option} must be a number of at least {least}, got {value}"
    )


def test_an_auth_rate_limit_of_none_or_zero_turns_the_limit_off() -> None:
    for limit in (None, 0):
        assert create_app(auth_rate_limit=limit).state.sandbox.options.auth_rate_limit == limit
