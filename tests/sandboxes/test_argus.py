"""The Argus sandbox: seed, API-key auth, the envelope, and the case resource itself.

Written against Argus's documented behaviour (docs/sandboxes/argus.md), not a connector spec.
Searches live in test_argus_search.py; comments, attachments, tags, access, history, events
and the catalog in test_argus_resources.py.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from hookline.connectors.argus.sandbox import (
    DEMO_CREDENTIALS,
    DEMO_KEYS,
    create_app,
    demo_connection,
)
from hookline.connectors.argus.sandbox.directory import BASE_TIME_MS
from hookline.errors import ConfigurationError
from hookline.run.sandbox import running

with warnings.catch_warnings():
    # starlette asks for the httpx2 package; the installed httpx works the same for tests.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NOW = 1_760_000_000.0
ENVELOPE = {"responseCode", "limit", "offset", "count", "size", "metaData", "messages", "data"}


def key(name: str) -> dict[str, str]:
    return {"Argus-API-Key": DEMO_KEYS[name]}


def make_client(**options: Any) -> TestClient:
    options.setdefault("clock", lambda: NOW)
    return TestClient(create_app(**options))


@pytest.fixture(scope="module")
def reader() -> TestClient:
    """A full seeded sandbox that tests in this module only read from."""
    return make_client()


@pytest.fixture
def client() -> TestClient:
    """A small fresh sandbox for tests that change things."""
    return make_client(case_count=40)


def assert_error(
    response: httpx.Response, status: int, kind: str = "ACTION_ERROR"
) -> dict[str, Any]:
    assert response.status_code == status
    body: dict[str, Any] = response.json()
    assert set(body) == ENVELOPE
    assert body["responseCode"] == status and body["data"] is None
    assert body["messages"], "an error carries at least one message"
    for item in body["messages"]:
        assert item["type"] == kind
        assert item["message"] and isinstance(item["timestamp"], int)
    return body


def find_case(client: TestClient, **wanted: Any) -> dict[str, Any]:
    state = client.app.state.sandbox  # type: ignore[attr-defined]
    for case in state.cases.values():
        if all(case[k] == v for k, v in wanted.items()) and "DELETED" not in case["flags"]:
            return case  # type: ignore[no-any-return]
    raise LookupError(wanted)


def create_body(**fields: Any) -> dict[str, Any]:
    body = {
        "customer": "nordlys",
        "service": "support",
        "type": "operationalIncident",
        "subject": "Printer on floor 3 is down",
        "description": "<p>It does not print.</p>",
    }
    body.update(fields)
    return body


# --- seed -----------------------------------------------------------------------------------


def test_same_seed_gives_same_data_and_other_seed_differs() -> None:
    first, again, other = make_client(seed=3), make_client(seed=3), make_client(seed=4)
    ids = list(first.app.state.sandbox.cases)  # type: ignore[attr-defined]
    assert len(ids) == 500
    path = f"/cases/v2/case/{ids[123]}"
    assert (
        first.get(path, headers=key("admin")).json() == again.get(path, headers=key("admin")).json()
    )
    assert (
        first.get(path, headers=key("admin")).json() != other.get(path, headers=key("admin")).json()
    )


def test_seed_has_two_client_customers_five_services_and_bound_categories(
    reader: TestClient,
) -> None:
    state = reader.app.state.sandbox  # type: ignore[attr-defined]
    case_customers = {c["customerID"] for c in state.cases.values()}
    assert {state.customers[c]["shortName"] for c in case_customers} == {"nordlys", "fjordline"}
    assert len(state.services) == 5
    for category in state.categories.values():
        assert category["bindings"]
    for case in state.cases.values():
        if case["categoryID"] is not None:
            assert state.category_valid(case["categoryID"], case["serviceID"], case["type"])
        assert state.subscription(case["customerID"], case["serviceID"]) is not None


def test_seeded_timestamps_lie_in_the_year_before_the_base_date(reader: TestClient) -> None:
    state = reader.app.state.sandbox  # type: ignore[attr-defined]
    created = [c["createdTimestamp"] for c in state.cases.values()]
    assert min(created) >= BASE_TIME_MS - 366 * 86_400_000 and max(created) < BASE_TIME_MS
    assert created == sorted(created), "ids ascend with creation time"
    closed = [c for c in state.cases.values() if c["status"] == "closed"]
    assert closed and all(c["closedTimestamp"] >= c["createdTimestamp"] for c in closed)


def test_case_times_have_iso_twins(reader: TestClient) -> None:
    case = find_case(reader, status="closed")
    data = reader.get(f"/cases/v2/case/{case['id']}", headers=key("admin")).json()["data"]
    for stem in ("created", "lastUpdated", "closed", "published"):
        millis = data[f"{stem}Timestamp"]
        assert data[f"{stem}Time"].endswith("Z")
        moment = datetime.fromisoformat(data[f"{stem}Time"].replace("Z", "+00:00"))
        assert int(moment.timestamp() * 1000) == millis


# --- authentication and envelope -----------------------------------------------------------


def test_missing_key_gets_401_in_the_envelope(reader: TestClient) -> None:
    assert_error(reader.get("/cases/v2/case/100001"), 401)


def test_unknown_key_gets_401(reader: TestClient) -> None:
    body = assert_error(reader.get("/cases/v2/case", headers={"Argus-API-Key": "1/1/nope"}), 401)
    assert "Invalid API key" in body["messages"][0]["message"]


def test_expired_key_gets_401_saying_so() -> None:
    late = make_client(case_count=5, clock=lambda: BASE_TIME_MS / 1000 + 1)
    body = assert_error(late.get("/currentuser/v1/user", headers=key("expired")), 401)
    assert "expired" in body["messages"][0]["message"]
    early = make_client(case_count=5, clock=lambda: BASE_TIME_MS / 1000 - 60)
    assert early.get("/currentuser/v1/user", headers=key("expired")).status_code == 200


def test_key_bound_to_another_network_gets_401_over_a_real_socket() -> None:
    app = create_app(case_count=5)
    with running(app) as base_url:
        refused = httpx.get(f"{base_url}/currentuser/v1/user", headers=key("office_network"))
        accepted = httpx.get(f"{base_url}/currentuser/v1/user", headers=key("soc_tech"))
    assert_error(refused, 401)
    assert "source address" in refused.json()["messages"][0]["message"]
    assert accepted.status_code == 200


def test_demo_connection_and_credentials_work_against_a_served_app() -> None:
    app = create_app(case_count=5)
    with running(app) as base_url:
        connection = demo_connection(base_url)
        response = httpx.get(
            f"{connection['base_url']}/currentuser/v1/user",
            headers={"Argus-API-Key": connection["api_key"]},
        )
    assert set(connection) == {"base_url", "api_key"}
    assert response.json()["responseCode"] == 200
    assert response.json()["data"]["userName"] == "soc.tech"
    assert connection["api_key"] in DEMO_CREDENTIALS


def test_single_object_envelope_has_zero_count_and_size(reader: TestClient) -> None:
    body = reader.get("/currentuser/v1/user", headers=key("nordlys_user")).json()
    assert set(body) == ENVELOPE
    assert (body["count"], body["size"], body["messages"], body["metaData"]) == (0, 0, [], {})
    assert body["data"]["customer"]["shortName"] == "nordlys" and body["data"]["type"] == "user"


def test_unknown_path_and_wrong_method_answer_in_the_envelope(reader: TestClient) -> None:
    assert_error(reader.get("/cases/v2/nothing", headers=key("soc_tech")), 404)
    assert_error(reader.patch("/cases/v2/case/100001", headers=key("soc_tech")), 405)


# --- get ------------------------------------------------------------------------------------


def test_get_case_returns_the_documented_model(reader: TestClient) -> None:
    case = find_case(reader)
    data = reader.get(f"/cases/v2/case/{case['id']}", headers=key("soc_tech")).json()["data"]
    expected = (
        "id customer service category type status priority subject description accessMode "
        "reporter createdByUser currentUserAccess workflows flags initialStatus initialPriority"
    )
    assert set(expected.split()) <= set(data)
    assert set(data["customer"]) == {"id", "name", "shortName", "domain"}
    assert set(data["service"]) == {"id", "name", "shortName", "localizedName"}
    assert data["reporter"]["type"] == "user"


def test_current_user_access_reflects_role_and_level(reader: TestClient) -> None:
    case = find_case(reader, customerID=2, accessMode="roleBased", reporterID=101)
    path = f"/cases/v2/case/{case['id']}"

    def access(name: str) -> dict[str, str]:
        return reader.get(path, headers=key(name)).json()["data"]["currentUserAccess"]  # type: ignore[no-any-return]

    assert access("soc_tech") == {"level": "owner", "role": "tech"}
    assert access("soc_analyst") == {"level": "write", "role": "tech"}
    assert access("admin") == {"level": "owner", "role": "admin"}
    assert access("nordlys_user") == {"level": "write", "role": "user"}
    assert access("nordlys_readonly") == {"level": "read", "role": "user"}


def test_case_of_another_customer_is_not_returned(reader: TestClient) -> None:
    case = find_case(reader, customerID=2, accessMode="roleBased")
    assert_error(reader.get(f"/cases/v2/case/{case['id']}", headers=key("fjordline_user")), 404)


def test_unknown_case_is_404(reader: TestClient) -> None:
    assert_error(reader.get("/cases/v2/case/999999", headers=key("soc_tech")), 404)


def test_deleted_case_is_seen_by_tech_only(reader: TestClient) -> None:
    state = reader.app.state.sandbox  # type: ignore[attr-defined]
    case = next(c for c in state.cases.values() if "DELETED" in c["flags"] and c["customerID"] == 2)
    path = f"/cases/v2/case/{case['id']}"
    assert reader.get(path, headers=key("soc_analyst")).json()["data"]["flags"] == ["DELETED"]
    assert_error(reader.get(path, headers=key("nordlys_readonly")), 404)


# --- create ---------------------------------------------------------------------------------


def test_create_case_answers_201_with_the_case(client: TestClient) -> None:
    response = client.post("/cases/v2/case", headers=key("nordlys_user"), json=create_body())
    assert response.status_code == 201
    body = response.json()
    assert body["responseCode"] == 201
    data = body["data"]
    assert data["customer"]["shortName"] == "nordlys" and data["service"]["shortName"] == "support"
    assert (data["status"], data["priority"], data["accessMode"]) == (
        "pendingSoc",
        "medium",
        "roleBased",
    )
    assert data["reporter"]["userName"] == "kari.nordmann"
    assert data["currentUserAccess"] == {"level": "owner", "role": "user"}
    assert data["createdTimestamp"] == int(NOW * 1000)
    assert client.get(f"/cases/v2/case/{data['id']}", headers=key("soc_tech")).status_code == 200


def test_create_defaults_to_the_users_own_customer_and_accepts_customer_id(
    client: TestClient,
) -> None:
    body = create_body()
    del body["customer"]
    own = client.post("/cases/v2/case", headers=key("fjordline_user"), json=body).json()["data"]
    by_id = client.post(
        "/cases/v2/case", headers=key("soc_tech"), json=create_body(customer=None, customerID=3)
    ).json()["data"]
    assert own["customer"]["shortName"] == "fjordline" and by_id["customer"]["id"] == 3


def test_create_sanitises_the_description(client: TestClient) -> None:
    dirty = '<p onclick="x()">Hi<script>alert(1)</script> <a href="javascript:x">y</a></p>'
    data = client.post(
        "/cases/v2/case", headers=key("nordlys_user"), json=create_body(description=dirty)
    ).json()["data"]
    assert data["description"] == "<p>Hi <a>y</a></p>"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"service": "administrative"}, "service"),  # nordlys does not subscribe to it
        ({"service": "nosuchservice"}, "service"),
        ({"customer": "nosuchcustomer"}, "customer"),
        ({"type": "incident"}, "type"),
        ({"service": "advisory", "type": "change"}, "type"),  # advisory does not take changes
        ({"category": "sensor-health"}, "category"),  # bound to ids only
        ({"subject": None}, "subject"),
        ({"status": "closed"}, "status"),
        ({"accessMode": "secret"}, "accessMode"),
        ({"aclMembers": [{"subjectID": 99999, "level": "read"}]}, "aclMembers"),
        ({"tags": ["nokeyvalue"]}, "tags"),
        ({"severity": "high"}, "severity"),
    ],
)
def test_create_validation_errors_are_412_field_errors(
    client: TestClient, fields: dict[str, Any], field: str
) -> None:
    body = assert_error(
        client.post("/cases/v2/case", headers=key("nordlys_user"), json=create_body(**fields)),
        412,
        "FIELD_ERROR",
    )
    assert body["messages"][0]["field"] == field


def test_create_needs_write_access_to_the_subscription(client: TestClient) -> None:
    assert_error(
        client.post("/cases/v2/case", headers=key("nordlys_readonly"), json=create_body()), 403
    )
    other = create_body(customer="fjordline")
    assert_error(client.post("/cases/v2/case", headers=key("nordlys_user"), json=other), 403)


def test_create_restricted_case_with_acl_members(client: TestClient) -> None:
    body = create_body(
        accessMode="explicit", aclMembers=[{"subjectID": 202, "level": "read"}], tags=["source/edr"]
    )
    data = client.post("/cases/v2/case", headers=key("nordlys_user"), json=body).json()["data"]
    path = f"/cases/v2/case/{data['id']}"
    assert data["accessMode"] == "explicit"
    # In explicit mode every ACL member may write, whatever level the entry names.
    assert (
        client.get(path, headers=key("nordlys_readonly")).json()["data"]["currentUserAccess"][
            "level"
        ]
        == "write"
    )
    assert_error(client.get(path, headers=key("soc_analyst")), 404)  # explicit binds tech users too
    assert client.get(path, headers=key("admin")).status_code == 200
    tags = client.get(f"{path}/tags", headers=key("nordlys_user")).json()["data"]
    assert [(t["key"], t["value"]) for t in tags] == [("source", "edr")]


def test_unpublished_case_needs_the_tech_role(client: TestClient) -> None:
    assert_error(
        client.post("/cases/v2/case", headers=key("nordlys_user"), json=create_body(publish=False)),
        403,
        "FIELD_ERROR",
    )
    data = client.post(
        "/cases/v2/case", headers=key("soc_tech"), json=create_body(publish=False)
    ).json()["data"]
    assert data["publishedTimestamp"] is None
    assert_error(client.get(f"/cases/v2/case/{data['id']}", headers=key("nordlys_user")), 404)


def test_create_accepts_the_fields_mnemonics_models_send(client: TestClient) -> None:
    body = create_body(
        accessMode="roleBased",
        priority="medium",
        defaultWatchers=True,
        descriptionTextFormat="html",
        publish=True,
        rejectCreateWithoutNotification=False,
        notification={},
        triggers={"severityAlert": False},
        fields=[],
        watchers=[],
        testData=False,
        aclMembers=[{"userOrGroup": "ola.hansen", "level": "write", "addWatcher": True}],
    )
    response = client.post("/cases/v2/case", headers=key("nordlys_user"), json=body)
    assert response.status_code == 201, response.text


def test_waiting_statuses_are_accepted(client: TestClient) -> None:
    created = client.post(
        "/cases/v2/case", headers=key("nordlys_user"), json=create_body(status="waitingCustomer")
    ).json()["data"]
    assert created["status"] == "waitingCustomer"
    path = f"/cases/v2/case/{created['id']}"
    updated = client.put(path, headers=key("soc_tech"), json={"status": "waitingSoc"})
    assert updated.json()["data"]["status"] == "waitingSoc"
    found = client.get("/cases/v2/case?status=waitingSoc", headers=key("soc_tech")).json()
    assert [c["id"] for c in found["data"]] == [created["id"]]


def test_a_plain_text_description_keeps_its_markup_as_text(client: TestClient) -> None:
    body = create_body(description="Use <b> for bold", descriptionTextFormat="plainText")
    data = client.post("/cases/v2/case", headers=key("nordlys_user"), json=body).json()["data"]
    assert data["description"] == "Use &lt;b&gt; for bold"
    path = f"/cases/v2/case/{data['id']}"
    changed = client.put(
        path, headers=key("nordlys_user"), json={"description": "<i>x</i>", "textFormat": "html"}
    )
    assert changed.json()["data"]["description"] == "<i>x</i>"


def test_create_assigns_users_and_a_tech_only_as_tech(client: TestClient) -> None:
    body = create_body(assignedUser="kari.nordmann", assignedTech="soc.analyst")
    data = client.post("/cases/v2/case", headers=key("soc_tech"), json=body).json()["data"]
    assert (data["assignedUser"]["userName"], data["assignedTech"]["userName"]) == (
        "kari.nordmann",
        "soc.analyst",
    )
    refused = client.post("/cases/v2/case", headers=key("nordlys_user"), json=body)
    assert assert_error(refused, 403, "FIELD_ERROR")["messages"][0]["field"] == "assignedTech"


def test_a_create_nobody_would_be_told_of_can_be_refused(client: TestClient) -> None:
    quiet = create_body(defaultWatchers=False, rejectCreateWithoutNotification=True)
    assert_error(client.post("/cases/v2/case", headers=key("nordlys_user"), json=quiet), 412)
    watched = {**quiet, "watchers": [{"type": "email", "destination": "soc@example.com"}]}
    response = client.post("/cases/v2/case", headers=key("nordlys_user"), json=watched)
    assert response.status_code == 201
    silent = client.post(
        "/cases/v2/case", headers=key("nordlys_user"), json=create_body(defaultWatchers=False)
    ).json()["data"]
    history = client.app.state.sandbox.history[silent["id"]]  # type: ignore[attr-defined]
    assert history[0]["notified"] is False


def test_test_data_cases_are_searched_only_when_asked(client: TestClient) -> None:
    data = client.post(
        "/cases/v2/case", headers=key("soc_tech"), json=create_body(testData=True)
    ).json()["data"]
    assert "TEST_DATA" in data["flags"]
    criteria = {"caseID": [data["id"]]}
    plain = client.post("/cases/v2/case/search", headers=key("soc_tech"), json=criteria).json()
    with_test = client.post(
        "/cases/v2/case/search", headers=key("soc_tech"), json={**criteria, "includeTestData": True}
    ).json()
    assert (plain["count"], [c["id"] for c in with_test["data"]]) == (0, [data["id"]])


def test_invalid_json_body_is_400(client: TestClient) -> None:
    response = client.post(
        "/cases/v2/case",
        headers={**key("nordlys_user"), "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert_error(response, 400)


# --- update, close, delete, move ------------------------------------------------------------


def test_update_changes_given_fields_and_null_means_no_change(client: TestClient) -> None:
    case = find_case(client, customerID=2, accessMode="roleBased")
    before = dict(case)
    response = client.put(
        f"/cases/v2/case/{case['id']}",
        headers=key("soc_tech"),
        json={"priority": "high", "status": "pendingSoc", "subject": None},
    )
    data = response.json()["data"]
    assert response.status_code == 200
    assert (data["priority"], data["status"], data["subject"]) == (
        "high",
        "pendingSoc",
        before["subject"],
    )
    assert data["lastUpdatedTimestamp"] == int(NOW * 1000)
    assert data["lastUpdatedByUser"]["userName"] == "soc.tech"


def test_update_without_parameters_changes_nothing(client: TestClient) -> None:
    case = find_case(client, customerID=2, accessMode="roleBased")
    stamp = case["lastUpdatedTimestamp"]
    response = client.put(f"/cases/v2/case/{case['id']}", headers=key("soc_tech"), json={})
    assert response.status_code == 200
    assert response.json()["data"]["lastUpdatedTimestamp"] == stamp


def test_restricted_fields_give_403_field_errors_naming_each_field(client: TestClient) -> None:
    case = find_case(client, customerID=2, accessMode="roleBased", reporterID=101)
    body = assert_error(
        client.put(
            f"/cases/v2/case/{case['id']}",
            headers=key("nordlys_user"),
            json={"assignedTech": "soc.analyst", "subject": "Mine now", "priority": "low"},
        ),
        403,
        "FIELD_ERROR",
    )
    assert {m["field"] for m in body["messages"]} == {"assignedTech", "subject"}
    assert client.app.state.sandbox.cases[case["id"]]["subject"] != "Mine now"  # type: ignore[attr-defined]


def test_owner_may_change_subject_and_tech_may_assign_tech(client: TestClient) -> None:
    mine = client.post("/cases/v2/case", headers=key("nordlys_user"), json=create_body()).json()[
        "data"
    ]
    path = f"/cases/v2/case/{mine['id']}"
    renamed = client.put(path, headers=key("nordlys_user"), json={"subject": "Printer fixed?"})
    assert renamed.json()["data"]["subject"] == "Printer fixed?"
    assigned = client.put(path, headers=key("soc_tech"), json={"assignedTech": "soc.analyst"})
    assert assigned.json()["data"]["assignedTech"]["userName"] == "soc.analyst"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"status": "resolved"}, "status"),
        ({"status": "closed"}, "status"),
        ({"priority": 3}, "priority"),
        ({"assignedTech": "kari.nordmann"}, "assignedTech"),
        ({"category": "nosuch"}, "category"),
        ({"watchers": []}, "watchers"),
    ],
)
def test_update_validation_errors_are_412(
    client: TestClient, fields: dict[str, Any], field: str
) -> None:
    case = find_case(client, accessMode="roleBased")
    response = client.put(f"/cases/v2/case/{case['id']}", headers=key("soc_tech"), json=fields)
    assert assert_error(response, 412, "FIELD_ERROR")["messages"][0]["field"] == field


def test_update_accepts_the_fields_mnemonics_models_send(client: TestClient) -> None:
    case = find_case(client, customerID=2, accessMode="roleBased")
    path = f"/cases/v2/case/{case['id']}"
    body = {"internalComment": False, "textFormat": "html", "notification": {}, "triggers": {}}
    data = client.put(path, headers=key("nordlys_user"), json=body).json()["data"]
    assert data["lastUpdatedTimestamp"] == case["lastUpdatedTimestamp"]
    due = client.put(
        path,
        headers=key("soc_tech"),
        json={"customerDueTimestamp": 1_760_100_000_000, "assignedUserID": 201},
    ).json()["data"]
    assert due["customerDueTimestamp"] == 1_760_100_000_000
    assert due["customerDueTime"] == "2025-10-10T12:40:00.000Z"
    assert due["assignedUser"]["userName"] == "kari.nordmann"


def test_an_internal_comment_in_an_update_needs_the_tech_role(client: TestClient) -> None:
    case = find_case(client, customerID=2, accessMode="roleBased")
    path = f"/cases/v2/case/{case['id']}"
    body = {"comment": "SOC eyes only", "internalComment": True}
    refused = client.put(path, headers=key("nordlys_user"), json=body)
    assert assert_error(refused, 403, "FIELD_ERROR")["messages"][0]["field"] == "internalComment"
    client.put(path, headers=key("soc_tech"), json=body)
    comments = client.app.state.sandbox.comments[case["id"]]  # type: ignore[attr-defined]
    assert (comments[-1]["comment"], comments[-1]["flags"]) == ("SOC eyes only", ["INTERNAL"])


def test_read_only_user_cannot_update(client: TestClient) -> None:
    case = find_case(client, customerID=2, accessMode="roleBased")
    response = client.put(
        f"/cases/v2/case/{case['id']}", headers=key("nordlys_readonly"), json={"priority": "low"}
    )
    assert_error(response, 403)


def test_update_with_comment_adds_the_comment(client: TestClient) -> None:
    case = find_case(client, customerID=2, accessMode="roleBased")
    client.put(
        f"/cases/v2/case/{case['id']}",
        headers=key("nordlys_user"),
        json={"comment": "<p>Any news?</p>"},
    )
    comments = client.get(
        f"/cases/v2/case/{case['id']}/comments?limit=0", headers=key("nordlys_user")
    )
    assert comments.json()["data"][-1]["comment"] == "<p>Any news?</p>"


def test_close_with_comment_then_closing_again_is_refused(client: TestClient) -> None:
    case = next(c for c in client.app.state.sandbox.cases.values()  # type: ignore[attr-defined]
                if c["status"] != "closed" and c["accessMode"] == "roleBased")  # fmt: skip
    path = f"/cases/v2/case/{case['id']}/close"
    data = client.put(path, headers=key("soc_tech"), json={"comment": "Closing this case"}).json()[
        "data"
    ]
    assert data["status"] == "closed" and data["closedByUser"]["userName"] == "soc.tech"
    assert data["closedTimestamp"] == int(NOW * 1000)
    comments = client.get(f"/cases/v2/case/{case['id']}/comments?limit=0", headers=key("soc_tech"))
    assert comments.json()["data"][-1]["comment"] == "Closing this case"
    assert_error(client.put(path, headers=key("soc_tech"), json={}), 412)


def test_reopening_a_closed_case_clears_its_close_fields(client: TestClient) -> None:
    case = find_case(client, status="closed", accessMode="roleBased")
    data = client.put(
        f"/cases/v2/case/{case['id']}", headers=key("soc_tech"), json={"status": "pendingSoc"}
    ).json()["data"]
    assert data["status"] == "pendingSoc" and data["closedTimestamp"] is None


def test_delete_needs_tech_and_hides_the_case_from_customers(client: TestClient) -> None:
    case = find_case(client, customerID=2, accessMode="roleBased")
    path = f"/cases/v2/case/{case['id']}"
    assert_error(client.delete(path, headers=key("nordlys_user")), 403)
    deleted = client.delete(path, headers=key("soc_tech"), params={"comment": "Duplicate"})
    assert deleted.json()["data"]["flags"] == ["DELETED"]
    assert_error(client.get(path, headers=key("nordlys_user")), 404)
    state = client.app.state.sandbox  # type: ignore[attr-defined]
    last = state.history[case["id"]][-1]
    assert last["operation"] == "deleteCase"
    assert [c["field"] for c in last["changes"]] == ["setFlag", "addComment"]
    assert state.comments[case["id"]][-1]["comment"] == "Duplicate"


def test_move_changes_service_and_type_for_tech_with_move_privilege(client: TestClient) -> None:
    case = find_case(client, customerID=2, accessMode="roleBased")
    body = {"service": "support", "type": "change", "unsetCategory": True}
    data = client.put(
        f"/cases/v2/case/{case['id']}/move", headers=key("soc_tech"), json=body
    ).json()["data"]
    assert (data["service"]["shortName"], data["type"], data["category"]) == (
        "support",
        "change",
        None,
    )


def test_move_to_another_customer_checks_its_subscription(client: TestClient) -> None:
    case = find_case(client, customerID=2, accessMode="roleBased")
    path = f"/cases/v2/case/{case['id']}/move"
    refused = client.put(
        path, headers=key("soc_tech"), json={"customer": "fjordline", "service": "vulnscan"}
    )
    assert assert_error(refused, 412, "FIELD_ERROR")["messages"][0]["field"] == "service"
    moved = client.put(
        path,
        headers=key("soc_tech"),
        json={
            "customer": "fjordline",
            "service": "administrative",
            "type": "change",
            "unsetCategory": True,
        },
    )
    assert moved.json()["data"]["customer"]["shortName"] == "fjordline"


def test_move_keeping_an_unbound_category_is_refused(client: TestClient) -> None:
    body = create_body(service="ids", type="securityIncident", category="malware")
    made = client.post("/cases/v2/case", headers=key("soc_tech"), json=body).json()["data"]
    refused = client.put(
        f"/cases/v2/case/{made['id']}/move",
        headers=key("soc_tech"),
        json={"service": "support", "type": "change"},
    )
    assert assert_error(refused, 412, "FIELD_ERROR")["messages"][0]["field"] == "category"


def test_move_needs_tech_role_and_move_privilege(client: TestClient) -> None:
    case = find_case(client, customerID=2, accessMode="roleBased")
    path = f"/cases/v2/case/{case['id']}/move"
    assert_error(client.put(path, headers=key("soc_analyst"), json={"type": "informational"}), 403)
    assert_error(client.put(path, headers=key("nordlys_user"), json={"type": "informational"}), 403)


def test_a_negative_case_count_is_refused_by_name() -> None:
    with pytest.raises(ConfigurationError) as error:
        create_app(case_count=-3)
    assert (
        str(error.value)
        == "argus sandbox: option case_count must be a number of at least 0, got -3"
    )
    assert create_app(case_count=0).state.sandbox.cases == {}
