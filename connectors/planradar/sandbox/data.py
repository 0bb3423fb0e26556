"""The seed: one customer account with users, two projects, forms, layers and tickets.

The account, its users, projects, forms and layers are fixed (so the demo credentials and ids in
the documentation always hold); the tickets, their history and their pictures are drawn from
``random.Random(seed)`` and dated in the 90 days before ``BASE_DATE``, never from the wall clock.
Of the tickets, the first 60 % belong to the first project and the rest to the second.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .limits import RateLimiter
from .state import (
    PRIORITY_IDS,
    STATUS_IDS,
    Component,
    Image,
    Project,
    SandboxState,
    Ticket,
    TicketType,
    User,
    iso,
)

CUSTOMER_ID = "2410587"
ACCOUNT_NAME = "Demo Bygg AB"
DEMO_TOKEN = "prdemo-4f1c0a7e9b2d4c6e8a1b3d5f7e9c0b2a"
INTEGRATION_TOKEN = "prdemo-integration-7d3e5f9a1c2b4d6e8f0a"
NO_API_TOKEN = "prdemo-noapi-2c4e6a8b0d1f3e5a7c9b"

BASE_DATE = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
BASE = BASE_DATE.timestamp()
_DAY = 86400.0

HOLDER, INTEGRATION, SITE_MANAGER, PLUMBER, ELECTRICIAN = "gpk", "oll", "byk", "lmw", "xqed"
LINDEN, HARBOUR = "nqzkdw", "vlobre"
DEFECT, SAFETY, TASK = "obk", "xmwp", "tyb"

# A one-pixel PNG: every seeded picture has these bytes.
PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

_DEFECTS = (
    "Crack in plaster",
    "Missing fire seal",
    "Damaged door frame",
    "Loose handrail",
    "Water stain on ceiling",
    "Paint defect",
    "Broken tile",
    "Missing socket cover",
    "Misaligned window",
    "Faulty access-control reader",
    "Scratched floor",
    "Leaking pipe joint",
    "Unsealed cable penetration",
    "Missing signage",
    "Incomplete insulation",
)
_PLACES = (
    "stairwell A",
    "stairwell B",
    "apartment 1.02",
    "apartment 2.14",
    "corridor level 3",
    "main entrance",
    "garage",
    "roof terrace",
    "technical room",
    "lobby",
)
_TRADES = ("Painter", "Electrician", "Plumber", "Carpenter", "Tiler")
_COMMENTS = (
    "Contractor informed.",
    "Checked on site, needs a second visit.",
    "Material ordered.",
    "Photo added for the contractor.",
    "Please confirm when done.",
)


def build_state(
    *, seed: int, clock: Callable[[], float], limiter: RateLimiter, ticket_count: int
) -> SandboxState:
    """A fresh state for ``seed``: the fixed account plus ``ticket_count`` drawn tickets."""
    rng = random.Random(seed)
    state = SandboxState(
        customer_id=CUSTOMER_ID, account_name=ACCOUNT_NAME, rng=rng, clock=clock, limiter=limiter
    )
    _add_people(state)
    _add_projects(state)
    for number in range(1, ticket_count + 1):
        project = LINDEN if number <= round(ticket_count * 0.6) else HARBOUR
        _add_ticket(state, rng, project)
    return state


def _add_people(state: SandboxState) -> None:
    """The account holder and an integration user may use the API; subcontractors work elsewhere."""
    since = iso(BASE - 400 * _DAY)
    both = (LINDEN, HARBOUR)
    people = (
        (HOLDER, "Anna", "Lindqvist", "Project director", ACCOUNT_NAME, both),
        (INTEGRATION, "Integration", "User", "System account", ACCOUNT_NAME, (LINDEN,)),
        (SITE_MANAGER, "Erik", "Berg", "Site manager", ACCOUNT_NAME, both),
        (PLUMBER, "Kalle", "Rorberg", "Plumber", "Rorberg VVS AB", both),
        (ELECTRICIAN, "Sara", "Nilsson", "Electrician", "Nilsson El AB", (HARBOUR,)),
    )
    for user_id, first, last, position, company, projects in people:
        state.users[state.reserve(user_id)] = User(
            id=user_id,
            firstname=first,
            lastname=last,
            mail=f"{first}.{last}@demo-bygg.example".lower(),
            company=company,
            position=position,
            account_holder=user_id == HOLDER,
            api_access=user_id in (HOLDER, INTEGRATION),
            subcontractor=company != ACCOUNT_NAME,
            project_ids=projects,
            created_at=since,
        )
    state.tokens.update(
        {DEMO_TOKEN: HOLDER, INTEGRATION_TOKEN: INTEGRATION, NO_API_TOKEN: SITE_MANAGER}
    )


def _add_projects(state: SandboxState) -> None:
    created = iso(BASE - 200 * _DAY)
    forms: tuple[tuple[str, str, dict[str, dict[str, Any]]], ...] = (
        (
            DEFECT,
            "Defect",
            {
                "tf37e04757dabbca63": {
                    "name": "Trade",
                    "type": "CustomFields::ShortTextType",
                    "order": 1,
                },
                "tfd4367f50e84a9408": {
                    "name": "Cost estimate",
                    "type": "CustomFields::FloatType",
                    "order": 2,
                },
            },
        ),
        (
            SAFETY,
            "Safety observation",
            {
                "tf0a1b2c3d4e5f6071": {
                    "name": "Hazard level",
                    "type": "CustomFields::IntegerType",
                    "order": 1,
                }
            },
        ),
        (TASK, "Task", {}),
    )
    for form_id, name, fields in forms:
        state.ticket_types[state.reserve(form_id)] = TicketType(form_id, name, fields, created)
    projects = (
        (
            LINDEN,
            "Kv. Linden, residential block",
            "2024-017",
            "Lindgatan 12",
            "753 20",
            "Uppsala",
            (DEFECT, SAFETY),
        ),
        (
            HARBOUR,
            "Harbour terminal, stage 2",
            "2024-031",
            "Hamnvägen 4",
            "417 64",
            "Göteborg",
            (DEFECT, TASK),
        ),
    )
    for running, (project_id, name, number, street, zipcode, city, form_ids) in enumerate(
        projects, 1
    ):
        state.projects[state.reserve(project_id)] = Project(
            id=project_id,
            name=name,
            projectnumber=number,
            description=f"Construction project {number} of {ACCOUNT_NAME}.",
            street=street,
            zipcode=zipcode,
            city=city,
            country="Sweden",
            status=1,
            running_number=running,
            ticket_type_ids=form_ids,
            created_at=created,
            updated_at=created,
        )
    layers = (
        ("nyk", LINDEN, "Level 1"),
        ("lzm", LINDEN, "Level 2"),
        ("pwr", LINDEN, "Roof"),
        ("qdm", HARBOUR, "Ground floor"),
        ("jex", HARBOUR, "Basement"),
    )
    for order, (component_id, project_id, name) in enumerate(layers, 1):
        state.components[state.reserve(component_id)] = Component(
            id=component_id,
            project_id=project_id,
            name=name,
            order=order,
            planfile_file_name=f"{name.lower().replace(' ', '-')}.pdf",
            created_at=created,
        )


def _add_ticket(state: SandboxState, rng: random.Random, project_id: str) -> None:
    project = state.projects[project_id]
    members = [u.id for u in state.users.values() if project_id in u.project_ids]
    workers = [m for m in members if m != INTEGRATION]
    created = BASE - rng.uniform(1, 90) * _DAY
    updated = min(BASE, created + rng.uniform(0, 10) * _DAY)
    form_id = rng.choice(project.ticket_type_ids)
    status = rng.choices(STATUS_IDS, weights=(35, 20, 15, 10, 15, 5))[0]
    assignee = rng.choice(workers) if rng.random() < 0.85 else None
    due = iso(created + rng.randint(7, 30) * _DAY)[:10] if rng.random() < 0.7 else None
    attributes: dict[str, Any] = {
        "uuid": state.new_uuid(),
        "sequential-id": state.next_sequential_id(project_id),
        "subject": f"{rng.choice(_DEFECTS)}, {rng.choice(_PLACES)}",
        "ticket-type-id": form_id,
        "component-id": rng.choice(
            [c.id for c in state.components.values() if c.project_id == project_id]
        ),
        "project-id": project_id,
        "parent-id": None,
        "status-id": status,
        "priority-id": rng.choices(PRIORITY_IDS, weights=(25, 50, 25))[0],
        "assigned-to-id": assignee,
        "assignee-type": "User" if assignee else None,
        "author-id": rng.choice((HOLDER, SITE_MANAGER)),
        "updated-by-id": rng.choice((HOLDER, SITE_MANAGER)),
        "due-date": due,
        "closed-at": iso(updated) if status == "gk" else None,
        "extension-date": None,
        "progress": {"lm": 0, "ol": rng.choice((10, 25, 50, 75)), "gk": 100, "ma": 100}.get(
            status, 0
        ),
        "plan-x": round(rng.random(), 4),
        "plan-y": round(rng.random(), 4),
        "typed-values": _typed_values(rng, form_id),
        "subscribers": [],
        "customer-id": state.customer_id,
        "created-at": iso(created),
        "updated-at": iso(updated),
    }
    ticket = Ticket(
        id=state.new_id(),
        number=state.next_ticket_number(),
        project_id=project_id,
        created_ts=created,
        attributes=attributes,
    )
    state.tickets[ticket.uuid] = ticket
    author = str(attributes["author-id"])
    state.add_journal(
        ticket,
        kind=3,
        user_id=author,
        at=created,
        details=({"prop-key": "status_id", "old-value": None, "value": "lm"},),
    )
    if status != "lm":
        change = {"prop-key": "status_id", "old-value": "lm", "value": status}
        state.add_journal(ticket, kind=3, user_id=author, at=updated, details=(change,))
    if rng.random() < 0.3:
        comment_at = rng.uniform(created, updated)
        state.add_journal(
            ticket, kind=1, user_id=author, at=comment_at, notes=rng.choice(_COMMENTS)
        )
    if rng.random() < 0.2:
        _add_picture(state, ticket, author, at=created + 60)


def _typed_values(rng: random.Random, form_id: str) -> dict[str, Any]:
    if form_id == DEFECT:
        values: dict[str, Any] = {"tf37e04757dabbca63": rng.choice(_TRADES)}
        if rng.random() < 0.5:
            values["tfd4367f50e84a9408"] = round(rng.uniform(100, 5000), 2)
        return values
    if form_id == SAFETY:
        return {"tf0a1b2c3d4e5f6071": rng.randint(1, 5)}
    return {}


def _add_picture(state: SandboxState, ticket: Ticket, author: str, *, at: float) -> None:
    image = Image(
        id=state.new_id(),
        uuid=state.new_uuid(),
        ticket_uuid=ticket.uuid,
        project_id=ticket.project_id,
        file_name=f"photo-{ticket.attributes['sequential-id']}.png",
        content_type="image/png",
        caption="Photo of the defect",
        image_type=0,
        size=len(PIXEL_PNG),
        author_id=author,
        created_ts=at,
    )
    state.images[image.uuid] = image
    state.files[image.uuid] = PIXEL_PNG
    detail = {"prop-key": "image", "old-value": None, "value": image.uuid}
    state.add_journal(ticket, kind=2, user_id=author, at=at, details=(detail,))
