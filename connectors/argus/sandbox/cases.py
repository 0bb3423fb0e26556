"""The case resource: get, create, update, close, delete and move.

Rules the documentation states: a case is created for the user's own customer unless
``customer``/``customerID`` names another, on a service that customer subscribes to (the user
needs write access to that subscription), with a type the service accepts and a category bound
to that service and type. Updates change only what is given (null or absent: no change); the
TECH-only fields (``assignedTech``, ``reporter``, ``internalComment``; ``subject`` and
``description`` also for the owner) answer 403 with a FIELD_ERROR per refused field. Closing
is its own transition; moving needs the tech role and the ``moveCase`` privilege on both the
source and the target customer.

Every field mnemonic's own request models send is accepted (the models send some with default
values on every call, such as ``descriptionTextFormat``, ``defaultWatchers`` and
``internalComment: false``). Those that change something here: ``descriptionTextFormat`` and
``textFormat`` (plainText is stored escaped), ``assignedUser``/``assignedTech`` on create,
``testData`` (flag ``TEST_DATA``, left out of searches by default),
``rejectCreateWithoutNotification`` (412 when neither default nor explicit watchers would be
notified), ``customerDueTimestamp``/``techDueTimestamp``, ``internalComment`` (the update's or
close's comment is internal) and the deprecated ``reporterID``/``assignedUserID``/
``assignedTechID``. ``notification``, ``triggers``, ``fields`` and watchers are accepted and
otherwise ignored: the sandbox sends no notifications and keeps no custom fields.
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
    text_format,
)
from .history import change, commit, field_name
from .records import case_record
from .sanitize import as_html
from .state import ACCESS_MODES, CASE_TYPES, PRIORITIES, STATUSES, ArgusState, Record
from .tags import add_tags, parse_tags

_CREATE_FIELDS = (
    "customer", "customerID", "service", "category", "type", "status", "priority", "subject",
    "description", "descriptionTextFormat", "tags", "customerReference", "accessMode",
    "aclMembers", "assignedUser", "assignedTech", "originEmailAddress", "publish",
    "defaultWatchers", "watchers", "fields", "notification", "triggers", "testData",
    "rejectCreateWithoutNotification",
)  # fmt: skip
_UPDATE_FIELDS = (
    "subject", "description", "status", "priority", "category", "reporter", "assignedUser",
    "assignedTech", "reporterID", "assignedUserID", "assignedTechID", "customerDueTimestamp",
    "techDueTimestamp", "customerReference", "comment", "internalComment", "textFormat",
    "originEmailAddress", "notification", "triggers", "hasEvents",
)  # fmt: skip
_CLOSE_FIELDS = ("comment", "internalComment", "notification")
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


def _flag(body: Record, field: str, default: bool) -> bool:
    value = body.get(field)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise field_error(412, field, f"{field} must be true or false")
    return value


def _ignored(body: Record, objects: tuple[str, ...], lists: tuple[str, ...] = ()) -> None:
    """Check the shape of fields the sandbox accepts without acting on them."""
    for field in objects:
        if body.get(field) is not None and not isinstance(body[field], dict):
            raise field_error(412, field, f"{field} must be an object")
    for field in lists:
        if body.get(field) is not None and not isinstance(body[field], list):
            raise field_error(412, field, f"{field} must be a list")


def _timestamp(body: Record, field: str) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise field_error(412, field, f"{field} must be epoch milliseconds")
    return value


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
    _ignored(body, ("notification", "triggers"), ("fields", "watchers"))
    tech = grant_level in ("tech", "admin")
    if body.get("assignedTech") is not None and not tech:
        raise field_error(403, "assignedTech", "Only tech users may assign a tech")
    assigned_user = _user_field(state, body, "assignedUser")
    assigned_tech = _user_field(state, body, "assignedTech", tech_only=True)
    watched = _flag(body, "defaultWatchers", True) or bool(body.get("watchers"))
    if _flag(body, "rejectCreateWithoutNotification", False) and not watched:
        raise action_error(
            412,
            "The case would be created without notifying anyone: enable defaultWatchers or "
            "add watchers, or leave rejectCreateWithoutNotification unset",
        )
    test_data = _flag(body, "testData", False)
    body_format = text_format(body, "descriptionTextFormat")
    now = state.now_ms()
    case = case_record(
        case_id=state.next_case_id(),
        customer_id=customer["id"],
        service_id=service["id"],
        case_type=case_type,
        subject=subject,
        description=as_html(description, body_format),
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
    case.update(assignedUserID=assigned_user, assignedTechID=assigned_tech)
    if test_data:
        case["flags"].append("TEST_DATA")
    state.add_case(case)
    for subject_id, level in acl:
        grant(state, case, user["id"], subject_id, level)
    add_tags(state, case, user["id"], pairs, now)
    made = [change("case", case["id"])]
    commit(state, case, user["id"], "createCase", made, timestamp=now, notified=watched)
    return single(render.case(state, case, user), status=201)


def _update_rights(state: ArgusState, user: Record, case: Record, body: Record) -> None:
    tech = is_tech(user, case)
    owner = access_level(state, user, case) == "owner"
    needs = {
        "assignedTech": tech,
        "assignedTechID": tech,
        "internalComment": tech,
        "techDueTimestamp": tech,
        "reporter": tech or owner,
        "reporterID": tech or owner,
        "subject": tech or owner,
        "description": tech or owner,
    }
    given = {f for f in needs if body.get(f) is not None and body.get(f) is not False}
    refused = [f for f, allowed in needs.items() if f in given and not allowed]
    if refused:
        raise ArgusError(
            403,
            [
                message(f"Not permitted to update field {f}", kind="FIELD_ERROR", field=f)
                for f in refused
            ],
        )


def _user_field(state: ArgusState, body: Record, field: str, *, tech_only: bool = False) -> Any:
    """A user named by ``field`` (id or user name), or by its deprecated ``…ID`` twin."""
    ref = body.get(field)
    if ref is None and body.get(field + "ID") is not None:
        field += "ID"
        ref = body[field]
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
    body_format = text_format(body)
    _ignored(body, ("notification", "triggers"))
    wanted = {
        "subject": subject,
        "description": as_html(description, body_format) if description is not None else None,
        "status": _status(body),
        "priority": enum_field(body, "priority", PRIORITIES),
        "categoryID": None
        if category is None
        else _category(state, category, service, case["type"]),
        "reporterID": _user_field(state, body, "reporter"),
        "assignedUserID": _user_field(state, body, "assignedUser"),
        "assignedTechID": _user_field(state, body, "assignedTech", tech_only=True),
        "customerDueTimestamp": _timestamp(body, "customerDueTimestamp"),
        "techDueTimestamp": _timestamp(body, "techDueTimestamp"),
        "customerReference": text_field(body, "customerReference"),
        "originEmailAddress": text_field(body, "originEmailAddress"),
    }
    comment = text_field(body, "comment", limit=100_000)
    internal = _flag(body, "internalComment", False)
    _flag(body, "hasEvents", False)
    changes = []
    for field, value in wanted.items():
        if value is not None and value != case[field]:
            changes.append(change(field_name(field), value, case[field]))
            case[field] = value
    if wanted["status"] is not None and case["closedTimestamp"] is not None:
        case["closedTimestamp"] = case["closedByUserID"] = None
    if comment is not None:
        made = add_comment(state, case, user, comment, internal=internal, text_format=body_format)
        changes.append(made[1])
    if changes:
        commit(state, case, user["id"], "updateCase", changes)
    return single(render.case(state, case, user))


@authenticated
async def close_case(request: Request, state: ArgusState, user: Record) -> Response:
    """PUT /cases/v2/case/{id}/close ``{comment?, internalComment?}``."""
    case = load_case(state, user, request.path_params["case_id"], "write")
    body = await json_body(request, allowed=_CLOSE_FIELDS)
    text = text_field(body, "comment", limit=100_000)
    internal = _flag(body, "internalComment", False)
    _ignored(body, ("notification",))
    if internal and not is_tech(user, case):
        raise field_error(403, "internalComment", "Only tech users may add internal comments")
    if case["status"] == "closed":
        raise action_error(412, f"Case {case['id']} is already closed")
    changes = [change("status", "closed", case["status"])]
    now = state.now_ms()
    case.update(status="closed", closedTimestamp=now, closedByUserID=user["id"])
    if text is not None:
        changes.append(add_comment(state, case, user, text, internal=internal)[1])
    commit(state, case, user["id"], "closeCase", changes, timestamp=now)
    return single(render.case(state, case, user))


@authenticated
async def delete_case(request: Request, state: ArgusState, user: Record) -> Response:
    """DELETE /cases/v2/case/{id}?comment=…: marks the case deleted (tech role); answers with it.

    The optional ``comment`` query parameter is added to the case in the same transaction.
    """
    case = load_case(state, user, request.path_params["case_id"], "write")
    require_tech(user, case, "deleting a case")
    if "DELETED" in case["flags"]:
        raise action_error(404, f"Case {case['id']} not found")
    text = text_field(dict(request.query_params), "comment", limit=100_000)
    changes = [change("setFlag", "DELETED")]
    if text:
        changes.append(add_comment(state, case, user, text)[1])
    case["flags"].append("DELETED")
    commit(state, case, user["id"], "deleteCase", changes)
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
        change(field_name(field), value, case[field])
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
