"""Page loops end: cursors in a circle, endless next links, always-full pages and repeated
bodies, against a server on 127.0.0.1 that keeps offering pages."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hookline.actions import call as calling
from hookline.actions.call import call_action, iter_records
from hookline.actions.pages import PageLimitWarning
from hookline.errors import InvalidResponseError
from hookline.http.connection import Connection
from hookline.http.ratelimit import InProcessRateLimiter
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog
from hookline.spec.model import Spec
from tests.cli_kit import Hookline
from tests.measure import measured
from tests.servers import spec_from

SPEC = """\
spec: hookline/v1
name: loops
title: A platform that never stops paging
connection:
  fields: {url: {type: string}}
  required: [url]
  base_url: "{{ connection.url }}"
actions:
  circling_cursors:
    title: Tokens that go round A, B, A
    request: {method: GET, path: /circle}
    paginate: {type: cursor, cursor: next}
    output: {records: items}
  endless_links:
    title: A new next link on every page
    request: {method: GET, path: /endless}
    paginate: {type: next_url, next: next, max_pages: 40}
    output: {records: items}
  endless_default:
    title: A new next link on every page, with the default bound
    request: {method: GET, path: /endless}
    paginate: {type: next_url, next: next}
    output: {records: items}
  always_full:
    title: Pages that are always full, with no total
    request: {method: GET, path: /full}
    paginate: {type: page, page_size: 5, max_pages: 25}
    output: {records: items}
  same_page:
    title: A platform that ignores the offset
    request: {method: GET, path: /same}
    paginate: {type: offset, page_size: 5}
    output: {records: items}
triggers:
  endless:
    type: poll
    title: New items, page after page for ever
    request: {method: GET, path: /endless}
    paginate: {type: next_url, next: next, max_pages: 15}
    records: items
    id: id
"""


@dataclass
class Loops:
    """How many requests each path got."""

    hits: dict[str, int] = field(default_factory=dict)


def loops_app(state: Loops) -> Starlette:
    def items(start: int) -> list[dict[str, Any]]:
        return [{"id": start + n, "name": f"item {start + n}"} for n in range(5)]

    def counted(request: Request) -> int:
        path = request.url.path
        state.hits[path] = state.hits.get(path, 0) + 1
        return state.hits[path]

    async def circle(request: Request) -> JSONResponse:
        n = counted(request)
        following = {None: "A", "A": "B", "B": "A"}[request.query_params.get("cursor")]
        return JSONResponse({"items": items(n * 5), "next": following})

    async def endless(request: Request) -> JSONResponse:
        n = counted(request)
        return JSONResponse({"items": items(n * 5), "next": f"/endless?after={n * 5}"})

    async def full(request: Request) -> JSONResponse:
        counted(request)
        number = int(request.query_params["page"])
        return JSONResponse({"items": items(number * 5)})

    async def same(request: Request) -> JSONResponse:
        counted(request)
        return JSONResponse({"items": items(0)})

    return Starlette(
        routes=[
            Route("/circle", circle),
            Route("/endless", endless),
            Route("/full", full),
            Route("/same", same),
        ]
    )


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Loops]]:
    state = Loops()
    with running(loops_app(state)) as url:
        yield url, state


@pytest.fixture
def server(served: tuple[str, Loops]) -> tuple[str, Loops]:
    served[1].hits.clear()
    return served


@pytest.fixture(scope="module")
def spec(catalog: Catalog) -> Spec:
    return spec_from(catalog, SPEC, "loops.yaml")


def read(catalog: Catalog, spec: Spec, url: str, action: str, **options: Any) -> Any:
    async def main() -> Any:
        async with Connection(
            spec, {"url": url}, expressions=catalog.expressions, limiter=InProcessRateLimiter()
        ) as connection:
            return await measured(call_action(connection, action, **options))

    return asyncio.run(main())


def test_cursors_going_round_in_a_circle_stop_the_read(
    catalog: Catalog, spec: Spec, server: tuple[str, Loops]
) -> None:
    url, state = server
    outcome = read(catalog, spec, url, "circling_cursors")
    assert isinstance(outcome.error, InvalidResponseError)
    assert "next-page token already sent in this read" in str(outcome.error)
    assert state.hits["/circle"] == 3  # none, A, B; then A again is refused
    assert outcome.seconds < 5


def test_endless_next_links_stop_at_max_pages_with_a_warning(
    catalog: Catalog, spec: Spec, server: tuple[str, Loops]
) -> None:
    url, state = server
    with pytest.warns(PageLimitWarning, match=r"loops.endless_links: .*after 40 pages"):
        outcome = read(catalog, spec, url, "endless_links")
    assert outcome.error is None
    assert len(outcome.result) == 200
    assert state.hits["/endless"] == 40
    assert outcome.seconds < 10
    assert outcome.peak_mib < 200


def test_a_read_without_a_bound_of_its_own_stops_at_the_default(
    catalog: Catalog, spec: Spec, server: tuple[str, Loops], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state = server
    monkeypatch.setattr(calling, "DEFAULT_MAX_PAGES", 30)
    with pytest.warns(PageLimitWarning, match="after 30 pages"):
        outcome = read(catalog, spec, url, "endless_default")
    assert len(outcome.result) == 150
    assert state.hits["/endless"] == 30


def test_a_call_may_set_its_own_max_pages(
    catalog: Catalog, spec: Spec, server: tuple[str, Loops]
) -> None:
    url, state = server
    with pytest.warns(PageLimitWarning, match="after 3 pages"):
        outcome = read(catalog, spec, url, "endless_links", max_pages=3)
    assert len(outcome.result) == 15
    assert state.hits["/endless"] == 3


def test_always_full_pages_stop_at_max_pages(
    catalog: Catalog, spec: Spec, server: tuple[str, Loops]
) -> None:
    url, state = server
    with pytest.warns(PageLimitWarning, match="after 25 pages"):
        outcome = read(catalog, spec, url, "always_full")
    assert len(outcome.result) == 125
    assert state.hits["/full"] == 25


def test_a_page_that_repeats_an_earlier_one_stops_the_read(
    catalog: Catalog, spec: Spec, server: tuple[str, Loops]
) -> None:
    url, state = server
    outcome = read(catalog, spec, url, "same_page")
    assert isinstance(outcome.error, InvalidResponseError)
    assert "a page already read in this read" in str(outcome.error)
    assert state.hits["/same"] == 2


def test_a_read_within_its_bound_gives_no_warning(
    catalog: Catalog, spec: Spec, server: tuple[str, Loops]
) -> None:
    url, _ = server

    async def main() -> list[Any]:
        async with Connection(spec, {"url": url}, expressions=catalog.expressions) as conn:
            found = []
            async for record in iter_records(conn, "endless_links"):
                found.append(record)
                if len(found) == 12:
                    break
            return found

    assert len(asyncio.run(main())) == 12  # warnings are errors here: none was raised


# ---------------------------------------------------------------- recipes and polls


STEP = """\
recipe: bounded
connections:
  loops: {{connector: loops, url: "{url}"}}
