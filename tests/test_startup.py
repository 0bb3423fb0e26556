"""Start-up: a command imports what it uses, and ``--help`` lists every command unimported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import hookline
from hookline.cli.group import HooklineGroup
from hookline.cli.main import COMMANDS, main

HEAVY = ("jsonschema", "rich", "starlette", "uvicorn", "cryptography", "authlib")
"""Libraries no command should load before it needs them."""


def imported(*arguments: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level modules a fresh ``python -X importtime -m hookline ARGUMENTS`` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "hookline", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip() for line in lines[1:]}


@pytest.mark.parametrize("arguments", [["--version"], ["--help"]])
def test_version_and_help_import_no_heavy_library_and_no_command(arguments: list[str]) -> None:
    modules = imported(*arguments)
    assert not {m.split(".")[0] for m in modules} & set(HEAVY)
    assert not {f"hookline.cli.{name}" for name in COMMANDS} & modules
    assert "httpx" not in modules


def test_a_dry_run_call_of_a_cached_spec_imports_only_what_a_call_uses(tmp_path: Path) -> None:
    connections = tmp_path / "connections.yaml"
    connections.write_text("argus:\n  connector: argus\n  api_key: 1/2/secret\n")
    connections.chmod(0o600)
    env = {**os.environ, "HOOKLINE_CACHE_DIR": str(tmp_path / "cache")}
    arguments = ["call", "argus.list_services", "--connections", str(connections), "--dry-run"]
    imported(*arguments, env=env)  # the first call fills the spec cache
    modules = {m.split(".")[0] for m in imported(*arguments, env=env)}
    assert not modules & {"jsonschema", "starlette", "uvicorn", "cryptography", "authlib"}


def test_help_lists_every_command_with_its_own_short_help() -> None:
    group = HooklineGroup(main.name, params=main.params, callback=main.callback, lazy=COMMANDS)
    for name, command in main.commands.items():
        if name not in COMMANDS:
            group.add_command(command, name)
    ctx = click.Context(group, info_name="hookline", terminal_width=88)
    unloaded = group.get_help(ctx)
    assert not set(COMMANDS) & set(group.commands)
    for name in COMMANDS:
        assert group.get_command(ctx, name) is not None
    assert group.get_help(ctx) == unloaded
    assert sorted(group.list_commands(ctx)) == sorted(main.list_commands(ctx))
    for name, lazy in COMMANDS.items():
        assert lazy.help == group.commands[name].get_short_help_str(limit=10**6), name


def test_a_command_loads_when_it_is_run() -> None:
    result = CliRunner().invoke(main, ["new", "--help"], prog_name="hookline")
    assert result.exit_code == 0 and "Usage: hookline new" in result.output


def test_an_unknown_command_is_still_bad_usage() -> None:
    result = CliRunner().invoke(main, ["nope"])
    assert result.exit_code == 2 and "No such command 'nope'" in result.output


def test_public_names_resolve_on_first_use_from_a_fresh_interpreter() -> None:
    code = (
        "import sys, hookline\n"
        "assert 'hookline.actions.call' not in sys.modules\n"
        "from hookline import Catalog, iter_records, __version__\n"
        "assert Catalog.__module__ == 'hookline.spec.catalog'\n"
        "assert sorted(dir(hookline)) == sorted(set(dir(hookline)) | set(hookline.__all__))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_an_unknown_public_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        hookline.Nope  # type: ignore[attr-defined]  # noqa: B018
