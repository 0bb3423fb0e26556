"""The webhook receiver, over loopback: what each request gets, and what it leaves stored.

A ``pager`` connector declares a webhook trigger per verifier (HTTP Basic, a shared header,
PlexTrac's hex HMAC of the body, an HMAC with a signed timestamp); a recipe per trigger is
served by one receiver on SQLite. Every refused request must leave the inbox as it was, and
no request, however malformed, may get a 500.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookline.plugins.hookspecs import hookimpl
from hookline.plugins.manager import get_plugin_manager
from hookline.recipes.load import load_recipe
from hookline.run.inbox import Intake, count_inbox
from hookline.run.metrics import Metrics
from hookline.run.pool import ConnectionPool
from hookline.run.sandbox import running
from hookline.run.store import JobRecord, SqlStore, open_store
from hookline.run.webhook_app import Receiver, webhook_hooks
from hookline.spec.catalog import Catalog

USER, PASSWORD, TOKEN, SECRET = "pager", "correct horse battery", "t0ken-t0ken", "s3cret"
LIMIT = 4096

SPEC = """\
spec: hookline/v1
name: pager
title: Pager
connection:
  fields:
    base_url: {type: string, description: Where the pager is}
  base_url: "{{ connection.base_url }}"
actions:
  ping: {title: Ping, request: {method: GET, path: /}}
triggers:
  basic_page:
    type: webhook
    title: A page, with HTTP Basic
    input:
      username: {type: string}
      password: {type: string}
    required: [username, password]
    verify: {type: basic, username: "{{ input.username }}", password: "{{ input.password }}"}
    filter: "kind == 'page'"
    id: "join('|', [kind, page_id])"
  header_page:
    type: webhook
    title: A page, with a shared header
    input: {token: {type: string}}
    required: [token]
    verify: {type: header, name: X-Pager-Token, value: "{{ input.token }}"}
    id: page_id
  signed_page:
    type: webhook
    title: A page signed as PlexTrac signs its webhooks
    input: {secret: {type: string}}
    required: [secret]
    verify:
      type: hmac
      header: X-Authorization-HMAC-256
      secret: "{{ input.secret }}"
      algorithm: sha256
      encoding: hex
    id: page_id
  stamped_page:
    type: webhook
    title: A page signed with a timestamp
    input: {secret: {type: string}}
    required: [secret]
    verify:
      type: hmac
      header: X-Pager-Signature
      prefix: "v1="
      secret: "{{ input.secret }}"
      timestamp: {header: X-Pager-Timestamp, tolerance: 300, signed: "v1:{timestamp}:{body}"}
    id: page_id
"""

RECIPE = """\
recipe: {name}
connections:
  pager: {{connector: pager, base_url: "http://127.0.0.1:9"}}
trigger:
  event: pager.{trigger}
  with: {inputs}
steps:
  - set: {{seen: "{{{{ trigger.page_id }}}}"}}
"""


class PagerPlugin:
    """Registers the pager spec."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "pager.yaml"
        self.path.write_text(SPEC)

    @hookimpl
    def register_connectors(self) -> list[Path]:
        """The pager's spec."""
        return [self.path]


@dataclass
class Served:
    url: str
    store: SqlStore
    jobs: list[JobRecord]

    def rows(self) -> int:
        return asyncio.run(count_inbox(self.store))

    def post(self, recipe: str, body: bytes, **headers: str) -> httpx.Response:
        headers.setdefault("Content-Type", "application/json")
        return httpx.post(f"{self.url}/hooks/{recipe}", content=body, headers=headers)


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def page(page_id: str, kind: str = "page") -> bytes:
    return json.dumps({"kind": kind, "page_id": page_id}).encode()


