"""Driving the sandbox from outside, as a person would in PlanRadar's web app.

``subscribe`` configures a webhook (Settings > Account > Webhooks in the real app) through
the sandbox's management API; ``emit_event`` creates a ticket, which makes the sandbox
deliver a ``ticket.created`` event to every webhook. ``hookline serve --sandbox`` and
``hookline run --sandbox`` call them through the ``Sandbox`` record.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from hookline import WebhookTarget

from .data import CUSTOMER_ID, DEFECT, DEMO_TOKEN, LINDEN
from .state import EVENTS

_SUBJECTS = itertools.cycle(
    (
        "Handrail loose on stair B, level 2",
        "Fire door on level 3 does not close by itself",
        "Cable tray left open above the main corridor",
    )
)


def _api(base_url: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{base_url}/api",
        headers={"X-PlanRadar-API-Key": DEMO_TOKEN, "Accept": "application/json"},
        timeout=10,
    )


def subscribe(base_url: str, target: WebhookTarget) -> None:
    """Make the sandbox at ``base_url`` send every event of every project to ``target``."""
    attributes: dict[str, Any] = {
        "description": "hookline",
        "target-url": target.url,
        "events": list(EVENTS),
        "headers": [
            {"name": name, "value": value, "hidden": True} for name, value in target.headers.items()
        ],
    }
    if target.username is not None:
        attributes["auth-username"] = target.username
        attributes["auth-password"] = target.password or ""
    with _api(base_url) as api:
        answer = api.post(f"/v1/{CUSTOMER_ID}/webhooks", json={"data": {"attributes": attributes}})
        answer.raise_for_status()


def emit_event(base_url: str) -> str:
    """Create a ticket in the sandbox at ``base_url``; say which."""
    subject = next(_SUBJECTS)
    ticket = {"ticket-type-id": DEFECT, "component-id": "nyk", "subject": subject}
    with _api(base_url) as api:
        answer = api.post(
            f"/v2/{CUSTOMER_ID}/projects/{LINDEN}/tickets", json={"data": {"attributes": ticket}}
        )
        answer.raise_for_status()
        number = answer.json()["data"]["attributes"]["sequential-id"]
    return f"created ticket {number} ({subject!r}) in project {LINDEN}"
