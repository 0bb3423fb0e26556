"""A local PlexTrac instance: the REST API a connector uses, with PlexTrac's auth rules.

``create_app`` builds a Starlette app holding one seeded tenant (see ``data``); its state is
``app.state.sandbox`` (a ``PlexTracState``). The modules follow the API's concepts: ``auth``
(login, MFA, refresh, token checks), ``access`` (roles), ``users``, ``clients``, ``reports``,
``findings``, ``assets``, ``uploads``, ``assessments``, ``tags``; ``paging`` is the v2 list
protocol and ``replies`` the error shape. docs/sandboxes/plextrac.md describes the simulated API.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hookline.errors import ConfigurationError

from . import (
    assessments,
    assets,
    auth,
    clients,
    data,
    findings,
    reports,
    tags,
    uploads,
    users,
    webhooks,
)
from .data import DEMO_PASSWORD, DEMO_USERS, MFA_SECRET
from .delivery import Dispatcher
from .replies import ApiError, on_api_error, on_http_exception
from .state import Options, PlexTracState

__all__ = ["DEMO_CREDENTIALS", "create_app", "demo_connection"]

DEMO_CREDENTIALS = (
    f"username demo@example.com, password {DEMO_PASSWORD} (ADMIN); "
    f"MFA user mfa@example.com, same password, TOTP secret {MFA_SECRET}; "
    "also std.user@example.com (STD_USER) and analyst@example.com (ANALYST)"
)

_CLIENT = "/api/v1/client/{client_id:int}"
_REPORT = _CLIENT + "/report/{report_id:int}"
_TENANT_V1 = "/api/v1/tenant/{tenant_id:int}"
_ASSESSMENT_V1 = _TENANT_V1 + "/client/{client_id:int}/assessment"


async def _root(request: Request) -> Response:
    return JSONResponse({"text": "Authenticate at /authenticate"})


ROUTES = [
    Route("/api/v1/", _root, methods=["GET"]),
    Route("/api/v1/authenticate", auth.authenticate, methods=["POST"]),
    Route("/api/v1/authenticate/mfa", auth.authenticate_mfa, methods=["POST"]),
    Route("/api/v1/token/refresh", auth.refresh_token, methods=["PUT"]),
    Route("/api/v1/user/whoami", users.whoami_v1, methods=["GET"]),
    Route("/api/v2/whoami", users.whoami_v2, methods=["GET"]),
    Route("/api/v2/tenants/{tenant_id:int}/users", users.list_tenant_users, methods=["GET"]),
    Route(_TENANT_V1 + "/user/list", users.list_tenant_users_legacy, methods=["GET"]),
    Route("/api/v1/client/list", clients.list_rows, methods=["GET"]),
    Route("/api/v1/client/create", clients.create_client, methods=["POST"]),
    Route("/api/v2/clients", clients.list_paged, methods=["POST"]),
    Route(_CLIENT, clients.get_client, methods=["GET"]),
    Route(_CLIENT, clients.update_client, methods=["PUT"]),
    Route(_CLIENT, clients.delete_client, methods=["DELETE"]),
    Route(_CLIENT + "/reports", reports.list_rows, methods=["GET"]),
    Route(_CLIENT + "/report/create", reports.create_report, methods=["POST"]),
    Route("/api/v2/reports", reports.list_paged, methods=["POST"]),
    Route(_REPORT, reports.get_report, methods=["GET"]),
    Route(_REPORT, reports.update_report, methods=["PUT"]),
    Route(_REPORT, reports.delete_report, methods=["DELETE"]),
    Route(_CLIENT + "/assets", assets.list_assets, methods=["GET"]),
    Route(_CLIENT + "/asset/{asset_id}", assets.get_asset, methods=["GET"]),
    Route(_CLIENT + "/asset/{asset_id}", assets.put_asset, methods=["PUT"]),
    Route(_CLIENT + "/asset/{asset_id}", assets.delete_asset, methods=["DELETE"]),
    Route(_REPORT + "/flaws", findings.list_rows, methods=["GET"]),
    Route(_REPORT + "/flaw/create", findings.create_finding, methods=["POST"]),
    Route(_REPORT + "/flaw/{flaw_id:int}", findings.get_finding, methods=["GET"]),
    Route(_REPORT + "/flaw/{flaw_id:int}", findings.update_finding, methods=["PUT"]),
    Route(_REPORT + "/flaw/{flaw_id:int}", findings.delete_finding, methods=["DELETE"]),
    Route(
        "/api/v2/clients/{client_id:int}/reports/{report_id:int}/findings",
        findings.list_report_paged,
        methods=["POST"],
    ),
    Route("/api/v2/client/{client_id:int}/findings", findings.list_client_paged, methods=["POST"]),
    Route("/api/v1/uploads", uploads.upload_image, methods=["POST"]),
    Route("/api/v1/uploads/{name}", uploads.get_upload, methods=["GET"]),
    Route(
        _TENANT_V1 + "/client/{client_id:int}/assessments",
        assessments.list_assessments,
        methods=["GET"],
    ),
    Route(_ASSESSMENT_V1, assessments.create_assessment, methods=["POST"]),
    Route(_ASSESSMENT_V1 + "/{assess_id:int}", assessments.get_assessment, methods=["GET"]),
    Route(_ASSESSMENT_V1 + "/{assess_id:int}", assessments.delete_assessment, methods=["DELETE"]),
    Route(
        "/api/v2/tenants/{tenant_id:int}/clients/{client_id:int}/assessments/{assess_id:int}",
        assessments.get_assessment,
        methods=["GET"],
    ),
    Route(_TENANT_V1 + "/tag", tags.list_tags, methods=["GET"]),
    Route(_TENANT_V1 + "/tag", tags.create_tag, methods=["POST"]),
    Route(_TENANT_V1 + "/tag/{tag_id}", tags.delete_tag, methods=["DELETE"]),
    Route("/api/internal/webhookevents", webhooks.list_events, methods=["GET"]),
    Route("/api/internal/webhooks", webhooks.list_webhooks, methods=["GET"]),
    Route("/api/internal/webhooks", webhooks.create_webhook, methods=["POST"]),
    Route("/api/internal/webhooks/{cuid}", webhooks.update_webhook, methods=["PATCH"]),
    Route("/api/internal/webhooks/{cuid}", webhooks.delete_webhook, methods=["DELETE"]),
    Route("/api/internal/webhooks/{cuid}/test", webhooks.test_webhook, methods=["POST"]),
    Route("/api/internal/webhooks/{cuid}/logs", webhooks.list_logs, methods=["GET"]),
]


def create_app(
    *,
    seed: int = 0,
    token_lifetime: int = 900,
    auth_rate_limit: int | None = 10,
    auth_rate_window: float = 60.0,
    mfa_challenge_lifetime: int = 300,
    clock: Callable[[], float] = time.time,
    webhooks_enabled: bool = True,
    webhook_retries: int = 5,
    webhook_backoff: float = 1.0,
    webhook_timeout: float = 5.0,
) -> Starlette:
    """A fresh PlexTrac sandbox seeded from ``seed``.

    Options:
      token_lifetime: seconds a session token and cookie stay valid (PlexTrac: 15 minutes).
      auth_rate_limit: authentication requests allowed per instance in ``auth_rate_window``
        seconds, counted whoever sends them and whether they succeed (PlexTrac: 10 a minute);
        ``None`` or 0 turns the limit off.
      auth_rate_window: the sliding window of that limit, in seconds.
      mfa_challenge_lifetime: seconds the ``code`` of an MFA login's first step stays usable.
      clock: returns the current Unix time in seconds; tests pass a settable one to expire
        tokens and step TOTP codes without sleeping.
      webhooks_enabled: whether the instance has the webhook feature; without it the
        ``/api/internal/webhooks`` endpoints answer 403.
      webhook_retries: further attempts after a failed webhook delivery (PlexTrac: 5), waiting
        ``webhook_backoff`` seconds, then twice as long each time; ``webhook_timeout`` seconds
        per attempt (PlexTrac: 5).
    """
    _check_options(
        token_lifetime=token_lifetime,
        auth_rate_limit=auth_rate_limit or 0,
        auth_rate_window=auth_rate_window,
        mfa_challenge_lifetime=mfa_challenge_lifetime,
        webhook_retries=webhook_retries,
        webhook_backoff=webhook_backoff,
        webhook_timeout=webhook_timeout,
    )
    options = Options(
        token_lifetime,
        auth_rate_limit,
        auth_rate_window,
        mfa_challenge_lifetime,
        clock,
        webhooks=webhooks_enabled,
    )
    state = PlexTracState(options, random.Random(seed))
    data.seed(state)
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
        routes=ROUTES,
        exception_handlers={ApiError: on_api_error, HTTPException: on_http_exception},
        lifespan=lifespan,
    )
    app.state.sandbox = state
    app.state.dispatcher = dispatcher
    return app


_MINIMUMS = {
    "token_lifetime": 1,
    "auth_rate_limit": 0,
    "auth_rate_window": 0.001,
    "mfa_challenge_lifetime": 1,
    "webhook_retries": 0,
    "webhook_backoff": 0,
    "webhook_timeout": 0.001,
}


def _check_options(**options: float) -> None:
    """Refuse a numeric option below its least value: a token must outlive its login."""
    for name, value in options.items():
        if isinstance(value, bool) or value < _MINIMUMS[name]:
            raise ConfigurationError(
                f"plextrac sandbox: option {name} must be a number of at least "
                f"{_MINIMUMS[name]:g}, got {value!r}"
            )


def demo_connection(base_url: str) -> dict[str, Any]:
    """Connection values for the PlexTrac connector against a sandbox at ``base_url``."""
    email = DEMO_USERS[0][0]
    return {"instance_url": base_url.rstrip("/"), "username": email, "password": DEMO_PASSWORD}
