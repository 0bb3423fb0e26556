"""The exceptions hookline raises, one shallow hierarchy.

    HooklineError                 every error a user can meet; has an exit_code
    ├── InvalidDocumentError      a YAML file that is not a valid document; holds Problems
    │   ├── SpecError             a connector spec
    │   │   └── SpecFormatError   written for a spec format this hookline does not read
    │   └── RecipeError           a recipe (or a connections file)
    ├── PluginError               a plugin that cannot be used (clashing names, bad registration)
    ├── ExpressionError           an expression that does not compile or cannot be evaluated
    ├── ConfigurationError        a connection, connections file or option that cannot be used
    └── ActionError               a call to a platform failed; carries connector, action, request
        ├── AuthenticationError   credentials refused, login failed, session could not be renewed
        ├── PermissionDeniedError the credentials may not do this (field: the refused field)
        ├── NotFoundError         the object does not exist
        ├── InvalidRequestError   the platform rejected the input (400, 422)
        ├── RateLimitedError      the platform refused for rate (retry_after: seconds or None)
        │   └── RateLimitWaitError  the budget's next slot is further away than max_wait
        ├── ServerError           the platform failed (5xx)
        ├── InvalidResponseError  the answer could not be read (bad JSON, too large, wrong shape)
        │   └── ResponseTooLargeError  the answer passed the connection's max_response_bytes
        ├── TransportError        the connection failed before an answer arrived
        ├── OutcomeUnknownError   a non-idempotent request was sent and its answer was lost
        └── UnsafeRequestError    the request would leave its origin or leak a secret

Messages are sentences that say what went wrong, where, and how to fix it. Secrets never
appear in them: the runtime redacts every text before it reaches an exception.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


class HooklineError(Exception):
    """Base of every error hookline raises for a user's input or a platform's answer."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class Problem:
    """One located problem in a document: where it is, the key path, and what was expected."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str = ""

    def __str__(self) -> str:
        where = ":".join(
            str(part) for part in (self.file, self.line, self.column) if part is not None
        )
        parts = [p for p in (where, self.path) if p]
        return ": ".join([*parts, self.message])


class InvalidDocumentError(HooklineError):
    """A document (spec, recipe, connections file) failed to load or validate."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SpecError(InvalidDocumentError):
    """A connector spec is invalid."""


class SpecFormatError(SpecError):
    """A spec written for a format version (``spec: hookline/v2``) this hookline does not read.

    ``found`` is the version the file names, ``name`` the connector it would define.
    """

    def __init__(self, problems: list[Problem], *, found: str, name: str) -> None:
        self.found = found
        self.name = name
        super().__init__(problems)


class RecipeError(InvalidDocumentError):
    """A recipe or connections file is invalid."""


class PluginError(HooklineError):
    """A plugin registered something that cannot be used."""


class ExpressionError(HooklineError):
    """An expression failed to compile or to evaluate.

    ``expression`` is the text the error is in and ``column`` (1-based) where in it;
    ``detail`` is the message without its "at column N" and caret lines, for a caller that
    locates the error in a file itself.
    """

    def __init__(
        self,
        message: str,
        *,
        expression: str = "",
        column: int | None = None,
        detail: str | None = None,
    ) -> None:
        self.expression = expression
        self.column = column
        self.detail = message if detail is None else detail
        super().__init__(message)


class ConfigurationError(HooklineError):
    """A connection, option or configuration file cannot be used as given."""


class UnknownNameError(ConfigurationError):
    """What was named (a job, a served recipe, an open connection) is not there."""


class ActionError(HooklineError):
    """A call to a platform failed.

    ``connector``, ``action``, ``method``, ``url`` (redacted) and ``status`` say which call;
    ``platform_message`` is the message the platform gave, extracted by the spec's errors table.
    """

    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        connector: str | None = None,
        action: str | None = None,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
        platform_message: str | None = None,
    ) -> None:
        self.connector = connector
        self.action = action
        self.method = method
        self.url = url
        self.status = status
        self.platform_message = platform_message
        super().__init__(message)


class AuthenticationError(ActionError):
    """The platform refused the credentials, or a session could not be established."""

    kind = "authentication"


class PermissionDeniedError(ActionError):
    """The credentials are valid but may not do this; ``field`` names a refused field."""

    kind = "permission"

    def __init__(self, message: str, *, field: str | None = None, **context: object) -> None:
        self.field = field
        super().__init__(message, **context)  # type: ignore[arg-type]


class NotFoundError(ActionError):
    """The object the action names does not exist."""

    kind = "not_found"


class InvalidRequestError(ActionError):
    """The platform rejected the request's input."""

    kind = "invalid_request"


class RateLimitedError(ActionError):
    """The platform refused the request for rate; ``retry_after`` is in seconds when known."""

    kind = "rate_limited"

    def __init__(
        self, message: str, *, retry_after: float | None = None, **context: object
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, **context)  # type: ignore[arg-type]


class RateLimitWaitError(RateLimitedError):
    """A request would wait for its rate budget longer than the connection's ``max_wait``.

    ``wait`` is the seconds it would have waited and ``until`` the Unix time its budget
    frees up; ``asked`` is the pause the platform asked for (``Retry-After``,
    ``X-RateLimit-Reset``, a cooldown), None when the wait is the budget's own queue. Nothing
    was sent: the call fails at once rather than hang.
    """

    kind = "rate_limit_wait"

    def __init__(
        self,
        message: str,
        *,
        wait: float,
        until: float,
        asked: float | None = None,
        **context: object,
    ) -> None:
        self.wait = wait
        self.until = until
        self.asked = asked
        super().__init__(message, retry_after=wait, **context)


class ServerError(ActionError):
    """The platform failed to handle the request."""

    kind = "server"


class InvalidResponseError(ActionError):
    """The platform's answer could not be read or did not have the declared shape."""

    kind = "invalid_response"


class ResponseTooLargeError(InvalidResponseError):
    """The answer, as sent or once decompressed, passed the connection's size cap."""


class TransportError(ActionError):
    """The connection failed or timed out before an answer arrived."""

    kind = "transport"


class OutcomeUnknownError(ActionError):
    """A request that is not safe to repeat was sent, and its answer was lost.

    Nothing is retried: the operator decides whether the platform applied it.
    """

    kind = "outcome_unknown"


class UnsafeRequestError(ActionError):
    """The request would leave the connection's origin or send a secret insecurely."""

    kind = "unsafe_request"


def suggest(name: str, choices: Iterator[str] | Mapping[str, Any] | list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or a list of them, or ''."""
    options = sorted(choices)
    close = closest(name, options)
    if close is not None:
        return f" (did you mean {close!r}?)"
    if options and len(options) <= 12:
        return " (known: " + ", ".join(options) + ")"
    return ""


def closest(name: str, choices: Iterator[str] | Mapping[str, Any] | list[str]) -> str | None:
    """The one of ``choices`` that ``name`` is most likely a misspelling of, or None."""
    close = difflib.get_close_matches(name, sorted(choices), n=1)
    return close[0] if close else None


def one_line(exc: BaseException) -> str:
    """An exception as a log line says it: a hookline error's message; another's type too."""
    if isinstance(exc, HooklineError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
