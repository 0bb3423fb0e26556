"""The state store: trigger cursors, seen event keys and job history.

One interface, two backends chosen by URL: SQLite (a path, or ``sqlite:///path``; the default
``.hookline/state.db``) and PostgreSQL (``postgresql://...``), both registered through
``register_state_stores`` like a third-party store would be. Both speak the same SQL; the
PostgreSQL backend only swaps the parameter style.

Delivery guarantees rest on a few transactions here: ``queue_events`` writes one page of a
poll's events to the inbox and queues them as jobs, and ``commit_poll`` moves the cursor (with
the events it is given) once the whole read has been queued, so a cursor never passes an event
that was not durably queued; ``receive_events`` does the same for webhook deliveries before
they are answered; and a job's identity is unique per (recipe, event key), so an event seen
twice (in a page committed by a cycle that then failed, read again by the next) never starts a
second job. Which process runs a job or polls a trigger, and how what a dead one held is
taken over, is ``hookline.run.claims``' business (the ``lease_*`` and ``cycle_*`` columns).
SQLite runs in WAL mode with ``synchronous=FULL``: a committed event survives a power cut,
not only a crash. Calls are ``async``; the drivers are synchronous and run in a worker
thread, and the calls that arrive while a commit is on its way share the next one (group
commit, each call in a savepoint of its own), so the cost of syncing the disk is paid per
batch rather than per call; a PostgreSQL connection that broke is opened again on the next
call.

``transaction`` lets the modules beside this one (rate budgets in ``hookline.run.budgets``,
sessions in ``hookline.run.sessions``, claims, the inbox, trigger state) keep their own
tables and queries in the same database: on SQLite each transaction is ``BEGIN IMMEDIATE``, so
writers of all processes take turns, and on PostgreSQL a ``SELECT ... {row_lock}`` holds the
rows it read until the end. A SQLite file is created readable by its owner only (mode 0600),
in a folder made with mode 0700: it holds job history and cached sessions.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pluggy

from hookline.errors import ConfigurationError, HooklineError
from hookline.plugins.hookspecs import hookimpl
from hookline.plugins.manager import collect_named

T = TypeVar("T")

DEFAULT_STATE = Path(".hookline") / "state.db"
FINAL = frozenset({"succeeded", "failed", "skipped", "outcome_unknown"})
RESUMABLE = frozenset({"queued", "interrupted"})
"""A job in one of these states has not finished and no process holds it: the next start runs it."""

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS cursors (
        recipe TEXT NOT NULL, trigger TEXT NOT NULL, value TEXT, updated_at DOUBLE PRECISION,
        PRIMARY KEY (recipe, trigger))""",
    """CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY, recipe TEXT NOT NULL, recipe_file TEXT NOT NULL,
        event_key TEXT NOT NULL, event TEXT, status TEXT NOT NULL, error TEXT, outputs TEXT,
        created_at DOUBLE PRECISION NOT NULL, started_at DOUBLE PRECISION,
        finished_at DOUBLE PRECISION, lease_owner TEXT, lease_until DOUBLE PRECISION,
        UNIQUE (recipe, event_key))""",
    "CREATE INDEX IF NOT EXISTS jobs_by_recipe ON jobs (recipe, created_at)",
    "CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, recipe)",
    """CREATE TABLE IF NOT EXISTS steps (
        job_id TEXT NOT NULL, path TEXT NOT NULL, seq INTEGER NOT NULL, step_id TEXT,
        action TEXT, status TEXT NOT NULL, input TEXT, output TEXT, error TEXT,
        started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION, attempts INTEGER NOT NULL,
        PRIMARY KEY (job_id, path))""",
    """CREATE TABLE IF NOT EXISTS inbox (
        recipe TEXT NOT NULL, event_key TEXT NOT NULL, source TEXT NOT NULL, event TEXT,
        received_at DOUBLE PRECISION NOT NULL, last_received_at DOUBLE PRECISION NOT NULL,
        deliveries INTEGER NOT NULL, PRIMARY KEY (recipe, event_key))""",
    "CREATE INDEX IF NOT EXISTS inbox_by_time ON inbox (recipe, received_at)",
    """CREATE TABLE IF NOT EXISTS trigger_state (
        recipe TEXT NOT NULL, trigger TEXT NOT NULL, kind TEXT NOT NULL,
        alert_after DOUBLE PRECISION, registered_at DOUBLE PRECISION,
        cycle_started DOUBLE PRECISION, cycle_finished DOUBLE PRECISION,
        cycle_ok_started DOUBLE PRECISION, records INTEGER, error TEXT,
        error_at DOUBLE PRECISION, last_event_at DOUBLE PRECISION,
        watermark_moved_at DOUBLE PRECISION, cycle_owner TEXT, cycle_until DOUBLE PRECISION,
        paused_at DOUBLE PRECISION, paused_by TEXT, PRIMARY KEY (recipe, trigger))""",
    """CREATE TABLE IF NOT EXISTS job_actions (
        job_id TEXT NOT NULL, seq INTEGER NOT NULL, action TEXT NOT NULL, actor TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL, detail TEXT, PRIMARY KEY (job_id, seq))""",
)
_CREATED = re.compile(r"\s*CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)")
ADDED_COLUMNS = {
    "jobs": {"lease_owner": "TEXT", "lease_until": "DOUBLE PRECISION"},
    "trigger_state": {"paused_at": "DOUBLE PRECISION", "paused_by": "TEXT"},
}
"""Columns added since the first release, added to a store created before them."""

