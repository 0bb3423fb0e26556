"""Clients: the top-level object every report, finding and assessment belongs to.

The stored client carries every field of PlexTrac's client object: ``client_id``, ``cuid``,
``tenant_id``, ``name`` (the only required field), ``poc``, ``poc_email``, ``description``,
``classificationId``, ``custom_field`` (``[{label, value}]``), ``tags``, ``logo``,
``licenseKeys``, ``doc_type: "client"`` and ``users`` (``{email: {role, classificationId}}``).
``role`` is answered per caller: the role the caller holds on that client.

``PUT`` merges the fields it is given and ignores server-managed ones (ids, ``doc_type``,
``logo``, ``role``), which is how public clients update: GET, change, PUT back.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .access import client_for, client_role, require_writer, tenant_role, visible_clients
from .auth import authenticated
from .paging import Listing, contains, overlaps, paged
from .replies import bad_request, json_object, label_values, one_of, string_list, text_field
from .state import ROLES, PlexTracState, state_of

_CUSTOM_ROLE = re.compile(r"^TENANT_\d+_ROLE_\w+$")
_TEXT_FIELDS = ("poc", "poc_email", "description")

LISTING = Listing(
    limits=(5, 25, 50, 100),
    sorts={
        "name": lambda c: c["name"].lower(),
        "poc": lambda c: (c.get("poc") or "").lower() or None,
        "client_id": lambda c: c["client_id"],
    },
    filters={"name": contains("name"), "tags": overlaps("tags"), "poc": contains("poc")},
)


def _assignments(body: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    value = body.get("users")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request('"users" must be an object keyed by user email')
    checked = {}
    for email, grant in value.items():
        role = grant.get("role") if isinstance(grant, dict) else None
        if not isinstance(role, str) or not (role in ROLES or _CUSTOM_ROLE.match(role)):
            raise bad_request(f'"users.{email}.role" must be one of [{", ".join(ROLES)}]')
        classification = grant.get("classificationId")
        if classification is not None and not isinstance(classification, str):
            raise bad_request(f'"users.{email}.classificationId" must be a string or null')
        checked[email.lower()] = {"role": role, "classificationId": classification}
    return checked


def _client_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The validated, writable client fields present in ``body``."""
    one_of(body, "role", ROLES)  # answered per caller, so only checked
    fields: dict[str, Any] = {}
    name = text_field(body, "name", required=creating or "name" in body)
    if name is not None:
        fields["name"] = name
    for key in _TEXT_FIELDS:
        text = text_field(body, key)
        if text is not None:
            fields[key] = text
    if "classificationId" in body:
        fields["classificationId"] = text_field(body, "classificationId")
    tags = string_list(body, "tags")
    if tags is not None:
        fields["tags"] = tags
    custom = label_values(body, "custom_field")
    if custom is not None:
        fields["custom_field"] = custom
    return fields


def render(client: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """A client as ``user`` sees it: the stored object plus the caller's ``role``."""
    return {**client, "role": client_role(user, client)}


@authenticated
async def list_rows(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/v1/client/list``: one ``{id, doc_id, data: [id, name, null]}`` row per client."""
    rows = [
        {
            "id": f"client_{c['client_id']}",
            "doc_id": [c["client_id"]],
            "data": [c["client_id"], c["name"], None],
        }
        for c in visible_clients(state_of(request), user)
    ]
    return JSONResponse(rows)


@authenticated
async def list_paged(request: Request, user: dict[str, Any]) -> Response:
    """``POST /api/v2/clients``: the v2 paged list of the caller's clients."""
    body = await json_object(request)
    records = [render(c, user) for c in visible_clients(state_of(request), user)]
    page, meta = LISTING.answer(body, records)
    return JSONResponse(paged(page, meta))


@authenticated
async def get_client(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/v1/client/{clientId}``."""
    client = client_for(state_of(request), user, request.path_params["client_id"])
    return JSONResponse(render(client, user))


def _assign_on_create(
    state: PlexTracState, creator: dict[str, Any], requested: dict[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], list[str], list[str]]:
    users: dict[str, dict[str, Any]] = {}
    rejected = []
    for email, grant in requested.items():
        if email in state.users and not state.users[email]["disabled"]:
            users[email] = grant
        else:
            rejected.append(email)
    users.setdefault(creator["email"], {"role": tenant_role(creator), "classificationId": None})
    for member in state.users.values():
        if member["default_group"] and not member["disabled"]:
            users.setdefault(
                member["email"], {"role": tenant_role(member), "classificationId": None}
            )
    return users, list(users), rejected


@authenticated
async def create_client(request: Request, user: dict[str, Any]) -> Response:
    """``POST /api/v1/client/create``: ``{status, client_id, assign_message}``."""
    state = state_of(request)
    require_writer(user)
    body = await json_object(request)
    fields = _client_fields(body, creating=True)
    users, assigned, rejected = _assign_on_create(state, user, _assignments(body) or {})
    client_id = state.new_id("client")
    state.clients[client_id] = {
        "cuid": state.new_cuid(),
        "tenant_id": state.tenant_id,
        "client_id": client_id,
        "name": fields["name"],
        "poc": "",
        "poc_email": "",
        "description": "",
        "classificationId": None,
        "custom_field": [],
        "tags": [],
        "logo": "",
        "licenseKeys": [],
        "doc_type": "client",
        **fields,
        "users": users,
    }
    assign_message = {"status": "complete", "users_assigned": assigned, "users_rejected": rejected}
    return JSONResponse(
        {"status": "success", "client_id": client_id, "assign_message": assign_message}
    )


@authenticated
async def update_client(request: Request, user: dict[str, Any]) -> Response:
    """``PUT /api/v1/client/{clientId}``: merge the given writable fields."""
    state = state_of(request)
    client = client_for(state, user, request.path_params["client_id"], need="admin")
    body = await json_object(request)
    fields = _client_fields(body, creating=False)
    users = _assignments(body)
    if users is not None:
        unknown = sorted(email for email in users if email not in state.users)
        if unknown:
            raise bad_request(f'"users" names unknown users: {", ".join(unknown)}')
        fields["users"] = users
    client.update(fields)
    return JSONResponse({"status": "success", "message": "Client updated successfully."})


@authenticated
async def delete_client(request: Request, user: dict[str, Any]) -> Response:
    """``DELETE /api/v1/client/{clientId}``, with its reports, findings, assessments, assets."""
    state = state_of(request)
    client_id = client_for(state, user, request.path_params["client_id"], need="admin")["client_id"]
    del state.clients[client_id]
    for report_id in [r for r, report in state.reports.items() if report["client_id"] == client_id]:
        del state.reports[report_id]
    for key in [k for k, f in state.findings.items() if f["client_id"] == client_id]:
        del state.findings[key]
    for assess_id in [a for a, x in state.assessments.items() if x["client_id"] == client_id]:
        del state.assessments[assess_id]
    for asset_id in [a for a, x in state.assets.items() if x["client_id"] == client_id]:
        del state.assets[asset_id]
    return JSONResponse({"status": "success", "message": "client deleted successfully"})
