"""Claims, leases and the inbox, on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hookline.errors import ConfigurationError
from hookline.plugins.manager import get_plugin_manager
from hookline.run import cycles
from hookline.run.claims import (
    Claims,
    Hold,
    is_stale,
    owner_gone,
    owner_id,
    resumable_jobs,
    stale_jobs,
)
from hookline.run.inbox import Intake, count_inbox, inbox_events, replay_jobs
from hookline.run.operations import requeue
from hookline.run.store import JobRecord, LeaseLost, SqlStore, open_store
from tests.stores import KINDS, store_url

PM = get_plugin_manager(entry_points=False)


@pytest.fixture(params=KINDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_url(request.param, tmp_path) as found:
        yield found


@pytest.fixture
def store(url: str) -> Iterator[SqlStore]:
    opened = open_store(url, PM)
    yield opened
    asyncio.run(opened.close())


def dead_owner() -> str:
    """The owner name of a process of this machine that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host, _, rest = owner_id().partition("/")
    return f"{host}/{child.pid}/{rest.partition('/')[2]}"


async def queue(store: SqlStore, count: int, recipe: str = "r") -> list[JobRecord]:
    events = [(str(n), {"n": n}) for n in range(count)]
    return await store.commit_poll(recipe, "r.yaml", "t.e", count, events)


def test_of_several_processes_claiming_a_job_exactly_one_wins(url: str) -> None:
    async def main() -> list[list[str]]:
        stores = [open_store(url, PM) for _ in range(3)]
        try:
            jobs = await queue(stores[0], 20)
            claims = [Claims(each) for each in stores]

            async def take(claim: Claims) -> list[str]:
                won = []
                for job in jobs:
                    if await claim.claim(job):
                        won.append(job.id)
                return won

            return await asyncio.gather(*(take(each) for each in claims))
        finally:
            for each in stores:
                await each.close()

    won = asyncio.run(main())
    taken = [job for each in won for job in each]
    assert len(taken) == len(set(taken)) == 20


def test_a_held_job_is_not_stale_until_its_lease_runs_out(store: SqlStore) -> None:
    async def main() -> None:
        [job] = await queue(store, 1)
        holder = Claims(store, lease=0.3)
        assert await holder.claim(job)
        other = Claims(store)
        assert await stale_jobs(store) == []
        assert not await other.claim(job)
        await asyncio.sleep(0.4)
        [stale] = await stale_jobs(store)
        assert stale.id == job.id and stale.lease_owner == holder.owner
        assert await other.claim(stale)
        assert not await holder.claim(stale)

    asyncio.run(main())


def test_renewing_keeps_a_lease_alive(store: SqlStore) -> None:
    async def main() -> None:
        [job] = await queue(store, 1)
        holder = Claims(store, lease=0.3)
        async with holder.renewing():
            assert await holder.claim(job)
            await asyncio.sleep(0.6)
            assert await stale_jobs(store) == []

    asyncio.run(main())


def test_a_job_whose_process_exited_is_taken_over_at_once(store: SqlStore) -> None:
    async def main() -> None:
        [job] = await queue(store, 1)
        gone = Claims(store, owner=dead_owner(), lease=3600)
        assert await gone.claim(job)
        [stale] = await resumable_jobs(store, "r")
        assert is_stale(stale, time.time())
        assert await Claims(store).claim(stale)

    asyncio.run(main())


def test_only_a_process_of_this_machine_that_has_exited_counts_as_gone() -> None:
    assert owner_gone(dead_owner())
    assert not owner_gone(owner_id())
    assert not owner_gone("another-host/1/abc")
    assert not owner_gone(None)


def test_a_released_job_is_interrupted_and_resumable(store: SqlStore) -> None:
    async def main() -> None:
        first, second = await queue(store, 2)
        claims = Claims(store)
        assert await claims.claim(first)
        await claims.release(first.id)
        found = await store.get_job(first.id)
        assert found is not None and found.status == "interrupted" and found.lease_owner is None
        assert [job.id for job in await resumable_jobs(store, "r")] == [first.id, second.id]

    asyncio.run(main())


def test_a_finished_job_is_claimed_only_once_an_operator_queued_it_again(store: SqlStore) -> None:
    async def main() -> None:
        [job] = await queue(store, 1)
        claims = Claims(store)
        assert await claims.claim(job)
        await store.finish_job(job.id, "failed", error={"message": "no", "step": "steps[0]"})
        assert not await claims.claim(job)
        assert not await claims.claim(job, again=True)
        finished = await store.get_job(job.id)
        assert finished is not None
        queued = await requeue(store, finished, None, resend=False, actor="ops")
        assert queued.status == "queued"
        with pytest.raises(ConfigurationError, match="changed while it was checked"):
            await requeue(store, finished, None, resend=False, actor="ops")  # a second operator
        assert await claims.claim(queued)

    asyncio.run(main())


def test_a_rerun_is_claimed_while_its_trigger_is_paused_and_other_jobs_are_not(
    store: SqlStore,
) -> None:
    async def main() -> None:
        first, second = await queue(store, 2)
        claims = Claims(store)
        await cycles.register(store, "r", "t.e", "poll", None)
        await cycles.set_paused(store, "r", True, "ops")
        assert not await claims.claim(first)
        assert await claims.claim(second, again=True)

    asyncio.run(main())


