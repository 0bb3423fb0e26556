"""Rate budgets: the bucket's arithmetic, platform feedback, and the limit held on the wire."""

from __future__ import annotations

import asyncio
import email.utils
from typing import Any

import httpx
import pytest

from hookline.errors import RateLimitedError
from hookline.http.connection import CallPolicy, Connection
from hookline.http.ratelimit import (
    Bucket,
    Budget,
    Feedback,
    InProcessRateLimiter,
    RateLimitedTransport,
    feedback_of,
    retry_after,
    window,
)
from hookline.spec.catalog import Catalog
from hookline.spec.model import RetryPolicy
from hookline.testing import Clock
from tests.servers import EchoState, Reply, demo_spec, make_request

pytestmark = pytest.mark.anyio


@pytest.fixture
def clock() -> Clock:
    return Clock(1000.0)


def test_a_full_bucket_waits_for_the_oldest_token_to_return(clock: Clock) -> None:
    limiter = InProcessRateLimiter(clock)
    budget = Budget(requests=3, per=10)
    assert [limiter.reserve("k", budget) for _ in range(3)] == [0, 0, 0]
    assert limiter.reserve("k", budget) == pytest.approx(window(budget))
    clock.now += 4
    assert limiter.reserve("k", budget) == pytest.approx(window(budget) - 4)
    assert window(budget) == pytest.approx(10.5)
    assert window(Budget(5, 0.5)) == pytest.approx(0.6)


def test_budgets_are_separate_per_key(clock: Clock) -> None:
    limiter = InProcessRateLimiter(clock)
    budget = Budget(requests=1, per=10)
    assert limiter.reserve("a", budget) == 0
    assert limiter.reserve("b", budget) == 0
    assert limiter.reserve("a", budget) > 0


async def test_a_refusal_pauses_the_bucket_and_resumes_it_evenly(clock: Clock) -> None:
    limiter = InProcessRateLimiter(clock)
    budget = Budget(requests=4, per=8)
    await limiter.answered("k", budget, Feedback(refused=True, retry_after=5))
    assert limiter.reserve("k", budget) == pytest.approx(5)
    clock.now += 5
    assert limiter.reserve("k", budget) == 0
    assert limiter.reserve("k", budget) == pytest.approx(8 / 4)


async def test_a_count_with_plenty_left_ends_the_even_spacing_after_a_pause(
    clock: Clock,
) -> None:
    limiter = InProcessRateLimiter(clock)
    budget = Budget(requests=4, per=8)
    await limiter.answered("k", budget, Feedback(refused=True, retry_after=5))
    clock.now += 5
    await limiter.answered("k", budget, Feedback(remaining=99, reset=60, limit=100))
    assert [limiter.reserve("k", budget) for _ in range(2)] == [0, 0]


async def test_a_refusal_without_retry_after_pauses_a_whole_window(clock: Clock) -> None:
    limiter = InProcessRateLimiter(clock)
    await limiter.answered("k", Budget(2, 30), Feedback(refused=True))
    assert limiter.reserve("k", Budget(2, 30)) == pytest.approx(30)


async def test_remaining_requests_under_the_reserve_are_spread_over_the_time_left(
    clock: Clock,
) -> None:
    limiter = InProcessRateLimiter(clock)
    await limiter.answered("k", None, Feedback(remaining=4, reset=8, limit=100))
    assert limiter.reserve("k", None) == 0
    assert limiter.reserve("k", None) == pytest.approx(2)  # not taken: asked again then
    clock.now += 2
    assert [limiter.reserve("k", None) for _ in range(2)] == pytest.approx([0, 2])
    await limiter.answered("k", None, Feedback(remaining=0, reset=20))
    assert limiter.reserve("k", None) == pytest.approx(20)


class GitHub(httpx.AsyncBaseTransport):
    """A platform of 5000 requests an hour that says how many remain, as GitHub does."""

    def __init__(self, remaining: int, *, limit: bool = True) -> None:
        self.remaining = remaining
        self.limit = limit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.remaining -= 1
        headers = {"X-RateLimit-Remaining": str(self.remaining), "X-RateLimit-Reset": "3600"}
        if self.limit:
            headers["X-RateLimit-Limit"] = "5000"
        return httpx.Response(200, headers=headers)


async def send_all(transport: RateLimitedTransport, count: int) -> None:
    for _ in range(count):
        await transport.handle_async_request(httpx.Request("GET", "http://platform.test/"))


