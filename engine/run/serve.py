"""``hookline serve``: recipes that run unattended, polled on schedule or fed by webhooks.

One ``Service`` serves several recipes in one process, on one asyncio loop:

- a **poller** per poll recipe (``hookline.run.pollers``) runs its poll cycles on its
  timetable (``hookline.run.scheduler``) while this process holds the trigger's lease in the
  store, so that of several processes serving one recipe exactly one polls it, and another
  takes over when that one dies or stops; each page a cycle reads is queued as it comes, and
  its jobs handed to the workers;
- the **receiver** (``hookline.run.webhook_app``, on uvicorn) writes each verified webhook
  event to the inbox with its job before answering;
- the **executor** (``hookline.Executor``) is given each job as it is queued: ``inline``
  (``hookline.run.inline``) runs a worker per recipe in this process, its jobs one after
  another in the order their events came, a few at once across recipes; ``celery``
  (``hookline.run.celery``) sends each to the workers of ``hookline worker``. Either way
  each job is claimed before it runs and its lease renewed while it runs
  (``hookline.run.claims``);
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

from hookline.errors import one_line
from hookline.plugins.protocols import Executor
from hookline.recipes.model import EventTrigger, Recipe
from hookline.run import cycles
from hookline.run.claims import DEFAULT_LEASE, Claims
from hookline.run.inbox import Intake
from hookline.run.inline import InlineExecutor
from hookline.run.jobs import JobRunner, Observer
from hookline.run.listener import Listener
from hookline.run.metrics import Metrics, MetricsObserver
from hookline.run.pollers import Poller
from hookline.run.pool import ConnectionPool
from hookline.run.scheduler import Cron, Every, Schedule
from hookline.run.shutdown import Shutdown
from hookline.run.store import JobRecord, SqlCursor, SqlStore
from hookline.run.triggers import poll, spec_trigger
from hookline.run.webhook_app import MAX_BODY, Hook, Receiver, webhook_hooks
from hookline.spec.model import PollTrigger

if TYPE_CHECKING:
    from starlette.types import ASGIApp


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """How a service runs.

    ``poll_every`` replaces every poll recipe's schedule (the sandbox demo polls often);
    ``sweep`` is how often the store is searched for jobs to take; ``lease`` is how long a
    claim on a job or a poll trigger holds without renewal (renewed every third of it).
    """

    grace: float = 30.0
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


@dataclass(frozen=True, slots=True)
class Served:
    """One served recipe as the start-up table shows it."""

    recipe: Recipe
    trigger: str
    kind: str
    schedule: str


class Service:
    """Serves ``recipes`` (loaded, their connections open in ``pool``) with ``store``; jobs
    run through ``executor`` (``inline`` with four at once unless given)."""

    def __init__(
        self,
        recipes: Sequence[Recipe],
        pool: ConnectionPool,
        store: SqlStore,
        *,
        settings: ServeSettings | None = None,
        observer: ServeObserver | None = None,
        executor: Executor | None = None,
        console: Callable[[Service], ASGIApp] | None = None,
    ) -> None:
        self.settings = settings or ServeSettings()
        self.executor: Executor = executor or InlineExecutor()
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
        watched = MetricsObserver(self.observer, self.metrics)
        self.runners = {
            recipe.name: JobRunner(
                recipe, pool, store, env=pool.env, observer=watched, claims=self.claims
            )
            for recipe in recipes
            if not recipe.is_manual
        }
        self.pollers: list[Poller] = []
        self.stopping = asyncio.Event()
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
            jobs = asyncio.create_task(self.executor.serve(self.runners, self.stopping))
            self._loops = [asyncio.create_task(p.run(self.stopping)) for p in self.pollers]
            sweeping = asyncio.create_task(self._sweep())
            await shutdown.requested.wait()
            self.stopping.set()
            sweeping.cancel()
            server.should_exit = True
            await shutdown.finish([jobs, *self._loops, serving, sweeping], self.settings.grace)

    async def start(self) -> None:
        """Register the triggers, make their pollers, and queue what is left to resume."""
        for recipe in self.recipes.values():
            trigger = recipe.trigger
            if isinstance(trigger, EventTrigger):
                kind = "webhook" if recipe.name in self.hooks else "poll"
                await cycles.register(
                    self.store, recipe.name, trigger.event, kind, trigger.alert_after
                )
        for recipe in self.polled:
            trigger = recipe.trigger
            assert isinstance(trigger, EventTrigger)

            async def cycle(recipe: Recipe = recipe) -> bool:
                return await self.cycle(recipe)

            def taken(name: str = recipe.name, event: str = trigger.event) -> None:
                self.observer.note(f"{name}: this process polls {event} now", recipe=name,
                                   trigger=event, holder=self.claims.owner)  # fmt: skip

            self.pollers.append(
                Poller(
                    recipe.name,
                    trigger.event,
                    self.schedule(recipe),
                    self.claims,
                    cycle,
                    jitter=0.0 if self.settings.poll_every is not None else trigger.jitter,
                    taken=taken,
                )
            )
        await self.resume()

    def submit(self, job: JobRecord, *, again: bool = False) -> None:
        """Hand a job of a served recipe to the executor (it runs once, however often it is
        submitted); ``again`` for an operator's rerun."""
        if job.recipe in self.runners and not self.stopping.is_set():
            self.executor.dispatch(job, again=again)

    async def resume(self) -> None:
        """Queue every job of the served recipes that any process may take now."""
        for name in self.runners:
            for job in await self.claims.resumable(name):
                self.submit(job)

    async def cycle(self, recipe: Recipe) -> bool:
        """One poll cycle, if this process holds the trigger: recorded in the trigger's state,
        its jobs queued page by page. False when another process holds the trigger (nothing
        is polled).

        A failed cycle is told and recorded; the next slot tries again.
        """
        trigger = recipe.trigger
        assert isinstance(trigger, EventTrigger)
        name, event = recipe.name, trigger.event
        try:
            if await self.claims.hold_trigger(name, event) is None:
                self.observer.note(f"{name}: another process polls {event} now")
                return False
            if await cycles.is_paused(self.store, name):
                return True
        except Exception as exc:
            self._cycle_failed(name, event, exc)
            return True
        started = time.time()
        try:
            await cycles.cycle_started(self.store, name, event, started)
            result = await poll(
                recipe, self.pool, self.store, on_jobs=self._submit_all, holder=self.claims.owner
            )
        except Exception as exc:
            self._cycle_failed(name, event, exc)
            with suppress(Exception):
                await cycles.cycle_finished(self.store, name, event, started, error=one_line(exc))
        else:
            self.metrics.cycles.labels(name, "ok").inc()
            self.metrics.received.labels(name, "poll").inc(result.new)
            with suppress(Exception):
                await cycles.cycle_finished(
                    self.store, name, event, started, records=result.records, moved=result.moved
                )
            self.observer.cycle_finished(name, event, result.records, result.new, None)
        return True

    def _submit_all(self, jobs: list[JobRecord]) -> None:
        for job in jobs:
            self.submit(job)

    def _cycle_failed(self, recipe: str, trigger: str, exc: Exception) -> None:
        self.metrics.cycles.labels(recipe, "failed").inc()
        self.observer.cycle_finished(recipe, trigger, 0, 0, one_line(exc))

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
        dead = [p.recipe for p, loop in zip(self.pollers, self._loops, strict=False)
                if loop.done() and not self.stopping.is_set()]  # fmt: skip
        scheduler = "ok" if not dead else f"stopped: {', '.join(dead)}"
        ok = store == "ok" and not dead and not self.stopping.is_set()
        return ok, {
            "store": store,
            "scheduler": scheduler,
            "polls": len(self.pollers),
            "polling": [p.recipe for p in self.pollers if p.holding],
            "holder": self.claims.owner,
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


def _polls(recipe: Recipe, pool: ConnectionPool) -> bool:
    if recipe.is_manual:
        return False
    return isinstance(spec_trigger(recipe, pool)[1], PollTrigger)
