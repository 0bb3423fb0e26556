"""Calling actions against servers on 127.0.0.1: input, output, files, lost answers, dry runs."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookline.actions.call import OutputMismatchWarning, Plan, call_action, iter_records
from hookline.errors import (
    ConfigurationError,
    InvalidRequestError,
    InvalidResponseError,
    OutcomeUnknownError,
    SpecError,
)
from hookline.http.connection import Connection
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog
from hookline.spec.model import Spec

from .servers import (
    CreateState,
    EchoState,
    Reply,
    call,
    create_app,
    demo_spec,
    file_content,
    files_app,
)

SPEC = """
spec: hookline/v1
name: acts
title: Actions
connection:
  fields:
    url: {type: string}
  required: [url]
  base_url: "{{ connection.url }}"
objects:
  priority: {type: string, enum: [low, medium, high]}
  case:
    type: object
    required: [id, subject]
    properties: {id: {type: integer}, subject: {type: string}}
actions:
  create_case:
    title: Create a case
    input:
      subject: {type: string}
      priority: {$ref: '#/objects/priority'}
      tags: {type: array, items: {type: string}}
      service: {type: string, default: ops}
    required: [subject]
    request:
      method: POST
      path: /cases
      json: {subject: "{{ input.subject }}", service: "{{ input.service }}"}
    output: {select: body}
  get_case:
    title: Get a case
    input: {id: {type: integer}}
    request: {method: GET, path: "/cases/{{ input.id }}"}
    output:
      select: "data.{id: id, subject: attributes.subject}"
      schema: {$ref: '#/objects/case'}
  get_case_lenient:
    title: Get a case, tolerating surprises
    request: {method: GET, path: /cases/1}
    output:
      select: "data.{id: id, subject: attributes.subject}"
      schema: {$ref: '#/objects/case'}
      strict: false
  list_cases:
    title: List cases
    request: {method: GET, path: /cases}
    output:
      records: data
      select: "{id: id, subject: attributes.subject}"
      schema: {$ref: '#/objects/case'}
  download:
    title: Download a file
    input: {name: {type: string}}
    required: [name]
    request: {method: GET, path: "/files/{{ input.name }}", response: bytes}
  upload_image:
    title: Upload an image from a path (PlexTrac)
    input: {path: {type: string}}
    request:
      method: POST
      path: /upload
      multipart:
        setScope: '["tenant_admin_0"]'
        file: {file: "{{ input.path }}", filename: evidence.png, content_type: image/png}
  upload_content:
    title: Upload content given as bytes
    input: {content: {type: string, contentEncoding: base64}}
    request:
      method: POST
      path: /upload
      multipart:
        file: {file: "{{ input.content }}", base64: true, filename: blob.bin}
  add_attachment:
    title: Attach a file to a case (Argus)
    input:
      name: {type: string}
      data: {type: string, contentEncoding: base64}
    request:
      method: POST
      path: /attachments
      json: {name: "{{ input.name }}", mimeType: image/png, data: "{{ input.data }}"}
  create_item:
    title: Create an item, safely
    input: {external_id: {type: string}, title: {type: string}}
    request: {method: POST, path: /items, json: {external_id: "{{ input.external_id }}",
              title: "{{ input.title }}"}}
    lookup:
      request: {method: GET, path: /items, query: {external_id: "{{ input.external_id }}"}}
      records: items
      match: record.external_id == input.external_id
    examples:
      - {input: {external_id: x-1, title: Door}, output: {id: 1, external_id: x-1, title: Door}}
  create_item_blindly:
    title: Create an item with no way to look it up
    input: {external_id: {type: string}, title: {type: string}}
    request: {method: POST, path: /items, json: {external_id: "{{ input.external_id }}",
              title: "{{ input.title }}"}}
"""

SECRET = "s3cr3t/k+y=="

SECRET_SPEC = """
spec: hookline/v1
name: vault
title: Vault
connection:
  fields:
    url: {type: string}
    api_key: {type: string, secret: true}
  required: [url, api_key]
  base_url: "{{ connection.url }}/api/{{ connection.api_key }}"
  auth: {type: api_key, in: header, name: X-Api-Key, key: "{{ connection.api_key }}"}
actions:
  put_secret:
    title: Send the key everywhere a template can put it
    request:
      method: POST
      path: /things
      query: {token: "{{ connection.api_key }}", page: 1}
      headers: {X-Echo-Key: "{{ connection.api_key }}"}
      json: {auth: "{{ connection.api_key }}", title: Door}
