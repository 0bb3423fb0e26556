"""``hookline run`` and ``hookline jobs``: run a recipe once, and read or rerun job history.

``run`` checks the recipe statically first (nothing is sent for a recipe with a problem),
opens its connections, and then: runs a manual recipe once with ``--input`` values, runs one
poll cycle of a poll recipe and a job per new event, or runs one job on the event in
``--event FILE``. Exit codes: 0 when every job succeeds (or is skipped), 1 when any fails,
2 for invalid input (the recipe, an option, an input, a connection).

Job history lives in the state store: ``--state`` takes a SQLite path or URL, or a
PostgreSQL URL; the default is ``.hookline/state.db``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .catalog import Catalog
from .connections import load_connections
from .errors import ConfigurationError, HooklineError, InvalidDocumentError
from .jobs import DRY_RUN_ID, JobRunner, new_event_key
from .plugins import collect_named
from .pool import ConnectionPool
from .progress import JsonLinesReporter, Reporter, TerminalReporter
from .recipe import ManualTrigger, Recipe, load_recipe
from .spec import PollTrigger
from .store import DEFAULT_STATE, JobRecord, SqlStore, open_store
from .triggers import (
    event_for,
    first_request,
    given_event,
    manual_inputs,
    poll,
    spec_trigger,
    with_defaults,
)

INVALID_INPUT = 2
T = TypeVar("T")


def _state_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--state",
        metavar="URL",
        envvar="HOOKLINE_STATE",
        help=f"The state store: a SQLite path or URL, or a postgresql:// URL "
        f"(default: $HOOKLINE_STATE or {DEFAULT_STATE}).",
    )(function)


def _connections_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--connections",
        "connections_file",
        metavar="FILE",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The connections file (default: $HOOKLINE_CONNECTIONS or .hookline/connections.yaml).",
    )(function)


def _json_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--json", "as_json", is_flag=True, help="Write JSON lines (the default off a terminal)."
    )(function)


def _exits(function: Callable[..., int]) -> Callable[..., None]:
    """Turn hookline errors into a message and exit code: 2 for invalid input, else 1."""

    @wraps(function)
    def run(*args: Any, **kwargs: Any) -> None:
        """Run the command and exit with its code."""
        try:
            code = function(*args, **kwargs)
        except (InvalidDocumentError, ConfigurationError) as exc:
            _error(exc)
            sys.exit(INVALID_INPUT)
        except HooklineError as exc:
            _error(exc)
            sys.exit(exc.exit_code)
        sys.exit(code)

    return run


def _error(exc: HooklineError) -> None:
    text = str(exc)
    click.echo(text if "\n" in text else f"error: {text}", err=True)


def _reporter(as_json: bool) -> Reporter:
    if as_json or not sys.stdout.isatty():
        return JsonLinesReporter()
    return TerminalReporter()


# ---------------------------------------------------------------- hookline run


@click.command("run")
@click.argument("recipe_file", metavar="RECIPE", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    metavar="KEY=VALUE",
    help="An input of a manual recipe (repeatable); read as its declared type.",
)
@click.option(
    "--event",
    "event_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Run one job on this trigger event (a JSON file): a webhook's body, a polled "
    "record, or a manual recipe's inputs.",
)
@_state_option
@_connections_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Render every step with the actions' example outputs standing in; send nothing, "
    "record nothing, print the plan.",
)
@_json_option
@click.pass_obj
@_exits
def run(
    app: Any,
    recipe_file: Path,
    inputs: tuple[str, ...],
    event_file: Path | None,
    state: str | None,
    connections_file: Path | None,
    dry_run: bool,
    as_json: bool,
) -> int:
    """Run a recipe once: a manual recipe, one poll cycle, or one job on --event FILE.

    Exits 0 when every job succeeds, 1 when any fails (the summary names the failed step),
    2 for invalid input.
    """
    catalog: Catalog = app.catalog
    env = dict(os.environ)
    connections = load_connections(catalog, connections_file, environ=env)
    recipe = load_recipe(recipe_file, catalog, env=env, connections=connections)
    payload = _payload(recipe, inputs, event_file)
    reporter = _reporter(as_json)
    pool = ConnectionPool(catalog, env=env, connections=connections)
    return asyncio.run(_run(recipe, pool, catalog, payload, state, dry_run, reporter))


def _payload(recipe: Recipe, pairs: tuple[str, ...], event_file: Path | None) -> Any:
    """The event the options give: a manual recipe's inputs, a file's event, or None (poll)."""
    trigger = recipe.trigger
    if pairs and not isinstance(trigger, ManualTrigger):
        raise ConfigurationError(
            f"--input is for manual recipes; {recipe.name!r} runs on {trigger.event} events "
            "(give one with --event FILE)"
        )
    if event_file is not None:
        if pairs:
            raise ConfigurationError("give the inputs with --input or in --event FILE, not both")
        try:
            return orjson.loads(event_file.read_bytes())
        except OSError as exc:
            raise ConfigurationError(f"cannot read {str(event_file)!r}: {exc.strerror}") from None
        except orjson.JSONDecodeError as exc:
            raise ConfigurationError(f"{event_file} is not JSON: {exc}") from None
    if isinstance(trigger, ManualTrigger):
        return manual_inputs(trigger, dict(_pair(pair, trigger) for pair in pairs))
    return None


def _pair(pair: str, trigger: ManualTrigger) -> tuple[str, Any]:
    key, separator, text = pair.partition("=")
    if not separator or not key:
        raise ConfigurationError(f"--input {pair!r} is not KEY=VALUE")
    schema = trigger.inputs_schema["properties"].get(key)
    kind = schema.get("type") if isinstance(schema, Mapping) else None
    if kind == "string":
        return key, text
    try:
        return key, orjson.loads(text)
    except orjson.JSONDecodeError:
        return key, text


async def _run(
    recipe: Recipe,
    pool: ConnectionPool,
    catalog: Catalog,
    payload: Any,
    state: str | None,
    dry_run: bool,
    reporter: Reporter,
) -> int:
    async with pool:
        pool.open(recipe)
        trigger = recipe.trigger.event
        if dry_run:
            runner = JobRunner(recipe, pool, None, env=pool.env, dry_run=True, observer=reporter)
            reporter.start(recipe.name, trigger, dry_run=True)
            try:
                event = _dry_run_event(recipe, pool, payload, reporter)
                if event is not None:
                    job = JobRecord(
                        DRY_RUN_ID, recipe.name, recipe.path, event[0], event[1], "queued", 0.0
                    )
                    await runner.run_job(job)
            finally:
                code = reporter.finish()
            return code
        executor = _executor(catalog)
        store = open_store(state, catalog.pm)
        try:
            runner = JobRunner(recipe, pool, store, env=pool.env, observer=reporter)
            reporter.start(recipe.name, trigger, dry_run=False)
            try:
                jobs = await _jobs(recipe, pool, store, payload, reporter)
                await executor.run(runner, jobs)
            finally:
                code = reporter.finish()
            return code
        finally:
            await store.close()


async def _jobs(
    recipe: Recipe, pool: ConnectionPool, store: SqlStore, payload: Any, reporter: Reporter
) -> list[JobRecord]:
    """The jobs this run makes: one for a manual run or a given event, or a poll's."""
    if recipe.is_manual:
        job = await store.create_job(recipe.name, recipe.path, new_event_key(), payload)
        return [job] if job is not None else []
    if payload is not None:
        job, new = await given_event(recipe, pool, store, payload)
        if job is None:
            reporter.note("the event does not pass the trigger's filter; no job")
            return []
        if not new:
            reporter.note(
                f"event {job.event_key!r} already has job {job.id} ({job.status}); "
                f"`hookline jobs rerun {job.id[:12]}` runs it again",
                job=job.id,
                status=job.status,
            )
            return []
        return [job]
    _, found, _ = spec_trigger(recipe, pool)
    if not isinstance(found, PollTrigger):
        raise ConfigurationError(
            f"{recipe.name!r} runs on webhook events, which the platform sends; run one "
            "with --event FILE"
        )
    result = await poll(recipe, pool, store)
    reporter.polled(result.records, len(result.jobs), result.cursor)
    return result.jobs


