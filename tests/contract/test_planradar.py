"""The planradar spec against the PlanRadar sandbox, through the real runtime.

Every action and trigger runs against a served sandbox: the token travels in
``X-PlanRadar-API-Key``, lists are read page after page, a 429 surfaces as a typed error
without a retry (retries would deepen the account's cooldown), and the webhook triggers check
real deliveries that the sandbox POSTs to a receiver served here. The sandbox's state is the
witness for what reads should return and what writes changed.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from jsonschema import Draft202012Validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hookline.actions.call import call_action
from hookline.connectors.planradar.sandbox.data import (
    CUSTOMER_ID,
    HARBOUR,
    INTEGRATION_TOKEN,
    LINDEN,
    NO_API_TOKEN,
)
from hookline.connectors.planradar.sandbox.resources import ticket_resource
from hookline.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from hookline.http import ratelimit
from hookline.http.connection import Connection
from hookline.recipes.load import load_recipe
from hookline.recipes.model import Recipe
from hookline.run.pool import ConnectionPool
from hookline.run.sandbox import running
from hookline.run.store import open_sqlite
from hookline.run.triggers import PollResult, event_for, given_event, poll, spec_trigger
from hookline.spec.catalog import Catalog
from hookline.spec.model import WebhookTrigger
from hookline.testing import check_described, check_examples

DEFECT, TASK = "obk", "tyb"
LEVEL_1, GROUND_FLOOR = "nyk", "qdm"
TRADE = "tf37e04757dabbca63"
COST = "tfd4367f50e84a9408"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture(autouse=True)
def fresh_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh process-wide rate limiter per test.

    Budgets are keyed by base URL and account; a later sandbox may be served on a port an
    earlier test used, and must not inherit that test's spent budget or 429 pause.
    """
    monkeypatch.setattr(ratelimit, "_default", ratelimit.InProcessRateLimiter())


@pytest.fixture
def pr(served: Any) -> Iterator[Any]:
    """The PlanRadar sandbox with seed 1 and its documented limits."""
    with served("planradar", seed=1) as s:
        yield s


def _ticket(s: Any, ticket_uuid: str) -> dict[str, Any]:
    """A ticket's attributes straight from the sandbox."""
    return dict(s.state.tickets[ticket_uuid].attributes)


def _tickets(s: Any, project_id: str | None = None) -> list[Any]:
    """The sandbox's tickets in ascending id order, of one project or all."""
    tickets = sorted(s.state.tickets.values(), key=lambda t: t.number)
    return [t for t in tickets if project_id is None or t.project_id == project_id]


# ---------------------------------------------------------------- the spec itself


def test_every_example_matches_its_input_and_output_schemas(catalog: Catalog) -> None:
    spec = catalog.spec("planradar")
    for block in [*spec.actions.values(), *spec.triggers.values()]:
        assert block.title and block.description, f"{block.name} needs a title and description"
    check_examples(spec)


def test_every_input_is_described(catalog: Catalog) -> None:
    check_described(catalog.spec("planradar"))


def test_the_connection_defaults_to_the_public_host(catalog: Catalog) -> None:
    fields = catalog.spec("planradar").connection.fields
    assert fields["base_url"].default == "https://www.planradar.com"
    assert fields["token"].secret
    assert [name for name, f in fields.items() if f.required] == ["customer_id", "token"]


# ---------------------------------------------------------------- projects


def test_list_projects_gives_the_users_projects_by_name(pr: Any) -> None:
    projects = pr.call("list_projects")
    assert [p["id"] for p in projects] == [HARBOUR, LINDEN]
    linden = projects[1]
    stored = pr.state.projects[LINDEN]
    assert linden["name"] == stored.name
    assert linden["project_number"] == stored.projectnumber
    assert linden["ticket_type_ids"] == list(stored.ticket_type_ids)


def test_list_projects_searches_and_sorts(pr: Any) -> None:
    assert [p["id"] for p in pr.call("list_projects", {"search": "LINDEN"})] == [LINDEN]
    by_number = pr.call("list_projects", {"sort": "-projectnumber"})
    assert [p["project_number"] for p in by_number] == ["2024-031", "2024-017"]


def test_the_integration_user_sees_only_its_project(pr: Any) -> None:
    assert [p["id"] for p in pr.call("list_projects", token=INTEGRATION_TOKEN)] == [LINDEN]


