"""Triggers: where a recipe's jobs come from.

- **Manual**: the declared inputs, defaults applied and validated, are the job's event.
- **Poll**, one cycle: the cursor saved in the state store (or the spec's ``cursor.initial``)
  goes into the trigger's request, its records are read page after page, each record's event
  key is the trigger's ``id`` and its event the record reshaped by ``select``; the new cursor
  is the greatest ``cursor.value`` seen. Each page's events go to the inbox with a job per
  unseen key as soon as the page is read (``queue_events``), so memory holds one page however
  long the read, and a read that fails midway keeps what it queued; the cursor moves once,
  after the last page (``commit_poll``), since nothing says a platform sends its records in
  cursor order: moving it per page could pass a record a later page holds. A cycle run again
  after a failure reads from the old cursor, and the unique (recipe, event key) of jobs keeps
  the events queued before from being queued twice. The jobs are handed on page by page
  (``serve`` runs them while the read goes on), or every job of the recipe that any process
  may take now (older ones a crash or a signal left behind included, ``hookline.run.claims``)
  is returned to be run.
- **A given event** (``hookline run --event FILE``): the body a webhook would carry, or a
  record a poll would read, becomes one job, as the trigger's ``filter``, ``id`` and ``select``
  say; for a manual recipe the file holds the inputs. It is checked as inputs are: against the
  trigger's event schema (its ``output``), or a manual recipe's declared inputs. The file is
  read by ``read_event``: a regular file of at most ``MAX_EVENT_BYTES``, so a pipe, a device
  or a huge file is refused before anything is read.

``id`` and ``cursor.value`` read the record as the platform sends it; ``select`` shapes the
event the recipe sees.
"""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from hookline.actions.inputs import field_name, shortened
from hookline.actions.pages import DEFAULT_MAX_PAGES, Page, PageGuard, bounded, first_request
from hookline.documents.loader import nearby_file
from hookline.errors import ConfigurationError, InvalidResponseError
from hookline.http.connection import CallPolicy, Connection
from hookline.http.responses import truthy
from hookline.recipes.model import EventTrigger, ManualTrigger, Recipe, manual_inputs, with_defaults
from hookline.run.claims import resumable_jobs
from hookline.run.jobs import new_event_key
from hookline.run.pool import ConnectionPool
from hookline.run.store import JobRecord, SqlStore
from hookline.spec.model import PollTrigger, Spec, Trigger, WebhookTrigger
from hookline.spec.params import with_params

MAX_EVENT_BYTES = 1024 * 1024
"""The largest event file ``hookline run --event`` reads."""


@dataclass(frozen=True, slots=True)
class PollResult:
    """One poll cycle: records read, the jobs to run (new and left over), the cursor saved,
    whether it moved, and how many of the events were new."""

    records: int
    jobs: list[JobRecord]
    cursor: Any
    moved: bool = False
    new: int = 0


# ---------------------------------------------------------------- poll


def spec_trigger(recipe: Recipe, pool: ConnectionPool) -> tuple[EventTrigger, Trigger, Connection]:
    """The recipe's event trigger, the spec's trigger it names, and its open connection."""
    trigger = recipe.trigger
    assert isinstance(trigger, EventTrigger), "only event recipes have a spec trigger"
    connection = pool.get(recipe, trigger.connection)
    return trigger, connection.spec.triggers[trigger.trigger], connection


async def poll(
    recipe: Recipe,
    pool: ConnectionPool,
    store: SqlStore,
    *,
    on_record: Callable[[int], None] | None = None,
    on_jobs: Callable[[list[JobRecord]], None] | None = None,
    holder: str | None = None,
) -> PollResult:
    """Run one poll cycle and queue a job per new event.

    Each page's events are queued (inbox and jobs) as soon as the page is read, and the
    cursor is saved once the last page is, so memory holds one page at a time and a cycle
    that fails midway keeps the events it queued. With ``on_jobs``, each page's new jobs are
    handed to it once committed and the result lists none; without, the result lists every
    job of the recipe any process may take now. ``holder`` is the process that holds the
    trigger's poll lease: the cursor is saved only while it still does (``LeaseLost``).
    A webhook recipe cannot be polled: ``ConfigurationError``.
    """
    trigger, found, connection = spec_trigger(recipe, pool)
    if not isinstance(found, PollTrigger):
        raise ConfigurationError(
            f"{recipe.name!r} runs on webhook events, which the platform sends: "
            "`hookline serve` receives them; run one with --event FILE, or with --sandbox to "
            "have the sandbox send one"
        )
    saved = await store.get_cursor(recipe.name, trigger.event)
    context = _poll_context(trigger, found, connection, pool.env, saved)
    greatest = context["cursor"]
    count = new = 0

    def handed(jobs: list[JobRecord]) -> None:
        nonlocal new
        new += len(jobs)
        if jobs and on_jobs is not None:
            on_jobs(jobs)

    async with aclosing(trigger_pages(connection, found, context)) as pages:
        async for records in pages:
            events: dict[str, Any] = {}
            for record in records:
                count += 1
                events.setdefault(event_key(found, record), event_of(found, record))
                if found.cursor_value is not None:
                    greatest = _greater(greatest, found.cursor_value.search(record))
                if on_record is not None:
                    on_record(count)
            if events:
                handed(await store.queue_events(recipe.name, recipe.path, list(events.items())))
    await store.commit_poll(recipe.name, recipe.path, trigger.event, greatest, [], holder=holder)
    jobs = [] if on_jobs is not None else await resumable_jobs(store, recipe.name)
    return PollResult(count, jobs, greatest, moved=greatest != saved, new=new)


