"""The webhook receiver of ``hookline serve``: ``POST /hooks/{recipe}``, health and metrics.

A request goes through these checks in order, and nothing is stored unless it passes all:

- no webhook recipe of that name: 404;
- ``Content-Length`` over the limit (1 MiB by default), or a body that grows past it: 413,
  without reading the body whole;
- credentials missing or wrong, as the spec's ``verify`` says: 401 (with
  ``WWW-Authenticate: Basic`` where HTTP Basic applies);
- a ``Content-Type`` that is not JSON: 415;
- a body that is not JSON, or an event its trigger's ``id`` or ``select`` cannot read: 400;
- an event the trigger's ``filter`` refuses: 200 ``{"ignored": true}`` (authentic, unwanted);
- the state store cannot write: 503 with ``Retry-After``, so that the platform sends it again;
- an event that has a job already: 200 ``{"duplicate": true, "job": ...}``;
- a new event: 202 ``{"job": ...}``, once the event and its job are committed.

Credentials are checked before the content type is looked at, so a caller without them
learns nothing but 401. The event key is the trigger's ``id`` where the spec names one that
the payload has, else ``sha256:`` and the hash of the raw body: the same delivery sent again
is the same event. ``GET /healthz`` answers 200 when the store answers and every poll loop is
alive, else 503; ``GET /metrics`` is ``hookline.run.metrics`` in the Prometheus text format.
Any other path goes to the app ``app`` is given to mount at ``/`` (the console), if any; the
receiver's own routes stay outside that app's login.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from hookline.http.responses import MAX_DEPTH, truthy
from hookline.http.webhooks import BasicVerifier
from hookline.recipes.model import Recipe, with_defaults
from hookline.run.inbox import Intake, StoreUnavailable
from hookline.run.metrics import Metrics, metrics_route
from hookline.run.pool import ConnectionPool
from hookline.run.store import JobRecord
from hookline.run.triggers import spec_trigger
from hookline.spec.model import WebhookTrigger

MAX_BODY = 1024 * 1024
"""The largest webhook body accepted, in bytes."""

RETRY_AFTER = "5"
"""Seconds a sender is asked to wait when the store cannot write."""


@dataclass(frozen=True, slots=True)
class Hook:
    """One webhook recipe as served: its trigger and what its verifier reads."""

    recipe: Recipe
    trigger: WebhookTrigger
    context: Mapping[str, Any]

    @property
    def basic(self) -> bool:
        """Whether the platform authenticates with HTTP Basic (and 401 says so)."""
        return isinstance(self.trigger.verifier, BasicVerifier)

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the request is the platform's; a trigger without ``verify`` takes all."""
        verifier = self.trigger.verifier
        return verifier is None or bool(verifier.verify(headers, body, self.context))

    def event(self, payload: Any, body: bytes) -> tuple[str, Any] | None:
        """The (event key, event) of a verified payload; None when the filter refuses it."""
        trigger = self.trigger
        if trigger.filter is not None and not truthy(trigger.filter.search(payload)):
            return None
        key = trigger.id.search(payload)
        if key is None or key == "":
            key = "sha256:" + hashlib.sha256(body).hexdigest()
        event = payload if trigger.select is None else trigger.select.search(payload)
        return (key if isinstance(key, str) else orjson.dumps(key).decode()), event


def webhook_hooks(recipes: Sequence[Recipe], pool: ConnectionPool) -> dict[str, Hook]:
    """A ``Hook`` per recipe of ``recipes`` whose trigger is a webhook, by recipe name.

    The recipes' connections must be open; the verifier's context (the trigger's inputs,
    from the environment) is rendered once, here.
    """
    hooks = {}
    for recipe in recipes:
        if recipe.is_manual:
            continue
        given, found, connection = spec_trigger(recipe, pool)
        if isinstance(found, WebhookTrigger):
            inputs = with_defaults(found.input_schema, given.input.render({"env": pool.env}))
            hooks[recipe.name] = Hook(recipe, found, connection.context(input=inputs))
    return hooks


Health = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


