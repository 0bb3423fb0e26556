"""Paginators against a real server on 127.0.0.1: every style over several pages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hookline.actions.call import iter_records
from hookline.actions.links import link_targets
from hookline.actions.pages import block_schema
from hookline.errors import (
    ConfigurationError,
    InvalidResponseError,
    SpecError,
    UnsafeRequestError,
)
from hookline.http.connection import Connection
from hookline.plugins.hookspecs import hookimpl
from hookline.plugins.manager import get_plugin_manager
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog
from hookline.spec.model import Spec

from .servers import PagedState, call, paged_app

TOTAL = 23  # five pages of five, the last one short

SPEC = """
spec: hookline/v1
name: pages
title: Pages
connection:
  fields:
    url: {type: string}
  required: [url]
  base_url: "{{ connection.url }}"
actions:
  offset_total:
    title: Offset and limit in the query, stopping at the total
    request: {method: GET, path: /offset}
    paginate: {type: offset, page_size: 5, total: meta.total}
    output: {records: data}
  offset_short_page:
    title: Offset and limit, stopping at a short page
    request: {method: GET, path: /offset, query: {no_total: 1}}
    paginate: {type: offset, page_size: 5}
    output: {records: data}
  offset_unknown_total:
    title: Offset and limit where the platform could not count (Argus's -1)
    request: {method: GET, path: /offset, query: {count: -1}}
    paginate: {type: offset, page_size: 5, total: meta.total}
    output: {records: data}
  offset_body:
    title: PlexTrac v2 search, pagination nested in the JSON body
    request:
      method: POST
      path: /v2/search
      json: {filters: [{by: status, value: Open}], pagination: {limit: 999}}
    paginate:
      type: offset
      in: body
      offset_param: pagination.offset
      limit_param: pagination.limit
      page_size: 5
      total: meta.pagination.total
    output: {records: data}
  offset_concurrent:
    title: Offset pages fetched four at a time
    request: {method: GET, path: /offset}
    paginate: {type: offset, page_size: 5, total: meta.total, concurrency: 4}
    output: {records: data}
  offset_capped:
    title: At most seven records, says the spec
    request: {method: GET, path: /offset}
    paginate: {type: offset, page_size: 5, total: meta.total, max_records: 7}
    output: {records: data}
  page_total:
    title: PlanRadar pages, stopping at the record count
    request: {method: GET, path: /pages}
    paginate: {type: page, size_param: pagesize, page_size: 5, total: meta.count}
    output: {records: data}
  page_total_pages:
    title: Pages, stopping at the page count
    request: {method: GET, path: /pages}
    paginate: {type: page, size_param: pagesize, page_size: 5, total_pages: meta.pages}
    output: {records: data}
  page_short_page:
    title: Pages, stopping at a short page
    request: {method: GET, path: /pages}
    paginate: {type: page, size_param: pagesize, page_size: 5}
    output: {records: data}
  page_concurrent:
    title: Pages fetched three at a time
    request: {method: GET, path: /pages}
    paginate: {type: page, size_param: pagesize, page_size: 5, total: meta.count, concurrency: 3}
    output: {records: data}
  page_form_body:
    title: PCR-360 SQL, page and limit in the form body, counts as text
    request: {method: POST, path: /sql.json, form: {sql: SELECT * FROM SERVICES}}
    paginate: {type: page, in: body, size_param: limit, page_size: 5, total: total_count}
    output: {records: results}
  cursor_query:
    title: A next-page token sent back in the query
    request: {method: GET, path: /cursor}
    paginate: {type: cursor, cursor: next_cursor, limit_param: limit, page_size: 5}
    output: {records: items}
  cursor_body:
    title: A next-page token sent back in a nested body member
    request: {method: POST, path: /cursor, json: {paging: {size: 5}}}
    paginate: {type: cursor, cursor: next_cursor, in: body, cursor_param: paging.after}
    output: {records: items}
  cursor_repeating:
    title: A platform that gives the same token again
    request: {method: GET, path: /cursor, query: {repeat: 1}}
    paginate: {type: cursor, cursor: next_cursor, limit_param: limit, page_size: 5}
    output: {records: items}
  next_relative:
    title: A relative next link in the body
    request: {method: GET, path: /next}
    paginate: {type: next_url, next: links.next}
    output: {records: items}
  next_absolute:
    title: An absolute next link in the body
    request: {method: GET, path: /next, query: {absolute: 1}}
    paginate: {type: next_url, next: links.next}
    output: {records: items}
  next_foreign:
    title: A next link to wherever the input says
    input: {foreign: {type: string}}
    request: {method: GET, path: /next, query: {foreign: "{{ input.foreign }}"}}
    paginate: {type: next_url, next: links.next}
    output: {records: items}
  offset_bad_total:
    title: A total that is not a number
    request: {method: GET, path: /offset}
    paginate: {type: offset, page_size: 5, total: "data[0].name"}
    output: {records: data}
  link_header:
    title: RFC 8288 Link headers
    request: {method: GET, path: /linked}
    paginate: {type: link_header}
    output: {records: items}
  link_header_sized:
    title: RFC 8288 Link headers, ten records a page
    request: {method: GET, path: /linked}
    paginate: {type: link_header, page_size: 10}
    output: {records: items}
"""

# action → the requests the server should see: (path, the paginator's parameters)
EXPECTED_REQUESTS = {
    "offset_total": [("/offset", {"offset": str(o), "limit": "5"}) for o in range(0, 25, 5)],
    "offset_short_page": [("/offset", {"offset": str(o), "limit": "5"}) for o in range(0, 25, 5)],
    "offset_unknown_total": [
        ("/offset", {"offset": str(o), "limit": "5"}) for o in range(0, 25, 5)
    ],
    "offset_body": [
        ("/v2/search", {"pagination": {"offset": o, "limit": 5}}) for o in range(0, 25, 5)
    ],
    "page_total": [("/pages", {"page": str(n), "pagesize": "5"}) for n in range(1, 6)],
    "page_total_pages": [("/pages", {"page": str(n), "pagesize": "5"}) for n in range(1, 6)],
    "page_short_page": [("/pages", {"page": str(n), "pagesize": "5"}) for n in range(1, 6)],
    "page_form_body": [("/sql.json", {"page": str(n), "limit": "5"}) for n in range(1, 6)],
    "cursor_query": [("/cursor", {"limit": "5"})]
    + [("/cursor", {"cursor": f"after-{o}", "limit": "5"}) for o in range(5, 25, 5)],
    "cursor_body": [("/cursor", {"paging": {"size": 5}})]
    + [("/cursor", {"paging": {"size": 5, "after": f"after-{o}"}}) for o in range(5, 25, 5)],
    "next_relative": [("/next", {})] + [("/next", {"start": str(s)}) for s in range(5, 25, 5)],
    "next_absolute": [("/next", {"absolute": "1"})]
    + [("/next", {"start": str(s), "absolute": "1"}) for s in range(5, 25, 5)],
    "link_header": [("/linked", {})] + [("/linked", {"page": str(n)}) for n in range(2, 6)],
    "link_header_sized": [("/linked", {"per_page": "10"})]
    + [("/linked", {"page": str(n), "per_page": "10"}) for n in (2, 3)],
}


@pytest.fixture(scope="module")
def spec(catalog: Catalog) -> Spec:
    return catalog.load_spec(Path("pages.yaml"), text=SPEC)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, PagedState]]:
    app = paged_app(TOTAL)
    with running(app) as url:
        yield url, app.state.paged


@pytest.fixture
def server(served: tuple[str, PagedState]) -> tuple[str, PagedState]:
    served[1].seen.clear()
    return served


def read(
    catalog: Catalog, spec: Spec, url: str, action: str, input: dict[str, Any] | None = None,
    **options: Any,
) -> list[Any]:  # fmt: skip
    async def main() -> list[Any]:
        async with Connection(spec, {"url": url}, expressions=catalog.expressions) as connection:
            return [r async for r in iter_records(connection, action, input, **options)]

    return asyncio.run(main())


def ids(records: list[dict[str, Any]]) -> list[int]:
    return [record["id"] for record in records]


def paginator_params(seen: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """The requests seen, without the parameters the spec's templates set on every page."""
    fixed = {"no_total", "count", "filters", "sql", "repeat"}
    return [(path, {k: v for k, v in params.items() if k not in fixed}) for path, params in seen]


@pytest.mark.parametrize("action", sorted(EXPECTED_REQUESTS))
def test_every_paginator_reads_every_record_and_stops(
    catalog: Catalog, spec: Spec, server: tuple[str, PagedState], action: str
) -> None:
    url, state = server
    assert ids(read(catalog, spec, url, action)) == list(range(TOTAL))
    assert paginator_params(state.seen) == EXPECTED_REQUESTS[action]


def test_body_pagination_keeps_the_rest_of_the_body(
    catalog: Catalog, spec: Spec, server: tuple[str, PagedState]
) -> None:
    url, state = server
    read(catalog, spec, url, "offset_body")
    assert {str(params["filters"]) for _, params in state.seen} == {
        "[{'by': 'status', 'value': 'Open'}]"
    }
    read(catalog, spec, url, "page_form_body")
    assert state.seen[-1][1]["sql"] == "SELECT * FROM SERVICES"


def test_pages_are_fetched_only_as_records_are_read(
    catalog: Catalog, spec: Spec, server: tuple[str, PagedState]
) -> None:
    url, state = server

    async def main() -> list[int]:
        async with Connection(spec, {"url": url}, expressions=catalog.expressions) as connection:
            taken = []
            async for record in iter_records(connection, "offset_total"):
                taken.append(record["id"])
                if len(taken) == 6:
                    break
            return taken

    assert asyncio.run(main()) == [0, 1, 2, 3, 4, 5]
    assert len(state.seen) == 2


@pytest.mark.parametrize(
    ("action", "max_records", "expected", "requests"),
    [
        ("offset_total", 7, 7, 2),
        ("offset_total", 10, 10, 2),
        ("offset_capped", None, 7, 2),
        ("offset_capped", 12, 12, 3),
        ("page_total", 3, 3, 1),
        ("cursor_query", 11, 11, 3),
        ("next_relative", 5, 5, 1),
        ("link_header", 9, 9, 2),
        ("offset_concurrent", 12, 12, 3),
        ("page_concurrent", 16, 16, 4),
    ],
)
def test_max_records_stops_reading(
    catalog: Catalog,
    spec: Spec,
    server: tuple[str, PagedState],
    action: str,
    max_records: int | None,
    expected: int,
    requests: int,
) -> None:
    url, state = server
    records = read(catalog, spec, url, action, max_records=max_records)
    assert ids(records) == list(range(expected))
    assert len(state.seen) == requests


def test_call_action_returns_a_list_actions_records(
    catalog: Catalog, spec: Spec, server: tuple[str, PagedState]
) -> None:
    url, _ = server
    assert ids(call(catalog, spec, url, "page_total", max_records=8)) == list(range(8))


@pytest.mark.parametrize(("action", "at_once"), [("offset_concurrent", 4), ("page_concurrent", 3)])
def test_concurrent_pages_overlap_up_to_the_limit_and_stay_in_order(
    catalog: Catalog, spec: Spec, action: str, at_once: int
) -> None:
    app = paged_app(43, delay=0.05)  # nine pages: the first alone, then eight
    with running(app) as url:
        records = read(catalog, spec, url, action)
    state: PagedState = app.state.paged
    assert ids(records) == list(range(43))
    assert len(state.seen) == 9
    assert state.most_in_flight == at_once


def test_a_next_link_to_another_origin_is_refused(
    catalog: Catalog, spec: Spec, server: tuple[str, PagedState]
) -> None:
    url, state = server
    foreign = url.replace("127.0.0.1", "localhost") + "/stolen"
    with pytest.raises(UnsafeRequestError, match="outside the connection's origin") as caught:
        read(catalog, spec, url, "next_foreign", {"foreign": foreign})
    assert "pages.next_foreign" in str(caught.value)
    assert "/stolen" not in state.paths()
    assert len(state.seen) == 1


@pytest.mark.parametrize(
    "link", ["http://127.0.0.1:1/stolen", "https://{host}/stolen", "//evil.example/stolen"]
)
def test_next_links_off_the_origin_are_never_followed(
    catalog: Catalog, spec: Spec, server: tuple[str, PagedState], link: str
) -> None:
    url, state = server
    foreign = link.format(host=url.removeprefix("http://"))
    with pytest.raises(UnsafeRequestError):
        read(catalog, spec, url, "next_foreign", {"foreign": foreign})
    assert state.paths() == ["/next"]


def test_a_repeated_cursor_stops_with_an_invalid_response(
    catalog: Catalog, spec: Spec, server: tuple[str, PagedState]
) -> None:
    url, state = server
    with pytest.raises(InvalidResponseError, match="next-page token already sent"):
        read(catalog, spec, url, "cursor_repeating")
    assert len(state.seen) == 2


def test_a_total_that_is_not_a_number_is_an_invalid_response(
    catalog: Catalog, spec: Spec, server: tuple[str, PagedState]
) -> None:
    url, _ = server
    with pytest.raises(InvalidResponseError, match=r"'data\[0\].name' gave 'record 0'; expected"):
        read(catalog, spec, url, "offset_bad_total")


def test_dry_run_shows_the_first_page_request_and_sends_nothing(
    catalog: Catalog, spec: Spec, server: tuple[str, PagedState]
) -> None:
    url, state = server
    plan = call(catalog, spec, url, "offset_body", dry_run=True).to_dict()
    assert state.seen == []
    (first,) = plan["requests"]
    assert first["method"] == "POST"
    assert first["body"]["pagination"] == {"limit": 5, "offset": 0}


@pytest.mark.parametrize(
    ("header", "rel", "expected"),
    [
        ('<https://a.test/p?page=2>; rel="next"', "next", ["https://a.test/p?page=2"]),
        (
            '<https://a.test/1>; rel="prev", <https://a.test/3>; rel=next',
            "next",
            ["https://a.test/3"],
        ),
        ('<https://a.test/3>; rel="next last"', "next", ["https://a.test/3"]),
        ('<https://a.test/3>; title="a, b; c"; rel="NEXT"', "next", ["https://a.test/3"]),
        ('<https://a.test/1>; rel="first"', "next", []),
        ("", "next", []),
        ("garbage, <>; rel", "next", []),
    ],
)
def test_link_header_parsing(header: str, rel: str, expected: list[str]) -> None:
    assert link_targets(header, rel) == expected


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{type: offset, pagesize: 5}", "pagesize"),
        ("{type: offset, concurrency: 40}", "concurrency"),
        ("{type: cursor}", "cursor"),
        ("{type: next_url, next: 'links.'}", "next"),
        ("{type: scroll}", "scroll"),
    ],
)
def test_a_bad_paginate_block_fails_at_load(catalog: Catalog, block: str, message: str) -> None:
    text = SPEC.split("actions:")[0] + (
        "actions:\n  things:\n    title: Things\n    request: {method: GET, path: /x}\n"
        f"    paginate: {block}\n    output: {{records: items}}\n"
    )
    with pytest.raises(SpecError, match=message):
        catalog.load_spec(Path("bad.yaml"), text=text)


