"""``hookline serve``: run recipes unattended, polling on schedule and receiving webhooks.

Every recipe given (files, or folders searched for recipes) is checked before anything
starts: one with a problem stops the command with every located problem of every recipe, as
``hookline validate`` prints them (exit 1). Then a table says what is served: each recipe,
its trigger, its schedule or webhook URL. One line per job goes to stderr (a JSON object
per line with ``--json``) until SIGTERM or Ctrl-C, which stops new work, gives running jobs
``--grace`` seconds, and exits 0.

The web console (``hookline.run.console``) is served at ``/`` unless ``--no-console``: its
operator token is ``HOOKLINE_CONSOLE_TOKEN``, or one made at the first start and printed
then only (the store keeps its hash). On a host that is not loopback the console needs a
token made beforehand.

``--sandbox`` serves the platform simulators too, with each recipe pointed at them, the
webhook-sending sandboxes pointed at the served receiver (as an operator would configure the
platform, with the credentials the recipe expects, made up where the environment gives none),
a first event made to happen on each, and poll recipes polling every 10 seconds: events flow
end to end with no account anywhere. Job history then goes to a temporary store
unless ``--state`` is given.

``--executor celery --broker URL`` sends each job to the workers of ``hookline worker``
instead of running it here; the service then polls and receives only. The workers must be
given the same recipes, connections and ``--state`` (a PostgreSQL store when they run on
other machines).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import click
import orjson
from rich.console import Console
from rich.table import Table

from hookline.actions.call import Plan
from hookline.cli.connections import connections_option, state_option
from hookline.cli.executors import build_executor, executor_options
from hookline.cli.progress import Lines, wait_data
from hookline.cli.run import exits, json_flag
from hookline.documents.loader import load_document, nearby_file
from hookline.errors import ConfigurationError, HooklineError, InvalidDocumentError, RecipeError
from hookline.http.ratelimit import Wait
from hookline.plugins.protocols import Executor
from hookline.plugins.records import ExecutorConfig
from hookline.recipes.load import load_recipe
from hookline.recipes.model import Recipe
from hookline.run.claims import DEFAULT_LEASE
from hookline.run.connections import load_connections
from hookline.run.console.app import WebConsole
from hookline.run.console.auth import Guard, prepare_access
from hookline.run.jobs import JobOutcome
from hookline.run.pool import ConnectionPool
from hookline.run.sandbox import base_url, bind_all
from hookline.run.sandboxed import (
    ServedSandbox,
    made_up_credentials,
    sandboxed_recipes,
    webhook_senders,
    webhook_target,
    with_sandbox_connections,
)
from hookline.run.serve import ServeObserver, ServeSettings, Service
from hookline.run.shutdown import Shutdown
from hookline.run.store import JobRecord, SqlStore, StepRecord, open_store
from hookline.run.webhook_app import MAX_BODY
from hookline.spec.catalog import Catalog

SANDBOX_POLL = 10.0
"""Seconds between polls of each poll recipe under ``--sandbox``."""


log_json_option = json_flag(
    "Write JSON lines, for log collectors (without it the log is text, on a terminal or not)."
)
"""The ``--json`` flag of ``serve`` and ``worker``, whose log stays text off a terminal:
a service's log is read by people in the journal unless a collector asks for JSON."""