JOB_COLUMNS = (
    "id, recipe, recipe_file, event_key, event, status, error, outputs, "
    "created_at, started_at, finished_at, lease_owner, lease_until"
)
STEP_COLUMNS = (
    "path, seq, step_id, action, status, input, output, error, started_at, finished_at, attempts"
)


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step's run within a job: its rendered (redacted) input, output or error, timing.

    ``path`` locates the step in the recipe (``steps[2]``, ``steps[1].then[0]``,
    ``steps[3].for_each[7].steps[0]``); a rerun replaces the record at the same path.
    """

    path: str
    seq: int
    status: str
    step_id: str | None = None
    action: str | None = None
    input: Any = None
    output: Any = None
    error: Mapping[str, Any] | None = None
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 1

    def data(self, redact: Callable[[Any], Any] = lambda value: value) -> dict[str, Any]:
        """The step as JSON-shaped data, its input, output and error passed through ``redact``."""
        return {
            "path": self.path,
            "id": self.step_id,
            "action": self.action,
            "status": self.status,
            "attempts": self.attempts,
            "input": redact(self.input),
            "output": redact(self.output),
            "error": redact(self.error),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job: one run of a recipe on one trigger event, with its steps when fetched whole.

    ``lease_owner`` names the process running it (``host/pid/token``) until ``lease_until``,
    which that process keeps pushing forward while the job runs.
    """

    id: str
    recipe: str
    recipe_file: str
    event_key: str
    event: Any
    status: str
    created_at: float
    error: Mapping[str, Any] | None = None
    outputs: Any = None
    started_at: float | None = None
    finished_at: float | None = None
    steps: tuple[StepRecord, ...] = ()
    lease_owner: str | None = None
    lease_until: float | None = None


def dump(value: Any) -> str | None:
    """``value`` as the JSON text a column holds (None stays NULL)."""
    return None if value is None else json.dumps(value, separators=(",", ":"), default=str)


def load(text: str | None) -> Any:
    """The value a JSON column holds."""
    return None if text is None else json.loads(text)


def job_of(row: Sequence[Any]) -> JobRecord:
    """A job from a row of ``SELECT {JOB_COLUMNS}``, without its steps."""
    return JobRecord(
        id=row[0], recipe=row[1], recipe_file=row[2], event_key=row[3], event=load(row[4]),
        status=row[5], error=load(row[6]), outputs=load(row[7]), created_at=row[8],
        started_at=row[9], finished_at=row[10], lease_owner=row[11], lease_until=row[12],
    )  # fmt: skip


def _step(row: Sequence[Any]) -> StepRecord:
    return StepRecord(
        path=row[0], seq=row[1], step_id=row[2], action=row[3], status=row[4],
        input=load(row[5]), output=load(row[6]), error=load(row[7]), started_at=row[8],
        finished_at=row[9], attempts=row[10],
    )  # fmt: skip


class LeaseLost(HooklineError):
    """A poll cycle's cursor was not saved: its process no longer holds the trigger."""


