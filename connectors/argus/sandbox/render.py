"""JSON views of sandbox records, with the API's field names, info objects and time twins.

Records reference each other by id; these functions expand references into Argus "info
objects" (``customer``, ``service``, ``reporter``...) and add the ISO-8601 twin of every
epoch-millisecond field (``createdTimestamp`` -> ``createdTime``).
"""

from __future__ import annotations

from .access import current_user_access, subscription_access
from .state import ArgusState, Record
from .times import iso

_CASE_TIMES = ("created", "lastUpdated", "closed", "published", "customerDue", "techDue")
_CASE_USERS = (
    ("reporter", "reporterID"),
    ("assignedUser", "assignedUserID"),
    ("assignedTech", "assignedTechID"),
    ("createdByUser", "createdByUserID"),
    ("lastUpdatedByUser", "lastUpdatedByUserID"),
    ("closedByUser", "closedByUserID"),
    ("publishedByUser", "publishedByUserID"),
)


def domain(state: ArgusState, customer_id: int) -> Record:
    """The ``{id, name}`` domain info object of a customer."""
    return dict(state.customers[customer_id]["domain"])


def customer(state: ArgusState, customer_id: int) -> Record:
    """The customer info object ``{id, name, shortName, domain}``."""
    record = state.customers[customer_id]
    return {
        "id": record["id"],
        "name": record["name"],
        "shortName": record["shortName"],
        "domain": domain(state, customer_id),
    }


def subject(state: ArgusState, subject_id: int | None) -> Record | None:
    """The info object of a user or group (``type`` tells which), or ``None``."""
    if subject_id is None:
        return None
    user = state.users.get(subject_id)
    record = user if user is not None else state.groups[subject_id]
    return {
        "id": record["id"],
        "customerID": record["customerID"],
        "customer": customer(state, record["customerID"]),
        "domain": domain(state, record["customerID"]),
        "userName": record["userName"] if user is not None else record["shortName"],
        "name": record["name"],
        "type": "user" if user is not None else "group",
    }


def named(record: Record) -> Record:
    """The ``{id, name, shortName, localizedName}`` info object of a service or category."""
    return {
        "id": record["id"],
        "name": record["name"],
        "shortName": record["shortName"],
        "localizedName": record["name"],
    }


def case(
    state: ArgusState,
    record: Record,
    user: Record,
    *,
    workflows: bool = True,
    description: bool = True,
) -> Record:
    """The case model as Argus returns it to ``user`` (``currentUserAccess`` is theirs)."""
    category_id = record["categoryID"]
    view: Record = {
        "id": record["id"],
        "customer": customer(state, record["customerID"]),
        "service": named(state.services[record["serviceID"]]),
        "category": named(state.categories[category_id]) if category_id is not None else None,
        "type": record["type"],
        "initialStatus": record["initialStatus"],
        "status": record["status"],
        "initialPriority": record["initialPriority"],
        "priority": record["priority"],
        "subject": record["subject"],
        "description": record["description"],
        "customerReference": record["customerReference"],
        "accessMode": record["accessMode"],
    }
    if not description:
        del view["description"]
    for field, ref in _CASE_USERS:
        view[field] = subject(state, record[ref])
    for stem in _CASE_TIMES:
        view[f"{stem}Timestamp"] = record[f"{stem}Timestamp"]
    view["flags"] = list(record["flags"])
    view["currentUserAccess"] = current_user_access(state, user, record)
    if workflows:
        view["workflows"] = [dict(w) for w in record["workflows"]]
    view["originEmailAddress"] = record["originEmailAddress"]
    for stem in _CASE_TIMES:
        view[f"{stem}Time"] = iso(record[f"{stem}Timestamp"])
    return view


def comment(state: ArgusState, record: Record) -> Record:
    """A case comment."""
    attachments = {a["id"]: a for a in state.attachments[record["caseID"]]}
    associated = [
        {"id": att_id, "name": attachments[att_id]["name"]}
        for att_id in record["associatedAttachmentIDs"]
        if att_id in attachments
    ]
    return {
        "id": record["id"],
        "addedTimestamp": record["addedTimestamp"],
        "addedByUser": subject(state, record["addedByUserID"]),
        "comment": record["comment"],
        "flags": list(record["flags"]),
        "lastUpdatedTimestamp": record["lastUpdatedTimestamp"],
        "status": record["status"],
        "priority": record["priority"],
        "originEmailAddress": record["originEmailAddress"],
        "associatedAttachments": associated,
        "references": [dict(r) for r in record["references"]],
        "addedTime": iso(record["addedTimestamp"]),
        "lastUpdatedTime": iso(record["lastUpdatedTimestamp"]),
    }


def tag(state: ArgusState, record: Record) -> Record:
    """A case tag."""
    return {
        "id": record["id"],
        "key": record["key"],
        "value": record["value"],
        "addedTimestamp": record["addedTimestamp"],
        "addedByUser": subject(state, record["addedByUserID"]),
        "flags": list(record["flags"]),
        "addedTime": iso(record["addedTimestamp"]),
    }


def attachment(state: ArgusState, record: Record) -> Record:
    """Attachment metadata (the content is only served by the download endpoint)."""
    return {
        "id": record["id"],
        "addedTimestamp": record["addedTimestamp"],
        "addedByUser": subject(state, record["addedByUserID"]),
        "name": record["name"],
        "mimeType": record["mimeType"],
        "flags": list(record["flags"]),
        "size": len(record["content"]),
        "originEmailAddress": record["originEmailAddress"],
        "addedTime": iso(record["addedTimestamp"]),
    }


def acl_entry(state: ArgusState, record: Record) -> Record:
    """An explicit access grant on a case."""
    return {
        "id": record["id"],
        "subject": subject(state, record["subjectID"]),
        "level": record["level"],
        "flags": list(record["flags"]),
        "addedTimestamp": record["addedTimestamp"],
        "addedByUser": subject(state, record["addedByUserID"]),
        "addedTime": iso(record["addedTimestamp"]),
    }


def transaction(state: ArgusState, record: Record) -> Record:
    """A case history transaction."""
    return {
        "id": record["id"],
        "operation": record["operation"],
        "timestamp": record["timestamp"],
        "time": iso(record["timestamp"]),
        "user": subject(state, record["userID"]),
        "flags": list(record["flags"]),
        "notified": record["notified"],
        "changes": [dict(change) for change in record["changes"]],
    }


def service(record: Record) -> Record:
    """A service with the case types it accepts."""
    return {
        **named(record),
        "description": record["description"],
        "caseTypes": list(record["caseTypes"]),
        "flags": [],
    }


def category(state: ArgusState, record: Record) -> Record:
    """A category with its bindings to services and case types."""
    return {
        **named(record),
        "description": record["description"],
        "bindings": [
            {"service": named(state.services[b["serviceID"]]), "caseTypes": list(b["caseTypes"])}
            for b in record["bindings"]
        ],
        "flags": [],
    }


def subscription(state: ArgusState, record: Record, user: Record) -> Record:
    """A service subscription, with the current user's role-based access to it."""
    return {
        "id": record["id"],
        "customer": customer(state, record["customerID"]),
        "service": named(state.services[record["serviceID"]]),
        "status": "active",
        "flags": [],
        "currentUserAccess": subscription_access(user, record["customerID"]),
    }
