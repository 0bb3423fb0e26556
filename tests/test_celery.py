"""Jobs on Celery workers: real ``hookline serve`` and ``hookline worker`` processes, real
brokers (Redis and RabbitMQ on loopback), PostgreSQL as the state store, and the sandboxes.

An example recipe leaves the sandboxes as the inline executor leaves them; a worker killed
mid-job leaves its job to another, which finishes it once; three workers keep to PlanRadar's
budget; a job another process holds is tried again, not lost.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from click.testing import CliRunner

from hookline.cli.main import main
from hookline.plugins.manager import get_plugin_manager
from hookline.plugins.records import ExecutorConfig
from hookline.run import cycles
from hookline.run.audit import job_actions
from hookline.run.celery import executor as celery_executor
from hookline.run.celery.worker import PAUSED_RETRY
from hookline.run.jobs import JobRunner, Observer
from hookline.run.store import FINAL, JobRecord, SqlCursor, open_store
from tests.celery_kit import (
    RABBITMQ,
    REDIS,
    ROOT,
    Processes,
    all_jobs,
    counted_sandboxes,
    job_statuses,
    own_queue,
)
from tests.crash_kit import POLL_RECIPE, Sandboxes, free_port, kill, wait_for
from tests.stores import store_url
from tests.test_ratelimit import most_in_a_window
from tests.test_startup import imported

TICKETS = ROOT / "recipes" / "pcr360-servicedesk-to-planradar.yaml"


@pytest.fixture
def state(tmp_path: Path) -> Iterator[str]:
    with store_url("postgresql", tmp_path) as url:
        yield url


def new_tickets(boxes: Sandboxes, before: set[str]) -> list[tuple[str, str, str, str]]:
    """The PlanRadar tickets made since ``before`` (their ids): uuid, subject, priority, project."""
    tickets = boxes.state("planradar").tickets
    return sorted(
        (t.uuid, t.attributes["subject"], t.attributes.get("priority-id"), t.project_id)
        for key, t in list(tickets.items())
        if key not in before
    )


def finished(state: str, count: int) -> bool:
    """Whether the store holds ``count`` jobs, every one ended."""
    found = job_statuses(state)
    return sum(found.values()) == count and set(found) <= FINAL


def serve_tickets(tmp_path: Path, state: str, *executor: str) -> tuple[Any, dict[str, int]]:
    """The example recipe served (with ``executor``'s options) until its jobs end; the new
    tickets and the jobs' statuses. With an executor, a worker must have run every job."""
    with counted_sandboxes(tmp_path) as (boxes, _), own_queue(REDIS) as queue:
        before = set(boxes.state("planradar").tickets)
        processes = Processes(boxes, state, tmp_path, REDIS)
        try:
            if executor:
                processes.worker([TICKETS], queue, concurrency=2)
            processes.serve_with([TICKETS], free_port(), *executor, "--queue", queue)
            wait_for(lambda: finished(state, 6), "six jobs", timeout=60, logs=processes.output)
        finally:
            processes.stop_all()
        ran = [log.read_text().count('"event":"job"') for log in processes.logs]
        assert ran == ([6, 0] if executor else [6]), processes.output()
        return new_tickets(boxes, before), job_statuses(state)


def test_an_example_recipe_on_celery_workers_leaves_the_sandboxes_as_inline_does(
    tmp_path: Path,
) -> None:
    with store_url("postgresql", tmp_path) as inline_state:
        inline = serve_tickets(folder(tmp_path, "inline"), inline_state)
    with store_url("postgresql", tmp_path) as celery_state:
        on_workers = serve_tickets(folder(tmp_path, "celery"), celery_state, "--executor", "celery")
    assert on_workers == inline
    tickets, statuses = on_workers
    assert len(tickets) == statuses.get("succeeded") and tickets


def folder(parent: Path, name: str) -> Path:
    made = parent / name
    made.mkdir()
    return made


def test_a_worker_killed_mid_job_leaves_its_job_to_another_which_makes_the_case_once(
    tmp_path: Path, state: str
) -> None:
    with counted_sandboxes(tmp_path) as (boxes, _), own_queue(RABBITMQ) as queue:
        recipe, _ = items_recipe(tmp_path, boxes, 0)
        processes = Processes(boxes, state, tmp_path, RABBITMQ)
        argus = boxes.gates["argus"]
        try:
            argus.hold("after")  # Argus makes the case; its answer waits
            first = processes.worker([recipe], queue, concurrency=1)
            processes.serve_with([recipe], free_port(), "--executor", "celery", "--queue", queue)
            items = boxes.add_items(3)
            wait_for(lambda: argus.held >= 1, "a case in flight", logs=processes.output)
            kill(first)
            argus.release()
            processes.worker([recipe], queue, concurrency=2)
            wait_for(lambda: finished(state, 3), "three jobs", timeout=60, logs=processes.output)
        finally:
            processes.stop_all()
        assert boxes.cases("pcr360:") == {f"pcr360:{item}": 1 for item in items}
    assert job_statuses(state) == {"succeeded": 3}, processes.output()
    assert all(step.status == "succeeded" for job in all_jobs(state) for step in job.steps)
    ran = [log.read_text().count('"event":"job"') for log in processes.logs]
    assert ran == [0, 0, 3], processes.output()  # the killed worker ended none; serve runs none


def test_three_workers_keep_to_planradars_budget(tmp_path: Path, state: str) -> None:
    # PlanRadar's 30 calls a minute, scaled down to 6 calls in 3 seconds on both sides: the
    # sandbox locks the account out for five minutes at the first call over.
    limit = {"rate_limit": 6, "rate_window": 3.0, "cooldown": 300.0}
    budget = {"rate_limit": {"requests": 6, "per": 3}}
    options, values = {"planradar": limit}, {"planradar": budget}
    with (
        counted_sandboxes(tmp_path, options, values) as (boxes, counted),
        own_queue(REDIS) as queue,
    ):
        boxes.add_items(12)  # with the six the recipe starts after: 18 tickets
        processes = Processes(boxes, state, tmp_path, REDIS)
        try:
            for _ in range(3):
                processes.worker([TICKETS], queue, concurrency=3)
            processes.serve_with([TICKETS], free_port(), "--executor", "celery", "--queue", queue)
            wait_for(lambda: finished(state, 18), "18 jobs", timeout=90, logs=processes.output)
        finally:
            processes.stop_all()
        statuses, created = counted["planradar"].statuses, counted["planradar"].created
    assert job_statuses(state) == {"succeeded": 18}, processes.output()
    assert statuses[429] == 0 and statuses[201] == 18, processes.output()
    assert most_in_a_window(created, 3.0) <= 6
    assert max(created) - min(created) > 6  # eighteen calls, six a window: three windows
    ran = [log.read_text().count('"event":"job"') for log in processes.logs[:3]]
    assert sum(ran) == 18 and sum(1 for n in ran if n) >= 2, processes.output()


def test_a_job_another_process_holds_is_tried_again_once_its_lease_runs_out(
    tmp_path: Path, state: str
) -> None:
    with counted_sandboxes(tmp_path) as (boxes, _), own_queue(RABBITMQ) as queue:
        recipe, [item] = items_recipe(tmp_path, boxes, 1)
        job_id = asyncio.run(held_job(state, item, seconds=4.0))
        processes = Processes(boxes, state, tmp_path, RABBITMQ)
        try:
            processes.worker([recipe], queue, concurrency=1)
            send(RABBITMQ, queue, job_id)
            wait_for(lambda: finished(state, 1), "the held job", timeout=30, logs=processes.output)
        finally:
            processes.stop_all()
        assert boxes.cases("pcr360:") == {f"pcr360:{item}": 1}
    assert job_statuses(state) == {"succeeded": 1}
    assert "is held by elsewhere/1/abc; tried again in" in processes.output()


def test_a_job_of_a_paused_trigger_waits_on_the_worker_and_runs_once_resumed(
    tmp_path: Path, state: str
) -> None:
    with counted_sandboxes(tmp_path) as (boxes, _), own_queue(REDIS) as queue:
        recipe, [item] = items_recipe(tmp_path, boxes, 1)
        job_id = asyncio.run(queued_job(state, item))
        asyncio.run(pause(state, paused=True))
        processes = Processes(boxes, state, tmp_path, REDIS)
        note = "its trigger is paused; looked at again in 10s"
        try:
            processes.worker([recipe], queue, concurrency=1)
            send(REDIS, queue, job_id)
            wait_for(lambda: note in processes.output(), "the worker's look", logs=processes.output)
            time.sleep(4)
            assert processes.output().count(note) == 1  # not a look a second
            assert job_status(state, job_id) == "queued"
            resumed = time.monotonic()
            asyncio.run(pause(state, paused=False))
            wait_for(lambda: finished(state, 1), "the resumed job", timeout=30,
                     logs=processes.output)  # fmt: skip
            assert time.monotonic() - resumed < PAUSED_RETRY + 5
        finally:
            processes.stop_all()
        assert boxes.cases("pcr360:") == {f"pcr360:{item}": 1}
    assert job_statuses(state) == {"succeeded": 1}


async def pause(state: str, *, paused: bool) -> None:
    """Pause or resume the trigger of ``items-to-cases`` as an operator would."""
    store = open_store(state, get_plugin_manager(entry_points=False))
    try:
        await cycles.register(store, "items-to-cases", "pcr360.new_service_desk_record", "poll",
                              None)  # fmt: skip
        assert await cycles.set_paused(store, "items-to-cases", paused, "ops")
    finally:
        await store.close()


def test_a_worker_serves_the_jobs_and_steps_it_ran_at_its_metrics_port(
    tmp_path: Path, state: str
) -> None:
    with counted_sandboxes(tmp_path) as (boxes, _), own_queue(REDIS) as queue:
        recipe, [item] = items_recipe(tmp_path, boxes, 1)
        job_id = asyncio.run(queued_job(state, item))
        processes = Processes(boxes, state, tmp_path, REDIS)
        port = free_port()
        try:
            processes.worker([recipe], queue, 1, "--metrics-port", str(port))
            wait_for(lambda: scrape(port) is not None, "the worker's /metrics",
                     logs=processes.output)  # fmt: skip
            assert "hookline_jobs_finished_total{" not in str(scrape(port))
            send(REDIS, queue, job_id)
            wait_for(lambda: finished(state, 1), "the job", timeout=30, logs=processes.output)
            page = str(scrape(port))
        finally:
            processes.stop_all()
    counted = 'hookline_jobs_finished_total{recipe="items-to-cases",status="succeeded"} 1.0'
    assert counted in page, page
    steps = 'hookline_step_seconds_count{action="argus.create_case",recipe="items-to-cases"} 1.0'
    assert steps in page, page
    assert f"metrics at http://127.0.0.1:{port}/metrics" in processes.output()


def test_a_rerun_from_the_command_line_or_a_celery_served_console_runs_on_a_worker(
    tmp_path: Path, state: str
) -> None:
    token = secrets.token_urlsafe(32)
    with counted_sandboxes(tmp_path) as (boxes, _), own_queue(REDIS) as queue:
        recipe, [first, second] = items_recipe(tmp_path, boxes, 2)
        failed = [asyncio.run(failed_job(state, recipe, item)) for item in (first, second)]
        processes = Processes(boxes, state, tmp_path, REDIS)
        processes.env["HOOKLINE_CONSOLE_TOKEN"] = token
        port = free_port()
        try:
            processes.worker([recipe], queue, 1)
            rerun = processes.start("jobs", "rerun", failed[0][:10], "--executor", "celery",
                                    "--queue", queue, "--json")  # fmt: skip
            assert rerun.wait(timeout=60) == 0, processes.output()
            assert job_status(state, failed[0]) == "succeeded"
            processes.serve_with([recipe], port, "--executor", "celery", "--queue", queue)
            wait_for(lambda: scrape(port) is not None, "the console", logs=processes.output)
            bearer = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=bearer) as console:
                paused = console.post("/api/recipes/items-to-cases/pause")
                assert paused.status_code == 200, paused.text  # a rerun runs even so
                answer = console.post(f"/api/jobs/{failed[1]}/rerun")
            assert answer.json() == {"action": "rerun", "job": failed[1]}, answer.text
            wait_for(lambda: finished(state, 2), "the console's rerun", timeout=30,
                     logs=processes.output)  # fmt: skip
        finally:
            processes.stop_all()
        assert boxes.cases("pcr360:") == {f"pcr360:{first}": 1, f"pcr360:{second}": 1}
    assert job_statuses(state) == {"succeeded": 2}
    worker, command, serve = (log.read_text() for log in processes.logs)
    assert worker.count('"event":"job"') == 2, processes.output()  # both ran on the worker
    assert '"event":"job"' not in serve, processes.output()
    assert '"job_finished"' in command and '"succeeded"' in command, processes.output()
    by_command, by_console = asyncio.run(audit(state, failed))
    assert [a.partition(" (")[0].partition("@")[0] for a in by_command] == [
        "rerun by " + getpass.getuser()
    ]
    assert by_console == ["rerun by api (bearer token)"]