def test_get_project_reads_one_project(pr: Any) -> None:
    project = pr.call("get_project", {"project_id": HARBOUR})
    assert project["city"] == "Göteborg"
    assert project["ticket_type_ids"] == [DEFECT, TASK]


def test_a_project_of_someone_else_is_not_found(pr: Any) -> None:
    with pytest.raises(NotFoundError, match="Project Not Found") as error:
        pr.call("get_project", {"project_id": HARBOUR}, token=INTEGRATION_TOKEN)
    assert error.value.status == 404


# ---------------------------------------------------------------- reading tickets


def test_list_tickets_reads_every_page(served: Any) -> None:
    with served("planradar", seed=1, ticket_count=1001) as s:
        requests: list[httpx.Request] = []

        async def read(conn: Connection) -> list[Any]:
            conn.client.event_hooks["request"].append(_record(requests))
            result: list[Any] = await call_action(conn, "list_tickets", {"project_id": "0"})
            return result

        tickets = s.session(read)
        assert [t["uuid"] for t in tickets] == [t.uuid for t in _tickets(s)]
        assert [r.url.params["page"] for r in requests] == ["1", "2", "3"]
        assert {r.url.params["pagesize"] for r in requests} == {"500"}


def _record(requests: list[httpx.Request]) -> Any:
    async def hook(request: httpx.Request) -> None:
        requests.append(request)

    return hook


def test_list_tickets_maps_the_attributes(pr: Any) -> None:
    first = pr.call("list_tickets", {"project_id": LINDEN})[0]
    stored = _tickets(pr, LINDEN)[0]
    attributes = stored.attributes
    assert first["id"] == stored.id
    assert first["uuid"] == stored.uuid
    assert first["sequential_id"] == attributes["sequential-id"]
    assert first["status_id"] == attributes["status-id"]
    assert first["assigned_to_id"] == attributes["assigned-to-id"]
    assert first["typed_values"] == attributes["typed-values"]
    assert first["plan_x"] == attributes["plan-x"]
    assert first["updated_at"] == attributes["updated-at"]


def test_list_tickets_filters_combine(pr: Any) -> None:
    found = pr.call(
        "list_tickets",
        {"project_id": "0", "status_ids": ["lm", 2], "ticket_type_ids": [DEFECT]},
    )
    expected = [
        t.uuid
        for t in _tickets(pr)
        if t.attributes["status-id"] in ("lm", "ol") and t.attributes["ticket-type-id"] == DEFECT
    ]
    assert expected
    assert [t["uuid"] for t in found] == expected


def test_list_tickets_since_a_moment_and_sorted(pr: Any) -> None:
    since = "2025-02-20T00:00:00.000Z"
    changed = pr.call(
        "list_tickets", {"project_id": LINDEN, "updated_since": since, "sort": "-updated-at"}
    )
    assert changed
    assert all(t["updated_at"] >= since for t in changed)
    assert [t["updated_at"] for t in changed] == sorted(
        (t["updated_at"] for t in changed), reverse=True
    )
    created = pr.call("list_tickets", {"project_id": LINDEN, "created_after": since})
    assert {t["uuid"] for t in created} == {
        t.uuid for t in _tickets(pr, LINDEN) if t.attributes["created-at"] > since
    }


def test_get_ticket_reads_one_ticket(pr: Any) -> None:
    stored = _tickets(pr, HARBOUR)[3]
    ticket = pr.call("get_ticket", {"project_id": HARBOUR, "ticket_uuid": stored.uuid})
    assert ticket["uuid"] == stored.uuid
    assert ticket["subject"] == stored.attributes["subject"]
    assert ticket["project_id"] == HARBOUR


def test_an_unknown_ticket_is_not_found(pr: Any) -> None:
    with pytest.raises(NotFoundError, match="Ticket Not Found"):
        pr.call("get_ticket", {"project_id": LINDEN, "ticket_uuid": str(uuid.uuid4())})


# ---------------------------------------------------------------- writing tickets


