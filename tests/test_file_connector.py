"""The ``file`` connector: its actions through the real runtime, and recipes that use it."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hookline.actions.call import call_action
from hookline.connectors.file import transport
from hookline.errors import InvalidRequestError, NotFoundError
from hookline.http.connection import Connection
from hookline.spec.catalog import Catalog
from tests.recipe_kit import Harness, TrackerState, serve_tracker, tracker_catalog


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return tracker_catalog(tmp_path_factory.mktemp("specs"))


def call(catalog: Catalog, folder: Path, action: str, input: dict[str, Any]) -> Any:
    async def go() -> Any:
        values = {"folder": str(folder)}
        spec = catalog.spec("file")
        async with Connection(
            spec, values, expressions=catalog.expressions, transport=transport(values)
        ) as connection:
            return await call_action(connection, action, input)

    return asyncio.run(go())


def test_json_is_written_and_read_back(catalog: Catalog, tmp_path: Path) -> None:
    data = {"clients": [{"id": 1, "name": "Ådne"}]}
    written = call(catalog, tmp_path, "write_json", {"path": "out/export.json", "data": data})
    assert written == {
        "path": "out/export.json",
        "size": (tmp_path / "out/export.json").stat().st_size,
    }
    assert json.loads((tmp_path / "out/export.json").read_text()) == data
    assert call(catalog, tmp_path, "read_json", {"path": "out/export.json"}) == data


def test_csv_rows_get_a_header_and_formulas_are_defused(catalog: Catalog, tmp_path: Path) -> None:
    rows = [
        {"email": "ada@example.com", "role": "ADMIN", "tags": ["a", "b"]},
        {"email": '=HYPERLINK("x")', "role": None},
    ]
    result = call(catalog, tmp_path, "write_csv", {"path": "users.csv", "rows": rows})
    assert result["rows"] == 2
    with (tmp_path / "users.csv").open(newline="") as stream:
        lines = list(csv.reader(stream))
    assert lines == [
        ["email", "role", "tags"],
        ["ada@example.com", "ADMIN", '["a","b"]'],
        ['\'=HYPERLINK("x")', "", ""],
    ]
    read = call(catalog, tmp_path, "read_csv", {"path": "users.csv"})
    assert read[0] == {"email": "ada@example.com", "role": "ADMIN", "tags": '["a","b"]'}


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.json", "a/../../outside.json"])
def test_a_path_cannot_leave_the_folder(catalog: Catalog, tmp_path: Path, path: str) -> None:
    folder = tmp_path / "inside"
    with pytest.raises(InvalidRequestError, match=r"absolute|outside the folder"):
        call(catalog, folder, "write_text", {"path": path, "text": "x"})
    assert not (tmp_path / "outside.json").exists()


def test_a_missing_file_is_not_found(catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"no file 'nothing\.json'"):
        call(catalog, tmp_path, "read_json", {"path": "nothing.json"})


@pytest.fixture
def tracker() -> Iterator[TrackerState]:
    yield from serve_tracker()


def test_a_recipe_exports_to_a_file_and_another_imports_it(
    catalog: Catalog, tmp_path: Path, tracker: TrackerState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the folder is relative to where hookline runs
    harness = Harness(catalog, tmp_path, tracker.url)
    files = "  files: {connector: file, folder: exports}\n"
    export = harness.recipe(
        """\
steps:
  - id: tickets
    action: tracker.list_tickets
  - action: files.write_json
    with: {path: tickets.json, data: "{{ steps.tickets }}"}
  - action: files.write_csv
    with: {path: tickets.csv, rows: "{{ steps.tickets }}", columns: [id, title]}
""",
        name="export",
    )
    export.write_text(export.read_text().replace("trigger:", files + "trigger:", 1))
    assert harness.run(export)[0].status == "succeeded"
    assert (tmp_path / "exports/tickets.csv").read_text() == "id,title\n1,First\n2,Second\n"

    imported = harness.recipe(
        """\
steps:
  - id: saved
    action: files.read_json
    with: {path: tickets.json}
  - for_each: "{{ steps.saved }}"
    as: ticket
    steps:
      - action: tracker.create_ticket
        with: {title: "copy of {{ ticket.title }}", priority: "{{ ticket.priority }}"}
""",
        name="import",
    )
    imported.write_text(imported.read_text().replace("trigger:", files + "trigger:", 1))
    assert harness.run(imported)[0].status == "succeeded"
    assert [t["title"] for t in tracker.tickets[2:]] == ["copy of First", "copy of Second"]