# ---------------------------------------------------------------- where parameters can go

HEAD = SPEC.split("actions:")[0]


def things(request: str, paginate: str = "") -> str:
    """A spec whose one list action ``things`` sends ``request``, paginated by ``paginate``."""
    block = f"    paginate: {paginate}\n" if paginate else ""
    return (
        f"actions:\n  things:\n    title: Things\n    request: {request}\n{block}"
        "    input: {query: {type: object}, q: {type: string}}\n"
        "    output: {records: items}\n"
    )


@pytest.mark.parametrize(
    ("request_block", "refusal"),
    [
        ('{method: POST, path: /x, json: "{{ input.query }}"}', "json is not written out as"),
        ("{method: POST, path: /x, body: raw text}", "has a raw body"),
        ("{method: POST, path: /x, multipart: {file: {file: /tmp/x}}}", "has a multipart body"),
    ],
)
def test_body_parameters_on_a_body_that_cannot_take_them_fail_at_load(
    catalog: Catalog, request_block: str, refusal: str
) -> None:
    text = HEAD + things(request_block, "{type: offset, in: body}")
    with pytest.raises(SpecError) as caught:
        catalog.load_spec(Path("bad.yaml"), text=text)
    (problem,) = caught.value.problems
    assert problem.path == "actions.things.paginate.in"
    value = text.index("in: body") + len("in: ")
    line_start = text.rindex("\n", 0, value) + 1
    assert (problem.line, problem.column) == (
        text.count("\n", 0, value) + 1,
        value - line_start + 1,
    )
    assert refusal in problem.message and "or use in: query" in problem.message


