"""The case resource: get, create, update, close, delete and move.

Rules the documentation states: a case is created for the user's own customer unless
``customer``/``customerID`` names another, on a service that customer subscribes to (the user
needs write access to that subscription), with a type the service accepts and a category bound
to that service and type. Updates change only what is given (null or absent: no change); the
TECH-only fields (``assignedTech``, ``reporter``, ``internalComment``; ``subject`` and
``description`` also for the owner) answer 403 with a FIELD_ERROR per refused field. Closing
is its own transition; moving needs the tech role and the ``moveCase`` privilege on both the
source and the target customer.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import render
from .access import access_level, is_tech, load_case, require_tech, role_grant
from .acl import grant, parse_member
from .auth import authenticated
from .comments import add_comment
from .envelope import (
    ArgusError,
    action_error,
    enum_field,
    field_error,
    json_body,
    message,
    single,
    text_field,
)
from .history import change, commit
from .records import case_record
from .sanitize import safe_html
from .state import ACCESS_MODES, CASE_TYPES, PRIORITIES, STATUSES, ArgusState, Record
from .tags import add_tags, parse_tags

_CREATE_FIELDS = (
    "customer", "customerID", "service", "category", "type", "status", "priority", "subject",
    "description", "tags", "customerReference", "accessMode", "aclMembers", "originEmailAddress",
    "publish", "defaultWatchers", "watchers", "fields", "notification", "triggers",
)  # fmt: skip
_UPDATE_FIELDS = (
    "subject", "description", "status", "priority", "category", "reporter", "assignedUser",
    "assignedTech", "customerReference", "comment", "internalComment", "originEmailAddress",
    "hasEvents",
)  # fmt: skip
_MOVE_FIELDS = ("customer", "customerID", "service", "type", "category", "unsetCategory")


def _customer(state: ArgusState, body: Record, default: int) -> Record:
    for field in ("customer", "customerID"):
        ref = body.get(field)
        if ref is not None:
            found = state.customer(ref)
            if found is None:
                raise field_error(412, field, f"Unknown customer {ref!r}")
            return found
    return state.customers[default]


def _service(state: ArgusState, ref: object, customer: Record) -> Record:
    service = state.service(ref)
    if service is None:
        raise field_error(412, "service", f"Unknown service {ref!r}")
    if state.subscription(customer["id"], service["id"]) is None:
        raise field_error(
            412,
            "service",
            f"Service {service['shortName']} is not valid for customer {customer['shortName']}",
        )
    return service


def _case_type(body: Record, service: Record, *, default: str | None = None) -> str:
    case_type = enum_field(body, "type", CASE_TYPES) or default
    if case_type is None:
        raise field_error(412, "type", "type is required")
    if case_type not in service["caseTypes"]:
        raise field_error(
            412, "type", f"Service {service['shortName']} does not accept case type {case_type}"
        )
    return case_type


def _category(state: ArgusState, ref: object, service: Record, case_type: str) -> int:
    category = state.category(ref)
    if category is None:
        raise field_error(412, "category", f"Unknown category {ref!r}")
    if not state.category_valid(category["id"], service["id"], case_type):
        raise field_error(
            412,
            "category",
            f"Category {category['shortName']} is not valid for service "
            f"{service['shortName']} and case type {case_type}",
        )
    return int(category["id"])


def _status(body: Record) -> str | None:
    status = enum_field(body, "status", STATUSES)
    if status == "closed":
        raise field_error(412, "status", "Use the close endpoint to close a case")
    return status


@authenticated
async def get_case(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/case/{id}."""
    case = load_case(state, user, request.path_params["case_id"])
    return single(render.case(state, case, user))


