"""``hookline run``: run a recipe once; and the options ``hookline jobs`` shares with it.

``run`` checks the recipe statically first (nothing is sent for a recipe with a problem),
opens its connections, and then: runs a manual recipe once with ``--input`` values, runs one
poll cycle of a poll recipe and a job per new event, or runs one job on the event in
``--event FILE``. Exit codes: 0 when every job succeeds (or is skipped), 1 when any fails or
what was given cannot be used (the recipe, an input, a connection), 2 for bad usage, 130 when
stopped by SIGTERM or Ctrl-C.

Jobs are claimed before they run (``hookline.run.claims``), so a ``run`` and a ``serve`` (or
two runs) of one recipe never run the same job, and a run picks up the jobs a stopped or
crashed run left: interrupted ones resume at their first unfinished step. Ctrl-C (or
SIGTERM) starts no new job and gives the running one ``--grace`` seconds; a second Ctrl-C
interrupts it now.

Job history lives in the state store: ``--state`` takes a SQLite path or URL, or a
PostgreSQL URL; the default is ``.hookline/state.db``. The run's connections keep their rate
budgets and sessions there too, shared with every other command given the same store.
``--sandbox`` runs the recipe against fresh sandboxes served for the run
(``hookline.run.sandboxed``), with a temporary state store unless ``--state`` is given, since
a cursor saved against one sandbox means nothing to the next. A webhook recipe run with
``--sandbox`` and no ``--event`` receives a real delivery: the sandbox is pointed at a receiver
served for the run and made to send one event. A command returns its exit code
(``exits``); errors are the ``hookline`` group's to report, with the exit code of every
command.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from hookline.cli.connections import connections_option, state_option
from hookline.cli.executors import build_executor
from hookline.cli.inputs import read_inputs
from hookline.cli.progress import JsonLinesReporter, Reporter, TerminalReporter
from hookline.errors import ConfigurationError, HooklineError
from hookline.plugins.records import ExecutorConfig
from hookline.recipes.load import load_recipe
from hookline.recipes.model import ManualTrigger, Recipe, manual_inputs
from hookline.run.claims import Claims, resumable_jobs
from hookline.run.connections import load_connections
from hookline.run.cycles import trigger_states
from hookline.run.jobs import DRY_RUN_ID, JobRunner, new_event_key
from hookline.run.listener import receive_from_sandbox
from hookline.run.pool import ConnectionPool
from hookline.run.sandboxed import (
    ServedSandbox,
    made_up_credentials,
    sandboxed,
    with_sandbox_connections,
)
from hookline.run.secrets import masked, secret_values
from hookline.run.shutdown import Shutdown
from hookline.run.store import JobRecord, SqlStore, open_store
from hookline.run.triggers import (
    PollResult,
    event_for,
    example_event,
    first_poll,
    given_event,
    manual_event,
    poll,
    read_event,
    spec_trigger,
)
from hookline.spec.catalog import Catalog
from hookline.spec.model import PollTrigger

T = TypeVar("T")


def json_flag(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A ``--json`` flag (``as_json``) whose help says when output is JSON without it."""
    return click.option("--json", "as_json", is_flag=True, help=help)


json_option = json_flag("Write JSON lines (the default off a terminal).")
"""The ``--json`` flag of a command whose output is JSON lines off a terminal anyway."""


