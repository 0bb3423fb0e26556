"""A first connector spec from an OpenAPI document: golden cases, real documents, the YAML text.

Every spec made here is written as YAML text and loaded back through ``hookline validate``'s
own path, so each case also checks that the text is a valid spec and reads as the document.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from hookline import Catalog, Connection, InvalidDocumentError, call_action
from hookline.errors import ConfigurationError
from hookline.spec.openapi import SpecDraft, load_openapi, spec_from_openapi, write_spec
from hookline.spec.openapi.names import Namer, snake
from tests.servers import EchoState, Reply

DATA = Path(__file__).resolve().parent.parent / "data" / "openapi"
METHODS = ("get", "put", "post", "delete", "patch")


def draft_of(catalog: Catalog, tmp_path: Path, document: Mapping[str, Any]) -> SpecDraft:
    """The draft for ``document``, after its YAML text has passed ``hookline validate``."""
    draft = spec_from_openapi(document, "demo")
    path = tmp_path / "demo.yaml"
    text = draft.yaml("Generated for a test.")
    path.write_text(text, encoding="utf-8")
    assert catalog.load_spec(path).actions  # validates as hookline validate does
    assert yaml.safe_load(text) == draft.document
    return draft


def v3(paths: Mapping[str, Any], **top: Any) -> dict[str, Any]:
    """A small OpenAPI 3.0 document with ``paths`` and top-level extras."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "Demo API", "version": "1"},
        "servers": [{"url": "https://api.example.com/v1"}],
        "paths": paths,
        **top,
    }


def listing(
    response: Mapping[str, Any], *parameters: Mapping[str, Any], **extra: Any
) -> dict[str, Any]:
    """A ``GET /things`` operation with query ``parameters`` answering ``response``."""
    ok: dict[str, Any] = {
        "description": "The things",
        "content": {"application/json": {"schema": response}},
        **extra,
    }
    return {
        "/things": {
            "get": {
                "operationId": "listThings",
                "parameters": list(parameters),
                "responses": {"200": ok},
            }
        }
    }


def query(name: str, kind: str = "integer", **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": kind, **schema}}


THINGS = {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}}}}


def operation_count(document: Mapping[str, Any]) -> int:
    return sum(
        1 for item in document.get("paths", {}).values() for method in item if method in METHODS
    )


# ---------------------------------------------------------------- real documents


REAL = {
    "swagger-petstore-v3.0.yaml": 19,
    "swagger-ui-petstore-v2.json": 18,
    "oai-uber-v2.json": 5,
    "oai-uspto-v3.0.yaml": 3,
    "oai-link-example-v3.0.yaml": 6,
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_document_gives_a_valid_spec_with_one_action_per_operation(
    name: str, catalog: Catalog, tmp_path: Path
) -> None:
    out = tmp_path / "spec.yaml"
    draft = write_spec(DATA / name, "demo", out)
    assert catalog.load_spec(out).actions  # validates as hookline validate does
    assert yaml.safe_load(out.read_text(encoding="utf-8")) == draft.document
    assert (
        len(draft.document["actions"]) == operation_count(load_openapi(DATA / name)) == REAL[name]
    )
    assert out.read_text(encoding="utf-8").startswith(
        f"# Connector spec for {draft.document['title']}"
    )


def test_every_real_document_in_the_folder_is_checked() -> None:
    assert {p.name for p in DATA.iterdir() if p.suffix in (".json", ".yaml")} == set(REAL)


def test_swagger_document_keeps_its_host_base_path_and_scheme() -> None:
    draft = spec_from_openapi(load_openapi(DATA / "oai-uber-v2.json"), "uber")
    fields = draft.document["connection"]["fields"]
    assert fields["base_url"]["default"] == "https://api.uber.com/v1"
    assert draft.source == "Swagger 2.0"


def test_uber_history_pages_by_offset_up_to_the_count() -> None:
    draft = spec_from_openapi(load_openapi(DATA / "oai-uber-v2.json"), "uber")
    history = draft.document["actions"]["get_history"]
    assert history["paginate"] == {
        "type": "offset",
        "offset_param": "offset",
        "limit_param": "limit",
        "page_size": 100,
        "total": "count",
    }
    assert history["output"]["records"] == "history"
    assert history["output"]["schema"] == {"$ref": "#/objects/activity"}
    assert "input" not in history  # the paginator sets offset and limit itself


# ---------------------------------------------------------------- auth


AUTH_CASES: dict[str, tuple[dict[str, Any], Any, dict[str, Any]]] = {
    "http basic": (
        {"type": "http", "scheme": "basic"},
        {
            "type": "basic",
            "username": "{{ connection.username }}",
            "password": "{{ connection.password }}",
        },
        {"username": False, "password": True},
    ),
    "http bearer": (
        {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        {"type": "bearer", "token": "{{ connection.token }}"},
        {"token": True},
    ),
    "api key in a header": (
        {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
        {"type": "api_key", "in": "header", "name": "X-Api-Key", "key": "{{ connection.api_key }}"},
        {"api_key": True},
    ),
    "api key in the query": (
        {"type": "apiKey", "in": "query", "name": "token"},
        {"type": "api_key", "in": "query", "name": "token", "key": "{{ connection.api_key }}"},
        {"api_key": True},
    ),
    "api key in a cookie": (
        {"type": "apiKey", "in": "cookie", "name": "sid"},
        {"type": "headers", "headers": {"Cookie": "sid={{ connection.api_key }}"}},
        {"api_key": True},
    ),
    "oauth2 client credentials": (
        {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "https://api.example.com/v1/oauth/token",
                    "scopes": {"read": "Read", "write": "Write"},
                }
            },
        },
        {
            "type": "session",
            "login": {
                "method": "POST",
                "path": "/oauth/token",
                "form": {
                    "grant_type": "client_credentials",
                    "client_id": "{{ connection.client_id }}",
                    "client_secret": "{{ connection.client_secret }}",
                    "scope": "read write",
                },
            },
            "capture": {"token": "access_token"},
            "apply": {"headers": {"Authorization": "Bearer {{ session.token }}"}},
            "lifetime": {"field": "expires_in"},
        },
        {"client_id": False, "client_secret": True},
    ),
    "oauth2 with a token URL elsewhere": (
        {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {"tokenUrl": "https://login.example.net/token", "scopes": {}}
            },
        },
        {"type": "bearer", "token": "{{ connection.access_token }}"},
        {"access_token": True},
    ),
    "oauth2 authorization code": (
        {
            "type": "oauth2",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "https://example.com/authorize",
                    "tokenUrl": "https://example.com/token",
                    "scopes": {},
                }
            },
        },
        {"type": "bearer", "token": "{{ connection.access_token }}"},
        {"access_token": True},
    ),
    "openid connect": (
        {
            "type": "openIdConnect",
            "openIdConnectUrl": "https://example.com/.well-known/openid-configuration",
        },
        {"type": "bearer", "token": "{{ connection.access_token }}"},
        {"access_token": True},
    ),
}
GUESSED_AUTH = {
    "api key in a cookie",
    "oauth2 client credentials",
    "oauth2 with a token URL elsewhere",
    "oauth2 authorization code",
    "openid connect",
}


