"""The plextrac spec's webhook actions and its report_published trigger, against the sandbox.

The management actions run through the runtime like any other; the trigger is checked as
``hookline serve`` runs it: the sandbox POSTs its signed ReportPublished notification to a
receiver served here, which verifies the signature with the recipe's secret and turns the
body into the recipe's event. The signature construction (hex HMAC-SHA256 of the raw body) is
the sandbox's reading of PlexTrac's documentation, which both sides here share.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hookline.connectors.plextrac.sandbox.delivery import signature
from hookline.errors import InvalidRequestError, PermissionDeniedError
from hookline.http import ratelimit
from hookline.recipes.load import load_recipe
from hookline.recipes.model import Recipe
from hookline.run.pool import ConnectionPool
from hookline.run.sandbox import running
from hookline.run.store import open_sqlite
from hookline.run.triggers import event_for, given_event, spec_trigger
from hookline.spec.catalog import Catalog
from hookline.spec.model import WebhookTrigger

CLIENT = 1001
SECRET = "s3cr3t-for-hooks"
RECIPE = """\
recipe: plextrac-report-published
connections:
  plextrac:
    connector: plextrac
    instance_url: "{{ env.PLEXTRAC_URL }}"
    username: "{{ env.PLEXTRAC_USER }}"
    password: "{{ env.PLEXTRAC_PASSWORD }}"
trigger:
  event: plextrac.report_published
  with: {secret: "{{ env.PLEXTRAC_WEBHOOK_SECRET }}"}
steps:
  - set: {report: "{{ trigger.targetCuid }}"}
"""


@pytest.fixture(autouse=True)
def fresh_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh process-wide rate limiter per test, so no 429 pause outlives its sandbox."""
    monkeypatch.setattr(ratelimit, "_default", ratelimit.InProcessRateLimiter())


@pytest.fixture
def pt(served: Any) -> Iterator[Any]:
    """The PlexTrac sandbox with seed 1, retrying failed deliveries once and quickly."""
    with served(
        "plextrac", seed=1, auth_rate_limit=None, webhook_retries=1, webhook_backoff=0.01
    ) as s:
        yield s


# ---------------------------------------------------------------- management


def test_webhook_events_and_webhooks_are_listed_and_created(pt: Any) -> None:
    assert pt.call("list_webhook_events") == [
        {"event": "ReportPublished", "description": "A report's status changed to Published"}
    ]
    created = pt.call(
        "create_webhook",
        {
            "name": "Published reports",
            "url": "https://hooks.example.com/plextrac",
            "events": ["ReportPublished"],
            "client_cuids": [pt.state.clients[CLIENT]["cuid"]],
            "secret": SECRET,
        },
    )
    assert SECRET not in repr(created) and created["secret"] == "********"
    stored = pt.state.webhooks[created["cuid"]]
    assert (stored["secret"], stored["enabled"], stored["sslVerification"]) == (SECRET, True, True)
    assert pt.call("list_webhooks") == [created]
    schema = pt.spec.schema_with_objects(pt.spec.actions["list_webhooks"].output.schema)
    Draft202012Validator(schema).validate([created])


def test_an_unknown_event_and_a_standard_user_are_refused(pt: Any) -> None:
    body = {"name": "x", "url": "https://hooks.example.com/x", "events": ["FindingCreated"]}
    with pytest.raises(InvalidRequestError, match='"events" must name some of'):
        pt.call("create_webhook", body)
    with pytest.raises(PermissionDeniedError, match="needs ADMIN"):
        pt.call("list_webhooks", username="std.user@example.com")


# ---------------------------------------------------------------- the trigger, as serve runs it


@dataclass
class Receiver:
    """Serves the recipe's webhook URL as ``hookline serve`` would; logs what each request made."""

    recipe: Recipe
    catalog: Catalog
    env: Mapping[str, str]
    log: list[Any] = field(default_factory=list)

    async def receive(self, headers: Mapping[str, str], body: bytes) -> Any:
        """False if the verifier refuses the request, None if filtered, else (key, event)."""
        async with ConnectionPool(self.catalog, env=dict(self.env)) as pool:
            pool.open(self.recipe)
            given, trigger, connection = spec_trigger(self.recipe, pool)
            assert isinstance(trigger, WebhookTrigger) and trigger.verifier is not None
            inputs = given.input.render({"env": pool.env})
            if not trigger.verifier.verify(headers, body, connection.context(input=inputs)):
                return False
            return event_for(self.recipe, pool, orjson.loads(body))

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            result = await self.receive(dict(request.headers), await request.body())
            self.log.append(result)
            return Response(status_code=401 if result is False else 204)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def _env(pt: Any) -> dict[str, str]:
    return {
        "PLEXTRAC_URL": pt.values["instance_url"],
        "PLEXTRAC_USER": pt.values["username"],
        "PLEXTRAC_PASSWORD": pt.values["password"],
        "PLEXTRAC_WEBHOOK_SECRET": SECRET,
    }


