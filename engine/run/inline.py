"""The ``inline`` executor: jobs run on this process's event loop, a few at once.

``run`` runs given jobs one after another (``hookline run``, ``replay``). For ``hookline
serve``, ``dispatch`` queues a job on its recipe's queue and ``serve`` runs a worker per
recipe: each runs its recipe's jobs in the order they were queued, at most ``concurrency``
jobs at once across recipes, each claimed before it runs (``JobRunner.run_claimed``). A job
dispatched again while it waits or runs here is queued once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from contextlib import suppress

from hookline.errors import one_line
from hookline.plugins.records import ExecutorConfig
from hookline.run.jobs import JobOutcome, JobRunner
from hookline.run.store import JobRecord


class InlineExecutor:
    """Runs jobs on the running event loop: ``concurrency`` of them at once when serving."""

    def __init__(self, config: ExecutorConfig | None = None) -> None:
        self.config = config or ExecutorConfig()
        self._queues: dict[str, asyncio.Queue[tuple[JobRecord, bool] | None]] = {}
        self._pending: set[str] = set()
        self._stopping = False

    async def run(
        self,
        runner: JobRunner,
        jobs: Sequence[JobRecord],
        *,
        stop: asyncio.Event | None = None,
        again: bool = False,
    ) -> list[JobOutcome]:
        """Run every job in the order given; one job's failure does not stop the next.

        With claims, a job another process won is passed over. Once ``stop`` is set no new
        job starts: those left stay queued for the next start.
        """
        outcomes = []
        for job in jobs:
            if stop is not None and stop.is_set():
                break
            if runner.claims is None:
                outcomes.append(await runner.run_job(job))
            elif (outcome := await runner.run_claimed(job, again=again)) is not None:
                outcomes.append(outcome)
        return outcomes

    def dispatch(self, job: JobRecord, *, again: bool = False) -> None:
        """Queue ``job`` on its recipe's queue, unless it is queued or running here already."""
        if job.id in self._pending or self._stopping:
            return
        self._pending.add(job.id)
        self._queue(job.recipe).put_nowait((job, again))

    async def serve(self, runners: Mapping[str, JobRunner], stop: asyncio.Event) -> None:
        """Run a worker per recipe until ``stop`` is set; then start no job and return."""
        slots = asyncio.Semaphore(self.config.concurrency)
        workers = [
            asyncio.create_task(self._work(runner, slots, stop)) for runner in runners.values()
        ]
        try:
            await stop.wait()
            self._stopping = True
            for queue in self._queues.values():
                queue.put_nowait(None)  # wakes idle workers, which then see the stop
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    def _queue(self, recipe: str) -> asyncio.Queue[tuple[JobRecord, bool] | None]:
        return self._queues.setdefault(recipe, asyncio.Queue())

    async def _work(self, runner: JobRunner, slots: asyncio.Semaphore, stop: asyncio.Event) -> None:
        """A recipe's worker: run its queued jobs in order, until ``stop``."""
        queue = self._queue(runner.recipe.name)
        while True:
            queued = await queue.get()
            if stop.is_set():
                return
            if queued is None:
                continue
            job, again = queued
            try:
                async with slots:
                    if stop.is_set():
                        return
                    await runner.run_claimed(job, again=again)
            except Exception as exc:  # the store failed under the job: a later sweep resumes it
                runner.observer.note(f"job {job.id[:12]} of {job.recipe}: {one_line(exc)}")
                if runner.claims is not None:
                    with suppress(Exception):
                        await runner.claims.release(job.id)
            finally:
                self._pending.discard(job.id)
