"""Running jobs: one recipe on one trigger event, step after step, every step recorded.

``JobRunner.run_job → run_step → call_action`` is the stack: a job renders its variables,
runs its steps in order and renders its outputs; a step renders its input from the context
(``trigger``, ``inputs``, ``steps.<id>``, ``vars``, ``env``, the loop item, ``error``) and
adds its output under its id. Each step is recorded in the state store as it ends, with its
rendered input and output redacted by every connection's redactor and the job's own secrets
(values read from ``env``, inputs declared secret: ``hookline.run.secrets``), its error and
timing, at a path that names it (``steps[2]``, ``steps[1].then[0]``,
``steps[3].for_each[7].steps[0]``, ``steps[4].recipe.steps[0]`` for a called recipe's step).

Failures. A step's error ends the job (``on_error: stop``, the default), is noted and passed
over (``continue``), or runs the step's ``on_error`` steps with ``error`` in the context. An
error escaping the steps of an ``if`` or ``for_each`` is that step's error, so its own
``on_error`` applies. ``retry`` tries an action step again, waiting ``backoff``
seconds doubled each time, on any platform error except an unknown outcome. An unknown
outcome (a create whose answer was lost) always ends the job as ``outcome_unknown``: nothing
decides for the operator whether to send it again.

Reruns. ``run_job`` given a finished job with its step records runs it again with the outputs
of the action and recipe steps that succeeded reused, so the job continues from the step that
failed.

Stopping and resuming. An action step is recorded as ``running`` before its request goes
out, so that a job cut short (its process killed, or stopped by a signal after the grace
period) shows which call may have reached the platform. A job cancelled in this process is
stored as ``interrupted``; one whose process died stays ``running`` until its lease runs out
(``hookline.run.claims``). Either way the next start claims it (``run_claimed``) and resumes
it: steps that succeeded are reused, and the step left ``running`` is sent again only where
that is safe (``call_action(resumed=True)``); otherwise the job ends ``outcome_unknown``.

A ``switch`` runs the steps of the case its value picks and records the value and the case.
A ``wait`` (``hookline.run.waits``) sleeps, or calls an action until a condition on its output
holds, bounded by its timeout; the record shows the number of calls as its attempts, and a
timeout fails the step with kind ``timeout``, which ``on_error`` may catch.

``for_each`` runs at most ``concurrency`` items at once and keeps outputs in item order; after
a failure it starts no new item, lets the running ones finish (cancelling a request in flight
would make its outcome unknown), then fails.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hookline.actions.call import Plan, call_action
from hookline.documents.loader import KeyPath, format_path
from hookline.errors import ActionError, HooklineError, OutcomeUnknownError, UnsafeRequestError
from hookline.http.responses import truthy
from hookline.recipes.model import (
    ActionStep,
    CallStep,
    ForEachStep,
    IfStep,
    ManualTrigger,
    Recipe,
    SetStep,
    Step,
    StopStep,
    SwitchStep,
    WaitStep,
    manual_inputs,
)
from hookline.run import waits
from hookline.run.claims import Claims, release_job
from hookline.run.cycles import duration
from hookline.run.pool import ConnectionPool
from hookline.run.secrets import JobSecrets
from hookline.run.store import JobRecord, SqlStore, StepRecord

DRY_RUN_ID = "dry-run"
"""The id of a job in a dry run, which is never stored."""


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """How a job ended: status, error (``kind``, ``message``, ``step``), outputs."""

    job_id: str
    status: str
    error: Mapping[str, Any] | None = None
    outputs: Any = None


class Observer:
    """Told what happens as jobs run (the CLI's progress display); every method may be left."""

    def job_started(self, job: JobRecord) -> None:
        """A job begins (or begins again, on a rerun)."""

    def step_finished(self, job_id: str, step: StepRecord, plan: Plan | None) -> None:
        """A step ended; in a dry run ``plan`` holds the requests it would send."""

    def job_finished(self, job: JobRecord, outcome: JobOutcome) -> None:
        """A job ended."""

    def note(self, message: str, **data: Any) -> None:
        """Something an operator should know that is not a job's outcome."""


# ---------------------------------------------------------------- control flow


class _StepFailed(Exception):
    """A step failed and its ``on_error`` did not absorb the failure."""

    def __init__(self, error: dict[str, Any], status: str = "failed") -> None:
        self.error = error
        self.status = status
        super().__init__(error["message"])


class _Stopped(Exception):
    """A ``stop`` step ended the job (or the called recipe)."""

    def __init__(self, status: str, message: str, step: str) -> None:
        self.status = status
        self.message = message
        self.step = step
        super().__init__(message)


@dataclass(slots=True)
class _Frame:
    """Where steps run: their recipe, context, and how their record paths are named.

    A step's record path is ``prefix`` followed by its key path below ``base``.
    """

    recipe: Recipe
    context: dict[str, Any]
    prefix: str = ""
    base: KeyPath = ()
    own: dict[str, Any] = field(default_factory=dict)

    def path_of(self, step: Step) -> str:
        """The record path of ``step`` in this frame."""
        relative = format_path(step.path[len(self.base) :])
        if not self.prefix:
            return relative
        return self.prefix + (relative if relative.startswith("[") else f".{relative}")

    def set_output(self, step: Step, output: Any) -> None:
        """Make ``output`` readable as ``steps.ID`` (and part of a loop item's output)."""
        if step.id is not None:
            self.context["steps"][step.id] = output
            self.own[step.id] = output


_SAME = object()


@dataclass(slots=True)
class _Trace:
    """What a step's record will hold, filled in as the step runs (and kept if it fails).

    ``shown`` is the input as the record shows it, where it differs from ``input`` (secrets
    masked).
    """

    path: str
    started: float
    input: Any = None
    shown: Any = _SAME
    plan: Plan | None = None
    attempts: int = 1
    seq: int | None = None


# ---------------------------------------------------------------- the runner


class JobRunner:
    """Runs the jobs of one recipe with open connections, recording them in ``store``.

    With ``dry_run`` every action is planned instead of sent, its example output stands in,
    and nothing is recorded; ``store`` None records nothing either. ``claims`` lets
    ``run_claimed`` take jobs that other processes may want too.
    """

    def __init__(
        self,
        recipe: Recipe,
        pool: ConnectionPool,
        store: SqlStore | None,
        *,
        env: Mapping[str, str],
        dry_run: bool = False,
        observer: Observer | None = None,
        claims: Claims | None = None,
    ) -> None:
        self.recipe = recipe
        self.pool = pool
        self.store = None if dry_run else store
        self.secrets = JobSecrets(env)
        self.env = self.secrets.env
        self.dry_run = dry_run
        self.observer = observer or Observer()
        self.claims = claims

    def redact(self, data: Any) -> Any:
        """``data`` with the connections' secrets and the jobs' own replaced by ``***``."""
        return self.secrets.redact(self.pool.redact(data))

    async def run_job(self, job: JobRecord) -> JobOutcome:
        """Run ``job``; the action and recipe steps its history shows succeeded are reused.

        A new job has no history and runs from its first step; a finished job given with its
        steps (``SqlStore.get_job``) continues from the step that failed: a rerun.
        """
        return await _Job(self, job).run()

    async def run_claimed(self, job: JobRecord, *, again: bool = False) -> JobOutcome | None:
        """Claim ``job`` and run it with its history as stored; None if another process won it.

        A job taken over from a process that stopped resumes at its first unfinished step, a
        job queued again for a rerun at its failed step. ``again`` (an operator's rerun)
        claims it even while its trigger is paused.
        """
        assert self.claims is not None and self.store is not None, "claims need a store"
        current = await self.claims.take(job, again=again)
        if current is None:
            return None
        # The event as given: a manual run's secret inputs are not kept in the store.
        return await _Job(self, replace(current, event=job.event), claimed=True).run()


class _Job:
    """One run of one job."""

    def __init__(self, runner: JobRunner, job: JobRecord, *, claimed: bool = False) -> None:
        self.runner = runner
        self.job = job
        self.claimed = claimed
        self.reused = {s.path: s for s in job.steps if s.status == "succeeded"}
        self.unfinished = {s.path for s in job.steps if s.status == "running"}
        self.seq = itertools.count(max((s.seq for s in job.steps), default=-1) + 1)

    async def run(self) -> JobOutcome:
        """Run the job to its end, record the outcome, and return it.

        Cancelled (a signal after the grace period), the job is stored ``interrupted`` and the
        cancellation goes on.
        """
        runner, job = self.runner, self.job
        store = runner.store
        if store is not None and not self.claimed:
            await store.start_job(job.id)
        runner.observer.job_started(job)
        recipe = runner.recipe
        event = job.event
        inputs = event if recipe.is_manual else {}
        if isinstance(recipe.trigger, ManualTrigger):
            runner.secrets.learn(recipe.trigger.inputs_schema, inputs)
        frame = self.frame(recipe, event, inputs)
        try:
            try:
                outputs = await self.run_recipe(frame)
            except _Stopped as stop:
                outcome = self.stopped(stop, frame)
            else:
                outcome = JobOutcome(job.id, "succeeded", None, outputs)
        except _StepFailed as failure:
            outcome = JobOutcome(job.id, failure.status, failure.error)
        except HooklineError as exc:  # rendering the variables or the outputs
            error = {"kind": _kind_of(exc), "message": str(exc), "step": ""}
            outcome = JobOutcome(job.id, "failed", error)
        except (asyncio.CancelledError, KeyboardInterrupt):
            await self.interrupted()
            raise
        except BaseException as exc:
            error = {"kind": "internal", "message": f"{type(exc).__name__}: {exc}", "step": ""}
            await self.finish(JobOutcome(job.id, "failed", runner.redact(error)))
            raise
        await self.finish(outcome)
        return outcome

    async def interrupted(self) -> None:
        """Store the job as ``interrupted``, to be resumed at the next start."""
        store, claims = self.runner.store, self.runner.claims
        if store is not None and claims is not None and self.claimed:
            await claims.release(self.job.id)
        elif store is not None:
            await release_job(store, self.job.id)
        self.runner.observer.job_finished(self.job, JobOutcome(self.job.id, "interrupted"))

    def stopped(self, stop: _Stopped, frame: _Frame) -> JobOutcome:
        """The outcome of a job a ``stop`` step ended."""
        error = None
        if stop.status != "succeeded":
            error = {"kind": "stopped", "message": stop.message, "step": stop.step}
        outputs = self.outputs(frame) if stop.status == "succeeded" else None
        return JobOutcome(self.job.id, stop.status, error, outputs)

    async def finish(self, outcome: JobOutcome) -> None:
        """Store the outcome (redacted) and tell the observer."""
        store = self.runner.store
        redacted = JobOutcome(
            outcome.job_id,
            outcome.status,
            self.runner.redact(outcome.error),
            self.runner.redact(outcome.outputs),
        )
        if store is not None:
            await store.finish_job(
                self.job.id, redacted.status, error=redacted.error, outputs=redacted.outputs
            )
        self.runner.observer.job_finished(self.job, redacted)

    def frame(self, recipe: Recipe, event: Any, inputs: Any, prefix: str = "") -> _Frame:
        """A fresh frame for ``recipe`` on ``event``: a job's, or a called recipe's."""
        context = {
            "trigger": event,
            "inputs": inputs,
            "steps": {},
            "vars": {},
            "env": self.runner.env,
        }
        return _Frame(recipe, context, prefix)

    async def run_recipe(self, frame: _Frame) -> dict[str, Any]:
        """Render the variables, run the steps, render the outputs."""
        recipe = frame.recipe
        context = _readable(frame.context)
        frame.context["vars"] = {name: v.render(context) for name, v in recipe.vars.items()}
        await self.run_steps(recipe.steps, frame)
        return self.outputs(frame)

    def outputs(self, frame: _Frame) -> dict[str, Any]:
        """The recipe's outputs rendered in ``frame``."""
        context = _readable(frame.context)
        return {name: v.render(context) for name, v in frame.recipe.outputs.items()}

    async def run_steps(self, steps: Sequence[Step], frame: _Frame) -> None:
        """Run ``steps`` in order."""
        for step in steps:
            await self.run_step(step, frame)

    # ------------------------------------------------------------ one step

    async def run_step(self, step: Step, frame: _Frame) -> None:
        """Run one step, record it, and apply its ``on_error`` when it fails."""
        path = frame.path_of(step)
        earlier = self.reused.get(path)
        if earlier is not None and isinstance(step, ActionStep | CallStep | WaitStep):
            frame.set_output(step, earlier.output)
            return
        trace = _Trace(path, time.time())
        try:
            output = await self.attempt(step, frame, trace)
        except _Stopped:
            if isinstance(step, StopStep):
                await self.record(step, trace)
            raise
        except _StepFailed as inner:  # from the steps inside an if, a loop or a called recipe
            if inner.status == "outcome_unknown":
                raise
            await self.record(step, trace, error=inner.error)
            await self.recover(step, frame, inner.error)
            return
        except HooklineError as exc:
            status = "outcome_unknown" if isinstance(exc, OutcomeUnknownError) else "failed"
            error = self.runner.redact(_error(exc, step, path))
            await self.record(step, trace, error=error, status=status)
            if status == "outcome_unknown":
                raise _StepFailed(error, status) from None
            await self.recover(step, frame, error)
            return
        await self.record(step, trace, output=output)
        frame.set_output(step, output)

    async def attempt(self, step: Step, frame: _Frame, trace: _Trace) -> Any:
        """Run ``step`` as often as its ``retry`` allows; its output."""
        retry = step.retry
        tries = retry.attempts if retry is not None else 1
        for attempt in range(1, tries + 1):
            trace.attempts = attempt
            try:
                return await self.execute(step, frame, trace)
            except ActionError as exc:
                if attempt == tries or isinstance(exc, OutcomeUnknownError | UnsafeRequestError):
                    raise
                assert retry is not None
                await asyncio.sleep(retry.backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def execute(self, step: Step, frame: _Frame, trace: _Trace) -> Any:
        """Run one step once; its output. What it rendered goes into ``trace`` as it goes."""
        context = _readable(frame.context)
        secrets = self.runner.secrets
        if isinstance(step, ActionStep):
            trace.input = step.input.render(context)
            connection = self.runner.pool.get(frame.recipe, step.connection)
            action = connection.spec.actions.get(step.action)
            schema = None if action is None else action.input_schema
            trace.shown = secrets.shown(step.input, trace.input, schema, connection.spec.objects)
            await self.sending(step, trace)
            result = await call_action(
                connection,
                step.action,
                trace.input,
                dry_run=self.runner.dry_run,
                max_pages=step.max_pages,
                resumed=trace.path in self.unfinished,
            )
            if isinstance(result, Plan):
                trace.plan = result
                return result.output
            return result
        if isinstance(step, IfStep):
            holds = truthy(step.condition.render(context))
            trace.input = {"if": holds}
            await self.run_steps(step.then if holds else step.otherwise, frame)
            return None
        if isinstance(step, SwitchStep):
            value = step.value.render(context)
            case, steps = step.branch(value)
            trace.input = {"switch": value, "case": case}
            await self.run_steps(steps, frame)
            return None
        if isinstance(step, WaitStep):
            return await self.wait(step, frame, trace)
        if isinstance(step, ForEachStep):
            items = step.items.render(context)
            trace.input = {"items": len(items) if isinstance(items, list) else items}
            return await self.loop(step, frame, trace.path, items)
        if isinstance(step, SetStep):
            trace.input = {name: value.render(context) for name, value in step.values.items()}
            trace.shown = secrets.shown(step.values, trace.input)
            frame.context["vars"] = {**frame.context["vars"], **trace.input}
            return trace.input
        if isinstance(step, StopStep):
            message = "" if step.message is None else str(step.message.render(context))
            trace.input = {"status": step.status, "message": message}
            raise _Stopped(step.status, message, trace.path)
        assert isinstance(step, CallStep)
        trace.input = step.input.render(context)
        called = step.recipe.trigger
        schema = called.inputs_schema if isinstance(called, ManualTrigger) else None
        trace.shown = secrets.shown(step.input, trace.input, schema)
        return await self.call(step, frame, trace)

    async def recover(self, step: Step, frame: _Frame, error: dict[str, Any]) -> None:
        """Apply ``on_error`` to a failed step."""
        if step.on_error == "stop":
            raise _StepFailed(error)
        frame.set_output(step, None)
        if step.on_error == "steps":
            context = {**frame.context, "error": error}
            await self.run_steps(
                step.recover, _Frame(frame.recipe, context, frame.prefix, frame.base, frame.own)
            )
            frame.context["vars"] = context["vars"]

    async def sending(self, step: ActionStep, trace: _Trace) -> None:
        """Record that ``step`` is about to send: were the job cut short now, its call may
        have reached the platform. Only the first attempt is recorded."""
        if self.runner.store is None or trace.seq is not None:
            return
        trace.seq = next(self.seq)
        record = StepRecord(
            path=trace.path,
            seq=trace.seq,
            status="running",
            step_id=step.id,
            action=step.label,
            input=self.runner.redact(trace.input if trace.shown is _SAME else trace.shown),
            started_at=trace.started,
            attempts=trace.attempts,
        )
        await self.runner.store.record_step(self.job.id, record)

    async def record(
        self,
        step: Step,
        trace: _Trace,
        *,
        output: Any = None,
        error: Mapping[str, Any] | None = None,
        status: str | None = None,
    ) -> None:
        """Store one step's record (redacted) and tell the observer."""
        redact = self.runner.redact
        record = StepRecord(
            path=trace.path,
            seq=trace.seq if trace.seq is not None else next(self.seq),
            status=status or ("failed" if error is not None else "succeeded"),
            step_id=step.id,
            action=step.label if isinstance(step, ActionStep) else _kind(step),
            input=redact(trace.input if trace.shown is _SAME else trace.shown),
            output=redact(output),
            error=error,
            started_at=trace.started,
            finished_at=time.time(),
            attempts=trace.attempts,
        )
        if self.runner.store is not None:
            await self.runner.store.record_step(self.job.id, record)
        self.runner.observer.step_finished(self.job.id, record, trace.plan)

    # ------------------------------------------------------------ loops and calls

    async def loop(self, step: ForEachStep, frame: _Frame, path: str, items: Any) -> list[Any]:
        """Run the body once per item, ``concurrency`` at a time; outputs in item order."""
        if items is None:
            items = []
        if not isinstance(items, list):
            message = f"for_each needs a list, got {type(items).__name__}"
            if self.runner.dry_run:  # say why the plan stops here
                message += (
                    "; a dry run reads the actions' example outputs, which do not always have "
                    "the shape of real ones, so this loop and what reads it cannot be planned"
                )
            raise _StepFailed(
                {"kind": "invalid_items", "message": message, "step": path, "step_id": step.id}
            )
        if len(items) > step.max_items:
            raise _StepFailed(
                {
                    "kind": "too_many_items",
                    "message": f"for_each got {len(items):,} items, more than its max_items of "
                    f"{step.max_items:,}; no item was run. Raise max_items on the step to run "
                    "them all",
                    "step": path,
                    "step_id": step.id,
                }
            )
        results: list[Any] = [None] * len(items)
        failures: dict[int, BaseException] = {}
        pending = iter(enumerate(items))

        async def worker() -> None:
            """Run items until none is left or one has failed."""
            for index, item in pending:
                if failures:
                    return
                context = {
                    **frame.context,
                    step.item: item,
                    "steps": dict(frame.context["steps"]),
                    "vars": dict(frame.context["vars"]),
                }
                body = _Frame(frame.recipe, context, f"{path}.for_each[{index}]", step.path)
                try:
                    await self.run_steps(step.steps, body)
                except (_StepFailed, _Stopped) as exc:
                    failures[index] = exc
                    return
                results[index] = {step.item: item, **body.own}

        workers = min(step.concurrency, len(items))
        await asyncio.gather(*(worker() for _ in range(workers)))
        if failures:
            raise failures[min(failures)]
        return results

    async def wait(self, step: WaitStep, frame: _Frame, trace: _Trace) -> Any:
        """Wait for a duration, or call an action until its output meets the condition.

        The record shows the duration, or the action, its input, ``every`` and ``timeout``,
        with the number of calls as the step's attempts; a dry run waits for nothing and
        plans one call.
        """
        until = step.until
        if until is None:
            trace.input = {"wait": step.seconds}
            if not self.runner.dry_run:
                self.waiting(trace, f"waits {duration(step.seconds)}", seconds=step.seconds)
                await waits.pause(step.seconds)
            return {"waited": step.seconds}
        context = frame.context
        rendered = until.input.render(context)
        trace.input = {
            "action": until.label,
            "with": rendered,
            "every": until.every,
            "timeout": step.seconds,
        }
        connection = self.runner.pool.get(frame.recipe, until.connection)
        if self.runner.dry_run:
            plan = await call_action(connection, until.action, rendered, dry_run=True)
            trace.plan = plan
            return plan.output

        def counted(checks: int) -> None:
            trace.attempts = checks

        self.waiting(
            trace,
            f"calls {until.label} every {duration(until.every)} until "
            f"{until.condition.source.strip()}, for at most {duration(step.seconds)}",
            seconds=step.seconds,
        )

        try:
            waited = await waits.wait_until(
                lambda: call_action(connection, until.action, rendered),
                lambda result: truthy(until.condition.render({**context, "result": result})),
                every=until.every,
                timeout=step.seconds,
                on_check=counted,
            )
        except waits.WaitTimedOut as timed_out:
            message = (
                f"waited {timed_out.waited:g} s of the {step.seconds:g} s timeout: "
                f"{until.condition.source.strip()} did not hold after {timed_out.checks} "
                f"calls of {until.label}"
            )
            error = {"kind": "timeout", "message": message, "step": trace.path}
            raise _StepFailed({**error, "step_id": step.id}) from None
        return waited.result

    def waiting(self, trace: _Trace, what: str, *, seconds: float) -> None:
        """Tell the observer that the step at ``trace`` starts a wait of up to ``seconds``,
        so that a run that seems stalled says why."""
        self.runner.observer.note(
            f"job {self.job.id[:12]}: {trace.path} {what}",
            job=self.job.id,
            step=trace.path,
            seconds=seconds,
        )

    async def call(self, step: CallStep, frame: _Frame, trace: _Trace) -> Any:
        """Run a called recipe as this step; its outputs are the output."""
        trigger = step.recipe.trigger
        assert isinstance(trigger, ManualTrigger)  # the static checks refuse any other
        inputs = manual_inputs(trigger, trace.input)
        callee = self.frame(step.recipe, inputs, inputs, f"{trace.path}.recipe")
        try:
            return await self.run_recipe(callee)
        except _Stopped as stop:
            if stop.status == "failed":
                error = {"kind": "stopped", "message": stop.message, "step": stop.step}
                raise _StepFailed({**error, "step_id": step.id}) from None
            return self.outputs(callee) if stop.status == "succeeded" else None


def new_event_key() -> str:
    """A key for an event that has no identity of its own (a manual run)."""
    return f"manual-{uuid.uuid4().hex}"


# ---------------------------------------------------------------- helpers


def _readable(context: dict[str, Any]) -> dict[str, Any]:
    """The context as templates read it: the same values, in containers of its own.

    A rendered value is kept in the context (``set``, a loop's items, a step's output), and
    ``{{ @ }}`` or ``{{ steps }}`` renders to the container it reads; were that the live
    context, the context would come to hold itself and could never be written to history.
    """
    return {**context, "steps": dict(context["steps"]), "vars": dict(context["vars"])}


def _error(exc: HooklineError, step: Step, path: str) -> dict[str, Any]:
    error: dict[str, Any] = {
        "kind": getattr(exc, "kind", None) or _kind_of(exc),
        "message": str(exc),
        "step": path,
        "step_id": step.id,
    }
    status = getattr(exc, "status", None)
    if status is not None:
        error["status"] = status
    return error


def _kind_of(exc: HooklineError) -> str:
    name = type(exc).__name__.removesuffix("Error")
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_") or "error"


def _kind(step: Step) -> str:
    return {
        IfStep: "if",
        ForEachStep: "for_each",
        SetStep: "set",
        StopStep: "stop",
        CallStep: "recipe",
        SwitchStep: "switch",
        WaitStep: "wait",
    }.get(type(step), "step")
