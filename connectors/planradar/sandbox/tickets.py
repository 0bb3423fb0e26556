"""Tickets (v2): list with filters and paging, get, create, update (PUT) and delete.

Create takes ``{"data": {"attributes": {...}}}`` and requires ``ticket-type-id`` (a form of the
project) and ``component-id`` (a layer of the project). A client may choose the ``uuid``; creating
again with a UUID that already exists in the project answers 200 with the existing ticket and
changes nothing, so "create once" can be retried safely. Validation failures are 422 with one
error per attribute. Create and update record history (journals) and fire webhooks.
"""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .access import Caller, invalid
from .delivery import Dispatcher
from .query import matches, parse_filters, search, sort_tickets
from .resources import (
    image_resource,
    list_document,
    page_of,
    page_params,
    parse_datetime,
    read_attributes,
    ticket_images,
    ticket_resource,
    unix_param,
)
from .state import PRIORITY_IDS, STATUS_IDS, Project, SandboxState, Ticket, encoded, iso

_DATES = ("due-date", "closed-at", "extension-date")
_NUMBERS = ("plan-x", "plan-y")


async def list_tickets(request: Request, caller: Caller) -> Response:
    """``GET /api/v2/{cid}/projects/{pid}/tickets`` (``pid`` 0: every project of the user)."""
    project_ids = {p.id for p in caller.projects(request.path_params["project_id"])}
    page, pagesize = page_params(request, default=100, maximum=500)
    tickets = [t for t in caller.state.tickets.values() if t.project_id in project_ids]
    since = unix_param(request, "last_sync_date")
    if since is not None:
        tickets = [t for t in tickets if t.created_ts > since]
    for condition in parse_filters(request.query_params):
        tickets = [t for t in tickets if matches(t, condition)]
    keyword = request.query_params.get("search")
    if keyword:
        tickets = search(tickets, keyword)
    tickets = sort_tickets(tickets, request.query_params.get("sort"))
    shown = page_of(tickets, page, pagesize)
    document = list_document(
        [_ticket_out(caller.state, t, request) for t in shown], count=len(tickets), page=page
    )
    if _flag(request, "load_images"):
        base = str(request.base_url)
        document["included"] = [
            image_resource(i, base) for t in shown for i in ticket_images(caller.state, t)
        ]
    return JSONResponse(document)


async def get_ticket(request: Request, caller: Caller) -> Response:
    """``GET /api/v2/{cid}/projects/{pid}/tickets/{uuid}``."""
    project = caller.project(request.path_params["project_id"])
    ticket = caller.ticket(project, request.path_params["uuid"])
    return JSONResponse({"data": ticket_resource(ticket)})


async def create_ticket(request: Request, caller: Caller) -> Response:
    """``POST /api/v2/{cid}/projects/{pid}/tickets``: 201, or 200 for a UUID already created."""
    state = caller.state
    project = caller.project(request.path_params["project_id"])
    given = await read_attributes(request)
    ticket_uuid = given.get("uuid") or state.new_uuid()
    if not _is_uuid(ticket_uuid):
        raise invalid("Ticket Not Created", [("uuid", f"{ticket_uuid!r} is not a valid UUID")])
    existing = state.tickets.get(str(ticket_uuid))
    if existing is not None:
        if existing.project_id == project.id:
            return JSONResponse({"data": ticket_resource(existing)})
        raise invalid("Ticket Not Created", [("uuid", "has already been taken")])
    changes = _validated(state, project, given, current=None, title="Ticket Not Created")
    now = state.clock()
    form = state.ticket_types[changes["ticket-type-id"]]
    attributes: dict[str, Any] = {
        "uuid": str(ticket_uuid),
        "sequential-id": state.next_sequential_id(project.id),
        "subject": form.name,
        "ticket-type-id": None,
        "component-id": None,
        "project-id": project.id,
        "parent-id": None,
        "status-id": "lm",
        "priority-id": "ol",
        "assigned-to-id": None,
        "assignee-type": None,
        "author-id": caller.user.id,
        "updated-by-id": caller.user.id,
        "due-date": None,
        "closed-at": None,
        "extension-date": None,
        "progress": 0,
        "plan-x": None,
        "plan-y": None,
        "typed-values": {},
        "subscribers": [],
        "customer-id": state.customer_id,
        "created-at": iso(now),
        "updated-at": iso(now),
    }
    attributes.update(changes)
    ticket = Ticket(
        id=state.new_id(),
        number=state.next_ticket_number(),
        project_id=project.id,
        created_ts=now,
        attributes=attributes,
    )
    state.tickets[ticket.uuid] = ticket
    details = tuple(
        {"prop-key": _prop_key(name), "old-value": None, "value": value}
        for name, value in changes.items()
    )
    state.add_journal(ticket, kind=3, user_id=caller.user.id, at=now, details=details)
    _dispatcher(request).emit("ticket.created", ticket)
    return JSONResponse({"data": ticket_resource(ticket)}, status_code=201)


