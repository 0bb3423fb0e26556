"""Cassette files: what the scrubber hides, how bodies are kept, what the loader refuses."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
import yaml

from hookline.errors import ConfigurationError
from hookline.http.redaction import Redactor
from hookline.testing.cassettes import Cassette, Exchange, Scrubber, decode_body, encode_body

SECRET = "s3cr3t-value-42"
JSON = [("Content-Type", "application/json")]


def exchange(
    *,
    url: str = "https://api.example/v1/items?key=s3cr3t-value-42",
    request_headers: list[tuple[str, str]] | None = None,
    request_body: bytes = b"",
    response_headers: list[tuple[str, str]] | None = None,
    response_body: bytes = b"",
) -> Exchange:
    return Exchange(
        "POST", url, request_headers or [], request_body, 200, response_headers or [], response_body
    )


def test_a_redactors_secret_is_scrubbed_in_every_form_and_place() -> None:
    encoded = base64.b64encode(SECRET.encode()).decode()
    recorded = exchange(
        request_headers=[("X-Key", SECRET), *JSON],
        request_body=b'{"key": "s3cr3t-value-42", "note": "keep me"}',
        response_headers=JSON,
        response_body=f'{{"echo": "{encoded}", "path": "/a/s3cr3t-value-42"}}'.encode(),
    )
    cassette = Cassette("demo", {"base_url": "https://api.example", "key": SECRET}, [recorded])
    text = cassette.dump(Scrubber([Redactor([SECRET])]), secret_fields=["key"])
    assert SECRET not in text and encoded not in text
    assert "keep me" in text
    loaded = yaml_exchange(text)
    assert loaded.url == "https://api.example/v1/items?key=***"
    assert dict(loaded.request_headers)["x-key"] == "***"


def yaml_exchange(text: str) -> Exchange:
    return Exchange.read(yaml.safe_load(text)["exchanges"][0])


def test_credentials_and_cookies_are_masked_and_scrubbed_from_bodies_too() -> None:
    token, cookie = "tok-ABCDEFGH1234", "cookie-value-987654"
    recorded = exchange(
        url="https://api.example/v1/me",
        request_headers=[("Authorization", f"Bearer {token}"), ("Cookie", f"sid={cookie}; x=1")],
        response_headers=[("Set-Cookie", f"sid={cookie}; Path=/; HttpOnly"), *JSON],
        response_body=f'{{"token": "{token}", "session": "{cookie}", "one": "1"}}'.encode(),
    )
    text = Cassette("demo", {}, [recorded]).dump(Scrubber(), secret_fields=[])
    assert token not in text and cookie not in text
    loaded = yaml_exchange(text)
    headers = dict(loaded.request_headers)
    assert headers["authorization"] == "Bearer ***"
    assert headers["cookie"] == "sid=***; x=***"
    assert dict(loaded.response_headers)["set-cookie"] == "sid=***; Path=/; HttpOnly"
    assert b'"one": "1"' in loaded.response_body  # a short cookie value stays a word


def test_secret_fields_are_kept_as_stars_and_the_others_as_they_were() -> None:
    cassette = Cassette("demo", {"base_url": "http://127.0.0.1:1", "token": SECRET}, [])
    text = cassette.dump(Scrubber(), secret_fields=["token"])
    assert "token: '***'" in text and "base_url: http://127.0.0.1:1" in text


def test_bodies_are_kept_as_json_text_or_base64_and_read_back() -> None:
    scrubber = Scrubber()
    assert encode_body(b'{"a": [1, 2]}', JSON, scrubber) == {"json": {"a": [1, 2]}}
    assert encode_body(b"plain words", [], scrubber) == {"text": "plain words"}
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    kept = encode_body(png, [("Content-Type", "image/png")], scrubber)
    assert decode_body(kept) == png and "base64" in kept
    assert encode_body(b"", JSON, scrubber) == {}
    assert decode_body({"json": {"a": 1}}) == b'{"a": 1}'


def test_a_file_that_is_not_a_cassette_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text("recipe: something\n")
    with pytest.raises(ConfigurationError, match=r"other\.yaml: not a hookline cassette"):
        Cassette.load(path)


def test_an_exchange_keeps_the_wire_headers_out() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:9/x", headers={"Accept": "*/*"})
    response = httpx.Response(200, headers={"Content-Length": "2", "Server": "s"}, content=b"ok")
    written = Exchange.of(request, response).written(Scrubber())
    assert "host" not in written["request"]["headers"]
    assert written["response"]["headers"] == {"server": "s"}
