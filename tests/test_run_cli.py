"""``hookline run`` and ``hookline jobs`` through click, against the tracker over loopback."""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner, Result

from hookline.cli.jobs import jobs
from hookline.cli.progress import JsonLinesReporter
from hookline.cli.run import run
from hookline.run.claims import Claims
from hookline.run.cycles import trigger_states
from hookline.run.store import open_store
from hookline.spec.catalog import Catalog
from tests.measure import measured_call
from tests.recipe_kit import TOKEN, TrackerState, json_lines, serve_tracker, tracker_catalog, write

CONNECTION = """\
connections:
  tracker:
    connector: tracker
    base_url: "{{ env.TRACKER_URL }}"
    token: "{{ env.TRACKER_TOKEN }}"
"""
MANUAL = (
    "recipe: note\n"
    + CONNECTION
    + """\
trigger:
  manual:
    inputs:
      id: {type: integer, description: The ticket}
      text: {type: string, description: What to say}
    required: [id, text]
steps:
  - id: note
    action: tracker.add_comment
    with: {id: "{{ inputs.id }}", text: "{{ inputs.text }}"}
outputs:
  comment: "{{ steps.note.id }}"
"""
)
POLL = (
    "recipe: watch\n"
    + CONNECTION
    + """\
trigger: {event: tracker.new_ticket, every: 5m}
steps:
  - action: tracker.add_comment
    with: {id: "{{ trigger.id }}", text: "seen {{ trigger.title }}"}
"""
)
WEBHOOK = (
    "recipe: hook\n"
    + CONNECTION
    + """\
trigger: {event: tracker.ticket_event}
steps:
  - action: tracker.add_comment
    with: {id: "{{ trigger.id }}", text: "changed {{ trigger.title }}"}
"""
)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return tracker_catalog(tmp_path_factory.mktemp("specs"))


@pytest.fixture
def tracker() -> Iterator[TrackerState]:
    yield from serve_tracker()


class Cli:
    """Invokes the commands as the ``hookline`` group would, with the tracker catalog."""

    def __init__(self, catalog: Catalog, folder: Path, url: str) -> None:
        self.app = SimpleNamespace(
            pm=catalog.pm, catalog=catalog
        )  # what hookline.cli.main.App offers
        self.folder = folder
        self.state = str(folder / "state.db")
        self.env = {"TRACKER_URL": url, "TRACKER_TOKEN": TOKEN, "HOOKLINE_CONNECTIONS": ""}

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(run, [*args, "--state", self.state], obj=self.app, env=self.env)

    def jobs(self, *args: str) -> Result:
        return CliRunner().invoke(jobs, ["--state", self.state, *args], obj=self.app, env=self.env)

    def recipe(self, text: str, name: str = "recipe.yaml") -> str:
        return str(write(self.folder, name, text))


@pytest.fixture
def cli(catalog: Catalog, tmp_path: Path, tracker: TrackerState) -> Cli:
    return Cli(catalog, tmp_path, tracker.url)


def events(result: Result) -> list[dict[str, Any]]:
    return list(json_lines(result.stdout))


def of_kind(result: Result, kind: str) -> list[dict[str, Any]]:
    return [line for line in events(result) if line["event"] == kind]


# ---------------------------------------------------------------- run


def test_a_manual_recipe_runs_once_and_exits_0(cli: Cli, tracker: TrackerState) -> None:
    result = cli.run(cli.recipe(MANUAL), "--input", "id=2", "--input", "text=12")
    assert result.exit_code == 0, result.output
    assert tracker.comments == [{"id": 1, "ticket_id": 2, "text": "12"}]
    kinds = [line["event"] for line in events(result)]
    assert kinds == ["run", "job_started", "step", "job_finished", "summary"]
    finished = of_kind(result, "job_finished")[0]
    assert finished["status"] == "succeeded" and finished["outputs"] == {"comment": 1}
    assert of_kind(result, "summary")[0] == {
        "event": "summary",
        "jobs": 1,
        "succeeded": 1,
        "exit_code": 0,
    }


class _ClosedPipe(io.StringIO):
    """Standard output read by ``head -1``: the reader is gone after the first line."""

    def write(self, text: str) -> int:
        if self.getvalue():
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