@pytest.mark.parametrize("case", sorted(AUTH_CASES))
def test_security_scheme_becomes_the_closest_auth_type(
    case: str, catalog: Catalog, tmp_path: Path
) -> None:
    scheme, auth, secrets = AUTH_CASES[case]
    document = v3(
        listing(THINGS),
        components={"securitySchemes": {"main": scheme}},
        security=[{"main": []}],
    )
    draft = draft_of(catalog, tmp_path, document)
    connection = draft.document["connection"]
    assert connection["auth"] == auth
    fields = connection["fields"]
    assert {name: fields[name].get("secret", False) for name in secrets} == secrets
    assert set(secrets) <= set(connection["required"])
    assert (("connection", "auth") in draft.notes) == (case in GUESSED_AUTH)


def test_document_without_security_sends_no_credentials(catalog: Catalog, tmp_path: Path) -> None:
    draft = draft_of(catalog, tmp_path, v3(listing(THINGS)))
    assert draft.document["connection"]["auth"] == {"type": "none"}


def test_exact_alternative_is_preferred_and_the_others_are_noted(
    catalog: Catalog, tmp_path: Path
) -> None:
    document = v3(
        listing(THINGS),
        components={
            "securitySchemes": {
                "oauth": {
                    "type": "oauth2",
                    "flows": {
                        "implicit": {"authorizationUrl": "https://x.example/a", "scopes": {}}
                    },
                },
                "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
            }
        },
        security=[{"oauth": []}, {"key": []}],
    )
    draft = draft_of(catalog, tmp_path, document)
    assert draft.document["connection"]["auth"]["type"] == "api_key"
    assert any("also describes oauth" in note for note in draft.notes[("connection", "auth")])


def test_schemes_required_together_are_applied_in_order(catalog: Catalog, tmp_path: Path) -> None:
    document = v3(
        listing(THINGS),
        components={
            "securitySchemes": {
                "app": {"type": "apiKey", "in": "header", "name": "X-App"},
                "user": {"type": "http", "scheme": "bearer"},
            }
        },
        security=[{"app": [], "user": []}],
    )
    draft = draft_of(catalog, tmp_path, document)
    assert [auth["type"] for auth in draft.document["connection"]["auth"]] == ["api_key", "bearer"]


# ---------------------------------------------------------------- the base URL


