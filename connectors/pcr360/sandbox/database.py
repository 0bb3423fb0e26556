"""The sandbox's PCR-360 database: an in-memory SQLite copy of the tables the API exposes.

The SQL endpoint runs callers' statements here for real, so they must not change anything or
read what their key may not: while a caller's statement is prepared, an authorizer allows
only SELECT, reads and function calls, refuses SQLite's own tables, and refuses a table whose
section the key lacks Read permission on (it sees through views, so a view is checked by the
tables under it). A progress handler stops statements that run too long, such
as an endless recursive query. The sandbox's own writes use ``fetch``/``execute`` directly.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .access import Section
from .calls import ApiError

SCHEMA = """
CREATE TABLE LISTS (
    RECID INTEGER PRIMARY KEY AUTOINCREMENT, LIST_TYPE TEXT NOT NULL, CODE TEXT NOT NULL,
    VALUE TEXT NOT NULL, SORT_ORDER INTEGER);
CREATE TABLE LOCATIONS (
    RECID INTEGER PRIMARY KEY AUTOINCREMENT, NAME TEXT NOT NULL, PARENT_LOCATIONS_RECID INTEGER,
    LOCATION_TYPE_LISTS_RECID INTEGER, LOCATIONS_PATH TEXT, STATUS INTEGER, WAREHOUSE INTEGER,
    LATITUDE REAL, LONGITUDE REAL, BUILDING_ID TEXT, STREET_ADDRESS TEXT, CITY TEXT,
    STATE TEXT, MODIFIED_DATE TEXT);
CREATE TABLE CONTACTS (
    RECID INTEGER PRIMARY KEY AUTOINCREMENT, FIRST_NAME TEXT, LAST_NAME TEXT, EMAIL TEXT,
    PHONE TEXT, CONTACT_TYPE_LISTS_RECID INTEGER, LOCATIONS_RECID INTEGER, STATUS INTEGER,
    MODIFIED_DATE TEXT);
CREATE TABLE SERVICES (
    RECID INTEGER PRIMARY KEY AUTOINCREMENT, MODIFIED_DATE TEXT, BILLABLE TEXT,
    STATUS_DATE TEXT, CAT_RECID INTEGER, SERVICE_HOST TEXT, SERVICE_ID TEXT,
    SERVICE_ID_FMT TEXT, CATALOG TEXT, OWNER TEXT, MODIFIED_BY TEXT, LOCATIONS_RECID INTEGER,
    LOCATIONS_PATH TEXT, SLA_CATALOG_PATH TEXT, SERVICES_STATUS TEXT);
CREATE TABLE SERVICES_CHARGES (
    RECID INTEGER PRIMARY KEY AUTOINCREMENT, SERVICES_RECID INTEGER NOT NULL,
    DESCRIPTION TEXT, AMOUNT REAL, FREQUENCY TEXT, START_DATE TEXT, END_DATE TEXT,
    MODIFIED_DATE TEXT);
CREATE TABLE EQUIPMENT (
    RECID INTEGER PRIMARY KEY AUTOINCREMENT, MODIFIED_DATE TEXT, BILLABLE TEXT,
    EQUIPMENT_ID TEXT, ASSET_TAG TEXT, SERIAL_NUM TEXT, PURCHASE_PRICE REAL, CONSUMED TEXT,
    RECEIVED_DATE TEXT, BILLED_DATE TEXT, CAT_RECID INTEGER, MODIFIED_BY TEXT, CATALOG TEXT,
    OWNER TEXT, DEPT_HIERARCHY_PATH TEXT, LOCATIONS_RECID INTEGER, LOCATIONS_PATH TEXT,
    E_EQP_STATUS_VALUE TEXT);
CREATE TABLE SERVICE_DESK (
    RECID INTEGER PRIMARY KEY AUTOINCREMENT, SD_NUMBER TEXT UNIQUE,
    SD_TYPE TEXT NOT NULL, DESCRIPTION TEXT, SD_STATUS TEXT NOT NULL,
    URGENCY_LISTS_RECID INTEGER, SD_SOURCE TEXT, REQUESTOR_CONTACTS_RECID INTEGER,
    REQUESTOR TEXT, CSR_CONTACTS_RECID INTEGER, CSR TEXT, OWNER TEXT, LOCATIONS_RECID INTEGER,
    DUE_DATE TEXT, CREATED_DATE TEXT NOT NULL, MODIFIED_DATE TEXT NOT NULL, MODIFIED_BY TEXT);
CREATE TABLE SERVICE_DESK_ACTIONS (
    RECID INTEGER PRIMARY KEY AUTOINCREMENT, SDA_NUMBER TEXT UNIQUE,
    SERVICE_DESK_RECID INTEGER NOT NULL, SD_ACTION_LISTS_RECID INTEGER NOT NULL,
    SERV_CATALOG_RECID INTEGER, SERVICES_RECID INTEGER, LOCATIONS_RECID INTEGER,
    MOVETO_LOCATIONS_RECID INTEGER, SLA_RECID INTEGER, STATUS TEXT NOT NULL, DUE_DATE TEXT,
    CREATED_DATE TEXT NOT NULL, MODIFIED_DATE TEXT NOT NULL, MODIFIED_BY TEXT);
