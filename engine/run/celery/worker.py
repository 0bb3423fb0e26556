"""The running side of the ``celery`` executor: what ``hookline worker`` runs.

A worker process keeps one event loop in a thread of its own, with the recipes it was given,
their connections (one pool, one HTTP client per connection), the state store and its claims
(one owner, leases renewed in the background). Celery's thread pool runs ``concurrency``
tasks at once; each task hands its job to that loop and waits, so the jobs of one worker
share connections, sessions and rate budgets as the jobs of ``hookline serve`` do. Their jobs
and steps are counted in the worker's ``metrics`` (``hookline.run.metrics``), served at
``GET /metrics`` on the socket given as ``metrics_socket``, by that loop too.

A task carries a job's id and recipe name. The job is read from the store and claimed there
(``JobRunner.run_claimed``): a job that has ended already (a message delivered twice) is
passed over; a job another live process holds is tried again once that holder's lease would
have run out (a Celery retry with a countdown), never dropped, and a job whose trigger is
paused every ``PAUSED_RETRY`` seconds until it is resumed; a job whose holder died is
taken over and resumes at its first unfinished step, where a call whose outcome is unknown
is not sent again blindly (``hookline.run.jobs``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from celery import Celery
from starlette.applications import Starlette

from hookline.recipes.model import Recipe
from hookline.run.celery.app import TASK
from hookline.run.claims import DEFAULT_LEASE, Claims
from hookline.run.cycles import is_paused
from hookline.run.jobs import JobRunner, Observer
from hookline.run.listener import Listener
from hookline.run.metrics import Metrics, MetricsObserver, metrics_route
from hookline.run.pool import ConnectionPool
from hookline.run.store import FINAL, SqlStore

UNKNOWN_RECIPE_RETRY = 30.0
"""Seconds before a job of a recipe this worker was not given is offered to workers again."""

PAUSED_RETRY = 10.0
"""Seconds between two looks at a job whose trigger is paused: its jobs wait in the queue
without a store query and a log line a second each, and run this long after a resume at most."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What became of one task: whether its job ``ran`` here; else ``said`` for the log, and
    ``retry_in`` seconds when the task must be tried again later."""

    said: str
    retry_in: float | None = None
    ran: bool = False


class WorkerLoop:
    """The worker's event loop, in a thread, with the recipes' runners, the store and claims.

    ``start`` opens the connections, begins renewing leases and serves the metrics (given a
    ``metrics_socket``); ``verdict`` runs one task's job there and waits for it; ``stop``
    closes everything.
    """

    def __init__(
        self,
        recipes: Mapping[str, Recipe],
        pool: ConnectionPool,
        store: SqlStore,
        observer: Observer,
        *,
        lease: float = DEFAULT_LEASE,
        metrics_socket: socket.socket | None = None,
    ) -> None:
        self.recipes = recipes
        self.pool = pool
        self.store = store
        self.metrics = Metrics()
        self.metrics_socket = metrics_socket
        self.observer = watched = MetricsObserver(observer, self.metrics)
        self.claims = claims = Claims(store, lease=lease)
        self.runners = {
            name: JobRunner(recipe, pool, store, env=pool.env, observer=watched, claims=claims)
            for name, recipe in recipes.items()
        }
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._life_thread, name="hookline-jobs", daemon=True)
        self._ready: Future[None] = Future()
        self._stop: asyncio.Event | None = None

    def start(self) -> None:
        """Start the loop; return once the connections are open (or raise why not)."""
        self._thread.start()
        self._ready.result()

    def stop(self) -> None:
        """Close the connections and the store, and end the loop's thread."""
        stop = self._stop
        if stop is not None:
            self.loop.call_soon_threadsafe(stop.set)
        self._thread.join()

    def verdict(self, job_id: str, recipe: str, *, again: bool = False) -> Verdict:
        """Run job ``job_id`` of ``recipe`` on the loop, from a task's thread; what became of it."""
        work = self.run(job_id, recipe, again=again)
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    async def run(self, job_id: str, recipe: str, *, again: bool = False) -> Verdict:
        """Claim and run the job (``again``: an operator's rerun, even while its trigger is
        paused), or say why not and whether to try again later."""
        runner = self.runners.get(recipe)
        if runner is None:
            return Verdict(
                f"job {job_id[:12]}: this worker was not given recipe {recipe!r}",
                UNKNOWN_RECIPE_RETRY,
            )
        job = await self.store.get_job(job_id)
        if job is None:
            return Verdict(f"job {job_id[:12]} of {recipe} is not in the state store")
        if job.status in FINAL:
            return Verdict(f"job {job_id[:12]} of {recipe} ended already ({job.status})")
        outcome = await runner.run_claimed(job, again=again)
        if outcome is not None:
            return Verdict(f"job {job_id[:12]} of {recipe}: {outcome.status}", ran=True)
        now = await self.store.get_job(job_id)
        if now is None or now.status in FINAL:
            return Verdict(f"job {job_id[:12]} of {recipe} ended elsewhere")
        if now.lease_owner is None and await is_paused(self.store, recipe):
            return Verdict(
                f"job {job_id[:12]} of {recipe} waits: its trigger is paused; looked at again "
                f"in {PAUSED_RETRY:.0f}s",
                PAUSED_RETRY,
            )
        until = now.lease_until if now.lease_until is not None else time.time()
        wait = min(max(until - time.time(), 0.0) + 1.0, self.claims.lease)
        return Verdict(
            f"job {job_id[:12]} of {recipe} is held by {now.lease_owner}; tried again in "
            f"{wait:.0f}s",
            wait,
        )

    def _life_thread(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._life())
        finally:
            self.loop.close()

    async def _life(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with self.pool, self.claims.renewing():
                for recipe in self.recipes.values():
                    self.pool.open(recipe)
                server = None
                if self.metrics_socket is not None:
                    server = Listener(Starlette(routes=[metrics_route(self.metrics)]))
                    serving = await server.listen(self.metrics_socket)
                self._ready.set_result(None)
                await self._stop.wait()
                if server is not None:
                    server.should_exit = True
                    await serving
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
                return
            raise
        finally:
            await self.store.close()


def install_task(app: Celery, jobs: WorkerLoop) -> None:
    """Register the task that runs a job on ``jobs``' loop, under the name serve sends."""

    @app.task(name=TASK, bind=True, max_retries=None)  # type: ignore[untyped-decorator]
    def run_job(task: Any, job_id: str, recipe: str, again: bool = False) -> None:
        verdict = jobs.verdict(job_id, recipe, again=again)
        if not verdict.ran:  # a job that ran has its own line
            jobs.observer.note(verdict.said, job=job_id, recipe=recipe)
        if verdict.retry_in is not None:
            raise task.retry(countdown=verdict.retry_in)


class _CeleryLines(logging.Handler):
    """Celery's own warnings and errors as notes of the worker's log."""

    def __init__(self, observer: Observer) -> None:
        super().__init__(logging.WARNING)
        self.observer = observer

    def emit(self, record: logging.LogRecord) -> None:
        self.observer.note(" ".join(record.getMessage().split()), level=record.levelname.lower())


@contextmanager
def celery_lines_to(app: Celery, observer: Observer) -> Iterator[None]:
    """Write what Celery itself says (a broker it cannot reach, and when it tries again) as
    notes of ``observer``, so that a ``--json`` log stays one JSON object a line.

    Celery would otherwise set up the root logger with a text format of its own."""
    app.log.already_setup = True
    handler = _CeleryLines(observer)
    logger = logging.getLogger("celery")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