def test_server_variables_become_connection_fields(catalog: Catalog, tmp_path: Path) -> None:
    servers = [
        {
            "url": "https://{region}.example.com/{basePath}",
            "variables": {
                "region": {
                    "default": "eu",
                    "enum": ["eu", "us"],
                    "description": "Where the account lives",
                },
                "basePath": {"default": "v2"},
            },
        },
        {"url": "https://sandbox.example.com/v2"},
    ]
    draft = draft_of(catalog, tmp_path, {**v3(listing(THINGS)), "servers": servers})
    connection = draft.document["connection"]
    assert (
        connection["base_url"]
        == "https://{{ connection.region }}.example.com/{{ connection.base_path }}"
    )
    assert connection["fields"]["region"] == {
        "type": "string",
        "default": "eu",
        "enum": ["eu", "us"],
        "description": "Where the account lives",
    }
    assert connection["fields"]["base_path"]["default"] == "v2"
    assert "required" not in connection


def test_relative_server_url_leaves_the_base_url_to_the_user(
    catalog: Catalog, tmp_path: Path
) -> None:
    draft = draft_of(catalog, tmp_path, {**v3(listing(THINGS)), "servers": [{"url": "/api/v3"}]})
    connection = draft.document["connection"]
    assert connection["base_url"] == "{{ connection.base_url }}"
    assert connection["required"] == ["base_url"]
    assert "/api/v3" in connection["fields"]["base_url"]["description"]
    assert ("connection", "fields", "base_url") in draft.notes


# ---------------------------------------------------------------- pagination


PAGING_CASES: dict[str, tuple[dict[str, Any], dict[str, Any] | None, set[str]]] = {
    "offset and limit, with a total": (
        listing(
            {"type": "object", "properties": {"total": {"type": "integer"}, "data": THINGS}},
            query("offset"),
            query("limit", maximum=50),
            query("q", "string"),
        ),
        {
            "type": "offset",
            "offset_param": "offset",
            "limit_param": "limit",
            "page_size": 50,
            "total": "total",
        },
        {"q"},
    ),
    "page and per_page, with a page count": (
        listing(
            {
                "type": "object",
                "properties": {
                    "meta": {"type": "object", "properties": {"totalPages": {"type": "integer"}}},
                    "items": THINGS,
                },
            },
            query("page"),
            query("per_page"),
        ),
        {
            "type": "page",
            "page_param": "page",
            "size_param": "per_page",
            "page_size": 100,
            "total_pages": "meta.totalPages",
        },
        set(),
    ),
    "pageNumber and pageSize from zero": (
        listing(THINGS, query("pageNumber", minimum=0), query("pageSize", maximum=1000)),
        {
            "type": "page",
            "page_param": "pageNumber",
            "size_param": "pageSize",
            "start": 0,
            "page_size": 100,
        },
        set(),
    ),
    "a cursor and its next token": (
        listing(
            {
                "type": "object",
                "properties": {
                    "results": THINGS,
                    "meta": {"type": "object", "properties": {"next_cursor": {"type": "string"}}},
                },
            },
            query("cursor", "string"),
            query("limit"),
        ),
        {
            "type": "cursor",
            "cursor": "meta.next_cursor",
            "cursor_param": "cursor",
            "limit_param": "limit",
            "page_size": 100,
        },
        set(),
    ),
    "a page token": (
        listing(
            {
                "type": "object",
                "properties": {"items": THINGS, "nextPageToken": {"type": "string"}},
            },
            query("page_token", "string"),
        ),
        {"type": "cursor", "cursor": "nextPageToken", "cursor_param": "page_token"},
        set(),
    ),
    "an after parameter with no token in the answer": (
        listing(THINGS, query("after", "string")),
        {"type": "cursor", "cursor": "next_cursor", "cursor_param": "after"},
        set(),
    ),
    "a Link header": (
        listing(THINGS, query("per_page"), headers={"Link": {"schema": {"type": "string"}}}),
        {"type": "link_header"},
        {"per_page"},
    ),
    "a next link in the body": (
        listing(
            {
                "type": "object",
                "properties": {"value": THINGS, "@odata.nextLink": {"type": "string"}},
            }
        ),
        {"type": "next_url", "next": '"@odata.nextLink"'},
        set(),
    ),
    "a HAL next link": (
        listing(
            {
                "type": "object",
                "properties": {
                    "data": THINGS,
                    "_links": {
                        "type": "object",
                        "properties": {
                            "next": {"type": "object", "properties": {"href": {"type": "string"}}}
                        },
                    },
                },
            }
        ),
        {"type": "next_url", "next": "_links.next.href"},
        set(),
    ),
    "nothing that pages": (listing(THINGS, query("q", "string")), None, {"q"}),
}


@pytest.mark.parametrize("case", sorted(PAGING_CASES))
def test_paginator_is_guessed_from_parameter_names(
    case: str, catalog: Catalog, tmp_path: Path
) -> None:
    paths, paginate, inputs = PAGING_CASES[case]
    draft = draft_of(catalog, tmp_path, v3(paths))
    action = draft.document["actions"]["list_things"]
    assert action.get("paginate") == paginate
    assert set(action.get("input", {})) == inputs
    assert (("actions", "list_things", "paginate") in draft.notes) == (paginate is not None)


