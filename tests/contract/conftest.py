"""Contract tests: each connector's spec against its sandbox, through the real runtime.

``served`` starts a sandbox on loopback and gives its state (to check effects) and the
connection values that point at it; ``call`` runs one action in a fresh connection;
``session`` runs a coroutine with one connection kept open across calls (token expiry,
refresh, logout). ``poll_once`` runs one cycle of a poll trigger in such a session;
``check_examples`` holds a spec's examples to its input and output schemas, and
``check_described`` asks a title and description of each action, trigger and input.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from jsonschema import Draft202012Validator

from hookline.actions.call import call_action
from hookline.http.connection import Connection
from hookline.run.sandbox import running
from hookline.run.triggers import event_key, event_of, trigger_records
from hookline.spec.catalog import Catalog
from hookline.spec.model import Action, PollTrigger, Spec

T = TypeVar("T")


@dataclass
class Served:
    """A sandbox being served: its app state, base URL, connection values and the spec."""

    catalog: Catalog
    spec: Spec
    state: Any
    url: str
    values: dict[str, Any]

    def connection(self, **overrides: Any) -> Connection:
        """A connection to the sandbox; ``overrides`` replace connection values."""
        return Connection(
            self.spec, {**self.values, **overrides}, expressions=self.catalog.expressions
        )

    def call(self, action: str, input: dict[str, Any] | None = None, **overrides: Any) -> Any:
        """Run one action in a fresh connection and return its output."""

        async def go() -> Any:
            async with self.connection(**overrides) as conn:
                return await call_action(conn, action, input or {})

        return asyncio.run(go())

    def session(self, work: Callable[[Connection], Awaitable[T]], **overrides: Any) -> T:
        """Run ``work`` with one open connection (closed, with logout, afterwards)."""

        async def go() -> T:
            async with self.connection(**overrides) as conn:
                return await work(conn)

        return asyncio.run(go())


@pytest.fixture
def served(catalog: Catalog) -> Iterator[Callable[..., Any]]:
    """``served(name, seed=0, **options)``: a context manager serving that sandbox."""

    @contextmanager
    def serve(name: str, *, seed: int = 0, **options: Any) -> Iterator[Served]:
        box = catalog.sandboxes[name]
        app = box.create_app(seed=seed, **options)
        with running(app) as url:
            yield Served(catalog, catalog.spec(name), app.state.sandbox, url, box.connection(url))  # type: ignore[attr-defined]

    yield serve


def check_examples(
    spec: Spec,
    adapt: Callable[[str, dict[str, Any]], dict[str, Any]] = lambda name, given: given,
) -> None:
    """Every action and trigger of ``spec`` has examples and an output schema, and they hold.

    Each example's input must match the input schema, and its output the output schema (each
    record of it, for a list action). ``adapt(name, input)`` gives the input to check, for
    examples that show what the schema cannot describe (a file path, a local-only option).
    """
    for block in [*spec.actions.values(), *spec.triggers.values()]:
        assert block.examples, f"{block.name} has no example"
        if isinstance(block, Action):
            output_schema, many = block.output.schema, block.is_list
        else:
            output_schema, many = block.output_schema, False
        assert output_schema, f"{block.name} has no output schema"
        inputs = Draft202012Validator(spec.schema_with_objects(block.input_schema))
        outputs = Draft202012Validator(spec.schema_with_objects(output_schema))
        for example in block.examples:
            inputs.validate(adapt(block.name, dict(example.input)))
            for record in example.output if many else [example.output]:
                outputs.validate(record)


def check_described(spec: Spec) -> None:
    """Every action and trigger of ``spec`` has a title and a description, and so has each input."""
    for block in [*spec.actions.values(), *spec.triggers.values()]:
        assert block.title and block.description, f"{block.name} needs a title and description"
        for name, schema in block.input_schema["properties"].items():
            assert schema.get("description"), f"{block.name}: input {name!r} has no description"


async def poll_once(
    conn: Connection, name: str, input: Mapping[str, Any], cursor: Any
) -> tuple[list[tuple[str, Any]], Any]:
    """One cycle of poll trigger ``name``: the (event key, event) pairs and the cursor it leaves.

    It polls as ``hookline.run.triggers.poll`` does for a recipe, without the state store: the
    cursor (or ``cursor.initial``) goes into the request, the records are read page after page
    with ``trigger_records``, and the cursor moves to the greatest ``cursor.value`` seen.
    """
    trigger = conn.spec.triggers[name]
    assert isinstance(trigger, PollTrigger) and trigger.cursor_value is not None
    if cursor is None and trigger.cursor_initial is not None:
        cursor = trigger.cursor_initial.render(conn.context(input=dict(input)))
    context = conn.context(input=dict(input), cursor=cursor)
    events = []
    async for record in trigger_records(conn, trigger, context):
        events.append((event_key(trigger, record), event_of(trigger, record)))
        value = trigger.cursor_value.search(record)
        cursor = value if cursor is None or value > cursor else cursor
    return events, cursor