def test_a_reader_that_stops_reading_changes_nothing_the_run_does(
    cli: Cli, tracker: TrackerState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hookline run RECIPE | head -1`` runs its jobs to their end, as without ``head``."""
    stream = _ClosedPipe()
    monkeypatch.setattr("hookline.cli.run.reporter_for", lambda _: JsonLinesReporter(stream))
    result = cli.run(cli.recipe(MANUAL), "-i", "id=2", "-i", "text=hi")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["run"]
    assert tracker.comments == [{"id": 1, "ticket_id": 2, "text": "hi"}]
    [job] = list(json_lines(cli.jobs("--json").stdout))
    assert job["status"] == "succeeded"


def test_a_failed_job_exits_1_and_names_the_failed_step(cli: Cli, tracker: TrackerState) -> None:
    tracker.fail["/tickets/2/comments"] = 1
    result = cli.run(cli.recipe(MANUAL), "-i", "id=2", "-i", "text=hi")
    assert result.exit_code == 1
    finished = of_kind(result, "job_finished")[0]
    assert finished["status"] == "failed"
    assert finished["error"]["step"] == "steps[0]" and finished["error"]["step_id"] == "note"
    assert of_kind(result, "summary")[0]["exit_code"] == 1


def test_an_invalid_recipe_exits_1_with_located_problems_and_sends_nothing(
    cli: Cli, tracker: TrackerState
) -> None:
    broken = MANUAL.replace("inputs.text", "inputs.txt").replace("add_comment", "add_coment")
    result = cli.run(cli.recipe(broken, "broken.yaml"), "-i", "id=2", "-i", "text=hi")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert any(
        line.endswith(
            "steps[0].action: connector 'tracker' has no action 'add_coment' "
            "(did you mean 'add_comment'?)"
        )
        for line in lines
    ), result.stderr
    assert all(line.startswith(f"{cli.folder}/broken.yaml:") for line in lines)
    assert tracker.requests == []


@pytest.mark.parametrize(
    ("inputs", "code", "message"),
    [
        (["id=two", "text=hi"], 1, "input 'id': 'two' is not of type 'integer'"),
        (["id=2"], 1, "input 'text' is required"),
        (["id=2", "text=hi", "txt=x"], 1, "unknown input 'txt' (inputs: id, text)"),
        (["id"], 2, "Invalid value for --input: 'id' is not KEY=VALUE"),
    ],
)
def test_invalid_inputs_exit_1_and_bad_usage_2(
    cli: Cli, inputs: list[str], code: int, message: str
) -> None:
    args = [arg for value in inputs for arg in ("-i", value)]
    result = cli.run(cli.recipe(MANUAL), *args)
    assert result.exit_code == code
    assert message in result.stderr


def test_a_poll_recipe_runs_only_what_is_new_on_the_next_run(
    cli: Cli, tracker: TrackerState
) -> None:
    path = cli.recipe(POLL)
    first = cli.run(path)
    assert first.exit_code == 0, first.output
    assert of_kind(first, "poll")[0] == {"event": "poll", "records": 2, "jobs": 2, "cursor": 2}
    assert [c["text"] for c in tracker.comments] == ["seen First", "seen Second"]

    again = cli.run(path)
    assert of_kind(again, "poll")[0]["jobs"] == 0 and len(tracker.comments) == 2
    assert "GET /tickets" in tracker.requests[-1]

    tracker.add_ticket("Third")
    third = cli.run(path)
    assert of_kind(third, "poll")[0] == {"event": "poll", "records": 1, "jobs": 1, "cursor": 3}
    assert tracker.comments[-1]["text"] == "seen Third"


def test_a_poll_recipe_is_not_polled_while_another_process_holds_its_trigger(
    cli: Cli, tracker: TrackerState
) -> None:
    path = cli.recipe(POLL)

    async def holder(take: bool) -> None:
        store = open_store(cli.state, cli.app.pm)
        try:
            claims = Claims(store, owner="other-host/1/serve")
            if take:
                assert await claims.hold_trigger("watch", "tracker.new_ticket") is not None
            else:
                await claims.let_go("watch", "tracker.new_ticket")
        finally:
            await store.close()

    asyncio.run(holder(take=True))
    held = cli.run(path)
    assert held.exit_code == 1
    assert "tracker.new_ticket is polled by another process now (other-host/1/serve)" in held.stderr
    assert tracker.requests == [] and tracker.comments == []

    asyncio.run(holder(take=False))
    free = cli.run(path)
    assert free.exit_code == 0, free.output
    assert of_kind(free, "poll")[0]["jobs"] == 2

    async def lease_holder() -> str | None:
        store = open_store(cli.state, cli.app.pm)
        try:
            [state] = await trigger_states(store, ["watch"])
            return state.holder
        finally:
            await store.close()

    assert asyncio.run(lease_holder()) is None  # the run let the trigger go


def test_a_poll_recipe_runs_when_its_holder_lets_the_trigger_go_as_it_is_refused(
    cli: Cli, tracker: TrackerState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The serve that holds the trigger stops between the run's refusal and its look at who
    holds it: the trigger is free then, and the run polls it rather than name no holder."""
    path = cli.recipe(POLL)
    hold = Claims.hold_trigger
    refusals: list[str] = []

    async def racing(claims: Claims, recipe: str, trigger: str, kind: str = "poll") -> Any:
        if refusals:
            return await hold(claims, recipe, trigger, kind)
        serve = Claims(claims.store, owner="other-host/1/serve")
        assert await hold(serve, recipe, trigger) is not None
        refused = await hold(claims, recipe, trigger, kind)
        refusals.append(trigger)
        await serve.let_go(recipe, trigger)
        return refused

    monkeypatch.setattr(Claims, "hold_trigger", racing)
    done = cli.run(path)
    assert refusals == ["tracker.new_ticket"]
    assert done.exit_code == 0, done.output
    assert "None" not in done.output
    assert of_kind(done, "poll")[0]["jobs"] == 2


def test_an_event_file_runs_one_job_once(cli: Cli, tracker: TrackerState) -> None:
    event = write(cli.folder, "event.json", json.dumps({"ticket": tracker.tickets[0]}))
    path = cli.recipe(WEBHOOK)
    result = cli.run(path, "--event", str(event))
    assert result.exit_code == 0, result.output
    assert tracker.comments[0]["text"] == "changed First"

    again = cli.run(path, "--event", str(event))
    assert again.exit_code == 0
    note = of_kind(again, "note")[0]
    assert "already has job" in note["message"] and note["status"] == "succeeded"
    assert len(tracker.comments) == 1


def test_a_webhook_recipe_needs_an_event(cli: Cli) -> None:
    result = cli.run(cli.recipe(WEBHOOK))
    assert result.exit_code == 1
    assert "runs on webhook events" in result.stderr and "--event FILE" in result.stderr


def test_an_event_that_does_not_match_the_triggers_event_schema_is_refused(
    cli: Cli, tracker: TrackerState
) -> None:
    event = write(cli.folder, "event.json", json.dumps({"ticket": {"id": "seven", "title": 1}}))
    result = cli.run(cli.recipe(WEBHOOK), "--event", str(event))
    assert result.exit_code == 1
    assert "the event does not match the tracker.ticket_event event schema" in result.stderr
    assert "field 'id': 'seven' is not of type 'integer'" in result.stderr
    assert tracker.comments == []


def test_a_manual_recipes_event_is_checked_as_its_inputs_are(
    cli: Cli, tracker: TrackerState
) -> None:
    event = write(cli.folder, "inputs.json", json.dumps({"id": 2, "txt": "typo"}))
    result = cli.run(cli.recipe(MANUAL), "--event", str(event))
    assert result.exit_code == 1
    assert "input 'text' is required" in result.stderr
    assert "unknown input 'txt'" in result.stderr
    assert tracker.comments == []


@pytest.mark.parametrize(
    ("recipe", "options", "expected"),
    [
        (WEBHOOK, (), "the event does not match the tracker.ticket_event event schema"),
        (WEBHOOK, ("--dry-run",), "the event does not match the tracker.ticket_event event"),
        (MANUAL, (), "input 'text' is required"),
    ],
    ids=["webhook", "dry run", "manual"],
)
def test_an_event_that_does_not_fit_is_refused_naming_its_file(
    cli: Cli, recipe: str, options: tuple[str, ...], expected: str
) -> None:
    event = write(cli.folder, "event.json", json.dumps({"ticket": {"id": "seven"}, "id": 2}))
    result = cli.run(cli.recipe(recipe), "--event", str(event), *options)
    assert result.exit_code == 1
    assert f"error: {event}: {expected}" in result.stderr


def test_a_misspelt_recipe_or_event_file_suggests_the_one_beside_it(cli: Cli) -> None:
    recipe = cli.recipe(WEBHOOK, "ticket-to-case.yaml")
    event = write(cli.folder, "ticket-created.json", "{}")
    result = cli.run(str(cli.folder / "ticket-to-cse.yaml"), "--event", str(event))
    assert result.exit_code == 1
    assert f"No such file or directory (did you mean {recipe!r}?)" in result.stderr
    result = cli.run(recipe, "--event", str(cli.folder / "ticket-craeted.json"))
    assert result.exit_code == 1
    assert f"No such file or directory (did you mean {str(event)!r}?)" in result.stderr


@pytest.mark.parametrize("kind", ["fifo", "device", "large"])
def test_an_event_is_read_only_from_a_regular_file_of_at_most_a_mebibyte(
    cli: Cli, kind: str
) -> None:
    path = cli.folder / "event"
    if kind == "fifo":
        os.mkfifo(path)  # nothing ever writes to it: reading would wait for ever
    elif kind == "device":
        path = Path("/dev/zero")  # reading would never end
    else:
        path.write_text(json.dumps({"ticket": {"id": 1, "text": "x" * 2_000_000}}))
    outcome = measured_call(lambda: cli.run(cli.recipe(WEBHOOK), "--event", str(path)))
    result = outcome.result
    assert result.exit_code == 1
    expected = "larger than 1,048,576 bytes" if kind == "large" else "is not a regular file"
    assert expected in result.stderr
    assert outcome.seconds < 5
    assert outcome.peak_mib < 200


def test_dry_run_prints_the_plan_and_sends_and_records_nothing(
    cli: Cli, tracker: TrackerState
) -> None:
    result = cli.run(cli.recipe(POLL), "--dry-run")
    assert result.exit_code == 0, result.output
    assert tracker.requests == []
    note = of_kind(result, "note")[0]
    assert note["method"] == "GET" and note["url"].endswith("/tickets?since=0&offset=0&limit=2")
    step = of_kind(result, "step")[0]
    assert step["input"] == {"id": 1, "text": "seen First"}
    assert step["example_output"] == {"id": 7, "text": "hello"}
    assert step["requests"][0]["headers"]["authorization"] == "***"
    assert step["requests"][0]["method"] == "POST"
    assert TOKEN not in result.stdout
    listing = cli.jobs("--json")
    assert listing.exit_code == 0 and listing.stdout == ""


def test_a_poll_dry_run_shows_the_paginators_first_page_parameters(
    cli: Cli, tracker: TrackerState
) -> None:
    result = cli.run(cli.recipe(POLL), "--dry-run")
    assert result.exit_code == 0, result.output
    note = of_kind(result, "note")[0]
    assert note["url"] == f"{tracker.url}/tickets?since=0&offset=0&limit=2"  # page_size: 2
    assert tracker.requests == []


def test_a_named_connection_comes_from_the_connections_file(
    cli: Cli, tracker: TrackerState
) -> None:
    connections = write(
        cli.folder,
        "connections.yaml",
        f"demo:\n  connector: tracker\n  base_url: {tracker.url}\n  token: {TOKEN}\n",
    )
    connections.chmod(0o600)
    recipe = MANUAL.replace(CONNECTION, "connections:\n  tracker: demo\n")
    result = cli.run(
        cli.recipe(recipe), "-i", "id=1", "-i", "text=x", "--connections", str(connections)
    )
    assert result.exit_code == 0, result.output
    assert tracker.comments[0]["text"] == "x"


# ---------------------------------------------------------------- jobs


def test_jobs_lists_shows_and_reruns_a_failed_job(cli: Cli, tracker: TrackerState) -> None:
    tracker.fail["/tickets/2/comments"] = 1
    assert cli.run(cli.recipe(MANUAL), "-i", "id=2", "-i", "text=hi").exit_code == 1
    cli.run(
        cli.recipe(MANUAL.replace("recipe: note", "recipe: other"), "other.yaml"),
        "-i",
        "id=1",
        "-i",
        "text=ok",
    )

    listed = list(json_lines(cli.jobs("--json").stdout))
    assert [job["recipe"] for job in listed] == ["other", "note"]
    failed = list(json_lines(cli.jobs("--failed", "--json").stdout))
    assert [job["status"] for job in failed] == ["failed"]
    job_id = failed[0]["id"]

    shown = cli.jobs("show", job_id[:8], "--json")
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.stdout)
    assert detail["error"]["step"] == "steps[0]"
    assert detail["steps"][0]["input"] == {"id": 2, "text": "hi"}
    assert detail["steps"][0]["error"]["status"] == 409

    rerun = cli.jobs("rerun", job_id[:8], "--json")
    assert rerun.exit_code == 0, rerun.output
    assert of_kind(rerun, "job_finished")[0]["status"] == "succeeded"
    assert [c["text"] for c in tracker.comments] == ["ok", "hi"]
    assert json.loads(cli.jobs("show", job_id, "--json").stdout)["status"] == "succeeded"

    nothing = cli.jobs("rerun", job_id)
    assert nothing.exit_code == 1 and "nothing to rerun" in nothing.stderr


