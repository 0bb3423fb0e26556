"""Paginators: how a list action reads its records page after page.

Each paginator is a builder registered through ``register_paginators`` (the built-ins below use
the same hook a third party would): a frozen object built once from the spec's ``paginate``
block, whose ``pages`` method is an async iterator of ``Page`` objects. Pages are fetched only
as the caller asks for them, so memory stays flat however many records a list holds.

A paginator never sends anything itself. It asks a ``PageSource`` (provided by
``hookline.actions``) for the action's request with the paginator's parameters set in its query
or body (``with_params``) and its values in the context as ``page``, and hands that request back
to the source, which sends it through the connection's auth, rate limit and retries. Where the
total is known after the first page, ``offset`` and ``page`` can keep ``concurrency`` requests
in flight; pages still come out in order.

Links a platform gives for the next page (``next_url``, ``link_header``) must stay on the
origin of the first request: a link to another scheme, host or port is refused with
``UnsafeRequestError``, so a hostile or confused server cannot make hookline send the
connection's credentials elsewhere.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol, Self

import httpx

from .compiler import Compiler
from .errors import ConfigurationError, InvalidResponseError, UnsafeRequestError
from .expressions import CompiledValue, Expression
from .hookspecs import hookimpl
from .spec import Request

# ---------------------------------------------------------------- what a paginator works with


@dataclass(frozen=True, slots=True)
class Page:
    """One fetched page: the request that got it, the response body and headers, its records."""

    request: httpx.Request
    data: Any
    headers: Mapping[str, str]
    records: list[Any]


class PageSource(Protocol):
    """What a paginator reads pages through (``hookline.actions`` provides one per call)."""

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


# ---------------------------------------------------------------- schema pieces

_MAX_RECORDS = {
    "type": "integer",
    "minimum": 1,
    "description": "Read at most this many records (a call may ask for fewer or more)",
}
_CONCURRENCY = {
    "type": "integer",
    "minimum": 1,
    "maximum": 16,
    "description": "Pages fetched at once once the total is known (1: one after another); "
    "records still come in order and every request counts against the rate limit",
}
_IN = {
    "enum": ["query", "body"],
    "description": "Where the parameters go: the query string, or the JSON (or form) body, "
    "where a dotted name such as pagination.offset is a nested member (default query)",
}
_PAGE_SIZE = {"type": "integer", "minimum": 1, "description": "Records asked for per page"}


def _param(default: str, what: str) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "description": f"The parameter for {what} (default {default})",
    }


def _schema(
    kind: str, description: str, properties: dict[str, Any], required: Iterable[str] = ()
) -> dict[str, Any]:
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


# ---------------------------------------------------------------- helpers


def with_params(request: Request, where: str, values: Mapping[str, Any]) -> Request:
    """``request`` with ``values`` set in its query, or in its JSON object or form body.

    A dotted name in a body (``pagination.offset``) sets a nested member, creating the objects
    on the way. A value set here replaces any the template gave the same parameter. Merging
    into the template (rather than into a rendered request) keeps a page to one rendering.
    """
    if where == "query":
        return replace(request, query=_merged(request.query, values, dotted=False))
    if request.form is not None:
        return replace(request, form=_merged(request.form, values, dotted=False))
    if request.json is not None and not isinstance(request.json.value, dict):
        raise ConfigurationError(
            "paginate 'in: body' needs a request whose json is written out as an object"
        )
    return replace(request, json=_merged(request.json, values, dotted=True))


def _merged(
    value: CompiledValue | None, values: Mapping[str, Any], *, dotted: bool
) -> CompiledValue:
    tree: dict[str, Any] = dict(value.value) if value is not None else {}
    for name, item in values.items():
        *parents, last = name.split(".") if dotted else [name]
        node = tree
        for key in parents:
            child = node.get(key)
            node[key] = node = dict(child) if isinstance(child, dict) else {}
        node[last] = item
    return CompiledValue(tree)


def _count(value: Any, expression: Expression, source: PageSource) -> int | None:
    """A total read from a page: a number or digit text; null, empty or negative is unknown."""
    if value is None or value == "":
        return None
    number = None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        with suppress(ValueError, OverflowError):
            number = int(value)
    if number is None:
        raise InvalidResponseError(
            f"{source.label}: paginate expression {expression.source!r} gave {value!r}; "
            "expected a number"
        )
    return number if number >= 0 else None


def _limited(max_records: int | None, default: int | None) -> int | None:
    return max_records if max_records is not None else default


async def _ordered(
    source: PageSource, requests: Iterator[httpx.Request], concurrency: int
) -> AsyncGenerator[Page, None]:
    """Fetch ``requests`` with up to ``concurrency`` in flight; yield pages in request order.

    Stops at the first empty page. Leaving early (an error, or the caller closing the
    iterator) cancels whatever is still in flight.
    """
    pending: deque[asyncio.Task[Page]] = deque()
    try:
        for request in requests:
            pending.append(asyncio.ensure_future(source.fetch(request)))
            if len(pending) < concurrency:
                continue
            page = await pending.popleft()
            yield page
            if not page.records:
                return
        while pending:
            page = await pending.popleft()
            yield page
            if not page.records:
                return
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


# ---------------------------------------------------------------- offset and page


@dataclass(frozen=True, slots=True)
class OffsetPaginator:
    """Offset and limit parameters: Argus searches, PlexTrac v2 lists (in the body).

    The offset advances by the records each page held, so a server that caps the page size
    is read correctly. Reading stops at the total when ``total`` gives one (Argus's count of
    -1, "unknown", falls back to the next rule), otherwise at a page shorter than asked for.
    """

    where: str = "query"
    offset_param: str = "offset"
    limit_param: str = "limit"
    page_size: int = 100
    total: Expression | None = None
    concurrency: int = 1
    max_records: int | None = None

    schema: ClassVar[dict[str, Any]] = _schema(
        "offset",
        "Offset and limit parameters; stops at the total or at a short page",
        {
            "in": _IN,
            "offset_param": _param("offset", "the index of a page's first record"),
            "limit_param": _param("limit", "the page size"),
            "page_size": {**_PAGE_SIZE, "description": "Records asked for per page (default 100)"},
            "total": {
                "type": "string",
                "minLength": 1,
                "description": "A JMESPath expression giving the total record count from a page "
                "(a negative or null value means unknown)",
            },
            "concurrency": _CONCURRENCY,
        },
    )

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Build from a ``paginate: {type: offset}`` block."""
        return cls(
            where=c.get("in", default="query"),
            offset_param=c.get("offset_param", default="offset"),
            limit_param=c.get("limit_param", default="limit"),
            page_size=c.get("page_size", default=100),
            total=c.expression("total"),
            concurrency=c.get("concurrency", default=1),
            max_records=c.get("max_records"),
        )

    def _request(self, source: PageSource, offset: int) -> httpx.Request:
        values = {self.offset_param: offset, self.limit_param: self.page_size}
        return source.request({"offset": offset, "limit": self.page_size}, self.where, values)

    async def pages(
        self, source: PageSource, *, max_records: int | None = None
    ) -> AsyncGenerator[Page, None]:
        """The pages in order, up to ``max_records`` records (default: the spec's)."""
        limit = _limited(max_records, self.max_records)
        page = await source.fetch(self._request(source, 0))
        yield page
        offset = step = len(page.records)
        total = _count(self.total.search(page.data), self.total, source) if self.total else None
        if total is not None and limit is not None:
            total = min(total, limit)
        if self.concurrency > 1 and total is not None:
            if step:
                planned = (self._request(source, o) for o in range(step, total, step))
                async for page in _ordered(source, planned, self.concurrency):
                    yield page
            return
        while step and (offset < total if total is not None else step >= self.page_size):
            if limit is not None and offset >= limit:
                return
            page = await source.fetch(self._request(source, offset))
            yield page
            step = len(page.records)
            offset += step