class SqlStore:
    """A state store over a DB-API connection; subclasses say how to connect and quote."""

    placeholder = "?"
    row_lock = ""
    """What makes a ``SELECT`` lock the rows it reads until the transaction ends."""
    schema_lock = ""
    """A statement that makes processes creating tables at the same moment take turns."""

    def __init__(self, connect: Callable[[], Any], url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queued: list[tuple[Callable[[Any], Any], Future[Any]]] = []
        self._draining = False
        self._connect = connect
        self._conn: Any = connect()
        with self._transaction() as cur:
            self._create(cur, SCHEMA)
            _add_columns(cur)

    def _create(self, cur: SqlCursor, statements: Sequence[str]) -> None:
        """Run the ``CREATE ... IF NOT EXISTS`` of ``statements`` whose object is missing.

        Only the missing ones: on PostgreSQL even a ``CREATE INDEX IF NOT EXISTS`` whose index
        exists locks its table against writes first, and a process starting beside one that
        writes to two tables could then deadlock with it.
        """
        if self.schema_lock:
            cur.execute(self.schema_lock)
        for statement in statements:
            if self._missing(cur, statement):
                cur.execute(statement)

    def _missing(self, cur: SqlCursor, statement: str) -> bool:
        """Whether the table or index ``statement`` creates does not exist yet."""
        return True

    async def create_tables(self, statements: Sequence[str]) -> None:
        """Create tables beside the store's own, in turn with other processes doing the same."""
        await self.transaction(lambda cur: self._create(cur, statements))

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
            cur = self._conn.cursor()
            try:
                self._begin(cur)
                yield SqlCursor(cur, self.placeholder)
                self._conn.commit()
            except BaseException:
                self._discard_if_broken()
                raise
            finally:
                if self._conn is not None:
                    cur.close()

    def _discard_if_broken(self) -> None:
        """Roll back; a connection that cannot even do that is dropped and opened again."""
        try:
            self._conn.rollback()
        except Exception:
            conn, self._conn = self._conn, None
            with suppress(Exception):
                conn.close()
            return
        if getattr(self._conn, "broken", False) or getattr(self._conn, "closed", False):
            with suppress(Exception):
                self._conn.close()
            self._conn = None

    def _begin(self, cur: Any) -> None:
        """Start a transaction (the drivers start one implicitly unless told otherwise)."""

    async def _run(self, work: Callable[[Any], Any]) -> Any:
        """Run ``work`` in a transaction in a worker thread, sharing the commit with the works
        that other tasks hand in meanwhile (group commit: one sync of the disk per batch).

        Each work of a batch runs inside a savepoint of its own, so one that fails is undone
        alone and its caller gets the error; a failed commit fails the whole batch.
        """
        done: Future[Any] = Future()
        with self._queue_lock:
            self._queued.append((work, done))
            start = not self._draining
            self._draining = True
        if start:
            asyncio.get_running_loop().run_in_executor(None, self._drain)
        return await asyncio.wrap_future(done)

    def _drain(self) -> None:
        """Commit batches of queued works until none is left."""
        try:
            while True:
                with self._queue_lock:
                    batch, self._queued = self._queued[:BATCH_WORKS], self._queued[BATCH_WORKS:]
                    if not batch:
                        self._draining = False
                        return
                # A caller that gave up (cancelled) before its work started is left out.
                batch = [(w, done) for w, done in batch if done.set_running_or_notify_cancel()]
                if batch:
                    self._commit(batch)
        except BaseException:
            with self._queue_lock:  # never leave the queue without a drainer
                self._draining = False
            raise

    def _commit(self, batch: list[tuple[Callable[[Any], Any], Future[Any]]]) -> None:
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with self._transaction() as cur:
                if len(batch) == 1:
                    work, done = batch[0]
                    outcomes.append((done, work(cur), None))
                else:
                    for work, done in batch:
                        outcomes.append((done, *_in_savepoint(cur, work)))
        except BaseException as exc:
            for _, done in batch:
                done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for done, result, error in outcomes:
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)

    async def transaction(self, work: Callable[[SqlCursor], T]) -> T:
        """Run ``work(cursor)`` in one transaction (the cursor takes ``?`` parameters).

        ``work`` runs in a worker thread and must not await; an exception undoes what it
        wrote (and only that: it shares the commit with other calls in a savepoint).
        """
        result: T = await self._run(work)
        return result

    # ------------------------------------------------------------------- cursors and polls

    async def get_cursor(self, recipe: str, trigger: str) -> Any:
        """The saved cursor of a recipe's trigger, or None before its first poll."""

        def work(cur: SqlCursor) -> Any:
            cur.execute("SELECT value FROM cursors WHERE recipe = ? AND trigger = ?",
                        (recipe, trigger))  # fmt: skip
            row = cur.fetchone()
            return load(row[0]) if row else None

        return await self._run(work)

    async def queue_events(
        self, recipe: str, recipe_file: str, events: Sequence[tuple[str, Any]]
    ) -> list[JobRecord]:
        """Write one page of a poll's events to the inbox and queue a job per event not seen
        before, in one transaction; the cursor stays where it is.

        Returns the jobs created; an event whose key already has a job is skipped.
        """
        now = time.time()
        result: list[JobRecord] = await self._run(
            lambda cur: _queue(cur, recipe, recipe_file, events, now)
        )
        return result

    async def commit_poll(
        self,
        recipe: str,
        recipe_file: str,
        trigger: str,
        cursor: Any,
        events: Sequence[tuple[str, Any]],
        *,
        holder: str | None = None,
    ) -> list[JobRecord]:
        """Write the events to the inbox, queue a job per event not seen before and save the
        cursor, in one transaction.

        Returns the jobs created; an event whose key already has a job is skipped. The jobs'
        creation times are a microsecond apart, so that they run in the events' order. With
        ``holder``, the cursor is saved only while that process holds the trigger's poll
        lease (``hookline.run.claims``): otherwise nothing is written and ``LeaseLost`` says
        so, so that a process that stalled past its lease never moves the cursor of the
        process that took the trigger over.
        """
        now = time.time()

        def work(cur: SqlCursor) -> list[JobRecord]:
            if holder is not None:
                cur.execute(
                    "SELECT cycle_owner FROM trigger_state WHERE recipe = ? AND trigger = ?"
                    f"{self.row_lock}",
                    (recipe, trigger),
                )
                row = cur.fetchone()
                if row is None or row[0] != holder:
                    raise LeaseLost(
                        f"{recipe}: another process polls {trigger} now; this cycle's cursor "
                        "is not saved (its events are)"
                    )
            created = _queue(cur, recipe, recipe_file, events, now)
            cur.execute(
                "INSERT INTO cursors (recipe, trigger, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (recipe, trigger) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (recipe, trigger, dump(cursor), now),
            )
            return created

        result: list[JobRecord] = await self._run(work)
        return result

    # ------------------------------------------------------------------- jobs

    async def create_job(
        self, recipe: str, recipe_file: str, event_key: str, event: Any
    ) -> JobRecord | None:
        """Queue one job; None when a job for this event key exists already."""
        job = _new_job(recipe, recipe_file, event_key, event, time.time())
        inserted: bool = await self._run(lambda cur: _insert_job(cur, job))
        return job if inserted else None

    async def receive_events(
        self, events: Sequence[tuple[str, str, str, Any]], *, source: str
    ) -> list[tuple[JobRecord, bool]]:
        """Write events to the inbox and queue a job for each new one, in one transaction.

        ``events`` are (recipe, recipe file, event key, event). Returns, per event, its job
        and whether the job is new (an event delivered again keeps its first job, and counts
        one more delivery in the inbox). Nothing is written unless everything is: a caller
        answers the sender only after this returns.
        """
        now = time.time()

        def work(cur: SqlCursor) -> list[tuple[JobRecord, bool]]:
            found = []
            for recipe, recipe_file, key, event in events:
                text = dump(event)
                _insert_event(cur, recipe, key, text, source, now)
                job = _new_job(recipe, recipe_file, key, event, now)
                if _insert_job(cur, job, text):
                    found.append((job, True))
                    continue
                cur.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE recipe = ? AND event_key = ?",
                            (recipe, key))  # fmt: skip
                found.append((job_of(cur.fetchone()), False))
            for recipe in {event[0] for event in events}:
                cur.execute("UPDATE trigger_state SET last_event_at = ? WHERE recipe = ?",
                            (now, recipe))  # fmt: skip
            return found

        result: list[tuple[JobRecord, bool]] = await self._run(work)
        return result

    async def start_job(self, job_id: str) -> None:
        """Mark a job running (again, on a rerun); its final fields are cleared."""
        await self._run(lambda cur: cur.execute(
            "UPDATE jobs SET status = 'running', started_at = ?, finished_at = NULL, "
            "error = NULL WHERE id = ?", (time.time(), job_id)))  # fmt: skip

    async def finish_job(
        self, job_id: str, status: str, *, error: Mapping[str, Any] | None = None,
        outputs: Any = None,
    ) -> None:  # fmt: skip
        """Record a job's final status, its error or outputs."""
        if status not in FINAL:
            raise ValueError(f"not a final job status: {status!r}")
        await self._run(lambda cur: cur.execute(
            "UPDATE jobs SET status = ?, error = ?, outputs = ?, finished_at = ?, "
            "lease_owner = NULL, lease_until = NULL WHERE id = ?",
            (status, dump(error), dump(outputs), time.time(), job_id)))  # fmt: skip

    async def record_step(self, job_id: str, step: StepRecord) -> None:
        """Save a step's record, replacing an earlier run's at the same path."""
        values = (job_id, step.path, step.seq, step.step_id, step.action, step.status,
                  dump(step.input), dump(step.output), dump(step.error), step.started_at,
                  step.finished_at, step.attempts)  # fmt: skip
        await self._run(lambda cur: cur.execute(
            f"INSERT INTO steps (job_id, {STEP_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, path) DO UPDATE SET "
            "seq = excluded.seq, step_id = excluded.step_id, action = excluded.action, "
            "status = excluded.status, input = excluded.input, output = excluded.output, "
            "error = excluded.error, started_at = excluded.started_at, "
            "finished_at = excluded.finished_at, attempts = excluded.attempts",
            values))  # fmt: skip

    async def get_job(self, job_id: str) -> JobRecord | None:
        """A job with its steps in the order they first ran, or None."""

        result: JobRecord | None = await self._run(lambda cur: read_job(cur, job_id))
        return result

    async def find_job(self, prefix: str) -> list[str]:
        """The ids of jobs starting with ``prefix`` (people type short ids)."""

        def work(cur: SqlCursor) -> list[str]:
            cur.execute("SELECT id FROM jobs WHERE id LIKE ? ORDER BY id LIMIT 10",
                        (prefix.replace("%", "").replace("_", "") + "%",))  # fmt: skip
            return [row[0] for row in cur.fetchall()]

        result: list[str] = await self._run(work)
        return result

    async def list_jobs(
        self,
        *,
        recipe: str | None = None,
        failed: bool = False,
        limit: int = 20,
        statuses: Sequence[str] = (),
        since: float | None = None,
        until: float | None = None,
        offset: int = 0,
    ) -> list[JobRecord]:
        """The newest jobs first, optionally of one recipe, only the failed ones, only those
        in ``statuses``, or only those created from ``since`` and before ``until``; the first
        ``offset`` are left out (a page of a longer list)."""
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append("created_at >= ?")
            params.append(since)
        if until is not None:
            clauses.append("created_at < ?")
            params.append(until)
        if recipe is not None:
            clauses.append("recipe = ?")
            params.append(recipe)
        if failed:
            clauses.append("status IN ('failed', 'outcome_unknown')")
        if statuses:
            clauses.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""

        def work(cur: SqlCursor) -> list[JobRecord]:
            cur.execute(f"SELECT {JOB_COLUMNS} FROM jobs {where} ORDER BY created_at DESC, id "
                        "LIMIT ? OFFSET ?", (*params, limit, offset))  # fmt: skip
            return [job_of(row) for row in cur.fetchall()]

        result: list[JobRecord] = await self._run(work)
        return result

    async def queued_jobs(self, recipe: str) -> list[JobRecord]:
        """A recipe's jobs that were queued and never started, oldest first.

        After a crash between queueing a poll's events and running them, these are what the
        next run picks up, so an event is never lost.
        """

        def work(cur: SqlCursor) -> list[JobRecord]:
            cur.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE recipe = ? AND status = 'queued' "
                        "ORDER BY created_at, id", (recipe,))  # fmt: skip
            return [job_of(row) for row in cur.fetchall()]

        result: list[JobRecord] = await self._run(work)
        return result

    async def event_job(self, recipe: str, event_key: str) -> JobRecord | None:
        """The job a recipe made for an event key, without its steps, or None."""

        def work(cur: SqlCursor) -> JobRecord | None:
            cur.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE recipe = ? AND event_key = ?",
                        (recipe, event_key))  # fmt: skip
            row = cur.fetchone()
            return None if row is None else job_of(row)

        result: JobRecord | None = await self._run(work)
        return result

    async def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await asyncio.to_thread(self._conn.close)


