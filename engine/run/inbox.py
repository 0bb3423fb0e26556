"""The inbox: every event a trigger received, kept before it is acknowledged.

A webhook event is written here (with its job, in one transaction) before the platform gets
its 2xx; a poll's events are written with the cursor that passes them. The inbox is keyed by
(recipe, event key) like jobs are, so a redelivered or re-polled event adds a delivery to
its row and never a second job. ``hookline replay`` picks events from here to run again.

``Intake`` writes webhook events in small batches: requests that arrive while a commit is on
its way share the next one, so the cost of syncing the disk is paid once per batch rather
than once per request, and no request is answered before its own commit.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hookline.run.store import JobRecord, SqlCursor, SqlStore, load

REPLAY = "#replay-"
"""What separates an event key from the mark of a replay in the key of a replay's job."""

BATCH = 256
"""The most events one intake commit writes."""


@dataclass(frozen=True, slots=True)
class InboxEvent:
    """One event as received: where from (``webhook``, ``poll``, ``file``), when, how often."""

    recipe: str
    event_key: str
    source: str
    event: Any
    received_at: float
    last_received_at: float
    deliveries: int


async def inbox_events(
    store: SqlStore,
    recipe: str,
    *,
    since: float | None = None,
    keys: Sequence[str] = (),
) -> list[InboxEvent]:
    """A recipe's events, oldest first: those received since ``since``, or those of ``keys``."""
    clauses: list[str] = ["recipe = ?"]
    params: list[Any] = [recipe]
    if since is not None:
        clauses.append("received_at >= ?")
        params.append(since)
    if keys:
        clauses.append(f"event_key IN ({', '.join('?' for _ in keys)})")
        params.extend(keys)

    def work(cur: SqlCursor) -> list[InboxEvent]:
        cur.execute(
            "SELECT recipe, event_key, source, event, received_at, last_received_at, "
            f"deliveries FROM inbox WHERE {' AND '.join(clauses)} ORDER BY received_at, "
            "event_key",
            params,
        )
        return [
            InboxEvent(row[0], row[1], row[2], load(row[3]), row[4], row[5], row[6])
            for row in cur.fetchall()
        ]

    return await store.transaction(work)


async def count_inbox(store: SqlStore, recipe: str | None = None) -> int:
    """How many events the inbox holds (of one recipe, or all)."""

    def work(cur: SqlCursor) -> int:
        if recipe is None:
            cur.execute("SELECT COUNT(*) FROM inbox")
        else:
            cur.execute("SELECT COUNT(*) FROM inbox WHERE recipe = ?", (recipe,))
        return int(cur.fetchone()[0])

    return await store.transaction(work)


async def replay_jobs(
    store: SqlStore, recipe: str, recipe_file: str, events: Sequence[InboxEvent]
) -> list[JobRecord]:
    """Queue a new job for each event, on purpose, even where one has succeeded.

    The new job's key is the event's key with ``#replay-`` and a mark, so the first job and its
    history stay as they were and the replay is told apart in ``hookline jobs``. A replay is
    not an event: the inbox keeps only what the platform sent.
    """
    mark = uuid.uuid4().hex[:8]
    jobs = []
    for event in events:
        job = await store.create_job(recipe, recipe_file, f"{event.event_key}{REPLAY}{mark}",
                                     event.event)  # fmt: skip
        if job is not None:
            jobs.append(job)
    return jobs


class StoreUnavailable(Exception):
    """The state store could not write an event in time; the sender should try again."""


class Intake:
    """Writes webhook events to the inbox, batching those that arrive together."""

    def __init__(self, store: SqlStore, *, timeout: float = 10.0) -> None:
        self.store = store
        self.timeout = timeout
        self._pending: list[tuple[tuple[str, str, str, Any], asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def receive(
        self, recipe: str, recipe_file: str, key: str, event: Any
    ) -> tuple[JobRecord, bool]:
        """Store one event durably; its job and whether the job is new.

        Raises ``StoreUnavailable`` when the store fails or takes longer than ``timeout``. A
        write that times out may still complete later: the sender's retry then finds the
        event already there.
        """
        future: asyncio.Future[tuple[JobRecord, bool]] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)  # a request that gave up leaves nothing unread
        self._pending.append(((recipe, recipe_file, key, event), future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            raise StoreUnavailable(f"the state store took more than {self.timeout:g}s") from None

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
            try:
                results = await self.store.receive_events(
                    [item for item, _ in batch], source="webhook"
                )
            except BaseException as exc:
                failure = StoreUnavailable(f"the state store could not write: {exc}")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(failure)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
