"""Pagination guessed from an operation's parameter names and its response, always to review.

OpenAPI has no word for pagination, so a list action's paginator is guessed, in this order:

1. a ``Link`` header declared on the response: ``link_header``;
2. a cursor parameter (``cursor``, ``after``, ``page_token``, ``next_token``, ``marker``…):
   ``cursor``, reading the next token from a like-named response field (``next_cursor``,
   ``meta.next_page_token``…);
3. an offset and a limit parameter (``offset``/``skip`` with ``limit``/``count``/``top``…):
   ``offset``, with ``total`` where the response has a total (``total``, ``count``…);
4. a page and a page-size parameter (``page`` with ``per_page``/``pageSize``/``size``…):
   ``page``, with ``total`` or ``total_pages`` where the response has one;
5. a next-page URL in the response (``next``, ``links.next``, ``@odata.nextLink``):
   ``next_url``.

Names are compared without case, ``_``, ``-``, ``.``, ``@`` or ``$``, so ``pageSize``,
``page_size`` and ``$top`` match. The parameters a paginator sets itself are not inputs of the
action. ``page_size`` is the limit parameter's ``maximum`` when it is below 100, else 100.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hookline.spec.openapi.names import identifier
from hookline.spec.openapi.schemas import is_array

_CURSOR_PARAMS = frozenset(
    {
        "cursor",
        "after",
        "pagetoken",
        "nexttoken",
        "nextpagetoken",
        "continuation",
        "continuationtoken",
        "startingafter",
        "marker",
        "pagecursor",
        "starttoken",
        "next",
    }
)
_OFFSET_PARAMS = frozenset({"offset", "skip", "start", "startindex"})
_LIMIT_PARAMS = frozenset(
    {
        "limit",
        "count",
        "top",
        "take",
        "max",
        "maxresults",
        "rows",
        "pagesize",
        "perpage",
        "size",
        "pagelimit",
    }
)
_PAGE_PARAMS = frozenset({"page", "pagenumber", "pagenum", "pageno", "pageindex"})
_SIZE_PARAMS = frozenset(
    {"perpage", "pagesize", "size", "limit", "count", "pagelimit", "maxresults", "rows"}
)
_CURSOR_FIELDS = frozenset(
    {
        "nextcursor",
        "cursor",
        "nextpagetoken",
        "nexttoken",
        "endcursor",
        "continuation",
        "continuationtoken",
        "nextmarker",
        "after",
        "next",
    }
)
_NEXT_URL_FIELDS = frozenset(
    {"next", "nexturl", "nextlink", "nextpage", "nextpageurl", "odatanextlink"}
)
_TOTAL_FIELDS = frozenset(
    {
        "total",
        "totalcount",
        "count",
        "totalresults",
        "totalitems",
        "totalrecords",
        "totalelements",
        "totalsize",
        "numfound",
    }
)
_TOTAL_PAGES_FIELDS = frozenset({"totalpages", "pagecount", "numpages", "lastpage"})
_WRAPPERS = frozenset(
    {"meta", "metadata", "pagination", "paging", "pageinfo", "links", "responsemetadata", "page"}
)
_SQUASH = re.compile(r"[_\-.@$\s]")
_DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Paging:
    """A guessed ``paginate`` block, the query parameters it sets, and why it was chosen."""

    block: dict[str, Any]
    owned: frozenset[str]
    reason: str


Shaper = Callable[[Any], dict[str, Any]]


def guess(
    query: Mapping[str, Mapping[str, Any]],
    wrapper: Mapping[str, Any],
    headers: frozenset[str],
    shape: Shaper,
) -> Paging | None:
    """The paginator for a list action, or None where nothing suggests one.

    ``query`` maps the operation's query parameter names to their shaped schemas;
    ``wrapper`` is the shaped response object the records sit in ({} for a bare array);
    ``headers`` holds the response's declared header names, lower-cased.
    """
    if "link" in headers:
        return Paging({"type": "link_header"}, frozenset(), "the response declares a Link header")
    cursor = _param(query, _CURSOR_PARAMS, ("string", None))
    if cursor is not None:
        return _cursor(query, cursor, wrapper, shape)
    offset = _param(query, _OFFSET_PARAMS, ("integer", "number", None))
    limit = _param(query, _LIMIT_PARAMS, ("integer", "number", None))
    if offset is not None and limit is not None:
        block: dict[str, Any] = {"type": "offset", "offset_param": offset, "limit_param": limit}
        return _sized(block, {offset, limit}, query[limit], wrapper, shape, _TOTAL_FIELDS, "total")
    page = _param(query, _PAGE_PARAMS, ("integer", "number", None))
    size = _param(query, _SIZE_PARAMS - {_squash(page or "")}, ("integer", "number", None))
    if page is not None and size is not None:
        block = {"type": "page", "page_param": page, "size_param": size}
        page_schema = query[page]
        if page_schema.get("minimum") == 0 or page_schema.get("default") == 0:
            block["start"] = 0
        paging = _sized(block, {page, size}, query[size], wrapper, shape, _TOTAL_FIELDS, "total")
        if "total" not in paging.block:
            pages = _field(wrapper, _TOTAL_PAGES_FIELDS, shape)
            if pages is not None:
                paging.block["total_pages"] = pages
        return paging
    following = _field(wrapper, _NEXT_URL_FIELDS, shape, links=True)
    if following is not None:
        return Paging(
            {"type": "next_url", "next": following},
            frozenset(),
            f"the response has a next-page link, {following}",
        )
    return None


def _cursor(
    query: Mapping[str, Mapping[str, Any]], name: str, wrapper: Mapping[str, Any], shape: Shaper
) -> Paging:
    found = _field(wrapper, _CURSOR_FIELDS, shape)
    block: dict[str, Any] = {
        "type": "cursor",
        "cursor": found or "next_cursor",
        "cursor_param": name,
    }
    owned = {name}
    limit = _param(query, _LIMIT_PARAMS, ("integer", "number", None))
    if limit is not None:
        block["limit_param"] = limit
        block["page_size"] = _page_size(query[limit])
        owned.add(limit)
    where = (
        f"reads the next token from {found}"
        if found
        else "the response names no next token, so `cursor: next_cursor` is a placeholder"
    )
    return Paging(block, frozenset(owned), f"the {name!r} parameter looks like a cursor; {where}")


def _sized(
    block: dict[str, Any],
    owned: set[str],
    limit: Mapping[str, Any],
    wrapper: Mapping[str, Any],
    shape: Shaper,
    totals: frozenset[str],
    key: str,
) -> Paging:
    block["page_size"] = _page_size(limit)
    total = _field(wrapper, totals, shape)
    if total is not None:
        block[key] = total
    names = " and ".join(repr(name) for name in sorted(owned))
    reason = f"the {names} parameters"
    if total is None:
        reason += "; no total in the response, so reading stops at a short page"
    return Paging(block, frozenset(owned), reason)


def _page_size(limit: Mapping[str, Any]) -> int:
    maximum = limit.get("maximum")
    if (
        isinstance(maximum, int)
        and not isinstance(maximum, bool)
        and 0 < maximum < _DEFAULT_PAGE_SIZE
    ):
        return maximum
    return _DEFAULT_PAGE_SIZE


def _param(
    query: Mapping[str, Mapping[str, Any]], names: frozenset[str], kinds: tuple[str | None, ...]
) -> str | None:
    """The first query parameter whose squashed name is in ``names`` and type in ``kinds``."""
    for name, schema in query.items():
        kind = schema.get("type")
        if _squash(name) in names and (kind if isinstance(kind, str) else None) in kinds:
            return name
    return None


def _field(
    wrapper: Mapping[str, Any], names: frozenset[str], shape: Shaper, *, links: bool = False
) -> str | None:
    """A JMESPath expression for a like-named field of the response, or one level below it."""
    properties = _mapping(wrapper.get("properties"))
    for name, raw in properties.items():
        if _squash(name) in names and not is_array(shape(raw)):
            return _link(identifier(name), shape(raw)) if links else identifier(name)
    for outer, raw in properties.items():
        if _squash(outer) not in _WRAPPERS:
            continue
        inner = _mapping(shape(raw).get("properties"))
        for name, value in inner.items():
            if _squash(name) in names and not is_array(shape(value)):
                expression = f"{identifier(outer)}.{identifier(name)}"
                return _link(expression, shape(value)) if links else expression
    return None


def _link(expression: str, schema: Mapping[str, Any]) -> str:
    """A link field's URL: the field itself, or its ``href`` (HAL's ``{href: ...}``)."""
    return f"{expression}.href" if "href" in _mapping(schema.get("properties")) else expression


def _squash(name: str) -> str:
    return _SQUASH.sub("", name).lower()


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