async def update_ticket(request: Request, caller: Caller) -> Response:
    """``PUT /api/v2/{cid}/projects/{pid}/tickets/{uuid}``: only the attributes sent change."""
    state = caller.state
    project = caller.project(request.path_params["project_id"])
    ticket = caller.ticket(project, request.path_params["uuid"], "Ticket Not found")
    given = await read_attributes(request)
    changes = _validated(state, project, given, current=ticket, title="Ticket Not Updated")
    changed = {k: v for k, v in changes.items() if ticket.attributes.get(k) != v}
    if not changed:
        return JSONResponse({"data": ticket_resource(ticket)})
    now = state.clock()
    attributes = {**ticket.attributes, **changed, "updated-at": iso(now)}
    attributes["updated-by-id"] = caller.user.id
    updated = replace(ticket, attributes=attributes)
    state.tickets[updated.uuid] = updated
    details = tuple(
        {"prop-key": _prop_key(name), "old-value": ticket.attributes.get(name), "value": value}
        for name, value in changed.items()
    )
    state.add_journal(updated, kind=3, user_id=caller.user.id, at=now, details=details)
    _dispatcher(request).emit("ticket.updated", updated)
    return JSONResponse({"data": ticket_resource(updated)})


async def delete_ticket(request: Request, caller: Caller) -> Response:
    """``DELETE /api/v2/{cid}/projects/{pid}/tickets/{uuid}``: 204, with its pictures."""
    state = caller.state
    project = caller.project(request.path_params["project_id"])
    ticket = caller.ticket(project, request.path_params["uuid"])
    del state.tickets[ticket.uuid]
    for image in [i for i in state.images.values() if i.ticket_uuid == ticket.uuid]:
        del state.images[image.uuid]
        state.files.pop(image.uuid, None)
    return Response(status_code=204)


def _ticket_out(state: SandboxState, ticket: Ticket, request: Request) -> dict[str, Any]:
    if _flag(request, "load_images"):
        return ticket_resource(ticket, ticket_images(state, ticket))
    return ticket_resource(ticket)


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


def _dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


def _prop_key(attribute: str) -> str:
    return attribute.replace("-", "_")


def _is_uuid(value: object) -> bool:
    try:
        uuid_module.UUID(str(value))
    except ValueError:
        return False
    return True


