"""Benchmark: ``hookline call`` reading a mapped list, against the loops a person would write.

Run by hand, never by the test suite (it needs nginx: ``apt-get install -y nginx-light``)::

    .venv/bin/python bench/read_speed.py             # the full run, about fifteen minutes
    .venv/bin/python bench/read_speed.py --quick     # 20,000 records, two rounds, no 1M run

Every variant is a whole process, measured from its start to its exit as a user meets it
(interpreter, imports, reading, writing JSON lines to a pipe the benchmark counts): wall
clock, CPU time and peak RSS (``os.wait4``). Pages of Argus-shaped case records (``id``,
``subject``, ``status``, ``priority``, ``customer{shortName, ...}`` and some bulk, about 1 KB
each) are served by nginx on 127.0.0.1 (``bench/pages.py``). Each reads ``offset``/``limit``
pages until ``meta.total`` and writes one JSON line per record, mapped to five fields:

- ``hookline``: ``hookline call bench.list_cases``, the action's ``output.select`` being
  ``{case_id: id, title: subject, state: status, severity: priority, customer:
  customer.shortName}`` over ``records: data``, on a spec already in the spec cache;
- ``sync-json``: an ``httpx.Client`` loop with the standard ``json`` module, mapping each
  record with a dict display (the baseline of the targets);
- ``sync-orjson``: the same loop with ``orjson``;
- ``async-json``: an ``httpx.AsyncClient`` loop with the standard ``json`` module.

Variants run in turn within a round, the order rotating from round to round; a ratio is
taken within each round and the median of those paired ratios reported, so that load on a
shared machine moves both sides of a ratio alike. Start-up is measured the same way:
``hookline --version`` and ``hookline call --dry-run`` (the cached spec) against
``python -c 'import httpx'``. Subprocesses run with bytecode written and read, as after an
install (``PYTHONDONTWRITEBYTECODE`` is dropped, and one untimed run of each comes first).
Everything listens on 127.0.0.1 only; every subprocess has a timeout and the whole run a
deadline, after which it stops by itself.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pages import ROUTE, machine, nginx, wait_rusage, write_pages

SUBPROCESS_TIMEOUT = 600.0
SELECT = (
    "{case_id: id, title: subject, state: status, severity: priority, customer: customer.shortName}"
)
SPEC = f"""\
spec: hookline/v1
name: bench
title: Benchmark pages
connection:
  fields:
    url: {{type: string, description: The page server}}
  required: [url]
  base_url: "{{{{ connection.url }}}}"
actions:
  list_cases:
    title: List the cases
    request: {{method: GET, path: {ROUTE}}}
    paginate: {{type: offset, page_size: SIZE, total: meta.total}}
    output:
      records: data
      select: "{SELECT}"
"""

PLUGIN = """\
import os
from hookline import hookimpl

@hookimpl
def register_connectors():
    return [os.environ["HOOKLINE_BENCH_SPEC"]]
"""

LOOP = """\
import sys
import httpx
import {json}

def mapped(case):
    return {{
        "case_id": case["id"],
        "title": case["subject"],
        "state": case["status"],
        "severity": case["priority"],
        "customer": case["customer"]["shortName"],
    }}

url, size, out = sys.argv[1], int(sys.argv[2]), sys.stdout.buffer
offset = 0
with httpx.Client(base_url=url) as client:
    while True:
        response = client.get("{route}", params={{"offset": offset, "limit": size}})
        response.raise_for_status()
        body = {json}.loads(response.content)
        data = body["data"]
        out.write({lines})
        offset += len(data)
        if not data or offset >= body["meta"]["total"]:
            break
"""

ASYNC_LOOP = """\
import asyncio
import json
import sys
import httpx

def mapped(case):
    return {{
        "case_id": case["id"],
        "title": case["subject"],
        "state": case["status"],
        "severity": case["priority"],
        "customer": case["customer"]["shortName"],
    }}

