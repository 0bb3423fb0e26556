"""Auth types against real loopback servers: static credentials, and chains of them.

Sessions have tests/test_session.py.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from hookline.errors import SpecError
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog
from tests.servers import (
    API_KEY,
    PASSWORD,
    USERNAME,
    EchoState,
    demo_spec,
    fetch,
    open_connection,
    session_app,
)

pytestmark = pytest.mark.anyio


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
        data = await fetch(connection, "/thing")
    assert data["path"] == "/thing"
    for name, value in expected.items():
        assert data["headers"][name] == value


async def test_api_key_in_the_query(catalog: Catalog, echo: tuple[str, EchoState]) -> None:
    url, _ = echo
    auth = {"type": "api_key", "in": "query", "name": "apikey", "key": "{{ connection.api_key }}"}
    async with open_connection(
        catalog, demo_spec(catalog, auth=auth), url, api_key=API_KEY
    ) as connection:
        data = await fetch(connection, "/thing")
    assert data["query"] == [["apikey", API_KEY]]


async def test_api_key_in_the_path_follows_the_base_path(
    catalog: Catalog, echo: tuple[str, EchoState]
) -> None:
    url, _ = echo
    auth = {"type": "api_key", "in": "path", "key": "{{ connection.api_key }}"}
    spec = demo_spec(catalog, auth=auth)
    async with open_connection(catalog, spec, url + "/api/", api_key=API_KEY) as connection:
        data = await fetch(connection, "/login.json")
    assert data["raw_path"] == "/api/k3y%2Fwith%2Bslash%3D/login.json"
    assert data["path"] == f"/api/{API_KEY}/login.json"


# ---------------------------------------------------------------- chains


async def test_a_key_in_the_path_and_a_session_by_headers(catalog: Catalog) -> None:
    app = session_app()
    state = app.state.sessions
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
            assert (await fetch(connection, "/items.json"))["items"] == ["a", "b"]
    assert (state.logins, state.logouts) == (1, 1)


def test_a_connection_has_at_most_one_session(catalog: Catalog) -> None:
    session = {
        "type": "session",
        "login": {"method": "POST", "path": "/login"},
        "capture": {"token": "token"},
        "apply": {"headers": {"Authorization": "Bearer {{ session.token }}"}},
    }
    with pytest.raises(SpecError, match="at most one session"):
        demo_spec(catalog, auth=[session, session])
