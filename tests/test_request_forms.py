"""What one action's request may say beyond a path: its own credentials, path inputs, forms.

A request may replace what the connection's auth applies (``auth: none``, or its own
headers, cookies and query), may keep the ``/`` of an input declared ``format: path``, and
may be written as a list of forms, each but the last with a ``when``, the first that holds
being sent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from hookline.actions.call import call_action
from hookline.errors import InvalidRequestError, SpecError, UnsafeRequestError
from hookline.http.connection import Connection
from hookline.http.rendering import reads_session
from hookline.spec.catalog import Catalog
from hookline.spec.model import Spec
from tests.servers import EchoState, demo_spec

TOKEN = "t0ken-for-every-request"

ACTIONS: dict[str, Any] = {
    "usual": {"title": "Usual", "request": {"method": "GET", "path": "/usual"}},
    "public": {"title": "Public", "request": {"method": "GET", "path": "/public", "auth": "none"}},
    "own": {
        "title": "Own",
        "request": {
            "method": "GET",
            "path": "/own",
            "auth": {
                "cookies": {"token": "{{ connection.token }}", "empty": None},
                "headers": {"X-Key": "k-{{ connection.token }}"},
                "query": {"sig": "s"},
            },
        },
    },
    "file": {
        "title": "File",
        "input": {
            "file": {"type": "string", "format": "path"},
            "name": {"type": "string"},
        },
        "request": {
            "method": "GET",
            "path": "/files/{{ input.file }}/{{ input.name || 'x' }}",
        },
    },
    "untag": {
        "title": "Untag",
        "input": {
            "tag_id": {"type": "string"},
            "key": {"type": "string"},
            "value": {"type": "string"},
        },
        "request": [
            {"when": "input.tag_id", "method": "DELETE", "path": "/tags/{{ input.tag_id }}"},
            {"method": "DELETE", "path": "/tags/{{ input.key }}/{{ input.value }}"},
        ],
    },
}


FIELDS: dict[str, Any] = {
    "url": {"type": "string", "description": "Where"},
    "token": {"type": "string", "secret": True, "description": "The token"},
}


@pytest.fixture(scope="module")
def spec(catalog: Catalog) -> Spec:
    auth = {"type": "bearer", "token": "{{ connection.token }}"}
    return demo_spec(catalog, auth=auth, fields=FIELDS, actions=ACTIONS)


def call(catalog: Catalog, spec: Spec, url: str, action: str, input: Any, **options: Any) -> Any:
    """Run ``action`` in a fresh connection to ``url`` with the token; its output or plan."""

    async def main() -> Any:
        values = {"url": url, "token": TOKEN}
        async with Connection(spec, values, expressions=catalog.expressions) as connection:
            return await call_action(connection, action, input, **options)

    return asyncio.run(main())


def run(
    catalog: Catalog, spec: Spec, server: tuple[str, EchoState], action: str, **input: Any
) -> Any:
    """What the server saw of ``action`` called with ``input``."""
    url, state = server
    call(catalog, spec, url, action, input)
    return state.seen[-1]


# ---------------------------------------------------------------- auth


def test_a_request_without_auth_carries_the_connections(
    catalog: Catalog, spec: Spec, server: tuple[str, EchoState]
) -> None:
    seen = run(catalog, spec, server, "usual")
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"


def test_auth_none_sends_no_credentials(
    catalog: Catalog, spec: Spec, server: tuple[str, EchoState]
) -> None:
    seen = run(catalog, spec, server, "public")
    assert "authorization" not in seen.headers and "cookie" not in seen.headers


def test_a_requests_own_credentials_replace_the_connections(
    catalog: Catalog, spec: Spec, server: tuple[str, EchoState]
) -> None:
    seen = run(catalog, spec, server, "own")
    assert "authorization" not in seen.headers
    assert seen.headers["cookie"] == f"token={TOKEN}"
    assert seen.headers["x-key"] == f"k-{TOKEN}"
    assert seen.query == [("sig", "s")]


def test_own_credentials_are_redacted_from_a_dry_run(
    catalog: Catalog, spec: Spec, server: tuple[str, EchoState]
) -> None:
    plan = call(catalog, spec, server[0], "own", {}, dry_run=True)
    assert TOKEN not in str(plan)
    assert server[1].seen == []


def test_a_request_that_reads_session_in_its_auth_logs_in_first(catalog: Catalog) -> None:
    spec = demo_spec(
        catalog,
        auth={
            "type": "session",
            "login": {"method": "POST", "path": "/login"},
            "capture": {"cookie": "cookie"},
            "apply": {"headers": {"Authorization": "Bearer x"}},
        },
        actions={
            "read": {
                "title": "Read",
                "request": {
                    "method": "GET",
                    "path": "/read",
                    "auth": {"cookies": {"token": "{{ session.cookie }}"}},
                },
            }
        },
    )
    request = spec.actions["read"].request
    assert request is not None and request.auth is not None
    assert reads_session(request)


# ---------------------------------------------------------------- path inputs


@pytest.mark.parametrize(
    ("file", "raw_path"),
    [
        ("uploads/a.png", "/files/uploads/a.png/x"),
        ("a b/c?d#e", "/files/a%20b/c%3Fd%23e/x"),
        ("a%2Fb", "/files/a%252Fb/x"),
    ],
)
def test_a_path_input_keeps_its_slashes_and_encodes_each_segment(
    catalog: Catalog, spec: Spec, server: tuple[str, EchoState], file: str, raw_path: str
) -> None:
    assert run(catalog, spec, server, "file", file=file).raw_path == raw_path


def test_other_path_values_stay_one_segment(
    catalog: Catalog, spec: Spec, server: tuple[str, EchoState]
) -> None:
    seen = run(catalog, spec, server, "file", file="f", name="a/b")
    assert seen.raw_path == "/files/f/a%2Fb"


@pytest.mark.parametrize("file", ["../admin", "a/../../admin", "a/./b", ".."])
def test_a_path_input_cannot_climb(
    catalog: Catalog, spec: Spec, server: tuple[str, EchoState], file: str
) -> None:
    with pytest.raises(UnsafeRequestError, match=r"'\.' or '\.\.' segment"):
        call(catalog, spec, server[0], "file", {"file": file})
    assert server[1].seen == []


@pytest.mark.parametrize("file", ["/etc/passwd", "a//b", "a/", ""])
def test_a_path_input_with_an_empty_segment_is_refused(
    catalog: Catalog, spec: Spec, server: tuple[str, EchoState], file: str
) -> None:
    with pytest.raises(InvalidRequestError, match="empty"):
        call(catalog, spec, server[0], "file", {"file": file})


# ---------------------------------------------------------------- forms


def test_the_first_form_whose_when_holds_is_sent(
    catalog: Catalog, spec: Spec, server: tuple[str, EchoState]
) -> None:
    assert run(catalog, spec, server, "untag", tag_id="t-1").path == "/tags/t-1"
    assert run(catalog, spec, server, "untag", key="k", value="v").path == "/tags/k/v"


def test_an_action_with_forms_is_idempotent_only_when_every_form_is(catalog: Catalog) -> None:
    spec = demo_spec(catalog, fields=FIELDS, actions=ACTIONS)
    assert spec.actions["untag"].idempotent
    mixed = {
        "title": "Mixed",
        "request": [
            {"when": "input.a", "method": "POST", "path": "/a"},
            {"method": "PUT", "path": "/b"},
        ],
    }
    assert not demo_spec(catalog, actions={"mixed": mixed}).actions["mixed"].idempotent


FORMS = """\
spec: hookline/v1
name: demo
title: Demo
connection:
  fields:
    url: {type: string, description: Where}
  base_url: "{{ connection.url }}"
