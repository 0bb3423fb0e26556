"""The plextrac spec against the PlexTrac sandbox, through the real runtime.

Every action and trigger runs against a served sandbox: each connection logs in (with the TOTP
step for an MFA user), sends the 15-minute token as a bearer token and logs in again when the
token expires; v2 lists are read page after page through their POST bodies. The sandbox's state
is the witness for what reads should return and what writes changed.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hookline.actions.call import call_action, iter_records
from hookline.connectors.plextrac.sandbox.data import MFA_SECRET
from hookline.connectors.plextrac.sandbox.findings import store_finding
from hookline.connectors.plextrac.sandbox.tokens import totp
from hookline.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitedError,
    UnsafeRequestError,
)
from hookline.http import ratelimit
from hookline.http.connection import Connection
from hookline.spec.catalog import Catalog
from hookline.testing import Clock, check_described, check_examples
from hookline.testing import poll_once as _poll

TENANT = 7
CLIENT = 1001  # two reports, 20 findings, the seeded assessment
OTHER_CLIENT = 1002
ASSESSMENT = 3001
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture(autouse=True)
def fresh_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh process-wide rate limiter per test, so no 429 pause outlives its sandbox."""
    monkeypatch.setattr(ratelimit, "_default", ratelimit.InProcessRateLimiter())


@pytest.fixture
def pt(served: Any) -> Iterator[Any]:
    """The PlexTrac sandbox with seed 1; the login rate limit is off (tests log in often)."""
    with served("plextrac", seed=1, auth_rate_limit=None) as s:
        yield s


def _reports_of(s: Any, client_id: int) -> list[dict[str, Any]]:
    return [r for r in s.state.reports.values() if r["client_id"] == client_id]


def _findings_of(s: Any, client_id: int) -> list[dict[str, Any]]:
    return [f for f in s.state.findings.values() if f["client_id"] == client_id]


def _logged_in(s: Any, action: str, input: Mapping[str, Any] | None = None) -> Any:
    """Run ``action`` on a connection whose session exists already.

    Actions whose path holds the tenant id (``session.tenant_id``) need the login's answer
    before their request is rendered; test_tenant_paths_work_in_a_fresh_connection covers
    the first request of a connection, these tests the actions themselves.
    """

    async def go(conn: Connection) -> Any:
        await call_action(conn, "get_client", {"client_id": CLIENT})
        return await call_action(conn, action, input or {})

    return s.session(go)


# ---------------------------------------------------------------- the spec itself


def test_every_example_matches_its_input_and_output_schemas(catalog: Catalog) -> None:
    def file_read(name: str, given: dict[str, Any]) -> dict[str, Any]:
        """An ``@PATH`` file input is sent as the file's content, base64 encoded; the runtime
        adds ``save_to`` to a download's declared inputs, the spec does not."""
        if given.get("file", "").startswith("@"):
            given["file"] = base64.b64encode(PNG).decode()
        given.pop("save_to", None)
        return given

    check_examples(catalog.spec("plextrac"), file_read)


def test_every_input_has_a_description(catalog: Catalog) -> None:
    check_described(catalog.spec("plextrac"))


# ---------------------------------------------------------------- users


def test_tenant_paths_work_in_a_fresh_connection(pt: Any) -> None:
    assert len(pt.call("list_tenant_users")) == len(pt.state.users)
    assessment = {"client_id": CLIENT, "assessment_id": ASSESSMENT}
    assert pt.call("get_client_assessment", assessment)["assess_id"] == ASSESSMENT


def test_list_tenant_users_reads_every_user(pt: Any) -> None:
    users = _logged_in(pt, "list_tenant_users")
    assert [u["email"] for u in users] == sorted(pt.state.users)
    assert {u["tenantId"] for u in users} == {TENANT}
    mfa = next(u for u in users if u["email"] == "mfa@example.com")
    assert mfa["mfaEnabled"] is True


def test_list_tenant_users_filters_and_sorts(pt: Any) -> None:
    assert [u["fullName"] for u in _logged_in(pt, "list_tenant_users", {"filter": "casey"})] == [
        "Casey Morgan"
    ]
    by_last_name = _logged_in(pt, "list_tenant_users", {"sort_by": "lastName", "order": "DESCEND"})
    names = [u["lastName"] for u in by_last_name]
    assert names == sorted(names, key=str.lower, reverse=True)


def test_list_tenant_users_pages_through_the_query_string(pt: Any) -> None:
    template = pt.state.users["std.user@example.com"]
    for n in range(150):
        email = f"tester{n:03d}@example.com"
        pt.state.users[email] = {**template, "email": email, "user_id": 1000 + n}
    users = _logged_in(pt, "list_tenant_users")
    assert len(users) == 155  # two pages of 100
    assert [u["email"] for u in users] == sorted(pt.state.users)


