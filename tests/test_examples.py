"""The example recipes in recipes/, run against the sandboxes, their effects checked there.

Most examples run as the README runs them, ``hookline run RECIPE --sandbox``, with a catalog
whose sandboxes keep the apps they create, so a test can arrange a sandbox before the run
(``prepare``) and read its state after. The tests of static errors and reruns serve the
sandboxes themselves, as ``hookline sandbox --write-connections`` does, because they need
the same sandboxes across several commands and count the requests the sandboxes receive.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import httpx
import pytest
import yaml
from click.testing import CliRunner, Result
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hookline.cli.jobs import jobs
from hookline.cli.main import main
from hookline.cli.run import run
from hookline.plugins.manager import get_plugin_manager
from hookline.plugins.records import Sandbox
from hookline.run.connections import write_connections
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog
from tests.recipe_kit import json_lines

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
SCHEMA_LINE = "# yaml-language-server: $schema=../engine/schemas/recipe-v1.json\n"
EXAMPLES = (
    "argus-incident-to-plextrac",
    "pcr360-servicedesk-to-planradar",
    "planradar-ticket-to-argus",
    "plextrac-export-import",
    "plextrac-finding-with-image",
    "plextrac-reuse-assessment",
    "plextrac-tenant-users-csv",
)
PLANRADAR_EVENT = RECIPES / "events" / "planradar-ticket-created.json"
CREATED_WITH = (
    "ticket-type-id",
    "component-id",
    "subject",
    "priority-id",
    "assigned-to-id",
    "due-date",
    "plan-x",
    "plan-y",
    "typed-values",
)
"""The attributes the shipped PlanRadar event's ticket was created with."""
NO_ENV: dict[str, str | None] = {"HOOKLINE_CONNECTIONS": None, "HOOKLINE_STATE": None}


def recipe(name: str) -> str:
    return str(RECIPES / f"{name}.yaml")


def of_kind(result: Result, kind: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(result.stdout) if line["event"] == kind]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(get_plugin_manager(entry_points=False))


def invoke(
    catalog: Catalog, command: click.Command, args: list[str], env: dict[str, str | None]
) -> Result:
    """Invoke ``command`` as the ``hookline`` group would, with ``catalog``.

    The group's context settings are passed too: click keeps a command's help option from
    its first use, and the generated CLI reference must see the group's.
    """
    app = SimpleNamespace(pm=catalog.pm, catalog=catalog)  # what hookline.cli.main.App offers
    return CliRunner().invoke(command, args, obj=app, env=env)


# ---------------------------------------------------------------- hookline run --sandbox


@dataclass
class Created:
    """The sandbox apps ``run --sandbox`` created, in order, and what to do to each first."""

    apps: list[tuple[str, Any]] = field(default_factory=list)
    prepare: dict[str, Callable[[Any], None]] = field(default_factory=dict)

    def factory(self, box: Sandbox) -> Callable[..., Any]:
        def create_app(**options: Any) -> Any:
            app = box.create_app(**options)
            if box.name in self.prepare:
                self.prepare[box.name](app.state.sandbox)
            self.apps.append((box.name, app))
            return app

        return create_app

    def state(self, name: str, index: int = 0) -> Any:
        """The state of the ``index``-th sandbox of connector ``name``."""
        return [app for box, app in self.apps if box == name][index].state.sandbox


