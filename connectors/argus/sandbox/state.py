"""The in-memory state of the Argus sandbox, and the lookups every endpoint shares.

State is plain dicts keyed by id, holding records with references by id (``customerID``,
``serviceID``, ``reporterID``...); ``render`` turns them into the API's nested JSON. Tests read
and change these dicts directly to set up situations and to check effects.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

Record = dict[str, Any]

# The seed's own searches name waitingSoc and waitingCustomer, which mnemonic's published
# request models leave out; both are accepted wherever a status is.
STATUSES = (
    "pendingCustomer",
    "pendingSoc",
    "pendingVendor",
    "workingSoc",
    "workingCustomer",
    "waitingSoc",
    "waitingCustomer",
    "pendingClose",
    "closed",
)
CASE_TYPES = ("securityIncident", "operationalIncident", "informational", "change")
PRIORITIES = ("low", "medium", "high", "critical")
ACCESS_MODES = ("roleBased", "writeRestricted", "readRestricted", "explicit")
ACL_LEVELS = ("read", "write", "owner")
SYSTEM_LIMIT = 100_000


class ArgusState:
    """Every object of one sandbox instance.

    Directory: ``customers``, ``users``, ``groups`` (users and groups share one subject id
    space), ``api_keys`` (key -> ``{userID, validUntil, networks}``), ``services``,
    ``subscriptions``, ``categories``. Cases: ``cases`` (id -> case record) and, per case id,
    lists in ``comments``, ``tags``, ``attachments``, ``acl``, ``events`` and ``history``.
    ``rng`` continues the seed's random stream, so ids minted at run time are reproducible.
    """

    def __init__(self, *, clock: Callable[[], float], rng: random.Random, count_timeout: bool):
        self.clock = clock
        self.rng = rng
        self.count_timeout = count_timeout
        self.customers: dict[int, Record] = {}
        self.users: dict[int, Record] = {}
        self.groups: dict[int, Record] = {}
        self.api_keys: dict[str, Record] = {}
        self.services: dict[int, Record] = {}
        self.subscriptions: dict[str, Record] = {}
        self.categories: dict[int, Record] = {}
        self.cases: dict[int, Record] = {}
        self.comments: dict[int, list[Record]] = {}
        self.tags: dict[int, list[Record]] = {}
        self.attachments: dict[int, list[Record]] = {}
        self.acl: dict[int, list[Record]] = {}
        self.events: dict[int, list[Record]] = {}
        self.history: dict[int, list[Record]] = {}

    def now_ms(self) -> int:
        """The sandbox clock in epoch milliseconds."""
        return int(self.clock() * 1000)

    def new_uuid(self) -> str:
        """A fresh UUID drawn from the seeded stream."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def next_case_id(self) -> int:
        """The id the next created case gets: one above the highest existing id."""
        return max(self.cases, default=100_000) + 1

    def add_case(self, case: Record) -> None:
        """Store a case record with empty lists for everything attached to it."""
        case_id = case["id"]
        self.cases[case_id] = case
        for table in (self.comments, self.tags, self.attachments, self.acl, self.events):
            table.setdefault(case_id, [])
        self.history.setdefault(case_id, [])

    def customer(self, ref: object) -> Record | None:
        """A customer by numeric id (int or digit string) or shortName."""
        return _by_ref(self.customers, ref)

    def service(self, ref: object) -> Record | None:
        """A service by numeric id (int or digit string) or shortName."""
        return _by_ref(self.services, ref)

    def category(self, ref: object) -> Record | None:
        """A category by numeric id (int or digit string) or shortName."""
        return _by_ref(self.categories, ref)

    def subject(self, ref: object) -> Record | None:
        """A user or group by numeric id, user name or group shortName."""
        found = _by_ref(self.users, ref, name_key="userName")
        return found if found is not None else _by_ref(self.groups, ref)

    def user(self, ref: object) -> Record | None:
        """A user (not a group) by numeric id or user name."""
        return _by_ref(self.users, ref, name_key="userName")

    def subscription(self, customer_id: int, service_id: int) -> Record | None:
        """The customer's subscription to the service, if it has one."""
        for sub in self.subscriptions.values():
            if sub["customerID"] == customer_id and sub["serviceID"] == service_id:
                return sub
        return None

    def category_valid(self, category_id: int, service_id: int, case_type: str) -> bool:
        """Whether one of the category's bindings covers this service and case type."""
        category = self.categories[category_id]
        return any(
            b["serviceID"] == service_id and case_type in b["caseTypes"]
            for b in category["bindings"]
        )

    def groups_of(self, user_id: int) -> list[int]:
        """Ids of the groups the user is a member of."""
        return [g["id"] for g in self.groups.values() if user_id in g["members"]]


def ref_id(found: Record | None, ref: object) -> int | None:
    """The id a reference names: the found object's id, else a numeric reference as given
    (an unknown id is valid and simply matches nothing), else None (an unknown name).
    """
    if found is not None:
        return int(found["id"])
    if isinstance(ref, int) and not isinstance(ref, bool):
        return ref
    if isinstance(ref, str) and ref.isdigit():
        return int(ref)
    return None


def _by_ref(table: dict[int, Record], ref: object, *, name_key: str = "shortName") -> Record | None:
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return table.get(ref)
    if isinstance(ref, str):
        if ref.isdigit():
            return table.get(int(ref))
        for record in table.values():
            if record[name_key] == ref:
                return record
    return None
