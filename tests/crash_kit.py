"""What the crash tests need: sandboxes a test can hold still, and hookline subprocesses.

The sandboxes run in the test process (so they outlive every ``hookline`` the tests kill),
each behind a ``Gate``: an ASGI wrapper that can hold matching requests before they reach the
sandbox (nothing applied yet) or after (applied, the answer not sent), while the test kills
the process that sent them. The sandboxes' own state is what the tests count side effects in.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from hookline.connectors.argus.sandbox.directory import BASE_TIME_MS
from hookline.plugins.manager import get_plugin_manager
from hookline.plugins.records import WebhookTarget
from hookline.run.connections import write_connections
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent
HOOK_USER, HOOK_PASSWORD = "planradar", "a long and random webhook password"


class Gate:
    """Holds requests whose method and path match, ``before`` or ``after`` the app sees them."""

    def __init__(self, app: Any, method: str, path: str) -> None:
        self.app = app
        self.method = method
        self.path = re.compile(path)
        self.mode = "open"
        self.released = threading.Event()
        self.released.set()
        self.arrived = 0
        self.held = 0
        self.delay = 0.0

    def hold(self, mode: str) -> None:
        """Hold matching requests from now: ``before`` the app, or ``after`` it answered."""
        self.mode = mode
        self.released.clear()

    def release(self) -> None:
        """Let every held request go on, and hold none from now."""
        self.mode = "open"
        self.released.set()

    async def _wait(self) -> None:
        self.held += 1
        try:
            while not self.released.is_set():
                await asyncio.sleep(0.005)
        finally:
            self.held -= 1

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        matches = (
            scope["type"] == "http"
            and scope["method"] == self.method
            and self.path.search(scope["path"])
        )
        if not matches:
            await self.app(scope, receive, send)
            return
        self.arrived += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        mode = self.mode
        if mode == "before":
            await self._wait()
        if mode != "after":
            await self.app(scope, receive, send)
            return
        answer: list[Any] = []

        async def keep(message: Any) -> None:
            answer.append(message)

        await self.app(scope, receive, keep)
        await self._wait()
        for message in answer:
            await send(message)


@dataclass
class Sandboxes:
    """Argus, PCR-360 and PlanRadar on loopback, gated, and the connections file for them."""

    apps: dict[str, Any]
    urls: dict[str, str]
    connections: Path
    gates: dict[str, Gate] = field(default_factory=dict)
    catalog: Catalog | None = None

    def state(self, name: str) -> Any:
        return self.apps[name].state.sandbox

    def cases(self, prefix: str) -> dict[str, int]:
        """How many Argus cases made since the seed carry each customer reference starting
        with ``prefix`` (the seed holds a case a PlanRadar ticket opened, dated before it)."""
        found: dict[str, int] = {}
        for case in list(self.state("argus").cases.values()):
            reference = case.get("customerReference") or ""
            if reference.startswith(prefix) and case["createdTimestamp"] >= BASE_TIME_MS:
                found[reference] = found.get(reference, 0) + 1
        return found

    def add_items(self, count: int) -> list[int]:
        """New PCR-360 service-desk incidents; their RECIDs."""
        db = self.state("pcr360").db
        recids = []
        for n in range(count):
            now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
            row = {
                "SD_TYPE": "Incident",
                "SD_SOURCE": "API",
                "DESCRIPTION": f"Crash test item {n}",
                "SD_STATUS": "Pending",
                "CREATED_DATE": now,
                "MODIFIED_DATE": now,
            }
            recid, _ = db.insert_numbered("SERVICE_DESK", row, "SD_NUMBER", _sd_number)
            recids.append(recid)
        return recids

    def last_item(self) -> int:
        db = self.state("pcr360").db
        return int(db.fetch("SELECT MAX(RECID) AS top FROM SERVICE_DESK")[0]["top"])

    def subscribe(self, url: str) -> None:
        """Point PlanRadar's webhooks at ``url`` with the recipe's Basic credentials."""
        assert self.catalog is not None
        box = self.catalog.sandboxes["planradar"]
        assert box.subscribe is not None
        box.subscribe(self.urls["planradar"], WebhookTarget(url, HOOK_USER, HOOK_PASSWORD))

    def add_tickets(self, count: int) -> list[str]:
        """New PlanRadar tickets (each delivered as a webhook); their UUIDs."""
        values = {"X-PlanRadar-API-Key": _planradar_token(), "Accept": "application/json"}
        uuids = []
        with httpx.Client(base_url=f"{self.urls['planradar']}/api", headers=values) as api:
            for n in range(count):
                ticket = {"ticket-type-id": "obk", "component-id": "nyk", "subject": f"T{n}"}
                answer = api.post(
                    "/v2/2410587/projects/nqzkdw/tickets", json={"data": {"attributes": ticket}}
                )
                answer.raise_for_status()
                uuids.append(answer.json()["data"]["attributes"]["uuid"])
        return uuids


def _sd_number(recid: int) -> str:
    return f"IN-{recid:06d}"


def _planradar_token() -> str:
    from hookline.connectors.planradar.sandbox.data import DEMO_TOKEN

    return DEMO_TOKEN


@contextmanager
def sandboxes(folder: Path) -> Iterator[Sandboxes]:
    """Serve the three sandboxes behind gates on create_case, the SQL poll and nothing else."""
    catalog = Catalog(get_plugin_manager(entry_points=False))
    boxes = catalog.sandboxes
    apps = {
        "argus": boxes["argus"].create_app(),
        "pcr360": boxes["pcr360"].create_app(),
        "planradar": boxes["planradar"].create_app(
            rate_limit=100_000, webhook_retries=14, webhook_backoff=0.05, webhook_timeout=5
        ),
    }
    gates = {
        "argus": Gate(apps["argus"], "POST", r"^/cases/v2/case$"),
        "pcr360": Gate(apps["pcr360"], "POST", r"/sql"),
    }
    with ExitStack() as stack:
        urls = {}
        entries = {}
        for name, app in apps.items():
            urls[name] = stack.enter_context(running(gates.get(name, app)))
            entries[name] = {"connector": name, **boxes[name].connection(urls[name])}
        connections = folder / "connections.yaml"
        write_connections(connections, entries)
        yield Sandboxes(apps, urls, connections, gates, catalog)


POLL_RECIPE = """\
recipe: items-to-cases
connections:
  pcr360: pcr360
  argus: argus
