r"""Benchmark: webhook intake of ``hookline serve`` against a bare endpoint, and event latency.

Run by hand, never by the test suite::

    .venv/bin/python bench/webhook_intake.py            # three rounds of 10 s, about 2 minutes
    .venv/bin/python bench/webhook_intake.py --quick    # one round of 3 s

Two servers, each in a process of its own on 127.0.0.1, both uvicorn with the same defaults:

- ``bare``: a Starlette endpoint that reads the body and answers 200, nothing else;
- ``hookline``: ``hookline serve`` with one webhook recipe (PlanRadar's ``ticket_created``
  trigger, HTTP Basic, a ``set`` step), its inbox and jobs in SQLite (WAL, ``synchronous=FULL``):
  each 202 means the event and its job were committed to disk first, and the jobs run in the
  same process while requests arrive.

The load comes from another process: ``--connections`` httpx clients, each on one HTTP/1.1
keep-alive connection (h11 over asyncio streams, ``KeepAlive``), each sending a ~1 KB
PlanRadar-shaped event (a fresh ticket each time) as soon as the previous one is answered,
for ``--seconds``. Rounds alternate between the two
servers; each row is the best round, with the CPU time the server process spent per request
(for hookline, until the round's jobs had run too), which other load on a shared machine
disturbs less than the wall clock. Then the **event-to-job-done latency**: events sent one at
a time, 20 a second, each timed from sending to the job's ``finished_at`` in the store (same
machine, same clock).

Everything listens on loopback; every subprocess has a timeout, and the run a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h11
import httpx

HERE = Path(__file__).resolve().parent
USER, PASSWORD = "bench", "a-long-random-bench-password"
RECIPE = """\
recipe: bench-intake
connections:
  planradar:
    connector: planradar
    base_url: https://planradar.invalid
    customer_id: "1"
    token: unused
trigger:
  event: planradar.ticket_created
  with: {username: bench, password: "{{ env.BENCH_WEBHOOK_PASSWORD }}"}
steps:
  - set: {ticket: "{{ trigger.uuid }}"}