@click.command("serve")
@click.argument(
    "paths", nargs=-1, required=True, metavar="PATH...", type=click.Path(path_type=Path)
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8400,
    show_default=True,
    help="The port of the webhook receiver, /healthz and /metrics (0: any free one).",
)
@state_option
@connections_option
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds running jobs may take to finish once asked to stop; the rest are "
    "interrupted and resumed at the next start.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="How many jobs run at once in this process (--executor inline).",
)
@executor_options
@click.option(
    "--max-body",
    type=click.IntRange(min=1),
    default=MAX_BODY,
    show_default=True,
    help="The largest webhook body accepted, in bytes (larger: 413).",
)
@click.option(
    "--lease",
    type=click.FloatRange(min=0.3),
    default=DEFAULT_LEASE,
    show_default=True,
    help="Seconds a claim on a job or a poll trigger holds unless renewed (every third of "
    "it); another process takes over what a process that died held once it runs out.",
)
@click.option(
    "--sandbox",
    "in_sandboxes",
    is_flag=True,
    help="Serve the platform simulators too, point the recipes and the sandboxes' webhooks "
    "at each other, and poll every 10 seconds: a demo with no account anywhere.",
)
@click.option(
    "--console/--no-console",
    "with_console",
    default=True,
    show_default=True,
    help="Serve the web console at / (sign in with $HOOKLINE_CONSOLE_TOKEN or the token "
    "printed at the first start).",
)
@log_json_option
@click.pass_obj
@exits
def serve(
    app: Any,
    paths: tuple[Path, ...],
    host: str,
    port: int,
    state: str | None,
    connections_file: Path | None,
    grace: float,
    concurrency: int,
    executor_name: str,
    broker: str | None,
    queue: str,
    max_body: int,
    lease: float,
    in_sandboxes: bool,
    with_console: bool,
    as_json: bool,
) -> int:
    """Serve recipes until SIGTERM or Ctrl-C: poll on schedule, receive webhooks, run jobs.

    PATH is a recipe file or a folder of them. Exits 1 when a recipe has problems (all are
    shown, nothing starts), 0 once stopped.
    """
    catalog: Catalog = app.catalog
    if in_sandboxes and executor_name != "inline":
        raise ConfigurationError(
            "--sandbox serves the sandboxes inside this process, where workers elsewhere "
            "cannot reach them: serve them with `hookline sandbox --write-connections FILE` "
            "and give FILE to serve (--connections) and to each worker"
        )
    config = ExecutorConfig(concurrency=concurrency, broker=broker, queue=queue)
    executor = build_executor(catalog, executor_name, config)
    env = dict(os.environ)
    connections = load_connections(catalog, connections_file, environ=env)
    if in_sandboxes:
        connections = with_sandbox_connections(connections, catalog.sandboxes)
    files = [file for path in paths for file in recipe_files(path)]
    if not files:
        raise ConfigurationError(f"no recipes in {', '.join(str(p) for p in paths)}")
    log = ServeLog(sys.stderr, as_json=as_json)
    if in_sandboxes:
        made = made_up_credentials(files, catalog, connections.connectors, env)
        env.update(made)
        if made:
            log.note(f"made up {', '.join(sorted(made))} for this run: the sandboxes send "
                     "whatever the recipes expect")  # fmt: skip
    recipes = load_all(files, catalog, env, connections.connectors)
    settings = ServeSettings(
        grace=grace,
        max_body=max_body,
        lease=lease,
        poll_every=SANDBOX_POLL if in_sandboxes else None,
    )
    sock = bind_all(host, [port], option="--port")[0]
    with ExitStack() as stack:
        stack.callback(sock.close)
        served: list[ServedSandbox] = []
        if in_sandboxes:
            events = [recipe for recipe in recipes if not recipe.is_manual]
            pointed, served = stack.enter_context(
                sandboxed_recipes(events, catalog.sandboxes, options=_SANDBOX_OPTIONS)
            )
            recipes = [*pointed, *(recipe for recipe in recipes if recipe.is_manual)]
            if state is None:
                folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="hookline-"))
                state = str(Path(folder) / "state.db")
        pool = ConnectionPool(catalog, env=env, connections=connections)
        service = _Serving(catalog, state, settings, executor, log, host if with_console else None)
        return asyncio.run(service.serve(recipes, pool, sock, served))


_SANDBOX_OPTIONS = {"planradar": {"rate_limit": 600}}
"""PlanRadar's sandbox allows more than the real 30 calls a minute, so the demo flows."""


