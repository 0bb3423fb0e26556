"""Dry runs: what a call would send, shown as plain data with every secret redacted.

``call_action(..., dry_run=True)`` renders every request the call would begin with (the first
page for a list, the lookup for a create that has one, the calls of a composite that need only
its input), sends nothing, and returns a ``Plan`` whose ``output`` is the action's first
example output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson


@dataclass(frozen=True, slots=True)
class RenderedRequest:
    """A request as it would be sent, secrets redacted; ``role`` says when it is sent."""

    role: str
    method: str
    url: str
    headers: Mapping[str, str]
    body: Any

    @classmethod
    def of(cls, role: str, request: httpx.Request, redact: Callable[[str], str]) -> RenderedRequest:
        """``request`` as plain data, every text passed through ``redact``."""
        headers = {name: redact(value) for name, value in request.headers.items()}
        return cls(role, request.method, redact(str(request.url)), headers, _body(request, redact))

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON output."""
        return {
            "role": self.role,
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "body": self.body,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """What a call would do: the requests it starts with, and an example of its output.

    Credentials that the connection's auth adds when a request is sent (headers, a login) are
    not part of a plan; every secret in what is shown is replaced by ``***``. ``note`` says
    what the requests leave out: a composite action's calls that need outputs a dry run
    cannot have.
    """

    action: str
    requests: tuple[RenderedRequest, ...]
    output: Any
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON output."""
        data = {
            "dry_run": True,
            "action": self.action,
            "requests": [request.to_dict() for request in self.requests],
            "output": self.output,
        }
        if self.note:
            data["note"] = self.note
        return data


def _body(request: httpx.Request, redact: Callable[[str], str]) -> Any:
    """A request body for people: JSON as data, text as text, anything else described."""
    content = request.read()
    if not content:
        return None
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/"):
        return f"<multipart body, {len(content)} bytes>"
    try:
        text = redact(content.decode("utf-8"))
    except UnicodeDecodeError:
        return f"<{content_type or 'binary'} body, {len(content)} bytes>"
    if content_type.startswith("application/json"):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
    return text