@dataclass(frozen=True, slots=True)
class PagePaginator:
    """A page number and a page size: PlanRadar (``page``/``pagesize``), PCR-360 (in the body).

    Reading stops when the page number reaches ``total_pages``, when the records read reach
    ``total``, or at a page shorter than asked for.
    """

    where: str = "query"
    page_param: str = "page"
    size_param: str = "page_size"
    page_size: int = 100
    start: int = 1
    total: Expression | None = None
    total_pages: Expression | None = None
    concurrency: int = 1
    max_records: int | None = None

    schema: ClassVar[dict[str, Any]] = _schema(
        "page",
        "A page number and a page size; stops at the total or at a short page",
        {
            "in": _IN,
            "page_param": _param("page", "the page number"),
            "size_param": _param("page_size", "the page size"),
            "page_size": {**_PAGE_SIZE, "description": "Records asked for per page (default 100)"},
            "start": {
                "type": "integer",
                "minimum": 0,
                "description": "The first page's number (default 1)",
            },
            "total": {
                "type": "string",
                "minLength": 1,
                "description": "A JMESPath expression giving the total record count from a page",
            },
            "total_pages": {
                "type": "string",
                "minLength": 1,
                "description": "A JMESPath expression giving the number of pages from a page",
            },
            "concurrency": _CONCURRENCY,
        },
    )

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Build from a ``paginate: {type: page}`` block."""
        return cls(
            where=c.get("in", default="query"),
            page_param=c.get("page_param", default="page"),
            size_param=c.get("size_param", default="page_size"),
            page_size=c.get("page_size", default=100),
            start=c.get("start", default=1),
            total=c.expression("total"),
            total_pages=c.expression("total_pages"),
            concurrency=c.get("concurrency", default=1),
            max_records=c.get("max_records"),
        )

    def _request(self, source: PageSource, number: int) -> httpx.Request:
        values = {self.page_param: number, self.size_param: self.page_size}
        return source.request({"number": number, "size": self.page_size}, self.where, values)

    def _last(self, page: Page, source: PageSource, limit: int | None) -> int | None:
        """The number of the last page to read, when the first page tells it."""
        pages: list[int] = []
        if self.total_pages is not None:
            count = _count(self.total_pages.search(page.data), self.total_pages, source)
            if count is not None:
                pages.append(count)
        if self.total is not None:
            count = _count(self.total.search(page.data), self.total, source)
            if count is not None:
                pages.append(-(-count // self.page_size))
        if limit is not None and pages:
            pages.append(-(-limit // self.page_size))
        return self.start + min(pages) - 1 if pages else None

    async def pages(
        self, source: PageSource, *, max_records: int | None = None
    ) -> AsyncGenerator[Page, None]:
        """The pages in order, up to ``max_records`` records (default: the spec's)."""
        limit = _limited(max_records, self.max_records)
        number = self.start
        page = await source.fetch(self._request(source, number))
        yield page
        last = self._last(page, source, limit)
        if self.concurrency > 1 and last is not None:
            if page.records:
                planned = (self._request(source, n) for n in range(number + 1, last + 1))
                async for page in _ordered(source, planned, self.concurrency):
                    yield page
            return
        read = len(page.records)
        while len(page.records) >= self.page_size and (last is None or number < last):
            if limit is not None and read >= limit:
                return
            number += 1
            page = await source.fetch(self._request(source, number))
            yield page
            read += len(page.records)


# ---------------------------------------------------------------- cursor, next URL, Link


@dataclass(frozen=True, slots=True)
class CursorPaginator:
    """A next-page token in the body, sent back as a parameter of the next request.

    Reading stops when a page gives no token (absent, null or empty) or holds no records;
    a token given twice in a row is an invalid response rather than an endless loop.
    """

    cursor: Expression
    where: str = "query"
    cursor_param: str = "cursor"
    limit_param: str | None = None
    page_size: int | None = None
    max_records: int | None = None

    schema: ClassVar[dict[str, Any]] = _schema(
        "cursor",
        "A next-page token from each page, sent back with the next request",
        {
            "cursor": {
                "type": "string",
                "minLength": 1,
                "description": "A JMESPath expression giving the next page's token from a page",
            },
            "in": _IN,
            "cursor_param": _param("cursor", "the token"),
            "limit_param": {
                "type": "string",
                "minLength": 1,
                "description": "The parameter for the page size, if any",
            },
            "page_size": {
                **_PAGE_SIZE,
                "description": "Records asked for per page, sent as limit_param",
            },
        },
        required=["cursor"],
    )

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Build from a ``paginate: {type: cursor}`` block."""
        cursor = c.expression("cursor")
        assert cursor is not None  # the schema requires it
        return cls(
            cursor=cursor,
            where=c.get("in", default="query"),
            cursor_param=c.get("cursor_param", default="cursor"),
            limit_param=c.get("limit_param"),
            page_size=c.get("page_size"),
            max_records=c.get("max_records"),
        )

    def _request(self, source: PageSource, token: Any) -> httpx.Request:
        values: dict[str, Any] = {}
        if token is not None:
            values[self.cursor_param] = token
        if self.limit_param and self.page_size:
            values[self.limit_param] = self.page_size
        return source.request({"cursor": token, "size": self.page_size}, self.where, values)

    async def pages(
        self, source: PageSource, *, max_records: int | None = None
    ) -> AsyncGenerator[Page, None]:
        """The pages in order, up to ``max_records`` records (default: the spec's)."""
        limit = _limited(max_records, self.max_records)
        token: Any = None
        read = 0
        while True:
            page = await source.fetch(self._request(source, token))
            yield page
            read += len(page.records)
            following = self.cursor.search(page.data)
            if following in (None, "", [], {}) or not page.records:
                return
            if limit is not None and read >= limit:
                return
            if following == token:
                raise InvalidResponseError(
                    f"{source.label}: the platform gave the same next-page token twice in a row; "
                    "reading stopped rather than loop"
                )
            token = following


def _follow(
    first: httpx.Request, page: Page, link: str, source: PageSource, seen: set[str]
) -> httpx.Request:
    """The request for the page at ``link``: ``first`` with its URL replaced, if on its origin."""
    try:
        url = page.request.url.join(link)
    except httpx.InvalidURL:
        raise InvalidResponseError(
            f"{source.label}: the next-page link is not a valid URL"
        ) from None
    if _origin(url) != _origin(first.url) or url.userinfo:
        raise UnsafeRequestError(
            f"{source.label}: the next-page link points to {_shown_origin(url)}, outside the "
            f"connection's origin {_shown_origin(first.url)}; it was not followed",
            url=_shown_origin(url),
        )
    if str(url) in seen:
        raise InvalidResponseError(
            f"{source.label}: the next-page link repeats an earlier page; reading stopped "
            "rather than loop"
        )
    seen.add(str(url))
    return httpx.Request(
        first.method,
        url,
        headers=first.headers.copy(),
        content=first.content,
        extensions=first.extensions,
    )


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host.lower(), url.port or default)


def _shown_origin(url: httpx.URL) -> str:
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"


async def _follow_pages(
    source: PageSource, limit: int | None, next_link: Callable[[Page], Any]
) -> AsyncGenerator[Page, None]:
    """Pages from the action's request, then from each link ``next_link`` finds in a page."""
    first = source.request({})
    pristine = httpx.Request(
        first.method,
        first.url,
        headers=first.headers.copy(),
        content=first.content,
        extensions=first.extensions,
    )
    seen = {str(first.url)}
    page = await source.fetch(first)
    read = 0
    while True:
        yield page
        read += len(page.records)
        link = next_link(page)
        if not link or not page.records or (limit is not None and read >= limit):
            return
        page = await source.fetch(_follow(pristine, page, str(link), source, seen))


@dataclass(frozen=True, slots=True)
class NextUrlPaginator:
    """The next page's URL in the body, absolute or relative to the page's own URL.

    The link must stay on the origin of the first request (``UnsafeRequestError`` otherwise);
    reading stops when a page gives no link or holds no records.
    """

    next: Expression
    max_records: int | None = None

    schema: ClassVar[dict[str, Any]] = _schema(
        "next_url",
        "The next page's URL from each page's body; it must stay on the connection's origin",
        {
            "next": {
                "type": "string",
                "minLength": 1,
                "description": "A JMESPath expression giving the next page's URL from a page",
            },
        },
        required=["next"],
    )

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Build from a ``paginate: {type: next_url}`` block."""
        expression = c.expression("next")
        assert expression is not None  # the schema requires it
        return cls(next=expression, max_records=c.get("max_records"))

    def pages(
        self, source: PageSource, *, max_records: int | None = None
    ) -> AsyncGenerator[Page, None]:
        """The pages in order, up to ``max_records`` records (default: the spec's)."""
        limit = _limited(max_records, self.max_records)
        return _follow_pages(source, limit, lambda page: self.next.search(page.data))


_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,=]+\s*(?:=\s*(?:\"[^\"]*\"|[^;,]*))?)*)")
_LINK_PARAM = re.compile(r";\s*([^;,=\s]+)\s*(?:=\s*(?:\"([^\"]*)\"|([^;,\s]*)))?")


def link_targets(header: str, rel: str) -> list[str]:
    """The targets of an RFC 8288 ``Link`` header whose ``rel`` includes ``rel``."""
    found = []
    for match in _LINK.finditer(header):
        for param in _LINK_PARAM.finditer(match.group(2)):
            name, quoted, bare = param.groups()
            values = (quoted if quoted is not None else bare or "").lower().split()
            if name.lower() == "rel" and rel.lower() in values:
                found.append(match.group(1).strip())
                break
    return found


@dataclass(frozen=True, slots=True)
class LinkHeaderPaginator:
    """RFC 8288 ``Link: <...>; rel="next"`` response headers (GitHub style).

    The link must stay on the origin of the first request (``UnsafeRequestError`` otherwise);
    reading stops when a page has no such link or holds no records.
    """

    rel: str = "next"
    max_records: int | None = None

    schema: ClassVar[dict[str, Any]] = _schema(
        "link_header",
        "The next page's URL from the Link response header; it must stay on the connection's "
        "origin",
        {
            "rel": {
                "type": "string",
                "minLength": 1,
                "description": "The relation of the next page's link (default next)",
            }
        },
    )

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Build from a ``paginate: {type: link_header}`` block."""
        return cls(rel=c.get("rel", default="next"), max_records=c.get("max_records"))

    def pages(
        self, source: PageSource, *, max_records: int | None = None
    ) -> AsyncGenerator[Page, None]:
        """The pages in order, up to ``max_records`` records (default: the spec's)."""
        limit = _limited(max_records, self.max_records)

        def next_link(page: Page) -> str | None:
            links = link_targets(page.headers.get("link", ""), self.rel)
            return links[0] if links else None

        return _follow_pages(source, limit, next_link)


@hookimpl
def register_paginators() -> dict[str, Any]:
    """The built-in paginators."""
    return {
        "offset": OffsetPaginator,
        "page": PagePaginator,
        "cursor": CursorPaginator,
        "next_url": NextUrlPaginator,
        "link_header": LinkHeaderPaginator,
    }
