"""Budgets and sessions kept in the state store, on SQLite and PostgreSQL, and bounded waits.

Two stores opened on one database stand for two processes: each has its own database
connection, as separate processes would.
"""

from __future__ import annotations

import asyncio
import stat
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet

from hookline.errors import (
    AuthenticationError,
    ConfigurationError,
    RateLimitedError,
    RateLimitWaitError,
)
from hookline.http import lease
from hookline.http.budget import SharedRateLimiter
from hookline.http.connection import CallPolicy, Connection
from hookline.http.ratelimit import Budget, Feedback, InProcessRateLimiter, Wait, announce
from hookline.plugins.manager import get_plugin_manager
from hookline.plugins.protocols import CachedSession
from hookline.run.budgets import StoreLedger
from hookline.run.keys import KEY_VARIABLE, InstallationKey, installation_key, key_file
from hookline.run.sessions import StoreSessionCache, sharing
from hookline.run.store import SqliteStore, SqlStore, open_store
from hookline.spec.catalog import Catalog
from hookline.spec.model import RetryPolicy
from hookline.testing.clock import Clock
from tests.servers import (
    PASSWORD,
    USERNAME,
    EchoState,
    Reply,
    SessionState,
    demo_spec,
    make_request,
    session_app,
)
from tests.test_ratelimit import most_in_a_window
from tests.test_store import POSTGRES

pytestmark = pytest.mark.anyio

SESSION: dict[str, Any] = {
    "type": "session",
    "login": {
        "method": "POST",
        "path": "/api/login",
        "json": {"username": "{{ connection.username }}", "password": "{{ connection.password }}"},
    },
    "capture": {"token": "token", "tenant_id": "tenant_id"},
    "public": ["tenant_id"],
    "apply": {"headers": {"Authorization": "Bearer {{ session.token }}"}},
    "lifetime": {"field": "expires_in"},
    "logout": {"method": "POST", "path": "/api/logout"},
}
REFRESHED = {
    **SESSION,
    "refresh": {
        "request": {"method": "PUT", "path": "/api/token/refresh"},
        "capture": {"token": "token"},
    },
}
KEY = InstallationKey(b"oWGPqE7Zl0yqlE6ZsZr3lyi_3p3jQXxTaRZ_cpc7H4w=")


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database, by URL, as every process of an installation would be given it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/state.db"
        return
    schema = f"hookline_shared_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
async def stores(state_url: str) -> AsyncIterator[list[SqlStore]]:
    """Three stores on the database: three processes."""
    pm = get_plugin_manager(entry_points=False)
    opened = [open_store(state_url, pm) for _ in range(3)]
    yield opened
    for store in opened:
        await store.close()


def unique(prefix: str = "demo") -> str:
    return f"{prefix}:{uuid.uuid4().hex}"


# ---------------------------------------------------------------- budgets


async def test_processes_take_their_slots_from_one_budget(stores: list[SqlStore]) -> None:
    key, budget = unique(), Budget(5, 0.5)
    limiters = [SharedRateLimiter(StoreLedger(store)) for store in stores]
    starts: list[float] = []

    async def take(limiter: SharedRateLimiter) -> None:
        await limiter.acquire(key, budget)
        starts.append(time.time())

    began = time.time()
    await asyncio.gather(*(take(limiter) for limiter in limiters for _ in range(5)))
    assert len(starts) == 15
    assert most_in_a_window(starts, 0.5) == 5
    assert time.time() - began > 1.1  # fifteen slots of five per 0.6 s take two full windows


async def test_a_pause_one_process_learns_holds_for_the_others(stores: list[SqlStore]) -> None:
    key, budget = unique(), Budget(100, 10)
    first, second = (SharedRateLimiter(StoreLedger(store)) for store in stores[:2])
    await first.answered(key, budget, Feedback(refused=True, retry_after=0.4))
    began = time.monotonic()
    await second.acquire(key, budget)
    assert time.monotonic() - began == pytest.approx(0.4, abs=0.15)