class Receiver:
    """The ASGI app: a ``Hook`` per served webhook recipe, the inbox, health and metrics.

    ``on_job`` is told of each new job once it is committed (to start it at once).
    """

    def __init__(
        self,
        hooks: Mapping[str, Hook],
        intake: Intake,
        metrics: Metrics,
        *,
        on_job: Callable[[JobRecord], None],
        health: Health | None = None,
        refresh: Callable[[], Awaitable[None]] | None = None,
        max_body: int = MAX_BODY,
    ) -> None:
        self.hooks = hooks
        self.intake = intake
        self.metrics = metrics
        self.on_job = on_job
        self.health = health
        self.refresh = refresh
        self.max_body = max_body

    def app(self, mounted: ASGIApp | None = None) -> Starlette:
        """The Starlette app serving the routes, and ``mounted`` at ``/`` behind them."""
        routes: list[BaseRoute] = [
            Route("/hooks/{recipe}", self.receive, methods=["POST"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            metrics_route(self.metrics, self.refresh),
        ]
        if mounted is not None:
            routes.append(Mount("/", app=mounted))
        return Starlette(routes=routes)

    async def receive(self, request: Request) -> Response:
        """One webhook delivery: checked, stored with its job, then answered."""
        hook = self.hooks.get(request.path_params["recipe"])
        if hook is None:
            return self.refuse("", "unknown_recipe", 404, "no webhook recipe by that name")
        name = hook.recipe.name
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return self.refuse(name, "too_large", 413, f"the body is over {self.max_body} bytes")
        body = await self.read(request)
        if body is None:
            return self.refuse(name, "too_large", 413, f"the body is over {self.max_body} bytes")
        if not hook.verify(request.headers, body):
            headers = {"WWW-Authenticate": 'Basic realm="hookline"'} if hook.basic else None
            return self.refuse(name, "unauthorized", 401, "credentials refused", headers)
        if not _is_json(request.headers.get("content-type", "")):
            return self.refuse(name, "unsupported_media_type", 415, "send application/json")
        payload = _json(body)
        if payload is _NOT_JSON:
            return self.refuse(
                name, "bad_json", 400, f"the body is not JSON (nested at most {MAX_DEPTH} deep)"
            )
        try:
            found = hook.event(payload, body)
        except Exception:  # an id or select the payload's shape breaks: the sender's error
            return self.refuse(name, "bad_event", 400, "the event does not have a known shape")
        if found is None:
            self.metrics.refused.labels(name, "filtered").inc()
            return JSONResponse({"ignored": True})
        key, event = found
        try:
            job, new = await self.intake.receive(name, hook.recipe.path, key, event)
        except StoreUnavailable:
            return self.refuse(
                name, "store_unavailable", 503, "the event could not be stored; send it again",
                {"Retry-After": RETRY_AFTER},
            )  # fmt: skip
        if not new:
            self.metrics.duplicates.labels(name, "webhook").inc()
            return JSONResponse({"job": job.id, "duplicate": True})
        self.metrics.received.labels(name, "webhook").inc()
        self.on_job(job)
        return JSONResponse({"job": job.id}, status_code=202)

    async def read(self, request: Request) -> bytes | None:
        """The body, or None as soon as it grows past the limit (or the sender gave up)."""
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body:
                    return None
                chunks.append(chunk)
        except ClientDisconnect:
            return None
        return b"".join(chunks)

    def refuse(
        self,
        recipe: str,
        reason: str,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Count the refusal and answer it."""
        self.metrics.refused.labels(recipe, reason).inc()
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    async def healthz(self, request: Request) -> Response:
        """200 when the store answers and the scheduler runs, else 503."""
        if self.health is None:
            return JSONResponse({"status": "ok"})
        ok, details = await self.health()
        return JSONResponse(
            {"status": "ok" if ok else "failing", **details}, status_code=200 if ok else 503
        )


_NOT_JSON = object()


def _json(body: bytes) -> Any:
    """The JSON value of ``body``; ``_NOT_JSON`` for anything that is not, or nests deeper than
    ``MAX_DEPTH`` (which storing it could not write back)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _NOT_JSON
    if len(body) > 2 * MAX_DEPTH:  # shallower text cannot nest that deep
        try:
            orjson.dumps(value)
        except TypeError:  # orjson's own depth limit
            return _NOT_JSON
    return value


def _is_json(content_type: str) -> bool:
    kind = content_type.partition(";")[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )
