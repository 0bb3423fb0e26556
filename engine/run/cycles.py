"""What each trigger has been doing: poll cycles, watermarks, webhook silence, alerts.

``hookline serve`` registers each trigger it serves in ``trigger_state`` (with the recipe's
``alert_after``), notes when each poll cycle starts and how it ended, and which process holds
each poll trigger's lease (``hookline.run.claims``); the inbox notes when a webhook event
last arrived. ``hookline triggers`` reads it back from the store alone,
so an operator can ask any machine that reaches the store.

- **lag** of a poll trigger: how long ago its last successful cycle started, i.e. how old the
  newest event it may have missed can be. A webhook trigger has no lag, only silence.
- **paused**: an operator paused the trigger (``hookline triggers pause``, or the console):
  its poll cycles are not claimed, and its jobs, webhook ones included, are held queued
  (``hookline.run.claims``) until it is resumed. A paused webhook trigger still receives and
  stores its events, so nothing is lost. The flag is in the store: every process sees it, and
  it outlasts a restart.
- **alert**: a poll trigger whose watermark (its cursor) has not moved, or a webhook
  trigger that has received nothing, for longer than ``alert_after``. Either may be normal
  (a quiet weekend); either may mean the platform stopped sending or the query matches
  nothing any more.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hookline.run.store import SqlCursor, SqlStore, dump, load

_COLUMNS = (
    "s.recipe, s.trigger, s.kind, s.alert_after, s.registered_at, s.cycle_started, "
    "s.cycle_finished, s.cycle_ok_started, s.records, s.error, s.error_at, s.last_event_at, "
    "s.watermark_moved_at, c.value, s.cycle_owner, s.cycle_until, s.paused_at, s.paused_by"
)


@dataclass(frozen=True, slots=True)
class TriggerState:
    """One trigger of one recipe, as the store knows it; times are Unix seconds."""

    recipe: str
    trigger: str
    kind: str
    alert_after: float | None = None
    registered_at: float | None = None
    cycle_started: float | None = None
    cycle_finished: float | None = None
    cycle_ok_started: float | None = None
    records: int | None = None
    error: Any = None
    error_at: float | None = None
    last_event_at: float | None = None
    watermark_moved_at: float | None = None
    watermark: Any = None
    holder: str | None = None
    held_until: float | None = None

    def polled_by(self, now: float) -> str | None:
        """The process (``host/pid/token``) whose lease on this poll trigger still runs."""
        if self.holder is None or self.held_until is None or self.held_until < now:
            return None
        return self.holder

    paused_at: float | None = None
    paused_by: str | None = None

    @property
    def paused(self) -> bool:
        """Whether an operator paused the trigger."""
        return self.paused_at is not None

    def lag(self, now: float) -> float | None:
        """Seconds since the last successful poll cycle started; None for webhooks."""
        if self.kind != "poll" or self.cycle_ok_started is None:
            return None
        return max(0.0, now - self.cycle_ok_started)

    def quiet_for(self, now: float) -> float | None:
        """Seconds since the watermark moved (poll) or an event arrived (webhook), or since
        the trigger was first served when neither has happened yet."""
        moved = self.watermark_moved_at if self.kind == "poll" else self.last_event_at
        since = moved if moved is not None else self.registered_at
        return None if since is None else max(0.0, now - since)

    def alert(self, now: float) -> str | None:
        """Why the trigger needs a look, or None: quiet for longer than ``alert_after``."""
        quiet = self.quiet_for(now)
        if self.alert_after is None or quiet is None or quiet <= self.alert_after:
            return None
        if self.kind == "poll":
            return f"watermark has not moved for {duration(quiet)}"
        return f"no webhook event for {duration(quiet)}"


def duration(seconds: float) -> str:
    """``seconds`` for people: ``45s``, ``12m``, ``3h 20m``, ``2d 4h``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        hours, minutes = divmod(whole // 60, 60)
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(whole // 3600, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def _state(row: Sequence[Any]) -> TriggerState:
    return TriggerState(
        recipe=row[0], trigger=row[1], kind=row[2], alert_after=row[3], registered_at=row[4],
        cycle_started=row[5], cycle_finished=row[6], cycle_ok_started=row[7], records=row[8],
        error=load(row[9]), error_at=row[10], last_event_at=row[11],
        watermark_moved_at=row[12], watermark=load(row[13]), holder=row[14], held_until=row[15],
        paused_at=row[16], paused_by=row[17],
    )  # fmt: skip


async def register(
    store: SqlStore, recipe: str, trigger: str, kind: str, alert_after: float | None
) -> None:
    """Note that ``trigger`` of ``recipe`` is served, with its ``alert_after``."""
    now = time.time()

    def work(cur: SqlCursor) -> None:
        cur.execute(
            "INSERT INTO trigger_state (recipe, trigger, kind, alert_after, registered_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (recipe, trigger) DO UPDATE SET "
            "kind = excluded.kind, alert_after = excluded.alert_after",
            (recipe, trigger, kind, alert_after, now),
        )

    await store.transaction(work)


async def cycle_started(store: SqlStore, recipe: str, trigger: str, at: float) -> None:
    """A poll cycle of ``trigger`` began at ``at``."""
    await store.transaction(lambda cur: cur.execute(
        "UPDATE trigger_state SET cycle_started = ? WHERE recipe = ? AND trigger = ?",
        (at, recipe, trigger)))  # fmt: skip


async def cycle_finished(
    store: SqlStore,
    recipe: str,
    trigger: str,
    started: float,
    *,
    records: int | None = None,
    moved: bool = False,
    error: Any = None,
) -> None:
    """A poll cycle begun at ``started`` ended: with ``records`` read, or with ``error``."""
    now = time.time()

    def work(cur: SqlCursor) -> None:
        if error is not None:
            cur.execute(
                "UPDATE trigger_state SET cycle_finished = ?, error = ?, error_at = ? "
                "WHERE recipe = ? AND trigger = ?",
                (now, dump(error), now, recipe, trigger),
            )
            return
        cur.execute(
            "UPDATE trigger_state SET cycle_finished = ?, cycle_ok_started = ?, records = ?, "
            "error = NULL, watermark_moved_at = CASE WHEN ? THEN ? ELSE watermark_moved_at END "
            "WHERE recipe = ? AND trigger = ?",
            (now, started, records, moved, now, recipe, trigger),
        )

    await store.transaction(work)


async def trigger_states(store: SqlStore, recipes: Sequence[str] = ()) -> list[TriggerState]:
    """Every trigger the store knows (or those of ``recipes``), by recipe and trigger."""
    where = ""
    if recipes:
        where = f"WHERE s.recipe IN ({', '.join('?' for _ in recipes)})"

    def work(cur: SqlCursor) -> list[TriggerState]:
        cur.execute(
            f"SELECT {_COLUMNS} FROM trigger_state s LEFT JOIN cursors c "
            f"ON c.recipe = s.recipe AND c.trigger = s.trigger {where} "
            "ORDER BY s.recipe, s.trigger",
            tuple(recipes),
        )
        return [_state(row) for row in cur.fetchall()]

    return await store.transaction(work)


async def set_paused(store: SqlStore, recipe: str, paused: bool, actor: str) -> bool:
    """Pause (or resume) every trigger of ``recipe``; whether the store knew the recipe.

    Pausing a paused trigger keeps its first pause's time and author.
    """
    now = time.time()

    def work(cur: SqlCursor) -> bool:
        cur.execute("SELECT COUNT(*) FROM trigger_state WHERE recipe = ?", (recipe,))
        if not cur.fetchone()[0]:
            return False
        if paused:
            cur.execute(
                "UPDATE trigger_state SET paused_at = ?, paused_by = ? "
                "WHERE recipe = ? AND paused_at IS NULL",
                (now, actor, recipe),
            )
        else:
            cur.execute(
                "UPDATE trigger_state SET paused_at = NULL, paused_by = NULL WHERE recipe = ?",
                (recipe,),
            )
        return True

    return await store.transaction(work)


async def is_paused(store: SqlStore, recipe: str) -> bool:
    """Whether a trigger of ``recipe`` is paused."""

    def work(cur: SqlCursor) -> bool:
        cur.execute(
            "SELECT COUNT(*) FROM trigger_state WHERE recipe = ? AND paused_at IS NOT NULL",
            (recipe,),
        )
        return bool(cur.fetchone()[0])

    return await store.transaction(work)