@authenticated
async def create_case(request: Request, state: ArgusState, user: Record) -> Response:
    """POST /cases/v2/case: answers 201 with the new case."""
    body = await json_body(request, allowed=_CREATE_FIELDS)
    customer = _customer(state, body, user["customerID"])
    if body.get("service") is None:
        raise field_error(412, "service", "service is required")
    service = _service(state, body["service"], customer)
    grant_level = role_grant(user, customer["id"])
    if grant_level not in ("write", "tech", "admin"):
        raise action_error(
            403,
            f"Access denied: creating a case needs write access to customer "
            f"{customer['shortName']}'s {service['shortName']} subscription",
        )
    case_type = _case_type(body, service)
    subject = text_field(body, "subject", required=True, limit=512) or ""
    description = text_field(body, "description", required=True, limit=100_000) or ""
    category = body.get("category")
    category_id = None if category is None else _category(state, category, service, case_type)
    publish = body.get("publish", True)
    if not isinstance(publish, bool):
        raise field_error(412, "publish", "publish must be true or false")
    if not publish and grant_level not in ("tech", "admin"):
        raise field_error(403, "publish", "Only tech users may create unpublished cases")
    members = body.get("aclMembers") or []
    if not isinstance(members, list):
        raise field_error(412, "aclMembers", "aclMembers must be a list")
    acl = [parse_member(state, item, "aclMembers") for item in members]
    pairs = parse_tags(body["tags"], "tags") if body.get("tags") is not None else []
    now = state.now_ms()
    case = case_record(
        case_id=state.next_case_id(),
        customer_id=customer["id"],
        service_id=service["id"],
        case_type=case_type,
        subject=subject,
        description=safe_html(description),
        reporter_id=user["id"],
        created=now,
        status=_status(body) or "pendingSoc",
        priority=enum_field(body, "priority", PRIORITIES) or "medium",
        category_id=category_id,
        access_mode=enum_field(body, "accessMode", ACCESS_MODES) or "roleBased",
        customer_reference=text_field(body, "customerReference"),
        origin_email=text_field(body, "originEmailAddress"),
        published=publish,
    )
    state.add_case(case)
    for subject_id, level in acl:
        grant(state, case, user["id"], subject_id, level)
    add_tags(state, case, user["id"], pairs, now)
    commit(state, case, user["id"], "createCase", [change("case", case["id"])], timestamp=now)
    return single(render.case(state, case, user), status=201)


def _update_rights(state: ArgusState, user: Record, case: Record, body: Record) -> None:
    tech = is_tech(user, case)
    owner = access_level(state, user, case) == "owner"
    needs = {
        "assignedTech": tech,
        "internalComment": tech,
        "reporter": tech or owner,
        "subject": tech or owner,
        "description": tech or owner,
    }
    refused = [f for f, allowed in needs.items() if body.get(f) is not None and not allowed]
    if refused:
        raise ArgusError(
            403,
            [
                message(f"Not permitted to update field {f}", kind="FIELD_ERROR", field=f)
                for f in refused
            ],
        )


def _user_field(state: ArgusState, body: Record, field: str, *, tech_only: bool = False) -> Any:
    ref = body.get(field)
    if ref is None:
        return None
    found = state.user(ref)
    if found is None or (tech_only and found["role"] not in ("tech", "admin")):
        kind = "tech user" if tech_only else "user"
        raise field_error(412, field, f"Unknown {kind} {ref!r}")
    return found["id"]


@authenticated
async def update_case(request: Request, state: ArgusState, user: Record) -> Response:
    """PUT /cases/v2/case/{id}: null or absent fields are left as they are."""
    case = load_case(state, user, request.path_params["case_id"], "write")
    body = await json_body(request, allowed=_UPDATE_FIELDS)
    _update_rights(state, user, case, body)
    service = state.services[case["serviceID"]]
    subject = text_field(body, "subject", limit=512)
    description = text_field(body, "description", limit=100_000)
    category = body.get("category")
    wanted = {
        "subject": subject,
        "description": safe_html(description) if description is not None else None,
        "status": _status(body),
        "priority": enum_field(body, "priority", PRIORITIES),
        "categoryID": None
        if category is None
        else _category(state, category, service, case["type"]),
        "reporterID": _user_field(state, body, "reporter"),
        "assignedUserID": _user_field(state, body, "assignedUser"),
        "assignedTechID": _user_field(state, body, "assignedTech", tech_only=True),
        "customerReference": text_field(body, "customerReference"),
        "originEmailAddress": text_field(body, "originEmailAddress"),
    }
    comment = text_field(body, "comment", limit=100_000)
    internal = text_field(body, "internalComment", limit=100_000)
    if body.get("hasEvents") is not None and not isinstance(body["hasEvents"], bool):
        raise field_error(412, "hasEvents", "hasEvents must be true or false")
    changes = []
    for field, value in wanted.items():
        if value is not None and value != case[field]:
            changes.append(change(field.removesuffix("ID"), value, case[field]))
            case[field] = value
    if wanted["status"] is not None and case["closedTimestamp"] is not None:
        case["closedTimestamp"] = case["closedByUserID"] = None
    for text, is_internal in ((comment, False), (internal, True)):
        if text is not None:
            changes.append(add_comment(state, case, user, text, internal=is_internal)[1])
    if changes:
        commit(state, case, user["id"], "updateCase", changes)
    return single(render.case(state, case, user))


