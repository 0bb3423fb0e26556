"""Loading connector specs: every kind of mistake is one precise, located problem."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hookline.errors import SpecError
from hookline.spec.catalog import Catalog

VALID = """\
spec: hookline/v1
name: demo
title: Demo
connection:
  fields:
    base_url: {type: string, format: uri, description: Where the API is}
    token: {type: string, secret: true, description: The API token}
  required: [base_url, token]
  base_url: "{{ connection.base_url }}"
  auth: {type: bearer, token: "{{ connection.token }}"}
objects:
  item:
    type: object
    properties:
      id: {type: integer}
actions:
  get_item:
    title: Get an item
    input:
      id: {type: integer, description: The item's id}
    required: [id]
    request:
      method: GET
      path: /items/{{ input.id }}
    output:
      schema: {$ref: "#/objects/item"}
"""


def load(catalog: Catalog, text: str) -> object:
    return catalog.load_spec(Path("specs/demo.yaml"), text=text)


def problems(catalog: Catalog, text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load(catalog, text)
    return [str(p) for p in info.value.problems]


def test_valid_spec_compiles(catalog: Catalog) -> None:
    spec = load(catalog, VALID)
    action = spec.actions["get_item"]  # type: ignore[attr-defined]
    assert action.request.method == "GET"
    assert action.idempotent
    assert spec.connection.secret_fields == ("token",)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "method: GET",
            "method: PSOT",
            "specs/demo.yaml:23:15: actions.get_item.request.method: "
            "'PSOT' is not one of GET, POST, PUT, PATCH, DELETE",
            id="misspelt-method",
        ),
        pytest.param(
            "title: Get an item",
            "title: [Get, an, item]",
            "specs/demo.yaml:18:12: actions.get_item.title: expected text, got a list",
            id="wrong-type",
        ),
        pytest.param(
            "    title: Get an item",
            "    titel: Get an item",
            "specs/demo.yaml:18:5: actions.get_item: unknown key 'titel' (did you mean 'title'?)",
            id="unknown-key",
        ),
        pytest.param(
            "path: /items/{{ input.id }}",
            "path: /items/{{ input.id. }}",
            "specs/demo.yaml:24:32: actions.get_item.request.path: expected an expression after",
            id="bad-expression",
        ),
        pytest.param(
            "      id: {type: integer, description: The item's id}",
            "      id: {type: integer, description: The item's id}\n      id: {type: string}",
            "specs/demo.yaml:21:7: actions.get_item.input.id: duplicate key 'id'",
            id="duplicate-key",
        ),
        pytest.param(
            '{$ref: "#/objects/item"}',
            '{$ref: "#/objects/itme"}',
            "specs/demo.yaml:26:22: actions.get_item.output.schema.$ref: "
            "unknown shared object 'itme' (did you mean 'item'?)",
            id="unknown-object-ref",
        ),
        pytest.param(
            "required: [id]",
            "required: [ident]",
            "specs/demo.yaml:21:16: actions.get_item.required[0]: "
            "required input 'ident' is not among the inputs",
            id="unknown-required-input",
        ),
    ],
)
def test_each_mistake_is_one_located_problem(
    catalog: Catalog, old: str, new: str, expected: str
) -> None:
    assert old in VALID
    found = problems(catalog, VALID.replace(old, new, 1))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found[0]


def test_all_problems_are_reported_at_once(catalog: Catalog) -> None:
    text = VALID.replace("method: GET", "method: PSOT").replace("title: Demo", "title: 3")
    assert len(problems(catalog, text)) == 2


def test_unknown_auth_type_lists_the_known_ones(catalog: Catalog) -> None:
    found = problems(catalog, VALID.replace("type: bearer", "type: beerer"))
    assert len(found) == 1
    assert "connection.auth.type" in found[0]
    assert "'beerer' is not one of" in found[0]
    assert "bearer" in found[0]


def test_action_and_trigger_names_must_differ(catalog: Catalog) -> None:
    text = VALID + (
        "triggers:\n"
        "  get_item:\n"
        "    type: poll\n"
        "    title: Items\n"
        "    request: {method: GET, path: /items}\n"
        "    records: items\n"
        "    id: id\n"
    )
    found = problems(catalog, text)
    assert any("names both an action and a trigger" in p for p in found)


COMPOSITE = VALID + (
    "  get_two:\n"
    "    title: Get two items\n"
    "    input:\n"
    "      first: {type: integer, description: One id}\n"
    "      second: {type: integer, description: Another id}\n"
    "    required: [first, second]\n"
    "    calls:\n"
    "      - {id: one, action: get_item, with: {id: '{{ input.first }}'}}\n"
    "      - {id: two, action: get_item, with: {id: '{{ input.second }}'}}\n"
    "  download:\n"
    "    title: Download an item\n"
    "    request: {method: GET, path: /items/file, response: bytes}\n"
)


def test_an_action_has_either_a_request_or_calls(catalog: Catalog) -> None:
    spec = load(catalog, COMPOSITE)
    sends = spec.actions["get_item"]  # type: ignore[attr-defined]
    composite = spec.actions["get_two"]  # type: ignore[attr-defined]
    assert sends.calls is None and sends.composite is None
    assert sends.request.path.source == "/items/{{ input.id }}"
    assert composite.request is None
    assert [call.id for call in composite.calls.calls] == ["one", "two"]
    assert composite.composite is composite.calls
    assert not composite.idempotent  # a composite is idempotent only where the spec says so


def test_only_a_bytes_response_makes_a_download(catalog: Catalog) -> None:
    spec = load(catalog, COMPOSITE)
    actions = spec.actions  # type: ignore[attr-defined]
    assert actions["download"].is_download
    assert not actions["get_item"].is_download
    assert not actions["get_two"].is_download


def test_an_action_model_refuses_both_or_neither_of_request_and_calls(catalog: Catalog) -> None:
    spec = load(catalog, COMPOSITE)
    sends = spec.actions["get_item"]  # type: ignore[attr-defined]
    composite = spec.actions["get_two"]  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="exactly one of a request and calls"):
        replace(sends, calls=composite.calls)
    with pytest.raises(ValueError, match="exactly one of a request and calls"):
        replace(sends, request=None)
