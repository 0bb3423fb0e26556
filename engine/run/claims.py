"""Claims: which process runs a job, and taking over what a process that died left behind.

Several processes may share one state store (``hookline serve``, a ``hookline run`` started
by hand, a second ``serve``). Before a job runs it is **claimed**: one ``UPDATE`` whose
``WHERE`` holds only while the job is free (queued, interrupted, or held by no live process),
so of the processes that try at the same moment exactly one changes the row and runs the job;
the others see no row changed and leave it. The condition is on the job's own row, so it is
decided atomically by SQLite's write lock and by PostgreSQL's row lock alike.

The winner holds a **lease**: ``lease_owner`` names the process (``host/pid/token``) and
``lease_until`` says until when; the process pushes it forward every ``lease / 3`` seconds
while it runs (``renewing``). A job is **stale** when its lease has run out, or when its owner
is a process of this machine that no longer exists (so a restart after a crash does not wait
for the lease to run out). A stale job is claimed like a free one and resumed at its first
unfinished step (``hookline.run.jobs``); ``hookline jobs --stale`` lists them meanwhile.

A poll trigger is **held** the same way, in ``trigger_state`` (``hold_trigger``; the columns
``cycle_owner`` and ``cycle_until``): one process holds each trigger's lease and polls it on
its schedule, renewing the lease at every beat with its jobs'; the others look every ``lease
/ 3`` seconds and take the trigger over when its lease ran out or its holder exited, or at
once after a holder that stops lets it go (``let_go``). The taker reads when the last cycle
began, so the schedule goes on where the holder left it. A cursor is saved only by the
trigger's holder (``SqlStore.commit_poll``'s ``holder``), so a holder that wakes from a stall
after its trigger was taken over never moves it.

A job whose recipe's trigger is paused (``hookline.run.cycles``) is not claimed unless it
is claimed ``again`` (an operator's rerun, which ``hookline.run.operations.requeue`` queued
first): it stays queued, held, until the trigger is resumed; the holder of a paused poll
trigger keeps its lease but does not poll. A finished job is never claimed.

What a lease cannot promise: a process that stalls for longer than its lease (a suspended
laptop) may find its job taken over by another process when it wakes, and both may then send
the same step. Leases are long (30 seconds) next to the pauses a healthy process makes.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from hookline.http.lease import Heartbeat
from hookline.run.store import (
    JOB_COLUMNS,
    RESUMABLE,
    JobRecord,
    SqlCursor,
    SqlStore,
    job_of,
    read_job,
)

DEFAULT_LEASE = 30.0
"""Seconds a claim holds without renewal."""

_HOST = socket.gethostname()


def owner_id() -> str:
    """A name for this process that no other process will have: ``host/pid/token``."""
    return f"{_HOST}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


def owner_gone(owner: str | None) -> bool:
    """True when ``owner`` surely no longer runs: a process of this machine that has exited.

    A process of another machine, or one whose pid is alive (even if it is another program
    that reused the pid), is taken to be running: its lease must run out instead.
    """
    if owner is None:
        return False
    host, _, rest = owner.partition("/")
    pid_text = rest.partition("/")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that has exited but was not reaped yet still answers ``kill(pid, 0)``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def is_stale(job: JobRecord, now: float) -> bool:
    """A running job whose holder is gone: its lease ran out, or its process exited."""
    if job.status != "running":
        return False
    if job.lease_until is None or job.lease_until < now:
        return True
    return owner_gone(job.lease_owner)


@dataclass
class Claims:
    """This process's claims on jobs and poll triggers in ``store``."""

    store: SqlStore
    owner: str = field(default_factory=owner_id)
    lease: float = DEFAULT_LEASE

    async def claim(self, job: JobRecord, *, again: bool = False) -> bool:
        """Take ``job`` to run it: True when this process won it.

        A free job (queued or interrupted) or a stale one can be claimed; ``again`` (an
        operator's rerun) also while its trigger is paused. A finished job, or a running one
        with a live holder, never is.
        """
        return await self.take(job, again=again) is not None

    async def take(self, job: JobRecord, *, again: bool = False) -> JobRecord | None:
        """``claim``, giving the job as it now stands with its steps; None if not won."""
        now = time.time()
        gone = job.lease_owner if job.status == "running" and owner_gone(job.lease_owner) else ""
        statuses = sorted(RESUMABLE)
        marks = ", ".join("?" for _ in statuses)
        held = "" if again else f" AND NOT EXISTS ({_PAUSED})"

        def work(cur: SqlCursor) -> JobRecord | None:
            cur.execute(
                "UPDATE jobs SET status = 'running', started_at = ?, finished_at = NULL, "
                "error = NULL, lease_owner = ?, lease_until = ? WHERE id = ? AND "
                f"(status IN ({marks}) OR (status = 'running' AND (lease_until IS NULL "
                f"OR lease_until < ? OR lease_owner = ?))){held}",
                (now, self.owner, now + self.lease, job.id, *statuses, now, gone),
            )
            return read_job(cur, job.id) if cur.rowcount == 1 else None

        return await self.store.transaction(work)

    async def release(self, job_id: str, status: str = "interrupted") -> None:
        """Give a job this process holds back unfinished, for the next start."""
        await release_job(self.store, job_id, status, owner=self.owner)

    async def renew(self) -> None:
        """Push every lease this process holds (jobs and poll triggers) ``lease`` seconds on."""
        until = time.time() + self.lease

        def work(cur: SqlCursor) -> None:
            cur.execute(
                "UPDATE jobs SET lease_until = ? WHERE lease_owner = ? AND status = 'running'",
                (until, self.owner),
            )
            cur.execute(
                "UPDATE trigger_state SET cycle_until = ? WHERE cycle_owner = ?",
                (until, self.owner),
            )

        await self.store.transaction(work)

    def renewing(self) -> Heartbeat:
        """Renew this process's leases in the background while an ``async with`` block runs:
        every third of the lease (``hookline.http.lease``)."""
        return Heartbeat(self.renew, self.lease / 3)

    async def resumable(self, recipe: str) -> list[JobRecord]:
        """The recipe's jobs this process may claim now, oldest first."""
        return await resumable_jobs(self.store, recipe)

    async def hold_trigger(self, recipe: str, trigger: str, kind: str = "poll") -> Hold | None:
        """Take or keep the poll lease of a trigger: None while another process holds it.

        The lease is free when no process holds it, when its holder let it go, when it ran
        out, or when its holder is a process of this machine that has exited. Holding it
        again pushes it ``lease`` seconds on; ``renew`` does the same at every beat.
        """
        now = time.time()

        def work(cur: SqlCursor) -> Hold | None:
            cur.execute(
                "INSERT INTO trigger_state (recipe, trigger, kind, registered_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (recipe, trigger) DO NOTHING",
                (recipe, trigger, kind, now),
            )
            cur.execute("SELECT cycle_owner FROM trigger_state WHERE recipe = ? AND trigger = ?",
                        (recipe, trigger))  # fmt: skip
            owner = cur.fetchone()[0]
            gone = owner if owner_gone(owner) else ""
            cur.execute(
                "UPDATE trigger_state SET cycle_owner = ?, cycle_until = ? "
                "WHERE recipe = ? AND trigger = ? AND (cycle_owner IS NULL OR cycle_owner = ? "
                "OR cycle_until < ? OR cycle_owner = ?)",
                (self.owner, now + self.lease, recipe, trigger, self.owner, now, gone),
            )
            if cur.rowcount != 1:
                return None
            cur.execute("SELECT cycle_started FROM trigger_state WHERE recipe = ? AND trigger = ?",
                        (recipe, trigger))  # fmt: skip
            return Hold(owner != self.owner, cur.fetchone()[0])

        return await self.store.transaction(work)

    async def let_go(self, recipe: str, trigger: str) -> None:
        """Give up the poll lease of a trigger, if this process holds it: another process may
        take it at its next look."""

        def work(cur: SqlCursor) -> None:
            cur.execute(
                "UPDATE trigger_state SET cycle_owner = NULL, cycle_until = NULL "
                "WHERE recipe = ? AND trigger = ? AND cycle_owner = ?",
                (recipe, trigger, self.owner),
            )

        await self.store.transaction(work)


