"""The Argus sandbox's case sub-resources and catalog: comments, attachments, tags, access,
history, events, services, subscriptions and categories.
"""

from __future__ import annotations

import base64
import warnings
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from hookline.connectors.argus.sandbox import DEMO_KEYS, create_app

with warnings.catch_warnings():
    # starlette asks for the httpx2 package; the installed httpx works the same for tests.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NOW = 1_760_000_000.0


def key(name: str) -> dict[str, str]:
    return {"Argus-API-Key": DEMO_KEYS[name]}


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(case_count=60, clock=lambda: NOW))


def error(response: httpx.Response, status: int, kind: str = "ACTION_ERROR") -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["responseCode"] == status and body["messages"][0]["type"] == kind
    return body


def new_case(client: TestClient, who: str = "nordlys_user", **fields: Any) -> str:
    """Create a nordlys support case as ``who`` (its reporter and owner); return its path."""
    body = {
        "customer": "nordlys",
        "service": "support",
        "type": "securityIncident",
        "subject": "Strange login",
        "description": "<p>Seen at night.</p>",
        **fields,
    }
    response = client.post("/cases/v2/case", headers=key(who), json=body)
    assert response.status_code == 201, response.text
    return f"/cases/v2/case/{response.json()['data']['id']}"


# --- comments -------------------------------------------------------------------------------


def test_comments_page_with_default_limit_25_and_limit_zero(client: TestClient) -> None:
    path = new_case(client)
    for n in range(30):
        client.post(f"{path}/comments", headers=key("nordlys_user"), json={"comment": f"note {n}"})
    first = client.get(f"{path}/comments", headers=key("nordlys_user")).json()
    everything = client.get(f"{path}/comments?limit=0", headers=key("nordlys_user")).json()
    assert (first["limit"], first["size"], first["count"]) == (25, 25, 30)
    assert everything["size"] == 30 and everything["data"][0]["comment"] == "note 0"


def test_add_comment_answers_201_with_the_comment(client: TestClient) -> None:
    path = new_case(client)
    response = client.post(
        f"{path}/comments", headers=key("soc_tech"), json={"comment": "My comment"}
    )
    assert response.status_code == 201 and response.json()["responseCode"] == 201
    data = response.json()["data"]
    assert data["comment"] == "My comment" and data["addedByUser"]["userName"] == "soc.tech"
    assert data["status"] == "pendingSoc" and data["addedTime"].endswith("Z")


def test_comment_validation_and_rights(client: TestClient) -> None:
    path = new_case(client)
    error(client.post(f"{path}/comments", headers=key("nordlys_user"), json={}), 412, "FIELD_ERROR")
    reply = client.post(
        f"{path}/comments", headers=key("nordlys_user"), json={"comment": "x", "asReplyTo": "nope"}
    )
    assert error(reply, 412, "FIELD_ERROR")["messages"][0]["field"] == "asReplyTo"
    error(
        client.post(f"{path}/comments", headers=key("nordlys_readonly"), json={"comment": "x"}), 403
    )


def test_internal_comments_are_for_tech_users_only(client: TestClient) -> None:
    path = new_case(client)
    refused = client.post(
        f"{path}/comments", headers=key("nordlys_user"), json={"comment": "x", "internal": True}
    )
    assert error(refused, 403, "FIELD_ERROR")["messages"][0]["field"] == "internal"
    made = client.post(
        f"{path}/comments", headers=key("soc_tech"), json={"comment": "psst", "internal": True}
    )
    assert made.json()["data"]["flags"] == ["INTERNAL"]
    customer_view = client.get(f"{path}/comments", headers=key("nordlys_user")).json()
    tech_view = client.get(f"{path}/comments", headers=key("soc_tech")).json()
    assert customer_view["count"] == 0 and tech_view["count"] == 1


def test_comment_order_before_and_after(client: TestClient) -> None:
    path = new_case(client)
    made = [
        client.post(
            f"{path}/comments", headers=key("nordlys_user"), json={"comment": f"c{n}"}
        ).json()["data"]["id"]
        for n in range(4)
    ]
    state = client.app.state.sandbox  # type: ignore[attr-defined]
    for n, row in enumerate(state.comments[int(path.rsplit("/", 1)[1])]):
        row["addedTimestamp"] += n  # distinct times, so the order is defined
    newest = client.get(
        f"{path}/comments?sortBy=-addedTimestamp", headers=key("nordlys_user")
    ).json()
    assert [c["comment"] for c in newest["data"]] == ["c3", "c2", "c1", "c0"]
    before = client.get(
        f"{path}/comments?beforeComment={made[2]}", headers=key("nordlys_user")
    ).json()
    after = client.get(
        f"{path}/comments?afterComment={made[1]}", headers=key("nordlys_user")
    ).json()
    assert [c["comment"] for c in before["data"]] == ["c0", "c1"]
    assert [c["comment"] for c in after["data"]] == ["c2", "c3"]


