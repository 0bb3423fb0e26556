"""The state store: trigger cursors, seen event keys and job history.

One interface, two backends chosen by URL: SQLite (a path, or ``sqlite:///path``; the default
``.hookline/state.db``) and PostgreSQL (``postgresql://...``), both registered through
``register_state_stores`` like a third-party store would be. Both speak the same SQL; the
PostgreSQL backend only swaps the parameter style.

Delivery guarantees rest on two transactions here: ``commit_poll`` queues a poll's new events
as jobs *and* moves the cursor in one transaction (a cursor never passes an event that was not
durably queued), and a job's identity is unique per (recipe, event key), so an event seen
twice never starts a second job. Calls are ``async``; the drivers are synchronous and run in
a worker thread, one statement batch at a time.

``transaction`` lets the modules beside this one (rate budgets in ``hookline.run.budgets``,
sessions in ``hookline.run.sessions``) keep their own tables in the same database: on SQLite
each transaction is ``BEGIN IMMEDIATE``, so writers of all processes take turns, and on
PostgreSQL a ``SELECT ... {row_lock}`` holds the rows it read until the end. A SQLite file
is created readable by its owner only (mode 0600), in a folder made with mode 0700: it holds
job history and cached sessions.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pluggy

from hookline.errors import ConfigurationError
from hookline.plugins.hookspecs import hookimpl
from hookline.plugins.manager import collect_named

T = TypeVar("T")

DEFAULT_STATE = Path(".hookline") / "state.db"
FINAL = frozenset({"succeeded", "failed", "skipped", "outcome_unknown"})

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS cursors (
        recipe TEXT NOT NULL, trigger TEXT NOT NULL, value TEXT, updated_at DOUBLE PRECISION,
        PRIMARY KEY (recipe, trigger))""",
    """CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY, recipe TEXT NOT NULL, recipe_file TEXT NOT NULL,
        event_key TEXT NOT NULL, event TEXT, status TEXT NOT NULL, error TEXT, outputs TEXT,
        created_at DOUBLE PRECISION NOT NULL, started_at DOUBLE PRECISION,
        finished_at DOUBLE PRECISION, UNIQUE (recipe, event_key))""",
    "CREATE INDEX IF NOT EXISTS jobs_by_recipe ON jobs (recipe, created_at)",
    """CREATE TABLE IF NOT EXISTS steps (
        job_id TEXT NOT NULL, path TEXT NOT NULL, seq INTEGER NOT NULL, step_id TEXT,
        action TEXT, status TEXT NOT NULL, input TEXT, output TEXT, error TEXT,
        started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION, attempts INTEGER NOT NULL,
        PRIMARY KEY (job_id, path))""",
)