@pytest.fixture
def created(catalog: Catalog, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Created:
    """Record the sandbox apps of the test's runs; run in an empty folder."""
    monkeypatch.chdir(tmp_path)
    record = Created()
    for name, box in list(catalog.sandboxes.items()):
        monkeypatch.setitem(
            catalog.sandboxes, name, dataclasses.replace(box, create_app=record.factory(box))
        )
    return record


@pytest.fixture
def sandboxed(catalog: Catalog, created: Created) -> Callable[..., Result]:
    """``hookline run ARGS --sandbox --json``; fails the test unless every job succeeded."""

    def run_in_sandboxes(*args: str) -> Result:
        result = invoke(catalog, run, [*args, "--sandbox", "--json"], NO_ENV)
        assert result.exit_code == 0, result.output
        return result

    return run_in_sandboxes


def test_the_readme_demo_turns_each_incident_into_a_finding_and_a_comment(
    sandboxed: Callable[..., Result], created: Created
) -> None:
    result = sandboxed(recipe("argus-incident-to-plextrac"))
    argus, plextrac = created.state("argus"), created.state("plextrac")
    since = 1733788800000  # the recipe's `since`, 2024-12-10
    wanted = sorted(
        case["id"]
        for case in argus.cases.values()
        if case["type"] == "securityIncident"
        and case["priority"] in ("high", "critical")
        and case["createdTimestamp"] >= since
    )
    cases = {line["job"]: int(line["event_key"]) for line in of_kind(result, "job_started")}
    assert sorted(cases.values()) == wanted and len(wanted) == 7
    assert of_kind(result, "summary")[0]["succeeded"] == 7
    for job in of_kind(result, "job_finished"):
        case = argus.cases[cases[job["job"]]]
        flaw_id = job["outputs"]["finding"]
        finding = plextrac.findings[(500001, flaw_id)]
        assert finding["title"] == f"Argus case {case['id']}: {case['subject']}"
        assert finding["severity"] == case["priority"].capitalize()
        assert finding["description"].endswith(case["description"])
        comments = [comment["comment"] for comment in argus.comments[case["id"]]]
        assert f"<p>PlexTrac finding {flaw_id} in report 500001 of client 1001.</p>" in comments


def test_export_import_copies_every_client_report_and_finding_to_another_tenant(
    sandboxed: Callable[..., Result], created: Created, tmp_path: Path
) -> None:
    result = sandboxed(recipe("plextrac-export-import"))
    notes = {line["connection"]: line["url"] for line in of_kind(result, "note") if "url" in line}
    assert set(notes) == {"source", "target"} and notes["source"] != notes["target"]
    source, target = created.state("plextrac", 0), created.state("plextrac", 1)

    exported = json.loads((tmp_path / "exports" / "plextrac-export.json").read_text())
    assert [entry["client"]["client_id"] for entry in exported] == list(source.clients)
    for entry in exported:
        client_id = entry["client"]["client_id"]
        assert entry["client"]["name"] == source.clients[client_id]["name"]
        reports = {r["id"] for r in source.reports.values() if r["client_id"] == client_id}
        assert {r["id"] for r in entry["reports"]} == reports
        for report in entry["reports"]:
            held = {f["flaw_id"] for f in source.findings_of(report["id"])}
            linked = [f for f in entry["findings"] if f["report_id"] == report["id"]]
            assert {f["flaw_id"] for f in linked} == held

    copies = [c for c in target.clients.values() if c["client_id"] not in source.clients]
    assert [c["name"] for c in copies] == [c["name"] for c in source.clients.values()]
    for copy, original in zip(copies, source.clients.values(), strict=True):
        new = _by_name(target, copy["client_id"])
        old = _by_name(source, original["client_id"])
        assert sorted(new) == sorted(old)
        for name, report in new.items():
            assert report["id"] not in source.reports
            assert _content(target.findings_of(report["id"])) == _content(
                source.findings_of(old[name]["id"])
            )
    totals = of_kind(result, "job_finished")[0]["outputs"]
    assert totals == {
        "file": "plextrac-export.json",
        "clients": 3,
        "reports": len(source.reports),
        "findings": len(source.findings),
    }


def _by_name(state: Any, client_id: int) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in state.reports.values() if r["client_id"] == client_id}


