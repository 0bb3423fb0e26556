"""The PlanRadar sandbox behaves as PlanRadar documents its API and webhooks.

Written against docs/sandboxes/planradar.md and the platform facts it cites, not against any
connector spec. Webhook deliveries go over real loopback sockets to a recording receiver.
"""

from __future__ import annotations

import base64
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hookline.connectors.planradar.sandbox import DEMO_CREDENTIALS, create_app, demo_connection
from hookline.connectors.planradar.sandbox.data import (
    CUSTOMER_ID,
    DEMO_TOKEN,
    INTEGRATION_TOKEN,
    NO_API_TOKEN,
)
from hookline.errors import ConfigurationError
from hookline.run.sandbox import running
from hookline.testing import Clock

with warnings.catch_warnings():
    # starlette.testclient warns once, on import, that it prefers httpx2 over httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

LINDEN, HARBOUR = "nqzkdw", "vlobre"
V1, V2 = f"/api/v1/{CUSTOMER_ID}", f"/api/v2/{CUSTOMER_ID}"
TICKETS = f"{V2}/projects/{LINDEN}/tickets"
KEY = "X-PlanRadar-API-Key"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nnot-really-a-png").decode()


def client_for(app: Starlette, token: str = DEMO_TOKEN) -> TestClient:
    return TestClient(app, headers={KEY: token})


@pytest.fixture
def app() -> Starlette:
    return create_app(rate_limit=10_000)


@pytest.fixture
def client(app: Starlette) -> TestClient:
    return client_for(app)


def new_ticket(**attributes: Any) -> dict[str, Any]:
    body = {"ticket-type-id": "obk", "component-id": "nyk", **attributes}
    return {"data": {"attributes": body}}


def first_error(response: httpx.Response) -> dict[str, Any]:
    errors = response.json()["errors"]
    assert isinstance(errors, list) and errors
    error: dict[str, Any] = errors[0]
    return error


# ------------------------------------------------------------------ seed and connection


def test_demo_connection_points_at_the_demo_account() -> None:
    connection = demo_connection("http://127.0.0.1:9999")
    assert connection == {
        "base_url": "http://127.0.0.1:9999",
        "customer_id": CUSTOMER_ID,
        "token": DEMO_TOKEN,
    }
    assert DEMO_TOKEN in DEMO_CREDENTIALS and CUSTOMER_ID in DEMO_CREDENTIALS


def test_seed_has_two_projects_and_a_hundred_tickets(app: Starlette) -> None:
    state = app.state.sandbox
    assert set(state.projects) == {LINDEN, HARBOUR}
    assert len(state.tickets) == 100
    per_project = {
        p: sum(t.project_id == p for t in state.tickets.values()) for p in state.projects
    }
    assert per_project == {LINDEN: 60, HARBOUR: 40}
    assert {t.attributes["status-id"] for t in state.tickets.values()} <= {
        "lm",
        "ol",
        "ma",
        "ex",
        "gk",
        "ky",
    }


def test_same_seed_gives_same_tickets_and_another_seed_differs() -> None:
    def tickets(seed: int) -> list[dict[str, Any]]:
        return [t.attributes for t in create_app(seed=seed).state.sandbox.tickets.values()]

    assert tickets(7) == tickets(7)
    assert tickets(7) != tickets(8)


def test_invalid_option_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="rate_limit"):
        create_app(rate_limit=0)
    with pytest.raises(ConfigurationError, match="webhook_retries"):
        create_app(webhook_retries=1.5)  # type: ignore[arg-type]


# ------------------------------------------------------------------ authentication and access


def test_missing_token_gets_401_in_the_error_shape(app: Starlette) -> None:
    response = TestClient(app).get(f"{V2}/projects")
    assert response.status_code == 401
    assert first_error(response)["status"] == "401"
    assert first_error(response)["title"] == "Unauthorized"
    assert KEY in first_error(response)["detail"]


def test_unknown_token_gets_401(app: Starlette) -> None:
    assert client_for(app, "not-a-token").get(f"{V2}/projects").status_code == 401


def test_token_of_user_without_api_access_gets_403(app: Starlette) -> None:
    response = client_for(app, NO_API_TOKEN).get(f"{V2}/projects")
    assert response.status_code == 403
    assert "API access" in first_error(response)["detail"]


