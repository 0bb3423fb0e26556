"""The deployment guide's unit files and compose file: they load, and every ``hookline``
command they start is a command line that parses, naming the right command and executor."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path
from typing import Any

import yaml

from hookline.documents.markdown import fenced_blocks
from tests.test_docs import parses

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "deployment.md"


def blocks(language: str) -> list[str]:
    found = fenced_blocks(GUIDE.read_text(encoding="utf-8"))
    return [block.text for block in found if block.language == language]


def units() -> dict[str, configparser.ConfigParser]:
    """Each systemd unit of the guide by its file name (its first line names it)."""
    found = {}
    for text in blocks("ini"):
        first = text.splitlines()[0]
        if not first.endswith(".service"):
            continue
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(text)
        found[Path(first.removeprefix("# ")).name] = parser
    return found


def hookline_args(command: list[str]) -> list[str]:
    assert Path(command[0]).name == "hookline", command
    return command[1:]


def test_every_unit_starts_a_hookline_command_that_parses() -> None:
    found = units()
    assert set(found) == {"hookline.service", "hookline-serve.service", "hookline-worker@.service"}
    started = {}
    for name, unit in found.items():
        assert unit["Service"]["KillSignal"] == "SIGTERM"
        assert unit["Service"]["EnvironmentFile"] == "/etc/hookline/env"
        args = hookline_args(shlex.split(unit["Service"]["ExecStart"]))
        assert parses(args) is None, (name, parses(args))
        started[name] = args
    assert started["hookline.service"][0] == "serve"
    assert "--executor" not in started["hookline.service"]
    serve = started["hookline-serve.service"]
    assert serve[0] == "serve" and serve[serve.index("--executor") + 1] == "celery"
    assert started["hookline-worker@.service"][0] == "worker"


def test_the_environment_file_names_the_variables_the_commands_read() -> None:
    env = next(text for text in blocks("ini") if text.startswith("# /etc/hookline/env"))
    names = {line.split("=", 1)[0] for line in env.splitlines()[1:] if "=" in line}
    assert names == {
        "HOOKLINE_STATE",
        "HOOKLINE_EXECUTOR",
        "HOOKLINE_BROKER",
        "HOOKLINE_SECRET_KEY",
        "HOOKLINE_CONNECTIONS",
    }


def test_the_compose_file_loads_and_runs_serve_with_celery_and_workers() -> None:
    (text,) = blocks("yaml")
    compose: dict[str, Any] = yaml.safe_load(text)
    services = compose["services"]
    assert set(services) == {"redis", "postgres", "serve", "worker"}
    serve = hookline_args(services["serve"]["command"])
    worker = hookline_args(services["worker"]["command"])
    for args in (serve, worker):
        assert parses(args) is None, parses(args)
    assert serve[0] == "serve" and serve[serve.index("--executor") + 1] == "celery"
    assert worker[0] == "worker"
    for name in ("serve", "worker"):
        env = services[name]["environment"]
        assert (
            env["HOOKLINE_BROKER"].startswith("redis://")
            and "@redis:6379/" in env["HOOKLINE_BROKER"]
        )
        assert (
            env["HOOKLINE_STATE"].startswith("postgresql://")
            and "@postgres:5432/" in env["HOOKLINE_STATE"]
        )
        assert set(services[name]["depends_on"]) == {"redis", "postgres"}
