"""``hookline replay``: run chosen events of the inbox again, on purpose.

Events are chosen by when they were received (``--since``: an ISO 8601 time, or a duration
ago such as ``2h``) or by key (``--event``, repeatable). Each becomes a new job, even where
the first job succeeded: its key is the event's with ``#replay-`` and a mark, so the first
job's history stays. The jobs run as ``hookline run`` runs them (claimed, stoppable), or
with ``--executor celery`` on the workers of ``hookline worker``, the command waiting for them.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import click

from hookline.cli.connections import connections_option, state_option
from hookline.cli.executors import build_executor, executor_options
from hookline.cli.run import exits, grace_option, json_option, reporter_for, stoppable
from hookline.errors import ConfigurationError
from hookline.plugins.records import ExecutorConfig
from hookline.recipes.load import load_recipe
from hookline.run.claims import Claims
from hookline.run.connections import load_connections
from hookline.run.inbox import inbox_events, replay_jobs
from hookline.run.jobs import JobRunner
from hookline.run.operations import parse_moment
from hookline.run.pool import ConnectionPool
from hookline.run.shutdown import Shutdown
from hookline.run.store import open_store
from hookline.spec.catalog import Catalog


@click.command("replay")
@click.argument("recipe_file", metavar="RECIPE", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--since",
    metavar="TIME",
    help="Events received since TIME: ISO 8601 (2025-03-01, 2025-03-01T08:00Z) or a "
    "duration ago (30m, 2h, 1d).",
)
@click.option(
    "--event",
    "keys",
    multiple=True,
    metavar="ID",
    help="The event with this key (repeatable), as `hookline jobs` shows it.",
)
@state_option
@connections_option
@grace_option
@executor_options
@json_option
@click.pass_obj
@exits
def replay(
    app: Any,
    recipe_file: Path,
    since: str | None,
    keys: tuple[str, ...],
    state: str | None,
    connections_file: Path | None,
    grace: float,
    executor_name: str,
    broker: str | None,
    queue: str,
    as_json: bool,
) -> int:
    """Run chosen events of a recipe again, even those whose job succeeded.

    With --executor celery the jobs are sent to the workers of `hookline worker` (given the
    recipe and the same --state), and the command waits for them to end.
    """
    if since is None and not keys:
        raise ConfigurationError("choose the events: --since TIME or --event ID")
    start = None if since is None else parse_moment(since, time.time(), "--since")
    catalog: Catalog = app.catalog
    env = dict(os.environ)
    connections = load_connections(catalog, connections_file, environ=env)
    recipe = load_recipe(recipe_file, catalog, env=env, connectors=connections.connectors)
    if recipe.is_manual:
        raise ConfigurationError(f"{recipe.name!r} is a manual recipe: it has no events")
    reporter = reporter_for(as_json)
    executor = build_executor(catalog, executor_name, ExecutorConfig(broker=broker, queue=queue))

    async def main() -> int:
        store = open_store(state, catalog.pm)
        try:
            events = await inbox_events(store, recipe.name, since=start, keys=keys)
            missing = sorted(set(keys) - {event.event_key for event in events})
            if missing:
                raise ConfigurationError(
                    f"no event {', '.join(repr(k) for k in missing)} of {recipe.name!r} in "
                    "the inbox"
                )
            pool = ConnectionPool(catalog, env=env, connections=connections)
            pool.share(store, on_wait=reporter.waiting)
            async with pool:
                pool.open(recipe)
                claims = Claims(store)
                runner = JobRunner(
                    recipe, pool, store, env=pool.env, observer=reporter, claims=claims
                )
                reporter.start(recipe.name, f"replay of {len(events)} events", dry_run=False)
                if not events:
                    reporter.note("no events received in that time; nothing to replay")

                async def work() -> None:
                    jobs = await replay_jobs(store, recipe.name, recipe.path, events)
                    await executor.run(runner, jobs, stop=shutdown.requested)

                async with Shutdown() as shutdown, claims.renewing():
                    return await stoppable(reporter, work(), shutdown, grace)
        finally:
            await store.close()

    return asyncio.run(main())
