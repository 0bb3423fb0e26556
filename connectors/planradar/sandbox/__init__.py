"""A local simulator of PlanRadar's REST API and outgoing webhooks.

It answers the documented paths under ``/api/v1/{customer_id}/…`` and ``/api/v2/{customer_id}/…``
with JSON:API documents (dash-case attributes), authenticates personal access tokens sent in
``X-PlanRadar-API-Key``, enforces the account-wide rate limit with its cooldown, and POSTs
webhook events to receivers. PlanRadar configures webhooks in its web app (Settings > Account >
Webhooks) and offers no API for them; the sandbox stands in for that screen with the
``webhooks`` option of ``create_app`` and a small management API of its own.
docs/sandboxes/planradar.md describes every endpoint, the seed data and where the sandbox had to
choose.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route

from hookline.errors import ConfigurationError

from . import catalog, journals, media, tickets, webhooks
from .access import ApiError, Handler, api_error_response, endpoint, http_error_response
from .data import CUSTOMER_ID, DEMO_TOKEN, build_state
from .delivery import Dispatcher
from .demo import emit_event, subscribe
from .limits import RateLimiter
from .webhooks import configured_webhook

__all__ = ["DEMO_CREDENTIALS", "create_app", "demo_connection", "emit_event", "subscribe"]

DEMO_CREDENTIALS = f"customer id {CUSTOMER_ID}, header X-PlanRadar-API-Key: {DEMO_TOKEN}"

_V1 = "/api/v1/{customer_id}"
_V2 = "/api/v2/{customer_id}"
_TICKETS = _V2 + "/projects/{project_id}/tickets"


def demo_connection(base_url: str) -> dict[str, Any]:
    """Connection values for the demo account of a sandbox served at ``base_url``."""
    return {"base_url": base_url, "customer_id": CUSTOMER_ID, "token": DEMO_TOKEN}


def _routes() -> list[Route]:
    # Only the endpoints whose documentation declares 406 check the Accept header (and the
    # sandbox's own webhook endpoints); the others ignore it, as their documentation is silent.
    def api(path: str, handler: Handler, method: str, *, accept: bool = False) -> Route:
        return Route(path, endpoint(handler, check_accept=accept), methods=[method])

    return [
        api(_V2 + "/projects", catalog.list_projects_v2, "GET", accept=True),
        api(_V1 + "/projects", catalog.list_projects_v1, "GET"),
        api(_V1 + "/projects/{project_id}", catalog.get_project, "GET", accept=True),
        api(_V1 + "/ticket_types", catalog.list_ticket_types, "GET", accept=True),
        api(
            _V2 + "/projects/{project_id}/ticket_types/ticket_type_project",
            catalog.list_project_ticket_types,
            "GET",
            accept=True,
        ),
        api(_V1 + "/projects/{project_id}/components", catalog.list_components, "GET"),
        api(_V1 + "/users", catalog.list_users, "GET"),
        api(_TICKETS, tickets.list_tickets, "GET", accept=True),
        api(_TICKETS, tickets.create_ticket, "POST"),
        api(_TICKETS + "/journals", journals.project_journals, "GET"),
        api(_TICKETS + "/{uuid}", tickets.get_ticket, "GET", accept=True),
        api(_TICKETS + "/{uuid}", tickets.update_ticket, "PUT"),
        api(_TICKETS + "/{uuid}", tickets.delete_ticket, "DELETE", accept=True),
        api(_TICKETS + "/{uuid}/journals", journals.ticket_journals, "GET"),
        api(_TICKETS + "/{uuid}/comment", journals.add_comment, "POST"),
        api(_TICKETS + "/{ticket_uuid}/attachments", media.list_attachments, "GET"),
        api(_TICKETS + "/{ticket_uuid}/attachments/{attachment_id}", media.get_attachment, "GET"),
        api(
            _V1 + "/projects/{project_id}/tickets/{ticket_uuid}/ticket_images/{image_uuid}",
            media.create_image,
            "POST",
        ),
        api(_V1 + "/webhooks", webhooks.list_webhooks, "GET", accept=True),
        api(_V1 + "/webhooks", webhooks.create_webhook, "POST", accept=True),
        api(_V1 + "/webhooks/{webhook_id}", webhooks.get_webhook, "GET", accept=True),
        api(_V1 + "/webhooks/{webhook_id}", webhooks.delete_webhook, "DELETE", accept=True),
        api(
            _V1 + "/webhooks/{webhook_id}/deliveries",
            webhooks.list_deliveries,
            "GET",
            accept=True,
        ),
        Route("/files/{image_uuid}", media.download, methods=["GET"]),
    ]


def create_app(
    *,
    seed: int = 0,
    rate_limit: int = 30,
    rate_window: float = 60.0,
    cooldown: float = 300.0,
    retry_after: bool = True,
    clock: Callable[[], float] = time.time,
    webhook_retries: int = 3,
    webhook_backoff: float = 1.0,
    webhook_timeout: float = 5.0,
    ticket_count: int = 100,
    webhooks: Sequence[Mapping[str, Any]] = (),
) -> Starlette:
    """A fresh PlanRadar sandbox app whose state (``app.state.sandbox``) is seeded from ``seed``.

    Options:

    - ``rate_limit`` calls per ``rate_window`` seconds per account, across all tokens (30 a
      minute, as documented); the call that overshoots puts the account in a ``cooldown`` of
      that many seconds (documented: 5 minutes) during which every call gets 429. ``cooldown``
      0 means no lockout: calls are refused only while the window is full.
    - ``retry_after``: send ``Retry-After`` (whole seconds) on 429; False omits it, as one
      client author reports the real platform does.
    - ``clock``: returns the current Unix time; drives the rate limit and the timestamps of new
      objects (tests pass a fake one).
    - ``webhook_retries`` further attempts after a failed delivery, waiting ``webhook_backoff``
      seconds, then twice as long each time; ``webhook_timeout`` seconds per attempt.
    - ``ticket_count``: how many tickets the seed draws.
    - ``webhooks``: webhooks configured from the start, as the web app's webhook screen would
      configure them: each a mapping of the management API's attributes (``target-url``,
      ``events``, ``project-ids``, ``description``, ``auth-username``, ``auth-password``,
      ``headers``); an invalid one raises ``ConfigurationError``.
    """
    _check_options(
        rate_limit=rate_limit,
        rate_window=rate_window,
        cooldown=cooldown,
        webhook_retries=webhook_retries,
        webhook_backoff=webhook_backoff,
        webhook_timeout=webhook_timeout,
        ticket_count=ticket_count,
    )
    limiter = RateLimiter(
        limit=rate_limit,
        window=rate_window,
        cooldown=cooldown,
        clock=clock,
        retry_after=retry_after,
    )
    state = build_state(seed=seed, clock=clock, limiter=limiter, ticket_count=ticket_count)
    for given in webhooks:
        webhook = configured_webhook(dict(given), state)
        state.webhooks[webhook.id] = webhook
    dispatcher = Dispatcher(
        state, retries=webhook_retries, backoff=webhook_backoff, timeout=webhook_timeout
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()

    app = Starlette(
        routes=_routes(),
        exception_handlers={ApiError: api_error_response, HTTPException: http_error_response},
        lifespan=lifespan,
    )
    app.state.sandbox = state
    app.state.dispatcher = dispatcher
    return app


def _check_options(**options: float) -> None:
    minimums = {
        "rate_limit": 1,
        "rate_window": 0.001,
        "cooldown": 0,
        "webhook_retries": 0,
        "webhook_backoff": 0,
        "webhook_timeout": 0.001,
        "ticket_count": 0,
    }
    for name, value in options.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimums[name]:
            raise ConfigurationError(
                f"planradar sandbox: option {name} must be a number of at least "
                f"{minimums[name]:g}, got {value!r}"
            )
    for name in ("rate_limit", "webhook_retries", "ticket_count"):
        if not isinstance(options[name], int):
            raise ConfigurationError(
                f"planradar sandbox: option {name} must be a whole number, got {options[name]!r}"
            )