def test_a_comment_may_set_the_status_and_name_attachments(client: TestClient) -> None:
    path = new_case(client)
    ids = [
        client.post(
            f"{path}/attachments",
            headers=key("nordlys_user"),
            json={"name": f"{n}.txt", "mimeType": "text/plain", "data": "YWJj"},
        ).json()["data"]["id"]
        for n in ("a", "b")
    ]
    body = {
        "comment": "See <b>both</b> files",
        "associatedAttachmentID": ids,
        "status": "pendingSoc",
        "textFormat": "plainText",
        "notification": {},
    }
    added = client.post(f"{path}/comments", headers=key("nordlys_user"), json=body).json()["data"]
    assert added["comment"] == "See &lt;b&gt;both&lt;/b&gt; files"
    assert [a["name"] for a in added["associatedAttachments"]] == ["a.txt", "b.txt"]
    case = client.get(path, headers=key("nordlys_user")).json()["data"]
    assert case["status"] == "pendingSoc"
    edited = client.put(
        f"{path}/comments/{added['id']}",
        headers=key("nordlys_user"),
        json={"comment": "Only one", "associatedAttachmentID": ids[:1]},
    ).json()["data"]
    assert [a["name"] for a in edited["associatedAttachments"]] == ["a.txt"]
    closing = client.post(
        f"{path}/comments", headers=key("nordlys_user"), json={"comment": "x", "status": "closed"}
    )
    assert error(closing, 412, "FIELD_ERROR")["messages"][0]["field"] == "status"


def test_edit_comment_by_author_or_tech_and_delete_by_tech_only(client: TestClient) -> None:
    path = new_case(client)
    soc = client.post(f"{path}/comments", headers=key("soc_tech"), json={"comment": "hi"}).json()[
        "data"
    ]
    error(
        client.put(
            f"{path}/comments/{soc['id']}", headers=key("nordlys_user"), json={"comment": "x"}
        ),
        403,
    )
    comment = client.post(
        f"{path}/comments", headers=key("nordlys_user"), json={"comment": "typo"}
    ).json()["data"]
    one = f"{path}/comments/{comment['id']}"
    edited = client.put(one, headers=key("nordlys_user"), json={"comment": "fixed"}).json()["data"]
    assert edited["comment"] == "fixed" and edited["lastUpdatedTimestamp"] == int(NOW * 1000)
    error(client.delete(one, headers=key("nordlys_user")), 403)
    deleted = client.delete(one, headers=key("soc_tech")).json()["data"]
    assert deleted["flags"] == ["DELETED"]
    assert client.get(f"{path}/comments", headers=key("nordlys_user")).json()["count"] == 1
    error(client.put(f"{path}/comments/nope", headers=key("soc_tech"), json={"comment": "x"}), 404)


# --- attachments ----------------------------------------------------------------------------


def test_upload_list_and_download_an_attachment(client: TestClient) -> None:
    path = new_case(client)
    raw = b"\x00\x01binary\xff"
    upload = {
        "name": "filename.log",
        "mimeType": "application/octet-stream",
        "data": base64.b64encode(raw).decode(),
    }
    made = client.post(f"{path}/attachments", headers=key("nordlys_user"), json=upload)
    assert made.status_code == 201
    meta = made.json()["data"]
    assert (meta["name"], meta["size"], meta["mimeType"]) == (
        "filename.log",
        len(raw),
        "application/octet-stream",
    )
    listed = client.get(f"{path}/attachments", headers=key("soc_tech")).json()
    assert [a["id"] for a in listed["data"]] == [meta["id"]]
    one = client.get(f"{path}/attachments/{meta['id']}", headers=key("soc_tech")).json()["data"]
    assert one == meta
    download = client.get(f"{path}/attachments/{meta['id']}/download", headers=key("soc_tech"))
    assert download.status_code == 200 and download.content == raw
    assert download.headers["content-type"] == "application/octet-stream"


