"""Pictures of tickets: the base64 upload, the attachments list, and the file downloads.

``POST /api/v1/{cid}/projects/{pid}/tickets/{ticket_uuid}/ticket_images/{image_uuid}`` takes
``{"data": {"attributes": {"file": <base64>, "file-name", "file-content-type", "caption",
"image-type", "created-on", "async"}}}``; the image is stored under the UUID of the path (posting
the same UUID again answers 200 with the stored image). Processing is always immediate, so
``async`` changes nothing. Each new picture records a media journal entry and fires
``ticket.image_attached``.

``GET /api/v2/{cid}/projects/{pid}/tickets/{ticket_uuid}/attachments`` lists a ticket's
attachments (only pictures exist in the sandbox) with the documented ``types[]``,
``last_sync_date`` (Unix), ``only_ticket_attachments``, ``sort``, ``page`` and ``pagesize``;
``GET /files/{image_uuid}`` serves the bytes without authentication, like the pre-signed storage
links the platform hands out.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import uuid as uuid_module
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .access import ApiError, Caller, error_object, invalid
from .delivery import Dispatcher
from .resources import (
    attachment_resource,
    image_resource,
    list_document,
    page_of,
    page_params,
    read_attributes,
    ticket_images,
    unix_param,
)
from .state import Image, SandboxState

ATTACHMENT_TYPES = ("images", "audios", "videos", "documents")
_SORT_KEYS: dict[str, Callable[[Image], tuple[Any, ...]]] = {
    "created-at": lambda i: (i.created_ts, i.uuid),
    "title": lambda i: (i.file_name.lower(), i.uuid),
    "attachable-type": lambda i: ("images", i.created_ts),
    "created-by": lambda i: (i.author_id, i.created_ts),
    "id": lambda i: (i.id,),
}


async def create_image(request: Request, caller: Caller) -> Response:
    """``POST …/tickets/{ticket_uuid}/ticket_images/{image_uuid}``: 201 with the image."""
    state = caller.state
    project = caller.project(request.path_params["project_id"])
    ticket = caller.ticket(project, request.path_params["ticket_uuid"], "Ticket Not found")
    image_uuid = request.path_params["image_uuid"]
    given = await read_attributes(request)
    existing = state.images.get(image_uuid)
    if existing is not None and existing.ticket_uuid == ticket.uuid:
        return JSONResponse({"data": image_resource(existing, str(request.base_url))})
    content, fields = _validated(given, image_uuid, taken=existing is not None)
    now = state.clock()
    created_on = given.get("created-on")
    image = Image(
        id=state.new_id(),
        uuid=image_uuid,
        ticket_uuid=ticket.uuid,
        project_id=project.id,
        file_name=fields["file-name"],
        content_type=fields["file-content-type"],
        caption=fields["caption"],
        image_type=fields["image-type"],
        size=len(content),
        author_id=caller.user.id,
        created_ts=float(created_on) if created_on is not None else now,
    )
    state.images[image.uuid] = image
    state.files[image.uuid] = content
    state.add_journal(
        ticket,
        kind=2,
        user_id=caller.user.id,
        at=now,
        details=({"prop-key": "image", "old-value": None, "value": image.uuid},),
    )
    body = image_resource(image, str(request.base_url))
    dispatcher: Dispatcher = request.app.state.dispatcher
    dispatcher.emit("ticket.image_attached", ticket, {"image": body})
    return JSONResponse({"data": body}, status_code=201)


async def list_attachments(request: Request, caller: Caller) -> Response:
    """``GET /api/v2/{cid}/projects/{pid}/tickets/{ticket_uuid}/attachments``."""
    project = caller.project(request.path_params["project_id"])
    ticket = caller.ticket(project, request.path_params["ticket_uuid"])
    page, pagesize = page_params(request, default=100, maximum=500)
    types = request.query_params.getlist("types[]") + request.query_params.getlist("types")
    unknown = [t for t in types if t not in ATTACHMENT_TYPES]
    if unknown:
        raise ApiError(
            400,
            "Invalid Parameters",
            f"unknown attachment types {', '.join(unknown)}; "
            f"supported: {', '.join(ATTACHMENT_TYPES)}",
        )
    only_ticket = request.query_params.get("only_ticket_attachments", "false").lower()
    if only_ticket not in ("true", "false"):
        raise ApiError(400, "Invalid Parameters", "only_ticket_attachments must be true or false")
    # Form-field attachments do not exist in the sandbox, so only_ticket_attachments
    # leaves the list as it is.
    images = ticket_images(caller.state, ticket) if not types or "images" in types else []
    since = unix_param(request, "last_sync_date")
    if since is not None:
        images = [i for i in images if i.created_ts > since]
    images = _sorted(images, request.query_params.get("sort"))
    base = str(request.base_url)
    items = [attachment_resource(i, base) for i in page_of(images, page, pagesize)]
    return JSONResponse(list_document(items, count=len(images), page=page))


async def get_attachment(request: Request, caller: Caller) -> Response:
    """``GET …/tickets/{ticket_uuid}/attachments/{attachment_id}`` (by id or UUID)."""
    project = caller.project(request.path_params["project_id"])
    ticket = caller.ticket(project, request.path_params["ticket_uuid"])
    wanted = request.path_params["attachment_id"]
    for image in ticket_images(caller.state, ticket):
        if wanted in (image.id, image.uuid):
            return JSONResponse({"data": attachment_resource(image, str(request.base_url))})
    raise ApiError(404, "Attachment Not Found", f"no attachment {wanted!r} on this ticket")


async def download(request: Request) -> Response:
    """``GET /files/{image_uuid}``: the picture's bytes (``?style=thumb`` serves the same)."""
    state: SandboxState = request.app.state.sandbox
    image = state.images.get(request.path_params["image_uuid"])
    if image is None:
        detail = f"no file {request.path_params['image_uuid']!r}"
        return JSONResponse({"errors": [error_object(404, "Not Found", detail)]}, status_code=404)
    return Response(state.files[image.uuid], media_type=image.content_type)


