"""A local PlexTrac instance: the REST API a connector uses, with PlexTrac's auth rules.

``create_app`` builds a Starlette app holding one seeded tenant (see ``data``); its state is
``app.state.sandbox`` (a ``PlexTracState``). The modules follow the API's concepts: ``auth``
(login, MFA, refresh, token checks), ``access`` (roles), ``users``, ``clients``, ``reports``,
``findings``, ``uploads``, ``assessments``, ``tags``; ``paging`` is the v2 list protocol and
``replies`` the error shape. docs/sandboxes/plextrac.md describes the simulated API.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import assessments, auth, clients, data, findings, reports, tags, uploads, users
from .data import DEMO_PASSWORD, DEMO_USERS, MFA_SECRET
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
]


def create_app(
    *,
    seed: int = 0,
    token_lifetime: int = 900,
    auth_rate_limit: int | None = 10,
    auth_rate_window: float = 60.0,
    mfa_challenge_lifetime: int = 300,
    clock: Callable[[], float] = time.time,
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
    """
    options = Options(
        token_lifetime, auth_rate_limit, auth_rate_window, mfa_challenge_lifetime, clock
    )
    state = PlexTracState(options, random.Random(seed))
    data.seed(state)
    app = Starlette(
        routes=ROUTES,
        exception_handlers={ApiError: on_api_error, HTTPException: on_http_exception},
    )
    app.state.sandbox = state
    return app


def demo_connection(base_url: str) -> dict[str, Any]:
    """Connection values for the PlexTrac connector against a sandbox at ``base_url``."""
    email = DEMO_USERS[0][0]
    return {"instance_url": base_url.rstrip("/"), "username": email, "password": DEMO_PASSWORD}
