"""One API call as PCR-360 sees it: the parts of its URL, its parameters and its headers.

Every call is ``METHOD /api/{API_KEY}/{REQUEST}.{OUTPUT}``; the legacy service-desk read adds
a type in the middle (``servicedesk.IN.json``). Parameters come from the query string on GET
and from the body on POST (the platform ignores a POST's query string): form-encoded by
default, a JSON object when ``Content-Type: application/json``. Parameter names are
case-insensitive, so they are lower-cased here once. ``Pcr-Html-Encoded: true`` asks for every
parameter to be HTML-decoded first.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

OUTPUTS = ("json", "xml", "php")


class ApiError(Exception):
    """A refusal in the platform's terms: an HTTP status and the message for the error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Target:
    """What the last path segment names: request type (lower case), optional subtype, output."""

    request: str
    subtype: str | None
    output: str


def parse_target(segment: str) -> Target:
    """Split ``sql.json`` or ``servicedesk.IN.xml``; an unknown shape or output is a 404."""
    parts = segment.split(".")
    if len(parts) not in (2, 3) or not all(parts):
        raise ApiError(404, f"Unknown request '{segment}': expected REQUEST.OUTPUT")
    output = parts[-1].lower()
    if output not in OUTPUTS:
        raise ApiError(404, f"Unknown output format '{parts[-1]}': use json, xml or php")
    subtype = parts[1] if len(parts) == 3 else None
    return Target(parts[0].lower(), subtype, output)


@dataclass(frozen=True, slots=True)
class Call:
    """A parsed call. ``params`` has lower-case names; ``headers`` is case-insensitive."""

    method: str
    api_key: str
    target: Target
    params: dict[str, Any]
    headers: Mapping[str, str]

    def header(self, name: str) -> str | None:
        """A request header's value, or None when absent or blank."""
        value = self.headers.get(name)
        return value.strip() if value and value.strip() else None

    def text(self, name: str) -> str | None:
        """Parameter ``name`` as text, or None when absent or empty."""
        value = self.params.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, dict | list):
            raise ApiError(400, f"Parameter '{name}' must be a single value")
        return str(value)

    def positive_int(self, name: str, default: int) -> int:
        """Parameter ``name`` as an integer of at least 1, ``default`` when absent."""
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"Parameter '{name}' must be a whole number, got '{raw}'") from None
        if value < 1:
            raise ApiError(400, f"Parameter '{name}' must be at least 1, got {value}")
        return value

    def debug(self) -> dict[str, Any]:
        """The request as the platform echoes it back under ``Pcr-Debug-Api: true``."""
        target = self.target
        name = ".".join(p for p in (target.request, target.subtype, target.output) if p)
        return {"method": self.method, "request": name, "params": dict(self.params)}


async def read_params(request: Request) -> dict[str, Any]:
    """The call's parameters, names lower-cased, from the query (GET) or the body (POST)."""
    if request.method != "POST":
        raw: dict[str, Any] = dict(request.query_params)
    elif request.headers.get("content-type", "").lower().startswith("application/json"):
        raw = await _json_body(request)
    else:
        try:
            form = await request.form()
        except HTTPException as exc:
            raise ApiError(400, f"The request body cannot be read: {exc.detail}") from None
        raw = {
            name: value.filename if isinstance(value, UploadFile) else value
            for name, value in form.items()
        }
    params = {name.lower(): value for name, value in raw.items()}
    if (request.headers.get("pcr-html-encoded") or "").strip().lower() == "true":
        params = {
            name: html.unescape(value) if isinstance(value, str) else value
            for name, value in params.items()
        }
    return params


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The JSON request body must be an object of parameters")
    return data
