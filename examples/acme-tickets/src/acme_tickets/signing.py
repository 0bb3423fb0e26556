"""How Acme signs a request, shared by the auth type (which signs) and the sandbox (which checks).

Acme authenticates every request with three headers: the key's id, the time in Unix seconds,
and an HMAC-SHA256 signature, in hex, of four lines joined by newlines: that time, the method,
the path with its query, and the SHA-256 of the body in hex. A signature is good for five
minutes either side of the platform's clock, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac

KEY_HEADER = "X-Acme-Key"
TIME_HEADER = "X-Acme-Timestamp"
SIGNATURE_HEADER = "X-Acme-Signature"
MAX_SKEW = 300
"""Seconds a signed request stays good, either side of the platform's clock."""


def signature(secret: str, timestamp: str, method: str, target: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of the request's signing string with ``secret``."""
    digest = hashlib.sha256(body).hexdigest()
    message = "\n".join([timestamp, method.upper(), target, digest]).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