actions:
  untag:
    title: Untag
    input:
      id: {type: string, description: An id}
    request:
      - when: input.id
        method: DELETE
        path: /tags/{{ input.id }}
      - method: DELETE
        path: /tags
"""


def problems(catalog: Catalog, text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        catalog.load_spec(Path("specs/demo.yaml"), text=text)
    return [str(p) for p in info.value.problems]


def test_forms_load(catalog: Catalog) -> None:
    spec = catalog.load_spec(Path("specs/demo.yaml"), text=FORMS)
    action = spec.actions["untag"]
    assert [form.when.source for form in action.forms] == ["input.id"]
    assert action.request is not None and action.request.path.source == "/tags"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "        path: /tags\n",
            "        path: /tags\n        when: input.other\n",
            "specs/demo.yaml:19:9: actions.untag.request[1].when: the last form of a request "
            "is sent when no other form's `when` holds",
            id="last-form-with-when",
        ),
        pytest.param(
            "      - when: input.id\n        method: DELETE",
            "      - method: DELETE",
            "specs/demo.yaml:14:9: actions.untag.request[0]: only the last form of a request "
            "may go without `when`",
            id="early-form-without-when",
        ),
        pytest.param(
            "        path: /tags\n",
            "        path: /tags\n        response: bytes\n",
            "specs/demo.yaml:14:9: actions.untag.request[0].response: every form of a request "
            "reads its answer the same way",
            id="forms-read-differently",
        ),
        pytest.param(
            "      - when: input.id\n        method: DELETE\n        path: /tags/{{ input.id }}\n",
            "",
            "specs/demo.yaml:14:7: actions.untag.request: expected at least 2 items",
            id="one-form",
        ),
    ],
)
def test_a_list_of_forms_is_checked_where_it_is_written(
    catalog: Catalog, old: str, new: str, expected: str
) -> None:
    assert old in FORMS
    found = problems(catalog, FORMS.replace(old, new, 1))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found[0]


def test_when_on_a_single_request_is_refused(catalog: Catalog) -> None:
    text = FORMS.replace(
        "    request:\n      - when: input.id\n        method: DELETE\n"
        "        path: /tags/{{ input.id }}\n      - method: DELETE\n        path: /tags\n",
        "    request:\n      when: input.id\n      method: DELETE\n      path: /tags\n",
    )
    found = problems(catalog, text)
    assert len(found) == 1 and "actions.untag.request.when: `when` picks one of" in found[0]
