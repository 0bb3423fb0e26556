"""Reading: the SQL endpoint (recommended) and the deprecated typed reads.

``sql`` runs one read-only SELECT against the database and pages its rows with ``limit``
(default 20) and ``page`` (default 1). As in the documented sample, ``page``,
``total_count`` and every value are strings, ``count`` (rows in this page) is a number, and
column names are what the statement names. The typed reads (``servicedesk[.TYPE]``,
``services``, ``equipment``) list one table, ordered by RECID, at most 50 a page, under a
list key named after the request type; each searchable field sent as a parameter keeps the
rows whose value contains it, ignoring case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .access import Caller, Section
from .calls import ApiError, Call
from .data import SD_TYPES
from .state import Pcr360State

DEFAULT_LIMIT = 20
LEGACY_MAX_LIMIT = 50
_FIRST_KEYWORD = re.compile(r"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*(\w*)", re.S)


def run_sql(state: Pcr360State, call: Call, caller: Caller) -> dict[str, Any]:
    """The ``sql`` request: one SELECT, paged; tables are checked against the key's Read."""
    sql = call.text("sql")
    if sql is None:
        raise ApiError(400, "Parameter 'sql' is required: a SELECT statement")
    match = _FIRST_KEYWORD.match(sql)
    if match is None or match.group(1).upper() not in ("SELECT", "WITH"):
        raise ApiError(
            400, "Only SELECT statements are allowed (UPDATE, DELETE and others are not)"
        )
    limit = call.positive_int("limit", DEFAULT_LIMIT)
    page = call.positive_int("page", 1)
    result = state.db.run_select(sql, lambda section: section in caller.key.read)
    chunk = result.rows[(page - 1) * limit : page * limit]
    results = [
        {column: _text(value) for column, value in zip(result.columns, row, strict=True)}
        for row in chunk
    ]
    return _page(page, len(result.rows), "results", results)


@dataclass(frozen=True, slots=True)
class Listing:
    """A typed read: its table, section, returned columns and searchable names → columns."""

    table: str
    section: Section
    fields: tuple[str, ...]
    searchable: dict[str, str] = field(default_factory=dict)


def _searchable(*columns: str, **aliases: str) -> dict[str, str]:
    return {column.lower(): column for column in columns} | aliases


LISTINGS = {
    "servicedesk": Listing(
        "SERVICE_DESK",
        Section.SERVICE_DESK,
        ("RECID", "SD_TYPE", "SD_NUMBER", "DUE_DATE", "DESCRIPTION", "OWNER", "CSR",
         "REQUESTOR", "SD_SOURCE", "SD_STATUS", "CREATED_DATE", "MODIFIED_DATE"),
        _searchable("SD_NUMBER", "DUE_DATE", "DESCRIPTION", "OWNER", "CSR", "REQUESTOR",
                    "SD_SOURCE", "SD_STATUS", status="SD_STATUS"),
    ),
    "services": Listing(
        "SERVICES",
        Section.SERVICES,
        ("RECID", "MODIFIED_DATE", "BILLABLE", "STATUS_DATE", "CAT_RECID", "SERVICE_HOST",
         "SERVICE_ID", "SERVICE_ID_FMT", "CATALOG", "OWNER", "MODIFIED_BY", "LOCATIONS_PATH",
         "SLA_CATALOG_PATH", "SERVICES_STATUS"),
        _searchable("BILLABLE", "STATUS_DATE", "SERVICE_HOST", "SERVICE_ID", "SERVICE_ID_FMT",
                    "CATALOG", "OWNER", "SERVICES_STATUS",
                    locations="LOCATIONS_PATH", sla="SLA_CATALOG_PATH"),
    ),
    "equipment": Listing(
        "EQUIPMENT",
        Section.EQUIPMENT,
        ("RECID", "MODIFIED_DATE", "BILLABLE", "EQUIPMENT_ID", "ASSET_TAG", "SERIAL_NUM",
         "PURCHASE_PRICE", "CONSUMED", "RECEIVED_DATE", "BILLED_DATE", "CAT_RECID",
         "MODIFIED_BY", "CATALOG", "OWNER", "DEPT_HIERARCHY_PATH", "LOCATIONS_PATH",
         "E_EQP_STATUS_VALUE"),
        _searchable("BILLABLE", "EQUIPMENT_ID", "ASSET_TAG", "SERIAL_NUM", "CONSUMED",
                    "CATALOG", "OWNER", "DEPT_HIERARCHY_PATH", "E_EQP_STATUS_VALUE",
                    locations="LOCATIONS_PATH"),
    ),
}  # fmt: skip


def list_records(state: Pcr360State, call: Call, caller: Caller) -> dict[str, Any]:
    """A typed read of ``LISTINGS[call.target.request]``, filtered and paged."""
    name = call.target.request
    listing = LISTINGS[name]
    caller.key.require(listing.section)
    filters = _filters(call, name, listing)
    limit = min(call.positive_int("limit", DEFAULT_LIMIT), LEGACY_MAX_LIMIT)
    page = call.positive_int("page", 1)
    where = " AND ".join(f"{column} LIKE ? ESCAPE '\\'" for column in filters) or "1"
    values = [f"%{_escape_like(value)}%" for value in filters.values()]
    total = state.db.fetch(f"SELECT COUNT(*) AS N FROM {listing.table} WHERE {where}", values)
    rows = state.db.fetch(
        f"SELECT {', '.join(listing.fields)} FROM {listing.table} WHERE {where} "
        "ORDER BY RECID LIMIT ? OFFSET ?",
        [*values, limit, (page - 1) * limit],
    )
    items = [{column: _text(value) for column, value in row.items()} for row in rows]
    return _page(page, int(total[0]["N"]), name, items)


def _filters(call: Call, name: str, listing: Listing) -> dict[str, str]:
    """Column → wanted value, from the call's searchable parameters (and the path's TYPE)."""
    if call.target.subtype is not None and name != "servicedesk":
        raise ApiError(404, f"Unknown request '{name}.{call.target.subtype}'")
    filters: dict[str, str] = {}
    if name == "servicedesk":
        subtype, param = call.target.subtype, call.text("type")
        if subtype is not None and subtype.upper() not in SD_TYPES:
            raise ApiError(404, f"Unknown service desk type '{subtype}': use SO or IN")
        if param is not None and param.upper() not in SD_TYPES:
            raise ApiError(400, f"Unknown service desk type '{param}': use SO or IN")
        for code in (param, subtype):
            if code is not None:
                filters["SD_TYPE"] = SD_TYPES[code.upper()]
    for param in call.params:
        if param in ("limit", "page") or (param == "type" and name == "servicedesk"):
            continue
        column = listing.searchable.get(param)
        if column is None:
            known = ", ".join(sorted(listing.searchable))
            raise ApiError(400, f"'{param}' is not a searchable field of {name}; use: {known}")
        text = call.text(param)
        if text is not None:
            filters[column] = text
    return filters


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _page(page: int, total: int, list_key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "status": "success",
        "page": str(page),
        "count": len(items),
        "total_count": str(total),
        list_key: items,
    }


def _text(value: Any) -> str | None:
    """A database value as the platform returns it: text, NULL as null."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
