"""The pcr360 spec against the PCR-360 sandbox, through the real runtime.

Every action and the trigger run against a served sandbox: the key travels in the path, each
connection logs in with PCR-AUTH-USERNAME/PASSWORD and sends PCR-AUTH-TOKEN, logs out when it
closes, and logs in again when the platform ends its session. The sandbox's database is the
witness for what reads should return and what writes changed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from hookline.actions.call import call_action, iter_records
from hookline.connectors.pcr360.sandbox.data import (
    EXPIRED_KEY,
    READ_ONLY_KEY,
    SERVICE_DESK_KEY,
    sd_number,
)
from hookline.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from hookline.http.connection import Connection
from hookline.recipes.load import load_recipe
from hookline.run.pool import ConnectionPool
from hookline.run.store import open_sqlite
from hookline.run.triggers import PollResult, poll
from hookline.spec.catalog import Catalog
from hookline.testing import Clock, check_examples

SEEDED_ITEMS = 36
FIRST_ITEM = 10001


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
    check_examples(catalog.spec("pcr360"))


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
        result: list[Any] = await call_action(conn, "sql_query", {"sql": sql}, max_records=150)
        return result

    assert len(pcr.session(first_150)) == 150


def test_sql_query_names_columns_as_the_statement_does(pcr: Any) -> None:
    records = pcr.call("sql_query", {"sql": "SELECT RECID AS recid, NULL AS blank FROM LOCATIONS"})
    assert records[0] == {"recid": "101", "blank": None}
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
    by_recid = pcr.call("get_service_desk", {"item": FIRST_ITEM + 4})
    row = _rows(pcr, "SELECT * FROM SERVICE_DESK WHERE RECID = ?", FIRST_ITEM + 4)[0]
    assert {k: by_recid[k] for k in row} == row
    urgency = _rows(pcr, "SELECT CODE FROM LISTS WHERE RECID = ?", row["URGENCY_LISTS_RECID"])
    assert by_recid["URGENCY"] == urgency[0]["CODE"]
    assert by_recid["LOCATIONS_PATH"].startswith("Main Campus > ")
    assert pcr.call("get_service_desk", {"item": row["SD_NUMBER"]}) == by_recid
    assert pcr.call("get_service_desk", {"item": row["RECID"]}) == by_recid  # RECID as text


def test_get_service_desk_of_an_unknown_item_is_not_found(pcr: Any) -> None:
    with pytest.raises(NotFoundError, match="No service-desk item"):
        pcr.call("get_service_desk", {"item": 99999})


def test_get_service_desk_refuses_a_malformed_item_before_sending(pcr: Any) -> None:
    with pytest.raises(InvalidRequestError, match="input 'item'"):
        pcr.call("get_service_desk", {"item": "IN-1' OR '1'='1"})


# ---------------------------------------------------------------- service desk writes


def test_create_service_desk_writes_an_incident(pcr: Any) -> None:
    created = pcr.call(
        "create_service_desk",
        {
            "type": "IN",
            "description": "No dial tone on extension 7868",
            "requestor": "212",
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
        {"item": before["SD_NUMBER"], "type": kind, "status": "Hold", "owner": "Network"},
    )
    assert updated == {"recid": FIRST_ITEM, "sd_number": before["SD_NUMBER"]}
    after = pcr.state.service_desk(FIRST_ITEM)
    assert (after["SD_STATUS"], after["OWNER"]) == ("Hold", "Network")
    assert after["DESCRIPTION"] == before["DESCRIPTION"]
    assert after["MODIFIED_DATE"] > before["MODIFIED_DATE"]


def test_update_service_desk_of_an_unknown_item_is_an_invalid_request(pcr: Any) -> None:
    with pytest.raises(InvalidRequestError, match="No service desk item with recid '99999'"):
        pcr.call("update_service_desk", {"item": 99999, "type": "IN", "status": "Complete"})


def test_update_service_desk_without_an_item_is_refused_rather_than_creating_one(pcr: Any) -> None:
    with pytest.raises(InvalidRequestError, match="input 'item' is required"):
        pcr.call("update_service_desk", {"type": "IN", "description": "Changed"})
    count = pcr.state.db.fetch("SELECT COUNT(*) AS N FROM SERVICE_DESK")[0]["N"]
    assert count == SEEDED_ITEMS


# ---------------------------------------------------------------- service desk actions


def _order_with_actions(s: Any) -> dict[str, Any]:
    """A seeded service order with its actions, from the database."""
    orders = _rows(
        s,
        "SELECT sd.RECID, sd.SD_NUMBER FROM SERVICE_DESK sd WHERE sd.SD_TYPE = 'Service Order' "
        "AND EXISTS (SELECT 1 FROM SERVICE_DESK_ACTIONS a WHERE a.SERVICE_DESK_RECID = sd.RECID) "
        "ORDER BY sd.RECID",
    )
    return orders[0]


def test_list_service_desk_actions_by_number_and_by_recid(pcr: Any) -> None:
    order = _order_with_actions(pcr)
    stored = _rows(
        pcr,
        "SELECT RECID FROM SERVICE_DESK_ACTIONS WHERE SERVICE_DESK_RECID = ? ORDER BY RECID",
        order["RECID"],
    )
    by_number = pcr.call("list_service_desk_actions", {"item": order["SD_NUMBER"]})
    assert [a["RECID"] for a in by_number] == [r["RECID"] for r in stored]
    assert pcr.call("list_service_desk_actions", {"item": order["RECID"]}) == by_number
    first = by_number[0]
    assert first["SD_NUMBER"] == order["SD_NUMBER"]
    assert first["SDA_NUMBER"] == f"SDA-{int(first['RECID']):06d}"
    assert first["SD_ACTION"] in ("ADD", "CHG_MOVE", "CHG_UPDOWN", "CHG_MISC", "REMOVE", "TASK")
    assert pcr.call("list_service_desk_actions", {"item": "SO-999999"}) == []


def test_an_action_is_added_to_an_order_and_completed(pcr: Any) -> None:
    order = _order_with_actions(pcr)
    before = pcr.state.service_desk(int(order["RECID"]))
    added = pcr.call(
        "add_service_desk_action",
        {
            "item": order["SD_NUMBER"],
            "sd_action": "ADD",
            "catalog": 12,
            "location": 103,
            "due_date": "2026-12-05",
        },
    )
    assert added["sd_number"] == order["SD_NUMBER"]
    assert added["sda_number"] == f"SDA-{added['recid']:06d}"
    (row,) = _rows(pcr, "SELECT * FROM SERVICE_DESK_ACTIONS WHERE RECID = ?", added["recid"])
    assert (row["STATUS"], row["DUE_DATE"], row["LOCATIONS_RECID"]) == (
        "Pending",
        "2026-12-05",
        "103",
    )
    after = pcr.state.service_desk(int(order["RECID"]))
    assert after["MODIFIED_DATE"] > before["MODIFIED_DATE"]
    listed = pcr.call("list_service_desk_actions", {"item": order["RECID"]})
    assert listed[-1]["SD_ACTION"] == "ADD"
    assert listed[-1]["LOCATIONS_PATH"] == "Main Campus > Library"
    done = pcr.call(
        "update_service_desk_action", {"action": added["sda_number"], "status": "Complete"}
    )
    assert done == added
    by_recid = pcr.call(
        "update_service_desk_action", {"action": added["recid"], "due_date": "2026/12/24"}
    )
    assert by_recid == added
    (row,) = _rows(pcr, "SELECT * FROM SERVICE_DESK_ACTIONS WHERE RECID = ?", added["recid"])
    assert (row["STATUS"], row["DUE_DATE"]) == ("Complete", "2026-12-24")


def test_a_removal_needs_the_service_it_removes(pcr: Any) -> None:
    order = _order_with_actions(pcr)
    with pytest.raises(InvalidRequestError, match="'service' or 'service_id' is required"):
        pcr.call("add_service_desk_action", {"item": order["RECID"], "sd_action": "REMOVE"})
    service = _rows(pcr, "SELECT RECID, SERVICE_ID FROM SERVICES ORDER BY RECID")[0]
    removed = pcr.call(
        "add_service_desk_action",
        {"item": order["RECID"], "sd_action": "REMOVE", "service_id": service["SERVICE_ID"]},
    )
    listed = pcr.call("list_service_desk_actions", {"item": order["SD_NUMBER"]})
    assert (listed[-1]["RECID"], listed[-1]["SERVICE_ID"]) == (
        str(removed["recid"]),
        service["SERVICE_ID"],
    )


def test_service_desk_action_inputs_are_checked_before_sending(pcr: Any) -> None:
    with pytest.raises(InvalidRequestError, match="sd_action"):
        pcr.call("add_service_desk_action", {"item": "SO-010003", "sd_action": "DELETE"})
    with pytest.raises(InvalidRequestError, match="action"):
        pcr.call("update_service_desk_action", {"action": "IN-010003", "status": "Complete"})
    with pytest.raises(InvalidRequestError, match="No service desk action with sda_number"):
        pcr.call("update_service_desk_action", {"action": "SDA-099999", "status": "Complete"})
    with pytest.raises(PermissionDeniedError, match="lacks Write permission for Service Desk"):
        pcr.call(
            "add_service_desk_action",
            {"item": "SO-010003", "sd_action": "TASK"},
            api_key=READ_ONLY_KEY,
        )


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
        pcr.call("create_service_desk", {"type": "IN", "description": "x"}, api_key=READ_ONLY_KEY)
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
        await call_action(conn, "get_service_desk", {"item": FIRST_ITEM})
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
        found = await call_action(conn, "get_service_desk", {"item": FIRST_ITEM})
        tokens.append(conn.session["token"])
        return [found]

    with served("pcr360", seed=1, clock=clock, session_activity_seconds=900) as s:
        found = s.session(idle_between_calls)
        assert found[0]["RECID"] == str(FIRST_ITEM)
        assert tokens[0] != tokens[1]
        assert s.state.sessions == {}  # the expired session was purged at the new login


def test_a_revoked_token_is_renewed_by_logging_in_again(pcr: Any) -> None:
    tokens: list[str] = []

    async def revoke_between_calls(conn: Connection) -> None:
        await call_action(conn, "list_services")
        tokens.append(conn.session["token"])
        assert pcr.state.revoke_token(tokens[0])  # an admin deletes it on the Tokens tab
        change = {"item": str(FIRST_ITEM), "type": "IN", "owner": "NOC"}
        await call_action(conn, "update_service_desk", change)
        tokens.append(conn.session["token"])

    pcr.session(revoke_between_calls)
    assert tokens[0] != tokens[1]
    assert pcr.state.service_desk(FIRST_ITEM)["OWNER"] == "NOC"


def test_a_token_past_its_jwt_expiry_is_renewed_before_it_is_sent(served: Any) -> None:
    # The platform's clock runs a session lifetime behind, so every token it issues carries an
    # exp that has already passed while its session is still live: only the JWT's exp, which
    # the spec names as the session's lifetime, can make the connection log in again.
    clock = Clock(time.time() - 600)
    with served("pcr360", seed=1, clock=clock, session_lifetime_seconds=600) as s:
        counts: list[int] = []

        async def two_calls(conn: Connection) -> None:
            for _ in range(2):
                await call_action(conn, "list_services")
                counts.append(len(s.state.sessions))

        s.session(two_calls)
        assert counts == [1, 2]
        assert len(s.state.sessions) == 1  # the first is left to expire; the last logged out


# ---------------------------------------------------------------- new_service_desk_record


RECIPE = """\
recipe: pcr-new-items
connections:
  pcr:
    connector: pcr360
    base_url: "{{{{ env.PCR_URL }}}}"
    api_key: "{{{{ env.PCR_KEY }}}}"
    username: "{{{{ env.PCR_USER }}}}"
    password: "{{{{ env.PCR_PASSWORD }}}}"
