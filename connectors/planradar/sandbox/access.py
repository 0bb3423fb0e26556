"""Who may call what: token auth, the rate limit, the account in the path, and error bodies.

Every API endpoint is wrapped by ``endpoint``, which checks in this order:

1. ``X-PlanRadar-API-Key`` names a known personal access token, else **401**;
2. the account's rate budget admits the call, else **429** (every authenticated call counts);
3. the token's user has the "API access" permission, else **403**;
4. ``{customer_id}`` in the path is the token's account, else **403** (the same answer whether
   or not that account exists, so account ids cannot be probed);
5. where the platform documents 406, the ``Accept`` header allows JSON, else **406**.

Errors use one JSON:API shape (the platform publishes none):
``{"errors": [{"status": "404", "title": "Ticket Not Found", "detail": "…"}]}``, with a
``source.pointer`` on validation errors.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .state import Project, SandboxState, Ticket, User

API_KEY_HEADER = "X-PlanRadar-API-Key"

_JSON_MEDIA = {"*/*", "application/*", "application/json", "application/vnd.api+json"}


def error_object(
    status: int, title: str, detail: str, pointer: str | None = None
) -> dict[str, Any]:
    """One JSON:API error object."""
    error: dict[str, Any] = {"status": str(status), "title": title, "detail": detail}
    if pointer is not None:
        error["source"] = {"pointer": pointer}
    return error


class ApiError(Exception):
    """An error answer: status, title and detail, or several error objects for validation."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        pointer: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.errors = errors or [error_object(status, title, detail, pointer)]
        self.headers = headers or {}


def invalid(title: str, problems: list[tuple[str, str]]) -> ApiError:
    """A 422 listing each ``(attribute, message)`` with a pointer into ``data.attributes``."""
    errors = [
        error_object(422, title, message, f"/data/attributes/{attribute}")
        for attribute, message in problems
    ]
    return ApiError(422, title, problems[0][1], errors=errors)


async def api_error_response(request: Request, exc: Exception) -> Response:
    """Render an ``ApiError`` in the sandbox's error shape."""
    assert isinstance(exc, ApiError)
    return JSONResponse({"errors": exc.errors}, status_code=exc.status, headers=exc.headers)


async def http_error_response(request: Request, exc: Exception) -> Response:
    """Render routing errors (unknown path, wrong method) in the same error shape."""
    assert isinstance(exc, HTTPException)
    titles = {404: "Not Found", 405: "Method Not Allowed"}
    title = titles.get(exc.status_code, "Error")
    detail = f"{request.method} {request.url.path}: {title.lower()}"
    body = {"errors": [error_object(exc.status_code, title, detail)]}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def accepts_json(header: str | None) -> bool:
    """Whether an ``Accept`` header allows a JSON answer (no header allows anything)."""
    if not header or not header.strip():
        return True
    for part in header.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.lower() in _JSON_MEDIA and quality > 0:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user of a request, with lookups scoped to what that user may see."""

    user: User
    state: SandboxState

    def project(self, project_id: str) -> Project:
        """A project the user is a member of, else 404 "Project Not Found"."""
        project = self.state.projects.get(project_id)
        if project is None or project_id not in self.user.project_ids:
            raise ApiError(
                404, "Project Not Found", f"no project {project_id!r} visible to this user"
            )
        return project

    def projects(self, project_id: str) -> list[Project]:
        """The project named, or with ``0`` every project the user is a member of."""
        if project_id == "0":
            return [p for p in self.state.projects.values() if p.id in self.user.project_ids]
        return [self.project(project_id)]

    def ticket(self, project: Project, ticket_uuid: str, title: str = "Ticket Not Found") -> Ticket:
        """A ticket of ``project`` by UUID, else 404 with ``title``."""
        ticket = self.state.tickets.get(ticket_uuid)
        if ticket is None or ticket.project_id != project.id:
            raise ApiError(404, title, f"no ticket {ticket_uuid!r} in project {project.id!r}")
        return ticket


Handler = Callable[[Request, Caller], Awaitable[Response]]


def endpoint(
    handler: Handler, *, check_accept: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap ``handler`` with the access checks of the module docstring, in that order."""

    async def run(request: Request) -> Response:
        state: SandboxState = request.app.state.sandbox
        token = request.headers.get(API_KEY_HEADER, "")
        user_id = state.tokens.get(token)
        if user_id is None:
            raise ApiError(
                401, "Unauthorized", f"missing or unknown personal access token in {API_KEY_HEADER}"
            )
        wait = state.limiter.admit(state.customer_id)
        if wait is not None:
            raise _too_many_requests(state, wait)
        user = state.users[user_id]
        if not user.api_access:
            raise ApiError(403, "Forbidden", "the user of this token has no API access permission")
        if request.path_params.get("customer_id") != state.customer_id:
            raise ApiError(403, "Forbidden", "the token does not belong to this customer account")
        if check_accept and not accepts_json(request.headers.get("accept")):
            raise ApiError(
                406, "Unsupported Accept Header", "this endpoint answers application/json"
            )
        return await handler(request, Caller(user=user, state=state))

    return run


def _too_many_requests(state: SandboxState, wait: float) -> ApiError:
    limiter = state.limiter
    detail = f"the account exceeded {limiter.limit} requests per {limiter.window:g} seconds" + (
        f" and is in a {limiter.cooldown:g}-second cooldown" if limiter.cooldown else ""
    )
    headers = {"Retry-After": str(max(1, math.ceil(wait)))} if limiter.retry_after else {}
    return ApiError(429, "Too Many Requests", detail, headers=headers)
