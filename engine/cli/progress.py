"""What ``hookline run`` and ``hookline jobs rerun`` show while jobs run, and the summary after.

Two reporters, one interface (``hookline.run.jobs.Observer`` plus ``start``, ``polled`` and
``finish``): on a terminal, a live display (records read, jobs, steps, the step running) and a
summary table naming each failed step and its error; otherwise, or with ``--json``, JSON
lines, one object per event, for scripts and logs. A dry run adds each step's rendered input,
requests and stand-in output: the plan.

Lines written for a reader that may stop reading (``| head``) go through ``Lines``, as the
log of ``hookline serve`` and ``hookline worker`` does: once the reader has gone, the lines
are dropped and the command goes on.

A request that waits long for its rate budget is told as it starts waiting (``waiting``):
a line above the live display, or a ``waiting`` JSON event. ``show_wait`` does the same on
stderr for commands whose stdout is their output (``hookline call``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

import orjson
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from hookline.actions.call import Plan
from hookline.cli.group import STOPPED
from hookline.http.ratelimit import Wait
from hookline.run.jobs import JobOutcome, Observer
from hookline.run.store import JobRecord, StepRecord

FAILED = frozenset({"failed", "outcome_unknown"})


def exit_code(outcomes: list[JobOutcome], *, stopped: bool = False) -> int:
    """0 when every job succeeded (or was skipped), 1 when any failed, 130 when stopped."""
    if stopped:
        return STOPPED
    return 1 if any(outcome.status in FAILED for outcome in outcomes) else 0


class Reporter(Observer):
    """Collects outcomes; subclasses show them."""

    def __init__(self) -> None:
        self.outcomes: list[JobOutcome] = []
        self.jobs: dict[str, JobRecord] = {}

    def start(self, recipe: str, trigger: str, *, dry_run: bool) -> None:
        """The run begins."""

    def reading(self, records: int) -> None:
        """A poll has read ``records`` so far."""

    def polled(self, records: int, jobs: int, cursor: Any) -> None:
        """A poll cycle read ``records`` and left ``jobs`` to run."""

    def note(self, message: str, **data: Any) -> None:
        """Something worth telling that is not a job (an event that already ran)."""

    def waiting(self, wait: Wait) -> None:
        """A request waits ``wait.seconds`` for its rate budget."""

    def job_started(self, job: JobRecord) -> None:
        """Remember the job for the summary."""
        self.jobs[job.id] = job

    def job_finished(self, job: JobRecord, outcome: JobOutcome) -> None:
        """Remember the outcome for the summary."""
        self.outcomes.append(outcome)

    def finish(self, *, stopped: bool = False) -> int:
        """Show the summary; return the exit code (130 when the run was ``stopped``)."""
        return exit_code(self.outcomes, stopped=stopped)

    def abort(self, error: BaseException) -> None:
        """The run ends early with ``error`` (shown by the caller); no summary follows."""

    def counts(self) -> dict[str, int]:
        """Jobs by status."""
        found: dict[str, int] = {}
        for outcome in self.outcomes:
            found[outcome.status] = found.get(outcome.status, 0) + 1
        return found


class JsonLinesReporter(Reporter):
    """One JSON object per line on ``stream``: what scripts and log collectors read."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.lines = Lines(stream or sys.stdout)
        self.dry_run = False

    def emit(self, event: str, **data: Any) -> None:
        """Write one line (dropped once its reader has gone)."""
        self.lines.write(orjson.dumps({"event": event, **data}, default=str).decode())

    def start(self, recipe: str, trigger: str, *, dry_run: bool) -> None:
        """The run begins."""
        self.dry_run = dry_run
        self.emit("run", recipe=recipe, trigger=trigger, dry_run=dry_run)

    def polled(self, records: int, jobs: int, cursor: Any) -> None:
        """A poll cycle ended."""
        self.emit("poll", records=records, jobs=jobs, cursor=cursor)

    def note(self, message: str, **data: Any) -> None:
        """A remark."""
        self.emit("note", message=message, **data)

    def waiting(self, wait: Wait) -> None:
        """A ``waiting`` line."""
        self.emit("waiting", **wait_data(wait))

    def job_started(self, job: JobRecord) -> None:
        """A job begins."""
        super().job_started(job)
        self.emit("job_started", job=job.id, event_key=job.event_key)

    def step_finished(self, job_id: str, step: StepRecord, plan: Plan | None) -> None:
        """A step ended; a dry run's line carries the plan."""
        data: dict[str, Any] = {
            "job": job_id,
            "path": step.path,
            "id": step.step_id,
            "action": step.action,
            "status": step.status,
            "attempts": step.attempts,
            "seconds": _seconds(step),
        }
        if step.error is not None:
            data["error"] = step.error
        if self.dry_run:
            data["input"] = step.input
            data["example_output" if plan is not None and plan.example else "output"] = step.output
            if plan is not None:
                data["requests"] = [request.to_dict() for request in plan.requests]
        self.emit("step", **data)

    def job_finished(self, job: JobRecord, outcome: JobOutcome) -> None:
        """A job ended."""
        super().job_finished(job, outcome)
        self.emit(
            "job_finished",
            job=outcome.job_id,
            status=outcome.status,
            error=outcome.error,
            outputs=outcome.outputs,
        )

    def abort(self, error: BaseException) -> None:
        """An ``error`` line instead of the summary."""
        self.emit("error", message=str(error) or type(error).__name__)

    def finish(self, *, stopped: bool = False) -> int:
        """The summary line."""
        code = exit_code(self.outcomes, stopped=stopped)
        self.emit("summary", jobs=len(self.outcomes), **self.counts(), exit_code=code)
        return code


