"""A poll cycle hands its records to the inbox page by page.

Against a tracker on loopback that serves many pages of large tickets: the cycle's peak
memory stays near one page's size however many pages it reads, and a cycle that fails on a
page keeps the events of the pages before it, which the next cycle does not queue again.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hookline.errors import ActionError
from hookline.recipes.load import load_recipe
from hookline.run.pool import ConnectionPool
from hookline.run.sandbox import running
from hookline.run.store import JobRecord, SqlCursor, SqlStore, open_store
from hookline.run.triggers import PollResult, poll
from hookline.spec.catalog import Catalog
from tests.recipe_kit import TOKEN, tracker_catalog

PAGE = 2
"""Tickets per page: the tracker spec's ``page_size``."""

RECIPE = """\
recipe: watch
connections:
  tracker: {connector: tracker, base_url: "{{ env.TRACKER_URL }}", token: "{{ env.TRACKER_TOKEN }}"}
trigger: {event: tracker.new_ticket, every: 1h}
steps:
  - action: tracker.add_comment
    with: {id: "{{ trigger.id }}", text: seen}
"""


@dataclass
class BigTickets:
    """A tracker whose ``total`` tickets each carry a title of ``size`` characters."""

    total: int
    size: int
    fail_at: set[int] = field(default_factory=set)
    """Offsets whose page request fails once (409, which is not retried)."""
    pages: int = 0

    def app(self) -> Starlette:
        async def tickets(request: Request) -> JSONResponse:
            offset = int(request.query_params.get("offset", 0))
            limit = int(request.query_params.get("limit", PAGE))
            since = int(request.query_params.get("since") or 0)
            if offset in self.fail_at:
                self.fail_at.discard(offset)
                return JSONResponse({"error": "try again"}, status_code=409)
            self.pages += 1
            first = since + offset + 1
            numbers = range(first, min(first + limit, self.total + 1))
            items = [
                {"id": n, "title": f"{n:08d}" * (self.size // 8), "priority": "low", "updated": n}
                for n in numbers
            ]
            return JSONResponse({"items": items, "total": self.total - since})

        return Starlette(routes=[Route("/tickets", tickets)])


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return tracker_catalog(tmp_path_factory.mktemp("specs"))


class Cycles:
    """Poll cycles of the ``watch`` recipe against ``tickets``, with a SQLite store."""

    def __init__(self, catalog: Catalog, folder: Path, tickets: BigTickets) -> None:
        self.catalog = catalog
        self.folder = folder
        self.tickets = tickets
        self.path = folder / "watch.yaml"
        self.path.write_text(RECIPE)
        self.state = str(folder / "state.db")
        self.handed: list[str] = []

    def handle(self, jobs: list[JobRecord]) -> None:
        self.handed.extend(job.event_key for job in jobs)

    def run(self, *, measure: bool = False) -> tuple[PollResult | Exception, int]:
        """One cycle: its result (or error) and, with ``measure``, its peak traced memory."""
        with running(self.tickets.app()) as url:
            env = {"TRACKER_URL": url, "TRACKER_TOKEN": TOKEN}
            recipe = load_recipe(self.path, self.catalog, env=env)

            async def main() -> tuple[PollResult | Exception, int]:
                store = open_store(self.state, self.catalog.pm)
                try:
                    async with ConnectionPool(self.catalog, env=env) as pool:
                        pool.open(recipe)
                        if measure:
                            tracemalloc.start()
                        try:
                            result: PollResult | Exception = await poll(
                                recipe, pool, store, on_jobs=self.handle
                            )
                        except ActionError as exc:
                            result = exc
                        peak = tracemalloc.get_traced_memory()[1] if measure else 0
                        tracemalloc.stop()
                        return result, peak
                finally:
                    await store.close()

            return asyncio.run(main())

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        async def main() -> list[tuple[Any, ...]]:
            store: SqlStore = open_store(self.state, self.catalog.pm)
            try:

                def work(cur: SqlCursor) -> list[tuple[Any, ...]]:
                    cur.execute(sql)
                    return [tuple(row) for row in cur.fetchall()]

                return await store.transaction(work)
            finally:
                await store.close()

        return asyncio.run(main())


@pytest.fixture
def big(tmp_path: Path, catalog: Catalog) -> Iterator[Cycles]:
    yield Cycles(catalog, tmp_path, BigTickets(total=0, size=64 * 1024))


def test_memory_stays_flat_however_many_pages_a_cycle_reads(big: Cycles) -> None:
    big.tickets.total = 20
    big.run()  # the first cycle imports and opens what every later one uses
    big.tickets.total = 60
    short, short_peak = big.run(measure=True)
    big.tickets.total = 220
    long, long_peak = big.run(measure=True)
    assert isinstance(short, PollResult) and isinstance(long, PollResult), (short, long)
    assert (short.records, short.new, long.records, long.new) == (40, 40, 160, 160)
    assert len(big.handed) == 220 and long.jobs == []
    assert big.rows("SELECT COUNT(*) FROM jobs") == [(220,)]
    page = PAGE * big.tickets.size
    whole = long.records * big.tickets.size
    said = f"peaks {short_peak:,} and {long_peak:,} bytes; pages of {page:,}, {whole:,} in all"
    # Four times the pages, about the same peak: a page at a time is held, never the read.
    assert long_peak < short_peak * 1.25 + page, said
    assert long_peak < whole / 4, said


def test_a_cycle_failing_on_a_page_keeps_the_pages_before_it(big: Cycles) -> None:
    big.tickets.total = 160
    big.tickets.fail_at = {PAGE * 6}  # the 7th page
    failed, _ = big.run()
    assert isinstance(failed, ActionError) and "409" in str(failed)
    first = list(range(1, 6 * PAGE + 1))
    assert sorted(int(key) for (key,) in big.rows("SELECT event_key FROM inbox")) == first
    assert big.rows("SELECT COUNT(*), MIN(status), MAX(status) FROM jobs") == [
        (6 * PAGE, "queued", "queued")
    ]
    assert big.rows("SELECT COUNT(*) FROM cursors") == [(0,)]  # the cursor did not move
    assert sorted(int(key) for key in big.handed) == first

    again, _ = big.run()
    assert isinstance(again, PollResult), again
    assert (again.records, again.new) == (160, 160 - 6 * PAGE)
    keys = big.rows("SELECT event_key, COUNT(*) FROM jobs GROUP BY event_key")
    assert sorted(int(key) for key, _ in keys) == list(range(1, 161))
    assert {count for _, count in keys} == {1}
    assert big.rows("SELECT MAX(deliveries) FROM inbox") == [(2,)]  # read twice, queued once
    assert big.rows("SELECT value FROM cursors") == [("160",)]
    assert sorted(int(key) for key in big.handed) == list(range(1, 161))
