"""The example plugin examples/acme-tickets, installed as a distribution of its own.

A copy of the example is installed apart from this environment (``tests.installs``), and
the commands of its README run in that copy, each checked here: the plugin is listed, its
action is called against its sandbox, its recipe runs, ``hookline test`` passes, and its own
test suite passes. A cassette recorded against the sandbox replays with the sandbox
stopped and holds none of the connection's secrets.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.installs import environment, install, readme_commands, run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "acme-tickets"
SECRET = "acme-demo-secret-7f3c91d2"


@dataclass(frozen=True)
class Installed:
    """The copy of the example, installed: its folder and the environment that sees it."""

    folder: Path
    env: dict[str, str]

    def hookline(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(["hookline", *args], cwd=self.folder, env=self.env)


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    folder = tmp_path_factory.mktemp("example") / "acme-tickets"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp_path_factory.mktemp("site")
    install(folder, target)
    return Installed(folder, environment(target, PYTHONUNBUFFERED="1"))


def readme_command(*start: str) -> list[str]:
    """The README's command that starts with ``start``, without the program's name."""
    commands = readme_commands(EXAMPLE)
    found = [command for command in commands if command[: len(start)] == list(start)]
    assert len(found) == 1, f"the README has no single command starting {start}"
    return found[0][1:]


@contextmanager
def sandbox_serving(acme: Installed) -> Iterator[str]:
    """``hookline sandbox acme_tickets`` in a process of its own; its base URL."""
    command = [sys.executable, "-m", "hookline", "sandbox", "acme_tickets", "--port", "0"]
    with subprocess.Popen(
        command, cwd=acme.folder, env=acme.env, stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            url = None
            for line in process.stdout:
                found = re.search(r"http://127\.0\.0\.1:\d+", line)
                url = url or (found.group(0) if found else None)
                if line.startswith("serving"):
                    break
            assert url is not None, "the sandbox did not start"
            yield url
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)


def test_the_plugin_is_listed_with_its_distribution(acme: Installed) -> None:
    listed = acme.hookline(*readme_command("hookline", "connectors"))
    assert listed.returncode == 0, listed.stderr
    cells = next(line.split() for line in listed.stdout.splitlines() if "acme_tickets" in line)
    assert cells[0] == "acme_tickets" and cells[-1] == "acme_tickets"
    plugins = acme.hookline("plugins")
    row = next(line for line in plugins.stdout.splitlines() if line.startswith(" acme_tickets"))
    assert "acme-tickets" in row
    for hook in ("register_auth_types", "register_paginators", "register_functions"):
        assert hook in row


def test_an_action_is_called_against_the_sandbox(acme: Installed) -> None:
    args = readme_command("hookline", "call")
    connections = acme.folder / "tests" / "connections.yaml"
    with sandbox_serving(acme) as url:
        text = connections.read_text().replace("http://127.0.0.1:8801", url)
        connections.write_text(text)
        connections.chmod(0o600)
        called = acme.hookline(*args)
    assert called.returncode == 0, called.stderr
    ticket = json.loads(called.stdout)
    assert (ticket["id"], ticket["ref"]) == (3, "ACME-001003")


def test_the_recipe_runs_on_the_connector(acme: Installed) -> None:
    ran = acme.hookline(*readme_command("hookline", "run"), "--json")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    finished = [json.loads(line) for line in ran.stdout.splitlines() if "job_finished" in line]
    assert finished[0]["outputs"] == {
        "ref": "ACME-001002",
        "status": "closed",
        "comment": "ACME-001002 closed: New drum fitted",
    }


def test_hookline_test_passes_every_check_as_the_testing_guide_shows(acme: Installed) -> None:
    tested = acme.hookline(*readme_command("hookline", "test"))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    guide = (ROOT / "docs" / "testing.md").read_text()
    shown = re.search(r"```text\n\$ hookline test acme_tickets\n(.*?)```", guide, re.DOTALL)
    assert shown is not None
    assert tested.stdout == shown.group(1)


def test_the_plugins_own_tests_pass(acme: Installed) -> None:
    assert readme_command("pytest") == []
    tested = run(["pytest", "-q", "-p", "no:cacheprovider"], cwd=acme.folder, env=acme.env)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "10 passed" in tested.stdout


def test_every_readme_command_is_run_here() -> None:
    assert [command[:2] for command in readme_commands(EXAMPLE)] == [
        ["pip", "install"],  # the fixture's install
        ["hookline", "connectors"],
        ["hookline", "call"],
        ["hookline", "run"],
        ["hookline", "test"],
        ["pytest"],
    ]


def test_recorded_cassettes_replay_offline_and_hold_no_secret(
    acme: Installed, tmp_path: Path
) -> None:
    recorded = acme.hookline("test", "acme_tickets", "--record", "--cassettes", str(tmp_path))
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    files = sorted((tmp_path / "acme_tickets").glob("*.yaml"))
    assert len(files) == 6
    for file in files:
        text = file.read_text()
        assert SECRET not in text
        assert yaml.safe_load(text)["connection"]["secret"] == "***"
    # the sandboxes of the recording are gone; the replay sends nothing
    replayed = acme.hookline("test", "acme_tickets", "--cassettes", str(tmp_path))
    assert "ok    cassettes  6 of 6 cassettes replayed" in replayed.stdout


def test_docs_write_the_plugin_connectors_page(acme: Installed, tmp_path: Path) -> None:
    written = acme.hookline("docs", "--connector", "acme_tickets", "--output", str(tmp_path))
    assert written.returncode == 0, written.stderr
    assert [path.name for path in tmp_path.rglob("*.md")] == ["acme_tickets.md"]
    page = (tmp_path / "connectors" / "acme_tickets.md").read_text()
    assert "from the spec of plugin `acme_tickets`" in page
    assert "Auth: `acme_hmac`." in page
    everything = acme.hookline("docs", "--output", str(tmp_path / "all"))
    assert everything.returncode == 0, everything.stderr
    reference = (tmp_path / "all" / "spec-reference.md").read_text()
    assert "### `acme_hmac`" in reference and "### `acme_seek`" in reference
    assert (tmp_path / "all" / "connectors" / "argus.md").exists()
