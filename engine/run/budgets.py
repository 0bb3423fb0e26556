"""Rate budgets in the state store: the ``BudgetLedger`` behind ``SharedRateLimiter``.

One row per budget key (a hash naming a credential or an account, never a secret) holds the
bucket's state as JSON. Each change is one short transaction: SQLite's ``BEGIN IMMEDIATE``
(the store's own) makes the processes' changes take turns, and on PostgreSQL the row is read
``FOR UPDATE`` (created first if missing), so two processes never grant the same slot.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from hookline.plugins.protocols import BudgetState
from hookline.run.store import SqlStore

T = TypeVar("T")

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS budgets (
        key TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL)""",
)


class StoreLedger:
    """Budget rows in a SQLite or PostgreSQL state store."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self._ready = False

    async def update_budget(
        self, key: str, change: Callable[[BudgetState | None], tuple[BudgetState | None, T]]
    ) -> T:
        """Apply ``change`` to budget ``key`` in one locked transaction; its result."""
        if not self._ready:
            await self.store.create_tables(SCHEMA)
            self._ready = True
        lock = self.store.row_lock
        select = f"SELECT state FROM budgets WHERE key = ?{lock}"

        def work(cur: Any) -> T:
            cur.execute(select, (key,))
            row = cur.fetchone()
            if row is None and lock:  # a row to lock, so the first change has one too
                cur.execute(
                    "INSERT INTO budgets (key, state, updated_at) VALUES (?, '{}', ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    (key, time.time()),
                )
                cur.execute(select, (key,))
                row = cur.fetchone()
            state = json.loads(row[0]) if row is not None and row[0] else None
            new, result = change(state or None)
            if new is not None:
                cur.execute(
                    "INSERT INTO budgets (key, state, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET state = excluded.state, "
                    "updated_at = excluded.updated_at",
                    (key, json.dumps(new, separators=(",", ":")), time.time()),
                )
            return result

        return await self.store.transaction(work)
