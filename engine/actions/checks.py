"""Connection checks: running a spec's ``connection.test`` action to see that a connection works."""

from __future__ import annotations

from dataclasses import dataclass

from hookline.actions.call import call_action
from hookline.errors import ConfigurationError
from hookline.http.connection import Connection


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """A passed connection test: the action that ran and, for a list, the records it read."""

    connection: str
    connector: str
    action: str
    records: int | None

    def __str__(self) -> str:
        read = "" if self.records is None else f", {self.records} record(s) read"
        return f"{self.connector} connection {self.connection!r} works ({self.action}{read})"


async def check_connection(connection: Connection) -> ConnectionCheck:
    """Run the spec's ``connection.test`` action: whether ``connection`` works, in short.

    Its input's templates read ``connection`` and ``session`` (logged in first).

    A list action reads one record at most. Its failure is raised as it is (an
    ``AuthenticationError`` for refused credentials, ...); a spec without a test is a
    ``ConfigurationError``.
    """
    spec = connection.spec
    settings = spec.connection
    if settings.test_action is None:
        raise ConfigurationError(
            f"connector {spec.name!r} declares no connection test; its spec can name "
            "one with connection.test: {action: NAME}"
        )
    await connection.ready()
    given = settings.test_input.render(connection.context())
    output = await call_action(connection, settings.test_action, given, max_records=1)
    is_list = spec.actions[settings.test_action].is_list
    return ConnectionCheck(
        connection.name, spec.name, settings.test_action, len(output) if is_list else None
    )