def test_rerun_of_an_unknown_outcome_needs_resend(cli: Cli, catalog: Catalog) -> None:
    path = cli.recipe(MANUAL)

    async def seed() -> str:
        store = open_store(cli.state, catalog.pm)
        job = await store.create_job("note", path, "k", {"id": 1, "text": "x"})
        assert job is not None
        error = {"kind": "outcome_unknown", "message": "lost", "step": "steps[0]"}
        await store.finish_job(job.id, "outcome_unknown", error=error)
        await store.close()
        return job.id

    job_id = asyncio.run(seed())
    refused = cli.jobs("rerun", job_id)
    assert refused.exit_code == 1
    assert "outcome of steps[0] is unknown" in refused.stderr and "--resend" in refused.stderr
    assert cli.jobs("rerun", job_id, "--resend", "--json").exit_code == 0


def test_a_dry_run_needs_the_values_of_its_connections_as_a_call_does(cli: Cli) -> None:
    """A dry run sends nothing but renders its requests with the credentials (shown as ***),
    as ``hookline call --dry-run`` does: a connection without them is refused, saying why."""
    recipe = cli.recipe(MANUAL.replace(CONNECTION, "connections: {tracker: tracker}\n"))
    result = cli.run(recipe, "-i", "id=2", "-i", "text=hi", "--dry-run")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: connection 'tracker' of connector 'tracker' needs ")
    assert "(a dry run needs them too: it renders its requests with them, shown as ***)" in (
        result.stderr
    )
    assert not Path(cli.state).exists()