JOB_COLUMNS = (
    "id, recipe, recipe_file, event_key, event, status, error, outputs, "
    "created_at, started_at, finished_at"
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


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job: one run of a recipe on one trigger event, with its steps when fetched whole."""

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


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), default=str)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _job(row: Sequence[Any]) -> JobRecord:
    return JobRecord(
        id=row[0], recipe=row[1], recipe_file=row[2], event_key=row[3], event=_load(row[4]),
        status=row[5], error=_load(row[6]), outputs=_load(row[7]), created_at=row[8],
        started_at=row[9], finished_at=row[10],
    )  # fmt: skip


def _step(row: Sequence[Any]) -> StepRecord:
    return StepRecord(
        path=row[0], seq=row[1], step_id=row[2], action=row[3], status=row[4],
        input=_load(row[5]), output=_load(row[6]), error=_load(row[7]), started_at=row[8],
        finished_at=row[9], attempts=row[10],
    )  # fmt: skip


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
        self._conn = connect()
        with self._transaction() as cur:
            if self.schema_lock:
                cur.execute(self.schema_lock)
            for statement in SCHEMA:
                cur.execute(statement)

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                self._begin(cur)
                yield _Cursor(cur, self.placeholder)
                self._conn.commit()
            except BaseException:
                self._conn.rollback()
                raise
            finally:
                cur.close()

    def _begin(self, cur: Any) -> None:
        """Start a transaction (the drivers start one implicitly unless told otherwise)."""

    async def _run(self, work: Callable[[Any], Any]) -> Any:
        def job() -> Any:
            with self._transaction() as cur:
                return work(cur)

        return await asyncio.to_thread(job)

    async def transaction(self, work: Callable[[Any], T]) -> T:
        """Run ``work(cursor)`` in one transaction (the cursor takes ``?`` parameters).

        ``work`` runs in a worker thread and must not await; an exception rolls it back.
        """
        result: T = await self._run(work)
        return result

    # ------------------------------------------------------------------- cursors and polls

    async def get_cursor(self, recipe: str, trigger: str) -> Any:
        """The saved cursor of a recipe's trigger, or None before its first poll."""

        def work(cur: _Cursor) -> Any:
            cur.execute("SELECT value FROM cursors WHERE recipe = ? AND trigger = ?",
                        (recipe, trigger))  # fmt: skip
            row = cur.fetchone()
            return _load(row[0]) if row else None

        return await self._run(work)

    async def commit_poll(
        self,
        recipe: str,
        recipe_file: str,
        trigger: str,
        cursor: Any,
        events: Sequence[tuple[str, Any]],
    ) -> list[JobRecord]:
        """Queue a job per event not seen before and save the cursor, in one transaction.

        Returns the jobs created; an event whose key already has a job is skipped. The jobs'
        creation times are a microsecond apart, so that they run in the events' order.
        """
        now = time.time()

        def work(cur: _Cursor) -> list[JobRecord]:
            created = []
            for index, (key, event) in enumerate(events):
                job = _new_job(recipe, recipe_file, key, event, now + index * 1e-6)
                if _insert_job(cur, job):
                    created.append(job)
            cur.execute(
                "INSERT INTO cursors (recipe, trigger, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (recipe, trigger) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (recipe, trigger, _dump(cursor), now),
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
            "UPDATE jobs SET status = ?, error = ?, outputs = ?, finished_at = ? WHERE id = ?",
            (status, _dump(error), _dump(outputs), time.time(), job_id)))  # fmt: skip

    async def record_step(self, job_id: str, step: StepRecord) -> None:
        """Save a step's record, replacing an earlier run's at the same path."""
        values = (job_id, step.path, step.seq, step.step_id, step.action, step.status,
                  _dump(step.input), _dump(step.output), _dump(step.error), step.started_at,
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

        def work(cur: _Cursor) -> JobRecord | None:
            cur.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(f"SELECT {STEP_COLUMNS} FROM steps WHERE job_id = ? ORDER BY seq, path",
                        (job_id,))  # fmt: skip
            return replace(_job(row), steps=tuple(_step(r) for r in cur.fetchall()))

        result: JobRecord | None = await self._run(work)
        return result

    async def find_job(self, prefix: str) -> list[str]:
        """The ids of jobs starting with ``prefix`` (people type short ids)."""

        def work(cur: _Cursor) -> list[str]:
            cur.execute("SELECT id FROM jobs WHERE id LIKE ? ORDER BY id LIMIT 10",
                        (prefix.replace("%", "").replace("_", "") + "%",))  # fmt: skip
            return [row[0] for row in cur.fetchall()]

        result: list[str] = await self._run(work)
        return result

    async def list_jobs(
        self, *, recipe: str | None = None, failed: bool = False, limit: int = 20
    ) -> list[JobRecord]:
        """The newest jobs first, optionally of one recipe or only the failed ones."""
        clauses, params = [], []
        if recipe is not None:
            clauses.append("recipe = ?")
            params.append(recipe)
        if failed:
            clauses.append("status IN ('failed', 'outcome_unknown')")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""

        def work(cur: _Cursor) -> list[JobRecord]:
            cur.execute(f"SELECT {JOB_COLUMNS} FROM jobs {where} ORDER BY created_at DESC, id "
                        "LIMIT ?", (*params, limit))  # fmt: skip
            return [_job(row) for row in cur.fetchall()]

        result: list[JobRecord] = await self._run(work)
        return result

    async def queued_jobs(self, recipe: str) -> list[JobRecord]:
        """A recipe's jobs that were queued and never started, oldest first.

        After a crash between queueing a poll's events and running them, these are what the
        next run picks up, so an event is never lost.
        """

        def work(cur: _Cursor) -> list[JobRecord]:
            cur.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE recipe = ? AND status = 'queued' "
                        "ORDER BY created_at, id", (recipe,))  # fmt: skip
            return [_job(row) for row in cur.fetchall()]

        result: list[JobRecord] = await self._run(work)
        return result

    async def event_job(self, recipe: str, event_key: str) -> JobRecord | None:
        """The job a recipe made for an event key, without its steps, or None."""

        def work(cur: _Cursor) -> JobRecord | None:
            cur.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE recipe = ? AND event_key = ?",
                        (recipe, event_key))  # fmt: skip
            row = cur.fetchone()
            return None if row is None else _job(row)

        result: JobRecord | None = await self._run(work)
        return result

    async def close(self) -> None:
        """Close the connection."""
        await asyncio.to_thread(self._conn.close)


def _new_job(recipe: str, file: str, key: str, event: Any, now: float) -> JobRecord:
    return JobRecord(uuid.uuid4().hex, recipe, file, key, event, "queued", now)


def _insert_job(cur: _Cursor, job: JobRecord) -> bool:
    cur.execute(
        f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (recipe, event_key) DO NOTHING",
        (job.id, job.recipe, job.recipe_file, job.event_key, _dump(job.event), job.status,
         None, None, job.created_at, None, None),
    )  # fmt: skip
    return bool(cur.rowcount == 1)


class _Cursor:
    """A cursor that takes ``?`` parameters whatever the driver's own style."""

    def __init__(self, cur: Any, placeholder: str) -> None:
        self._cur = cur
        self._placeholder = placeholder

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self._placeholder != "?":
            sql = sql.replace("?", self._placeholder)
        self._cur.execute(sql, params)

    @property
    def rowcount(self) -> int:
        return int(self._cur.rowcount)

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cur.fetchall())


class SqliteStore(SqlStore):
    """State in a SQLite file (WAL mode, so several processes can share it).

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
                raise ConfigurationError(
                    f"cannot open the state store {redact_url(url)}: {exc}".strip()
                ) from None

        super().__init__(connect, redact_url(url))


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def open_sqlite(url: str) -> SqliteStore:
    """Open a plain path, ``sqlite:///relative/path`` or ``sqlite:////absolute/path``."""
    return SqliteStore(Path(url.removeprefix("sqlite:///")))


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
