"""The in-memory state of the PlanRadar sandbox: one account, its people, projects and tickets.

Everything lives in plain dicts and lists on ``SandboxState`` so tests can read effects and set
up cases directly. Model objects are frozen; a change replaces the object (``dataclasses.replace``)
so a reference a test holds never changes under it. Only the webhook delivery log is mutable,
because it is a record that grows while a delivery is retried in the background.

Ids follow the platform's habit: objects have short encoded string ids (``gpk``, ``nyk``),
tickets and images are addressed by UUID, and status and priority ids are the encoded forms of
their small numbers (status 1..6 = ``lm ol ma ex gk ky``, priority 1..3 = ``lm ol ma``).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .limits import RateLimiter

STATUS_IDS = ("lm", "ol", "ma", "ex", "gk", "ky")
STATUS_NAMES = ("Open", "In-Progress", "Resolved", "Feedback", "Closed", "Rejected")
PRIORITY_IDS = ("lm", "ol", "ma")
PRIORITY_NAMES = ("Low", "Normal", "High")

EVENTS = ("ticket.created", "ticket.updated", "ticket.image_attached")

_ID_LETTERS = "bdegjklmnopqrwxyz"


def encoded(value: object, table: tuple[str, ...]) -> str | None:
    """The letter id in ``table`` given either the letters or the 1-based number, else None."""
    text = str(value).strip()
    if text in table:
        return text
    if text.isdigit() and 1 <= int(text) <= len(table):
        return table[int(text) - 1]
    return None


def iso(timestamp: float) -> str:
    """A Unix timestamp as the platform writes datetimes: UTC, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class User:
    """A user of the account; only users with ``api_access`` may use personal access tokens."""

    id: str
    firstname: str
    lastname: str
    mail: str
    company: str
    position: str
    account_holder: bool
    api_access: bool
    subcontractor: bool
    project_ids: tuple[str, ...]
    created_at: str


@dataclass(frozen=True, slots=True)
class Project:
    """A project; ``status`` 1 is active and 9 archived, as the v1 archive endpoint uses them."""

    id: str
    name: str
    projectnumber: str
    description: str
    street: str
    zipcode: str
    city: str
    country: str
    status: int
    running_number: int
    ticket_type_ids: tuple[str, ...]
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class TicketType:
    """A form: its custom fields are keyed by ``tf…`` ids, each ``{name, type, order}``."""

    id: str
    name: str
    typed_fields: dict[str, dict[str, Any]]
    created_at: str


@dataclass(frozen=True, slots=True)
class Component:
    """A layer of a project (the plan a ticket is pinned on)."""

    id: str
    project_id: str
    name: str
    order: int
    planfile_file_name: str
    created_at: str


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket: ``number`` orders tickets by id; ``attributes`` are the dash-case fields."""

    id: str
    number: int
    project_id: str
    created_ts: float
    attributes: dict[str, Any]

    @property
    def uuid(self) -> str:
        """The UUID the API addresses the ticket by."""
        return str(self.attributes["uuid"])


@dataclass(frozen=True, slots=True)
class Image:
    """A picture attached to a ticket; its bytes are in ``SandboxState.files[uuid]``."""

    id: str
    uuid: str
    ticket_uuid: str
    project_id: str
    file_name: str
    content_type: str
    caption: str
    image_type: int
    size: int
    author_id: str
    created_ts: float


@dataclass(frozen=True, slots=True)
class Journal:
    """One history entry of a ticket: ``kind`` 1 comment, 2 media, 3 change (the API's filter)."""

    id: str
    number: int
    ticket_uuid: str
    project_id: str
    kind: int
    user_id: str
    created_ts: float
    notes: str | None = None
    details: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Header:
    """An extra static header a webhook sends; a hidden value is never shown again."""

    name: str
    value: str
    hidden: bool


@dataclass(frozen=True, slots=True)
class Webhook:
    """A webhook of the account; an empty ``project_ids`` watches every project."""

    id: str
    description: str
    target_url: str
    events: tuple[str, ...]
    project_ids: tuple[str, ...]
    username: str | None
    password: str | None
    headers: tuple[Header, ...]
    created_at: str

    def watches(self, event: str, project_id: str) -> bool:
        """Whether an ``event`` in ``project_id`` is sent to this webhook."""
        return event in self.events and (not self.project_ids or project_id in self.project_ids)


@dataclass(slots=True)
class Attempt:
    """One POST of a delivery: the receiver's status code, or the transport error."""

    number: int
    at: str
    status_code: int | None
    error: str | None


@dataclass(slots=True)
class Delivery:
    """One event on its way to one webhook: pending, then delivered, failed or cancelled."""

    id: str
    webhook_id: str
    event: str
    ticket_uuid: str
    payload: dict[str, Any]
    status: str = "pending"
    attempts: list[Attempt] = field(default_factory=list)


class SandboxState:
    """The account the sandbox simulates, and everything that happened to it.

    ``tokens`` maps personal access tokens to user ids; ``tickets`` and ``images`` are keyed
    by UUID; ``journals`` and ``deliveries`` are in creation order. ``rng`` draws the ids of
    new objects, so a seed and a sequence of requests always give the same ids.
    """

    def __init__(
        self,
        *,
        customer_id: str,
        account_name: str,
        rng: random.Random,
        clock: Callable[[], float],
        limiter: RateLimiter,
    ) -> None:
        self.customer_id = customer_id
        self.account_name = account_name
        self.rng = rng
        self.clock = clock
        self.limiter = limiter
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}
        self.projects: dict[str, Project] = {}
        self.ticket_types: dict[str, TicketType] = {}
        self.components: dict[str, Component] = {}
        self.tickets: dict[str, Ticket] = {}
        self.images: dict[str, Image] = {}
        self.files: dict[str, bytes] = {}
        self.journals: list[Journal] = []
        self.webhooks: dict[str, Webhook] = {}
        self.deliveries: list[Delivery] = []
        self._ids: set[str] = set()
        self._ticket_numbers = 0

    def reserve(self, object_id: str) -> str:
        """Mark a fixed id as taken, so ``new_id`` never hands it out."""
        self._ids.add(object_id)
        return object_id

    def new_id(self) -> str:
        """A fresh short encoded id, unique in this state."""
        while True:
            length = self.rng.randint(3, 6)
            candidate = "".join(self.rng.choice(_ID_LETTERS) for _ in range(length))
            if candidate not in self._ids:
                return self.reserve(candidate)

    def new_uuid(self) -> str:
        """A fresh random (version 4) UUID drawn from ``rng``."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def next_ticket_number(self) -> int:
        """The next ticket number (ascending ticket ids follow creation order)."""
        self._ticket_numbers += 1
        return self._ticket_numbers

    def next_sequential_id(self, project_id: str) -> int:
        """The number the next ticket of ``project_id`` shows in the app (1, 2, 3 … per project)."""
        numbers = [
            int(t.attributes["sequential-id"])
            for t in self.tickets.values()
            if t.project_id == project_id
        ]
        return max(numbers, default=0) + 1

    def add_journal(
        self,
        ticket: Ticket,
        *,
        kind: int,
        user_id: str,
        at: float,
        notes: str | None = None,
        details: tuple[dict[str, Any], ...] = (),
    ) -> Journal:
        """Record a history entry of ``ticket`` and return it."""
        journal = Journal(
            id=self.new_id(),
            number=len(self.journals) + 1,
            ticket_uuid=ticket.uuid,
            project_id=ticket.project_id,
            kind=kind,
            user_id=user_id,
            created_ts=at,
            notes=notes,
            details=details,
        )
        self.journals.append(journal)
        return journal