# ---------------------------------------------------------------- clients


def test_list_clients_filters_by_tag_and_sorts(pt: Any) -> None:
    clients = pt.call("list_clients", {"sort_by": "name", "order": "DESC"})
    assert [c["name"] for c in clients] == sorted(
        (c["name"] for c in pt.state.clients.values()), reverse=True
    )
    tag = pt.state.clients[CLIENT]["tags"][0]
    tagged = pt.call("list_clients", {"tags": [tag]})
    expected = [c["client_id"] for c in pt.state.clients.values() if tag in c["tags"]]
    assert [c["client_id"] for c in tagged] == expected
    assert all(c["role"] == "ADMIN" for c in tagged)


def test_list_clients_pages_through_the_v2_body(pt: Any) -> None:
    template = pt.state.clients[CLIENT]
    for client_id in range(2001, 2111):
        pt.state.clients[client_id] = {**template, "client_id": client_id, "name": f"C{client_id}"}

    async def list_all(conn: Connection) -> list[Any]:
        return [record async for record in iter_records(conn, "list_clients")]

    clients = pt.session(list_all)
    assert len(clients) == 113  # two pages of 100
    assert [c["client_id"] for c in clients] == sorted(pt.state.clients)


def test_get_client_returns_the_client_object(pt: Any) -> None:
    client = pt.call("get_client", {"client_id": CLIENT})
    assert client == {**pt.state.clients[CLIENT], "role": "ADMIN"}


def test_create_update_and_delete_a_client(pt: Any) -> None:
    created = pt.call(
        "create_client",
        {
            "name": "Contoso Ltd",
            "poc": "IT Security",
            "tags": ["external"],
            "custom_field": [{"label": "Industry", "value": "Retail"}],
            "users": {
                "std.user@example.com": {"role": "STD_USER"},
                "nobody@example.com": {"role": "ANALYST"},
            },
        },
    )
    client_id = created["client_id"]
    assert created["users_rejected"] == ["nobody@example.com"]
    assert "std.user@example.com" in created["users_assigned"]
    stored = pt.state.clients[client_id]
    assert (stored["name"], stored["poc"], stored["tags"]) == (
        "Contoso Ltd",
        "IT Security",
        ["external"],
    )

    done = pt.call("update_client", {"client_id": client_id, "poc_email": "sec@contoso.example"})
    assert done == {"status": "success", "message": "Client updated successfully."}
    assert pt.state.clients[client_id]["poc_email"] == "sec@contoso.example"
    assert pt.state.clients[client_id]["poc"] == "IT Security"  # fields not given are kept

    assert pt.call("delete_client", {"client_id": client_id})["status"] == "success"
    assert client_id not in pt.state.clients


def test_an_unknown_client_is_not_found(pt: Any) -> None:
    with pytest.raises(NotFoundError, match="Client not found") as error:
        pt.call("get_client", {"client_id": 999})
    assert error.value.status == 404
    assert error.value.platform_message == "Client not found"


def test_an_analyst_gets_a_typed_permission_error(pt: Any) -> None:
    with pytest.raises(PermissionDeniedError, match="read-only"):
        pt.call(
            "create_report",
            {"client_id": CLIENT, "name": "Not allowed"},
            username="analyst@example.com",
        )
    with pytest.raises(PermissionDeniedError, match=f"client {OTHER_CLIENT}"):
        pt.call("get_client", {"client_id": OTHER_CLIENT}, username="analyst@example.com")


# ---------------------------------------------------------------- reports


def test_list_reports_of_one_client(pt: Any) -> None:
    reports = pt.call("list_reports", {"client_id": CLIENT})
    assert sorted(r["id"] for r in reports) == sorted(r["id"] for r in _reports_of(pt, CLIENT))
    assert {r["findings"] for r in reports} == {10}
    everything = pt.call("list_reports", {"sort_by": "status"})
    assert len(everything) == len(pt.state.reports)
    statuses = [r["status"] for r in everything]
    assert statuses == sorted(statuses)


def test_get_and_create_a_report(pt: Any) -> None:
    created = pt.call(
        "create_report",
        {
            "client_id": OTHER_CLIENT,
            "name": "2025 Web Application Assessment",
            "operators": ["std.user@example.com"],
            "include_evidence": True,
            "start_date": "2025-06-02T09:00:00.000Z",
        },
    )
    report_id = created["report_id"]
    assert created["doc_id"] == f"report_{report_id}_client_{OTHER_CLIENT}"
    report = pt.call("get_report", {"client_id": OTHER_CLIENT, "report_id": report_id})
    assert report["name"] == "2025 Web Application Assessment"
    assert (report["status"], report["findings"], report["includeEvidence"]) == ("Draft", 0, True)
    assert report["start_date"] == "2025-06-02T09:00:00.000Z"