def test_a_default_paginate_block_is_checked_against_each_list_that_takes_it(
    catalog: Catalog,
) -> None:
    text = (
        HEAD
        + "defaults:\n  paginate: {type: page, in: body}\n"
        + things('{method: POST, path: /x, json: "{{ input.query }}"}')
        + "  counted:\n    title: Counted\n    request: {method: POST, path: /y, json: {a: 1}}\n"
        + "    output: {records: items}\n"
        + "  one:\n    title: Not a list\n    request: {method: POST, path: /z, body: raw}\n"
    )
    with pytest.raises(SpecError) as caught:
        catalog.load_spec(Path("bad.yaml"), text=text)
    (problem,) = caught.value.problems
    assert problem.path == "defaults.paginate.in"
    assert problem.message.startswith("action 'things': in: body puts the parameters in the body")


def test_body_parameters_on_a_body_written_out_as_an_object_load(catalog: Catalog) -> None:
    text = HEAD + things(
        "{method: POST, path: /x, json: {q: '{{ input.q }}'}}", "{type: offset, in: body}"
    )
    spec = catalog.load_spec(Path("good.yaml"), text=text)
    assert spec.actions["things"].paginator.where == "body"


class _PluginPaginator:
    """A plugin's paginator that puts its one parameter wherever ``where`` says."""

    where = "header"
    schema = block_schema("plugin_pages", "A plugin's paginator", {})
    max_records = None

    @classmethod
    def from_spec(cls, c: Any) -> _PluginPaginator:
        return cls()

    async def pages(self, source: Any, *, max_records: int | None = None) -> Any:
        yield await source.fetch(source.request({}, self.where, {"page": 1}))


