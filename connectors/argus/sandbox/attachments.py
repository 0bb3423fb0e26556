"""Case attachments: base64 upload, metadata list and lookup, raw download, removal.

The download answers with the stored bytes and the content type given at upload, outside the
JSON envelope (errors still come in the envelope).
"""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import render
from .access import load_case
from .auth import authenticated
from .envelope import action_error, field_error, json_body, listing, page_params, single, text_field
from .history import change, commit
from .records import attachment_record
from .state import ArgusState, Record

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


def _find(state: ArgusState, case: Record, attachment_id: str) -> Record:
    for record in state.attachments[case["id"]]:
        if record["id"] == attachment_id:
            return record
    raise action_error(404, f"Attachment {attachment_id} not found on case {case['id']}")


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
    rows = [render.attachment(state, a) for a in state.attachments[case["id"]]]
    return listing(rows, limit, offset)


@authenticated
async def post_attachment(request: Request, state: ArgusState, user: Record) -> Response:
    """POST /cases/v2/case/{id}/attachments ``{name, mimeType, data}``: needs write access."""
    case = load_case(state, user, request.path_params["case_id"], "write")
    body = await json_body(request, allowed=["name", "mimeType", "data", "originEmailAddress"])
    name = text_field(body, "name", required=True, limit=255) or ""
    mime_type = text_field(body, "mimeType", limit=255) or "application/octet-stream"
    content = _decode(text_field(body, "data", required=True, limit=2**31) or "")
    record = attachment_record(
        state,
        name=name,
        mime_type=mime_type,
        content=content,
        user_id=user["id"],
        added=state.now_ms(),
        origin_email=text_field(body, "originEmailAddress"),
    )
    state.attachments[case["id"]].append(record)
    commit(state, case, user["id"], "addAttachment", [change("attachment", record["id"])])
    return single(render.attachment(state, record), status=201)


@authenticated
async def get_attachment(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/case/{id}/attachments/{attachmentID}: one attachment's metadata."""
    case = load_case(state, user, request.path_params["case_id"])
    record = _find(state, case, request.path_params["attachment_id"])
    return single(render.attachment(state, record))


@authenticated
async def download_attachment(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/case/{id}/attachments/{attachmentID}/download: the raw content."""
    case = load_case(state, user, request.path_params["case_id"])
    record = _find(state, case, request.path_params["attachment_id"])
    disposition = f'attachment; filename="{record["name"].replace(chr(34), "")}"'
    return Response(
        record["content"],
        media_type=record["mimeType"],
        headers={"Content-Disposition": disposition},
    )


@authenticated
async def delete_attachment(request: Request, state: ArgusState, user: Record) -> Response:
    """DELETE /cases/v2/case/{id}/attachments/{attachmentID}: needs write access."""
    case = load_case(state, user, request.path_params["case_id"], "write")
    record = _find(state, case, request.path_params["attachment_id"])
    state.attachments[case["id"]].remove(record)
    commit(state, case, user["id"], "removeAttachment", [change("attachment", None, record["id"])])
    return single(render.attachment(state, record))


_ONE = "/cases/v2/case/{case_id:int}/attachments/{attachment_id}"
routes = [
    Route("/cases/v2/case/{case_id:int}/attachments", list_attachments, methods=["GET"]),
    Route("/cases/v2/case/{case_id:int}/attachments", post_attachment, methods=["POST"]),
    Route(_ONE, get_attachment, methods=["GET"]),
    Route(_ONE, delete_attachment, methods=["DELETE"]),
    Route(f"{_ONE}/download", download_attachment, methods=["GET"]),
]
