"""Sealed rows: what the state store keeps for every process of an installation, unreadable
without its key.

The session cache (``hookline.run.sessions``) and the OAuth tokens (``hookline.run.tokens``)
each keep a table of this shape: a row per key holds one value sealed with the installation
key (``hookline.run.keys``; the sealing is the caller's), the value's expiry in clear, and a
lease, so that of several processes one logs in or refreshes while the others wait. A lease
is taken, and kept by its holder claiming it again, with one conditional upsert, which SQLite
and PostgreSQL both apply atomically; it runs out by itself, so a process that dies holding
it delays the others and never blocks them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from hookline.run.store import SqlCursor, SqlStore

T = TypeVar("T")


class SealedRows:
    """The rows of one table of sealed values with leases, in a SQLite or PostgreSQL store."""

    def __init__(self, store: SqlStore, table: str) -> None:
        self.store = store
        self.table = table
        self._ready = False

    async def _run(self, work: Callable[[SqlCursor], T]) -> T:
        if not self._ready:
            await self.store.create_tables(
                (
                    f"""CREATE TABLE IF NOT EXISTS {self.table} (
                    key TEXT PRIMARY KEY, sealed TEXT, expires_at DOUBLE PRECISION,
                    updated_at DOUBLE PRECISION NOT NULL, lease_holder TEXT,
                    lease_until DOUBLE PRECISION)""",
                )
            )
            self._ready = True
        return await self.store.transaction(work)

    async def read(self, key: str) -> tuple[str | None, float | None]:
        """The sealed value of ``key`` and its expiry; ``(None, None)`` when there is none."""

        def work(cur: SqlCursor) -> tuple[str | None, float | None]:
            cur.execute(f"SELECT sealed, expires_at FROM {self.table} WHERE key = ?", (key,))
            row = cur.fetchone()
            return (None, None) if row is None else (row[0], row[1])

        return await self._run(work)

    async def write(
        self, key: str, sealed: str, expires_at: float | None, *, clear_before: float | None = None
    ) -> None:
        """Replace the value of ``key`` in one write; with ``clear_before``, delete the rows
        that expired before then and whose lease is not held."""
        now = time.time()

        def work(cur: SqlCursor) -> None:
            cur.execute(
                f"INSERT INTO {self.table} (key, sealed, expires_at, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET sealed = excluded.sealed, "
                "expires_at = excluded.expires_at, updated_at = excluded.updated_at",
                (key, sealed, expires_at, now),
            )
            if clear_before is not None:
                cur.execute(
                    f"DELETE FROM {self.table} WHERE expires_at < ? AND "
                    "(lease_until IS NULL OR lease_until < ?)",
                    (clear_before, now),
                )

        await self._run(work)

    async def clear(self, key: str) -> bool:
        """Forget the value of ``key`` (its lease stays); whether there was one."""

        def work(cur: SqlCursor) -> bool:
            cur.execute(
                f"UPDATE {self.table} SET sealed = NULL, expires_at = NULL, updated_at = ? "
                "WHERE key = ? AND sealed IS NOT NULL",
                (time.time(), key),
            )
            return cur.rowcount > 0

        return await self._run(work)

    async def claim(self, key: str, holder: str, seconds: float) -> bool:
        """Take the lease of ``key`` for ``seconds`` unless another holder's lease still runs;
        ``holder`` claiming it again keeps it ``seconds`` from now."""
        now = time.time()
        table = self.table

        def work(cur: SqlCursor) -> bool:
            cur.execute(
                f"INSERT INTO {table} (key, updated_at, lease_holder, lease_until) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                "lease_holder = excluded.lease_holder, lease_until = excluded.lease_until "
                f"WHERE {table}.lease_until IS NULL OR {table}.lease_until < ? "
                f"OR {table}.lease_holder = excluded.lease_holder",
                (key, now, holder, now + seconds, now),
            )
            return cur.rowcount == 1

        return await self._run(work)

    async def release(self, key: str, holder: str) -> None:
        """Give back the lease of ``key`` if ``holder`` still holds it."""
        await self._run(
            lambda cur: cur.execute(
                f"UPDATE {self.table} SET lease_holder = NULL, lease_until = NULL "
                "WHERE key = ? AND lease_holder = ?",
                (key, holder),
            )
        )
