"""Processes sharing one state store: real ``hookline`` subprocesses against sandboxes on loopback.

Each sandbox is served in this process behind ``Logged``, which keeps the sandbox's own log of
what it answered (arrival time, method, path, status), so the tests count what the platform
saw: requests per window, refusals, logins.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hookline.run.connections import write_connections
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog
from tests.test_store import POSTGRES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass
class Logged:
    """An ASGI app with a log of every HTTP exchange: (arrival, method, path, status)."""

    app: Any
    log: list[tuple[float, str, str, int]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = time.time()
        status: list[int] = []

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, sending)
        self.log.append((arrived, scope["method"], scope["path"], status[0] if status else 0))

    def statuses(self) -> list[int]:
        return [entry[3] for entry in self.log]


def hookline(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``hookline ARGS`` as a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "hookline", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def most_in(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max((sum(1 for t in ordered if s <= t < s + window) for s in ordered), default=0)


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    """The environment of the processes: one state store, one connections file."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOOKLINE_")}
    env["HOOKLINE_STATE"] = str(tmp_path / "state.db")
    env["HOOKLINE_CONNECTIONS"] = str(tmp_path / "connections.yaml")
    return env


# ---------------------------------------------------------------- one PlanRadar budget

WINDOW = 10.0
"""The sandbox's window, shortened from a minute so that the test takes seconds."""

BURST = """\
recipe: burst
connections:
  planradar: planradar
trigger:
  manual: {}
vars:
  reads: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
          24, 25]
steps:
  - id: reads
    for_each: "{{ vars.reads }}"
    concurrency: 4
    steps:
      - action: planradar.get_project
        with: {project_id: nqzkdw}
"""


@pytest.fixture
def planradar(catalog: Catalog, environ: dict[str, str]) -> Iterator[Logged]:
    """One PlanRadar sandbox allowing 30 calls per 10 s (five minutes' cooldown past it)."""
    box = catalog.sandboxes["planradar"]
    logged = Logged(box.create_app(rate_limit=30, rate_window=WINDOW))
    with running(logged) as url:
        values = {
            "connector": "planradar",
            **box.connection(url),
            "rate_limit": {"requests": 30, "per": WINDOW},
        }
        write_connections(environ["HOOKLINE_CONNECTIONS"], {"planradar": values})
        yield logged


