"""The sandbox's in-memory instance: one tenant, its users and everything they own.

Records are kept in the platform's own JSON shapes (plain dicts), so handlers answer with them
directly and tests can inspect and arrange them through ``app.state.sandbox``. Secrets (passwords,
TOTP seeds) live beside the records, never in them, so no answer can leak them.
"""

from __future__ import annotations

import random
import secrets
import string
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

TENANT_ID = 7
ROLES = ("ADMIN", "STD_USER", "ANALYST")
_CUID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True, slots=True)
class Options:
    """The tunable behaviour of one sandbox app (see ``create_app``)."""

    token_lifetime: int
    auth_rate_limit: int | None
    auth_rate_window: float
    mfa_challenge_lifetime: int
    clock: Callable[[], float]
    webhooks: bool = True


@dataclass(frozen=True, slots=True)
class Upload:
    """One uploaded image: its bytes, its media type, and whether it can be served back."""

    content: bytes
    media_type: str
    servable: bool


@dataclass(frozen=True, slots=True)
class MfaChallenge:
    """A pending second login step: whose it is and when it stops being accepted."""

    email: str
    expires_at: float


class PlexTracState:
    """Everything one sandbox instance knows; mutated by handlers, read by tests."""

    def __init__(self, options: Options, rng: random.Random) -> None:
        self.options = options
        self.rng = rng
        self.tenant_id = TENANT_ID
        self.users: dict[str, dict[str, Any]] = {}  # by lower-case email; legacy user shape
        self.passwords: dict[str, str] = {}
        self.totp_secrets: dict[str, str] = {}
        self.clients: dict[int, dict[str, Any]] = {}
        self.reports: dict[int, dict[str, Any]] = {}
        self.findings: dict[tuple[int, int], dict[str, Any]] = {}  # by (report_id, flaw_id)
        self.assessments: dict[int, dict[str, Any]] = {}
        self.assets: dict[str, dict[str, Any]] = {}  # client assets, by asset id (a cuid)
        self.uploads: dict[str, Upload] = {}  # by file name, e.g. "<uuid>.png"
        self.tags: dict[str, dict[str, Any]] = {}  # by tag id
        self.webhooks: dict[str, dict[str, Any]] = {}  # by webhook cuid
        self.deliveries: list[dict[str, Any]] = []  # the webhook delivery log, oldest first
        self.mfa_challenges: dict[str, MfaChallenge] = {}
        self.auth_requests: deque[float] = deque()
        self.token_secret = secrets.token_bytes(32)
        self.cookie_secret = secrets.token_bytes(32)
        self._next_ids: dict[str, int] = {}

    def now(self) -> float:
        """The sandbox clock, in Unix seconds."""
        return self.options.clock()

    def now_ms(self) -> int:
        """The sandbox clock in epoch milliseconds, PlexTrac's timestamp unit."""
        return int(self.options.clock() * 1000)

    def start_ids(self, kind: str, first: int) -> None:
        """Make ``new_id(kind)`` count up from ``first``."""
        self._next_ids[kind] = first

    def new_id(self, kind: str) -> int:
        """The next integer id of ``kind`` (client, report, assessment, user)."""
        value = self._next_ids[kind]
        self._next_ids[kind] = value + 1
        return value

    def new_cuid(self) -> str:
        """A collision-resistant id in the cuid look PlexTrac uses (``c`` + 24 characters)."""
        return "c" + "".join(self.rng.choice(_CUID_ALPHABET) for _ in range(24))

    def new_uuid(self) -> str:
        """A version-4 UUID drawn from the seeded generator, so runs repeat exactly."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def findings_of(self, report_id: int) -> list[dict[str, Any]]:
        """The findings of one report, oldest first."""
        return [f for (rid, _), f in self.findings.items() if rid == report_id]


def state_of(request: Request) -> PlexTracState:
    """The sandbox state of the app serving ``request``."""
    state: PlexTracState = request.app.state.sandbox
    return state
