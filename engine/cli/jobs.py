"""``hookline jobs``: list job history, show one job, run a failed one again, resolve one.

A job is found by its id or the first characters of it. ``rerun`` loads the recipe file the
job was made from as it is now, queues the job again and runs it from the step that failed,
the recorded outputs of the steps that succeeded standing in for them (here, or on a worker
with ``--executor celery``); a job whose outcome is
unknown is rerun only with ``--resend``, once someone has checked the platform, or
``resolve``d by hand as succeeded or failed. ``--stale`` lists running jobs whose process is
gone (the next start of ``serve`` or ``run`` resumes them); ``--unknown`` those whose outcome
is unknown.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hookline.cli.connections import connections_option, no_history, state_option
from hookline.cli.executors import build_executor, executor_options
from hookline.cli.run import exits, grace_option, json_option, reporter_for, stoppable
from hookline.errors import ConfigurationError
from hookline.plugins.records import ExecutorConfig
from hookline.recipes.load import load_recipe
from hookline.run import operations
from hookline.run.audit import JobAction, command_actor, job_actions
from hookline.run.claims import Claims, stale_jobs
from hookline.run.connections import load_connections
from hookline.run.jobs import JobRunner
from hookline.run.operations import find_job
from hookline.run.pool import ConnectionPool
from hookline.run.shutdown import Shutdown
from hookline.run.store import JobRecord, SqlStore, open_store
from hookline.spec.catalog import Catalog

T = TypeVar("T")


@click.group("jobs", invoke_without_command=True)
@click.option("--recipe", metavar="NAME", help="Only this recipe's jobs.")
@click.option("--failed", is_flag=True, help="Only failed jobs (outcome unknown included).")
@click.option(
    "--unknown",
    is_flag=True,
    help="Only jobs whose outcome is unknown, for an operator to resolve.",
)
@click.option(
    "--stale",
    is_flag=True,
    help="Only running jobs whose process is gone; the next start resumes them.",
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@state_option
@json_option
@click.pass_context
def jobs(
    ctx: click.Context,
    recipe: str | None,
    failed: bool,
    unknown: bool,
    stale: bool,
    limit: int,
    state: str | None,
    as_json: bool,
) -> None:
    """List recent jobs (newest first); `jobs show|rerun|resolve ID` for one job."""
    ctx.meta["hookline.state"] = state
    if ctx.invoked_subcommand is None:
        _listing(ctx.obj, _Filter(recipe, failed, unknown, stale, limit), state, as_json)


@dataclass(frozen=True, slots=True)
class _Filter:
    """Which jobs the listing shows."""

    recipe: str | None
    failed: bool
    unknown: bool
    stale: bool
    limit: int


@exits
def _listing(app: Any, chosen: _Filter, state: str | None, as_json: bool) -> int:
    missing = no_history(state)
    if missing is not None:
        click.echo(missing, err=True)
        return 0

    async def fetch(store: SqlStore) -> list[JobRecord]:
        """The jobs asked for."""
        if chosen.stale:
            found = await stale_jobs(store, chosen.recipe)
            return found[::-1][: chosen.limit]
        statuses = ("outcome_unknown",) if chosen.unknown else ()
        return await store.list_jobs(
            recipe=chosen.recipe, failed=chosen.failed, limit=chosen.limit, statuses=statuses
        )

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
@state_option
@json_option
@click.pass_context
@exits
def show(ctx: click.Context, job_id: str, state: str | None, as_json: bool) -> int:
    """Show one job (an id or its first characters): event, status, every step, actions."""
    state = _state(ctx, state)

    async def fetch(store: SqlStore) -> tuple[JobRecord, list[JobAction]]:
        """The job asked for, and what operators did to it."""
        job = await find_job(store, job_id)
        return job, await job_actions(store, job.id)

    job, actions = _with_store(ctx.obj, state, fetch)
    if as_json or not sys.stdout.isatty():
        data = _job_data(job)
        data["steps"] = [step.data() for step in job.steps]
        data["actions"] = [action.data() for action in actions]
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
    for action in actions:
        detail = f" {json.dumps(action.detail, default=str)}" if action.detail else ""
        console.print(
            f"{_time(action.at)}  {action.action} by {action.actor}{detail}", highlight=False
        )
    return 0


@jobs.command("rerun")
@click.argument("job_id", metavar="ID")
@state_option
@connections_option
@grace_option
@click.option(
    "--resend",
    is_flag=True,
    help="Rerun a job whose outcome is unknown, sending its unknown step again (check the "
    "platform first: it may have applied it).",
)
@executor_options
@json_option
@click.pass_context
@exits
def rerun(
    ctx: click.Context,
    job_id: str,
    state: str | None,
    connections_file: Path | None,
    grace: float,
    resend: bool,
    executor_name: str,
    broker: str | None,
    queue: str,
    as_json: bool,
) -> int:
    """Run a failed job again, from its failed step, reusing earlier steps' outputs.

    With --executor celery the job is sent to the workers of `hookline worker`, and the
    command waits for it to end.
    """
    state = _state(ctx, state)
    catalog: Catalog = ctx.obj.catalog
    env = dict(os.environ)
    reporter = reporter_for(as_json)
    config = ExecutorConfig(concurrency=1, broker=broker, queue=queue)
    executor = build_executor(catalog, executor_name, config)

    async def again(store: SqlStore) -> int:
        """Check the job may run again, then run it with the recipe as it is now."""
        job = await find_job(store, job_id)
        operations.check_rerun(job, None, resend=resend)
        connections = load_connections(catalog, connections_file, environ=env)
        recipe = load_recipe(
            Path(job.recipe_file), catalog, env=env, connectors=connections.connectors
        )
        operations.check_rerun(job, recipe, resend=resend)
        pool = ConnectionPool(catalog, env=env, connections=connections)
        pool.share(store, on_wait=reporter.waiting)
        async with pool:
            pool.open(recipe)
            claims = Claims(store)
            runner = JobRunner(recipe, pool, store, env=env, observer=reporter, claims=claims)
            reporter.start(recipe.name, f"rerun of {job.id[:12]}", dry_run=False)

            async def run_it() -> None:
                queued = await operations.requeue(
                    store, job, recipe, resend=resend, actor=command_actor()
                )
                ran = await executor.run(runner, [queued], stop=shutdown.requested, again=True)
                if not ran and not shutdown.requested.is_set():
                    raise ConfigurationError(f"job {job.id} was taken by another process")

            async with Shutdown() as shutdown, claims.renewing():
                return await stoppable(reporter, run_it(), shutdown, grace)

    return _with_store(ctx.obj, state, again)


@jobs.command("resolve")
@click.argument("job_id", metavar="ID")
@click.option(
    "--as",
    "outcome",
    type=click.Choice(operations.OUTCOMES),
    required=True,
    help="What the platform shows happened: the unknown step was applied (succeeded) or "
    "not (failed; `jobs rerun` then sends it again).",
)
@state_option
@click.pass_context
@exits
def resolve(ctx: click.Context, job_id: str, outcome: str, state: str | None) -> int:
    """Settle a job whose outcome is unknown, after checking the platform."""
    state = _state(ctx, state)

    async def settle(store: SqlStore) -> int:
        """Record the operator's finding on the job."""
        job = await find_job(store, job_id)
        await operations.resolve(store, job, outcome, command_actor())
        click.echo(f"job {job.id} resolved as {outcome}")
        return 0

    return _with_store(ctx.obj, state, settle)


# ---------------------------------------------------------------- helpers


def _state(ctx: click.Context, state: str | None) -> str | None:
    """The store a subcommand uses: its own ``--state`` if given, else the group's.

    Both options read ``HOOKLINE_STATE``; a ``--state`` given to the group on the command
    line wins over the variable.
    """
    given_here = ctx.get_parameter_source("state") is ParameterSource.COMMANDLINE
    return state if given_here else ctx.meta.get("hookline.state") or state


def _with_store(app: Any, state: str | None, work: Callable[[SqlStore], Awaitable[T]]) -> T:
    """What ``work`` makes of the store ``state``; with no store, there is no job to find."""
    missing = no_history(state)
    if missing is not None:
        raise ConfigurationError(missing)

    async def go() -> T:
        """Run ``work`` with the store open, and close it."""
        store = open_store(state, app.pm)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


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
