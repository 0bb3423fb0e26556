"""Who may do what to a case: access levels, access roles and the access-mode table.

A user's role-based grant on a customer is one of ``read``, ``write``, ``tech`` (service
provider staff) or ``admin``. Per case, the documented table decides the level:

    mode             read                          write                         owner
    roleBased        read/write grant, tech, ACL   write grant, tech, ACL write  reporter, admins
    writeRestricted  read/write grant, tech, ACL   tech, ACL write               reporter, admins
    readRestricted   tech, ACL                     tech, ACL write               reporter, admins
    explicit         ACL                           every ACL member              reporter, admins

ACL entries name a user or a group the user belongs to; an entry of level ``owner`` gives
owner access in every mode. Deleted and unpublished cases are hidden from every user without
the tech role (a tech or admin grant), their reporter included. A case the user cannot read
does not exist for them: "If the user has no read access, the case will not be returned from
the API", so it is 404 like an unknown id, and searches leave it out.
"""

from __future__ import annotations

from .envelope import action_error
from .state import ArgusState, Record

LEVEL_RANK = {"read": 1, "write": 2, "owner": 3}


def role_grant(user: Record, customer_id: int) -> str | None:
    """The user's role-based grant on the customer: admin, tech, write, read or None."""
    if user["role"] == "admin":
        return "admin"
    scope = user["scope"]
    if scope is not None and customer_id not in scope:
        return None
    if user["role"] == "tech":
        return "tech"
    return "write" if user["write"] else "read"


def acl_level(state: ArgusState, user: Record, case_id: int) -> str | None:
    """The best level the case's ACL gives the user, directly or through a group."""
    subjects = {user["id"], *state.groups_of(user["id"])}
    levels = [e["level"] for e in state.acl.get(case_id, []) if e["subjectID"] in subjects]
    return max(levels, key=LEVEL_RANK.__getitem__, default=None)


def is_tech(user: Record, case: Record) -> bool:
    """Whether the user holds the tech role (tech or admin grant) for the case's customer."""
    return role_grant(user, case["customerID"]) in ("tech", "admin")


def access_level(state: ArgusState, user: Record, case: Record) -> str | None:
    """``read``, ``write`` or ``owner`` for this user on this case, or None (invisible)."""
    grant = role_grant(user, case["customerID"])
    hidden = "DELETED" in case["flags"] or case["publishedTimestamp"] is None
    if hidden and grant not in ("tech", "admin"):
        return None
    acl = acl_level(state, user, case["id"])
    if grant == "admin" or case["reporterID"] == user["id"] or acl == "owner":
        return "owner"
    mode = case["accessMode"]
    if mode == "explicit" and acl is not None:
        return "write"
    role_write = mode != "explicit" and (
        grant == "tech" or (grant == "write" and mode == "roleBased")
    )
    role_read = role_write or (
        grant in ("read", "write") and mode in ("roleBased", "writeRestricted")
    )
    if role_write or acl == "write":
        return "write"
    if role_read or acl == "read":
        return "read"
    return None


def current_user_access(state: ArgusState, user: Record, case: Record) -> Record:
    """The case's ``currentUserAccess`` field: ``{level, role}``."""
    grant = role_grant(user, case["customerID"])
    role = "admin" if grant == "admin" else "tech" if grant == "tech" else "user"
    return {"level": access_level(state, user, case), "role": role}


def subscription_access(user: Record, customer_id: int) -> Record | None:
    """Role-based ``{level, role}`` on a customer's subscriptions (None: no access at all)."""
    grant = role_grant(user, customer_id)
    if grant is None:
        return None
    if grant in ("admin", "tech"):
        return {"level": "write", "role": grant}
    return {"level": grant, "role": "user"}


def comment_visible(tech: bool, comment: Record) -> bool:
    """Internal and deleted comments are shown to tech users only."""
    return tech or not ({"INTERNAL", "DELETED"} & set(comment["flags"]))


def load_case(state: ArgusState, user: Record, case_id: int, need: str = "read") -> Record:
    """The case if the user holds level ``need`` on it.

    404 when it does not exist or the user cannot read it (deleted and unpublished cases
    included), 403 when the user reads it but their level is too low for ``need``.
    """
    case = state.cases.get(case_id)
    level = None if case is None else access_level(state, user, case)
    if case is None or level is None:
        raise action_error(404, f"Case {case_id} not found")
    if LEVEL_RANK[level] < LEVEL_RANK[need]:
        raise action_error(
            403, f"Access denied: this operation needs {need} access to case {case_id}"
        )
    return case


def require_tech(user: Record, case: Record, operation: str) -> None:
    """403 unless the user holds the tech role for the case."""
    if not is_tech(user, case):
        raise action_error(403, f"Access denied: {operation} requires the tech role")