def test_update_and_delete_a_report(pt: Any) -> None:
    report = _reports_of(pt, OTHER_CLIENT)[0]
    key = {"client_id": OTHER_CLIENT, "report_id": report["id"]}
    updated = pt.call(
        "update_report", {**key, "name": "Renamed", "tags": ["retest"], "status": "In Review"}
    )
    assert (updated["name"], updated["tags"], updated["status"]) == (
        "Renamed",
        ["retest"],
        "In Review",
    )
    assert updated["findings"] == 10 and report["name"] == "Renamed"
    with pytest.raises(PermissionDeniedError):
        pt.call("delete_report", key, username="analyst@example.com")
    assert pt.call("delete_report", key) == {"status": "success"}
    assert report["id"] not in pt.state.reports
    assert not [f for f in pt.state.findings.values() if f["report_id"] == report["id"]]
    with pytest.raises(NotFoundError, match="Report not found"):
        pt.call("get_report", key)


# ---------------------------------------------------------------- findings


def test_list_findings_filters_by_report_and_severity(pt: Any) -> None:
    report = _reports_of(pt, CLIENT)[0]
    found = pt.call(
        "list_findings",
        {"client_id": CLIENT, "report_id": report["id"], "severity": ["Critical", "High"]},
    )
    expected = [
        f
        for f in _findings_of(pt, CLIENT)
        if f["report_id"] == report["id"] and f["severity"] in ("Critical", "High")
    ]
    assert expected
    assert sorted(f["flaw_id"] for f in found) == sorted(f["flaw_id"] for f in expected)
    every = pt.call("list_findings", {"client_id": CLIENT})
    assert len(every) == 20
    created = [f["createdAt"] for f in every]
    assert created == sorted(created)


def test_list_findings_pages_through_the_v2_body(pt: Any) -> None:
    report = _reports_of(pt, CLIENT)[0]
    for n in range(110):
        body = {"title": f"Finding {n:03d}", "severity": "Low", "description": "<p>x</p>"}
        store_finding(pt.state, report, body, now=pt.state.now_ms())
    found = pt.call("list_findings", {"client_id": CLIENT, "report_id": report["id"]})
    assert len(found) == 120  # two pages of 100
    assert len({f["flaw_id"] for f in found}) == 120


def test_get_finding_returns_the_whole_finding(pt: Any) -> None:
    finding = _findings_of(pt, CLIENT)[0]
    got = pt.call(
        "get_finding",
        {"client_id": CLIENT, "report_id": finding["report_id"], "finding_id": finding["flaw_id"]},
    )
    assert got == finding


def test_create_finding_with_an_uploaded_image(pt: Any) -> None:
    report = _reports_of(pt, CLIENT)[0]

    async def upload_and_create(conn: Connection) -> tuple[Any, Any]:
        image = await call_action(conn, "upload_image", {"file": PNG, "filename": "shot.png"})
        created = await call_action(
            conn,
            "create_finding",
            {
                "client_id": CLIENT,
                "report_id": report["id"],
                "title": "Exposed Admin Console",
                "severity": "High",
                "description": f"<p>The console answers on the Internet.</p>{image['img']}",
                "tags": ["external"],
                "visibility": "published",
            },
        )
        return image, created

    image, created = pt.session(upload_and_create)
    name = image["fileUrl"].removeprefix("uploads/")
    assert image["fileUrl"] == f"uploads/{name}" and name.endswith(".png")
    assert image["src"] == f"/api/v1/{image['fileUrl']}"
    assert image["img"] == f'<img src="/api/v1/{image["fileUrl"]}">'
    upload = pt.state.uploads[name]
    assert (upload.content, upload.servable) == (PNG, True)
    finding = pt.state.findings[(report["id"], created["flaw_id"])]
    assert image["img"] in finding["description"]
    assert (finding["severity"], finding["tags"], finding["visibility"]) == (
        "High",
        ["external"],
        "published",
    )


def test_upload_image_reads_a_file_path(pt: Any, tmp_path: Any) -> None:
    path = tmp_path / "evidence.PNG"
    path.write_bytes(PNG)
    image = pt.call("upload_image", {"file": f"@{path}", "filename": path.name})
    assert image["fileUrl"].endswith(".png")


def test_upload_image_sends_the_media_type_its_extension_names(pt: Any) -> None:
    async def rendered(conn: Connection) -> list[bytes]:
        upload = conn.spec.actions["upload_image"].request
        bodies = []
        for filename in ("evidence.GIF", "photo.jpeg", "diagram.svg"):
            values = {"file": base64.b64encode(PNG).decode(), "filename": filename}
            assert upload is not None
            bodies.append(conn.build_request(upload, conn.context(input=values)).read())
        return bodies

    gif, jpeg, svg = pt.session(rendered)
    assert b'filename="evidence.GIF"\r\nContent-Type: image/gif' in gif
    assert b"Content-Type: image/jpeg" in jpeg
    assert b"Content-Type: image/svg+xml" in svg


