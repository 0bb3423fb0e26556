"""A session's share of the session cache: one login per credential for every process.

``SharedLogin`` is what a ``Session`` (``hookline.http.auth.session``) uses when its connection
has a ``SessionCache``: before logging in it looks for a session another process cached and
is not due for renewal (``take_up``); if there is none it takes the credential's login lease,
so that of several processes starting together one logs in while the others wait and then
take up its session; after a login or a refresh it caches the result. The lease is renewed
while the login runs and given back after it (``hookline.http.lease``): a slow login keeps
it, and a holder that died lets it run out within ``LEASE`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hookline.http.lease import Lease
from hookline.plugins.protocols import CachedSession, SessionCache


class SharedLogin:
    """The cached session and the login lease of one credential, which ``connection`` (a
    connection of ``connector``) uses."""

    def __init__(self, cache: SessionCache, key: str, *, connection: str, connector: str) -> None:
        self.cache = cache
        self.key = key
        self.connection = connection
        self.connector = connector
        self._lease: Lease | None = None

    async def load(self) -> CachedSession | None:
        """The cached session, if any."""
        return await self.cache.load(self.key)

    async def take_up(
        self, *, refused: str | None, held: str | None
    ) -> tuple[CachedSession | None, bool]:
        """A cached session to use, and whether it is fresh.

        ``(session, True)``: a session not due for renewal, not the ``refused`` one, to use
        as it is. Otherwise this process now holds the login lease and gets ``(session,
        False)``, a session due for renewal but still valid and not the one it ``held``, to
        refresh; or ``(None, False)``: log in. While another process holds the lease this
        waits for that process's session.
        """

        def usable(cached: CachedSession) -> bool:
            now = time.time()
            return (
                cached.stamp != refused
                and (cached.renew_at is None or cached.renew_at > now)
                and (cached.expires_at is None or cached.expires_at > now)
            )

        found = await self.load()
        if found is None or not usable(found):
            found = await self.claim(usable)
        if found is not None:
            return found, True
        due = await self.load()
        if (
            due is not None
            and due.stamp not in (refused, held)
            and (due.expires_at is None or due.expires_at > time.time())
        ):
            return due, False
        return None, False

    async def claim(self, usable: Callable[[CachedSession], bool]) -> CachedSession | None:
        """Hold the login lease, or return a ``usable`` session another process cached.

        None means this process holds the lease and must log in, then ``publish`` and
        ``release``.
        """
        lease = Lease(
            self.cache,
            self.key,
            work=f"log in with the credentials of connection {self.connection!r}",
            connector=self.connector,
        )

        async def logged_in() -> CachedSession | None:
            found = await self.cache.load(self.key)
            return found if found is not None and usable(found) else None

        found = await lease.take(logged_in)
        if found is None:
            self._lease = lease
            found = await logged_in()  # cached while the lease was taken
            if found is not None:
                await self.release()
        return found

    async def publish(self, session: CachedSession) -> None:
        """Cache ``session`` for every process."""
        await self.cache.save(self.key, session)

    async def release(self) -> None:
        """Give the lease back, if this process holds it."""
        lease, self._lease = self._lease, None
        if lease is not None:
            await lease.release()
