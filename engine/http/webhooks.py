"""Webhook verifiers: is an incoming request really from the platform?

Each verifier is a builder registered through ``register_webhook_verifiers`` (the built-ins
below use the same hook as a third party would). Secrets are rendered from the recipe's
trigger inputs (``input``) and the connection's values, and compared in constant time
(``hmac.compare_digest``), so the time an answer takes says nothing about how much of a guess
was right. An expected secret that renders empty (an unset environment variable) refuses
every request rather than accepting an empty one (an empty HTTP Basic pair would otherwise
match ``Basic Og==``).

A verifier's ``credentials()`` names the templates it expects, and which are secrets, so that
loading a recipe can refuse credentials that render empty or to a value shipped in an
example (``hookline.recipes.credentials``).

- ``basic``: HTTP Basic credentials (PlanRadar).
- ``header``: a shared secret in a header of the platform's choosing.
- ``hmac``: an HMAC of the raw body keyed with a shared secret, in a header, hex or base64
  (PlexTrac's ``X-Authorization-HMAC-256`` is the hex HMAC-SHA256 of the body). With
  ``timestamp``, the signed text also holds a timestamp the platform sends in a header, and
  a request whose timestamp is further than ``tolerance`` seconds from now is refused, so
  a captured request cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from hookline.documents.compiler import Compiler
from hookline.expr.templates import CompiledValue
from hookline.plugins.hookspecs import hookimpl


def _text(value: CompiledValue | None, context: Mapping[str, Any]) -> str:
    rendered = value.render(context) if value is not None else None
    return "" if rendered is None else str(rendered)


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), "")


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


@dataclass(frozen=True, slots=True)
class Credential:
    """One credential a verifier expects: its name, its template, whether it is a secret."""

    name: str
    value: CompiledValue
    secret: bool


@dataclass(frozen=True, slots=True)
class BasicVerifier:
    """HTTP Basic credentials the platform sends with each webhook (PlanRadar)."""

    username: CompiledValue
    password: CompiledValue

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "description": "HTTP Basic credentials sent by the platform with each request",
        "additionalProperties": False,
        "required": ["type", "username", "password"],
        "properties": {
            "type": {"const": "basic", "description": "HTTP Basic"},
            "username": {"type": "string", "description": "The expected user name (a template)"},
            "password": {"type": "string", "description": "The expected password (a template)"},
        },
    }

    @classmethod
    def from_spec(cls, c: Compiler) -> BasicVerifier:
        """Build from a ``verify: {type: basic}`` block."""
        return cls(_value(c, "username"), _value(c, "password"))

    def credentials(self) -> tuple[Credential, ...]:
        """The user name and the password (a secret)."""
        return (
            Credential("user name", self.username, secret=False),
            Credential("password", self.password, secret=True),
        )

    def verify(self, headers: Mapping[str, str], body: bytes, context: Mapping[str, Any]) -> bool:
        """True when the Authorization header holds exactly the expected credentials."""
        scheme, _, encoded = _header(headers, "authorization").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.encode("ascii"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError):  # not base64, not ASCII, not UTF-8
            return False
        username, password = _text(self.username, context), _text(self.password, context)
        if not username or not password:
            return False
        return _same(given, f"{username}:{password}")


@dataclass(frozen=True, slots=True)
class HeaderVerifier:
    """A shared secret the platform sends in a header of its own."""

    name: str
    value: CompiledValue

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "description": "A shared secret in a request header",
        "additionalProperties": False,
        "required": ["type", "name", "value"],
        "properties": {
            "type": {"const": "header", "description": "A shared-secret header"},
            "name": {"type": "string", "description": "The header's name"},
            "value": {"type": "string", "description": "The expected value (a template)"},
        },
    }

    @classmethod
    def from_spec(cls, c: Compiler) -> HeaderVerifier:
        """Build from a ``verify: {type: header}`` block."""
        return cls(str(c.get("name")), _value(c, "value"))

    def credentials(self) -> tuple[Credential, ...]:
        """The header's expected value (a secret)."""
        return (Credential(f"value of header {self.name}", self.value, secret=True),)

    def verify(self, headers: Mapping[str, str], body: bytes, context: Mapping[str, Any]) -> bool:
        """True when the header holds exactly the expected secret."""
        expected = _text(self.value, context)
        return bool(expected) and _same(_header(headers, self.name), expected)


@dataclass(frozen=True, slots=True)
class Timestamp:
    """Where an HMAC's timestamp comes from, how fresh it must be, and what is signed."""

    header: str
    tolerance: float
    signed: tuple[bytes, bytes, bytes]
    """The signed text around the timestamp and the body: ``before{timestamp}middle{body}after``
    is written as (before, middle, after)."""