def test_object_response_that_is_not_a_collection_is_not_a_list(
    catalog: Catalog, tmp_path: Path
) -> None:
    order = {"type": "object", "properties": {"id": {"type": "integer"}, "items": THINGS}}
    ok = {"description": "An order", "content": {"application/json": {"schema": order}}}
    paths = {"/orders/{id}": {"get": {"operationId": "getOrder", "responses": {"200": ok}}}}
    draft = draft_of(catalog, tmp_path, v3(paths))
    output = draft.document["actions"]["get_order"]["output"]
    assert "records" not in output
    assert output["schema"]["properties"]["items"]["type"] == "array"


# ---------------------------------------------------------------- schemas and objects


def test_named_schemas_become_shared_objects_with_valid_names(
    catalog: Catalog, tmp_path: Path
) -> None:
    schemas = {
        "Pet-Record": {
            "type": "object",
            "properties": {"owner": {"$ref": "#/components/schemas/io.example.Owner"}},
        },
        "io.example.Owner": {"type": "object", "properties": {"name": {"type": "string"}}},
        "Unused": {"type": "string"},
    }
    ok = {
        "description": "A pet",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet-Record"}}},
    }
    paths = {"/pets/{id}": {"get": {"operationId": "getPet", "responses": {"200": ok}}}}
    draft = draft_of(catalog, tmp_path, v3(paths, components={"schemas": schemas}))
    assert draft.document["objects"] == {
        "pet_record": {
            "type": "object",
            "title": "Pet-Record",
            "properties": {"owner": {"$ref": "#/objects/io_example_owner"}},
        },
        "io_example_owner": {
            "type": "object",
            "title": "io.example.Owner",
            "properties": {"name": {"type": "string"}},
        },
    }
    assert draft.document["actions"]["get_pet"]["output"]["schema"] == {
        "$ref": "#/objects/pet_record"
    }


def test_recursive_schema_stays_recursive_through_an_object(
    catalog: Catalog, tmp_path: Path
) -> None:
    node = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
        },
    }
    ok = {
        "description": "A tree",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}},
    }
    paths = {"/tree": {"get": {"operationId": "getTree", "responses": {"200": ok}}}}
    draft = draft_of(catalog, tmp_path, v3(paths, components={"schemas": {"Node": node}}))
    children = draft.document["objects"]["node"]["properties"]["children"]
    assert children == {"type": "array", "items": {"$ref": "#/objects/node"}}


def test_schema_that_applies_itself_without_nesting_is_left_open(
    catalog: Catalog, tmp_path: Path
) -> None:
    schemas = {
        "Alias": {"$ref": "#/components/schemas/Alias"},
        "Mixin": {"allOf": [{"$ref": "#/components/schemas/Mixin"}, {"type": "object"}]},
        "Tree": {"type": "object", "properties": {"up": {"$ref": "#/components/schemas/Tree"}}},
    }
    properties = {name: {"$ref": f"#/components/schemas/{name}"} for name in schemas}
    ok = {
        "description": "It",
        "content": {"application/json": {"schema": {"type": "object", "properties": properties}}},
    }
    document = v3(
        {"/it": {"get": {"operationId": "getIt", "responses": {"200": ok}}}},
        components={"schemas": schemas},
    )
    draft = draft_of(catalog, tmp_path, document)
    objects = draft.document["objects"]
    assert objects["alias"] == {"title": "Alias"}
    assert objects["mixin"] == {"title": "Mixin"}
    assert objects["tree"]["properties"]["up"] == {"$ref": "#/objects/tree"}
    assert ("objects", "alias") in draft.notes and ("objects", "tree") not in draft.notes


def test_reference_that_loops_without_a_name_is_left_open(catalog: Catalog, tmp_path: Path) -> None:
    loop = {
        "type": "object",
        "properties": {
            "next": {"$ref": "#/paths/~1loop/get/responses/200/content/application~1json/schema"}
        },
    }
    ok = {"description": "A loop", "content": {"application/json": {"schema": loop}}}
    draft = draft_of(
        catalog,
        tmp_path,
        v3({"/loop": {"get": {"operationId": "getLoop", "responses": {"200": ok}}}}),
    )
    schema = draft.document["actions"]["get_loop"]["output"]["schema"]
    assert schema["properties"]["next"]["properties"]["next"] == {}
    assert any("refers back" in n for n in draft.notes[("actions", "get_loop", "output", "schema")])


def test_references_that_lead_nowhere_are_left_open_and_noted(
    catalog: Catalog, tmp_path: Path
) -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"$ref": "other.yaml#/Thing"},
            "b": {"$ref": "#/components/schemas/Missing"},
        },
    }
    ok = {"description": "It", "content": {"application/json": {"schema": schema}}}
    draft = draft_of(
        catalog, tmp_path, v3({"/it": {"get": {"operationId": "getIt", "responses": {"200": ok}}}})
    )
    properties = draft.document["actions"]["get_it"]["output"]["schema"]["properties"]
    assert properties == {"a": {}, "b": {}}
    assert len(draft.notes[("actions", "get_it", "output", "schema")]) == 2