class _BodyPaginator(_PluginPaginator):
    where = "body"
    schema = block_schema("plugin_body_pages", "A plugin's paginator using the body", {})


class _Plugin:
    @hookimpl
    def register_paginators(self) -> dict[str, Any]:
        return {"plugin_pages": _PluginPaginator, "plugin_body_pages": _BodyPaginator}


@pytest.mark.parametrize(
    ("paginator", "message"),
    [
        ("plugin_pages", "pages.things: the paginator sets its parameters in 'header'; they can"),
        (
            "plugin_body_pages",
            "pages.things: the paginator sets its parameters in the body, which cannot take them:"
            " the request's json is not written out as an object",
        ),
    ],
)
def test_a_plugin_paginator_putting_parameters_where_they_cannot_go_names_the_action(
    server: tuple[str, PagedState], paginator: str, message: str
) -> None:
    url, state = server
    pm = get_plugin_manager(entry_points=False)
    pm.register(_Plugin())
    catalog = Catalog(pm)
    text = HEAD + things('{method: POST, path: /x, json: "{{ input }}"}', f"{{type: {paginator}}}")
    spec = catalog.load_spec(Path("plugged.yaml"), text=text)
    with pytest.raises(ConfigurationError) as caught:
        read(catalog, spec, url, "things")
    assert str(caught.value).startswith(message)
    assert state.seen == []
