"""Inputs sent by name: a request's ``inputs`` block, compiled, sent, and refused when wrong.

The block becomes the ``{wire name: "{{ input.NAME }}"}`` mapping an author would have written,
merged into the request's own query, form or JSON body; the inputs the path reads and those
under ``except`` stay out, ``case`` and ``rename`` give the wire names, and each misuse is a
located problem of ``hookline validate``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from hookline.actions.call import call_action
from hookline.connectors.planradar.sandbox.data import LINDEN
from hookline.errors import SpecError
from hookline.http.connection import Connection
from hookline.spec.catalog import Catalog
from hookline.spec.model import Request
from tests.servers import EchoState, demo_spec

DEFECT, LEVEL_1 = "obk", "nyk"  # a form (ticket type) and a layer of the Linden project

INPUTS: dict[str, Any] = {
    "id": {"type": "integer"},
    "subject": {"type": "string"},
    "assigned_user": {"type": "string"},
    "customer_id": {"type": "integer"},
    "acl_members": {"type": "array", "items": {"type": "string"}},
}


def action(request: dict[str, Any], inputs: dict[str, Any] = INPUTS) -> dict[str, Any]:
    """An action ``act`` with ``inputs`` and ``request`` (method PUT, path /cases/ID)."""
    return {
        "title": "Act",
        "input": inputs,
        "request": {"method": "PUT", "path": "/cases/{{ input.id }}", **request},
    }


def compiled(catalog: Catalog, request: dict[str, Any]) -> Request:
    """The compiled request of an action with ``request``."""
    built = demo_spec(catalog, actions={"act": action(request)}).actions["act"].request
    assert built is not None
    return built


def rendered(catalog: Catalog, request: dict[str, Any], **input: Any) -> Any:
    """The compiled ``json``, ``query`` or ``form`` of ``request``, rendered with ``input``."""
    built = compiled(catalog, request)
    to = request["inputs"]["to"]
    value = getattr(built, to)
    assert value is not None
    return value.render({"input": input})


def problems(catalog: Catalog, request: dict[str, Any], inputs: dict[str, Any] = INPUTS) -> str:
    """The problems of a spec whose action has ``request``, as ``hookline validate`` says."""
    text = yaml.safe_dump(
        {
            "spec": "hookline/v1",
            "name": "demo",
            "title": "Demo",
            "connection": {"fields": {}, "base_url": "https://demo.example"},
            "actions": {"act": action(request, inputs)},
        },
        sort_keys=False,
    )
    with pytest.raises(SpecError) as caught:
        catalog.load_spec(Path("demo.yaml"), text=text)
    return str(caught.value)


# ---------------------------------------------------------------- the compiled request


def test_every_input_but_the_paths_is_sent_under_its_own_name(catalog: Catalog) -> None:
    body = rendered(catalog, {"inputs": {"to": "json"}}, id=7, subject="s")
    assert body == {
        "subject": "s",
        "assigned_user": None,
        "customer_id": None,
        "acl_members": None,
    }


def test_case_rename_and_except_give_the_wire_names(catalog: Catalog) -> None:
    inputs = {
        "to": "query",
        "case": "camel",
        "rename": {"customer_id": "customerID"},
        "except": ["acl_members"],
    }
    query = rendered(catalog, {"inputs": inputs}, id=7, assigned_user="kari", customer_id=3)
    assert query == {"subject": None, "assignedUser": "kari", "customerID": 3}


def test_kebab_case_inputs_go_inside_an_envelope_beside_the_requests_own_keys(
    catalog: Catalog,
) -> None:
    request = {
        "omit_nulls": True,
        "inputs": {"to": "json", "at": ["data", "attributes"], "case": "kebab"},
        "json": {"data": {"type": "cases", "attributes": {"source": "hookline"}}},
    }
    body = rendered(catalog, request, id=7, assigned_user="kari")
    assert body == {
        "data": {
            "type": "cases",
            "attributes": {
                "subject": None,
                "assigned-user": "kari",
                "customer-id": None,
                "acl-members": None,
                "source": "hookline",
            },
        }
    }


def test_the_inputs_come_before_the_requests_own_keys(catalog: Catalog) -> None:
    request = {
        "inputs": {"to": "form", "except": ["acl_members", "customer_id"]},
        "form": {"kind": "case"},
    }
    assert list(rendered(catalog, request)) == ["subject", "assigned_user", "kind"]


def test_inputs_sent_by_name_are_the_templates_written_by_hand(catalog: Catalog) -> None:
    by_hand = {
        "json": {
            "subject": "{{ input.subject }}",
            "assignedUser": "{{ input.assigned_user }}",
            "customerId": "{{ input.customer_id }}",
        }
    }
    by_name = {"inputs": {"to": "json", "case": "camel", "except": ["acl_members"]}}
    assert compiled(catalog, by_name).json == compiled(catalog, by_hand).json


# ---------------------------------------------------------------- sent


def test_only_the_given_inputs_reach_the_server_with_omit_nulls(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    spec = demo_spec(
        catalog,
        actions={
            "act": action({"omit_nulls": True, "inputs": {"to": "json", "case": "camel"}}),
            "find": {
                "title": "Find",
                "input": INPUTS,
                "request": {
                    "method": "GET",
                    "path": "/cases",
                    "inputs": {"to": "query", "rename": {"customer_id": "customer"}},
                },
            },
        },
    )

    async def main() -> None:
        async with Connection(spec, {"url": url}, expressions=catalog.expressions) as connection:
            await call_action(connection, "act", {"id": 7, "assigned_user": "kari"})
            await call_action(
                connection, "find", {"customer_id": 3, "acl_members": ["a", "b"], "id": 1}
            )

    asyncio.run(main())
    update, search = state.seen
    assert (update.method, update.path) == ("PUT", "/cases/7")
    assert orjson.loads(update.body) == {"assignedUser": "kari"}
    assert search.query == [
        ("id", "1"),
        ("customer", "3"),
        ("acl_members", "a"),
        ("acl_members", "b"),
    ]


def test_planradar_creates_a_ticket_from_inputs_sent_by_name(served: Any) -> None:
    """PlanRadar's create_ticket sends its inputs kebab-cased under data.attributes."""
    with served("planradar", seed=1) as sandbox:
        created = sandbox.call(
            "create_ticket",
            {
                "project_id": LINDEN,
                "ticket_type_id": DEFECT,
                "component_id": LEVEL_1,
                "subject": "Crack in the east stairwell",
                "priority_id": "ma",
                "due_date": "2025-04-01",
            },
        )
        stored = sandbox.state.tickets[created["uuid"]].attributes
    assert stored["subject"] == "Crack in the east stairwell"
    assert (stored["ticket-type-id"], stored["component-id"]) == (DEFECT, LEVEL_1)
    assert stored["due-date"] == "2025-04-01"
    assert created["priority_id"] == stored["priority-id"]


