"""Paginators that follow the link a platform gives for the next page.

``next_url`` reads the link from each page's body, ``link_header`` from its RFC 8288 ``Link``
header. Either way the link must stay on the origin of the first request: a link to another
scheme, host or port (or one carrying a user name) is refused with ``UnsafeRequestError``, so
a hostile or confused server cannot make hookline send the connection's credentials
elsewhere. A link that repeats an earlier page stops the reading with an invalid response
rather than loop. The next request is the first one with its URL replaced: same method,
headers and body.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import httpx

from hookline.actions.pages import Page, PageSource, block_schema
from hookline.documents.compiler import Compiler
from hookline.errors import InvalidResponseError, UnsafeRequestError
from hookline.expr.templates import Expression


@dataclass(frozen=True, slots=True)
class NextUrlPaginator:
    """The next page's URL in the body, absolute or relative to the page's own URL.

    Reading stops when a page gives no link or holds no records.
    """

    next: Expression
    max_records: int | None = None

    schema: ClassVar[dict[str, Any]] = block_schema(
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
        limit = self.max_records if max_records is None else max_records
        return _followed(source, limit, lambda page: self.next.search(page.data))


@dataclass(frozen=True, slots=True)
class LinkHeaderPaginator:
    """RFC 8288 ``Link: <...>; rel="next"`` response headers (GitHub style).

    Reading stops when a page has no such link or holds no records.
    """

    rel: str = "next"
    size_param: str = "per_page"
    page_size: int | None = None
    max_records: int | None = None

    schema: ClassVar[dict[str, Any]] = block_schema(
        "link_header",
        "The next page's URL from the Link response header; it must stay on the connection's "
        "origin",
        {
            "rel": {
                "type": "string",
                "minLength": 1,
                "description": "The relation of the next page's link (default next)",
            },
            "page_size": {
                "type": "integer",
                "minimum": 1,
                "description": "Records asked for per page, sent as size_param with the first "
                "request (the platform's links carry it on); without it the platform's default",
            },
            "size_param": {
                "type": "string",
                "minLength": 1,
                "description": "The query parameter for the page size (default per_page)",
            },
        },
    )

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Build from a ``paginate: {type: link_header}`` block."""
        return cls(
            rel=c.get("rel", default="next"),
            size_param=c.get("size_param", default="per_page"),
            page_size=c.get("page_size"),
            max_records=c.get("max_records"),
        )

    def pages(
        self, source: PageSource, *, max_records: int | None = None
    ) -> AsyncGenerator[Page, None]:
        """The pages in order, up to ``max_records`` records (default: the spec's)."""
        limit = self.max_records if max_records is None else max_records

        def next_link(page: Page) -> str | None:
            links = link_targets(page.headers.get("link", ""), self.rel)
            return links[0] if links else None

        if self.page_size is None:
            return _followed(source, limit, next_link)
        size = {self.size_param: self.page_size}
        return _followed(source, limit, next_link, size, {"size": self.page_size})


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


async def _followed(
    source: PageSource,
    limit: int | None,
    next_link: Callable[[Page], Any],
    values: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> AsyncGenerator[Page, None]:
    """Pages from the action's request, then from each link ``next_link`` finds in a page.

    ``values`` go in the first request's query, ``context`` is its ``page`` in templates.
    """
    first = source.request(context or {}, "query", values)
    pristine = _moved(first, first.url)
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
    return _moved(first, url)


def _moved(request: httpx.Request, url: httpx.URL) -> httpx.Request:
    """A fresh copy of ``request`` sent to ``url``: a sent request's headers are its own."""
    return httpx.Request(
        request.method,
        url,
        headers=request.headers.copy(),
        content=request.content,
        extensions=request.extensions,
    )


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host.lower(), url.port or default)


def _shown_origin(url: httpx.URL) -> str:
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"