trigger:
  event: pcr360.new_service_desk_record
  every: 1s
  with: {{after_recid: {after}}}
steps:
  - id: case
    action: argus.create_case
    with:
      customer: nordlys
      service: support
      type: operationalIncident
      subject: "PCR-360 {{{{ trigger.SD_NUMBER }}}}"
      description: "<p>{{{{ html_escape(trigger.DESCRIPTION) }}}}</p>"
      customer_reference: "pcr360:{{{{ trigger.RECID }}}}"
"""


def write_recipes(folder: Path, after: int) -> list[Path]:
    """The poll recipe (items after ``after`` become cases) and the shipped webhook recipe."""
    poll = folder / "items-to-cases.yaml"
    poll.write_text(POLL_RECIPE.format(after=after))
    return [poll, ROOT / "recipes" / "planradar-ticket-to-argus.yaml"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Hookline:
    """Runs ``hookline`` commands as subprocesses against the sandboxes and one store."""

    def __init__(self, boxes: Sandboxes, state: str, folder: Path) -> None:
        self.boxes = boxes
        self.state = state
        self.folder = folder
        self.env = {
            **os.environ,
            "PLANRADAR_WEBHOOK_USER": HOOK_USER,
            "PLANRADAR_WEBHOOK_PASSWORD": HOOK_PASSWORD,
            "HOOKLINE_CONNECTIONS": str(boxes.connections),
            "HOOKLINE_STATE": state,
        }
        self.logs: list[Path] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start ``hookline ARGS`` with its output in a log file."""
        log = self.folder / f"hookline-{len(self.logs)}.log"
        self.logs.append(log)
        stream = log.open("wb")
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "hookline", *args],
                env=self.env,
                cwd=self.folder,
                stdout=stream,
                stderr=subprocess.STDOUT,
            )
        finally:
            stream.close()

    def serve(self, recipes: list[Path], port: int) -> subprocess.Popen[bytes]:
        paths = [str(p) for p in recipes]
        return self.start("serve", *paths, "--port", str(port), "--json", "--grace", "2")

    def run(self, recipe: Path, *args: str) -> subprocess.Popen[bytes]:
        return self.start("run", str(recipe), "--json", *args)

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')}" for log in self.logs)


def kill(process: subprocess.Popen[bytes], signum: int = signal.SIGKILL) -> int:
    """Send ``signum`` and reap the process (a zombie would still look alive); its code."""
    process.send_signal(signum)
    return process.wait(timeout=30)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0, logs: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{logs() if logs else ''}")
        time.sleep(0.01)
