"""Cassettes: the HTTP exchanges of a test, kept in a YAML file with every secret scrubbed.

A cassette records what a connector sent and received, so that its tests can run later with
no platform at all (``hookline.testing.tape`` records and replays them). The file reads::

    cassette: 1
    connector: acme_tickets
    connection: {base_url: "https://api.acme.example", api_secret: "***"}
    call: {action: get_ticket, input: {id: 7}}     # when it holds one example's call
    output: {id: 7, subject: ...}                  # and what that call returned
    exchanges:
      - request: {method: GET, url: ..., headers: {...}}
        response: {status: 200, headers: {...}, json: {...}}

A body is ``json`` (parsed, for reading and diffs), ``text``, or ``base64`` for bytes.

Nothing secret reaches the file. ``Scrubber`` replaces with ``***``, in URLs, headers, bodies,
the call and the output: every form (raw, URL-encoded, base64, JSON-escaped) of the values
the connections' redactors know, that is every connection value the spec marks secret, what
auth types rendered from them and what a session captured at login; the credentials of
``Authorization`` and ``Proxy-Authorization`` headers and the values of cookies
(``Cookie``, ``Set-Cookie``), in those headers and, where they are 8 characters or longer,
wherever else they appear. The connection values kept are the non-secret ones.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from hookline.errors import ConfigurationError
from hookline.http.redaction import MASK, Redactor
from hookline.version import __version__

FORMAT = 1
"""The ``cassette:`` version this hookline writes and reads."""

HEADER_COMMENT = (
    "# A hookline cassette: HTTP exchanges recorded for offline tests. Secrets are replaced\n"
    "# by ***; record it again rather than editing it.\n"
)

_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})
_COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})
_DROPPED = frozenset({"host", "content-length", "transfer-encoding", "content-encoding"})
"""Headers of the wire alone: the origin (which changes), and the body's framing and encoding
(a recorded body is kept whole and decoded)."""

_MIN_SPREAD = 8
"""The shortest header credential also scrubbed from bodies; shorter ones would mask words."""

Headers = list[tuple[str, str]]


# ---------------------------------------------------------------- scrubbing


class Scrubber:
    """Replaces every known secret with ``***``: the redactors' secrets and header credentials.

    ``redactors`` is kept by reference, so a redactor added to that list later (a connection
    opened after the scrubber was made) counts too. ``learn`` reads credential and cookie
    headers, so that a value scrubbed in one exchange is scrubbed in every other as well.
    """

    def __init__(self, redactors: list[Redactor] | None = None) -> None:
        self.redactors = [] if redactors is None else redactors
        self.learned = Redactor()

    def _all(self) -> list[Redactor]:
        return [*self.redactors, self.learned]

    def learn(self, headers: Headers) -> None:
        """Know the credentials in ``headers`` (``Authorization``, cookies) as secrets."""
        for name, value in headers:
            lowered = name.lower()
            if lowered in _CREDENTIAL_HEADERS:
                self._spread(value.partition(" ")[2] or value)
            elif lowered == "cookie":
                for pair in value.split(";"):
                    self._spread(pair.partition("=")[2].strip())
            elif lowered == "set-cookie":
                self._spread(value.split(";", 1)[0].partition("=")[2].strip())

    def _spread(self, value: str) -> None:
        if len(value) >= _MIN_SPREAD:
            self.learned.add(value)

    def text(self, text: str) -> str:
        """``text`` with every known secret replaced."""
        for redactor in self._all():
            text = redactor.redact(text)
        return text

    def data(self, data: Any) -> Any:
        """A copy of JSON-shaped ``data`` with every known secret replaced in its texts."""
        for redactor in self._all():
            data = redactor.redact_data(data)
        return data

    def raw(self, content: bytes) -> bytes:
        """Bytes with every known secret replaced, the bytes around them untouched."""
        text = content.decode("latin-1")
        scrubbed = self.text(text)
        return content if scrubbed == text else scrubbed.encode("latin-1")

    def headers(self, headers: Headers) -> Headers:
        """Headers with credentials and cookie values masked and the rest scrubbed."""
        return [(name, self._header(name.lower(), value)) for name, value in headers]

    def _header(self, name: str, value: str) -> str:
        if name in _CREDENTIAL_HEADERS:
            scheme, space, _ = value.partition(" ")
            return f"{scheme} {MASK}" if space else MASK
        if name == "cookie":
            pairs = (pair.strip().partition("=")[0] for pair in value.split(";"))
            return "; ".join(f"{pair}={MASK}" for pair in pairs if pair)
        if name == "set-cookie":
            first, semicolon, attributes = value.partition(";")
            cookie = f"{first.partition('=')[0].strip()}={MASK}"
            return cookie + (semicolon + self.text(attributes) if semicolon else "")
        return self.text(value)


# ---------------------------------------------------------------- bodies


def _is_json(headers: Headers) -> bool:
    kind = next((v for k, v in headers if k.lower() == "content-type"), "")
    media = kind.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def encode_body(content: bytes, headers: Headers, scrubber: Scrubber) -> dict[str, Any]:
    """The scrubbed body as the file keeps it: ``json``, ``text`` or ``base64`` (or nothing)."""
    if not content:
        return {}
    if _is_json(headers):
        try:
            return {"json": scrubber.data(json.loads(content))}
        except ValueError:
            pass
    try:
        return {"text": scrubber.text(content.decode("utf-8"))}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(scrubber.raw(content)).decode("ascii")}


def decode_body(block: Mapping[str, Any]) -> bytes:
    """The bytes of a body the file keeps."""
    if "json" in block:
        return json.dumps(block["json"], ensure_ascii=False).encode("utf-8")
    if "text" in block:
        return str(block["text"]).encode("utf-8")
    if "base64" in block:
        try:
            return base64.b64decode(block["base64"], validate=True)
        except (binascii.Error, TypeError):
            raise ConfigurationError("a cassette body's base64 is not valid base64") from None
    return b""


def body_key(content: bytes, headers: Headers, scrubber: Scrubber) -> Any:
    """What two requests' bodies are compared by: the scrubbed JSON data, else the text."""
    return next(iter(encode_body(content, headers, scrubber).values()), None)


