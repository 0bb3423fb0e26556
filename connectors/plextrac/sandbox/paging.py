"""PlexTrac's v2 paged lists: a POST body of pagination, sort and filters, and the answer envelope.

Request: ``{"pagination": {"offset", "limit"}, "sort": [{"by", "order"}], "filters": [{"by",
"value"}]}``; ``pagination`` is required, ``limit`` must be one of the endpoint's fixed allowed
values, ``offset`` counts records (offset 2, limit 10 gives records 2 to 11). Answer:
``{"status": "success", "data": [...], "meta": {"pagination": {"offset", "limit", "total"},
"sort", "filters"}}`` where ``total`` counts every record that passed the filters.

Each endpoint declares a ``Listing``: its allowed limits and the ``by`` names it can sort and
filter on. Sorting is stable and puts missing values last whatever the order; filters combine
with AND.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .replies import bad_request

Record = dict[str, Any]
SortKey = Callable[[Record], Any]
Matcher = Callable[[Record, Any], bool]


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def contains(field: str) -> Matcher:
    """Case-insensitive substring match on a text field; a list value matches any of its items."""

    def match(record: Record, value: Any) -> bool:
        text = str(record.get(field) or "").lower()
        return any(str(item).lower() in text for item in _values(value))

    return match


def equals(field: str) -> Matcher:
    """Equality with the value, or membership when the value is a list."""
    return lambda record, value: record.get(field) in _values(value)


def overlaps(field: str) -> Matcher:
    """A list field sharing at least one item with the value (tags, reviewers, operators)."""

    def match(record: Record, value: Any) -> bool:
        wanted = _values(value)
        if not all(isinstance(item, str | int) for item in wanted):
            raise bad_request(f'filter on "{field}" needs a string or an array of strings')
        return bool(set(record.get(field) or ()) & set(wanted))

    return match


def between(field: str) -> Matcher:
    """An epoch-millisecond field within ``{"start": ms, "end": ms}`` (either bound optional)."""

    def match(record: Record, value: Any) -> bool:
        if not isinstance(value, dict):
            raise bad_request(f'filter on "{field}" needs a value of the form {{"start", "end"}}')
        start, end = value.get("start"), value.get("end")
        if not all(bound is None or isinstance(bound, int | float) for bound in (start, end)):
            raise bad_request(f'filter on "{field}" needs epoch-millisecond "start" and "end"')
        moment = record.get(field)
        if moment is None:
            return False
        return (start is None or moment >= start) and (end is None or moment <= end)

    return match


def field(name: str) -> SortKey:
    """Sort by one top-level field."""
    return lambda record: record.get(name)


@dataclass(frozen=True, slots=True)
class Listing:
    """One v2 list endpoint's rules: allowed page sizes, sortable and filterable names."""

    limits: tuple[int, ...]
    sorts: Mapping[str, SortKey]
    filters: Mapping[str, Matcher]

    def answer(
        self, body: Record, records: Iterable[Record], **meta: Any
    ) -> tuple[list[Record], dict[str, Any]]:
        """The page of ``records`` that ``body`` asks for, and the ``meta`` block to send."""
        offset, limit = self._pagination(body)
        sort = self._clauses(body, "sort", self.sorts)
        filters = self._clauses(body, "filters", self.filters)
        selected = [
            r for r in records if all(self.filters[f["by"]](r, f["value"]) for f in filters)
        ]
        for clause in reversed(sort):
            key = self.sorts[clause["by"]]
            descending = clause["order"] == "DESC"
            present = [r for r in selected if key(r) is not None]
            present.sort(key=key, reverse=descending)
            selected = present + [r for r in selected if key(r) is None]
        pagination = {"offset": offset, "limit": limit, "total": len(selected)}
        page = selected[offset : offset + limit]
        return page, {"pagination": pagination, "sort": sort, "filters": filters, **meta}

    def _pagination(self, body: Record) -> tuple[int, int]:
        pagination = body.get("pagination")
        if not isinstance(pagination, dict):
            raise bad_request('"pagination" is required')
        offset = pagination.get("offset", 0)
        limit = pagination.get("limit")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise bad_request('"pagination.offset" must be an integer greater than or equal to 0')
        if limit not in self.limits or isinstance(limit, bool):
            allowed = ", ".join(str(n) for n in self.limits)
            raise bad_request(f'"pagination.limit" must be one of [{allowed}]')
        return offset, int(limit)

    @staticmethod
    def _clauses(body: Record, key: str, known: Mapping[str, Any]) -> list[Record]:
        clauses = body.get(key, [])
        if not isinstance(clauses, list):
            raise bad_request(f'"{key}" must be an array')
        checked = []
        for index, clause in enumerate(clauses):
            where = f"{key}[{index}]"
            if not isinstance(clause, dict) or clause.get("by") not in known:
                names = ", ".join(known)
                raise bad_request(f'"{where}.by" must be one of [{names}]')
            if key == "sort":
                if clause.get("order") not in ("ASC", "DESC"):
                    raise bad_request(f'"{where}.order" must be one of [ASC, DESC]')
                checked.append({"by": clause["by"], "order": clause["order"]})
            else:
                if "value" not in clause:
                    raise bad_request(f'"{where}.value" is required')
                checked.append({"by": clause["by"], "value": clause["value"]})
        return checked


def paged(data: list[Record], meta: dict[str, Any]) -> dict[str, Any]:
    """The v2 list envelope."""
    return {"status": "success", "data": data, "meta": meta}
