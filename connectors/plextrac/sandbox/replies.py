"""PlexTrac's error shape and the small request/answer helpers every handler shares.

PlexTrac's API server answers errors with a non-2xx status and a JSON body in the Hapi/Boom
style that public clients decode: ``{"status": "error", "statusCode", "error", "message"}``
(``error`` is the HTTP reason phrase). Unknown paths and wrong methods get the same shape, so a
client never has to parse HTML. Validation messages follow Joi's wording
(``"title" is required``), which is what the real server's validator produces.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class ApiError(Exception):
    """An error answer: raised anywhere in a handler, rendered by ``on_api_error``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """The JSON error answer for ``status``."""
    body = {
        "status": "error",
        "statusCode": status,
        "error": HTTPStatus(status).phrase,
        "message": message,
    }
    return JSONResponse(body, status_code=status, headers=headers)


async def on_api_error(request: Request, exc: Exception) -> Response:
    """Render an ``ApiError``."""
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.headers)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    """Render routing errors (404 unknown path, 405 wrong method) in the platform's shape."""
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, HTTPStatus(exc.status_code).phrase, exc.headers)


def bad_request(message: str) -> ApiError:
    """A 400 for input that fails validation."""
    return ApiError(400, message)


def not_found(what: str) -> ApiError:
    """A 404 naming the missing object."""
    return ApiError(404, f"{what} not found")


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; 400 when it is not valid JSON or not an object."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise bad_request("Invalid request payload JSON format") from None
    if not isinstance(body, dict):
        raise bad_request('"value" must be of type object')
    return body


def text_field(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    """A string field of ``body``: required ones non-empty, absent optional ones None."""
    value = body.get(key)
    if value is None:
        if required:
            raise bad_request(f'"{key}" is required')
        return None
    if not isinstance(value, str):
        raise bad_request(f'"{key}" must be a string')
    if required and not value.strip():
        raise bad_request(f'"{key}" is not allowed to be empty')
    return value


def string_list(body: dict[str, Any], key: str) -> list[str] | None:
    """A list-of-strings field of ``body`` (tags, reviewers, ...); None when absent."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_request(f'"{key}" must be an array of strings')
    return list(value)


def one_of(body: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
    """A field that must be one of ``allowed``; None when absent."""
    value = body.get(key)
    if value is None:
        return None
    if value not in allowed:
        listed = ", ".join(allowed)
        raise bad_request(f'"{key}" must be one of [{listed}]')
    assert isinstance(value, str)
    return value


def label_values(body: dict[str, Any], key: str) -> list[dict[str, str]] | None:
    """A ``[{"label", "value"}]`` field (``custom_field``); None when absent."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(item, dict)
        and isinstance(item.get("label"), str)
        and isinstance(item.get("value"), str)
        for item in value
    ):
        raise bad_request(f'"{key}" must be an array of {{"label": string, "value": string}}')
    return [{"label": item["label"], "value": item["value"]} for item in value]
