"""The ``hookline`` group: subcommands imported only when run, hookline errors as clean messages.

A command's module is imported when the command runs (or when ``hookline docs`` writes its
help), so ``hookline --version`` imports click and little else, and ``hookline call`` what a
call needs: not the sandboxes, the job runner or the tables of ``hookline show``. ``--help``
lists every command from the short help kept beside its import path in the group's table
(a test holds each equal to the command's own), without importing any of them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import click

from hookline.errors import HooklineError

STOPPED = 130
"""The exit code of a command stopped by SIGTERM or Ctrl-C (128 + SIGINT, as shells say)."""


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """A subcommand by the import path of its click command, ``module:attribute``, and its
    short help, the first sentence of its docstring."""

    target: str
    help: str

    def load(self) -> click.Command:
        """Import the command."""
        module, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), self.target
        return command


class HooklineGroup(click.Group):
    """A click group whose subcommands load on first use, and that turns hookline errors into
    clean messages and exit codes."""

    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.lazy: dict[str, LazyCommand] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, loaded or not, sorted."""
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command called ``cmd_name``, imported now if it was not yet."""
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(self.lazy[cmd_name].load(), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The ``Commands:`` section of ``--help``, with no command imported for it."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            command = self.commands.get(name) or click.Command(name, help=self.lazy[name].help)
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a ``HooklineError`` becomes a message on stderr and its exit code.

        Ctrl-C before a command handles it itself (while it loads its plugins and files) exits
        130 as a stopped run does, not 1, which would say that what was given is wrong.
        """
        try:
            return super().invoke(ctx)
        except HooklineError as exc:
            if ctx.obj is not None and ctx.obj.debug:
                raise
            fail(exc)
        except KeyboardInterrupt:
            if ctx.obj is not None and ctx.obj.debug:
                raise
            click.echo("stopped", err=True)
            sys.exit(STOPPED)


def fail(exc: HooklineError) -> NoReturn:
    """Print ``exc`` as its message alone on stderr and exit with its code."""
    click.echo(f"error: {exc}" if "\n" not in str(exc) else str(exc), err=True)
    sys.exit(exc.exit_code)
