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
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
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
from hookline.documents.markdown import fenced_blocks
from hookline.plugins.manager import get_plugin_manager
from hookline.plugins.records import Sandbox
from hookline.run import waits
from hookline.run.connections import write_connections
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog
from hookline.spec.model import Action, ActionCall, Call, Spec
from tests.recipe_kit import json_lines

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
SCHEMA_LINE = "# yaml-language-server: $schema=../engine/schemas/recipe-v1.json\n"
EXAMPLES = (
    "argus-case-closed-to-planradar",
    "argus-case-sla-watch",
    "argus-case-to-pcr360",
    "argus-incident-to-plextrac",
    "argus-restrict-incident",
    "argus-support-incidents-to-monitoring",
    "pcr360-complete-service-desk",
    "pcr360-equipment-to-plextrac-assets",
    "pcr360-servicedesk-to-planradar",
    "planradar-ticket-status-to-argus",
    "planradar-ticket-to-argus",
    "plextrac-evidence-to-argus",
    "plextrac-export-import",
    "plextrac-finding-to-planradar",
    "plextrac-finding-with-image",
    "plextrac-report-published-to-argus",
    "plextrac-report-webhook-setup",
    "plextrac-retire-client",
    "plextrac-reuse-assessment",
    "plextrac-tenant-users-csv",
)
PLANRADAR_EVENT = RECIPES / "events" / "planradar-ticket-created.json"
PLANRADAR_UPDATED = RECIPES / "events" / "planradar-ticket-resolved.json"
PLEXTRAC_EVENT = RECIPES / "events" / "plextrac-report-published.json"
ARGUS_CLOSED = RECIPES / "events" / "argus-case-closed.json"
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
WEBHOOK_ENV = {
    "PLANRADAR_WEBHOOK_USER": "planradar",
    "PLANRADAR_WEBHOOK_PASSWORD": "a-webhook-password-of-its-own",
    "PLEXTRAC_WEBHOOK_SECRET": "a-signing-key-of-its-own",
}
"""The webhooks' credentials, which the examples take from the environment only."""


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
                self.prepare[box.name](app.state.sandbox)  # type: ignore[attr-defined]
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
        result = invoke(catalog, run, [*args, "--sandbox", "--json"], {**NO_ENV, **WEBHOOK_ENV})
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
    sandboxed: Callable[..., Result], created: Created, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in WEBHOOK_ENV.items():
        monkeypatch.setenv(name, value)
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


def test_run_in_sandboxes_has_planradar_send_a_real_ticket_event(
    sandboxed: Callable[..., Result], created: Created
) -> None:
    result = sandboxed(recipe("planradar-ticket-to-argus"))
    [note] = [n for n in of_kind(result, "note") if "sends the event" in n["message"]]
    assert "/hooks/planradar-ticket-to-argus" in note["message"]
    [finished] = of_kind(result, "job_finished")
    tickets = created.state("planradar").tickets.values()
    [ticket] = [t for t in tickets if t.attributes["subject"] in note["message"]]
    case = created.state("argus").cases[finished["outputs"]["case"]]
    assert case["customerReference"] == f"planradar:{ticket.uuid}"
    [delivery] = created.state("planradar").deliveries
    assert delivery.status == "delivered"


