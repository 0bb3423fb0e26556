"""A job's own secrets: values read from ``env`` and inputs whose schema declares them secret."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hookline.expr.templates import Expressions
from hookline.run.secrets import JobSecrets, masked, masked_inputs, secret_values

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "secret": {"type": "string", "writeOnly": True},
        "headers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "value": {"secret": True}},
            },
        },
        "auth": {"$ref": "#/objects/auth"},
    },
}
OBJECTS = {"auth": {"type": "object", "properties": {"key": {"writeOnly": True}}}}


def test_secret_values_follow_properties_items_and_shared_objects() -> None:
    value = {
        "name": "hook",
        "secret": "s3",
        "headers": [{"name": "X-A", "value": "v1"}, {"name": "X-B"}],
        "auth": {"key": "k9"},
    }
    found = dict(secret_values(SCHEMA, value, OBJECTS))
    assert found == {("secret",): "s3", ("headers", 0, "value"): "v1", ("auth", "key"): "k9"}
    assert masked(value, list(found)) == {
        "name": "hook",
        "secret": "***",
        "headers": [{"name": "X-A", "value": "***"}, {"name": "X-B"}],
        "auth": {"key": "***"},
    }
    assert masked_inputs(SCHEMA, {"secret": "***", "name": "x"}) == ["secret"]
    assert masked_inputs(SCHEMA, {"secret": "given"}) == []


def test_a_value_rendered_from_env_is_masked_and_redacted_elsewhere() -> None:
    secrets = JobSecrets({"HOOK_TOKEN": "tok-123456", "PIN": "42", "HOME": "/root"})
    template = Expressions().compile_value(
        {"text": "Bearer {{ env.HOOK_TOKEN }}", "pin": "{{ env.PIN }}", "plain": "hello"}
    )
    rendered = template.render({"env": secrets.env})
    assert rendered == {"text": "Bearer tok-123456", "pin": "42", "plain": "hello"}
    assert secrets.shown(template, rendered) == {"text": "***", "pin": "***", "plain": "hello"}
    assert secrets.redact({"echo": "got tok-123456 and 42"}) == {"echo": "got *** and 42"}
    assert secrets.redact("/root/file") == "/root/file"  # never read: not a secret


def test_declared_secrets_are_learnt_whatever_their_length(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets = JobSecrets({})
    shown = secrets.shown(None, {"secret": "ab", "name": "n"}, SCHEMA, OBJECTS)
    assert shown == {"secret": "***", "name": "n"}
    assert secrets.redact("xaby") == "x***y"
    with caplog.at_level(logging.INFO, logger="hookline.http.send"):
        logging.getLogger("hookline.http.send").info("the key is ab")
    assert "the key is ***" in caplog.text