# ---------------------------------------------------------------- refused


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (
            {"to": "json", "except": ["subjct"]},
            "'subjct' is not an input (did you mean 'subject'?)",
        ),
        (
            {"to": "json", "rename": {"assigned_usr": "assignee"}},
            "'assigned_usr' is not an input (did you mean 'assigned_user'?)",
        ),
        (
            {"to": "json", "rename": {"id": "caseId"}},
            "input 'id' is not sent by name (the path reads it)",
        ),
        (
            {"to": "json", "case": "camel", "rename": {"assigned_user": "assignedUser"}},
            "input 'assigned_user' is sent as 'assignedUser' without a rename",
        ),
        (
            {"to": "json", "rename": {"subject": "customer_id"}},
            "inputs 'subject' and 'customer_id' would both be sent as 'customer_id'",
        ),
        (
            {"to": "query", "at": ["data"]},
            "`at` places inputs inside a JSON body; these go to query",
        ),
        (
            {"to": "json", "except": ["subject", "assigned_user", "customer_id", "acl_members"]},
            "so `inputs` sends none",
        ),
    ],
)
def test_a_misused_block_is_a_located_problem(
    catalog: Catalog, inputs: dict[str, Any], expected: str
) -> None:
    message = problems(catalog, {"inputs": inputs})
    assert "demo.yaml:" in message and "actions.act.request.inputs" in message
    assert expected in message


def test_an_input_sent_under_a_key_the_request_sets_is_a_clash(catalog: Catalog) -> None:
    request = {
        "inputs": {"to": "json", "case": "camel"},
        "json": {"aclMembers": "{{ input.acl_members[*] }}"},
    }
    message = problems(catalog, request)
    assert (
        "input 'acl_members' would be sent as json key 'aclMembers', which the request sets "
        "itself; list the input under `except`, or drop the key"
    ) in message


def test_inputs_cannot_join_a_body_of_another_kind_or_one_expression(catalog: Catalog) -> None:
    other = problems(catalog, {"inputs": {"to": "json"}, "form": {"a": "b"}})
    assert "the request already has a body (form)" in other
    whole = problems(catalog, {"inputs": {"to": "json"}, "json": "{{ input }}"})
    assert "this json is one expression" in whole


def test_a_login_request_has_no_inputs_to_send(catalog: Catalog) -> None:
    auth = {
        "type": "session",
        "login": {"method": "POST", "path": "/login", "inputs": {"to": "json"}},
        "capture": {"token": "token"},
        "apply": {"headers": {"Authorization": "Bearer {{ session.token }}"}},
    }
    with pytest.raises(SpecError, match="this request has no inputs"):
        demo_spec(catalog, auth=auth)