class Lines:
    """Lines written to ``stream`` for a reader that may stop reading: ``| head``, or a log
    collector that goes away.

    Once the reader has closed the pipe, lines are dropped and the command goes on: what a
    reader reads must not change what the jobs do, and a job cut short by a write to a closed
    pipe would fail after its first steps had run, a service would stop serving.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.reader_gone = False

    def write(self, line: str) -> None:
        """Write ``line`` and a newline, unless the reader has gone."""
        if self.reader_gone:
            return
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except BrokenPipeError:
            self.reader_gone = True
            _to_devnull(self.stream)


def _to_devnull(stream: TextIO) -> None:
    """Point ``stream``'s file at the null device, so that the interpreter's last flush of
    what it still holds does not fail on the closed pipe again."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's buffer)
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)


class TerminalReporter(Reporter):
    """A live display while jobs run, then a summary table."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self.console = console or Console()
        self.live = Live(console=self.console, transient=True, auto_refresh=False)
        self.title = ""
        self.dry_run = False
        self.records: int | None = None
        self.queued = 0
        self.steps = 0
        self.current = ""
        self.started = time.monotonic()

    def start(self, recipe: str, trigger: str, *, dry_run: bool) -> None:
        """Start the live display."""
        self.title = f"{recipe} ({trigger}){' — dry run' if dry_run else ''}"
        self.dry_run = dry_run
        self.live.start()
        self.refresh()

    def reading(self, records: int) -> None:
        """Count the records as they arrive (redrawn every hundred)."""
        self.records = records
        if records % 100 == 0:
            self.refresh()

    def polled(self, records: int, jobs: int, cursor: Any) -> None:
        """A poll cycle ended."""
        self.records = records
        self.queued = jobs
        self.refresh()

    def note(self, message: str, **data: Any) -> None:
        """Print a remark above the live display."""
        self.console.print(message, highlight=False)

    def waiting(self, wait: Wait) -> None:
        """Print the wait above the live display."""
        self.console.print(wait.message, style="yellow", highlight=False)

    def job_started(self, job: JobRecord) -> None:
        """A job begins."""
        super().job_started(job)
        self.current = f"job {job.id[:12]}"
        self.refresh()

    def step_finished(self, job_id: str, step: StepRecord, plan: Plan | None) -> None:
        """Count the step; in a dry run print its plan."""
        self.steps += 1
        self.current = f"job {job_id[:12]}: {step.path} {step.status}"
        if self.dry_run:
            self.console.print(_plan_text(step, plan))
        self.refresh()

    def job_finished(self, job: JobRecord, outcome: JobOutcome) -> None:
        """A job ended."""
        super().job_finished(job, outcome)
        self.refresh()

    def refresh(self) -> None:
        """Redraw the live display."""
        done = len(self.outcomes)
        total = max(self.queued, done)
        parts = [f"[bold]{self.title}[/bold]"]
        if self.records is not None:
            parts.append(f"records read: {self.records}")
        parts.append(f"jobs: {done}/{total}" if total else f"jobs: {done}")
        parts.append(f"steps: {self.steps}")
        if self.current:
            parts.append(self.current)
        self.live.update(Text.from_markup("   ".join(parts)), refresh=True)

    def abort(self, error: BaseException) -> None:
        """Stop the live display; the error is printed by the caller."""
        self.live.stop()

    def finish(self, *, stopped: bool = False) -> int:
        """Stop the live display and print the summary table."""
        self.live.stop()
        code = exit_code(self.outcomes, stopped=stopped)
        seconds = time.monotonic() - self.started
        if not self.outcomes:
            self.console.print(f"{self.title}: no jobs to run ({seconds:.1f}s)")
            return code
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts().items()))
        total = len(self.outcomes)
        lines: list[Any] = [summary_table(self.outcomes)]
        lines.append(Text(f"{total} job{'' if total == 1 else 's'}: {counts} ({seconds:.1f}s)"))
        if total == 1 and self.outcomes[0].outputs:
            outputs = orjson.dumps(self.outcomes[0].outputs, default=str).decode()
            lines.append(Text(f"outputs: {outputs}"))
        self.console.print(Group(*lines))
        return code


def wait_data(wait: Wait) -> dict[str, Any]:
    """A wait as JSON-shaped data: its message, connector, seconds, budget, asked pause."""
    return {
        "message": wait.message,
        "connector": wait.connector,
        "seconds": round(wait.seconds, 3),
        "budget": None if wait.budget is None else str(wait.budget),
        "asked": wait.asked,
    }


def show_wait(wait: Wait, stream: TextIO | None = None) -> None:
    """Tell a wait on stderr: a line on a terminal, a ``waiting`` JSON line otherwise."""
    out = stream or sys.stderr
    if out.isatty():
        out.write(f"{wait.message}\n")
    else:
        out.write(orjson.dumps({"event": "waiting", **wait_data(wait)}).decode() + "\n")
    out.flush()


def summary_table(outcomes: list[JobOutcome]) -> Table:
    """A row per job: its id, status, failed step and error."""
    table = Table("job", "status", "failed step", "error", box=None, show_edge=False)
    for outcome in outcomes:
        error: Mapping[str, Any] = outcome.error or {}
        style = "red" if outcome.status in FAILED else "green"
        table.add_row(
            outcome.job_id[:12],
            Text(outcome.status, style=style),
            str(error.get("step") or ""),
            _one_line(str(error.get("message") or "")),
        )
    return table


def _plan_text(step: StepRecord, plan: Plan | None) -> Text:
    text = Text(f"{step.path}", style="bold")
    if step.action:
        text.append(f"  {step.action}")
    text.append("\n  input: " + orjson.dumps(step.input, default=str).decode())
    for request in plan.requests if plan is not None else ():
        text.append(f"\n  {request.role}: {request.method} {request.url}")
    if plan is not None:
        label = "example output" if plan.example else "output"
        text.append(f"\n  {label}: " + orjson.dumps(step.output, default=str).decode())
    return text


def _seconds(step: StepRecord) -> float | None:
    if step.started_at is None or step.finished_at is None:
        return None
    return round(step.finished_at - step.started_at, 3)


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