async def main(url, size, out):
    offset = 0
    async with httpx.AsyncClient(base_url=url) as client:
        while True:
            response = await client.get("{route}", params={{"offset": offset, "limit": size}})
            response.raise_for_status()
            body = json.loads(response.content)
            data = body["data"]
            out.write("".join(json.dumps(mapped(case)) + "\\n" for case in data).encode())
            offset += len(data)
            if not data or offset >= body["meta"]["total"]:
                return

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.stdout.buffer))
"""

LOOPS = {
    "sync-json": LOOP.format(
        json="json",
        route=ROUTE,
        lines='"".join(json.dumps(mapped(case)) + "\\n" for case in data).encode()',
    ),
    "sync-orjson": LOOP.format(
        json="orjson",
        route=ROUTE,
        lines='b"".join(orjson.dumps(mapped(case)) + b"\\n" for case in data)',
    ),
    "async-json": ASYNC_LOOP.format(route=ROUTE),
}
VARIANTS = ("hookline", *LOOPS)
BASELINE = "sync-json"


def record(i: int) -> dict[str, Any]:
    """One case of about 1 KB, shaped like an Argus case."""
    return {
        "id": i,
        "subject": f"Suspicious login for user {i % 997} from a new country",
        "status": ["pendingCustomer", "pendingSoc", "workingSoc", "closed"][i % 4],
        "priority": ["low", "medium", "high", "critical"][i % 4],
        "customer": {
            "id": i % 40,
            "name": f"Customer {i % 40} AS",
            "shortName": f"cust{i % 40}",
            "domain": {"id": 1, "name": "mnemonic"},
        },
        "service": {"id": 2, "name": "Security Monitoring", "shortName": "ids"},
        "category": {"id": 5, "name": "Unauthorized access", "shortName": "unauthorized-access"},
        "type": "securityIncident",
        "createdTimestamp": 1767225600000 + i * 1000,
        "lastUpdatedTimestamp": 1767225600000 + i * 2000,
        "tags": [{"key": "source", "value": "argus"}, {"key": "zone", "value": f"z{i % 11}"}],
        "description": "An analyst reviewed the alerts and found a login that does not match "
        "the user's pattern. " * 5 + str(i),
    }


# ---------------------------------------------------------------- running one process


@dataclass(frozen=True)
class Result:
    """One process: what it did and what it cost."""

    variant: str
    records: int
    seconds: float
    cpu: float
    peak_rss_mib: float

    @property
    def rate(self) -> float:
        """Records per second, by the wall clock."""
        return self.records / self.seconds


def environment(root: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every subprocess: bytecode on, hookline's state and cache in root."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        HOOKLINE_STATE=str(root / "state.db"),
        HOOKLINE_CACHE_DIR=str(root / "cache"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    )
    return {**env, **(extra or {})}


def measure(variant: str, command: Sequence[str], env: dict[str, str], expected: int) -> Result:
    """Run ``command`` to its end; count the lines of its stdout; its costs."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
    assert process.stdout is not None
    lines = 0
    while chunk := process.stdout.read(1 << 20):
        lines += chunk.count(b"\n")
    status, rss, cpu = wait_rusage(process, time.monotonic() + SUBPROCESS_TIMEOUT)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{variant} failed with exit status {status}")
    if expected >= 0 and lines != expected:
        raise SystemExit(f"{variant} wrote {lines} lines, expected {expected}")
    return Result(variant, lines, seconds, cpu, rss)


@dataclass(frozen=True)
class Setup:
    """What the processes of one run share."""

    root: Path
    url: str
    python: str
    hookline: str

    def spec(self, size: int) -> Path:
        """The spec file for pages of ``size`` records (named for its connector)."""
        spec = self.root / f"spec-{size}" / "bench.yaml"
        spec.parent.mkdir(exist_ok=True)
        spec.write_text(SPEC.replace("SIZE", str(size)))
        return spec

    def hookline_call(self, size: int, *extra: str) -> tuple[list[str], dict[str, str]]:
        """``hookline call bench.list_cases`` and its environment."""
        command = [self.hookline, "--plugin", "hookline_bench_plugin", "call", "bench.list_cases"]
        command += ["--connections", str(self.root / "connections.yaml"), *extra]
        return command, environment(self.root, {"HOOKLINE_BENCH_SPEC": str(self.spec(size))})

    def run(self, variant: str, size: int, expected: int) -> Result:
        """One process of ``variant`` reading every record in pages of ``size``."""
        if variant == "hookline":
            command, env = self.hookline_call(size)
        else:
            command = [self.python, "-c", LOOPS[variant], self.url, str(size)]
            env = environment(self.root)
        return measure(variant, command, env, expected)


def prepare(root: Path, url: str) -> Setup:
    """The plugin, the connections file, and the interpreter and command to run."""
    (root / "hookline_bench_plugin.py").write_text(PLUGIN)
    connections = root / "connections.yaml"
    connections.write_text(f"bench:\n  connector: bench\n  url: {url}\n")
    connections.chmod(0o600)
    python = sys.executable
    return Setup(root, url, python, str(Path(python).with_name("hookline")))


