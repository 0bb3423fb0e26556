"""What the console shows, as JSON-shaped data: the pages render it and ``/api/...`` returns it.

Times are ISO 8601 in UTC (the page's script shows them in the viewer's time zone). Job
history is stored redacted already; everything of a job shown here goes through the served
connections' redactors once more, so a secret that an older history kept in clear is still
shown as ``***``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from hookline.errors import ConfigurationError, UnknownNameError
from hookline.http.auth.grants import AuthorizationCodeSession
from hookline.http.auth.session import SessionAuth
from hookline.http.connection import Connection
from hookline.http.ratelimit import Bucket, window
from hookline.run.audit import job_actions
from hookline.run.cycles import TriggerState, duration, trigger_states
from hookline.run.inbox import count_inbox
from hookline.run.operations import find_job, parse_moment
from hookline.run.store import JobRecord, SqlCursor, StepRecord, load

if TYPE_CHECKING:
    from hookline.run.serve import Service

STATUSES = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "outcome_unknown",
    "interrupted",
    "skipped",
)
"""Every job status, as the jobs filter offers them."""

PAGE = 50
"""Jobs per page."""


def iso(stamp: float | None) -> str | None:
    """A Unix time as ISO 8601 in UTC, or None."""
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- recipes and triggers


async def recipe_rows(service: Service, base_url: str) -> list[dict[str, Any]]:
    """Each served recipe with its trigger's state, inbox and health."""
    states = {state.recipe: state for state in await trigger_states(service.store)}
    now = time.time()
    rows = []
    for served in service.served():
        name = served.recipe.name
        state = states.get(name)
        schedule = served.schedule
        if served.kind == "webhook":
            schedule = f"{base_url}/hooks/{name}"
        rows.append(
            {
                "recipe": name,
                "title": served.recipe.title or "",
                "trigger": served.trigger,
                "kind": served.kind,
                "schedule": schedule,
                "inbox": await count_inbox(service.store, name) if served.kind != "manual" else 0,
                **_trigger_data(state, now),
            }
        )
    return rows


def _trigger_data(state: TriggerState | None, now: float) -> dict[str, Any]:
    if state is None:
        return {"last_cycle": None, "watermark": None, "lag": None, "last_event": None,
                "last_error": None, "paused": False, "paused_by": None, "paused_at": None,
                "health": "not served yet", "alert": None}  # fmt: skip
    lag = state.lag(now)
    alert = state.alert(now)
    if state.paused:
        health = "paused"
    elif state.error is not None:
        health = "failing"
    elif alert is not None:
        health = "alert"
    else:
        health = "ok"
    return {
        "last_cycle": iso(state.cycle_started),
        "watermark": state.watermark,
        "lag": None if lag is None else duration(lag),
        "last_event": iso(state.last_event_at),
        "last_error": None if state.error is None else str(state.error),
        "paused": state.paused,
        "paused_by": state.paused_by,
        "paused_at": iso(state.paused_at),
        "health": health,
        "alert": alert,
    }


# ---------------------------------------------------------------- jobs


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which jobs a list shows: a recipe, a status, a time span, a page."""

    recipe: str = ""
    status: str = ""
    since: str = ""
    until: str = ""
    page: int = 1

    @classmethod
    def of(cls, query: Mapping[str, str]) -> JobFilter:
        """The filter a page's query string asks for; a bad value is a ``ConfigurationError``."""
        status = query.get("status", "")
        if status and status not in STATUSES:
            raise ConfigurationError(f"no job status {status!r} (known: {', '.join(STATUSES)})")
        page = query.get("page", "1")
        if not page.isdigit() or int(page) < 1:
            raise ConfigurationError(f"page {page!r} is not a page number (1, 2, ...)")
        return cls(
            recipe=query.get("recipe", ""),
            status=status,
            since=query.get("since", "").strip(),
            until=query.get("until", "").strip(),
            page=int(page),
        )

    def query(self, **changes: Any) -> str:
        """The query string of this filter with ``changes`` (another page)."""
        values = {"recipe": self.recipe, "status": self.status, "since": self.since,
                  "until": self.until, "page": self.page, **changes}  # fmt: skip
        return urlencode({key: value for key, value in values.items() if value not in ("", 1)})


async def job_rows(service: Service, chosen: JobFilter) -> dict[str, Any]:
    """A page of jobs, newest first, and whether there is a next one."""
    now = time.time()
    since = parse_moment(chosen.since, now, "since") if chosen.since else None
    until = parse_moment(chosen.until, now, "until") if chosen.until else None
    found = await service.store.list_jobs(
        recipe=chosen.recipe or None,
        statuses=(chosen.status,) if chosen.status else (),
        since=since,
        until=until,
        limit=PAGE + 1,
        offset=(chosen.page - 1) * PAGE,
    )
    return {
        "jobs": [job_summary(service, job) for job in found[:PAGE]],
        "page": chosen.page,
        "more": len(found) > PAGE,
    }


