"""Ticket list queries: on-the-fly filters, sorting and search, as ``GET …/tickets`` takes them.

Filters come in the platform's two formats: simple ``filter[status_id]=1`` (several values
mean "any of") and advanced ``filter[status_id][][predicate]=in&filter[status_id][][value][]=1``
(each ``[predicate]`` starts a new condition; all conditions must hold). Field names may be
written with dashes or underscores. Status and priority values may be numbers or letter ids.
An unknown field, predicate or sort key is a 400 (the platform's behaviour there is undocumented;
a loud answer catches typos in connector specs).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from .access import ApiError
from .state import PRIORITY_IDS, STATUS_IDS, Ticket, encoded

FIELDS = (
    "sequential-id",
    "uuid",
    "subject",
    "status-id",
    "priority-id",
    "ticket-type-id",
    "component-id",
    "assigned-to-id",
    "author-id",
    "updated-by-id",
    "parent-id",
    "progress",
    "due-date",
    "created-at",
    "updated-at",
)
PREDICATES = (
    "eq",
    "neq",
    "in",
    "not_in",
    "like",
    "not_like",
    "between",
    "has",
    "has_not",
    "le",
    "ge",
)

_FILTER_KEY = re.compile(r"^filter\[([^\]]+)\](.*)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class Condition:
    """One filter condition on one ticket attribute."""

    field: str
    predicate: str
    values: tuple[str, ...]


def field_name(name: str, *, allowed: Sequence[str] = FIELDS, what: str = "filter") -> str:
    """The dash-case attribute a filter or sort key names, else 400."""
    key = name.strip().replace("_", "-").lower()
    if key not in allowed:
        raise ApiError(
            400,
            "Invalid Parameters",
            f"unknown {what} field {name!r}; supported: {', '.join(allowed)}",
        )
    return key


def parse_filters(params: QueryParams) -> list[Condition]:
    """Every ``filter[…]`` condition of a query string."""
    simple: dict[str, list[str]] = {}
    advanced: dict[str, list[dict[str, Any]]] = {}
    for key, value in params.multi_items():
        match = _FILTER_KEY.match(key)
        if match is None:
            continue
        field, rest = field_name(match.group(1)), match.group(2)
        if rest in ("", "[]"):
            simple.setdefault(field, []).append(value)
            continue
        conditions = advanced.setdefault(field, [])
        if rest == "[][predicate]":
            if not conditions or conditions[-1]["predicate"] is not None:
                conditions.append({"predicate": None, "values": []})
            conditions[-1]["predicate"] = value
        elif rest in ("[][value][]", "[][value]"):
            if not conditions:
                conditions.append({"predicate": None, "values": []})
            conditions[-1]["values"].append(value)
        else:
            raise ApiError(400, "Invalid Parameters", f"cannot read filter parameter {key!r}")
    result = [
        Condition(field, "eq" if len(values) == 1 else "in", tuple(values))
        for field, values in simple.items()
    ]
    for field, conditions in advanced.items():
        for condition in conditions:
            predicate = condition["predicate"] or "eq"
            if predicate not in PREDICATES:
                raise ApiError(
                    400,
                    "Invalid Parameters",
                    f"unknown predicate {predicate!r} for {field}; "
                    f"supported: {', '.join(PREDICATES)}",
                )
            result.append(Condition(field, predicate, tuple(condition["values"])))
    return result


def _normalise(field: str, value: str) -> str:
    table = {"status-id": STATUS_IDS, "priority-id": PRIORITY_IDS}.get(field)
    return (encoded(value, table) or value) if table else value


def _compare(actual: str, expected: str) -> int:
    try:
        left, right = float(actual), float(expected)
    except ValueError:
        left_text = actual[:10] if _DATE.match(expected) else actual
        return (left_text > expected) - (left_text < expected)
    return (left > right) - (left < right)


def matches(ticket: Ticket, condition: Condition) -> bool:
    """Whether ``ticket`` satisfies ``condition``."""
    raw = ticket.attributes.get(condition.field)
    actual = None if raw is None or raw == "" else str(raw)
    values = [_normalise(condition.field, v) for v in condition.values]
    predicate = condition.predicate
    if predicate == "has":
        return actual is not None
    if predicate == "has_not":
        return actual is None
    if not values:
        raise ApiError(
            400, "Invalid Parameters", f"filter {condition.field} {predicate} needs a value"
        )
    if predicate in ("eq", "in"):
        return actual in values
    if predicate in ("neq", "not_in"):
        return actual not in values
    if predicate in ("like", "not_like"):
        found = actual is not None and any(v.lower() in actual.lower() for v in values)
        return found if predicate == "like" else not found
    if actual is None:
        return False
    if predicate == "le":
        return _compare(actual, values[0]) <= 0
    if predicate == "ge":
        return _compare(actual, values[0]) >= 0
    if len(values) != 2:
        raise ApiError(
            400, "Invalid Parameters", f"filter {condition.field} between needs two values"
        )
    return _compare(actual, values[0]) >= 0 and _compare(actual, values[1]) <= 0


def search(tickets: Iterable[Ticket], keyword: str) -> list[Ticket]:
    """Tickets whose subject contains ``keyword`` (any case) or whose number is ``keyword``."""
    needle = keyword.strip().lower()
    return [
        t
        for t in tickets
        if needle in str(t.attributes["subject"]).lower()
        or needle == str(t.attributes["sequential-id"])
    ]


def sort_tickets(tickets: Sequence[Ticket], sort: str | None) -> list[Ticket]:
    """Tickets in ``sort`` order (``field`` ascending, ``-field`` descending, comma-separated keys).

    Without ``sort`` tickets come by ascending id; missing values sort last.
    """
    ordered = sorted(tickets, key=lambda t: t.number)
    for key in reversed([k for k in (sort or "").split(",") if k.strip()]):
        descending = key.strip().startswith("-")
        name = key.strip().lstrip("-+")
        if name.lower() == "id":
            ordered.sort(key=lambda t: t.number, reverse=descending)
            continue
        field = field_name(name, what="sort")
        present = [t for t in ordered if t.attributes.get(field) is not None]
        missing = [t for t in ordered if t.attributes.get(field) is None]
        present.sort(key=_sort_key(field), reverse=descending)
        ordered = present + missing
    return ordered


def _sort_key(field: str) -> Callable[[Ticket], tuple[int, float, str]]:
    """Numbers by value, status and priority by their number, other values as text."""
    table = {"status-id": STATUS_IDS, "priority-id": PRIORITY_IDS}.get(field)

    def key(ticket: Ticket) -> tuple[int, float, str]:
        value = ticket.attributes[field]
        if table is not None and value in table:
            return (0, float(table.index(value)), "")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (0, float(value), "")
        return (1, 0.0, str(value).lower())

    return key