"""


@pytest.fixture(scope="module")
def spec(catalog: Catalog) -> Spec:
    return catalog.load_spec(Path("acts.yaml"), text=SPEC)


@pytest.fixture
def echoed(server: tuple[str, EchoState]) -> tuple[str, EchoState]:
    """The suite's emptied echo server (``server`` in tests/conftest.py)."""
    return server


@pytest.fixture(scope="module")
def files() -> Iterator[str]:
    with running(files_app()) as url:
        yield url


# ---------------------------------------------------------------- input


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "acts.create_case: input 'subject' is required"),
        ({"subject": "x", "priority": "urgent"}, "input 'priority': 'urgent' is not one of"),
        ({"subjet": "x"}, "unknown input 'subjet' (did you mean 'subject'?)"),
        ({"subject": "x", "tags": "door"}, "input 'tags': 'door' is not of type 'array'"),
        ({"subject": "x", "tags": ["ok", 5]}, "input 'tags[1]': 5 is not of type 'string'"),
        ({"subject": 7}, "input 'subject': 7 is not of type 'string'"),
    ],
)
def test_bad_input_is_refused_naming_the_field_before_anything_is_sent(
    catalog: Catalog,
    spec: Spec,
    echoed: tuple[str, EchoState],
    given: dict[str, Any],
    message: str,
) -> None:
    url, state = echoed
    with pytest.raises(InvalidRequestError) as caught:
        call(catalog, spec, url, "create_case", given)
    assert message in str(caught.value)
    assert caught.value.action == "create_case"
    assert state.seen == []


def test_input_defaults_are_applied(
    catalog: Catalog, spec: Spec, echoed: tuple[str, EchoState]
) -> None:
    url, _ = echoed
    body = call(catalog, spec, url, "create_case", {"subject": "Door", "priority": "high"})
    assert json.loads(body) == {"subject": "Door", "service": "ops"}


def test_an_optional_input_given_as_null_counts_as_not_given(
    catalog: Catalog, spec: Spec, echoed: tuple[str, EchoState]
) -> None:
    url, _ = echoed
    body = call(catalog, spec, url, "create_case", {"subject": "Door", "service": None})
    assert json.loads(body) == {"subject": "Door", "service": "ops"}


def test_a_required_input_given_as_null_is_refused(catalog: Catalog, spec: Spec) -> None:
    with pytest.raises(InvalidRequestError, match="subject"):
        call(catalog, spec, "http://127.0.0.1:9", "create_case", {"subject": None})


# ---------------------------------------------------------------- output


def case(id: Any, subject: str = "Door") -> dict[str, Any]:
    return {"id": id, "type": "case", "attributes": {"subject": subject, "status": "open"}}


def test_select_reshapes_the_output(
    catalog: Catalog, spec: Spec, echoed: tuple[str, EchoState]
) -> None:
    url, state = echoed
    state.replies.append(Reply(body={"data": case(7)}))
    assert call(catalog, spec, url, "get_case", {"id": 7}) == {"id": 7, "subject": "Door"}
    assert state.seen[0].path == "/cases/7"


def test_an_output_that_breaks_its_schema_names_the_field(
    catalog: Catalog, spec: Spec, echoed: tuple[str, EchoState]
) -> None:
    url, state = echoed
    state.replies.append(Reply(body={"data": case("seven")}))
    with pytest.raises(InvalidResponseError, match="field 'id': 'seven' is not of type 'integer'"):
        call(catalog, spec, url, "get_case", {"id": 7})


def test_a_lenient_output_mismatch_is_a_warning(
    catalog: Catalog, spec: Spec, echoed: tuple[str, EchoState]
) -> None:
    url, state = echoed
    state.replies.append(Reply(body={"data": {"id": 1, "attributes": {}}}))
    with pytest.warns(OutputMismatchWarning, match="field 'subject': None is not of type 'string'"):
        output = call(catalog, spec, url, "get_case_lenient")
    assert output == {"id": 1, "subject": None}


def test_records_are_selected_and_checked_one_by_one(
    catalog: Catalog, spec: Spec, echoed: tuple[str, EchoState]
) -> None:
    url, state = echoed
    state.replies.append(Reply(body={"data": [case(1), case(2, "Window")]}))
    assert call(catalog, spec, url, "list_cases") == [
        {"id": 1, "subject": "Door"},
        {"id": 2, "subject": "Window"},
    ]
    state.replies.append(Reply(body={"data": [case(1), case(None)]}))
    with pytest.raises(InvalidResponseError, match=r"record 1: .*field 'id': None is not"):
        call(catalog, spec, url, "list_cases")


