"""Webhook management under ``/api/internal``, as PlexTrac's webhook documentation shows it.

Documented: ``GET /api/internal/webhookevents`` (the events one may subscribe to), ``POST
/api/internal/webhooks`` with ``{clientCuids, name, url, sslVerification, events, enabled,
secret}``, and a list with ``GET /api/internal/webhooks``. The documentation also names an
update by PATCH, a test POST, a DELETE and a log GET without showing their paths; the sandbox
serves them as ``PATCH``/``DELETE /api/internal/webhooks/{cuid}``, ``POST
/api/internal/webhooks/{cuid}/test`` and ``GET /api/internal/webhooks/{cuid}/logs``.

Only ``ReportPublished`` is a documented event identifier, so it is the one event offered and
sent (when a report's status becomes Published). Managing webhooks takes the tenant ADMIN
role, and the sandbox option ``webhooks=False`` answers 403 as an account without the webhook
feature would. Answers never show a secret: ``secret`` reads ``null`` or ``"********"``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .access import tenant_role
from .auth import authenticated
from .delivery import Dispatcher
from .replies import ApiError, bad_request, json_object, not_found, string_list, text_field
from .state import PlexTracState, state_of

EVENTS = {"ReportPublished": "A report's status changed to Published"}
MASK = "********"
_FIELDS = ("clientCuids", "name", "url", "sslVerification", "events", "enabled", "secret")


def view(webhook: dict[str, Any]) -> dict[str, Any]:
    """A webhook as the API shows it, its secret masked."""
    return {**webhook, "secret": MASK if webhook["secret"] else None}


def _admin(request: Request, user: dict[str, Any]) -> PlexTracState:
    state = state_of(request)
    if not state.options.webhooks:
        raise ApiError(403, "Webhooks are not enabled for this instance")
    if tenant_role(user) != "ADMIN":
        raise ApiError(403, "Insufficient permissions: managing webhooks needs ADMIN")
    return state


def _validated(state: PlexTracState, body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise bad_request(f'"{unknown[0]}" is not allowed')
    fields: dict[str, Any] = {}
    name = text_field(body, "name", required=creating or "name" in body)
    if name is not None:
        fields["name"] = name
    url = text_field(body, "url", required=creating or "url" in body)
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request('"url" must be a valid http or https uri')
        fields["url"] = url
    events = string_list(body, "events")
    if events is not None:
        wrong = [e for e in events if e not in EVENTS]
        if wrong or not events:
            raise bad_request(f'"events" must name some of [{", ".join(EVENTS)}]')
        fields["events"] = list(dict.fromkeys(events))
    elif creating:
        raise bad_request('"events" is required')
    clients = string_list(body, "clientCuids")
    if clients is not None:
        known = {c["cuid"] for c in state.clients.values()}
        if any(c not in known for c in clients):
            raise bad_request('"clientCuids" must name clients of this tenant (empty: all)')
        fields["clientCuids"] = clients
    for flag in ("sslVerification", "enabled"):
        if body.get(flag) is not None:
            if not isinstance(body[flag], bool):
                raise bad_request(f'"{flag}" must be a boolean')
            fields[flag] = body[flag]
    if "secret" in body:
        fields["secret"] = text_field(body, "secret") or None
    return fields


def _webhook(state: PlexTracState, request: Request) -> dict[str, Any]:
    webhook = state.webhooks.get(request.path_params["cuid"])
    if webhook is None:
        raise not_found("Webhook")
    return webhook


@authenticated
async def list_events(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/internal/webhookevents``: ``[{event, description}]``."""
    _admin(request, user)
    return JSONResponse([{"event": e, "description": d} for e, d in EVENTS.items()])


@authenticated
async def list_webhooks(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/internal/webhooks``: every webhook of the tenant, oldest first."""
    state = _admin(request, user)
    return JSONResponse([view(w) for w in state.webhooks.values()])


@authenticated
async def create_webhook(request: Request, user: dict[str, Any]) -> Response:
    """``POST /api/internal/webhooks``: the new webhook."""
    state = _admin(request, user)
    fields = _validated(state, await json_object(request), creating=True)
    now = state.now_ms()
    webhook = {
        "cuid": state.new_cuid(),
        "tenantId": state.tenant_id,
        "clientCuids": [],
        "sslVerification": True,
        "enabled": True,
        "secret": None,
        **fields,
        "createdAt": now,
        "updatedAt": now,
    }
    state.webhooks[webhook["cuid"]] = webhook
    return JSONResponse(view(webhook))


@authenticated
async def update_webhook(request: Request, user: dict[str, Any]) -> Response:
    """``PATCH /api/internal/webhooks/{cuid}``: merge the given fields."""
    state = _admin(request, user)
    webhook = _webhook(state, request)
    webhook.update(_validated(state, await json_object(request), creating=False))
    webhook["updatedAt"] = state.now_ms()
    return JSONResponse(view(webhook))


@authenticated
async def delete_webhook(request: Request, user: dict[str, Any]) -> Response:
    """``DELETE /api/internal/webhooks/{cuid}``; deliveries still retrying stop."""
    state = _admin(request, user)
    del state.webhooks[_webhook(state, request)["cuid"]]
    return JSONResponse({"status": "success", "deleted": True})


@authenticated
async def test_webhook(request: Request, user: dict[str, Any]) -> Response:
    """``POST /api/internal/webhooks/{cuid}/test``: send one test notification now."""
    state = _admin(request, user)
    webhook = _webhook(state, request)
    dispatcher: Dispatcher = request.app.state.dispatcher
    (delivery,) = dispatcher.emit(
        webhook["events"][0],
        actor_cuid=user["cuid"],
        target_cuid=webhook["cuid"],
        target_type="webhook",
        text=f"Test notification for webhook {webhook['name']}",
        client_cuid=None,
        only=webhook["cuid"],
    )
    return JSONResponse({"status": "success", "delivery": delivery["id"]})


@authenticated
async def list_logs(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/internal/webhooks/{cuid}/logs``: the webhook's deliveries, oldest first."""
    state = _admin(request, user)
    webhook = _webhook(state, request)
    return JSONResponse([d for d in state.deliveries if d["webhookCuid"] == webhook["cuid"]])


def report_published(
    request: Request, user: dict[str, Any], report: dict[str, Any]
) -> list[dict[str, Any]]:
    """Send ``ReportPublished`` about ``report`` to the webhooks that listen for it."""
    state = state_of(request)
    dispatcher: Dispatcher = request.app.state.dispatcher
    client = state.clients[report["client_id"]]
    return dispatcher.emit(
        "ReportPublished",
        actor_cuid=user["cuid"],
        target_cuid=report["cuid"],
        target_type="report",
        text=f"{user['fullName']} published report {report['name']}",
        client_cuid=client["cuid"],
    )