SCHEMA_CASES: dict[str, tuple[dict[str, Any], Any]] = {
    "nullable type": ({"type": "string", "nullable": True}, {"type": ["string", "null"]}),
    "nullable enum": (
        {"type": "string", "enum": ["a"], "nullable": True},
        {"type": ["string", "null"], "enum": ["a", None]},
    ),
    "nullable reference": (
        {"$ref": "#/components/schemas/Thing", "nullable": True},
        {"anyOf": [{"$ref": "#/objects/thing"}, {"type": "null"}]},
    ),
    "boolean exclusive minimum": (
        {"type": "number", "minimum": 0, "exclusiveMinimum": True},
        {"type": "number", "exclusiveMinimum": 0},
    ),
    "example": ({"type": "integer", "example": 3}, {"type": "integer", "examples": [3]}),
    "annotations spec files have no use for": (
        {
            "type": "object",
            "xml": {"name": "x"},
            "discriminator": {"propertyName": "kind"},
            "x-internal": True,
            "externalDocs": {},
        },
        {"type": "object"},
    ),
    "a pattern Python cannot compile": (
        {"type": "string", "pattern": "^\\p{L}+$"},
        {"type": "string"},
    ),
    "a pattern Python can compile": (
        {"type": "string", "pattern": "^[a-z]+$"},
        {"type": "string", "pattern": "^[a-z]+$"},
    ),
    "swagger's file type": ({"type": "file"}, {"type": "string", "format": "binary"}),
    "a type that is not a JSON type": ({"type": "date"}, {}),
    "3.1 type list and const": (
        {"type": ["integer", "null"], "const": 1},
        {"type": ["integer", "null"], "const": 1},
    ),
    "items as a list": (
        {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
        {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
    ),
    "allOf with a reference": (
        {"allOf": [{"$ref": "#/components/schemas/Thing"}, {"type": "object", "required": ["id"]}]},
        {"allOf": [{"$ref": "#/objects/thing"}, {"type": "object", "required": ["id"]}]},
    ),
    "bad counts are dropped": (
        {"type": "string", "maxLength": -1, "minLength": 2.0},
        {"type": "string", "minLength": 2},
    ),
}


@pytest.mark.parametrize("case", sorted(SCHEMA_CASES))
def test_schema_keywords_become_json_schema(case: str, catalog: Catalog, tmp_path: Path) -> None:
    raw, expected = SCHEMA_CASES[case]
    ok = {
        "description": "It",
        "content": {"application/json": {"schema": {"type": "object", "properties": {"it": raw}}}},
    }
    document = v3(
        {"/it": {"get": {"operationId": "getIt", "responses": {"200": ok}}}},
        components={"schemas": {"Thing": {"type": "object"}}},
    )
    draft = draft_of(catalog, tmp_path, document)
    assert draft.document["actions"]["get_it"]["output"]["schema"]["properties"]["it"] == expected


# ---------------------------------------------------------------- inputs and requests


PET = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "id": {"type": "integer", "readOnly": True},
        "name": {"type": "string", "description": "The pet's name"},
        "ownerId": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}


def test_object_body_is_flattened_into_inputs(catalog: Catalog, tmp_path: Path) -> None:
    operation = {
        "operationId": "updatePet",
        "summary": "Update a pet.",
        "parameters": [
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
        },
        "responses": {"204": {"description": "Done"}},
    }
    document = v3({"/pets/{name}": {"put": operation}}, components={"schemas": {"Pet": PET}})
    action = draft_of(catalog, tmp_path, document).document["actions"]["update_pet"]
    assert action["title"] == "Update a pet"
    assert list(action["input"]) == ["name", "body_name", "owner_id", "tags"]
    assert action["required"] == ["name", "body_name"]
    assert action["request"] == {
        "method": "PUT",
        "path": "/pets/{{ input.name }}",
        "json": {
            "name": "{{ input.body_name }}",
            "ownerId": "{{ input.owner_id }}",
            "tags": "{{ input.tags }}",
        },
        "omit_nulls": True,
    }
    assert "output" not in action


def test_body_that_is_not_an_object_is_one_input(catalog: Catalog, tmp_path: Path) -> None:
    body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}
            }
        },
    }
    operation = {
        "operationId": "addPets",
        "requestBody": body,
        "responses": {"201": {"description": "Added"}},
    }
    document = v3({"/pets": {"post": operation}}, components={"schemas": {"Pet": PET}})
    action = draft_of(catalog, tmp_path, document).document["actions"]["add_pets"]
    assert action["input"] == {
        "body": {
            "type": "array",
            "items": {"$ref": "#/objects/pet"},
            "description": "The request body",
        }
    }
    assert action["required"] == ["body"]
    assert action["request"]["json"] == "{{ input.body }}"


