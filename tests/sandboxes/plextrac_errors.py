"""PlexTrac's error envelope, as the sandbox tests of records and files check it."""

from __future__ import annotations

import httpx


def assert_error(response: httpx.Response, status: int) -> str:
    """Assert an error answer with ``status`` in the status line and the body; its message."""
    assert response.status_code == status
    body = response.json()
    assert body["status"] == "error" and body["statusCode"] == status
    message: str = body["message"]
    return message
