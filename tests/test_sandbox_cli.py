"""``hookline sandbox``: serves on loopback, writes connections, stops cleanly on a signal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

from hookline.cli.main import main


def start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "hookline", "sandbox", "--port", "0", *args]
    return subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_for_serving(process: subprocess.Popen[str]) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + 30
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("serving"):
            return lines
    process.kill()
    raise AssertionError("the sandbox did not start:\n" + "\n".join(lines))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serves_writes_connections_and_stops_cleanly(tmp_path: Path, signum: int) -> None:
    with start(tmp_path, "argus", "planradar", "--write-connections", "conns.yaml") as process:
        try:
            lines = wait_for_serving(process)
            urls = {
                line.split()[0]: line.split()[1] for line in lines if "http://127.0.0.1:" in line
            }
            assert set(urls) == {"argus", "planradar"}
            written = yaml.safe_load((tmp_path / "conns.yaml").read_text())
            assert written["argus"]["connector"] == "argus"
            assert written["argus"]["base_url"] == urls["argus"]
            assert (tmp_path / "conns.yaml").stat().st_mode & 0o077 == 0
            headers = {"Argus-API-Key": written["argus"]["api_key"]}
            answer = httpx.get(f"{urls['argus']}/cases/v2/case/100001", headers=headers)
            assert answer.status_code == 200
            os.kill(process.pid, signum)
            output, _ = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0
    assert output.strip().endswith("stopped")


def test_refuses_an_address_that_is_not_loopback() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "loopback only" in result.output


def test_unknown_sandbox_suggests_a_close_name() -> None:
    result = CliRunner().invoke(main, ["sandbox", "argos"])
    assert result.exit_code == 1
    assert "did you mean 'argus'" in result.output


def test_a_port_in_use_names_the_sandbox_and_suggests_port_0() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["sandbox", "plextrac", "--port", str(port)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: the plextrac sandbox cannot listen on 127.0.0.1:{port}: Address already in "
        "use; another program (or another hookline sandbox) may have the port. Give --port 0 "
        "for any free ports, or --port N for others\n"
    )


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The apps ``hookline sandbox`` would serve, collected instead of served."""
    apps: list[Any] = []

    def collect(pairs: list[tuple[Any, socket.socket]]) -> None:
        for app, sock in pairs:
            apps.append(app)
            sock.close()

    monkeypatch.setattr("hookline.cli.sandbox.serve", collect)
    return apps


def test_each_sandbox_takes_its_own_knobs_as_options(served: list[Any]) -> None:
    args = ["sandbox", "--port", "0", "plextrac", "pcr360", "--token-lifetime", "60"]
    args += ["--session-activity-seconds=30", "--maintenance"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "options: --token-lifetime=60" in result.stdout
    assert "options: --session-activity-seconds=30 --maintenance=True" in result.stdout
    plextrac, pcr360 = served
    assert plextrac.state.sandbox.options.token_lifetime == 60
    assert pcr360.state.sandbox.session_activity_seconds == 30
    assert pcr360.state.sandbox.maintenance is True


def test_an_option_no_chosen_sandbox_takes_is_a_usage_error(served: list[Any]) -> None:
    result = CliRunner().invoke(main, ["sandbox", "argus", "--token-lifetime", "60"])
    assert result.exit_code == 2
    assert "no such option: --token-lifetime (the options of argus: --case-count" in result.stderr
    assert served == []
    typo = CliRunner().invoke(main, ["sandbox", "plextrac", "--token-lifetim", "60"])
    assert typo.exit_code == 2 and "(did you mean '--token-lifetime'?)" in typo.stderr
    bad = CliRunner().invoke(main, ["sandbox", "plextrac", "--token-lifetime", "soon"])
    assert bad.exit_code == 2 and "'soon' is not an integer" in bad.stderr


def test_an_unknown_option_last_is_refused_by_name_not_for_a_missing_value(
    served: list[Any],
) -> None:
    last = CliRunner().invoke(main, ["sandbox", "argus", "--rate-limit"])
    assert last.exit_code == 2
    assert "no such option: --rate-limit (the options of argus: --case-count" in last.stderr
    missing = CliRunner().invoke(main, ["sandbox", "argus", "--case-count"])
    assert (
        missing.exit_code == 2 and "Invalid value for --case-count: needs a value" in missing.stderr
    )
    assert served == []


def test_a_value_a_sandbox_refuses_is_bad_usage_before_anything_is_written(
    served: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["sandbox", "--port", "0", "planradar", "--cooldown", "-5", "--write-connections"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Error: planradar sandbox: option cooldown must be a number of at least 0" in (
        result.stderr
    )
    assert served == [] and list(tmp_path.iterdir()) == []


def test_a_sandbox_name_after_write_connections_is_not_taken_for_its_file(
    served: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["sandbox", "--port", "0", "--write-connections", "argus"])
    assert result.exit_code == 2
    assert (
        "Invalid value for --write-connections: 'argus' is a sandbox, taken here as the file to "
        "write; name the sandboxes first (`hookline sandbox argus --write-connections`), or "
        "give the file as a path (./argus)" in result.stderr
    )
    assert served == [] and list(tmp_path.iterdir()) == []
    named = CliRunner().invoke(main, ["sandbox", "--port", "0", "--write-connections", "./argus"])
    assert named.exit_code == 0, named.output
    assert set(yaml.safe_load((tmp_path / "argus").read_text())) == {
        "argus",
        "pcr360",
        "planradar",
        "plextrac",
    }


def test_options_lists_every_knob_with_its_default() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--options"])
    assert result.exit_code == 0
    rows = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "plextrac --token-lifetime N 900" in rows
    assert "pcr360 --maintenance / --no-maintenance false" in rows
