"""Composite actions: calls to other actions of one connector, run against a loopback library."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hookline.actions.call import Plan, call_action, iter_records
from hookline.errors import (
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    OutcomeUnknownError,
    RecipeError,
    SpecError,
)
from hookline.http.connection import Connection
from hookline.http.ratelimit import InProcessRateLimiter
from hookline.recipes.load import load_recipe
from hookline.recipes.model import ActionStep
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog
from hookline.spec.model import Spec

SPEC = """\
spec: hookline/v1
name: library
title: Library
connection:
  fields:
    url: {type: string}
  required: [url]
  base_url: "{{ connection.url }}"
defaults: {retry: {attempts: 1}}
objects:
  book:
    type: object
    required: [id, shelf_id, title]
    properties:
      id: {type: integer}
      shelf_id: {type: integer}
      title: {type: string}
      author: {type: string}
actions:
  get_shelf:
    title: Get a shelf
    input: {shelf_id: {type: integer}}
    required: [shelf_id]
    request: {method: GET, path: "/shelves/{{ input.shelf_id }}"}
  create_shelf:
    title: Create a shelf
    input: {name: {type: string}}
    required: [name]
    request: {method: POST, path: /shelves, json: {name: "{{ input.name }}"}}
  list_books:
    title: List a shelf's books
    input: {shelf_id: {type: integer}}
    required: [shelf_id]
    request: {method: GET, path: "/shelves/{{ input.shelf_id }}/books"}
    paginate: {type: offset, page_size: 2}
    output: {records: items, schema: {$ref: "#/objects/book"}}
  add_book:
    title: Add a book to a shelf
    input:
      shelf_id: {type: integer}
      title: {type: string}
      author: {type: string}
    required: [shelf_id, title]
    request:
      method: POST
      path: "/shelves/{{ input.shelf_id }}/books"
      omit_nulls: true
      json: {title: "{{ input.title }}", author: "{{ input.author }}"}
    output: {schema: {$ref: "#/objects/book"}}
  export_shelf:
    title: Export a shelf with its books
    input: {shelf_id: {type: integer}}
    required: [shelf_id]
    idempotent: true
    calls:
      - {id: shelf, action: get_shelf, with: {shelf_id: "{{ input.shelf_id }}"}}
      - {id: books, action: list_books, with: {shelf_id: "{{ calls.shelf.id }}"}}
    output:
      select: "{shelf: calls.shelf, books: calls.books, asked: input.shelf_id}"
      schema:
        type: object
        required: [shelf, books]
        properties:
          shelf: {type: object}
          books: {type: array, items: {$ref: "#/objects/book"}}
    examples:
      - input: {shelf_id: 1}
        output: {shelf: {id: 1, name: Poetry}, books: []}
  import_shelf:
    title: Re-create an export, on a new shelf or an existing one
    input:
      export: {type: object}
      shelf_id: {type: integer}
    required: [export]
    calls:
      - id: shelf
        if: "{{ input.shelf_id == `null` }}"
        action: create_shelf
        with: {name: "{{ input.export.shelf.name }}"}
      - id: books
        for_each: "{{ input.export.books }}"
        as: book
        calls:
          - id: added
            action: add_book
            with: >-
              {{ {shelf_id: input.shelf_id || calls.shelf.id, title: book.title,
                  author: book.author} }}
    output:
      select: "{shelf_id: input.shelf_id || calls.shelf.id, books: calls.books[*].added.id}"
  export_then_import:
    title: Copy a shelf by calling the two composites
    input: {shelf_id: {type: integer}}
    required: [shelf_id]
    calls:
      - {id: exported, action: export_shelf, with: {shelf_id: "{{ input.shelf_id }}"}}
      - {id: imported, action: import_shelf, with: {export: "{{ calls.exported }}"}}
    output: {select: calls.imported}
  sort_books:
    title: File books into new shelves by genre
    input:
      genres: {type: array, items: {type: string}}
      books: {type: array}
    calls:
      - {id: first, action: create_shelf, with: {name: "{{ input.genres[0] }}"}}
      - id: shelves
        for_each: "{{ input.genres }}"
        as: genre
        calls:
          - {id: made, action: create_shelf, with: {name: "{{ genre }}"}}
          - id: filed
            for_each: "{{ where(input.books, 'genre', genre) }}"
            as: book
            calls:
              - id: added
                action: add_book
                with: {shelf_id: "{{ made.id }}", title: "{{ book.title }}"}
              - id: seen
                action: get_shelf
                with: {shelf_id: "{{ added.shelf_id }}"}
