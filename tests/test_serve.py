"""``hookline serve`` in-process against the tracker: polls, webhooks, stopping, resuming,
health and metrics; and the commands around it (jobs --stale/--unknown/resolve, triggers,
replay), through click."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from hookline.cli.jobs import jobs
from hookline.cli.replay import replay
from hookline.cli.serve import ServeLog, serve
from hookline.cli.triggers import triggers
from hookline.cli.worker import worker
from hookline.recipes.load import load_recipe
from hookline.run.audit import command_actor
from hookline.run.claims import Claims
from hookline.run.operations import parse_moment
from hookline.run.pool import ConnectionPool
from hookline.run.sandbox import base_url, bind_all
from hookline.run.serve import ServeObserver, ServeSettings, Service
from hookline.run.shutdown import Shutdown
from hookline.run.store import JobRecord, open_store
from hookline.spec.catalog import Catalog
from tests.recipe_kit import TOKEN, TrackerState, json_lines, serve_tracker, tracker_catalog

HEAD = """\
recipe: {name}
connections:
  tracker:
    connector: tracker
    base_url: "{{{{ env.TRACKER_URL }}}}"
    token: "{{{{ env.TRACKER_TOKEN }}}}"
"""
POLL = """\
trigger: {{event: tracker.new_ticket, every: 1h, alert_after: 1s}}
steps:
  - action: tracker.{action}
    with: {with_}
"""
HOOK = """\
trigger: {event: tracker.ticket_event}
steps:
  - action: tracker.add_comment
    with: {id: "{{ trigger.id }}", text: "changed {{ trigger.title }}"}
