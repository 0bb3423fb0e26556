"""Installing a plugin package for a test, without touching this environment.

``install`` builds the package with this environment's setuptools and installs it, without
its dependencies, into a folder of its own; ``environment`` gives the variables under which
a subprocess sees it beside the hookline of this environment (its entry points included).
The test process itself never imports it, so its plugin stays out of the other tests.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

_FENCE = re.compile(r"```sh\n(.*?)```", re.DOTALL)


def install(project: Path, target: Path) -> None:
    """``pip install`` ``project`` into the folder ``target``."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(project)],
        check=True,
        capture_output=True,
    )  # fmt: skip


def environment(target: Path, **extra: str) -> dict[str, str]:
    """This process's environment with ``target`` on the path; no bytecode written."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HOOKLINE_", "PYTEST_"))
    }
    return {**env, "PYTHONPATH": str(target), "PYTHONDONTWRITEBYTECODE": "1", **extra}


def run(
    args: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ARGS`` in ``cwd`` under ``env``; the result, whatever its exit code."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def readme_commands(project: Path) -> list[list[str]]:
    """The commands of the shell block of ``project``'s README, as argument lists."""
    block = _FENCE.search((project / "README.md").read_text())
    assert block is not None, f"{project / 'README.md'} has no shell block"
    return [shlex.split(line) for line in block.group(1).splitlines() if line.strip()]
