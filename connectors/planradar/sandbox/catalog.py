"""The account's catalogue: projects, forms (ticket types), layers (components) and users.

``GET /api/v2/{cid}/projects`` lists the projects the user is a member of, sorted by name
(``sort`` by ``name``, ``projectnumber``, ``created-at``, ``-`` for descending), ``search``
filters by name, archived projects only with ``include_archived``, ``load_all`` disables paging.
``GET /api/v1/{cid}/projects`` lists them by ascending id; ``GET /api/v1/{cid}/projects/{pid}``
returns one. Forms and layers are what a ticket needs for ``ticket-type-id`` and
``component-id``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .access import ApiError, Caller
from .resources import (
    component_resource,
    list_document,
    page_of,
    page_params,
    parse_datetime,
    project_resource,
    ticket_type_resource,
    unix_param,
    user_resource,
)
from .state import Project

_PROJECT_SORTS: dict[str, Callable[[Project], Any]] = {
    "name": lambda p: p.name.lower(),
    "projectnumber": lambda p: p.projectnumber,
    "created-at": lambda p: p.created_at,
    "id": lambda p: p.running_number,
}


def _paged(
    request: Request, items: Sequence[dict[str, Any]], *, all_pages: bool = False
) -> Response:
    page, pagesize = page_params(request, default=100, maximum=500)
    shown = items if all_pages else page_of(items, page, pagesize)
    return JSONResponse(list_document(shown, count=len(items), page=page))


def _visible(request: Request, caller: Caller) -> list[Project]:
    archived = "include_archived" in request.query_params
    return [
        p
        for p in caller.state.projects.values()
        if p.id in caller.user.project_ids and (archived or p.status != 9)
    ]


async def list_projects_v2(request: Request, caller: Caller) -> Response:
    """``GET /api/v2/{cid}/projects``."""
    projects = _visible(request, caller)
    keyword = request.query_params.get("search", "").strip().lower()
    if keyword:
        projects = [p for p in projects if keyword in p.name.lower()]
    sort = request.query_params.get("sort") or "name"
    name = sort.lstrip("-")
    if name not in _PROJECT_SORTS:
        raise ApiError(
            400,
            "Invalid Parameters",
            f"cannot sort projects by {name!r}; supported: {', '.join(_PROJECT_SORTS)}",
        )
    projects.sort(key=_PROJECT_SORTS[name], reverse=sort.startswith("-"))
    items = [project_resource(p) for p in projects]
    return _paged(request, items, all_pages="load_all" in request.query_params)


async def list_projects_v1(request: Request, caller: Caller) -> Response:
    """``GET /api/v1/{cid}/projects``: by ascending id."""
    projects = sorted(_visible(request, caller), key=lambda p: p.running_number)
    return _paged(request, [project_resource(p) for p in projects])


async def get_project(request: Request, caller: Caller) -> Response:
    """``GET /api/v1/{cid}/projects/{pid}``."""
    return JSONResponse(
        {"data": project_resource(caller.project(request.path_params["project_id"]))}
    )


async def list_ticket_types(request: Request, caller: Caller) -> Response:
    """``GET /api/v1/{cid}/ticket_types``: every form of the account."""
    since = unix_param(request, "last_sync_date")
    forms = [
        t
        for t in caller.state.ticket_types.values()
        if since is None or (parse_datetime(t.created_at) or 0.0) > since
    ]
    return _paged(request, [ticket_type_resource(t) for t in forms])


async def list_project_ticket_types(request: Request, caller: Caller) -> Response:
    """``GET /api/v2/{cid}/projects/{pid}/ticket_types/ticket_type_project`` (``pid`` 0: all)."""
    wanted: dict[str, None] = {}
    for project in caller.projects(request.path_params["project_id"]):
        wanted.update(dict.fromkeys(project.ticket_type_ids))
    forms = [caller.state.ticket_types[t] for t in wanted]
    return _paged(request, [ticket_type_resource(t) for t in forms])


async def list_components(request: Request, caller: Caller) -> Response:
    """``GET /api/v1/{cid}/projects/{pid}/components``: the project's layers, in order."""
    project = caller.project(request.path_params["project_id"])
    since = unix_param(request, "last_sync_date")
    components = sorted(
        (
            c
            for c in caller.state.components.values()
            if c.project_id == project.id
            and (since is None or (parse_datetime(c.created_at) or 0.0) > since)
        ),
        key=lambda c: c.order,
    )
    return _paged(request, [component_resource(c) for c in components])


async def list_users(request: Request, caller: Caller) -> Response:
    """``GET /api/v1/{cid}/users``: the account's users; ``search`` matches name or mail."""
    keyword = request.query_params.get("search", "").strip().lower()
    users = [
        u
        for u in caller.state.users.values()
        if not keyword or keyword in f"{u.firstname} {u.lastname} {u.mail}".lower()
    ]
    return _paged(request, [user_resource(u) for u in users])
