"""The PlexTrac sandbox: image uploads for CKEditor fields, client assessments, tenant tags.

Written against PlexTrac's documented behaviour (docs/sandboxes/plextrac.md), not a spec.
"""

from __future__ import annotations

import copy
import re
import warnings
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from hookline.connectors.plextrac.sandbox import create_app
from hookline.testing import Clock
from tests.sandboxes.plextrac_errors import assert_error

with warnings.catch_warnings():
    # starlette asks for the httpx2 package; the installed httpx works the same for tests.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

TENANT, CLIENT, OTHER_CLIENT = 7, 1001, 1002
ASSESSMENT = 3001
PNG = b"\x89PNG\r\n\x1a\n fake image bytes"


@pytest.fixture
def clock() -> Clock:
    return Clock(1_760_000_000.0)


@pytest.fixture
def client(clock: Clock) -> TestClient:
    return TestClient(create_app(clock=clock, auth_rate_limit=None))


def session_of(client: TestClient, username: str = "demo@example.com") -> dict[str, Any]:
    response = client.post(
        "/api/v1/authenticate", json={"username": username, "password": "plextrac-demo"}
    )
    session: dict[str, Any] = response.json()
    return session


@pytest.fixture
def session(client: TestClient) -> dict[str, Any]:
    return session_of(client)


@pytest.fixture
def admin(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['token']}"}


def with_cookie(session: dict[str, Any]) -> dict[str, str]:
    return {"Cookie": f"token={session['cookie']}"}


def upload(client: TestClient, headers: dict[str, str], **files: Any) -> httpx.Response:
    scope = '["tenant_admin_0","tenant_std_user_0","tenant_analyst_0"]'
    result: httpx.Response = client.post(
        "/api/v1/uploads", headers=headers, data={"setScope": scope}, files=files or None
    )
    return result


# --- uploads ----------------------------------------------------------------------------------


def test_upload_with_a_file_name_keeps_its_extension(
    client: TestClient, admin: dict[str, str], session: dict[str, Any]
) -> None:
    response = upload(client, admin, file=("screenshot.PNG", PNG, "image/png"))
    assert response.status_code == 200
    file_url = response.json()["fileUrl"]
    assert re.fullmatch(r"uploads/[0-9a-f-]{36}\.png", file_url)
    served = client.get(f"/api/v1/{file_url}", headers=with_cookie(session))
    assert served.status_code == 200
    assert served.content == PNG and served.headers["content-type"] == "image/png"


def test_upload_as_a_bare_byte_stream_has_no_extension_and_cannot_be_served(
    client: TestClient, admin: dict[str, str], session: dict[str, Any]
) -> None:
    response = client.post(
        "/api/v1/uploads",
        headers={**admin, "Content-Type": "application/octet-stream"},
        content=PNG,
    )
    file_url = response.json()["fileUrl"]
    assert re.fullmatch(r"uploads/[0-9a-f-]{36}", file_url)
    assert_error(client.get(f"/api/v1/{file_url}", headers=with_cookie(session)), 404)


def test_upload_part_without_extension_gets_none(client: TestClient, admin: dict[str, str]) -> None:
    file_url = upload(client, admin, file=("file", PNG, "image/png")).json()["fileUrl"]
    assert "." not in file_url


def test_upload_needs_a_session_token(client: TestClient) -> None:
    assert_error(upload(client, {}, file=("a.png", PNG, "image/png")), 401)


def test_upload_rejects_non_images_and_missing_files(
    client: TestClient, admin: dict[str, str]
) -> None:
    assert_error(upload(client, admin, file=("run.exe", b"MZ", "application/octet-stream")), 400)
    assert assert_error(upload(client, admin), 400) == '"file" is required'


def test_uploads_are_served_by_cookie_only(
    client: TestClient, admin: dict[str, str], session: dict[str, Any]
) -> None:
    file_url = upload(client, admin, file=("a.jpg", PNG, "image/jpeg")).json()["fileUrl"]
    path = f"/api/v1/{file_url}"
    assert_error(client.get(path), 401)
    assert_error(client.get(path, headers=admin), 401)
    assert_error(client.get(path, headers={**admin, **with_cookie(session)}), 401)
    assert_error(client.get(path, headers={"Cookie": f"token={session['token']}"}), 401)
    assert client.get(path, headers=with_cookie(session)).status_code == 200


def test_upload_cookie_expires_with_the_session(
    client: TestClient, admin: dict[str, str], session: dict[str, Any], clock: Clock
) -> None:
    file_url = upload(client, admin, file=("a.gif", PNG, "image/gif")).json()["fileUrl"]
    clock.now += 900
    assert_error(client.get(f"/api/v1/{file_url}", headers=with_cookie(session)), 401)