def test_wrong_customer_id_gets_403(client: TestClient) -> None:
    response = client.get("/api/v2/9999999/projects")
    assert response.status_code == 403
    assert first_error(response)["title"] == "Forbidden"


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        (None, 200),
        ("application/json", 200),
        ("*/*", 200),
        ("application/vnd.api+json", 200),
        ("text/html, application/json;q=0.5", 200),
        ("text/html", 406),
        ("application/xml", 406),
        ("application/json;q=0", 406),
    ],
)
def test_accept_other_than_json_gets_406(
    client: TestClient, accept: str | None, status: int
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get(TICKETS, headers=headers)
    assert response.status_code == status
    if status == 406:
        assert first_error(response)["title"] == "Unsupported Accept Header"


def test_accept_is_not_checked_where_the_documentation_declares_no_406(client: TestClient) -> None:
    response = client.post(TICKETS, json=new_ticket(), headers={"Accept": "text/html"})
    assert response.status_code == 201


def test_unknown_path_gets_json_404(client: TestClient) -> None:
    response = client.get(f"{V2}/nothing-here")
    assert response.status_code == 404
    assert first_error(response)["status"] == "404"


# ------------------------------------------------------------------ projects and catalogue


def test_projects_list_is_paged_with_meta_count(client: TestClient) -> None:
    first = client.get(f"{V2}/projects", params={"pagesize": 1}).json()
    second = client.get(f"{V2}/projects", params={"pagesize": 1, "page": 2}).json()
    assert first["meta"] == {"count": 2, "page": 1} and second["meta"] == {"count": 2, "page": 2}
    names = [first["data"][0]["attributes"]["name"], second["data"][0]["attributes"]["name"]]
    assert names == sorted(names)
    assert client.get(f"{V2}/projects", params={"page": 3, "pagesize": 1}).json()["data"] == []


def test_member_sees_only_own_projects(app: Starlette) -> None:
    integration = client_for(app, INTEGRATION_TOKEN)
    listed = integration.get(f"{V2}/projects").json()["data"]
    assert [p["id"] for p in listed] == [LINDEN]
    response = integration.get(f"{V1}/projects/{HARBOUR}")
    assert response.status_code == 404
    assert first_error(response)["title"] == "Project Not Found"
    assert integration.get(f"{V2}/projects/{HARBOUR}/tickets").status_code == 404


def test_project_get_and_its_forms_and_layers(client: TestClient) -> None:
    project = client.get(f"{V1}/projects/{HARBOUR}").json()["data"]
    assert project["type"] == "projects" and project["attributes"]["city"] == "Göteborg"
    forms = client.get(f"{V2}/projects/{HARBOUR}/ticket_types/ticket_type_project").json()
    assert {f["id"] for f in forms["data"]} == {"obk", "tyb"}
    layers = client.get(f"{V1}/projects/{HARBOUR}/components").json()["data"]
    assert [c["attributes"]["name"] for c in layers] == ["Ground floor", "Basement"]
    assert all(c["type"] == "defectradar-components" for c in layers)


# ------------------------------------------------------------------ ticket lists


def test_tickets_of_all_projects_come_100_by_ascending_id(
    app: Starlette, client: TestClient
) -> None:
    body = client.get(f"{V2}/projects/0/tickets").json()
    assert body["meta"]["count"] == 100 and len(body["data"]) == 100
    ids = [t["id"] for t in body["data"]]
    state_order = [t.id for t in sorted(app.state.sandbox.tickets.values(), key=lambda t: t.number)]
    assert ids == state_order


def test_pages_cover_a_project_without_overlap(client: TestClient) -> None:
    seen: list[str] = []
    for page in (1, 2, 3):
        data = client.get(TICKETS, params={"page": page, "pagesize": 25}).json()["data"]
        seen += [t["attributes"]["uuid"] for t in data]
    assert len(seen) == 60 and len(set(seen)) == 60
    assert client.get(TICKETS, params={"page": 4, "pagesize": 25}).json()["data"] == []


def test_pagesize_above_500_is_clamped() -> None:
    client = client_for(create_app(rate_limit=10_000, ticket_count=600))
    body = client.get(f"{V2}/projects/0/tickets", params={"pagesize": 1000}).json()
    assert len(body["data"]) == 500 and body["meta"]["count"] == 600


@pytest.mark.parametrize("params", [{"page": 0}, {"pagesize": "abc"}, {"last_sync_date": "soon"}])
def test_invalid_list_parameters_get_400(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get(TICKETS, params=params)
    assert response.status_code == 400
    assert first_error(response)["title"] == "Invalid Parameters"


def test_simple_filter_takes_numeric_status_and_answers_letter_ids(
    app: Starlette, client: TestClient
) -> None:
    data = client.get(TICKETS, params={"filter[status_id]": 1, "pagesize": 500}).json()["data"]
    expected = [
        t
        for t in app.state.sandbox.tickets.values()
        if t.project_id == LINDEN and t.attributes["status-id"] == "lm"
    ]
    assert data and len(data) == len(expected)
    assert {t["attributes"]["status-id"] for t in data} == {"lm"}


def test_advanced_filter_with_in_predicate(client: TestClient) -> None:
    query = (
        "filter[status-id][][predicate]=in"
        "&filter[status-id][][value][]=gk&filter[status-id][][value][]=6"
    )
    data = client.get(f"{TICKETS}?{query}&pagesize=500").json()["data"]
    assert data and {t["attributes"]["status-id"] for t in data} <= {"gk", "ky"}


def test_like_filter_and_search_match_subject(client: TestClient) -> None:
    query = "filter[subject][][predicate]=like&filter[subject][][value][]=stairwell"
    liked = client.get(f"{TICKETS}?{query}&pagesize=500").json()["data"]
    searched = client.get(TICKETS, params={"search": "STAIRWELL", "pagesize": 500}).json()["data"]
    assert liked and [t["id"] for t in liked] == [t["id"] for t in searched]
    assert all("stairwell" in t["attributes"]["subject"] for t in liked)


def test_unknown_filter_field_gets_400(client: TestClient) -> None:
    response = client.get(TICKETS, params={"filter[colour]": "red"})
    assert response.status_code == 400
    assert "colour" in first_error(response)["detail"]


def test_sort_descending_by_sequential_id(client: TestClient) -> None:
    data = client.get(TICKETS, params={"sort": "-sequential-id", "pagesize": 5}).json()["data"]
    assert [t["attributes"]["sequential-id"] for t in data] == [60, 59, 58, 57, 56]


def test_last_sync_date_returns_only_tickets_created_after(
    app: Starlette, client: TestClient
) -> None:
    tickets = sorted(
        (t for t in app.state.sandbox.tickets.values() if t.project_id == LINDEN),
        key=lambda t: t.created_ts,
    )
    cut = tickets[49].created_ts
    data = client.get(TICKETS, params={"last_sync_date": int(cut) + 1}).json()["data"]
    assert {t["attributes"]["uuid"] for t in data} == {t.uuid for t in tickets[50:]}


def test_load_images_includes_the_pictures(client: TestClient) -> None:
    body = client.get(f"{V2}/projects/0/tickets", params={"load_images": "true"}).json()
    linked = [i["id"] for t in body["data"] for i in t["relationships"]["images"]["data"]]
    assert linked and linked == [i["id"] for i in body["included"]]
    assert {i["type"] for i in body["included"]} == {"images"}


# ------------------------------------------------------------------ single tickets


def test_get_ticket_by_uuid(app: Starlette, client: TestClient) -> None:
    ticket = next(iter(app.state.sandbox.tickets.values()))
    body = client.get(f"{V2}/projects/{ticket.project_id}/tickets/{ticket.uuid}").json()
    assert body["data"]["type"] == "tickets"
    assert body["data"]["attributes"]["uuid"] == ticket.uuid
    assert "typed_values_metadata" in body["data"]["attributes"]


def test_unknown_ticket_gets_404_ticket_not_found(client: TestClient) -> None:
    response = client.get(f"{TICKETS}/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert first_error(response)["title"] == "Ticket Not Found"


def test_create_requires_ticket_type_and_component(client: TestClient) -> None:
    response = client.post(TICKETS, json={"data": {"attributes": {"subject": "No form"}}})
    assert response.status_code == 422
    pointers = {e["source"]["pointer"] for e in response.json()["errors"]}
    assert pointers == {"/data/attributes/ticket-type-id", "/data/attributes/component-id"}


def test_create_with_client_uuid_is_idempotent(app: Starlette, client: TestClient) -> None:
    chosen = "35b03889-e759-4ded-b848-24337eea10d2"
    body = new_ticket(uuid=chosen, subject="Broken lock, door 3", **{"status-id": 2})
    created = client.post(TICKETS, json=body)
    assert created.status_code == 201
    attributes = created.json()["data"]["attributes"]
    assert attributes["uuid"] == chosen and attributes["status-id"] == "ol"
    assert attributes["priority-id"] == "ol" and attributes["sequential-id"] == 61
    again = client.post(TICKETS, json=new_ticket(uuid=chosen, subject="Something else"))
    assert again.status_code == 200
    assert again.json()["data"]["attributes"]["subject"] == "Broken lock, door 3"
    assert len(app.state.sandbox.tickets) == 101


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"component-id": "qdm"}, "component-id"),
        ({"ticket-type-id": "tyb"}, "ticket-type-id"),
        ({"status-id": "zz"}, "status-id"),
        ({"priority-id": 4}, "priority-id"),
        ({"progress": 101}, "progress"),
        ({"assigned-to-id": "xqed"}, "assigned-to-id"),
        ({"due-date": "next week"}, "due-date"),
        ({"typed-values": {"tf-unknown": 1}}, "typed-values"),
        ({"uuid": "not-a-uuid"}, "uuid"),
    ],
)
def test_create_rejects_invalid_attributes_with_422(
    client: TestClient, attributes: dict[str, Any], pointer: str
) -> None:
    response = client.post(TICKETS, json=new_ticket(**attributes))
    assert response.status_code == 422
    error = first_error(response)
    assert error["title"] == "Ticket Not Created"
    assert error["source"]["pointer"] == f"/data/attributes/{pointer}"


