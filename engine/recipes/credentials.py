"""Webhook credentials that cannot be weak: checked when a recipe loads.

A webhook recipe states the credentials the platform must send (a trigger's ``with:``, read
by the trigger's verifier). If they render empty, a verifier accepts nothing at best and an
empty password at worst; if they render to a value shipped in an example (the spec's
examples, or a placeholder such as ``change-me``), anyone who read the example can post
events. Either way the recipe is refused where it states them, before anything runs, and the
message says how to give a credential of its own: from the environment.

Only the credentials a verifier names (``credentials()``) and whose templates read the
trigger's input alone are checked; the secret ones are also compared with the shipped
values. The rendered values never appear in a message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from hookline.documents.loader import Document, KeyPath
from hookline.errors import ExpressionError, Problem
from hookline.http.webhooks import Credential
from hookline.recipes.model import EventTrigger
from hookline.spec.model import Spec, WebhookTrigger

PLACEHOLDERS = frozenset(
    {
        "change-me",
        "changeme",
        "change_me",
        "changeit",
        "example",
        "password",
        "passw0rd",
        "secret",
        "test",
        "demo",
        "admin",
        "default",
    }
)
"""Placeholder values no webhook credential may have, whatever the spec's examples say."""


def credential_problems(
    document: Document,
    trigger: EventTrigger,
    found: WebhookTrigger,
    spec: Spec,
    env: Mapping[str, str],
) -> list[Problem]:
    """The problems of the credentials a webhook recipe expects, located at its ``with:``."""
    listed = getattr(found.verifier, "credentials", None)
    if listed is None:
        return []
    try:
        given = trigger.input.render({"env": dict(env)})
    except ExpressionError:
        return []  # the static checks report why it does not render
    shipped = set(_shipped(spec))
    problems = []
    for credential in listed():
        problem = _problem(credential, given, shipped, trigger, env)
        if problem is not None:
            path, message = problem
            problems.append(document.problem(path, message))
    return problems


def _problem(
    credential: Credential,
    given: Any,
    shipped: set[str],
    trigger: EventTrigger,
    env: Mapping[str, str],
) -> tuple[KeyPath, str] | None:
    references = [r for _, t in credential.value.templates() for r in t.references()]
    if not references or any(r[:1] != ("input",) for r in references):
        return None  # a fixed value, or one read from elsewhere: not the recipe's to check
    try:
        rendered = credential.value.render({"input": given})
    except ExpressionError:
        return None
    text = "" if rendered is None else str(rendered)
    key = next((r[1] for r in references if len(r) > 1), None)
    written = trigger.input.value
    path: KeyPath = (*trigger.path, "with")
    if isinstance(key, str) and isinstance(written, dict) and key in written:
        path = (*path, key)
    names = _env_names(trigger, key)
    source = _source(names, env)
    if not text.strip():
        if any(name not in env for name in names):
            return None  # a variable that is not set: the static checks say so
        return path, (
            f"{trigger.event}: the {credential.name} expected of incoming webhooks is empty"
            f"{source}, so no request could prove it comes from the platform; set it to the "
            f"{credential.name} configured on the webhook, from the environment "
            "({{ env.NAME }}) with no fallback"
        )
    if credential.secret and (text in shipped or text.strip().lower() in PLACEHOLDERS):
        return path, (
            f"{trigger.event}: the {credential.name} expected of incoming webhooks is a value "
            f"shipped in an example{source}, which anyone can read; give the webhook a "
            f"{credential.name} of its own and pass it from the environment ({{{{ env.NAME }}}}) "
            "with no fallback"
        )
    return None


def _source(names: list[str], env: Mapping[str, str]) -> str:
    """Where the value came from: `` (X is not set)``, `` (from X)``, or nothing."""
    unset = [name for name in names if not env.get(name)]
    if unset:
        return f" ({', '.join(unset)} {'is' if len(unset) == 1 else 'are'} empty or not set)"
    return f" (from {', '.join(names)})" if names else ""


def _env_names(trigger: EventTrigger, key: str | int | None) -> list[str]:
    """The environment variables the trigger's input ``key`` reads."""
    names = []
    for path, template in trigger.input.templates():
        if path[:1] == (key,):
            for reference in template.references():
                if reference[:1] == ("env",) and len(reference) > 1:
                    names.append(str(reference[1]))
    return names


def _shipped(spec: Spec) -> Iterator[str]:
    """Every text in the inputs of the spec's examples (templates left out)."""
    for block in [*spec.actions.values(), *spec.triggers.values()]:
        for example in block.examples:
            for text in _texts(example.input):
                if "{{" not in text:
                    yield text


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
