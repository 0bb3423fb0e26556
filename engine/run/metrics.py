"""What ``hookline serve`` exposes at ``GET /metrics``, in the Prometheus text format.

One registry per served process (not prometheus-client's global one), so that tests and
embedders can run several. Labels are bounded by the recipes served: a request for a recipe
that does not exist is counted under ``recipe=""``, so a scanner cannot grow the series.

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

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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
