"""Case comments: list (paged, sortable, before/after a comment), add, edit, delete.

Comment text is HTML and is sanitised on input (``textFormat: plainText`` keeps markup as
text). ``associatedAttachmentID`` names attachments of the case, as a list (mnemonic's models)
or one id; a comment may set the case's ``status`` in the same transaction;
``notification`` is accepted and ignored. Internal comments (flag ``INTERNAL``) and
deleted ones (flag ``DELETED``) are shown to tech users only; writing an internal comment and
deleting a comment also need the tech role. Editing is done in place by the comment's author
or a tech user, and moves the comment's ``lastUpdatedTimestamp``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import render
from .access import comment_visible, is_tech, load_case, require_tech
from .auth import authenticated
from .envelope import (
    action_error,
    enum_field,
    field_error,
    id_list,
    json_body,
    listing,
    page_params,
    single,
    text_field,
    text_format,
)
from .history import change, commit
from .records import comment_record
from .sanitize import as_html
from .state import STATUSES, ArgusState, Record

_POST_FIELDS = (
    "comment", "asReplyTo", "internal", "originEmailAddress", "associatedAttachmentID",
    "notification", "status", "textFormat",
)  # fmt: skip
_PUT_FIELDS = ("comment", "associatedAttachmentID")

_SORTS = {
    "addedTimestamp": False,
    "ascending": False,
    "-addedTimestamp": True,
    "descending": True,
}


def add_comment(
    state: ArgusState,
    case: Record,
    user: Record,
    text: str,
    *,
    internal: bool = False,
    reply_to: str | None = None,
    origin_email: str | None = None,
    attachment_ids: list[str] | None = None,
    text_format: str = "html",
) -> tuple[Record, Record]:
    """Store a comment; return it and the history change to commit with it.

    The caller checks rights; references to other comments and attachments are checked here
    (412 naming the field).
    """
    if reply_to is not None and _find(state, case, reply_to) is None:
        raise field_error(412, "asReplyTo", f"Comment {reply_to} not found on case {case['id']}")
    attachment_ids = _attachments(state, case, attachment_ids or [])
    record = comment_record(
        state,
        case,
        user_id=user["id"],
        text=as_html(text, text_format),
        added=state.now_ms(),
        internal=internal,
        reply_to=reply_to,
        origin_email=origin_email,
        attachment_ids=attachment_ids,
    )
    state.comments[case["id"]].append(record)
    return record, change("addComment", record["id"], object_type="comment")


def _attachments(state: ArgusState, case: Record, ids: list[str]) -> list[str]:
    known = {a["id"] for a in state.attachments[case["id"]]}
    for attachment_id in ids:
        if attachment_id not in known:
            raise field_error(
                412, "associatedAttachmentID", f"Attachment {attachment_id} not found on this case"
            )
    return ids


def _find(state: ArgusState, case: Record, comment_id: str) -> Record | None:
    return next((c for c in state.comments[case["id"]] if c["id"] == comment_id), None)


def _cut(rows: list[Record], comment_id: str | None, field: str, before: bool) -> list[Record]:
    if comment_id is None:
        return rows
    ids = [c["id"] for c in rows]
    if comment_id not in ids:
        raise field_error(412, field, f"Comment {comment_id} not found on this case")
    at = ids.index(comment_id)
    return rows[:at] if before else rows[at + 1 :]


@authenticated
async def list_comments(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/case/{id}/comments: oldest first unless ``sortBy`` says otherwise."""
    case = load_case(state, user, request.path_params["case_id"])
    limit, offset = page_params(request)
    query = request.query_params
    sort = query.get("sortBy", "addedTimestamp")
    if sort not in _SORTS:
        raise field_error(412, "sortBy", f"Invalid sortBy {sort!r}; expected one of {list(_SORTS)}")
    tech = is_tech(user, case)
    rows = [c for c in state.comments[case["id"]] if comment_visible(tech, c)]
    rows.sort(key=lambda c: c["addedTimestamp"], reverse=_SORTS[sort])
    rows = _cut(rows, query.get("beforeComment"), "beforeComment", before=True)
    rows = _cut(rows, query.get("afterComment"), "afterComment", before=False)
    return listing([render.comment(state, c) for c in rows], limit, offset)