@pytest.mark.parametrize("body", [b"{not json", b'{"attributes": {}}', b"[]"])
def test_malformed_body_gets_400(client: TestClient, body: bytes) -> None:
    response = client.post(TICKETS, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert first_error(response)["title"] == "Bad Request"


def test_update_changes_only_given_attributes_and_records_history(client: TestClient) -> None:
    ticket = client.post(TICKETS, json=new_ticket(subject="Loose cable")).json()["data"]
    uuid = ticket["attributes"]["uuid"]
    response = client.put(f"{TICKETS}/{uuid}", json={"data": {"attributes": {"status-id": "ma"}}})
    assert response.status_code == 200
    attributes = response.json()["data"]["attributes"]
    assert attributes["status-id"] == "ma" and attributes["subject"] == "Loose cable"
    history = client.get(f"{TICKETS}/{uuid}/journals", params={"filter": 3}).json()["data"]
    change = history[-1]["attributes"]["details"]
    assert change == [{"prop-key": "status_id", "old-value": "lm", "value": "ma"}]


def test_update_with_invalid_value_gets_422_and_unknown_ticket_404(
    app: Starlette, client: TestClient
) -> None:
    uuid = next(t.uuid for t in app.state.sandbox.tickets.values() if t.project_id == LINDEN)
    bad = client.put(f"{TICKETS}/{uuid}", json={"data": {"attributes": {"progress": "half"}}})
    assert bad.status_code == 422 and first_error(bad)["title"] == "Ticket Not Updated"
    missing = client.put(
        f"{TICKETS}/00000000-0000-4000-8000-000000000000",
        json={"data": {"attributes": {"progress": 5}}},
    )
    assert missing.status_code == 404


# ------------------------------------------------------------------ pictures and history


def image_path(ticket_uuid: str, image_uuid: str, project: str = LINDEN) -> str:
    return f"{V1}/projects/{project}/tickets/{ticket_uuid}/ticket_images/{image_uuid}"


def test_picture_is_listed_as_attachment_and_downloadable(client: TestClient) -> None:
    uuid = client.post(TICKETS, json=new_ticket()).json()["data"]["attributes"]["uuid"]
    image_uuid = "8f1c50d8-96d3-4b54-bb5f-1145eeccb7bb"
    body = {"file": PNG, "file-name": "crack.png", "caption": "North wall"}
    created = client.post(image_path(uuid, image_uuid), json={"data": {"attributes": body}})
    assert created.status_code == 201
    image = created.json()["data"]["attributes"]
    assert image["uuid"] == image_uuid and image["image-content-type"] == "image/png"
    listed = client.get(f"{TICKETS}/{uuid}/attachments", params={"types[]": "images"}).json()
    assert [a["attributes"]["uuid"] for a in listed["data"]] == [image_uuid]
    assert listed["data"][0]["attributes"]["attachable-type"] == "images"
    download = client.get(image["image-url"])
    assert download.status_code == 200 and download.content == base64.b64decode(PNG)
    media = client.get(f"{TICKETS}/{uuid}/journals", params={"filter": 2}).json()["data"]
    assert len(media) == 1


def test_attachments_take_the_documented_parameters(client: TestClient) -> None:
    uuid = client.post(TICKETS, json=new_ticket()).json()["data"]["attributes"]["uuid"]
    body = {"data": {"attributes": {"file": PNG, "file-name": "a.png"}}}
    client.post(image_path(uuid, "8f1c50d8-96d3-4b54-bb5f-1145eeccb7bb"), json=body)
    path = f"{TICKETS}/{uuid}/attachments"
    listed = client.get(path, params={"only_ticket_attachments": "true", "types[]": "images"})
    assert len(listed.json()["data"]) == 1
    assert client.get(path, params={"types[]": "documents"}).json()["data"] == []
    refused = client.get(path, params={"only_ticket_attachments": "maybe"})
    assert refused.status_code == 400


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"file": "%%%not base64%%%"}, "file"),
        ({}, "file"),
        ({"file": PNG, "caption": "x" * 256}, "caption"),
        ({"file": PNG, "file-content-type": "application/pdf"}, "file-content-type"),
        ({"file": PNG, "image-type": 2}, "image-type"),
    ],
)
def test_invalid_picture_gets_422(
    app: Starlette, client: TestClient, attributes: dict[str, Any], pointer: str
) -> None:
    uuid = next(t.uuid for t in app.state.sandbox.tickets.values() if t.project_id == LINDEN)
    path = image_path(uuid, "8f1c50d8-96d3-4b54-bb5f-1145eeccb7bb")
    response = client.post(path, json={"data": {"attributes": attributes}})
    assert response.status_code == 422
    assert first_error(response)["source"]["pointer"] == f"/data/attributes/{pointer}"


