"""What a paginator works with: the ``Page`` it yields and the ``PageSource`` it reads through.

A paginator never sends anything itself. It asks a ``PageSource`` (``hookline.actions.call`` gives
one per call, ``hookline.run.triggers`` one per poll) for the request with the paginator's
parameters set in its query or body (``with_params``) and its values in the context as
``page``, and hands that request back to the source, which sends it through the connection's
auth, rate limit and retries.

Where a paginator's parameters go in the request is ``hookline.spec.params``.

A dry run shows the first request of a read without sending it (``first_request``): the
paginator is run until it hands its first page request to the source, and stopped there, so
the request carries the paginator's parameters as the real read's would.

Every read is bounded whatever its paginator does (``PageGuard``, which the sources apply
around each fetch): a page whose body repeats one already read in this read is an
``InvalidResponseError`` (a platform that ignores the paging parameters, or hands back cursors
in a circle), and a read stops after ``max_pages`` pages with a ``PageLimitWarning``, where a
platform keeps offering new pages for ever. The bound is the spec's ``paginate.max_pages``, or
a recipe step's ``max_pages``, else ``DEFAULT_MAX_PAGES``.

``block_schema`` gives every paginate block's schema its common shape (a ``type`` constant,
``max_records`` and ``max_pages``), for the built-in paginators and a plugin's alike.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncGenerator, Iterable, Mapping
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from hookline.errors import InvalidResponseError

if TYPE_CHECKING:
    from hookline.plugins.protocols import Paginator

DEFAULT_MAX_PAGES = 10_000
"""The most pages one read fetches unless the spec or the recipe step says otherwise."""

_EDGE = 8192  # a body is known by its length and its first and last bytes
_MAX_RECORDS = {
    "type": "integer",
    "minimum": 1,
    "description": "Read at most this many records (a call may ask for fewer or more)",
}
_MAX_PAGES = {
    "type": "integer",
    "minimum": 1,
    "description": f"Read at most this many pages (default {DEFAULT_MAX_PAGES:,}); a read that "
    "reaches it stops there with a warning, and a recipe step may set its own",
}


class PageLimitWarning(UserWarning):
    """A read stopped at its ``max_pages`` while the platform was still offering pages."""


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


# ---------------------------------------------------------------- every read's bounds


class PageLimitReached(Exception):
    """A source was asked for one page more than its read allows."""


@dataclass(slots=True)
class PageGuard:
    """One read's bounds: at most ``max_pages`` pages, and no page body seen twice.

    A source calls ``admit`` before it sends for a page and ``check`` with the body it got.
    """

    label: str
    max_pages: int = DEFAULT_MAX_PAGES
    fetched: int = 0
    bodies: set[tuple[int, int]] = field(default_factory=set)

    def admit(self) -> None:
        """Count one more page; past ``max_pages`` it is ``PageLimitReached`` instead."""
        if self.fetched >= self.max_pages:
            raise PageLimitReached
        self.fetched += 1

    def check(self, content: bytes) -> None:
        """Refuse a body this read has already had: reading on would go round in a circle."""
        if not content:
            return
        key = (len(content), hash((content[:_EDGE], content[-_EDGE:])))
        if key in self.bodies:
            raise InvalidResponseError(
                f"{self.label}: the platform answered a page request with a page already read "
                "in this read (it may ignore the paging parameters); reading stopped rather "
                "than loop"
            )
        self.bodies.add(key)


async def bounded(
    pages: AsyncGenerator[Page, None], guard: PageGuard
) -> AsyncGenerator[Page, None]:
    """``pages`` until the read's last page, or until ``guard``'s ``max_pages`` (a warning)."""
    async with aclosing(pages):
        try:
            async for page in pages:
                yield page
        except PageLimitReached:
            warnings.warn(
                f"{guard.label}: reading stopped after {guard.max_pages:,} pages, its "
                "max_pages, while the platform offered more; set paginate.max_pages in the "
                "spec, or max_pages on the recipe step, to read further",
                PageLimitWarning,
                stacklevel=2,
            )


# ---------------------------------------------------------------- a read's first request


class _Planned(Exception):
    """Stops a paginator at its first request, which ``first_request`` keeps instead."""


class _FirstRequest:
    """A ``PageSource`` that renders requests as ``source`` does and sends none."""

    def __init__(self, source: PageSource) -> None:
        self.source = source
        self.label = source.label
        self.planned: httpx.Request | None = None

    def request(
        self, page: Mapping[str, Any], where: str = "query", values: Mapping[str, Any] | None = None
    ) -> httpx.Request:
        """``source``'s request with ``values`` set, rendered with ``page``."""
        return self.source.request(page, where, values)

    async def fetch(self, request: httpx.Request) -> Page:
        """Keep ``request`` and stop the paginator: nothing is sent."""
        self.planned = request
        raise _Planned


async def first_request(
    paginator: Paginator | None, source: PageSource, *, max_records: int | None = None
) -> httpx.Request:
    """The first request a read through ``source`` would send, without sending it.

    With a paginator it carries the paginator's parameters for the first page (``page_size``,
    an offset, a page number), as the read's first request does.
    """
    if paginator is None:
        return source.request({})
    recorder = _FirstRequest(source)
    with suppress(_Planned):
        await anext(aiter(paginator.pages(recorder, max_records=max_records)))
    assert recorder.planned is not None, "a paginator fetches before it yields a page"
    return recorder.planned


# ---------------------------------------------------------------- a paginate block's schema


def block_schema(
    kind: str, description: str, properties: Mapping[str, Any], required: Iterable[str] = ()
) -> dict[str, Any]:
    """The JSON Schema of a ``paginate: {type: KIND}`` block with ``properties``.

    Every paginator has ``max_records``, the spec's bound on the records read, and
    ``max_pages``, the bound on the pages (which the engine applies, not the paginator).
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
            "max_pages": _MAX_PAGES,
        },
    }
