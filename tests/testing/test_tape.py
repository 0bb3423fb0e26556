"""Recording against a sandbox and replaying with nothing served, secrets scrubbed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hookline.actions.call import call_action
from hookline.connectors.plextrac.sandbox.data import MFA_SECRET
from hookline.errors import ConfigurationError
from hookline.http.connection import Connection
from hookline.spec.catalog import Catalog
from hookline.testing import Cassette, Scrubber, taped

MFA_USER = {"username": "mfa@example.com", "totp_secret": MFA_SECRET}
STAND_IN = {"totp_secret": "JBSWY3DPEHPK3PXP"}  # base32, so the replayed login can compute a code


async def clients_and_session(conn: Connection) -> tuple[list[Any], dict[str, Any]]:
    clients: list[Any] = await call_action(conn, "list_clients")
    return clients, dict(conn.session)


def test_a_cassette_replays_with_the_sandbox_stopped_and_holds_no_secret(
    catalog: Catalog, tmp_path: Path
) -> None:
    path = tmp_path / "clients.yaml"
    with taped(catalog, path, "plextrac", record=True, seed=1, auth_rate_limit=None) as tape:
        tape.values.update(MFA_USER)
        clients, session = tape.session(clients_and_session)
        client = tape.call("get_client", {"client_id": clients[0]["client_id"]})
        url, password = tape.url, tape.values["password"]
    assert url is not None
    text = path.read_text()
    secrets = [password, MFA_SECRET, session["token"], session["cookie"]]
    assert all(len(secret) >= 8 for secret in secrets)
    assert [secret for secret in secrets if secret in text] == []
    assert "authorization: Bearer ***" in text

    assert f"username: {MFA_USER['username']}" in text
    with taped(catalog, path, "plextrac", values=STAND_IN) as replay:  # nothing serves `url`
        assert replay.replaying and replay.url is None
        assert replay.session(clients_and_session)[0] == clients
        assert replay.call("get_client", {"client_id": clients[0]["client_id"]}) == client
        assert replay.player is not None and replay.player.unused == []


def test_a_request_the_cassette_did_not_record_names_itself(
    catalog: Catalog, tmp_path: Path
) -> None:
    path = tmp_path / "one-case.yaml"
    with taped(catalog, path, "argus", record=True, seed=1) as tape:
        tape.call("get_case", {"id": 100025})
    with (
        taped(catalog, path, "argus") as replay,
        pytest.raises(
            ConfigurationError, match=r"no recorded answer left for GET /cases/v2/case/100026"
        ),
    ):
        replay.call("get_case", {"id": 100026})


def test_a_recorded_secret_field_replays_as_a_placeholder(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "services.yaml"
    with taped(catalog, path, "argus", record=True, seed=1) as tape:
        services = tape.call("list_services")
        key = tape.values["api_key"]
    assert re.search(r"argus-api-key: '\*\*\*'", path.read_text(), re.IGNORECASE)
    assert key not in path.read_text()
    with taped(catalog, path, "argus") as replay:
        assert replay.values["api_key"] != key
        assert replay.call("list_services") == services


def test_a_cassette_of_another_connector_is_refused(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "argus.yaml"
    Cassette("argus", {}).save(path, scrubber=Scrubber(), secret_fields=[])
    refused = pytest.raises(
        ConfigurationError, match="recorded for connector 'argus', not 'pcr360'"
    )
    with refused, taped(catalog, path, "pcr360"):
        pass


def test_a_failed_block_writes_no_cassette(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "failed.yaml"
    with pytest.raises(RuntimeError), taped(catalog, path, "argus", record=True):
        raise RuntimeError("the test failed")
    assert not path.exists()