async def test_processes_pace_a_budget_only_once_it_runs_short(stores: list[SqlStore]) -> None:
    key, clock = unique(), Clock(1_000_000.0)
    first, second = (SharedRateLimiter(StoreLedger(store), clock=clock) for store in stores[:2])
    await first.answered(key, None, Feedback(remaining=4990, reset=3600))
    for _ in range(26):  # the clock stands still, and any wait would fail
        await second.acquire(key, None, max_wait=0)
    await second.answered(key, None, Feedback(remaining=400, reset=3000))  # short of 4990's tenth
    await first.acquire(key, None, max_wait=0)  # no slot was kept before: the first is free
    with pytest.raises(RateLimitWaitError) as caught:
        await first.acquire(key, None, max_wait=0)
    assert caught.value.wait == pytest.approx(3000 / 400)


async def test_a_pause_past_max_wait_fails_at_once_naming_it(stores: list[SqlStore]) -> None:
    key = unique("planradar")
    first, second = (SharedRateLimiter(StoreLedger(store)) for store in stores[:2])
    await first.answered(key, None, Feedback(refused=True, retry_after=1_000_000_000))
    began = time.monotonic()
    with pytest.raises(RateLimitWaitError) as caught:
        await second.acquire(key, None, max_wait=600)
    assert time.monotonic() - began < 1
    error = caught.value
    assert error.asked == 1_000_000_000 and error.wait > 999_999_000
    assert error.until > time.time() + 999_000_000
    assert error.kind == "rate_limit_wait" and isinstance(error, RateLimitedError)
    message = str(error)
    year = time.gmtime(error.until).tm_year
    assert f"planradar: the platform asked for a pause of 1000000000 s (until {year}-" in message
    assert "max_wait of 600 s" in message and "nothing was sent" in message


async def test_a_connection_without_a_budget_writes_nothing_per_request(
    stores: list[SqlStore],
) -> None:
    limiter, key = SharedRateLimiter(StoreLedger(stores[0])), unique()
    await limiter.acquire(key, None)

    def written(cur: Any) -> Any:
        cur.execute("SELECT COUNT(*), MAX(updated_at) FROM budgets")
        return tuple(cur.fetchone())

    before = await stores[0].transaction(written)
    for _ in range(3):
        await limiter.acquire(key, None)  # no budget and no pause: nothing to keep
    assert await stores[0].transaction(written) == before


def test_a_slot_past_max_wait_is_not_taken() -> None:
    clock = Clock(1000.0)
    limiter = InProcessRateLimiter(clock)
    budget = Budget(1, 10)
    assert limiter.reserve("k", budget) == 0
    with pytest.raises(RateLimitWaitError, match=r"has no free slot for 10 s \(until "):
        limiter.reserve("k", budget, max_wait=5)
    assert limiter.reserve("k", budget) == pytest.approx(10.5)  # the refused one took none


async def test_an_in_process_pause_past_max_wait_fails_at_once() -> None:
    limiter = InProcessRateLimiter()
    await limiter.answered("argus:k", None, Feedback(refused=True, retry_after=900))
    with pytest.raises(RateLimitWaitError, match="pause of 900 s"):
        await limiter.acquire("argus:k", None, max_wait=600)


def test_a_long_wait_is_told_in_words() -> None:
    told: list[Wait] = []
    announce(told.append, "planradar:abc", Budget(30, 60), 42.4, None)
    announce(told.append, "planradar:abc", Budget(30, 60), 2.0, None)  # too short to tell
    announce(told.append, "argus:abc", None, 12, 12.0)
    assert [wait.message for wait in told] == [
        "waiting 42 s for planradar's budget: 30 calls a minute",
        "waiting 12 s for argus's budget: the platform asked for a pause of 12 s",
    ]
    assert str(Budget(30, 10)) == "30 calls per 10 s" and str(Budget(1, 1)) == "1 call a second"


# ---------------------------------------------------------------- on the wire