def test_create_ticket_makes_a_ticket_on_a_layer(pr: Any) -> None:
    ticket = pr.call(
        "create_ticket",
        {
            "project_id": LINDEN,
            "ticket_type_id": DEFECT,
            "component_id": LEVEL_1,
            "subject": "Cracked tile, stairwell B",
            "priority_id": 3,
            "assigned_to_id": "lmw",
            "due_date": "2025-04-01",
            "plan_x": 0.25,
            "plan_y": 0.75,
            "typed_values": {TRADE: "Tiler"},
        },
    )
    stored = _ticket(pr, ticket["uuid"])
    assert stored["subject"] == ticket["subject"] == "Cracked tile, stairwell B"
    assert stored["priority-id"] == ticket["priority_id"] == "ma"
    assert stored["status-id"] == ticket["status_id"] == "lm"
    assert stored["assigned-to-id"] == "lmw"
    assert stored["typed-values"] == {TRADE: "Tiler"}
    assert ticket["author_id"] == "gpk"


def test_create_ticket_with_a_known_uuid_creates_once(pr: Any) -> None:
    chosen = str(uuid.uuid4())
    given = {
        "project_id": HARBOUR,
        "ticket_type_id": TASK,
        "component_id": GROUND_FLOOR,
        "uuid": chosen,
    }
    before = len(pr.state.tickets)
    first = pr.call("create_ticket", {**given, "subject": "Seal the cable duct"})
    again = pr.call("create_ticket", {**given, "subject": "Something else"})
    assert first["uuid"] == again["uuid"] == chosen
    assert again["subject"] == "Seal the cable duct"
    assert len(pr.state.tickets) == before + 1


def test_create_ticket_refusal_names_the_attributes(pr: Any) -> None:
    with pytest.raises(InvalidRequestError) as error:
        pr.call(
            "create_ticket",
            {"project_id": LINDEN, "ticket_type_id": TASK, "component_id": GROUND_FLOOR},
        )
    assert error.value.status == 422
    message = str(error.value)
    assert "ticket-type-id" in message and "component-id" in message


def test_create_ticket_checks_its_input_before_sending(pr: Any) -> None:
    with pytest.raises(InvalidRequestError, match="'component_id' is required"):
        pr.call("create_ticket", {"project_id": LINDEN, "ticket_type_id": DEFECT})


def test_update_ticket_changes_only_what_is_given(pr: Any) -> None:
    stored = next(t for t in _tickets(pr, LINDEN) if t.attributes["ticket-type-id"] == DEFECT)
    before = dict(stored.attributes)
    ticket = pr.call(
        "update_ticket",
        {
            "project_id": LINDEN,
            "ticket_uuid": stored.uuid,
            "status_id": "ma",
            "typed_values": {COST: 1250.5},
        },
    )
    after = _ticket(pr, stored.uuid)
    assert ticket["status_id"] == after["status-id"] == "ma"
    assert after["typed-values"] == {**before["typed-values"], COST: 1250.5}
    assert after["subject"] == before["subject"]
    assert after["assigned-to-id"] == before["assigned-to-id"]
    assert ticket["updated_at"] == after["updated-at"] != before["updated-at"]


def test_update_ticket_unassigns_with_an_empty_assignee(pr: Any) -> None:
    stored = next(t for t in _tickets(pr, LINDEN) if t.attributes["assigned-to-id"])
    ticket = pr.call(
        "update_ticket", {"project_id": LINDEN, "ticket_uuid": stored.uuid, "assigned_to_id": ""}
    )
    assert ticket["assigned_to_id"] is None
    assert _ticket(pr, stored.uuid)["assigned-to-id"] is None


def test_update_of_an_unknown_ticket_is_not_found(pr: Any) -> None:
    with pytest.raises(NotFoundError, match="Ticket Not found"):
        pr.call(
            "update_ticket",
            {"project_id": LINDEN, "ticket_uuid": str(uuid.uuid4()), "status_id": "ma"},
        )


# ---------------------------------------------------------------- pictures


def test_attach_picture_uploads_a_file_from_its_path(pr: Any, tmp_path: Path) -> None:
    photo = tmp_path / "socket.png"
    photo.write_bytes(PNG)
    stored = _tickets(pr, LINDEN)[0]
    picture = pr.call(
        "attach_picture",
        {
            "project_id": LINDEN,
            "ticket_uuid": stored.uuid,
            "file": f"@{photo}",
            "file_name": "socket.png",
            "caption": "Cover missing",
        },
    )
    assert pr.state.files[picture["uuid"]] == PNG
    assert picture["ticket_uuid"] == stored.uuid
    assert picture["content_type"] == "image/png"
    assert picture["file_size"] == len(PNG)
    assert picture["caption"] == "Cover missing"
    assert httpx.get(picture["url"]).content == PNG


