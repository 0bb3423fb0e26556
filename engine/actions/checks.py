"""Connection checks: running a spec's ``connection.test`` action to see that a connection works."""

from __future__ import annotations

from dataclasses import dataclass

from hookline.actions.call import call_action
from hookline.errors import ConfigurationError
from hookline.http.connection import Connection


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """A passed connection test: the action that ran and, for a list, the records it read.

    ``schema`` says whether the answer was checked against an output schema.
    """

    connection: str
    connector: str
    action: str
    records: int | None
    schema: bool = True

    def __str__(self) -> str:
        read = "" if self.records is None else f", {self.records} record(s) read"
        unchecked = "" if self.schema else "; its output has no schema to check the answer by"
        return (
            f"{self.connector} connection {self.connection!r} works "
            f"({self.action}{read}{unchecked})"
        )


async def check_connection(connection: Connection) -> ConnectionCheck:
    """Run the spec's ``connection.test`` action: whether ``connection`` works, in short.

    Any 2xx is not enough: a server that is not the platform answers those too. The answer
    must have the platform's shape (``call_action``'s ``confirm_shape``): a list's records
    where the spec says, of which one at most is read, and the output matching the action's
    output schema, whatever its ``strict``. A failure is raised as it is (an
    ``AuthenticationError`` for refused credentials, an ``InvalidResponseError`` for an
    answer of another shape, ...); a spec without a test is a ``ConfigurationError``.
    Its input's templates read ``connection`` and ``session`` (logged in first).
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
    output = await call_action(
        connection, settings.test_action, given, max_records=1, confirm_shape=True
    )
    action = spec.actions[settings.test_action]
    return ConnectionCheck(
        connection.name,
        spec.name,
        settings.test_action,
        len(output) if action.is_list else None,
        action.output.schema is not None,
    )
