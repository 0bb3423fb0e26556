r"""Benchmark: jobs per second on Celery workers (1, 2 and 4 worker processes) against the
inline executor, in one run.

Run by hand, never by the test suite (it needs PostgreSQL and Redis on loopback)::

    .venv/bin/python bench/celery_jobs.py                  # 200 jobs a round, about 3 minutes
    .venv/bin/python bench/celery_jobs.py --jobs 60        # a quick look

What runs, each in a process of its own on 127.0.0.1:

- the Argus sandbox (``hookline sandbox argus --latency``): every answer ``--latency`` seconds
  late (50 ms by default), as a platform across a network would be; the sandbox alone answers
  instantly;
- ``hookline serve`` with one webhook recipe (PlanRadar's ``ticket_created`` → one
  ``argus.create_case`` call per job), state in PostgreSQL (a fresh schema per round);
- for the ``celery`` rounds, ``hookline worker`` processes (``--concurrency`` jobs at once
  each) taking jobs through Redis (a queue of the round's own).

The load: ``--jobs`` webhook events posted at once (16 connections); the figure is the
number of jobs divided by the time from the first event sent to the last job ended in the
store. Every round runs ``--concurrency`` jobs at once per process (4 by default), so with
50 ms a call the inline executor's ceiling is about 80 jobs a second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

POSTGRES = "postgresql://127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/13"
USER, PASSWORD = "bench", "a-long-random-bench-password"
RECIPE = """\
recipe: bench-jobs
connections:
  planradar:
    connector: planradar
    base_url: https://planradar.invalid
    customer_id: "1"
    token: unused
  argus: argus
trigger:
  event: planradar.ticket_created
  with: {username: bench, password: "{{ env.BENCH_WEBHOOK_PASSWORD }}"}
steps:
  - action: argus.create_case
    with:
      customer: nordlys
      service: support
      type: operationalIncident
      subject: "PlanRadar ticket {{ trigger.sequential_id }}"
      description: "<p>{{ html_escape(trigger.subject) }}</p>"
      customer_reference: "planradar:{{ trigger.uuid }}"
"""
TIMEOUT = 300.0


def event() -> dict[str, Any]:
    """A PlanRadar ``ticket.created`` event about a new ticket."""
    ticket = str(uuid.uuid4())
    moment = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    attributes = {
        "uuid": ticket, "sequential-id": 61, "subject": "Scaffold on the north facade",
        "ticket-type-id": "xmwp", "component-id": "nyk", "project-id": "nqzkdw",
        "status-id": "lm", "priority-id": "ma", "customer-id": "2410587",
        "created-at": moment, "updated-at": moment,
    }  # fmt: skip
    return {
        "event": "ticket.created", "customer_id": "2410587", "project_id": "nqzkdw",
        "ticket_uuid": ticket, "occurred_at": moment,
        "data": {"id": "dro", "type": "tickets", "attributes": attributes},
    }  # fmt: skip


class Round:
    """One configuration: the processes it started, its schema, its queue."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.schema = f"hookline_bench_{uuid.uuid4().hex[:10]}"
        self.queue = f"hookline-bench-{uuid.uuid4().hex[:10]}"
        self.processes: list[subprocess.Popen[bytes]] = []
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.schema}")
        self.state = f"{POSTGRES}?options=-csearch_path%3D{self.schema}"

    def start(self, *args: str) -> None:
        log = (self.folder / f"{self.queue}-{len(self.processes)}.log").open("wb")
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "hookline", *args],
                env={**self.env, "HOOKLINE_STATE": self.state, "HOOKLINE_BROKER": REDIS},
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    def finished(self) -> int:
        with psycopg.connect(self.state) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM jobs WHERE status IN ('succeeded', 'failed', "
                "'outcome_unknown', 'skipped')"
            ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(f"*{self.queue}*"):
            client.delete(key)
        client.close()


async def post_all(url: str, jobs: int) -> None:
    """Post ``jobs`` events over 16 connections."""
    events = [event() for _ in range(jobs)]
    async with httpx.AsyncClient(auth=(USER, PASSWORD), timeout=60) as client:

        async def sender(share: list[dict[str, Any]]) -> None:
            for body in share:
                answer = await client.post(url, json=body)
                answer.raise_for_status()

        await asyncio.gather(*(sender(events[i::16]) for i in range(16)))


def wait_until(check: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def one_round(folder: Path, env: dict[str, str], workers: int, args: argparse.Namespace) -> float:
    """Jobs per second with ``workers`` Celery workers (0: the inline executor)."""
    run = Round(folder, env)
    try:
        recipe = str(folder / "bench-jobs.yaml")
        concurrency = str(args.concurrency)
        for _ in range(workers):
            run.start("worker", recipe, "--concurrency", concurrency, "--queues", run.queue)
        port = free_port()
        executor = ["--executor", "celery", "--queue", run.queue] if workers else []
        run.start("serve", recipe, "--port", str(port), "--concurrency", concurrency, *executor)
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(f"{base}/healthz"), "serve to answer")
        time.sleep(1.0 if workers else 0.0)  # the workers connect to the broker
        began = time.monotonic()
        asyncio.run(post_all(f"{base}/hooks/bench-jobs", args.jobs))
        wait_until(lambda: run.finished() >= args.jobs, "every job to end")
        return args.jobs / (time.monotonic() - began)
    finally:
        run.close()


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hookline-bench-"))
    try:
        (folder / "bench-jobs.yaml").write_text(RECIPE)
        connections = folder / "connections.yaml"
        env = {**os.environ, "BENCH_WEBHOOK_PASSWORD": PASSWORD,
               "HOOKLINE_CONNECTIONS": str(connections)}  # fmt: skip
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "hookline", "sandbox", "argus", "--port", "0", "--latency",
             str(args.latency), "--write-connections", str(connections)],
            env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_until(connections.exists, "the sandbox")
            time.sleep(1.0)
            print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                  f"Python {platform.python_version()}; {args.jobs} jobs a round, one "
                  f"argus.create_case each, {args.latency * 1000:.0f} ms a call, "
                  f"{args.concurrency} jobs at once per process")  # fmt: skip
            baseline = one_round(folder, env, 0, args)
            print(f"{'inline (serve alone)':<24} {baseline:7.1f} jobs/s  1.00x")
            for workers in (1, 2, 4):
                rate = one_round(folder, env, workers, args)
                label = f"celery, {workers} worker{'s' if workers > 1 else ''}"
                print(f"{label:<24} {rate:7.1f} jobs/s  {rate / baseline:.2f}x")
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
