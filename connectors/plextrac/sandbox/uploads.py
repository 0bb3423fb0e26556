"""Inline images for CKEditor fields: upload with the session token, read back with the cookie.

``POST /api/v1/uploads`` takes multipart form data with a ``file`` part (and, from the web app,
a ``setScope`` part, accepted and ignored) and answers ``fileUrl: "uploads/<uuid>.<ext>"``,
the extension taken from the part's file name. A file sent as a bare byte stream (no file
name, a file name without extension, or a body that is not a form) gets a ``fileUrl`` with
no extension and, as the platform documents, cannot be fetched afterwards. A form without a
``file`` part is a 400. Files go into HTML as ``<img src="/api/v1/uploads/<uuid>.<ext>">``.

``GET /api/v1/uploads/<name>`` is the one endpoint that authenticates by cookie only
(``token=<cookie from authenticate>``); an ``Authorization`` header there is refused with 401.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .auth import authenticated, cookie_user
from .replies import bad_request, not_found
from .state import Upload, state_of

IMAGE_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "webp": "image/webp",
    "svg": "image/svg+xml",
}
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


async def _received(request: Request) -> tuple[bytes, str | None]:
    """The uploaded bytes and their file extension (None for a bare byte stream)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(_FORM_TYPES):
        return await request.body(), None
    async with request.form(max_files=1, max_fields=10) as form:
        part = form.get("file")
        if part is None:
            raise bad_request('"file" is required')
        if isinstance(part, str):  # a part without a file name arrives as text
            return part.encode("utf-8", "surrogateescape"), None
        assert isinstance(part, UploadFile)
        name = part.filename or ""
        extension = name.rsplit(".", 1)[1].lower() if "." in name else None
        return await part.read(), extension


@authenticated
async def upload_image(request: Request, user: dict[str, Any]) -> Response:
    """``POST /api/v1/uploads``: store one image; answer its ``fileUrl``."""
    state = state_of(request)
    content, extension = await _received(request)
    if not content:
        raise bad_request('"file" is not allowed to be empty')
    if extension is not None and extension not in IMAGE_TYPES:
        allowed = ", ".join(IMAGE_TYPES)
        raise bad_request(f'file type ".{extension}" is not an accepted image type [{allowed}]')
    name = state.new_uuid() + (f".{extension}" if extension else "")
    media_type = IMAGE_TYPES.get(extension or "", "application/octet-stream")
    state.uploads[name] = Upload(content, media_type, servable=extension is not None)
    return JSONResponse({"status": "success", "fileUrl": f"uploads/{name}"})


async def get_upload(request: Request) -> Response:
    """``GET /api/v1/uploads/{name}``: the image bytes, for a valid ``token`` cookie only."""
    cookie_user(request)
    upload = state_of(request).uploads.get(request.path_params["name"])
    if upload is None or not upload.servable:
        raise not_found("File")
    return Response(upload.content, media_type=upload.media_type)
