"""A local simulator of the Acme Tickets API (v1), for offline work and tests.

It serves ``/v1/tickets`` (list, in keyset pages; create), ``/v1/tickets/{id}`` (get,
update) and ``/v1/tickets/{id}/comments`` (add). Every request must be signed as
``acme_tickets.signing`` says, by a known key, within five minutes of the sandbox's clock;
otherwise it answers 401 with ``{"error": {"code", "message"}}``, as the API does. Tickets are
seeded from ``seed``, the same seed giving the same tickets; times are UTC, to the second.
"""

from __future__ import annotations

import base64
import hmac
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .signing import KEY_HEADER, MAX_SKEW, SIGNATURE_HEADER, TIME_HEADER, signature

DEMO_KEY_ID = "demo"
DEMO_SECRET = "acme-demo-secret-7f3c91d2"
DEMO_CREDENTIALS = f"key id {DEMO_KEY_ID}, secret {DEMO_SECRET}"
STATUSES = ("open", "pending", "closed")
PRIORITIES = ("low", "normal", "high")
_SUBJECTS = (
    "Printer on floor 2 jams",
    "VPN drops every hour",
    "New starter needs a laptop",
    "Password reset for the wiki",
    "Projector in room 4 shows no image",
    "Shared drive is full",
    "Phone extension 7868 has no tone",
    "Badge reader at the side door",
)
_REQUESTERS = ("ana@example.org", "bo@example.org", "chen@example.org", "dee@example.org")
_SEEDED_FROM = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class AcmeState:
    """The sandbox's data: keys, tickets by id, comments, and the requests it answered."""

    clock: Callable[[], float]
    keys: dict[str, str] = field(default_factory=lambda: {DEMO_KEY_ID: DEMO_SECRET})
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0

    def now(self) -> str:
        """The sandbox clock's time as the API writes it."""
        return _iso(datetime.fromtimestamp(self.clock(), UTC))

    def add_ticket(
        self, subject: str, requester: str, priority: str, created_at: str
    ) -> dict[str, Any]:
        """Store a new open ticket and return it."""
        number = max(self.tickets, default=0) + 1
        ticket = {
            "id": number,
            "number": 1000 + number,
            "subject": subject,
            "body": "",
            "status": "open",
            "priority": priority,
            "requester": requester,
            "comments": 0,
            "created_at": created_at,
            "updated_at": created_at,
        }
        self.tickets[number] = ticket
        return ticket


class AcmeError(Exception):
    """An answer of the API's error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AcmeError)
    body = {"error": {"code": exc.code, "message": exc.message}}
    return JSONResponse(body, status_code=exc.status)


async def _authorized(request: Request) -> AcmeState:
    """The state, once the request's signature holds; else a 401."""
    state: AcmeState = request.app.state.sandbox
    state.requests += 1
    secret = state.keys.get(request.headers.get(KEY_HEADER, ""))
    if secret is None:
        raise AcmeError(401, "unknown_key", "Unknown API key: send the key id in X-Acme-Key")
    stamp = request.headers.get(TIME_HEADER, "")
    if not stamp.isdigit() or abs(int(stamp) - state.clock()) > MAX_SKEW:
        raise AcmeError(401, "stale_request", "The request's timestamp is more than 5 minutes off")
    target = request.scope["raw_path"].decode("ascii")
    if request.scope["query_string"]:
        target += "?" + request.scope["query_string"].decode("ascii")
    expected = signature(secret, stamp, request.method, target, await request.body())
    if not hmac.compare_digest(expected, request.headers.get(SIGNATURE_HEADER, "")):
        raise AcmeError(401, "bad_signature", "The signature does not match the request")
    return state


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        raise AcmeError(400, "bad_json", "The body is not JSON") from None
    if not isinstance(data, dict):
        raise AcmeError(400, "bad_json", "The body must be a JSON object")
    return data


def _ticket(state: AcmeState, request: Request) -> dict[str, Any]:
    ticket_id = request.path_params["id"]
    if ticket_id not in state.tickets:
        raise AcmeError(404, "not_found", f"No ticket {ticket_id}")
    return state.tickets[ticket_id]


