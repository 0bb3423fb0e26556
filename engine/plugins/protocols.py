"""The contracts of what plugins provide, as ``typing.Protocol`` classes.

A plugin implements these without subclassing anything of hookline's: a third-party state
store needs no ``SqlStore`` base, an auth type no built-in class. mypy checks a plugin against
them, and the hook specifications name them (``hookline.plugins.hookspecs``). The types they
mention live in the layers above; they are imported for annotations only, so this module stays
at the bottom of the layers.

Two contracts let the HTTP runtime reach the state store, which sits above it: rate budgets
and login sessions are shared by every process of an installation, yet ``hookline.http`` may
not import ``hookline.run``. So the runtime states here what it needs and the state store
(the built-in SQLite and PostgreSQL one, or a plugin's) provides it:

- ``BudgetLedger``: read and change one rate budget's state under a lock that holds across
  processes (a short transaction);
- ``SessionCache``: keep a connection's login results, sealed, and let one process at a time
  log in for a credential (a lease).

Their keys are opaque text the runtime derives from a credential (a hash, never the secret);
budget state is JSON-shaped data the runtime alone interprets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, TypeVar, runtime_checkable

if TYPE_CHECKING:
    import httpx

    from hookline.actions.pages import Page, PageSource
    from hookline.documents.compiler import Compiler
    from hookline.http.auth.static import AuthTarget
    from hookline.run.jobs import JobOutcome, JobRunner
    from hookline.run.store import JobRecord, StepRecord


class SpecBlock(Protocol):
    """A type named by a spec block's ``type:`` (an auth type, a paginator, a verifier).

    ``schema`` is the full JSON Schema of its block (``type`` a ``const`` of its name, a
    ``description`` on every property), composed into the spec schema so a spec's block is
    validated, located and documented like any other. ``from_spec`` builds the frozen, compiled
    object from the block at ``c``, once when the spec loads.
    """

    schema: ClassVar[dict[str, Any]]

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """The compiled block at ``c`` (``c.get``, ``c.value``, ``c.expression``, ``c.problem``)."""
        ...


@runtime_checkable
class AuthType(SpecBlock, Protocol):
    """A ``connection.auth.type`` (``register_auth_types``).

    ``bind`` returns the ``httpx.Auth`` of one connection: its ``async_auth_flow`` applies the
    credentials to each request, and a flow that logs in yields its login requests first.
    """

    def bind(self, target: AuthTarget) -> httpx.Auth:
        """The auth of one connection (``target`` is the connection)."""
        ...


@runtime_checkable
class Paginator(SpecBlock, Protocol):
    """A ``paginate.type`` (``register_paginators``): how a list action reads page after page.

    It never sends anything itself: ``source`` renders the action's request with the
    paginator's values and sends it through the connection's auth, rate limit and retries.
    """

    @property
    def max_records(self) -> int | None:
        """The spec's bound on the records read (None: no bound)."""
        ...

    def pages(self, source: PageSource, *, max_records: int | None = None) -> AsyncIterator[Page]:
        """The pages in order, fetched only as the caller asks for them."""
        ...


@runtime_checkable
class WebhookVerifier(SpecBlock, Protocol):
    """A webhook trigger's ``verify.type`` (``register_webhook_verifiers``).

    ``verify`` decides whether an incoming request is authentic, comparing secrets in constant
    time; ``context`` holds the rendered values the recipe gives (``connection``, ``env``).
    """

    def verify(self, headers: Mapping[str, str], body: bytes, context: Mapping[str, Any]) -> bool:
        """Whether the request with ``headers`` and raw ``body`` comes from the platform."""
        ...


@runtime_checkable
class StateStore(Protocol):
    """Where trigger cursors, seen event keys and job history are kept (``register_state_stores``).

    Three promises rest on it: ``queue_events`` writes a page of a poll's new events to the
    inbox and queues them as jobs in one transaction, and ``commit_poll`` moves the cursor only
    once the read's events are queued; ``receive_events`` stores webhook events with their
    jobs before they are answered; and a job is unique per (recipe, event key), so an event
    seen twice never starts a second job. Claims, the inbox's queries and the triggers' state
    (``hookline.run.claims``, ``inbox``, ``cycles``) run their SQL through ``transaction``.
    """

    url: str

    async def get_cursor(self, recipe: str, trigger: str) -> Any:
        """The trigger's saved cursor, or None before its first poll."""
        ...

    async def queue_events(
        self, recipe: str, recipe_file: str, events: Sequence[tuple[str, Any]]
    ) -> list[JobRecord]:
        """Queue a job per new ``(event key, event)`` of one page, in one transaction."""
        ...

    async def commit_poll(
        self,
        recipe: str,
        recipe_file: str,
        trigger: str,
        cursor: Any,
        events: Sequence[tuple[str, Any]],
        *,
        holder: str | None = None,
    ) -> list[JobRecord]:
        """Queue a job per new ``(event key, event)`` and save ``cursor``, in one transaction;
        with ``holder``, only while that process holds the trigger's poll lease."""
        ...

    async def create_job(
        self, recipe: str, recipe_file: str, event_key: str, event: Any
    ) -> JobRecord | None:
        """Queue one job; None when a job for this event key exists already."""
        ...

    async def start_job(self, job_id: str) -> None:
        """Mark the job running (again, on a rerun)."""
        ...

    async def finish_job(
        self,
        job_id: str,
        status: str,
        *,
        error: Mapping[str, Any] | None = None,
        outputs: Any = None,
    ) -> None:
        """Record a job's final status, its error or outputs."""
        ...

    async def record_step(self, job_id: str, step: StepRecord) -> None:
        """Record (or replace) one step of the job."""
        ...

    async def get_job(self, job_id: str) -> JobRecord | None:
        """The job with its steps, or None."""
        ...

    async def find_job(self, prefix: str) -> list[str]:
        """The ids of jobs starting with ``prefix``."""
        ...

    async def list_jobs(
        self,
        *,
        recipe: str | None = None,
        failed: bool = False,
        limit: int = 20,
        statuses: Sequence[str] = (),
        since: float | None = None,
        until: float | None = None,
        offset: int = 0,
    ) -> list[JobRecord]:
        """The newest jobs first, optionally of one recipe, only the failed ones, only those
        in ``statuses``, or only those created from ``since`` and before ``until``; the first
        ``offset`` are left out."""
        ...

    async def receive_events(
        self, events: Sequence[tuple[str, str, str, Any]], *, source: str
    ) -> list[tuple[JobRecord, bool]]:
        """Store (recipe, recipe file, event key, event) in the inbox with a job for each new
        one, in one transaction; each event's job and whether it is new."""
        ...

    async def transaction(self, work: Callable[[Any], T]) -> T:
        """Run ``work(cursor)`` in one transaction; the cursor takes ``?`` parameters."""
        ...

    async def queued_jobs(self, recipe: str) -> list[JobRecord]:
        """The recipe's jobs not yet run, oldest first."""
        ...

    async def event_job(self, recipe: str, event_key: str) -> JobRecord | None:
        """The job of one event, if any."""
        ...

    async def close(self) -> None:
        """Release the store's connections."""
        ...


