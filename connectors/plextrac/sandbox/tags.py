"""Tenant tags: the list the platform suggests when someone types a tag.

``GET /api/v1/tenant/{tid}/tag?limit&offset`` answers ``{count: {totalDocs}, tags: [{id, name}]}``;
``POST`` with ``{name, scope: "tenant", ownerId: <tid>}`` answers ``[]`` (creating an existing
tag changes nothing); ``DELETE .../tag/{tagId}`` answers ``{deleted: true}``. Tag ids read
``tag_<scope>_<ownerId>_<name>``. As documented, tags put on findings through the API are not
added to this list. Creating and deleting tenant tags takes the ADMIN role.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .access import require_tenant, tenant_role
from .auth import authenticated
from .replies import ApiError, bad_request, json_object, not_found, text_field
from .state import PlexTracState, state_of


def tag_id(tenant_id: int, name: str) -> str:
    """The id of tenant tag ``name``."""
    return f"tag_tenant_{tenant_id}_{name}"


def add_tag(state: PlexTracState, name: str) -> None:
    """Put ``name`` on the tenant's tag list (no change if it is there)."""
    state.tags.setdefault(
        tag_id(state.tenant_id, name), {"id": tag_id(state.tenant_id, name), "name": name}
    )


def _paging(request: Request) -> tuple[int, int]:
    values = []
    for name, default in (("limit", 10), ("offset", 0)):
        raw = request.query_params.get(name, str(default))
        if not raw.isdigit():
            raise bad_request(f'"{name}" must be a non-negative integer')
        values.append(int(raw))
    return values[0], values[1]


def _admin_in_tenant(request: Request, user: dict[str, Any]) -> PlexTracState:
    state = state_of(request)
    require_tenant(state, request.path_params["tenant_id"])
    if tenant_role(user) != "ADMIN":
        raise ApiError(403, "Insufficient permissions: managing tenant tags needs ADMIN")
    return state


@authenticated
async def list_tags(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/v1/tenant/{tenantId}/tag``."""
    state = state_of(request)
    require_tenant(state, request.path_params["tenant_id"])
    limit, offset = _paging(request)
    tags = sorted(state.tags.values(), key=lambda t: t["name"])
    return JSONResponse({"count": {"totalDocs": len(tags)}, "tags": tags[offset : offset + limit]})


@authenticated
async def create_tag(request: Request, user: dict[str, Any]) -> Response:
    """``POST /api/v1/tenant/{tenantId}/tag``."""
    state = _admin_in_tenant(request, user)
    body = await json_object(request)
    name = text_field(body, "name", required=True)
    assert name is not None
    if body.get("scope", "tenant") != "tenant":
        raise bad_request('"scope" must be one of [tenant]')
    if body.get("ownerId", state.tenant_id) != state.tenant_id:
        raise bad_request(f'"ownerId" must be the tenant id {state.tenant_id}')
    add_tag(state, name)
    return JSONResponse([])


@authenticated
async def delete_tag(request: Request, user: dict[str, Any]) -> Response:
    """``DELETE /api/v1/tenant/{tenantId}/tag/{tagId}``."""
    state = _admin_in_tenant(request, user)
    if state.tags.pop(request.path_params["tag_id"], None) is None:
        raise not_found("Tag")
    return JSONResponse({"deleted": True})
