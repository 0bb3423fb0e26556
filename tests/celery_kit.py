"""What the Celery tests need: sandboxes counting their answers, a queue of one's own on a
real broker, and ``hookline serve`` and ``hookline worker`` subprocesses.

The sandboxes run in the test process (they outlive every ``hookline`` a test kills), each
behind a ``Counted`` wrapper that tallies the status codes it answers, and the Argus one
behind a ``crash_kit.Gate`` that can hold a created case's answer. Each test takes a queue
named for it alone, so tests never take each other's jobs, and deletes it at the end.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import redis
from kombu.connection import Connection

from hookline.plugins.manager import get_plugin_manager
from hookline.run.connections import write_connections
from hookline.run.sandbox import running
from hookline.run.store import JobRecord, SqlCursor, open_store
from hookline.spec.catalog import Catalog
from tests.crash_kit import Gate, Hookline, Sandboxes

REDIS = "redis://127.0.0.1:6379/13"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
ROOT = Path(__file__).resolve().parent.parent


class Counted:
    """An ASGI app that counts the status codes ``app`` answers with, and keeps when each
    request that was answered 201 arrived."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.statuses: Counter[int] = Counter()
        self.created: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        arrived = time.time()

        async def counting(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.statuses[int(message["status"])] += 1
                if message["status"] == 201:
                    self.created.append(arrived)
            await send(message)

        await self.app(scope, receive, counting)


@contextmanager
def counted_sandboxes(
    folder: Path,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    values: Mapping[str, Mapping[str, Any]] | None = None,
) -> Iterator[tuple[Sandboxes, dict[str, Counted]]]:
    """Argus (gated on a case's creation), PCR-360 and PlanRadar, counted; a connections file
    pointing at them, with ``values`` added to a connection's entry."""
    catalog = Catalog(get_plugin_manager(entry_points=False))
    boxes = catalog.sandboxes
    names = ("argus", "pcr360", "planradar")
    apps = {name: boxes[name].create_app(**(options or {}).get(name, {})) for name in names}
    gates = {"argus": Gate(apps["argus"], "POST", r"^/cases/v2/case$")}
    counted = {name: Counted(gates.get(name, app)) for name, app in apps.items()}
    with ExitStack() as stack:
        urls, entries = {}, {}
        for name, app in counted.items():
            urls[name] = stack.enter_context(running(app))
            entries[name] = {
                "connector": name,
                **boxes[name].connection(urls[name]),
                **(values or {}).get(name, {}),
            }
        connections = folder / "connections.yaml"
        write_connections(connections, entries)
        yield Sandboxes(apps, urls, connections, gates, catalog), counted


@contextmanager
def own_queue(broker: str) -> Iterator[str]:
    """A queue name no other test uses; the queue and its messages are deleted at the end."""
    name = f"hookline-test-{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        if broker.startswith("redis://"):
            client = redis.Redis.from_url(broker)
            for key in client.scan_iter(f"*{name}*"):
                client.delete(key)
            client.close()
        else:
            with Connection(broker) as connection:  # type: ignore[no-untyped-call]
                channel = connection.default_channel
                channel.queue_delete(name)
                channel.exchange_delete(name)


class Processes(Hookline):
    """``hookline`` subprocesses of one test, each stopped at the end if still running."""

    def __init__(self, boxes: Sandboxes, state: str, folder: Path, broker: str) -> None:
        super().__init__(boxes, state, folder)
        self.env["HOOKLINE_BROKER"] = broker
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start ``hookline ARGS``, to be stopped at the end."""
        process = super().start(*args)
        self.started.append(process)
        return process

    def worker(
        self, recipes: list[Path], queue: str, concurrency: int, *args: str
    ) -> subprocess.Popen[bytes]:
        """A worker of ``recipes`` taking from ``queue``, with ``args`` besides."""
        paths = [str(p) for p in recipes]
        return self.start("worker", *paths, "--queues", queue, "--concurrency", str(concurrency),
                          "--json", *args)  # fmt: skip

    def serve_with(self, recipes: list[Path], port: int, *args: str) -> subprocess.Popen[bytes]:
        """``serve`` of ``recipes`` on ``port``, with ``args`` (the executor's options)."""
        paths = [str(p) for p in recipes]
        return self.start("serve", *paths, "--port", str(port), "--json", "--grace", "5", *args)

    def stop_all(self) -> None:
        """SIGTERM every process still running, then SIGKILL what is left after a while."""
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def job_statuses(state: str) -> dict[str, int]:
    """How many jobs of the store at ``state`` are in each status."""

    async def main() -> dict[str, int]:
        store = open_store(state, get_plugin_manager(entry_points=False))
        try:

            def work(cur: SqlCursor) -> dict[str, int]:
                cur.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status")
                return {str(status): int(count) for status, count in cur.fetchall()}

            return await store.transaction(work)
        finally:
            await store.close()

    return asyncio.run(main())


def all_jobs(state: str) -> list[JobRecord]:
    """Every job of the store at ``state``, with its steps."""

    async def main() -> list[JobRecord]:
        store = open_store(state, get_plugin_manager(entry_points=False))
        try:
            found = await store.list_jobs(limit=1000)
            return [job for job in [await store.get_job(j.id) for j in found] if job]
        finally:
            await store.close()

    return asyncio.run(main())
