"""A recipe pointed at the sandboxes: what ``hookline run --sandbox`` runs against.

``sandboxed`` serves a fresh sandbox, in-process on a free loopback port, for each connection
of a recipe (and of the recipes it calls) whose connector registered one, and gives back the
recipe with those connections pointed at them: the sandbox's demo connection values replace
what the connections file and the recipe say. Connections are matched by the name the
recipes give them, so a recipe and the recipe it calls that both say ``plextrac`` see one
platform, while two connections of one connector (an export's ``source`` and ``target``)
get a sandbox each. Connectors without a sandbox (the in-process ``file`` connector) are
left as they are. The sandboxes stop when the context ends; their data is fresh every time.

A recipe names connections from the connections file; ``with_sandbox_connections`` adds an
entry named after each sandboxed connector the file lacks, as
``hookline sandbox --write-connections`` would, so the examples load with no file at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from hookline.expr.templates import CompiledValue
from hookline.plugins.records import Sandbox
from hookline.recipes.model import Recipe, RecipeConnection
from hookline.run.connections import Connections, NamedConnection
from hookline.run.sandbox import running


@dataclass(frozen=True, slots=True)
class ServedSandbox:
    """The sandbox serving connection ``connection`` of the recipe, at ``url``."""

    connection: str
    sandbox: Sandbox
    url: str


def with_sandbox_connections(
    connections: Connections, sandboxes: Mapping[str, Sandbox]
) -> Connections:
    """``connections`` plus an entry named after each sandboxed connector it lacks.

    The added entries carry no values: ``sandboxed`` supplies them once the sandboxes run.
    """
    added = {
        name: NamedConnection(name, name, {})
        for name in sandboxes
        if name not in connections.entries
    }
    return dataclasses.replace(connections, entries={**added, **connections.entries})


@contextmanager
def sandboxed(
    recipe: Recipe, sandboxes: Mapping[str, Sandbox], *, seed: int = 0
) -> Iterator[tuple[Recipe, list[ServedSandbox]]]:
    """Serve a sandbox per sandboxed connection name; yield the recipe pointed at them.

    The sandboxes are served in the order the connections are declared, the recipe's own
    first, and seeded with ``seed``. The pointed recipe has the same files and steps, so job
    history and reruns name it as the original.
    """
    with ExitStack() as stack:
        served: dict[str, ServedSandbox] = {}
        for each in recipe.walk():
            for connection in each.connections.values():
                box = sandboxes.get(connection.connector or "")
                if box is None or connection.name in served:
                    continue
                url = stack.enter_context(running(box.create_app(seed=seed)))
                served[connection.name] = ServedSandbox(connection.name, box, url)
        values = {name: each.sandbox.connection(each.url) for name, each in served.items()}
        yield _pointed(recipe, values), list(served.values())


def _pointed(recipe: Recipe, values: Mapping[str, Mapping[str, object]]) -> Recipe:
    """``recipe`` and the recipes it calls, with the named connections given ``values``."""
    return dataclasses.replace(
        recipe,
        connections={
            name: _point(connection, values[name]) if name in values else connection
            for name, connection in recipe.connections.items()
        },
        callees=tuple(_pointed(callee, values) for callee in recipe.callees),
    )


def _point(connection: RecipeConnection, values: Mapping[str, object]) -> RecipeConnection:
    return dataclasses.replace(
        connection,
        named=None,
        values={key: CompiledValue(value) for key, value in values.items()},
    )