@authenticated
async def post_comment(request: Request, state: ArgusState, user: Record) -> Response:
    """POST /cases/v2/case/{id}/comments: needs write access (tech for internal comments)."""
    case = load_case(state, user, request.path_params["case_id"], "write")
    body = await json_body(request, allowed=_POST_FIELDS)
    text = text_field(body, "comment", required=True, limit=100_000)
    if body.get("notification") is not None and not isinstance(body["notification"], dict):
        raise field_error(412, "notification", "notification must be an object")
    status = enum_field(body, "status", STATUSES)
    if status == "closed":
        raise field_error(412, "status", "Use the close endpoint to close a case")
    internal = body.get("internal") or False
    if not isinstance(internal, bool):
        raise field_error(412, "internal", "internal must be true or false")
    if internal and not is_tech(user, case):
        raise field_error(403, "internal", "Only tech users may add internal comments")
    record, made = add_comment(
        state,
        case,
        user,
        text or "",
        internal=internal,
        reply_to=text_field(body, "asReplyTo"),
        origin_email=text_field(body, "originEmailAddress"),
        attachment_ids=id_list(body, "associatedAttachmentID"),
        text_format=text_format(body),
    )
    changes = [made]
    if status is not None and status != case["status"]:
        changes.append(change("status", status, case["status"]))
        case["status"] = status
        if case["closedTimestamp"] is not None:
            case["closedTimestamp"] = case["closedByUserID"] = None
    commit(state, case, user["id"], "addCaseComment", changes)
    return single(render.comment(state, record), status=201)


def _visible_comment(state: ArgusState, user: Record, case: Record, comment_id: str) -> Record:
    record = _find(state, case, comment_id)
    if record is None or not comment_visible(is_tech(user, case), record):
        raise action_error(404, f"Comment {comment_id} not found on case {case['id']}")
    return record


@authenticated
async def put_comment(request: Request, state: ArgusState, user: Record) -> Response:
    """PUT /cases/v2/case/{id}/comments/{commentID} ``{comment, associatedAttachmentID?}``.

    Only the author or a tech user may edit; given attachments replace the comment's list.
    """
    case = load_case(state, user, request.path_params["case_id"], "write")
    record = _visible_comment(state, user, case, request.path_params["comment_id"])
    if record["addedByUserID"] != user["id"] and not is_tech(user, case):
        raise action_error(403, "Access denied: only the author or a tech user may edit a comment")
    body = await json_body(request, allowed=_PUT_FIELDS)
    text = as_html(text_field(body, "comment", required=True, limit=100_000) or "")
    if body.get("associatedAttachmentID") is not None:
        attached = id_list(body, "associatedAttachmentID")
        record["associatedAttachmentIDs"] = _attachments(state, case, attached)
    previous, record["comment"] = record["comment"], text
    record["lastUpdatedTimestamp"] = state.now_ms()
    commit(state, case, user["id"], "editCaseComment", [change("comment", text, previous)])
    return single(render.comment(state, record))


@authenticated
async def delete_comment(request: Request, state: ArgusState, user: Record) -> Response:
    """DELETE /cases/v2/case/{id}/comments/{commentID}: marks it deleted; tech role needed."""
    case = load_case(state, user, request.path_params["case_id"], "write")
    require_tech(user, case, "deleting a comment")
    record = _visible_comment(state, user, case, request.path_params["comment_id"])
    if "DELETED" not in record["flags"]:
        record["flags"].append("DELETED")
        record["lastUpdatedTimestamp"] = state.now_ms()
        commit(
            state, case, user["id"], "deleteCaseComment", [change("comment", None, record["id"])]
        )
    return single(render.comment(state, record))


routes = [
    Route("/cases/v2/case/{case_id:int}/comments", list_comments, methods=["GET"]),
    Route("/cases/v2/case/{case_id:int}/comments", post_comment, methods=["POST"]),
    Route("/cases/v2/case/{case_id:int}/comments/{comment_id}", put_comment, methods=["PUT"]),
    Route("/cases/v2/case/{case_id:int}/comments/{comment_id}", delete_comment, methods=["DELETE"]),
]
