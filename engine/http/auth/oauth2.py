"""OAuth 2.0 auth types: ``oauth2_client_credentials`` and ``oauth2_authorization_code``.

- ``oauth2_client_credentials`` (RFC 6749 §4.4): the client's own id and secret buy a token;
  a new one is bought before the old one expires, and after a 401.
- ``oauth2_authorization_code`` (RFC 6749 §4.1 with PKCE, RFC 7636): a person authorizes once
  with ``hookline connections authorize NAME`` (``hookline.run.authorize`` runs the loopback
  callback); the tokens are kept in the connection's ``TokenStore`` and refreshed with the
  refresh token.

These are the spec blocks and their schemas; the tokens at run time, and why they are sent
through the connection rather than Authlib's own httpx client, are ``hookline.http.auth.grants``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from hookline.expr.templates import CompiledValue
from hookline.http.auth.grants import AuthorizationCodeSession, Client, ClientCredentialsSession
from hookline.http.auth.static import TEMPLATE, AuthTarget

if TYPE_CHECKING:
    from hookline.documents.compiler import Compiler

_COMMON: dict[str, Any] = {
    "token_url": {
        **TEMPLATE,
        "description": "The token endpoint (https, or http to a loopback host), e.g. "
        "'{{ connection.token_url }}'",
    },
    "client_id": {**TEMPLATE, "description": "The client id, e.g. '{{ connection.client_id }}'"},
    "client_secret": {
        **TEMPLATE,
        "description": "The client secret, e.g. '{{ connection.client_secret }}' (a secret field)",
    },
    "scopes": {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "description": "The scopes asked for",
    },
    "client_auth": {
        "enum": ["basic", "body"],
        "description": "How the client authenticates to the token endpoint: basic (HTTP Basic, "
        "the default) or body (client_id and client_secret in the form)",
    },
    "renew_before": {
        "type": "number",
        "minimum": 0,
        "description": "Renew the token this many seconds before it expires (default 60, at "
        "most half its lifetime)",
    },
}


@dataclass(frozen=True, slots=True)
class OAuth2ClientCredentials:
    """RFC 6749 §4.4: the client's own credentials buy a bearer token."""

    client: Client
    audience: CompiledValue | None

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "token_url", "client_id", "client_secret"],
        "description": "OAuth 2.0 client credentials: the client id and secret buy a bearer "
        "token from the token endpoint, bought again before it expires and after a 401",
        "properties": {
            "type": {
                "const": "oauth2_client_credentials",
                "description": "OAuth 2.0 client credentials grant",
            },
            **_COMMON,
            "audience": {
                **TEMPLATE,
                "description": "The audience parameter some servers want (Auth0, Okta)",
            },
        },
    }

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Compile the endpoint, client and audience templates."""
        return cls(Client.from_spec(c), c.value("audience"))

    def bind(self, target: AuthTarget) -> ClientCredentialsSession:
        """A token holder for one connection; the first request buys its token."""
        return ClientCredentialsSession(self.client, target, self.audience)


@dataclass(frozen=True, slots=True)
class OAuth2AuthorizationCode:
    """RFC 6749 §4.1 with PKCE: a person authorizes once; the refresh token does the rest."""

    client: Client
    authorize_url: CompiledValue
    authorize_params: CompiledValue | None

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "authorize_url", "token_url", "client_id"],
        "description": "OAuth 2.0 authorization code with PKCE (S256): `hookline connections "
        "authorize NAME` has a person approve the access in a browser once; the tokens are "
        "kept encrypted beside the connections file and refreshed with the refresh token",
        "properties": {
            "type": {
                "const": "oauth2_authorization_code",
                "description": "OAuth 2.0 authorization code grant with PKCE",
            },
            "authorize_url": {
                **TEMPLATE,
                "description": "The authorization endpoint the person's browser opens",
            },
            **_COMMON,
            "client_secret": {
                **TEMPLATE,
                "description": "The client secret of a confidential client; leave it out for a "
                "public client, which PKCE alone protects",
            },
            "authorize_params": {
                "type": "object",
                "additionalProperties": TEMPLATE,
                "description": "Extra query parameters of the authorization URL, e.g. "
                "access_type: offline, prompt: consent",
            },
        },
    }

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Compile the endpoints, client and extra parameters."""
        authorize_url = c.value("authorize_url")
        assert authorize_url is not None  # the schema requires it
        return cls(Client.from_spec(c), authorize_url, c.value("authorize_params"))

    def bind(self, target: AuthTarget) -> AuthorizationCodeSession:
        """The connection's authorized tokens, read from its token store when first needed."""
        return AuthorizationCodeSession(
            self.client, target, self.authorize_url, self.authorize_params
        )


def oauth2_types() -> Mapping[str, Any]:
    """The OAuth 2.0 auth types, by name, for ``register_auth_types``."""
    return {
        "oauth2_client_credentials": OAuth2ClientCredentials,
        "oauth2_authorization_code": OAuth2AuthorizationCode,
    }
