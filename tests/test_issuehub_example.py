"""The example plugin examples/issuehub, installed as a distribution of its own.

Its README's commands run in an installed copy: ``hookline test`` passes, its recipe runs
against the sandbox, and its own test suite passes. Its spec is the short one the connector
guide promises: at most twelve YAML lines an action, examples left out, as
``bench/spec_lines.py`` counts them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.installs import environment, install, readme_commands, run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "issuehub"
SPEC = EXAMPLE / "src" / "hookline_issuehub" / "issuehub.yaml"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("example") / "issuehub"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp_path_factory.mktemp("site")
    install(folder, target)
    return folder, environment(target, PYTHONUNBUFFERED="1")


def test_every_readme_command_runs(installed: tuple[Path, dict[str, str]]) -> None:
    folder, env = installed
    commands = readme_commands(EXAMPLE)
    assert [command[:2] for command in commands] == [
        ["pip", "install"],  # the fixture's install
        ["hookline", "test"],
        ["hookline", "run"],
        ["pytest"],
    ]
    tested = run(["hookline", *commands[1][1:]], cwd=folder, env=env)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "4 passed, 0 skipped, 0 failed" in tested.stdout
    ran = run(["hookline", *commands[2][1:], "--json"], cwd=folder, env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    finished = [json.loads(line) for line in ran.stdout.splitlines() if "job_finished" in line]
    triaged = [job for job in finished if job["status"] == "succeeded"]
    assert triaged and all("triaged" in job["outputs"]["labels"] for job in triaged)
    suite = run(["pytest", "-q", "-p", "no:cacheprovider"], cwd=folder, env=env)
    assert suite.returncode == 0, suite.stdout + suite.stderr


def test_the_spec_takes_at_most_twelve_lines_an_action() -> None:
    measured = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "spec_lines.py"), str(SPEC)],
        capture_output=True,
        text=True,
        check=True,
    )
    row = next(line.split() for line in measured.stdout.splitlines() if line.startswith("all"))
    actions, per_action = int(row[1]), float(row[3])
    assert actions == 5
    assert per_action <= 12, measured.stdout