"""


# ---------------------------------------------------------------- the library


@dataclass
class Library:
    """Shelves and books; ``fail`` answers a path with an error status a number of times."""

    shelves: dict[int, dict[str, Any]] = field(default_factory=dict)
    books: list[dict[str, Any]] = field(default_factory=list)
    fail: dict[str, list[int]] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)

    def add_shelf(self, name: str) -> dict[str, Any]:
        number = len(self.shelves) + 1
        shelf = {"id": number, "name": name}
        self.shelves[number] = shelf
        return shelf

    def add_book(self, shelf_id: int, title: str, author: str | None = None) -> dict[str, Any]:
        book = {"id": len(self.books) + 1, "shelf_id": shelf_id, "title": title}
        if author is not None:
            book["author"] = author
        self.books.append(book)
        return book


def library_app(library: Library) -> Starlette:
    """The library's API over ``library``."""

    def refused(request: Request) -> JSONResponse | None:
        library.seen.append(f"{request.method} {request.url.path}")
        statuses = library.fail.get(request.url.path)
        if statuses:
            return JSONResponse({"message": "refused on purpose"}, statuses.pop(0))
        return None

    async def shelves(request: Request) -> JSONResponse:
        if (answer := refused(request)) is not None:
            return answer
        body = await request.json()
        return JSONResponse(library.add_shelf(body["name"]), 201)

    async def shelf(request: Request) -> JSONResponse:
        if (answer := refused(request)) is not None:
            return answer
        found = library.shelves.get(int(request.path_params["id"]))
        if found is None:
            return JSONResponse({"message": "No such shelf"}, 404)
        return JSONResponse(found)

    async def books(request: Request) -> JSONResponse:
        if (answer := refused(request)) is not None:
            return answer
        shelf_id = int(request.path_params["id"])
        if request.method == "POST":
            body = await request.json()
            return JSONResponse(library.add_book(shelf_id, body["title"], body.get("author")))
        offset = int(request.query_params.get("offset", 0))
        limit = int(request.query_params.get("limit", 100))
        found = [b for b in library.books if b["shelf_id"] == shelf_id]
        return JSONResponse({"items": found[offset : offset + limit], "total": len(found)})

    return Starlette(
        routes=[
            Route("/shelves", shelves, methods=["POST"]),
            Route("/shelves/{id:int}", shelf),
            Route("/shelves/{id:int}/books", books, methods=["GET", "POST"]),
        ]
    )


@pytest.fixture(scope="module")
def spec(catalog: Catalog) -> Spec:
    return catalog.load_spec(Path("library.yaml"), text=SPEC)


@pytest.fixture
def library() -> Iterator[tuple[str, Library]]:
    state = Library()
    poetry = state.add_shelf("Poetry")
    state.add_shelf("Empty")
    for title in ("Odes", "Sonnets", "Elegies"):
        state.add_book(poetry["id"], title, "Keats" if title == "Odes" else None)
    with running(library_app(state)) as url:
        yield url, state


def call(
    catalog: Catalog, spec: Spec, url: str, action: str, input: Any = None, **options: Any
) -> Any:
    async def main() -> Any:
        async with _connection(catalog, spec, url) as connection:
            return await call_action(connection, action, input, **options)

    return asyncio.run(main())


def _connection(catalog: Catalog, spec: Spec, url: str) -> Connection:
    return Connection(
        spec, {"url": url}, expressions=catalog.expressions, limiter=InProcessRateLimiter()
    )


# ---------------------------------------------------------------- running