@dataclass(frozen=True, slots=True)
class _Serving:
    """What serving needs besides the recipes, their connections and the socket;
    ``console_host`` is the host the console is served on (None: no console)."""

    catalog: Catalog
    state: str | None
    settings: ServeSettings
    executor: Executor
    log: ServeLog
    console_host: str | None

    async def serve(
        self,
        recipes: list[Recipe],
        pool: ConnectionPool,
        sock: Any,
        served: Sequence[ServedSandbox],
    ) -> int:
        """Open the store and the connections, say what is served, serve until stopped."""
        log = self.log
        store = open_store(self.state, self.catalog.pm)
        try:
            console = None
            if self.console_host is not None:
                console = await _console(store, self.console_host, log)
            pool.share(store, on_wait=log.waiting)
            async with pool:
                for recipe in recipes:
                    if not recipe.is_manual:  # listed, not served: their connections stay closed
                        pool.open(recipe)
                service = Service(
                    recipes,
                    pool,
                    store,
                    settings=self.settings,
                    observer=log,
                    executor=self.executor,
                    console=console,
                )
                url = base_url(sock)
                log.table(service, url, store.url)
                if console is not None:
                    log.note(f"console at {url}/", console=f"{url}/")
                for each in served:
                    log.note(f"{each.sandbox.title} sandbox at {each.url}",
                             sandbox=each.sandbox.name, url=each.url)  # fmt: skip

                async def ready() -> None:
                    await _feed_from_sandboxes(service, served, url, log)

                async with Shutdown() as shutdown:
                    log.note(f"serving on {url}; SIGTERM or Ctrl-C stops", url=url)
                    await service.run(sock, shutdown, ready=ready if served else None)
                log.note("stopped")
                return 0
        finally:
            await store.close()


async def _console(store: SqlStore, host: str, log: ServeLog) -> Callable[[Service], Any]:
    """The console's factory, its operator token made (and shown once) if there is none."""
    granted = await prepare_access(store, os.environ, host)
    if granted.new_token is not None:
        log.token(granted.new_token)
    guard = Guard(store, granted.token_hash)
    return lambda service: WebConsole(service, guard).app()


async def _feed_from_sandboxes(
    service: Service, served: Sequence[ServedSandbox], url: str, log: ServeLog
) -> None:
    """Point each webhook-sending sandbox at the receiver and make one event happen there."""
    emitted: set[str] = set()
    for hook, sender in webhook_senders(service.hooks, served):
        target = webhook_target(hook, f"{url}/hooks/{hook.recipe.name}")
        subscribe, emit = sender.sandbox.subscribe, sender.sandbox.emit
        assert subscribe is not None
        await asyncio.to_thread(subscribe, sender.url, target)
        log.note(f"the {sender.sandbox.title} sandbox sends its webhooks to {target.url}",
                 url=target.url)  # fmt: skip
        if emit is not None and sender.url not in emitted:
            emitted.add(sender.url)
            said = await asyncio.to_thread(emit, sender.url)
            log.note(f"the {sender.sandbox.title} sandbox {said}")


def load_all(
    files: Sequence[Path], catalog: Catalog, env: dict[str, str], connectors: Any
) -> list[Recipe]:
    """Every recipe of ``files``, all checked: problems of all of them raise at once."""
    recipes, problems = [], []
    for file in files:
        try:
            recipes.append(load_recipe(file, catalog, env=env, connectors=connectors))
        except InvalidDocumentError as exc:
            problems.extend(exc.problems)
    if problems:
        raise RecipeError(problems)
    names: dict[str, str] = {}
    for recipe in recipes:
        if recipe.name in names:
            raise ConfigurationError(
                f"two recipes are named {recipe.name!r} ({names[recipe.name]} and "
                f"{recipe.file}); a served recipe's name is its URL and its history"
            )
        names[recipe.name] = recipe.file
    return recipes


def recipe_files(path: Path) -> list[Path]:
    """A file as given; the recipes of a folder (YAML files whose first key is ``recipe``)."""
    if not path.is_dir():
        if not path.exists():
            raise ConfigurationError(f"no file or folder {str(path)!r}{nearby_file(path)}")
        return [path]
    found = []
    for file in sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")):
        try:
            data = load_document(file).data
        except HooklineError:
            found.append(file)  # loading it again reports the problem, located
            continue
        if isinstance(data, dict) and "recipe" in data:
            found.append(file)
    return found


