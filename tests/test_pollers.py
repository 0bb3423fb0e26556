"""Poll triggers held by one of several ``hookline serve`` processes sharing a store.

Two real ``serve`` processes serve one poll recipe against the PCR-360 and Argus sandboxes
(served in this process, so they outlive what the tests kill), on SQLite and on PostgreSQL:
exactly one polls; when it is killed with SIGKILL the other takes over within a lease, and
every item the sandbox made during the run has exactly one job and one Argus case. In
process, a taker keeps the schedule of the holder it replaces.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookline.run.claims import Claims
from hookline.run.pollers import Poller
from hookline.run.scheduler import Every
from hookline.run.store import SqlStore, open_store
from tests.crash_kit import Hookline, Sandboxes, free_port, kill, sandboxes, wait_for, write_recipes
from tests.stores import KINDS, store_url
from tests.test_crash import PM, query, statuses

LEASE = 3.0
"""The serve processes' lease: short, so that the test takes seconds."""

TRIGGER = "pcr360.new_service_desk_record"


@pytest.fixture
def boxes(tmp_path: Path) -> Iterator[Sandboxes]:
    with sandboxes(tmp_path) as served:
        yield served


@pytest.fixture(params=KINDS)
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_url(request.param, tmp_path) as url:
        yield url


def serve(hookline: Hookline, recipe: Path) -> subprocess.Popen[bytes]:
    args = ["--port", str(free_port()), "--json", "--grace", "2", "--lease", str(LEASE)]
    return hookline.start("serve", str(recipe), *args)


def holder(state: str) -> int | None:
    """The pid of the process whose lease on the trigger still runs, or None."""
    rows = query(state, "SELECT cycle_owner, cycle_until FROM trigger_state")
    if not rows or rows[0][0] is None or rows[0][1] < time.time():
        return None
    return int(str(rows[0][0]).split("/")[1])


def notes(log: Path) -> list[str]:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("{")]
    return [json.loads(line).get("message", "") for line in lines]


def test_one_of_two_serves_polls_and_the_other_takes_over_when_it_is_killed(
    boxes: Sandboxes, state: str, tmp_path: Path
) -> None:
    [recipe, _] = write_recipes(tmp_path, after=boxes.last_item())
    hookline = Hookline(boxes, state, tmp_path)
    sql = boxes.gates["pcr360"]
    items = boxes.add_items(5)
    first, second = serve(hookline, recipe), serve(hookline, recipe)
    processes = {first.pid: first, second.pid: second}
    logs = dict(zip(processes, hookline.logs, strict=True))
    try:
        wait_for(lambda: holder(state) is not None, "a holder", logs=hookline.output)
        held = holder(state)
        assert held is not None
        other = next(pid for pid in processes if pid != held)
        wait_for(lambda: len(boxes.cases("pcr360:")) == 5, "the first cases", logs=hookline.output)

        # Both serve the recipe (every 1s) for a while; only the holder polls.
        before, began = sql.arrived, time.monotonic()
        owners = set()
        while time.monotonic() - began < 2 * LEASE:
            owners.add(holder(state))
            items += boxes.add_items(1)
            time.sleep(0.3)
        polls = sql.arrived - before
        assert owners == {held}
        assert polls <= 2 * LEASE + 2, f"{polls} polls in {2 * LEASE}s of a 1s schedule"
        polling = f"items-to-cases: this process polls {TRIGGER} now"
        assert polling in notes(logs[held])
        assert polling not in notes(logs[other])

        # The holder dies mid-run; the other takes over within a lease, and misses nothing.
        kill(processes[held])
        killed = time.monotonic()
        wait_for(lambda: holder(state) == other, "the takeover", timeout=LEASE + 5,
                 logs=hookline.output)  # fmt: skip
        assert time.monotonic() - killed <= LEASE, hookline.output()
        assert polling in notes(logs[other])
        items += boxes.add_items(5)
        expected = {f"pcr360:{i}" for i in items}

        def done() -> bool:
            return set(boxes.cases("pcr360:")) == expected and statuses(state) == {
                "succeeded": len(items)
            }

        wait_for(done, "every item's case", timeout=60, logs=hookline.output)
        assert kill(processes[other], signal.SIGTERM) == 0, hookline.output()
    finally:
        for process in processes.values():
            if process.poll() is None:
                kill(process)
    assert boxes.cases("pcr360:") == {f"pcr360:{i}": 1 for i in items}, hookline.output()
    keys = query(state, "SELECT event_key, COUNT(*) FROM jobs GROUP BY event_key")
    assert sorted(int(key) for key, _ in keys) == sorted(items)
    assert {count for _, count in keys} == {1}
    assert holder(state) is None  # the stop let the lease go


def test_a_stopping_holder_hands_over_at_once(boxes: Sandboxes, tmp_path: Path) -> None:
    [recipe, _] = write_recipes(tmp_path, after=boxes.last_item())
    state = f"sqlite:///{tmp_path}/state.db"
    hookline = Hookline(boxes, state, tmp_path)
    first = serve(hookline, recipe)
    try:
        wait_for(lambda: holder(state) == first.pid, "the first holder", logs=hookline.output)
        second = serve(hookline, recipe)
        try:
            wait_for(lambda: "serving on" in hookline.output().rpartition("---")[2],
                     "the second start", logs=hookline.output)  # fmt: skip
            assert holder(state) == first.pid
            assert kill(first, signal.SIGTERM) == 0
            stopped = time.monotonic()
            wait_for(lambda: holder(state) == second.pid, "the handover", logs=hookline.output)
            assert time.monotonic() - stopped < LEASE / 2  # let go, not run out
        finally:
            kill(second, signal.SIGTERM)
    finally:
        if first.poll() is None:
            kill(first)


# ---------------------------------------------------------------- in process


@pytest.fixture
def store(state: str) -> Iterator[SqlStore]:
    opened = open_store(state, PM)
    yield opened
    asyncio.run(opened.close())


def test_a_taker_keeps_the_schedule_of_the_holder_it_replaces(store: SqlStore) -> None:
    async def main() -> tuple[list[float], list[float]]:
        await store.transaction(
            lambda cur: cur.execute("INSERT INTO trigger_state (recipe, trigger, kind) "
                                    "VALUES ('r', 't', 'poll')"))  # fmt: skip
        began: dict[str, list[float]] = {"a": [], "b": []}

        def poller(name: str) -> Poller:
            claims = Claims(store, lease=0.6)

            async def cycle() -> bool:
                if await claims.hold_trigger("r", "t") is None:
                    return False
                now = time.time()
                began[name].append(now)
                await store.transaction(lambda cur: cur.execute(
                    "UPDATE trigger_state SET cycle_started = ?", (now,)))  # fmt: skip
                return True

            return Poller("r", "t", Every(1.0), claims, cycle, jitter=0.0)

        async def run(poller: Poller, stop: asyncio.Event) -> None:
            async with poller.claims.renewing():  # the heartbeat, as serve's
                await poller.run(stop)

        first_stop, second_stop = asyncio.Event(), asyncio.Event()
        first, second = poller("a"), poller("b")
        running = asyncio.create_task(run(first, first_stop))
        await asyncio.sleep(0.1)
        taking = asyncio.create_task(run(second, second_stop))
        await asyncio.sleep(1.3)  # the first polls twice; the second only looks
        assert first.holding and not second.holding
        first_stop.set()
        await running
        await asyncio.sleep(1.5)
        second_stop.set()
        await taking
        return began["a"], began["b"]

    first, second = asyncio.run(main())
    assert len(first) == 2 and second
    assert second[0] - first[-1] >= 0.95  # one interval after the last cycle, not at once
