"""``hookline worker``: run the jobs ``hookline serve --executor celery`` sends.

A worker is given the recipes (files, or folders searched for recipes, as ``serve`` is), the
connections file and the state store; it takes jobs from the broker's queues (``--queues``)
and runs ``--concurrency`` of them at once (``hookline.run.celery.worker``). Every recipe is
checked before anything starts: one with a problem stops the command with every located
problem (exit 1), as does a broker that refuses the worker (a wrong password, a virtual
host it lacks); a broker that is down is waited for. One line per job goes to stderr (JSON
with ``--json``), as with ``serve``.
With ``--metrics-port`` the worker serves ``GET /metrics`` (loopback unless
``--metrics-host`` says otherwise): the jobs it ran and their steps, as ``serve`` counts the
jobs it runs itself.
SIGTERM or Ctrl-C stops taking jobs and lets the running ones finish (Celery's warm
shutdown); a second Ctrl-C, or SIGKILL, ends the worker at once, and its jobs are taken over
by another worker.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

import click

from hookline.cli.connections import connections_option, state_option
from hookline.cli.executors import DEFAULT_QUEUE, broker_option
from hookline.cli.run import exits
from hookline.cli.serve import ServeLog, load_all, log_json_option, recipe_files
from hookline.errors import ConfigurationError
from hookline.run.connections import load_connections
from hookline.run.pool import ConnectionPool
from hookline.run.sandbox import base_url, bind_all
from hookline.run.store import open_store, redact_url
from hookline.spec.catalog import Catalog


@click.command("worker")
@click.argument(
    "paths", nargs=-1, required=True, metavar="PATH...", type=click.Path(path_type=Path)
)
@broker_option
@state_option
@connections_option
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="How many jobs run at once in this worker.",
)
@click.option(
    "--queues",
    default=DEFAULT_QUEUE,
    show_default=True,
    metavar="NAME[,NAME...]",
    help="The queues to take jobs from, separated by commas.",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="The address /metrics listens on (with --metrics-port).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Serve the jobs and steps this worker ran at /metrics on PORT, in the Prometheus "
    "text format (0: any free one). Not served unless given.",
)
@log_json_option
@click.pass_obj
@exits
def worker(
    app: Any,
    paths: tuple[Path, ...],
    broker: str | None,
    state: str | None,
    connections_file: Path | None,
    concurrency: int,
    queues: str,
    metrics_host: str,
    metrics_port: int | None,
    as_json: bool,
) -> int:
    """Run the jobs `hookline serve --executor celery` sends, until SIGTERM or Ctrl-C.

    PATH is a recipe file or a folder of them: the recipes whose jobs this worker runs, as
    serve was given them. Exits 1 when a recipe has problems (all are shown), 0 once stopped.
    """
    if not broker:
        raise ConfigurationError(
            "a worker takes jobs from a broker: give --broker URL (or $HOOKLINE_BROKER), "
            "the one serve sends them to"
        )
    names = [name.strip() for name in queues.split(",") if name.strip()]
    if not names:
        raise ConfigurationError("--queues names no queue")

    from hookline.run.celery.app import celery_app, refuse_unusable_broker
    from hookline.run.celery.worker import WorkerLoop, celery_lines_to, install_task

    celery = celery_app(broker)
    refuse_unusable_broker(celery)
    catalog: Catalog = app.catalog
    env = dict(os.environ)
    connections = load_connections(catalog, connections_file, environ=env)
    files = [file for path in paths for file in recipe_files(path)]
    if not files:
        raise ConfigurationError(f"no recipes in {', '.join(str(p) for p in paths)}")
    recipes = load_all(files, catalog, env, connections.connectors)
    log = ServeLog(sys.stderr, as_json=as_json)

    sock = (
        None
        if metrics_port is None
        else bind_all(metrics_host, [metrics_port], option="--metrics-port")[0]
    )
    store = open_store(state, catalog.pm)
    pool = ConnectionPool(catalog, env=env, connections=connections)
    pool.share(store, on_wait=log.waiting)
    recipes_by_name = {recipe.name: recipe for recipe in recipes}
    jobs = WorkerLoop(recipes_by_name, pool, store, log, metrics_socket=sock)
    jobs.start()
    try:
        if sock is not None:
            url = f"{base_url(sock)}/metrics"
            log.note(f"metrics at {url}", metrics=url)
        install_task(celery, jobs)
        log.note(
            f"worker for {', '.join(sorted(r.name for r in recipes))}: {concurrency} at once "
            f"from {', '.join(names)} at {redact_url(broker)}; state: {store.url}",
            recipes=sorted(r.name for r in recipes),
            queues=names,
            broker=redact_url(broker),
            state=store.url,
        )
        with celery_lines_to(celery, log):
            process = celery.Worker(
                hostname=f"hookline-{os.getpid()}@{socket.gethostname()}",
                pool="threads",
                concurrency=concurrency,
                queues=names,
                loglevel="WARNING",
                quiet=True,
                without_gossip=True,
                without_mingle=True,
                without_heartbeat=True,
            )
            process.start()
        log.note("stopped")
        return int(process.exitcode or 0)
    finally:
        jobs.stop()
        if sock is not None:
            sock.close()
