"""What cases can be filed against: services, service subscriptions, categories; and the
current user (the cheap connectivity check clients use).

Services and categories are the same for every user. A user sees the subscriptions of the
customers they have role-based access to, each with ``currentUserAccess`` telling whether
they may create cases on it (level ``write``).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import render
from .access import subscription_access
from .auth import authenticated
from .envelope import action_error, field_error, listing, page_params, single
from .state import ArgusState, Record, ref_id


def _wanted(request: Request, name: str, lookup: Callable[[object], Record | None]) -> set[int]:
    """Ids named by a repeated query parameter (id or shortName); 412 for an unknown name."""
    ids = set()
    for ref in request.query_params.getlist(name):
        found = ref_id(lookup(ref), ref)
        if found is None:
            raise field_error(412, name, f"Unknown {name} {ref!r}")
        ids.add(found)
    return ids


@authenticated
async def list_services(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/service: every service with the case types it accepts."""
    limit, offset = page_params(request)
    return listing(list(state.services.values()), limit, offset, view=render.service)


@authenticated
async def get_service(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/service/{idOrShortName}."""
    ref = request.path_params["ref"]
    service = state.service(ref)
    if service is None:
        raise action_error(404, f"Service {ref} not found")
    return single(render.service(service))


@authenticated
async def list_subscriptions(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/servicesubscription?customer=…&service=…: visible subscriptions."""
    limit, offset = page_params(request)
    customers = _wanted(request, "customer", state.customer)
    services = _wanted(request, "service", state.service)
    rows = [
        sub
        for sub in state.subscriptions.values()
        if subscription_access(user, sub["customerID"]) is not None
        and (not customers or sub["customerID"] in customers)
        and (not services or sub["serviceID"] in services)
    ]
    return listing(rows, limit, offset, view=lambda s: render.subscription(state, s, user))


@authenticated
async def list_categories(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/category: every category with its service and case-type bindings."""
    limit, offset = page_params(request)
    rows = list(state.categories.values())
    return listing(rows, limit, offset, view=lambda c: render.category(state, c))


@authenticated
async def get_category(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/category/{idOrShortName}."""
    ref = request.path_params["ref"]
    category = state.category(ref)
    if category is None:
        raise action_error(404, f"Category {ref} not found")
    return single(render.category(state, category))


@authenticated
async def current_user(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /currentuser/v1/user: the user the API key belongs to."""
    return single(render.subject(state, user["id"]))


routes = [
    Route("/cases/v2/service", list_services, methods=["GET"]),
    Route("/cases/v2/service/{ref}", get_service, methods=["GET"]),
    Route("/cases/v2/servicesubscription", list_subscriptions, methods=["GET"]),
    Route("/cases/v2/category", list_categories, methods=["GET"]),
    Route("/cases/v2/category/{ref}", get_category, methods=["GET"]),
    Route("/currentuser/v1/user", current_user, methods=["GET"]),
]
