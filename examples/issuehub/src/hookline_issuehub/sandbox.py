"""A local simulator of the Issuehub API, for offline work and tests.

It serves the issues of one repository, ``octo/hello``, as GitHub's REST API serves them:
``GET/POST /repos/{owner}/{repo}/issues`` (a list paged by ``page`` and ``per_page`` with an
RFC 8288 ``Link`` header, filtered by ``state`` and ``since``), ``GET/PATCH
.../issues/{number}`` and ``POST .../issues/{number}/comments``. Every request must carry the
demo token as ``Authorization: Bearer TOKEN``. Every answer carries ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``; once the window's budget is spent the
API answers 403, as GitHub does, not 429. Times are UTC to the second, from ``clock``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEMO_TOKEN = "demo-token-issuehub"
DEMO_CREDENTIALS = f"Authorization: Bearer {DEMO_TOKEN}"
REPOSITORY = ("octo", "hello")
SEEDED_START = datetime(2026, 1, 1, 9, tzinfo=UTC).timestamp()
DAY = 86400
MAX_TITLE = 256


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class IssuehubState:
    """What the sandbox holds: issues by number, comments, and the rate-limit window."""

    clock: Callable[[], float]
    rate_limit: int
    window: int
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    used: int = 0
    reset: int = 0

    def now(self) -> str:
        """The sandbox clock's time as the API writes it."""
        return _iso(self.clock())

    def spend(self) -> tuple[bool, dict[str, str]]:
        """Count one request; whether the budget allowed it, and the rate-limit headers."""
        now = int(self.clock())
        if now >= self.reset:
            self.used, self.reset = 0, now + self.window
        allowed = self.used < self.rate_limit
        self.used += allowed
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(self.rate_limit - self.used),
            "X-RateLimit-Reset": str(self.reset),
        }
        return allowed, headers

    def file(self, title: str, body: str | None, labels: list[str], at: str) -> dict[str, Any]:
        """Store a new open issue stamped ``at``."""
        number = max(self.issues, default=0) + 1
        issue = {
            "id": 1000 + number,
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "labels": labels,
            "comments": 0,
            "created_at": at,
            "updated_at": at,
        }
        self.issues[number] = issue
        self.comments[number] = []
        return issue


