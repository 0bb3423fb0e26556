"""``hookline serve``: recipes that run unattended, polled on schedule or fed by webhooks.

One ``Service`` serves several recipes in one process, on one asyncio loop:

- a **timetable** per poll recipe (``hookline.run.scheduler``) runs its poll cycles; each
  cycle is claimed in the store first, so two processes never poll one trigger at once;
- the **receiver** (``hookline.run.webhook_app``, on uvicorn) writes each verified webhook
  event to the inbox with its job before answering;
- a **worker** per recipe runs its jobs one after another, in the order their events came
  (at most ``concurrency`` jobs run at once across recipes): each job is claimed before it
  runs and its lease renewed while it runs (``hookline.run.claims``);
- a **sweep** every few seconds looks in the store for jobs any process may take: queued by
  another process, interrupted, or left behind by a process that died. The first sweep runs
  at start, which is how a restart resumes what a crash or a stop left unfinished.

A trigger an operator paused (``hookline.run.cycles``) is not polled, and its jobs wait in
the store (``hookline.run.claims`` does not hand them out) until it is resumed. Given a
``console`` (``hookline.run.console``), the receiver serves it at ``/``.

Stopping (``hookline.run.shutdown``): no new cycle, webhook request or job starts; running
cycles and jobs get ``grace`` seconds, then are cancelled (a cancelled job is stored as
``interrupted``); jobs that never started stay queued for the next start.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hookline.actions.call import Plan
from hookline.errors import HooklineError
from hookline.recipes.model import EventTrigger, Recipe
from hookline.run import cycles
from hookline.run.claims import DEFAULT_LEASE, Claims
from hookline.run.inbox import Intake
from hookline.run.jobs import JobOutcome, JobRunner, Observer
from hookline.run.listener import Listener
from hookline.run.metrics import Metrics
from hookline.run.pool import ConnectionPool
from hookline.run.scheduler import Cron, Every, Schedule, Timetable
from hookline.run.shutdown import Shutdown
from hookline.run.store import JobRecord, SqlCursor, SqlStore, StepRecord
from hookline.run.triggers import poll, spec_trigger
from hookline.run.webhook_app import MAX_BODY, Hook, Receiver, webhook_hooks
from hookline.spec.model import PollTrigger

if TYPE_CHECKING:
    from starlette.types import ASGIApp


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """How a service runs.

    ``poll_every`` replaces every poll recipe's schedule (the sandbox demo polls often);
    ``sweep`` is how often the store is searched for jobs to take.
    """

    grace: float = 30.0
    concurrency: int = 4
    max_body: int = MAX_BODY
    poll_every: float | None = None
    sweep: float = 5.0
    lease: float = DEFAULT_LEASE


class ServeObserver(Observer):
    """Told what a service does: jobs (as ``Observer``), poll cycles and remarks."""

    def cycle_finished(
        self, recipe: str, trigger: str, records: int, jobs: int, error: str | None
    ) -> None:
        """A poll cycle ended: ``records`` read and ``jobs`` new, or failed with ``error``."""

    def note(self, message: str, **data: Any) -> None:
        """Something an operator should know (a cycle another process is running)."""


@dataclass(frozen=True, slots=True)
class Served:
    """One served recipe as the start-up table shows it."""

    recipe: Recipe
    trigger: str
    kind: str
    schedule: str


class Service:
    """Serves ``recipes`` (loaded, their connections open in ``pool``) with ``store``."""

    def __init__(
        self,
        recipes: Sequence[Recipe],
        pool: ConnectionPool,
        store: SqlStore,
        *,
        settings: ServeSettings | None = None,
        observer: ServeObserver | None = None,
        console: Callable[[Service], ASGIApp] | None = None,
    ) -> None:
        self.settings = settings or ServeSettings()
        self.console = console
        self.recipes = {recipe.name: recipe for recipe in recipes}
        self.pool = pool
        self.store = store
        self.observer = observer or ServeObserver()
        self.metrics = Metrics()
        self.claims = Claims(store, lease=self.settings.lease)
        self.intake = Intake(store)
        self.hooks: dict[str, Hook] = webhook_hooks(recipes, pool)
        self.polled = [recipe for recipe in recipes if _polls(recipe, pool)]
        watched = _Watched(self.observer, self.metrics)
        self.runners = {
            recipe.name: JobRunner(
                recipe, pool, store, env=pool.env, observer=watched, claims=self.claims
            )
            for recipe in recipes
            if not recipe.is_manual
        }
        self.timetables: list[Timetable] = []
        self.stopping = asyncio.Event()
        self._queues: dict[str, asyncio.Queue[JobRecord | None]] = {
            name: asyncio.Queue() for name in self.runners
        }
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        self._pending: set[str] = set()
        self._loops: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------ what is served

    def served(self) -> list[Served]:
        """Each served recipe with its trigger and schedule (or ``webhook``/``manual``)."""
        rows = []
        for recipe in self.recipes.values():
            trigger = recipe.trigger
            if not isinstance(trigger, EventTrigger):
                rows.append(Served(recipe, "manual", "manual", "not served (run by hand)"))
            elif recipe.name in self.hooks:
                rows.append(Served(recipe, trigger.event, "webhook", "on each event"))
            else:
                rows.append(Served(recipe, trigger.event, "poll", str(self.schedule(recipe))))
        return rows

    def schedule(self, recipe: Recipe) -> Schedule:
        """When a poll recipe polls: its ``every`` or ``cron`` (every 5 minutes if neither)."""
        trigger = recipe.trigger
        assert isinstance(trigger, EventTrigger)
        if self.settings.poll_every is not None:
            return Every(self.settings.poll_every)
        if trigger.cron is not None:
            return Cron.of(trigger.cron, trigger.timezone)
        return Every(trigger.every or 300.0)

    def receiver(self) -> Receiver:
        """The webhook receiver, with health and metrics."""
        return Receiver(
            self.hooks,
            self.intake,
            self.metrics,
            on_job=self.submit,
            health=self.health,
            refresh=self.refresh,
            max_body=self.settings.max_body,
        )

    # ------------------------------------------------------------ running

    async def run(
        self,
        sock: socket.socket,
        shutdown: Shutdown,
        *,
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Serve on ``sock`` until ``shutdown`` is requested; then stop within the grace.

        ``ready`` is awaited once the receiver answers, before the first poll.
        """
        async with self.claims.renewing():
            await self.start()
            console = self.console(self) if self.console is not None else None
            server = Listener(self.receiver().app(console))
            serving = await server.listen(sock)
            if ready is not None:
                await ready()
            workers = [asyncio.create_task(self._work(name)) for name in self._queues]
            self._loops = [asyncio.create_task(t.run(self.stopping)) for t in self.timetables]
            sweeping = asyncio.create_task(self._sweep())
            await shutdown.requested.wait()
            self.stopping.set()
            sweeping.cancel()
            server.should_exit = True
            for queue in self._queues.values():
                queue.put_nowait(None)  # wakes idle workers, which then see the stop
            await shutdown.finish([*workers, *self._loops, serving, sweeping], self.settings.grace)

    async def start(self) -> None:
        """Register the triggers, build the timetables, and queue what is left to resume."""
        for recipe in self.recipes.values():
            trigger = recipe.trigger
            if isinstance(trigger, EventTrigger):
                kind = "webhook" if recipe.name in self.hooks else "poll"
                await cycles.register(
                    self.store, recipe.name, trigger.event, kind, trigger.alert_after
                )
        states = {(s.recipe, s.trigger): s for s in await cycles.trigger_states(self.store)}
        for recipe in self.polled:
            trigger = recipe.trigger
            assert isinstance(trigger, EventTrigger)
            state = states.get((recipe.name, trigger.event))

            async def cycle(recipe: Recipe = recipe) -> None:
                await self.cycle(recipe)

            self.timetables.append(
                Timetable(
                    recipe.name,
                    self.schedule(recipe),
                    cycle,
                    last=state.cycle_started if state is not None else None,
                    jitter=0.0 if self.settings.poll_every is not None else trigger.jitter,
                )
            )
        await self.resume()

    def submit(self, job: JobRecord) -> None:
        """Queue a job to run in this process (once, however often it is submitted)."""
        queue = self._queues.get(job.recipe)
        if queue is None or job.id in self._pending or self.stopping.is_set():
            return
        self._pending.add(job.id)
        queue.put_nowait(job)

    async def resume(self) -> None:
        """Queue every job of the served recipes that any process may take now."""
        for name in self.runners:
            for job in await self.claims.resumable(name):
                self.submit(job)

    async def cycle(self, recipe: Recipe) -> None:
        """One poll cycle: claimed, recorded in the trigger's state, its jobs queued.

        A failed cycle is told and recorded; the next slot tries again.
        """
        trigger = recipe.trigger
        assert isinstance(trigger, EventTrigger)
        name, event = recipe.name, trigger.event
        try:
            if await cycles.is_paused(self.store, name):
                return
            if not await self.claims.claim_cycle(name, event):
                self.observer.note(f"{name}: another process is polling {event}; skipped")
                return
        except Exception as exc:
            self._cycle_failed(name, event, exc)
            return
        started = time.time()
        try:
            await cycles.cycle_started(self.store, name, event, started)
            result = await poll(recipe, self.pool, self.store)
        except Exception as exc:
            self._cycle_failed(name, event, exc)
            with suppress(Exception):
                await cycles.cycle_finished(self.store, name, event, started, error=_said(exc))
        else:
            self.metrics.cycles.labels(name, "ok").inc()
            self.metrics.received.labels(name, "poll").inc(result.new)
            with suppress(Exception):
                await cycles.cycle_finished(
                    self.store, name, event, started, records=result.records, moved=result.moved
                )
            self.observer.cycle_finished(name, event, result.records, result.new, None)
            for job in result.jobs:
                self.submit(job)
        finally:
            with suppress(Exception):
                await self.claims.end_cycle(name, event)

    def _cycle_failed(self, recipe: str, trigger: str, exc: Exception) -> None:
        self.metrics.cycles.labels(recipe, "failed").inc()
        self.observer.cycle_finished(recipe, trigger, 0, 0, _said(exc))

    async def _work(self, recipe: str) -> None:
        """A recipe's worker: run its queued jobs in order, until the service stops."""
        queue, runner = self._queues[recipe], self.runners[recipe]
        while True:
            job = await queue.get()
            if self.stopping.is_set():
                return
            if job is None:
                continue
            try:
                async with self._slots:
                    if self.stopping.is_set():
                        return
                    await runner.run_claimed(job)
            except Exception as exc:  # the store failed under the job: a later sweep resumes it
                self.observer.note(f"job {job.id[:12]} of {job.recipe}: {_said(exc)}")
                with suppress(Exception):
                    await self.claims.release(job.id)
            finally:
                self._pending.discard(job.id)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep)
            with suppress(Exception):
                await self.resume()

    # ------------------------------------------------------------ health and metrics

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the store answers and every poll loop is alive."""
        try:
            await asyncio.wait_for(self.store.transaction(lambda cur: cur.execute("SELECT 1")), 2.0)
        except Exception:
            store = "unreachable"
        else:
            store = "ok"
        dead = [t.name for t, loop in zip(self.timetables, self._loops, strict=False)
                if loop.done() and not self.stopping.is_set()]  # fmt: skip
        scheduler = "ok" if not dead else f"stopped: {', '.join(dead)}"
        ok = store == "ok" and not dead and not self.stopping.is_set()
        return ok, {
            "store": store,
            "scheduler": scheduler,
            "polls": len(self.timetables),
            "webhooks": len(self.hooks),
            "stopping": self.stopping.is_set(),
        }

    async def refresh(self) -> None:
        """Read job counts and trigger lags from the store into the gauges."""
        names = list(self.runners)
        marks = ", ".join("?" for _ in names) or "''"

        def counts(cur: SqlCursor) -> list[Any]:
            cur.execute(f"SELECT recipe, status, COUNT(*) FROM jobs WHERE recipe IN ({marks}) "
                        "GROUP BY recipe, status", names)  # fmt: skip
            return cur.fetchall()

        try:
            rows = await asyncio.wait_for(self.store.transaction(counts), 2.0)
            states = await asyncio.wait_for(cycles.trigger_states(self.store, names), 2.0)
        except Exception:
            return
        self.metrics.jobs.clear()
        for recipe, status, count in rows:
            self.metrics.jobs.labels(recipe, status).set(count)
        now = time.time()
        for state in states:
            lag, quiet = state.lag(now), state.quiet_for(now)
            if lag is not None:
                self.metrics.lag.labels(state.recipe, state.trigger).set(lag)
            if quiet is not None:
                self.metrics.quiet.labels(state.recipe, state.trigger).set(quiet)


class _Watched(Observer):
    """Passes what jobs do to the service's observer, counting it in the metrics."""

    def __init__(self, inner: Observer, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.recipes: dict[str, str] = {}

    def job_started(self, job: JobRecord) -> None:
        """Remember the job's recipe for its steps."""
        self.recipes[job.id] = job.recipe
        self.inner.job_started(job)

    def step_finished(self, job_id: str, step: StepRecord, plan: Plan | None) -> None:
        """Time the action steps."""
        if step.started_at is not None and step.finished_at is not None and step.action:
            recipe = self.recipes.get(job_id, "")
            self.metrics.steps.labels(recipe, step.action).observe(
                step.finished_at - step.started_at
            )
        self.inner.step_finished(job_id, step, plan)

    def job_finished(self, job: JobRecord, outcome: JobOutcome) -> None:
        """Count the job by how it ended."""
        self.recipes.pop(job.id, None)
        self.metrics.finished.labels(job.recipe, outcome.status).inc()
        self.inner.job_finished(job, outcome)


def _polls(recipe: Recipe, pool: ConnectionPool) -> bool:
    if recipe.is_manual:
        return False
    return isinstance(spec_trigger(recipe, pool)[1], PollTrigger)


def _said(exc: BaseException) -> str:
    if isinstance(exc, HooklineError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