def grace_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--grace SECONDS`` option."""
    return click.option(
        "--grace",
        type=click.FloatRange(min=0),
        default=30.0,
        show_default=True,
        help="Seconds a running job may take to finish after SIGTERM or Ctrl-C; it is then "
        "interrupted, and `hookline jobs rerun ID` resumes it at its first unfinished step.",
    )(function)


def exits(function: Callable[..., int]) -> Callable[..., None]:
    """Exit with the code the command returns; a hookline error prints and exits with its own.

    The ``hookline`` group does the same for every command; this keeps a command that is
    invoked on its own (embedded, or in tests) saying the same.
    """

    @wraps(function)
    def run(*args: Any, **kwargs: Any) -> None:
        """Run the command and exit with its code."""
        try:
            code = function(*args, **kwargs)
        except HooklineError as exc:
            if getattr(click.get_current_context().find_root().obj, "debug", False):
                raise
            text = str(exc)
            click.echo(text if "\n" in text else f"error: {text}", err=True)
            sys.exit(exc.exit_code)
        sys.exit(code)

    return run


def reporter_for(as_json: bool) -> Reporter:
    """JSON lines with ``--json`` or off a terminal, else the live display."""
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
    help="An input of a manual recipe, read as its declared type (repeatable; a repeated "
    "key makes a list).",
)
@click.option(
    "--event",
    "event_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Run one job on this trigger event (a JSON file): a webhook's body, a polled "
    "record, or a manual recipe's inputs.",
)
@state_option
@connections_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Render every step with the actions' example outputs standing in (the file "
    "connector answers for real, keeping what it writes in memory); send nothing, record "
    "nothing, print the plan, credentials shown as ***. The connections need their values "
    "as for a run (with --sandbox, the sandboxes' are used).",
)
@click.option(
    "--sandbox",
    "in_sandboxes",
    is_flag=True,
    help="Serve a fresh sandbox for each connection of a connector that has one, on "
    "loopback for this run only, and point the connection at it; keep job history in a "
    "temporary store unless --state is given.",
)
@grace_option
@json_option
@click.pass_obj
@exits
def run(
    app: Any,
    recipe_file: Path,
    inputs: tuple[str, ...],
    event_file: Path | None,
    state: str | None,
    connections_file: Path | None,
    dry_run: bool,
    in_sandboxes: bool,
    grace: float,
    as_json: bool,
) -> int:
    """Run a recipe once: a manual recipe, one poll cycle, or one job on --event FILE.

    Exits 0 when every job succeeds, 1 when any fails (the summary names the failed step)
    or what was given cannot be used, 2 for bad usage, 130 when stopped by SIGTERM or Ctrl-C
    (what did not run stays queued for the next run).
    """
    catalog: Catalog = app.catalog
    env = dict(os.environ)
    connections = load_connections(catalog, connections_file, environ=env)
    made: dict[str, str] = {}
    if in_sandboxes:
        connections = with_sandbox_connections(connections, catalog.sandboxes)
        made = made_up_credentials([recipe_file], catalog, connections.connectors, env)
        env.update(made)
    recipe = load_recipe(recipe_file, catalog, env=env, connectors=connections.connectors)
    payload = _payload(recipe, inputs, event_file)
    reporter = reporter_for(as_json)
    pool = ConnectionPool(catalog, env=env, connections=connections, dry_run=dry_run)
    options = _Options(
        catalog, state, dry_run, grace, made_up=tuple(sorted(made)), event_file=event_file
    )
    if in_sandboxes:
        return _run_in_sandboxes(recipe, pool, payload, options, reporter)
    return asyncio.run(_run(recipe, pool, payload, options, reporter))


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
        payload = read_event(event_file)
        if not isinstance(trigger, ManualTrigger):
            return payload  # checked against the trigger's event schema once its spec is open
        with _named(event_file):
            return manual_event(trigger, payload)
    if isinstance(trigger, ManualTrigger):
        return manual_inputs(trigger, read_inputs(pairs, trigger.inputs_schema["properties"]))
    return None


@dataclass(frozen=True, slots=True)
class _Options:
    """What the command's options say about running, beyond the recipe and its event."""

    catalog: Catalog
    state: str | None
    dry_run: bool
    grace: float
    served: tuple[ServedSandbox, ...] = ()
    made_up: tuple[str, ...] = ()
    event_file: Path | None = None
    kept: bool = True
    """Whether the job history outlives the run (not in a ``--sandbox`` run's own store)."""


@contextmanager
def _named(event_file: Path | None) -> Iterator[None]:
    """Name ``event_file`` in a ``ConfigurationError`` about the event read from it."""
    try:
        yield
    except ConfigurationError as exc:
        if event_file is None:
            raise
        raise ConfigurationError(f"{event_file}: {exc}") from None