def test_attach_picture_takes_bytes_and_attaches_once(pr: Any) -> None:
    stored = _tickets(pr, HARBOUR)[0]
    chosen = str(uuid.uuid4())
    given = {
        "project_id": HARBOUR,
        "ticket_uuid": stored.uuid,
        "file": PNG,
        "file_name": "plan-note.png",
        "image_type": 1,
        "picture_uuid": chosen,
    }
    first = pr.call("attach_picture", given)
    again = pr.call("attach_picture", given)
    assert first == again
    assert first["uuid"] == chosen and first["image_type"] == 1
    assert [i.uuid for i in pr.state.images.values() if i.ticket_uuid == stored.uuid].count(
        chosen
    ) == 1
    assert pr.state.files[chosen] == PNG


def test_attach_picture_refuses_what_is_not_base64(pr: Any) -> None:
    stored = _tickets(pr, LINDEN)[0]
    with pytest.raises(InvalidRequestError, match="not base64"):
        pr.call(
            "attach_picture",
            {
                "project_id": LINDEN,
                "ticket_uuid": stored.uuid,
                "file": "not base64!",
                "file_name": "x.png",
            },
        )


# ---------------------------------------------------------------- comments, history, attachments


def _journals(s: Any, ticket_uuid: str | None = None, project_id: str | None = None) -> list[Any]:
    """The sandbox's journal entries of a ticket or a project, in the order they were made."""
    return [
        j
        for j in s.state.journals
        if (ticket_uuid is None or j.ticket_uuid == ticket_uuid)
        and (project_id is None or j.project_id == project_id)
    ]


def test_add_comment_shows_in_the_tickets_history(pr: Any) -> None:
    stored = _tickets(pr, LINDEN)[0]
    where = {"project_id": LINDEN, "ticket_uuid": stored.uuid}
    comment = pr.call("add_comment", {**where, "comment": "Cover ordered."})
    assert (comment["journal_type"], comment["notes"]) == (1, "Cover ordered.")
    assert comment["ticket_uuid"] == stored.uuid and comment["details"] == []
    backdated = pr.call(
        "add_comment",
        {**where, "comment": "Seen on site.", "created_on": "2025-01-10T08:00:00Z"},
    )
    assert backdated["created_on"] == "2025-01-10T08:00:00.000Z"
    comments = pr.call("list_ticket_journals", {**where, "kind": "comments"})
    stored_comments = [j for j in _journals(pr, stored.uuid) if j.kind == 1]
    assert [c["id"] for c in comments] == [j.id for j in stored_comments]
    newest = pr.call("list_ticket_journals", {**where, "kind": "comments", "sort": "-created_on"})
    assert newest[0]["id"] == comment["id"] and newest[-1]["id"] == backdated["id"]
    with pytest.raises(InvalidRequestError, match="can't be blank"):
        pr.call("add_comment", {**where, "comment": " "})


def test_list_ticket_journals_gives_changes_with_their_values(pr: Any) -> None:
    stored = _tickets(pr, LINDEN)[1]
    where = {"project_id": LINDEN, "ticket_uuid": stored.uuid}
    everything = pr.call("list_ticket_journals", where)
    assert [j["id"] for j in everything] == [j.id for j in _journals(pr, stored.uuid)]
    before = stored.attributes["status-id"]
    target = "ex" if before != "ex" else "ol"
    pr.call("update_ticket", {**where, "status_id": target})
    changes = pr.call("list_ticket_journals", {**where, "kind": "changes"})
    assert {"prop_key": "status_id", "old_value": before, "value": target} in changes[-1]["details"]
    since = pr.call("list_ticket_journals", {**where, "since": "2030-01-01T00:00:00Z"})
    assert since == []


def test_list_project_journals_reads_a_whole_project_since_a_moment(pr: Any) -> None:
    all_entries = pr.call("list_project_journals", {"project_id": LINDEN})
    stored = sorted(_journals(pr, project_id=LINDEN), key=lambda j: (j.created_ts, j.number))
    assert len(all_entries) > 100  # more than one page of 100
    assert [j["id"] for j in all_entries] == [j.id for j in stored]
    statuses = pr.call(
        "list_project_journals",
        {"project_id": LINDEN, "since": "2025-02-01T00:00:00Z", "prop_keys": ["status_id"]},
    )
    assert statuses and all(
        any(d["prop_key"] == "status_id" for d in j["details"])
        and j["created_on"] >= "2025-02-01T00:00:00.000Z"
        for j in statuses
    )
    schema = pr.spec.schema_with_objects(pr.spec.actions["list_project_journals"].output.schema)
    for entry in statuses:
        Draft202012Validator(schema).validate(entry)


