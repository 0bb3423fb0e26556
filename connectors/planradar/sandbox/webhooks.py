"""Webhook management: a sandbox addition (the real platform configures webhooks in its web app,
under Settings > Account > Webhooks, and has no API for them).

``GET/POST /api/v1/{cid}/webhooks``, ``GET/DELETE /api/v1/{cid}/webhooks/{id}`` and
``GET /api/v1/{cid}/webhooks/{id}/deliveries`` (the delivery log). As in the app (Settings >
Account > Webhooks), only the account holder may manage webhooks; others get 403. A webhook
has a target URL, events (``ticket.created``, ``ticket.updated``, ``ticket.image_attached``),
projects to watch (none listed: all), optional HTTP Basic credentials and extra static
headers. The password and hidden header values are never shown again after saving: answers
show ``********`` in their place.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hookline.errors import ConfigurationError

from .access import ApiError, Caller, invalid
from .resources import list_document, page_of, page_params, read_attributes, resource
from .state import EVENTS, Delivery, Header, SandboxState, Webhook, iso

MASK = "********"

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_RESERVED = {"host", "content-length", "content-type", "transfer-encoding", "connection"}


def webhook_resource(webhook: Webhook) -> dict[str, Any]:
    """A webhook as the management API shows it, secrets masked."""
    return resource(
        "webhooks",
        webhook.id,
        {
            "description": webhook.description,
            "target-url": webhook.target_url,
            "events": list(webhook.events),
            "project-ids": list(webhook.project_ids),
            "all-projects": not webhook.project_ids,
            "auth-username": webhook.username,
            "auth-password": MASK if webhook.password is not None else None,
            "headers": [
                {"name": h.name, "value": MASK if h.hidden else h.value, "hidden": h.hidden}
                for h in webhook.headers
            ],
            "created-at": webhook.created_at,
        },
    )


def delivery_resource(delivery: Delivery) -> dict[str, Any]:
    """One entry of a webhook's delivery log."""
    return resource(
        "webhook-deliveries",
        delivery.id,
        {
            "event": delivery.event,
            "ticket-uuid": delivery.ticket_uuid,
            "status": delivery.status,
            "attempts": [
                {"number": a.number, "at": a.at, "status-code": a.status_code, "error": a.error}
                for a in delivery.attempts
            ],
            "payload": delivery.payload,
        },
    )


async def list_webhooks(request: Request, caller: Caller) -> Response:
    """``GET /api/v1/{cid}/webhooks``."""
    _require_holder(caller)
    page, pagesize = page_params(request, default=100, maximum=500)
    webhooks = list(caller.state.webhooks.values())
    items = [webhook_resource(w) for w in page_of(webhooks, page, pagesize)]
    return JSONResponse(list_document(items, count=len(webhooks), page=page))


async def get_webhook(request: Request, caller: Caller) -> Response:
    """``GET /api/v1/{cid}/webhooks/{id}``."""
    return JSONResponse({"data": webhook_resource(_webhook(request, caller))})


async def create_webhook(request: Request, caller: Caller) -> Response:
    """``POST /api/v1/{cid}/webhooks``: 201 with the webhook, secrets masked."""
    _require_holder(caller)
    given = await read_attributes(request)
    state = caller.state
    webhook = _validated(given, state)
    state.webhooks[webhook.id] = webhook
    return JSONResponse({"data": webhook_resource(webhook)}, status_code=201)


async def delete_webhook(request: Request, caller: Caller) -> Response:
    """``DELETE /api/v1/{cid}/webhooks/{id}``: 204; deliveries still retrying stop."""
    webhook = _webhook(request, caller)
    del caller.state.webhooks[webhook.id]
    return Response(status_code=204)