def _content(findings: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("title", "severity", "status", "description", "recommendations", "tags")
    return sorted(tuple(str(f[key]) for key in keys) for f in findings)


def test_a_completed_assessment_is_reused_in_process_with_empty_notes_filled(
    sandboxed: Callable[..., Result], created: Created
) -> None:
    def blank_one_note(state: Any) -> None:
        state.assessments[3001]["answers"][2]["note"] = ""

    created.prepare["plextrac"] = blank_one_note
    result = sandboxed(recipe("plextrac-reuse-assessment"))
    assert of_kind(result, "job_finished")[0]["outputs"] == {
        "assessment": 3002,
        "client": "Helios Retail",
    }
    plextrac = created.state("plextrac")
    original, reused = plextrac.assessments[3001], plextrac.assessments[3002]
    assert (reused["client_id"], reused["status"], reused["saveOnly"]) == (1002, "In Process", True)
    assert "completed_at" not in reused and original["status"] == "Completed"
    notes = [answer["note"] for answer in reused["answers"]]
    assert notes[2] == "<p>Carried over from a completed assessment; review before submitting.</p>"
    assert notes[:2] + notes[3:] == [a["note"] for i, a in enumerate(original["answers"]) if i != 2]
    assert [a["answer"] for a in reused["answers"]] == [a["answer"] for a in original["answers"]]


def test_a_finding_embeds_the_uploaded_image(
    sandboxed: Callable[..., Result],
    created: Created,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    none = tmp_path / "connections.yaml"  # so that no connections file of the checkout is read
    none.touch(mode=0o600)
    monkeypatch.chdir(RECIPES.parent)  # the example's default image path is relative to it
    result = sandboxed(recipe("plextrac-finding-with-image"), "--connections", str(none))
    outputs = of_kind(result, "job_finished")[0]["outputs"]
    plextrac = created.state("plextrac")
    upload = plextrac.uploads[outputs["image"].removeprefix("uploads/")]
    assert upload.content == (RECIPES / "assets" / "admin-console.png").read_bytes()
    assert upload.servable and upload.media_type == "image/png"
    finding = plextrac.findings[(500001, outputs["finding"])]
    assert finding["title"] == "Exposed Administration Console"
    assert f'<img src="/api/v1/{outputs["image"]}">' in finding["description"]


def test_a_planradar_ticket_event_opens_an_argus_case(
    sandboxed: Callable[..., Result], created: Created
) -> None:
    result = sandboxed(recipe("planradar-ticket-to-argus"), "--event", str(PLANRADAR_EVENT))
    ticket = json.loads(PLANRADAR_EVENT.read_text())["data"]["attributes"]
    case = created.state("argus").cases[of_kind(result, "job_finished")[0]["outputs"]["case"]]
    assert case["subject"] == f"PlanRadar ticket {ticket['sequential-id']}: {ticket['subject']}"
    assert case["customerReference"] == f"planradar:{ticket['uuid']}"
    assert (case["customerID"], case["type"], case["priority"]) == (
        2,
        "operationalIncident",
        "high",
    )


def test_the_shipped_planradar_event_has_the_shape_the_sandbox_delivers(
    catalog: Catalog,
) -> None:
    delivered: list[Any] = []

    async def receive(request: Request) -> JSONResponse:
        delivered.append(await request.json())
        return JSONResponse({})

    box = catalog.sandboxes["planradar"]
    receiver = Starlette(routes=[Route("/hook", receive, methods=["POST"])])
    with running(receiver) as hook_url, running(box.create_app()) as url:
        values = box.connection(url)
        with httpx.Client(
            base_url=f"{url}/api", headers={"X-PlanRadar-API-Key": values["token"]}
        ) as api:
            customer = values["customer_id"]
            hook = {"target-url": f"{hook_url}/hook", "events": ["ticket.created"]}
            api.post(f"/v1/{customer}/webhooks", json={"data": {"attributes": hook}})
            shipped = json.loads(PLANRADAR_EVENT.read_text())
            given = shipped["data"]["attributes"]
            ticket = {key: given[key] for key in CREATED_WITH}
            api.post(
                f"/v2/{customer}/projects/nqzkdw/tickets", json={"data": {"attributes": ticket}}
            )
        deadline = time.monotonic() + 10
        while not delivered and time.monotonic() < deadline:
            time.sleep(0.01)
    assert delivered, "the sandbox delivered no webhook"
    assert _keys(delivered[0]) == _keys(shipped)


def _keys(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _keys(value) for key, value in data.items()}
    return None


def test_new_service_desk_items_become_planradar_tickets(
    sandboxed: Callable[..., Result], created: Created
) -> None:
    result = sandboxed(recipe("pcr360-servicedesk-to-planradar"))
    pcr360, planradar = created.state("pcr360"), created.state("planradar")
    items = pcr360.db.fetch(
        "SELECT sd.SD_NUMBER, sd.DESCRIPTION, u.CODE FROM SERVICE_DESK sd "
        "LEFT JOIN LISTS u ON u.RECID = sd.URGENCY_LISTS_RECID WHERE sd.RECID > 10030 "
        "ORDER BY sd.RECID"
    )
    numbers = [line["outputs"]["ticket"] for line in of_kind(result, "job_finished")]
    tickets = {t.attributes["sequential-id"]: t.attributes for t in planradar.tickets.values()}
    priorities = {"LOW": "lm", "MEDIUM": "ol", "HIGH": "ma", "CRITICAL": "ma"}
    assert len(numbers) == len(items) == 6
    for number, item in zip(numbers, items, strict=True):
        ticket = tickets[number]
        assert ticket["subject"] == f"{item['SD_NUMBER']}: {item['DESCRIPTION']}"
        assert ticket["priority-id"] == priorities[item["CODE"]]
        assert (ticket["project-id"], ticket["ticket-type-id"]) == ("nqzkdw", "obk")


def test_the_tenant_users_are_written_to_a_csv_file(
    sandboxed: Callable[..., Result], created: Created, tmp_path: Path
) -> None:
    sandboxed(recipe("plextrac-tenant-users-csv"))
    with (tmp_path / "exports" / "plextrac-users.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    users = created.state("plextrac").users
    assert [row["email"] for row in rows] == sorted(users)
    assert list(rows[0]) == ["email", "name", "role", "disabled", "mfa", "last_login"]
    assert {row["email"]: row["role"] for row in rows} == {
        email: user["roles"][0] for email, user in users.items()
    }
    demo = next(row for row in rows if row["email"] == "demo@example.com")
    assert (demo["name"], demo["mfa"], demo["disabled"]) == ("Casey Morgan", "false", "false")
    assert demo["last_login"].endswith("Z")  # epoch milliseconds written as ISO 8601


def test_run_sandbox_keeps_no_history_unless_told_where(
    catalog: Catalog, created: Created, tmp_path: Path
) -> None:
    argv = [recipe("plextrac-reuse-assessment"), "--sandbox", "--json"]
    first = invoke(catalog, run, argv, NO_ENV)
    assert first.exit_code == 0, first.output
    assert "job history is kept for this run only" in first.stdout
    assert not (tmp_path / ".hookline").exists()

    kept = invoke(catalog, run, [*argv, "--state", "kept.db"], NO_ENV)
    assert kept.exit_code == 0, kept.output
    listed = invoke(catalog, jobs, ["--state", "kept.db", "--json"], NO_ENV)
    assert [job["recipe"] for job in json_lines(listed.stdout)] == ["plextrac-reuse-assessment"]
    assert len(created.apps) == 2  # each run served its own fresh sandbox


# ---------------------------------------------------------------- sandboxes served by the test


class Counted:
    """An ASGI app that notes every HTTP request before passing it on."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


@dataclass
class Served:
    """Every sandbox on loopback, and the connections file that points at them."""

    apps: dict[str, Counted]
    connections: Path

    def state(self, name: str) -> Any:
        return self.apps[name].app.state.sandbox

    def requests(self) -> list[str]:
        return [request for app in self.apps.values() for request in app.requests]


@pytest.fixture(scope="module")
def served(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """What `hookline sandbox --write-connections` gives: sandboxes and a connections file."""
    apps = {name: Counted(box.create_app()) for name, box in catalog.sandboxes.items()}
    connections = tmp_path_factory.mktemp("served") / "connections.yaml"
    with ExitStack() as stack:
        entries = {}
        for name, app in apps.items():
            url = stack.enter_context(running(app))
            entries[name] = {"connector": name, **catalog.sandboxes[name].connection(url)}
        write_connections(connections, entries)
        yield Served(apps, connections)


def test_every_example_is_listed_here_and_validates(served: Served) -> None:
    files = sorted(RECIPES.glob("*.yaml"))
    assert [file.stem for file in files] == list(EXAMPLES)
    assert all(file.read_text().startswith(SCHEMA_LINE) for file in files)
    result = CliRunner().invoke(
        main, ["validate", str(RECIPES)], env={"HOOKLINE_CONNECTIONS": str(served.connections)}
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.count(": valid recipe") == len(EXAMPLES)
    assert served.requests() == []


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("where", ["--sandbox", "--connections"])
def test_every_example_plans_a_dry_run_with_outputs_shaped_like_real_ones(
    catalog: Catalog,
    served: Served,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    where: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    for app in served.apps.values():
        app.requests.clear()
    args = [recipe(name), "--dry-run", "--json"]
    args += ["--sandbox"] if where == "--sandbox" else ["--connections", str(served.connections)]
    if name == "planradar-ticket-to-argus":
        args += ["--event", str(PLANRADAR_EVENT)]
    if name == "plextrac-finding-with-image":  # the image is named relative to the repository
        args += ["-i", f"image={RECIPES / 'assets' / 'admin-console.png'}"]
    result = invoke(catalog, run, args, NO_ENV)
    assert result.exit_code == 0, result.output
    assert of_kind(result, "summary")[0]["succeeded"] == 1
    assert served.requests() == []
    assert list(tmp_path.iterdir()) == []  # nothing written, no history kept
    for step in of_kind(result, "step"):
        if step["action"].startswith("files."):  # answered for real, changing nothing
            assert "output" in step and "example_output" not in step
        elif "requests" in step:
            assert "example_output" in step and "output" not in step


def test_a_dry_run_reads_back_what_it_would_have_written(
    catalog: Catalog, created: Created, tmp_path: Path
) -> None:
    args = [recipe("plextrac-export-import"), "--dry-run", "--sandbox", "--json"]
    result = invoke(catalog, run, args, NO_ENV)
    assert result.exit_code == 0, result.output
    steps = {step["id"]: step for step in of_kind(result, "step")}
    written = steps["saved"]["input"]["data"]
    assert steps["saved"]["output"]["path"] == "plextrac-export.json"
    assert steps["exported"]["output"] == written
    assert steps["import"]["input"] == {"items": len(written)}
    assert of_kind(result, "job_finished")[0]["outputs"]["file"] == "plextrac-export.json"
    assert not (tmp_path / "exports").exists()


# Each example with one mistake of a kind the static checks catch: (recipe, the text
# replaced, its replacement, the text that starts the line the problem is reported at (a
# multi-line value's problem is reported where the value starts), the message).
MISTAKES = [
    pytest.param(
        "argus-incident-to-plextrac",
        "    title: Create the finding",
        "    titel: Create the finding",
        "titel:",
        "steps[0]: unknown key 'titel' (did you mean 'title'?)",
        id="schema",
    ),
    pytest.param(
        "argus-incident-to-plextrac",
        "action: plextrac.create_finding",
        "action: plextrak.create_finding",
        "plextrak",
        "steps[0].action: unknown connection 'plextrak' (did you mean 'plextrac'?)",
        id="unknown-connection",
    ),
    pytest.param(
        "argus-incident-to-plextrac",
        "action: argus.add_comment",
        "action: argus.add_coment",
        "add_coment",
        "steps[1].action: connector 'argus' has no action 'add_coment' "
        "(did you mean 'add_comment'?)",
        id="unknown-action",
    ),
    pytest.param(
        "argus-incident-to-plextrac",
        "event: argus.new_case",
        "event: argus.new_cases",
        "new_cases",
        "trigger.event: connector 'argus' has no trigger 'new_cases' (did you mean 'new_case'?)",
        id="unknown-trigger",
    ),
    pytest.param(
        "argus-incident-to-plextrac",
        "      source: argus\n",
        "      sourse: argus\n",
        "sourse",
        "steps[0].with: plextrac.create_finding: unknown input 'sourse' (did you mean 'source'?)",
        id="unknown-input",
    ),
    pytest.param(
        "argus-incident-to-plextrac",
        "      severity: \"{{ trigger.priority == 'critical' && 'Critical' || 'High' }}\"\n",
        "",
        'client_id: "{{ vars.client_id }}"',
        "steps[0].with: plextrac.create_finding: missing required input 'severity'",
        id="missing-input",
    ),
    pytest.param(
        "plextrac-export-import",
        "{connector: file, folder: exports}",
        "{connector: file, directory: exports}",
        "directory",
        "connections.files: connector 'file': unknown field 'directory'",
        id="unknown-connection-field",
    ),
    pytest.param(
        "argus-incident-to-plextrac",
        'client_id: "{{ vars.client_id }}"',
        "client_id: Karbo Industries",
        "Karbo",
        "steps[0].with.client_id: plextrac.create_finding: expected an integer, "
        "got a string ('Karbo Industries')",
        id="written-type",
    ),
    pytest.param(
        "argus-incident-to-plextrac",
        'id: "{{ trigger.id }}"',
        'id: "{{ trigger.subject }}"',
        '      id: "{{ trigger.subject',
        "steps[1].with.id: input 'id' of argus.add_comment expects an integer, "
        "but '{{ trigger.subject }}' gives text",
        id="computed-type",
    ),
    pytest.param(
        "argus-incident-to-plextrac",
        "{{ trigger.subject }}",
        "{{ trigger.subjct }}",
        "subjct",
        "steps[0].with.title: trigger.subjct: the argus.new_case event has no field 'subjct' "
        "(did you mean 'subject'?); its fields are",
        id="data-reference",
    ),
    pytest.param(
        "argus-incident-to-plextrac",
        "{{ steps.finding.flaw_id }} in report",
        "{{ step.finding.flaw_id }} in report",
        "comment: >-",
        "steps[1].with.comment: step.finding.flaw_id: unknown name 'step' (did you mean 'steps'?)",
        id="unknown-name",
    ),
    pytest.param(
        "argus-incident-to-plextrac",
        "{{ steps.finding.flaw_id }} in report",
        "{{ steps.findings.flaw_id }} in report",
        "comment: >-",
        "steps[1].with.comment: steps.findings.flaw_id: no step has the id 'findings' "
        "(did you mean 'finding'?)",
        id="unknown-step",
    ),
    pytest.param(
        "plextrac-export-import",
        'path: "{{ inputs.file }}"',
        'path: "{{ steps.exported.path }}"',
        "steps.exported.path",
        "steps[2].with.path: steps.exported.path: step 'exported' runs later (steps[3])",
        id="later-step",
    ),
    pytest.param(
        "plextrac-export-import",
        'file: "{{ steps.saved.path }}"',
        'file: "{{ steps.document.client.name }}"',
        "steps.document",
        "outputs.file: steps.document.client.name: step 'document' runs inside the for_each "
        "at steps[1]; read it as steps.export[*].document",
        id="step-inside-a-loop",
    ),
    pytest.param(
        "argus-incident-to-plextrac",
        "in report {{ vars.report_id }}",
        "in report {{ vars.report }}",
        "comment: >-",
        "steps[1].with.comment: vars.report: no variable 'report' is set before this point",
        id="unset-variable",
    ),
    pytest.param(
        "plextrac-export-import",
        'for_each: "{{ steps.clients }}"',
        'for_each: "{{ steps.clients[0] }}"',
        "steps.clients[0]",
        "steps[1].for_each: for_each needs a list, but '{{ steps.clients[0] }}' gives a mapping",
        id="for-each-over-one",
    ),
    pytest.param(
        "plextrac-reuse-assessment",
        "if: \"{{ steps.source.status != 'Completed' }}\"",
        'if: "status {{ steps.source.status }}"',
        "if:",
        "steps[2].if: if takes one {{ expression }}",
        id="if-with-text",
    ),
    pytest.param(
        "planradar-ticket-to-argus",
        "  event: planradar.ticket_created\n",
        "  event: planradar.ticket_created\n  every: 5m\n",
        "every: 5m",
        "trigger.every: planradar.ticket_created is a webhook trigger: the platform sends its "
        "events, so `every` does not apply",
        id="every-on-a-webhook",
    ),
    pytest.param(
        "argus-incident-to-plextrac",
        "every: 5m",
        "cron: every five minutes",
        "cron:",
        "trigger.cron: 'every five minutes' is not a cron expression",
        id="cron",
    ),
    pytest.param(
        "planradar-ticket-to-argus",
        "password: \"{{ env.PLANRADAR_WEBHOOK_PASSWORD || 'change-me' }}\"",
        'password: "{{ env.PLANRADAR_WEBHOOK_PASSWORD }}"',
        '    password: "{{ env',
        "trigger.with.password: env.PLANRADAR_WEBHOOK_PASSWORD: the environment variable "
        "'PLANRADAR_WEBHOOK_PASSWORD' is not set",
        id="unset-env",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "located", "message"), MISTAKES)
def test_a_mistake_is_refused_where_it_is_before_any_request(
    catalog: Catalog,
    served: Served,
    tmp_path: Path,
    name: str,
    old: str,
    new: str,
    located: str,
    message: str,
) -> None:
    text = Path(recipe(name)).read_text()
    assert old in text
    broken = tmp_path / f"{name}.yaml"
    broken.write_text(text.replace(old, new, 1))
    line = text.replace(old, new, 1).split(located)[0].count("\n") + 1
    for app in served.apps.values():
        app.requests.clear()
    args = [str(broken), "--connections", str(served.connections), "--state", "state.db"]
    if name == "planradar-ticket-to-argus":
        args += ["--event", str(PLANRADAR_EVENT)]
    result = invoke(catalog, run, args, {**NO_ENV, "PLANRADAR_WEBHOOK_PASSWORD": None})
    assert result.exit_code == 1
    assert f"{broken}:{line}:" in result.stderr and message in result.stderr, result.stderr
    assert served.requests() == []


def test_a_job_failed_mid_way_keeps_earlier_outputs_and_completes_on_rerun(
    catalog: Catalog, served: Served, tmp_path: Path
) -> None:
    argus, plextrac = served.state("argus"), served.state("plextrac")
    connection = catalog.sandboxes["argus"].connection(_url(served, "argus"))
    with httpx.Client(base_url=connection["base_url"]) as api:
        answer = api.get("/cases/v2/case/100466", headers={"Argus-API-Key": connection["api_key"]})
    event = tmp_path / "case.json"
    event.write_text(json.dumps(answer.json()["data"]))
    env = {**NO_ENV, "HOOKLINE_CONNECTIONS": str(served.connections)}
    state = ["--state", str(tmp_path / "state.db")]

    case = argus.cases.pop(100466)  # the comment step will find no case
    try:
        args = [recipe("argus-incident-to-plextrac"), "--event", str(event), *state, "--json"]
        failed = invoke(catalog, run, args, env)
    finally:
        argus.cases[100466] = case
    assert failed.exit_code == 1
    job = of_kind(failed, "job_finished")[0]
    assert job["error"]["step"] == "steps[1]" and job["error"]["kind"] == "not_found"

    shown = invoke(catalog, jobs, [*state, "show", job["job"], "--json"], env)
    steps = json.loads(shown.stdout)["steps"]
    flaw_id = steps[0]["output"]["flaw_id"]
    assert steps[0]["status"] == "succeeded" and steps[1]["status"] == "failed"
    assert (500001, flaw_id) in plextrac.findings

    rerun = invoke(catalog, jobs, [*state, "rerun", job["job"][:8], "--json"], env)
    assert rerun.exit_code == 0, rerun.output
    assert of_kind(rerun, "job_finished")[0]["outputs"] == {"finding": flaw_id}
    titled = [f for f in plextrac.findings.values() if f["title"].startswith("Argus case 100466:")]
    assert len(titled) == 1  # the finding was not created again
    comment = f"<p>PlexTrac finding {flaw_id} in report 500001 of client 1001.</p>"
    assert argus.comments[100466][-1]["comment"] == comment


def _url(served: Served, name: str) -> str:
    return str(yaml.safe_load(served.connections.read_text())[name]["base_url"])
