"""Tenant users: the v2 list with query-string paging, the legacy row list, and whoami.

Users are stored in the legacy record shape (``first``, ``last``, ``fullName``, ``roles``,
``user_id``, ``lastLogin``, ...), which ``GET /api/v1/tenant/{tid}/user/list`` wraps as
``{"id": "<user_id>", "doc_id": [user_id], "data": {record}}``. The v2 list uses camelCase
names (``firstName``, ``lastName``: the names its ``sortBy`` accepts) and the v2 envelope.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .access import require_tenant, tenant_role
from .auth import authenticated
from .replies import bad_request
from .state import state_of

_SORT_FIELDS = {"firstName": "first", "lastName": "last", "email": "email"}
_ORDERS = ("ASCEND", "DESCEND")
_MAX_LIMIT = 1000


def v2_user(user: dict[str, Any], mfa_enabled: bool) -> dict[str, Any]:
    """A user as the v2 tenant-users list shows it."""
    return {
        "id": user["user_id"],
        "cuid": user["cuid"],
        "email": user["email"],
        "firstName": user["first"],
        "lastName": user["last"],
        "fullName": user["fullName"],
        "role": tenant_role(user),
        "tenantId": user["tenant_id"],
        "disabled": user["disabled"],
        "mfaEnabled": mfa_enabled,
        "authenticationProvider": user["authentication_provider"],
        "createdAt": user["createdAt"],
        "lastLogin": user["lastLogin"],
    }


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise bad_request(f'"{name}" must be an integer from {low} to {high}')
    return int(raw)


@authenticated
async def list_tenant_users(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/v2/tenants/{tenantId}/users?offset&limit&sortBy&order&filter``."""
    state = state_of(request)
    require_tenant(state, request.path_params["tenant_id"])
    offset = _int_param(request, "offset", 0, 0, 10**9)
    limit = _int_param(request, "limit", 10, 1, _MAX_LIMIT)
    sort_by = request.query_params.get("sortBy", "email")
    order = request.query_params.get("order", "ASCEND")
    if sort_by not in _SORT_FIELDS:
        raise bad_request(f'"sortBy" must be one of [{", ".join(_SORT_FIELDS)}]')
    if order not in _ORDERS:
        raise bad_request(f'"order" must be one of [{", ".join(_ORDERS)}]')
    needle = request.query_params.get("filter", "").strip().lower()
    users = [u for u in state.users.values() if needle in u["fullName"].lower()]
    users.sort(key=lambda u: str(u[_SORT_FIELDS[sort_by]]).lower(), reverse=order == "DESCEND")
    page = [v2_user(u, u["email"] in state.totp_secrets) for u in users[offset : offset + limit]]
    meta = {"pagination": {"offset": offset, "limit": limit, "total": len(users)}}
    return JSONResponse({"status": "success", "data": page, "meta": meta})


@authenticated
async def list_tenant_users_legacy(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/v1/tenant/{tenantId}/user/list``: every user as a legacy row."""
    state = state_of(request)
    require_tenant(state, request.path_params["tenant_id"])
    rows = [
        {"id": str(u["user_id"]), "doc_id": [u["user_id"]], "data": u} for u in state.users.values()
    ]
    return JSONResponse(rows)


def _me(request: Request, user: dict[str, Any]) -> dict[str, Any]:
    state = state_of(request)
    role = tenant_role(user)
    return {
        **user,
        "role": role,
        "isAdmin": role == "ADMIN",
        "mfa_enabled": user["email"] in state.totp_secrets,
    }


@authenticated
async def whoami_v1(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/v1/user/whoami``: the caller's user record with role and admin flag."""
    return JSONResponse(_me(request, user))


@authenticated
async def whoami_v2(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/v2/whoami``: the same record in the v2 envelope."""
    return JSONResponse({"status": "success", "data": _me(request, user)})