def test_form_multipart_and_binary_bodies(catalog: Catalog, tmp_path: Path) -> None:
    form = {"type": "object", "properties": {"grant": {"type": "string"}}}
    upload = {
        "type": "object",
        "properties": {"file": {"type": "string", "format": "binary"}, "note": {"type": "string"}},
    }
    paths = {
        "/form": {
            "post": {
                "operationId": "sendForm",
                "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": form}}},
                "responses": {},
            }
        },
        "/upload": {
            "post": {
                "operationId": "upload",
                "requestBody": {"content": {"multipart/form-data": {"schema": upload}}},
                "responses": {},
            }
        },
        "/raw": {
            "put": {
                "operationId": "putRaw",
                "requestBody": {
                    "content": {
                        "application/pdf": {"schema": {"type": "string", "format": "binary"}}
                    }
                },
                "responses": {},
            }
        },
        "/text": {
            "put": {
                "operationId": "putText",
                "requestBody": {"content": {"text/csv": {}}},
                "responses": {},
            }
        },
    }
    actions = draft_of(catalog, tmp_path, v3(paths)).document["actions"]
    assert actions["send_form"]["request"]["form"] == {"grant": "{{ input.grant }}"}
    multipart = actions["upload"]["request"]["multipart"]
    assert multipart == {
        "file": {"file": "{{ input.file }}", "base64": True, "filename": "file"},
        "note": "{{ input.note }}",
    }
    assert actions["upload"]["input"]["file"]["contentEncoding"] == "base64"
    raw = actions["put_raw"]["request"]
    assert (raw["body"], raw["body_base64"], raw["headers"]) == (
        "{{ input.body }}",
        True,
        {"Content-Type": "application/pdf"},
    )
    text = actions["put_text"]["request"]
    assert (text["body"], text["headers"], "body_base64" in text) == (
        "{{ input.body }}",
        {"Content-Type": "text/csv"},
        False,
    )


def test_responses_that_are_not_json_are_read_as_text_or_bytes(
    catalog: Catalog, tmp_path: Path
) -> None:
    paths = {
        "/report": {
            "get": {
                "operationId": "getReport",
                "responses": {"200": {"description": "A PDF", "content": {"application/pdf": {}}}},
            }
        },
        "/note": {
            "get": {
                "operationId": "getNote",
                "responses": {"200": {"description": "Text", "content": {"text/plain": {}}}},
            }
        },
    }
    actions = draft_of(catalog, tmp_path, v3(paths)).document["actions"]
    assert actions["get_report"]["request"]["response"] == "bytes"
    assert actions["get_note"]["request"]["response"] == "text"