async def trigger_pages(
    connection: Connection, trigger: PollTrigger, context: Mapping[str, Any]
) -> AsyncGenerator[list[Any], None]:
    """The records a poll trigger's request finds, a page at a time, as the platform sends them.

    The read is bounded as a list action's is (``hookline.actions.pages.PageGuard``): at most
    the spec's ``paginate.max_pages`` pages (else ``DEFAULT_MAX_PAGES``), none of them twice.
    """
    if connection.reads_session(trigger.request):
        await connection.ready()
    source = _TriggerSource(connection, trigger, context)
    if trigger.paginator is None:
        yield (await source.fetch(source.request({}))).records
        return
    async with aclosing(bounded(trigger.paginator.pages(source), source.guard)) as pages:
        async for page in pages:
            yield page.records


async def trigger_records(
    connection: Connection, trigger: PollTrigger, context: Mapping[str, Any]
) -> AsyncGenerator[Any, None]:
    """Every record a poll trigger's request finds, page after page (``trigger_pages``)."""
    async with aclosing(trigger_pages(connection, trigger, context)) as pages:
        async for records in pages:
            for record in records:
                yield record


async def first_poll(recipe: Recipe, pool: ConnectionPool) -> tuple[str, str] | None:
    """The method and (redacted) URL a first poll would send, for a dry run; None for webhooks.

    The cursor is the trigger's initial one, and the paginator's first-page parameters are
    set, as in the poll's own first request (``first_request``). Nothing is sent.
    """
    trigger, found, connection = spec_trigger(recipe, pool)
    if not isinstance(found, PollTrigger):
        return None
    context = _poll_context(trigger, found, connection, pool.env, None, dry_run=True)
    source = _TriggerSource(connection, found, context)
    request = await first_request(found.paginator, source)
    return request.method, connection.redactor.redact(str(request.url))


def example_event(recipe: Recipe, pool: ConnectionPool) -> tuple[str, Any]:
    """The trigger's first example event, standing in for a real one in a dry run."""
    _, found, _ = spec_trigger(recipe, pool)
    if not found.examples:
        raise ConfigurationError(
            f"{found.name} has no example event to stand in; give one with --event FILE"
        )
    return "example", found.examples[0].output


class _TriggerSource:
    """The ``PageSource`` a paginator reads a poll trigger's pages through."""

    def __init__(
        self, connection: Connection, trigger: PollTrigger, context: Mapping[str, Any]
    ) -> None:
        self.connection = connection
        self.trigger = trigger
        self.context = context
        self.label = f"{connection.spec.name}.{trigger.name}"
        self.guard = PageGuard(self.label, trigger.max_pages or DEFAULT_MAX_PAGES)
        self.policy = CallPolicy(
            action=trigger.name,
            errors=trigger.errors,
            retry=trigger.retry,
            idempotent=True,
            response=trigger.request.response,
        )

    def request(
        self, page: Mapping[str, Any], where: str = "query", values: Mapping[str, Any] | None = None
    ) -> httpx.Request:
        """The trigger's request rendered with ``page``, the paginator's ``values`` set."""
        request = self.trigger.request
        if values:
            request = with_params(request, where, values, label=self.label)
        context = {**self.context, "page": page}
        return self.connection.build_request(request, context, action=self.trigger.name)

    async def fetch(self, request: httpx.Request) -> Page:
        """Send one page request; the records are where the trigger's ``records`` says."""
        self.guard.admit()
        response = await self.connection.send(request, policy=self.policy)
        self.guard.check(response.content)
        found = self.trigger.records.search(response.data)
        if found is None:
            found = []
        if not isinstance(found, list):
            raise InvalidResponseError(
                f"{self.label}: records {self.trigger.records.source!r} did not find a list",
                connector=self.connection.spec.name,
                action=self.trigger.name,
            )
        return Page(request, response.data, response.headers, found)


# ---------------------------------------------------------------- events


def event_key(trigger: Trigger, record: Any) -> str:
    """The event key of a record or webhook body: the trigger's ``id``, as text."""
    key = trigger.id.search(record)
    if key is None or key == "":
        raise InvalidResponseError(
            f"{trigger.name}: the event has no id ({trigger.id.source!r} gives null)",
            action=trigger.name,
        )
    return key if isinstance(key, str) else str(key)


