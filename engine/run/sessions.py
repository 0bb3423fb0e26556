"""Login sessions in the state store, sealed: the ``SessionCache`` every process shares.

A row per credential holds its session (captured values, stamp, expiry) sealed with the
installation key (``hookline.run.keys``), and the credential's login lease: the process
whose lease it is logs in while the others wait for its session. The row's key is a keyed
hash of the credential's own hash, so neither a secret nor anything to test a guess of one
against is stored. A lease is taken with one conditional upsert, which SQLite and PostgreSQL
both apply atomically; it runs out by itself, so a process that dies holding it delays the
others and never blocks them.

``sharing`` puts the parts together for a command: the shared rate limiter over
``hookline.run.budgets`` and this cache, both on one store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hookline.http.budget import SharedRateLimiter
from hookline.http.ratelimit import RateLimiter, Wait
from hookline.plugins.protocols import CachedSession, SessionCache
from hookline.run.budgets import StoreLedger
from hookline.run.keys import InstallationKey, installation_key
from hookline.run.store import SqlStore

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sessions (
        key TEXT PRIMARY KEY, sealed TEXT, expires_at DOUBLE PRECISION,
        updated_at DOUBLE PRECISION NOT NULL, lease_holder TEXT, lease_until DOUBLE PRECISION)""",
)

KEEP_EXPIRED = 86400.0
"""Seconds an expired session's row is kept before a save clears it away."""


class StoreSessionCache:
    """Sealed sessions and login leases in a SQLite or PostgreSQL state store."""

    def __init__(self, store: SqlStore, key: InstallationKey) -> None:
        self.store = store
        self.key = key
        self._ready = False

    async def _run(self, work: Callable[[Any], Any]) -> Any:
        if not self._ready:
            await self.store.create_tables(SCHEMA)
            self._ready = True
        return await self.store.transaction(work)

    def _row(self, key: str) -> str:
        return self.key.name(key)

    async def load(self, key: str) -> CachedSession | None:
        """The session cached under ``key``; None if none, or sealed with another key."""
        row_key = self._row(key)

        def work(cur: Any) -> Any:
            cur.execute("SELECT sealed FROM sessions WHERE key = ?", (row_key,))
            row = cur.fetchone()
            return None if row is None else row[0]

        sealed = await self._run(work)
        opened = None if sealed is None else self.key.open(sealed)
        if opened is None:
            return None
        data = json.loads(opened)
        return CachedSession(
            values=data["values"],
            stamp=data["stamp"],
            expires_at=data.get("expires_at"),
            renew_at=data.get("renew_at"),
        )

    async def save(self, key: str, session: CachedSession) -> None:
        """Seal and cache ``session``; clear sessions that expired long ago."""
        data = {
            "values": dict(session.values),
            "stamp": session.stamp,
            "expires_at": session.expires_at,
            "renew_at": session.renew_at,
        }
        sealed = self.key.seal(json.dumps(data, separators=(",", ":"), default=str).encode())
        row_key, now = self._row(key), time.time()

        def work(cur: Any) -> None:
            cur.execute(
                "INSERT INTO sessions (key, sealed, expires_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET sealed = excluded.sealed, "
                "expires_at = excluded.expires_at, updated_at = excluded.updated_at",
                (row_key, sealed, session.expires_at, now),
            )
            cur.execute(
                "DELETE FROM sessions WHERE expires_at < ? AND "
                "(lease_until IS NULL OR lease_until < ?)",
                (now - KEEP_EXPIRED, now),
            )

        await self._run(work)

    async def drop(self, key: str) -> bool:
        """Forget the session under ``key``; whether there was one."""
        row_key = self._row(key)

        def work(cur: Any) -> bool:
            cur.execute(
                "UPDATE sessions SET sealed = NULL, expires_at = NULL, updated_at = ? "
                "WHERE key = ? AND sealed IS NOT NULL",
                (time.time(), row_key),
            )
            return bool(cur.rowcount > 0)

        dropped: bool = await self._run(work)
        return dropped

    async def claim(self, key: str, holder: str, seconds: float) -> bool:
        """Take the login lease of ``key`` unless another holder's lease still runs."""
        row_key, now = self._row(key), time.time()

        def work(cur: Any) -> bool:
            cur.execute(
                "INSERT INTO sessions (key, updated_at, lease_holder, lease_until) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                "lease_holder = excluded.lease_holder, lease_until = excluded.lease_until "
                "WHERE sessions.lease_until IS NULL OR sessions.lease_until < ?",
                (row_key, now, holder, now + seconds, now),
            )
            return bool(cur.rowcount == 1)

        claimed: bool = await self._run(work)
        return claimed

    async def release(self, key: str, holder: str) -> None:
        """Give back the lease of ``key`` if ``holder`` holds it."""
        row_key = self._row(key)
        await self._run(
            lambda cur: cur.execute(
                "UPDATE sessions SET lease_holder = NULL, lease_until = NULL "
                "WHERE key = ? AND lease_holder = ?",
                (row_key, holder),
            )
        )


@dataclass(frozen=True, slots=True)
class Sharing:
    """What a command gives its connections so that processes share budgets and sessions."""

    limiter: RateLimiter
    sessions: SessionCache


def sharing(
    store: SqlStore,
    *,
    on_wait: Callable[[Wait], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Sharing:
    """Budgets and sessions kept in ``store``, sessions sealed with the installation's key."""
    return Sharing(
        limiter=SharedRateLimiter(StoreLedger(store), on_wait=on_wait),
        sessions=StoreSessionCache(store, installation_key(store, environ)),
    )
