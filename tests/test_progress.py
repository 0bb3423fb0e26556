"""What `hookline run` shows on a terminal: the summary names each failed step and its error."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from rich.console import Console

from hookline.cli.progress import JsonLinesReporter, TerminalReporter, exit_code
from hookline.cli.run import stoppable
from hookline.run.jobs import JobOutcome
from hookline.run.shutdown import Shutdown
from hookline.run.store import JobRecord, StepRecord


def job(job_id: str) -> JobRecord:
    return JobRecord(job_id, "r", "/r.yaml", "k", {}, "queued", 0.0)


def test_the_summary_names_the_failed_step_and_its_error() -> None:
    out = io.StringIO()
    reporter = TerminalReporter(Console(file=out, width=120, color_system=None))
    reporter.start("watch", "tracker.new_ticket", dry_run=False)
    reporter.polled(3, 2, 7)
    for job_id, outcome in [
        ("aaaaaaaaaaaaaaaa", JobOutcome("aaaaaaaaaaaaaaaa", "succeeded")),
        (
            "bbbbbbbbbbbbbbbb",
            JobOutcome(
                "bbbbbbbbbbbbbbbb",
                "failed",
                {
                    "kind": "server",
                    "message": "tracker.touch: the server failed",
                    "step": "steps[1]",
                },
            ),
        ),
    ]:
        reporter.job_started(job(job_id))
        reporter.step_finished(job_id, StepRecord("steps[0]", 0, "succeeded"), None)
        reporter.job_finished(job(job_id), outcome)
    assert reporter.finish() == 1
    text = out.getvalue()
    assert "bbbbbbbbbbbb  failed     steps[1]     tracker.touch: the server failed" in text
    assert "aaaaaaaaaaaa  succeeded" in text
    assert "2 jobs: 1 failed, 1 succeeded" in text


def test_one_job_shows_its_outputs_and_skipped_jobs_exit_0() -> None:
    out = io.StringIO()
    reporter = TerminalReporter(Console(file=out, width=120, color_system=None))
    reporter.start("note", "manual", dry_run=False)
    reporter.job_finished(job("c"), JobOutcome("c", "skipped", None, {"comment": 4}))
    assert reporter.finish() == 0
    assert 'outputs: {"comment":4}' in out.getvalue()
    assert exit_code([JobOutcome("d", "outcome_unknown")]) == 1


@pytest.mark.parametrize("finishes", [True, False], ids=["within the grace", "interrupted"])
def test_the_summary_of_a_stopped_run_gives_the_exit_code_130(finishes: bool) -> None:
    """The summary line says the code the process exits with, so a script reads one answer."""
    out = io.StringIO()
    reporter = JsonLinesReporter(out)

    async def stopped_run() -> int:
        shutdown = Shutdown()

        async def work() -> None:
            shutdown.request()
            if not finishes:
                await asyncio.sleep(60)
            reporter.job_finished(job("e"), JobOutcome("e", "succeeded"))

        return await stoppable(reporter, work(), shutdown, grace=0.01)

    assert asyncio.run(stopped_run()) == 130
    summary = json.loads(out.getvalue().splitlines()[-1])
    assert summary["event"] == "summary"
    assert summary["exit_code"] == 130


@pytest.mark.parametrize("kept", [True, False], ids=["history kept", "a sandbox run's own"])
def test_a_stopped_run_names_each_interrupted_job_and_how_to_resume_it(kept: bool) -> None:
    out = io.StringIO()
    reporter = JsonLinesReporter(out)

    async def stopped_run() -> int:
        shutdown = Shutdown()

        async def work() -> None:
            reporter.job_finished(job("f" * 32), JobOutcome("f" * 32, "succeeded"))
            shutdown.request()
            reporter.job_finished(job("a" * 32), JobOutcome("a" * 32, "interrupted"))

        return await stoppable(reporter, work(), shutdown, grace=1, resumable=kept)

    assert asyncio.run(stopped_run()) == 130
    notes = [
        line for line in map(json.loads, out.getvalue().splitlines()) if line["event"] == "note"
    ]
    if not kept:  # the store goes with the run: nothing can resume the job
        assert notes == []
        return
    assert notes[-1] == {
        "event": "note",
        "message": "job aaaaaaaaaaaa was interrupted; `hookline jobs rerun aaaaaaaaaaaa` resumes "
        "it at its first unfinished step",
        "job": "a" * 32,
    }
    assert not any("ffffffffffff" in note["message"] for note in notes)