def open_to(catalog: Catalog, url: str, **values: Any) -> Connection:
    spec = demo_spec(catalog, rate_limit={"requests": 50, "per": 1})
    return Connection(
        spec,
        {"url": url, **values},
        expressions=catalog.expressions,
        limiter=InProcessRateLimiter(),
    )


async def ping(connection: Connection, attempts: int = 1) -> Any:
    template = make_request(connection.expressions, "GET", "/ping")
    request = connection.build_request(template, connection.context())
    policy = CallPolicy(retry=RetryPolicy(attempts=attempts, backoff=0.01))
    return await connection.send(request, policy=policy)


async def test_retry_after_on_a_success_is_ignored(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    state.replies.append(Reply(200, headers={"Retry-After": "1000000000"}))
    async with open_to(catalog, url) as connection:
        began = time.monotonic()
        await ping(connection)
        await ping(connection)
    assert time.monotonic() - began < 1
    assert len(state.seen) == 2


async def test_a_huge_retry_after_gives_a_typed_error_fast_naming_the_wait(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    state.replies.append(Reply(429, headers={"Retry-After": "1000000000"}))
    async with open_to(catalog, url) as connection:
        began = time.monotonic()
        with pytest.raises(RateLimitedError) as refused:
            await ping(connection, attempts=4)
        assert "the platform asks to wait 1000000000 s (until 20" in str(refused.value)
        with pytest.raises(RateLimitWaitError) as waiting:
            await ping(connection, attempts=4)
    assert time.monotonic() - began < 1
    assert "pause of 1000000000 s" in str(waiting.value)
    assert len(state.seen) == 1  # the second call sent nothing


async def test_an_exhausted_reset_far_away_fails_the_next_call(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 7200)}
    state.replies.append(Reply(200, headers=headers))
    async with open_to(catalog, url) as connection:
        await ping(connection)
        with pytest.raises(RateLimitWaitError, match=r"pause of 7\d{3} s \(until "):
            await ping(connection)


async def test_the_connections_max_wait_bounds_a_retry_too(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    state.replies.append(Reply(429, headers={"Retry-After": "2"}))
    async with open_to(catalog, url, max_wait=0.5) as connection:
        began = time.monotonic()
        with pytest.raises(RateLimitedError, match=r"asks to wait 2\.0 s \(until "):
            await ping(connection, attempts=3)  # no retry: it would wait past max_wait
        with pytest.raises(RateLimitWaitError, match=r"max_wait of 0\.5 s"):
            await ping(connection)
    assert time.monotonic() - began < 1
    assert len(state.seen) == 1


async def test_a_wait_within_max_wait_is_waited(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    state.replies.append(Reply(429, headers={"Retry-After": "0.4"}))
    async with open_to(catalog, url, max_wait=5) as connection:
        assert (await ping(connection, attempts=2)).status == 200
    assert state.seen[1].at - state.seen[0].at >= 0.35


async def test_a_connection_may_give_its_own_budget(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    async with open_to(catalog, url, rate_limit={"requests": 2, "per": 0.3}) as connection:
        await asyncio.gather(*(ping(connection) for _ in range(4)))
    assert most_in_a_window([s.at for s in state.seen], 0.3) == 2
    with pytest.raises(ConfigurationError, match="rate_limit"):
        open_to(catalog, url, rate_limit={"requests": 0, "per": 1})


# ---------------------------------------------------------------- the session cache


async def test_a_cached_session_is_sealed_and_read_back(
    stores: list[SqlStore], state_url: str
) -> None:
    cache, other = StoreSessionCache(stores[0], KEY), StoreSessionCache(stores[1], KEY)
    secret = f"token-{uuid.uuid4().hex}"
    key = unique()
    cached = CachedSession({"token": secret, "tenant_id": 7}, "stamp-1", time.time() + 60, None)
    await cache.save(key, cached)
    assert await other.load(key) == cached
    elsewhere = StoreSessionCache(stores[1], InstallationKey(b"x" * 43 + b"="))
    assert await elsewhere.load(key) is None  # sealed with another key: no session

    def rows(cur: Any) -> list[Any]:
        cur.execute("SELECT key, sealed FROM sessions")
        return list(cur.fetchall())

    found = await stores[0].transaction(rows)
    assert all(secret not in str(row) and key not in str(row) for row in found)
    if state_url.startswith("sqlite"):
        await stores[0].close()
        stores[0] = open_store(state_url, get_plugin_manager(entry_points=False))
        database = Path(state_url.removeprefix("sqlite:///"))
        for file in database.parent.glob("state.db*"):
            assert secret.encode() not in file.read_bytes()
    assert await other.drop(key) is True
    assert await other.drop(key) is False
    assert await other.load(key) is None


async def test_one_holder_at_a_time_takes_the_login_lease(stores: list[SqlStore]) -> None:
    first, second = StoreSessionCache(stores[0], KEY), StoreSessionCache(stores[1], KEY)
    key = unique()
    assert await first.claim(key, "a", 30)
    assert await first.claim(key, "a", 30)  # its holder keeps it
    assert not await second.claim(key, "b", 30)
    await second.release(key, "b")  # not its lease: nothing changes
    assert not await second.claim(key, "b", 30)
    await first.release(key, "a")
    assert await second.claim(key, "b", 0.05)
    await asyncio.sleep(0.1)
    assert await first.claim(key, "a", 30)  # a lease whose holder died runs out


# ---------------------------------------------------------------- sessions between processes


@pytest.fixture(scope="module")
def platform_server() -> Iterator[tuple[str, SessionState]]:
    from hookline.run.sandbox import running

    app = session_app()
    with running(app) as url:
        yield url, app.state.sessions


@pytest.fixture
def platform(platform_server: tuple[str, SessionState]) -> tuple[str, SessionState]:
    url, state = platform_server
    state.configure()
    return url, state


def process(catalog: Catalog, store: SqlStore, url: str, auth: Any = SESSION) -> Connection:
    """A connection as a separate process would open it: its own store and limiter."""
    shared = sharing(store, environ={KEY_VARIABLE: KEY.material.decode()})
    return Connection(
        demo_spec(catalog, auth=auth),
        {"url": url, "username": USERNAME, "password": PASSWORD},
        expressions=catalog.expressions,
        limiter=shared.limiter,
        sessions=shared.sessions,
    )


async def things(connection: Connection) -> Any:
    template = make_request(connection.expressions, "GET", "/api/things")
    request = connection.build_request(template, connection.context())
    return (await connection.send(request, policy=CallPolicy())).data


async def test_processes_starting_together_log_in_once(
    catalog: Catalog, stores: list[SqlStore], platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    state.configure(login_delay=0.3)
    connections = [process(catalog, store, url) for store in stores for _ in range(2)]
    results = await asyncio.gather(*(things(c) for c in connections))
    assert all(result["items"] == [1, 2, 3] for result in results)
    for connection in connections:
        await connection.close()
    assert (state.logins, state.logouts) == (1, 0)  # the session stays for the next process
    later = process(catalog, stores[0], url)
    async with later:
        await things(later)
    assert state.logins == 1


async def test_a_login_slower_than_the_lease_keeps_it_and_is_sent_once(
    catalog: Catalog,
    stores: list[SqlStore],
    platform: tuple[str, SessionState],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The login answers after three lease periods: the process logging in renews its lease
    meanwhile, so the others wait for its session instead of logging in too."""
    url, state = platform
    monkeypatch.setattr(lease, "LEASE", 0.6)
    state.configure(login_delay=1.8)

    async def later(connection: Connection, start: float) -> Any:
        await asyncio.sleep(start)
        return await things(connection)

    connections = [process(catalog, store, url) for store in stores]
    try:
        results = await asyncio.gather(*(later(c, i * 0.3) for i, c in enumerate(connections)))
    finally:
        for connection in connections:
            await connection.close()
    assert all(result["items"] == [1, 2, 3] for result in results)
    assert state.logins == 1

    def leases(cur: Any) -> list[Any]:
        cur.execute("SELECT lease_holder, lease_until FROM sessions")
        return list(cur.fetchall())

    assert [tuple(row) for row in await stores[0].transaction(leases)] == [(None, None)]


async def test_a_wait_for_another_process_logging_in_is_bounded_and_says_so(
    catalog: Catalog,
    stores: list[SqlStore],
    platform: tuple[str, SessionState],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, state = platform
    monkeypatch.setattr(lease, "LEASE", 0.3)
    monkeypatch.setattr(lease, "WAIT", 0.8)
    waiting = process(catalog, stores[0], url)
    other = StoreSessionCache(stores[1], KEY)
    assert await other.claim(waiting.credential, "a live process", 0.3)
    started = time.monotonic()
    async with (
        lease.Heartbeat(lambda: other.claim(waiting.credential, "a live process", 0.3), 0.1),
        waiting,
    ):
        with pytest.raises(AuthenticationError) as raised:
            await things(waiting)
    assert 0.8 <= time.monotonic() - started < 5
    assert str(raised.value).startswith(
        "waited 0.8 s for another process to log in with the credentials of connection "
        f"'{waiting.name}', and it is still at it"
    )
    assert state.logins == 0


async def test_a_refused_session_is_renewed_once_for_every_process(
    catalog: Catalog, stores: list[SqlStore], platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    async with (
        process(catalog, stores[0], url) as first,
        process(catalog, stores[1], url) as second,
    ):
        await things(first)
        await things(second)
        state.expire_all()
        await things(second)  # refused: logs in again and caches the new session
        await things(first)  # refused too: takes up the new session instead of logging in
    assert (state.logins, state.unauthorized) == (2, 2)


async def test_a_session_due_is_refreshed_by_one_process_for_all(
    catalog: Catalog, stores: list[SqlStore], platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    state.configure(lifetime=1.0)
    auth = {**REFRESHED, "renew_before": 0.6}
    async with (
        process(catalog, stores[0], url, auth) as first,
        process(catalog, stores[1], url, auth) as second,
    ):
        await things(first)
        await asyncio.sleep(0.5)  # due for renewal, still valid
        await things(second)
        await things(first)
    assert (state.logins, state.refreshes, state.unauthorized) == (1, 1, 0)


async def test_logout_ends_the_session_for_every_process(
    catalog: Catalog, stores: list[SqlStore], platform: tuple[str, SessionState]
) -> None:
    url, state = platform
    async with process(catalog, stores[0], url) as first:
        await things(first)
    async with process(catalog, stores[1], url) as second:
        assert await second.logout() is True
        assert await second.logout() is False
    async with process(catalog, stores[2], url) as third:
        await things(third)
    assert (state.logins, state.logouts, state.unauthorized) == (2, 1, 0)


# ---------------------------------------------------------------- files and keys


def test_the_state_database_and_its_key_file_are_private(tmp_path: Path) -> None:
    database = tmp_path / "fresh" / "state.db"
    store = SqliteStore(database)
    try:
        key = installation_key(store, environ={})
        assert key_file(store) == database.parent / "secret.key"
        assert installation_key(store, environ={}) == key  # the same key every time
    finally:
        asyncio.run(store.close())
    for path in (database, database.parent / "secret.key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700


def test_the_key_may_come_from_the_environment(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    try:
        key = Fernet.generate_key().decode()
        assert installation_key(store, environ={KEY_VARIABLE: key}).material == key.encode()
        assert not (tmp_path / "secret.key").exists()
        with pytest.raises(ConfigurationError, match="is not a Fernet key"):
            installation_key(store, environ={KEY_VARIABLE: "a passphrase, not a key"})
    finally:
        asyncio.run(store.close())


def test_a_session_sealed_with_the_key_cannot_be_read_without_it() -> None:
    sealed = KEY.seal(b'{"token": "t"}')
    assert KEY.open(sealed) == b'{"token": "t"}'
    assert InstallationKey(b"y" * 43 + b"=").open(sealed) is None
    assert KEY.name("a") != InstallationKey(b"y" * 43 + b"=").name("a")
