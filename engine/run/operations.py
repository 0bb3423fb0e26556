"""What an operator does to jobs and triggers, one implementation for the command line and
the console: find a job, queue it again to rerun, replay its event, resolve it, pause and
resume a trigger. A rerun and a replay are queued jobs handed to the installation's executor,
so with ``--executor celery`` a worker runs them, as it runs every other job.

Each action on a job is checked first (a refusal is a ``ConfigurationError`` saying why and
what to do instead), then recorded in the job's history with who and when
(``hookline.run.audit``), then done.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import UTC, datetime

from hookline.errors import ConfigurationError, UnknownNameError
from hookline.recipes.model import ManualTrigger, Recipe
from hookline.run import cycles
from hookline.run.audit import record_action
from hookline.run.claims import is_stale
from hookline.run.inbox import REPLAY, inbox_events, replay_jobs
from hookline.run.secrets import masked_inputs
from hookline.run.store import JobRecord, SqlCursor, SqlStore

OUTCOMES = ("succeeded", "failed")
"""What an operator may resolve a job whose outcome is unknown as."""


async def find_job(store: SqlStore, job_id: str) -> JobRecord:
    """The job with id ``job_id``, or the one whose id starts with it, with its steps."""
    ids = await store.find_job(job_id)
    if not ids:
        raise UnknownNameError(f"no job {job_id!r} in the state store")
    if len(ids) > 1 and job_id not in ids:
        raise ConfigurationError(f"{job_id!r} names several jobs: {', '.join(ids)}")
    job = await store.get_job(job_id if job_id in ids else ids[0])
    assert job is not None
    return job


def failed_step(job: JobRecord) -> str:
    """The step a job stopped at, for messages."""
    return str((job.error or {}).get("step") or "a step")


def check_rerun(job: JobRecord, recipe: Recipe | None, *, resend: bool) -> None:
    """Refuse a rerun that must not happen: of a job that succeeded, one whose outcome is
    unknown (unless ``resend``), one running elsewhere, or (given the ``recipe`` it would run
    with) one of another recipe or whose secret inputs are gone."""
    if job.status in ("succeeded", "skipped"):
        raise ConfigurationError(f"job {job.id} {job.status}; there is nothing to rerun")
    if job.status == "outcome_unknown" and not resend:
        raise ConfigurationError(
            f"job {job.id} stopped because the outcome of {failed_step(job)} is unknown: "
            "the platform may have applied it. Check there; then rerun with --resend to "
            "send it again, or `hookline jobs resolve` it as succeeded or failed"
        )
    if job.status == "running" and not is_stale(job, time.time()):
        raise ConfigurationError(f"job {job.id} is running in another process ({job.lease_owner})")
    if recipe is None:
        return
    if recipe.name != job.recipe:
        raise ConfigurationError(
            f"{job.recipe_file} is now recipe {recipe.name!r}, not {job.recipe!r}"
        )
    if isinstance(recipe.trigger, ManualTrigger):
        missing = masked_inputs(recipe.trigger.inputs_schema, job.event)
        if missing:
            raise ConfigurationError(
                f"job {job.id} cannot run again: its secret inputs ({', '.join(missing)}) "
                "are not kept in job history; run the recipe again with --input"
            )


async def requeue(
    store: SqlStore, job: JobRecord, recipe: Recipe | None, *, resend: bool, actor: str
) -> JobRecord:
    """Queue ``job`` again to rerun from its failed step with ``recipe`` (as it is now);
    checked (``check_rerun``), then recorded; the job as queued.

    Whichever executor runs it then (``run`` or ``dispatch`` with ``again``: in this process
    or on a worker) claims it as it claims any queued job, while its trigger is paused too.
    The change holds only if the job is still as it was checked: a job another operator
    reran meanwhile is refused.
    """
    check_rerun(job, recipe, resend=resend)

    def work(cur: SqlCursor) -> int:
        cur.execute(
            "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_until = NULL "
            "WHERE id = ? AND status = ? AND COALESCE(lease_owner, '') = ?",
            (job.id, job.status, job.lease_owner or ""),
        )
        return int(cur.rowcount)

    if await store.transaction(work) != 1:
        raise ConfigurationError(f"job {job.id} changed while it was checked; look at it again")
    await record_action(store, job.id, "rerun", actor, {"resend": resend} if resend else None)
    return replace(job, status="queued", lease_owner=None, lease_until=None)


async def resolve(store: SqlStore, job: JobRecord, outcome: str, actor: str) -> None:
    """Settle a job whose outcome is unknown as ``outcome``, as the operator found it."""
    if outcome not in OUTCOMES:
        raise ConfigurationError(f"resolve a job as one of {', '.join(OUTCOMES)}, not {outcome!r}")
    if job.status != "outcome_unknown":
        raise ConfigurationError(
            f"job {job.id} is {job.status}; only a job whose outcome is unknown is resolved"
        )
    error = {**(job.error or {}), "resolved": f"{outcome}, by {actor}"}
    await record_action(store, job.id, "resolve", actor, {"as": outcome})
    await store.finish_job(job.id, outcome, error=error, outputs=job.outputs)


async def replay_job(store: SqlStore, job: JobRecord, actor: str) -> JobRecord:
    """Queue a new job for the event ``job`` ran on, from the inbox; the new job."""
    key = job.event_key.partition(REPLAY)[0]
    events = await inbox_events(store, job.recipe, keys=[key])
    if not events:
        raise ConfigurationError(
            f"the event of job {job.id} ({key!r}) is not in the inbox: only received events "
            "are replayed"
        )
    [made] = await replay_jobs(store, job.recipe, job.recipe_file, events)
    await record_action(store, job.id, "replay", actor, {"job": made.id})
    await record_action(store, made.id, "replay", actor, {"of": job.id})
    return made


async def pause(store: SqlStore, recipe: str, actor: str, *, paused: bool = True) -> None:
    """Pause (or resume) the trigger of ``recipe`` for every process sharing ``store``."""
    if not await cycles.set_paused(store, recipe, paused, actor):
        raise ConfigurationError(
            f"no trigger of recipe {recipe!r} in the state store (`hookline serve` registers "
            "the triggers it serves)"
        )


_AGO = re.compile(r"^([1-9][0-9]*)(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_moment(text: str, now: float, name: str) -> float:
    """The Unix time ``text`` names: ISO 8601 (UTC unless it says) or a duration before now
    (``30m``, ``2h``, ``1d``); ``name`` says which value it was, in the error."""
    ago = _AGO.match(text.strip())
    if ago:
        return now - int(ago.group(1)) * _UNITS[ago.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            f"{name} {text!r} is neither an ISO 8601 time (2025-03-01T08:00Z) nor a "
            "duration ago (30m, 2h, 1d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
