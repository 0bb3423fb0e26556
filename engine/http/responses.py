"""Reading a platform's answers: JSON decoded within bounds, and the error an answer means.

``decode_json`` turns hostile or broken JSON into an ``InvalidResponseError`` with a short,
redacted snippet, never a parser's exception or a ``RecursionError`` further down.
``error_for`` maps an answer to the typed ``ActionError`` it means: the spec's error table
first (a rule may match a 200 whose body reports a failure, or a 403 whose headers say the
rate limit ran out), then the status. Every text that
reaches an error passes through the ``ErrorContext``'s redactor, so no message, URL or
platform message carries a secret.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from hookline.errors import (
    ActionError,
    AuthenticationError,
    InvalidRequestError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
)
from hookline.expr.templates import truthy as truthy  # where the layers above import it from
from hookline.http.ratelimit import feedback_of, moment_text, retry_after, seconds_text
from hookline.http.redaction import Redactor
from hookline.spec.model import ErrorRule

MAX_DEPTH = 254
"""The deepest nesting accepted in JSON answers: the most orjson can write back."""

_SNIPPET = 100

KINDS: Mapping[str, type[ActionError]] = {
    "authentication": AuthenticationError,
    "permission": PermissionDeniedError,
    "not_found": NotFoundError,
    "invalid_request": InvalidRequestError,
    "rate_limited": RateLimitedError,
    "server": ServerError,
    "invalid_response": InvalidResponseError,
    "error": ActionError,
}
"""Error table kinds and the exceptions they raise."""

_BY_STATUS: Mapping[int, type[ActionError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: InvalidRequestError,
    429: RateLimitedError,
}


@dataclass(frozen=True, slots=True)
class Response:
    """A successful answer: ``data`` is parsed JSON, text or bytes; ``url`` is redacted.

    ``content`` is the body as received (decompressed; empty when saved to ``path``).
    """

    status: int
    headers: httpx.Headers
    url: str
    data: Any
    content_type: str | None
    path: Path | None = None
    content: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """Which call an error is about; every text that reaches an error passes ``redactor``."""

    connector: str | None = None
    action: str | None = None
    method: str | None = None
    url: str | None = None
    redactor: Redactor = field(default_factory=Redactor)

    @property
    def where(self) -> str:
        """``argus.get_case: GET https://…`` — the call, as messages name it."""
        label = ".".join(part for part in (self.connector, self.action) if part)
        request = " ".join(part for part in (self.method, self.url) if part)
        return ": ".join(part for part in (label, request) if part)

    def error(
        self, cls: type[ActionError], message: str, *, status: int | None = None, **extra: Any
    ) -> ActionError:
        """An ``ActionError`` of ``cls`` with this call's context and a redacted message."""
        redact = self.redactor.redact
        platform = extra.pop("platform_message", None)
        return cls(
            redact(message),
            connector=self.connector,
            action=self.action,
            method=self.method,
            url=self.url,
            status=status,
            platform_message=None if platform is None else redact(platform),
            **extra,
        )


# ---------------------------------------------------------------- JSON


def decode_json(content: bytes, *, context: ErrorContext, status: int | None = None) -> Any:
    """Parse a JSON answer; anything hostile or broken is an ``InvalidResponseError``.

    Refused: invalid JSON, NaN and Infinity, lone surrogates, numbers beyond a double's range
    (a 5,000-digit number), and nesting deeper than ``MAX_DEPTH`` (which later code could not
    write back or walk without exhausting the stack). The message holds a short, redacted
    snippet of the body, never the parser's raw exception.
    """
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise context.error(
            InvalidResponseError,
            f"{context.where} answered with invalid JSON ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno}): {snippet(content, context.redactor)}",
            status=status,
        ) from None
    if len(content) > 2 * MAX_DEPTH:  # shallower text cannot nest that deep
        try:
            orjson.dumps(value)
        except TypeError:  # orjson's own recursion limit, checked at C speed
            raise context.error(
                InvalidResponseError,
                f"{context.where} answered with JSON nested more than {MAX_DEPTH} levels "
                f"deep: {snippet(content, context.redactor)}",
                status=status,
            ) from None
    return value


def lenient_json(response: httpx.Response, context: ErrorContext) -> Any:
    """A body read for what it says: parsed JSON where it is JSON, else its text; None if empty.

    For error answers and predicates on any answer, where a body that is not JSON is no new
    error.
    """
    if not response.content:
        return None
    try:
        return decode_json(response.content, context=context)
    except InvalidResponseError:
        return response.text


def snippet(content: bytes, redactor: Redactor) -> str:
    """The start of a body as one short, redacted, quoted line."""
    text = redactor.redact(content[:4096].decode("utf-8", "replace"))
    short = text[:_SNIPPET] + ("..." if len(text) > _SNIPPET or len(content) > 4096 else "")
    return repr(short)


# ---------------------------------------------------------------- errors


def error_for(
    response: httpx.Response, data: Any, rules: tuple[ErrorRule, ...], context: ErrorContext
) -> ActionError | None:
    """The error a response means: the first matching rule of the table, else by status.

    A rule matches the status and headers it names. Without ``when`` it applies to error
    statuses (400 and above) only; with ``when`` it applies wherever its predicate on the body
    holds, so a 200 can be an error.
    """
    status = response.status_code
    for rule in rules:
        if not (rule.matches_status(status) and rule.matches_headers(response.headers)):
            continue
        if rule.when is None and status < 400:
            continue
        if rule.when is not None and not truthy(rule.when.search(data)):
            continue
        return _error(KINDS[rule.kind], response, data, context, rule)
    if status < 400:
        return None
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ActionError)
    return _error(cls, response, data, context, None)


def _error(
    cls: type[ActionError],
    response: httpx.Response,
    data: Any,
    context: ErrorContext,
    rule: ErrorRule | None,
) -> ActionError:
    status = response.status_code
    message = rule.message.search(data) if rule and rule.message else platform_message(data)
    platform = None if message is None else str(message)[:300]
    text = f"{context.where} answered {status} {response.reason_phrase}".rstrip()
    if platform:
        text += f": {platform}"
    extra: dict[str, Any] = {}
    if cls is PermissionDeniedError:
        refused = rule.field.search(data) if rule and rule.field else None
        extra["field"] = None if refused is None else str(refused)
        if refused is not None:
            text += f" (field {refused})"
    elif cls is RateLimitedError:
        extra["retry_after"] = retry_after(response.headers)
        if extra["retry_after"] is None:  # GitHub's 403: only X-RateLimit-Reset says when
            extra["retry_after"] = feedback_of(status, response.headers).reset
        wait = extra["retry_after"]
        if wait is not None:
            text += (
                f"; the platform asks to wait {seconds_text(wait)} "
                f"(until {moment_text(time.time() + wait)})"
            )
    elif cls is AuthenticationError:
        text += "; check the connection's credentials"
    return context.error(cls, text, status=status, platform_message=platform, **extra)


def platform_message(data: Any) -> str | None:
    """The message a platform most likely put in an error body, without a spec's help."""
    if isinstance(data, str):
        line = data.strip().split("\n", 1)[0]
        return line[:200] or None
    if not isinstance(data, dict):
        return None
    for key in ("message", "error_description", "error", "detail", "title", "msg"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            return str(value["message"])
    messages = data.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        first = messages[0].get("message")
        return first if isinstance(first, str) else None
    return None
