"""The sending side of the ``celery`` executor: ``hookline serve`` (and ``replay``) send jobs.

``dispatch`` puts a job in an outbox and returns at once; ``serve`` sends what the outbox
holds, in a thread (publishing blocks while the broker is slow or away). A job whose sending
failed is forgotten, so the service's next sweep (every few seconds) dispatches it again:
the job stays queued in the store meanwhile, so nothing is lost while the broker is down.

A job sent is not sent again for ``resend`` seconds, however often the sweep finds it
unfinished (a backlog of queued jobs is not multiplied); after that, a job still unfinished
is sent once more, in case the worker that had it is gone and its broker keeps the message
(Redis hands an unacknowledged message to another worker only after its visibility timeout).
A job sent twice still runs once: the worker that finds it finished passes it over. An
operator's rerun (``again``) is sent at once, however lately the job was. While the broker
refuses jobs, its reason is told once (and again when it changes), not once a job a sweep,
and its return is told with the number of sends that failed meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from functools import partial

from hookline.errors import ConfigurationError, one_line
from hookline.plugins.records import ExecutorConfig
from hookline.run.celery.app import celery_app, send_job
from hookline.run.jobs import JobOutcome, JobRunner, Observer
from hookline.run.store import FINAL, JobRecord, SqlStore

POLL = 0.2
"""Seconds between looks at the store while ``run`` waits for jobs the workers run."""


class CeleryExecutor:
    """Sends each job to the workers of ``hookline worker`` through ``config.broker``."""

    def __init__(self, config: ExecutorConfig) -> None:
        if not config.broker:
            raise ConfigurationError(
                "the celery executor sends jobs through a broker: give --broker URL "
                "(redis://HOST:6379/0 or amqp://USER:PASSWORD@HOST:5672//)"
            )
        self.config = config
        self.app = celery_app(config.broker)
        self._outbox: asyncio.Queue[tuple[JobRecord, bool]] = asyncio.Queue()
        self._sent: dict[str, float] = {}

    def dispatch(self, job: JobRecord, *, again: bool = False) -> None:
        """Put ``job`` in the outbox, unless it was sent less than ``resend`` seconds ago
        (and is not a rerun)."""
        now = time.monotonic()
        last = self._sent.get(job.id)
        if not again and last is not None and now - last < self.config.resend:
            return
        if len(self._sent) > 4096:  # what was sent long ago would be sent again anyway
            self._sent = {k: t for k, t in self._sent.items() if now - t < self.config.resend}
        self._sent[job.id] = now
        self._outbox.put_nowait((job, again))

    async def serve(self, runners: Mapping[str, JobRunner], stop: asyncio.Event) -> None:
        """Send the dispatched jobs until ``stop``; a failure is told to the job's observer."""
        observers = {name: runner.observer for name, runner in runners.items()}
        sender = asyncio.create_task(self._send_all(observers))
        try:
            await stop.wait()
        finally:
            sender.cancel()
            with suppress(asyncio.CancelledError):
                await sender

    async def run(
        self,
        runner: JobRunner,
        jobs: Sequence[JobRecord],
        *,
        stop: asyncio.Event | None = None,
        again: bool = False,
    ) -> list[JobOutcome]:
        """Send every job, then wait until each has ended in the store; its outcome.

        Once ``stop`` is set, no more jobs are sent and the wait ends: jobs sent go on on
        the workers.
        """
        assert runner.store is not None, "jobs sent to workers are read from the store"
        sent: list[JobRecord] = []
        for job in jobs:
            if stop is not None and stop.is_set():
                break
            await asyncio.to_thread(
                partial(send_job, self.app, job.id, job.recipe, self.config.queue, again=again)
            )
            runner.observer.job_started(job)
            sent.append(job)
        return await _outcomes(runner.store, sent, runner.observer, stop)

    async def _send_all(self, observers: Mapping[str, Observer]) -> None:
        failing: str | None = None  # why sends fail, while they do
        held = 0
        while True:
            job, again = await self._outbox.get()
            observer = observers.get(job.recipe, Observer())
            try:
                await asyncio.to_thread(
                    partial(send_job, self.app, job.id, job.recipe, self.config.queue, again=again)
                )
            except Exception as exc:
                self._sent.pop(job.id, None)  # the next sweep dispatches it again
                held += 1
                why = one_line(exc)
                if why != failing:  # told once, not for every job of a backlog at every sweep
                    failing = why
                    observer.note(
                        f"jobs not sent: {why}; they stay queued and are sent again "
                        "once the broker takes them"
                    )
            else:
                if failing is not None:
                    observer.note(f"the broker takes jobs again; {held} sends had failed")
                    failing, held = None, 0


async def _outcomes(
    store: SqlStore, jobs: Sequence[JobRecord], observer: Observer, stop: asyncio.Event | None
) -> list[JobOutcome]:
    """Wait for ``jobs`` to end in ``store`` (or for ``stop``), telling ``observer`` of each."""
    waiting = {job.id: job for job in jobs}
    outcomes = []
    while waiting and not (stop is not None and stop.is_set()):
        for job_id, job in list(waiting.items()):
            current = await store.get_job(job_id)
            if current is None or current.status not in FINAL:
                continue
            outcome = JobOutcome(job_id, current.status, current.error, current.outputs)
            observer.job_finished(job, outcome)
            outcomes.append(outcome)
            del waiting[job_id]
        if waiting:
            await asyncio.sleep(POLL)
    return outcomes
