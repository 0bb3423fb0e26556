"""Case history: every change to a case is a transaction, the source for "case updated" polls.

``commit`` is the one way a mutation lands: it stamps the case's ``lastUpdated*`` fields and
appends a transaction ``{id, operation, timestamp, user, flags, notified, changes[]}``.
Operations carry the names of mnemonic's request models (``createCase``, ``addCaseComment``,
``grantCaseAccess``...), and so do the changed fields where a model names them
(``reporterID``, ``category``, ``setFlag``).

The list takes the filters of the models' ``listCaseHistory``: ``operation``, ``type``,
``field``, ``user``/``userID``, ``transactionID`` (repeated for several, any matches),
``beforeTransaction``/``afterTransaction``, ``startTimestamp``/``endTimestamp`` and
``sortBy`` (``timestamp`` or ``-timestamp``). ``type`` groups transactions: ``actions``
(create, close, move, delete), ``status``, ``priority``, ``description`` (subject included),
``category``, ``assignments``, ``comments``, ``attachments`` and ``access``; tag changes
belong to none of them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import render
from .access import load_case
from .auth import authenticated
from .envelope import action_error, field_error, listing, page_params, single
from .state import ArgusState, Record, ref_id
from .times import parse_time

_ACTIONS = ("createCase", "closeCase", "moveCase", "deleteCase", "publishCase", "mergeCases")
_TYPE_OPERATIONS = {
    "actions": _ACTIONS,
    "comments": ("addCaseComment", "editCaseComment", "deleteCaseComment"),
    "attachments": ("addCaseAttachment", "deleteCaseAttachment"),
    "access": ("updateCaseAccessSettings", "grantCaseAccess", "revokeCaseAccess"),
}
_TYPE_FIELDS = {
    "status": ("status",),
    "priority": ("priority",),
    "description": ("subject", "description"),
    "category": ("category",),
    "assignments": ("reporterID", "assignedUserID", "assignedTechID"),
}
HISTORY_TYPES = (*_TYPE_OPERATIONS, *_TYPE_FIELDS)
_FIELD_NAMES = {"categoryID": "category", "serviceID": "service"}


def field_name(key: str) -> str:
    """The name a history change gives the case record's field ``key``."""
    return _FIELD_NAMES.get(key, key)


def change(
    field: str, value: Any, previous: Any = None, *, object_type: str | None = None
) -> Record:
    """One field change of a transaction."""
    return {
        "field": field,
        "value": value,
        "previousValue": previous,
        "object": None,
        "previousObject": None,
        "objectType": object_type,
        "flags": [],
    }


def commit(
    state: ArgusState,
    case: Record,
    user_id: int,
    operation: str,
    changes: list[Record],
    *,
    timestamp: int | None = None,
    notified: bool | None = None,
) -> Record:
    """Record a transaction on the case and mark the case as last updated by ``user_id``.

    ``notified`` says whether watchers were told; by default creating, closing and
    commenting notify.
    """
    when = state.now_ms() if timestamp is None else timestamp
    case["lastUpdatedTimestamp"] = when
    case["lastUpdatedByUserID"] = user_id
    transaction = {
        "id": state.new_uuid(),
        "operation": operation,
        "timestamp": when,
        "userID": user_id,
        "flags": [],
        "notified": (
            operation in ("createCase", "closeCase", "addCaseComment")
            if notified is None
            else notified
        ),
        "changes": [{**c, "transactionIndex": i} for i, c in enumerate(changes)],
    }
    state.history[case["id"]].append(transaction)
    return transaction


def _types(transaction: Record) -> set[str]:
    fields = {c["field"] for c in transaction["changes"]}
    kinds = {k for k, ops in _TYPE_OPERATIONS.items() if transaction["operation"] in ops}
    return kinds | {k for k, names in _TYPE_FIELDS.items() if fields & set(names)}


def _cut(rows: list[Record], wanted: str | None, field: str, *, before: bool) -> list[Record]:
    if wanted is None:
        return rows
    ids = [t["id"] for t in rows]
    if wanted not in ids:
        raise field_error(412, field, f"Transaction {wanted} not found on this case")
    at = ids.index(wanted)
    return rows[:at] if before else rows[at + 1 :]


def _users(state: ArgusState, request: Request) -> set[int] | None:
    refs = [*request.query_params.getlist("user"), *request.query_params.getlist("userID")]
    if not refs:
        return None
    wanted = set()
    for ref in refs:
        found = ref_id(state.subject(ref), ref)
        if found is None:
            raise field_error(412, "user", f"Unknown user {ref!r}")
        wanted.add(found)
    return wanted


def select_history(state: ArgusState, case: Record, request: Request) -> list[Record]:
    """The case's transactions that the request's filters keep, in the order asked for."""
    query = request.query_params
    rows = list(state.history[case["id"]])
    for kind in query.getlist("type"):
        if kind not in HISTORY_TYPES:
            raise field_error(
                412, "type", f"Invalid type {kind!r}; expected one of {list(HISTORY_TYPES)}"
            )
    checks: dict[str, Callable[[dict[str, Any], set[str]], bool]] = {
        "operation": lambda t, wanted: t["operation"] in wanted,
        "type": lambda t, wanted: bool(_types(t) & wanted),
        "field": lambda t, wanted: any(c["field"] in wanted for c in t["changes"]),
        "transactionID": lambda t, wanted: t["id"] in wanted,
    }
    for name, check in checks.items():
        wanted = set(query.getlist(name))
        if wanted:
            rows = [t for t in rows if check(t, wanted)]
    users = _users(state, request)
    if users is not None:
        rows = [t for t in rows if t["userID"] in users]
    now = state.now_ms()
    for name, keep in (("startTimestamp", operator.ge), ("endTimestamp", operator.le)):
        if query.get(name) is not None:
            bound = parse_time(query[name], name, now)
            rows = [t for t in rows if keep(t["timestamp"], bound)]
    rows = _cut(rows, query.get("beforeTransaction"), "beforeTransaction", before=True)
    rows = _cut(rows, query.get("afterTransaction"), "afterTransaction", before=False)
    for sort in query.getlist("sortBy") or ["timestamp"]:
        if sort not in ("timestamp", "-timestamp"):
            raise field_error(
                412, "sortBy", f"Invalid sortBy {sort!r}; use timestamp or -timestamp"
            )
        # Transactions are kept in commit order: within one millisecond, the later is newer.
        descending = sort.startswith("-")
        rows = sorted(rows, key=lambda t: t["timestamp"])
        if descending:
            rows.reverse()
    return rows


@authenticated
async def list_history(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/case/{id}/history: the case's transactions, oldest first by default."""
    case = load_case(state, user, request.path_params["case_id"])
    limit, offset = page_params(request)
    rows = select_history(state, case, request)
    return listing(rows, limit, offset, view=lambda t: render.transaction(state, t))


@authenticated
async def get_transaction(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/case/{id}/history/{transactionID}: one transaction."""
    case = load_case(state, user, request.path_params["case_id"])
    wanted = request.path_params["transaction_id"]
    for transaction in state.history[case["id"]]:
        if transaction["id"] == wanted:
            return single(render.transaction(state, transaction))
    raise action_error(404, f"Transaction {wanted} not found on case {case['id']}")


routes = [
    Route("/cases/v2/case/{case_id:int}/history", list_history, methods=["GET"]),
    Route(
        "/cases/v2/case/{case_id:int}/history/{transaction_id}", get_transaction, methods=["GET"]
    ),
]