def _run_in_sandboxes(
    recipe: Recipe, pool: ConnectionPool, payload: Any, options: _Options, reporter: Reporter
) -> int:
    """``_run`` with the recipe pointed at sandboxes served for the run, then stopped."""
    with ExitStack() as stack:
        pointed, served = stack.enter_context(sandboxed(recipe, options.catalog.sandboxes))
        notes = [_served_note(each) for each in served]
        if options.made_up:
            said = ", ".join(options.made_up)
            notes.append((f"made up {said} for this run: the sandbox sends what it expects", {}))
        options = replace(options, served=tuple(served))
        if options.state is None and not options.dry_run:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="hookline-"))
            options = replace(options, state=str(Path(folder) / "state.db"), kept=False)
            notes.append(("job history is kept for this run only; give --state to keep it", {}))
        return asyncio.run(_run(pointed, pool, payload, options, reporter, notes))


def _served_note(served: ServedSandbox) -> tuple[str, dict[str, Any]]:
    message = f"connection {served.connection!r}: {served.sandbox.title} sandbox at {served.url}"
    return message, {
        "connection": served.connection,
        "sandbox": served.sandbox.name,
        "url": served.url,
    }


async def _run(
    recipe: Recipe,
    pool: ConnectionPool,
    payload: Any,
    options: _Options,
    reporter: Reporter,
    notes: Sequence[tuple[str, dict[str, Any]]] = (),
) -> int:
    if options.dry_run:
        async with pool:
            pool.open(recipe)
            runner = JobRunner(recipe, pool, None, env=pool.env, dry_run=True, observer=reporter)
            _start(reporter, recipe, notes, dry_run=True)
            planned = _dry_run(recipe, pool, payload, runner, reporter, options.event_file)
            return await reported(reporter, planned)
    executor = build_executor(options.catalog, "inline", ExecutorConfig())
    store = open_store(options.state, options.catalog.pm)
    try:
        pool.share(store, on_wait=reporter.waiting)
        async with pool:
            pool.open(recipe)
            claims = Claims(store)
            runner = JobRunner(recipe, pool, store, env=pool.env, observer=reporter, claims=claims)
            _start(reporter, recipe, notes, dry_run=False)
            async with Shutdown() as shutdown, claims.renewing():

                async def work() -> None:
                    jobs = await _jobs(recipe, pool, store, claims, payload, reporter, options)
                    await executor.run(runner, jobs, stop=shutdown.requested)

                return await stoppable(
                    reporter, work(), shutdown, options.grace, resumable=options.kept
                )
    finally:
        await store.close()