BATCH_WORKS = 200
"""The most works one group commit holds."""


def _in_savepoint(cur: SqlCursor, work: Callable[[Any], Any]) -> tuple[Any, BaseException | None]:
    """Run one work of a batch; a failure undoes its own writes only."""
    cur.execute("SAVEPOINT work")
    try:
        result = work(cur)
    except Exception as exc:
        cur.execute("ROLLBACK TO SAVEPOINT work")
        cur.execute("RELEASE SAVEPOINT work")
        return None, exc
    cur.execute("RELEASE SAVEPOINT work")
    return result, None


def read_job(cur: SqlCursor, job_id: str) -> JobRecord | None:
    """A job with its steps in the order they first ran, or None, read within a transaction."""
    cur.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
    row = cur.fetchone()
    if row is None:
        return None
    cur.execute(f"SELECT {STEP_COLUMNS} FROM steps WHERE job_id = ? ORDER BY seq, path",
                (job_id,))  # fmt: skip
    return replace(job_of(row), steps=tuple(_step(r) for r in cur.fetchall()))


def _new_job(recipe: str, file: str, key: str, event: Any, now: float) -> JobRecord:
    return JobRecord(uuid.uuid4().hex, recipe, file, key, event, "queued", now)


def _insert_job(cur: SqlCursor, job: JobRecord, text: str | None = None) -> bool:
    """Queue ``job`` unless its event key has a job; ``text`` is its event as JSON, if made."""
    cur.execute(
        f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (recipe, event_key) DO NOTHING",
        (job.id, job.recipe, job.recipe_file, job.event_key,
         dump(job.event) if text is None else text, job.status,
         None, None, job.created_at, None, None, None, None),
    )  # fmt: skip
    return bool(cur.rowcount == 1)


