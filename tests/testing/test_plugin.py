"""The test kit's pytest plugin, as a plugin's own test suite meets it."""

from __future__ import annotations

from pathlib import Path

from hookline.cli.new import scaffold
from tests.installs import environment, run

INSTALL_HINT = "run `pip install -e .` in the plugin's folder"


def test_a_plugins_tests_run_before_its_install_say_to_install_it(tmp_path: Path) -> None:
    folder = tmp_path / "hookline-widgets"
    scaffold("widgets", folder)
    nothing = tmp_path / "site"
    nothing.mkdir()
    result = run(["pytest", "-q", "-p", "no:cacheprovider"], cwd=folder, env=environment(nothing))
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("E ")]
    unknown = [line for line in errors if "unknown connector 'widgets' (known: " in line]
    assert unknown, result.stdout
    assert all(line.endswith(INSTALL_HINT) for line in unknown)
    assert "no sandbox is registered" not in result.stdout  # served() names the connector first