def test_three_processes_keep_within_one_planradar_budget(
    planradar: Logged, environ: dict[str, str], tmp_path: Path
) -> None:
    recipe = tmp_path / "burst.yaml"
    recipe.write_text(BURST)
    call = "planradar.get_project -i project_id=nqzkdw"
    loop = f"for i in $(seq 10); do {sys.executable} -m hookline call {call} || exit 1; done"
    processes = [
        hookline("run", str(recipe), "--json", env=environ),
        hookline("run", str(recipe), "--json", env=environ),
        subprocess.Popen(
            ["sh", "-c", loop],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
    ]
    results = [finished(process) for process in processes]
    for code, out, err in results:
        assert code == 0, (out, err)

    api = [entry for entry in planradar.log if entry[2].startswith("/api/")]
    assert len(api) == 60
    assert planradar.statuses().count(429) == 0
    assert most_in([entry[0] for entry in api], WINDOW) <= 30
    assert not planradar.app.state.sandbox.limiter.cooldown_until  # never overshot
    arrivals = sorted(entry[0] for entry in api)
    assert arrivals[-1] - arrivals[0] > WINDOW  # 60 calls at 30 per window: half waited
    waits = [
        json.loads(line)
        for _, out, err in results
        for line in (out + err).splitlines()
        if line.startswith("{") and '"waiting"' in line
    ]
    assert waits and all("for planradar's budget: 30 calls per 10 s" in w["message"] for w in waits)


# ---------------------------------------------------------------- one PlexTrac login


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_state(
    request: pytest.FixtureRequest, environ: dict[str, str], tmp_path: Path
) -> Iterator[dict[str, str]]:
    """The processes' environment, its state store in SQLite or in PostgreSQL."""
    if request.param == "sqlite":
        yield environ
        return
    schema = f"hookline_processes_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    key = Fernet.generate_key().decode()  # every process of the installation shares it
    yield {
        **environ,
        "HOOKLINE_STATE": f"{POSTGRES}?options=-csearch_path%3D{schema}",
        "HOOKLINE_SECRET_KEY": key,
    }
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def plextrac(catalog: Catalog, environ: dict[str, str]) -> Iterator[Logged]:
    """One PlexTrac sandbox, allowing ten logins a minute as PlexTrac does."""
    box = catalog.sandboxes["plextrac"]
    logged = Logged(box.create_app())
    with running(logged) as url:
        entry = {"connector": "plextrac", **box.connection(url)}
        write_connections(environ["HOOKLINE_CONNECTIONS"], {"plextrac": entry})
        yield logged


def test_twelve_calls_within_a_minute_log_in_once(
    plextrac: Logged, shared_state: dict[str, str]
) -> None:
    client = min(plextrac.app.state.sandbox.clients)
    args = ("call", "plextrac.get_client", "-i", f"client_id={client}")
    together = [hookline(*args, env=shared_state) for _ in range(6)]
    outcomes = [finished(process) for process in together]
    outcomes += [finished(hookline(*args, env=shared_state)) for _ in range(6)]
    for code, out, err in outcomes:
        assert code == 0, err
        assert json.loads(out)["client_id"] == client
    logins = [entry for entry in plextrac.log if entry[2] == "/api/v1/authenticate"]
    assert len(logins) == 1
    assert plextrac.statuses().count(429) == 0

    ended = finished(hookline("connections", "logout", "plextrac", env=shared_state))
    assert ended[0] == 0 and "the cached session is dropped" in ended[1]
    again = finished(hookline(*args, env=shared_state))
    assert again[0] == 0, again[2]
    assert [entry[2] for entry in plextrac.log].count("/api/v1/authenticate") == 2


# ---------------------------------------------------------------- secrets out of history

SECRETS = """\
recipe: hook-up
connections:
  plextrac: plextrac
trigger:
  manual:
    inputs:
      label: {type: string, writeOnly: true, description: A name that is a secret too}
    required: [label]
steps:
  - id: hook
    action: plextrac.create_webhook
    with:
      name: "{{ inputs.label }}"
      url: https://hooks.example.com/plextrac
      events: [ReportPublished]
      secret: "{{ env.HOOK_SECRET }}"
outputs:
  webhook: "{{ steps.hook }}"
"""


def test_secrets_of_a_job_never_reach_its_history(
    plextrac: Logged, environ: dict[str, str], tmp_path: Path
) -> None:
    from_env, from_input = f"env-{uuid.uuid4().hex}", f"input-{uuid.uuid4().hex}"
    recipe = tmp_path / "hook-up.yaml"
    recipe.write_text(SECRETS)
    env = {**environ, "HOOK_SECRET": from_env}
    code, out, err = finished(hookline("run", str(recipe), "-i", f"label={from_input}", env=env))
    assert code == 0, (out, err)
    webhook = next(iter(plextrac.app.state.sandbox.webhooks.values()))
    assert (webhook["secret"], webhook["name"]) == (from_env, from_input)  # really sent

    listed = finished(hookline("jobs", "--json", env=env))
    job = json.loads(listed[1].splitlines()[0])["id"]
    shown = finished(hookline("jobs", "show", job, "--json", env=env))
    assert shown[0] == 0
    detail = json.loads(shown[1])
    assert detail["steps"][0]["input"]["secret"] == "***"
    assert detail["event"] == {"label": "***"}
    texts = [out, err, listed[1], shown[1], shown[2]]
    state = Path(environ["HOOKLINE_STATE"])
    files = [path.read_bytes() for path in state.parent.glob("state.db*")]
    for secret in (from_env, from_input):
        assert not any(secret in text for text in texts)
        assert not any(secret.encode() in data for data in files)
    assert stat_mode(state) == 0o600


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# ---------------------------------------------------------------- bounded waits


def test_a_server_asking_for_a_pause_of_decades_gives_an_error_fast(
    catalog: Catalog, environ: dict[str, str]
) -> None:
    async def refuse(request: Request) -> JSONResponse:
        return JSONResponse(
            {"errors": [{"detail": "slow down"}]}, 429, {"Retry-After": "1000000000"}
        )

    logged = Logged(Starlette(routes=[Route("/{path:path}", refuse)]))
    box = catalog.sandboxes["planradar"]
    with running(logged) as url:
        entry = {"connector": "planradar", **box.connection(url)}
        write_connections(environ["HOOKLINE_CONNECTIONS"], {"planradar": entry})
        args = ("call", "planradar.get_project", "-i", "project_id=nqzkdw")
        began = time.monotonic()
        first = finished(hookline(*args, env=environ))
        second = finished(hookline(*args, env=environ))
        took = time.monotonic() - began
    assert first[0] != 0 and "asks to wait 1000000000 s (until " in first[2]
    assert second[0] != 0 and "pause of 1000000000 s (until " in second[2]
    assert "max_wait of 600 s" in second[2]
    assert len(logged.log) == 1  # the second call sent nothing
    assert took < 20  # two process starts; no wait at all
