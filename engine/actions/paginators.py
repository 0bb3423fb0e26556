"""The built-in paginators: how a list action reads its records page after page.

Each paginator is a builder registered through ``register_paginators`` (the built-ins use the
same hook a third party would): a frozen object built once from the spec's ``paginate``
block, whose ``pages`` method is an async iterator of ``hookline.actions.pages.Page`` objects. Pages
are fetched only as the caller asks for them, so memory stays flat however many records a list
holds; what a paginator reads through is ``hookline.actions.pages.PageSource``.

Here are the paginators that count: ``offset`` and ``page`` (where the total is known after
the first page they can keep ``concurrency`` requests in flight; pages still come out in
order) and ``cursor``, which sends back the token each page gives. Those that follow the
platform's next-page links, ``next_url`` and ``link_header``, are ``hookline.actions.links``.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncGenerator, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import httpx

from hookline.actions.links import LinkHeaderPaginator, NextUrlPaginator
from hookline.actions.pages import Page, PageSource, block_schema
from hookline.documents.compiler import Compiler
from hookline.errors import InvalidResponseError
from hookline.expr.templates import Expression
from hookline.plugins.hookspecs import hookimpl

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

    schema: ClassVar[dict[str, Any]] = block_schema(
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
        limit = self.max_records if max_records is None else max_records
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

    schema: ClassVar[dict[str, Any]] = block_schema(
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
        limit = self.max_records if max_records is None else max_records
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


# ---------------------------------------------------------------- cursor


@dataclass(frozen=True, slots=True)
class CursorPaginator:
    """A next-page token in the body, sent back as a parameter of the next request.

    Reading stops when a page gives no token (absent, null or empty) or holds no records;
    a token already sent in this read (twice in a row, or tokens going round in a circle) is
    an invalid response rather than an endless loop.
    """

    cursor: Expression
    where: str = "query"
    cursor_param: str = "cursor"
    limit_param: str | None = None
    page_size: int | None = None
    max_records: int | None = None

    schema: ClassVar[dict[str, Any]] = block_schema(
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
        limit = self.max_records if max_records is None else max_records
        token: Any = None
        sent: set[str] = set()
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
            key = json.dumps(following, sort_keys=True, default=repr)
            if key in sent:
                raise InvalidResponseError(
                    f"{source.label}: the platform gave a next-page token already sent in this "
                    "read; reading stopped rather than loop"
                )
            sent.add(key)
            token = following


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
