"""Typed contracts between the layers: what the runtime asks of the parts a plugin may replace.

The HTTP runtime (``hookline.http``) sits below the state store (``hookline.run``) and may not
import it, yet rate budgets and login sessions must be shared by every process of one
installation. So the runtime states here what it needs, and the state store (the built-in
SQLite and PostgreSQL one, or a plugin's, registered through ``register_state_stores``)
provides it:

- ``BudgetLedger``: read and change one rate budget's state under a lock that holds across
  processes (a short transaction).
- ``SessionCache``: keep a connection's login results, encrypted, and let one process at a
  time log in for a credential (a lease).

Keys are opaque text that the runtime derives from a credential (a hash, never the secret);
the state is JSON-shaped data the runtime alone interprets. Additions here stay small and
each is documented: a contract is hard to change once plugins implement it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

BudgetState = Mapping[str, Any]
"""One rate budget's state: JSON-shaped data only the rate limiter reads."""


class BudgetLedger(Protocol):
    """Rate budgets kept where every process of an installation sees them."""

    async def update_budget(
        self, key: str, change: Callable[[BudgetState | None], tuple[BudgetState | None, T]]
    ) -> T:
        """Apply ``change`` to budget ``key`` atomically across processes; return its result.

        ``change`` gets the stored state (None before the first use) and returns the state to
        store (None: leave it as it was) and a result. It runs while every other process's
        change of the same key waits, so it must be quick and must not await anything; it
        may run again if the store retries a transaction.
        """
        ...


@dataclass(frozen=True, slots=True)
class CachedSession:
    """A login's results as a session cache keeps them.

    ``values`` are the captured values (``session.*``); ``stamp`` names this login, so a
    process can tell a session another process renewed from the one it holds; ``expires_at``
    and ``renew_at`` are Unix times (None: the session lasts until the platform refuses it).
    """

    values: Mapping[str, Any]
    stamp: str
    expires_at: float | None = None
    renew_at: float | None = None


class SessionCache(Protocol):
    """Login results shared by the processes of one installation, encrypted at rest."""

    async def load(self, key: str) -> CachedSession | None:
        """The session cached under ``key``, or None (none, or unreadable with this key)."""
        ...

    async def save(self, key: str, session: CachedSession) -> None:
        """Cache ``session`` under ``key``, replacing what was there."""
        ...

    async def drop(self, key: str) -> bool:
        """Forget the session under ``key``; whether there was one."""
        ...

    async def claim(self, key: str, holder: str, seconds: float) -> bool:
        """Take the login lease of ``key`` for ``seconds`` unless another holder has it.

        Whoever holds the lease logs in while the others wait and then adopt its session;
        a lease whose holder died runs out after ``seconds``.
        """
        ...

    async def release(self, key: str, holder: str) -> None:
        """Give the lease of ``key`` back, if ``holder`` still holds it."""
        ...