trigger:
  event: pcr.new_service_desk_record
  every: 5m
  with: {with_block}
steps:
  - set: {{number: "{{{{ trigger.SD_NUMBER }}}}", urgency: "{{{{ trigger.URGENCY }}}}"}}
"""


def _poller(
    s: Any, catalog: Catalog, folder: Path, with_block: str
) -> Callable[[], Coroutine[Any, Any, PollResult]]:
    """``poll()``: one poll cycle of a recipe on the trigger, against sandbox ``s``."""
    env = {
        "PCR_URL": s.values["base_url"],
        "PCR_KEY": s.values["api_key"],
        "PCR_USER": s.values["username"],
        "PCR_PASSWORD": s.values["password"],
    }
    path = folder / "recipe.yaml"
    path.write_text(RECIPE.format(with_block=with_block), encoding="utf-8")
    recipe = load_recipe(path, catalog, env=env)

    async def cycle() -> PollResult:
        store = open_sqlite(str(folder / "state.db"))  # kept between cycles: the cursor
        try:
            async with ConnectionPool(catalog, env=env) as pool:
                pool.open(recipe)
                return await poll(recipe, pool, store)
        finally:
            await store.close()

    return cycle


def test_new_service_desk_record_yields_each_new_item_once(
    pcr: Any, catalog: Catalog, tmp_path: Path
) -> None:
    cycle = _poller(pcr, catalog, tmp_path, "{}")

    first = asyncio.run(cycle())
    assert first.records == SEEDED_ITEMS  # the first poll starts after RECID 0
    assert first.cursor == FIRST_ITEM + SEEDED_ITEMS - 1
    jobs = sorted(first.jobs, key=lambda job: int(job.event_key))
    assert [job.event_key for job in jobs] == [str(FIRST_ITEM + n) for n in range(SEEDED_ITEMS)]
    event = jobs[0].event
    assert event["SD_NUMBER"] == "IN-010001"
    assert event["URGENCY"] in ("LOW", "MEDIUM", "HIGH", "CRITICAL")
    assert event["LOCATIONS_PATH"].startswith("Main Campus > ")

    created = pcr.call("create_service_desk", {"type": "SO", "description": "New data port"})
    second = asyncio.run(cycle())
    assert second.records == 1
    assert second.cursor == created["recid"]
    assert len(second.jobs) == SEEDED_ITEMS + 1  # the first cycle's jobs, none of them twice
    new = [job for job in second.jobs if job.event_key == str(created["recid"])]
    assert new[0].event["SD_NUMBER"] == created["sd_number"]
    assert new[0].event["DESCRIPTION"] == "New data port"
    assert pcr.state.sessions == {}  # each cycle's connection logged out


def test_new_service_desk_record_starts_after_the_given_recid_and_pages(
    pcr: Any, catalog: Catalog, tmp_path: Path
) -> None:
    for n in range(84):  # 120 items: the first poll after 10010 reads two SQL pages of 100
        row = {
            "SD_TYPE": "Incident",
            "DESCRIPTION": f"Imported {n}",
            "SD_STATUS": "Pending",
            "CREATED_DATE": "2026-06-01 09:00:00",
            "MODIFIED_DATE": "2026-06-01 09:00:00",
        }
        pcr.state.db.insert_numbered("SERVICE_DESK", row, "SD_NUMBER", partial(sd_number, "IN"))
    cycle = _poller(pcr, catalog, tmp_path, "{after_recid: 10010}")

    result = asyncio.run(cycle())
    assert result.records == 110
    jobs = sorted(result.jobs, key=lambda job: int(job.event_key))
    assert [job.event_key for job in jobs] == [str(n) for n in range(10011, 10121)]
    assert result.cursor == 10120
    assert jobs[-1].event["DESCRIPTION"] == "Imported 83"
    assert jobs[-1].event["URGENCY"] is None  # none set: the LEFT JOIN keeps the item