async def list_deliveries(request: Request, caller: Caller) -> Response:
    """``GET /api/v1/{cid}/webhooks/{id}/deliveries``: the delivery log, oldest first."""
    webhook = _webhook(request, caller)
    page, pagesize = page_params(request, default=100, maximum=500)
    deliveries = [d for d in caller.state.deliveries if d.webhook_id == webhook.id]
    items = [delivery_resource(d) for d in page_of(deliveries, page, pagesize)]
    return JSONResponse(list_document(items, count=len(deliveries), page=page))


def configured_webhook(given: dict[str, Any], state: SandboxState) -> Webhook:
    """A webhook from the ``webhooks`` option of ``create_app``: the same rules as the API."""
    try:
        return _validated(given, state)
    except ApiError as exc:
        problems = "; ".join(
            f"{e['source']['pointer'].rsplit('/', 1)[-1]} {e['detail']}" for e in exc.errors
        )
        raise ConfigurationError(f"planradar sandbox: option webhooks: {problems}") from None


def _require_holder(caller: Caller) -> None:
    if not caller.user.account_holder:
        raise ApiError(403, "Forbidden", "only the account holder may manage webhooks")


def _webhook(request: Request, caller: Caller) -> Webhook:
    _require_holder(caller)
    webhook = caller.state.webhooks.get(request.path_params["webhook_id"])
    if webhook is None:
        raise ApiError(
            404, "Webhook Not Found", f"no webhook {request.path_params['webhook_id']!r}"
        )
    return webhook


def _validated(given: dict[str, Any], state: SandboxState) -> Webhook:
    problems: list[tuple[str, str]] = []
    url = given.get("target-url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(("target-url", "must be an absolute http or https URL"))
    events = given.get("events")
    if not isinstance(events, list) or not events or any(e not in EVENTS for e in events):
        problems.append(("events", f"must be a non-empty list of {', '.join(EVENTS)}"))
        events = []
    project_ids = given.get("project-ids") or []
    if not isinstance(project_ids, list) or any(p not in state.projects for p in project_ids):
        problems.append(("project-ids", "must list projects of this account (empty: all)"))
        project_ids = []
    username, password = given.get("auth-username"), given.get("auth-password")
    if (username is None) != (password is None) or not all(
        v is None or isinstance(v, str) for v in (username, password)
    ):
        problems.append(("auth-username", "HTTP Basic needs both a username and a password"))
    description = given.get("description", "")
    if not isinstance(description, str):
        problems.append(("description", "must be a text"))
    headers, problem = _headers(given.get("headers") or [], basic=username is not None)
    if problem:
        problems.append(("headers", problem))
    if problems:
        raise invalid("Webhook Not Created", problems)
    return Webhook(
        id=state.new_id(),
        description=str(description),
        target_url=str(url),
        events=tuple(dict.fromkeys(events)),
        project_ids=tuple(dict.fromkeys(project_ids)),
        username=username,
        password=password,
        headers=headers,
        created_at=iso(state.clock()),
    )


def _headers(given: Any, *, basic: bool) -> tuple[tuple[Header, ...], str | None]:
    if not isinstance(given, list):
        return (), 'must be a list of {"name", "value", "hidden"} objects'
    headers: list[Header] = []
    for item in given:
        if not isinstance(item, dict):
            return (), 'must be a list of {"name", "value", "hidden"} objects'
        name, value, hidden = item.get("name"), item.get("value"), item.get("hidden", False)
        if not isinstance(name, str) or not _TOKEN.match(name):
            return (), f"{name!r} is not a valid header name"
        if name.lower() in _RESERVED or (basic and name.lower() == "authorization"):
            return (), f"{name} is set by the sender and cannot be configured"
        if not isinstance(value, str) or "\n" in value or "\r" in value:
            return (), f"the value of {name} must be a single-line text"
        if not isinstance(hidden, bool):
            return (), f"hidden of {name} must be true or false"
        if any(h.name.lower() == name.lower() for h in headers):
            return (), f"{name} is configured twice"
        headers.append(Header(name=name, value=value, hidden=hidden))
    return tuple(headers), None