@pytest.mark.parametrize("limit", [True, False], ids=["limit-header", "no-limit-header"])
async def test_requests_go_at_once_while_plenty_of_the_budget_remains(
    clock: Clock, limit: bool
) -> None:
    limiter = InProcessRateLimiter(clock)
    platform = GitHub(4991, limit=limit)
    transport = RateLimitedTransport(platform, limiter=limiter, key="k", budget=None, max_wait=0)
    await send_all(transport, 26)  # the clock stands still, and any wait would fail
    assert platform.remaining == 4965


async def test_requests_are_spread_once_fewer_than_the_reserve_remain(clock: Clock) -> None:
    limiter = InProcessRateLimiter(clock)
    platform = GitHub(502)
    transport = RateLimitedTransport(platform, limiter=limiter, key="k", budget=None, max_wait=0)
    await send_all(transport, 2)  # 500 remain: a tenth of the limit, not yet short
    await send_all(transport, 1)
    assert limiter.reserve("k", None) == pytest.approx(3600 / 499)


async def test_without_a_limit_the_most_remaining_since_the_reset_measures_the_budget(
    clock: Clock,
) -> None:
    limiter = InProcessRateLimiter(clock)
    await limiter.answered("k", None, Feedback(remaining=100, reset=60))
    assert [limiter.reserve("k", None) for _ in range(2)] == [0, 0]
    await limiter.answered("k", None, Feedback(remaining=9, reset=50))
    assert limiter.reserve("k", None) == pytest.approx(50 / 9)
    clock.now += 60  # past the reset: 100 no longer measures the new window
    await limiter.answered("k", None, Feedback(remaining=5, reset=60))
    assert [limiter.reserve("k", None) for _ in range(2)] == [0, 0]


async def test_an_answer_stamps_its_slot_again_so_its_token_returns_a_window_after_it(
    clock: Clock,
) -> None:
    limiter = InProcessRateLimiter(clock)
    budget = Budget(requests=2, per=10)
    first = await limiter.acquire("k", budget)
    second = await limiter.acquire("k", budget)
    assert first == second == 1000.0
    clock.now += 3  # the first answer took three seconds: the platform counted it by then
    await limiter.answered("k", budget, Feedback(), slot=first)
    assert limiter.reserve("k", budget) == pytest.approx(window(budget) - 3)
    clock.now += window(budget) - 3  # the second slot's token is back, the first's is not
    assert limiter.reserve("k", budget) == 0
    assert limiter.reserve("k", budget) == pytest.approx(3)


def test_a_restamp_keeps_the_slots_in_order_and_never_moves_one_earlier() -> None:
    budget = Budget(requests=3, per=10)
    bucket = Bucket(grants=[1.0, 2.0, 3.0])
    bucket.restamp(1.0, 5.0, budget)
    assert bucket.grants == [2.0, 3.0, 5.0]
    bucket.restamp(3.0, 2.5, budget)  # an answer is never earlier than its request
    assert bucket.grants == [2.0, 3.0, 5.0]
    bucket.restamp(0.5, 4.0, budget)  # a slot long out of the list still counts at its answer
    assert bucket.grants == [3.0, 4.0, 5.0]
    assert bucket.next_start(5.0, budget) == pytest.approx(3.0 + window(budget))


