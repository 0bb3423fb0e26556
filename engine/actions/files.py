"""Files an action uploads or downloads, as its input and output carry them.

A download (``response: bytes``) is returned as ``{content, content_type, size}`` with the
content as base64 text, or streamed to the file an input named ``save_to`` gives (every
download action accepts ``save_to``) and returned as ``{path, content_type, size}``.

Content to upload is either a path (a multipart ``file`` part reads it when the request is
rendered) or, for an input declared with ``contentEncoding: base64``, the bytes as base64
text; such an input also accepts ``bytes`` from Python and ``@PATH`` (a file to read) from
anywhere, since ``@`` is not a base64 character. This keeps file access out of the expression
language, which can read its context and nothing else.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hookline.errors import InvalidRequestError
from hookline.http.responses import ErrorContext, Response

SAVE_TO = "save_to"
"""The input every download action accepts: the file to stream the download to."""

SAVE_TO_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "description": "Stream the download to this file instead of returning its content",
}


def encoded_content(name: str, value: Any, errors: ErrorContext) -> Any:
    """The value of ``contentEncoding: base64`` input ``name``: bytes or ``@PATH`` as base64.

    Base64 text is checked and kept; a file that cannot be read or text that is not base64
    is an ``InvalidRequestError`` named by ``errors``.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Path) or (isinstance(value, str) and value.startswith("@")):
        path = Path(value if isinstance(value, Path) else value[1:]).expanduser()
        try:
            return base64.b64encode(path.read_bytes()).decode("ascii")
        except OSError as exc:
            raise errors.error(
                InvalidRequestError,
                f"{errors.where}: input {name!r}: cannot read {str(path)!r}: {exc.strerror}",
            ) from None
    if isinstance(value, str):
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error:
            raise errors.error(
                InvalidRequestError,
                f"{errors.where}: input {name!r} is not base64 text; give the content as "
                "base64, or a file as @PATH",
            ) from None
    return value


def save_path(values: Mapping[str, Any]) -> Path | None:
    """Where a download's input asks it to be saved, if anywhere."""
    target = values.get(SAVE_TO)
    return Path(target).expanduser() if target else None


def downloaded(response: Response) -> dict[str, Any]:
    """The output of a download: the file it was saved to, or its content as base64."""
    if response.path is not None:
        path = Path(response.path)
        return {
            "path": str(path),
            "content_type": response.content_type,
            "size": path.stat().st_size,
        }
    content: bytes = response.data
    return {
        "content": base64.b64encode(content).decode("ascii"),
        "content_type": response.content_type,
        "size": len(content),
    }
