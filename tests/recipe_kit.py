"""A small ticket tracker for the recipe tests: its connector spec, its server, a catalog.

The tracker speaks JSON with a bearer token. Its server records every request it receives
(so a test can assert that a dry run sent nothing), and can be told to fail a path a number
of times (``fail``) to exercise retries and on_error.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hookline.actions.call import Plan
from hookline.plugins.hookspecs import hookimpl
from hookline.plugins.manager import get_plugin_manager
from hookline.recipes.load import load_recipe
from hookline.recipes.model import ManualTrigger, manual_inputs
from hookline.run.jobs import JobOutcome, JobRunner, Observer, new_event_key
from hookline.run.pool import ConnectionPool
from hookline.run.sandbox import running
from hookline.run.store import JobRecord, StepRecord, open_store
from hookline.spec.catalog import Catalog

TOKEN = "s3cr3t-tracker-token"

SPEC = """\
spec: hookline/v1
name: tracker
title: Tracker
connection:
  fields:
    base_url: {type: string, description: The tracker's URL}
    token: {type: string, secret: true, description: An API token}
  required: [base_url, token]
  base_url: "{{ connection.base_url }}"
  auth: {type: bearer, token: "{{ connection.token }}"}
defaults: {retry: {attempts: 1}}
objects:
  ticket:
    type: object
    properties:
      id: {type: integer}
      title: {type: string}
      priority: {type: string}
      updated: {type: integer}
actions:
  create_ticket:
    title: Create a ticket
    input:
      title: {type: string}
      priority: {type: string, default: normal}
    required: [title]
    request:
      method: POST
      path: /tickets
      json: {title: "{{ input.title }}", priority: "{{ input.priority }}"}
    output: {schema: {$ref: "#/objects/ticket"}}
    examples:
      - input: {title: Example}
        output: {id: 101, title: Example, priority: normal, updated: 1}
  get_ticket:
    title: Get a ticket
    input: {id: {type: integer}}
    required: [id]
    request: {method: GET, path: "/tickets/{{ input.id }}"}
    output: {schema: {$ref: "#/objects/ticket"}}
    examples:
      - input: {id: 1}
        output: {id: 1, title: First, priority: high, updated: 1}
  list_tickets:
    title: List the tickets
    request: {method: GET, path: /tickets}
    paginate: {type: offset, page_size: 2}
    output: {records: items, schema: {$ref: "#/objects/ticket"}}
    examples:
      - input: {}
        output: [{id: 1, title: First, priority: high, updated: 1}]
  add_comment:
    title: Comment on a ticket
    input:
      id: {type: integer}
      text: {type: string}
    required: [id, text]
    request:
      method: POST
      path: "/tickets/{{ input.id }}/comments"
      json: {text: "{{ input.text }}"}
    output:
      schema:
        type: object
        properties: {id: {type: integer}, text: {type: string}}
    examples:
      - input: {id: 1, text: hello}
        output: {id: 7, text: hello}
  touch:
    title: Touch a key (fails while the server is told to)
    input: {key: {type: string}}
    required: [key]
    request: {method: POST, path: "/touch/{{ input.key }}"}
    idempotent: true
    output:
      schema: {type: object, properties: {key: {type: string}, count: {type: integer}}}
    examples:
      - input: {key: a}
        output: {key: a, count: 1}
triggers:
  new_ticket:
    type: poll
    title: New tickets
    request:
      method: GET
      path: /tickets
      query: {since: "{{ cursor }}"}
    paginate: {type: offset, page_size: 2}
    records: items
    id: id
    cursor: {value: updated, initial: 0}
    output: {$ref: "#/objects/ticket"}
    examples:
      - input: {}
        output: {id: 1, title: First, priority: high, updated: 1}
  ticket_event:
    type: webhook
    title: A ticket changed
    id: ticket.id
    select: ticket
    output: {$ref: "#/objects/ticket"}
"""


@dataclass
class TrackerState:
    """What the tracker holds; tests read and change it directly."""

    tickets: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    touches: dict[str, int] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    delay: float = 0.0
    url: str = ""

    def add_ticket(self, title: str, priority: str = "normal") -> dict[str, Any]:
        """Create a ticket, as the tracker's users do."""
        ticket = {
            "id": len(self.tickets) + 1,
            "title": title,
            "priority": priority,
            "updated": len(self.tickets) + 1,
        }
        self.tickets.append(ticket)
        return ticket


def tracker_app(state: TrackerState) -> Starlette:
    """The tracker's API over ``state``."""

    async def guarded(request: Request) -> JSONResponse | None:
        state.requests.append(f"{request.method} {request.url.path}")
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": "bad token"}, status_code=401)
        left = state.fail.get(request.url.path, 0)
        if left:
            state.fail[request.url.path] = left - 1
            return JSONResponse({"error": "try again"}, status_code=409)
        return None

    async def tickets(request: Request) -> JSONResponse:
        if (refused := await guarded(request)) is not None:
            return refused
        if request.method == "POST":
            body = await request.json()
            return JSONResponse(state.add_ticket(body["title"], body["priority"]))
        since = int(request.query_params.get("since") or 0)
        offset = int(request.query_params.get("offset", 0))
        limit = int(request.query_params.get("limit", 100))
        found = [t for t in state.tickets if t["updated"] > since]
        return JSONResponse({"items": found[offset : offset + limit], "total": len(found)})

    async def ticket(request: Request) -> JSONResponse:
        if (refused := await guarded(request)) is not None:
            return refused
        number = int(request.path_params["id"])
        for item in state.tickets:
            if item["id"] == number:
                return JSONResponse(item)
        return JSONResponse({"error": "no such ticket"}, status_code=404)

    async def comments(request: Request) -> JSONResponse:
        if (refused := await guarded(request)) is not None:
            return refused
        state.in_flight += 1
        state.most_in_flight = max(state.most_in_flight, state.in_flight)
        try:
            await asyncio.sleep(state.delay)
            body = await request.json()
            comment = {
                "id": len(state.comments) + 1,
                "ticket_id": int(request.path_params["id"]),
                "text": body["text"],
            }
            state.comments.append(comment)
            return JSONResponse({"id": comment["id"], "text": comment["text"]})
        finally:
            state.in_flight -= 1

    async def touch(request: Request) -> JSONResponse:
        if (refused := await guarded(request)) is not None:
            return refused
        key = request.path_params["key"]
        state.touches[key] = state.touches.get(key, 0) + 1
        return JSONResponse({"key": key, "count": state.touches[key]})

    return Starlette(
        routes=[
            Route("/tickets", tickets, methods=["GET", "POST"]),
            Route("/tickets/{id}", ticket),
            Route("/tickets/{id}/comments", comments, methods=["POST"]),
            Route("/touch/{key}", touch, methods=["POST"]),
        ]
    )


def serve_tracker() -> Iterator[TrackerState]:
    """Serve a tracker with two tickets (First, high; Second) while the generator runs.

    It yields the tracker's state once, with ``url`` set to where it is served.
    """
    state = TrackerState()
    state.add_ticket("First", "high")
    state.add_ticket("Second")
    with running(tracker_app(state)) as url:
        state.url = url
        yield state


class TrackerPlugin:
    """Registers the tracker spec, written to ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "tracker.yaml"
        self.path.write_text(SPEC)

    @hookimpl
    def register_connectors(self) -> list[Path]:
        """The tracker's spec file."""
        return [self.path]


def tracker_catalog(folder: Path) -> Catalog:
    """The built-in building blocks, the tracker and the file connector.

    The platform connectors are left out so that these tests depend on nothing but the
    tracker.
    """
    pm = get_plugin_manager(["hookline.run.jobs", "hookline.connectors.file"], entry_points=False)
    for name, _ in list(pm.list_name_plugin()):
        if name.startswith("hookline.connectors.") and name != "hookline.connectors.file":
            pm.unregister(name=name)
    pm.register(TrackerPlugin(folder), name="tracker")
    return Catalog(pm)


def write(folder: Path, name: str, text: str) -> Path:
    """Write a recipe (or any file) into ``folder`` and return its path."""
    path = folder / name
    path.write_text(text)
    return path


def json_lines(text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON-lines output."""
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)


HEAD = """\
recipe: {name}
connections:
  tracker:
    connector: tracker
    base_url: "{{{{ env.TRACKER_URL }}}}"
    token: "{{{{ env.TRACKER_TOKEN }}}}"
"""
MANUAL = "trigger: {manual: {inputs: {title: {type: string, default: hello}}}}\n"


class Harness:
    """Loads a recipe written in a test and runs jobs of it, as the CLI does."""

    def __init__(self, catalog: Catalog, folder: Path, url: str) -> None:
        self.catalog = catalog
        self.folder = folder
        self.env = {"TRACKER_URL": url, "TRACKER_TOKEN": TOKEN}
        self.state_url = str(folder / "state.db")

    def recipe(self, body: str, name: str = "r", *, manual: bool = True) -> Path:
        """Write a recipe with the tracker connection (and a manual trigger, unless told)."""
        return write(
            self.folder, f"{name}.yaml", HEAD.format(name=name) + (MANUAL if manual else "") + body
        )

    def run(
        self, path: Path, event: Any = None, *, observer: Observer | None = None
    ) -> tuple[JobOutcome, JobRecord]:
        """Run a new job of a manual recipe with ``event`` as its inputs."""
        return asyncio.run(self._run(path, {} if event is None else event, None, observer))

    def rerun(self, path: Path, job_id: str) -> tuple[JobOutcome, JobRecord]:
        """Run a stored job again."""
        return asyncio.run(self._run(path, None, job_id, None))

    async def _run(
        self, path: Path, event: Any, job_id: str | None, observer: Observer | None
    ) -> tuple[JobOutcome, JobRecord]:
        recipe = load_recipe(path, self.catalog, env=self.env)
        store = open_store(self.state_url, self.catalog.pm)
        try:
            async with ConnectionPool(self.catalog, env=self.env) as pool:
                pool.open(recipe)
                dry_run = isinstance(observer, Planned)
                runner = JobRunner(
                    recipe, pool, store, env=self.env, dry_run=dry_run, observer=observer
                )
                if job_id is None:
                    assert isinstance(recipe.trigger, ManualTrigger)
                    inputs = manual_inputs(recipe.trigger, event)
                    job = await store.create_job(recipe.name, str(path), new_event_key(), inputs)
                else:
                    job = await store.get_job(job_id)
                assert job is not None
                outcome = await runner.run_job(job)
            stored = await store.get_job(job.id)
            assert stored is not None
            return outcome, stored
        finally:
            await store.close()


class Planned(Observer):
    """Collects the steps of a dry run, which job history does not keep."""

    def __init__(self) -> None:
        self.steps: list[StepRecord] = []
        self.plans: list[Plan | None] = []

    def step_finished(self, job_id: str, step: StepRecord, plan: Plan | None) -> None:
        self.steps.append(step)
        self.plans.append(plan)
