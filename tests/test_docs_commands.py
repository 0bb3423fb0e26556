"""Every ``hookline`` command line shown in the docs names real commands and options.

Shell blocks (``sh``, ``bash``, ``console``) of the docs and the README are read for lines
that run ``hookline`` (after ``$ `` or a path such as ``.venv/bin/``); each is parsed as the
command line would parse it, without running it. A synopsis (``[--state URL]``, ``a|b``) is
left out: it is a pattern, not a command.
"""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import click
import pytest

from hookline.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([*(ROOT / "docs").glob("*.md"), *(ROOT / "docs").glob("*/*.md"), ROOT / "README.md"])
_BLOCK = re.compile(r"^```(?:sh|bash|console|shell)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_COMMAND = re.compile(r"(?:^|&&\s*|\$\s+)(?:\S*/)?hookline\s+(.*?)(?:\s+&&.*)?$")


def command_lines(markdown: str) -> list[str]:
    """The ``hookline`` argument lines of the shell blocks of ``markdown``."""
    found = []
    for block in _BLOCK.findall(markdown):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            match = _COMMAND.search(line)
            if match and "[" not in match.group(1) and "|" not in match.group(1):
                found.append(match.group(1))
    return found


def parse(arguments: str) -> None:
    """Parse ``hookline ARGUMENTS`` down to its last subcommand; raise click's UsageError."""
    args = shlex.split(arguments)
    ctx = main.make_context("hookline", args)
    command: click.Command = main
    while isinstance(command, click.Group):
        with warnings.catch_warnings():  # click 8.2 keeps the subcommand there, and warns
            warnings.simplefilter("ignore", DeprecationWarning)
            rest = [*ctx.protected_args, *ctx.args]
        if not rest:
            return
        _, found, rest = command.resolve_command(ctx, rest)
        assert found is not None
        command, ctx = found, found.make_context(found.name or "", rest, parent=ctx)


CASES = [
    pytest.param(line, id=f"{page.relative_to(ROOT)}: hookline {line}")
    for page in PAGES
    for line in command_lines(page.read_text(encoding="utf-8"))
]


def test_the_docs_show_commands() -> None:
    assert len(CASES) > 20


@pytest.mark.parametrize("arguments", CASES)
def test_a_command_in_the_docs_parses(arguments: str) -> None:
    parse(arguments)


def test_a_wrong_option_is_caught() -> None:
    with pytest.raises(click.UsageError):
        parse("serve recipes --prot 8400")
    with pytest.raises(click.UsageError):
        parse("jobs resolve 12ab --as maybe")