def test_parameters_are_sent_as_their_style_says(catalog: Catalog, tmp_path: Path) -> None:
    parameters = [
        {
            "name": "ids",
            "in": "query",
            "style": "form",
            "explode": False,
            "schema": {"type": "array", "items": {"type": "integer"}},
        },
        {"name": "tag", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
        {
            "name": "kinds",
            "in": "query",
            "style": "pipeDelimited",
            "explode": False,
            "schema": {"type": "array", "items": {"type": "string"}},
        },
        {
            "name": "filter",
            "in": "query",
            "style": "deepObject",
            "schema": {"type": "object", "properties": {"status": {"type": "string"}}},
        },
        {"name": "X-Request-ID", "in": "header", "schema": {"type": "string"}},
        {"name": "Accept", "in": "header", "schema": {"type": "string"}},
        {"name": "session", "in": "cookie", "schema": {"type": "string"}},
    ]
    paths = {
        "/search": {"get": {"operationId": "search", "parameters": parameters, "responses": {}}}
    }
    draft = draft_of(catalog, tmp_path, v3(paths))
    request = draft.document["actions"]["search"]["request"]
    assert request["query"] == {
        "ids": "{{ input.ids && join(',', input.ids[*].to_string(@)) }}",
        "tag": "{{ input.tag }}",
        "kinds": "{{ input.kinds && join('|', input.kinds[*].to_string(@)) }}",
        "filter[status]": "{{ input.filter.status }}",
    }
    assert request["headers"] == {"X-Request-ID": "{{ input.x_request_id }}"}
    assert ("actions", "search", "request") in draft.notes  # the cookie is not sent


def test_swagger_parameters_bodies_and_forms(catalog: Catalog, tmp_path: Path) -> None:
    document = {
        "swagger": "2.0",
        "info": {"title": "Old", "version": "1"},
        "host": "old.example.com",
        "basePath": "/api",
        "schemes": ["http", "https"],
        "consumes": ["application/json"],
        "paths": {
            "/pets": {
                "post": {
                    "operationId": "addPet",
                    "parameters": [
                        {
                            "in": "body",
                            "name": "pet",
                            "required": True,
                            "schema": {"$ref": "#/definitions/Pet"},
                        }
                    ],
                    "responses": {
                        "200": {"description": "ok", "schema": {"$ref": "#/definitions/Pet"}}
                    },
                },
                "get": {
                    "operationId": "findPets",
                    "parameters": [
                        {
                            "in": "query",
                            "name": "status",
                            "type": "array",
                            "items": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "schema": {"type": "array", "items": {"$ref": "Pet"}},
                        }
                    },
                },
            },
            "/pets/{petId}/photo": {
                "post": {
                    "operationId": "uploadPhoto",
                    "consumes": ["multipart/form-data"],
                    "parameters": [
                        {"in": "path", "name": "petId", "required": True, "type": "integer"},
                        {"in": "formData", "name": "photo", "type": "file", "required": True},
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            },
        },
        "securityDefinitions": {"basic": {"type": "basic"}},
        "security": [{"basic": []}],
        "definitions": {"Pet": PET},
    }
    draft = draft_of(catalog, tmp_path, document)
    actions = draft.document["actions"]
    assert (
        draft.document["connection"]["fields"]["base_url"]["default"]
        == "https://old.example.com/api"
    )
    assert draft.document["connection"]["auth"]["type"] == "basic"
    assert actions["add_pet"]["request"]["json"]["ownerId"] == "{{ input.owner_id }}"
    assert actions["add_pet"]["output"]["schema"] == {"$ref": "#/objects/pet"}
    assert actions["find_pets"]["request"]["query"]["status"] == (
        "{{ input.status && join(',', input.status[*].to_string(@)) }}"
    )
    assert actions["find_pets"]["output"]["schema"] == {"$ref": "#/objects/pet"}
    assert actions["upload_photo"]["request"]["multipart"]["photo"]["file"] == "{{ input.photo }}"
    assert actions["upload_photo"]["required"] == ["pet_id", "photo"]


def test_undeclared_path_parameter_becomes_a_required_input(
    catalog: Catalog, tmp_path: Path
) -> None:
    paths = {"/files/{name}.{ext}": {"delete": {"operationId": "deleteFile", "responses": {}}}}
    draft = draft_of(catalog, tmp_path, v3(paths))
    action = draft.document["actions"]["delete_file"]
    assert action["request"]["path"] == "/files/{{ input.name }}.{{ input.ext }}"
    assert action["required"] == ["name", "ext"]
    assert ("actions", "delete_file", "request", "path") in draft.notes


# ---------------------------------------------------------------- names


def test_action_names_are_valid_and_unique(catalog: Catalog, tmp_path: Path) -> None:
    ok = {"200": {"description": "ok"}}
    paths = {
        "/a": {
            "get": {"operationId": "Get-Thing", "responses": ok},
            "post": {"operationId": "get_thing", "responses": ok},
        },
        "/b/{id}/c": {"get": {"responses": ok}, "head": {"responses": ok}},
        "/d": {
            "get": {"operationId": "2fa.check", "responses": ok},
            "put": {"operationId": "ÜberSicht", "responses": ok},
        },
    }
    draft = draft_of(catalog, tmp_path, v3(paths))
    assert list(draft.document["actions"]) == [
        "get_thing",
        "get_thing_2",
        "get_b_id_c",
        "call_2fa_check",
        "uber_sicht",
    ]
    assert draft.skipped == ("HEAD /b/{id}/c: an action cannot send HEAD",)
    assert ("actions",) in draft.notes


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("getPetById", "get_pet_by_id"),
        ("HTTPServerError", "http_server_error"),
        ("filter[status_id]", "filter_status_id"),
        ("X-Request-ID", "x_request_id"),
        ("$top", "top"),
        ("200Response", "n_200_response"),
        ("!!!", "n"),
    ],
)
def test_snake_makes_valid_names(text: str, name: str) -> None:
    assert snake(text, "n") == name


def test_namer_numbers_a_name_taken_twice() -> None:
    namer = Namer({"id"})
    assert [namer.claim("id", "body_id"), namer.claim("id", "body_id"), namer.claim("id")] == [
        "body_id",
        "id_2",
        "id_3",
    ]


def test_title_comes_from_the_operation_id_without_a_summary(
    catalog: Catalog, tmp_path: Path
) -> None:
    paths = {"/x": {"get": {"operationId": "getPullRequestsById", "responses": {}}}}
    action = draft_of(catalog, tmp_path, v3(paths)).document["actions"]["get_pull_requests_by_id"]
    assert action["title"] == "Get pull requests by id"


# ---------------------------------------------------------------- the YAML text


def test_yaml_text_carries_notes_and_keeps_tricky_values(catalog: Catalog, tmp_path: Path) -> None:
    description = "Line one.\n\n  indented: yes # not a comment\nÜmlaut and emoji 🦊\u2028end"
    enum = [
        "on",
        "yes",
        "null",
        "2024-01-01",
        "{{ x }}",
        "a: b",
        "- item",
        "",
        " padded ",
        "#hash",
        "tab\there",
    ]
    schema = {
        "type": "object",
        "properties": {
            "on": {"type": "string", "enum": enum},
            "200": {"type": "integer", "default": 1e20},
        },
    }
    page = {"type": "array", "items": schema}
    ok = {"description": "It", "content": {"application/json": {"schema": page}}}
    operation = {
        "operationId": "getIt",
        "description": description,
        "parameters": [query("cursor", "string")],
        "responses": {"200": ok},
    }
    draft = draft_of(catalog, tmp_path, v3({"/it": {"get": operation}}))
    text = draft.yaml()
    assert "    # review: guessed: the 'cursor' parameter looks like a cursor" in text
    action = draft.document["actions"]["get_it"]
    assert action["description"] == description
    assert action["output"]["schema"]["properties"]["on"]["enum"] == enum


def test_long_prose_is_folded_within_the_line_length() -> None:
    words = " ".join(["word"] * 60)
    draft = spec_from_openapi(
        v3({}, info={"title": "T", "version": "1", "description": words}), "demo"
    )
    text = draft.yaml()
    assert "description: >-" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    assert yaml.safe_load(text)["description"] == words


# ---------------------------------------------------------------- errors and files


def test_a_document_that_is_not_openapi_is_refused() -> None:
    with pytest.raises(InvalidDocumentError, match=r"not an OpenAPI 3\.x or Swagger 2\.0 document"):
        spec_from_openapi({"asyncapi": "2.6.0"}, "demo")


def test_an_invalid_connector_name_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="connector name 'My API' is not valid"):
        spec_from_openapi(v3({}), "My API")