def event_of(trigger: Trigger, record: Any) -> Any:
    """The event a record or webhook body becomes: reshaped by ``select`` when there is one."""
    return record if trigger.select is None else trigger.select.search(record)


def read_event(path: Path, *, max_bytes: int = MAX_EVENT_BYTES) -> Any:
    """The JSON in the event file at ``path``: a regular file of at most ``max_bytes``.

    Anything else (a missing file, a pipe, a device such as ``/dev/zero``, a larger file,
    text that is not JSON) is a ``ConfigurationError`` that says so.
    """
    try:  # without blocking: opening a pipe would wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        near = nearby_file(path) if isinstance(exc, FileNotFoundError) else ""
        raise ConfigurationError(f"cannot read {str(path)!r}: {exc.strerror}{near}") from None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigurationError(
                f"{str(path)!r} is not a regular file; an event is read from a JSON file, not "
                "a pipe or a device"
            )
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ConfigurationError(
            f"{str(path)!r} is larger than {max_bytes:,} bytes, the most an event may be"
        )
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ConfigurationError(f"{path} is not JSON: {exc}") from None


def manual_event(trigger: ManualTrigger, payload: Any) -> dict[str, Any]:
    """A manual recipe's inputs given as an event, defaults applied and checked as ``--input``."""
    if not isinstance(payload, Mapping):
        raise ConfigurationError("the event of a manual recipe is a mapping of its inputs")
    return manual_inputs(trigger, payload)


def event_for(recipe: Recipe, pool: ConnectionPool, payload: Any) -> tuple[str, Any] | None:
    """The (event key, event) ``payload`` makes for ``recipe``; None when a filter refuses it.

    For a manual recipe the payload holds the inputs, and the key is a new one. An event that
    does not match the trigger's event schema is a ``ConfigurationError`` naming the fields.
    """
    if isinstance(recipe.trigger, ManualTrigger):
        return new_event_key(), manual_event(recipe.trigger, payload)
    _, found, connection = spec_trigger(recipe, pool)
    wanted = found.filter if isinstance(found, WebhookTrigger) else None
    if wanted is not None and not truthy(wanted.search(payload)):
        return None
    event = event_of(found, payload)
    _check_event(found, event, connection.spec)
    return event_key(found, payload), event


def _check_event(trigger: Trigger, event: Any, spec: Spec) -> None:
    """Refuse an event that does not match the shape the trigger declares for its events."""
    if trigger.output_schema is None:
        return
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

    validator = Draft202012Validator(spec.schema_with_objects(trigger.output_schema))
    errors = sorted(validator.iter_errors(event), key=lambda e: list(e.absolute_path))
    if errors:
        problems = "; ".join(
            f"field {field_name(e.absolute_path)!r}: {shortened(e.message)}"
            if e.absolute_path
            else shortened(e.message)
            for e in errors[:5]
        )
        raise ConfigurationError(
            f"the event does not match the {spec.name}.{trigger.name} event schema: {problems}"
        )


async def given_event(
    recipe: Recipe, pool: ConnectionPool, store: SqlStore, payload: Any
) -> tuple[JobRecord | None, bool]:
    """Queue one job for ``payload``: (the job, whether it is new).

    A webhook body its trigger's ``filter`` refuses gives (None, False); an event that already
    has a job gives that job and False.
    """
    found = event_for(recipe, pool, payload)
    if found is None:
        return None, False
    key, event = found
    if recipe.is_manual:
        created = await store.create_job(recipe.name, recipe.path, key, event)
        return created, created is not None
    [(job, new)] = await store.receive_events(
        [(recipe.name, recipe.path, key, event)], source="file"
    )
    return job, new


def _poll_context(
    trigger: EventTrigger,
    found: PollTrigger,
    connection: Connection,
    env: Mapping[str, str],
    cursor: Any,
    *,
    dry_run: bool = False,
) -> dict[str, Any]:
    """The poll request's context: the trigger's inputs (defaults applied) and the cursor.

    Before the first poll (``cursor`` None) the cursor is the spec's ``cursor.initial``. A dry
    run's context shows ``<session.NAME>`` placeholders.
    """
    inputs = with_defaults(found.input_schema, trigger.input.render({"env": env}))
    if cursor is None and found.cursor_initial is not None:
        cursor = found.cursor_initial.render(connection.context(dry_run=dry_run, input=inputs))
    return connection.context(dry_run=dry_run, input=inputs, cursor=cursor)


def _greater(current: Any, value: Any) -> Any:
    """The greater cursor value; a value of another type than the current one replaces it."""
    if value is None:
        return current
    if current is None:
        return value
    try:
        return value if value > current else current
    except TypeError:
        return value