def test_picture_for_unknown_ticket_gets_404(client: TestClient) -> None:
    path = image_path(
        "00000000-0000-4000-8000-000000000000", "8f1c50d8-96d3-4b54-bb5f-1145eeccb7bb"
    )
    response = client.post(path, json={"data": {"attributes": {"file": PNG}}})
    assert response.status_code == 404


def test_comment_is_a_type_1_journal(client: TestClient) -> None:
    uuid = client.post(TICKETS, json=new_ticket()).json()["data"]["attributes"]["uuid"]
    body = {"data": {"attributes": {"comment": "Contractor called."}}}
    assert client.post(f"{TICKETS}/{uuid}/comment", json=body).status_code == 201
    comments = client.get(f"{TICKETS}/{uuid}/journals", params={"filter": 1}).json()["data"]
    assert [c["attributes"]["notes"] for c in comments] == ["Contractor called."]
    empty = client.post(f"{TICKETS}/{uuid}/comment", json={"data": {"attributes": {"comment": ""}}})
    assert empty.status_code == 422


def test_project_journals_take_iso_date_and_prop_keys() -> None:
    clock = Clock(1_800_000_000.0)
    client = client_for(create_app(rate_limit=10_000, clock=clock))
    uuid = client.post(TICKETS, json=new_ticket()).json()["data"]["attributes"]["uuid"]
    clock.now += 60
    client.put(f"{TICKETS}/{uuid}", json={"data": {"attributes": {"subject": "Renamed"}}})
    client.put(f"{TICKETS}/{uuid}", json={"data": {"attributes": {"status-id": "gk"}}})
    since = "2027-01-15T08:01:00Z"  # 1_800_000_060
    entries = client.get(f"{TICKETS}/journals", params={"last_sync_date": since}).json()["data"]
    assert len(entries) == 2 and {e["attributes"]["ticket-uuid"] for e in entries} == {uuid}
    status_only = client.get(
        f"{TICKETS}/journals",
        params={"last_sync_date": since, "prop_keys": "status_id,assigned_to_id"},
    ).json()["data"]
    assert [e["attributes"]["details"][0]["value"] for e in status_only] == ["gk"]
    paged = client.get(f"{TICKETS}/journals", params={"pagesize": 1000}).json()
    assert len(paged["data"]) == 100 and paged["meta"]["count"] > 100