def test_an_unknown_job_id_exits_1(cli: Cli, tracker: TrackerState) -> None:
    assert cli.run(cli.recipe(MANUAL), "-i", "id=2", "-i", "text=hi").exit_code == 0
    result = cli.jobs("show", "nope")
    assert result.exit_code == 1 and "no job 'nope'" in result.stderr


def test_a_poll_the_platform_refuses_ends_the_run_with_exit_1(
    cli: Cli, tracker: TrackerState
) -> None:
    cli.env["TRACKER_TOKEN"] = "wrong"
    result = cli.run(cli.recipe(POLL))
    assert result.exit_code == 1
    assert [line["event"] for line in events(result)] == ["run", "error"]
    assert result.stderr.startswith("error: tracker.new_ticket: GET ")
    assert "answered 401 Unauthorized: bad token" in result.stderr
    assert "wrong" not in result.stdout + result.stderr


def test_a_job_whose_secret_inputs_are_not_kept_is_not_rerun(
    cli: Cli, tracker: TrackerState
) -> None:
    tracker.fail["/tickets/2/comments"] = 1
    secret = MANUAL.replace(
        "text: {type: string, description: What to say}",
        "text: {type: string, writeOnly: true, description: What to say}",
    )
    failed = cli.run(cli.recipe(secret), "-i", "id=2", "-i", "text=pa55-phrase-9")
    assert failed.exit_code == 1
    [job] = json_lines(cli.jobs("--json").stdout)
    assert job["event"] == {"id": 2, "text": "***"}
    shown = cli.jobs("show", job["id"], "--json")
    assert "pa55-phrase-9" not in shown.stdout
    refused = cli.jobs("rerun", job["id"])
    assert refused.exit_code == 1
    assert "its secret inputs (text) are not kept in job history" in refused.stderr