def _validated(
    given: dict[str, Any], image_uuid: str, *, taken: bool
) -> tuple[bytes, dict[str, Any]]:
    problems: list[tuple[str, str]] = []
    try:
        uuid_module.UUID(image_uuid)
    except ValueError:
        problems.append(("uuid", f"{image_uuid!r} in the path is not a valid UUID"))
    if taken:
        problems.append(("uuid", "has already been taken by an image of another ticket"))
    content = b""
    raw = given.get("file")
    if not isinstance(raw, str) or not raw:
        problems.append(("file", "can't be blank (send the picture base64-encoded)"))
    else:
        try:
            content = base64.b64decode(raw.split(",", 1)[-1], validate=True)
        except (binascii.Error, ValueError):
            problems.append(("file", "is not valid base64"))
    name = given.get("file-name") or f"{image_uuid}.jpg"
    if not isinstance(name, str):
        problems.append(("file-name", "must be a text"))
        name = ""
    content_type = given.get("file-content-type") or mimetypes.guess_type(name)[0] or "image/jpeg"
    if not isinstance(content_type, str) or not content_type.startswith("image/"):
        problems.append(("file-content-type", "must be an image content type such as image/jpeg"))
    caption = given.get("caption") or ""
    if not isinstance(caption, str) or len(caption) > 255:
        problems.append(("caption", "must be a text of at most 255 characters"))
    image_type = given.get("image-type", 0)
    if image_type not in (0, 1) or isinstance(image_type, bool):
        problems.append(("image-type", "must be 0 (image) or 1 (plan annotation)"))
    created_on = given.get("created-on")
    if created_on is not None and (
        isinstance(created_on, bool) or not isinstance(created_on, int | float)
    ):
        problems.append(("created-on", "must be a Unix timestamp"))
    if problems:
        raise invalid("Image Not Created", problems)
    fields = {
        "file-name": name,
        "file-content-type": content_type,
        "caption": caption,
        "image-type": image_type,
    }
    return content, fields


def _sorted(images: list[Image], sort: str | None) -> list[Image]:
    if not sort:
        return images
    name = sort.lstrip("-")
    if name not in _SORT_KEYS:
        raise ApiError(400, "Invalid Parameters", f"cannot sort attachments by {name!r}")
    return sorted(images, key=_SORT_KEYS[name], reverse=sort.startswith("-"))