def test_seeded_finding_embeds_a_servable_image(
    client: TestClient, session: dict[str, Any]
) -> None:
    findings = client.app.state.sandbox.findings.values()  # type: ignore[attr-defined]
    sources = [m for f in findings for m in re.findall(r'<img src="([^"]+)"', f["description"])]
    assert len(sources) == 1 and sources[0].startswith("/api/v1/uploads/")
    assert client.get(sources[0], headers=with_cookie(session)).status_code == 200


def test_uploaded_image_embeds_in_a_new_finding(
    client: TestClient, admin: dict[str, str], session: dict[str, Any]
) -> None:
    file_url = upload(client, admin, file=("shot.png", PNG, "image/png")).json()["fileUrl"]
    description = f'<p>Login page:</p><p><img src="/api/v1/{file_url}"></p>'
    created = client.post(
        f"/api/v1/client/{CLIENT}/report/500001/flaw/create",
        headers=admin,
        json={"title": "Screenshot Finding", "severity": "Low", "description": description},
    ).json()
    path = f"/api/v1/client/{CLIENT}/report/500001/flaw/{created['flaw_id']}"
    stored = client.get(path, headers=admin).json()["description"]
    src = re.search(r'src="([^"]+)"', stored)
    assert src is not None
    assert client.get(src.group(1), headers=with_cookie(session)).content == PNG


# --- assessments ------------------------------------------------------------------------------


def assessment_path(client_id: int = CLIENT, tenant: int = TENANT) -> str:
    return f"/api/v1/tenant/{tenant}/client/{client_id}/assessment"


