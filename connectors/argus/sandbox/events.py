"""The events associated with a case (``/events/v1/case/{caseID}``), read-only.

Events are stored in their API shape except ``associatedCase``, which is drawn from the case
at read time so it shows the case's current status and priority.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .access import load_case
from .auth import authenticated
from .envelope import listing, page_params
from .state import ArgusState, Record


def _associated(state: ArgusState, case: Record) -> Record:
    category_id = case["categoryID"]
    category = state.categories[category_id] if category_id is not None else None
    return {
        "id": case["id"],
        "subject": case["subject"],
        "categoryID": category_id,
        "categoryName": category["name"] if category else None,
        "service": state.services[case["serviceID"]]["shortName"],
        "status": case["status"],
        "priority": case["priority"],
    }


@authenticated
async def case_events(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /events/v1/case/{caseID}: the aggregated events attached to a readable case."""
    case = load_case(state, user, request.path_params["case_id"])
    limit, offset = page_params(request)
    associated = _associated(state, case)
    return listing(
        state.events[case["id"]],
        limit,
        offset,
        view=lambda event: {**event, "associatedCase": associated},
    )


routes = [Route("/events/v1/case/{case_id:int}", case_events, methods=["GET"])]
