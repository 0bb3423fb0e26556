"""The PlexTrac sandbox's outgoing webhooks: management under /api/internal, signed delivery.

PlexTrac documents the create body, the thin notification, the signature header and the
retry policy; the HMAC construction (hex HMAC-SHA256 of the raw body, keyed with the secret)
and the paths of update, test, delete and logs are the sandbox's reading (docs/sandboxes/
plextrac.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hookline.connectors.plextrac.sandbox import create_app
from hookline.run.sandbox import running
from tests.sandboxes.plextrac_errors import assert_error

with warnings.catch_warnings():
    # starlette asks for the httpx2 package; the installed httpx works the same for tests.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

CLIENT, OTHER_CLIENT = 1001, 1002
REPORT = 500002  # of CLIENT, not published in seed 0
HOOKS = "/api/internal/webhooks"


def login(client: TestClient | httpx.Client, username: str = "demo@example.com") -> None:
    response = client.post(
        "/api/v1/authenticate", json={"username": username, "password": "plextrac-demo"}
    )
    client.headers["Authorization"] = f"Bearer {response.json()['token']}"


@pytest.fixture
def client() -> TestClient:
    test_client = TestClient(create_app(auth_rate_limit=None))
    login(test_client)
    return test_client


def hook(url: str, **extra: Any) -> dict[str, Any]:
    body = {
        "clientCuids": [],
        "name": "Published reports",
        "url": url,
        "sslVerification": True,
        "events": ["ReportPublished"],
        "enabled": True,
        "secret": None,
    }
    return {**body, **extra}


# ------------------------------------------------------------------ management


def test_events_list_offers_report_published(client: TestClient) -> None:
    events = client.get("/api/internal/webhookevents").json()
    assert [e["event"] for e in events] == ["ReportPublished"]


def test_a_webhook_is_created_listed_changed_and_deleted(client: TestClient) -> None:
    created = client.post(HOOKS, json=hook("https://hooks.example.com/pt", secret="s3cr3t"))
    assert created.status_code == 200
    webhook = created.json()
    assert webhook["secret"] == "********" and webhook["cuid"].startswith("c")
    assert client.get(HOOKS).json() == [webhook]
    patched = client.patch(f"{HOOKS}/{webhook['cuid']}", json={"enabled": False}).json()
    assert patched["enabled"] is False and patched["name"] == "Published reports"
    state = client.app.state.sandbox  # type: ignore[attr-defined]
    assert state.webhooks[webhook["cuid"]]["secret"] == "s3cr3t"
    assert client.delete(f"{HOOKS}/{webhook['cuid']}").json()["deleted"] is True
    assert client.get(HOOKS).json() == []
    assert_error(client.delete(f"{HOOKS}/{webhook['cuid']}"), 404)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (hook("ftp://x"), '"url" must be a valid http or https uri'),
        (hook("https://x", events=["FindingCreated"]), '"events" must name some of'),
        (hook("https://x", clientCuids=["nope"]), '"clientCuids" must name clients'),
        ({"name": "x", "url": "https://x"}, '"events" is required'),
        (hook("https://x", color="red"), '"color" is not allowed'),
    ],
)
def test_invalid_webhooks_are_400(client: TestClient, body: dict[str, Any], message: str) -> None:
    assert message in assert_error(client.post(HOOKS, json=body), 400)


def test_only_admins_of_an_instance_with_webhooks_manage_them(client: TestClient) -> None:
    login(client, "std.user@example.com")
    assert "needs ADMIN" in assert_error(client.get(HOOKS), 403)
    disabled = TestClient(create_app(auth_rate_limit=None, webhooks_enabled=False))
    login(disabled)
    assert "not enabled" in assert_error(disabled.get("/api/internal/webhookevents"), 403)


# ------------------------------------------------------------------ delivery


class Receiver:
    """A webhook receiver that records raw requests and fails the first ``failures``."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.requests: list[tuple[dict[str, str], bytes]] = []

    async def hook(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        if len(self.requests) <= self.failures:
            return JSONResponse({}, status_code=503)
        return Response(status_code=204)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])


@pytest.fixture
def served() -> Iterator[Callable[..., tuple[httpx.Client, Starlette]]]:
    """Serve sandboxes for real; yield a factory taking create_app options."""
    stack: list[Any] = []

    def serve(**options: Any) -> tuple[httpx.Client, Starlette]:
        app = create_app(auth_rate_limit=None, webhook_backoff=0.01, **options)
        context = running(app)
        base = context.__enter__()
        stack.append(context)
        client = httpx.Client(base_url=base)
        stack.append(client)
        login(client)
        return client, app

    yield serve
    for item in reversed(stack):
        if isinstance(item, httpx.Client):
            item.close()
        else:
            item.__exit__(None, None, None)