def test_list_attachments_gives_each_picture_with_its_link(pr: Any) -> None:
    stored = _tickets(pr, HARBOUR)[2]
    where = {"project_id": HARBOUR, "ticket_uuid": stored.uuid}
    pictures = [
        pr.call("attach_picture", {**where, "file": PNG, "file_name": f"{name}.png"})
        for name in ("north", "south")
    ]
    listed = pr.call("list_attachments", {**where, "types": ["images"], "sort": "-title"})
    mine = [a for a in listed if a["uuid"] in {p["uuid"] for p in pictures}]
    assert [a["title"] for a in mine] == ["south.png", "north.png"]
    first = mine[0]
    assert (first["attachable_type"], first["content_type"], first["file_size"]) == (
        "images",
        "image/png",
        len(PNG),
    )
    assert httpx.get(first["url"]).content == PNG
    assert pr.call("list_attachments", {**where, "types": ["documents"]}) == []
    fresh = pr.call(
        "list_attachments",
        {**where, "created_after": "2030-01-01T00:00:00Z", "only_ticket_attachments": True},
    )
    assert fresh == []


# ---------------------------------------------------------------- webhooks, configured in the app


def test_no_action_manages_webhooks(catalog: Catalog) -> None:
    """PlanRadar configures webhooks in its web app only; the spec offers no API for them."""
    actions = set(catalog.spec("planradar").actions)
    assert not {a for a in actions if "webhook" in a}


def _configure_webhook(s: Any, **attributes: Any) -> None:
    """Configure a webhook as the web app would, through the sandbox's own management API."""
    values = s.values
    response = httpx.post(
        f"{values['base_url']}/api/v1/{values['customer_id']}/webhooks",
        headers={"X-PlanRadar-API-Key": values["token"], "Accept": "application/json"},
        json={"data": {"attributes": attributes}},
    )
    assert response.status_code == 201, response.text


# ---------------------------------------------------------------- credentials and limits


def test_an_unknown_token_is_refused(pr: Any) -> None:
    with pytest.raises(AuthenticationError) as error:
        pr.call("list_projects", token="prdemo-revoked")
    assert error.value.status == 401
    assert "prdemo-revoked" not in str(error.value)


def test_a_token_without_api_access_is_refused(pr: Any) -> None:
    with pytest.raises(PermissionDeniedError):
        pr.call("list_projects", token=NO_API_TOKEN)


class CountingTransport(httpx.AsyncBaseTransport):
    """The network transport, counting the requests that reach the platform."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Count, then send."""
        self.sent += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the real transport."""
        await self.inner.aclose()


def _counted(s: Any, work: Any) -> tuple[Any, int]:
    """Run ``work(conn)`` on a connection whose requests are counted; its result and count."""
    transport = CountingTransport()

    async def go() -> Any:
        connection = Connection(
            s.spec, s.values, expressions=s.catalog.expressions, transport=transport
        )
        async with connection as conn:
            return await work(conn)

    return asyncio.run(go()), transport.sent


def test_a_429_is_a_rate_limited_error_and_is_not_retried(served: Any) -> None:
    # A 20-second cooldown: a wait the runtime would otherwise retry after, as Retry-After asks.
    with served("planradar", seed=1, rate_limit=3, cooldown=20) as s:

        async def overshoot(conn: Connection) -> RateLimitedError:
            for _ in range(3):
                await call_action(conn, "get_project", {"project_id": LINDEN})
            with pytest.raises(RateLimitedError) as error:
                await call_action(conn, "get_project", {"project_id": LINDEN})
            return error.value

        error, sent = _counted(s, overshoot)
    assert sent == 4
    assert error.status == 429
    assert error.retry_after == 20
    assert "Too Many Requests" in str(error)


def test_a_429_without_retry_after_is_still_a_rate_limited_error(served: Any) -> None:
    with served("planradar", seed=1, rate_limit=1, cooldown=0, retry_after=False) as s:

        async def overshoot(conn: Connection) -> RateLimitedError:
            await call_action(conn, "list_projects")
            with pytest.raises(RateLimitedError) as error:
                await call_action(conn, "list_projects")
            return error.value

        error, sent = _counted(s, overshoot)
    assert sent == 2
    assert error.retry_after is None


class KeyRecorder(ratelimit.InProcessRateLimiter):
    """A limiter that records the budget key of every request."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    async def acquire(
        self, key: str, budget: ratelimit.Budget | None, *, max_wait: float = ratelimit.MAX_WAIT
    ) -> None:
        """Record, then wait for a slot as usual."""
        self.keys.append(key)
        await super().acquire(key, budget, max_wait=max_wait)