def _insert_event(
    cur: SqlCursor, recipe: str, key: str, text: str | None, source: str, now: float
) -> None:
    """Put an event (``text``, its JSON) in the inbox; one seen before counts one more
    delivery."""
    cur.execute(
        "INSERT INTO inbox (recipe, event_key, source, event, received_at, last_received_at, "
        "deliveries) VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT (recipe, event_key) DO UPDATE "
        "SET deliveries = inbox.deliveries + 1, last_received_at = excluded.last_received_at",
        (recipe, key, source, text, now, now),
    )


def _queue(
    cur: SqlCursor, recipe: str, file: str, events: Sequence[tuple[str, Any]], now: float
) -> list[JobRecord]:
    """Put polled events in the inbox and queue a job for each new one; the jobs made."""
    created = []
    for index, (key, event) in enumerate(events):
        job = _new_job(recipe, file, key, event, now + index * 1e-6)
        text = dump(event)
        _insert_event(cur, recipe, key, text, "poll", now)
        if _insert_job(cur, job, text):
            created.append(job)
    return created


def _add_columns(cur: SqlCursor) -> None:
    """Add the columns of ``ADDED_COLUMNS`` a store made by an earlier version lacks."""
    for table, columns in ADDED_COLUMNS.items():
        cur.execute(f"SELECT * FROM {table} WHERE 1 = 0")
        present = {column.lower() for column in cur.column_names()}
        for name, kind in columns.items():
            if name not in present:
                cur.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


