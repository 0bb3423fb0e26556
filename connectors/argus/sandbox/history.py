"""Case history: every change to a case is a transaction, the source for "case updated" polls.

``commit`` is the one way a mutation lands: it stamps the case's ``lastUpdated*`` fields and
appends a transaction ``{id, operation, timestamp, user, flags, notified, changes[]}``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import render
from .access import load_case
from .auth import authenticated
from .envelope import action_error, listing, page_params, single
from .state import ArgusState, Record


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
) -> Record:
    """Record a transaction on the case and mark the case as last updated by ``user_id``."""
    when = state.now_ms() if timestamp is None else timestamp
    case["lastUpdatedTimestamp"] = when
    case["lastUpdatedByUserID"] = user_id
    transaction = {
        "id": state.new_uuid(),
        "operation": operation,
        "timestamp": when,
        "userID": user_id,
        "flags": [],
        "notified": operation in ("createCase", "closeCase", "addComment"),
        "changes": [{**c, "transactionIndex": i} for i, c in enumerate(changes)],
    }
    state.history[case["id"]].append(transaction)
    return transaction


@authenticated
async def list_history(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/case/{id}/history: the case's transactions, oldest first."""
    case = load_case(state, user, request.path_params["case_id"])
    limit, offset = page_params(request)
    rows = [render.transaction(state, t) for t in state.history[case["id"]]]
    return listing(rows, limit, offset)


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
