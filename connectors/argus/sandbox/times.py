"""Argus time values: epoch milliseconds out (with ISO-8601 twins), three input forms in.

Inputs accept epoch milliseconds, ISO-8601 in UTC only (``2016-11-30T15:47:00Z``; any other
zone is refused, as documented) and relative forms measured from the sandbox clock (``now``,
``-24hours``, ``-1 day``, ``-2 weeks``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from .envelope import field_error

_RELATIVE = re.compile(
    r"^\s*([+-]?)\s*(\d+)\s*(second|minute|hour|day|week|month|year)s?\s*$", re.IGNORECASE
)
_UNIT_MS = {
    "second": 1_000,
    "minute": 60_000,
    "hour": 3_600_000,
    "day": 86_400_000,
    "week": 7 * 86_400_000,
    "month": 30 * 86_400_000,
    "year": 365 * 86_400_000,
}


def iso(ms: int | None) -> str | None:
    """The ISO-8601 UTC twin of an epoch-millisecond timestamp (``None`` stays ``None``)."""
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_time(value: object, field: str, now_ms: int) -> int:
    """A time input as epoch milliseconds; 412 naming ``field`` when it cannot be read."""
    if isinstance(value, bool):
        raise field_error(412, field, f"{field} is not a valid time")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        if text.lower() == "now":
            return now_ms
        relative = _RELATIVE.match(text)
        if relative:
            sign, amount, unit = relative.groups()
            delta = int(amount) * _UNIT_MS[unit.lower()]
            return now_ms + delta if sign == "+" else now_ms - delta
        if text.endswith("Z"):
            try:
                moment = datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
            except ValueError:
                pass
            else:
                return int(moment.timestamp() * 1000)
    raise field_error(
        412,
        field,
        f"{field} is not a valid time: use epoch milliseconds, ISO-8601 in UTC "
        "(2016-11-30T15:47:00Z) or a relative time such as -24hours",
    )