class SqlCursor:
    """A cursor that takes ``?`` parameters whatever the driver's own style."""

    def __init__(self, cur: Any, placeholder: str) -> None:
        self._cur = cur
        self._placeholder = placeholder

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement."""
        if self._placeholder != "?":
            sql = sql.replace("?", self._placeholder)
        self._cur.execute(sql, params)

    @property
    def rowcount(self) -> int:
        """How many rows the last statement changed."""
        return int(self._cur.rowcount)

    def fetchone(self) -> Any:
        """The next row of the last query, or None."""
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        """The remaining rows of the last query."""
        return list(self._cur.fetchall())

    def column_names(self) -> list[str]:
        """The column names of the last query."""
        return [column[0] for column in self._cur.description or ()]


class SqliteStore(SqlStore):
    """State in a SQLite file (WAL mode, so several processes can share it; every commit
    synced to disk).

    A file that is not a SQLite database, or one SQLite finds damaged, is a
    ``ConfigurationError`` naming it, whenever SQLite notices.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        _create_private(path)

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                   timeout=30)  # fmt: skip
            with self._damage_reported():
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            return conn

        super().__init__(connect, f"sqlite:///{path}")

    def _begin(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._damage_reported(), super()._transaction() as cur:
            yield cur

    @contextmanager
    def _damage_reported(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if exc.sqlite_errorcode & 0xFF not in _DAMAGED:
                raise
            raise ConfigurationError(
                f"the state database at {self.path} is damaged: {exc}; restore it from a "
                "backup, or move it aside to start a new one"
            ) from None


_DAMAGED = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


def _create_private(path: Path) -> None:
    """Create the database file with mode 0600 (and its folder with 0700) if it is missing.

    SQLite gives its journal and WAL files the database file's mode, so they follow.
    """
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    if str(path) == ":memory:":
        return
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


class PostgresStore(SqlStore):
    """State in PostgreSQL (``pip install 'hookline[postgresql]'``)."""

    placeholder = "%s"
    row_lock = " FOR UPDATE"
    # PostgreSQL refuses a CREATE TABLE IF NOT EXISTS that another session runs at the same
    # moment (a unique violation in its catalog); a transaction-scoped advisory lock orders them.
    schema_lock = "SELECT pg_advisory_xact_lock(7306395261)"

    def _missing(self, cur: SqlCursor, statement: str) -> bool:
        """Whether the table or index ``statement`` creates is not in the search path."""
        found = _CREATED.match(statement)
        if found is None:
            return True
        cur.execute("SELECT to_regclass(?)", (found.group(1),))
        return bool(cur.fetchone()[0] is None)

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise ConfigurationError(
                "a PostgreSQL state store needs psycopg: pip install 'hookline[postgresql]'"
            ) from None

        def connect() -> Any:
            try:
                return psycopg.connect(url)
            except psycopg.Error as exc:
                said = " ".join(str(exc).split())  # libpq's hints come on lines of their own
                raise ConfigurationError(
                    f"cannot open the state store {redact_url(url)}: {said}"
                ) from None

        try:
            super().__init__(connect, redact_url(url))
        except psycopg.errors.InvalidSchemaName:
            self._conn.close()
            raise ConfigurationError(
                f"cannot open the state store {redact_url(url)}: no schema of its search_path "
                "exists in the database, so hookline's tables have nowhere to go; create the "
                "schema first (CREATE SCHEMA NAME), or leave options=-csearch_path out"
            ) from None


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def open_sqlite(url: str) -> SqliteStore:
    """Open a plain path, ``sqlite:///relative/path`` or ``sqlite:////absolute/path``."""
    return SqliteStore(_sqlite_file(url))


def _sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def store_file(url: str | None) -> Path | None:
    """The file of the SQLite store ``url`` names, as ``open_store`` reads it; None for a
    store a server keeps.

    Opening a SQLite store creates its file: a command that only reads history checks that
    the file exists first, and says there is no history rather than create an empty store.
    """
    if not url:
        return DEFAULT_STATE
    if "://" not in url:
        return Path(url)
    return _sqlite_file(url) if urlsplit(url).scheme == "sqlite" else None


@hookimpl
def register_state_stores() -> dict[str, Any]:
    """The built-in stores, by URL scheme."""
    return {"sqlite": open_sqlite, "postgresql": PostgresStore, "postgres": PostgresStore}


def open_store(url: str | None, pm: pluggy.PluginManager) -> SqlStore:
    """Open the store ``url`` names: a path or ``sqlite:///`` URL, or a registered scheme."""
    if not url:
        return open_sqlite(str(DEFAULT_STATE))
    scheme = urlsplit(url).scheme if "://" in url else ""
    if not scheme:
        return open_sqlite(url)
    stores = collect_named(pm, "register_state_stores", "state store")
    if scheme not in stores:
        raise ConfigurationError(
            f"no state store for {scheme}:// URLs (known: {', '.join(sorted(stores))})"
        )
    store: SqlStore = stores[scheme](url)
    return store
