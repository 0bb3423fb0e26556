"""The Argus result envelope, its error messages, and request parsing shared by all endpoints.

Every answer, errors included, is ``{responseCode, limit, offset, count, size, metaData,
messages, data}``. Single objects carry ``count`` and ``size`` 0; lists carry the total in
``count`` (-1 when the sandbox simulates a counting timeout) and the page length in ``size``.
Errors are raised as ``ArgusError`` anywhere below an endpoint and rendered once by
``error_response``, which stamps each message with the sandbox clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .sanitize import TEXT_FORMATS
from .state import SYSTEM_LIMIT, ArgusState, Record

DEFAULT_LIMIT = 25


class ArgusError(Exception):
    """A request the platform refuses: the HTTP status and the envelope's messages."""

    def __init__(self, status: int, messages: Sequence[Record]):
        super().__init__(messages[0]["message"] if messages else str(status))
        self.status = status
        self.messages = list(messages)


def message(text: str, *, kind: str = "ACTION_ERROR", field: str | None = None) -> Record:
    """One envelope message; ``timestamp`` is filled in when the response is rendered."""
    return {
        "message": text,
        "messageTemplate": text,
        "type": kind,
        "field": field,
        "parameter": {},
        "timestamp": None,
    }


def field_error(status: int, field: str, text: str) -> ArgusError:
    """A refusal about one input field (``FIELD_ERROR``): 412 for validation, 403 for rights."""
    return ArgusError(status, [message(text, kind="FIELD_ERROR", field=field)])


def action_error(status: int, text: str) -> ArgusError:
    """A refusal of the whole operation (``ACTION_ERROR``)."""
    return ArgusError(status, [message(text)])


def _envelope(status: int, data: Any, *, limit: int, offset: int, count: int, size: int) -> Record:
    return {
        "responseCode": status,
        "limit": limit,
        "offset": offset,
        "count": count,
        "size": size,
        "metaData": {},
        "messages": [],
        "data": data,
    }


def single(data: Any, *, status: int = 200) -> JSONResponse:
    """One object (or ``None``) in the envelope; ``count`` and ``size`` are 0 as documented."""
    return JSONResponse(_envelope(status, data, limit=0, offset=0, count=0, size=0), status)


def listing(
    items: Sequence[Any],
    limit: int,
    offset: int,
    *,
    view: Callable[[Any], Any] | None = None,
    counted: bool = True,
    status: int = 200,
) -> JSONResponse:
    """One page of ``items``, each passed through ``view`` if given (only the page is viewed).

    ``limit`` 0 means everything up to the system limit; ``counted=False`` reports ``count``
    -1, as Argus does when counting timed out.
    """
    window = limit or SYSTEM_LIMIT
    page = list(items[offset : offset + window])
    if view is not None:
        page = [view(item) for item in page]
    count = len(items) if counted else -1
    body = _envelope(status, page, limit=limit, offset=offset, count=count, size=len(page))
    return JSONResponse(body, status)


def error_response(state: ArgusState, status: int, messages: Iterable[Record]) -> JSONResponse:
    """The envelope of a refused request, every message stamped with the current time."""
    now = state.now_ms()
    stamped = [{**m, "timestamp": m["timestamp"] or now} for m in messages]
    body = _envelope(status, None, limit=0, offset=0, count=0, size=0)
    body["messages"] = stamped
    return JSONResponse(body, status)


async def argus_error_handler(request: Request, exc: Exception) -> Response:
    """Render an ``ArgusError`` raised by an endpoint."""
    assert isinstance(exc, ArgusError)
    return error_response(request.app.state.sandbox, exc.status, exc.messages)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Render Starlette's own refusals (unknown path, wrong method) in the Argus envelope."""
    assert isinstance(exc, HTTPException)
    text = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
    return error_response(request.app.state.sandbox, exc.status_code, [message(text)])


def parse_bound(raw: object, field: str, default: int) -> int:
    """A ``limit`` or ``offset`` value: an integer in 0..100000, else 412 naming the field."""
    if raw is None:
        return default
    if isinstance(raw, bool):
        raise field_error(412, field, f"{field} must be an integer")
    if isinstance(raw, str):
        if not raw.lstrip("-").isdigit():
            raise field_error(412, field, f"{field} must be an integer")
        raw = int(raw)
    if not isinstance(raw, int):
        raise field_error(412, field, f"{field} must be an integer")
    if not 0 <= raw <= SYSTEM_LIMIT:
        raise field_error(412, field, f"{field} must be between 0 and {SYSTEM_LIMIT}")
    return raw


def page_params(request: Request) -> tuple[int, int]:
    """``limit`` (default 25, 0 = up to the system limit) and ``offset`` from the query."""
    query = request.query_params
    return (
        parse_bound(query.get("limit"), "limit", DEFAULT_LIMIT),
        parse_bound(query.get("offset"), "offset", 0),
    )


async def json_body(request: Request, *, allowed: Iterable[str]) -> Record:
    """The request's JSON object; 400 when it is not JSON, 412 for a field not in ``allowed``.

    An empty body reads as ``{}`` (Argus treats "no parameters" as "no changes").
    """
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise action_error(400, "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise action_error(400, "Request body must be a JSON object")
    reject_unknown(body, allowed)
    return body


def reject_unknown(body: Record, allowed: Iterable[str], *, prefix: str = "") -> None:
    """412 with one FIELD_ERROR per field the endpoint does not know."""
    known = set(allowed)
    unknown = [key for key in body if key not in known]
    if unknown:
        raise ArgusError(
            412,
            [
                message(f"Unrecognized field {prefix}{key}", kind="FIELD_ERROR", field=prefix + key)
                for key in unknown
            ],
        )


def text_field(
    body: Record, field: str, *, required: bool = False, limit: int = 1024
) -> str | None:
    """A string field of a body: 412 when required and missing, not a string, or too long."""
    value = body.get(field)
    if value is None:
        if required:
            raise field_error(412, field, f"{field} is required")
        return None
    if not isinstance(value, str):
        raise field_error(412, field, f"{field} must be a string")
    if required and not value.strip():
        raise field_error(412, field, f"{field} must not be empty")
    if len(value) > limit:
        raise field_error(412, field, f"{field} must be at most {limit} characters")
    return value


def enum_field(body: Record, field: str, values: Sequence[str]) -> str | None:
    """An enum field of a body: 412 naming the field for a value outside ``values``."""
    value = body.get(field)
    if value is None:
        return None
    if value not in values:
        raise field_error(412, field, f"Invalid {field} {value!r}; expected one of {list(values)}")
    return str(value)


def text_format(body: Record, field: str = "textFormat") -> str:
    """The format a body gives its HTML text: ``html`` unless it says ``plainText``."""
    return enum_field(body, field, TEXT_FORMATS) or "html"


def id_list(body: Record, field: str) -> list[str]:
    """A field holding one id or a list of ids (mnemonic's models send a list)."""
    value = body.get(field)
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v for v in values):
        raise field_error(412, field, f"{field} must be a list of ids")
    return list(values)
