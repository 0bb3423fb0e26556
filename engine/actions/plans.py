"""Dry runs: what a call would send, shown as plain data with every secret redacted.

``call_action(..., dry_run=True)`` renders every request the call would begin with (the first
page for a list, the lookup for a create that has one, the calls of a composite that need only
its input), sends nothing, and returns a ``Plan`` whose ``output`` is an example output of the
action (``stand_in``), which stands in for the real one and is labelled as an example wherever
it is shown. A connection whose in-process transport answers dry runs (the ``file`` connector)
gives its real answer instead, computed without changing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from hookline.spec.model import Example

REDACTED = "***"
"""What a credential's value is shown as."""


@dataclass(frozen=True, slots=True)
class RenderedRequest:
    """A request as it would be sent, secrets redacted; ``role`` says when it is sent."""

    role: str
    method: str
    url: str
    headers: Mapping[str, str]
    body: Any

    @classmethod
    def of(
        cls,
        role: str,
        request: httpx.Request,
        redact: Callable[[str], str],
        credentials: httpx.Request | None = None,
    ) -> RenderedRequest:
        """``request`` as plain data, every text passed through ``redact``.

        ``credentials`` is the same request with the auth's credentials added: the headers
        it adds or changes are shown with ``***`` as their value, and its URL (a query key,
        a path key) is shown redacted.
        """
        headers = {name: redact(value) for name, value in request.headers.items()}
        url = str(request.url)
        if credentials is not None:
            for name, value in credentials.headers.items():
                if request.headers.get(name) != value:
                    headers[name] = REDACTED
            url = str(credentials.url)
        return cls(role, request.method, redact(url), headers, _body(request, redact))

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
    """What a call would do: the requests it starts with, and its output or an example of it.

    The requests show what is sent, headers that the connection's auth and session add
    included, with every secret and credential value replaced by ``***``. ``example`` says
    that ``output`` is one of the spec's example outputs (``stand_in``; null when the action
    has none) rather than the answer. ``note`` says what the requests leave out: a composite
    action's calls that need outputs a dry run cannot have.
    """

    action: str
    requests: tuple[RenderedRequest, ...]
    output: Any
    note: str = ""
    example: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON output: the output under ``example_output`` if it is one."""
        data = {
            "dry_run": True,
            "action": self.action,
            "requests": [request.to_dict() for request in self.requests],
            "example_output" if self.example else "output": self.output,
        }
        if self.note:
            data["note"] = self.note
        return data


def stand_in(examples: Sequence[Example], given: Mapping[str, Any]) -> Any:
    """The output of the example most like a call with input ``given``: a dry run's stand-in.

    An example fits when every input it names is given too: an example that saves a download
    to a file does not stand in for a call that asks for the content, whose output has
    another shape. Of the fitting examples, the one with the most inputs equal to the given
    ones is taken (the first of a tie), so that a spec can show the answer for the input a
    recipe uses; with none fitting, the first example; with no example, None.
    """
    fitting = [example for example in examples if example.input.keys() <= given.keys()]
    if not fitting:
        return examples[0].output if examples else None
    best = max(fitting, key=lambda e: sum(given[k] == v for k, v in e.input.items()))
    return best.output


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
