"""Benchmark: reading a paginated list with hookline, against hand-written httpx loops.

Run by hand, never by the test suite (it needs nginx: ``apt-get install -y nginx-light``)::

    .venv/bin/python bench/paginate.py             # the full run, about seven minutes
    .venv/bin/python bench/paginate.py --quick     # 20,000 records, one round, no 1M run

Pre-built pages of about 1 KB records are served by nginx on 127.0.0.1, so the server costs
almost nothing and the clients are what is measured. Each variant runs in a subprocess of its
own; its peak RSS comes from ``os.wait4``. Each table row is the fastest of several interleaved
rounds (the machine may be shared: compare ratios within one run), with the CPU time the client
spent, which other load on the machine disturbs less than the wall clock. Variants, all reading
with offset/limit until the total in ``meta.total``:

- ``httpx-async``: a hand-written ``httpx.AsyncClient`` loop with ``response.json()``
  (the baseline every ratio is against);
- ``httpx-sync``: a plain ``httpx.Client`` loop with the standard ``json`` module;
- ``hookline-api``: ``hookline.actions.call.iter_records`` over the offset paginator;
- ``hookline-cli``: ``hookline call bench.list_records``, JSON lines read from its stdout
  (its time includes starting the interpreter and the command).

A second server, a small asyncio one that answers each page after 50 ms, measures
``concurrency: 4`` against the same paginator one page at a time. Everything listens on
127.0.0.1 only; every subprocess has a timeout and the whole run a deadline, after which it
stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pages
from pages import ROUTE, machine, nginx, wait_rusage

HERE = Path(__file__).resolve().parent
DELAY = 0.05
SUBPROCESS_TIMEOUT = 300.0

SPEC = """\
spec: hookline/v1
name: bench
title: Benchmark pages
connection:
  fields:
    url: {{type: string, description: The page server}}
  required: [url]
  base_url: "{{{{ connection.url }}}}"
actions:
  list_records:
    title: List the records
    request: {{method: GET, path: {route}}}
    paginate: {{type: offset, page_size: {size}, total: meta.total, concurrency: {concurrency}}}
    output: {{records: data}}
"""

PLUGIN = """\
import os
from hookline import hookimpl

@hookimpl
def register_connectors():
    return [os.environ["HOOKLINE_BENCH_SPEC"]]
"""


# ---------------------------------------------------------------- pages


def record(i: int) -> dict[str, Any]:
    """One record of about 1 KB, shaped like a ticket of a real platform."""
    return {
        "id": i,
        "uuid": f"{i:08x}-7c1e-4b6a-9f3d-{i * 7919 % 10**12:012d}",
        "subject": f"Door {i % 97} on floor {i % 13} does not close",
        "status": ["open", "in_progress", "resolved", "closed"][i % 4],
        "priority": i % 3 + 1,
        "created_at": f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
        "assignee": {"id": i % 50, "name": f"Technician {i % 50}", "email": f"tech{i % 50}@x.test"},
        "tags": ["facilities", f"building-{i % 7}", f"zone-{i % 11}"],
        "location": {"x": (i * 37) % 1000 / 10, "y": (i * 53) % 1000 / 10},
        "description": ("The access-control door does not latch after the last inspection. " * 10)
        + str(i),
    }


def write_pages(root: Path, total: int, size: int) -> Path:
    """Write every page of ``total`` records as ``root/pages/SIZE/OFFSET.json``."""
    return pages.write_pages(root, total, size, record)


# ---------------------------------------------------------------- servers


async def serve_delayed(root: Path, delay: float, lifetime: float) -> None:
    """Serve the pages below ``root``, each answer ``delay`` seconds late; print the port.

    Keeps connections alive like a real server, answers concurrent requests concurrently,
    and exits after ``lifetime`` seconds or when its stdin closes.
    """
    cache: dict[tuple[str, str], bytes] = {}

    def body(target: bytes) -> bytes | None:
        query = parse_qs(urlsplit(target.decode("ascii")).query)
        key = (query.get("limit", [""])[0], query.get("offset", [""])[0])
        if not all(part.isdigit() for part in key):
            return None
        if key not in cache:
            path = root / "pages" / key[0] / f"{key[1]}.json"
            if not path.exists():
                return None
            cache[key] = path.read_bytes()
        return cache[key]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                found = body(head.split(b" ", 2)[1])
                await asyncio.sleep(delay)
                if found is None:
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                else:
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(found), found)
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    closed = loop.run_in_executor(None, sys.stdin.read)
    await asyncio.wait([asyncio.ensure_future(closed)], timeout=lifetime)
    server.close()
    os._exit(0)  # the stdin reader thread cannot be joined


@contextmanager
def delayed_server(root: Path) -> Iterator[str]:
    """The 50 ms-per-page server in a subprocess of its own; yield its base URL."""
    process = subprocess.Popen(
        [sys.executable, __file__, "serve-delayed", str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------- the clients (worker side)


async def httpx_async(url: str, size: int) -> int:
    """The baseline: what a person writes with httpx.AsyncClient."""
    import httpx

    count = offset = 0
    async with httpx.AsyncClient(base_url=url) as client:
        while True:
            response = await client.get(ROUTE, params={"offset": offset, "limit": size})
            response.raise_for_status()
            body = response.json()
            for _ in body["data"]:
                count += 1
            offset += len(body["data"])
            if not body["data"] or offset >= body["meta"]["total"]:
                return count


def httpx_sync(url: str, size: int) -> int:
    """A plain synchronous loop: httpx.Client and the standard json module."""
    import httpx

    count = offset = 0
    with httpx.Client(base_url=url) as client:
        while True:
            response = client.get(ROUTE, params={"offset": offset, "limit": size})
            response.raise_for_status()
            body = json.loads(response.content)
            for _ in body["data"]:
                count += 1
            offset += len(body["data"])
            if not body["data"] or offset >= body["meta"]["total"]:
                return count


def hookline_api(url: str, size: int, concurrency: int) -> Callable[[], Awaitable[int]]:
    """hookline's Python API, set up (catalog, spec): reading through ``iter_records``."""
    from hookline.actions.call import iter_records
    from hookline.http.connection import Connection
    from hookline.plugins.manager import get_plugin_manager
    from hookline.spec.catalog import Catalog

    catalog = Catalog(get_plugin_manager(entry_points=False))
    text = SPEC.format(route=ROUTE, size=size, concurrency=concurrency)
    spec = catalog.load_spec(Path("bench.yaml"), text=text)

    async def read() -> int:
        count = 0
        async with Connection(spec, {"url": url}, expressions=catalog.expressions) as connection:
            async for _ in iter_records(connection, "list_records"):
                count += 1
        return count

    return read


