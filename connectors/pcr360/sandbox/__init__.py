"""A local simulator of the PCR-360 (v1) API, as its documentation describes it.

Calls are ``GET|POST /api/{API_KEY}/{REQUEST}.{OUTPUT}`` with OUTPUT ``json``, ``xml`` or
``php``. ``login`` (POST only) trades ``PCR-AUTH-USERNAME``/``PCR-AUTH-PASSWORD`` for a JWT;
every other call sends it as ``PCR-AUTH-TOKEN``. Requests: ``sql`` (one read-only SELECT,
paged), the deprecated typed reads ``servicedesk[.IN|.SO]``, ``services``, ``equipment``,
service-desk writes (POST ``servicedesk``) and ``logout``. Refusals use the documented status
codes (400, 401, 403, 404, 405, 503) with the body ``{"status": "error", "message": …}``;
``Pcr-Debug-Api: true`` adds a ``debug`` echo of the request to any answer.
docs/sandboxes/pcr360.md describes the behaviour and where it had to be chosen.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hookline.errors import ConfigurationError

from .access import Caller, authenticate, check_key, login, logout
from .calls import ApiError, Call, Target, parse_target, read_params
from .data import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FULL_KEY,
    READ_ONLY_KEY,
    SERVICE_DESK_KEY,
    demo_keys,
    demo_users,
    seed_tables,
)
from .database import Database
from .formats import render
from .reads import list_records, run_sql
from .state import Pcr360State
from .writes import write_service_desk

__all__ = ["DEMO_CREDENTIALS", "Pcr360State", "create_app", "demo_connection"]

DEMO_CREDENTIALS = (
    f"API key {FULL_KEY} (also {READ_ONLY_KEY}, {SERVICE_DESK_KEY}); "
    f"user {DEMO_USERNAME}, password {DEMO_PASSWORD}"
)

Handler = Callable[[Pcr360State, Call, Caller], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A request type: its handler per HTTP method, and whether it needs a session."""

    methods: dict[str, Handler]
    authenticated: bool = True


ENDPOINTS = {
    "login": Endpoint({"POST": login}, authenticated=False),
    "logout": Endpoint({"GET": logout, "POST": logout}),
    "sql": Endpoint({"GET": run_sql, "POST": run_sql}),
    "servicedesk": Endpoint({"GET": list_records, "POST": write_service_desk}),
    "services": Endpoint({"GET": list_records}),
    "equipment": Endpoint({"GET": list_records}),
}


def create_app(
    *,
    seed: int = 0,
    session_lifetime_seconds: int = 3600,
    session_activity_seconds: int = 900,
    clock: Callable[[], float] = time.time,
    allow_anonymous: bool = False,
    maintenance: bool = False,
) -> Starlette:
    """A fresh PCR-360 sandbox with its own in-memory state, seeded from ``seed``.

    ``session_lifetime_seconds`` (AUTH_SESSION_LIFETIME_SECONDS) ends a session that long
    after login whatever its activity; ``session_activity_seconds``
    (AUTH_SESSION_ACTIVITY_SECONDS) ends it after that long without a call; 0 disables
    either. ``clock`` gives the time in epoch seconds (tests pass a controllable one).
    ``allow_anonymous`` accepts calls that send no token on the API key alone (the
    deprecated anonymous mode). ``maintenance`` answers every call with 503, as during a
    maintenance window; ``app.state.sandbox.maintenance`` switches it later.
    """
    for name, value in (
        ("session_lifetime_seconds", session_lifetime_seconds),
        ("session_activity_seconds", session_activity_seconds),
    ):
        if value < 0:
            raise ConfigurationError(f"pcr360 sandbox option {name} must be 0 or more, got {value}")
    rng = random.Random(seed)
    db = Database()
    seed_tables(db, rng)
    state = Pcr360State(
        db=db,
        keys=demo_keys(),
        users=demo_users(),
        sessions={},
        clock=clock,
        session_lifetime_seconds=session_lifetime_seconds,
        session_activity_seconds=session_activity_seconds,
        allow_anonymous=allow_anonymous,
        maintenance=maintenance,
        secret=rng.getrandbits(256).to_bytes(32, "big"),
        rng=rng,
    )
    # Every method reaches the handlers, so a wrong one gets the platform's 405 body.
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    routes = [
        Route("/api/{api_key}/{request}", _handle, methods=methods),
        Route("/{path:path}", _not_found, methods=methods),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = state
    return app


def demo_connection(base_url: str) -> dict[str, Any]:
    """Connection values for the demo user and full-access key of the app at ``base_url``."""
    return {
        "base_url": base_url.rstrip("/"),
        "api_key": FULL_KEY,
        "username": DEMO_USERNAME,
        "password": DEMO_PASSWORD,
    }


async def _handle(request: Request) -> Response:
    state: Pcr360State = request.app.state.sandbox
    target = Target("error", None, "json")
    call: Call | None = None
    try:
        target = parse_target(request.path_params["request"])
        if state.maintenance:
            raise ApiError(503, "PCR-360 is unavailable, probably for maintenance; try later")
        endpoint = ENDPOINTS.get(target.request)
        if endpoint is None:
            raise ApiError(404, f"Unknown request type '{target.request}'")
        handler = endpoint.methods.get(request.method)
        if handler is None:
            allowed = " or ".join(endpoint.methods)
            raise ApiError(
                405, f"{request.method} is not allowed for {target.request}: use {allowed}"
            )
        call = Call(
            request.method,
            request.path_params["api_key"],
            target,
            await read_params(request),
            request.headers,
        )
        key = check_key(state, call.api_key)
        session = None
        anonymous = state.allow_anonymous and call.header("PCR-AUTH-TOKEN") is None
        if endpoint.authenticated and not anonymous:
            session = authenticate(state, call, key)
        body, status = handler(state, call, Caller(key, session)), 200
    except ApiError as exc:
        body, status = {"status": "error", "message": exc.message}, exc.status
    if call is not None and (request.headers.get("pcr-debug-api") or "").lower() == "true":
        body["debug"] = call.debug()
    return render(target.request, body, target.output, status)


async def _not_found(request: Request) -> Response:
    message = "Not found: API calls look like /api/API_KEY/REQUEST.OUTPUT"
    return render("error", {"status": "error", "message": message}, "json", 404)
