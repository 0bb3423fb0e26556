"""Redaction: secrets in every form are masked in text, data, log lines and errors."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote, quote_plus

import pytest

from hookline.errors import NotFoundError
from hookline.http.connection import CallPolicy, Connection
from hookline.http.ratelimit import InProcessRateLimiter
from hookline.http.redaction import Redactor, protect_logging
from hookline.spec.catalog import Catalog
from tests.servers import (
    API_KEY,
    PASSWORD,
    USERNAME,
    EchoState,
    Reply,
    demo_spec,
    make_request,
)

pytestmark = pytest.mark.anyio

SECRET = 'p@ss w/rd+"é'


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        base64.b64encode(SECRET.encode()).decode(),
        json.dumps(SECRET)[1:-1],
        json.dumps(SECRET, ensure_ascii=False)[1:-1],
    ],
    ids=["raw", "url", "url-plus", "base64", "json-ascii", "json"],
)
def test_every_form_of_a_secret_is_masked(form: str) -> None:
    redactor = Redactor([SECRET])
    assert redactor.redact(f"before {form} after") == "before *** after"
    assert redactor.reveals(form)


def test_basic_credentials_are_masked_as_a_pair() -> None:
    redactor = Redactor()
    redactor.add_credentials("ada", SECRET)
    pair = base64.b64encode(f"ada:{SECRET}".encode()).decode()
    assert redactor.redact(f"Authorization: Basic {pair}") == "Authorization: Basic ***"


def test_empty_and_non_text_values_are_ignored() -> None:
    redactor = Redactor([None, "", True, {"a": 1}])
    assert not redactor
    assert redactor.redact("nothing to hide") == "nothing to hide"


def test_redact_data_keeps_shape_and_types() -> None:
    redactor = Redactor([SECRET, 4242])
    data = {"token": SECRET, SECRET: [1, {"note": f"x{SECRET}y"}], "n": 4242, "ok": True}
    assert redactor.redact_data(data) == {
        "token": "***",
        "***": [1, {"note": "x***y"}],
        "n": 4242,
        "ok": True,
    }


def test_log_records_are_redacted_message_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("hookline.test_redaction")
    redactor = Redactor([SECRET])
    protect_logging(redactor)
    caplog.set_level(logging.DEBUG)
    logger.info("logging in with %s", SECRET)
    try:
        raise RuntimeError(f"refused {quote(SECRET, safe='')}")
    except RuntimeError:
        logger.exception("failed")
    assert SECRET not in caplog.text and quote(SECRET, safe="") not in caplog.text
    assert "logging in with ***" in caplog.text
    assert "refused ***" in caplog.text


# ---------------------------------------------------------------- through a connection


AUTH = [
    {"type": "api_key", "in": "path", "key": "{{ connection.api_key }}"},
    {"type": "api_key", "in": "query", "name": "key", "key": "{{ connection.api_key }}"},
    {
        "type": "basic",
        "username": "{{ connection.username }}",
        "password": "{{ connection.password }}",
    },
]


def forms() -> list[str]:
    pair = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    return [API_KEY, quote(API_KEY, safe=""), PASSWORD, quote_plus(PASSWORD), pair]


async def test_secrets_are_absent_from_logs_errors_and_rendered_requests(
    catalog: Catalog, echo: tuple[str, EchoState], caplog: pytest.LogCaptureFixture
) -> None:
    url, state = echo
    state.reset()
    caplog.set_level(logging.DEBUG)
    spec = demo_spec(catalog, auth=AUTH)
    values = {"url": url, "username": USERNAME, "password": PASSWORD, "api_key": API_KEY}
    state.replies.append(Reply(404, {"message": f"no such key {API_KEY}"}))
    async with Connection(
        spec, values, expressions=catalog.expressions, limiter=InProcessRateLimiter()
    ) as connection:
        template = make_request(
            catalog.expressions,
            "POST",
            "/items/{{ connection.api_key }}",
            query={"p": "{{ connection.password }}"},
            headers={"X-Echo": "{{ connection.password }}"},
            json={"password": "{{ connection.password }}"},
        )
        request = connection.build_request(template, connection.context())
        shown = connection.redactor.redact(
            f"{request.method} {request.url}\n{dict(request.headers)}\n{request.content.decode()}"
        )
        with pytest.raises(NotFoundError) as caught:
            await connection.send(request, policy=CallPolicy())
    seen = state.seen[0]
    assert API_KEY in seen.path and seen.query[-1] == ("key", API_KEY)  # it was really sent
    texts = {"log": caplog.text, "error": str(caught.value), "dry run": shown}
    texts["error attributes"] = f"{caught.value.url} {caught.value.platform_message}"
    for where, text in texts.items():
        for form in forms():
            assert form not in text, f"{form!r} leaked into the {where}"
    assert "***" in caplog.text and "***" in str(caught.value) and "***" in shown
