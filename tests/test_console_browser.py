"""The console in a real browser (Debian's chromium, headless, driven by Playwright) against
``hookline serve --sandbox`` in a subprocess: sign in, see the PlanRadar sandbox's webhook
event arrive and its job succeed, find a failed job and rerun it, resolve a job whose
outcome is unknown, pause a trigger. Each page is photographed, into a temporary folder, or
into ``$HOOKLINE_SCREENSHOTS`` (docs/console/ holds a set made so)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookline.plugins.manager import get_plugin_manager
from hookline.run.store import open_store

CHROMIUM = Path("/usr/bin/chromium")
RECIPES = Path(__file__).parent.parent / "recipes"
OPERATOR = "browser-test-operator-token"
WEBHOOK = "planradar-ticket-to-argus"
POLLED = "pcr360-servicedesk-to-planradar"


@dataclass
class Serving:
    """``hookline serve --sandbox`` running: its console's URL and its log lines."""

    process: subprocess.Popen[str]
    state: Path
    lines: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                self.lines.append({"event": "text", "text": line})

    def api(self, path: str) -> Any:
        answer = httpx.get(f"{self.url}{path}", headers={"authorization": f"Bearer {OPERATOR}"})
        answer.raise_for_status()
        return answer.json()

    def wait(self, what: str, check: Any, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            assert self.process.poll() is None, f"serve stopped: {self.lines[-5:]}"
            time.sleep(0.25)
        raise AssertionError(f"no {what} within {timeout:g}s; serve said {self.lines[-5:]}")


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"the console's browser tests need Debian's chromium at {CHROMIUM}: "
            "apt-get install -y chromium (.ci/run installs it)"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("HOOKLINE_SCREENSHOTS")
    folder = Path(given) if given else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serving]:
    folder = tmp_path_factory.mktemp("serve")
    env = {
        k: v for k, v in os.environ.items() if k not in ("HOOKLINE_STATE", "HOOKLINE_CONNECTIONS")
    }
    env["HOOKLINE_CONSOLE_TOKEN"] = OPERATOR
    state = folder / "state.db"
    command = [sys.executable, "-m", "hookline", "serve", str(RECIPES / f"{WEBHOOK}.yaml"),
               str(RECIPES / f"{POLLED}.yaml"), "--sandbox", "--port", "0", "--json",
               "--state", str(state)]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    served = Serving(process, state)
    reader = threading.Thread(target=served.read, daemon=True)
    reader.start()
    try:
        served.url = served.wait(
            "console",
            lambda: next(
                (line["console"].rstrip("/") for line in served.lines if "console" in line), ""
            ),
        )
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=10)
        assert process.stderr is not None
        process.stderr.close()


TEST_BY_SCRIPT = """async (name) => {
  const csrf = document.querySelector("input[name=csrf]").value;
  const answer = await fetch(`/api/connections/${name}/test`,
                             {method: "POST", headers: {"X-CSRF-Token": csrf}});
  if (!answer.ok) throw new Error(`the test answered ${answer.status}`);
}"""
"""A connection test sent from the page as a script would send it, past the page's own form."""


def add_jobs(state: Path, event: Any) -> tuple[str, str]:
    """A failed job and one whose outcome is unknown, of the webhook recipe, in the store."""

    async def add() -> tuple[str, str]:
        store = open_store(str(state), get_plugin_manager())
        try:
            made = []
            for status in ("failed", "outcome_unknown"):
                job = await store.create_job(WEBHOOK, str(RECIPES / f"{WEBHOOK}.yaml"),
                                             f"by-hand-{status}", event)  # fmt: skip
                assert job is not None
                error = {"kind": "connection", "message": "the connection broke", "step": "case"}
                await store.finish_job(job.id, status, error=error)
                made.append(job.id)
            return made[0], made[1]
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as thread:  # Playwright's own loop runs in this one
        return thread.submit(asyncio.run, add()).result()