def job_summary(service: Service, job: JobRecord) -> dict[str, Any]:
    """A job's row in a list."""
    error = service.pool.redact(dict(job.error or {}))
    return {
        "id": job.id,
        "recipe": job.recipe,
        "event_key": service.pool.redact(job.event_key),
        "status": job.status,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "seconds": _seconds(job.started_at, job.finished_at),
        "failed_step": error.get("step") or None,
        "error": error.get("message") or None,
    }


async def job_detail(service: Service, job_id: str) -> dict[str, Any]:
    """One job in full: event, outcome, every step, and what operators did to it."""
    job = await find_job(service.store, job_id)
    actions = await job_actions(service.store, job.id)
    redact = service.pool.redact
    return {
        **job_summary(service, job),
        "recipe_file": job.recipe_file,
        "event": redact(job.event),
        "error": redact(job.error),
        "outputs": redact(job.outputs),
        "served": job.recipe in service.runners,
        "steps": [_step_data(step, redact) for step in job.steps],
        "actions": [{**action.data(), "at": iso(action.at)} for action in actions],
    }


def _step_data(step: StepRecord, redact: Any) -> dict[str, Any]:
    return {
        **step.data(redact),
        "started_at": iso(step.started_at),
        "finished_at": iso(step.finished_at),
        "seconds": _seconds(step.started_at, step.finished_at),
    }


def _seconds(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round(end - start, 3)


# ---------------------------------------------------------------- connections


@dataclass(frozen=True, slots=True)
class TestResult:
    """The last connection test the console ran: passed or not, what it said, when."""

    ok: bool
    message: str
    at: float


async def connection_rows(
    service: Service, tests: Mapping[str, TestResult]
) -> list[dict[str, Any]]:
    """Each open connection: connector, rate budget in use, session, last error."""
    rows = []
    for connection in service.pool.opened():
        test = tests.get(connection.name)
        error, error_at = await _last_error(service, connection.name)
        if test is not None and not test.ok and (error_at is None or test.at >= error_at):
            error, error_at = test.message, test.at
        rows.append(
            {
                "name": connection.name,
                "connector": connection.spec.name,
                "title": connection.spec.title,
                "base_url": str(connection.base_url),
                "budget": await _budget(service, connection),
                "session": await _session(service, connection),
                "last_error": error,
                "last_error_at": iso(error_at),
                "last_test": None
                if test is None
                else {"ok": test.ok, "message": test.message, "at": iso(test.at)},
            }
        )
    return rows


def find_connection(service: Service, name: str) -> Connection:
    """The open connection named ``name``."""
    for connection in service.pool.opened():
        if connection.name == name:
            return connection
    raise UnknownNameError(f"no open connection named {name!r}")


async def _budget(service: Service, connection: Connection) -> dict[str, Any] | None:
    budget = connection.budget
    if budget is None:
        return None
    key = connection.budget_key

    def work(cur: SqlCursor) -> Any:
        cur.execute("SELECT state FROM budgets WHERE key = ?", (key,))
        row = cur.fetchone()
        return None if row is None else load(row[0])

    try:
        state = await service.store.transaction(work)
    except Exception:  # no budgets table yet: nothing was sent
        state = None
    now = time.time()
    bucket = Bucket.from_data(state)
    used = sum(1 for start in bucket.grants if start > now - window(budget))
    return {
        "used": used,
        "requests": budget.requests,
        "per": budget.per,
        "limit": str(budget),
        "paused_until": iso(bucket.not_before) if bucket.not_before > now else None,
    }


async def _session(service: Service, connection: Connection) -> dict[str, Any]:
    logs_in = any(isinstance(auth, SessionAuth) for auth in connection.spec.connection.auth)
    sharing = service.pool.sharing
    flow = connection.auth.flow if connection.auth is not None else None
    if isinstance(flow, AuthorizationCodeSession) and sharing is not None:
        status = await sharing.tokens.status(connection.entry)
        return {
            "state": status.told(connection.entry),
            "logged_in": status.authorized,
            "expires_at": iso(status.expires_at),
        }
    cached = None if sharing is None else await sharing.sessions.load(connection.credential)
    if cached is None:
        state = "logs in at first use" if logs_in else "no login (credentials on each request)"
        return {"state": state, "logged_in": False, "expires_at": None}
    expired = cached.expires_at is not None and cached.expires_at <= time.time()
    return {
        "state": "expired" if expired else "logged in",
        "logged_in": not expired,
        "expires_at": iso(cached.expires_at),
    }


async def _last_error(service: Service, name: str) -> tuple[str | None, float | None]:
    """The latest error of a step that called an action of connection ``name``."""

    def work(cur: SqlCursor) -> Any:
        cur.execute(
            "SELECT error, finished_at FROM steps WHERE substr(action, 1, ?) = ? "
            "AND error IS NOT NULL ORDER BY finished_at DESC LIMIT 1",
            (len(name) + 1, f"{name}."),
        )
        return cur.fetchone()

    row = await service.store.transaction(work)
    if row is None:
        return None, None
    error = service.pool.redact(load(row[0]) or {})
    return str(error.get("message") or error), row[1]
