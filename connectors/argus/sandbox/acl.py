"""The case access endpoints: list explicit grants, change the access mode, grant, revoke.

Changing the mode, granting and revoking need access level ``owner`` (the reporter, or an
administrator). Granting a subject that already holds a grant changes its level. Role-based
access is not on the list and cannot be revoked: only a stricter mode limits it.

A grant names its subject as ``userOrGroup`` (id, user name or group short name), as
mnemonic's request models do, or by the deprecated numeric ``subjectID``; ``level`` is
``read`` (default), ``write`` or ``owner``; ``addWatcher`` (default true) is accepted and has
no effect, as the sandbox keeps no watchers.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import render
from .access import load_case
from .auth import authenticated
from .envelope import action_error, enum_field, field_error, json_body, listing, page_params, single
from .history import change, commit
from .records import acl_record
from .state import ACCESS_MODES, ACL_LEVELS, ArgusState, Record

GRANT_FIELDS = ("userOrGroup", "subjectID", "level", "addWatcher")


def parse_member(state: ArgusState, item: object, field: str) -> tuple[int, str]:
    """``(subject id, level)`` from a grant object; 412 naming ``field`` when invalid."""
    if not isinstance(item, dict) or not set(item) <= set(GRANT_FIELDS):
        raise field_error(
            412, field, f"{field} entries must be {{userOrGroup, level, addWatcher}} objects"
        )
    ref = item.get("userOrGroup")
    if ref is None:
        ref = item.get("subjectID")
    if ref is None:
        raise field_error(412, field, "userOrGroup (or the older subjectID) is required")
    subject = state.subject(ref)
    if subject is None:
        raise field_error(412, field, f"Unknown user or group {ref!r}")
    if not isinstance(item.get("addWatcher", True), bool):
        raise field_error(412, field, "addWatcher must be true or false")
    level = item.get("level") or "read"
    if level not in ACL_LEVELS:
        raise field_error(
            412, field, f"Invalid level {level!r}; expected one of {list(ACL_LEVELS)}"
        )
    return subject["id"], str(level)


def grant(state: ArgusState, case: Record, user_id: int, subject_id: int, level: str) -> Record:
    """Give ``subject_id`` explicit ``level`` on the case (changing an existing grant)."""
    for entry in state.acl[case["id"]]:
        if entry["subjectID"] == subject_id:
            entry["level"] = level
            return entry
    entry = acl_record(
        state, subject_id=subject_id, level=level, user_id=user_id, added=state.now_ms()
    )
    state.acl[case["id"]].append(entry)
    return entry


@authenticated
async def list_access(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/case/{id}/access: the explicit grants on the case."""
    case = load_case(state, user, request.path_params["case_id"])
    limit, offset = page_params(request)
    rows = [render.acl_entry(state, e) for e in state.acl[case["id"]]]
    return listing(rows, limit, offset)


@authenticated
async def put_access_mode(request: Request, state: ArgusState, user: Record) -> Response:
    """PUT /cases/v2/case/{id}/access ``{accessMode}``: answers with the updated case."""
    case = load_case(state, user, request.path_params["case_id"], "owner")
    body = await json_body(request, allowed=["accessMode"])
    mode = enum_field(body, "accessMode", ACCESS_MODES)
    if mode is not None and mode != case["accessMode"]:
        previous, case["accessMode"] = case["accessMode"], mode
        commit(
            state,
            case,
            user["id"],
            "updateCaseAccessSettings",
            [change("accessMode", mode, previous)],
        )
    return single(render.case(state, case, user))


@authenticated
async def post_access(request: Request, state: ArgusState, user: Record) -> Response:
    """POST /cases/v2/case/{id}/access ``{userOrGroup, level, addWatcher}``: the grant."""
    case = load_case(state, user, request.path_params["case_id"], "owner")
    body = await json_body(request, allowed=GRANT_FIELDS)
    by_id = body.get("userOrGroup") is None and body.get("subjectID") is not None
    field = "subjectID" if by_id else "userOrGroup"
    subject_id, level = parse_member(state, body, field)
    entry = grant(state, case, user["id"], subject_id, level)
    commit(state, case, user["id"], "grantCaseAccess", [change("acl", f"{subject_id}:{level}")])
    return single(render.acl_entry(state, entry), status=201)


@authenticated
async def delete_access(request: Request, state: ArgusState, user: Record) -> Response:
    """DELETE /cases/v2/case/{id}/access/{aclEntryID}: answers with the revoked grant."""
    case = load_case(state, user, request.path_params["case_id"], "owner")
    entry_id = request.path_params["entry_id"]
    entry = next((e for e in state.acl[case["id"]] if e["id"] == entry_id), None)
    if entry is None:
        raise action_error(404, f"Access entry {entry_id} not found on case {case['id']}")
    state.acl[case["id"]].remove(entry)
    commit(state, case, user["id"], "revokeCaseAccess", [change("acl", None, entry["subjectID"])])
    return single(render.acl_entry(state, entry))


routes = [
    Route("/cases/v2/case/{case_id:int}/access", list_access, methods=["GET"]),
    Route("/cases/v2/case/{case_id:int}/access", put_access_mode, methods=["PUT"]),
    Route("/cases/v2/case/{case_id:int}/access", post_access, methods=["POST"]),
    Route("/cases/v2/case/{case_id:int}/access/{entry_id}", delete_access, methods=["DELETE"]),
]