# ------------------------------------------------------------------ rate limit


@pytest.fixture
def clock() -> Clock:
    return Clock(1_750_000_000.0)


def test_31st_call_in_a_minute_gets_429_with_retry_after(clock: Clock) -> None:
    client = client_for(create_app(clock=clock))
    for _ in range(30):
        assert client.get(f"{V2}/projects").status_code == 200
    refused = client.get(f"{V2}/projects")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "300"
    assert first_error(refused)["title"] == "Too Many Requests"


def test_budget_is_shared_by_all_tokens_of_the_account(clock: Clock) -> None:
    app = create_app(clock=clock)
    holder, integration = client_for(app), client_for(app, INTEGRATION_TOKEN)
    for _ in range(15):
        assert holder.get(f"{V2}/projects").status_code == 200
        assert integration.get(f"{V2}/projects").status_code == 200
    assert integration.get(f"{V2}/projects").status_code == 429
    assert holder.get(f"{V2}/projects").status_code == 429


def test_cooldown_rejects_until_it_ends_then_the_budget_is_fresh(clock: Clock) -> None:
    # A cooldown shorter than the window: the calls before it must not count afterwards.
    client = client_for(create_app(clock=clock, cooldown=30))
    for _ in range(31):
        client.get(f"{V2}/projects")
    clock.now += 29.5
    waiting = client.get(f"{V2}/projects")
    assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "1"
    clock.now += 0.5
    for _ in range(30):
        assert client.get(f"{V2}/projects").status_code == 200
    assert client.get(f"{V2}/projects").status_code == 429


