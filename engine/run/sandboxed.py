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

Webhooks: a sandbox that can send them (``Sandbox.subscribe``) is pointed at the served
receiver of each webhook recipe whose trigger it feeds (``webhook_senders``), with the
credentials the recipe's verifier expects, as an operator would configure the platform. Those
credentials come from the environment (a recipe may not ship them); where a variable they read
is unset, ``made_up_credentials`` makes one up for the process, since the sandbox is told
whatever the recipe expects.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hookline.documents.loader import load_document
from hookline.errors import HooklineError
from hookline.expr.templates import CompiledValue
from hookline.http.webhooks import BasicVerifier, HeaderVerifier
from hookline.plugins.records import Sandbox, WebhookTarget
from hookline.recipes.model import EventTrigger, Recipe, RecipeConnection
from hookline.run.connections import Connections, NamedConnection
from hookline.run.sandbox import running
from hookline.run.webhook_app import Hook
from hookline.spec.catalog import Catalog
from hookline.spec.model import WebhookTrigger


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
    with sandboxed_recipes([recipe], sandboxes, seed=seed) as (pointed, served):
        yield pointed[0], served


@contextmanager
def sandboxed_recipes(
    recipes: Sequence[Recipe],
    sandboxes: Mapping[str, Sandbox],
    *,
    seed: int = 0,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> Iterator[tuple[list[Recipe], list[ServedSandbox]]]:
    """``sandboxed`` for several recipes at once: a connection name means one sandbox for all.

    ``options`` gives a sandbox's ``create_app`` options by connector name.
    """
    with ExitStack() as stack:
        served: dict[str, ServedSandbox] = {}
        for recipe in recipes:
            for each in recipe.walk():
                for connection in each.connections.values():
                    box = sandboxes.get(connection.connector or "")
                    if box is None or connection.name in served:
                        continue
                    extra = (options or {}).get(box.name, {})
                    url = stack.enter_context(running(box.create_app(seed=seed, **extra)))
                    served[connection.name] = ServedSandbox(connection.name, box, url)
        values = {name: each.sandbox.connection(each.url) for name, each in served.items()}
        yield [_pointed(recipe, values) for recipe in recipes], list(served.values())


_ENV_NAME = re.compile(r"\benv\.([A-Za-z_][A-Za-z0-9_]*)")


def made_up_credentials(
    files: Sequence[Path],
    catalog: Catalog,
    connectors: Mapping[str, str],
    environ: Mapping[str, str],
) -> dict[str, str]:
    """Random values for the unset environment variables that webhook recipes read as the
    credentials their platform must send; for a run against sandboxes only.

    ``connectors`` names the connector of each entry of the connections file; a file that
    does not load, or whose trigger is not a webhook, is left to the recipe's own checks.
    """
    made: dict[str, str] = {}
    for file in files:
        try:
            data = load_document(file).data
            connection, _, name = str(data["trigger"]["event"]).partition(".")
            given = data["trigger"].get("with") or {}
            entry = (data.get("connections") or {})[connection]
            connector = (
                connectors.get(entry, entry)
                if isinstance(entry, str)
                else entry.get("connector") or connectors.get(entry.get("connection", ""), "")
            )
            trigger = catalog.spec(str(connector)).triggers[name]
        except (HooklineError, KeyError, TypeError, AttributeError):
            continue
        if not isinstance(trigger, WebhookTrigger):
            continue
        for value in given.values() if isinstance(given, Mapping) else ():
            for variable in _ENV_NAME.findall(str(value)):
                if variable not in environ and variable not in made:
                    made[variable] = secrets.token_urlsafe(18)
    return made


def webhook_senders(
    hooks: Mapping[str, Hook], served: Sequence[ServedSandbox]
) -> list[tuple[Hook, ServedSandbox]]:
    """Each webhook recipe whose trigger's connection is a sandbox that can send webhooks."""
    by_name = {each.connection: each for each in served}
    found = []
    for hook in hooks.values():
        trigger = hook.recipe.trigger
        assert isinstance(trigger, EventTrigger)
        sender = by_name.get(trigger.connection)
        if sender is not None and sender.sandbox.subscribe is not None:
            found.append((hook, sender))
    return found


def webhook_target(hook: Hook, url: str) -> WebhookTarget:
    """Where a sandbox sends ``hook``'s events, with the credentials its verifier expects."""
    verifier, context = hook.trigger.verifier, hook.context
    if isinstance(verifier, BasicVerifier):
        return WebhookTarget(
            url,
            username=_rendered(verifier.username, context),
            password=_rendered(verifier.password, context),
        )
    if isinstance(verifier, HeaderVerifier):
        return WebhookTarget(url, headers={verifier.name: _rendered(verifier.value, context)})
    return WebhookTarget(url)


def _rendered(value: CompiledValue, context: Mapping[str, Any]) -> str:
    rendered = value.render(context)
    return "" if rendered is None else str(rendered)


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