class ServeLog(ServeObserver):
    """One line per finished job (and per poll that found something, failed, or a remark) on
    ``stream``: text, or JSON objects with ``as_json``; lines nobody reads any more are dropped
    and the service goes on (``Lines``)."""

    def __init__(self, stream: TextIO, *, as_json: bool) -> None:
        self.lines = Lines(stream)
        self.as_json = as_json
        self.started: dict[str, float] = {}

    def table(self, service: Service, url: str, state: str) -> None:
        """What is served, on stdout: a table, or a JSON line per recipe."""
        rows = []
        for row in service.served():
            hook = f"{url}/hooks/{row.recipe.name}" if row.kind == "webhook" else ""
            rows.append((row.recipe.name, row.trigger, row.schedule, hook, row.recipe.file))
        if self.as_json:
            for name, trigger, schedule, hook, file in rows:
                line = {"event": "recipe", "recipe": name, "trigger": trigger,
                        "schedule": schedule, "url": hook or None, "file": file}  # fmt: skip
                click.echo(orjson.dumps(line).decode())
            click.echo(orjson.dumps({"event": "state", "url": state}).decode())
            return
        table = Table("recipe", "trigger", "schedule", "webhook URL", box=None, show_edge=False)
        for name, trigger, schedule, hook, _ in rows:
            table.add_row(name, trigger, schedule, hook)
        width = sum(max(len(r[i]) for r in rows) for i in range(4)) + 12 if rows else 80
        console = Console(width=max(width, 80))
        console.print(table)
        console.print(f"state: {state}", highlight=False)

    def token(self, token: str) -> None:
        """Show the console's new operator token, this once (it is never logged again)."""
        if self.as_json:
            self.lines.write(orjson.dumps({"event": "console_token", "token": token}).decode())
        else:
            self.lines.write(
                f"console operator token (shown this once; only its hash is kept): {token}"
            )

    def emit(self, event: str, text: str, **data: Any) -> None:
        """Write one line (dropped once its reader has gone: the service goes on)."""
        moment = time.time()
        if self.as_json:
            line = orjson.dumps({"event": event, "time": round(moment, 3), **data}, default=str)
            self.lines.write(line.decode())
        else:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment))
            self.lines.write(f"{stamp}  {text}")

    def note(self, message: str, **data: Any) -> None:
        """A remark."""
        self.emit("note", message, message=message, **data)

    def waiting(self, wait: Wait) -> None:
        """A request waits for its rate budget (said only when the wait is long)."""
        self.emit("waiting", wait.message, **wait_data(wait))

    def job_started(self, job: JobRecord) -> None:
        """Time the job."""
        self.started[job.id] = time.monotonic()

    def step_finished(self, job_id: str, step: StepRecord, plan: Plan | None) -> None:
        """Steps are not logged: ``hookline jobs show`` has them."""

    def job_finished(self, job: JobRecord, outcome: JobOutcome) -> None:
        """The job's line."""
        seconds = time.monotonic() - self.started.pop(job.id, time.monotonic())
        error = outcome.error or {}
        where = f" at {error.get('step')}" if error.get("step") else ""
        said = f"{where}: {_one_line(str(error.get('message')))}" if error else ""
        self.emit(
            "job",
            f"job {job.id[:12]}  {job.recipe}  {outcome.status}{said}  ({seconds:.2f}s)",
            job=job.id,
            recipe=job.recipe,
            event_key=job.event_key,
            status=outcome.status,
            seconds=round(seconds, 3),
            error=outcome.error,
        )

    def cycle_finished(
        self, recipe: str, trigger: str, records: int, jobs: int, error: str | None
    ) -> None:
        """A line for a poll that failed or found new events."""
        if error is not None:
            self.emit("poll", f"poll {recipe} ({trigger}) failed: {_one_line(error)}",
                      recipe=recipe, trigger=trigger, error=error)  # fmt: skip
        elif jobs:
            self.emit("poll", f"poll {recipe} ({trigger}): {records} records, {jobs} new",
                      recipe=recipe, trigger=trigger, records=records, jobs=jobs)  # fmt: skip


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
