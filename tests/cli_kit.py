"""Running the whole ``hookline`` command, as a user does, on a spec written by a test.

``Hookline(folder, spec)`` writes the spec and a plugin module that registers it, and
``invoke`` runs ``hookline --plugin MODULE ARGS...`` through click: the group's own error
handling included, so a test sees exactly what a user would (a message, never a traceback,
unless ``--debug``).
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from click.testing import CliRunner, Result

from hookline.cli.main import main

PLUGIN = """\
from hookline import hookimpl

@hookimpl
def register_connectors():
    return [{spec!r}]
"""


class Hookline:
    """The ``hookline`` command with one extra connector spec, given as text."""

    def __init__(self, folder: Path, spec: str, name: str = "demo") -> None:
        self.folder = folder
        spec_file = folder / f"{name}.yaml"
        spec_file.write_text(spec)
        self.module = f"hookline_test_plugin_{uuid.uuid4().hex[:8]}"
        (folder / f"{self.module}.py").write_text(PLUGIN.format(spec=str(spec_file)))

    def connections(self, text: str) -> Path:
        """A connections file holding ``text``, readable by its owner only."""
        path = self.folder / "connections.yaml"
        path.write_text(text)
        path.chmod(0o600)
        return path

    def invoke(self, *args: str, input: str | None = None) -> Result:
        """``hookline --plugin MODULE ARGS...``; the result holds stdout, stderr, exit code."""
        sys.path.insert(0, str(self.folder))
        try:
            return CliRunner().invoke(main, ["--plugin", self.module, *args], input=input)
        finally:
            sys.path.remove(str(self.folder))
