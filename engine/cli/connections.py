"""``hookline connections``: list the named connections, test one, authorize an OAuth one,
end one's session or forget its tokens.

Commands that open connections share what they learn through the state store (``--state``,
the same store ``hookline run`` keeps job history in): a rate budget per credential, so
processes started together never overrun it; the session a login gave, sealed, so that a
process reuses another's login instead of logging in again; and the tokens an OAuth
authorization gave, sealed too. ``open_entry`` opens one entry of the connections file that
way, through a ``ConnectionPool`` like a recipe's connections.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hookline.http.connection import Connection
from hookline.run.connections import Connections, NamedConnection, load_connections
from hookline.run.pool import ConnectionPool
from hookline.run.sessions import sharing
from hookline.run.store import DEFAULT_STATE, open_store, store_file
from hookline.spec.catalog import Catalog

if TYPE_CHECKING:
    from hookline.actions.checks import ConnectionCheck
    from hookline.http.ratelimit import Wait
    from hookline.run.tokens import TokenStatus


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
        f"(default: $HOOKLINE_STATE or {DEFAULT_STATE}). Job history, rate budgets, "
        "sessions and OAuth tokens live there, shared by every command given the same store.",
    )(function)


def no_history(state: str | None, what: str = "job history") -> str | None:
    """The line a command that only reads history says instead of opening the store
    ``state``, when that is a SQLite file that does not exist yet (opening it would create
    it); None when there is a store to read."""
    path = store_file(state)
    if path is None or path.exists():
        return None
    return f"no {what} yet: {path} does not exist (give --state for another store)"


@asynccontextmanager
async def open_entry(
    catalog: Catalog,
    connections: Connections,
    entry: NamedConnection,
    state: str | None,
    *,
    dry_run: bool = False,
) -> AsyncIterator[Connection]:
    """Open ``entry`` with its budget, session and tokens shared through the state store
    ``state``; a ``dry_run`` opens no store (and sends nothing)."""
    pool = ConnectionPool(catalog, env=os.environ, connections=connections, dry_run=dry_run)
    store = None if dry_run else open_store(state, catalog.pm)
    try:
        if store is not None:
            pool.share(store, on_wait=_show_wait)
        async with pool:
            yield pool.open_named(entry)
    finally:
        if store is not None:
            await store.close()


def _show_wait(wait: Wait) -> None:
    from hookline.cli.progress import show_wait  # the reporters load only when a wait is told

    show_wait(wait)


@click.group()
def connections() -> None:
    """The named connections of the connections file."""


@connections.command("list")
@connections_option
@state_option
@click.pass_obj
def list_connections(app: Any, connections_file: Path | None, state: str | None) -> None:
    """List each connection, its connector and its values, secrets shown as ***.

    For a connection whose auth is oauth2_authorization_code, says whether it is authorized
    and when its access token expires (the tokens are in the state store; none is shown).
    """
    from rich.console import Console
    from rich.table import Table

    from hookline.run.tokens import TokenStatus

    found = load_connections(app.catalog, connections_file)
    if not found.entries:
        where = found.path or "the connections file"
        click.echo(f"no connections in {where}; `hookline sandbox --write-connections` writes some")
        return
    oauth = [e.name for e in found.entries.values() if _authorized_by_code(app.catalog, e)]
    statuses = {name: TokenStatus(False) for name in oauth}
    if oauth and _tokens_may_be_kept(found, state):
        statuses = asyncio.run(_token_statuses(app.catalog, found, oauth, state))
    table = Table("name", "connector", "values", *(["oauth"] if oauth else []), box=None)
    for entry in found.entries.values():
        secret = set(app.catalog.spec(entry.connector).connection.secret_fields)
        shown = ", ".join(
            f"{key}={'***' if key in secret else value}" for key, value in entry.values.items()
        )
        status = statuses.get(entry.name)
        extra = [] if not oauth else [status.told(entry.name) if status else ""]
        table.add_row(entry.name, entry.connector, shown, *extra)
    Console(width=160).print(table)


def _tokens_may_be_kept(found: Connections, state: str | None) -> bool:
    """Whether OAuth tokens may be kept: in the store, or in an earlier version's token files
    (which reading their status moves into the store)."""
    files = found.token_files
    return no_history(state) is None or (files is not None and files.exists())


def _authorized_by_code(catalog: Catalog, entry: NamedConnection) -> bool:
    from hookline.http.auth.oauth2 import OAuth2AuthorizationCode

    auth = catalog.spec(entry.connector).connection.auth
    return any(isinstance(each, OAuth2AuthorizationCode) for each in auth)


async def _token_statuses(
    catalog: Catalog, found: Connections, names: list[str], state: str | None
) -> dict[str, TokenStatus]:
    store = open_store(state, catalog.pm)
    try:
        tokens = sharing(store, token_files=found.token_files).tokens
        return {name: await tokens.status(name) for name in names}
    finally:
        await store.close()


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

    found = load_connections(app.catalog, connections_file)
    entry = found.resolve(name)

    async def check() -> ConnectionCheck:
        async with open_entry(app.catalog, found, entry, state) as connection:
            return await check_connection(connection)

    click.echo(str(asyncio.run(check())))


@connections.command("logout")
@click.argument("name")
@connections_option
@state_option
@click.pass_obj
def logout(app: Any, name: str, connections_file: Path | None, state: str | None) -> None:
    """End the session of connection NAME: log out (where its connector can) and drop the
    session cached in the state store, so that the next command logs in afresh. For an OAuth
    connection authorized with `hookline connections authorize`, forget its tokens.
    """
    from hookline.http.auth.grants import AuthorizationCodeSession

    found = load_connections(app.catalog, connections_file)
    entry = found.resolve(name)

    async def end() -> str:
        async with open_entry(app.catalog, found, entry, state) as connection:
            flow = connection.auth.flow if connection.auth is not None else None
            if isinstance(flow, AuthorizationCodeSession):
                if await flow.forget_tokens():
                    return (
                        "its OAuth tokens are forgotten; `hookline connections authorize "
                        f"{entry.name}` authorizes it again"
                    )
                return "no OAuth tokens to forget"
            if await connection.logout():
                return "logged out; the cached session is dropped"
            return "no session to end"

    click.echo(f"{entry.name}: {asyncio.run(end())}")


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
@state_option
@click.pass_obj
def authorize_connection(
    app: Any, name: str, timeout: float, connections_file: Path | None, state: str | None
) -> None:
    """Have a person authorize OAuth connection NAME in a browser, and keep its tokens.

    Prints the URL to open. The browser comes back to a listener on 127.0.0.1 (a free port);
    the answer's state is checked and the code exchanged with its PKCE verifier. The tokens
    are kept in the state store, sealed with the installation key ($HOOKLINE_SECRET_KEY or
    the key file beside the state database), where every command and process finds them.
    For connectors whose auth type is oauth2_authorization_code.
    """
    from hookline.run.authorize import authorize

    found = load_connections(app.catalog, connections_file)
    entry = found.resolve(name)

    def announce(url: str) -> None:
        click.echo(f"Open this URL in a browser and approve the access:\n\n  {url}\n")
        click.echo(f"Waiting up to {timeout:g} seconds for the answer...")

    async def run() -> None:
        async with open_entry(app.catalog, found, entry, state) as connection:
            await authorize(connection, announce, timeout=timeout)

    asyncio.run(run())
    click.echo(f"connection {entry.name!r} is authorized; its tokens are kept in the state store")