def test_serve_in_sandboxes_shows_events_flowing_end_to_end(tmp_path: Path) -> None:
    """``hookline serve recipes --sandbox``, as the README shows it, until SIGTERM."""
    command = [sys.executable, "-m", "hookline", "serve", str(RECIPES), "--sandbox"]
    env = {
        k: v for k, v in os.environ.items() if k not in ("HOOKLINE_STATE", "HOOKLINE_CONNECTIONS")
    }
    process = subprocess.Popen(
        [*command, "--port", "0", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    finished: dict[str, int] = {}
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        # the ticket the sandbox makes at start, and one a polled PCR-360 item became
        while finished.get("planradar-ticket-to-argus", 0) < 2 or (
            finished.get("pcr360-servicedesk-to-planradar", 0) < 1
        ):
            line = process.stderr.readline()
            assert line and time.monotonic() < deadline, "serve stopped or stalled"
            event = json.loads(line)
            if event["event"] == "job":
                assert event["status"] in ("succeeded", "skipped"), event
                finished[event["recipe"]] = finished.get(event["recipe"], 0) + 1
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    served = [json.loads(line) for line in out.splitlines()]
    hooks = {line["recipe"]: line["url"] for line in served if line["event"] == "recipe"}
    assert hooks["planradar-ticket-to-argus"].endswith("/hooks/planradar-ticket-to-argus")
    assert hooks["pcr360-servicedesk-to-planradar"] is None  # polled
    # polled events became tickets, whose webhook events became Argus cases: end to end


def test_the_shipped_planradar_events_have_the_shape_the_sandbox_delivers(
    catalog: Catalog,
) -> None:
    receiver = Receiver()
    box = catalog.sandboxes["planradar"]
    shipped = json.loads(PLANRADAR_EVENT.read_text())
    resolved = json.loads(PLANRADAR_UPDATED.read_text())
    with running(receiver.app) as hook_url, running(box.create_app()) as url:
        values = box.connection(url)
        with httpx.Client(
            base_url=f"{url}/api", headers={"X-PlanRadar-API-Key": values["token"]}
        ) as api:
            customer = values["customer_id"]
            hook = {
                "target-url": f"{hook_url}/hook",
                "events": ["ticket.created", "ticket.updated"],
            }
            api.post(f"/v1/{customer}/webhooks", json={"data": {"attributes": hook}})
            given = shipped["data"]["attributes"]
            ticket = {key: given[key] for key in CREATED_WITH}
            made = api.post(
                f"/v2/{customer}/projects/nqzkdw/tickets", json={"data": {"attributes": ticket}}
            ).json()["data"]["attributes"]
            change = {"status-id": resolved["data"]["attributes"]["status-id"]}
            api.put(
                f"/v2/{customer}/projects/nqzkdw/tickets/{made['uuid']}",
                json={"data": {"attributes": change}},
            )
        created = receiver.next_delivery("ticket.created")
        updated = receiver.next_delivery("ticket.updated")
    assert _keys(created) == _keys(shipped)
    assert _keys(updated) == _keys(resolved)
    assert resolved["ticket_uuid"] == shipped["ticket_uuid"]  # the same ticket, resolved


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


@pytest.fixture
def waits_instantly(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make the recipes' waits instant; the seconds each pause would have slept."""
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(waits, "pause", pause)
    return pauses


def _tags(argus: Any, case_id: int) -> set[tuple[str, str]]:
    return {(tag["key"], tag["value"]) for tag in argus.tags[case_id]}


def test_a_case_still_with_the_soc_after_the_wait_is_escalated(
    sandboxed: Callable[..., Result], created: Created, waits_instantly: list[float]
) -> None:
    result = sandboxed(recipe("argus-case-sla-watch"))
    assert waits_instantly == [1800.0]
    argus = created.state("argus")
    case = argus.cases[100096]
    assert of_kind(result, "job_finished")[0]["outputs"] == {
        "status": "pendingSoc",
        "priority": "high",
    }
    assert case["priority"] == "high" and ("escalation", "l2") in _tags(argus, 100096)
    assert "priority raised from medium to high" in argus.comments[100096][-1]["comment"]
    route = next(line for line in of_kind(result, "step") if line["id"] == "route")
    assert route["action"] == "switch"


def test_a_case_back_with_the_customer_loses_its_escalation(
    sandboxed: Callable[..., Result], created: Created, waits_instantly: list[float]
) -> None:
    sandboxed(recipe("argus-case-sla-watch"), "--input", "case_id=100468")
    argus = created.state("argus")
    assert ("escalation", "l2") not in _tags(argus, 100468)
    assert argus.cases[100468]["priority"] == "critical"  # unchanged


def test_a_restricted_incident_is_left_to_the_responder_group(
    sandboxed: Callable[..., Result], created: Created
) -> None:
    result = sandboxed(recipe("argus-restrict-incident"))
    argus = created.state("argus")
    assert argus.cases[100029]["accessMode"] == "explicit"
    assert [(e["subjectID"], e["level"]) for e in argus.acl[100029]] == [(402, "write")]
    assert ("access", "explicit") in _tags(argus, 100029)
    outputs = of_kind(result, "job_finished")[0]["outputs"]
    assert outputs == {"access_mode": "explicit", "group": "SOC level 2", "revoked": ["Anne Lund"]}


def test_security_incidents_on_support_move_to_monitoring(
    sandboxed: Callable[..., Result], created: Created
) -> None:
    result = sandboxed(recipe("argus-support-incidents-to-monitoring"))
    argus = created.state("argus")
    moved = sorted(int(line["event_key"]) for line in of_kind(result, "job_started"))
    assert moved == [100460, 100468, 100482]
    for case_id in moved:
        assert argus.cases[case_id]["serviceID"] == 2  # ids, Security Monitoring
        assert ("moved-from", "support") in _tags(argus, case_id)
        assert "moved to Security Monitoring" in argus.comments[case_id][-1]["comment"]


def test_cases_waiting_on_the_customer_become_pcr360_incidents_once(
    sandboxed: Callable[..., Result], created: Created
) -> None:
    result = sandboxed(recipe("argus-case-to-pcr360"))
    argus, pcr360 = created.state("argus"), created.state("pcr360")
    for job in of_kind(result, "job_finished"):
        number = job["outputs"]["incident"]
        item = pcr360.db.fetch("SELECT * FROM SERVICE_DESK WHERE SD_NUMBER = ?", (number,))[0]
        case_id = int(item["DESCRIPTION"].removeprefix("Argus case ").split(":")[0])
        assert argus.cases[case_id]["status"] == "pendingCustomer"
        assert (item["SD_STATUS"], item["SD_SOURCE"], item["LOCATIONS_RECID"]) == (
            "Pending",
            "Argus",
            104,
        )
        tasks = pcr360.db.fetch(
            "SELECT * FROM SERVICE_DESK_ACTIONS WHERE SERVICE_DESK_RECID = ?", (item["RECID"],)
        )
        assert len(tasks) == 1
        assert ("pcr360", number) in _tags(argus, case_id)
    assert len(of_kind(result, "job_finished")) == 4


def test_a_service_desk_item_and_its_pending_actions_are_completed(
    sandboxed: Callable[..., Result], created: Created
) -> None:
    result = sandboxed(recipe("pcr360-complete-service-desk"))
    pcr360 = created.state("pcr360")
    item = pcr360.db.fetch("SELECT * FROM SERVICE_DESK WHERE SD_NUMBER = 'SO-010028'")[0]
    assert item["SD_STATUS"] == "Complete" and item["DESCRIPTION"].endswith("(Work done on site.)")
    actions = pcr360.db.fetch(
        "SELECT STATUS FROM SERVICE_DESK_ACTIONS WHERE SERVICE_DESK_RECID = ?", (item["RECID"],)
    )
    assert [a["STATUS"] for a in actions] == ["Complete"]
    assert of_kind(result, "job_finished")[0]["outputs"]["actions"] == ["SDA-020010"]


def test_a_findings_screenshot_is_copied_to_an_argus_case(
    sandboxed: Callable[..., Result], created: Created
) -> None:
    sandboxed(recipe("plextrac-evidence-to-argus"))
    plextrac, argus = created.state("plextrac"), created.state("argus")
    image = next(iter(plextrac.uploads))
    attachment = argus.attachments[100096][-1]
    assert attachment["name"] == f"plextrac-17895676-{image}"
    assert attachment["content"] == plextrac.uploads[image].content
    assert attachment["mimeType"] == "image/png"
    comment = argus.comments[100096][-1]
    assert comment["associatedAttachmentIDs"] == [attachment["id"]]
    assert "Stored Cross-Site Scripting" in comment["comment"]


def test_a_finding_becomes_a_ticket_with_its_screenshot_and_closes_with_it(
    sandboxed: Callable[..., Result], created: Created, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []

    async def contractor_resolves(seconds: float) -> None:
        pauses.append(seconds)
        for ticket in created.state("planradar").tickets.values():
            if ticket.attributes["subject"].startswith("PlexTrac "):
                ticket.attributes["status-id"] = "ma"

    monkeypatch.setattr(waits, "pause", contractor_resolves)
    result = sandboxed(recipe("plextrac-finding-to-planradar"))
    plextrac, planradar = created.state("plextrac"), created.state("planradar")
    number = of_kind(result, "job_finished")[0]["outputs"]["ticket"]
    ticket = next(t for t in planradar.tickets.values() if t.attributes["sequential-id"] == number)
    assert ticket.attributes["subject"] == "PlexTrac High: Stored Cross-Site Scripting"
    assert ticket.attributes["priority-id"] == "ma"
    pictures = [i for i in planradar.images.values() if i.ticket_uuid == ticket.uuid]
    assert [p.caption for p in pictures] == ["Evidence from PlexTrac finding 17895676"]
    assert planradar.files[pictures[0].uuid] == next(iter(plextrac.uploads.values())).content
    finding = plextrac.findings[(500001, 17895676)]
    assert finding["status"] == "Closed" and ticket.uuid in finding["references"]
    assert pauses == [3600.0]
    wait = next(line for line in of_kind(result, "step") if line["id"] == "resolved")
    assert (wait["action"], wait["attempts"]) == ("wait", 2)


def test_a_published_reports_critical_findings_open_argus_cases(
    sandboxed: Callable[..., Result], created: Created
) -> None:
    result = sandboxed(recipe("plextrac-report-published-to-argus"), "--event", str(PLEXTRAC_EVENT))
    plextrac, argus = created.state("plextrac"), created.state("argus")
    report = next(r for r in plextrac.reports.values() if r["cuid"] == _target(PLEXTRAC_EVENT))
    critical = [f for f in plextrac.findings_of(report["id"]) if f["severity"] == "Critical"]
    cases = of_kind(result, "job_finished")[0]["outputs"]["cases"]
    assert len(cases) == len(critical) == 1
    case = argus.cases[cases[0]]
    assert (case["customerID"], case["serviceID"], case["priority"]) == (3, 6, "critical")
    assert case["customerReference"] == f"plextrac:{critical[0]['flaw_id']}"
    assert "argus" in critical[0]["tags"]
    assert f"Argus case {case['id']}" in critical[0]["references"]
    assert "argus-cases" in report["tags"]


def _target(event: Path) -> str:
    return str(json.loads(event.read_text())["targetCuid"])


def test_plextrac_is_set_up_once_for_published_reports(
    sandboxed: Callable[..., Result], created: Created
) -> None:
    result = sandboxed(recipe("plextrac-report-webhook-setup"))
    plextrac = created.state("plextrac")
    hooks = list(plextrac.webhooks.values())
    assert [(h["url"], h["events"]) for h in hooks] == [
        (
            "https://hookline.example.com/hooks/plextrac-report-published-to-argus",
            ["ReportPublished"],
        )
    ]
    assert hooks[0]["secret"] == WEBHOOK_ENV["PLEXTRAC_WEBHOOK_SECRET"]
    assert {"argus", "argus-cases"} <= {tag["name"] for tag in plextrac.tags.values()}
    assert of_kind(result, "job_finished")[0]["outputs"]["tags"] == ["argus", "argus-cases"]


def test_a_retired_client_is_archived_then_deleted(
    sandboxed: Callable[..., Result], created: Created, tmp_path: Path
) -> None:
    skipped = sandboxed(recipe("plextrac-retire-client"))
    assert of_kind(skipped, "job_finished")[0]["status"] == "skipped"
    assert 1002 in created.state("plextrac", 0).clients

    result = sandboxed(recipe("plextrac-retire-client"), "--input", "confirm=true")
    before = created.state("plextrac", 0)
    after = created.state("plextrac", 1)
    archived = json.loads((tmp_path / "exports" / "plextrac-client-1002.json").read_text())
    assert archived["client"]["client_id"] == 1002
    assert sorted(r["id"] for r in archived["reports"]) == [500003, 500004]
    assert 1002 not in after.clients
    assert not [r for r in after.reports.values() if r["client_id"] == 1002]
    assert not [f for f in after.findings.values() if f["client_id"] == 1002]
    kept = [f for f in before.findings.values() if f["client_id"] != 1002]
    assert len(after.findings) == len(kept)
    assert of_kind(result, "job_finished")[0]["outputs"]["findings"] == len(archived["findings"])


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
    env = {"HOOKLINE_CONNECTIONS": str(served.connections), **WEBHOOK_ENV}
    result = CliRunner().invoke(main, ["validate", str(RECIPES)], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.count(": valid recipe") == len(EXAMPLES)
    assert served.requests() == []


# ---------------------------------------------------------------- what the examples cover

CONNECTORS = ("argus", "pcr360", "planradar", "plextrac")
READ_NAMES = ("get_", "list_", "search_")
"""Action names that read, though some platforms read with a POST (PlexTrac's lists)."""


def _called(spec: Spec, action: Action) -> list[str]:
    """The actions a composite action calls, its loops' included."""
    found: list[str] = []

    def walk(calls: Iterable[Call]) -> None:
        for call in calls:
            if isinstance(call, ActionCall):
                found.append(call.action)
            else:
                walk(call.calls)

    assert action.composite is not None
    walk(action.composite.calls)
    return found


def _writes(spec: Spec, action: Action) -> bool:
    """Whether an action changes something: a request other than a read, or a composite
    action that calls one."""
    if action.composite is not None:
        return any(_writes(spec, spec.actions[name]) for name in _called(spec, action))
    assert action.request is not None
    return not (
        action.request.method == "GET" or action.is_list or action.name.startswith(READ_NAMES)
    )


def _example_calls(catalog: Catalog) -> set[str]:
    """``connector.action`` of every action the examples call, and of the actions that the
    composite actions among them call."""
    called: set[str] = set()

    def walk(node: Any, connectors: dict[str, str]) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("action"), str):
                connection, _, name = node["action"].partition(".")
                connector = connectors.get(connection, "")
                if connector in CONNECTORS:
                    spec = catalog.spec(connector)
                    called.add(f"{connector}.{name}")
                    if spec.actions[name].composite is not None:
                        called.update(f"{connector}.{n}" for n in _called(spec, spec.actions[name]))
            for value in node.values():
                walk(value, connectors)
        elif isinstance(node, list):
            for value in node:
                walk(value, connectors)

    for file in RECIPES.glob("*.yaml"):
        data = yaml.safe_load(file.read_text())
        connectors = {
            name: entry
            if isinstance(entry, str)
            else entry.get("connector", entry.get("connection"))
            for name, entry in data.get("connections", {}).items()
        }  # the examples name the sandbox connections, each called as its connector
        walk(data["steps"], connectors)
    return called


def test_the_examples_call_most_write_actions_of_the_four_connectors(catalog: Catalog) -> None:
    writes = {
        f"{name}.{action.name}"
        for name in CONNECTORS
        for action in catalog.spec(name).actions.values()
        if _writes(catalog.spec(name), action)
    }
    missing = sorted(writes - _example_calls(catalog))
    coverage = 1 - len(missing) / len(writes)
    assert coverage >= 0.8, (
        f"the examples call {coverage:.0%} of the {len(writes)} write actions; not called: "
        + ", ".join(missing)
    )


SANDBOXES_SEND_NONE = ("planradar-ticket-status-to-argus", "plextrac-report-published-to-argus")
"""Webhook examples whose events no sandbox makes happen: run on a saved delivery."""


def test_the_guide_runs_each_webhook_example_no_sandbox_feeds_on_a_saved_delivery() -> None:
    """The README says every example runs with ``--sandbox``; for these the recipes guide
    shows the command with the ``--event`` they need too, and the docs tests run it."""
    guide = (RECIPES.parent / "docs" / "recipes.md").read_text(encoding="utf-8")
    commands = [
        line
        for block in fenced_blocks(guide)
        if block.language == "sh" and not block.illustration
        for line in block.text.splitlines()
    ]
    for name in SANDBOXES_SEND_NONE:
        wanted = f"hookline run recipes/{name}.yaml --sandbox --event recipes/events/"
        assert any(line.startswith(wanted) for line in commands), name


DRY_RUN_ARGS = {
    "argus-case-closed-to-planradar": ["--event", str(ARGUS_CLOSED)],
    "planradar-ticket-status-to-argus": ["--event", str(PLANRADAR_UPDATED)],
    "planradar-ticket-to-argus": ["--event", str(PLANRADAR_EVENT)],
    "plextrac-finding-with-image": ["-i", f"image={RECIPES / 'assets' / 'admin-console.png'}"],
    "plextrac-report-published-to-argus": ["--event", str(PLEXTRAC_EVENT)],
    "plextrac-retire-client": ["-i", "confirm=true"],
}
"""What each example's dry run is given beyond its defaults, so that it runs to its end
rather than stopping early: the shipped event it is about (the connectors' examples show its
objects), the confirmation a destructive run asks for, and an image's path from anywhere."""


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
    args = [recipe(name), "--dry-run", "--json", *DRY_RUN_ARGS.get(name, [])]
    args += ["--sandbox"] if where == "--sandbox" else ["--connections", str(served.connections)]
    result = invoke(catalog, run, args, {**NO_ENV, **WEBHOOK_ENV})
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
    result = invoke(catalog, run, args, {**NO_ENV, **WEBHOOK_ENV})
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
        'password: "{{ env.PLANRADAR_WEBHOOK_PASSWORD }}"',
        'password: "{{ env.PLANRADAR_WEBHOOK_PASSWORD }}x"',
        '    password: "{{ env',
        "trigger.with.password: env.PLANRADAR_WEBHOOK_PASSWORD: the environment variable "
        "'PLANRADAR_WEBHOOK_PASSWORD' is not set",
        id="unset-env",
    ),
    pytest.param(
        "planradar-ticket-to-argus",
        'password: "{{ env.PLANRADAR_WEBHOOK_PASSWORD }}"',
        "password: \"{{ env.PLANRADAR_WEBHOOK_PASSWORD || 'change-me' }}\"",
        '    password: "{{ env',
        "trigger.with.password: planradar.ticket_created: the password expected of incoming "
        "webhooks is a value shipped in an example (PLANRADAR_WEBHOOK_PASSWORD is empty or not "
        "set), which anyone can read",
        id="example-password",
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


def _served_run(catalog: Catalog, served: Served, folder: Path, *args: str) -> Result:
    """``hookline run ARGS`` against the served sandboxes, keeping history in ``folder``."""
    state = ["--connections", str(served.connections), "--state", str(folder / "state.db")]
    result = invoke(catalog, run, [*args, *state, "--json"], {**NO_ENV, **WEBHOOK_ENV})
    assert result.exit_code == 0, result.output
    return result


def test_a_clients_assets_follow_the_equipment_in_service(
    catalog: Catalog, served: Served, tmp_path: Path
) -> None:
    example = recipe("pcr360-equipment-to-plextrac-assets")
    pcr360, plextrac = served.state("pcr360"), served.state("plextrac")
    in_service = pcr360.db.fetch(
        "SELECT * FROM EQUIPMENT WHERE E_EQP_STATUS_VALUE = 'In Service' "
        "AND LOCATIONS_PATH LIKE '%Main Campus%' ORDER BY RECID"
    )
    first = _served_run(catalog, served, tmp_path, example)
    assert of_kind(first, "job_finished")[0]["outputs"] == {
        "created": len(in_service),
        "updated": 0,
        "deleted": [],
    }
    made = {
        a["asset"]: a
        for a in plextrac.assets.values()
        if a["client_id"] == 1003 and a["tags"] == ["pcr360"]
    }
    assert sorted(made) == sorted(piece["EQUIPMENT_ID"] for piece in in_service)
    first_piece = made[in_service[0]["EQUIPMENT_ID"]]
    assert first_piece["physical_location"] == in_service[0]["LOCATIONS_PATH"]
    assert first_piece["system_owner"] == in_service[0]["OWNER"]

    retired = in_service[-1]["EQUIPMENT_ID"]
    pcr360.db.execute(
        "UPDATE EQUIPMENT SET E_EQP_STATUS_VALUE = 'Retired' WHERE EQUIPMENT_ID = ?", (retired,)
    )
    second = _served_run(catalog, served, tmp_path, example)
    assert of_kind(second, "job_finished")[0]["outputs"] == {
        "created": 0,
        "updated": len(in_service) - 1,
        "deleted": [retired],
    }
    left = {a["asset"] for a in plextrac.assets.values() if a["client_id"] == 1003}
    assert retired not in left and len(left & set(made)) == len(in_service) - 1


class Receiver:
    """A webhook receiver on loopback: what the sandboxes delivered to it, in order."""

    def __init__(self) -> None:
        self.delivered: list[Any] = []

        async def receive(request: Request) -> JSONResponse:
            self.delivered.append(await request.json())
            return JSONResponse({})

        self.app = Starlette(routes=[Route("/hook", receive, methods=["POST"])])

    def next_delivery(self, event: str) -> Any:
        """Wait for the next delivery of ``event``; its body."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = [d for d in self.delivered if d.get("event") == event]
            if found:
                self.delivered.remove(found[0])
                return found[0]
            time.sleep(0.01)
        raise AssertionError(f"the sandbox delivered no {event} event")

    def next(self, event: str, folder: Path) -> Path:
        """Wait for the next delivery of ``event``; the file it is saved in, for --event."""
        path = folder / f"{event}-{len(list(folder.glob('*.json')))}.json"
        path.write_text(json.dumps(self.next_delivery(event)))
        return path


def test_a_planradar_ticket_and_its_argus_case_follow_each_other(
    catalog: Catalog, served: Served, tmp_path: Path
) -> None:
    argus, planradar = served.state("argus"), served.state("planradar")
    values = catalog.sandboxes["planradar"].connection(_url(served, "planradar"))
    customer, project = values["customer_id"], "nqzkdw"
    receiver = Receiver()
    with (
        running(receiver.app) as hook_url,
        httpx.Client(
            base_url=f"{values['base_url']}/api",
            headers={"X-PlanRadar-API-Key": values["token"]},
        ) as api,
    ):
        hook = {"target-url": f"{hook_url}/hook", "events": ["ticket.created", "ticket.updated"]}
        made = api.post(f"/v1/{customer}/webhooks", json={"data": {"attributes": hook}})
        webhook_id = made.json()["data"]["id"]
        try:
            shipped = json.loads(PLANRADAR_EVENT.read_text())["data"]["attributes"]
            attributes = {key: shipped[key] for key in CREATED_WITH}
            ticket = api.post(
                f"/v2/{customer}/projects/{project}/tickets",
                json={"data": {"attributes": {**attributes, "subject": "Door 3 does not lock"}}},
            ).json()["data"]["attributes"]
            path = f"/v2/{customer}/projects/{project}/tickets/{ticket['uuid']}"

            created = receiver.next("ticket.created", tmp_path)
            opened = _served_run(
                catalog,
                served,
                tmp_path,
                recipe("planradar-ticket-to-argus"),
                "--event",
                str(created),
            )
            case_id = of_kind(opened, "job_finished")[0]["outputs"]["case"]
            assert ("planradar-ticket", ticket["uuid"]) in _tags(argus, case_id)

            status = recipe("planradar-ticket-status-to-argus")
            api.put(path, json={"data": {"attributes": {"status-id": "ex"}}})
            feedback = receiver.next("ticket.updated", tmp_path)
            _served_run(catalog, served, tmp_path, status, "--event", str(feedback))
            assert argus.cases[case_id]["status"] == "pendingCustomer"
            assert "needs feedback from the site" in argus.comments[case_id][-1]["comment"]

            api.put(path, json={"data": {"attributes": {"status-id": "ma"}}})
            resolved = receiver.next("ticket.updated", tmp_path)
            closing = _served_run(catalog, served, tmp_path, status, "--event", str(resolved))
            assert of_kind(closing, "job_finished")[0]["outputs"] == {
                "case": case_id,
                "status": "Resolved",
            }
            assert argus.cases[case_id]["status"] == "closed"
            notes = [j.notes for j in planradar.journals if j.ticket_uuid == ticket["uuid"]]
            assert f"Argus case {case_id} was closed: the ticket is Resolved." in notes

            synced = _served_run(
                catalog, served, tmp_path, recipe("argus-case-closed-to-planradar")
            )
            finished = of_kind(synced, "job_finished")
            closed = [job for job in finished if job["status"] == "succeeded"]
            assert [job["outputs"]["ticket"] for job in closed] == [ticket["sequential-id"]]
            assert planradar.tickets[ticket["uuid"]].attributes["status-id"] == "gk"
        finally:
            api.delete(f"/v1/{customer}/webhooks/{webhook_id}")


def _url(served: Served, name: str) -> str:
    return str(yaml.safe_load(served.connections.read_text())[name]["base_url"])
