"""``hookline sandbox``: serve the platform simulators on loopback for offline work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hookline.errors import ConfigurationError, suggest
from hookline.run.connections import default_connections_path, write_connections
from hookline.run.sandbox import base_url, bind_all, serve

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
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
@click.pass_obj
def sandbox(
    app: Any, names: tuple[str, ...], host: str, port: int, seed: int, connections_file: str | None
) -> None:
    """Serve platform simulators (all by default) until Ctrl-C or SIGTERM."""
    if host not in LOOPBACK and not host.startswith("127."):
        raise ConfigurationError(f"sandboxes serve on loopback only, not on {host!r}")
    registered = app.catalog.sandboxes
    for name in names:
        if name not in registered:
            raise ConfigurationError(f"no sandbox named {name!r}{suggest(name, registered)}")
    chosen = [registered[name] for name in (names or sorted(registered))]
    sockets = bind_all(host, [port + i if port else 0 for i in range(len(chosen))])
    entries = {}
    for box, sock in zip(chosen, sockets, strict=True):
        url = base_url(sock)
        entries[box.name] = {"connector": box.name, **box.connection(url)}
        click.echo(f"{box.name:<10} {url:<24} {box.title} — {box.credentials}")
    if connections_file is not None:
        target = Path(connections_file) if connections_file else default_connections_path()
        write_connections(target, entries)
        click.echo(f"wrote connections {', '.join(entries)} to {target}")
    click.echo("serving; Ctrl-C stops")
    serve([(box.create_app(seed=seed), sock) for box, sock in zip(chosen, sockets, strict=True)])
    click.echo("stopped")
