"""What ``hookline serve`` and ``hookline worker`` expose at ``GET /metrics``, in the
Prometheus text format.

One registry per process (not prometheus-client's global one), so that tests and embedders
can run several. Labels are bounded by the recipes served: a request for a recipe that does
not exist is counted under ``recipe=""``, so a scanner cannot grow the series.

Jobs and steps are counted by a ``MetricsObserver`` wrapped around the observer of the
process that runs them: ``serve`` with the inline executor, each ``worker`` with Celery's.
A worker's page holds those alone (``metrics_route``, without the store's gauges, which
``serve`` reads and one scrape of it is enough for); the events, refusals and polls are
``serve``'s.

| metric | type | labels |
|---|---|---|
| ``hookline_events_received_total`` | counter | recipe, source (``webhook``, ``poll``) |
| ``hookline_events_duplicate_total`` | counter | recipe, source |
| ``hookline_events_refused_total`` | counter | recipe, reason |
| ``hookline_jobs_finished_total`` | counter | recipe, status |
| ``hookline_jobs`` | gauge, read from the store at each scrape | recipe, status |
| ``hookline_step_seconds`` | histogram | recipe, action |
| ``hookline_poll_cycles_total`` | counter | recipe, result (``ok``, ``failed``) |
| ``hookline_trigger_lag_seconds`` | gauge, at each scrape | recipe, trigger |
| ``hookline_trigger_quiet_seconds`` | gauge, at each scrape | recipe, trigger |
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hookline.actions.call import Plan
from hookline.run.jobs import JobOutcome, Observer
from hookline.run.store import JobRecord, StepRecord

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REFUSALS = (
    "unknown_recipe",
    "too_large",
    "unsupported_media_type",
    "unauthorized",
    "bad_json",
    "bad_event",
    "filtered",
    "store_unavailable",
)
"""Why an incoming webhook request stored nothing (``filtered``: verified but not wanted)."""


class Metrics:
    """The counters, gauges and histograms of one served process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.received = Counter(
            "hookline_events_received",
            "Events stored in the inbox",
            ["recipe", "source"],
            registry=registry,
        )
        self.duplicates = Counter(
            "hookline_events_duplicate",
            "Events received again that already had a job",
            ["recipe", "source"],
            registry=registry,
        )
        self.refused = Counter(
            "hookline_events_refused",
            "Webhook requests that stored nothing, by reason",
            ["recipe", "reason"],
            registry=registry,
        )
        self.finished = Counter(
            "hookline_jobs_finished",
            "Jobs this process ran to an end (or interrupted), by status",
            ["recipe", "status"],
            registry=registry,
        )
        self.jobs = Gauge(
            "hookline_jobs",
            "Jobs in the state store by status",
            ["recipe", "status"],
            registry=registry,
        )
        self.steps = Histogram(
            "hookline_step_seconds",
            "How long action steps took",
            ["recipe", "action"],
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )
        self.cycles = Counter(
            "hookline_poll_cycles",
            "Poll cycles run, by result",
            ["recipe", "result"],
            registry=registry,
        )
        self.lag = Gauge(
            "hookline_trigger_lag_seconds",
            "Seconds since a poll trigger's last successful cycle started",
            ["recipe", "trigger"],
            registry=registry,
        )
        self.quiet = Gauge(
            "hookline_trigger_quiet_seconds",
            "Seconds since a poll trigger's watermark moved or a webhook event arrived",
            ["recipe", "trigger"],
            registry=registry,
        )

    def render(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return bytes(generate_latest(self.registry))


class MetricsObserver(Observer):
    """Passes what jobs do to ``inner``, counting it in ``metrics``: jobs by how they ended,
    action steps by how long they took."""

    def __init__(self, inner: Observer, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.recipes: dict[str, str] = {}

    def job_started(self, job: JobRecord) -> None:
        """Remember the job's recipe for its steps."""
        self.recipes[job.id] = job.recipe
        self.inner.job_started(job)

    def step_finished(self, job_id: str, step: StepRecord, plan: Plan | None) -> None:
        """Time the action steps."""
        if step.started_at is not None and step.finished_at is not None and step.action:
            recipe = self.recipes.get(job_id, "")
            self.metrics.steps.labels(recipe, step.action).observe(
                step.finished_at - step.started_at
            )
        self.inner.step_finished(job_id, step, plan)

    def job_finished(self, job: JobRecord, outcome: JobOutcome) -> None:
        """Count the job by how it ended."""
        self.recipes.pop(job.id, None)
        self.metrics.finished.labels(job.recipe, outcome.status).inc()
        self.inner.job_finished(job, outcome)

    def note(self, message: str, **data: Any) -> None:
        """Pass a remark on."""
        self.inner.note(message, **data)


def metrics_route(metrics: Metrics, refresh: Callable[[], Awaitable[None]] | None = None) -> Route:
    """``GET /metrics``: every metric, the gauges read afresh by ``refresh`` first."""

    async def page(request: Request) -> Response:
        if refresh is not None:
            await refresh()
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return Route("/metrics", page, methods=["GET"])
