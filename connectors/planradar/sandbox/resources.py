"""JSON:API documents: how objects are written out, and how request documents are read.

Attribute names are dash-case as the platform's API uses them (``status-id``,
``ticket-type-id``, ``image-url``); the one documented exception, ``typed_values_metadata`` on
tickets, keeps its underscores. Lists answer ``{"data": [...], "meta": {"count", "page"}}``,
``count`` being the total before paging.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from starlette.requests import Request

from .access import ApiError
from .state import (
    Component,
    Image,
    Journal,
    Project,
    SandboxState,
    Ticket,
    TicketType,
    User,
    iso,
)

T = TypeVar("T")

JOURNAL_TYPES = {1: "comment", 2: "media", 3: "journal"}


def resource(
    kind: str,
    object_id: str,
    attributes: dict[str, Any],
    relationships: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One JSON:API resource object."""
    body: dict[str, Any] = {"id": object_id, "type": kind, "attributes": attributes}
    if relationships:
        body["relationships"] = relationships
    return body


def link(kind: str, object_id: str | None) -> dict[str, Any]:
    """A to-one relationship (``{"data": null}`` when empty)."""
    return {"data": {"id": object_id, "type": kind} if object_id else None}


def list_document(items: Sequence[dict[str, Any]], *, count: int, page: int) -> dict[str, Any]:
    """A list answer: one page of resources and the total count."""
    return {"data": list(items), "meta": {"count": count, "page": page}}


def page_params(request: Request, *, default: int, maximum: int) -> tuple[int, int]:
    """``page`` (1-based) and ``pagesize`` from the query; a larger pagesize is clamped."""
    page = _positive_int(request, "page", 1)
    pagesize = _positive_int(request, "pagesize", default)
    return page, min(pagesize, maximum)


def page_of(items: Sequence[T], page: int, pagesize: int) -> list[T]:
    """The items of ``page`` (empty past the end)."""
    start = (page - 1) * pagesize
    return list(items[start : start + pagesize])


def _positive_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, "Invalid Parameters", f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


def unix_param(request: Request, name: str) -> float | None:
    """A query parameter holding a Unix timestamp in seconds (None when absent)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise ApiError(
            400, "Invalid Parameters", f"{name} must be a Unix timestamp in seconds, got {raw!r}"
        ) from None


def iso_param(request: Request, name: str) -> float | None:
    """A query parameter holding an ISO-8601 datetime, as a Unix timestamp (None when absent)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    moment = parse_datetime(raw)
    if moment is None:
        raise ApiError(
            400, "Invalid Parameters", f"{name} must be an ISO-8601 datetime, got {raw!r}"
        )
    return moment


