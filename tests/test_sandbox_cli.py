"""``hookline sandbox``: serves on loopback, writes connections, stops cleanly on a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