@authenticated
async def close_case(request: Request, state: ArgusState, user: Record) -> Response:
    """PUT /cases/v2/case/{id}/close ``{comment?}``."""
    case = load_case(state, user, request.path_params["case_id"], "write")
    body = await json_body(request, allowed=["comment"])
    text = text_field(body, "comment", limit=100_000)
    if case["status"] == "closed":
        raise action_error(412, f"Case {case['id']} is already closed")
    changes = [change("status", "closed", case["status"])]
    now = state.now_ms()
    case.update(status="closed", closedTimestamp=now, closedByUserID=user["id"])
    if text is not None:
        changes.append(add_comment(state, case, user, text)[1])
    commit(state, case, user["id"], "closeCase", changes, timestamp=now)
    return single(render.case(state, case, user))


@authenticated
async def delete_case(request: Request, state: ArgusState, user: Record) -> Response:
    """DELETE /cases/v2/case/{id}: marks the case deleted (tech role); answers with it."""
    case = load_case(state, user, request.path_params["case_id"], "write")
    require_tech(user, case, "deleting a case")
    if "DELETED" in case["flags"]:
        raise action_error(404, f"Case {case['id']} not found")
    case["flags"].append("DELETED")
    commit(state, case, user["id"], "deleteCase", [change("flags", "DELETED")])
    return single(render.case(state, case, user))


@authenticated
async def move_case(request: Request, state: ArgusState, user: Record) -> Response:
    """PUT /cases/v2/case/{id}/move: change customer, service, type (and category)."""
    case = load_case(state, user, request.path_params["case_id"], "write")
    require_tech(user, case, "moving a case")
    if user["role"] != "admin" and "moveCase" not in user["privileges"]:
        raise action_error(403, "Access denied: moving a case requires the moveCase privilege")
    body = await json_body(request, allowed=_MOVE_FIELDS)
    customer = _customer(state, body, case["customerID"])
    if role_grant(user, customer["id"]) not in ("tech", "admin"):
        raise action_error(
            403, f"Access denied: moving needs the tech role for customer {customer['shortName']}"
        )
    service_ref = body.get("service", case["serviceID"])
    service = _service(state, service_ref, customer)
    case_type = _case_type(body, service, default=case["type"])
    if body.get("category") is not None:
        category_id = _category(state, body["category"], service, case_type)
    elif body.get("unsetCategory") is True:
        category_id = None
    else:
        category_id = case["categoryID"]
        if category_id is not None and not state.category_valid(
            category_id, service["id"], case_type
        ):
            raise field_error(
                412,
                "category",
                "The case's category is not valid for the target service and type: "
                "give a category or set unsetCategory",
            )
    moved = {
        "customerID": customer["id"],
        "serviceID": service["id"],
        "type": case_type,
        "categoryID": category_id,
    }
    changes = [
        change(field.removesuffix("ID"), value, case[field])
        for field, value in moved.items()
        if value != case[field]
    ]
    if changes:
        case.update(moved)
        commit(state, case, user["id"], "moveCase", changes)
    return single(render.case(state, case, user))


routes = [
    Route("/cases/v2/case", create_case, methods=["POST"]),
    Route("/cases/v2/case/{case_id:int}", get_case, methods=["GET"]),
    Route("/cases/v2/case/{case_id:int}", update_case, methods=["PUT"]),
    Route("/cases/v2/case/{case_id:int}", delete_case, methods=["DELETE"]),
    Route("/cases/v2/case/{case_id:int}/close", close_case, methods=["PUT"]),
    Route("/cases/v2/case/{case_id:int}/move", move_case, methods=["PUT"]),
]
