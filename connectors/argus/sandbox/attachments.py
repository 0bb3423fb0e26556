"""Case attachments: base64 upload, metadata list and lookup, raw download, removal.

The download answers with the stored bytes and exactly the content type given at upload
(no charset added), outside the JSON envelope (errors still come in the envelope);
``inline=true`` asks for ``Content-Disposition: inline``. An upload may be ``internal`` (tech
role; flag ``INTERNAL``, seen by tech users only). The other fields of mnemonic's upload model
(``encryptedZip``, ``encryptedZipMode``, ``encryptedZipPassword``, ``prepared``,
``notification``) are accepted; only ``encryptedZipMode: client`` has an effect, flagging the
attachment ``ENCRYPTED_ZIP`` as the client says it already is one. The sandbox does not
encrypt (``server``) or hold prepared uploads back.
"""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import render
from .access import is_tech, load_case
from .auth import authenticated
from .envelope import (
    action_error,
    enum_field,
    field_error,
    json_body,
    listing,
    page_params,
    single,
    text_field,
)
from .history import change, commit
from .records import attachment_record
from .state import ArgusState, Record

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
_UPLOAD_FIELDS = (
    "name", "mimeType", "data", "originEmailAddress", "internal", "notification",
    "encryptedZip", "encryptedZipMode", "encryptedZipPassword", "prepared",
)  # fmt: skip


def _visible(user: Record, case: Record, record: Record) -> bool:
    return "INTERNAL" not in record["flags"] or is_tech(user, case)


def _find(state: ArgusState, user: Record, case: Record, attachment_id: str) -> Record:
    for record in state.attachments[case["id"]]:
        if record["id"] == attachment_id and _visible(user, case, record):
            return record
    raise action_error(404, f"Attachment {attachment_id} not found on case {case['id']}")


def _flag(body: Record, field: str) -> bool:
    value = body.get(field)
    if value is not None and not isinstance(value, bool):
        raise field_error(412, field, f"{field} must be true or false")
    return bool(value)


def _decode(data: str) -> bytes:
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise field_error(412, "data", "data must be base64-encoded") from None
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise field_error(412, "data", f"Attachment exceeds {MAX_ATTACHMENT_BYTES} bytes")
    return content


@authenticated
async def list_attachments(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/case/{id}/attachments: metadata of the case's attachments."""
    case = load_case(state, user, request.path_params["case_id"])
    limit, offset = page_params(request)
    rows = [
        render.attachment(state, a)
        for a in state.attachments[case["id"]]
        if _visible(user, case, a)
    ]
    return listing(rows, limit, offset)


@authenticated
async def post_attachment(request: Request, state: ArgusState, user: Record) -> Response:
    """POST /cases/v2/case/{id}/attachments ``{name, mimeType, data}``: needs write access."""
    case = load_case(state, user, request.path_params["case_id"], "write")
    body = await json_body(request, allowed=_UPLOAD_FIELDS)
    name = text_field(body, "name", required=True, limit=255) or ""
    mime_type = text_field(body, "mimeType", limit=255) or "application/octet-stream"
    content = _decode(text_field(body, "data", required=True, limit=2**31) or "")
    internal = _flag(body, "internal")
    if internal and not is_tech(user, case):
        raise field_error(403, "internal", "Only tech users may add internal attachments")
    zip_mode = enum_field(body, "encryptedZipMode", ("none", "client", "server")) or "none"
    _flag(body, "encryptedZip")
    _flag(body, "prepared")
    text_field(body, "encryptedZipPassword")
    if body.get("notification") is not None and not isinstance(body["notification"], dict):
        raise field_error(412, "notification", "notification must be an object")
    record = attachment_record(
        state,
        name=name,
        mime_type=mime_type,
        content=content,
        user_id=user["id"],
        added=state.now_ms(),
        origin_email=text_field(body, "originEmailAddress"),
    )
    record["flags"] += ["INTERNAL"] * internal + ["ENCRYPTED_ZIP"] * (zip_mode == "client")
    state.attachments[case["id"]].append(record)
    commit(state, case, user["id"], "addCaseAttachment", [change("attachment", record["id"])])
    return single(render.attachment(state, record), status=201)


@authenticated
async def get_attachment(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/case/{id}/attachments/{attachmentID}: one attachment's metadata."""
    case = load_case(state, user, request.path_params["case_id"])
    record = _find(state, user, case, request.path_params["attachment_id"])
    return single(render.attachment(state, record))


@authenticated
async def download_attachment(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/case/{id}/attachments/{attachmentID}/download?inline=…: the raw content."""
    case = load_case(state, user, request.path_params["case_id"])
    record = _find(state, user, case, request.path_params["attachment_id"])
    inline = request.query_params.get("inline", "false").lower()
    if inline not in ("true", "false"):
        raise field_error(412, "inline", "inline must be true or false")
    kind = "inline" if inline == "true" else "attachment"
    disposition = f'{kind}; filename="{record["name"].replace(chr(34), "")}"'
    # Set the header directly: Starlette's media_type would add "; charset=utf-8" to text/*.
    headers = {"Content-Type": record["mimeType"], "Content-Disposition": disposition}
    return Response(record["content"], headers=headers)


@authenticated
async def delete_attachment(request: Request, state: ArgusState, user: Record) -> Response:
    """DELETE /cases/v2/case/{id}/attachments/{attachmentID}: needs write access."""
    case = load_case(state, user, request.path_params["case_id"], "write")
    record = _find(state, user, case, request.path_params["attachment_id"])
    state.attachments[case["id"]].remove(record)
    commit(
        state, case, user["id"], "deleteCaseAttachment", [change("attachment", None, record["id"])]
    )
    return single(render.attachment(state, record))


_ONE = "/cases/v2/case/{case_id:int}/attachments/{attachment_id}"
routes = [
    Route("/cases/v2/case/{case_id:int}/attachments", list_attachments, methods=["GET"]),
    Route("/cases/v2/case/{case_id:int}/attachments", post_attachment, methods=["POST"]),
    Route(_ONE, get_attachment, methods=["GET"]),
    Route(_ONE, delete_attachment, methods=["DELETE"]),
    Route(f"{_ONE}/download", download_attachment, methods=["GET"]),
]
