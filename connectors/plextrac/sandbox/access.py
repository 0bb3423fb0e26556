"""Who may see and change what: PlexTrac's three default roles, per tenant and per client.

A user has a tenant role (``roles[0]`` of the user record). Tenant administrators act as
``ADMIN`` on every client. Anyone else reaches only the clients whose ``users`` map lists their
email, with the role given there. ``ANALYST`` is read-only; ``STD_USER`` may write reports,
findings and assessments; changing or deleting the client itself takes ``ADMIN`` on it. A
client the caller may not see answers 403, an id that does not exist 404.
"""

from __future__ import annotations

from typing import Any

from .replies import ApiError, not_found
from .state import PlexTracState


def tenant_role(user: dict[str, Any]) -> str:
    """The user's tenant-wide role."""
    role: str = user["roles"][0]
    return role


def client_role(user: dict[str, Any], client: dict[str, Any]) -> str | None:
    """The role ``user`` acts with on ``client``, or None when the client is not theirs."""
    if tenant_role(user) == "ADMIN":
        return "ADMIN"
    assignment = client["users"].get(user["email"])
    return None if assignment is None else str(assignment["role"])


def require_tenant(state: PlexTracState, tenant_id: int) -> None:
    """403 unless ``tenant_id`` (from the path) is the caller's tenant."""
    if tenant_id != state.tenant_id:
        raise ApiError(403, f"Not authorized for tenant {tenant_id}")


def require_writer(user: dict[str, Any]) -> None:
    """403 for read-only (``ANALYST``) users creating things at tenant level."""
    if tenant_role(user) == "ANALYST":
        raise ApiError(403, "Insufficient permissions: the ANALYST role is read-only")


def visible_clients(state: PlexTracState, user: dict[str, Any]) -> list[dict[str, Any]]:
    """The clients ``user`` may see, in id order."""
    return [c for c in state.clients.values() if client_role(user, c) is not None]


def client_for(
    state: PlexTracState, user: dict[str, Any], client_id: int, *, need: str = "read"
) -> dict[str, Any]:
    """The client ``client_id`` if ``user`` may ``need`` it: ``read``, ``write`` or ``admin``."""
    client = state.clients.get(client_id)
    if client is None:
        raise not_found("Client")
    role = client_role(user, client)
    if role is None:
        raise ApiError(403, f"Not authorized for client {client_id}")
    if need == "write" and role == "ANALYST":
        raise ApiError(403, "Insufficient permissions: the ANALYST role is read-only")
    if need == "admin" and role != "ADMIN":
        raise ApiError(403, f"Insufficient permissions: changing client {client_id} needs ADMIN")
    return client
