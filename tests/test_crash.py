"""Crashes and concurrency, with real ``hookline`` processes against the sandboxes.

Every event must produce exactly one side effect, counted in the sandboxes' own state: an
Argus case per PCR-360 item (polled) and per PlanRadar ticket (delivered as a webhook), each
found by its customer reference. ``hookline serve`` is killed with SIGKILL mid-poll, mid-job
(the case made, its answer not yet sent) and right after a webhook event is written to the
inbox, and started again each time; the suite runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hookline.plugins.manager import get_plugin_manager
from hookline.run.claims import stale_jobs
from hookline.run.store import JobRecord, SqlCursor, open_store
from tests.crash_kit import (
    Hookline,
    Sandboxes,
    free_port,
    kill,
    sandboxes,
    wait_for,
    write_recipes,
)
from tests.stores import KINDS, store_url

PM = get_plugin_manager(entry_points=False)


@pytest.fixture
def boxes(tmp_path: Path) -> Iterator[Sandboxes]:
    with sandboxes(tmp_path) as served:
        yield served


@pytest.fixture(params=KINDS)
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_url(request.param, tmp_path) as url:
        yield url


def query(state: str, sql: str) -> list[tuple[Any, ...]]:
    async def main() -> list[tuple[Any, ...]]:
        store = open_store(state, PM)
        try:

            def work(cur: SqlCursor) -> list[tuple[Any, ...]]:
                cur.execute(sql)
                return [tuple(row) for row in cur.fetchall()]

            return await store.transaction(work)
        finally:
            await store.close()

    return asyncio.run(main())


def statuses(state: str) -> dict[str, int]:
    rows = query(state, "SELECT status, COUNT(*) FROM jobs GROUP BY status")
    return {str(status): int(count) for status, count in rows}


def stale(state: str) -> list[JobRecord]:
    async def main() -> list[JobRecord]:
        store = open_store(state, PM)
        try:
            return await stale_jobs(store)
        finally:
            await store.close()

    return asyncio.run(main())


def test_every_event_has_one_side_effect_across_three_crashes(
    boxes: Sandboxes, state: str, tmp_path: Path
) -> None:
    recipes = write_recipes(tmp_path, after=boxes.last_item())
    hookline = Hookline(boxes, state, tmp_path)
    port = free_port()
    boxes.subscribe(f"http://127.0.0.1:{port}/hooks/planradar-ticket-to-argus")
    argus, pcr360 = boxes.gates["argus"], boxes.gates["pcr360"]
    items = boxes.add_items(25)

    # 1. Killed mid-poll: the poll's request is held at PCR-360, nothing is committed yet.
    pcr360.hold("before")
    serve = hookline.serve(recipes, port)
    wait_for(lambda: pcr360.held >= 1, "the first poll", logs=hookline.output)
    kill(serve)
    pcr360.release()
    assert boxes.cases("pcr360:") == {}

    # 2. Killed mid-job: Argus has made a case, its answer is held back and then lost.
    argus.hold("after")
    serve = hookline.serve(recipes, port)
    wait_for(lambda: argus.held >= 1, "a case in flight", logs=hookline.output)
    kill(serve)
    argus.release()
    assert len(boxes.cases("pcr360:")) == 1
    assert len(stale(state)) == 1  # until the next start takes it over

    # 3. Killed right after a webhook event is in the inbox, before its job could finish.
    argus.hold("before")
    tickets = boxes.add_tickets(25)
    serve = hookline.serve(recipes, port)
    wait_for(
        lambda: query(state, "SELECT COUNT(*) FROM inbox WHERE source = 'webhook'")[0][0] >= 1,
        "a webhook event in the inbox",
        logs=hookline.output,
    )
    kill(serve)
    argus.release()

    # 4. Started again with more of both: everything completes, each once.
    items += boxes.add_items(25)
    tickets += boxes.add_tickets(25)
    serve = hookline.serve(recipes, port)
    expected = {f"pcr360:{i}" for i in items} | {f"planradar:{t}" for t in tickets}

    def done() -> bool:
        found = boxes.cases("pcr360:") | boxes.cases("planradar:")
        return set(found) == expected and statuses(state) == {"succeeded": 100}

    wait_for(done, "every event's case", timeout=60, logs=hookline.output)
    assert kill(serve, signal.SIGTERM) == 0
    found = boxes.cases("pcr360:") | boxes.cases("planradar:")
    assert len(found) == 100 and set(found.values()) == {1}, hookline.output()
    events = query(state, "SELECT source, COUNT(*) FROM inbox GROUP BY source ORDER BY source")
    assert events == [("poll", 50), ("webhook", 50)]
    assert stale(state) == []


def test_two_runs_and_a_serve_of_one_poll_recipe_make_each_side_effect_once(
    boxes: Sandboxes, state: str, tmp_path: Path
) -> None:
    [recipe, _] = write_recipes(tmp_path, after=boxes.last_item())
    items = boxes.add_items(20)
    boxes.gates["argus"].delay = 0.03  # jobs overlap in time across the processes
    hookline = Hookline(boxes, state, tmp_path)
    processes = [hookline.run(recipe), hookline.run(recipe), hookline.serve([recipe], free_port())]
    for run in processes[:2]:
        assert run.wait(timeout=60) in (0, 1), hookline.output()
    wait_for(
        lambda: len(boxes.cases("pcr360:")) == 20 and statuses(state) == {"succeeded": 20},
        "every item's case",
        logs=hookline.output,
    )
    assert kill(processes[2], signal.SIGTERM) == 0
    assert boxes.cases("pcr360:") == {f"pcr360:{i}": 1 for i in items}, hookline.output()


def test_a_run_killed_mid_job_leaves_a_job_the_next_run_recovers(
    boxes: Sandboxes, state: str, tmp_path: Path
) -> None:
    [recipe, _] = write_recipes(tmp_path, after=boxes.last_item())
    items = boxes.add_items(3)
    hookline = Hookline(boxes, state, tmp_path)
    argus = boxes.gates["argus"]
    argus.hold("after")
    first = hookline.run(recipe)
    wait_for(lambda: argus.held >= 1, "a case in flight", logs=hookline.output)
    kill(first)
    argus.release()
    [left] = stale(state)
    listed = subprocess.run(
        [*_hookline(), "jobs", "--stale", "--json"], env=hookline.env, capture_output=True
    )
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [left.id]
    again = hookline.run(recipe)
    assert again.wait(timeout=60) == 0, hookline.output()
    assert boxes.cases("pcr360:") == {f"pcr360:{i}": 1 for i in items}
    assert statuses(state) == {"succeeded": 3}


def test_ctrl_c_interrupts_a_run_and_the_next_run_resumes(
    boxes: Sandboxes, state: str, tmp_path: Path
) -> None:
    [recipe, _] = write_recipes(tmp_path, after=boxes.last_item())
    items = boxes.add_items(3)
    hookline = Hookline(boxes, state, tmp_path)
    argus = boxes.gates["argus"]
    argus.hold("before")
    first = hookline.run(recipe, "--grace", "0.2")
    wait_for(lambda: argus.held >= 1, "a case in flight", logs=hookline.output)
    assert kill(first, signal.SIGINT) == 130, hookline.output()
    argus.release()
    assert statuses(state) == {"interrupted": 1, "queued": 2}
    again = hookline.run(recipe)
    assert again.wait(timeout=60) == 0, hookline.output()
    assert boxes.cases("pcr360:") == {f"pcr360:{i}": 1 for i in items}
    assert statuses(state) == {"succeeded": 3}


def _hookline() -> list[str]:
    import sys

    return [sys.executable, "-m", "hookline"]