def test_connections_to_one_account_share_its_budget(pr: Any) -> None:
    limiter = KeyRecorder()

    async def one_call(**overrides: Any) -> None:
        connection = Connection(
            pr.spec,
            {**pr.values, **overrides},
            expressions=pr.catalog.expressions,
            limiter=limiter,
        )
        async with connection as conn:
            # Another account refuses the token, but the call spent a slot of its budget.
            with suppress(PermissionDeniedError):
                await call_action(conn, "list_projects")

    asyncio.run(one_call())
    asyncio.run(one_call(token=INTEGRATION_TOKEN))
    asyncio.run(one_call(customer_id="1484013"))
    holder, integration, other = limiter.keys
    assert holder == integration != other
    rate = pr.spec.connection.rate_limit
    assert (rate.requests, rate.per) == (30, 60)


# ---------------------------------------------------------------- triggers, as recipes run them

RECIPE = """\
recipe: planradar-{trigger}
connections:
  planradar:
    connector: planradar
    base_url: "{{{{ env.PLANRADAR_URL }}}}"
    customer_id: "{{{{ env.PLANRADAR_CUSTOMER }}}}"
    token: "{{{{ env.PLANRADAR_TOKEN }}}}"
trigger:
  event: planradar.{trigger}
  with: {with_block}
steps:
  - set: {{seen: "{{{{ trigger.{field} }}}}"}}
"""
WEBHOOK_PASSWORD = "pa55-w0rd"
WEBHOOK_WITH = '{username: planradar, password: "{{ env.PLANRADAR_WEBHOOK_PASSWORD }}"}'
WEBHOOK_TRIGGERS = {
    "ticket_created": "uuid",
    "ticket_updated": "uuid",
    "picture_attached": "picture.url",
}


@dataclass
class Recipes:
    """Recipes on the planradar triggers, loaded and run by hookline's trigger runtime."""

    s: Any
    catalog: Catalog
    folder: Path

    @property
    def env(self) -> dict[str, str]:
        """The environment the recipes read the sandbox's connection and webhook password from."""
        return {
            "PLANRADAR_URL": self.s.values["base_url"],
            "PLANRADAR_CUSTOMER": self.s.values["customer_id"],
            "PLANRADAR_TOKEN": self.s.values["token"],
            "PLANRADAR_WEBHOOK_PASSWORD": WEBHOOK_PASSWORD,
        }

    def load(self, trigger: str, with_block: str, field: str) -> Recipe:
        """A recipe on ``trigger`` with the inputs ``with_block``, reading ``trigger.FIELD``."""
        path = self.folder / f"{trigger}.yaml"
        text = RECIPE.format(trigger=trigger, with_block=with_block, field=field)
        path.write_text(text, encoding="utf-8")
        return load_recipe(path, self.catalog, env=self.env)

    def poll(self, recipe: Recipe) -> PollResult:
        """One poll cycle; the state store (and so the cursor) is kept between cycles."""

        async def cycle() -> PollResult:
            store = open_sqlite(str(self.folder / "state.db"))
            try:
                async with ConnectionPool(self.catalog, env=self.env) as pool:
                    pool.open(recipe)
                    return await poll(recipe, pool, store)
            finally:
                await store.close()

        return asyncio.run(cycle())

    async def receive(self, recipe: Recipe, headers: Mapping[str, str], body: bytes) -> Any:
        """What a webhook request becomes: False if refused, None if filtered, else (key, event).

        The verifier reads the recipe's trigger inputs (``input``) and the connection, as a
        template of the trigger does.
        """
        async with ConnectionPool(self.catalog, env=self.env) as pool:
            pool.open(recipe)
            given, trigger, connection = spec_trigger(recipe, pool)
            assert isinstance(trigger, WebhookTrigger) and trigger.verifier is not None
            inputs = given.input.render({"env": pool.env})
            if not trigger.verifier.verify(headers, body, connection.context(input=inputs)):
                return False
            return event_for(recipe, pool, orjson.loads(body))