def parse_datetime(text: str) -> float | None:
    """An ISO-8601 date or datetime (naive means UTC) as a Unix timestamp, else None."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


async def read_attributes(request: Request) -> dict[str, Any]:
    """The ``data.attributes`` object of a request body, else 400."""
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "Bad Request", "the request body is not valid JSON") from None
    data = body.get("data") if isinstance(body, dict) else None
    attributes = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attributes, dict):
        raise ApiError(
            400, "Bad Request", 'expected a JSON body of the form {"data": {"attributes": {...}}}'
        )
    return attributes


def project_resource(project: Project) -> dict[str, Any]:
    """A project as ``GET …/projects`` lists it."""
    return resource(
        "projects",
        project.id,
        {
            "name": project.name,
            "projectnumber": project.projectnumber,
            "description": project.description,
            "street": project.street,
            "zipcode": project.zipcode,
            "city": project.city,
            "country": project.country,
            "status": project.status,
            "running-number": project.running_number,
            "created-at": project.created_at,
            "updated-at": project.updated_at,
        },
        {
            "ticket-types": {
                "data": [{"id": t, "type": "ticket-types"} for t in project.ticket_type_ids]
            }
        },
    )


def user_resource(user: User) -> dict[str, Any]:
    """A user of the account."""
    return resource(
        "users",
        user.id,
        {
            "firstname": user.firstname,
            "lastname": user.lastname,
            "mail": user.mail,
            "company": user.company,
            "position": user.position,
            "active": True,
            "subcontractor": user.subcontractor,
            "watcher": False,
            "created-at": user.created_at,
        },
    )


def ticket_type_resource(ticket_type: TicketType) -> dict[str, Any]:
    """A form and its custom fields."""
    return resource(
        "ticket-types",
        ticket_type.id,
        {
            "name": ticket_type.name,
            "typed-fields": ticket_type.typed_fields,
            "created-at": ticket_type.created_at,
        },
    )


def component_resource(component: Component) -> dict[str, Any]:
    """A layer of a project."""
    return resource(
        "defectradar-components",
        component.id,
        {
            "name": component.name,
            "project-id": component.project_id,
            "parent-id": None,
            "order": component.order,
            "planfile-file-name": component.planfile_file_name,
            "is-processed": True,
            "has-failed": False,
            "created-at": component.created_at,
        },
    )


def ticket_resource(ticket: Ticket, images: Sequence[Image] | None = None) -> dict[str, Any]:
    """A ticket; with ``images`` it also links them (their resources go in ``included``)."""
    attributes = dict(ticket.attributes)
    attributes["typed_values_metadata"] = {}
    relationships = {
        "project": link("projects", ticket.project_id),
        "component": link("defectradar-components", attributes["component-id"]),
        "ticket-type": link("ticket-types", attributes["ticket-type-id"]),
        "author": link("users", attributes["author-id"]),
        "assigned-to": link("users", attributes["assigned-to-id"]),
    }
    if images is not None:
        relationships["images"] = {"data": [{"id": i.id, "type": "images"} for i in images]}
    return resource("tickets", ticket.id, attributes, relationships)


def image_urls(image: Image, base_url: str) -> tuple[str, str]:
    """The download URL of an image and of its thumbnail (unauthenticated, like S3 links)."""
    url = f"{base_url.rstrip('/')}/files/{image.uuid}"
    return url, f"{url}?style=thumb"


def image_resource(image: Image, base_url: str) -> dict[str, Any]:
    """A picture attached to a ticket, as the images endpoint answers it."""
    url, thumb = image_urls(image, base_url)
    return resource(
        "images",
        image.id,
        {
            "uuid": image.uuid,
            "ticket-uuid": image.ticket_uuid,
            "caption": image.caption,
            "file-name": image.file_name,
            "image-content-type": image.content_type,
            "image-file-size": image.size,
            "image-type": image.image_type,
            "image-url": url,
            "image-url-thumb": thumb,
            "author-id": image.author_id,
            "created-at": iso(image.created_ts),
        },
    )


def attachment_resource(image: Image, base_url: str) -> dict[str, Any]:
    """A picture as the ticket attachments endpoint lists it."""
    url, thumb = image_urls(image, base_url)
    return resource(
        "attachments",
        image.id,
        {
            "uuid": image.uuid,
            "ticket-uuid": image.ticket_uuid,
            "attachable-type": "images",
            "title": image.file_name,
            "caption": image.caption,
            "content-type": image.content_type,
            "file-size": image.size,
            "url": url,
            "thumb-url": thumb,
            "created-by": image.author_id,
            "created-at": iso(image.created_ts),
        },
    )


def journal_resource(journal: Journal) -> dict[str, Any]:
    """One history entry of a ticket."""
    return resource(
        "journals",
        journal.id,
        {
            "ticket-uuid": journal.ticket_uuid,
            "journal-type": journal.kind,
            "journal-type-name": JOURNAL_TYPES[journal.kind],
            "notes": journal.notes,
            "details": list(journal.details),
            "user-id": journal.user_id,
            "created-on": iso(journal.created_ts),
        },
    )


def ticket_images(state: SandboxState, ticket: Ticket) -> list[Image]:
    """The pictures of a ticket, oldest first."""
    return [i for i in state.images.values() if i.ticket_uuid == ticket.uuid]
