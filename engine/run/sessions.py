"""Login sessions in the state store, sealed: the ``SessionCache`` every process shares.

A row of ``sessions`` per credential (``hookline.run.sealed``) holds its session (captured
values, stamp, expiry) sealed with the installation key (``hookline.run.keys``), and the
credential's login lease: the process whose lease it is logs in while the others wait for
its session. The row's key is a keyed hash of the credential's own hash, so neither a secret
nor anything to test a guess of one against is stored.

``sharing`` puts the parts together for a command: the shared rate limiter over
``hookline.run.budgets``, this cache and the OAuth tokens of ``hookline.run.tokens``, all on
one store, the sessions and tokens sealed with one key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hookline.http.budget import SharedRateLimiter
from hookline.http.ratelimit import RateLimiter, Wait
from hookline.plugins.protocols import CachedSession, SessionCache
from hookline.run.budgets import StoreLedger
from hookline.run.keys import InstallationKey, installation_key
from hookline.run.sealed import SealedRows
from hookline.run.store import SqlStore
from hookline.run.tokens import StoreTokens

KEEP_EXPIRED = 86400.0
"""Seconds an expired session's row is kept before a save clears it away."""


class StoreSessionCache:
    """Sealed sessions and login leases in a SQLite or PostgreSQL state store."""

    def __init__(self, store: SqlStore, key: InstallationKey) -> None:
        self.rows = SealedRows(store, "sessions")
        self.key = key

    def _row(self, key: str) -> str:
        return self.key.name(key)

    async def load(self, key: str) -> CachedSession | None:
        """The session cached under ``key``; None if none, or sealed with another key."""
        sealed, _ = await self.rows.read(self._row(key))
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
        await self.rows.write(
            self._row(key),
            sealed,
            session.expires_at,
            clear_before=time.time() - KEEP_EXPIRED,
        )

    async def drop(self, key: str) -> bool:
        """Forget the session under ``key``; whether there was one."""
        return await self.rows.clear(self._row(key))

    async def claim(self, key: str, holder: str, seconds: float) -> bool:
        """Take the login lease of ``key`` unless another holder's lease still runs, or keep
        it: ``holder`` claiming it again holds it ``seconds`` from now."""
        return await self.rows.claim(self._row(key), holder, seconds)

    async def release(self, key: str, holder: str) -> None:
        """Give back the lease of ``key`` if ``holder`` holds it."""
        await self.rows.release(self._row(key), holder)


@dataclass(frozen=True, slots=True)
class Sharing:
    """What a command gives its connections so that processes share budgets, sessions and
    OAuth tokens."""

    limiter: RateLimiter
    sessions: SessionCache
    tokens: StoreTokens


def sharing(
    store: SqlStore,
    *,
    on_wait: Callable[[Wait], None] | None = None,
    environ: Mapping[str, str] | None = None,
    token_files: Path | None = None,
) -> Sharing:
    """Budgets, sessions and tokens kept in ``store``, sealed with the installation's key.

    ``token_files`` is the folder of an earlier version's token files (``tokens/`` beside the
    connections file), imported as their connections are used.
    """
    key = installation_key(store, environ)
    return Sharing(
        limiter=SharedRateLimiter(StoreLedger(store), on_wait=on_wait),
        sessions=StoreSessionCache(store, key),
        tokens=StoreTokens(store, key, files=token_files, environ=environ),
    )