def path_of(url: str) -> str:
    """The path and query of a URL written out as text (the origin left out)."""
    rest = url.partition("://")[2]
    slash = rest.find("/")
    return "/" if slash < 0 else rest[slash:]


def _headers_in(block: Mapping[str, Any]) -> Headers:
    headers: Headers = []
    for name, value in (block.get("headers") or {}).items():
        for one in value if isinstance(value, list) else [value]:
            headers.append((str(name), str(one)))
    return headers


def _headers_out(headers: Headers) -> dict[str, str | list[str]]:
    kept: dict[str, str | list[str]] = {}
    for name, value in headers:
        name = name.lower()
        if name in _DROPPED:
            continue
        if name in kept:
            earlier = kept[name]
            kept[name] = [*earlier, value] if isinstance(earlier, list) else [earlier, value]
        else:
            kept[name] = value
    return kept


def kept_headers(headers: Headers) -> Headers:
    """``headers`` without those that describe the body's framing on the wire."""
    return [(name, value) for name, value in headers if name.lower() not in _DROPPED]


# ---------------------------------------------------------------- exchanges and files


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its response, as sent and received (before scrubbing)."""

    method: str
    url: str
    request_headers: Headers
    request_body: bytes
    status: int
    response_headers: Headers
    response_body: bytes

    @classmethod
    def of(cls, request: httpx.Request, response: httpx.Response) -> Exchange:
        """The exchange of a request and a response whose bodies were both read."""
        return cls(
            request.method,
            str(request.url),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            request.content,
            response.status_code,
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw],
            response.content,
        )

    def written(self, scrubber: Scrubber) -> dict[str, Any]:
        """The exchange as the file keeps it, scrubbed."""
        request_headers = kept_headers(self.request_headers)
        response_headers = kept_headers(self.response_headers)
        return {
            "request": {
                "method": self.method,
                "url": scrubber.text(self.url),
                "headers": _headers_out(scrubber.headers(request_headers)),
                **encode_body(self.request_body, request_headers, scrubber),
            },
            "response": {
                "status": self.status,
                "headers": _headers_out(scrubber.headers(response_headers)),
                **encode_body(self.response_body, response_headers, scrubber),
            },
        }

    @classmethod
    def read(cls, block: Mapping[str, Any]) -> Exchange:
        """An exchange from the file (its secrets stay ``***``)."""
        request, response = block["request"], block["response"]
        return cls(
            str(request["method"]),
            str(request["url"]),
            _headers_in(request),
            decode_body(request),
            int(response["status"]),
            _headers_in(response),
            decode_body(response),
        )


@dataclass
class Cassette:
    """A cassette file's content: the connector, connection values, exchanges, maybe a call.

    ``call`` is ``{"action": NAME, "input": {...}}`` (or ``{"trigger": ...}``) and ``output``
    what it returned, for a cassette that records one example (``hookline test --record``).
    """

    connector: str
    connection: dict[str, Any]
    exchanges: list[Exchange] = field(default_factory=list)
    call: dict[str, Any] | None = None
    output: Any = None

    @classmethod
    def load(cls, path: Path) -> Cassette:
        """Read a cassette file; ``ConfigurationError`` when it is not one this hookline reads."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read cassette {str(path)!r}: {exc.strerror}"
            ) from None
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"cassette {str(path)!r} is not YAML: {exc}") from None
        if not isinstance(data, dict) or data.get("cassette") != FORMAT:
            raise ConfigurationError(
                f"{path}: not a hookline cassette (format {FORMAT}); record it again"
            )
        try:
            exchanges = [Exchange.read(block) for block in data.get("exchanges") or []]
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"{path}: a recorded exchange is incomplete ({exc})") from None
        return cls(
            connector=str(data.get("connector")),
            connection=dict(data.get("connection") or {}),
            exchanges=exchanges,
            call=data.get("call"),
            output=data.get("output"),
        )

    def dump(self, scrubber: Scrubber, secret_fields: Sequence[str]) -> str:
        """The file's text, every secret scrubbed and every secret field's value ``***``."""
        for exchange in self.exchanges:
            scrubber.learn(exchange.request_headers)
            scrubber.learn(exchange.response_headers)
        connection = {
            name: MASK if name in secret_fields else scrubber.data(value)
            for name, value in self.connection.items()
        }
        data: dict[str, Any] = {
            "cassette": FORMAT,
            "recorded_with": f"hookline {__version__}",
            "connector": self.connector,
            "connection": connection,
        }
        if self.call is not None:
            data["call"] = scrubber.data(self.call)
            data["output"] = scrubber.data(self.output)
        data["exchanges"] = [exchange.written(scrubber) for exchange in self.exchanges]
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
        return HEADER_COMMENT + text

    def save(self, path: Path, scrubber: Scrubber, secret_fields: Sequence[str]) -> None:
        """Write the scrubbed file at ``path`` (its folder made as needed)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.dump(scrubber, secret_fields), encoding="utf-8")