# ---------------------------------------------------------------- scenarios


@dataclass
class Run:
    """The deadline, and the verdicts on the targets so far."""

    deadline: float
    verdicts: list[str]

    def check_time(self) -> None:
        """Stop the run once its deadline has passed."""
        if time.monotonic() > self.deadline:
            raise SystemExit("the deadline passed; stopping")

    def target(self, what: str, value: float, goal: float, *, at_most: bool = False) -> None:
        """Record whether ``value`` reaches ``goal`` (at least, or ``at_most``)."""
        met = value <= goal if at_most else value >= goal
        bound = "at most" if at_most else "at least"
        verdict = "met" if met else "MISSED"
        self.verdicts.append(f"- {what}: {value:.2f} (target: {bound} {goal:g}) — {verdict}")


def rotated(items: Sequence[str], turn: int) -> list[str]:
    """``items`` starting from the ``turn``-th, so that no variant always runs first."""
    turn %= len(items)
    return [*items[turn:], *items[:turn]]


def median_of_pairs(rounds: list[dict[str, Result]], variant: str, base: str) -> dict[str, float]:
    """The median over rounds of ``variant``'s ratios to ``base`` in the same round.

    ``speed``: records per second by the wall clock (base's seconds over variant's); ``cpu``:
    base's CPU seconds over variant's (above 1: the variant spends less); ``rss``: variant's
    peak RSS over base's (below 1: the variant holds less).
    """
    return {
        "speed": statistics.median(r[base].seconds / r[variant].seconds for r in rounds),
        "cpu": statistics.median(r[base].cpu / r[variant].cpu for r in rounds),
        "rss": statistics.median(r[variant].peak_rss_mib / r[base].peak_rss_mib for r in rounds),
    }