def test_upload_image_refuses_a_name_without_an_image_extension(pt: Any) -> None:
    with pytest.raises(InvalidRequestError, match="filename"):
        pt.call("upload_image", {"file": PNG, "filename": "shot"})
    assert len(pt.state.uploads) == 1  # only the seeded image


def test_get_upload_reads_an_image_back_with_the_session_cookie_alone(
    pt: Any, tmp_path: Any
) -> None:
    async def upload_and_read(conn: Connection) -> tuple[Any, Any]:
        image = await call_action(conn, "upload_image", {"file": PNG, "filename": "shot.png"})
        read = await call_action(conn, "get_upload", {"file_url": image["fileUrl"]})
        saved = tmp_path / "copy.png"
        kept = await call_action(
            conn, "get_upload", {"file_url": image["fileUrl"], "save_to": str(saved)}
        )
        return read, kept

    read, kept = pt.session(upload_and_read)
    assert base64.b64decode(read["content"]) == PNG
    assert (read["content_type"], read["size"]) == ("image/png", len(PNG))
    assert kept == {"path": str(tmp_path / "copy.png"), "content_type": "image/png", "size": 70}
    assert (tmp_path / "copy.png").read_bytes() == PNG


def test_get_upload_keeps_the_slash_of_the_file_url_and_sends_no_authorization(pt: Any) -> None:
    async def rendered(conn: Connection) -> Any:
        await conn.ready()
        action = conn.spec.actions["get_upload"]
        assert action.request is not None
        values = {"file_url": "uploads/a b.png"}
        return conn.build_request(action.request, conn.context(input=values))

    request = pt.session(rendered)
    assert request.url.raw_path == b"/api/v1/uploads/a%20b.png"
    assert "authorization" not in request.headers
    assert request.headers["cookie"].startswith("token=")


@pytest.mark.parametrize("file_url", ["uploads/../api/v1/client/1001", "../uploads/x.png"])
def test_get_upload_refuses_a_path_that_climbs(pt: Any, file_url: str) -> None:
    with pytest.raises((InvalidRequestError, UnsafeRequestError)):
        pt.call("get_upload", {"file_url": file_url})


def test_get_upload_of_an_unknown_file_is_not_found(pt: Any) -> None:
    with pytest.raises(NotFoundError):
        pt.call("get_upload", {"file_url": "uploads/no-such-image.png"})


def test_a_duplicate_finding_title_is_an_invalid_request(pt: Any) -> None:
    finding = _findings_of(pt, CLIENT)[0]
    with pytest.raises(InvalidRequestError, match="already exists") as error:
        pt.call(
            "create_finding",
            {
                "client_id": CLIENT,
                "report_id": finding["report_id"],
                "title": finding["title"],
                "severity": "Low",
                "description": "<p>again</p>",
            },
        )
    assert error.value.status == 409


def test_update_finding_sends_back_what_it_does_not_change(pt: Any) -> None:
    before = next(f for f in _findings_of(pt, CLIENT) if f["status"] != "Closed" and f["tags"])
    key = {"client_id": CLIENT, "report_id": before["report_id"], "finding_id": before["flaw_id"]}

    async def close(conn: Connection) -> Any:
        finding = await call_action(conn, "get_finding", key)
        return await call_action(
            conn, "update_finding", {**key, "finding": finding, "changes": {"status": "Closed"}}
        )

    assert pt.session(close) == {"flaw_id": before["flaw_id"]}
    after = pt.state.findings[(before["report_id"], before["flaw_id"])]
    assert after["status"] == "Closed" and after["closedAt"] is not None
    for field in ("title", "description", "recommendations", "tags", "affected_assets"):
        assert after[field] == before[field], field


def test_delete_finding(pt: Any) -> None:
    finding = _findings_of(pt, CLIENT)[0]
    key = {"client_id": CLIENT, "report_id": finding["report_id"], "finding_id": finding["flaw_id"]}
    assert pt.call("delete_finding", key) == {"status": "success", "message": "success"}
    assert (finding["report_id"], finding["flaw_id"]) not in pt.state.findings
    with pytest.raises(NotFoundError):
        pt.call("delete_finding", key)


# ---------------------------------------------------------------- client assets