"""
COMMENT = '{id: "{{ trigger.id }}", text: "seen {{ trigger.title }}"}'
TOUCH = '{key: "ticket-{{ trigger.id }}"}'


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return tracker_catalog(tmp_path_factory.mktemp("specs"))


@pytest.fixture
def tracker() -> Iterator[TrackerState]:
    yield from serve_tracker()


class Served:
    """Writes recipes, serves them in-process, and reads what happened."""

    def __init__(self, catalog: Catalog, folder: Path, tracker: TrackerState) -> None:
        self.catalog = catalog
        self.folder = folder
        self.tracker = tracker
        self.state = str(folder / "state.db")
        self.env = {"TRACKER_URL": tracker.url, "TRACKER_TOKEN": TOKEN}
        self.log: list[tuple[str, Any]] = []

    def recipe(self, name: str, body: str) -> Path:
        path = self.folder / f"{name}.yaml"
        path.write_text(HEAD.format(name=name) + body)
        return path

    def poll_recipe(self, name: str = "watch", action: str = "add_comment") -> Path:
        with_ = COMMENT if action == "add_comment" else TOUCH
        return self.recipe(name, POLL.format(action=action, with_=with_))

    def serve(
        self,
        paths: list[Path],
        work: Callable[[str, Service], Awaitable[None]],
        **settings: Any,
    ) -> None:
        """Serve ``paths`` while ``work(url, service)`` runs, then stop as SIGTERM would."""

        async def main() -> None:
            recipes = [load_recipe(p, self.catalog, env=self.env) for p in paths]
            store = open_store(self.state, self.catalog.pm)
            sock = bind_all("127.0.0.1", [0])[0]
            observer = _Log(self.log)
            try:
                async with ConnectionPool(self.catalog, env=self.env) as pool:
                    for recipe in recipes:
                        pool.open(recipe)
                    options = {"grace": 5.0, "sweep": 0.2, **settings}
                    service = Service(
                        recipes, pool, store, settings=ServeSettings(**options), observer=observer
                    )
                    shutdown = Shutdown()
                    running = asyncio.create_task(service.run(sock, shutdown))
                    url = base_url(sock)
                    await until(lambda: _answers(url))
                    try:
                        await work(url, service)
                    finally:
                        shutdown.request()
                        await asyncio.wait_for(running, 30)
            finally:
                sock.close()
                await store.close()

        asyncio.run(main())

    def jobs(self) -> list[JobRecord]:
        return asyncio.run(self.fetch_jobs())

    async def fetch_jobs(self) -> list[JobRecord]:
        store = open_store(self.state, self.catalog.pm)
        try:
            found = await store.list_jobs(limit=1000)
            return [j for j in [await store.get_job(job.id) for job in found] if j]
        finally:
            await store.close()

    async def status(self) -> str:
        """The status of the only job."""
        [job] = await self.fetch_jobs()
        return job.status

    def cli(self, command: Any, *args: str) -> Result:
        app = SimpleNamespace(pm=self.catalog.pm, catalog=self.catalog)
        env = {**self.env, "HOOKLINE_CONNECTIONS": "", "HOOKLINE_STATE": self.state}
        return CliRunner().invoke(command, list(args), obj=app, env=env)


class _Log(ServeObserver):
    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log

    def job_finished(self, job: JobRecord, outcome: Any) -> None:
        self.log.append(("job", (job.id, outcome.status)))

    def cycle_finished(
        self, recipe: str, trigger: str, records: int, jobs: int, error: str | None
    ) -> None:
        self.log.append(("cycle", (recipe, records, jobs, error)))

    def note(self, message: str, **data: Any) -> None:
        self.log.append(("note", message))


async def _settled(status: Awaitable[str]) -> bool:
    return await status not in ("interrupted", "running", "queued")


async def _is(status: Awaitable[str], wanted: str) -> bool:
    return await status == wanted


async def _answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{url}/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


async def until(check: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait until ``check()`` (or what it returns when awaited) is true."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


@pytest.fixture
def served(catalog: Catalog, tmp_path: Path, tracker: TrackerState) -> Served:
    return Served(catalog, tmp_path, tracker)


# ---------------------------------------------------------------- serving


def test_polled_and_pushed_events_each_run_one_job(served: Served, tracker: TrackerState) -> None:
    paths = [served.poll_recipe(), served.recipe("hook", HOOK)]

    async def work(url: str, service: Service) -> None:
        await until(lambda: len(tracker.comments) == 2)  # the two tickets, polled at start
        async with httpx.AsyncClient() as client:
            body = {"ticket": {"id": 2, "title": "Second"}}
            first = await client.post(f"{url}/hooks/hook", json=body)
            again = await client.post(f"{url}/hooks/hook", json=body)
        assert (first.status_code, again.status_code) == (202, 200)
        await until(lambda: len(tracker.comments) == 3)

    served.serve(paths, work)
    assert sorted(c["text"] for c in tracker.comments) == [
        "changed Second",
        "seen First",
        "seen Second",
    ]
    assert {job.status for job in served.jobs()} == {"succeeded"}


def test_stopping_interrupts_a_job_past_the_grace_and_the_next_start_resumes_it(
    served: Served, tracker: TrackerState
) -> None:
    tracker.tickets.pop()
    path = served.poll_recipe(name="slow")
    tracker.delay = 3.0  # the comment is held in flight when the stop comes

    async def hold(url: str, service: Service) -> None:
        await until(lambda: tracker.in_flight == 1)

    served.serve([path], hold, grace=0.2)
    [job] = served.jobs()
    assert job.status == "interrupted"
    assert [(s.path, s.status) for s in job.steps] == [("steps[0]", "running")]
    assert ("job", (job.id, "interrupted")) in served.log

    tracker.delay = 0

    async def resumed(url: str, service: Service) -> None:
        await until(
            lambda: _settled(served.status()),
        )

    served.serve([path], resumed)
    [job] = served.jobs()
    # add_comment is neither idempotent nor able to look up what it made: the comment may
    # have been made, so the job waits for an operator rather than comment twice.
    assert job.status == "outcome_unknown"
    assert "may have applied it" in str(job.error)


def test_a_resumed_idempotent_step_is_sent_again(served: Served, tracker: TrackerState) -> None:
    tracker.tickets.pop()
    path = served.poll_recipe(name="toucher", action="touch")

    async def prepare() -> None:
        store = open_store(served.state, served.catalog.pm)
        try:
            recipe = load_recipe(path, served.catalog, env=served.env)
            [job] = await store.commit_poll(recipe.name, recipe.path, "tracker.new_ticket", 1,
                                            [("1", {"id": 1, "title": "First"})])  # fmt: skip
            dead = Claims(store, owner="elsewhere/1/x", lease=0.01)
            assert await dead.claim(job)
            from hookline.run.store import StepRecord

            await store.record_step(job.id, StepRecord("steps[0]", 0, "running"))
        finally:
            await store.close()

    asyncio.run(prepare())
    time.sleep(0.05)  # the dead process's lease runs out

    async def work(url: str, service: Service) -> None:
        await until(lambda: _is(served.status(), "succeeded"))

    served.serve([path], work)
    assert tracker.touches == {"ticket-1": 1}


def test_health_and_metrics(served: Served, tracker: TrackerState) -> None:
    paths = [served.poll_recipe(), served.recipe("hook", HOOK)]

    async def work(url: str, service: Service) -> None:
        await until(lambda: len(tracker.comments) == 2)
        async with httpx.AsyncClient() as client:
            await client.post(f"{url}/hooks/hook", json={"ticket": {"id": 1, "title": "x"}})
            await client.post(
                f"{url}/hooks/hook", content=b"{", headers={"content-type": "application/json"}
            )
            await client.post(f"{url}/hooks/nobody", json={})
            await until(lambda: len(tracker.comments) == 3)
            health = await client.get(f"{url}/healthz")
            metrics = (await client.get(f"{url}/metrics")).text
            assert health.status_code == 200
            assert health.json()["store"] == "ok" and health.json()["scheduler"] == "ok"
            for line in (
                'hookline_events_received_total{recipe="watch",source="poll"} 2.0',
                'hookline_events_received_total{recipe="hook",source="webhook"} 1.0',
                'hookline_events_refused_total{reason="bad_json",recipe="hook"} 1.0',
                'hookline_events_refused_total{reason="unknown_recipe",recipe=""} 1.0',
                'hookline_jobs{recipe="watch",status="succeeded"} 2.0',
                'hookline_jobs_finished_total{recipe="hook",status="succeeded"} 1.0',
                'hookline_step_seconds_count{action="tracker.add_comment",recipe="watch"} 2.0',
            ):
                assert line in metrics
            assert 'hookline_trigger_lag_seconds{recipe="watch",trigger="tracker.new_ticket"}' in (
                metrics
            )

            async def broken(work: Any) -> Any:
                raise OSError("the disk is gone")

            original = service.store.transaction
            service.store.transaction = broken  # type: ignore[method-assign]
            try:
                failing = await client.get(f"{url}/healthz")
            finally:
                service.store.transaction = original  # type: ignore[method-assign]
            assert failing.status_code == 503 and failing.json()["store"] == "unreachable"

    served.serve(paths, work)


def test_a_failing_poll_is_recorded_and_tried_again(served: Served, tracker: TrackerState) -> None:
    tracker.fail["/tickets"] = 1
    path = served.poll_recipe()

    async def work(url: str, service: Service) -> None:
        await until(lambda: any(kind == "cycle" and data[3] for kind, data in served.log))
        await service.cycle(service.polled[0])
        await until(lambda: len(tracker.comments) == 2)

    served.serve([path], work)
    result = served.cli(triggers, "--json")
    [row] = list(json_lines(result.stdout))
    assert row["last_error"] is None and row["records"] == 2 and row["watermark"] == 2


def test_triggers_and_health_name_the_process_that_polls(
    served: Served, tracker: TrackerState
) -> None:
    paths = [served.poll_recipe(), served.recipe("hook", HOOK)]

    async def work(url: str, service: Service) -> None:
        await until(lambda: len(tracker.comments) == 2)
        async with httpx.AsyncClient() as client:
            health = (await client.get(f"{url}/healthz")).json()
        assert health["polling"] == ["watch"] and health["holder"] == service.claims.owner
        listed = await asyncio.to_thread(served.cli, triggers, "--json")
        rows = {row["recipe"]: row for row in json_lines(listed.stdout)}
        assert rows["watch"]["polled_by"] == service.claims.owner
        assert rows["watch"]["held_until"] > time.time()
        assert rows["hook"]["polled_by"] is None

    served.serve(paths, work)
    listed = served.cli(triggers, "--json")
    assert [row["polled_by"] for row in json_lines(listed.stdout)] == [None, None]  # let go


# ---------------------------------------------------------------- the command line


def test_serve_checks_every_recipe_before_starting_and_names_every_problem(
    served: Served,
) -> None:
    served.poll_recipe()
    served.recipe("bad1", POLL.format(action="add_coment", with_=COMMENT))
    served.recipe("bad2", HOOK.replace("trigger.title", "trigger.titel"))
    result = served.cli(serve, str(served.folder), "--port", "0")
    assert result.exit_code == 1
    assert "bad1.yaml:9:13: steps[0].action: connector 'tracker' has no action 'add_coment'" in (
        result.output
    )
    assert "bad2.yaml:10:" in result.output and "titel" in result.output
    assert not Path(served.state).exists()


def test_serve_refuses_two_recipes_of_one_name(served: Served) -> None:
    served.poll_recipe("watch")
    (served.folder / "again.yaml").write_text((served.folder / "watch.yaml").read_text())
    result = served.cli(serve, str(served.folder), "--port", "0")
    assert result.exit_code == 1
    assert "two recipes are named 'watch'" in result.output


async def _stopped(*args: Any, **kwargs: Any) -> None:
    """A service asked to stop as soon as it starts."""


def test_serve_logs_text_off_a_terminal_unless_json_as_its_help_says(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service's log is read in the journal: text unless ``--json``, terminal or not."""
    monkeypatch.setattr("hookline.cli.serve.Service.run", _stopped)
    recipe = str(served.poll_recipe())
    text = served.cli(serve, recipe, "--port", "0", "--no-console")  # stdout is not a terminal
    assert text.exit_code == 0, text.output
    assert text.stdout.split()[:2] == ["recipe", "trigger"]
    assert " serving on http://127.0.0.1:" in text.stderr
    lines = served.cli(serve, recipe, "--port", "0", "--no-console", "--json")
    assert [json.loads(line)["event"] for line in lines.stdout.splitlines()] == ["recipe", "state"]
    for command in (serve, worker):
        said = CliRunner().invoke(command, ["--help"]).output
        assert "JSON lines" in said and "default off a terminal" not in said


