"""Client assets: the hosts and applications a client holds, which findings refer to.

PlexTrac stores each asset as a ``client_asset`` document of one client; the client object does
not list them, each asset names its ``client_id``. The endpoints are those of PlexTrac's Postman
collection: ``GET /api/v1/client/{cid}/assets`` (the list), ``GET …/asset/{aid}``, ``PUT
…/asset/0`` to create ("an endpoint for creating an asset does not exist, so use this endpoint
with an ID value of 0"), ``PUT …/asset/{aid}`` to update and ``DELETE …/asset/{aid}``.

The answer shapes beyond create's ``{message: "success", id}`` are not published; the sandbox
answers the list as a JSON array of asset objects, an update like a create, and a delete with
``{message: "success"}``. ``asset`` (the name) is the only required field, as documented;
``assetCriticality`` is one of Critical, High, Medium, Low, Information. An update merges the
fields it is given. Deleting an asset that a finding still lists as affected is refused (409),
as the bulk-delete documentation asks callers to unlink findings first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .access import client_for
from .auth import authenticated
from .replies import ApiError, bad_request, json_object, not_found, one_of, string_list, text_field
from .state import PlexTracState, state_of

CRITICALITIES = ("Critical", "High", "Medium", "Low", "Information")
_TEXT_FIELDS = (
    "type", "description", "notes", "hostname", "host_fqdn", "dns_name", "netbios_name",
    "mac_address", "physical_location", "system_owner", "data_owner", "assignedTo",
    "parent_asset", "pci_status",
)  # fmt: skip
_LIST_FIELDS = ("knownIps", "operating_system", "tags")


def _asset_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    name = text_field(body, "asset", required=creating or "asset" in body)
    if name is not None:
        fields["asset"] = name
    criticality = one_of(body, "assetCriticality", CRITICALITIES)
    if criticality is not None:
        fields["assetCriticality"] = criticality
    for key in _TEXT_FIELDS:
        if key in body:
            fields[key] = text_field(body, key)
    for key in _LIST_FIELDS:
        items = string_list(body, key)
        if items is not None:
            fields[key] = items
    if "ports" in body:
        ports = body["ports"]
        if not isinstance(ports, dict) or not all(isinstance(p, dict) for p in ports.values()):
            raise bad_request('"ports" must be an object of {number, service, protocol, version}')
        fields["ports"] = ports
    return fields


def new_asset(
    state: PlexTracState, client_id: int, fields: dict[str, Any], now: int, asset_id: str = ""
) -> dict[str, Any]:
    """Store an asset of ``client_id`` made of ``fields`` over the defaults; return it."""
    asset_id = asset_id or state.new_cuid()
    asset = {
        "id": asset_id,
        "client_id": client_id,
        "tenant_id": state.tenant_id,
        "doc_type": "client_asset",
        "asset": "",
        "assetCriticality": None,
        "type": None,
        "description": "",
        "notes": "",
        "hostname": "",
        "host_fqdn": "",
        "dns_name": "",
        "netbios_name": "",
        "mac_address": "",
        "physical_location": "",
        "system_owner": "",
        "data_owner": "",
        "assignedTo": None,
        "parent_asset": None,
        "pci_status": None,
        "knownIps": [],
        "operating_system": [],
        "tags": [],
        "ports": {},
        "child_assets": {},
        "findings": {},
        "createdAt": now,
        "created": datetime.fromtimestamp(now / 1000, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "updatedAt": now,
        **fields,
    }
    state.assets[asset_id] = asset
    return asset


def _asset_for(state: PlexTracState, client_id: int, asset_id: str) -> dict[str, Any]:
    asset = state.assets.get(asset_id)
    if asset is None or asset["client_id"] != client_id:
        raise not_found("Asset")
    return asset


def _linked_findings(state: PlexTracState, asset_id: str) -> list[int]:
    return [f["flaw_id"] for f in state.findings.values() if asset_id in f["affected_assets"]]


def render(state: PlexTracState, asset: dict[str, Any]) -> dict[str, Any]:
    """An asset with ``findings`` worked out from the findings that list it as affected."""
    linked = {
        str(f["flaw_id"]): {
            "flaw_id": f["flaw_id"],
            "report_id": f["report_id"],
            "title": f["title"],
        }
        for f in state.findings.values()
        if asset["id"] in f["affected_assets"]
    }
    return {**asset, "findings": linked}


@authenticated
async def list_assets(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/v1/client/{clientId}/assets``: the client's assets, oldest first."""
    state = state_of(request)
    client_id = client_for(state, user, request.path_params["client_id"])["client_id"]
    assets = [render(state, a) for a in state.assets.values() if a["client_id"] == client_id]
    return JSONResponse(assets)


@authenticated
async def get_asset(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/v1/client/{clientId}/asset/{assetId}``."""
    state = state_of(request)
    params = request.path_params
    client_id = client_for(state, user, params["client_id"])["client_id"]
    return JSONResponse(render(state, _asset_for(state, client_id, params["asset_id"])))


@authenticated
async def put_asset(request: Request, user: dict[str, Any]) -> Response:
    """``PUT /api/v1/client/{clientId}/asset/{assetId}``: create with id 0, else merge."""
    state = state_of(request)
    params = request.path_params
    client_id = client_for(state, user, params["client_id"], need="write")["client_id"]
    body = await json_object(request)
    if params["asset_id"] == "0":
        asset = new_asset(state, client_id, _asset_fields(body, creating=True), state.now_ms())
    else:
        asset = _asset_for(state, client_id, params["asset_id"])
        asset.update(_asset_fields(body, creating=False), updatedAt=state.now_ms())
    return JSONResponse({"message": "success", "id": asset["id"]})


@authenticated
async def delete_asset(request: Request, user: dict[str, Any]) -> Response:
    """``DELETE /api/v1/client/{clientId}/asset/{assetId}``: 409 while findings list it."""
    state = state_of(request)
    params = request.path_params
    client_id = client_for(state, user, params["client_id"], need="write")["client_id"]
    asset = _asset_for(state, client_id, params["asset_id"])
    linked = _linked_findings(state, asset["id"])
    if linked:
        listed = ", ".join(str(f) for f in linked)
        raise ApiError(409, f"Asset is affected by findings {listed}: remove it from them first")
    del state.assets[asset["id"]]
    return JSONResponse({"message": "success"})