@dataclass
class Receiver:
    """Serves one URL per webhook recipe, as ``hookline serve`` would; logs what each made."""

    recipes: Recipes
    hooks: Mapping[str, Recipe]
    log: list[tuple[str, Any]] = field(default_factory=list)

    def app(self) -> Starlette:
        """An app answering 204 to verified requests (events or filtered) and 401 to others."""

        async def hook(request: Request) -> Response:
            name = request.path_params["trigger"]
            result = await self.recipes.receive(
                self.hooks[name], dict(request.headers), await request.body()
            )
            self.log.append((name, result))
            return Response(status_code=401 if result is False else 204)

        return Starlette(routes=[Route("/hooks/{trigger}", hook, methods=["POST"])])


@contextmanager
def _receiving(recipes: Recipes) -> Iterator[tuple[Receiver, str]]:
    """A receiver for a recipe on each webhook trigger, served on loopback; its base URL."""
    hooks = {
        name: recipes.load(name, WEBHOOK_WITH, field) for name, field in WEBHOOK_TRIGGERS.items()
    }
    receiver = Receiver(recipes, hooks)
    with running(receiver.app()) as url:
        yield receiver, f"{url}/hooks"


def _settled(state: Any, count: int) -> list[Any]:
    """The delivery log once it holds ``count`` deliveries and none is pending."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        deliveries = list(state.deliveries)
        if len(deliveries) >= count and all(d.status != "pending" for d in deliveries):
            return deliveries
        time.sleep(0.01)
    raise AssertionError(f"deliveries did not settle: {state.deliveries}")


ALL_EVENTS = ["ticket.created", "ticket.updated", "ticket.image_attached"]


def test_webhook_triggers_take_the_sandboxes_deliveries(
    served: Any, catalog: Catalog, tmp_path: Path
) -> None:
    with (
        served("planradar", seed=1, webhook_retries=0) as s,
        _receiving(Recipes(s, catalog, tmp_path)) as (receiver, hooks),
    ):
        for name in WEBHOOK_TRIGGERS:  # every event to every recipe: the filters sort them
            _configure_webhook(
                s,
                **{
                    "target-url": f"{hooks}/{name}",
                    "events": ALL_EVENTS,
                    "project-ids": [LINDEN],
                    "auth-username": "planradar",
                    "auth-password": WEBHOOK_PASSWORD,
                },
            )
        created = s.call(
            "create_ticket",
            {
                "project_id": LINDEN,
                "ticket_type_id": DEFECT,
                "component_id": LEVEL_1,
                "subject": "Missing fire seal, shaft 3",
            },
        )
        where = {"project_id": LINDEN, "ticket_uuid": created["uuid"]}
        updated = s.call("update_ticket", {**where, "status_id": "ol"})
        picture = s.call("attach_picture", {**where, "file": PNG, "file_name": "seal.png"})
        deliveries = _settled(s.state, 9)

    assert {d.status for d in deliveries} == {"delivered"}
    events = {name: result for name, result in receiver.log if result is not None}
    assert len(receiver.log) == 9 and len(events) == 3  # each recipe took its one event
    assert events["ticket_created"][1] == created
    assert events["ticket_updated"][1] == updated
    picture_event = events["picture_attached"][1]
    assert picture_event["picture"] == picture
    assert picture_event["ticket"] == updated
    assert (picture_event["project_id"], picture_event["ticket_uuid"]) == (LINDEN, created["uuid"])
    assert len({key for key, _ in events.values()}) == 3
    for name, (_, event) in events.items():
        schema = s.spec.schema_with_objects(s.spec.triggers[name].output_schema)
        Draft202012Validator(schema).validate(event)


def test_webhook_triggers_refuse_a_wrong_password(
    served: Any, catalog: Catalog, tmp_path: Path
) -> None:
    with (
        served("planradar", seed=1, webhook_retries=1, webhook_backoff=0) as s,
        _receiving(Recipes(s, catalog, tmp_path)) as (receiver, hooks),
    ):
        _configure_webhook(
            s,
            **{
                "target-url": f"{hooks}/ticket_created",
                "events": ["ticket.created"],
                "auth-username": "planradar",
                "auth-password": "guessed",
            },
        )
        s.call(
            "create_ticket",
            {"project_id": HARBOUR, "ticket_type_id": TASK, "component_id": GROUND_FLOOR},
        )
        (delivery,) = _settled(s.state, 1)

    assert delivery.status == "failed"
    assert [a.status_code for a in delivery.attempts] == [401, 401]
    assert receiver.log == [("ticket_created", False), ("ticket_created", False)]


def test_a_redelivered_webhook_event_makes_one_job(
    pr: Any, catalog: Catalog, tmp_path: Path
) -> None:
    recipes = Recipes(pr, catalog, tmp_path)
    recipe = recipes.load("ticket_updated", WEBHOOK_WITH, "uuid")
    ticket = _tickets(pr, LINDEN)[0]
    body = {
        "event": "ticket.updated",
        "customer_id": CUSTOMER_ID,
        "project_id": LINDEN,
        "ticket_uuid": ticket.uuid,
        "occurred_at": "2025-03-04T10:15:00.000Z",
        "data": ticket_resource(ticket),
    }

    async def deliver_twice() -> list[tuple[Any, bool]]:
        store = open_sqlite(str(tmp_path / "state.db"))
        try:
            async with ConnectionPool(catalog, env=recipes.env) as pool:
                pool.open(recipe)
                return [await given_event(recipe, pool, store, body) for _ in range(2)]
        finally:
            await store.close()

    (first, new), (again, new_again) = asyncio.run(deliver_twice())
    assert (new, new_again) == (True, False)
    assert first is not None and again is not None and first.id == again.id
    assert first.event["uuid"] == ticket.uuid


def test_tickets_changed_reads_every_change_since_a_moment(
    served: Any, catalog: Catalog, tmp_path: Path
) -> None:
    since = "2025-01-01T00:00:00.000Z"
    with served("planradar", seed=1, ticket_count=700) as s:
        recipes = Recipes(s, catalog, tmp_path)
        given = "{project_id: '0', since: '2025-01-01T01:00:00+01:00'}"  # the same moment
        recipe = recipes.load("tickets_changed", given, "uuid")
        result = recipes.poll(recipe)
        expected = sorted(
            (t for t in _tickets(s) if t.attributes["updated-at"] >= since),
            key=lambda t: t.attributes["updated-at"],
        )
    assert len(expected) > 500  # two pages
    assert result.records == len(expected)
    assert {job.event["uuid"] for job in result.jobs} == {t.uuid for t in expected}
    assert result.cursor == expected[-1].attributes["updated-at"]
    schema = s.spec.schema_with_objects(s.spec.triggers["tickets_changed"].output_schema)
    for job in result.jobs[:20]:
        Draft202012Validator(schema).validate(job.event)


def test_tickets_changed_reports_each_change_once(
    pr: Any, catalog: Catalog, tmp_path: Path
) -> None:
    recipes = Recipes(pr, catalog, tmp_path)
    recipe = recipes.load("tickets_changed", f"{{project_id: {LINDEN}}}", "status_id")
    stored = _tickets(pr, LINDEN)[5]
    where = {"project_id": LINDEN, "ticket_uuid": stored.uuid}

    first = recipes.poll(recipe)  # from now on: nothing has changed yet
    pr.call("update_ticket", {**where, "status_id": "ex"})
    created = pr.call(
        "create_ticket", {"project_id": LINDEN, "ticket_type_id": DEFECT, "component_id": LEVEL_1}
    )
    pr.call(
        "create_ticket",
        {"project_id": HARBOUR, "ticket_type_id": TASK, "component_id": GROUND_FLOOR},
    )
    second = recipes.poll(recipe)
    third = recipes.poll(recipe)
    pr.call("update_ticket", {**where, "progress": 50})
    fourth = recipes.poll(recipe)

    def new(result: PollResult, before: PollResult) -> list[Any]:
        done = {job.id for job in before.jobs}
        return [job.event for job in result.jobs if job.id not in done]

    assert (first.records, first.jobs) == (0, [])
    assert [(e["uuid"], e["status_id"]) for e in new(second, first)] == [
        (stored.uuid, "ex"),
        (created["uuid"], "lm"),
    ]
    assert third.records == 1 and new(third, second) == []  # the boundary change, seen already
    assert [(e["uuid"], e["progress"]) for e in new(fourth, third)] == [(stored.uuid, 50)]