def read_table(title: str, rounds: list[dict[str, Result]]) -> str:
    """Each variant's median figures and its paired ratios against the baseline."""
    lines = [
        f"#### {title}",
        "",
        f"| variant | seconds | records/s | CPU s | peak RSS MiB | speed vs {BASELINE} "
        f"| CPU vs {BASELINE} | RSS vs {BASELINE} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for variant in rounds[0]:
        runs = [r[variant] for r in rounds]
        seconds = statistics.median(r.seconds for r in runs)
        ratios = median_of_pairs(rounds, variant, BASELINE)
        lines.append(
            f"| {variant} | {seconds:.2f} | {runs[0].records / seconds:,.0f} | "
            f"{statistics.median(r.cpu for r in runs):.2f} | "
            f"{max(r.peak_rss_mib for r in runs):.0f} | {ratios['speed']:.2f}x | "
            f"{ratios['cpu']:.2f}x | {ratios['rss']:.2f}x |"
        )
    if len(rounds) > 1:
        lines.append(
            f"\nMedians of {len(rounds)} interleaved rounds; ratios are medians of the "
            "ratios within each round."
        )
    return "\n".join(lines)


def read_scenario(
    run: Run, setup: Setup, size: int, total: int, rounds: int, variants: Sequence[str]
) -> list[dict[str, Result]]:
    """``rounds`` rounds of every variant reading ``total`` records in pages of ``size``."""
    results = []
    for turn in range(rounds):
        run.check_time()
        found = {v: setup.run(v, size, total) for v in rotated(variants, turn)}
        results.append({v: found[v] for v in variants})
    return results


def startup(run: Run, setup: Setup, rounds: int) -> None:
    """``hookline --version`` and ``hookline call --dry-run`` against ``import httpx``."""
    dry, dry_env = setup.hookline_call(1000, "--dry-run")
    commands = {
        "python -c 'import httpx'": ([setup.python, "-c", "import httpx"], environment(setup.root)),
        "hookline --version": ([setup.hookline, "--version"], environment(setup.root)),
        "hookline call --dry-run": (dry, dry_env),
    }
    for command, env in commands.values():  # bytecode written, the spec cached
        measure("warm-up", command, env, -1)
    found: list[dict[str, Result]] = []
    for turn in range(rounds):
        run.check_time()
        order = rotated(list(commands), turn)
        by_name = {name: measure(name, *commands[name], -1) for name in order}
        found.append({name: by_name[name] for name in commands})
    base = "python -c 'import httpx'"
    print("#### Start-up\n")
    print(
        "| command | seconds | CPU s | peak RSS MiB | time vs import httpx | CPU vs import httpx |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name in commands:
        seconds = statistics.median(r[name].seconds for r in found)
        cpu = statistics.median(r[name].cpu for r in found)
        rss = max(r[name].peak_rss_mib for r in found)
        ratio = statistics.median(r[name].seconds / r[base].seconds for r in found)
        cpu_ratio = statistics.median(r[name].cpu / r[base].cpu for r in found)
        print(
            f"| {name} | {seconds:.3f} | {cpu:.3f} | {rss:.0f} | {ratio:.2f}x | {cpu_ratio:.2f}x |"
        )
        if name == "hookline --version":
            run.target(
                "start-up: hookline --version / import httpx (time)", ratio, 1.5, at_most=True
            )
        elif name == "hookline call --dry-run":
            run.target("start-up: hookline call / import httpx (time)", ratio, 2.5, at_most=True)
    print(f"\nMedians of {rounds} interleaved rounds; ratios are medians of paired ratios.\n")


def main(arguments: argparse.Namespace) -> None:
    """Every scenario, within the deadline; the tables and the verdicts on stdout."""
    run = Run(time.monotonic() + arguments.deadline, [])
    sizes = [int(s) for s in arguments.sizes.split(",")]
    total = arguments.records
    print(f"machine: {machine()}\n", flush=True)
    root = Path(tempfile.mkdtemp(prefix="hookline-read-"))
    try:
        for size in sizes:
            write_pages(root, total, size, record)
        by_size = {}
        with nginx(root) as url:
            setup = prepare(root, url)
            for variant in VARIANTS:  # untimed: bytecode written, the spec cached
                setup.run(variant, max(sizes), total)
            startup(run, setup, arguments.startup_rounds)
            for size in sizes:
                rounds = read_scenario(run, setup, size, total, arguments.rounds, VARIANTS)
                by_size[size] = rounds
                print(read_table(f"{total:,} records, page size {size}", rounds) + "\n", flush=True)
                ratios = median_of_pairs(rounds, "hookline", BASELINE)
                goal = 0.95 if size >= 1000 else 0.65
                run.target(f"page size {size}: hookline speed / {BASELINE}", ratios["speed"], goal)
                run.target(
                    f"page size {size}: hookline peak RSS / {BASELINE}",
                    ratios["rss"],
                    1.5,
                    at_most=True,
                )
        if arguments.million:
            run.check_time()
            million, size = 1_000_000, max(sizes)
            write_pages(root / "million", million, size, record)
            with nginx(root / "million") as url:
                setup = prepare(root / "million", url)
                found = {v: setup.run(v, size, million) for v in ("hookline", BASELINE)}
            print(read_table(f"{million:,} records, page size {size}, one round", [found]))
            small = {v: max(r[v].peak_rss_mib for r in by_size[size]) for v in found}
            print(f"\nPeak RSS, {total:,} against {million:,} records (page size {size}):\n")
            print(f"| variant | {total:,} | {million:,} | ratio |\n|---|---:|---:|---:|")
            for variant, result in found.items():
                ratio = result.peak_rss_mib / small[variant]
                peak = result.peak_rss_mib
                print(f"| {variant} | {small[variant]:.0f} | {peak:.0f} | {ratio:.2f}x |")
            print(flush=True)
            growth = found["hookline"].peak_rss_mib / small["hookline"]
            run.target("hookline peak RSS, 1M records / 100k records", growth, 1.1, at_most=True)
            run.target(
                f"1M records: hookline speed / {BASELINE}",
                found[BASELINE].seconds / found["hookline"].seconds,
                0.95,
            )
        print("Targets:\n" + "\n".join(run.verdicts))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def parse() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="records per list")
    parser.add_argument("--sizes", default="100,1000", help="page sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per page size")
    parser.add_argument(
        "--startup-rounds", type=int, default=15, help="interleaved rounds of the start-up"
    )
    parser.add_argument(
        "--no-million", dest="million", action="store_false", help="skip the 1,000,000-record run"
    )
    parser.add_argument("--deadline", type=float, default=2400, help="seconds for the whole run")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.records, arguments.rounds, arguments.million = 20_000, 2, False
        arguments.startup_rounds = 5
    return arguments


if __name__ == "__main__":
    main(parse())
