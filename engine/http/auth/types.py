"""The built-in auth types and the ``totp()`` function of MFA logins, registered as a plugin."""

from __future__ import annotations

from typing import Any

from hookline.http.auth.oauth2 import oauth2_types
from hookline.http.auth.session import SessionAuth
from hookline.http.auth.static import ApiKeyAuth, BasicAuth, BearerAuth, HeadersAuth, NoneAuth
from hookline.http.auth.tokens import totp
from hookline.plugins.hookspecs import hookimpl
from hookline.plugins.records import ExpressionFunction


@hookimpl
def register_auth_types() -> dict[str, Any]:
    """The built-in auth types."""
    return {
        "none": NoneAuth,
        "basic": BasicAuth,
        "bearer": BearerAuth,
        "api_key": ApiKeyAuth,
        "headers": HeadersAuth,
        "session": SessionAuth,
        **oauth2_types(),
    }


@hookimpl
def register_functions() -> list[ExpressionFunction]:
    """``totp(secret, digits?)``: the current one-time code for an MFA login step."""
    return [
        ExpressionFunction(
            "totp",
            totp,
            (("string",), ("number",)),
            "The current RFC 6238 one-time code (HMAC-SHA1, 30 s) for a base32 secret, as text "
            "of 6 digits (or the digits given: 6, 7 or 8).",
            optional=1,
        )
    ]