@dataclass(frozen=True, slots=True)
class Hold:
    """A trigger's poll lease as this process holds it: ``taken`` now (rather than kept), and
    when the trigger's last cycle began (by whichever process ran it; None: never polled)."""

    taken: bool
    last_cycle: float | None


async def release_job(
    store: SqlStore, job_id: str, status: str = "interrupted", *, owner: str | None = None
) -> None:
    """Mark a job unfinished (``interrupted`` or ``queued``) and free; only if ``owner``
    holds it, when given."""
    held = "" if owner is None else " AND lease_owner = ?"

    def work(cur: SqlCursor) -> None:
        cur.execute(
            "UPDATE jobs SET status = ?, lease_owner = NULL, lease_until = NULL, "
            f"finished_at = ? WHERE id = ?{held}",
            (status, time.time(), job_id, *(() if owner is None else (owner,))),
        )

    await store.transaction(work)


_PAUSED = "SELECT 1 FROM trigger_state p WHERE p.recipe = jobs.recipe AND p.paused_at IS NOT NULL"
"""A subquery that finds a row when the job's recipe is paused."""


async def unfinished_jobs(
    store: SqlStore, recipe: str | None = None, *, held: bool = True
) -> list[JobRecord]:
    """Jobs queued, interrupted or running (of one recipe, or all), oldest first; without
    those of paused recipes unless ``held``."""
    where = "status IN ('queued', 'interrupted', 'running')"
    if not held:
        where += f" AND NOT EXISTS ({_PAUSED})"
    params: tuple[str, ...] = ()
    if recipe is not None:
        where += " AND recipe = ?"
        params = (recipe,)

    def work(cur: SqlCursor) -> list[JobRecord]:
        cur.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY created_at, id",
                    params)  # fmt: skip
        return [job_of(row) for row in cur.fetchall()]

    return await store.transaction(work)


async def resumable_jobs(store: SqlStore, recipe: str | None = None) -> list[JobRecord]:
    """Jobs any process may claim now, oldest first: queued, interrupted and stale ones, but
    none of a paused recipe."""
    now = time.time()
    jobs = await unfinished_jobs(store, recipe, held=False)
    return [job for job in jobs if job.status in RESUMABLE or is_stale(job, now)]


async def stale_jobs(store: SqlStore, recipe: str | None = None) -> list[JobRecord]:
    """Running jobs whose holder is gone, oldest first: what the next start will recover."""
    now = time.time()
    return [job for job in await unfinished_jobs(store, recipe) if is_stale(job, now)]
