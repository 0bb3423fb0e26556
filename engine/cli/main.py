"""The ``hookline`` command line.

User errors (a ``HooklineError``) print as a few clear lines on stderr with the error's exit
code (1) and no traceback; ``--debug`` shows the traceback. Bad usage exits 2 (click's rule).
``EXIT_CODES`` is the table docs/cli.md states.
Warnings (a plugin that failed to import, a connections file others can read) print as
``warning: ...`` lines on stderr.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hookline.cli.group import HooklineGroup, LazyCommand

if TYPE_CHECKING:
    import pluggy

    from hookline.spec.catalog import Catalog

EXIT_CODES = (
    (0, "success: every file valid, every job succeeded (or was skipped), the call answered"),
    (
        1,
        "a problem in what was given: a file that is missing or invalid, an input, a "
        "connection, a platform's error, a job that failed",
    ),
    (2, "bad usage: an unknown command or option, a missing argument, an option's bad value"),
    (
        130,
        "stopped: a run (`run`, `replay`, `jobs rerun`) cut short by Ctrl-C or SIGTERM, or any "
        "command by Ctrl-C before it began its work (`serve`, `worker` and `sandbox` exit 0 "
        "once stopped)",
    ),
)
"""The exit codes of every command, as docs/cli.md states them."""


class App:
    """What every command shares: the plugin set, built on first use."""

    def __init__(self, plugins: Sequence[str], debug: bool) -> None:
        self.plugins = tuple(plugins)
        self.debug = debug

    @cached_property
    def pm(self) -> pluggy.PluginManager:
        """The plugin manager: built-ins, entry points, then ``--plugin`` modules."""
        from hookline.plugins.manager import get_plugin_manager

        return get_plugin_manager(self.plugins)

    @cached_property
    def catalog(self) -> Catalog:
        """Everything the plugins registered; specs known to be valid come from the user's cache."""
        from hookline.spec.cache import SpecCache
        from hookline.spec.catalog import Catalog

        return Catalog(self.pm, cache=SpecCache.default())


COMMANDS = {
    name: LazyCommand(target, help)
    for name, target, help in (
        (
            "call",
            "hookline.cli.call:call",
            "Run one action and print its output as JSON (a list action: one JSON line per "
            "record).",
        ),
        (
            "connections",
            "hookline.cli.connections:connections",
            "The named connections of the connections file.",
        ),
        (
            "jobs",
            "hookline.cli.jobs:jobs",
            "List recent jobs (newest first); `jobs show|rerun|resolve ID` for one job.",
        ),
        ("new", "hookline.cli.new:new", "Start something new from a skeleton."),
        (
            "replay",
            "hookline.cli.replay:replay",
            "Run chosen events of a recipe again, even those whose job succeeded.",
        ),
        (
            "run",
            "hookline.cli.run:run",
            "Run a recipe once: a manual recipe, one poll cycle, or one job on --event FILE.",
        ),
        (
            "sandbox",
            "hookline.cli.sandbox:sandbox",
            "Serve platform simulators (all by default) until Ctrl-C or SIGTERM.",
        ),
        (
            "serve",
            "hookline.cli.serve:serve",
            "Serve recipes until SIGTERM or Ctrl-C: poll on schedule, receive webhooks, run jobs.",
        ),
        (
            "show",
            "hookline.cli.show:show",
            "Show a connector (connection, actions, triggers) or one action or trigger in full.",
        ),
        (
            "test",
            "hookline.cli.test:test",
            "Check a connector: its spec, its examples, its reference page and its cassettes.",
        ),
        (
            "triggers",
            "hookline.cli.triggers:triggers",
            "List each served trigger: its poller, last cycle, watermark, lag, errors, pauses.",
        ),
        (
            "validate",
            "hookline.cli.validate:validate",
            "Check specs and recipes (found by their first key); exit 1 if any is invalid.",
        ),
        (
            "worker",
            "hookline.cli.worker:worker",
            "Run the jobs `hookline serve --executor celery` sends, until SIGTERM or Ctrl-C.",
        ),
    )
}
"""The commands defined in modules of their own, imported when run (``hookline.cli.group``)."""


def _version(ctx: click.Context, asked: bool) -> None:
    """``--version``: the version is read (from the installed distribution) only when asked."""
    if not asked or ctx.resilient_parsing:
        return
    from hookline.version import __version__

    click.echo(f"hookline, version {__version__}")
    ctx.exit()


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    click.echo(f"warning: {message}", err=True)


