"""The pcr360 spec against the PCR-360 sandbox, through the real runtime.

Every action and the trigger run against a served sandbox: the key travels in the path, each
connection logs in with PCR-AUTH-USERNAME/PASSWORD and sends PCR-AUTH-TOKEN, logs out when it
closes, and logs in again when the platform ends its session. The sandbox's database is the
witness for what reads should return and what writes changed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hookline.actions import call_action, iter_records
from hookline.catalog import Catalog
from hookline.connection import Connection
from hookline.connectors.pcr360.sandbox.data import (
    EXPIRED_KEY,
    READ_ONLY_KEY,
    SERVICE_DESK_KEY,
)
from hookline.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)

SEEDED_ITEMS = 36
FIRST_ITEM = 10001


class Clock:
    """The sandbox's clock, moved by hand; it starts at the real time."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def pcr(served: Any) -> Iterator[Any]:
    """The PCR-360 sandbox with seed 1 and the default session limits."""
    with served("pcr360", seed=1) as s:
        yield s


def _rows(s: Any, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows straight from the sandbox's database, values as the API returns them (text)."""
    return [
        {k: None if v is None else str(v) for k, v in row.items()}
        for row in s.state.db.fetch(sql, params)
    ]


# ---------------------------------------------------------------- the spec itself


def test_every_example_matches_its_input_and_output_schemas(catalog: Catalog) -> None:
    spec = catalog.spec("pcr360")
    blocks = [*spec.actions.values(), *spec.triggers.values()]
    for block in blocks:
        assert block.examples, f"{block.name} has no example"
        if getattr(block, "is_list", False):
            output_schema, many = block.output.schema, True
        elif hasattr(block, "output"):
            output_schema, many = block.output.schema, False
        else:
            output_schema, many = block.output_schema, False
        inputs = Draft202012Validator(spec.schema_with_objects(block.input_schema))
        outputs = Draft202012Validator(spec.schema_with_objects(output_schema))
        for example in block.examples:
            inputs.validate(dict(example.input))
            for record in example.output if many else [example.output]:
                outputs.validate(record)


# ---------------------------------------------------------------- sql_query


def test_sql_query_reads_every_page_of_a_large_result(pcr: Any) -> None:
    sql = (
        "SELECT sd.RECID AS SD, s.RECID AS SERVICE FROM SERVICE_DESK sd, SERVICES s "
        "ORDER BY sd.RECID, s.RECID"
    )
    records = pcr.call("sql_query", {"sql": sql})
    assert len(records) == 720  # 36 items x 20 services: eight pages of 100
    assert records == _rows(pcr, sql)


def test_sql_query_stops_at_max_records(pcr: Any) -> None:
    async def first_150(conn: Connection) -> list[Any]:
        sql = "SELECT sd.RECID FROM SERVICE_DESK sd, SERVICES s"
        return await call_action(conn, "sql_query", {"sql": sql}, max_records=150)

    assert len(pcr.session(first_150)) == 150


def test_sql_query_names_columns_as_the_statement_does(pcr: Any) -> None:
    records = pcr.call("sql_query", {"sql": "SELECT recid, NULL AS nothing FROM LOCATIONS"})
    assert records[0] == {"recid": "101", "nothing": None}
    assert len(records) == 8


def test_sql_query_refuses_a_write_statement(pcr: Any) -> None:
    with pytest.raises(InvalidRequestError, match="Only SELECT statements are allowed") as error:
        pcr.call("sql_query", {"sql": "DELETE FROM SERVICE_DESK"})
    assert error.value.status == 400
    assert pcr.state.db.fetch("SELECT COUNT(*) AS N FROM SERVICE_DESK")[0]["N"] == SEEDED_ITEMS


# ---------------------------------------------------------------- service desk reads


def test_list_service_desk_filters_by_type_and_status(pcr: Any) -> None:
    records = pcr.call("list_service_desk", {"type": "IN", "status": "Pending"})
    expected = _rows(
        pcr,
        "SELECT RECID, SD_NUMBER FROM SERVICE_DESK "
        "WHERE SD_TYPE = 'Incident' AND SD_STATUS = 'Pending' ORDER BY RECID",
    )
    assert [(r["RECID"], r["SD_NUMBER"]) for r in records] == [
        (e["RECID"], e["SD_NUMBER"]) for e in expected
    ]
    assert expected
    assert {r["SD_TYPE"] for r in records} == {"Incident"}


def test_list_service_desk_pages_past_the_typed_read_limit(pcr: Any) -> None:
    async def create_and_list(conn: Connection) -> list[Any]:
        for n in range(20):
            await call_action(
                conn, "create_service_desk", {"type": "SO", "description": f"Order {n}"}
            )
        return [record async for record in iter_records(conn, "list_service_desk")]

    records = pcr.session(create_and_list)
    assert len(records) == SEEDED_ITEMS + 20  # two pages of at most 50
    assert [int(r["RECID"]) for r in records] == list(range(FIRST_ITEM, FIRST_ITEM + 56))


def test_get_service_desk_by_recid_and_by_number(pcr: Any) -> None:
    by_recid = pcr.call("get_service_desk", {"recid": FIRST_ITEM + 4})
    row = _rows(pcr, "SELECT * FROM SERVICE_DESK WHERE RECID = ?", FIRST_ITEM + 4)[0]
    assert {k: by_recid[k] for k in row} == row
    urgency = _rows(pcr, "SELECT CODE FROM LISTS WHERE RECID = ?", row["URGENCY_LISTS_RECID"])
    assert by_recid["URGENCY"] == urgency[0]["CODE"]
    assert by_recid["LOCATIONS_PATH"].startswith("Main Campus > ")
    assert pcr.call("get_service_desk", {"sd_number": row["SD_NUMBER"]}) == by_recid


def test_get_service_desk_of_an_unknown_item_is_not_found(pcr: Any) -> None:
    with pytest.raises(NotFoundError, match="No service-desk item"):
        pcr.call("get_service_desk", {"recid": 99999})


def test_get_service_desk_refuses_a_malformed_number_before_sending(pcr: Any) -> None:
    with pytest.raises(InvalidRequestError, match="sd_number"):
        pcr.call("get_service_desk", {"sd_number": "IN-1' OR '1'='1"})


# ---------------------------------------------------------------- service desk writes


def test_create_service_desk_writes_an_incident(pcr: Any) -> None:
    created = pcr.call(
        "create_service_desk",
        {
            "type": "IN",
            "description": "No dial tone on extension 7868",
            "requestor": 212,
            "urgency": "HIGH",
            "location": 103,
            "due_date": "2026-12-05",
        },
    )
    assert created == {"recid": FIRST_ITEM + SEEDED_ITEMS, "sd_number": "IN-010037"}
    item = pcr.state.service_desk(created["recid"])
    high = _rows(pcr, "SELECT RECID FROM LISTS WHERE LIST_TYPE = 'URGENCY' AND CODE = 'HIGH'")
    assert item["SD_TYPE"] == "Incident"
    assert item["DESCRIPTION"] == "No dial tone on extension 7868"
    assert item["SD_STATUS"] == "Pending"
    assert item["SD_SOURCE"] == "API"
    assert str(item["URGENCY_LISTS_RECID"]) == high[0]["RECID"]
    assert item["REQUESTOR_CONTACTS_RECID"] == 212
    assert item["LOCATIONS_RECID"] == 103
    assert item["DUE_DATE"] == "2026-12-05"
    assert item["MODIFIED_BY"] == "api.demo"


def test_update_service_desk_changes_only_the_given_fields(pcr: Any) -> None:
    before = pcr.state.service_desk(FIRST_ITEM)
    kind = "IN" if before["SD_TYPE"] == "Incident" else "SO"
    updated = pcr.call(
        "update_service_desk",
        {"type": kind, "sd_number": before["SD_NUMBER"], "status": "Hold", "owner": "Network"},
    )
    assert updated == {"recid": FIRST_ITEM, "sd_number": before["SD_NUMBER"]}
    after = pcr.state.service_desk(FIRST_ITEM)
    assert (after["SD_STATUS"], after["OWNER"]) == ("Hold", "Network")
    assert after["DESCRIPTION"] == before["DESCRIPTION"]
    assert after["MODIFIED_DATE"] > before["MODIFIED_DATE"]


def test_update_service_desk_of_an_unknown_item_is_an_invalid_request(pcr: Any) -> None:
    with pytest.raises(InvalidRequestError, match="No service desk item with recid '99999'"):
        pcr.call("update_service_desk", {"type": "IN", "recid": 99999, "status": "Complete"})


# ---------------------------------------------------------------- services and equipment


def test_list_services_filters_by_catalog_and_location(pcr: Any) -> None:
    records = pcr.call("list_services", {"catalog": "voip", "locations": "Library"})
    expected = _rows(
        pcr,
        "SELECT RECID FROM SERVICES WHERE CATALOG LIKE '%VoIP%' "
        "AND LOCATIONS_PATH LIKE '%Library%' ORDER BY RECID",
    )
    assert [r["RECID"] for r in records] == [e["RECID"] for e in expected]
    assert all(r["CATALOG"] == "VoIP Line" for r in records)
    assert len(pcr.call("list_services")) == 20


def test_list_equipment_filters_by_status(pcr: Any) -> None:
    records = pcr.call("list_equipment", {"e_eqp_status_value": "Spare"})
    expected = _rows(
        pcr, "SELECT RECID FROM EQUIPMENT WHERE E_EQP_STATUS_VALUE = 'Spare' ORDER BY RECID"
    )
    assert [r["RECID"] for r in records] == [e["RECID"] for e in expected]
    assert expected
    assert len(pcr.call("list_equipment")) == 24


# ---------------------------------------------------------------- permissions and keys


def test_a_read_only_key_cannot_create_and_gets_a_typed_permission_error(pcr: Any) -> None:
    with pytest.raises(PermissionDeniedError) as error:
        pcr.call(
            "create_service_desk", {"type": "IN", "description": "x"}, api_key=READ_ONLY_KEY
        )
    assert error.value.status == 403
    assert error.value.platform_message == "The API key lacks Write permission for Service Desk"
    assert READ_ONLY_KEY not in str(error.value)  # the key in the path is redacted
    assert READ_ONLY_KEY not in (error.value.url or "")
    count = pcr.state.db.fetch("SELECT COUNT(*) AS N FROM SERVICE_DESK")[0]["N"]
    assert count == SEEDED_ITEMS


def test_a_service_desk_key_cannot_read_equipment(pcr: Any) -> None:
    with pytest.raises(PermissionDeniedError, match="lacks Read permission for Equipment"):
        pcr.call("list_equipment", api_key=SERVICE_DESK_KEY)
    with pytest.raises(PermissionDeniedError, match="table EQUIPMENT"):
        pcr.call("sql_query", {"sql": "SELECT * FROM EQUIPMENT"}, api_key=SERVICE_DESK_KEY)


def test_an_expired_key_is_an_authentication_error(pcr: Any) -> None:
    with pytest.raises(AuthenticationError, match="The API key has expired"):
        pcr.call("list_services", api_key=EXPIRED_KEY)


def test_a_wrong_password_is_an_authentication_error(pcr: Any) -> None:
    with pytest.raises(AuthenticationError, match="Invalid username or password") as error:
        pcr.call("list_services", password="not-the-password")
    assert "not-the-password" not in str(error.value)


# ---------------------------------------------------------------- sessions


def test_a_connection_logs_in_once_and_logs_out_when_it_closes(pcr: Any) -> None:
    seen: list[int] = []

    async def two_calls(conn: Connection) -> None:
        await call_action(conn, "list_services")
        seen.append(len(pcr.state.sessions))
        await call_action(conn, "get_service_desk", {"recid": FIRST_ITEM})
        seen.append(len(pcr.state.sessions))

    pcr.session(two_calls)
    assert seen == [1, 1]
    assert pcr.state.sessions == {}


def test_a_timed_out_session_is_renewed_by_logging_in_again(served: Any) -> None:
    clock = Clock()
    tokens: list[str] = []

    async def idle_between_calls(conn: Connection) -> list[Any]:
        await call_action(conn, "list_services")
        tokens.append(conn.session["token"])
        clock.advance(901)  # past AUTH_SESSION_ACTIVITY_SECONDS: the platform ends it (401)
        found = await call_action(conn, "get_service_desk", {"recid": FIRST_ITEM})
        tokens.append(conn.session["token"])
        return [found]

    with served("pcr360", seed=1, clock=clock, session_activity_seconds=900) as s:
        found = s.session(idle_between_calls)
        assert found[0]["RECID"] == str(FIRST_ITEM)
        assert tokens[0] != tokens[1]
        assert s.state.sessions == {}  # the expired session was purged at the new login


def test_a_revoked_token_is_renewed_by_logging_in_again(pcr: Any) -> None:
    async def revoke_between_calls(conn: Connection) -> str:
        await call_action(conn, "list_services")
        assert pcr.state.revoke_token(conn.session["token"])
        created = await call_action(
            conn, "update_service_desk", {"type": "IN", "recid": FIRST_ITEM, "owner": "NOC"}
        )
        assert created["recid"] == FIRST_ITEM
        return str(conn.session["token"])

    pcr.session(revoke_between_calls)
    assert pcr.state.service_desk(FIRST_ITEM)["OWNER"] == "NOC"


def test_a_token_past_its_jwt_expiry_is_renewed_before_it_is_sent(served: Any) -> None:
    # The platform's clock runs a lifetime behind: every token it issues carries an exp that
    # has already passed, so the connection must log in again before each call.
    clock = Clock(time.time() - 600)
    counts: list[int] = []

    async def two_calls(conn: Connection) -> None:
        for _ in range(2):
            await call_action(conn, "list_services")
            counts.append(len(served_state.sessions))

    with served("pcr360", seed=1, clock=clock, session_lifetime_seconds=600) as s:
        served_state = s.state
        s.session(two_calls)
        assert counts == [1, 2]
        assert len(s.state.sessions) == 1  # the last one was logged out