@dataclass(frozen=True, slots=True)
class HmacVerifier:
    """An HMAC of the raw body, keyed with a shared secret, sent in a header."""

    header: str
    secret: CompiledValue
    algorithm: str
    encoding: str
    prefix: str
    timestamp: Timestamp | None = None

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "description": "An HMAC signature of the raw request body in a header",
        "additionalProperties": False,
        "required": ["type", "header", "secret"],
        "properties": {
            "type": {"const": "hmac", "description": "An HMAC signature"},
            "header": {"type": "string", "description": "The header holding the signature"},
            "secret": {"type": "string", "description": "The shared key (a template)"},
            "algorithm": {
                "enum": ["sha256", "sha1", "sha512"],
                "description": "The hash function (default sha256)",
            },
            "encoding": {
                "enum": ["hex", "base64"],
                "description": "How the signature is written (default hex)",
            },
            "prefix": {
                "type": "string",
                "description": "Text before the signature in the header, such as 'sha256='",
            },
            "timestamp": {
                "type": "object",
                "description": "A timestamp the platform signs with the body, refused when "
                "stale: a captured request cannot be replayed later",
                "additionalProperties": False,
                "required": ["header"],
                "properties": {
                    "header": {
                        "type": "string",
                        "description": "The header holding the timestamp (Unix seconds)",
                    },
                    "tolerance": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "description": "How many seconds the timestamp may be from now "
                        "(default 300)",
                    },
                    "signed": {
                        "type": "string",
                        "pattern": "^[^{}]*\\{timestamp\\}[^{}]*\\{body\\}[^{}]*$",
                        "description": "What is signed, with {timestamp} and {body} in it "
                        "(default '{timestamp}.{body}')",
                    },
                },
            },
        },
    }

    @classmethod
    def from_spec(cls, c: Compiler) -> HmacVerifier:
        """Build from a ``verify: {type: hmac}`` block."""
        stamp = c.get("timestamp", default=None)
        timestamp = None
        if isinstance(stamp, Mapping):
            signed = str(stamp.get("signed", "{timestamp}.{body}"))
            before, _, rest = signed.partition("{timestamp}")
            middle, _, after = rest.partition("{body}")
            timestamp = Timestamp(
                header=str(stamp["header"]),
                tolerance=float(stamp.get("tolerance", 300)),
                signed=(before.encode(), middle.encode(), after.encode()),
            )
        return cls(
            header=str(c.get("header")),
            secret=_value(c, "secret"),
            algorithm=str(c.get("algorithm", default="sha256")),
            encoding=str(c.get("encoding", default="hex")),
            prefix=str(c.get("prefix", default="")),
            timestamp=timestamp,
        )

    def credentials(self) -> tuple[Credential, ...]:
        """The shared key (a secret)."""
        return (Credential("signing key", self.secret, secret=True),)

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        context: Mapping[str, Any],
        *,
        now: float | None = None,
    ) -> bool:
        """True when the header holds the HMAC of ``body`` (and of a fresh timestamp, when
        the spec declares one) under the shared key."""
        secret = _text(self.secret, context)
        if not secret:
            return False
        message = body
        if self.timestamp is not None:
            stamp = _header(headers, self.timestamp.header).strip()
            if not _fresh(stamp, self.timestamp.tolerance, time.time() if now is None else now):
                return False
            before, middle, after = self.timestamp.signed
            message = b"".join((before, stamp.encode("ascii"), middle, body, after))
        digest = hmac.new(secret.encode("utf-8"), message, getattr(hashlib, self.algorithm))
        given = _header(headers, self.header).strip()
        if not given.startswith(self.prefix):
            return False
        given = given[len(self.prefix) :]
        if self.encoding == "hex":
            return _same(given.lower(), digest.hexdigest())
        return _same(given, base64.b64encode(digest.digest()).decode("ascii"))


def _fresh(stamp: str, tolerance: float, now: float) -> bool:
    """A timestamp of Unix seconds within ``tolerance`` of ``now``."""
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        return False
    return abs(now - int(stamp)) <= tolerance


def _value(c: Compiler, key: str) -> CompiledValue:
    value = c.value(key)
    assert value is not None  # the verifier's schema requires it
    return value


@hookimpl
def register_webhook_verifiers() -> dict[str, Any]:
    """The built-in verifiers."""
    return {"basic": BasicVerifier, "header": HeaderVerifier, "hmac": HmacVerifier}
