"""Webhook credentials that cannot be weak: refused at load, and never matched when empty."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from hookline.errors import RecipeError
from hookline.expr.templates import Expressions
from hookline.http.webhooks import BasicVerifier, HmacVerifier
from hookline.recipes.load import load_recipe
from hookline.spec.catalog import Catalog

RECIPE = """\
recipe: hook
connections:
  planradar: {connector: planradar, base_url: "http://127.0.0.1:1", customer_id: "1", token: t}
trigger:
  event: planradar.ticket_created
  with:
    username: "{{ env.HOOK_USER }}"
    password: PASSWORD
steps: []
"""


def basic(header: str, username: str, password: str) -> bool:
    expressions = Expressions()
    verifier = BasicVerifier(
        expressions.compile_value(username), expressions.compile_value(password)
    )
    return verifier.verify({"Authorization": header}, b"", {})


def test_an_empty_expected_pair_accepts_nothing() -> None:
    empty = "Basic " + base64.b64encode(b":").decode()
    assert empty == "Basic Og=="
    assert not basic(empty, "", "")
    assert not basic("Basic " + base64.b64encode(b"u:").decode(), "u", "")
    assert basic("Basic " + base64.b64encode(b"u:p4ss").decode(), "u", "p4ss")


def test_each_verifier_names_the_credentials_it_expects() -> None:
    expressions = Expressions()
    value = expressions.compile_value("{{ input.secret }}")
    [credential] = HmacVerifier("X-Sig", value, "sha256", "hex", "").credentials()
    assert (credential.name, credential.secret) == ("signing key", True)


def load(catalog: Catalog, tmp_path: Path, password: str, **env: str) -> None:
    path = tmp_path / "hook.yaml"
    path.write_text(RECIPE.replace("PASSWORD", password))
    load_recipe(path, catalog, env={"HOOK_USER": "planradar", **env})


@pytest.mark.parametrize(
    ("password", "env", "message"),
    [
        ('"{{ env.HOOK_PASSWORD }}"', {"HOOK_PASSWORD": ""}, "is empty (HOOK_PASSWORD is empty"),
        (
            "\"{{ env.HOOK_PASSWORD || 'change-me' }}\"",
            {},
            "is a value shipped in an example (HOOK_PASSWORD is empty or not set)",
        ),
        ('"{{ env.HOOK_PASSWORD }}"', {"HOOK_PASSWORD": "Change-Me"}, "a value shipped in an"),
    ],
    ids=["empty", "fallback-to-a-placeholder", "placeholder-from-env"],
)
def test_weak_webhook_credentials_are_refused_where_they_are_written(
    catalog: Catalog, tmp_path: Path, password: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(RecipeError) as refused:
        load(catalog, tmp_path, password, **env)
    [problem] = refused.value.problems
    assert (problem.line, problem.path) == (8, "trigger.with.password")
    assert message in problem.message
    assert "planradar.ticket_created: the password expected of incoming webhooks" in str(problem)
    assert "change-me" not in problem.message.lower()  # the value itself is never shown


def test_an_example_value_of_the_spec_is_refused(catalog: Catalog, tmp_path: Path) -> None:
    shipped = catalog.spec("planradar").actions["get_project"].examples[0].input["project_id"]
    with pytest.raises(RecipeError, match="password expected of incoming webhooks is a value"):
        load(catalog, tmp_path, '"{{ env.HOOK_PASSWORD }}"', HOOK_PASSWORD=shipped)


def test_credentials_of_their_own_from_the_environment_load(
    catalog: Catalog, tmp_path: Path
) -> None:
    load(catalog, tmp_path, '"{{ env.HOOK_PASSWORD }}"', HOOK_PASSWORD="w3bh00k-of-its-own")