def test_retry_after_can_be_omitted(clock: Clock) -> None:
    client = client_for(create_app(clock=clock, retry_after=False, rate_limit=1))
    client.get(f"{V2}/projects")
    refused = client.get(f"{V2}/projects")
    assert refused.status_code == 429 and "Retry-After" not in refused.headers


def test_without_cooldown_the_window_slides(clock: Clock) -> None:
    client = client_for(create_app(clock=clock, cooldown=0, rate_limit=2, rate_window=10))
    client.get(f"{V2}/projects")
    clock.now += 4
    client.get(f"{V2}/projects")
    refused = client.get(f"{V2}/projects")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "6"
    clock.now += 6
    assert client.get(f"{V2}/projects").status_code == 200


def test_unauthenticated_calls_do_not_spend_the_budget(clock: Clock) -> None:
    app = create_app(clock=clock, rate_limit=1)
    for _ in range(5):
        assert client_for(app, "wrong").get(f"{V2}/projects").status_code == 401
    assert client_for(app).get(f"{V2}/projects").status_code == 200


# ------------------------------------------------------------------ webhook management


def webhook(target: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A webhook body for ``ticket.created`` to ``target``, with ``extra`` attributes."""
    body = {"target-url": target, "events": ["ticket.created"], **(extra or {})}
    return {"data": {"attributes": body}}


def add_webhook(client: TestClient | httpx.Client, body: dict[str, Any]) -> str:
    """Create a webhook; return its id."""
    response = client.post(f"{V1}/webhooks", json=body)
    assert response.status_code == 201
    hook_id: str = response.json()["data"]["id"]
    return hook_id


def test_webhook_secrets_are_never_shown_again(client: TestClient) -> None:
    headers = [
        {"name": "X-Tenant", "value": "demo", "hidden": False},
        {"name": "X-Secret", "value": "s3cr3t", "hidden": True},
    ]
    secrets = {"auth-username": "hook", "auth-password": "pa55", "headers": headers}
    body = webhook("https://example.test/hook", secrets)
    created = client.post(f"{V1}/webhooks", json=body)
    assert created.status_code == 201
    hook_id = created.json()["data"]["id"]
    for shown in (
        created.json()["data"],
        client.get(f"{V1}/webhooks/{hook_id}").json()["data"],
        client.get(f"{V1}/webhooks").json()["data"][0],
    ):
        attributes = shown["attributes"]
        assert attributes["auth-username"] == "hook" and attributes["auth-password"] == "********"
        assert [h["value"] for h in attributes["headers"]] == ["demo", "********"]
        assert "pa55" not in str(shown) and "s3cr3t" not in str(shown)


def test_only_the_account_holder_manages_webhooks(app: Starlette) -> None:
    response = client_for(app, INTEGRATION_TOKEN).get(f"{V1}/webhooks")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"target-url": "ftp://example.test/x"}, "target-url"),
        ({"events": ["ticket.deleted"]}, "events"),
        ({"events": []}, "events"),
        ({"project-ids": ["nope"]}, "project-ids"),
        ({"auth-username": "only-user"}, "auth-username"),
        ({"headers": [{"name": "Content-Type", "value": "text/plain"}]}, "headers"),
        ({"headers": [{"name": "Bad Name", "value": "x"}]}, "headers"),
    ],
)
def test_invalid_webhook_gets_422(
    client: TestClient, attributes: dict[str, Any], pointer: str
) -> None:
    body = webhook("https://example.test/hook")
    body["data"]["attributes"].update(attributes)
    response = client.post(f"{V1}/webhooks", json=body)
    assert response.status_code == 422
    assert first_error(response)["source"]["pointer"] == f"/data/attributes/{pointer}"


def test_webhooks_can_be_configured_when_the_app_is_made() -> None:
    configured = {
        "target-url": "https://hooks.example.test/planradar",
        "events": ["ticket.created"],
        "project-ids": [LINDEN],
        "auth-username": "planradar",
        "auth-password": "pa55",
    }
    app = create_app(rate_limit=10_000, webhooks=[configured])
    (webhook,) = app.state.sandbox.webhooks.values()
    assert (webhook.target_url, webhook.events, webhook.password) == (
        "https://hooks.example.test/planradar",
        ("ticket.created",),
        "pa55",
    )
    listed = client_for(app).get(f"{V1}/webhooks").json()["data"]
    assert listed[0]["attributes"]["auth-password"] == "********"
    with pytest.raises(ConfigurationError, match="option webhooks: events must be"):
        create_app(webhooks=[{**configured, "events": ["ticket.deleted"]}])


def test_deleted_webhook_is_gone(app: Starlette, client: TestClient) -> None:
    hook_id = add_webhook(client, webhook("https://example.test/h"))
    assert client.delete(f"{V1}/webhooks/{hook_id}").status_code == 204
    assert client.get(f"{V1}/webhooks/{hook_id}").status_code == 404
    assert client.delete(f"{V1}/webhooks/{hook_id}").status_code == 404


# ------------------------------------------------------------------ webhook delivery


class Receiver:
    """A tiny webhook receiver that records requests and fails the first ``failures``."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []

    async def hook(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.json()))
        status = 503 if len(self.requests) <= self.failures else 204
        return JSONResponse({}, status_code=status) if status != 204 else Response(status_code=204)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])