def test_an_operator_follows_jobs_reruns_resolves_and_pauses_in_a_browser(
    chromium: Path, serving: Serving, shots: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{serving.url}/")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            page.screenshot(path=shots / "login.png")
            page.get_by_label("Operator token").fill(OPERATOR)
            page.get_by_label("Your name").fill("Ada")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Recipes and triggers")).to_be_visible()

            # the sandbox's webhook event arrives, and its job succeeds
            done = serving.wait("succeeded webhook job", lambda: serving.api(
                f"/api/jobs?recipe={WEBHOOK}&status=succeeded")["jobs"])  # fmt: skip
            page.reload()
            row = page.get_by_role("row").filter(has_text=WEBHOOK)
            expect(row).to_contain_text(f"/hooks/{WEBHOOK}")
            expect(row.get_by_role("cell").nth(5)).not_to_have_text("0")  # the inbox
            page.screenshot(path=shots / "recipes.png", full_page=True)
            page.get_by_role("link", name="Jobs", exact=True).click()
            expect(page.get_by_role("link", name=done[0]["id"][:12])).to_be_visible()

            event = serving.api(f"/api/jobs/{done[0]['id']}")["event"]
            failed, unknown = add_jobs(serving.state, event)

            # find the failed job and rerun it
            page.get_by_label("Status").select_option("failed")
            page.get_by_role("button", name="Show").click()
            page.screenshot(path=shots / "jobs.png", full_page=True)
            page.get_by_role("link", name=failed[:12]).click()
            expect(page.get_by_role("heading", name=f"Job {failed}")).to_be_visible()
            page.get_by_role("link", name="Rerun").click()
            page.get_by_role("button", name="Yes, rerun").click()
            serving.wait(
                "rerun", lambda: serving.api(f"/api/jobs/{failed}")["status"] == "succeeded"
            )
            page.reload()
            expect(page.get_by_text("rerun by Ada (console)")).to_be_visible()
            expect(page.locator(".facts")).to_contain_text("succeeded")
            page.screenshot(path=shots / "job.png", full_page=True)

            # resolve the job whose outcome is unknown
            page.goto(f"{serving.url}/jobs?status=outcome_unknown")
            page.get_by_role("link", name=unknown[:12]).click()
            page.get_by_role("link", name="Resolve").click()
            page.get_by_label("It was applied: the job succeeded").check()
            page.screenshot(path=shots / "confirm.png", full_page=True)
            page.get_by_role("button", name="Yes, resolve").click()
            expect(page.get_by_role("status")).to_have_text("The job is resolved.")
            expect(page.get_by_text("resolve by Ada (console)")).to_be_visible()

            # pause the polled trigger
            page.get_by_role("link", name="Recipes and triggers").click()
            page.get_by_role("link", name=f"Pause {POLLED}").click()
            page.get_by_role("button", name="Yes, pause").click()
            row = page.get_by_role("row").filter(has_text=POLLED)
            expect(row).to_contain_text("paused")
            expect(row.get_by_role("link", name=f"Resume {POLLED}")).to_be_visible()
            page.screenshot(path=shots / "paused.png", full_page=True)

            # a test run elsewhere (a script using the JSON API) shows without a reload
            page.get_by_role("link", name="Connections").click()
            row = page.get_by_role("row").filter(has_text="planradar")
            expect(row).not_to_contain_text("passed")
            page.evaluate(TEST_BY_SCRIPT, "argus")
            argus = page.get_by_role("row").filter(has_text="mnemonic Argus")
            expect(argus).to_contain_text("passed", timeout=15_000)
            expect(argus.get_by_role("button", name="Test argus")).to_be_visible()
            page.get_by_role("button", name="Test planradar").click()
            expect(row).to_contain_text("passed")
            page.screenshot(path=shots / "connections.png", full_page=True)
        finally:
            browser.close()
    for name in ("login", "recipes", "jobs", "job", "confirm", "paused", "connections"):
        assert (shots / f"{name}.png").stat().st_size > 5000