async def stoppable(
    reporter: Reporter,
    work: Coroutine[Any, Any, None],
    shutdown: Shutdown,
    grace: float,
    *,
    resumable: bool = True,
) -> int:
    """``reported(work)``, stopping as ``shutdown`` asks: the exit code, 130 if stopped.

    On a first signal no new job starts and the running one has ``grace`` seconds; it is
    interrupted then, or at a second signal, and named with the command that resumes it
    when its history is ``resumable`` (kept after the run).
    """
    task = asyncio.create_task(work)
    asked = asyncio.create_task(shutdown.requested.wait())
    try:
        await asyncio.wait({task, asked}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        asked.cancel()
    if not task.done():
        reporter.note(
            f"stopping: the running job has {grace:g}s to finish (Ctrl-C again interrupts it); "
            "jobs not started stay queued for the next run"
        )
        await shutdown.finish([task], grace)
    stopped = shutdown.requested.is_set()
    for outcome in reporter.outcomes if resumable else ():
        if outcome.status == "interrupted":
            short = outcome.job_id[:12]
            reporter.note(
                f"job {short} was interrupted; `hookline jobs rerun {short}` resumes it at its "
                "first unfinished step",
                job=outcome.job_id,
            )
    if task.cancelled():
        return reporter.finish(stopped=stopped)
    return await reported(reporter, task, stopped=stopped)


def _start(
    reporter: Reporter,
    recipe: Recipe,
    notes: Sequence[tuple[str, dict[str, Any]]],
    *,
    dry_run: bool,
) -> None:
    reporter.start(recipe.name, recipe.trigger.event, dry_run=dry_run)
    for message, data in notes:
        reporter.note(message, **data)


async def reported(reporter: Reporter, work: Awaitable[object], *, stopped: bool = False) -> int:
    """Run ``work``, then show the summary; return the exit code (130 if ``stopped``).

    An error that ends the run early (a poll the platform refused) is told by ``abort``
    instead of a summary, and raised.
    """
    try:
        await work
    except BaseException as exc:
        reporter.abort(exc)
        raise
    return reporter.finish(stopped=stopped)


async def _dry_run(
    recipe: Recipe,
    pool: ConnectionPool,
    payload: Any,
    runner: JobRunner,
    reporter: Reporter,
    event_file: Path | None,
) -> None:
    with _named(event_file):
        event = await _dry_run_event(recipe, pool, payload, reporter)
    if event is not None:
        key, data = event
        await runner.run_job(
            JobRecord(DRY_RUN_ID, recipe.name, recipe.path, key, data, "queued", 0.0)
        )


async def _jobs(
    recipe: Recipe,
    pool: ConnectionPool,
    store: SqlStore,
    claims: Claims,
    payload: Any,
    reporter: Reporter,
    options: _Options,
) -> list[JobRecord]:
    """The jobs this run makes: one for a manual run or a given event, or a poll's; for a
    webhook recipe in sandboxes, the job of an event the sandbox sends."""
    if isinstance(recipe.trigger, ManualTrigger):
        paths = [path for path, _ in secret_values(recipe.trigger.inputs_schema, payload, {})]
        kept = masked(payload, paths)  # job history keeps no secret input
        job = await store.create_job(recipe.name, recipe.path, new_event_key(), kept)
        return [] if job is None else [dataclasses.replace(job, event=payload)]
    if payload is not None:
        with _named(options.event_file):
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
    if options.served and not isinstance(spec_trigger(recipe, pool)[1], PollTrigger):
        await receive_from_sandbox(recipe, pool, store, options.served, note=reporter.note)
        return await resumable_jobs(store, recipe.name)
    result = await _held_poll(recipe, pool, store, claims, reporter)
    reporter.polled(result.records, len(result.jobs), result.cursor)
    return result.jobs


async def _held_poll(
    recipe: Recipe, pool: ConnectionPool, store: SqlStore, claims: Claims, reporter: Reporter
) -> PollResult:
    """One poll cycle under the trigger's poll lease, which a serving process may hold: the
    run polls only when none does, so a trigger is never read by two processes at once.

    A holder that lets the trigger go between the refusal and the look at who holds it has
    freed it: the run takes it then, rather than refusing without a holder to name.
    """
    spec, found, _ = spec_trigger(recipe, pool)
    if not isinstance(found, PollTrigger):
        return await poll(recipe, pool, store)  # it says why a webhook recipe is not polled
    trigger = spec.event
    while await claims.hold_trigger(recipe.name, trigger) is None:
        states = await trigger_states(store, [recipe.name])
        now = time.time()
        holder = next((s.polled_by(now) for s in states if s.trigger == trigger), None)
        if holder is None:
            continue
        raise ConfigurationError(
            f"{recipe.name}: {trigger} is polled by another process now ({holder}), whose next "
            "cycle reads what is new; `hookline triggers` shows it. Run it here once that "
            "process stops"
        )
    try:
        return await poll(recipe, pool, store, on_record=reporter.reading, holder=claims.owner)
    finally:
        await claims.let_go(recipe.name, trigger)


async def _dry_run_event(
    recipe: Recipe, pool: ConnectionPool, payload: Any, reporter: Reporter
) -> tuple[str, Any] | None:
    """The event a dry run uses: the given one, or the trigger's first example."""
    if recipe.is_manual or payload is not None:
        found = event_for(recipe, pool, payload if payload is not None else {})
        if found is None:
            reporter.note("the event does not pass the trigger's filter; no job")
        return found
    request = await first_poll(recipe, pool)
    if request is not None:
        method, url = request
        reporter.note(f"a first poll would send {method} {url}", method=method, url=url)
    return example_event(recipe, pool)
