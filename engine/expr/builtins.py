"""The built-in expression functions, registered through ``register_functions`` like a plugin's.

They fill the gaps JMESPath leaves for integration work: time, encodings, URLs, text. Each
checks its input and fails with an ``ExpressionError`` sentence, never a Python exception, and
none can turn a hostile input into an unbounded result: those whose text can grow well past
their input's (``replace``, ``url_encode``, ``html_escape``, ``json_encode``) work out its
size first and refuse to build more than ``MAX_TEXT``; the others are measured after.

Times are ISO 8601 text or epoch milliseconds (an integer). Text without a zone is UTC, and
every time this module writes is UTC with milliseconds and ``Z``: ``2024-05-01T09:30:00.000Z``.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

from hookline.errors import ExpressionError
from hookline.expr.budgets import MAX_VALUE_BYTES, TooLarge, too_large, value_size
from hookline.expr.templates import compact_json
from hookline.plugins.hookspecs import hookimpl
from hookline.plugins.records import ExpressionFunction

MAX_TEXT = MAX_VALUE_BYTES
"""The longest text, in characters, a function here will build."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_FIELD_WIDTH = re.compile(r"%[-_0^#]*\d")
_INTEGER = re.compile(r"\s*[-+]?\d+\s*")
_URL_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_HTML_GROWTH = {"&": 4, "<": 3, ">": 3, '"': 5, "'": 5}  # &amp; &lt; &gt; &quot; &#x27;


def _preview(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _within(size: int) -> None:
    """Refuse to build text of ``size`` characters when that is more than ``MAX_TEXT``."""
    if size > MAX_TEXT:
        raise ExpressionError(too_large("the text"))


# ---------------------------------------------------------------- time


def _now() -> str:
    return _iso(datetime.now(UTC))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _moment(value: str | float, format: str | None = None) -> datetime:
    """``value`` (ISO text, text in ``format``, or epoch milliseconds) as an aware datetime."""
    if isinstance(value, str):
        try:
            if format is None:
                moment = datetime.fromisoformat(value.strip())
            else:
                moment = datetime.strptime(value, format)
        except ValueError:
            expected = "ISO 8601 time" if format is None else f"time in the format {format!r}"
            raise ExpressionError(f"{_preview(value)} is not {expected}") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if format is not None:
        raise ExpressionError("a format applies to text; a number is already epoch milliseconds")
    try:
        return _EPOCH + timedelta(milliseconds=value)
    except (OverflowError, ValueError):
        raise ExpressionError(f"{value} epoch milliseconds is not a representable time") from None


def _epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MILLISECOND


def _parse_time(value: str | float, format: str | None = None) -> int:
    if isinstance(value, str) or format is not None:
        return _epoch_ms(_moment(value, format))
    if not math.isfinite(value):
        raise ExpressionError(f"{value} is not a time")
    return int(value)


def _format_time(value: str | float, format: str) -> str | int:
    moment = _moment(value)
    if format == "epoch":
        return _epoch_ms(moment) // 1000
    if format == "epoch_ms":
        return _epoch_ms(moment)
    if _FIELD_WIDTH.search(format):
        raise ExpressionError(f"field widths such as '%10Y' are not supported in {format!r}")
    try:
        moment = moment.astimezone(UTC)
        if format == "iso":
            return _iso(moment)
        if format == "date":
            return moment.date().isoformat()
        return moment.strftime(format)
    except (OverflowError, ValueError) as exc:
        raise ExpressionError(f"the time cannot be written as {format!r}: {exc}") from None


# ---------------------------------------------------------------- encodings


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate, which JSON escapes can carry
        raise ExpressionError("the text holds a character UTF-8 cannot encode") from None


def _base64_encode(text: str) -> str:
    return base64.b64encode(_utf8(text)).decode("ascii")


def _base64_decode(text: str) -> str:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ExpressionError("the text is not valid base64") from None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise ExpressionError("the decoded bytes are not UTF-8 text") from None


def _html_escape(text: str) -> str:
    _within(len(text) + sum(text.count(c) * extra for c, extra in _HTML_GROWTH.items()))
    return html.escape(text)


def _url_encode(value: str | float) -> str:
    raw = _utf8(value if isinstance(value, str) else compact_json(value))
    _within(len(raw) + 2 * len(raw.translate(None, _URL_SAFE)))  # each other byte is %XX
    return quote(raw, safe="")


def _json_encode(value: Any) -> str:
    try:
        value_size(value, "the text")
    except TooLarge as exc:
        raise ExpressionError(str(exc)) from None
    return compact_json(value)


def _json_decode(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not a JSON number")

    try:
        return json.loads(text, parse_constant=refuse)
    except ValueError as exc:
        raise ExpressionError(f"the text is not valid JSON: {exc}") from None
    except RecursionError:
        raise ExpressionError("the JSON text is nested too deeply") from None


# ---------------------------------------------------------------- text and URLs


def _replace(text: str, old: str, new: str) -> str:
    if not old:
        raise ExpressionError("the text to replace must not be empty")
    _within(len(text) + text.count(old) * (len(new) - len(old)))
    return text.replace(old, new)


def _split(text: str, separator: str) -> list[str]:
    if not separator:
        raise ExpressionError("the separator must not be empty")
    return text.split(separator)


def _url_parts(text: str) -> SplitResult:
    try:
        return urlsplit(text)
    except ValueError as exc:
        raise ExpressionError(f"{_preview(text)} is not a valid URL: {exc}") from None


def _join_url(base: str, *paths: str) -> str:
    parts = _url_parts(base)
    if parts.scheme and not parts.netloc:
        raise ExpressionError(f"the base {_preview(base)} has a scheme but no host")
    url = base.rstrip("/")
    for path in paths:
        if _url_parts(path).netloc or path.startswith("\\"):
            raise ExpressionError(
                f"{_preview(path)} is an absolute URL; a path may not change the base's origin"
            )
        if segment := path.strip("/"):
            url += "/" + segment
    return url + "/" if paths[-1].endswith("/") else url


def _default(value: Any, fallback: Any) -> Any:
    return fallback if value is None or value == "" else value


def _lower(text: str) -> str:
    return text.lower()


def _upper(text: str) -> str:
    return text.upper()


def _where(items: list[Any] | None, key: str, value: Any) -> list[Any]:
    return [item for item in items or () if isinstance(item, dict) and _equal(item.get(key), value)]


def _equal(left: Any, right: Any) -> bool:
    """JMESPath's ``==``: a boolean never equals a number, though Python says ``True == 1``."""
    return isinstance(left, bool) == isinstance(right, bool) and left == right


def _uuid() -> str:
    return str(uuid.uuid4())


_HOOKLINE_NAMESPACE = uuid.UUID("6f1c5e52-8a53-4f60-9d1e-3b7a0e2c4d18")


def _uuid_for(*parts: str | float) -> str:
    name = "\x1f".join(_text_of(part) for part in parts)
    return str(uuid.uuid5(_HOOKLINE_NAMESPACE, name))


def _text_of(part: str | float) -> str:
    if isinstance(part, float) and part.is_integer():
        return str(int(part))
    return str(part)


def _to_int(value: str | float) -> int:
    if isinstance(value, str):
        if not _INTEGER.fullmatch(value):
            raise ExpressionError(f"{_preview(value)} is not an integer")
        try:
            return int(value)
        except ValueError:  # more digits than Python converts
            raise ExpressionError("the integer has too many digits") from None
    if not math.isfinite(value):
        raise ExpressionError(f"{value} is not a finite number")
    return int(value)


# ---------------------------------------------------------------- registration

_TEXT = ("string",)
_TIME = ("string", "number")
_FUNCTIONS = (
    ExpressionFunction(
        "now", _now, (), "The current time as ISO 8601 text in UTC with milliseconds and Z."
    ),
    ExpressionFunction(
        "parse_time",
        _parse_time,
        (_TIME, _TEXT),
        "A time as epoch milliseconds: from ISO 8601 text (no zone means UTC), from text in a "
        "strptime format, or a number passed through as epoch milliseconds.",
        optional=1,
    ),
    ExpressionFunction(
        "format_time",
        _format_time,
        (_TIME, _TEXT),
        "A time (ISO 8601 text or epoch milliseconds) written in UTC: format 'iso' (text), "
        "'date' (YYYY-MM-DD), 'epoch' (seconds, a number), 'epoch_ms' (a number), or a "
        "strftime pattern without field widths.",
    ),
    ExpressionFunction(
        "base64_encode", _base64_encode, (_TEXT,), "Base64 of the text's UTF-8 bytes."
    ),
    ExpressionFunction(
        "base64_decode",
        _base64_decode,
        (_TEXT,),
        "The text whose UTF-8 bytes the base64 text holds; fails on bytes that are not UTF-8.",
    ),
    ExpressionFunction(
        "html_escape",
        _html_escape,
        (_TEXT,),
        "The text with &, <, >, \" and ' written as HTML character references.",
    ),
    ExpressionFunction(
        "url_encode",
        _url_encode,
        (("string", "number"),),
        "The text (or number) percent-encoded for one URL path segment or query value; "
        "'/' is encoded too.",
    ),
    ExpressionFunction("json_encode", _json_encode, (("any",),), "The value as compact JSON text."),
    ExpressionFunction(
        "json_decode", _json_decode, (_TEXT,), "The value that the JSON text holds."
    ),
    ExpressionFunction("uuid", _uuid, (), "A new random UUID (version 4)."),
    ExpressionFunction(
        "uuid_for",
        _uuid_for,
        (("string", "number"),),
        "A UUID made from the texts or numbers given (version 5): the same values always give "
        "the same UUID, so a create that takes a client-chosen UUID happens once however "
        "often its event is run again.",
        variadic=True,
    ),
    ExpressionFunction(
        "join_url",
        _join_url,
        (_TEXT, _TEXT),
        "The base URL and paths joined with single slashes; a path that is an absolute URL "
        "is refused, so the result keeps the base's origin.",
        variadic=True,
    ),
    ExpressionFunction(
        "default",
        _default,
        (("any",), ("any",)),
        "The value, or the fallback when the value is null or empty text.",
    ),
    ExpressionFunction(
        "where",
        _where,
        (("array", "null"), _TEXT, ("any",)),
        "The items of the list that are objects whose key equals the value, in order; a "
        "missing key reads as null, and a null list gives an empty list. Unlike a filter "
        "expression, the value may come from anywhere in the context.",
    ),
    ExpressionFunction("lower", _lower, (_TEXT,), "The text in lower case."),
    ExpressionFunction("upper", _upper, (_TEXT,), "The text in upper case."),
    ExpressionFunction(
        "replace",
        _replace,
        (_TEXT, _TEXT, _TEXT),
        "The text with every occurrence of old replaced by new.",
    ),
    ExpressionFunction(
        "split", _split, (_TEXT, _TEXT), "The pieces of the text between separators."
    ),
    ExpressionFunction(
        "to_int",
        _to_int,
        (("string", "number"),),
        "An integer from integer text or a number (the fraction dropped).",
    ),
)


@hookimpl
def register_functions() -> tuple[ExpressionFunction, ...]:
    """The built-in functions."""
    return _FUNCTIONS
