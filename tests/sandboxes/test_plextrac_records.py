"""The PlexTrac sandbox: clients, reports and findings, v1 rows, v2 pages, and permissions.

Written against PlexTrac's documented behaviour (docs/sandboxes/plextrac.md), not a spec.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from hookline.connectors.plextrac.sandbox import create_app
from tests.sandboxes.plextrac_errors import assert_error

with warnings.catch_warnings():
    # starlette asks for the httpx2 package; the installed httpx works the same for tests.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

CLIENT, OTHER_CLIENT, ADMIN_ONLY_CLIENT = 1001, 1002, 1003
REPORT = 500001  # of CLIENT
FINDINGS = f"/api/v1/client/{CLIENT}/report/{REPORT}"


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(auth_rate_limit=None))


def headers_for(client: TestClient, username: str = "demo@example.com") -> dict[str, str]:
    response = client.post(
        "/api/v1/authenticate", json={"username": username, "password": "plextrac-demo"}
    )
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    return headers_for(client)


def state(client: TestClient) -> Any:
    return client.app.state.sandbox  # type: ignore[attr-defined]


def new_finding(**changes: Any) -> dict[str, Any]:
    body = {
        "title": "Exposed Admin Console",
        "severity": "High",
        "description": '<p>The console at <a href="https://10.0.0.9/admin">/admin</a> is open.</p>',
    }
    return {**body, **changes}


# --- seed -------------------------------------------------------------------------------------


def test_seed_has_three_clients_five_reports_and_fifty_findings(client: TestClient) -> None:
    sandbox = state(client)
    assert len(sandbox.clients) == 3
    assert len(sandbox.reports) == 5
    assert len(sandbox.findings) == 50


def test_seed_is_deterministic_per_seed() -> None:
    def snapshot(seed: int) -> list[Any]:
        sandbox = create_app(seed=seed).state.sandbox
        return [sandbox.clients, sandbox.reports, sandbox.findings, sandbox.assessments]

    assert snapshot(0) == snapshot(0)
    assert snapshot(0) != snapshot(1)


# --- clients ----------------------------------------------------------------------------------


def test_v1_client_list_is_rows_of_id_name_null(client: TestClient, admin: dict[str, str]) -> None:
    rows = client.get("/api/v1/client/list", headers=admin).json()
    assert len(rows) == 3
    first = rows[0]
    name = state(client).clients[CLIENT]["name"]
    assert first == {"id": f"client_{CLIENT}", "doc_id": [CLIENT], "data": [CLIENT, name, None]}


def test_get_client_has_every_documented_field(client: TestClient, admin: dict[str, str]) -> None:
    body = client.get(f"/api/v1/client/{CLIENT}", headers=admin).json()
    for key in (
        "client_id", "classificationId", "custom_field", "description", "doc_type", "name",
        "poc", "poc_email", "role", "tenant_id", "users", "tags", "cuid", "logo",
    ):  # fmt: skip
        assert key in body
    assert body["doc_type"] == "client" and body["role"] == "ADMIN"
    assert body["users"]["std.user@example.com"] == {"role": "STD_USER", "classificationId": None}


def clients_page(client: TestClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    result: httpx.Response = client.post("/api/v2/clients", headers=headers, json=body)
    return result


def test_v2_clients_page_has_meta_pagination_total(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = clients_page(
        client, admin, pagination={"offset": 1, "limit": 5}, sort=[{"by": "name", "order": "ASC"}]
    ).json()
    names = sorted(c["name"] for c in state(client).clients.values())
    assert body["status"] == "success"
    assert [c["name"] for c in body["data"]] == names[1:]
    assert body["meta"]["pagination"] == {"offset": 1, "limit": 5, "total": 3}
    assert body["meta"]["sort"] == [{"by": "name", "order": "ASC"}]


@pytest.mark.parametrize("limit", [1, 10, 1000, "25"])
def test_v2_clients_rejects_limits_outside_the_allowed_set(
    client: TestClient, admin: dict[str, str], limit: Any
) -> None:
    message = assert_error(
        clients_page(client, admin, pagination={"offset": 0, "limit": limit}), 400
    )
    assert message == '"pagination.limit" must be one of [5, 25, 50, 100]'


def test_v2_lists_require_pagination(client: TestClient, admin: dict[str, str]) -> None:
    assert assert_error(clients_page(client, admin), 400) == '"pagination" is required'


def test_v2_clients_filter_by_tags(client: TestClient, admin: dict[str, str]) -> None:
    tag = state(client).clients[OTHER_CLIENT]["tags"][0]
    body = clients_page(
        client,
        admin,
        pagination={"offset": 0, "limit": 5},
        filters=[{"by": "tags", "value": [tag]}],
    ).json()
    assert OTHER_CLIENT in [c["client_id"] for c in body["data"]]
    assert all(tag in c["tags"] for c in body["data"])
    assert body["meta"]["pagination"]["total"] == len(body["data"])


def test_v2_list_rejects_unknown_sort_and_filter_names(
    client: TestClient, admin: dict[str, str]
) -> None:
    page = {"offset": 0, "limit": 5}
    bad_sort = clients_page(client, admin, pagination=page, sort=[{"by": "colour", "order": "ASC"}])
    assert_error(bad_sort, 400)
    bad_order = clients_page(client, admin, pagination=page, sort=[{"by": "name", "order": "UP"}])
    assert_error(bad_order, 400)
    bad_filter = clients_page(client, admin, pagination=page, filters=[{"by": "x", "value": 1}])
    assert_error(bad_filter, 400)


def test_create_client_assigns_creator_and_default_group(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {
        "name": "Acme Corp",
        "poc": "Pat",
        "poc_email": "pat@acme.example",
        "description": "New client",
        "custom_field": [{"label": "Region", "value": "EMEA"}],
        "tags": ["onboarding"],
        "users": {
            "analyst@example.com": {"role": "ANALYST", "classificationId": None},
            "ghost@example.com": {"role": "STD_USER"},
        },
    }
    response = client.post("/api/v1/client/create", headers=admin, json=body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "success" and isinstance(answer["client_id"], int)
    assign = answer["assign_message"]
    assert set(assign["users_assigned"]) == {
        "demo@example.com", "mfa@example.com", "analyst@example.com"
    }  # fmt: skip
    assert assign["users_rejected"] == ["ghost@example.com"]
    stored = client.get(f"/api/v1/client/{answer['client_id']}", headers=admin).json()
    assert stored["custom_field"] == [{"label": "Region", "value": "EMEA"}]
    assert stored["users"]["analyst@example.com"]["role"] == "ANALYST"
    assert stored["tenant_id"] == 7 and stored["doc_type"] == "client"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, '"name" is required'),
        ({"name": "  "}, '"name" is not allowed to be empty'),
        ({"name": "X", "role": "OWNER"}, '"role" must be one of [ADMIN, STD_USER, ANALYST]'),
        ({"name": "X", "custom_field": [{"label": "a"}]}, None),
        ({"name": "X", "tags": "pci"}, '"tags" must be an array of strings'),
        ({"name": "X", "users": {"a@b.c": {"role": "BOSS"}}}, None),
    ],
)
def test_create_client_validates_fields(
    client: TestClient, admin: dict[str, str], body: dict[str, Any], message: str | None
) -> None:
    got = assert_error(client.post("/api/v1/client/create", headers=admin, json=body), 400)
    if message is not None:
        assert got == message
    assert len(state(client).clients) == 3


def test_update_client_merges_fields(client: TestClient, admin: dict[str, str]) -> None:
    before = client.get(f"/api/v1/client/{CLIENT}", headers=admin).json()
    edited = {k: v for k, v in before.items() if k not in ("client_id", "cuid", "users")}
    edited["tags"] = ["renamed"]
    response = client.put(f"/api/v1/client/{CLIENT}", headers=admin, json=edited)
    assert response.json() == {"status": "success", "message": "Client updated successfully."}
    after = client.get(f"/api/v1/client/{CLIENT}", headers=admin).json()
    assert after["tags"] == ["renamed"]
    assert after["users"] == before["users"] and after["client_id"] == CLIENT


def test_delete_client_removes_its_reports_and_findings(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.delete(f"/api/v1/client/{CLIENT}", headers=admin)
    assert response.json() == {"status": "success", "message": "client deleted successfully"}
    sandbox = state(client)
    assert CLIENT not in sandbox.clients
    assert all(r["client_id"] != CLIENT for r in sandbox.reports.values())
    assert all(f["client_id"] != CLIENT for f in sandbox.findings.values())
    assert_error(client.get(f"/api/v1/client/{CLIENT}", headers=admin), 404)


# --- permissions ------------------------------------------------------------------------------


def test_users_see_only_their_clients(client: TestClient) -> None:
    analyst = headers_for(client, "analyst@example.com")
    rows = client.get("/api/v1/client/list", headers=analyst).json()
    assert [r["doc_id"] for r in rows] == [[CLIENT]]
    assert client.get(f"/api/v1/client/{CLIENT}", headers=analyst).json()["role"] == "ANALYST"
    assert_error(client.get(f"/api/v1/client/{ADMIN_ONLY_CLIENT}", headers=analyst), 403)


def test_analyst_is_read_only(client: TestClient) -> None:
    analyst = headers_for(client, "analyst@example.com")
    assert client.get(f"{FINDINGS}/flaws", headers=analyst).status_code == 200
    assert_error(client.post(f"{FINDINGS}/flaw/create", headers=analyst, json=new_finding()), 403)
    create = client.post(
        f"/api/v1/client/{CLIENT}/report/create", headers=analyst, json={"name": "R"}
    )
    assert_error(create, 403)
    assert_error(client.post("/api/v1/client/create", headers=analyst, json={"name": "N"}), 403)


def test_standard_user_writes_findings_but_not_the_client(client: TestClient) -> None:
    std = headers_for(client, "std.user@example.com")
    assert (
        client.post(f"{FINDINGS}/flaw/create", headers=std, json=new_finding()).status_code == 200
    )
    assert_error(client.delete(f"/api/v1/client/{CLIENT}", headers=std), 403)
    assert_error(client.put(f"/api/v1/client/{CLIENT}", headers=std, json={"name": "Mine"}), 403)


def test_missing_client_is_404(client: TestClient, admin: dict[str, str]) -> None:
    assert assert_error(client.get("/api/v1/client/4242", headers=admin), 404) == "Client not found"


# --- reports ----------------------------------------------------------------------------------


def test_v1_report_rows_have_documented_positions(
    client: TestClient, admin: dict[str, str]
) -> None:
    rows = client.get(f"/api/v1/client/{CLIENT}/reports", headers=admin).json()
    assert [r["id"] for r in rows] == [500001, 500002]
    report = state(client).reports[REPORT]
    data = rows[0]["data"]
    assert data[0] == REPORT and data[1] == report["name"] and data[2] is None
    assert data[3] == report["status"] and data[4] == 10
    assert data[5] == report["operators"] and data[6] == report["reviewers"]
    assert data[7] == report["created_at"] and data[8].endswith("Z") and data[9].endswith("Z")
    assert data[10] == report["tags"] and data[11] == report["template"]
    assert data[12] == report["fields_template"]


def reports_page(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    page: dict[str, Any] = client.post("/api/v2/reports", headers=headers, json=body).json()
    return page


def test_v2_reports_filter_by_clients_and_page_by_records(
    client: TestClient, admin: dict[str, str]
) -> None:
    filters = [{"by": "clients", "value": [CLIENT, OTHER_CLIENT]}]
    everything = reports_page(client, admin, pagination={"offset": 0, "limit": 10}, filters=filters)
    assert everything["meta"]["pagination"]["total"] == 4
    second = reports_page(client, admin, pagination={"offset": 1, "limit": 5}, filters=filters)
    assert [r["id"] for r in second["data"]] == [r["id"] for r in everything["data"]][1:]
    assert everything["data"][0]["findings"] == 10


def test_v2_reports_only_cover_the_callers_clients(client: TestClient) -> None:
    analyst = headers_for(client, "analyst@example.com")
    page = reports_page(client, analyst, pagination={"offset": 0, "limit": 5})
    assert {r["client_id"] for r in page["data"]} == {CLIENT}
    assert page["meta"]["pagination"]["total"] == 2


def test_create_update_and_delete_a_report(client: TestClient, admin: dict[str, str]) -> None:
    created = client.post(
        f"/api/v1/client/{CLIENT}/report/create",
        headers=admin,
        json={"name": "Retest", "status": "Draft", "tags": ["retest"]},
    ).json()
    report_id = created["report_id"]
    assert created == {
        "message": "success",
        "doc_id": f"report_{report_id}_client_{CLIENT}",
        "report_id": report_id,
    }
    path = f"/api/v1/client/{CLIENT}/report/{report_id}"
    updated = client.put(path, headers=admin, json={"status": "In Review"}).json()
    assert updated["status"] == "success" and updated["message"] == "Report Updated Successfully"
    assert updated["data"]["status"] == "In Review" and updated["data"]["name"] == "Retest"
    assert client.delete(path, headers=admin).json() == {"status": "success", "data": True}
    assert_error(client.get(path, headers=admin), 404)


def test_report_needs_a_name_and_a_known_status(client: TestClient, admin: dict[str, str]) -> None:
    path = f"/api/v1/client/{CLIENT}/report/create"
    assert assert_error(client.post(path, headers=admin, json={}), 400) == '"name" is required'
    assert_error(client.post(path, headers=admin, json={"name": "R", "status": "Done"}), 400)


def test_report_of_another_client_is_404(client: TestClient, admin: dict[str, str]) -> None:
    assert_error(client.get(f"/api/v1/client/{OTHER_CLIENT}/report/{REPORT}", headers=admin), 404)


# --- findings ---------------------------------------------------------------------------------


def test_v1_finding_rows_have_documented_positions(
    client: TestClient, admin: dict[str, str]
) -> None:
    rows = client.get(f"{FINDINGS}/flaws", headers=admin).json()
    assert len(rows) == 10
    row = rows[0]
    finding = state(client).findings[(REPORT, row["data"][0])]
    assert isinstance(row["id"], str) and row["doc_id"] == [str(finding["flaw_id"])]
    assert row["data"][1:4] == [finding["severity"], finding["title"], finding["status"]]
    assert row["data"][10] in ("draft", "published")


def findings_page(client: TestClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    result: httpx.Response = client.post(
        f"/api/v2/clients/{CLIENT}/reports/{REPORT}/findings", headers=headers, json=body
    )
    return result


def test_v2_findings_offset_counts_records(client: TestClient, admin: dict[str, str]) -> None:
    sort = [{"by": "title", "order": "ASC"}]
    full = findings_page(client, admin, pagination={"offset": 0, "limit": 50}, sort=sort).json()
    titles = [f["title"] for f in full["data"]]
    assert titles == sorted(titles, key=str.lower) and len(titles) == 10
    page = findings_page(client, admin, pagination={"offset": 3, "limit": 1}, sort=sort).json()
    assert [f["title"] for f in page["data"]] == titles[3:4]
    assert page["meta"]["pagination"] == {"offset": 3, "limit": 1, "total": 10}
    assert page["meta"]["flawIds"] == [page["data"][0]["flaw_id"]]


def test_v2_findings_past_the_end_is_an_empty_page(
    client: TestClient, admin: dict[str, str]
) -> None:
    page = findings_page(client, admin, pagination={"offset": 10, "limit": 10}).json()
    assert page["data"] == [] and page["meta"]["pagination"]["total"] == 10


def test_v2_findings_limit_set(client: TestClient, admin: dict[str, str]) -> None:
    for limit in (1, 10, 50, 100, 99999):
        assert (
            findings_page(client, admin, pagination={"offset": 0, "limit": limit}).status_code
            == 200
        )
    message = assert_error(findings_page(client, admin, pagination={"offset": 0, "limit": 25}), 400)
    assert message == '"pagination.limit" must be one of [1, 10, 50, 100, 99999]'


def test_v2_findings_filter_by_severity_and_sort_by_severity(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = findings_page(
        client,
        admin,
        pagination={"offset": 0, "limit": 50},
        filters=[{"by": "severity", "value": ["Critical", "High"]}],
        sort=[{"by": "severity", "order": "ASC"}],
    ).json()
    severities = [f["severity"] for f in body["data"]]
    assert set(severities) <= {"Critical", "High"} and severities
    assert severities == sorted(severities, key=["Critical", "High"].index)
    expected = sum(
        1 for f in state(client).findings_of(REPORT) if f["severity"] in ("Critical", "High")
    )
    assert body["meta"]["pagination"]["total"] == expected


def test_v2_findings_filter_by_created_range(client: TestClient, admin: dict[str, str]) -> None:
    created = state(client).findings_of(REPORT)[4]["createdAt"]
    body = findings_page(
        client,
        admin,
        pagination={"offset": 0, "limit": 10},
        filters=[{"by": "createdAt", "value": {"start": created, "end": created}}],
    ).json()
    assert [f["createdAt"] for f in body["data"]] == [created]


@pytest.mark.parametrize(
    "clause",
    [
        {"by": "createdAt", "value": "yesterday"},
        {"by": "createdAt", "value": {"start": "2025-01-01"}},
        {"by": "findingTags", "value": [{"name": "web"}]},
        {"by": "severity"},
    ],
)
def test_v2_findings_rejects_malformed_filter_values(
    client: TestClient, admin: dict[str, str], clause: dict[str, Any]
) -> None:
    page = {"offset": 0, "limit": 10}
    assert_error(findings_page(client, admin, pagination=page, filters=[clause]), 400)


def test_client_findings_span_its_reports(client: TestClient, admin: dict[str, str]) -> None:
    body = client.post(
        f"/api/v2/client/{CLIENT}/findings",
        headers=admin,
        json={"pagination": {"offset": 0, "limit": 50}},
    ).json()
    assert body["meta"]["pagination"]["total"] == 20
    assert {f["report_id"] for f in body["data"]} == {500001, 500002}


def test_seeded_descriptions_are_ckeditor_html(client: TestClient) -> None:
    descriptions = [f["description"] for f in state(client).findings.values()]
    assert all(d.startswith("<p>") and d.endswith("</p>") for d in descriptions)


def test_create_finding_returns_title_hash_id(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(f"{FINDINGS}/flaw/create", headers=admin, json=new_finding(tags=["web"]))
    assert response.status_code == 200
    flaw_id = int(hashlib.sha256(b"Exposed Admin Console").hexdigest(), 16) % 10**8
    assert response.json() == {"message": "success", "flaw_id": flaw_id}
    stored = client.get(f"{FINDINGS}/flaw/{flaw_id}", headers=admin).json()
    assert stored["status"] == "Open" and stored["visibility"] == "draft"
    assert stored["doc_type"] == "flaw" and stored["report_id"] == REPORT
    assert stored["description"].startswith("<p>The console at <a href=")
    assert stored["tags"] == ["web"] and stored["severity_key"] == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": None}, '"title" is required'),
        ({"severity": None}, '"severity" is required'),
        ({"description": None}, '"description" is required'),
        ({"severity": "Severe"}, None),
        ({"status": "Done"}, None),
        ({"visibility": "public"}, None),
        ({"tags": [1, 2]}, '"tags" must be an array of strings'),
    ],
)
def test_create_finding_validates_required_and_enumerated_fields(
    client: TestClient, admin: dict[str, str], changes: dict[str, Any], message: str | None
) -> None:
    body = {k: v for k, v in new_finding(**changes).items() if v is not None}
    got = assert_error(client.post(f"{FINDINGS}/flaw/create", headers=admin, json=body), 400)
    if message is not None:
        assert got == message
    assert len(state(client).findings) == 50


def test_finding_titles_are_unique_within_a_report(
    client: TestClient, admin: dict[str, str]
) -> None:
    existing = state(client).findings_of(REPORT)[0]
    duplicate = new_finding(title=existing["title"])
    assert_error(client.post(f"{FINDINGS}/flaw/create", headers=admin, json=duplicate), 409)
    report_id = client.post(
        f"/api/v1/client/{CLIENT}/report/create", headers=admin, json={"name": "Fresh"}
    ).json()["report_id"]
    elsewhere = f"/api/v1/client/{CLIENT}/report/{report_id}/flaw/create"
    response = client.post(elsewhere, headers=admin, json=duplicate)
    assert response.json()["flaw_id"] == existing["flaw_id"]


def test_update_finding_replaces_the_whole_object(
    client: TestClient, admin: dict[str, str]
) -> None:
    flaw_id = client.post(
        f"{FINDINGS}/flaw/create",
        headers=admin,
        json=new_finding(tags=["web"], recommendations="<p>Lock it down.</p>"),
    ).json()["flaw_id"]
    path = f"{FINDINGS}/flaw/{flaw_id}"
    created = client.get(path, headers=admin).json()
    response = client.put(path, headers=admin, json=new_finding(severity="Critical"))
    assert response.json() == {"message": "success", "flaw_id": flaw_id}
    replaced = client.get(path, headers=admin).json()
    assert replaced["severity"] == "Critical" and replaced["sev"] == 0
    assert replaced["tags"] == [] and replaced["recommendations"] == ""
    assert replaced["createdAt"] == created["createdAt"] and replaced["cuid"] == created["cuid"]


def test_update_finding_keeps_server_fields_and_validates(
    client: TestClient, admin: dict[str, str]
) -> None:
    finding = state(client).findings_of(REPORT)[1]
    path = f"{FINDINGS}/flaw/{finding['flaw_id']}"
    current = client.get(path, headers=admin).json()
    assert_error(client.put(path, headers=admin, json={"title": "Only a title"}), 400)
    tampered = {**current, "flaw_id": 1, "client_id": 9, "status": "Closed"}
    assert client.put(path, headers=admin, json=tampered).status_code == 200
    after = client.get(path, headers=admin).json()
    assert after["flaw_id"] == finding["flaw_id"] and after["client_id"] == CLIENT
    assert after["status"] == "Closed" and after["closedAt"] is not None


def test_reopening_a_finding_sets_reopened_at(client: TestClient, admin: dict[str, str]) -> None:
    flaw_id = client.post(
        f"{FINDINGS}/flaw/create", headers=admin, json=new_finding(status="Closed")
    ).json()["flaw_id"]
    path = f"{FINDINGS}/flaw/{flaw_id}"
    assert client.get(path, headers=admin).json()["closedAt"] is not None
    client.put(path, headers=admin, json=new_finding(status="Open"))
    reopened = client.get(path, headers=admin).json()
    assert reopened["closedAt"] is None and reopened["reopenedAt"] is not None


def test_renaming_onto_an_existing_title_is_409(client: TestClient, admin: dict[str, str]) -> None:
    first, second = state(client).findings_of(REPORT)[:2]
    path = f"{FINDINGS}/flaw/{second['flaw_id']}"
    assert_error(client.put(path, headers=admin, json=new_finding(title=first["title"])), 409)


def test_delete_finding(client: TestClient, admin: dict[str, str]) -> None:
    flaw_id = state(client).findings_of(REPORT)[0]["flaw_id"]
    path = f"{FINDINGS}/flaw/{flaw_id}"
    assert client.delete(path, headers=admin).status_code == 200
    assert (REPORT, flaw_id) not in state(client).findings
    assert assert_error(client.get(path, headers=admin), 404) == "Finding not found"
