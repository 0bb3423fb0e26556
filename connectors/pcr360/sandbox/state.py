"""The sandbox's in-memory state, reachable as ``app.state.sandbox`` for tests and demos.

Besides the database it holds the admin side of the platform: API keys, API users and live
sessions, plain dicts a test may read or change, and the admin operations the Tokens and
Users tabs offer (delete a token, delete an API user with all their sessions).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .access import ApiKey, ApiUser, Session, token_id
from .database import Database


@dataclass(slots=True)
class Pcr360State:
    """Everything one sandbox app knows; see ``create_app`` for the options."""

    db: Database
    keys: dict[str, ApiKey]
    users: dict[str, ApiUser]
    sessions: dict[str, Session]
    clock: Callable[[], float]
    session_lifetime_seconds: int
    session_activity_seconds: int
    allow_anonymous: bool
    maintenance: bool
    secret: bytes
    rng: random.Random

    def now(self) -> float:
        """The current time in epoch seconds, from the ``clock`` option."""
        return self.clock()

    def timestamp(self) -> str:
        """The current time as the platform writes dates: ``YYYY-MM-DD hh:mm:ss`` (UTC)."""
        return datetime.fromtimestamp(self.now(), UTC).strftime("%Y-%m-%d %H:%M:%S")

    def revoke_token(self, token: str) -> bool:
        """Delete a token's session, as an admin does from the Tokens tab; False if unknown."""
        sid = token_id(token)
        return sid is not None and self.sessions.pop(sid, None) is not None

    def delete_api_user(self, username: str) -> None:
        """Remove an API user; every session of theirs is deleted with them."""
        self.users.pop(username, None)
        for sid, session in list(self.sessions.items()):
            if session.username == username:
                del self.sessions[sid]

    def service_desk(self, recid: int) -> dict[str, Any] | None:
        """One SERVICE_DESK row by RECID (for tests to check a write's effect)."""
        rows = self.db.fetch("SELECT * FROM SERVICE_DESK WHERE RECID = ?", (recid,))
        return rows[0] if rows else None
