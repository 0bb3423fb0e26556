"""The ``acme_hmac`` auth type: every request signed with the key's secret.

The secret itself never travels: each request carries the key's id, the time and a signature
over the method, path, query and body (``acme_tickets.signing``). The flow signs each request
as it is sent, so a retry is signed afresh with the time of its own sending.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import httpx

from hookline import AuthTarget, CompiledValue, Compiler, ConfigurationError

from .signing import KEY_HEADER, SIGNATURE_HEADER, TIME_HEADER, signature

_TEMPLATE = {"$ref": "#/$defs/template"}


class AcmeSigner(httpx.Auth):
    """Signs each request of one connection with its key."""

    requires_request_body = True

    def __init__(self, key_id: str, secret: str) -> None:
        self.key_id = key_id
        self.secret = secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the key id, the time and the signature; send."""
        timestamp = str(int(time.time()))
        target = request.url.raw_path.decode("ascii")
        request.headers[KEY_HEADER] = self.key_id
        request.headers[TIME_HEADER] = timestamp
        request.headers[SIGNATURE_HEADER] = signature(
            self.secret, timestamp, request.method, target, request.content
        )
        yield request


@dataclass(frozen=True, slots=True)
class AcmeHmacAuth:
    """``type: acme_hmac``: requests signed with HMAC-SHA256, as Acme's API asks."""

    key_id: CompiledValue
    secret: CompiledValue

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "key_id", "secret"],
        "description": "Acme's signed requests: a key id, the time and an HMAC-SHA256 signature",
        "properties": {
            "type": {"const": "acme_hmac", "description": "Acme's HMAC-signed requests"},
            "key_id": {
                **_TEMPLATE,
                "description": "The API key's id, e.g. '{{ connection.key_id }}'",
            },
            "secret": {
                **_TEMPLATE,
                "description": "The API key's signing secret, e.g. '{{ connection.secret }}'",
            },
        },
    }

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Compile the key id and secret templates."""
        key_id, secret = c.value("key_id"), c.value("secret")
        assert key_id is not None and secret is not None  # the schema requires both
        return cls(key_id, secret)

    def bind(self, target: AuthTarget) -> AcmeSigner:
        """Render the key once; the secret joins the connection's secrets."""
        context = target.context()
        key_id, secret = self.key_id.render(context), self.secret.render(context)
        if not isinstance(key_id, str) or not isinstance(secret, str) or not secret:
            raise ConfigurationError(
                f"connection {target.name!r}: the acme_hmac auth needs a key id and a secret "
                "as text; check the connection's fields"
            )
        target.redactor.add(secret)
        return AcmeSigner(key_id, secret)