def test_seeded_assessment_is_completed_with_answers(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = client.get(f"{assessment_path()}/{ASSESSMENT}", headers=admin).json()
    assert body["assess_id"] == ASSESSMENT and body["client_id"] == CLIENT
    assert body["tenant_id"] == TENANT and body["status"] == "Completed"
    assert isinstance(body["completed_at"], int) and body["saveOnly"] is False
    assert len(body["questions"]) == 5 and len(body["answers"]) == 5
    assert all(a["note"] and a["answer"] in ("Yes", "Partially", "No") for a in body["answers"])
    v2 = f"/api/v2/tenants/{TENANT}/clients/{CLIENT}/assessments/{ASSESSMENT}"
    assert client.get(v2, headers=admin).json() == body


def test_list_client_assessments(client: TestClient, admin: dict[str, str]) -> None:
    listed = client.get(f"/api/v1/tenant/{TENANT}/client/{CLIENT}/assessments", headers=admin)
    (summary,) = listed.json()
    assert summary["assess_id"] == ASSESSMENT and summary["doc_type"] == "assessment"
    assert summary["assessment_title"] == "CIS Control 12: Boundary Defense"
    assert "questions" not in summary


def reusable(completed: dict[str, Any]) -> dict[str, Any]:
    """The documented reuse steps: drop four properties, saveOnly true, notes non-empty."""
    body = copy.deepcopy(completed)
    for key in ("tenant_id", "client_id", "assess_id", "completed_at"):
        del body[key]
    body["saveOnly"] = True
    for answer in body["answers"]:
        answer["note"] = answer["note"] or "Carried over"
    return body


def test_reusing_an_assessment_for_another_client_creates_it_in_process(
    client: TestClient, admin: dict[str, str]
) -> None:
    completed = client.get(f"{assessment_path()}/{ASSESSMENT}", headers=admin).json()
    response = client.post(assessment_path(OTHER_CLIENT), headers=admin, json=reusable(completed))
    assert response.status_code == 200
    answer = response.json()
    assert answer["message"] == "success"
    match = re.fullmatch(
        rf"assessment_(\d+)_tenant_{TENANT}_client_{OTHER_CLIENT}", answer["doc_id"]
    )
    assert match is not None
    copy_path = f"{assessment_path(OTHER_CLIENT)}/{match.group(1)}"
    created = client.get(copy_path, headers=admin).json()
    assert created["status"] == "In Process" and "completed_at" not in created
    assert created["client_id"] == OTHER_CLIENT and created["answers"] == completed["answers"]


def test_create_without_save_only_submits_the_assessment(
    client: TestClient, admin: dict[str, str]
) -> None:
    completed = client.get(f"{assessment_path()}/{ASSESSMENT}", headers=admin).json()
    body = {**reusable(completed), "saveOnly": False}
    doc_id = client.post(assessment_path(), headers=admin, json=body).json()["doc_id"]
    created = client.get(f"{assessment_path()}/{doc_id.split('_')[1]}", headers=admin).json()
    assert created["status"] == "Completed" and "completed_at" in created


@pytest.mark.parametrize("kept", ["tenant_id", "client_id", "assess_id", "completed_at"])
def test_reuse_without_removing_a_property_is_400(
    client: TestClient, admin: dict[str, str], kept: str
) -> None:
    completed = client.get(f"{assessment_path()}/{ASSESSMENT}", headers=admin).json()
    body = {**reusable(completed), kept: completed[kept]}
    response = client.post(assessment_path(OTHER_CLIENT), headers=admin, json=body)
    assert assert_error(response, 400) == f'"{kept}" is not allowed'


def test_empty_answer_note_is_rejected(client: TestClient, admin: dict[str, str]) -> None:
    completed = client.get(f"{assessment_path()}/{ASSESSMENT}", headers=admin).json()
    body = reusable(completed)
    body["answers"][2]["note"] = ""
    response = client.post(assessment_path(OTHER_CLIENT), headers=admin, json=body)
    assert assert_error(response, 400) == '"answers[2].note" is not allowed to be empty'
    assert len(client.app.state.sandbox.assessments) == 1  # type: ignore[attr-defined]


def test_answer_to_an_unknown_question_is_rejected(
    client: TestClient, admin: dict[str, str]
) -> None:
    completed = client.get(f"{assessment_path()}/{ASSESSMENT}", headers=admin).json()
    body = reusable(completed)
    body["answers"][0]["qid"] = "99.9"
    assert_error(client.post(assessment_path(), headers=admin, json=body), 400)


def test_assessment_permissions_and_missing_ids(client: TestClient, admin: dict[str, str]) -> None:
    analyst = {"Authorization": f"Bearer {session_of(client, 'analyst@example.com')['token']}"}
    completed = client.get(f"{assessment_path()}/{ASSESSMENT}", headers=analyst).json()
    assert_error(client.post(assessment_path(), headers=analyst, json=reusable(completed)), 403)
    assert_error(client.get(f"{assessment_path(OTHER_CLIENT)}/{ASSESSMENT}", headers=admin), 404)
    assert_error(client.get(f"{assessment_path(tenant=0)}/{ASSESSMENT}", headers=admin), 403)


def test_delete_assessment(client: TestClient, admin: dict[str, str]) -> None:
    response = client.delete(f"{assessment_path()}/{ASSESSMENT}", headers=admin).json()
    assert response == {
        "status": "success",
        "data": True,
        "message": "success",
        "doc_id": f"assessment_{ASSESSMENT}_tenant_{TENANT}_client_{CLIENT}",
    }
    assert_error(client.get(f"{assessment_path()}/{ASSESSMENT}", headers=admin), 404)


# --- tags -------------------------------------------------------------------------------------


def tags_path() -> str:
    return f"/api/v1/tenant/{TENANT}/tag"


def test_tenant_tags_list_create_and_delete(client: TestClient, admin: dict[str, str]) -> None:
    listed = client.get(tags_path(), headers=admin, params={"limit": 100}).json()
    before = listed["count"]["totalDocs"]
    assert before == len(listed["tags"]) > 0
    created = client.post(
        tags_path(),
        headers=admin,
        json={"name": "new_test_tag", "scope": "tenant", "ownerId": TENANT},
    )
    assert created.json() == []
    tag_id = f"tag_tenant_{TENANT}_new_test_tag"
    names = client.get(tags_path(), headers=admin, params={"limit": 100}).json()["tags"]
    assert {"id": tag_id, "name": "new_test_tag"} in names
    assert client.delete(f"{tags_path()}/{tag_id}", headers=admin).json() == {"deleted": True}
    assert client.get(tags_path(), headers=admin).json()["count"]["totalDocs"] == before
    assert_error(client.delete(f"{tags_path()}/{tag_id}", headers=admin), 404)


def test_tenant_tags_page_by_limit_and_offset(client: TestClient, admin: dict[str, str]) -> None:
    everything = client.get(tags_path(), headers=admin, params={"limit": 100}).json()["tags"]
    page = client.get(tags_path(), headers=admin, params={"limit": 2, "offset": 1}).json()
    assert page["tags"] == everything[1:3]


def test_finding_tags_do_not_become_tenant_tags(client: TestClient, admin: dict[str, str]) -> None:
    client.post(
        f"/api/v1/client/{CLIENT}/report/500001/flaw/create",
        headers=admin,
        json={
            "title": "Tagged",
            "severity": "Low",
            "description": "<p>x</p>",
            "tags": ["brand_new"],
        },
    )
    names = [
        t["name"]
        for t in client.get(tags_path(), headers=admin, params={"limit": 100}).json()["tags"]
    ]
    assert "brand_new" not in names


def test_only_admins_manage_tenant_tags(client: TestClient) -> None:
    std = {"Authorization": f"Bearer {session_of(client, 'std.user@example.com')['token']}"}
    assert client.get(tags_path(), headers=std).status_code == 200
    assert_error(client.post(tags_path(), headers=std, json={"name": "mine"}), 403)