CREATE VIEW V_SERVICE_SD_CHARGES AS
    SELECT sd.RECID AS SERVICE_DESK_RECID, sd.SD_NUMBER, sd.SD_TYPE, sd.SD_STATUS,
           sda.RECID AS SERVICE_DESK_ACTIONS_RECID, sda.SDA_NUMBER, sda.SERVICES_RECID,
           sc.RECID AS SERVICES_CHARGES_RECID, sc.DESCRIPTION AS CHARGE_DESCRIPTION,
           sc.AMOUNT, sc.FREQUENCY
    FROM SERVICE_DESK sd
    JOIN SERVICE_DESK_ACTIONS sda ON sda.SERVICE_DESK_RECID = sd.RECID
    LEFT JOIN SERVICES_CHARGES sc ON sc.SERVICES_RECID = sda.SERVICES_RECID;
"""

# Reference tables (lists, locations, contacts) belong to no section: every key may read them.
# Names not listed are views and WITH-clause names; SQLite reports the tables under a view
# too, and refuses unknown tables itself, before the authorizer is asked.
TABLE_SECTIONS: dict[str, Section | None] = {
    "SERVICE_DESK": Section.SERVICE_DESK,
    "SERVICE_DESK_ACTIONS": Section.SERVICE_DESK,
    "SERVICES": Section.SERVICES,
    "SERVICES_CHARGES": Section.SERVICES,
    "EQUIPMENT": Section.EQUIPMENT,
    "LISTS": None,
    "LOCATIONS": None,
    "CONTACTS": None,
}

_ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
_PROGRESS_STEP = 1000  # VM instructions between progress callbacks
_PROGRESS_BUDGET = 20_000  # callbacks before a statement is stopped (20 M instructions)


@dataclass(frozen=True, slots=True)
class QueryResult:
    """A caller's statement's result: column names as the statement names them, and rows."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


class Database:
    """One in-memory SQLite database, shared by the server's threads behind a lock."""

    def __init__(self) -> None:
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._conn.executescript(SCHEMA)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a trusted statement as dicts (the sandbox's own reads, and tests)."""
        with self._lock:
            cursor = self._conn.execute(sql, params)
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a trusted write; returns the new row's RECID for an INSERT."""
        with self._lock:
            return self._conn.execute(sql, params).lastrowid or 0

    def insert(self, table: str, row: dict[str, Any]) -> int:
        """Insert ``row`` (column names from the sandbox's code, never a caller) into ``table``."""
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        return self.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))

    def insert_numbered(
        self, table: str, row: dict[str, Any], column: str, number: Callable[[int], str]
    ) -> tuple[int, str]:
        """Insert ``row`` and set ``column`` to ``number(RECID)`` at once; (RECID, number)."""
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._lock:
            cursor = self._conn.execute("BEGIN")
            try:
                cursor.execute(
                    f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values())
                )
                recid = cursor.lastrowid or 0
                text = number(recid)
                cursor.execute(f"UPDATE {table} SET {column} = ? WHERE RECID = ?", (text, recid))
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return recid, text

    def start_sequence(self, table: str, first: int) -> None:
        """Make the next RECID of ``table`` be ``first`` (each table numbers its own range)."""
        self.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, first - 1))

    def run_select(self, sql: str, can_read: Callable[[Section], bool]) -> QueryResult:
        """Run a caller's single read-only statement; 400 if refused, 403 if not permitted."""
        refusals: list[ApiError] = []

        def authorize(action: int, arg1: str | None, *_: str | None) -> int:
            if action not in _ALLOWED_ACTIONS:
                refusals.append(ApiError(400, "Only a read-only SELECT statement is allowed"))
                return sqlite3.SQLITE_DENY
            if action == sqlite3.SQLITE_READ and arg1 is not None:
                table = arg1.upper()
                if table.startswith("SQLITE_"):
                    refusals.append(ApiError(400, f"Table '{arg1}' is not available to the API"))
                    return sqlite3.SQLITE_DENY
                section = TABLE_SECTIONS.get(table)
                if section is not None and not can_read(section):
                    message = f"The API key lacks Read permission for {section} (table {table})"
                    refusals.append(ApiError(403, message))
                    return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK

        budget = [_PROGRESS_BUDGET]

        def progress() -> int:
            budget[0] -= 1
            return 1 if budget[0] <= 0 else 0

        with self._lock:
            self._conn.set_authorizer(authorize)
            self._conn.set_progress_handler(progress, _PROGRESS_STEP)
            try:
                cursor = self._conn.execute(sql)
                columns = tuple(d[0] for d in cursor.description or ())
                rows = cursor.fetchall()
            except sqlite3.Error as exc:
                if refusals:
                    raise refusals[0] from None
                if "one statement" in str(exc):
                    raise ApiError(400, "Only one SQL statement may be sent at a time") from None
                if budget[0] <= 0:
                    raise ApiError(400, "The statement ran too long and was stopped") from None
                raise ApiError(400, f"SQL error: {exc}") from None
            finally:
                self._conn.set_authorizer(None)
                self._conn.set_progress_handler(None, 0)
        if not columns:
            raise ApiError(400, "Only a read-only SELECT statement is allowed")
        return QueryResult(columns, rows)
