"""The PCR-360 sandbox behaves as the PCR-360 API documentation says."""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from hookline.connectors.pcr360.sandbox import (
    DEMO_CREDENTIALS,
    Pcr360State,
    create_app,
    demo_connection,
)
from hookline.connectors.pcr360.sandbox.data import (
    BASE_DATE,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    EXPIRED_KEY,
    EXPIRED_USERNAME,
    FULL_KEY,
    READ_ONLY_KEY,
    SERVICE_DESK_KEY,
)
from hookline.errors import ConfigurationError
from hookline.run.sandbox import running
from hookline.testing import Clock

with warnings.catch_warnings():
    # Starlette warns at import when only httpx (not httpx2) is installed.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SEEDED_ITEMS = 36
FIRST_ITEM = 10001


class Api:
    """A TestClient speaking the PCR-360 URL shape: ``api.post("sql", ...)``."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def login(self, key: str = FULL_KEY, user: str = DEMO_USERNAME, pw: str = DEMO_PASSWORD) -> str:
        headers = {"PCR-AUTH-USERNAME": user, "PCR-AUTH-PASSWORD": pw}
        response = self.client.post(f"/api/{key}/login.json", headers=headers)
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    def request(
        self,
        method: str,
        request: str,
        token: str | None,
        *,
        key: str = FULL_KEY,
        output: str = "json",
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if token is not None:
            sent["PCR-AUTH-TOKEN"] = token
        url = f"/api/{key}/{request}.{output}"
        result: httpx.Response = self.client.request(method, url, headers=sent, **kwargs)
        return result

    def post(self, request: str, token: str | None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", request, token, **kwargs)

    def get(self, request: str, token: str | None, **kwargs: Any) -> httpx.Response:
        return self.request("GET", request, token, **kwargs)

    def sql(self, token: str | None, sql: str, **fields: Any) -> httpx.Response:
        return self.post("sql", token, data={"sql": sql, **fields})


@pytest.fixture
def clock() -> Clock:
    return Clock(BASE_DATE.timestamp() + 86400)


@pytest.fixture
def app(clock: Clock) -> Any:
    return create_app(clock=clock)


@pytest.fixture
def api(app: Any) -> Iterator[Api]:
    with TestClient(app) as client:
        yield Api(client)


@pytest.fixture
def token(api: Api) -> str:
    return api.login()


def state_of(app: Any) -> Pcr360State:
    state: Pcr360State = app.state.sandbox
    return state


def assert_error(response: httpx.Response, status: int, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error"
    assert fragment.lower() in body["message"].lower()


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


# --- login, tokens and sessions -------------------------------------------------------------


def test_login_returns_a_jwt_for_the_user(api: Api) -> None:
    token = api.login()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "HS256"
    assert claims(token)["sub"] == DEMO_USERNAME


def test_login_needs_post(api: Api) -> None:
    assert_error(api.get("login", None), 405, "POST")


@pytest.mark.parametrize(
    "headers",
    [
        {"PCR-AUTH-USERNAME": DEMO_USERNAME, "PCR-AUTH-PASSWORD": "wrong"},
        {"PCR-AUTH-USERNAME": "nobody", "PCR-AUTH-PASSWORD": DEMO_PASSWORD},
        {"PCR-AUTH-USERNAME": DEMO_USERNAME},
        {},
    ],
)
def test_login_with_bad_or_missing_credentials_gets_401(api: Api, headers: dict[str, str]) -> None:
    assert_error(api.post("login", None, headers=headers), 401)


def test_unknown_api_key_gets_401(api: Api, token: str) -> None:
    assert_error(api.post("sql", token, key="nope", data={"sql": "SELECT 1"}), 401)
    headers = {"PCR-AUTH-USERNAME": DEMO_USERNAME, "PCR-AUTH-PASSWORD": DEMO_PASSWORD}
    assert_error(api.post("login", None, key="nope", headers=headers), 401, "invalid api key")


def test_expired_api_key_gets_401(api: Api) -> None:
    headers = {"PCR-AUTH-USERNAME": DEMO_USERNAME, "PCR-AUTH-PASSWORD": DEMO_PASSWORD}
    assert_error(api.post("login", None, key=EXPIRED_KEY, headers=headers), 401, "expired")


def test_call_without_token_gets_401(api: Api) -> None:
    assert_error(api.sql(None, "SELECT 1"), 401, "PCR-AUTH-TOKEN")


def test_tampered_token_gets_401(api: Api, token: str) -> None:
    head, _, signature = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps(claims(token) | {"sub": "x"}).encode())
    assert_error(api.sql(f"{head}.{forged.decode().rstrip('=')}.{signature}", "SELECT 1"), 401)
    assert_error(api.sql("not-a-jwt", "SELECT 1"), 401, "malformed")


def test_token_only_works_with_the_key_it_was_issued_for(api: Api, token: str) -> None:
    response = api.post("sql", token, key=READ_ONLY_KEY, data={"sql": "SELECT 1"})
    assert_error(response, 401, "another API key")


def test_session_ends_after_its_lifetime_whatever_the_activity(clock: Clock) -> None:
    app = create_app(clock=clock, session_lifetime_seconds=100, session_activity_seconds=0)
    api = Api(TestClient(app))
    token = api.login()
    for _ in range(3):
        clock.advance(33)
        assert api.sql(token, "SELECT 1").status_code == 200
    clock.advance(1)
    assert_error(api.sql(token, "SELECT 1"), 401, "expired")


def test_session_times_out_after_inactivity(clock: Clock) -> None:
    app = create_app(clock=clock, session_lifetime_seconds=0, session_activity_seconds=60)
    api = Api(TestClient(app))
    token = api.login()
    for _ in range(5):
        clock.advance(59)
        assert api.sql(token, "SELECT 1").status_code == 200
    clock.advance(60)
    assert_error(api.sql(token, "SELECT 1"), 401, "inactivity")


def test_zero_session_limits_never_expire(clock: Clock) -> None:
    app = create_app(clock=clock, session_lifetime_seconds=0, session_activity_seconds=0)
    api = Api(TestClient(app))
    token = api.login()
    clock.advance(10 * 365 * 86400)
    assert api.sql(token, "SELECT 1").status_code == 200
    assert "exp" not in claims(token)


def test_token_expiry_claim_matches_the_session_lifetime(api: Api, clock: Clock) -> None:
    token = api.login()
    assert claims(token)["exp"] == int(clock.now) + 3600


def test_logout_ends_the_session(api: Api, token: str) -> None:
    response = api.post("logout", token)
    assert response.status_code == 200
    assert response.json()["status"] == "success"
    assert_error(api.sql(token, "SELECT 1"), 401, "logged out or revoked")
    assert_error(api.post("logout", token), 401)


def test_admin_revoked_token_is_refused_at_once(app: Any, api: Api, token: str) -> None:
    other = api.login()
    assert state_of(app).revoke_token(token) is True
    assert_error(api.sql(token, "SELECT 1"), 401)
    assert api.sql(other, "SELECT 1").status_code == 200
    assert state_of(app).revoke_token(token) is False


def test_deleting_the_api_user_ends_all_their_sessions(app: Any, api: Api) -> None:
    tokens = [api.login(), api.login(key=READ_ONLY_KEY)]
    state_of(app).delete_api_user(DEMO_USERNAME)
    assert_error(api.sql(tokens[0], "SELECT 1"), 401)
    assert_error(api.post("sql", tokens[1], key=READ_ONLY_KEY, data={"sql": "SELECT 1"}), 401)


def test_user_whose_api_access_ended_cannot_log_in(api: Api) -> None:
    headers = {"PCR-AUTH-USERNAME": EXPIRED_USERNAME, "PCR-AUTH-PASSWORD": "gone"}
    assert_error(api.post("login", None, headers=headers), 401, "expired")


def test_login_deletes_the_expired_sessions_of_that_user_and_key(clock: Clock) -> None:
    app = create_app(clock=clock, session_lifetime_seconds=60, session_activity_seconds=0)
    api = Api(TestClient(app))
    old, other_key = api.login(), api.login(key=READ_ONLY_KEY)
    clock.advance(61)
    api.login()
    sessions = state_of(app).sessions
    assert claims(old)["jti"] not in sessions
    assert claims(other_key)["jti"] in sessions
    assert len(sessions) == 2


def test_anonymous_mode_accepts_the_key_alone_only_when_enabled(clock: Clock) -> None:
    api = Api(TestClient(create_app(clock=clock, allow_anonymous=True)))
    assert api.sql(None, "SELECT 1").status_code == 200
    assert_error(api.sql("bad.token.here", "SELECT 1"), 401)


# --- permissions ----------------------------------------------------------------------------


def test_read_only_key_cannot_write(api: Api) -> None:
    token = api.login(key=READ_ONLY_KEY)
    response = api.post(
        "servicedesk", token, key=READ_ONLY_KEY, data={"type": "IN", "description": "x"}
    )
    assert_error(response, 403, "Write permission for Service Desk")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM EQUIPMENT",
        "SELECT * FROM V_SERVICE_SD_CHARGES",
        "SELECT sd.RECID FROM SERVICE_DESK sd JOIN SERVICES s ON s.RECID = sd.RECID",
        "SELECT (SELECT COUNT(*) FROM services) AS n",
    ],
)
def test_sql_refuses_tables_of_sections_the_key_cannot_read(api: Api, sql: str) -> None:
    token = api.login(key=SERVICE_DESK_KEY)
    response = api.post("sql", token, key=SERVICE_DESK_KEY, data={"sql": sql})
    assert_error(response, 403, "Read permission")


def test_any_key_reads_reference_tables_and_its_own_sections(api: Api) -> None:
    token = api.login(key=SERVICE_DESK_KEY)
    for sql in (
        "SELECT * FROM LOCATIONS",
        "SELECT * FROM LISTS",
        "SELECT * FROM CONTACTS",
        "SELECT * FROM SERVICE_DESK_ACTIONS",
    ):
        assert api.post("sql", token, key=SERVICE_DESK_KEY, data={"sql": sql}).status_code == 200


def test_typed_read_needs_the_section_read_permission(api: Api) -> None:
    token = api.login(key=SERVICE_DESK_KEY)
    assert_error(api.get("equipment", token, key=SERVICE_DESK_KEY), 403, "Equipment")
    assert api.get("servicedesk", token, key=SERVICE_DESK_KEY).status_code == 200


# --- the SQL endpoint -----------------------------------------------------------------------


def test_sql_pages_with_string_page_total_and_values(api: Api, token: str) -> None:
    response = api.sql(
        token, "SELECT RECID, SD_NUMBER FROM SERVICE_DESK ORDER BY RECID", limit=5, page=2
    )
    body = response.json()
    assert (body["status"], body["page"], body["count"]) == ("success", "2", 5)
    assert body["total_count"] == str(SEEDED_ITEMS)
    assert [r["RECID"] for r in body["results"]] == [str(FIRST_ITEM + n) for n in range(5, 10)]
    assert set(body) == {"status", "page", "count", "total_count", "results"}


def test_sql_defaults_to_twenty_rows_of_page_one(api: Api, token: str) -> None:
    body = api.sql(token, "SELECT RECID FROM SERVICE_DESK").json()
    assert (body["page"], body["count"], body["total_count"]) == ("1", 20, str(SEEDED_ITEMS))


def test_sql_page_past_the_end_is_empty(api: Api, token: str) -> None:
    body = api.sql(token, "SELECT RECID FROM SERVICE_DESK", limit=20, page=3).json()
    assert (body["count"], body["results"], body["total_count"]) == (0, [], str(SEEDED_ITEMS))


@pytest.mark.parametrize("field,value", [("limit", "0"), ("limit", "ten"), ("page", "-1")])
def test_sql_paging_values_must_be_positive_whole_numbers(
    api: Api, token: str, field: str, value: str
) -> None:
    assert_error(api.sql(token, "SELECT 1", **{field: value}), 400, field)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE SERVICE_DESK SET SD_STATUS = 'Void'",
        "DELETE FROM SERVICE_DESK",
        "INSERT INTO LISTS (LIST_TYPE, CODE, VALUE) VALUES ('A', 'B', 'C')",
        "DROP TABLE LISTS",
        "PRAGMA table_info(SERVICES)",
        "ATTACH DATABASE ':memory:' AS other",
        "SELECT 1; DELETE FROM SERVICE_DESK",
        "WITH x AS (SELECT 1) DELETE FROM SERVICE_DESK",
        "SELECT * FROM sqlite_master",
        "EXPLAIN SELECT 1",
        "-- comment only",
        "",
    ],
)
def test_sql_refuses_anything_but_one_read_only_select(api: Api, token: str, sql: str) -> None:
    assert_error(api.sql(token, sql), 400)
    count = api.sql(token, "SELECT COUNT(*) AS N FROM SERVICE_DESK").json()["results"][0]["N"]
    assert count == str(SEEDED_ITEMS)


def test_sql_runaway_statement_is_stopped(api: Api, token: str) -> None:
    sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT MAX(x) FROM c"
    assert_error(api.sql(token, sql), 400, "too long")


def test_sql_errors_are_400(api: Api, token: str) -> None:
    assert_error(api.sql(token, "SELECT FROM WHERE"), 400, "SQL error")
    assert_error(api.sql(token, "SELECT * FROM NO_SUCH_TABLE"), 400, "no such table")


def test_sql_answers_with_the_column_names_the_statement_uses(api: Api, token: str) -> None:
    sql = "WITH t AS (SELECT RECID FROM LISTS) SELECT recid, RECID AS Id FROM t LIMIT 1"
    assert set(api.sql(token, sql).json()["results"][0]) == {"RECID", "Id"}


def test_sql_null_stays_null(api: Api, token: str) -> None:
    sql = "SELECT SERVICE_HOST FROM SERVICES WHERE SERVICE_HOST IS NULL"
    assert api.sql(token, sql, limit=1).json()["results"] == [{"SERVICE_HOST": None}]


def test_post_ignores_the_query_string(api: Api, token: str) -> None:
    response = api.post("sql", token, params={"sql": "SELECT 1"})
    assert_error(response, 400, "'sql' is required")
    sql = "SELECT RECID FROM SERVICE_DESK"
    body = api.post("sql", token, params={"limit": "2"}, data={"sql": sql}).json()
    assert body["count"] == 20


def test_sql_reads_a_json_body_when_the_content_type_says_so(api: Api, token: str) -> None:
    payload = {"sql": "SELECT RECID FROM SERVICE_DESK", "limit": 3, "page": 1}
    assert api.post("sql", token, json=payload).json()["count"] == 3
    raw = api.post("sql", token, content=b"{", headers={"Content-Type": "application/json"})
    assert_error(raw, 400, "JSON")


def test_get_reads_the_query_string(api: Api, token: str) -> None:
    response = api.get("sql", token, params={"sql": "SELECT RECID FROM LISTS", "limit": "4"})
    assert response.json()["count"] == 4


def test_parameter_names_are_case_insensitive(api: Api, token: str) -> None:
    body = api.post("sql", token, data={"SQL": "SELECT RECID FROM LISTS", "Limit": "2"}).json()
    assert body["count"] == 2


def test_html_encoded_header_decodes_parameters(api: Api, token: str) -> None:
    sql = "SELECT COUNT(*) AS N FROM SERVICE_DESK WHERE RECID &gt; 10030"
    headers = {"Pcr-Html-Encoded": "true"}
    body = api.post("sql", token, data={"sql": sql}, headers=headers).json()
    assert body["results"] == [{"N": "6"}]


def test_debug_header_echoes_the_request(api: Api, token: str) -> None:
    headers = {"Pcr-Debug-Api": "true"}
    body = api.post("sql", token, data={"sql": "SELECT 1", "limit": "1"}, headers=headers).json()
    assert body["debug"] == {
        "method": "POST",
        "request": "sql.json",
        "params": {"sql": "SELECT 1", "limit": "1"},
    }
    assert "debug" not in api.sql(token, "SELECT 1").json()


# --- output formats and error shapes --------------------------------------------------------


def test_xml_output_uses_the_request_type_as_root(api: Api, token: str) -> None:
    response = api.post("sql", token, output="xml", data={"sql": "SELECT RECID FROM LISTS"})
    assert response.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(response.text)
    assert (root.tag, root.findtext("status"), root.findtext("page")) == ("sql", "success", "1")
    assert root.findtext("results/item/RECID") == "1001"


def test_xml_typed_read_matches_the_documented_envelope(api: Api, token: str) -> None:
    root = ElementTree.fromstring(api.get("equipment", token, output="xml").text)
    assert root.tag == "equipment"
    assert [child.tag for child in root] == ["status", "page", "count", "total_count", "equipment"]
    assert root.findtext("equipment/item/RECID") == "4001"


def test_php_output_is_a_serialized_array(api: Api, token: str) -> None:
    response = api.post("sql", token, output="php", data={"sql": "SELECT 'é' AS A"})
    assert response.text == (
        'a:5:{s:6:"status";s:7:"success";s:4:"page";s:1:"1";s:5:"count";i:1;'
        's:11:"total_count";s:1:"1";s:7:"results";a:1:{i:0;a:1:{s:1:"A";s:2:"é";}}}'
    )


def test_errors_come_in_the_requested_format(api: Api) -> None:
    root = ElementTree.fromstring(api.post("sql", None, output="xml").text)
    assert (root.tag, root.findtext("status")) == ("sql", "error")
    assert "PCR-AUTH-TOKEN" in (root.findtext("message") or "")


@pytest.mark.parametrize(
    "path",
    [
        "/api/demo-full-access/sql.csv",
        "/api/demo-full-access/cable.json",
        "/api/demo-full-access/sql",
        "/elsewhere",
    ],
)
def test_unknown_endpoints_get_404(api: Api, path: str) -> None:
    assert_error(api.client.post(path), 404)


def test_methods_other_than_get_and_post_get_405(api: Api, token: str) -> None:
    assert_error(api.request("PUT", "sql", token), 405)
    assert_error(api.post("services", token), 405, "use GET")


def test_maintenance_window_answers_503(app: Any, api: Api, token: str) -> None:
    state_of(app).maintenance = True
    assert_error(api.sql(token, "SELECT 1"), 503, "unavailable")
    state_of(app).maintenance = False
    assert api.sql(token, "SELECT 1").status_code == 200


# --- deprecated typed reads -----------------------------------------------------------------


def test_servicedesk_typed_read_filters_by_type(api: Api, token: str) -> None:
    body = api.get("servicedesk.IN", token, params={"limit": "50"}).json()
    incidents = api.sql(token, "SELECT COUNT(*) AS N FROM SERVICE_DESK WHERE SD_TYPE = 'Incident'")
    assert body["total_count"] == incidents.json()["results"][0]["N"]
    assert {item["SD_TYPE"] for item in body["servicedesk"]} == {"Incident"}
    same = api.get("servicedesk", token, params={"type": "in", "limit": "50"}).json()
    assert same["servicedesk"] == body["servicedesk"]


def test_typed_read_envelope_uses_the_request_type_as_list_key(api: Api, token: str) -> None:
    body = api.get("services", token, params={"limit": "3", "page": "2"}).json()
    assert set(body) == {"status", "page", "count", "total_count", "services"}
    assert (body["page"], body["count"], body["total_count"]) == ("2", 3, "20")
    assert [item["RECID"] for item in body["services"]] == ["2004", "2005", "2006"]


def test_typed_read_filters_on_searchable_fields(api: Api, token: str) -> None:
    body = api.get("equipment", token, params={"LOCATIONS": "warehouse 1", "limit": "50"}).json()
    assert body["count"] > 0
    assert all(i["LOCATIONS_PATH"] == "Main Campus > Warehouse 1" for i in body["equipment"])
    assert_error(api.get("equipment", token, params={"colour": "red"}), 400, "searchable")


def test_typed_read_returns_at_most_fifty(api: Api, token: str) -> None:
    for number in range(20):
        api.post("servicedesk", token, data={"type": "IN", "description": f"Extra {number}"})
    body = api.get("servicedesk", token, params={"limit": "500"}).json()
    assert (body["count"], body["total_count"]) == (50, str(SEEDED_ITEMS + 20))


def test_unknown_service_desk_type_gets_404(api: Api, token: str) -> None:
    assert_error(api.get("servicedesk.XX", token), 404, "SO or IN")
    assert_error(api.get("services.IN", token), 404)


# --- writes ---------------------------------------------------------------------------------


def test_creating_an_incident_returns_its_recid_and_number(
    app: Any, api: Api, token: str, clock: Clock
) -> None:
    fields = {
        "type": "IN",
        "description": "Switch down",
        "requestor": "210",
        "due_date": "2026/12/01",
        "urgency": "high",
        "location": "102",
        "status": "Void",
    }
    response = api.post("servicedesk", token, data=fields)
    body = response.json()
    assert response.status_code == 200, response.text
    assert body == {"status": "success", "recid": 10037, "sd_number": "IN-010037"}
    row = state_of(app).service_desk(10037)
    assert row is not None
    assert (row["SD_TYPE"], row["SD_STATUS"], row["DUE_DATE"]) == (
        "Incident",
        "Pending",
        "2026-12-01",
    )
    assert row["REQUESTOR_CONTACTS_RECID"] == 210 and row["REQUESTOR"]
    assert row["MODIFIED_DATE"] == row["CREATED_DATE"] > "2026-06-01"
    assert row["MODIFIED_BY"] == DEMO_USERNAME


def test_service_order_type_can_come_from_the_path(api: Api, token: str) -> None:
    body = api.post("servicedesk.SO", token, json={"DESCRIPTION": "New line"}).json()
    assert body["sd_number"].startswith("SO-")
    assert_error(api.post("servicedesk.SO", token, data={"type": "IN", "description": "x"}), 400)


def test_new_items_get_growing_recids_for_watermark_polling(api: Api, token: str) -> None:
    watermark = int(
        api.sql(token, "SELECT MAX(RECID) AS M FROM SERVICE_DESK").json()["results"][0]["M"]
    )
    made = [
        api.post("servicedesk", token, data={"type": t, "description": t}).json()["recid"]
        for t in ("IN", "SO", "IN")
    ]
    sql = f"SELECT RECID FROM SERVICE_DESK WHERE RECID > {watermark} ORDER BY RECID"
    seen = [int(r["RECID"]) for r in api.sql(token, sql).json()["results"]]
    assert seen == made == sorted(made)
    assert made[0] > watermark


def test_update_changes_fields_and_modified_date(
    app: Any, api: Api, token: str, clock: Clock
) -> None:
    created = api.post("servicedesk", token, data={"type": "SO", "description": "Move"}).json()
    before = state_of(app).service_desk(created["recid"])
    clock.advance(60)
    fields = {"type": "SO", "sd_number": created["sd_number"], "status": "complete"}
    response = api.post("servicedesk", token, data=fields)
    assert response.json() == {
        "status": "success",
        **{k: created[k] for k in ("recid", "sd_number")},
    }
    after = state_of(app).service_desk(created["recid"])
    assert before is not None and after is not None
    assert after["SD_STATUS"] == "Complete"
    assert after["MODIFIED_DATE"] > before["MODIFIED_DATE"]
    assert after["CREATED_DATE"] == before["CREATED_DATE"]


@pytest.mark.parametrize(
    "fields,fragment",
    [
        ({"description": "no type"}, "'type' is required"),
        ({"type": "IN"}, "'description' is required"),
        ({"type": "IN", "description": "x", "colour": "red"}, "colour"),
        ({"type": "IN", "description": "x", "due_date": "01/12/2026"}, "YYYY/MM/DD"),
        ({"type": "IN", "description": "x", "requestor": "999999"}, "CONTACTS"),
        ({"type": "IN", "description": "x", "urgency": "meh"}, "urgency"),
        ({"type": "IN", "recid": "10001", "sd_number": "IN-010001"}, "not both"),
        ({"type": "IN", "recid": "5"}, "No service desk item"),
        ({"type": "IN", "status": "Done", "recid": "10001"}, "status"),
        ({"type": "ACTION", "sd_recid": "10001"}, "sd_action"),
        ({"type": "ACTION", "sd_recid": "10001", "sd_action": "ADD"}, "catalog"),
        ({"type": "ACTION", "sd_recid": "10001", "sd_action": "REMOVE"}, "service"),
        ({"type": "ACTION", "sd_action": "TASK"}, "sd_recid"),
    ],
)
def test_bad_writes_get_400_and_change_nothing(
    api: Api, token: str, fields: dict[str, str], fragment: str
) -> None:
    before = api.sql(token, "SELECT MAX(MODIFIED_DATE) AS M FROM SERVICE_DESK").json()
    assert_error(api.post("servicedesk", token, data=fields), 400, fragment)
    assert api.sql(token, "SELECT MAX(MODIFIED_DATE) AS M FROM SERVICE_DESK").json() == before


def test_updating_an_item_with_the_wrong_type_gets_400(api: Api, token: str) -> None:
    created = api.post("servicedesk", token, data={"type": "IN", "description": "x"}).json()
    fields = {"type": "SO", "recid": str(created["recid"]), "description": "y"}
    assert_error(api.post("servicedesk", token, data=fields), 400, "Incident")


def test_adding_an_action_stamps_its_service_order(
    app: Any, api: Api, token: str, clock: Clock
) -> None:
    order = api.post("servicedesk", token, data={"type": "SO", "description": "Phones"}).json()
    clock.advance(60)
    fields = {
        "type": "ACTION",
        "sd_number": order["sd_number"],
        "sd_action": "ADD",
        "catalog": "12",
        "location": "102",
        "due_date": "2026/12/24",
    }
    body = api.post("servicedesk", token, data=fields).json()
    assert body["status"] == "success" and body["sda_number"] == f"SDA-{body['recid']:06d}"
    sql = (
        "SELECT a.STATUS, l.CODE FROM SERVICE_DESK_ACTIONS a"
        f" JOIN LISTS l ON l.RECID = a.SD_ACTION_LISTS_RECID WHERE a.RECID = {body['recid']}"
    )
    assert api.sql(token, sql).json()["results"] == [{"STATUS": "Pending", "CODE": "ADD"}]
    item = state_of(app).service_desk(order["recid"])
    assert item is not None and item["MODIFIED_DATE"] > item["CREATED_DATE"]
    done = {"type": "ACTION", "recid": str(body["recid"]), "status": "complete"}
    assert api.post("servicedesk", token, data=done).json()["sda_number"] == body["sda_number"]


def test_action_can_name_its_service_by_service_id(api: Api, token: str) -> None:
    service_id = api.sql(token, "SELECT SERVICE_ID FROM SERVICES WHERE RECID = 2001").json()
    fields = {
        "type": "ACTION",
        "sd_recid": "10001",
        "sd_action": "REMOVE",
        "service_id": service_id["results"][0]["SERVICE_ID"],
    }
    assert api.post("servicedesk", token, data=fields).json()["status"] == "success"


# --- seed, options and the demo connection --------------------------------------------------


def dump(app: Any) -> list[dict[str, Any]]:
    return state_of(app).db.fetch("SELECT * FROM SERVICE_DESK ORDER BY RECID")


def test_the_same_seed_gives_the_same_data() -> None:
    assert dump(create_app(seed=7)) == dump(create_app(seed=7))
    assert dump(create_app(seed=7)) != dump(create_app(seed=8))


def test_seed_mixes_types_and_statuses(app: Any) -> None:
    rows = dump(app)
    assert len(rows) == SEEDED_ITEMS
    assert {row["SD_TYPE"] for row in rows} == {"Incident", "Service Order"}
    assert len({row["SD_STATUS"] for row in rows}) >= 4
    assert all(row["MODIFIED_DATE"] < "2026-06-01 08:00:01" for row in rows)


def test_negative_session_limits_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="session_activity_seconds"):
        create_app(session_activity_seconds=-1)


def test_demo_connection_works_over_a_real_socket() -> None:
    with running(create_app()) as base_url:
        connection = demo_connection(base_url)
        assert set(connection) == {"base_url", "api_key", "username", "password"}
        assert connection["api_key"] in DEMO_CREDENTIALS
        prefix = f"{connection['base_url']}/api/{connection['api_key']}"
        headers = {
            "PCR-AUTH-USERNAME": connection["username"],
            "PCR-AUTH-PASSWORD": connection["password"],
        }
        token = httpx.post(f"{prefix}/login.json", headers=headers).json()["token"]
        response = httpx.post(
            f"{prefix}/sql.json",
            json={"sql": "SELECT COUNT(*) AS N FROM SERVICE_DESK"},
            headers={"PCR-AUTH-TOKEN": token},
        )
        assert response.json()["results"] == [{"N": str(SEEDED_ITEMS)}]
