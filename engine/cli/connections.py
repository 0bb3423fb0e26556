"""``hookline connections``: list the named connections, test one, authorize an OAuth one,
end one's session.

Commands that open connections share what they learn through the state store (``--state``,
the same store ``hookline run`` keeps job history in): a rate budget per credential, so
processes started together never overrun it, and the session a login gave, sealed, so that
a process reuses another's login instead of logging in again. ``open_shared`` opens a
connection that way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hookline.http.connection import Connection
from hookline.run.connections import NamedConnection, load_connections
from hookline.run.sessions import sharing
from hookline.run.store import DEFAULT_STATE, open_store
from hookline.spec.catalog import Catalog

if TYPE_CHECKING:
    from hookline.actions.checks import ConnectionCheck
    from hookline.http.ratelimit import Wait


def connections_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--connections FILE`` option, shared by every command that opens connections."""
    return click.option(
        "--connections",
        "connections_file",
        metavar="FILE",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The connections file (default: $HOOKLINE_CONNECTIONS or .hookline/connections.yaml).",
    )(function)


def state_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--state URL`` option."""
    return click.option(
        "--state",
        metavar="URL",
        envvar="HOOKLINE_STATE",
        help=f"The state store: a SQLite path or URL, or a postgresql:// URL "
        f"(default: $HOOKLINE_STATE or {DEFAULT_STATE}). Job history, rate budgets and "
        "sessions live there, shared by every command given the same store.",
    )(function)


@asynccontextmanager
async def open_shared(
    catalog: Catalog, entry: NamedConnection, state: str | None
) -> AsyncIterator[Connection]:
    """Open ``entry`` with its budget and session shared through the state store ``state``."""
    store = open_store(state, catalog.pm)
    try:
        shared = sharing(store, on_wait=_show_wait)
        async with entry.open(
            catalog, limiter=shared.limiter, sessions=shared.sessions
        ) as connection:
            yield connection
    finally:
        await store.close()


def _show_wait(wait: Wait) -> None:
    from hookline.cli.progress import show_wait  # the reporters load only when a wait is told

    show_wait(wait)


@click.group()
def connections() -> None:
    """The named connections of the connections file."""


@connections.command("list")
@connections_option
@click.pass_obj
def list_connections(app: Any, connections_file: Path | None) -> None:
    """List each connection, its connector and its values, secrets shown as ***."""
    from rich.console import Console
    from rich.table import Table

    found = load_connections(app.catalog, connections_file)
    if not found.entries:
        where = found.path or "the connections file"
        click.echo(f"no connections in {where}; `hookline sandbox --write-connections` writes some")
        return
    table = Table("name", "connector", "values", box=None)
    for entry in found.entries.values():
        secret = set(app.catalog.spec(entry.connector).connection.secret_fields)
        shown = ", ".join(
            f"{key}={'***' if key in secret else value}" for key, value in entry.values.items()
        )
        table.add_row(entry.name, entry.connector, shown)
    Console(width=160).print(table)


@connections.command("test")
@click.argument("name")
@connections_option
@state_option
@click.pass_obj
def test_connection(app: Any, name: str, connections_file: Path | None, state: str | None) -> None:
    """Check that connection NAME works: log in and run its connector's test action.

    NAME may also be a connector's name when the file has exactly one connection of it.
    Exits 0 when the test passes; a refused credential or an unreachable host is an error.
    """
    from hookline.actions.checks import check_connection

    entry = load_connections(app.catalog, connections_file).resolve(name)

    async def check() -> ConnectionCheck:
        async with open_shared(app.catalog, entry, state) as connection:
            return await check_connection(connection)

    click.echo(str(asyncio.run(check())))


@connections.command("logout")
@click.argument("name")
@connections_option
@state_option
@click.pass_obj
def logout(app: Any, name: str, connections_file: Path | None, state: str | None) -> None:
    """End the session of connection NAME: log out (where its connector can) and drop the
    session cached in the state store, so that the next command logs in afresh.
    """
    entry = load_connections(app.catalog, connections_file).resolve(name)

    async def end() -> bool:
        async with open_shared(app.catalog, entry, state) as connection:
            return await connection.logout()

    if asyncio.run(end()):
        click.echo(f"{entry.name}: logged out; the cached session is dropped")
    else:
        click.echo(f"{entry.name}: no session to end")


@connections.command("authorize")
@click.argument("name")
@click.option(
    "--timeout",
    default=300.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds to wait for the browser to come back.",
)
@connections_option
@click.pass_obj
def authorize_connection(
    app: Any, name: str, timeout: float, connections_file: Path | None
) -> None:
    """Have a person authorize OAuth connection NAME in a browser, and keep its tokens.

    Prints the URL to open. The browser comes back to a listener on 127.0.0.1 (a free port);
    the answer's state is checked and the code exchanged with its PKCE verifier. The tokens
    are kept encrypted in tokens/ beside the connections file, with the key in
    $HOOKLINE_SECRET_KEY or tokens.key there. For connectors whose auth type is
    oauth2_authorization_code.
    """
    from hookline.run.authorize import authorize

    entry = load_connections(app.catalog, connections_file).resolve(name)

    def announce(url: str) -> None:
        click.echo(f"Open this URL in a browser and approve the access:\n\n  {url}\n")
        click.echo(f"Waiting up to {timeout:g} seconds for the answer...")

    async def run() -> None:
        async with entry.open(app.catalog) as connection:
            await authorize(connection, announce, timeout=timeout)

    asyncio.run(run())
    click.echo(f"connection {entry.name!r} is authorized; its tokens are kept")