def test_calls_run_in_order_and_select_reads_input_and_calls(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, state = library
    exported = call(catalog, spec, url, "export_shelf", {"shelf_id": 1})
    assert exported == {
        "shelf": {"id": 1, "name": "Poetry"},
        "books": state.books,  # all three, read over two pages of the list action
        "asked": 1,
    }
    assert state.seen == ["GET /shelves/1", "GET /shelves/1/books", "GET /shelves/1/books"]


def test_a_loop_gives_one_entry_per_item_in_order(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, state = library
    export = {"shelf": {"name": "Poetry"}, "books": [{"title": "B"}, {"title": "A"}]}
    imported = call(catalog, spec, url, "import_shelf", {"export": export})
    assert imported == {"shelf_id": 3, "books": [4, 5]}
    assert [(b["shelf_id"], b["title"]) for b in state.books[3:]] == [(3, "B"), (3, "A")]


def test_without_select_the_output_is_every_call_by_id(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, _ = library
    output = call(
        catalog, spec, url, "sort_books", {"genres": ["Drama"], "books": [{"title": "Lear"}]}
    )
    assert output["first"] == {"id": 3, "name": "Drama"}
    assert output["shelves"] == [
        {"genre": "Drama", "made": {"id": 4, "name": "Drama"}, "filed": []}
    ]


def test_nested_loops_see_their_items_and_the_earlier_calls_of_each_iteration(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, state = library
    books = [
        {"title": "Lear", "genre": "Drama"},
        {"title": "Emma", "genre": "Novel"},
        {"title": "Faust", "genre": "Drama"},
    ]
    output = call(catalog, spec, url, "sort_books", {"genres": ["Drama", "Novel"], "books": books})
    drama, novel = output["shelves"]
    assert (drama["genre"], drama["made"]["name"], novel["made"]["name"]) == (
        "Drama",
        "Drama",
        "Novel",
    )
    assert [entry["book"]["title"] for entry in drama["filed"]] == ["Lear", "Faust"]
    assert [entry["added"]["shelf_id"] for entry in drama["filed"]] == [drama["made"]["id"]] * 2
    assert drama["filed"][1]["seen"] == drama["made"]  # read from the same iteration's `added`
    assert [(b["shelf_id"], b["title"]) for b in state.books[3:]] == [
        (drama["made"]["id"], "Lear"),
        (drama["made"]["id"], "Faust"),
        (novel["made"]["id"], "Emma"),
    ]


def test_if_skips_a_call_whose_output_is_then_null(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, state = library
    export = {"shelf": {"name": "Ignored"}, "books": [{"title": "Odes II"}]}
    imported = call(catalog, spec, url, "import_shelf", {"export": export, "shelf_id": 2})
    assert imported == {"shelf_id": 2, "books": [4]}
    assert len(state.shelves) == 2
    assert "POST /shelves" not in state.seen


def test_an_optional_input_the_data_lacks_is_left_out(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, state = library
    export = {"books": [{"title": "Odes", "author": "Keats"}, {"title": "Poems", "author": None}]}
    call(catalog, spec, url, "import_shelf", {"export": export, "shelf_id": 2})
    assert state.books[3:] == [
        {"id": 4, "shelf_id": 2, "title": "Odes", "author": "Keats"},
        {"id": 5, "shelf_id": 2, "title": "Poems"},
    ]


def test_a_composite_runs_on_the_connection_it_is_called_on(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    source_url, source = library
    target = Library()
    with running(library_app(target)) as target_url:

        async def copy() -> Any:
            async with _connection(catalog, spec, source_url) as a:
                exported = await call_action(a, "export_shelf", {"shelf_id": 1})
            async with _connection(catalog, spec, target_url) as b:
                return await call_action(b, "import_shelf", {"export": exported})

        imported = asyncio.run(copy())
    assert imported == {"shelf_id": 1, "books": [1, 2, 3]}
    assert target.shelves == {1: {"id": 1, "name": "Poetry"}}
    assert target.books == source.books
    assert len(source.books) == 3


def test_a_composite_may_call_composites(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, state = library
    assert call(catalog, spec, url, "export_then_import", {"shelf_id": 1}) == {
        "shelf_id": 3,
        "books": [4, 5, 6],
    }
    assert [b["title"] for b in state.books if b["shelf_id"] == 3] == ["Odes", "Sonnets", "Elegies"]


def test_a_composite_is_not_a_list_action(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, _ = library

    async def main() -> None:
        async with _connection(catalog, spec, url) as connection:
            async for _ in iter_records(connection, "export_shelf", {"shelf_id": 1}):
                pass

    with pytest.raises(ConfigurationError, match="not a list action"):
        asyncio.run(main())


# ---------------------------------------------------------------- failures


def test_the_composite_input_is_checked_before_any_call(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, state = library
    with pytest.raises(InvalidRequestError, match=r"library\.import_shelf: input 'export' is"):
        call(catalog, spec, url, "import_shelf", {})
    assert state.seen == []


def test_a_failing_call_is_named_and_keeps_its_kind(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, _ = library
    with pytest.raises(NotFoundError) as caught:
        call(catalog, spec, url, "export_shelf", {"shelf_id": 9})
    assert str(caught.value) == (
        f"library.export_shelf: call shelf (get_shelf): GET {url}/shelves/9 answered 404 "
        "Not Found: No such shelf"
    )
    assert (caught.value.action, caught.value.status) == ("get_shelf", 404)


def test_an_input_a_call_renders_wrong_names_the_call(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, state = library
    export = {"shelf": {"name": "Poetry"}, "books": [{"title": "Odes"}, {"title": 7}]}
    with pytest.raises(OutcomeUnknownError) as caught:
        call(catalog, spec, url, "import_shelf", {"export": export, "shelf_id": 2})
    message = str(caught.value)
    assert message.startswith(
        "library.import_shelf: call books[1].added (add_book): input 'title': 7 is not of type"
    )
    assert "call books[0].added and calls before it made changes" in message
    assert len(state.books) == 4  # the first book was added; the second never sent


def test_a_failure_before_any_change_keeps_its_kind(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, state = library
    state.fail["/shelves"] = [400]
    export = {"shelf": {"name": "Poetry"}, "books": [{"title": "Odes"}]}
    with pytest.raises(InvalidRequestError, match=r"call shelf \(create_shelf\): POST .* 400"):
        call(catalog, spec, url, "import_shelf", {"export": export})
    assert len(state.books) == 3


def test_a_failure_after_a_change_is_an_unknown_outcome_not_to_repeat(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, state = library
    state.fail["/shelves/3/books"] = [400]
    export = {"shelf": {"name": "Copy"}, "books": [{"title": "A"}, {"title": "B"}]}
    with pytest.raises(OutcomeUnknownError) as caught:
        call(catalog, spec, url, "import_shelf", {"export": export})
    message = str(caught.value)
    assert message.startswith(
        f"library.import_shelf: call books[0].added (add_book): POST {url}/shelves/3/books "
        "answered 400 Bad Request: refused on purpose. library.import_shelf was partly applied: "
        "call shelf and calls before it made changes"
    )
    assert isinstance(caught.value.__cause__, InvalidRequestError)
    assert (caught.value.action, caught.value.status) == ("add_book", 400)
    assert state.shelves[3] == {"id": 3, "name": "Copy"}


def test_a_failure_in_a_declared_idempotent_composite_keeps_its_kind(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, state = library
    state.fail["/shelves/1/books"] = [400]
    with pytest.raises(InvalidRequestError, match=r"call books \(list_books\)"):
        call(catalog, spec, url, "export_shelf", {"shelf_id": 1})


def test_a_nested_composite_failure_names_both_calls(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, _ = library
    with pytest.raises(NotFoundError) as caught:
        call(catalog, spec, url, "export_then_import", {"shelf_id": 9})
    assert str(caught.value).startswith(
        "library.export_then_import: call exported (export_shelf): call shelf (get_shelf): GET"
    )


def test_a_loop_over_something_else_than_a_list_is_refused(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, _ = library
    export = {"shelf": {"name": "Poetry"}, "books": {"title": "Odes"}}
    with pytest.raises(OutcomeUnknownError, match="call books: for_each gave a mapping, expected"):
        call(catalog, spec, url, "import_shelf", {"export": export})


# ---------------------------------------------------------------- dry runs


def test_a_dry_run_plans_every_call_that_reads_only_the_input(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, state = library
    plan = call(catalog, spec, url, "sort_books", {"genres": ["Drama"]}, dry_run=True)
    assert isinstance(plan, Plan)
    data = plan.to_dict()
    assert [(r["role"], r["method"], r["url"]) for r in data["requests"]] == [
        ("call first (create_shelf): request", "POST", f"{url}/shelves")
    ]
    assert data["requests"][0]["body"] == {"name": "Drama"}
    assert data["note"].startswith("calls shelves are not planned: they read the outputs of")
    assert state.seen == []


def test_a_dry_run_stops_at_the_first_call_that_needs_an_earlier_output(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, state = library
    plan = call(catalog, spec, url, "export_shelf", {"shelf_id": 1}, dry_run=True).to_dict()
    assert [r["role"] for r in plan["requests"]] == ["call shelf (get_shelf): request"]
    assert "calls books are not planned" in plan["note"]
    assert plan["example_output"] == {"shelf": {"id": 1, "name": "Poetry"}, "books": []}
    skipped = call(
        catalog, spec, url, "import_shelf", {"export": {}, "shelf_id": 2}, dry_run=True
    ).to_dict()
    assert skipped["requests"] == []  # the shelf exists: create_shelf is skipped by its `if`
    assert skipped["note"].startswith("calls books are not planned")
    assert state.seen == []


def test_a_dry_run_plans_through_a_nested_composite(
    catalog: Catalog, spec: Spec, library: tuple[str, Library]
) -> None:
    url, _ = library
    plan = call(catalog, spec, url, "export_then_import", {"shelf_id": 1}, dry_run=True)
    assert [r.role for r in plan.requests] == [
        "call exported (export_shelf): call shelf (get_shelf): request"
    ]
    assert plan.note.startswith("call exported (export_shelf): calls books are not planned")
    assert "note" not in json.dumps(
        call(catalog, spec, url, "get_shelf", {"shelf_id": 1}, dry_run=True).to_dict()
    )


# ---------------------------------------------------------------- recipes

RECIPE = """\
recipe: copy
connections:
  plextrac: {connector: plextrac, instance_url: "http://127.0.0.1:9", username: u, password: p}
trigger: {manual: {}}
steps:
  - id: export
    action: plextrac.export_client
    with: {client_id: 1001}
outputs:
  first: "{{ steps.export.reports[0].name }}"
"""


def test_a_recipe_reads_a_composite_output_by_its_schema(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "copy.yaml"
    path.write_text(RECIPE)
    step = load_recipe(path, catalog, env={}).steps[0]
    assert isinstance(step, ActionStep) and step.action == "export_client"
    path.write_text(RECIPE.replace("reports[0].name", "reports[0].nmae"))
    with pytest.raises(RecipeError, match="has no field 'nmae'"):
        load_recipe(path, catalog, env={})


# ---------------------------------------------------------------- loading


def problems(catalog: Catalog, text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        catalog.load_spec(Path("library.yaml"), text=text)
    return [str(problem) for problem in caught.value.problems]


def test_the_library_spec_compiles_its_calls(spec: Spec) -> None:
    composite = spec.actions["sort_books"].composite
    assert composite is not None
    assert [c.id for c in composite.calls] == ["first", "shelves"]
    assert spec.actions["get_shelf"].composite is None
    assert not spec.actions["import_shelf"].idempotent
    assert spec.actions["export_shelf"].idempotent


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "{id: shelf, action: get_shelf,",
            "{id: shelf, action: get_shelfs,",
            "library.yaml:56:29: actions.export_shelf.calls[0].action: unknown action "
            "'get_shelfs' (did you mean 'get_shelf'?)",
            id="unknown-action",
        ),
        pytest.param(
            "    idempotent: true\n    calls:",
            "    idempotent: true\n    request: {method: GET, path: /}\n    calls:",
            "library.yaml:51:5: actions.export_shelf: an action has either `request` (one HTTP "
            "request) or `calls` (other actions of this connector), exactly one of them",
            id="request-and-calls",
        ),
        pytest.param(
            "    idempotent: true\n    calls:",
            "    idempotent: true\n    paginate: {type: offset}\n    calls:",
            "library.yaml:55:15: actions.export_shelf.paginate: a composite action does not "
            "paginate",
            id="composite-paginates",
        ),
        pytest.param(
            "output: {select: calls.imported}",
            "output: {records: calls.imported}",
            "library.yaml:98:23: actions.export_then_import.output.records: a composite "
            "action's output is one value",
            id="composite-records",
        ),
        pytest.param(
            "{id: books, action: list_books,",
            "{id: shelf, action: list_books,",
            "library.yaml:57:14: actions.export_shelf.calls[1].id: call id 'shelf' is taken by "
            "an earlier call of this list",
            id="duplicate-id",
        ),
        pytest.param(
            "as: book\n            calls:",
            "as: made\n            calls:",
            "library.yaml:113:17: actions.sort_books.calls[1].calls[1].as: 'made' is already a "
            "name in this loop's templates",
            id="item-hides-a-call",
        ),
        pytest.param(
            "- id: seen",
            "- id: genre",
            "library.yaml:118:21: actions.sort_books.calls[1].calls[1].calls[1].id: 'genre' is "
            "already a name in this loop's templates",
            id="id-hides-an-item",
        ),
        pytest.param(
            "as: genre",
            "as: input",
            "library.yaml:108:13: actions.sort_books.calls[1].as: 'input' is already a name",
            id="item-hides-input",
        ),
        pytest.param(
            'with: {shelf_id: "{{ added.shelf_id }}"}',
            'with: {shelf: "{{ added.shelf_id }}"}',
            "library.yaml:120:24: actions.sort_books.calls[1].calls[1].calls[1].with.shelf: "
            "action "
            "'get_shelf' has no input 'shelf' (did you mean 'shelf_id'?)",
            id="unknown-input",
        ),
        pytest.param(
            '{id: made, action: create_shelf, with: {name: "{{ genre }}"}}',
            "{id: made, action: create_shelf, with: {}}",
            "library.yaml:110:52: actions.sort_books.calls[1].calls[0].with: action "
            "'create_shelf' requires input 'name', which `with` does not give",
            id="missing-input",
        ),
        pytest.param(
            "{id: exported, action: export_shelf,",
            "{id: exported, action: export_then_import,",
            "library.yaml:96:32: actions.export_then_import.calls[0].action: calling "
            "'export_then_import' here leads back to it (export_then_import → "
            "export_then_import); a composite action cannot call itself",
            id="calls-itself",
        ),
    ],
)
def test_each_mistake_in_calls_is_one_located_problem(
    catalog: Catalog, old: str, new: str, expected: str
) -> None:
    assert old in SPEC
    found = problems(catalog, SPEC.replace(old, new, 1))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found[0]


def test_an_action_needs_a_request_or_calls(catalog: Catalog) -> None:
    text = SPEC.replace(
        '    request: {method: GET, path: "/shelves/{{ input.shelf_id }}"}\n', "", 1
    )
    (found,) = problems(catalog, text)
    assert found.startswith("library.yaml:21:5: actions.get_shelf: an action has either")


def test_a_call_that_leads_back_through_other_actions_is_refused(catalog: Catalog) -> None:
    text = SPEC.replace(
        '{id: books, action: list_books, with: {shelf_id: "{{ calls.shelf.id }}"}}',
        "{id: books, action: export_then_import, with: {shelf_id: 1}}",
    )
    (found,) = problems(catalog, text)
    assert "actions.export_then_import.calls[0].action: calling 'export_shelf' here" in found
    assert "(export_shelf → export_then_import → export_shelf)" in found


def test_a_call_whose_request_cannot_be_rendered_is_named_once(
    catalog: Catalog, library: tuple[str, Library]
) -> None:
    url, _ = library
    text = SPEC
    get_shelf = '    request: {method: GET, path: "/shelves/{{ input.shelf_id }}"}\n'
    for before in (get_shelf, "    idempotent: true\n    calls:"):
        typed = "    input: {shelf_id: {type: integer}}\n    required: [shelf_id]\n" + before
        assert text.count(typed) == 1
        text = text.replace(typed, typed.replace("integer", "string"))
    spec = catalog.load_spec(Path("library.yaml"), text=text)
    with pytest.raises(InvalidRequestError) as caught:
        call(catalog, spec, url, "export_shelf", {"shelf_id": ""})
    assert str(caught.value) == (
        "library.export_shelf: call shelf (get_shelf): the path value {{ input.shelf_id }} is "
        "empty; the request would name another resource"
    )
    assert caught.value.action == "get_shelf"