def test_download_keeps_the_original_content_type(client: TestClient) -> None:
    path = new_case(client)
    upload = {
        "name": "a.txt",
        "mimeType": "text/plain",
        "data": base64.b64encode(b"abcdef").decode(),
    }
    meta = client.post(f"{path}/attachments", headers=key("nordlys_user"), json=upload).json()[
        "data"
    ]
    download = client.get(f"{path}/attachments/{meta['id']}/download", headers=key("nordlys_user"))
    assert download.text == "abcdef" and download.headers["content-type"] == "text/plain"
    assert download.headers["content-disposition"] == 'attachment; filename="a.txt"'
    inline = client.get(
        f"{path}/attachments/{meta['id']}/download?inline=true", headers=key("nordlys_user")
    )
    assert inline.headers["content-disposition"] == 'inline; filename="a.txt"'


def test_internal_attachments_are_for_tech_users_only(client: TestClient) -> None:
    path = new_case(client)
    upload = {"name": "ioc.txt", "mimeType": "text/plain", "data": "YWJj", "internal": True}
    refused = client.post(f"{path}/attachments", headers=key("nordlys_user"), json=upload)
    assert error(refused, 403, "FIELD_ERROR")["messages"][0]["field"] == "internal"
    meta = client.post(f"{path}/attachments", headers=key("soc_tech"), json=upload).json()["data"]
    assert meta["flags"] == ["INTERNAL"]
    listed = client.get(f"{path}/attachments", headers=key("nordlys_user")).json()["data"]
    assert listed == []
    error(client.get(f"{path}/attachments/{meta['id']}", headers=key("nordlys_user")), 404)
    seen = client.get(f"{path}/attachments", headers=key("soc_tech")).json()["data"]
    assert [a["id"] for a in seen] == [meta["id"]]


def test_uploads_accept_the_fields_mnemonics_model_sends(client: TestClient) -> None:
    path = new_case(client)
    upload = {
        "name": "a.zip",
        "mimeType": "application/zip",
        "data": "YWJj",
        "encryptedZipMode": "client",
        "encryptedZipPassword": "argus",
        "prepared": False,
        "notification": {},
    }
    meta = client.post(f"{path}/attachments", headers=key("nordlys_user"), json=upload)
    assert meta.status_code == 201 and meta.json()["data"]["flags"] == ["ENCRYPTED_ZIP"]


@pytest.mark.parametrize(
    ("upload", "field"),
    [
        ({"name": "x", "data": "not base64!"}, "data"),
        ({"data": "YWJj"}, "name"),
        ({"name": "x"}, "data"),
    ],
)
def test_bad_uploads_are_412(client: TestClient, upload: dict[str, str], field: str) -> None:
    path = new_case(client)
    response = client.post(f"{path}/attachments", headers=key("nordlys_user"), json=upload)
    assert error(response, 412, "FIELD_ERROR")["messages"][0]["field"] == field


def test_unknown_attachment_is_404_and_read_only_user_cannot_upload(client: TestClient) -> None:
    path = new_case(client)
    error(client.get(f"{path}/attachments/nope/download", headers=key("soc_tech")), 404)
    upload = {"name": "a.txt", "data": "YWJj"}
    error(client.post(f"{path}/attachments", headers=key("nordlys_readonly"), json=upload), 403)


def test_seeded_attachments_download_as_stored(client: TestClient) -> None:
    state = client.app.state.sandbox  # type: ignore[attr-defined]
    case_id, rows = next((cid, rows) for cid, rows in state.attachments.items() if rows)
    row = rows[0]
    download = client.get(
        f"/cases/v2/case/{case_id}/attachments/{row['id']}/download", headers=key("admin")
    )
    assert download.content == row["content"]
    assert download.headers["content-type"].split(";")[0] == row["mimeType"]


# --- tags -----------------------------------------------------------------------------------


def test_add_tags_in_both_forms_and_duplicates_are_ignored(client: TestClient) -> None:
    path = new_case(client)
    body = {"tags": ["mykey/value1", {"key": "mykey2", "value": "value2"}, "mykey/value1"]}
    made = client.post(f"{path}/tags", headers=key("nordlys_user"), json=body)
    assert made.status_code == 201
    pairs = [(t["key"], t["value"]) for t in made.json()["data"]]
    assert pairs == [("mykey", "value1"), ("mykey2", "value2")]
    same_key = client.post(
        f"{path}/tags", headers=key("nordlys_user"), json={"tags": ["mykey/value3"]}
    )
    assert [t["value"] for t in same_key.json()["data"] if t["key"] == "mykey"] == [
        "value1",
        "value3",
    ]


