"""Redaction: a connection's secrets replaced by ``***`` wherever text leaves the runtime.

A ``Redactor`` knows the secret values of one connection (its secret fields, the values a
session captured at login, rendered auth values) and the forms in which they travel: raw,
URL-encoded (path, query and form encodings), base64 (alone and as the ``user:pass`` of HTTP
Basic) and JSON-escaped. Whatever hookline shows or stores — log lines, exception messages,
URLs, dry-run output, job records — passes through ``redact`` or ``redact_data`` first.

Logging is covered by one process-wide ``RedactingFilter`` that applies every live redactor.
``protect_logging`` attaches it to httpx's and httpcore's loggers and to every ``hookline``
logger that exists when a connection opens (modules create theirs at import). A filter on a
logger sees only records logged on that very logger, hence the explicit list.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import weakref
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

MASK = "***"
"""What a secret is replaced with."""

_THIRD_PARTY_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def _forms(secret: str) -> set[str]:
    """The texts in which ``secret`` can appear on the wire or in a log line."""
    raw = secret.encode("utf-8", "surrogatepass")
    b64 = base64.b64encode(raw).decode("ascii")
    return {
        secret,
        quote(secret, safe=""),
        quote(secret, safe="/"),
        quote_plus(secret),
        str(httpx.QueryParams({"k": secret}))[2:],
        b64,
        b64.rstrip("="),
        base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }


class Redactor:
    """Knows a connection's secrets and replaces each of their forms with ``***``.

    Secrets may be added at any time (a session captures new ones at each login); the
    matching pattern is rebuilt on the next use. Empty values are ignored. Safe to share
    between threads: a redaction uses whichever pattern was current when it started.
    """

    def __init__(self, secrets: Iterable[Any] = ()) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Any) -> None:
        """Know ``secret`` (text or a number; None, booleans and empty text are ignored)."""
        if secret is None or isinstance(secret, bool) or secret == "":
            return
        if not isinstance(secret, str | int | float):
            return
        self._add_forms(_forms(str(secret)))

    def add_credentials(self, username: Any, password: Any) -> None:
        """Know the base64 ``username:password`` of HTTP Basic, and both parts' own forms."""
        self.add(password)
        if username is None or password is None:
            return
        pair = f"{username}:{password}".encode("utf-8", "surrogatepass")
        encoded = base64.b64encode(pair).decode("ascii")
        self._add_forms({encoded, encoded.rstrip("=")})

    def _add_forms(self, forms: set[str]) -> None:
        with self._lock:
            new = forms - self._forms
            if new:
                self._forms |= new
                self._pattern = None

    def _current(self) -> re.Pattern[str] | None:
        pattern = self._pattern
        if pattern is None and self._forms:
            with self._lock:
                ordered = sorted(self._forms, key=len, reverse=True)
                pattern = re.compile("|".join(re.escape(form) for form in ordered))
                self._pattern = pattern
        return pattern

    def __bool__(self) -> bool:
        return bool(self._forms)

    def reveals(self, text: str) -> bool:
        """Whether ``text`` holds any form of a secret."""
        pattern = self._current()
        return pattern is not None and pattern.search(text) is not None

    def redact(self, text: str) -> str:
        """``text`` with every form of every secret replaced by ``***``."""
        pattern = self._current()
        return text if pattern is None else pattern.sub(MASK, text)

    def redact_data(self, data: Any) -> Any:
        """A copy of JSON-shaped ``data`` whose texts (values and keys) are redacted.

        Numbers, booleans and bytes are kept: a stored record keeps its shape and types.
        """
        if self._current() is None:
            return data
        return self._walk(data)

    def _walk(self, data: Any) -> Any:
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, dict):
            return {
                self.redact(k) if isinstance(k, str) else k: self._walk(v) for k, v in data.items()
            }
        if isinstance(data, list | tuple):
            return [self._walk(item) for item in data]
        return data


# ---------------------------------------------------------------- logging

_live: weakref.WeakSet[Redactor] = weakref.WeakSet()


class RedactingFilter(logging.Filter):
    """Redacts each record's message and exception text with every live redactor.

    The message is formatted once here (``msg % args``) so that a secret passed as an
    argument is caught too; the record then carries the redacted text and no arguments.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record's message in place; always keep the record."""
        redactors = list(_live)
        if not redactors:
            return True
        message = record.getMessage()
        redacted = _apply(redactors, message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _apply(redactors, record.exc_text)
        if record.stack_info:
            record.stack_info = _apply(redactors, record.stack_info)
        return True


def _apply(redactors: list[Redactor], text: str) -> str:
    for redactor in redactors:
        text = redactor.redact(text)
    return text


_FILTER = RedactingFilter()


def protect_logging(redactor: Redactor) -> None:
    """Apply ``redactor`` to log records from now on, for as long as it is alive.

    Attaches the shared filter (once) to httpx's and httpcore's loggers and to every
    ``hookline`` logger that exists now.
    """
    _live.add(redactor)
    names = [
        name
        for name in list(logging.Logger.manager.loggerDict)
        if name == "hookline" or name.startswith("hookline.")
    ]
    for name in ["hookline", *names, *_THIRD_PARTY_LOGGERS]:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