trigger: {{manual: {{}}}}
steps:
  - id: all
    action: loops.endless_links
    max_pages: 4
outputs:
  count: "{{{{ length(steps.all) }}}}"
"""

POLL = """\
recipe: watch
connections:
  loops: {{connector: loops, url: "{url}"}}
trigger: {{event: loops.endless}}
steps:
  - set: {{seen: "{{{{ trigger.id }}}}"}}
"""


def test_a_recipe_step_sets_max_pages_and_the_command_line_shows_the_warning(
    tmp_path: Path, server: tuple[str, Loops]
) -> None:
    url, state = server
    hookline = Hookline(tmp_path, SPEC, "loops")
    recipe = tmp_path / "bounded.yaml"
    recipe.write_text(STEP.format(url=url))
    with warnings.catch_warnings():
        warnings.simplefilter("default", PageLimitWarning)  # shown, as outside the tests
        result = hookline.invoke(
            "run", str(recipe), "--state", str(tmp_path / "state.db"), "--json"
        )
    assert result.exit_code == 0, result.output
    assert "warning: loops.endless_links: reading stopped after 4 pages" in result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    finished = next(e for e in events if e["event"] == "job_finished")
    assert finished["status"] == "succeeded"
    assert finished["outputs"] == {"count": 20}
    assert state.hits["/endless"] == 4


def test_a_poll_stops_at_the_triggers_max_pages(tmp_path: Path, server: tuple[str, Loops]) -> None:
    url, state = server
    hookline = Hookline(tmp_path, SPEC, "loops")
    recipe = tmp_path / "watch.yaml"
    recipe.write_text(POLL.format(url=url))
    with warnings.catch_warnings():
        warnings.simplefilter("default", PageLimitWarning)
        result = hookline.invoke("run", str(recipe), "--state", str(tmp_path / "state.db"))
    assert result.exit_code == 0, result.output
    assert "warning: loops.endless: reading stopped after 15 pages" in result.stderr
    assert state.hits["/endless"] == 15
