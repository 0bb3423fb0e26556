"""The state store, on SQLite and on the machine's PostgreSQL, through the same interface."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from click.testing import CliRunner

from hookline.cli.main import main
from hookline.errors import ConfigurationError
from hookline.plugins.manager import get_plugin_manager
from hookline.run.store import SqlStore, StepRecord, open_store, redact_url
from tests.stores import postgres_url, store_url

POSTGRES = "postgresql://127.0.0.1:5432/test"
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    name = f"hookline_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    yield name
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, pg_schema: str) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/state.db"
    else:
        url = f"{POSTGRES}?options=-csearch_path%3D{pg_schema}"
    opened = open_store(url, get_plugin_manager(entry_points=False))

    def empty(cur: Any) -> None:
        for table in ("steps", "jobs", "cursors"):
            cur.execute(f"DELETE FROM {table}")

    run(opened._run(empty))
    yield opened
    run(opened.close())


def test_cursor_is_none_before_the_first_poll(store: SqlStore) -> None:
    assert run(store.get_cursor("r", "argus.new_case")) is None


def test_commit_poll_queues_new_events_and_moves_the_cursor(store: SqlStore) -> None:
    created = run(store.commit_poll("r", "r.yaml", "t", {"at": 5}, [("1", {"id": 1}), ("2", {})]))
    assert [job.event_key for job in created] == ["1", "2"]
    assert all(job.status == "queued" for job in created)
    assert run(store.get_cursor("r", "t")) == {"at": 5}


def test_an_event_seen_before_never_starts_a_second_job(store: SqlStore) -> None:
    run(store.commit_poll("r", "r.yaml", "t", 1, [("1", {"id": 1})]))
    again = run(store.commit_poll("r", "r.yaml", "t", 2, [("1", {"id": 1}), ("3", {"id": 3})]))
    assert [job.event_key for job in again] == ["3"]
    assert run(store.create_job("r", "r.yaml", "3", {})) is None
    assert run(store.create_job("other", "o.yaml", "3", {})) is not None


def test_job_history_keeps_steps_in_order_and_reruns_replace_them(store: SqlStore) -> None:
    job = run(store.create_job("r", "r.yaml", "manual-1", {"x": 1}))
    assert job is not None
    run(store.start_job(job.id))
    run(
        store.record_step(
            job.id, StepRecord("steps[0]", 0, "succeeded", "a", "c.x", {"i": 1}, {"o": 2})
        )
    )
    failed = StepRecord(
        "steps[1]", 1, "failed", "b", "c.y", {}, None, {"kind": "server", "message": "boom"}
    )
    run(store.record_step(job.id, failed))
    run(store.finish_job(job.id, "failed", error={"step": "b", "message": "boom"}))

    stored = run(store.get_job(job.id))
    assert stored is not None
    assert stored.status == "failed"
    assert [s.path for s in stored.steps] == ["steps[0]", "steps[1]"]
    assert stored.steps[0].output == {"o": 2}
    assert stored.steps[1].error == {"kind": "server", "message": "boom"}

    run(store.start_job(job.id))
    run(
        store.record_step(
            job.id, StepRecord("steps[1]", 1, "succeeded", "b", "c.y", {}, {"ok": True}, attempts=2)
        )
    )
    run(store.finish_job(job.id, "succeeded", outputs={"done": True}))
    rerun = run(store.get_job(job.id))
    assert rerun is not None
    assert rerun.status == "succeeded" and rerun.error is None
    assert rerun.steps[0].output == {"o": 2}
    assert rerun.steps[1].output == {"ok": True} and rerun.steps[1].attempts == 2


def test_list_jobs_filters_by_recipe_and_failure(store: SqlStore) -> None:
    for recipe, key, status in [
        ("a", "1", "succeeded"),
        ("a", "2", "failed"),
        ("b", "1", "failed"),
    ]:
        job = run(store.create_job(recipe, f"{recipe}.yaml", key, {}))
        assert job is not None
        run(store.finish_job(job.id, status))
    assert len(run(store.list_jobs())) == 3
    assert {j.event_key for j in run(store.list_jobs(recipe="a"))} == {"1", "2"}
    assert [(j.recipe, j.status) for j in run(store.list_jobs(recipe="a", failed=True))] == [
        ("a", "failed")
    ]
    assert len(run(store.list_jobs(limit=1))) == 1


def test_find_job_by_prefix(store: SqlStore) -> None:
    job = run(store.create_job("r", "r.yaml", "k", {}))
    assert job is not None
    assert run(store.find_job(job.id[:6])) == [job.id]


def test_unknown_scheme_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="no state store for redis:// URLs"):
        open_store("redis://127.0.0.1/0", get_plugin_manager(entry_points=False))


def test_unreachable_postgres_error_hides_the_password() -> None:
    url = "postgresql://user:s3cret@127.0.0.1:1/nothing?connect_timeout=2"
    with pytest.raises(ConfigurationError) as info:
        open_store(url, get_plugin_manager(entry_points=False))
    assert "s3cret" not in str(info.value)
    assert redact_url(url) in str(info.value)


def test_unreachable_postgres_is_one_line_under_error() -> None:
    url = "postgresql://127.0.0.1:1/nothing?connect_timeout=2"
    result = CliRunner().invoke(main, ["jobs", "--state", url])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: cannot open the state store {url}: connection failed: ")
    assert "Is the server running on that host and accepting TCP/IP connections?" in line


def test_a_postgres_url_naming_a_schema_that_does_not_exist_is_one_line_under_error() -> None:
    url = postgres_url(f"hookline_missing_{uuid.uuid4().hex[:10]}")
    result = CliRunner().invoke(main, ["jobs", "--state", url])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: cannot open the state store {url}: no schema of its ")
    assert "CREATE SCHEMA NAME" in line


def test_sqlite_store_is_created_with_its_folder(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "deep" / "state.db"), get_plugin_manager(entry_points=False))
    assert (tmp_path / "deep" / "state.db").exists()
    run(store.close())


def test_queued_jobs_are_the_ones_never_started_in_event_order(store: SqlStore) -> None:
    created = run(store.commit_poll("r", "r.yaml", "t", 3, [("3", {}), ("1", {}), ("2", {})]))
    run(store.start_job(created[1].id))
    assert [job.event_key for job in run(store.queued_jobs("r"))] == ["3", "2"]
    assert run(store.queued_jobs("other")) == []


def test_event_job_finds_the_job_of_an_event_key(store: SqlStore) -> None:
    job = run(store.create_job("r", "r.yaml", "k", {"id": 1}))
    assert job is not None
    found = run(store.event_job("r", "k"))
    assert found is not None and found.id == job.id and found.event == {"id": 1}
    assert run(store.event_job("r", "other")) is None


# ---------------------------------------------------------------- a damaged database


def test_a_file_that_is_not_a_database_is_reported_by_path(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this was never a database" * 200)
    with pytest.raises(ConfigurationError) as caught:
        open_store(str(path), get_plugin_manager(entry_points=False))
    assert str(caught.value).startswith(
        f"the state database at {path} is damaged: file is not a database"
    )


def test_a_database_damaged_inside_is_reported_when_sqlite_finds_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    pm = get_plugin_manager(entry_points=False)

    async def fill() -> None:
        store = open_store(str(path), pm)
        for n in range(50):
            await store.create_job("recipe", "recipe.yaml", f"event-{n}", {"text": "x" * 500})
        await store.close()

    run(fill())
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with path.open("r+b") as file:  # a page of the jobs table overwritten
        file.seek(3 * 4096)
        file.write(b"\xff" * 4096)

    async def read() -> Any:
        store = open_store(str(path), pm)
        try:
            return await store.list_jobs()
        finally:
            await store.close()

    with pytest.raises(ConfigurationError, match="is damaged: database disk image is malformed"):
        run(read())


def test_the_command_line_reports_a_damaged_database_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"\x00garbage" * 1000)
    result = CliRunner().invoke(main, ["jobs", "--state", str(path)])
    assert result.exit_code == 1  # the command line's code for a file it cannot use
    assert "Traceback" not in result.output
    assert f"error: the state database at {path} is damaged" in result.stderr


def test_a_store_opened_beside_a_writer_takes_no_lock_on_tables_it_need_not_create() -> None:
    """On PostgreSQL, a process starting while another one writes does not wait for it: a
    lock asked on tables that exist (``CREATE INDEX IF NOT EXISTS`` asks one) could deadlock."""
    with store_url("postgresql", Path()) as url:
        pm = get_plugin_manager(entry_points=False)
        run(open_store(url, pm).close())
        with psycopg.connect(url) as writer:
            writer.execute(
                "INSERT INTO inbox (recipe, event_key, source, event, received_at, "
                "last_received_at, deliveries) VALUES ('r', 'k', 'poll', NULL, 0, 0, 1)"
            )  # the transaction stays open, holding its lock on inbox
            impatient = url.replace("options=", "options=-clock_timeout%3D2s%20")
            run(open_store(impatient, pm).close())  # waited for the lock: LockNotAvailable
            writer.rollback()