def test_one_process_at_a_time_holds_a_trigger_until_it_lets_go(store: SqlStore) -> None:
    async def main() -> None:
        first, second = Claims(store), Claims(store)
        taken = await first.hold_trigger("r", "t.e")
        assert taken is not None and taken.taken and taken.last_cycle is None
        assert await second.hold_trigger("r", "t.e") is None
        kept = await first.hold_trigger("r", "t.e")  # its own lease again
        assert kept is not None and not kept.taken
        await store.transaction(lambda cur: cur.execute(
            "UPDATE trigger_state SET cycle_started = 42 WHERE recipe = 'r'"))  # fmt: skip
        await second.let_go("r", "t.e")  # not the holder's: changes nothing
        assert await second.hold_trigger("r", "t.e") is None
        await first.let_go("r", "t.e")
        assert await second.hold_trigger("r", "t.e") == Hold(taken=True, last_cycle=42)
        gone = Claims(store, owner=dead_owner())
        assert await gone.hold_trigger("r", "other") is not None
        assert await first.hold_trigger("r", "other") is not None

    asyncio.run(main())


def test_a_trigger_lease_runs_out_unless_renewed(store: SqlStore) -> None:
    async def main() -> None:
        holder = Claims(store, owner="elsewhere/1/x", lease=0.3)
        other = Claims(store)
        assert await holder.hold_trigger("r", "t.e") is not None
        await asyncio.sleep(0.2)
        await holder.renew()
        await asyncio.sleep(0.2)
        assert await other.hold_trigger("r", "t.e") is None  # renewed: still held
        await asyncio.sleep(0.35)
        assert await other.hold_trigger("r", "t.e") is not None  # ran out: taken over
        await holder.renew()  # the old holder's beat does not take it back
        assert await holder.hold_trigger("r", "t.e") is None

    asyncio.run(main())


def test_only_the_holder_of_a_trigger_moves_its_cursor(store: SqlStore) -> None:
    async def main() -> None:
        holder, other = Claims(store), Claims(store)
        assert await holder.hold_trigger("r", "t.e") is not None
        await store.commit_poll("r", "r.yaml", "t.e", 5, [], holder=holder.owner)
        with pytest.raises(LeaseLost, match=r"another process polls t\.e now"):
            await store.commit_poll("r", "r.yaml", "t.e", 9, [], holder=other.owner)
        assert await store.get_cursor("r", "t.e") == 5

    asyncio.run(main())


def test_polled_and_delivered_events_are_kept_once_with_their_deliveries(store: SqlStore) -> None:
    async def main() -> None:
        await queue(store, 3)
        await queue(store, 4)
        intake = Intake(store)
        job, new = await intake.receive("hook", "h.yaml", "e1", {"a": 1})
        again, new_again = await intake.receive("hook", "h.yaml", "e1", {"a": 1})
        assert new and not new_again and again.id == job.id
        assert await count_inbox(store, "r") == 4
        [event] = await inbox_events(store, "hook")
        assert (event.source, event.deliveries, event.event) == ("webhook", 2, {"a": 1})
        polled = await inbox_events(store, "r", keys=["3"])
        assert [(e.event_key, e.deliveries) for e in polled] == [("3", 1)]
        assert [e.event_key for e in await inbox_events(store, "r", keys=["0"])] == ["0"]
        [replayed] = await replay_jobs(store, "hook", "h.yaml", [event])
        assert replayed.event_key.startswith("e1#replay-") and replayed.id != job.id

    asyncio.run(main())


def test_events_arriving_together_share_a_commit(store: SqlStore) -> None:
    calls = []
    original = store.receive_events

    async def counted(events: object, *, source: str) -> object:
        calls.append(len(events))  # type: ignore[arg-type]
        return await original(events, source=source)  # type: ignore[arg-type]

    store.receive_events = counted  # type: ignore[method-assign,assignment]

    async def main() -> None:
        intake = Intake(store)
        found = await asyncio.gather(*(intake.receive("h", "h.yaml", str(n), n) for n in range(50)))
        assert all(new for _, new in found)

    asyncio.run(main())
    assert sum(calls) == 50 and len(calls) < 50


def test_a_store_made_before_leases_gains_their_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE jobs (id TEXT PRIMARY KEY, recipe TEXT NOT NULL, recipe_file TEXT "
            "NOT NULL, event_key TEXT NOT NULL, event TEXT, status TEXT NOT NULL, error TEXT, "
            "outputs TEXT, created_at DOUBLE PRECISION NOT NULL, started_at DOUBLE PRECISION, "
            "finished_at DOUBLE PRECISION, UNIQUE (recipe, event_key))"
        )
        conn.execute("INSERT INTO jobs VALUES ('j', 'r', 'r.yaml', 'k', '{}', 'running', NULL, "
                     "NULL, 1, 1, NULL)")  # fmt: skip
    store = open_store(str(path), PM)
    try:
        [job] = asyncio.run(stale_jobs(store))
        assert (job.id, job.lease_owner) == ("j", None)
    finally:
        asyncio.run(store.close())


def test_a_postgresql_store_opens_its_connection_again_after_it_broke(tmp_path: Path) -> None:
    import psycopg

    from tests.stores import POSTGRES

    with store_url("postgresql", tmp_path) as url:
        store = open_store(url, PM)
        try:
            asyncio.run(queue(store, 1))
            pid = asyncio.run(store.transaction(lambda cur: _backend(cur)))
            with psycopg.connect(POSTGRES, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(psycopg.OperationalError):
                asyncio.run(count_inbox(store))
            assert asyncio.run(count_inbox(store)) == 1
        finally:
            asyncio.run(store.close())


def _backend(cur: Any) -> int:
    cur.execute("SELECT pg_backend_pid()")
    return int(cur.fetchone()[0])
