"""``hookline sandbox``: serve the platform simulators on loopback for offline work.

Each sandbox's own knobs are options too, so that behaviour such as a token's expiry can be
tried from the shell: ``hookline sandbox plextrac --token-lifetime 60``. They are read from
the keyword parameters of the sandbox's ``create_app`` that have a plain default (a number,
true/false, text), as ``--NAME VALUE`` with dashes for underscores (``--no-NAME`` turns a
true/false one off); ``--options`` lists them. An option goes to every chosen sandbox that
takes it, and must be taken by one.
"""

from __future__ import annotations

import inspect
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from hookline.errors import ConfigurationError, suggest
from hookline.plugins.records import ASGIApp, Sandbox
from hookline.run.connections import default_connections_path, write_connections
from hookline.run.sandbox import Delayed, base_url, bind_all, serve

LOOPBACK = ("127.0.0.1", "localhost", "::1")
_NOT_OPTIONS = frozenset({"seed", "clock"})
"""Parameters that are not sandbox options: ``--seed`` is the command's own; a clock is code."""


@dataclass(frozen=True, slots=True)
class SandboxOption:
    """One keyword parameter of a sandbox's ``create_app``, as a command-line option."""

    sandbox: str
    name: str
    default: Any

    @property
    def flag(self) -> str:
        """``--token-lifetime`` for ``token_lifetime``."""
        return "--" + self.name.replace("_", "-")

    @property
    def is_switch(self) -> bool:
        """Whether it is true/false, given as ``--NAME`` or ``--no-NAME``."""
        return isinstance(self.default, bool)

    def read(self, text: str) -> Any:
        """``text`` as the option's type (that of its default)."""
        kind = type(self.default)
        try:
            if kind is int:
                return int(text)
            if kind is float:
                return float(text)
        except ValueError:
            raise click.BadParameter(
                f"{text!r} is not {'an integer' if kind is int else 'a number'}",
                param_hint=self.flag,
            ) from None
        if self.default is None and text.lower() in ("none", "null", ""):
            return None
        if self.default is None:
            try:
                return int(text)
            except ValueError:
                return text
        return text


def sandbox_options(box: Sandbox) -> list[SandboxOption]:
    """The options of ``box``: keyword parameters of ``create_app`` with a plain default."""
    try:
        parameters = inspect.signature(box.create_app).parameters.values()
    except (TypeError, ValueError):
        return []
    return [
        SandboxOption(box.name, p.name, p.default)
        for p in parameters
        if p.name not in _NOT_OPTIONS
        and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        and (p.default is None or isinstance(p.default, bool | int | float | str))
    ]


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("names", nargs=-1, metavar="[NAME]... [--OPTION VALUE]...")
@click.option("--host", default="127.0.0.1", show_default=True, help="A loopback address.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8701,
    show_default=True,
    help="The first sandbox's port; the next ones count up from it (0: any free ports).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the demo data.")
@click.option(
    "--write-connections",
    "connections_file",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[FILE]",
    help="Write connections named after each connector, pointing at the sandboxes "
    "(into the default connections file unless FILE is given).",
)
@click.option(
    "--latency",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Answer every request this much later, as a platform across a network would.",
)
@click.option(
    "--options",
    "list_options",
    is_flag=True,
    help="List each sandbox's own options (such as --token-lifetime) and exit.",
)
@click.pass_obj
def sandbox(
    app: Any,
    names: tuple[str, ...],
    host: str,
    port: int,
    seed: int,
    connections_file: str | None,
    latency: float,
    list_options: bool,
) -> None:
    """Serve platform simulators (all by default) until Ctrl-C or SIGTERM.

    Each sandbox's own options follow as --NAME VALUE, e.g. `hookline sandbox plextrac
    --token-lifetime 60` to see a session expire in a minute; --options lists them.
    """
    registered: Mapping[str, Sandbox] = app.catalog.sandboxes
    if connections_file in registered:  # `--write-connections argus` would write ./argus
        raise click.BadParameter(
            f"{connections_file!r} is a sandbox, taken here as the file to write; name the "
            f"sandboxes first (`hookline sandbox {connections_file} --write-connections`), or "
            f"give the file as a path (./{connections_file})",
            param_hint="--write-connections",
        )
    chosen_names, given = _split(names, registered)
    chosen = [registered[name] for name in (chosen_names or sorted(registered))]
    if list_options:
        _print_options(chosen)
        return
    options = _options(chosen, given)
    if host not in LOOPBACK and not host.startswith("127."):
        raise ConfigurationError(f"sandboxes serve on loopback only, not on {host!r}")
    apps = [_app(box, seed, options[box.name], latency) for box in chosen]
    sockets = _bind(host, port, chosen)
    entries = {}
    for box, sock in zip(chosen, sockets, strict=True):
        url = base_url(sock)
        entries[box.name] = {"connector": box.name, **box.connection(url)}
        set_here = " ".join(f"{flag}={value}" for flag, value in options[box.name].items())
        click.echo(f"{box.name:<10} {url:<24} {box.title} — {box.credentials}")
        if set_here:
            click.echo(f"{'':<10} options: {set_here}")
    if connections_file is not None:
        target = Path(connections_file) if connections_file else default_connections_path()
        write_connections(target, entries)
        click.echo(f"wrote connections {', '.join(entries)} to {target}")
    click.echo("serving; Ctrl-C stops")
    serve(list(zip(apps, sockets, strict=True)))
    click.echo("stopped")


