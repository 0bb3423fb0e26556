"""Connections: values, base URLs, and requests rendered from spec templates."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookline.actions.checks import check_connection
from hookline.errors import (
    ConfigurationError,
    InvalidRequestError,
    InvalidResponseError,
    UnsafeRequestError,
)
from hookline.http.connection import CallPolicy, Connection
from hookline.spec.catalog import Catalog
from tests.servers import EchoState, Reply, demo_spec, make_request

pytestmark = pytest.mark.anyio

SECRET = "hunter2-very-secret"


def connect(catalog: Catalog, url: str, **values: Any) -> Connection:
    spec = demo_spec(catalog)
    return Connection(spec, {"url": url, **values}, expressions=catalog.expressions)


# ---------------------------------------------------------------- values


def test_missing_required_field_is_named(catalog: Catalog) -> None:
    spec = demo_spec(catalog)
    with pytest.raises(ConfigurationError, match="url") as caught:
        Connection(spec, {}, expressions=catalog.expressions, name="prod")
    assert "connection 'prod'" in str(caught.value)


def test_invalid_secret_value_is_not_shown(catalog: Catalog) -> None:
    spec = demo_spec(
        catalog,
        fields={
            "url": {"type": "string"},
            "pin": {"type": "string", "secret": True, "enum": ["a"]},
        },
    )
    with pytest.raises(ConfigurationError, match="pin") as caught:
        Connection(spec, {"url": "https://x.test", "pin": SECRET}, expressions=catalog.expressions)
    assert SECRET not in str(caught.value)


def test_unknown_field_is_refused(catalog: Catalog) -> None:
    with pytest.raises(ConfigurationError, match="usrname"):
        connect(catalog, "https://x.test", usrname="ada")


def test_defaults_are_applied(catalog: Catalog) -> None:
    fields = {"url": {"type": "string"}, "region": {"type": "string", "default": "eu"}}
    spec = demo_spec(catalog, fields=fields)
    connection = Connection(spec, {"url": "https://x.test"}, expressions=catalog.expressions)
    assert connection.values["region"] == "eu"
    assert connection.context(input={"a": 1}) == {
        "connection": {"region": "eu", "url": "https://x.test"},
        "session": {},
        "input": {"a": 1},
    }


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://x.test", "not an http or https URL"),
        ("https://ada:pw@x.test", "user name or password"),
        ("https://x.test/api?x=1", "query or fragment"),
        ("not a url", "not an http or https URL"),
    ],
)
def test_base_url_must_be_plain_http_or_https(catalog: Catalog, url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        connect(catalog, url)


def test_base_url_user_info_is_redacted_from_the_message(catalog: Catalog) -> None:
    with pytest.raises(ConfigurationError) as caught:
        connect(catalog, f"https://ada:{SECRET}@x.test", password=SECRET)
    assert SECRET not in str(caught.value)


def test_secrets_over_plain_http_to_another_host_are_refused(catalog: Catalog) -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        connect(catalog, "http://api.example.com", password=SECRET)


def test_plain_http_is_allowed_on_loopback_or_when_the_connection_says_so(
    catalog: Catalog,
) -> None:
    connect(catalog, "http://127.0.0.1:9", password=SECRET)
    connect(catalog, "http://localhost:9", password=SECRET)
    connect(catalog, "http://api.example.com", password=SECRET, allow_insecure_http=True)
    connect(catalog, "http://api.example.com")  # no credentials at all


# ---------------------------------------------------------------- rendering


def render(
    catalog: Catalog, path: str, base: str = "https://x.test/api", **parts: Any
) -> httpx.Request:
    connection = connect(catalog, base)
    template = make_request(catalog.expressions, parts.pop("method", "GET"), path, **parts)
    return connection.build_request(template, connection.context(input=parts.pop("input", {})))


@pytest.mark.parametrize(
    ("value", "raw_path"),
    [
        ("../admin", "/api/items/..%2Fadmin"),
        ("..", "/api/items/%2E%2E"),
        (".", "/api/items/%2E"),
        ("@evil.host", "/api/items/%40evil.host"),
        ("a%2Fb", "/api/items/a%252Fb"),
        ("a/b?c=d#e", "/api/items/a%2Fb%3Fc%3Dd%23e"),
        ("https://evil.host/x", "/api/items/https%3A%2F%2Fevil.host%2Fx"),
        (42, "/api/items/42"),
    ],
)
def test_path_values_are_encoded_whole(catalog: Catalog, value: Any, raw_path: str) -> None:
    connection = connect(catalog, "https://x.test/api")
    template = make_request(catalog.expressions, "GET", "/items/{{ input.id }}")
    request = connection.build_request(template, connection.context(input={"id": value}))
    assert request.url.host == "x.test"
    assert request.url.raw_path.decode() == raw_path


def test_a_path_template_without_a_leading_slash_stays_below_the_base(catalog: Catalog) -> None:
    connection = connect(catalog, "https://x.test")
    template = make_request(catalog.expressions, "GET", "{{ input.id }}")
    request = connection.build_request(template, connection.context(input={"id": "@evil.host"}))
    assert (request.url.host, request.url.raw_path) == ("x.test", b"/%40evil.host")


@pytest.mark.parametrize("path", ["https://evil.host/x", "//evil.host/x", "/../../etc"])
def test_paths_that_leave_the_base_url_are_refused(catalog: Catalog, path: str) -> None:
    with pytest.raises(UnsafeRequestError):
        render(catalog, path)


@pytest.mark.parametrize("value", [None, ""])
def test_an_empty_path_value_is_refused(catalog: Catalog, value: Any) -> None:
    with pytest.raises(InvalidRequestError, match="empty"):
        render(catalog, "/items/{{ input.id }}", input={"id": value})


def test_query_lists_repeat_and_nulls_are_left_out(catalog: Catalog) -> None:
    request = render(
        catalog,
        "/search",
        query={"status": "{{ input.status }}", "limit": 10, "skip": None, "flag": True},
        input={"status": ["open", "closed"]},
    )
    assert request.url.params.multi_items() == [
        ("status", "open"),
        ("status", "closed"),
        ("limit", "10"),
        ("flag", "true"),
    ]


def test_headers_are_rendered_and_control_characters_refused(catalog: Catalog) -> None:
    request = render(
        catalog, "/", headers={"X-Id": "{{ input.id }}", "Accept": None}, input={"id": 7}
    )
    assert request.headers["x-id"] == "7"
    assert "accept" not in request.headers
    for bad in ("a\r\nHost: evil", "a\nb", "a\x00b", "a\x7fb"):
        with pytest.raises(InvalidRequestError, match="'X-Id' holds a control character") as e:
            render(catalog, "/", headers={"X-Id": "{{ input.id }}"}, input={"id": bad})
        assert bad not in str(e.value)
    tabbed = render(catalog, "/", headers={"X-Id": "{{ input.id }}"}, input={"id": "a\tb"})
    assert tabbed.headers["x-id"] == "a\tb"


def test_json_body_with_and_without_nulls(catalog: Catalog) -> None:
    body = {"title": "{{ input.title }}", "note": "{{ input.note }}", "nested": {"a": None}}
    kept = render(catalog, "/", method="POST", json=body, input={"title": "t"})
    dropped = render(catalog, "/", method="POST", json=body, omit_nulls=True, input={"title": "t"})
    assert json.loads(kept.content) == {"title": "t", "note": None, "nested": {"a": None}}
    assert json.loads(dropped.content) == {"title": "t", "nested": {}}
    assert kept.headers["content-type"] == "application/json"


def test_form_body(catalog: Catalog) -> None:
    request = render(
        catalog,
        "/",
        method="POST",
        form={"sql": "{{ input.sql }}", "tag": ["a", "b"]},
        input={"sql": "SELECT 1"},
    )
    assert request.content == b"sql=SELECT+1&tag=a&tag=b"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


def test_raw_and_base64_bodies(catalog: Catalog) -> None:
    raw = render(catalog, "/", method="POST", body="{{ input.text }}", input={"text": "héllo"})
    assert raw.content == "héllo".encode()
    data = base64.b64encode(b"\x00\x01binary").decode()
    decoded = render(
        catalog, "/", method="POST", body="{{ input.data }}", body_base64=True, input={"data": data}
    )
    assert decoded.content == b"\x00\x01binary"
    with pytest.raises(InvalidRequestError, match="base64"):
        render(catalog, "/", method="POST", body="!!", body_base64=True)


def test_several_bodies_are_refused(catalog: Catalog) -> None:
    with pytest.raises(InvalidRequestError, match="several bodies"):
        render(catalog, "/", method="POST", json={"a": 1}, form={"b": 2})


def test_multipart_from_a_path_and_from_base64(catalog: Catalog, tmp_path: Path) -> None:
    image = tmp_path / "evidence.png"
    image.write_bytes(b"\x89PNG-path")
    request = render(
        catalog,
        "/upload",
        method="POST",
        multipart={
            "file": {
                "file": "{{ input.path }}",
                "filename": "evidence.png",
                "content_type": "image/png",
            },
            "blob": {"file": "{{ input.data }}", "base64": True},
            "caption": {"value": "{{ input.caption }}"},
        },
        input={
            "path": str(image),
            "data": base64.b64encode(b"raw-bytes").decode(),
            "caption": "A door",
        },
    )
    body = request.read()
    assert (
        b'name="file"; filename="evidence.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG-path'
        in body
    )
    assert b'name="blob"\r\n\r\nraw-bytes' in body
    assert b'name="caption"\r\n\r\nA door' in body


def test_multipart_file_that_cannot_be_read(catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="cannot read the file"):
        render(
            catalog,
            "/upload",
            method="POST",
            multipart={"file": {"file": str(tmp_path / "missing.png")}},
        )


# ---------------------------------------------------------------- on the wire


async def test_hostile_path_values_reach_the_configured_host(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    hostile = ["../../admin", "@evil.host", "%2F..%2F", "..", "x/../../y"]
    async with connect(catalog, url + "/api") as connection:
        template = make_request(catalog.expressions, "GET", "/items/{{ input.id }}")
        for value in hostile:
            request = connection.build_request(template, connection.context(input={"id": value}))
            response = await connection.send(request, policy=CallPolicy())
            assert response.data["path"] == f"/api/items/{value}"
    assert [seen.path for seen in state.seen] == [f"/api/items/{v}" for v in hostile]


async def test_send_refuses_a_request_for_another_origin(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    async with connect(catalog, url) as connection:
        other = httpx.Request("GET", url.replace("127.0.0.1", "localhost") + "/x")
        with pytest.raises(UnsafeRequestError, match="origin"):
            await connection.send(other, policy=CallPolicy())
    assert state.seen == []


async def test_connection_headers_and_defaults_reach_the_server(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    spec = demo_spec(catalog, headers={"X-Client": "hookline-{{ connection.username }}"})
    async with Connection(
        spec, {"url": url, "username": "ada"}, expressions=catalog.expressions
    ) as connection:
        ping = spec.actions["ping"].request
        assert ping is not None
        request = connection.build_request(ping, connection.context())
        await connection.send(request, policy=CallPolicy())
    headers = state.seen[0].headers
    assert headers["x-client"] == "hookline-ada"
    assert headers["user-agent"].startswith("hookline/")
    assert headers["accept"] == "application/json"


# ---------------------------------------------------------------- sessions, dry runs, tests

SESSION: dict[str, Any] = {
    "type": "session",
    "login": {"method": "POST", "path": "/login"},
    "capture": {"token": "token", "tenant_id": "tenant_id"},
    "apply": {"headers": {"Authorization": "Bearer {{ session.token }}"}},
}


@pytest.mark.parametrize(
    ("parts", "reads"),
    [
        ({"path": "/tenants/{{ session.tenant_id }}/users"}, True),
        ({"query": {"tenant": "{{ session.tenant_id }}"}}, True),
        ({"headers": {"X-Tenant": "t-{{ session.tenant_id }}"}}, True),
        ({"json": {"owner": {"id": ["{{ session.tenant_id }}"]}}}, True),
        ({"multipart": {"note": {"value": "{{ session.tenant_id }}"}}}, True),
        ({"body": "{{ @ }}"}, True),
        ({"path": "/users/{{ input.id }}", "json": {"at": "{{ connection.url }}"}}, False),
        ({"query": {"tenant": "{{ input.session.tenant_id }}"}}, False),
    ],
    ids=["path", "query", "headers", "json", "multipart", "whole-context", "no", "nested-name"],
)
def test_reads_session_looks_at_every_template(
    catalog: Catalog, parts: dict[str, Any], reads: bool
) -> None:
    connection = connect(catalog, "https://x.test")
    path = parts.pop("path", "/users")
    template = make_request(catalog.expressions, "POST", path, **parts)
    assert connection.reads_session(template) is reads
    assert connection.reads_session(template) is reads  # remembered, and still right


def test_connection_headers_that_read_the_session_count_for_every_request(
    catalog: Catalog,
) -> None:
    spec = demo_spec(catalog, headers={"X-Tenant": "{{ session.tenant_id }}"})
    connection = Connection(spec, {"url": "https://x.test"}, expressions=catalog.expressions)
    ping = spec.actions["ping"].request
    assert ping is not None and connection.reads_session(ping)


async def test_a_dry_run_context_shows_session_placeholders_and_logs_in_nowhere(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    spec = demo_spec(catalog, auth=SESSION)
    template = make_request(
        catalog.expressions,
        "GET",
        "/tenants/{{ session.tenant_id }}/users",
        headers={"X-Token": "{{ session.token }}"},
    )
    async with Connection(spec, {"url": url}, expressions=catalog.expressions) as connection:
        request = connection.build_request(template, connection.context(dry_run=True))
    assert request.url.raw_path == b"/tenants/%3Csession.tenant_id%3E/users"
    assert request.headers["x-token"] == "<session.token>"
    assert connection.context()["session"] == {}
    assert state.seen == []


async def test_ready_sends_nothing_without_a_session(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    spec = demo_spec(catalog, auth={"type": "bearer", "token": "{{ connection.password }}"})
    async with Connection(
        spec, {"url": url, "password": SECRET}, expressions=catalog.expressions
    ) as connection:
        await connection.ready()
    assert state.seen == []


async def test_the_connection_test_runs_the_declared_action(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    actions = {
        "ping": {"title": "Ping", "request": {"method": "GET", "path": "/ping"}},
        "list_query": {
            "title": "The query, as records",
            "request": {"method": "GET", "path": "/list", "query": {"q": ["a", "b", "c"]}},
            "output": {"records": "query"},
        },
    }
    for action, records in (("ping", None), ("list_query", 1)):
        spec = demo_spec(catalog, actions=actions, test={"action": action})
        async with Connection(spec, {"url": url}, expressions=catalog.expressions) as connection:
            check = await check_connection(connection)
        assert (check.connection, check.action, check.records) == ("demo", action, records)
    assert [seen.path for seen in state.seen] == ["/ping", "/list"]
    assert str(check) == (
        "demo connection 'demo' works (list_query, 1 record(s) read; its output has no schema "
        "to check the answer by)"
    )


async def test_a_connection_test_needs_the_platforms_shape_not_any_2xx(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    record = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
    actions = {
        "list_things": {
            "title": "Things",
            "request": {"method": "GET", "path": "/things"},
            "output": {"records": "data", "schema": record, "strict": False},
        },
    }
    spec = demo_spec(catalog, actions=actions, test={"action": "list_things"})
    answers = [
        ({"hello": "not the platform"}, "output.records 'data' found nothing in the response"),
        ({"data": [{"id": "x"}]}, "record 0: the output does not match its schema"),
        ({"data": [{"id": 7}]}, None),
        ({"data": []}, None),
    ]
    for body, problem in answers:
        state.replies.append(Reply(body=body))
        async with Connection(spec, {"url": url}, expressions=catalog.expressions) as connection:
            if problem is None:
                assert (await check_connection(connection)).schema is True
                continue
            with pytest.raises(InvalidResponseError, match=problem):
                await check_connection(connection)


async def test_a_connection_test_needs_a_declared_action(catalog: Catalog) -> None:
    connection = connect(catalog, "https://x.test")
    with pytest.raises(ConfigurationError, match="no connection test"):
        await check_connection(connection)
    await connection.close()
