"""API-key authentication: the ``Argus-API-Key`` header names the acting user.

A key is refused with 401 when it is missing or unknown, past its validity period, or used
from a source address outside the networks it is bound to; the message says which.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.requests import Request
from starlette.responses import Response

from .envelope import action_error
from .state import ArgusState, Record

Endpoint = Callable[[Request, ArgusState, Record], Awaitable[Response]]


def authenticate(request: Request, state: ArgusState) -> Record:
    """The user the request's API key belongs to, or a 401 ``ArgusError``."""
    key = request.headers.get("Argus-API-Key")
    if not key:
        raise action_error(401, "Authentication required: send an Argus-API-Key header")
    grant = state.api_keys.get(key)
    if grant is None:
        raise action_error(401, "Invalid API key")
    valid_until = grant["validUntil"]
    if valid_until is not None and state.now_ms() > valid_until:
        raise action_error(401, "API key has expired; renew it in Argus")
    networks = grant["networks"]
    if networks is not None and not _from_networks(request, networks):
        raise action_error(401, "API key is not valid from this source address")
    return state.users[grant["userID"]]


def _from_networks(request: Request, networks: list[str]) -> bool:
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net) for net in networks)


def authenticated(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """Turn ``endpoint(request, state, user)`` into a Starlette endpoint that checks the key."""

    @wraps(endpoint)
    async def handle(request: Request) -> Response:
        state: ArgusState = request.app.state.sandbox
        return await endpoint(request, state, authenticate(request, state))

    return handle