class LostOnTheWay(httpx.AsyncBaseTransport):
    """A transport whose requests fail two seconds after they are sent."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.clock.now += 2
        raise httpx.ReadError("connection lost", request=request)


async def test_a_request_that_fails_stamps_its_slot_when_it_failed(clock: Clock) -> None:
    limiter, budget = InProcessRateLimiter(clock), Budget(requests=1, per=10)
    transport = RateLimitedTransport(LostOnTheWay(clock), limiter=limiter, key="k", budget=budget)
    with pytest.raises(httpx.ReadError):  # the platform may have counted it all the same
        await transport.handle_async_request(httpx.Request("GET", "http://platform.test/"))
    assert limiter.reserve("k", budget) == pytest.approx(window(budget))


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    assert retry_after({"retry-after": "7"}) == 7
    assert retry_after({"retry-after": " 1.5 "}) == 1.5
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after({"retry-after": date}, now=1_000_000) == pytest.approx(30)
    assert retry_after({"retry-after": date}, now=2_000_000) == 0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_feedback_of_rate_limit_headers() -> None:
    headers = httpx.Headers({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "12"})
    assert feedback_of(200, headers) == Feedback(remaining=3, reset=12)
    headers["X-RateLimit-Limit"] = "5000"
    assert feedback_of(200, headers) == Feedback(remaining=3, reset=12, limit=5000)
    assert feedback_of(429, httpx.Headers({"Retry-After": "2"})) == Feedback(True, 2.0)
    assert feedback_of(200, httpx.Headers({"X-RateLimit-Remaining": "many"})).is_empty


# ---------------------------------------------------------------- on the wire


def most_in_a_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max(sum(1 for t in ordered if start <= t < start + window) for start in ordered)


def connect(catalog: Catalog, url: str, limiter: InProcessRateLimiter, **values: Any) -> Connection:
    spec = demo_spec(catalog, rate_limit={"requests": 5, "per": 0.5})
    return Connection(
        spec, {"url": url, **values}, expressions=catalog.expressions, limiter=limiter
    )


async def ping(connection: Connection) -> None:
    template = make_request(connection.expressions, "GET", "/ping")
    await connection.send(
        connection.build_request(template, connection.context()), policy=CallPolicy()
    )


async def test_the_limit_holds_under_twenty_concurrent_callers(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    async with connect(catalog, url, InProcessRateLimiter()) as connection:
        await asyncio.gather(*(ping(connection) for _ in range(20)))
    assert len(state.seen) == 20
    assert most_in_a_window([s.at for s in state.seen], 0.5) == 5


async def test_connections_with_the_same_credentials_share_a_budget(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    limiter = InProcessRateLimiter()
    async with (
        connect(catalog, url, limiter, password="same") as first,
        connect(catalog, url, limiter, password="same") as second,
    ):
        await asyncio.gather(*(ping(c) for c in [first, second] * 6))
    assert most_in_a_window([s.at for s in state.seen], 0.5) == 5


async def test_logins_count_against_the_budget(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    auth = {
        "type": "session",
        "login": {"method": "POST", "path": "/login"},
        "capture": {"token": "method"},
        "apply": {"headers": {"X-Session": "{{ session.token }}"}},
    }
    spec = demo_spec(catalog, auth=auth, rate_limit={"requests": 2, "per": 0.4})
    async with Connection(
        spec, {"url": url}, expressions=catalog.expressions, limiter=InProcessRateLimiter()
    ) as connection:
        await asyncio.gather(*(ping(connection) for _ in range(3)))
    assert [s.method for s in state.seen].count("POST") == 1
    assert len(state.seen) == 4
    assert most_in_a_window([s.at for s in state.seen], 0.4) == 2


class RecordingLimiter(InProcessRateLimiter):
    """Remembers the keys it was told about."""

    def __init__(self) -> None:
        super().__init__()
        self.told: list[tuple[str, Feedback]] = []
        self.keys: list[str] = []

    async def acquire(
        self, key: str, budget: Budget | None, *, max_wait: float = 600
    ) -> float | None:
        self.keys.append(key)
        return await super().acquire(key, budget, max_wait=max_wait)

    async def answered(
        self, key: str, budget: Budget | None, feedback: Feedback, *, slot: float | None = None
    ) -> None:
        if not feedback.is_empty:
            self.told.append((key, feedback))
        await super().answered(key, budget, feedback, slot=slot)


async def test_a_429_slows_the_shared_bucket(
    catalog: Catalog, server: tuple[str, EchoState]
) -> None:
    url, state = server
    limiter = RecordingLimiter()
    state.replies.append(Reply(429, headers={"Retry-After": "30"}))
    async with connect(catalog, url, limiter) as connection:
        template = make_request(catalog.expressions, "GET", "/ping")
        request = connection.build_request(template, connection.context())
        with pytest.raises(RateLimitedError):
            await connection.send(request, policy=CallPolicy(retry=RetryPolicy(attempts=1)))
    [(key, feedback)] = limiter.told
    assert feedback == Feedback(refused=True, retry_after=30)
    assert limiter.reserve(key, Budget(5, 0.5)) > 25


@pytest.mark.parametrize(("key", "shared"), [(None, False), ("{{ connection.username }}", True)])
async def test_the_budget_key_names_who_owns_the_budget(
    catalog: Catalog, server: tuple[str, EchoState], key: str | None, shared: bool
) -> None:
    url, _ = server
    limiter = RecordingLimiter()
    rate: dict[str, Any] = {"requests": 5, "per": 0.5}
    if key is not None:
        rate["key"] = key
    spec = demo_spec(catalog, rate_limit=rate)
    for password in ("first-token", "second-token"):
        values = {"url": url, "username": "account", "password": password}
        async with Connection(
            spec, values, expressions=catalog.expressions, limiter=limiter
        ) as connection:
            await ping(connection)
    assert (limiter.keys[0] == limiter.keys[1]) is shared
    assert all("token" not in k and "account" not in k for k in limiter.keys)