def test_list_and_get_a_clients_assets(pt: Any) -> None:
    assets = pt.call("list_assets", {"client_id": CLIENT})
    stored = [a for a in pt.state.assets.values() if a["client_id"] == CLIENT]
    assert [a["id"] for a in assets] == [a["id"] for a in stored] and len(assets) == 21
    assert sum(not a["findings"] for a in assets) == 1  # the retired printer, as seeded
    schema = pt.spec.schema_with_objects(pt.spec.actions["list_assets"].output.schema)
    Draft202012Validator(schema).validate(assets)
    one = pt.call("get_asset", {"client_id": CLIENT, "asset_id": assets[0]["id"]})
    assert one == assets[0] and len(one["findings"]) == 1


def test_create_update_and_delete_an_asset(pt: Any) -> None:
    created = pt.call(
        "create_asset",
        {
            "client_id": CLIENT,
            "asset": "fw-osl-01",
            "asset_criticality": "High",
            "type": "Network Device",
            "known_ips": ["10.0.0.1"],
            "ports": {"443": {"number": "443", "service": "https", "protocol": "tcp"}},
        },
    )
    asset = pt.state.assets[created["id"]]
    assert (asset["asset"], asset["assetCriticality"], asset["knownIps"]) == (
        "fw-osl-01",
        "High",
        ["10.0.0.1"],
    )
    key = {"client_id": CLIENT, "asset_id": created["id"]}
    assert pt.call("update_asset", {**key, "tags": ["perimeter"], "notes": "HA pair"}) == created
    assert (asset["tags"], asset["notes"], asset["type"]) == (
        ["perimeter"],
        "HA pair",
        "Network Device",
    )
    assert pt.call("delete_asset", key) == {"status": "success"}
    assert created["id"] not in pt.state.assets
    with pytest.raises(NotFoundError, match="Asset not found"):
        pt.call("get_asset", key)


def test_an_asset_findings_name_is_not_deleted(pt: Any) -> None:
    linked = next(a for a in pt.state.assets.values() if a["client_id"] == CLIENT)
    with pytest.raises(InvalidRequestError, match="remove it from them first"):
        pt.call("delete_asset", {"client_id": CLIENT, "asset_id": linked["id"]})


def test_an_analyst_cannot_create_an_asset(pt: Any) -> None:
    with pytest.raises(PermissionDeniedError, match="read-only"):
        pt.call(
            "create_asset",
            {"client_id": CLIENT, "asset": "x"},
            username="analyst@example.com",
        )


# ---------------------------------------------------------------- tenant tags


def test_tenant_tags_are_listed_added_and_removed(pt: Any) -> None:
    for number in range(10):
        pt.call("create_tag", {"name": f"wave-{number}"})
    tags = pt.call("list_tags")
    assert [t["name"] for t in tags] == sorted(t["name"] for t in pt.state.tags.values())
    assert len(tags) > 10  # more than the platform's default page of 10
    assert pt.call("create_tag", {"name": "retest-2026"}) == {"status": "success"}
    assert pt.call("create_tag", {"name": "retest-2026"}) == {"status": "success"}
    added = [t for t in pt.call("list_tags") if t["name"] == "retest-2026"]
    assert added == [{"id": f"tag_tenant_{TENANT}_retest-2026", "name": "retest-2026"}]
    assert pt.call("delete_tag", {"tag_id": added[0]["id"]}) == {"deleted": True}
    with pytest.raises(NotFoundError, match="Tag not found"):
        pt.call("delete_tag", {"tag_id": added[0]["id"]})
    with pytest.raises(PermissionDeniedError, match="needs ADMIN"):
        pt.call("create_tag", {"name": "x"}, username="std.user@example.com")


# ---------------------------------------------------------------- assessments


def test_get_client_assessment_with_its_questions_and_answers(pt: Any) -> None:
    assessment = _logged_in(
        pt, "get_client_assessment", {"client_id": CLIENT, "assessment_id": ASSESSMENT}
    )
    assert assessment == pt.state.assessments[ASSESSMENT]
    assert assessment["status"] == "Completed"


def test_create_client_assessment_reuses_a_completed_one(pt: Any) -> None:
    async def reuse(conn: Connection) -> Any:
        await call_action(conn, "get_client", {"client_id": CLIENT})  # see _logged_in
        completed = await call_action(
            conn, "get_client_assessment", {"client_id": CLIENT, "assessment_id": ASSESSMENT}
        )
        completed["answers"][1]["note"] = ""
        return await call_action(
            conn, "create_client_assessment", {"client_id": OTHER_CLIENT, "assessment": completed}
        )

    created = pt.session(reuse)
    new = pt.state.assessments[created["assess_id"]]
    assert (
        created["doc_id"]
        == f"assessment_{created['assess_id']}_tenant_{TENANT}_client_{OTHER_CLIENT}"
    )
    assert (new["client_id"], new["status"], new["saveOnly"]) == (OTHER_CLIENT, "In Process", True)
    assert "completed_at" not in new
    old = pt.state.assessments[ASSESSMENT]
    assert new["questions"] == old["questions"]
    assert new["answers"][1]["note"] == "Carried over from a previous assessment."
    assert new["answers"][0] == old["answers"][0]


