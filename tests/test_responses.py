"""Reading answers: JSON within bounds, the platform's message, and what an answer means."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hookline.errors import InvalidResponseError
from hookline.http.redaction import Redactor
from hookline.http.responses import (
    ErrorContext,
    decode_json,
    lenient_json,
    platform_message,
    truthy,
)


def test_decode_json_accepts_what_it_can_write_back() -> None:
    deep = b"[" * 254 + b"]" * 254
    assert decode_json(deep, context=ErrorContext()) is not None
    assert decode_json(b'{"a": [1, 2.5, "x"]}', context=ErrorContext()) == {"a": [1, 2.5, "x"]}


def test_the_snippet_of_invalid_json_is_redacted_and_short() -> None:
    secret = "tok-" + "x" * 20
    context = ErrorContext(connector="demo", method="GET", url="u", redactor=Redactor([secret]))
    body = b'{"token": "' + secret.encode() + b'", "rest": "' + b"y" * 500 + b'" oops'
    with pytest.raises(InvalidResponseError) as caught:
        decode_json(body, context=context)
    assert secret not in str(caught.value)
    assert "***" in str(caught.value)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"message": "Case 9 not found"}, "Case 9 not found"),
        ({"error": {"message": "Token expired"}}, "Token expired"),
        ({"error_description": "bad grant", "error": "invalid_grant"}, "bad grant"),
        ({"messages": [{"message": "FIELD_ERROR", "field": "x"}]}, "FIELD_ERROR"),
        ("Service Unavailable\n<html>...", "Service Unavailable"),
        ({"status": "error"}, None),
        ([1, 2], None),
    ],
    ids=["message", "nested", "oauth", "argus-messages", "text", "none", "list"],
)
def test_platform_message_finds_the_usual_places(body: Any, message: str | None) -> None:
    assert platform_message(body) == message


@pytest.mark.parametrize(
    ("content", "data"),
    [
        (b'{"message": "no"}', {"message": "no"}),
        (b"<html>no</html>", "<html>no</html>"),
        (b"", None),
    ],
    ids=["json", "text", "empty"],
)
def test_an_error_body_is_read_leniently(content: bytes, data: Any) -> None:
    response = httpx.Response(502, content=content)
    assert lenient_json(response, ErrorContext()) == data


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), (False, False), ("", False), ([], False), ({}, False),
     (0, True), ("x", True), ([0], True), (True, True)],
)  # fmt: skip
def test_truthy_follows_jmespath(value: Any, expected: bool) -> None:
    assert truthy(value) is expected