def settle(app: Starlette, count: int = 1) -> list[dict[str, Any]]:
    """Wait until ``count`` deliveries are no longer pending; return them."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        deliveries = app.state.sandbox.deliveries
        if len(deliveries) >= count and all(d["status"] != "pending" for d in deliveries):
            return list(deliveries)
        time.sleep(0.01)
    raise AssertionError(f"deliveries did not settle: {app.state.sandbox.deliveries}")


def publish(client: httpx.Client, report_id: int = REPORT, client_id: int = CLIENT) -> None:
    path = f"/api/v1/client/{client_id}/report/{report_id}"
    assert client.put(path, json={"status": "Published"}).status_code == 200


def test_publishing_a_report_sends_a_signed_thin_notification(served: Any) -> None:
    receiver = Receiver()
    with running(receiver.app()) as receiver_url:
        client, app = served()
        client.post(HOOKS, json=hook(f"{receiver_url}/hook", secret="s3cr3t"))
        publish(client)
        [delivery] = settle(app)
        publish(client)  # already published: no second event
        time.sleep(0.05)
    assert delivery["status"] == "delivered"
    [(headers, raw)] = receiver.requests
    expected = hmac.new(b"s3cr3t", raw, hashlib.sha256).hexdigest()
    assert headers["x-authorization-hmac-256"] == expected
    state = app.state.sandbox
    report, demo = state.reports[REPORT], state.users["demo@example.com"]
    payload = json.loads(raw)
    assert payload == {
        "cuid": payload["cuid"],
        "actorCuid": demo["cuid"],
        "event": "ReportPublished",
        "targetCuid": report["cuid"],
        "targetType": "report",
        "text": f"Casey Morgan published report {report['name']}",
    }


def test_a_webhook_without_a_secret_sends_no_signature(served: Any) -> None:
    receiver = Receiver()
    with running(receiver.app()) as receiver_url:
        client, app = served()
        client.post(HOOKS, json=hook(f"{receiver_url}/hook"))
        publish(client)
        settle(app)
    [(headers, _)] = receiver.requests
    assert "x-authorization-hmac-256" not in headers


def test_client_filters_and_disabled_webhooks_are_respected(served: Any) -> None:
    receiver = Receiver()
    with running(receiver.app()) as receiver_url:
        client, app = served()
        state = app.state.sandbox
        other = state.clients[OTHER_CLIENT]["cuid"]
        client.post(HOOKS, json=hook(f"{receiver_url}/hook", clientCuids=[other]))
        client.post(HOOKS, json=hook(f"{receiver_url}/hook", enabled=False))
        publish(client)
        report = next(
            r for r in state.reports.values()
            if r["client_id"] == OTHER_CLIENT and r["status"] != "Published"
        )  # fmt: skip
        publish(client, report["id"], OTHER_CLIENT)
        [delivery] = settle(app)
    assert delivery["payload"]["targetCuid"] == report["cuid"]
    assert len(receiver.requests) == 1


def test_a_failed_delivery_is_retried_and_logged(served: Any) -> None:
    receiver = Receiver(failures=2)
    with running(receiver.app()) as receiver_url:
        client, app = served(webhook_retries=5)
        created = client.post(HOOKS, json=hook(f"{receiver_url}/hook")).json()
        publish(client)
        settle(app)
        logs = client.get(f"{HOOKS}/{created['cuid']}/logs").json()
    [entry] = logs
    assert entry["status"] == "delivered"
    assert [a["statusCode"] for a in entry["attempts"]] == [503, 503, 204]
    assert receiver.requests[0][1] == receiver.requests[2][1]


def test_an_unreachable_receiver_fails_after_every_retry(served: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client, app = served(webhook_retries=2)
    client.post(HOOKS, json=hook(f"http://127.0.0.1:{port}/hook"))
    publish(client)
    [delivery] = settle(app)
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == 3
    assert all(a["statusCode"] is None and a["error"] for a in delivery["attempts"])


def test_the_test_endpoint_sends_one_notification_now(served: Any) -> None:
    receiver = Receiver()
    with running(receiver.app()) as receiver_url:
        client, app = served()
        created = client.post(HOOKS, json=hook(f"{receiver_url}/hook", enabled=False)).json()
        answer = client.post(f"{HOOKS}/{created['cuid']}/test").json()
        [delivery] = settle(app)
    assert answer == {"status": "success", "delivery": delivery["id"]}
    [(_, raw)] = receiver.requests
    assert json.loads(raw)["targetType"] == "webhook"


def test_shutdown_cancels_pending_deliveries() -> None:
    receiver = Receiver(failures=100)
    app = create_app(auth_rate_limit=None, webhook_backoff=30)
    with running(receiver.app()) as receiver_url:
        with running(app) as base, httpx.Client(base_url=base) as client:
            login(client)
            client.post(HOOKS, json=hook(f"{receiver_url}/hook"))
            publish(client)
            deadline = time.monotonic() + 10
            while not app.state.sandbox.deliveries[0]["attempts"] and time.monotonic() < deadline:
                time.sleep(0.01)
        [delivery] = app.state.sandbox.deliveries
    assert delivery["status"] == "cancelled" and len(delivery["attempts"]) == 1