def test_serve_goes_on_when_the_reader_of_its_log_goes_away(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hookline serve ... 2>&1 >/dev/null | head -1``: the log lines nobody reads are
    dropped, and the service serves until stopped, then exits 0."""
    reached: list[bool] = []

    async def serving(*args: Any, **kwargs: Any) -> None:
        reached.append(True)

    monkeypatch.setattr("hookline.cli.serve.Service.run", serving)
    read, write = os.pipe()
    os.close(read)  # the reader has gone
    with os.fdopen(write, "w") as gone:
        monkeypatch.setattr(
            "hookline.cli.serve.ServeLog", lambda _, as_json: ServeLog(gone, as_json=as_json)
        )
        result = served.cli(serve, str(served.poll_recipe()), "--port", "0", "--no-console")
    assert result.exit_code == 0, result.output
    assert reached


def test_serve_of_a_misspelt_recipe_suggests_the_one_beside_it(served: Served) -> None:
    recipe = served.poll_recipe("watch")
    result = served.cli(serve, str(served.folder / "wacth.yaml"), "--port", "0")
    assert result.exit_code == 1
    assert f"(did you mean {str(recipe)!r}?)" in result.stderr


def test_serve_on_a_busy_port_says_how_to_choose_another(served: Served) -> None:
    recipe = str(served.poll_recipe())
    [taken] = bind_all("127.0.0.1", [0])
    with taken:
        port = str(taken.getsockname()[1])
        result = served.cli(serve, recipe, "--port", port, "--no-console")
    assert result.exit_code == 1
    assert result.output == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use; another program "
        "(or another hookline) may have the port: give --port N for another, or --port 0 for "
        "any free one\n"
    )


@pytest.mark.parametrize(
    ("command", "args", "code"),
    [
        (jobs, [], 0),
        (jobs, ["--json", "--failed"], 0),
        (jobs, ["show", "abc"], 1),
        (jobs, ["resolve", "abc", "--as", "failed"], 1),
        (triggers, [], 0),
        (triggers, ["--check", "--json"], 0),
    ],
)
def test_reading_history_before_there_is_a_store_creates_none(
    served: Served, command: Any, args: list[str], code: int
) -> None:
    """A command that reads history says there is none yet rather than create the store
    (an empty listing exits 0, a job that cannot be found 1)."""
    result = served.cli(command, *args)
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    what = "trigger" if command is triggers else "job"
    said = f"no {what} history yet: {served.state} does not exist (give --state for another store)"
    assert result.stderr == (f"error: {said}\n" if code else f"{said}\n")
    assert list(served.folder.iterdir()) == []


def test_jobs_lists_stale_and_unknown_jobs_and_resolves_one(served: Served) -> None:
    async def prepare() -> list[JobRecord]:
        store = open_store(served.state, served.catalog.pm)
        try:
            made = await store.commit_poll("r", "r.yaml", "t", 3, [(k, {}) for k in "abc"])
            await Claims(store, owner="elsewhere/1/x", lease=0.01).claim(made[0])
            await store.finish_job(made[1].id, "outcome_unknown", error={"step": "steps[0]"})
            return made
        finally:
            await store.close()

    stale, unknown, _ = asyncio.run(prepare())
    time.sleep(0.05)
    listed = served.cli(jobs, "--stale", "--json")
    assert [job["id"] for job in json_lines(listed.stdout)] == [stale.id]
    listed = served.cli(jobs, "--unknown", "--json")
    assert [job["id"] for job in json_lines(listed.stdout)] == [unknown.id]
    refused = served.cli(jobs, "resolve", stale.id[:10], "--as", "failed")
    assert refused.exit_code == 1 and "only a job whose outcome is unknown" in refused.output
    done = served.cli(jobs, "resolve", unknown.id[:10], "--as", "succeeded")
    assert done.exit_code == 0, done.output
    shown = json.loads(served.cli(jobs, "show", unknown.id, "--json").stdout)
    assert shown["status"] == "succeeded"
    assert shown["error"]["resolved"] == f"succeeded, by {command_actor()}"
    [action] = shown["actions"]
    assert (action["action"], action["actor"], action["detail"]) == (
        "resolve", command_actor(), {"as": "succeeded"},
    )  # fmt: skip


def test_replay_runs_chosen_events_again_as_new_jobs(served: Served, tracker: TrackerState) -> None:
    path = served.poll_recipe()

    async def work(url: str, service: Service) -> None:
        await until(lambda: len(tracker.comments) == 2)

    served.serve([path], work)
    again = served.cli(replay, str(path), "--event", "1", "--json")
    assert again.exit_code == 0, again.output
    assert [c["text"] for c in tracker.comments] == ["seen First", "seen Second", "seen First"]
    keys = sorted(job.event_key for job in served.jobs())
    assert keys[:2] == ["1", "1#replay-" + keys[1].rpartition("-")[2]]
    everything = served.cli(replay, str(path), "--since", "1h", "--json")
    assert everything.exit_code == 0, everything.output
    assert len(tracker.comments) == 5
    missing = served.cli(replay, str(path), "--event", "404")
    assert missing.exit_code == 1 and "no event '404'" in missing.output


def test_triggers_flags_a_watermark_that_has_not_moved(
    served: Served, tracker: TrackerState
) -> None:
    path = served.poll_recipe()

    async def work(url: str, service: Service) -> None:
        await until(lambda: len(tracker.comments) == 2)

    served.serve([path], work)
    time.sleep(1.1)  # alert_after: 1s
    result = served.cli(triggers, "--json", "--check")
    assert result.exit_code == 1
    [row] = list(json_lines(result.stdout))
    assert row["alert"].startswith("watermark has not moved for ")
    assert row["lag_seconds"] >= 1


def test_since_reads_iso_times_and_durations_ago() -> None:
    now = 1_700_000_000.0
    assert parse_moment("2h", now, "--since") == now - 7200
    assert parse_moment("2023-11-14T22:13:20Z", now, "--since") == now
    assert parse_moment("2023-11-14T23:13:20+01:00", now, "--since") == now