def signature(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def stamped(body: bytes, stamp: str) -> dict[str, str]:
    signed = hmac.new(SECRET.encode(), f"v1:{stamp}:".encode() + body, hashlib.sha256)
    return {"X-Pager-Signature": "v1=" + signed.hexdigest(), "X-Pager-Timestamp": stamp}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    pm = get_plugin_manager(entry_points=False)
    pm.register(PagerPlugin(tmp_path_factory.mktemp("pager")), name="pager")
    return Catalog(pm)


@pytest.fixture(scope="module")
def served(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("receiver")
    inputs = {
        "basic": ("basic_page", f"{{username: {USER}, password: '{PASSWORD}'}}"),
        "header": ("header_page", f"{{token: {TOKEN}}}"),
        "signed": ("signed_page", f"{{secret: {SECRET}}}"),
        "stamped": ("stamped_page", f"{{secret: {SECRET}}}"),
    }
    recipes = []
    for name, (trigger, given) in inputs.items():
        path = folder / f"{name}.yaml"
        path.write_text(RECIPE.format(name=name, trigger=trigger, inputs=given))
        recipes.append(load_recipe(path, catalog, env={}))
    store = open_store(str(folder / "state.db"), catalog.pm)
    pool = ConnectionPool(catalog, env={})
    for recipe in recipes:
        pool.open(recipe)
    jobs: list[JobRecord] = []
    receiver = Receiver(
        webhook_hooks(recipes, pool), Intake(store, timeout=0.5), Metrics(),
        on_job=jobs.append, max_body=LIMIT,
    )  # fmt: skip
    with running(receiver.app()) as url:
        yield Served(url, store, jobs)
    asyncio.run(store.close())


@pytest.fixture
def empty(served: Served) -> Served:
    def clear(cur: Any) -> None:
        for table in ("inbox", "jobs"):
            cur.execute(f"DELETE FROM {table}")

    asyncio.run(served.store.transaction(clear))
    served.jobs.clear()
    return served


# ---------------------------------------------------------------- refused, nothing stored


def raw(url: str, request: bytes, *, then: bytes = b"") -> tuple[int, dict[str, str]]:
    """Send bytes as they are; the status and headers of the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        if then:
            sock.sendall(then)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
    return int(head[0].split()[1]), {k.lower(): v for k, v in headers.items()}


BAD = [
    ("unknown recipe", "nobody", page("1"), {"Authorization": basic()}, 404),
    ("no credentials", "basic", page("1"), {}, 401),
    ("wrong password", "basic", page("1"), {"Authorization": basic(password="guess")}, 401),
    ("wrong user", "basic", page("1"), {"Authorization": basic(user="admin")}, 401),
    ("empty credentials", "basic", page("1"), {"Authorization": basic("", "")}, 401),
    ("not base64", "basic", page("1"), {"Authorization": "Basic !!!***"}, 401),
    ("not UTF-8", "basic", page("1"),
     {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()}, 401),
    ("another scheme", "basic", page("1"), {"Authorization": f"Bearer {PASSWORD}"}, 401),
    ("no scheme", "basic", page("1"), {"Authorization": "Basic"}, 401),
    ("plain text", "basic", page("1"), {"Authorization": basic(), "Content-Type": "text/plain"},
     415),
    ("form", "basic", page("1"),
     {"Authorization": basic(), "Content-Type": "application/x-www-form-urlencoded"}, 415),
    ("not JSON", "basic", b"{kind: page", {"Authorization": basic()}, 400),
    ("empty body", "basic", b"", {"Authorization": basic()}, 400),
    ("bytes that are not UTF-8", "basic", b'{"kind": "\xff"}', {"Authorization": basic()}, 400),
    ("nesting too deep", "basic", b"[" * 1500 + b"]" * 1500, {"Authorization": basic()}, 400),
    ("nesting deeper than can be stored", "basic",
     b'{"kind": "page", "page_id": "1", "x": ' + b"[" * 300 + b"]" * 300 + b"}",
     {"Authorization": basic()}, 400),
    ("an id of the wrong type", "basic", b'{"kind": "page", "page_id": [1]}',
     {"Authorization": basic()}, 400),
    ("wrong header secret", "header", page("1"), {"X-Pager-Token": "t0ken"}, 401),
    ("no header secret", "header", page("1"), {}, 401),
    ("no signature", "signed", page("1"), {}, 401),
    ("a signature of other bytes", "signed", page("1"),
     {"X-Authorization-HMAC-256": signature(page("2"))}, 401),
    ("a signature with another key", "signed", page("1"),
     {"X-Authorization-HMAC-256": signature(page("1"), "guess")}, 401),
    ("a signature that is not hex", "signed", page("1"), {"X-Authorization-HMAC-256": "zz" * 32},
     401),
    ("a stale timestamp", "stamped", page("1"), stamped(page("1"), str(int(time.time()) - 86400)),
     401),
    ("a timestamp from the future", "stamped", page("1"),
     stamped(page("1"), str(int(time.time()) + 86400)), 401),
    ("a timestamp that is not a number", "stamped", page("1"), stamped(page("1"), "soon"), 401),
    ("too large", "basic", b'{"kind": "page", "pad": "' + b"x" * LIMIT + b'"}',
     {"Authorization": basic()}, 413),
]  # fmt: skip


@pytest.mark.parametrize(
    ("recipe", "body", "headers", "status"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_a_bad_request_gets_its_status_and_stores_nothing(
    empty: Served, recipe: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    answer = empty.post(recipe, body, **headers)
    assert answer.status_code == status, answer.text
    assert empty.rows() == 0 and empty.jobs == []
    if status == 401 and recipe == "basic":
        assert answer.headers["www-authenticate"] == 'Basic realm="hookline"'
    if status == 401 and recipe != "basic":
        assert "www-authenticate" not in answer.headers


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    empty: Served,
) -> None:
    head = (
        "POST /hooks/basic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: {basic()}\r\nContent-Length: {100 * 1024 * 1024}\r\n\r\n"
    )
    status, _ = raw(empty.url, head.encode(), then=b'{"kind": ')
    assert status == 413
    assert empty.rows() == 0


def test_a_chunked_body_growing_past_the_limit_is_cut_off(empty: Served) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"kind": "page", "pad": "'
        for _ in range(64):
            yield b"x" * 1024

    answer = httpx.post(
        f"{empty.url}/hooks/basic",
        content=chunks(),
        headers={"Authorization": basic(), "Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert empty.rows() == 0


@pytest.mark.parametrize(
    "header",
    [
        b"Authorization: Basic \xc3\x28\xa0\xa1\r\n",
        b"Authorization: \x00\x01\x02\r\n",
        b"Content-Type: application/json; charset=\xff\r\n",
        b"Content-Length: twelve\r\n",
        b"Content-Length: -5\r\n",
        b"X-Authorization-HMAC-256: \xff\xfe\r\n",
    ],
)
def test_malformed_headers_never_get_a_500(empty: Served, header: bytes) -> None:
    body = page("1")
    for recipe in ("basic", "signed"):
        request = (
            f"POST /hooks/{recipe} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode()
            + header
            + (b"" if b"Content-Length" in header else f"Content-Length: {len(body)}\r\n".encode())
            + b"\r\n"
            + body
        )
        status, _ = raw(empty.url, request)
        assert 400 <= status < 500
    assert empty.rows() == 0


def test_get_on_a_hook_is_not_allowed(empty: Served) -> None:
    assert httpx.get(f"{empty.url}/hooks/basic").status_code == 405


def test_an_event_the_filter_refuses_is_acknowledged_and_not_stored(empty: Served) -> None:
    answer = empty.post("basic", page("1", kind="ping"), Authorization=basic())
    assert (answer.status_code, answer.json()) == (200, {"ignored": True})
    assert empty.rows() == 0


# ---------------------------------------------------------------- accepted


def test_a_verified_event_is_stored_with_its_job_before_the_answer(empty: Served) -> None:
    answer = empty.post("basic", page("41"), Authorization=basic())
    assert answer.status_code == 202
    assert empty.rows() == 1
    [job] = empty.jobs
    assert (answer.json()["job"], job.event_key, job.status) == (job.id, "page|41", "queued")


def test_a_redelivered_event_keeps_its_first_job(empty: Served) -> None:
    first = empty.post("basic", page("7"), Authorization=basic())
    again = empty.post("basic", page("7"), Authorization=basic())
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {"job": first.json()["job"], "duplicate": True}
    assert empty.rows() == 1 and len(empty.jobs) == 1


@pytest.mark.parametrize(
    ("recipe", "headers"),
    [
        ("header", lambda: {"X-Pager-Token": TOKEN}),
        ("signed", lambda: {"X-Authorization-HMAC-256": signature(page("9"))}),
        ("signed", lambda: {"X-Authorization-HMAC-256": signature(page("9")).upper()}),
        ("stamped", lambda: stamped(page("9"), str(int(time.time())))),  # signed now
    ],
    ids=["header", "plextrac-hmac", "hmac-upper-case-hex", "hmac-with-timestamp"],
)
def test_each_verifier_accepts_the_platform(
    empty: Served, recipe: str, headers: Callable[[], dict[str, str]]
) -> None:
    answer = empty.post(recipe, page("9"), **headers())
    assert answer.status_code == 202, answer.text
    assert empty.rows() == 1


def test_an_event_without_the_id_its_spec_names_is_keyed_by_its_body(empty: Served) -> None:
    body = json.dumps({"kind": "page"}).encode()
    headers = {"X-Authorization-HMAC-256": signature(body)}
    first, again = empty.post("signed", body, **headers), empty.post("signed", body, **headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert empty.jobs[0].event_key == "sha256:" + hashlib.sha256(body).hexdigest()


def test_a_store_that_cannot_write_answers_503_with_retry_after(
    served: Served, empty: Served
) -> None:
    path = served.store.url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, timeout=1, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        answer = empty.post("basic", page("503"), Authorization=basic())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    again = empty.post("basic", page("503"), Authorization=basic())
    assert again.status_code in (200, 202)  # the platform's retry finds it, once
    assert empty.rows() == 1


def test_a_store_that_fails_answers_503_and_stores_nothing(
    served: Served, empty: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(events: object, *, source: str) -> object:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(served.store, "receive_events", broken)
    answer = empty.post("basic", page("1"), Authorization=basic())
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    monkeypatch.undo()
    assert empty.rows() == 0
