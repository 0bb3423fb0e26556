"""Writing service-desk records: incidents (IN), service orders (SO) and their actions.

``POST servicedesk.json`` (or ``servicedesk.IN.json``/``servicedesk.SO.json``) with
``type`` IN, SO or ACTION creates a record, or updates one when it names it (``recid`` or
``sd_number``; for actions ``recid`` or ``sda_number``, never both). New items start as
Pending whatever the call says; an update may set ``status``. Every write stamps
MODIFIED_DATE (an action also stamps its item), and new RECIDs only grow, so polling
``RECID > watermark`` or ``MODIFIED_DATE > since`` sees every change. The answer is
``{"status": "success", "recid": N, "sd_number": …}`` (actions add ``sda_number``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .access import Caller, Section
from .calls import ApiError, Call
from .data import SD_ACTIONS, SD_STATUSES, SD_TYPES, sd_number, sda_number
from .state import Pcr360State

_ITEM_FIELDS = frozenset(
    [
        "type",
        "recid",
        "sd_number",
        "description",
        "requestor",
        "csr",
        "owner",
        "sd_source",
        "urgency",
        "location",
        "due_date",
        "status",
    ]
)
_ACTION_FIELDS = frozenset(
    [
        "type",
        "recid",
        "sda_number",
        "sd_recid",
        "sd_number",
        "sd_action",
        "location",
        "moveto_location",
        "catalog",
        "service",
        "service_id",
        "sla",
        "due_date",
        "status",
    ]
)
_NEEDS_CATALOG = frozenset({"ADD", "CHG_UPDOWN"})
_NEEDS_SERVICE = frozenset(a for a in SD_ACTIONS if a.startswith("CHG_") or a == "REMOVE")


def write_service_desk(state: Pcr360State, call: Call, caller: Caller) -> dict[str, Any]:
    """Create or update an incident, service order or service-desk action."""
    caller.key.require(Section.SERVICE_DESK, write=True)
    kind = _kind(call)
    allowed = _ACTION_FIELDS if kind == "ACTION" else _ITEM_FIELDS
    unknown = sorted(set(call.params) - allowed)
    if unknown:
        raise ApiError(400, f"Unknown field(s) {', '.join(unknown)}; allowed: {sorted(allowed)}")
    if kind == "ACTION":
        return _write_action(state, call, caller)
    return _write_item(state, call, caller, kind)


def _kind(call: Call) -> str:
    path, param = call.target.subtype, call.text("type")
    if path is not None and path.upper() not in SD_TYPES:
        raise ApiError(404, f"Unknown service desk type '{path}': use SO or IN")
    if path is not None and param is not None and param.upper() != path.upper():
        raise ApiError(400, f"Field 'type' is '{param}' but the request is for '{path}'")
    kind = (path or param or "").upper()
    if kind not in (*SD_TYPES, "ACTION"):
        raise ApiError(400, "Field 'type' is required: IN (incident), SO (service order) or ACTION")
    return kind


def _write_item(state: Pcr360State, call: Call, caller: Caller, code: str) -> dict[str, Any]:
    changes = _item_changes(state, call)
    now = state.timestamp()
    changes |= {"MODIFIED_DATE": now, "MODIFIED_BY": caller.username}
    target = _pick(call, "recid", "sd_number")
    if target is None:
        if not changes.get("DESCRIPTION"):
            raise ApiError(400, "Field 'description' is required to create a service desk item")
        defaults = {
            "SD_TYPE": SD_TYPES[code],
            "SD_SOURCE": "API",
            "URGENCY_LISTS_RECID": _list_recid(state, "URGENCY", "MEDIUM"),
        }
        row = defaults | changes | {"SD_STATUS": "Pending", "CREATED_DATE": now}
        recid, number = state.db.insert_numbered(
            "SERVICE_DESK", row, "SD_NUMBER", lambda recid: sd_number(code, recid)
        )
        return {"status": "success", "recid": recid, "sd_number": number}
    item = _find_item(state, *target)
    if item["SD_TYPE"] != SD_TYPES[code]:
        raise ApiError(400, f"{item['SD_NUMBER']} is a {item['SD_TYPE']}, not type {code}")
    _update(state, "SERVICE_DESK", item["RECID"], changes)
    return {"status": "success", "recid": item["RECID"], "sd_number": item["SD_NUMBER"]}


def _item_changes(state: Pcr360State, call: Call) -> dict[str, Any]:
    """Column values from the item fields present in the call."""
    changes: dict[str, Any] = {}
    for name in ("description", "owner", "sd_source"):
        column = name.upper()
        if (value := call.text(name)) is not None:
            changes[column] = value
    for name, prefix in (("requestor", "REQUESTOR"), ("csr", "CSR")):
        if (value := call.text(name)) is not None:
            contact = _row(state, "CONTACTS", _int(value, name), name)
            changes[f"{prefix}_CONTACTS_RECID"] = contact["RECID"]
            changes[prefix] = f"{contact['LAST_NAME']}, {contact['FIRST_NAME']}"
    if (value := call.text("urgency")) is not None:
        changes["URGENCY_LISTS_RECID"] = _list_recid(state, "URGENCY", value.upper())
    if (value := call.text("location")) is not None:
        changes["LOCATIONS_RECID"] = _location(state, value, "location")
    if (value := call.text("due_date")) is not None:
        changes["DUE_DATE"] = _date(value)
    if (value := call.text("status")) is not None:
        changes["SD_STATUS"] = _status(value, SD_STATUSES)
    return changes


def _write_action(state: Pcr360State, call: Call, caller: Caller) -> dict[str, Any]:
    changes = _action_changes(state, call)
    now = state.timestamp()
    changes |= {"MODIFIED_DATE": now, "MODIFIED_BY": caller.username}
    target = _pick(call, "recid", "sda_number")
    if target is None:
        parent = _pick(call, "sd_recid", "sd_number")
        if parent is None:
            raise ApiError(400, "Field 'sd_recid' or 'sd_number' is required to add an action")
        item = _find_item(state, "recid" if parent[0] == "sd_recid" else "sd_number", parent[1])
        action = (call.text("sd_action") or "").upper()
        if action not in SD_ACTIONS:
            raise ApiError(400, f"Field 'sd_action' must be one of {', '.join(SD_ACTIONS)}")
        if action in _NEEDS_CATALOG and "SERV_CATALOG_RECID" not in changes:
            raise ApiError(400, f"Field 'catalog' is required for sd_action {action}")
        if action in _NEEDS_SERVICE and "SERVICES_RECID" not in changes:
            raise ApiError(400, f"Field 'service' or 'service_id' is required for {action}")
        row = changes | {
            "SERVICE_DESK_RECID": item["RECID"],
            "SD_ACTION_LISTS_RECID": _list_recid(state, "SD_ACTION", action),
            "STATUS": "Pending",
            "CREATED_DATE": now,
        }
        recid, number = state.db.insert_numbered(
            "SERVICE_DESK_ACTIONS", row, "SDA_NUMBER", sda_number
        )
    else:
        if call.text("sd_action") is not None:
            raise ApiError(400, "Field 'sd_action' cannot be changed on an existing action")
        column = "RECID" if target[0] == "recid" else "SDA_NUMBER"
        found = state.db.fetch(
            f"SELECT * FROM SERVICE_DESK_ACTIONS WHERE {column} = ?", (target[1],)
        )
        if not found:
            raise ApiError(400, f"No service desk action with {target[0]} '{target[1]}'")
        recid, number = found[0]["RECID"], found[0]["SDA_NUMBER"]
        _update(state, "SERVICE_DESK_ACTIONS", recid, changes)
        item = _find_item(state, "recid", str(found[0]["SERVICE_DESK_RECID"]))
    _update(state, "SERVICE_DESK", item["RECID"], {"MODIFIED_DATE": now})
    return {
        "status": "success",
        "recid": recid,
        "sda_number": number,
        "sd_number": item["SD_NUMBER"],
    }


def _action_changes(state: Pcr360State, call: Call) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name, column in (
        ("location", "LOCATIONS_RECID"),
        ("moveto_location", "MOVETO_LOCATIONS_RECID"),
    ):
        if (value := call.text(name)) is not None:
            changes[column] = _location(state, value, name)
    for name, column in (("catalog", "SERV_CATALOG_RECID"), ("sla", "SLA_RECID")):
        if (value := call.text(name)) is not None:
            changes[column] = _int(value, name)
    service = _pick(call, "service", "service_id")
    if service is not None:
        wanted: int | str
        if service[0] == "service":
            where, wanted = "RECID = ?", _int(service[1], "service")
        else:
            where, wanted = "SERVICE_ID = ?", service[1]
        found = state.db.fetch(f"SELECT RECID FROM SERVICES WHERE {where}", (wanted,))
        if not found:
            raise ApiError(400, f"No service with {service[0]} '{service[1]}'")
        changes["SERVICES_RECID"] = found[0]["RECID"]
    if (value := call.text("due_date")) is not None:
        changes["DUE_DATE"] = _date(value)
    if (value := call.text("status")) is not None:
        changes["STATUS"] = _status(value, ("Pending", "Complete"))
    return changes


def _pick(call: Call, first: str, second: str) -> tuple[str, str] | None:
    """Which of two alternative identifying fields the call sent; 400 when it sent both."""
    a, b = call.text(first), call.text(second)
    if a is not None and b is not None:
        raise ApiError(400, f"Send either '{first}' or '{second}', not both")
    if a is not None:
        return first, a
    return (second, b) if b is not None else None


def _find_item(state: Pcr360State, field: str, value: str) -> dict[str, Any]:
    if field in ("recid", "sd_recid"):
        rows = state.db.fetch("SELECT * FROM SERVICE_DESK WHERE RECID = ?", (_int(value, field),))
    else:
        rows = state.db.fetch("SELECT * FROM SERVICE_DESK WHERE SD_NUMBER = ?", (value,))
    if not rows:
        raise ApiError(400, f"No service desk item with {field} '{value}'")
    return rows[0]


def _row(state: Pcr360State, table: str, recid: int, field: str) -> dict[str, Any]:
    rows = state.db.fetch(f"SELECT * FROM {table} WHERE RECID = ?", (recid,))
    if not rows:
        raise ApiError(400, f"Field '{field}': no {table} record with RECID {recid}")
    return rows[0]


def _location(state: Pcr360State, value: str, field: str) -> int:
    return int(_row(state, "LOCATIONS", _int(value, field), field)["RECID"])


def _list_recid(state: Pcr360State, list_type: str, code: str) -> int:
    rows = state.db.fetch(
        "SELECT RECID FROM LISTS WHERE LIST_TYPE = ? AND CODE = ?", (list_type, code)
    )
    if not rows:
        codes = state.db.fetch("SELECT CODE FROM LISTS WHERE LIST_TYPE = ?", (list_type,))
        known = ", ".join(r["CODE"] for r in codes)
        raise ApiError(400, f"Unknown {list_type.lower()} '{code}': use one of {known}")
    return int(rows[0]["RECID"])


def _update(state: Pcr360State, table: str, recid: int, changes: dict[str, Any]) -> None:
    assignments = ", ".join(f"{column} = ?" for column in changes)
    state.db.execute(
        f"UPDATE {table} SET {assignments} WHERE RECID = ?", [*changes.values(), recid]
    )


def _int(value: str, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"Field '{field}' must be a RECID (a whole number)") from None


def _date(value: str) -> str:
    """A ``YYYY/MM/DD`` date (``YYYY-MM-DD`` also accepted), stored as ``YYYY-MM-DD``."""
    for layout in ("%Y/%m/%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, layout).strftime("%Y-%m-%d")
        except ValueError:
            continue
    raise ApiError(400, f"Field 'due_date' must be a date as YYYY/MM/DD, got '{value}'")


def _status(value: str, allowed: tuple[str, ...]) -> str:
    for status in allowed:
        if status.lower() == value.lower():
            return status
    raise ApiError(400, f"Field 'status' must be one of {', '.join(allowed)}, got '{value}'")