def test_records_must_be_a_list(
    catalog: Catalog, spec: Spec, echoed: tuple[str, EchoState]
) -> None:
    url, state = echoed
    state.replies.append(Reply(body={"data": case(1)}))
    with pytest.raises(InvalidResponseError, match="found a mapping in the response, expected a"):
        call(catalog, spec, url, "list_cases")


def test_unknown_and_non_list_actions_are_refused(
    catalog: Catalog, spec: Spec, echoed: tuple[str, EchoState]
) -> None:
    url, _ = echoed
    with pytest.raises(
        ConfigurationError, match=r"no action 'get_cases' \(did you mean 'get_case'"
    ):
        call(catalog, spec, url, "get_cases")

    async def main() -> None:
        async with Connection(spec, {"url": url}, expressions=catalog.expressions) as connection:
            async for _ in iter_records(connection, "get_case", {"id": 1}):
                pass

    with pytest.raises(ConfigurationError, match="not a list action"):
        asyncio.run(main())


# ---------------------------------------------------------------- files


def test_a_download_is_returned_as_base64_with_its_type(
    catalog: Catalog, spec: Spec, files: str
) -> None:
    output = call(catalog, spec, files, "download", {"name": "plan.png"})
    content = file_content("plan.png")
    assert output == {
        "content": base64.b64encode(content).decode("ascii"),
        "content_type": "image/png",
        "size": len(content),
    }