def _dry_run_event(
    recipe: Recipe, pool: ConnectionPool, payload: Any, reporter: Reporter
) -> tuple[str, Any] | None:
    """The event a dry run uses: the given one, or the trigger's first example."""
    if recipe.is_manual or payload is not None:
        found = event_for(recipe, pool, payload if payload is not None else {})
        if found is None:
            reporter.note("the event does not pass the trigger's filter; no job")
        return found
    event_trigger, trigger, connection = spec_trigger(recipe, pool)
    if isinstance(trigger, PollTrigger):
        inputs = with_defaults(trigger.input_schema, event_trigger.input.render({"env": pool.env}))
        initial = trigger.cursor_initial
        cursor = None if initial is None else initial.render(connection.context(input=inputs))
        request = first_request(
            connection, trigger, connection.context(input=inputs, cursor=cursor)
        )
        url = connection.redactor.redact(str(request.url))
        reporter.note(
            f"a first poll would send {request.method} {url}", method=request.method, url=url
        )
    if not trigger.examples:
        raise ConfigurationError(
            f"{trigger.name} has no example event to stand in; give one with --event FILE"
        )
    example = trigger.examples[0].output
    return "example", example


def _executor(catalog: Catalog) -> Any:
    executors = collect_named(catalog.pm, "register_executors", "executor")
    if "inline" not in executors:
        raise ConfigurationError("no executor named 'inline' is registered (hookline.jobs)")
    return executors["inline"]()