def worker(variant: str, url: str, size: int, concurrency: int) -> None:
    """Run one client once; print how many records it read and how long the reading took.

    Imports and set-up (hookline's catalog and spec) come before the clock starts, for every
    variant alike: what is timed is opening the client and reading every page.
    """
    import httpx  # noqa: F401  (imported before timing, as hookline's modules are)

    read = hookline_api(url, size, concurrency) if variant == "hookline-api" else None
    start, cpu = time.perf_counter(), time.process_time()
    if variant == "httpx-async":
        count = asyncio.run(httpx_async(url, size))
    elif variant == "httpx-sync":
        count = httpx_sync(url, size)
    else:
        assert read is not None
        count = asyncio.run(read())
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"records": count, "seconds": seconds, "cpu": cpu}))


# ---------------------------------------------------------------- the runs (parent side)


@dataclass(frozen=True)
class Result:
    """One run of one variant."""

    variant: str
    records: int
    seconds: float
    peak_rss_mib: float
    cpu: float

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.records / self.seconds


def run_worker(variant: str, url: str, size: int, concurrency: int, expected: int) -> Result:
    """One client run in a subprocess of its own."""
    command = [sys.executable, __file__, "worker", variant, url, str(size), str(concurrency)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = process.stdout.read()
    status, rss, _ = wait_rusage(process, time.monotonic() + SUBPROCESS_TIMEOUT)
    if status != 0:
        raise SystemExit(f"{variant} failed with exit status {status}")
    report = json.loads(output)
    check(variant, report["records"], expected)
    return Result(variant, report["records"], report["seconds"], rss, report["cpu"])


def run_cli(root: Path, url: str, size: int, expected: int, *, dry_run: bool = False) -> Result:
    """``hookline call`` in a subprocess; JSON lines counted as they arrive on its stdout.

    With ``dry_run`` the call renders its first request and sends nothing: its time is what
    every call pays before reading (the interpreter, imports, plugins, catalog, connections).
    """
    spec = root / f"cli-{size}" / "bench.yaml"  # named for its connector, as specs are
    spec.parent.mkdir(exist_ok=True)
    spec.write_text(SPEC.format(route=ROUTE, size=size, concurrency=1))
    (root / "hookline_bench_plugin.py").write_text(PLUGIN)
    connections = root / "connections.yaml"
    connections.write_text(f"bench:\n  connector: bench\n  url: {url}\n")
    connections.chmod(0o600)
    arguments = ["--plugin", "hookline_bench_plugin", "call", "bench.list_records"]
    arguments += ["--connections", str(connections), *(["--dry-run"] if dry_run else [])]
    environment = {
        **os.environ,
        "HOOKLINE_BENCH_SPEC": str(spec),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    start = time.perf_counter()
    process = subprocess.Popen(
        hookline_command() + arguments, stdout=subprocess.PIPE, env=environment
    )
    assert process.stdout is not None
    lines = 0
    while chunk := process.stdout.read(1 << 20):
        lines += chunk.count(b"\n")
    status, rss, cpu = wait_rusage(process, time.monotonic() + SUBPROCESS_TIMEOUT)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"hookline call failed with exit status {status}")
    if dry_run:
        return Result("hookline-cli start-up", 0, seconds, rss, cpu)
    check("hookline-cli", lines, expected)
    return Result("hookline-cli", lines, seconds, rss, cpu)


WIRING = """
import sys, types, click
from hookline.spec.catalog import Catalog
from hookline.cli.call import call
from hookline.plugins.manager import get_plugin_manager

@click.group()
@click.option("--plugin", "plugins", multiple=True)
@click.pass_context
def main(ctx, plugins):
    ctx.obj = types.SimpleNamespace(catalog=Catalog(get_plugin_manager(plugins)), debug=False)

main.add_command(call)
main(prog_name="hookline")
"""


@functools.cache
def hookline_command() -> list[str]:
    """The ``hookline`` console script, or, where its ``call`` cannot run yet, the ``call``
    command under a minimal group that does what the script's group does for it."""
    script = str(Path(sys.executable).with_name("hookline"))
    probe = subprocess.run([script, "call", "--help"], capture_output=True, check=False)
    if probe.returncode == 0:
        return [script]
    print("note: `hookline call` is not available; running the call command directly\n")
    return [sys.executable, "-c", WIRING]


def check(variant: str, records: int, expected: int) -> None:
    """A variant that read the wrong number of records measured nothing."""
    if records != expected:
        raise SystemExit(f"{variant} read {records} records, expected {expected}")


def best(results: list[Result]) -> Result:
    """The fastest of several runs of one variant, with the highest peak RSS seen."""
    fastest = min(results, key=lambda r: r.seconds)
    return replace(fastest, peak_rss_mib=max(r.peak_rss_mib for r in results))


def table(title: str, results: list[Result], baseline: str) -> str:
    """A Markdown table of ``results`` with ratios against ``baseline``."""
    base = next(r for r in results if r.variant == baseline)
    lines = [
        f"#### {title}",
        "",
        f"| variant | records | seconds | records/s | vs {baseline} | CPU s | peak RSS MiB "
        f"| RSS vs {baseline} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.variant} | {r.records:,} | {r.seconds:.2f} | {r.rate:,.0f} | "
            f"{r.rate / base.rate:.2f}x | {r.cpu:.2f} | {r.peak_rss_mib:.0f} | "
            f"{r.peak_rss_mib / base.peak_rss_mib:.2f}x |"
        )
    return "\n".join(lines)


@dataclass
class Run:
    """The results so far and the checks against the targets."""

    deadline: float
    targets: list[str] = field(default_factory=list)

    def in_time(self) -> bool:
        """Whether there is time left for another scenario."""
        return time.monotonic() < self.deadline

    def target(self, what: str, value: float, goal: float) -> None:
        """Record one target: ``value`` must reach at least ``goal``."""
        verdict = "met" if value >= goal else "MISSED"
        self.targets.append(f"- {what}: {value:.2f} (target {goal:g}) — {verdict}")


def read_scenario(
    run: Run, root: Path, url: str, size: int, total: int, rounds: int
) -> list[Result]:
    """Every variant reading ``total`` records of ``size`` per page, best of ``rounds``."""
    runs: dict[str, list[Result]] = {}
    for _ in range(rounds):
        if not run.in_time():
            raise SystemExit("the deadline passed; stopping")
        for variant in ("httpx-async", "httpx-sync", "hookline-api"):
            runs.setdefault(variant, []).append(run_worker(variant, url, size, 1, total))
        runs.setdefault("hookline-cli", []).append(run_cli(root, url, size, total))
        runs.setdefault("start-up", []).append(run_cli(root, url, size, 0, dry_run=True))
    startup = best(runs.pop("start-up"))
    results = [best(r) for r in runs.values()]
    cli = results[-1]
    results.append(
        replace(
            cli,
            variant="hookline-cli, less start-up",
            seconds=cli.seconds - startup.seconds,
            cpu=cli.cpu - startup.cpu,
        )
    )
    print(table(f"{total:,} records, page size {size}", results, "httpx-async"))
    print(f"\nhookline call start-up (a --dry-run call): {startup.seconds:.2f} s\n", flush=True)
    rate = {r.variant: r.rate for r in results}
    rss = {r.variant: r.peak_rss_mib for r in results}
    for variant in ("hookline-api", "hookline-cli", "hookline-cli, less start-up"):
        run.target(
            f"page size {size}: {variant} records/s vs httpx-async",
            rate[variant] / rate["httpx-async"],
            0.9,
        )
        run.target(
            f"page size {size}: {variant} records/s vs httpx-sync",
            rate[variant] / rate["httpx-sync"],
            1.0,
        )
    for variant in ("hookline-api", "hookline-cli"):
        run.target(
            f"page size {size}: httpx-async peak RSS / {variant} peak RSS x 1.5",
            1.5 * rss["httpx-async"] / rss[variant],
            1.0,
        )
    return results


def main(arguments: argparse.Namespace) -> None:
    """Every scenario, within the deadline; the tables and the targets on stdout."""
    run = Run(time.monotonic() + arguments.deadline)
    sizes = [int(s) for s in arguments.sizes.split(",")]
    total = arguments.records
    print(f"machine: {machine()}\n", flush=True)
    root = Path(tempfile.mkdtemp(prefix="hookline-bench-"))
    try:
        for size in sizes:
            write_pages(root, total, size)
        with nginx(root) as url:
            by_size = {
                size: read_scenario(run, root, url, size, total, arguments.rounds) for size in sizes
            }
        if arguments.million and run.in_time():
            million, size = 1_000_000, max(sizes)
            write_pages(root / "million", million, size)
            with nginx(root / "million") as url:
                results = [
                    run_worker("httpx-async", url, size, 1, million),
                    run_worker("hookline-api", url, size, 1, million),
                    run_cli(root / "million", url, size, million),
                ]
            print(table(f"{million:,} records, page size {size}", results, "httpx-async"))
            print(f"\nPeak RSS, {total:,} against {million:,} records (page size {size}):\n")
            print(f"| variant | {total:,} | {million:,} | ratio |\n|---|---:|---:|---:|")
            small = {r.variant: r.peak_rss_mib for r in by_size[size]}
            for r in results:
                ratio = r.peak_rss_mib / small[r.variant]
                print(
                    f"| {r.variant} | {small[r.variant]:.0f} | {r.peak_rss_mib:.0f} | "
                    f"{ratio:.2f}x |"
                )
                if r.variant.startswith("hookline"):
                    run.target(
                        f"{r.variant}: peak RSS at 100k / peak RSS at 1M x 1.1", 1.1 / ratio, 1.0
                    )
            print(flush=True)
        if run.in_time():
            delayed = arguments.delayed_records
            write_pages(root / "slow", delayed, 100)
            with delayed_server(root / "slow") as url:
                sequential = run_worker("hookline-api", url, 100, 1, delayed)
                concurrent = run_worker("hookline-api", url, 100, 4, delayed)
            results = [
                replace(sequential, variant="hookline-api, concurrency 1"),
                replace(concurrent, variant="hookline-api, concurrency 4"),
            ]
            print(
                table(
                    f"{delayed:,} records, page size 100, 50 ms per page",
                    results,
                    "hookline-api, concurrency 1",
                )
            )
            run.target(
                "50 ms per page: concurrency 4 vs concurrency 1",
                sequential.seconds / concurrent.seconds,
                3.0,
            )
        print("\nTargets:\n" + "\n".join(run.targets))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def parse() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="records per list")
    parser.add_argument("--sizes", default="100,1000", help="page sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=5, help="runs per variant; the best counts")
    parser.add_argument(
        "--delayed-records",
        type=int,
        default=10_000,
        help="records read from the 50 ms-per-page server",
    )
    parser.add_argument(
        "--no-million", dest="million", action="store_false", help="skip the 1,000,000-record run"
    )
    parser.add_argument("--deadline", type=float, default=900, help="seconds for the whole run")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.records, arguments.rounds, arguments.million = 20_000, 1, False
        arguments.delayed_records = 2_000
    return arguments


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "serve-delayed":
        asyncio.run(serve_delayed(Path(sys.argv[2]), DELAY, SUBPROCESS_TIMEOUT * 2))
    else:
        main(parse())
