"""The PlexTrac sandbox's client assets: list, get, create with id 0, update, delete.

Written against PlexTrac's client and asset object documentation (docs/sandboxes/plextrac.md).
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from hookline.connectors.plextrac.sandbox import create_app
from tests.sandboxes.plextrac_errors import assert_error

with warnings.catch_warnings():
    # starlette asks for the httpx2 package; the installed httpx works the same for tests.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

CLIENT, OTHER_CLIENT = 1001, 1002
ASSETS = f"/api/v1/client/{CLIENT}"


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(auth_rate_limit=None, clock=lambda: 1_760_000_000.0))


def headers_for(client: TestClient, username: str = "demo@example.com") -> dict[str, str]:
    response = client.post(
        "/api/v1/authenticate", json={"username": username, "password": "plextrac-demo"}
    )
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    return headers_for(client)


def state(client: TestClient) -> Any:
    return client.app.state.sandbox  # type: ignore[attr-defined]


def test_each_host_a_seeded_finding_affects_is_an_asset_of_its_client(client: TestClient) -> None:
    sandbox = state(client)
    for finding in sandbox.findings.values():
        for asset_id, affected in finding["affected_assets"].items():
            asset = sandbox.assets[asset_id]
            assert (asset["client_id"], asset["asset"]) == (finding["client_id"], affected["asset"])
            assert asset["doc_type"] == "client_asset"


def test_the_list_holds_the_clients_assets_with_their_findings(
    client: TestClient, admin: dict[str, str]
) -> None:
    listed = client.get(f"{ASSETS}/assets", headers=admin).json()
    mine = [a for a in state(client).assets.values() if a["client_id"] == CLIENT]
    assert [a["id"] for a in listed] == [a["id"] for a in mine]
    first = listed[0]
    (linked,) = first["findings"].values()
    finding = next(
        f for f in state(client).findings.values() if first["id"] in f["affected_assets"]
    )
    assert linked == {
        "flaw_id": finding["flaw_id"],
        "report_id": finding["report_id"],
        "title": finding["title"],
    }
    assert client.get(f"{ASSETS}/asset/{first['id']}", headers=admin).json() == first


def test_put_with_id_zero_creates_and_a_real_id_updates(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {
        "asset": "fw-osl-01",
        "assetCriticality": "High",
        "type": "Network Device",
        "knownIps": ["10.0.0.1"],
        "ports": {"443": {"number": "443", "service": "https", "protocol": "tcp", "version": ""}},
    }
    created = client.put(f"{ASSETS}/asset/0", headers=admin, json=body).json()
    assert created["message"] == "success"
    asset = state(client).assets[created["id"]]
    assert (asset["asset"], asset["client_id"], asset["createdAt"]) == (
        "fw-osl-01",
        CLIENT,
        1_760_000_000_000,
    )
    assert asset["created"] == "2025-10-09T08:53:20.000Z"
    updated = client.put(
        f"{ASSETS}/asset/{created['id']}", headers=admin, json={"tags": ["perimeter"]}
    ).json()
    assert updated == {"message": "success", "id": created["id"]}
    assert asset["tags"] == ["perimeter"] and asset["assetCriticality"] == "High"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, '"asset" is required'),
        ({"asset": "x", "assetCriticality": "Severe"}, '"assetCriticality" must be one of'),
        ({"asset": "x", "knownIps": "10.0.0.1"}, '"knownIps" must be an array of strings'),
        ({"asset": "x", "ports": []}, '"ports" must be an object'),
    ],
)
def test_invalid_assets_are_400(
    client: TestClient, admin: dict[str, str], body: dict[str, Any], message: str
) -> None:
    response = client.put(f"{ASSETS}/asset/0", headers=admin, json=body)
    assert message in assert_error(response, 400)


def test_delete_refuses_an_asset_findings_still_list(
    client: TestClient, admin: dict[str, str]
) -> None:
    linked = next(a for a in state(client).assets.values() if a["client_id"] == CLIENT)
    refused = client.delete(f"{ASSETS}/asset/{linked['id']}", headers=admin)
    assert "remove it from them first" in assert_error(refused, 409)
    created = client.put(f"{ASSETS}/asset/0", headers=admin, json={"asset": "spare"}).json()
    deleted = client.delete(f"{ASSETS}/asset/{created['id']}", headers=admin)
    assert deleted.json() == {"message": "success"}
    assert_error(client.get(f"{ASSETS}/asset/{created['id']}", headers=admin), 404)


def test_assets_follow_the_clients_permissions(client: TestClient, admin: dict[str, str]) -> None:
    other = next(a for a in state(client).assets.values() if a["client_id"] == OTHER_CLIENT)
    assert_error(client.get(f"{ASSETS}/asset/{other['id']}", headers=admin), 404)
    analyst = headers_for(client, "analyst@example.com")
    assert_error(client.put(f"{ASSETS}/asset/0", headers=analyst, json={"asset": "x"}), 403)


def test_deleting_a_client_deletes_its_assets(client: TestClient, admin: dict[str, str]) -> None:
    client.delete(f"/api/v1/client/{CLIENT}", headers=admin)
    assert all(a["client_id"] != CLIENT for a in state(client).assets.values())
