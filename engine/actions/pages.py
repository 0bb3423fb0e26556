"""What a paginator works with: the ``Page`` it yields and the ``PageSource`` it reads through.

A paginator never sends anything itself. It asks a ``PageSource`` (``hookline.actions.call`` gives
one per call, ``hookline.run.triggers`` one per poll) for the request with the paginator's
parameters set in its query or body (``with_params``) and its values in the context as
``page``, and hands that request back to the source, which sends it through the connection's
auth, rate limit and retries.

Where a paginator's parameters go in the request is ``hookline.spec.params``.

``block_schema`` gives every paginate block's schema its common shape (a ``type`` constant
and ``max_records``), for the built-in paginators and a plugin's alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

_MAX_RECORDS = {
    "type": "integer",
    "minimum": 1,
    "description": "Read at most this many records (a call may ask for fewer or more)",
}


@dataclass(frozen=True, slots=True)
class Page:
    """One fetched page: the request that got it, the response body and headers, its records."""

    request: httpx.Request
    data: Any
    headers: Mapping[str, str]
    records: list[Any]


class PageSource(Protocol):
    """What a paginator reads pages through (``hookline.actions.call`` provides one per call)."""

    label: str
    """Names the action in messages, e.g. ``argus.search_cases``."""

    def request(
        self, page: Mapping[str, Any], where: str = "query", values: Mapping[str, Any] | None = None
    ) -> httpx.Request:
        """The action's request with ``values`` set (``with_params``), rendered with ``page``.

        ``page`` is in the template context under the name ``page``.
        """
        ...

    async def fetch(self, request: httpx.Request) -> Page:
        """Send one page request through the connection; its body, headers and records."""
        ...


# ---------------------------------------------------------------- a paginate block's schema


def block_schema(
    kind: str, description: str, properties: Mapping[str, Any], required: Iterable[str] = ()
) -> dict[str, Any]:
    """The JSON Schema of a ``paginate: {type: KIND}`` block with ``properties``.

    Every paginator has ``max_records``, the spec's bound on the records read.
    """
    return {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "required": ["type", *required],
        "properties": {
            "type": {"const": kind, "description": description},
            **properties,
            "max_records": _MAX_RECORDS,
        },
    }
