"""Constructors of the stored records, shared by the seed and the endpoints.

Each returns a record with every key its ``render`` view reads, so a seeded object and one
made through the API can never differ in shape.
"""

from __future__ import annotations

from collections.abc import Sequence

from .state import ArgusState, Record


def case_record(
    *,
    case_id: int,
    customer_id: int,
    service_id: int,
    case_type: str,
    subject: str,
    description: str,
    reporter_id: int,
    created: int,
    status: str = "pendingSoc",
    priority: str = "medium",
    category_id: int | None = None,
    access_mode: str = "roleBased",
    customer_reference: str | None = None,
    origin_email: str | None = None,
    published: bool = True,
) -> Record:
    """A new case as reported by ``reporter_id`` at ``created`` (epoch ms)."""
    return {
        "id": case_id,
        "customerID": customer_id,
        "serviceID": service_id,
        "categoryID": category_id,
        "type": case_type,
        "initialStatus": status,
        "status": status,
        "initialPriority": priority,
        "priority": priority,
        "subject": subject,
        "description": description,
        "customerReference": customer_reference,
        "accessMode": access_mode,
        "reporterID": reporter_id,
        "assignedUserID": None,
        "assignedTechID": None,
        "createdByUserID": reporter_id,
        "lastUpdatedByUserID": reporter_id,
        "closedByUserID": None,
        "publishedByUserID": reporter_id if published else None,
        "createdTimestamp": created,
        "lastUpdatedTimestamp": created,
        "closedTimestamp": None,
        "publishedTimestamp": created if published else None,
        "customerDueTimestamp": None,
        "techDueTimestamp": None,
        "flags": [],
        "workflows": [],
        "originEmailAddress": origin_email,
    }


def comment_record(
    state: ArgusState,
    case: Record,
    *,
    user_id: int,
    text: str,
    added: int,
    internal: bool = False,
    reply_to: str | None = None,
    origin_email: str | None = None,
    attachment_ids: Sequence[str] = (),
) -> Record:
    """A comment on ``case``, carrying the case's status and priority at the time."""
    return {
        "id": state.new_uuid(),
        "caseID": case["id"],
        "addedTimestamp": added,
        "addedByUserID": user_id,
        "comment": text,
        "flags": ["INTERNAL"] if internal else [],
        "lastUpdatedTimestamp": added,
        "status": case["status"],
        "priority": case["priority"],
        "originEmailAddress": origin_email,
        "associatedAttachmentIDs": list(attachment_ids),
        "references": [{"type": "replyTo", "commentID": reply_to}] if reply_to else [],
    }


def tag_record(state: ArgusState, *, key: str, value: str, user_id: int, added: int) -> Record:
    """A ``key``/``value`` tag."""
    return {
        "id": state.new_uuid(),
        "key": key,
        "value": value,
        "addedTimestamp": added,
        "addedByUserID": user_id,
        "flags": [],
    }


def attachment_record(
    state: ArgusState,
    *,
    name: str,
    mime_type: str,
    content: bytes,
    user_id: int,
    added: int,
    origin_email: str | None = None,
) -> Record:
    """An attachment with its raw ``content``."""
    return {
        "id": state.new_uuid(),
        "name": name,
        "mimeType": mime_type,
        "content": content,
        "addedTimestamp": added,
        "addedByUserID": user_id,
        "flags": [],
        "originEmailAddress": origin_email,
    }


def acl_record(
    state: ArgusState, *, subject_id: int, level: str, user_id: int, added: int
) -> Record:
    """An explicit access grant of ``level`` to a user or group."""
    return {
        "id": state.new_uuid(),
        "subjectID": subject_id,
        "level": level,
        "flags": [],
        "addedTimestamp": added,
        "addedByUserID": user_id,
    }