def _json(headers: dict[str, str], body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def _guarded(
    handler: Callable[[Request, IssuehubState, dict[str, str]], Any],
) -> Callable[[Request], Any]:
    """Answer only an authenticated request, within the budget, for the known repository."""

    async def endpoint(request: Request) -> Response:
        state: IssuehubState = request.app.state.sandbox
        if request.headers.get("authorization") != f"Bearer {DEMO_TOKEN}":
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        allowed, headers = state.spend()
        if not allowed:
            message = "API rate limit exceeded for this token."
            return _json(headers, {"message": message}, 403)
        if (request.path_params["owner"], request.path_params["repo"]) != REPOSITORY:
            return _json(headers, {"message": "Not Found"}, 404)
        response: Response = await handler(request, state, headers)
        return response

    return endpoint


def _since(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _invalid(headers: dict[str, str], problem: str) -> Response:
    return _json(headers, {"message": "Validation Failed", "errors": [problem]}, 422)


async def list_issues(request: Request, state: IssuehubState, headers: dict[str, str]) -> Response:
    """GET .../issues?state=&since=&sort=&direction=&page=&per_page=."""
    query = request.query_params
    wanted = query.get("state", "open")
    sort = query.get("sort", "created")
    if wanted not in ("open", "closed", "all") or sort not in ("created", "updated"):
        return _invalid(headers, "state or sort is not one of the allowed values")
    since = _since(query["since"]) if "since" in query else None
    if "since" in query and since is None:
        return _invalid(headers, "since is not an ISO 8601 time")
    issues = [
        issue
        for issue in state.issues.values()
        if wanted in ("all", issue["state"])
        and (since is None or datetime.fromisoformat(issue["updated_at"]).timestamp() >= since)
    ]
    issues.sort(key=lambda i: (i[f"{sort}_at"], i["number"]))
    if query.get("direction", "desc") == "desc":
        issues.reverse()
    size = min(int(query.get("per_page", "30")), 100)
    page = int(query.get("page", "1"))
    last = max(1, -(-len(issues) // size))
    if page < last:
        params = {**query, "page": str(page + 1), "per_page": str(size)}
        following = request.url.replace(query=urlencode(params))
        headers = {**headers, "Link": f'<{following}>; rel="next"'}
    return _json(headers, issues[(page - 1) * size : page * size])


async def get_issue(request: Request, state: IssuehubState, headers: dict[str, str]) -> Response:
    """GET .../issues/{number}."""
    issue = state.issues.get(request.path_params["number"])
    if issue is None:
        return _json(headers, {"message": "Not Found"}, 404)
    return _json(headers, issue)


async def create_issue(request: Request, state: IssuehubState, headers: dict[str, str]) -> Response:
    """POST .../issues."""
    body = await request.json()
    title = body.get("title")
    if not isinstance(title, str) or not 0 < len(title) <= MAX_TITLE:
        return _invalid(headers, f"title must be 1 to {MAX_TITLE} characters")
    issue = state.file(title, body.get("body"), list(body.get("labels", [])), state.now())
    return _json(headers, issue, 201)


async def update_issue(request: Request, state: IssuehubState, headers: dict[str, str]) -> Response:
    """PATCH .../issues/{number}: only the members given change."""
    issue = state.issues.get(request.path_params["number"])
    if issue is None:
        return _json(headers, {"message": "Not Found"}, 404)
    body = await request.json()
    if body.get("state", "open") not in ("open", "closed"):
        return _invalid(headers, "state must be open or closed")
    if len(body.get("title", "")) > MAX_TITLE:
        return _invalid(headers, f"title must be 1 to {MAX_TITLE} characters")
    for key in ("title", "body", "state", "labels"):
        if key in body:
            issue[key] = body[key]
    issue["updated_at"] = state.now()
    return _json(headers, issue)


async def add_comment(request: Request, state: IssuehubState, headers: dict[str, str]) -> Response:
    """POST .../issues/{number}/comments."""
    number = request.path_params["number"]
    issue = state.issues.get(number)
    if issue is None:
        return _json(headers, {"message": "Not Found"}, 404)
    text = (await request.json()).get("body")
    if not isinstance(text, str) or not text:
        return _invalid(headers, "body is missing")
    now = state.now()
    comment = {
        "id": 5000 + sum(map(len, state.comments.values())) + 1,
        "body": text,
        "created_at": now,
    }
    state.comments[number].append(comment)
    issue["comments"] += 1
    issue["updated_at"] = now
    return _json(headers, comment, 201)


def create_app(
    *,
    seed: int = 0,
    issue_count: int = 3,
    rate_limit: int = 5000,
    window: int = 3600,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """A fresh sandbox whose ``octo/hello`` holds ``issue_count`` issues (``app.state.sandbox``).

    Seeded issue ``n`` was filed on day ``n`` of 2026 at 09:00 UTC; every third is closed.
    ``rate_limit`` requests are allowed per ``window`` seconds of ``clock``.
    """
    state = IssuehubState(clock, rate_limit, window)
    for n in range(1, issue_count + 1):
        at = _iso(SEEDED_START + (n - 1) * DAY)
        issue = state.file(f"Issue {n}", f"Seed {seed}, issue {n}.", ["bug"] if n % 2 else [], at)
        issue["state"] = "closed" if n % 3 == 0 else "open"
    base = "/repos/{owner}/{repo}/issues"
    app = Starlette(
        routes=[
            Route(base, _guarded(list_issues), methods=["GET"]),
            Route(base, _guarded(create_issue), methods=["POST"]),
            Route(base + "/{number:int}", _guarded(get_issue), methods=["GET"]),
            Route(base + "/{number:int}", _guarded(update_issue), methods=["PATCH"]),
            Route(base + "/{number:int}/comments", _guarded(add_comment), methods=["POST"]),
        ]
    )
    app.state.sandbox = state
    return app


def demo_connection(base_url: str) -> dict[str, Any]:
    """Connection values for the demo token against a sandbox served at ``base_url``."""
    return {"base_url": base_url.rstrip("/"), "token": DEMO_TOKEN}