"""
TIMEOUT = 120.0


# ---------------------------------------------------------------- the servers


def bare_server(port: int) -> None:
    """Serve the bare endpoint until killed."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def hook(request: Request) -> Response:
        await request.body()
        return Response(b'{"ok":true}', media_type="application/json")

    app = Starlette(routes=[Route("/hooks/{name}", hook, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextmanager
def serving(command: list[str], url: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process and wait until ``url`` answers; stop it with SIGTERM after.

    The server's log (a line per job) goes to a file: a pipe nobody reads would fill up and
    stop the server at its next line.
    """

    with tempfile.NamedTemporaryFile(prefix="hookline-bench-", suffix=".log") as log:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(url, content=b"{}", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    said = Path(log.name).read_text(errors="replace")[-2000:]
                    raise SystemExit(f"server did not start: {said}") from None
                time.sleep(0.05)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user and system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- the load


def event() -> bytes:
    """A PlanRadar-shaped ``ticket.created`` event about a new ticket."""
    ticket = str(uuid.uuid4())
    moment = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    attributes = {
        "uuid": ticket, "sequential-id": 61, "subject": "Scaffold on the north facade",
        "ticket-type-id": "xmwp", "component-id": "nyk", "project-id": "nqzkdw", "parent-id": None,
        "status-id": "lm", "priority-id": "ma", "assigned-to-id": "lmw", "assignee-type": "User",
        "author-id": "gpk", "updated-by-id": "gpk", "due-date": "2026-12-02", "closed-at": None,
        "extension-date": None, "progress": 0, "plan-x": 0.412, "plan-y": 0.1875,
        "typed-values": {"tf37e04757dabbca63": "Scaffolder"}, "subscribers": ["gpk"],
        "customer-id": "2410587", "created-at": moment, "updated-at": moment,
    }  # fmt: skip
    body = {
        "event": "ticket.created", "customer_id": "2410587", "project_id": "nqzkdw",
        "ticket_uuid": ticket, "occurred_at": moment,
        "data": {"id": "dro", "type": "tickets", "attributes": attributes},
    }  # fmt: skip
    return json.dumps(body).encode()


class KeepAlive(httpx.AsyncBaseTransport):
    """One HTTP/1.1 keep-alive connection for one sequential worker: h11 over asyncio streams.

    httpx's default transport (httpcore on anyio) costs several times the CPU per request and
    slows down as connections are added, so with it the client, not the servers, would be
    measured.
    """

    def __init__(self) -> None:
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.conn: Any = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on the connection (opened on first use) and read the answer."""
        if self.streams is None:
            self.streams = await asyncio.open_connection(request.url.host, request.url.port)
            self.conn = h11.Connection(h11.CLIENT)
        reader, writer = self.streams
        head = h11.Request(
            method=request.method, target=request.url.raw_path, headers=request.headers.raw
        )
        body = request.read()
        data = self.conn.send(head) + self.conn.send(h11.Data(data=body))
        writer.write(data + self.conn.send(h11.EndOfMessage()))
        await writer.drain()
        status, headers, chunks = 0, [], []
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                received = await reader.read(65536)
                if not received:
                    await self.aclose()
                    raise httpx.RemoteProtocolError("the server closed the connection")
                self.conn.receive_data(received)
            elif isinstance(event, h11.Response):
                status, headers = event.status_code, list(event.headers)
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        else:
            await self.aclose()
        return httpx.Response(status, headers=headers, content=b"".join(chunks))

    async def aclose(self) -> None:
        """Close the connection."""
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def load(url: str, seconds: float, connections: int, rate: float | None) -> dict[str, Any]:
    """Send events to ``url`` for ``seconds``: as fast as answered, or ``rate`` a second."""

    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": auth}
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    latencies: list[float] = []
    sent: dict[str, float] = {}
    stop = time.monotonic() + seconds

    async def worker(pace: float | None) -> None:
        transport = KeepAlive()
        async with httpx.AsyncClient(transport=transport, timeout=30) as client:
            while time.monotonic() < stop:
                body = event()
                began, at = time.monotonic(), time.time()
                try:
                    answer = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue
                latencies.append(time.monotonic() - began)
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                if answer.status_code == 202:
                    sent[answer.json()["job"]] = at
                if pace is not None:
                    await asyncio.sleep(max(0.0, pace - (time.monotonic() - began)))

    started = time.monotonic()
    if rate is None:
        await asyncio.gather(*(worker(None) for _ in range(connections)))
    else:
        await worker(1 / rate)
    elapsed = time.monotonic() - started
    return {"requests": len(latencies), "seconds": elapsed, "statuses": statuses,
            "errors": errors, "latencies": latencies, "sent": sent}  # fmt: skip


def run_load(
    url: str, seconds: float, connections: int, rate: float | None = None
) -> dict[str, Any]:
    """``load`` in a process of its own (so it does not share the servers' interpreter)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = out.name
    command = [sys.executable, __file__, "--load", url, "--seconds", str(seconds),
               "--connections", str(connections), "--out", path]  # fmt: skip
    if rate is not None:
        command += ["--rate", str(rate)]
    subprocess.run(command, check=True, timeout=seconds + TIMEOUT)
    result: dict[str, Any] = json.loads(Path(path).read_text())
    os.unlink(path)
    return result


# ---------------------------------------------------------------- measuring


def finished(state: Path, ids: list[str], timeout: float) -> tuple[dict[str, float], float]:
    """When each job finished (waiting for all), and how long the wait took."""
    began = time.monotonic()
    while True:
        with sqlite3.connect(state, timeout=30) as conn:
            rows = conn.execute(
                "SELECT id, finished_at FROM jobs WHERE status = 'succeeded'"
            ).fetchall()
        done = {row[0]: row[1] for row in rows if row[0] in set(ids)}
        if len(done) == len(ids) or time.monotonic() - began > timeout:
            return done, time.monotonic() - began
        time.sleep(0.05)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="one round of 3 seconds")
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_server(args.bare_server)
        return
    if args.load:
        result = asyncio.run(load(args.load, args.seconds, args.connections, args.rate))
        Path(args.out).write_text(json.dumps(result))
        return
    if args.quick:
        args.seconds, args.rounds = 3.0, 1
    bench(args.seconds, args.rounds, args.connections)


def bench(seconds: float, rounds: int, connections: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="hookline-bench-"))
    recipe = folder / "bench-intake.yaml"
    recipe.write_text(RECIPE)
    state = folder / "state.db"
    env = {**os.environ, "BENCH_WEBHOOK_PASSWORD": PASSWORD, "HOOKLINE_CONNECTIONS": ""}
    bare_port, hook_port = free_port(), free_port()
    bare_url = f"http://127.0.0.1:{bare_port}/hooks/bench-intake"
    hook_url = f"http://127.0.0.1:{hook_port}/hooks/bench-intake"
    hookline = [sys.executable, "-m", "hookline", "serve", str(recipe), "--port", str(hook_port),
                "--state", f"sqlite:///{state}", "--grace", "60"]  # fmt: skip
    best: dict[str, dict[str, Any]] = {}
    with serving([sys.executable, __file__, "--bare-server", str(bare_port)], bare_url, env) as \
            bare, serving(hookline, hook_url, env) as served:  # fmt: skip
        pids = {"bare": bare.pid, "hookline": served.pid}
        for _ in range(rounds):
            for name, url in (("bare", bare_url), ("hookline", hook_url)):
                before = cpu_seconds(pids[name])
                result = run_load(url, seconds, connections)
                if name == "hookline":  # the jobs are part of the work
                    finished(state, list(result["sent"]), TIMEOUT)
                cpu = cpu_seconds(pids[name]) - before
                rate = result["requests"] / result["seconds"]
                if name not in best or rate > best[name]["rate"]:
                    best[name] = {**result, "rate": rate, "cpu": cpu}

        paced = run_load(hook_url, max(5.0, seconds), 1, rate=20)
        done, _ = finished(state, list(paced["sent"]), TIMEOUT)
    latencies = [done[job] - at for job, at in paced["sent"].items() if job in done]
    report(best, latencies, connections, seconds, rounds)


def report(
    best: dict[str, dict[str, Any]],
    latencies: list[float],
    connections: int,
    seconds: float,
    rounds: int,
) -> None:
    print(f"# {platform.machine()} {os.cpu_count()} cores, {platform.system()} "
          f"{platform.release()}, Python {platform.python_version()}")  # fmt: skip
    print(f"# {rounds} rounds of {seconds:g}s, {connections} connections, best round shown\n")
    print("| endpoint | requests | requests/s | vs bare | p50 ms | p99 ms | server CPU ms "
          "per request | statuses |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    base = best["bare"]["rate"]
    for name in ("bare", "hookline"):
        row = best[name]
        ms = [1000 * v for v in row["latencies"]]
        said = [f"{k}: {v}" for k, v in sorted(row["statuses"].items())]
        said += [f"{k}: {v}" for k, v in sorted(row["errors"].items())]
        cpu = 1000 * row["cpu"] / max(1, row["requests"])
        print(f"| {name} | {row['requests']:,} | {row['rate']:,.0f} | {row['rate'] / base:.2f}x "
              f"| {percentile(ms, 0.5):.1f} | {percentile(ms, 0.99):.1f} | {cpu:.2f} | "
              f"{', '.join(said)} |")  # fmt: skip
    ms = [1000 * v for v in latencies]
    print(f"\nevent-to-job-done, 20 events a second, {len(ms)} events: p50 "
          f"{percentile(ms, 0.5):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, p99 "
          f"{percentile(ms, 0.99):.1f} ms, mean {statistics.fmean(ms):.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