def test_a_download_streams_to_the_file_save_to_names(
    catalog: Catalog, spec: Spec, files: str, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "plan.png"
    output = call(catalog, spec, files, "download", {"name": "plan.png", "save_to": str(target)})
    content = file_content("plan.png")
    assert output == {"path": str(target), "content_type": "image/png", "size": len(content)}
    assert target.read_bytes() == content


def test_an_upload_reads_the_file_at_a_path(
    catalog: Catalog, spec: Spec, files: str, tmp_path: Path
) -> None:
    image = tmp_path / "evidence.png"
    image.write_bytes(b"\x89PNG\x00\xff image")
    output = call(catalog, spec, files, "upload_image", {"path": str(image)})
    assert output["fields"] == {"setScope": '["tenant_admin_0"]'}
    uploaded = output["files"]["file"]
    assert (uploaded["filename"], uploaded["content_type"]) == ("evidence.png", "image/png")
    assert base64.b64decode(uploaded["content"]) == image.read_bytes()


@pytest.mark.parametrize("form", ["bytes", "at_path", "path_object", "base64"])
def test_content_inputs_take_bytes_a_file_or_base64(
    catalog: Catalog, spec: Spec, files: str, tmp_path: Path, form: str
) -> None:
    content = b"\x00\x01 binary \xfe\xff"
    source = tmp_path / "blob.bin"
    source.write_bytes(content)
    given = {
        "bytes": content,
        "at_path": f"@{source}",
        "path_object": source,
        "base64": base64.b64encode(content).decode("ascii"),
    }[form]
    output = call(catalog, spec, files, "upload_content", {"content": given})
    assert base64.b64decode(output["files"]["file"]["content"]) == content
    output = call(catalog, spec, files, "add_attachment", {"name": "a.bin", "data": given})
    assert base64.b64decode(output["content"]) == content


@pytest.mark.parametrize(
    ("given", "message"),
    [("@/nonexistent/blob.bin", "cannot read '/nonexistent/blob.bin'"), ("%%%", "not base64")],
)
def test_bad_content_inputs_are_refused(
    catalog: Catalog, spec: Spec, files: str, given: str, message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        call(catalog, spec, files, "add_attachment", {"name": "a", "data": given})


# ---------------------------------------------------------------- lost answers


@pytest.fixture
def creates() -> Iterator[tuple[str, CreateState]]:
    app = create_app()
    with running(app) as url:
        yield url, app.state.creates


ITEM = {"external_id": "x-1", "title": "Door"}


def test_a_lost_answer_is_found_by_the_lookup_instead_of_creating_twice(
    catalog: Catalog, spec: Spec, creates: tuple[str, CreateState]
) -> None:
    url, state = creates
    state.lose = 1
    assert call(catalog, spec, url, "create_item", ITEM) == {"id": 1, **ITEM}
    assert (state.posts, len(state.items)) == (1, 1)


def test_a_create_the_lookup_cannot_find_is_sent_again(
    catalog: Catalog, spec: Spec, creates: tuple[str, CreateState]
) -> None:
    url, state = creates
    state.lose, state.lose_before_create = 1, True
    assert call(catalog, spec, url, "create_item", ITEM) == {"id": 1, **ITEM}
    assert (state.posts, len(state.items)) == (2, 1)


def test_without_a_lookup_a_lost_answer_is_an_unknown_outcome(
    catalog: Catalog, spec: Spec, creates: tuple[str, CreateState]
) -> None:
    url, state = creates
    state.lose = 1
    with pytest.raises(OutcomeUnknownError):
        call(catalog, spec, url, "create_item_blindly", ITEM)
    assert state.posts == 1


# ---------------------------------------------------------------- dry runs


def test_a_dry_run_renders_the_request_without_secrets_and_sends_nothing(
    catalog: Catalog, echoed: tuple[str, EchoState]
) -> None:
    url, state = echoed
    vault = catalog.load_spec(Path("vault.yaml"), text=SECRET_SPEC)

    async def main() -> Any:
        values = {"url": url, "api_key": SECRET}
        async with Connection(vault, values, expressions=catalog.expressions) as connection:
            return await call_action(connection, "put_secret", dry_run=True)

    plan = asyncio.run(main())
    assert isinstance(plan, Plan)
    text = json.dumps(plan.to_dict())
    for form in (SECRET, "s3cr3t%2Fk%2By%3D%3D", "s3cr3t/k+y", "s3cr3t"):
        assert form not in text
    (request,) = plan.to_dict()["requests"]
    assert request["url"] == f"{url}/api/***/things?token=***&page=1"
    assert request["headers"]["x-echo-key"] == "***"
    assert request["body"] == {"auth": "***", "title": "Door"}
    assert state.seen == []


def test_a_dry_run_shows_the_lookup_and_the_example_output(
    catalog: Catalog, spec: Spec, echoed: tuple[str, EchoState]
) -> None:
    url, state = echoed
    plan = call(catalog, spec, url, "create_item", ITEM, dry_run=True).to_dict()
    assert [r["role"] for r in plan["requests"]] == ["request", "lookup, only after a lost answer"]
    assert plan["requests"][1]["url"] == f"{url}/items?external_id=x-1"
    assert plan["example_output"] == {"id": 1, "external_id": "x-1", "title": "Door"}
    assert state.seen == []


STAND_INS: dict[str, Any] = {
    "title": "Find a thing, by name and kind",
    "input": {"name": {"type": "string"}, "kind": {"type": "string"}},
    "request": {"method": "GET", "path": "/things", "query": {"name": "{{ input.name }}"}},
    "examples": [
        {"input": {"name": "a", "kind": "x"}, "output": "a of kind x"},
        {"input": {"name": "a"}, "output": "a"},
        {"input": {"name": "b"}, "output": "b"},
    ],
}


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ({"name": "b"}, "b"),  # the example with the same input
        ({"name": "c"}, "a"),  # none has it: the first that names no other input
        ({"name": "a", "kind": "x"}, "a of kind x"),  # the most inputs alike
        ({"name": "b", "kind": "y"}, "b"),
        ({"kind": "y"}, "a of kind x"),  # none fits: the first
    ],
)
def test_a_dry_run_stands_in_the_example_most_like_the_call(
    catalog: Catalog, given: dict[str, Any], shown: str
) -> None:
    spec = demo_spec(catalog, actions={"find": STAND_INS})
    plan = call(catalog, spec, "http://127.0.0.1:9", "find", given, dry_run=True)
    assert plan.output == shown


# ---------------------------------------------------------------- a lookup's output

LOOKUP_SPEC = """
spec: hookline/v1
name: shelf
title: Shelf
connection:
  fields:
    url: {type: string}
  required: [url]
  base_url: "{{ connection.url }}"
objects:
  saved: {type: object, required: [item_id], properties: {item_id: {type: integer}}}
actions:
  create_item:
    title: Create an item; the lookup says how its match becomes the output
    input: {external_id: {type: string}, title: {type: string}}
    request: {method: POST, path: /items, json: {external_id: "{{ input.external_id }}",
              title: "{{ input.title }}"}}
    lookup:
      request: {method: GET, path: /items, query: {external_id: "{{ input.external_id }}"}}
      records: items
      match: record.external_id == input.external_id
      select: "{item_id: record.id, asked: input.title}"
    output: {select: "{item_id: id, asked: title}", schema: {$ref: '#/objects/saved'}}
  create_item_unshaped:
    title: Create an item whose lookup finds records of another shape than the output
    input: {external_id: {type: string}, title: {type: string}}
    request: {method: POST, path: /items, json: {external_id: "{{ input.external_id }}",
              title: "{{ input.title }}"}}
    lookup:
      request: {method: GET, path: /items, query: {external_id: "{{ input.external_id }}"}}
      records: items
      match: record.external_id == input.external_id
    output: {select: "{item_id: id}", schema: {$ref: '#/objects/saved'}}
  get_item:
    title: Get an item
    input: {id: {type: string}}
    request: {method: GET, path: "/items/{{ input.id }}"}
"""