def test_remove_tag_by_key_value_and_by_id(client: TestClient) -> None:
    path = new_case(client)
    tags = client.post(
        f"{path}/tags", headers=key("nordlys_user"), json={"tags": ["a/1", "b/2"]}
    ).json()["data"]
    after_kv = client.delete(f"{path}/tags/a/1", headers=key("nordlys_user")).json()["data"]
    assert [(t["key"], t["value"]) for t in after_kv] == [("b", "2")]
    b_id = next(t["id"] for t in tags if t["key"] == "b")
    assert client.delete(f"{path}/tags/{b_id}", headers=key("nordlys_user")).json()["data"] == []
    error(client.delete(f"{path}/tags/{b_id}", headers=key("nordlys_user")), 404)


def test_tag_rights_and_validation(client: TestClient) -> None:
    path = new_case(client)
    error(client.post(f"{path}/tags", headers=key("nordlys_readonly"), json={"tags": ["a/1"]}), 403)
    error(
        client.post(f"{path}/tags", headers=key("nordlys_user"), json={"tags": "a/1"}),
        412,
        "FIELD_ERROR",
    )
    error(
        client.post(f"{path}/tags", headers=key("nordlys_user"), json={"tags": [{"key": "a"}]}),
        412,
        "FIELD_ERROR",
    )


# --- access ---------------------------------------------------------------------------------


def test_owner_grants_and_revokes_explicit_access(client: TestClient) -> None:
    path = new_case(client, accessMode="readRestricted")
    error(client.get(path, headers=key("nordlys_readonly")), 404)
    grant = client.post(
        f"{path}/access", headers=key("nordlys_user"), json={"userOrGroup": "ola.hansen"}
    )
    assert grant.status_code == 201
    entry = grant.json()["data"]
    assert entry["subject"]["userName"] == "ola.hansen" and entry["level"] == "read"
    listed = client.get(f"{path}/access", headers=key("nordlys_user")).json()["data"]
    assert [e["id"] for e in listed] == [entry["id"]]
    assert (
        client.get(path, headers=key("nordlys_readonly")).json()["data"]["currentUserAccess"][
            "level"
        ]
        == "read"
    )
    revoked = client.delete(f"{path}/access/{entry['id']}", headers=key("nordlys_user"))
    assert revoked.json()["data"]["id"] == entry["id"]
    error(client.get(path, headers=key("nordlys_readonly")), 404)


def test_every_acl_member_of_an_explicit_case_may_write(client: TestClient) -> None:
    path = new_case(client, who="soc_tech", accessMode="explicit")
    client.post(f"{path}/access", headers=key("soc_tech"), json={"subjectID": 202, "level": "read"})
    data = client.get(path, headers=key("nordlys_readonly")).json()["data"]
    assert data["currentUserAccess"]["level"] == "write"
    client.put(f"{path}/access", headers=key("soc_tech"), json={"accessMode": "readRestricted"})
    data = client.get(path, headers=key("nordlys_readonly")).json()["data"]
    assert data["currentUserAccess"]["level"] == "read"


def test_an_owner_grant_gives_owner_access(client: TestClient) -> None:
    path = new_case(client, who="soc_tech", accessMode="writeRestricted")
    grant = client.post(
        f"{path}/access",
        headers=key("soc_tech"),
        json={"userOrGroup": "kari.nordmann", "level": "owner", "addWatcher": False},
    )
    assert grant.json()["data"]["level"] == "owner"
    data = client.get(path, headers=key("nordlys_user")).json()["data"]
    assert data["currentUserAccess"]["level"] == "owner"
    changed = client.put(
        f"{path}/access", headers=key("nordlys_user"), json={"accessMode": "explicit"}
    )
    assert changed.status_code == 200


def test_group_grant_gives_its_members_access(client: TestClient) -> None:
    path = new_case(client, who="soc_tech", accessMode="explicit")
    error(client.get(path, headers=key("nordlys_user")), 404)
    client.post(
        f"{path}/access", headers=key("soc_tech"), json={"subjectID": 401, "level": "write"}
    )
    assert (
        client.get(path, headers=key("nordlys_user")).json()["data"]["currentUserAccess"]["level"]
        == "write"
    )