@pytest.fixture
def served() -> Iterator[Callable[..., tuple[str, httpx.Client, Starlette]]]:
    """Serve a sandbox for real; yield a factory taking create_app options."""
    stack: list[Any] = []

    def serve(**options: Any) -> tuple[str, httpx.Client, Starlette]:
        app = create_app(rate_limit=10_000, webhook_backoff=0.01, **options)
        context = running(app)
        base = context.__enter__()
        stack.append(context)
        client = httpx.Client(base_url=base, headers={KEY: DEMO_TOKEN})
        stack.append(client)
        return base, client, app

    yield serve
    for item in reversed(stack):
        if isinstance(item, httpx.Client):
            item.close()
        else:
            item.__exit__(None, None, None)


def settle(app: Starlette, count: int = 1) -> list[Any]:
    """Wait until ``count`` deliveries are no longer pending; return them."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        deliveries = app.state.sandbox.deliveries
        if len(deliveries) >= count and all(d.status != "pending" for d in deliveries):
            return list(deliveries)
        time.sleep(0.01)
    raise AssertionError(f"deliveries did not settle: {app.state.sandbox.deliveries}")


def test_event_is_posted_with_basic_auth_and_headers(served: Any) -> None:
    receiver = Receiver()
    with running(receiver.app()) as receiver_url:
        _, client, app = served()
        headers = [{"name": "X-Shared-Secret", "value": "s3cr3t", "hidden": True}]
        secrets = {"auth-username": "planradar", "auth-password": "pa55", "headers": headers}
        add_webhook(client, webhook(f"{receiver_url}/hook", secrets))
        created = client.post(TICKETS, json=new_ticket(subject="Door does not lock"))
        assert created.status_code == 201
        [delivery] = settle(app)
    assert delivery.status == "delivered"
    [(request_headers, payload)] = receiver.requests
    expected_auth = "Basic " + base64.b64encode(b"planradar:pa55").decode()
    assert request_headers["authorization"] == expected_auth
    assert request_headers["x-shared-secret"] == "s3cr3t"
    assert request_headers["content-type"] == "application/json"
    uuid = created.json()["data"]["attributes"]["uuid"]
    assert payload["event"] == "ticket.created"
    assert payload["customer_id"] == CUSTOMER_ID and payload["project_id"] == LINDEN
    assert payload["ticket_uuid"] == uuid
    assert payload["occurred_at"].endswith("Z")
    assert payload["data"]["type"] == "tickets"
    assert payload["data"]["attributes"]["subject"] == "Door does not lock"


def test_delivery_is_retried_until_the_receiver_recovers(served: Any) -> None:
    receiver = Receiver(failures=2)
    with running(receiver.app()) as receiver_url:
        _, client, app = served(webhook_retries=3)
        add_webhook(client, webhook(f"{receiver_url}/hook"))
        client.post(TICKETS, json=new_ticket())
        [delivery] = settle(app)
    assert delivery.status == "delivered"
    assert [a.status_code for a in delivery.attempts] == [503, 503, 204]
    assert len(receiver.requests) == 3
    assert receiver.requests[0][1] == receiver.requests[2][1]


def test_unreachable_receiver_fails_after_all_retries(served: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, client, app = served(webhook_retries=2)
    add_webhook(client, webhook(f"http://127.0.0.1:{port}/hook"))
    client.post(TICKETS, json=new_ticket())
    [delivery] = settle(app)
    assert delivery.status == "failed"
    assert len(delivery.attempts) == 3
    assert all(a.status_code is None and a.error for a in delivery.attempts)


def test_only_matching_events_and_projects_are_delivered(served: Any) -> None:
    receiver = Receiver()
    with running(receiver.app()) as receiver_url:
        _, client, app = served()
        events = ["ticket.updated", "ticket.image_attached"]
        add_webhook(
            client, webhook(f"{receiver_url}/hook", {"events": events, "project-ids": [HARBOUR]})
        )
        client.post(TICKETS, json=new_ticket())
        harbour = f"{V2}/projects/{HARBOUR}/tickets"
        created = client.post(harbour, json=new_ticket(**{"component-id": "qdm"})).json()["data"]
        uuid = created["attributes"]["uuid"]
        client.put(f"{harbour}/{uuid}", json={"data": {"attributes": {"progress": 50}}})
        image_uuid = "2d1f0c3b-5a4e-4f6d-8e7c-9b0a1c2d3e4f"
        picture = {"data": {"attributes": {"file": PNG, "file-name": "a.png"}}}
        client.post(image_path(uuid, image_uuid, HARBOUR), json=picture)
        deliveries = settle(app, 2)
    assert sorted(d.event for d in deliveries) == ["ticket.image_attached", "ticket.updated"]
    received = {payload["event"]: payload for _, payload in receiver.requests}
    update, image = received["ticket.updated"], received["ticket.image_attached"]
    assert update["data"]["attributes"]["progress"] == 50
    assert image["image"]["attributes"]["uuid"] == image_uuid
    assert image["ticket_uuid"] == uuid and image["project_id"] == HARBOUR


def test_delivery_log_is_readable_through_the_api(served: Any) -> None:
    receiver = Receiver(failures=1)
    with running(receiver.app()) as receiver_url:
        _, client, app = served()
        hook_id = add_webhook(client, webhook(f"{receiver_url}/hook"))
        client.post(TICKETS, json=new_ticket())
        settle(app)
        log = client.get(f"{V1}/webhooks/{hook_id}/deliveries").json()
    [entry] = log["data"]
    assert entry["attributes"]["status"] == "delivered"
    assert [a["status-code"] for a in entry["attributes"]["attempts"]] == [503, 204]


def test_shutdown_cancels_pending_deliveries() -> None:
    receiver = Receiver(failures=100)
    app = create_app(rate_limit=10_000, webhook_backoff=30)
    with running(receiver.app()) as receiver_url:
        with running(app) as base, httpx.Client(base_url=base, headers={KEY: DEMO_TOKEN}) as client:
            add_webhook(client, webhook(f"{receiver_url}/hook"))
            client.post(TICKETS, json=new_ticket())
            deadline = time.monotonic() + 10
            while not app.state.sandbox.deliveries[0].attempts and time.monotonic() < deadline:
                time.sleep(0.01)
        [delivery] = app.state.sandbox.deliveries
    assert delivery.status == "cancelled"
    assert len(delivery.attempts) == 1