@click.group(cls=HooklineGroup, lazy=COMMANDS)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, param, value: _version(ctx, value),
    help="Show the version and exit.",
)
@click.option(
    "--plugin",
    "plugins",
    multiple=True,
    metavar="MODULE",
    help="Load a plugin module by its import path (repeatable).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def main(ctx: click.Context, plugins: tuple[str, ...], debug: bool) -> None:
    """hookline: connectors as YAML specs, recipes that chain them, and a runner."""
    warnings.showwarning = _show_warning
    ctx.obj = App(plugins, debug)


@main.command()
@click.pass_obj
def connectors(app: App) -> None:
    """List the connectors, with the plugin each came from."""
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "title", "actions", "triggers", "plugin", box=None)
    for name, connector in sorted(app.catalog.connectors.items()):
        spec = connector.spec
        table.add_row(
            name, spec.title, str(len(spec.actions)), str(len(spec.triggers)), connector.plugin
        )
    Console(width=120).print(table)


@main.command()
@click.pass_obj
def plugins(app: App) -> None:
    """List the plugins, the distribution that installed each, and the hooks it implements."""
    from rich.console import Console
    from rich.table import Table

    from hookline.plugins.manager import plugin_infos

    table = Table("plugin", "distribution", "hooks", box=None)
    for info in plugin_infos(app.pm):
        table.add_row(info.name, info.distribution or "-", ", ".join(info.hooks))
    Console(width=160).print(table)


@main.command()
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs"),
    show_default=True,
    help="The folder to write into.",
)
@click.option(
    "--connector",
    "connectors",
    multiple=True,
    metavar="NAME",
    help="Write only the reference page of this connector, as a plugin's own docs do (repeatable).",
)
@click.pass_obj
def docs(app: App, output: Path, connectors: tuple[str, ...]) -> None:
    """Generate the references: spec, recipe, command line, and a page per connector.

    Every connector gets a page, those of installed plugins too.
    """
    pages = connector_pages(app.catalog, connectors) if connectors else generated_docs(app.catalog)
    output.mkdir(parents=True, exist_ok=True)
    for name, text in pages.items():
        target = output / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        click.echo(f"wrote {target}")


def generated_docs(catalog: Catalog) -> dict[str, str]:
    """Every generated document, by its path below docs/."""
    from hookline.spec.reference import recipe_reference, spec_reference

    docs = {
        "spec-reference.md": spec_reference(catalog),
        "recipe-reference.md": recipe_reference(),
        "cli.md": cli_reference(),
    }
    return {**docs, **connector_pages(catalog, sorted(catalog.connectors))}


def connector_pages(catalog: Catalog, names: Sequence[str]) -> dict[str, str]:
    """The reference page of each connector of ``names``, by its path below docs/."""
    from hookline.spec.reference import connector_reference

    pages = {}
    for name in names:
        spec = catalog.spec(name)
        plugin = catalog.connectors[spec.name].plugin
        built_in = plugin.startswith("hookline.")
        pages[f"connectors/{name}.md"] = connector_reference(spec, None if built_in else plugin)
    return pages


def cli_reference() -> str:
    """docs/cli.md: the help text of every command."""
    lines = [
        "# Command line",
        "",
        "Generated by `hookline docs` from the commands' own `--help`; do not edit by hand.",
        "",
        "Every command exits with one of these codes:",
        "",
        "| code | when |",
        "| --- | --- |",
        *(f"| {code} | {meaning} |" for code, meaning in EXIT_CODES),
        "",
        "An error prints as a few lines on stderr without a traceback; `--debug` shows the",
        "traceback.",
        "",
    ]
    with click.Context(main, info_name="hookline", terminal_width=88, max_content_width=88) as ctx:
        lines += ["## hookline", "", "```text", main.get_help(ctx), "```", ""]
        for name in main.list_commands(ctx):
            command = main.get_command(ctx, name)
            assert command is not None
            with click.Context(command, info_name=name, parent=ctx) as sub:
                lines += [f"## hookline {name}", "", "```text", command.get_help(sub), "```", ""]
    return "\n".join(lines)


@main.command()
@click.argument("kind", type=click.Choice(["spec", "recipe"]))
def schema(kind: str) -> None:
    """Print the path of the spec or recipe JSON Schema (for editor completion)."""
    from importlib.resources import files

    click.echo(str(files("hookline.schemas").joinpath(f"{kind}-v1.json")))