def _validated(
    state: SandboxState,
    project: Project,
    given: dict[str, Any],
    *,
    current: Ticket | None,
    title: str,
) -> dict[str, Any]:
    """The new attribute values in ``given``, checked against the project; else 422."""
    problems: list[tuple[str, str]] = []
    changes: dict[str, Any] = {}
    for required in ("ticket-type-id", "component-id"):
        if current is None and not given.get(required):
            problems.append((required, "can't be blank"))
    for name, value in given.items():
        problem = _check(state, project, name, value, changes)
        if problem:
            problems.append((name, problem))
    form_id = changes.get("ticket-type-id") or (
        current.attributes["ticket-type-id"] if current else None
    )
    typed = changes.get("typed-values")
    if typed is not None and form_id in state.ticket_types:
        fields = state.ticket_types[form_id].typed_fields
        unknown = sorted(k for k in typed if k not in fields)
        if unknown:
            problems.append(("typed-values", f"unknown fields for this form: {', '.join(unknown)}"))
        elif current is not None:
            changes["typed-values"] = {**current.attributes["typed-values"], **typed}
    due = changes.get("due-date") or (current.attributes["due-date"] if current else None)
    extension = changes.get("extension-date")
    if due and extension and (parse_datetime(extension) or 0) <= (parse_datetime(due) or 0):
        problems.append(("extension-date", "must be later than the due date"))
    if current is not None and changes.get("parent-id") == current.uuid:
        problems.append(("parent-id", "a ticket cannot be its own parent"))
    if problems:
        raise invalid(title, problems)
    return changes


def _check(
    state: SandboxState, project: Project, name: str, value: Any, changes: dict[str, Any]
) -> str | None:
    """Validate one attribute into ``changes``; the problem, or None."""
    if name == "subject":
        if not isinstance(value, str) or len(value) > 255:
            return "must be a text of at most 255 characters"
        changes[name] = value
    elif name == "ticket-type-id":
        if value not in project.ticket_type_ids:
            return f"{value!r} is not a form (ticket type) of this project"
        changes[name] = value
    elif name == "component-id":
        component = state.components.get(str(value))
        if component is None or component.project_id != project.id:
            return f"{value!r} is not a layer (component) of this project"
        changes[name] = value
    elif name in ("status-id", "priority-id"):
        table = STATUS_IDS if name == "status-id" else PRIORITY_IDS
        letters = encoded(value, table)
        if letters is None:
            return f"must be one of {', '.join(table)} (or 1-{len(table)})"
        changes[name] = letters
    elif name == "assigned-to-id":
        return _check_assignee(state, project, value, changes)
    elif name == "assignee-type":
        if value not in (None, "User"):
            return "must be User (the sandbox has no groups)"
    elif name == "parent-id":
        parent = state.tickets.get(str(value)) if value else None
        if value and (parent is None or parent.project_id != project.id):
            return f"{value!r} is not a ticket of this project"
        changes[name] = value or None
    elif name in _DATES:
        if value is not None and (not isinstance(value, str) or parse_datetime(value) is None):
            return "must be an ISO-8601 date or datetime"
        changes[name] = value
    elif name == "progress":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            return "must be an integer from 0 to 100"
        changes[name] = value
    elif name in _NUMBERS:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return "must be a number"
        changes[name] = value
    elif name == "typed-values":
        if not isinstance(value, dict):
            return "must be an object keyed by field id"
        changes[name] = dict(value)
    elif name == "subscribers":
        return _check_subscribers(state, value, changes)
    return None


def _check_assignee(
    state: SandboxState, project: Project, value: Any, changes: dict[str, Any]
) -> str | None:
    if value is None or value == "":
        changes["assigned-to-id"] = None
        changes["assignee-type"] = None
        return None
    if isinstance(value, dict):
        if value.get("type", "User") != "User":
            return "only users can be assignees in the sandbox (no DefectradarGroup exists)"
        value = value.get("id")
    user = state.users.get(str(value))
    if user is None or project.id not in user.project_ids:
        return f"{value!r} is not a member of this project"
    changes["assigned-to-id"] = user.id
    changes["assignee-type"] = "User"
    return None


def _check_subscribers(state: SandboxState, value: Any, changes: dict[str, Any]) -> str | None:
    if not isinstance(value, list):
        return "must be a list of user ids"
    ids = [str(v.get("id") if isinstance(v, dict) else v) for v in value]
    unknown = [i for i in ids if i not in state.users]
    if unknown:
        return f"unknown users: {', '.join(unknown)}"
    changes["subscribers"] = ids
    return None