def _choice(data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
    value = data.get(key)
    if value is not None and value not in allowed:
        raise AcmeError(422, "invalid", f"{key} must be one of {', '.join(allowed)}")
    return value


def _seek(token: str) -> tuple[str, int]:
    try:
        created_at, ticket_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(created_at), int(ticket_id)
    except (ValueError, TypeError):
        raise AcmeError(400, "bad_seek", "The seek token is not one this API gave") from None


def _token(ticket: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(
        json.dumps([ticket["created_at"], ticket["id"]]).encode()
    ).decode()


async def list_tickets(request: Request) -> Response:
    """GET /v1/tickets: oldest first, filtered by status and creation time, in keyset pages."""
    state = await _authorized(request)
    query = request.query_params
    status = _choice(dict(query), "status", STATUSES)
    since = query.get("created_since")
    per_page = int(query.get("per_page", "20")) if query.get("per_page", "20").isdigit() else 0
    if not 1 <= per_page <= 50:
        raise AcmeError(422, "invalid", "per_page must be a number from 1 to 50")
    found = sorted(state.tickets.values(), key=lambda t: (t["created_at"], t["id"]))
    found = [
        t
        for t in found
        if (status is None or t["status"] == status) and (since is None or t["created_at"] >= since)
    ]
    if "seek" in query:
        after = _seek(query["seek"])
        found = [t for t in found if (t["created_at"], t["id"]) > after]
    page = found[:per_page]
    headers = {"Acme-Next-Seek": _token(page[-1])} if len(found) > per_page else {}
    return JSONResponse({"tickets": page}, headers=headers)


async def create_ticket(request: Request) -> Response:
    """POST /v1/tickets: a new open ticket."""
    state = await _authorized(request)
    data = await _json(request)
    subject, requester = data.get("subject"), data.get("requester")
    if not isinstance(subject, str) or not subject.strip():
        raise AcmeError(422, "invalid", "subject is required")
    if not isinstance(requester, str) or "@" not in requester:
        raise AcmeError(422, "invalid", "requester must be an email address")
    priority = _choice(data, "priority", PRIORITIES) or "normal"
    ticket = state.add_ticket(subject.strip(), requester, priority, state.now())
    ticket["body"] = str(data.get("body") or "")
    return JSONResponse({"ticket": ticket}, status_code=201)


async def get_ticket(request: Request) -> Response:
    """GET /v1/tickets/{id}."""
    state = await _authorized(request)
    return JSONResponse({"ticket": _ticket(state, request)})


async def update_ticket(request: Request) -> Response:
    """PATCH /v1/tickets/{id}: a new status or priority."""
    state = await _authorized(request)
    ticket = _ticket(state, request)
    data = await _json(request)
    changes = {
        "status": _choice(data, "status", STATUSES),
        "priority": _choice(data, "priority", PRIORITIES),
    }
    ticket.update({key: value for key, value in changes.items() if value is not None})
    ticket["updated_at"] = state.now()
    return JSONResponse({"ticket": ticket})


async def add_comment(request: Request) -> Response:
    """POST /v1/tickets/{id}/comments: a comment, which also marks the ticket updated."""
    state = await _authorized(request)
    ticket = _ticket(state, request)
    body = (await _json(request)).get("body")
    if not isinstance(body, str) or not body.strip():
        raise AcmeError(422, "invalid", "body is required")
    comment = {
        "id": len(state.comments) + 1,
        "ticket_id": ticket["id"],
        "body": body,
        "created_at": state.now(),
    }
    state.comments.append(comment)
    ticket["comments"] += 1
    ticket["updated_at"] = comment["created_at"]
    return JSONResponse({"comment": comment}, status_code=201)


def create_app(
    *, seed: int = 0, ticket_count: int = 12, clock: Callable[[], float] = time.time
) -> Starlette:
    """A fresh sandbox with ``ticket_count`` seeded tickets; its state is ``app.state.sandbox``.

    ``clock`` gives the time in Unix seconds: it stamps new tickets and decides whether a
    signature is still good.
    """
    rng = random.Random(seed)
    state = AcmeState(clock)
    moment = _SEEDED_FROM
    for _ in range(ticket_count):
        moment += timedelta(hours=rng.randint(1, 5))
        ticket = state.add_ticket(
            rng.choice(_SUBJECTS), rng.choice(_REQUESTERS), rng.choice(PRIORITIES), _iso(moment)
        )
        ticket["status"] = rng.choice(("open", "open", "pending", "closed"))
    app = Starlette(
        routes=[
            Route("/v1/tickets", list_tickets, methods=["GET"]),
            Route("/v1/tickets", create_ticket, methods=["POST"]),
            Route("/v1/tickets/{id:int}", get_ticket, methods=["GET"]),
            Route("/v1/tickets/{id:int}", update_ticket, methods=["PATCH"]),
            Route("/v1/tickets/{id:int}/comments", add_comment, methods=["POST"]),
        ],
        exception_handlers={AcmeError: _error},
    )
    app.state.sandbox = state
    return app


def demo_connection(base_url: str) -> dict[str, Any]:
    """Connection values for the demo key against a sandbox served at ``base_url``."""
    return {"base_url": base_url.rstrip("/"), "key_id": DEMO_KEY_ID, "secret": DEMO_SECRET}