async def failed_job(state: str, recipe: Path, item: int) -> str:
    """A job of ``items-to-cases`` for PCR-360 item ``item`` that failed at its step; its id."""
    job_id = await queued_job(state, item, recipe)
    store = open_store(state, get_plugin_manager(entry_points=False))
    try:
        error = {"kind": "http", "message": "503 Service Unavailable", "step": "steps[0]"}
        await store.finish_job(job_id, "failed", error=error)
        return job_id
    finally:
        await store.close()


def job_status(state: str, job_id: str) -> str | None:
    """The status of job ``job_id`` in the store at ``state``."""
    return next((job.status for job in all_jobs(state) if job.id == job_id), None)


async def audit(state: str, job_ids: list[str]) -> list[list[str]]:
    """What operators did to each of ``job_ids``: ``action by actor``."""
    store = open_store(state, get_plugin_manager(entry_points=False))
    try:
        return [[f"{a.action} by {a.actor}" for a in await job_actions(store, job_id)]
                for job_id in job_ids]  # fmt: skip
    finally:
        await store.close()


def scrape(port: int) -> str | None:
    """The text of ``/metrics`` on loopback ``port``; None while nothing answers there."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).raise_for_status().text
    except httpx.TransportError:
        return None


def items_recipe(folder: Path, boxes: Sandboxes, items: int) -> tuple[Path, list[int]]:
    """The recipe ``items-to-cases``, written in ``folder`` to poll PCR-360 from its last item
    on, and ``items`` new items in the sandbox."""
    recipe = folder / "items-to-cases.yaml"
    recipe.write_text(POLL_RECIPE.format(after=boxes.last_item()))
    return recipe, boxes.add_items(items)


async def queued_job(state: str, item: int, recipe: Path = Path("items-to-cases.yaml")) -> str:
    """A queued job of ``items-to-cases`` (from ``recipe``) for PCR-360 item ``item``; its id."""
    store = open_store(state, get_plugin_manager(entry_points=False))
    try:
        event = {"RECID": item, "SD_NUMBER": f"IN-{item:06d}", "DESCRIPTION": "Queued"}
        job = await store.create_job("items-to-cases", str(recipe), str(item), event)
        assert job is not None
        return job.id
    finally:
        await store.close()


async def held_job(state: str, item: int, seconds: float) -> str:
    """A queued job of ``items-to-cases`` for PCR-360 item ``item``, then held by a process of
    another machine for ``seconds``; its id."""
    job_id = await queued_job(state, item)
    store = open_store(state, get_plugin_manager(entry_points=False))
    try:

        def hold(cur: SqlCursor) -> None:
            cur.execute(
                "UPDATE jobs SET status = 'running', lease_owner = ?, lease_until = ? WHERE id = ?",
                ("elsewhere/1/abc", time.time() + seconds, job_id),
            )

        await store.transaction(hold)
        return job_id
    finally:
        await store.close()


def send(broker: str, queue: str, job_id: str) -> None:
    """Send job ``job_id`` as ``hookline serve --executor celery`` does."""
    from hookline.run.celery.app import celery_app, send_job

    send_job(celery_app(broker), job_id, "items-to-cases", queue)


def test_serve_and_worker_help_do_not_import_celery() -> None:
    for command in ("serve", "worker"):
        modules = {m.split(".")[0] for m in imported(command, "--help")}
        assert not modules & {"celery", "kombu", "redis"}, command


MISREAD_BROKERS = [
    "redis:/:sekrit@127.0.0.1:6379/0",  # one slash: Celery took it for an AMQP host name
    "http://:sekrit@127.0.0.1:6379/0",  # no such transport, found only at the first send
    ":sekrit@127.0.0.1:6379",
]


@pytest.mark.parametrize("broker", MISREAD_BROKERS)
@pytest.mark.parametrize("command", ["worker", "serve"])
def test_a_broker_url_that_is_not_redis_or_rabbitmq_stops_the_command_before_it_starts(
    command: str, broker: str
) -> None:
    options = {"worker": [], "serve": ["--executor", "celery", "--port", "0"]}[command]
    args = [command, str(TICKETS), "--broker", broker, *options]
    said = CliRunner().invoke(main, args, env={"HOOKLINE_CONNECTIONS": "", "HOOKLINE_STATE": ""})
    assert said.exit_code == 1, said.output
    assert "must begin with redis://, rediss://, amqp://, amqps://" in said.output
    assert "sekrit" not in said.output and "Traceback" not in said.output


@pytest.mark.parametrize(
    ("broker", "why"),
    [
        (RABBITMQ.replace("guest@", "not-the-password@"), "ACCESS_REFUSED"),
        (RABBITMQ.removesuffix("/") + "no-such-vhost", "NOT_ALLOWED"),
    ],
)
def test_a_worker_the_broker_refuses_stops_with_the_brokers_reason(broker: str, why: str) -> None:
    said = CliRunner().invoke(
        main, ["worker", str(TICKETS), "--broker", broker], env={"HOOKLINE_CONNECTIONS": ""}
    )
    assert said.exit_code == 1, said.output
    assert "refused this worker" in said.output and why in said.output
    assert "not-the-password" not in said.output and "Traceback" not in said.output


def test_a_json_worker_writes_what_celery_says_of_a_broker_it_cannot_reach_as_json(
    tmp_path: Path, state: str
) -> None:
    with counted_sandboxes(tmp_path) as (boxes, _):
        processes = Processes(boxes, state, tmp_path, f"redis://127.0.0.1:{free_port()}/0")
        try:
            processes.worker([TICKETS], "hookline", 1)
            log = processes.logs[0]
            wait_for(lambda: "Cannot connect" in log.read_text(), "Celery's retry", timeout=30,
                     logs=processes.output)  # fmt: skip
        finally:
            processes.stop_all()
    said = [line for line in log.read_text().splitlines() if "Cannot connect" in line]
    notes = [json.loads(line) for line in said]
    assert notes[0]["event"] == "note" and notes[0]["level"] == "error"
    assert "Trying again" in notes[0]["message"]


def test_a_broker_refusing_jobs_is_told_once_and_its_return_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A backlog of jobs the broker refuses gives one note, not one a job at every sweep."""
    answers = iter([OSError("Connection refused")] * 5 + [None] * 2)
    sent: list[str] = []

    def sending(app: Any, job_id: str, recipe: str, queue: str, *, again: bool = False) -> None:
        refused = next(answers)
        if refused is not None:
            raise refused
        sent.append(job_id)

    class Notes(Observer):
        def __init__(self) -> None:
            self.notes: list[str] = []

        def note(self, message: str, **data: Any) -> None:
            self.notes.append(message)

    monkeypatch.setattr(celery_executor, "send_job", sending)
    notes = Notes()
    executor = celery_executor.CeleryExecutor(ExecutorConfig(broker=REDIS))
    jobs = [JobRecord(f"job-{n}", "items", "i.yaml", str(n), {}, "queued", 0.0) for n in range(7)]

    async def main() -> None:
        stop = asyncio.Event()
        runner = cast(JobRunner, SimpleNamespace(observer=notes))
        serving = asyncio.create_task(executor.serve({"items": runner}, stop))
        for job in jobs:
            executor.dispatch(job)
        while len(sent) < 2:
            await asyncio.sleep(0.01)
        stop.set()
        await serving

    asyncio.run(main())
    assert sent == ["job-5", "job-6"]
    assert notes.notes == [
        "jobs not sent: OSError: Connection refused; they stay queued and are sent again once "
        "the broker takes them",
        "the broker takes jobs again; 5 sends had failed",
    ]