@runtime_checkable
class Executor(Protocol):
    r"""How jobs are run (``register_executors``): in-process by default, on workers at scale.

    A command uses an executor one of two ways. ``run`` runs given jobs and returns once they
    have ended (``hookline run``, ``replay``). ``hookline serve`` runs ``serve`` for as long as
    it serves and ``dispatch``\es each job as it is queued; the executor runs it in this
    process, or sends it where workers run it. Either way a job is claimed in the state store
    before it runs, so a job dispatched twice still runs once.
    """

    async def run(
        self,
        runner: JobRunner,
        jobs: Sequence[JobRecord],
        *,
        stop: asyncio.Event | None = None,
        again: bool = False,
    ) -> list[JobOutcome]:
        """Run every job with ``runner``; one job's failure does not stop the next. Once
        ``stop`` is set, no new job starts. ``again``: the jobs are operators' reruns, run
        even while their trigger is paused (``JobRunner.run_claimed``)."""
        ...

    def dispatch(self, job: JobRecord, *, again: bool = False) -> None:
        """Hand over a job that is queued (or left unfinished) to be run; return at once.
        ``again`` as for ``run``: a rerun is handed over even if the job was lately."""
        ...

    async def serve(self, runners: Mapping[str, JobRunner], stop: asyncio.Event) -> None:
        """Run the dispatched jobs, each with the runner of its recipe, until ``stop`` is set.

        Cancelled (the grace period is over), a job running in this process is interrupted
        and stays in the store to be resumed.
        """
        ...


# ---------------------------------------------------------------- shared between processes

T = TypeVar("T")

BudgetState = Mapping[str, Any]
"""One rate budget's state: JSON-shaped data only the rate limiter reads."""


class BudgetLedger(Protocol):
    """Rate budgets kept where every process of an installation sees them."""

    async def update_budget(
        self, key: str, change: Callable[[BudgetState | None], tuple[BudgetState | None, T]]
    ) -> T:
        """Apply ``change`` to budget ``key`` atomically across processes; return its result.

        ``change`` gets the stored state (None before the first use) and returns the state to
        store (None: leave it as it was) and a result. It runs while every other process's
        change of the same key waits, so it must be quick and must not await anything; it
        may run again if the store retries a transaction.
        """
        ...


@dataclass(frozen=True, slots=True)
class CachedSession:
    """A login's results as a session cache keeps them.

    ``values`` are the captured values (``session.*``); ``stamp`` names this login, so a
    process can tell a session another process renewed from the one it holds; ``expires_at``
    and ``renew_at`` are Unix times (None: the session lasts until the platform refuses it).
    """

    values: Mapping[str, Any]
    stamp: str
    expires_at: float | None = None
    renew_at: float | None = None


class SessionCache(Protocol):
    """Login results shared by the processes of one installation, encrypted at rest."""

    async def load(self, key: str) -> CachedSession | None:
        """The session cached under ``key``, or None (none, or unreadable with this key)."""
        ...

    async def save(self, key: str, session: CachedSession) -> None:
        """Cache ``session`` under ``key``, replacing what was there."""
        ...

    async def drop(self, key: str) -> bool:
        """Forget the session under ``key``; whether there was one."""
        ...

    async def claim(self, key: str, holder: str, seconds: float) -> bool:
        """Take the login lease of ``key`` for ``seconds`` unless another holder has it.

        Whoever holds the lease logs in while the others wait and then adopt its session.
        ``holder`` claiming it again keeps it ``seconds`` from now, as the holder does every
        third of ``seconds`` while it logs in; a lease whose holder died runs out after
        ``seconds``.
        """
        ...

    async def release(self, key: str, holder: str) -> None:
        """Give the lease of ``key`` back, if ``holder`` still holds it."""
        ...