# ---------------------------------------------------------------- export and import


_REPORT_FIELDS = (
    "name", "status", "start_date", "end_date", "tags", "reviewers", "operators",
    "includeEvidence", "custom_field", "exec_summary", "logistics",
)  # fmt: skip
_FINDING_FIELDS = (
    "title", "severity", "description", "status", "subStatus", "visibility", "recommendations",
    "references", "assignedTo", "tags", "source", "common_identifiers", "fields", "risk_score",
    "affected_assets",
)  # fmt: skip


def _content(record: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {field: record.get(field) for field in fields}


def test_export_client_is_the_client_with_its_reports_and_findings(pt: Any) -> None:
    export = pt.call("export_client", {"client_id": CLIENT})
    assert export["client"] == {**pt.state.clients[CLIENT], "role": "ADMIN"}
    reports = _reports_of(pt, CLIENT)
    assert [r["id"] for r in export["reports"]] == [
        r["id"] for r in sorted(reports, key=lambda r: r["name"].lower())
    ]
    assert [r["findings"] for r in export["reports"]] == [10, 10]
    assert sorted(f["flaw_id"] for f in export["findings"]) == sorted(
        f["flaw_id"] for f in _findings_of(pt, CLIENT)
    )
    for finding in export["findings"]:
        stored = pt.state.findings[(finding["report_id"], finding["flaw_id"])]
        assert _content(finding, _FINDING_FIELDS) == _content(stored, _FINDING_FIELDS)


def test_an_export_imported_into_another_tenant_holds_every_report_and_finding(
    served: Any,
) -> None:
    with (
        served("plextrac", seed=1, auth_rate_limit=None) as source,
        served("plextrac", seed=2, auth_rate_limit=None) as target,
    ):
        client = source.state.clients[CLIENT]
        client["users"]["former.colleague@example.com"] = {"role": "STD_USER"}
        export = source.call("export_client", {"client_id": CLIENT})
        before = set(target.state.reports)
        imported = target.call("import_client", {"export": export})

        new = target.state.clients[imported["client_id"]]
        for field in ("name", "poc", "poc_email", "description", "tags", "custom_field"):
            assert new[field] == client[field], field
        assert new["cuid"] != client["cuid"]
        assert imported["users_rejected"] == ["former.colleague@example.com"]
        assert "demo@example.com" in imported["users_assigned"]

        made = [r for r in target.state.reports.values() if r["client_id"] == new["client_id"]]
        assert {r["id"] for r in made}.isdisjoint(before)
        assert [e["report_id"] for e in imported["reports"]] == [r["id"] for r in made]
        assert len(made) == len(_reports_of(source, CLIENT)) == 2
        for entry, report in zip(imported["reports"], made, strict=True):
            original = source.state.reports[entry["exported_id"]]
            assert _content(report, _REPORT_FIELDS) == _content(original, _REPORT_FIELDS)
            copies = target.state.findings_of(report["id"])
            originals = source.state.findings_of(original["id"])
            assert len(copies) == len(originals) == 10
            by_title = {f["title"]: _content(f, _FINDING_FIELDS) for f in originals}
            assert {f["title"]: _content(f, _FINDING_FIELDS) for f in copies} == by_title
            assert [f["flaw_id"] for f in entry["findings"]] == [f["flaw_id"] for f in copies]
        assert len(_findings_of(target, new["client_id"])) == 20


def test_import_client_into_an_existing_client(pt: Any) -> None:
    export = pt.call("export_client", {"client_id": CLIENT})
    clients = len(pt.state.clients)
    reports = {r["id"] for r in _reports_of(pt, OTHER_CLIENT)}
    findings = len(_findings_of(pt, OTHER_CLIENT))
    imported = pt.call("import_client", {"export": export, "client_id": OTHER_CLIENT})
    assert imported["client_id"] == OTHER_CLIENT
    assert (imported["users_assigned"], imported["users_rejected"]) == ([], [])
    assert len(pt.state.clients) == clients
    made = [r for r in _reports_of(pt, OTHER_CLIENT) if r["id"] not in reports]
    assert [r["name"] for r in made] == [r["name"] for r in export["reports"]]
    assert len(_findings_of(pt, OTHER_CLIENT)) == findings + len(export["findings"])


def test_import_client_can_rename(pt: Any) -> None:
    client = {**pt.state.clients[CLIENT], "client_id": 1, "tenant_id": 99}
    export = {"client": client, "reports": [], "findings": []}
    imported = pt.call("import_client", {"export": export, "name": "Karbo (copy)"})
    new = pt.state.clients[imported["client_id"]]
    assert (new["name"], new["tenant_id"]) == ("Karbo (copy)", TENANT)
    assert imported["reports"] == []


def test_an_import_that_fails_part_way_names_what_it_made(pt: Any) -> None:
    export = pt.call("export_client", {"client_id": CLIENT})
    report = export["reports"][0]["id"]
    first = next(f for f in export["findings"] if f["report_id"] == report)
    export["findings"].insert(0, {**first, "flaw_id": 1})  # the title twice: PlexTrac says 409
    with pytest.raises(OutcomeUnknownError) as caught:
        pt.call("import_client", {"export": export})
    message = str(caught.value)
    assert message.startswith(
        "plextrac.import_client: call reports[0].findings[1].new_finding (create_finding): POST"
    )
    assert "answered 409" in message
    assert "call reports[0].findings[0].new_finding and calls before it made changes" in message
    assert isinstance(caught.value.__cause__, InvalidRequestError)
    new = max(pt.state.clients)
    assert len(_reports_of(pt, new)) == 1 and len(_findings_of(pt, new)) == 1


def test_dry_runs_plan_the_calls_that_need_only_the_input(pt: Any) -> None:
    async def plans(conn: Connection) -> tuple[Any, Any]:
        export = await call_action(conn, "export_client", {"client_id": CLIENT}, dry_run=True)
        example = conn.spec.actions["import_client"].examples[0].input
        imported = await call_action(conn, "import_client", example, dry_run=True)
        return export.to_dict(), imported.to_dict()

    export, imported = pt.session(plans)
    assert [(r["role"], r["method"]) for r in export["requests"]] == [
        ("call client (get_client): request", "GET"),
        ("call reports (list_reports): first page", "POST"),
        ("call findings (list_findings): first page", "POST"),
    ]
    assert "note" not in export
    assert [r["role"] for r in imported["requests"]] == ["call client (create_client): request"]
    assert imported["requests"][0]["body"]["name"] == "Karbo Industries"
    assert imported["note"].startswith("calls reports are not planned")
    assert not pt.state.auth_requests  # a dry run does not even log in


# ---------------------------------------------------------------- authentication


def test_a_wrong_password_is_an_authentication_error(pt: Any) -> None:
    with pytest.raises(AuthenticationError, match="Could not authenticate") as error:
        pt.call("list_clients", password="not-the-password")
    assert "not-the-password" not in str(error.value)


def test_an_mfa_user_logs_in_with_the_totp_secret(served: Any) -> None:
    async def whoami(conn: Connection) -> list[Any]:
        result: list[Any] = await call_action(conn, "list_clients")
        return result

    with served("plextrac", seed=1) as s:
        clients = s.session(whoami, username="mfa@example.com", totp_secret=MFA_SECRET)
        assert len(clients) == len(s.state.clients)
        assert len(s.state.auth_requests) == 2  # the password, then the one-time code
        assert s.state.mfa_challenges == {}


def test_an_mfa_user_logs_in_with_a_one_time_code(pt: Any) -> None:
    code = totp(MFA_SECRET, time.time())
    clients = pt.call("list_clients", username="mfa@example.com", mfa_code=code)
    assert len(clients) == len(pt.state.clients)


def test_an_mfa_user_without_a_code_is_told_to_give_one(pt: Any) -> None:
    with pytest.raises(AuthenticationError) as caught:
        pt.call("list_clients", username="mfa@example.com")
    assert str(caught.value) == (
        "plextrac.login: this user needs MFA: give totp_secret or mfa_code in connection 'plextrac'"
    )
    assert len(pt.state.mfa_challenges) == 1  # the password was sent, no step without a code


def test_an_expired_token_is_renewed_by_logging_in_again(served: Any) -> None:
    clock = Clock()
    tokens: list[str] = []

    async def idle_between_calls(conn: Connection) -> Any:
        await call_action(conn, "list_clients")
        tokens.append(conn.session["token"])
        clock.advance(901)  # the platform's 15 minutes are over: 401 Token expired
        found = await call_action(conn, "get_client", {"client_id": CLIENT})
        tokens.append(conn.session["token"])
        return found

    with served("plextrac", seed=1, clock=clock, auth_rate_window=3600) as s:
        assert s.session(idle_between_calls)["client_id"] == CLIENT
        assert tokens[0] != tokens[1]
        assert len(s.state.auth_requests) == 2  # one login, then one after the 401


def test_a_token_at_the_end_of_its_lifetime_is_renewed_before_it_is_sent(served: Any) -> None:
    # The platform's clock runs a lifetime behind: every token it issues carries an exp that
    # has already come, so the connection must log in again before each call.
    clock = Clock(time.time() - 900)
    logins: list[int] = []

    async def two_calls(conn: Connection) -> None:
        for _ in range(2):
            await call_action(conn, "get_client", {"client_id": CLIENT})
            logins.append(len(state.auth_requests))

    with served("plextrac", seed=1, clock=clock) as s:
        state = s.state
        s.session(two_calls)
        assert logins == [1, 2]


def test_the_login_rate_limit_surfaces_as_a_typed_error(served: Any) -> None:
    with served("plextrac", seed=1, auth_rate_limit=1) as s:
        s.call("list_clients")
        with pytest.raises(RateLimitedError) as error:
            s.call("list_clients")
        assert error.value.status == 429
        assert error.value.retry_after is not None and error.value.retry_after > 30


# ---------------------------------------------------------------- poll triggers


def _check_events(s: Any, name: str, events: list[tuple[str, Any]]) -> None:
    schema = s.spec.schema_with_objects(s.spec.triggers[name].output_schema)
    validator = Draft202012Validator(schema)
    for _, event in events:
        validator.validate(event)


def test_new_finding_yields_findings_created_since_the_cursor(pt: Any) -> None:
    report = _reports_of(pt, CLIENT)[1]

    async def two_polls(conn: Connection) -> tuple[Any, Any, Any]:
        first, cursor = await _poll(conn, "new_finding", {"client_id": CLIENT}, None)
        await call_action(
            conn,
            "create_finding",
            {
                "client_id": CLIENT,
                "report_id": report["id"],
                "title": "Exposed Admin Console",
                "severity": "High",
                "description": "<p>x</p>",
            },
        )
        second, new_cursor = await _poll(conn, "new_finding", {"client_id": CLIENT}, cursor)
        return first, second, (cursor, new_cursor)

    first, second, (cursor, new_cursor) = pt.session(two_polls)
    assert len(first) == 20
    assert cursor == max(
        f["createdAt"] for f in _findings_of(pt, CLIENT) if f["title"] != "Exposed Admin Console"
    )
    created = next(f for f in _findings_of(pt, CLIENT) if f["title"] == "Exposed Admin Console")
    seen = {event_id for event_id, _ in first}
    new = [(event_id, event) for event_id, event in second if event_id not in seen]
    assert [event["flaw_id"] for _, event in new] == [created["flaw_id"]]
    assert new[0][0] == f"{report['id']}-{created['flaw_id']}"
    assert new_cursor == created["createdAt"]
    _check_events(pt, "new_finding", first + second)


def test_new_finding_starts_at_since(pt: Any) -> None:
    newest = max(f["createdAt"] for f in _findings_of(pt, CLIENT))
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(newest // 1000))
    events, _ = pt.session(
        lambda conn: _poll(conn, "new_finding", {"client_id": CLIENT, "since": since}, None)
    )
    assert [event["createdAt"] for _, event in events] == [newest]


def test_updated_finding_yields_each_change_once(pt: Any) -> None:
    finding = next(f for f in _findings_of(pt, CLIENT) if f["status"] != "Closed")
    key = {"client_id": CLIENT, "report_id": finding["report_id"], "finding_id": finding["flaw_id"]}
    clock_ms = max(f["last_update"] for f in pt.state.findings.values())

    async def change_between_polls(conn: Connection) -> tuple[Any, Any]:
        first, cursor = await _poll(conn, "updated_finding", {"client_id": CLIENT}, None)
        current = await call_action(conn, "get_finding", key)
        await call_action(
            conn, "update_finding", {**key, "finding": current, "changes": {"status": "Closed"}}
        )
        second, _ = await _poll(conn, "updated_finding", {"client_id": CLIENT}, cursor)
        return first, second

    first, second = pt.session(change_between_polls)
    assert len(first) == 20
    seen = {event_id for event_id, _ in first}
    new = [event for event_id, event in second if event_id not in seen]
    assert [(e["flaw_id"], e["status"]) for e in new] == [(finding["flaw_id"], "Closed")]
    assert new[0]["last_update"] > clock_ms
    _check_events(pt, "updated_finding", first + second)


def test_new_client_yields_clients_not_seen_before(pt: Any) -> None:
    async def create_between_polls(conn: Connection) -> tuple[Any, Any, Any]:
        first, cursor = await _poll(conn, "new_client", {}, None)
        created = await call_action(conn, "create_client", {"name": "Contoso Ltd"})
        second, new_cursor = await _poll(conn, "new_client", {}, cursor)
        return first, second, (created, cursor, new_cursor)

    first, second, (created, cursor, new_cursor) = pt.session(create_between_polls)
    assert [event_id for event_id, _ in first] == [str(c) for c in sorted(pt.state.clients)][:3]
    seen = {event_id for event_id, _ in first}
    new = [event for event_id, event in second if event_id not in seen]
    assert [e["client_id"] for e in new] == [created["client_id"]]
    assert (cursor, new_cursor) == (max(int(event_id) for event_id in seen), created["client_id"])
    _check_events(pt, "new_client", first + second)