def _app(box: Sandbox, seed: int, options: Mapping[str, Any], latency: float) -> ASGIApp:
    """The sandbox's app; an option value it refuses is bad usage, as click's checks are.

    Built before anything is printed or written, so a refused value leaves no connections
    file pointing at a sandbox that never served.
    """
    values = {flag.lstrip("-").replace("-", "_"): value for flag, value in options.items()}
    try:
        app = box.create_app(seed=seed, **values)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    return Delayed(app, latency) if latency else app


def _split(
    words: tuple[str, ...], registered: Mapping[str, Sandbox]
) -> tuple[list[str], list[tuple[str, str | None]]]:
    """The sandbox names and the ``(--flag, value)`` options among the command's words.

    The value is None for a switch and for a flag that is the last word; ``_options`` then
    says whether the flag is unknown or lacks its value.
    """
    switches = {
        flag
        for box in registered.values()
        for option in sandbox_options(box)
        if option.is_switch
        for flag in (option.flag, "--no-" + option.flag[2:])
    }
    chosen: list[str] = []
    given: list[tuple[str, str | None]] = []
    pending = list(words)
    while pending:
        word = pending.pop(0)
        if not word.startswith("--"):
            if word not in registered:
                raise ConfigurationError(f"no sandbox named {word!r}{suggest(word, registered)}")
            chosen.append(word)
            continue
        flag, equals, value = word.partition("=")
        if equals:
            given.append((flag, value))
        elif flag in switches or not pending:
            given.append((flag, None))
        else:
            given.append((flag, pending.pop(0)))
    return chosen, given


def _options(
    chosen: list[Sandbox], given: Iterable[tuple[str, str | None]]
) -> dict[str, dict[str, Any]]:
    """The options each chosen sandbox gets, by flag; an option none of them takes is refused."""
    table = {box.name: {o.flag: o for o in sandbox_options(box)} for box in chosen}
    found: dict[str, dict[str, Any]] = {box.name: {} for box in chosen}
    for flag, text in given:
        negated = flag.startswith("--no-")
        takers = 0
        for name, options in table.items():
            option = options.get("--" + flag[5:] if negated else flag)
            if option is None or (negated and not option.is_switch):
                continue
            takers += 1
            if option.is_switch:
                found[name][option.flag] = not negated
            elif text is None:  # the command's last word
                raise click.BadParameter("needs a value", param_hint=flag)
            else:
                found[name][option.flag] = option.read(text)
        if not takers:
            known = sorted({f for options in table.values() for f in options})
            which = ", ".join(box.name for box in chosen)
            raise click.UsageError(
                f"no such option: {flag} (the options of {which}: {', '.join(known) or 'none'}"
                f"{'' if not known else '; hookline sandbox --options describes them'})"
                f"{_close(flag, known)}"
            )
    return found


def _close(flag: str, known: list[str]) -> str:
    hint = suggest(flag, known)
    return hint if hint.startswith(" (did you mean") else ""


def _bind(host: str, port: int, chosen: list[Sandbox]) -> list[socket.socket]:
    """A listening socket per sandbox; a port in use is named, with what to do instead."""
    sockets: list[socket.socket] = []
    for index, box in enumerate(chosen):
        wanted = port + index if port else 0
        try:
            sockets += bind_all(host, [wanted])
        except ConfigurationError as exc:
            for sock in sockets:
                sock.close()
            raise ConfigurationError(
                f"the {box.name} sandbox {exc}; another program (or another hookline "
                "sandbox) may have the port. Give --port 0 for any free ports, or "
                "--port N for others"
            ) from None
    return sockets


def _print_options(chosen: list[Sandbox]) -> None:
    table = Table("sandbox", "option", "default", box=None)
    for box in chosen:
        for option in sandbox_options(box):
            flag = option.flag
            if option.is_switch:
                flag += f" / --no-{flag[2:]}"
            else:
                flag += " TEXT" if isinstance(option.default, str) else " N"
            table.add_row(box.name, flag, _shown(option.default))
    Console(width=120).print(table)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)
