"""Ticket history (journals) and comments.

``GET …/tickets/{uuid}/journals`` lists one ticket's history: ``filter`` 1 comments, 2 media,
3 changes; ``journals_after`` and ``last_sync_date`` are Unix timestamps ("created after");
``sort`` by ``created_on`` or ``id``, ``-`` for descending; pagesize default 100, max 500.
``GET …/tickets/journals`` lists the history of every ticket of a project in one call:
``last_sync_date`` is an ISO-8601 datetime ("created on or after"), ``prop_keys`` a
comma-separated list of changed properties (``status_id,assigned_to_id``), oldest first,
pagesize default 50, max 100. ``POST …/tickets/{uuid}/comment`` adds a comment (201).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .access import ApiError, Caller, invalid
from .resources import (
    iso_param,
    journal_resource,
    list_document,
    page_of,
    page_params,
    parse_datetime,
    read_attributes,
    unix_param,
)
from .state import Journal

_SORTS = {"id", "created_on", "created-on"}


async def ticket_journals(request: Request, caller: Caller) -> Response:
    """``GET /api/v2/{cid}/projects/{pid}/tickets/{uuid}/journals``."""
    project = caller.project(request.path_params["project_id"])
    ticket = caller.ticket(project, request.path_params["uuid"], "Ticket Not found")
    page, pagesize = page_params(request, default=100, maximum=500)
    journals = [j for j in caller.state.journals if j.ticket_uuid == ticket.uuid]
    kind = request.query_params.get("filter")
    if kind:
        if kind not in ("1", "2", "3"):
            raise ApiError(
                400, "Invalid Parameters", "filter must be 1 (comments), 2 (media) or 3 (journals)"
            )
        journals = [j for j in journals if j.kind == int(kind)]
    for name in ("journals_after", "last_sync_date"):
        since = unix_param(request, name)
        if since is not None:
            journals = [j for j in journals if j.created_ts > since]
    journals = _sorted(journals, request.query_params.get("sort"))
    items = [journal_resource(j) for j in page_of(journals, page, pagesize)]
    return JSONResponse(list_document(items, count=len(journals), page=page))


async def project_journals(request: Request, caller: Caller) -> Response:
    """``GET /api/v2/{cid}/projects/{pid}/tickets/journals`` (one call for a whole project)."""
    project = caller.project(request.path_params["project_id"])
    page, pagesize = page_params(request, default=50, maximum=100)
    journals = [j for j in caller.state.journals if j.project_id == project.id]
    since = iso_param(request, "last_sync_date")
    if since is not None:
        journals = [j for j in journals if j.created_ts >= since]
    keys = {k.strip() for k in request.query_params.get("prop_keys", "").split(",") if k.strip()}
    if keys:
        journals = [j for j in journals if any(d["prop-key"] in keys for d in j.details)]
    journals = sorted(journals, key=lambda j: (j.created_ts, j.number))
    items = [journal_resource(j) for j in page_of(journals, page, pagesize)]
    return JSONResponse(list_document(items, count=len(journals), page=page))


async def add_comment(request: Request, caller: Caller) -> Response:
    """``POST /api/v2/{cid}/projects/{pid}/tickets/{uuid}/comment``: 201 with the journal entry."""
    state = caller.state
    project = caller.project(request.path_params["project_id"])
    ticket = caller.ticket(project, request.path_params["uuid"])
    given = await read_attributes(request)
    comment = given.get("comment")
    if not isinstance(comment, str) or not comment.strip():
        raise invalid("Comment Not Created", [("comment", "can't be blank")])
    created_on = given.get("created_on")
    at = state.clock()
    if created_on not in (None, ""):
        parsed = parse_datetime(created_on) if isinstance(created_on, str) else None
        if isinstance(created_on, int | float) and not isinstance(created_on, bool):
            parsed = float(created_on)
        if parsed is None:
            raise invalid(
                "Comment Not Created",
                [("created_on", "must be an ISO-8601 datetime or a Unix timestamp")],
            )
        at = parsed
    journal = state.add_journal(ticket, kind=1, user_id=caller.user.id, at=at, notes=comment)
    return JSONResponse({"data": journal_resource(journal)}, status_code=201)


def _sorted(journals: list[Journal], sort: str | None) -> list[Journal]:
    if not sort:
        return sorted(journals, key=lambda j: j.number)
    name = sort.lstrip("-")
    if name not in _SORTS:
        raise ApiError(400, "Invalid Parameters", f"cannot sort journals by {name!r}")
    key = (lambda j: j.number) if name == "id" else (lambda j: (j.created_ts, j.number))
    return sorted(journals, key=key, reverse=sort.startswith("-"))