@pytest.fixture(scope="module")
def shelf(catalog: Catalog) -> Spec:
    return catalog.load_spec(Path("shelf.yaml"), text=LOOKUP_SPEC)


def test_a_lookup_select_gives_the_output_an_answer_would_have_given(
    catalog: Catalog, shelf: Spec, creates: tuple[str, CreateState]
) -> None:
    url, state = creates
    answered = call(catalog, shelf, url, "create_item", {"external_id": "x-1", "title": "Door"})
    state.lose = 1
    found = call(catalog, shelf, url, "create_item", {"external_id": "x-2", "title": "Window"})
    assert answered == {"item_id": 1, "asked": "Door"}
    assert found == {"item_id": 2, "asked": "Window"}
    assert (state.posts, len(state.items)) == (2, 2)


def test_a_lookup_match_without_select_must_have_the_output_shape(
    catalog: Catalog, shelf: Spec, creates: tuple[str, CreateState]
) -> None:
    url, state = creates
    state.lose = 1
    with pytest.raises(InvalidResponseError) as caught:
        call(catalog, shelf, url, "create_item_unshaped", {"external_id": "x-1", "title": "Door"})
    message = str(caught.value)
    assert message.startswith("shelf.create_item_unshaped: the lookup's match: the output")
    assert "'item_id' is a required property" in message
    assert (state.posts, len(state.items)) == (1, 1)


def test_a_lookup_select_is_compiled_at_load(catalog: Catalog) -> None:
    broken = LOOKUP_SPEC.replace("select: \"{item_id: record.id, asked: input.title}\"",
                                 "select: \"{item_id: record.id\"")  # fmt: skip
    with pytest.raises(SpecError) as caught:
        catalog.load_spec(Path("shelf.yaml"), text=broken)
    assert "actions.create_item.lookup.select" in str(caught.value)


class _LosingTransport(httpx.AsyncBaseTransport):
    """Delivers every request, and loses the answer to the first POST whose path ends so."""

    def __init__(self, ending: str) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.ending: str | None = ending

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.ending and request.method == "POST" and request.url.path.endswith(self.ending):
            self.ending = None
            await response.aread()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_plextrac_create_finding_after_a_lost_answer_gives_the_flaw_id(catalog: Catalog) -> None:
    box = catalog.sandboxes["plextrac"]
    app = box.create_app(seed=1, auth_rate_limit=None)
    state = app.state.sandbox  # type: ignore[attr-defined]
    report = next(r for r in state.reports.values() if r["client_id"] == 1001)
    given = {
        "client_id": 1001,
        "report_id": report["id"],
        "title": "Exposed Admin Console",
        "severity": "High",
        "description": "<p>The console answers on the Internet.</p>",
    }

    async def main(url: str) -> Any:
        spec = catalog.spec("plextrac")
        transport = _LosingTransport("/flaw/create")
        values = box.connection(url)
        async with Connection(
            spec, values, expressions=catalog.expressions, transport=transport
        ) as connection:
            return await call_action(connection, "create_finding", given)

    with running(app) as url:
        created = asyncio.run(main(url))
    made = [f for f in state.findings_of(report["id"]) if f["title"] == given["title"]]
    assert created == {"flaw_id": made[0]["flaw_id"]}
    assert len(made) == 1


# ---------------------------------------------------------------- render errors


def test_a_request_that_cannot_be_rendered_names_the_action(
    catalog: Catalog, shelf: Spec, echoed: tuple[str, EchoState]
) -> None:
    url, state = echoed
    with pytest.raises(InvalidRequestError) as caught:
        call(catalog, shelf, url, "get_item", {"id": ""})
    assert str(caught.value) == (
        "shelf.get_item: the path value {{ input.id }} is empty; the request would name "
        "another resource"
    )
    assert (caught.value.connector, caught.value.action) == ("shelf", "get_item")
    assert state.seen == []
