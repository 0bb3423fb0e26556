"""The connections of one run: opened together before the first job, closed together after.

A recipe names its connections; a ``ConnectionPool`` turns each into an open ``Connection``:
the connections-file entry it names (if any), overridden by the values written in the recipe
with ``{{ env.NAME }}`` rendered. Every connection of a recipe and of the recipes it calls is
opened up front, which sends nothing but validates every value, so a bad connection fails the
run before any job starts, and every secret is known before any step's input is recorded:
``redact`` applies every connection's redactor to what job history stores.

A connector that a plugin answers in-process (``register_transports``, e.g. the ``file``
connector) sends its requests through the plugin's transport (``connect``); a pool for a dry
run gives it the plugin's dry-run transport, where it has one. A pool that ``share``s a state
store gives its connections their rate budgets and sessions from there, shared with every
other process that uses it, and the OAuth tokens of the connections-file entry each names
(``hookline.run.sessions``). Commands that open one entry of the connections file rather than
a recipe's connections open it through a pool too (``open_named``), so every connection gets
its tokens the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from hookline.errors import ConfigurationError
from hookline.http.connection import Connection, connect
from hookline.http.ratelimit import Wait
from hookline.recipes.model import Recipe, RecipeConnection
from hookline.run.connections import Connections, NamedConnection, missing_fields
from hookline.run.sessions import Sharing, sharing
from hookline.run.store import SqlStore
from hookline.spec.catalog import Catalog

_DRY_RUN_NEEDS = " (a dry run needs them too: it renders its requests with them, shown as ***)"
"""Why a dry run refuses a connection that lacks values though it sends nothing, as
``hookline call --dry-run`` does: its plan shows the requests as the auth would make them."""


class ConnectionPool:
    """Open connections by (recipe file, connection name); use as an async context manager."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        env: Mapping[str, str],
        connections: Connections | None = None,
        dry_run: bool = False,
    ) -> None:
        self.catalog = catalog
        self.env = dict(env)
        self.sharing: Sharing | None = None
        self.dry_run = dry_run
        self.connections = connections or Connections(None, {})
        self.named = self.connections.entries
        self._open: dict[tuple[str, str], Connection] = {}

    def open(self, recipe: Recipe) -> None:
        """Open every connection of ``recipe`` and of the recipes it calls (nothing is sent)."""
        for each in recipe.walk():
            for connection in each.connections.values():
                key = (each.file, connection.name)
                if key not in self._open:
                    self._open[key] = self._connect(connection)

    def share(self, store: SqlStore, *, on_wait: Callable[[Wait], None] | None = None) -> None:
        """Share budgets, sessions and OAuth tokens through ``store`` (before opening)."""
        self.sharing = sharing(
            store, on_wait=on_wait, environ=self.env, token_files=self.connections.token_files
        )

    def open_named(self, entry: NamedConnection) -> Connection:
        """Open the connections-file entry ``entry`` by itself (nothing is sent)."""
        key = ("", entry.name)
        if key not in self._open:
            self._open[key] = self._open_values(
                entry.connector, entry.values, entry.name, entry.name
            )
        return self._open[key]

    def get(self, recipe: Recipe, name: str) -> Connection:
        """The open connection ``name`` of ``recipe``."""
        try:
            return self._open[(recipe.file, name)]
        except KeyError:
            raise ConfigurationError(
                f"{recipe.file}: connection {name!r} is not open; open the recipe first"
            ) from None

    def opened(self) -> list[Connection]:
        """Every open connection, once each (recipes that share one by name share it)."""
        found: dict[tuple[str, str, str], Connection] = {}
        for connection in self._open.values():
            found.setdefault(
                (connection.name, connection.spec.name, connection.credential), connection
            )
        return list(found.values())

    def redact(self, data: Any) -> Any:
        """``data`` with the secrets of every open connection replaced by ``***``."""
        for connection in self._open.values():
            data = connection.redactor.redact_data(data)
        return data

    def _connect(self, connection: RecipeConnection) -> Connection:
        assert connection.connector is not None  # the static checks refuse a recipe without it
        values: dict[str, Any] = {}
        entry = None if connection.named is None else self.named.get(connection.named)
        if entry is not None:
            values.update(entry.values)
        elif connection.named not in (None, connection.connector):
            raise ConfigurationError(
                f"no connection named {connection.named!r} in the connections file"
            )
        context = {"env": self.env}
        values.update({key: value.render(context) for key, value in connection.values.items()})
        spec = self.catalog.spec(connection.connector)
        missing = missing_fields(spec, values)
        if missing:
            raise ConfigurationError(
                f"connection {connection.name!r} of connector {spec.name!r} needs "
                f"{', '.join(missing)}: {self.connections.where()} has no entry "
                f"{connection.named or connection.name!r} and the recipe gives no values"
                f"{_DRY_RUN_NEEDS if self.dry_run else ''}; write the entry "
                "(`hookline sandbox --write-connections` writes sandbox ones), "
                "give the values in the recipe, or run with --sandbox"
            )
        return self._open_values(
            connection.connector,
            values,
            connection.name,
            entry.name if entry is not None else connection.name,
        )

    def _open_values(
        self, connector: str, values: Mapping[str, Any], name: str, entry: str
    ) -> Connection:
        return connect(
            self.catalog,
            connector,
            values,
            name=name,
            entry=entry,
            limiter=self.sharing.limiter if self.sharing else None,
            sessions=self.sharing.sessions if self.sharing else None,
            token_store=self.sharing.tokens if self.sharing else None,
            dry_run=self.dry_run,
        )

    async def close(self) -> None:
        """Close every connection (logging out of sessions)."""
        connections, self._open = list(self._open.values()), {}
        for connection in connections:
            await connection.close()

    async def __aenter__(self) -> ConnectionPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
