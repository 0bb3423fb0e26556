"""Signed session tokens (HS256 JWTs) and RFC 6238 one-time passwords, with the standard library.

PlexTrac answers a login with a JWT whose payload carries ``username``, ``tenantId``, ``iat``
and ``exp``; clients read ``exp`` to renew before expiry, so the sandbox's tokens are real,
decodable JWTs. They are signed with a per-app secret: a token from one sandbox is refused by
another. TOTP follows RFC 6238 with PlexTrac's authenticator-app defaults (SHA-1, 30-second
steps, six digits), so any authenticator library produces codes the sandbox accepts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

TOTP_STEP = 30
TOTP_DIGITS = 6


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(claims: dict[str, Any], secret: bytes) -> str:
    """Sign ``claims`` as a compact HS256 JWT."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def decode_jwt(token: str, secret: bytes) -> dict[str, Any] | None:
    """The claims of ``token`` if it is a well-formed JWT signed with ``secret``, else None.

    Expiry is not checked here: the caller compares ``exp`` with its own clock.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    header, payload, signature = parts
    expected = hmac.new(secret, f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64url(signature), expected):
            return None
        claims = json.loads(_unb64url(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def totp(secret: str, at: float) -> str:
    """The six-digit TOTP code of base32 ``secret`` at Unix time ``at`` (RFC 6238, SHA-1)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int(at // TOTP_STEP).to_bytes(8, "big")
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{value % 10**TOTP_DIGITS:0{TOTP_DIGITS}d}"


def totp_matches(secret: str, code: str, at: float) -> bool:
    """Whether ``code`` is the TOTP of ``secret`` at ``at`` or one step either side.

    One step of drift each way is what authenticator apps are allowed in practice, so a code
    typed just before its step rolls over still works.
    """
    return any(
        hmac.compare_digest(totp(secret, at + drift * TOTP_STEP), code) for drift in (-1, 0, 1)
    )