def test_changing_access_needs_owner_level(client: TestClient) -> None:
    path = new_case(client)
    error(
        client.put(
            f"{path}/access", headers=key("soc_analyst"), json={"accessMode": "readRestricted"}
        ),
        403,
    )
    error(client.post(f"{path}/access", headers=key("soc_analyst"), json={"subjectID": 202}), 403)
    changed = client.put(
        f"{path}/access", headers=key("admin"), json={"accessMode": "readRestricted"}
    )
    assert changed.json()["data"]["accessMode"] == "readRestricted"


@pytest.mark.parametrize(
    ("mode", "readonly_level", "writer_level", "tech_level"),
    [
        ("roleBased", "read", "write", "write"),
        ("writeRestricted", "read", "read", "write"),
        ("readRestricted", None, None, "write"),
        ("explicit", None, None, None),
    ],
)
def test_access_modes_follow_the_documented_table(
    client: TestClient,
    mode: str,
    readonly_level: str | None,
    writer_level: str | None,
    tech_level: str | None,
) -> None:
    path = new_case(client, who="admin", accessMode=mode)

    def level(who: str) -> str | None:
        response = client.get(path, headers=key(who))
        return (
            response.json()["data"]["currentUserAccess"]["level"]
            if response.status_code == 200
            else None
        )

    assert (level("nordlys_readonly"), level("nordlys_user"), level("soc_analyst")) == (
        readonly_level,
        writer_level,
        tech_level,
    )
    assert level("admin") == "owner"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"accessMode": "private"}, "accessMode"), ({"subjectID": 424242}, "subjectID"),
     ({"userOrGroup": "nobody"}, "userOrGroup"), ({"userOrGroup": "ola.hansen", "level": "admin"},
     "userOrGroup"), ({"level": "read"}, "userOrGroup")],
)  # fmt: skip
def test_invalid_access_changes_are_412(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    path = new_case(client)
    method = client.put if "accessMode" in body else client.post
    response = method(f"{path}/access", headers=key("nordlys_user"), json=body)
    assert error(response, 412, "FIELD_ERROR")["messages"][0]["field"] == field


def test_revoking_an_unknown_entry_is_404(client: TestClient) -> None:
    path = new_case(client)
    error(client.delete(f"{path}/access/not-an-entry", headers=key("nordlys_user")), 404)


# --- history and events ---------------------------------------------------------------------


def test_history_records_every_change(client: TestClient) -> None:
    path = new_case(client)
    client.put(path, headers=key("soc_tech"), json={"priority": "critical"})
    client.put(f"{path}/close", headers=key("soc_tech"), json={})
    history = client.get(f"{path}/history", headers=key("nordlys_user")).json()["data"]
    assert [t["operation"] for t in history] == ["createCase", "updateCase", "closeCase"]
    update = history[1]
    assert update["changes"][0]["field"] == "priority"
    assert (update["changes"][0]["value"], update["changes"][0]["previousValue"]) == (
        "critical",
        "medium",
    )
    assert update["user"]["userName"] == "soc.tech" and update["time"].endswith("Z")
    one = client.get(f"{path}/history/{update['id']}", headers=key("nordlys_user")).json()["data"]
    assert one == update
    error(client.get(f"{path}/history/nope", headers=key("nordlys_user")), 404)


def test_history_filters_as_mnemonics_model_names_them(client: TestClient) -> None:
    path = new_case(client)
    client.post(f"{path}/comments", headers=key("nordlys_user"), json={"comment": "Hello"})
    client.put(path, headers=key("soc_tech"), json={"priority": "high"})
    client.post(f"{path}/tags", headers=key("nordlys_user"), json={"tags": ["a/b"]})
    client.put(f"{path}/close", headers=key("soc_tech"), json={})

    def operations(**query: Any) -> list[str]:
        body = client.get(f"{path}/history", headers=key("soc_tech"), params=query).json()
        return [t["operation"] for t in body["data"]]

    everything = ["createCase", "addCaseComment", "updateCase", "addCaseTag", "closeCase"]
    assert operations() == everything
    assert operations(sortBy="-timestamp") == everything[::-1]
    assert operations(operation=["addCaseTag", "closeCase"]) == ["addCaseTag", "closeCase"]
    assert operations(type="actions") == ["createCase", "closeCase"]
    assert operations(type=["comments", "priority"]) == ["addCaseComment", "updateCase"]
    assert operations(field="priority") == ["updateCase"]
    assert operations(user="soc.tech") == ["updateCase", "closeCase"]
    assert operations(userID=201) == ["createCase", "addCaseComment", "addCaseTag"]
    ids = [t["id"] for t in client.get(f"{path}/history", headers=key("soc_tech")).json()["data"]]
    assert operations(afterTransaction=ids[2]) == everything[3:]
    assert operations(beforeTransaction=ids[1], transactionID=ids[:2]) == everything[:1]
    assert operations(startTimestamp="now", endTimestamp="-1hours") == []
    assert operations(startTimestamp="-1hours") == everything
    refused = client.get(f"{path}/history", headers=key("soc_tech"), params={"type": "tags"})
    assert error(refused, 412, "FIELD_ERROR")["messages"][0]["field"] == "type"


def test_seeded_history_ends_at_the_cases_last_update(client: TestClient) -> None:
    state = client.app.state.sandbox  # type: ignore[attr-defined]
    for case in state.cases.values():
        rows = state.history[case["id"]]
        assert rows[0]["operation"] == "createCase"
        assert rows[-1]["timestamp"] == case["lastUpdatedTimestamp"]


def test_case_events_are_paged_and_access_checked(client: TestClient) -> None:
    state = client.app.state.sandbox  # type: ignore[attr-defined]
    case_id = next(
        cid
        for cid, rows in state.events.items()
        if rows
        and (state.cases[cid]["customerID"], state.cases[cid]["accessMode"]) == (2, "roleBased")
        and "DELETED" not in state.cases[cid]["flags"]
    )
    body = client.get(f"/events/v1/case/{case_id}?limit=1", headers=key("nordlys_user")).json()
    assert body["size"] == 1 and body["count"] == len(state.events[case_id])
    event = body["data"][0]
    assert (
        event["associatedCase"]["id"] == case_id and event["customerInfo"]["shortName"] == "nordlys"
    )
    error(client.get(f"/events/v1/case/{case_id}", headers=key("fjordline_user")), 404)


# --- catalog --------------------------------------------------------------------------------


def test_services_list_and_get_by_id_or_short_name(client: TestClient) -> None:
    body = client.get("/cases/v2/service", headers=key("nordlys_user")).json()
    assert body["count"] == 5
    support = next(s for s in body["data"] if s["shortName"] == "support")
    assert set(support["caseTypes"]) == {
        "operationalIncident",
        "securityIncident",
        "change",
        "informational",
    }
    by_id = client.get(f"/cases/v2/service/{support['id']}", headers=key("nordlys_user")).json()[
        "data"
    ]
    by_name = client.get("/cases/v2/service/support", headers=key("nordlys_user")).json()["data"]
    assert by_id == by_name == support
    error(client.get("/cases/v2/service/nosuch", headers=key("nordlys_user")), 404)


def test_subscriptions_are_filtered_by_customer_and_visibility(client: TestClient) -> None:
    mine = client.get("/cases/v2/servicesubscription", headers=key("nordlys_readonly")).json()
    assert {s["customer"]["shortName"] for s in mine["data"]} == {"nordlys"}
    assert all(s["currentUserAccess"] == {"level": "read", "role": "user"} for s in mine["data"])
    tech = client.get(
        "/cases/v2/servicesubscription?customer=fjordline", headers=key("soc_tech")
    ).json()
    assert {s["service"]["shortName"] for s in tech["data"]} == {"ids", "support", "administrative"}
    assert tech["data"][0]["currentUserAccess"] == {"level": "write", "role": "tech"}
    hidden = client.get(
        "/cases/v2/servicesubscription?customer=fjordline", headers=key("nordlys_user")
    ).json()
    assert hidden["count"] == 0
    error(
        client.get("/cases/v2/servicesubscription?customer=nosuch", headers=key("soc_tech")),
        412,
        "FIELD_ERROR",
    )


def test_categories_carry_service_bindings(client: TestClient) -> None:
    body = client.get("/cases/v2/category?limit=0", headers=key("soc_tech")).json()
    firewall = next(c for c in body["data"] if c["shortName"] == "firewall-operational")
    assert firewall["id"] == 61
    assert firewall["bindings"] == [
        {
            "service": {
                "id": 6,
                "name": "Support",
                "shortName": "support",
                "localizedName": "Support",
            },
            "caseTypes": ["operationalIncident"],
        }
    ]
    by_name = client.get("/cases/v2/category/firewall-operational", headers=key("soc_tech")).json()[
        "data"
    ]
    assert (
        by_name
        == firewall
        == client.get("/cases/v2/category/61", headers=key("soc_tech")).json()["data"]
    )
    error(client.get("/cases/v2/category/999", headers=key("soc_tech")), 404)
