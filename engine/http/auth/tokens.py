"""Tokens a session works with: a JWT's expiry, and RFC 6238 one-time codes for MFA.

Neither verifies anything: the JWT came from the platform over the connection's own channel
(its signature is the platform's business; the expiry is all a session needs), and a one-time
code is computed from a secret the user gave, as an authenticator app would.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Any

import orjson

from hookline.errors import ExpressionError


def jwt_expiry(token: Any) -> float | None:
    """The ``exp`` claim (Unix seconds) of a JWT, read without verifying it; None if unreadable."""
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    expires = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(expires, int | float) and not isinstance(expires, bool):
        return float(expires)
    return None


def totp_code(secret: str, *, at: float | None = None, digits: int = 6, period: int = 30) -> str:
    """The RFC 6238 time-based one-time password (HMAC-SHA1) for a base32 ``secret``.

    ``secret`` is the text authenticator apps take (case and spaces ignored, padding
    optional); ``at`` is a Unix time (default now).
    """
    cleaned = secret.replace(" ", "").upper()
    try:
        key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise ExpressionError("totp(): the secret is not base32 text") from None
    counter = int((time.time() if at is None else at) // period)
    mac = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = (int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF) % 10**digits
    return str(code).zfill(digits)


def totp(secret: str, digits: float = 6) -> str:
    """The expression function ``totp(secret, digits?)``: the current RFC 6238 code."""
    if digits not in (6, 7, 8):
        raise ExpressionError("totp(): digits must be 6, 7 or 8")
    return totp_code(secret, digits=int(digits))