def test_load_openapi_reads_json_and_yaml_and_locates_parse_errors(tmp_path: Path) -> None:
    as_json = tmp_path / "api.json"
    as_json.write_text(json.dumps(v3({})), encoding="utf-8")
    as_yaml = tmp_path / "api.yaml"
    as_yaml.write_text(
        "openapi: 3.1.0\ninfo: {title: T, version: 1}\n"
        "paths:\n  /x:\n    get:\n      responses:\n        200: {description: ok}\n",
        encoding="utf-8",
    )
    assert load_openapi(as_json)["openapi"] == "3.0.3"
    assert load_openapi(as_yaml)["paths"]["/x"]["get"]["responses"] == {
        "200": {"description": "ok"}
    }
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.0.0\npaths: [\n", encoding="utf-8")
    with pytest.raises(InvalidDocumentError) as caught:
        load_openapi(broken)
    assert caught.value.problems[0].file == str(broken)
    assert caught.value.problems[0].line is not None
    looping = tmp_path / "loop.yaml"
    looping.write_text("openapi: 3.0.0\npaths: &a\n  /x: *a\n", encoding="utf-8")
    with pytest.raises(InvalidDocumentError, match="contains itself"):
        load_openapi(looping)


# ---------------------------------------------------------------- calling the generated spec


def call(
    catalog: Catalog, spec_path: Path, url: str, action: str, input: dict[str, Any], **fields: Any
) -> Any:
    """Run ``action`` of the spec at ``spec_path`` on a connection to ``url`` with ``fields``."""
    spec = catalog.load_spec(spec_path)
    values = {"base_url": url, **fields}

    async def main() -> Any:
        async with Connection(spec, values, expressions=catalog.expressions) as connection:
            return await call_action(connection, action, input)

    return asyncio.run(main())


def test_generated_request_reaches_the_server_as_documented(
    catalog: Catalog, tmp_path: Path, server: tuple[str, EchoState]
) -> None:
    url, state = server
    operation = {
        "operationId": "updatePet",
        "parameters": [
            {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}},
            {
                "name": "ids",
                "in": "query",
                "explode": False,
                "schema": {"type": "array", "items": {"type": "integer"}},
            },
            {"name": "dryRun", "in": "query", "schema": {"type": "boolean"}},
        ],
        "requestBody": {"content": {"application/json": {"schema": PET}}},
        "responses": {"200": {"description": "ok"}},
    }
    document = v3(
        {"/pets/{petId}": {"put": operation}},
        components={
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}
        },
        security=[{"key": []}],
    )
    path = tmp_path / "demo.yaml"
    path.write_text(spec_from_openapi(document, "demo").yaml(), encoding="utf-8")
    call(catalog, path, url, "update_pet", {"pet_id": 7, "ids": [1, 2], "name": "Rex"}, api_key="k")
    seen = state.seen[-1]
    assert (seen.method, seen.path) == ("PUT", "/pets/7")
    assert seen.query == [("ids", "1,2")]
    assert seen.headers["x-key"] == "k"
    assert json.loads(seen.body) == {"name": "Rex"}


def test_generated_list_action_reads_every_page(
    catalog: Catalog, tmp_path: Path, server: tuple[str, EchoState]
) -> None:
    url, state = server
    page = {"type": "object", "properties": {"total": {"type": "integer"}, "data": THINGS}}
    document = v3(listing(page, query("offset"), query("limit", maximum=2)))
    path = tmp_path / "demo.yaml"
    path.write_text(spec_from_openapi(document, "demo").yaml(), encoding="utf-8")
    state.replies.extend(
        Reply(body={"total": 3, "data": records})
        for records in ([{"id": 1}, {"id": 2}], [{"id": 3}])
    )
    assert call(catalog, path, url, "list_things", {}) == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert [seen.query for seen in state.seen] == [
        [("offset", "0"), ("limit", "2")],
        [("offset", "2"), ("limit", "2")],
    ]