@contextmanager
def _receiving(pt: Any, catalog: Catalog, folder: Path) -> Iterator[tuple[Receiver, str]]:
    path = folder / "report-published.yaml"
    path.write_text(RECIPE, encoding="utf-8")
    env = _env(pt)
    receiver = Receiver(load_recipe(path, catalog, env=env), catalog, env)
    with running(receiver.app()) as url:
        yield receiver, f"{url}/hook"


def _settled(state: Any, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        deliveries = list(state.deliveries)
        if len(deliveries) >= count and all(d["status"] != "pending" for d in deliveries):
            return deliveries
        time.sleep(0.01)
    raise AssertionError(f"deliveries did not settle: {state.deliveries}")


def _publish(pt: Any) -> dict[str, Any]:
    """Publish a report of CLIENT that is not published yet; return it."""
    report: dict[str, Any] = next(
        r
        for r in pt.state.reports.values()
        if r["client_id"] == CLIENT and r["status"] != "Published"
    )
    key = {"client_id": CLIENT, "report_id": report["id"]}
    pt.call("update_report", {**key, "status": "Published"})
    return report


def test_report_published_takes_the_sandboxes_signed_notification(
    pt: Any, catalog: Catalog, tmp_path: Path
) -> None:
    with _receiving(pt, catalog, tmp_path) as (receiver, url):
        pt.call(
            "create_webhook",
            {"name": "Reports", "url": url, "events": ["ReportPublished"], "secret": SECRET},
        )
        report = _publish(pt)
        (delivery,) = _settled(pt.state, 1)
    assert delivery["status"] == "delivered"
    ((key, event),) = receiver.log
    assert event == delivery["payload"] and event["targetCuid"] == report["cuid"]
    assert key.endswith(delivery["payload"]["cuid"])
    schema = pt.spec.schema_with_objects(pt.spec.triggers["report_published"].output_schema)
    Draft202012Validator(schema).validate(event)


def test_report_published_refuses_a_notification_signed_with_another_secret(
    pt: Any, catalog: Catalog, tmp_path: Path
) -> None:
    with _receiving(pt, catalog, tmp_path) as (receiver, url):
        body = {"name": "Reports", "url": url, "events": ["ReportPublished"], "secret": "guessed"}
        pt.call("create_webhook", body)
        _publish(pt)
        (delivery,) = _settled(pt.state, 1)
    assert delivery["status"] == "failed"
    assert [a["statusCode"] for a in delivery["attempts"]] == [401, 401]
    assert receiver.log == [False, False]


def test_a_redelivered_notification_makes_one_job(
    pt: Any, catalog: Catalog, tmp_path: Path
) -> None:
    with _receiving(pt, catalog, tmp_path) as (receiver, _):
        recipe = receiver.recipe
    body = {
        "cuid": "cq1w2e3r4t5y6u7i8o9p0a1s2",
        "actorCuid": "ck9j8h7g6f5d4s3a2p1o0i9u8",
        "event": "ReportPublished",
        "targetCuid": "cq2w3e4r5t6y7u8i9o0p1a2s3",
        "targetType": "report",
        "text": "Casey Morgan published report X",
    }
    raw = json.dumps(body).encode()
    headers = {"X-Authorization-HMAC-256": signature(SECRET, raw)}
    assert asyncio.run(receiver.receive(headers, raw)) is not False
    assert asyncio.run(receiver.receive({}, raw)) is False

    async def deliver_twice() -> list[tuple[Any, bool]]:
        store = open_sqlite(str(tmp_path / "state.db"))
        try:
            async with ConnectionPool(catalog, env=_env(pt)) as pool:
                pool.open(recipe)
                return [await given_event(recipe, pool, store, body) for _ in range(2)]
        finally:
            await store.close()

    (first, new), (again, new_again) = asyncio.run(deliver_twice())
    assert (new, new_again) == (True, False)
    assert first is not None and again is not None and first.id == again.id


def test_other_events_reach_the_url_and_are_ignored(
    pt: Any, catalog: Catalog, tmp_path: Path
) -> None:
    with _receiving(pt, catalog, tmp_path) as (receiver, _):
        raw = json.dumps({"cuid": "c1", "event": "AssessmentSubmitted"}).encode()
        headers = {"X-Authorization-HMAC-256": signature(SECRET, raw)}
        assert asyncio.run(receiver.receive(headers, raw)) is None