# ---------------------------------------------------------------- hookline jobs


@click.group("jobs", invoke_without_command=True)
@click.option("--recipe", metavar="NAME", help="Only this recipe's jobs.")
@click.option("--failed", is_flag=True, help="Only failed jobs (outcome unknown included).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@_state_option
@_json_option
@click.pass_context
def jobs(
    ctx: click.Context,
    recipe: str | None,
    failed: bool,
    limit: int,
    state: str | None,
    as_json: bool,
) -> None:
    """List recent jobs (newest first); `jobs show ID` and `jobs rerun ID` for one job."""
    ctx.meta["hookline.state"] = state
    if ctx.invoked_subcommand is None:
        _listing(ctx.obj, recipe, failed, limit, state, as_json)


@_exits
def _listing(
    app: Any, recipe: str | None, failed: bool, limit: int, state: str | None, as_json: bool
) -> int:
    async def fetch(store: SqlStore) -> list[JobRecord]:
        """The jobs asked for."""
        return await store.list_jobs(recipe=recipe, failed=failed, limit=limit)

    found = _with_store(app, state, fetch)
    if as_json or not sys.stdout.isatty():
        for job in found:
            click.echo(json.dumps(_job_data(job), default=str))
        return 0
    table = Table(
        "job",
        "recipe",
        "status",
        "created",
        "seconds",
        "failed step",
        "error",
        box=None,
        show_edge=False,
    )
    for job in found:
        error = job.error or {}
        table.add_row(
            job.id[:12],
            job.recipe,
            _status(job.status),
            _time(job.created_at),
            _duration(job),
            str(error.get("step") or ""),
            _short(str(error.get("message") or "")),
        )
    Console().print(table if found else "no jobs")
    return 0


@jobs.command("show")
@click.argument("job_id", metavar="ID")
@_state_option
@_json_option
@click.pass_context
@_exits
def show(ctx: click.Context, job_id: str, state: str | None, as_json: bool) -> int:
    """Show one job (an id or its first characters): event, status, every step."""
    state = state or ctx.meta.get("hookline.state")

    async def fetch(store: SqlStore) -> JobRecord:
        """The job asked for."""
        return await _find(store, job_id)

    job = _with_store(ctx.obj, state, fetch)
    if as_json or not sys.stdout.isatty():
        data = _job_data(job)
        data["steps"] = [_step_data(step) for step in job.steps]
        click.echo(json.dumps(data, indent=2, default=str))
        return 0
    console = Console()
    console.print(Text(f"job {job.id}", style="bold"), _status(job.status))
    console.print(f"recipe {job.recipe} ({job.recipe_file})", highlight=False)
    console.print(f"event {job.event_key}: {json.dumps(job.event, default=str)}", highlight=False)
    console.print(f"created {_time(job.created_at)}, ran {_duration(job)}s", highlight=False)
    if job.error:
        console.print(
            f"error at {job.error.get('step')}: {job.error.get('message')}",
            style="red",
            highlight=False,
        )
    if job.outputs is not None:
        console.print(f"outputs {json.dumps(job.outputs, default=str)}", highlight=False)
    table = Table(
        "step", "id", "action", "status", "tries", "seconds", "error", box=None, show_edge=False
    )
    for step in job.steps:
        table.add_row(
            step.path,
            step.step_id or "",
            step.action or "",
            _status(step.status),
            str(step.attempts),
            _step_seconds(step),
            _short(str((step.error or {}).get("message") or "")),
        )
    console.print(table)
    return 0


@jobs.command("rerun")
@click.argument("job_id", metavar="ID")
@_state_option
@_connections_option
@click.option(
    "--resend",
    is_flag=True,
    help="Rerun a job whose outcome is unknown, sending its unknown step again (check the "
    "platform first: it may have applied it).",
)
@_json_option
@click.pass_context
@_exits
def rerun(
    ctx: click.Context,
    job_id: str,
    state: str | None,
    connections_file: Path | None,
    resend: bool,
    as_json: bool,
) -> int:
    """Run a failed job again, from its failed step, reusing earlier steps' outputs."""
    state = state or ctx.meta.get("hookline.state")
    catalog: Catalog = ctx.obj.catalog
    env = dict(os.environ)
    reporter = _reporter(as_json)

    async def again(store: SqlStore) -> int:
        """Check the job may run again, then run it with the recipe as it is now."""
        job = await _find(store, job_id)
        if job.status in ("succeeded", "skipped"):
            raise ConfigurationError(f"job {job.id} {job.status}; there is nothing to rerun")
        if job.status == "outcome_unknown" and not resend:
            raise ConfigurationError(
                f"job {job.id} stopped because the outcome of {_failed_step(job)} is unknown: "
                "the platform may have applied it. Check there; then rerun with --resend to "
                "send it again, or leave the job as it is"
            )
        connections = load_connections(catalog, connections_file, environ=env)
        recipe = load_recipe(Path(job.recipe_file), catalog, env=env, connections=connections)
        if recipe.name != job.recipe:
            raise ConfigurationError(
                f"{job.recipe_file} is now recipe {recipe.name!r}, not {job.recipe!r}"
            )
        async with ConnectionPool(catalog, env=env, connections=connections) as pool:
            pool.open(recipe)
            runner = JobRunner(recipe, pool, store, env=env, observer=reporter)
            reporter.start(recipe.name, f"rerun of {job.id[:12]}", dry_run=False)
            try:
                await runner.run_job(job)
            finally:
                code = reporter.finish()
        return code

    return _with_store(ctx.obj, state, again)


# ---------------------------------------------------------------- helpers


def _with_store(app: Any, state: str | None, work: Callable[[SqlStore], Awaitable[T]]) -> T:
    async def go() -> T:
        """Run ``work`` with the store open, and close it."""
        store = open_store(state, app.pm)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


async def _find(store: SqlStore, job_id: str) -> JobRecord:
    ids = await store.find_job(job_id)
    if not ids:
        raise ConfigurationError(f"no job {job_id!r} in the state store")
    if len(ids) > 1 and job_id not in ids:
        raise ConfigurationError(f"{job_id!r} names several jobs: {', '.join(ids)}")
    job = await store.get_job(job_id if job_id in ids else ids[0])
    assert job is not None
    return job


def _failed_step(job: JobRecord) -> str:
    return str((job.error or {}).get("step") or "a step")


def _job_data(job: JobRecord) -> dict[str, Any]:
    return {
        "id": job.id,
        "recipe": job.recipe,
        "recipe_file": job.recipe_file,
        "event_key": job.event_key,
        "event": job.event,
        "status": job.status,
        "error": job.error,
        "outputs": job.outputs,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def _step_data(step: Any) -> dict[str, Any]:
    return {
        "path": step.path,
        "id": step.step_id,
        "action": step.action,
        "status": step.status,
        "attempts": step.attempts,
        "input": step.input,
        "output": step.output,
        "error": step.error,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
    }


def _status(status: str) -> Text:
    style = {"succeeded": "green", "failed": "red", "outcome_unknown": "red"}.get(status, "yellow")
    return Text(status, style=style)


def _time(stamp: float | None) -> str:
    return "" if stamp is None else datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")


def _duration(job: JobRecord) -> str:
    if job.started_at is None or job.finished_at is None:
        return ""
    return f"{job.finished_at - job.started_at:.2f}"


def _step_seconds(step: Any) -> str:
    if step.started_at is None or step.finished_at is None:
        return ""
    return f"{step.finished_at - step.started_at:.2f}"


def _short(text: str, limit: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
