"""The console of ``hookline serve``, served in-process against the tracker: sign-in, cookie
flags, CSRF and Origin checks, the bearer API, secrets shown as ***, pausing and resuming a
trigger, confirmed job actions recorded with who did them; and its operator token."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from hookline.cli.jobs import jobs
from hookline.cli.triggers import triggers
from hookline.errors import ConfigurationError
from hookline.recipes.load import load_recipe
from hookline.run import cycles
from hookline.run.audit import job_actions
from hookline.run.console.app import WebConsole
from hookline.run.console.auth import (
    WRONG_TOKENS,
    WRONG_WINDOW,
    Guard,
    TooManyTries,
    digest,
    prepare_access,
)
from hookline.run.pool import ConnectionPool
from hookline.run.sandbox import base_url, bind_all
from hookline.run.serve import ServeSettings, Service
from hookline.run.shutdown import Shutdown
from hookline.run.store import SqlStore, StepRecord, open_store
from hookline.spec.catalog import Catalog
from tests.recipe_kit import TOKEN, TrackerState, json_lines, serve_tracker, tracker_catalog

OPERATOR = "console-operator-token-for-tests"
RECIPE = """\
recipe: hook
connections:
  tracker:
    connector: tracker
    base_url: "{{ env.TRACKER_URL }}"
    token: "{{ env.TRACKER_TOKEN }}"
trigger: {event: tracker.ticket_event}
steps:
  - action: tracker.add_comment
    with: {id: "{{ trigger.id }}", text: "changed {{ trigger.title }}"}
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return tracker_catalog(tmp_path_factory.mktemp("specs"))


@pytest.fixture
def tracker() -> Iterator[TrackerState]:
    yield from serve_tracker()


class Console:
    """A served recipe with its console, a client, and the store behind them."""

    def __init__(self, url: str, service: Service, client: httpx.AsyncClient) -> None:
        self.url = url
        self.service = service
        self.store: SqlStore = service.store
        self.client = client
        self.csrf = ""

    async def sign_in(self, name: str = "Ada") -> httpx.Response:
        answer = await self.client.post(
            f"{self.url}/login",
            data={"token": OPERATOR, "name": name, "next": "/jobs"},
            headers={"origin": self.url},
        )
        page = await self.client.get(f"{self.url}/")
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert found, page.text
        self.csrf = found.group(1)
        return answer

    async def post(self, path: str, **data: str) -> httpx.Response:
        return await self.client.post(
            f"{self.url}{path}", data={"csrf": self.csrf, **data}, headers={"origin": self.url}
        )

    async def job(self, outcome: str, **step: Any) -> str:
        made = await self.store.create_job("hook", "hook.yaml", f"key-{outcome}", {"id": 1})
        assert made is not None
        if step:
            await self.store.record_step(made.id, StepRecord(path="steps[0]", seq=0, **step))
        error = {"kind": "unknown", "message": "the connection broke", "step": "steps[0]"}
        await self.store.finish_job(made.id, outcome, error=error)
        return made.id


@asynccontextmanager
async def served(catalog: Catalog, folder: Path, tracker: TrackerState) -> AsyncIterator[Console]:
    """Serve the webhook recipe with its console until the block ends."""
    env = {"TRACKER_URL": tracker.url, "TRACKER_TOKEN": TOKEN}
    path = folder / "hook.yaml"
    path.write_text(RECIPE)
    recipe = load_recipe(path, catalog, env=env)
    store = open_store(str(folder / "state.db"), catalog.pm)
    granted = await prepare_access(store, {"HOOKLINE_CONSOLE_TOKEN": OPERATOR}, "127.0.0.1")
    guard = Guard(store, granted.token_hash)
    sock = bind_all("127.0.0.1", [0])[0]
    try:
        async with ConnectionPool(catalog, env=env) as pool:
            pool.open(recipe)
            service = Service(
                [recipe], pool, store, settings=ServeSettings(grace=5.0, sweep=0.2),
                console=lambda service: WebConsole(service, guard).app(),
            )  # fmt: skip
            shutdown = Shutdown()
            running = asyncio.create_task(service.run(sock, shutdown))
            url = base_url(sock)
            async with httpx.AsyncClient(timeout=10) as client:
                for _ in range(200):
                    try:
                        await client.get(f"{url}/healthz")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.02)
                yield Console(url, service, client)
            shutdown.requested.set()
            await running
    finally:
        sock.close()
        await store.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_pages_and_api_refuse_requests_without_a_session(
    catalog: Catalog, tmp_path: Path, tracker: TrackerState
) -> None:
    async def main() -> None:
        async with served(catalog, tmp_path, tracker) as console:
            job = await console.job("outcome_unknown")
            page = await console.client.get(f"{console.url}/jobs/{job}")
            assert page.status_code == 303
            assert page.headers["location"] == f"/login?next=%2Fjobs%2F{job}"
            api = await console.client.get(f"{console.url}/api/jobs")
            assert api.status_code == 401
            forced = await console.client.post(
                f"{console.url}/jobs/{job}/resolve", data={"as": "succeeded"},
                headers={"origin": console.url},
            )  # fmt: skip
            assert forced.status_code == 403
            wrong = await console.client.get(
                f"{console.url}/api/jobs", headers={"authorization": "Bearer not-the-token"}
            )
            assert wrong.status_code == 401
            assert (await console.store.get_job(job)).status == "outcome_unknown"  # type: ignore[union-attr]

    run(main())


def test_signing_in_gives_a_strict_http_only_cookie_secure_over_https(
    catalog: Catalog, tmp_path: Path, tracker: TrackerState
) -> None:
    async def main() -> None:
        async with served(catalog, tmp_path, tracker) as console:
            refused = await console.client.post(
                f"{console.url}/login", data={"token": "guess"}, headers={"origin": console.url}
            )
            assert refused.status_code == 401
            assert "set-cookie" not in refused.headers
            answer = await console.sign_in()
            assert answer.status_code == 303 and answer.headers["location"] == "/jobs"
            cookie = answer.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
            assert "Secure" not in cookie
            assert OPERATOR not in cookie
            https = await console.client.post(
                f"{console.url}/login",
                data={"token": OPERATOR},
                headers={"origin": "https://" + console.url.split("://")[1],
                         "x-forwarded-proto": "https"},
            )  # fmt: skip
            assert "Secure" in https.headers["set-cookie"]
            elsewhere = await console.client.post(
                f"{console.url}/login", data={"token": OPERATOR},
                headers={"origin": "https://evil.example"},
            )  # fmt: skip
            assert elsewhere.status_code == 403

    run(main())


def test_state_changes_need_the_csrf_token_and_the_consoles_own_origin(
    catalog: Catalog, tmp_path: Path, tracker: TrackerState
) -> None:
    async def main() -> None:
        async with served(catalog, tmp_path, tracker) as console:
            job = await console.job("outcome_unknown")
            await console.sign_in("Ada")
            path = f"{console.url}/jobs/{job}/resolve"
            forged = await console.client.post(
                path, data={"csrf": "0" * 64, "as": "failed"}, headers={"origin": console.url}
            )
            assert forged.status_code == 403 and "CSRF" in forged.text
            other = await console.client.post(
                path, data={"csrf": console.csrf, "as": "failed"},
                headers={"origin": "http://127.0.0.1:1"},
            )  # fmt: skip
            assert other.status_code == 403 and "Origin" in other.text
            bare = await console.client.post(path, data={"csrf": console.csrf, "as": "failed"})
            assert bare.status_code == 403
            assert (await console.store.get_job(job)).status == "outcome_unknown"  # type: ignore[union-attr]
            confirm = await console.client.get(path)
            assert confirm.status_code == 200 and 'name="as"' in confirm.text
            done = await console.client.post(
                path, data={"csrf": console.csrf, "as": "failed"},
                headers={"referer": f"{console.url}/jobs/{job}/resolve"},
            )  # fmt: skip
            assert done.status_code == 303
            assert (await console.store.get_job(job)).status == "failed"  # type: ignore[union-attr]
            [action] = await job_actions(console.store, job)
            assert (action.action, action.actor, action.detail) == (
                "resolve", "Ada (console)", {"as": "failed"},
            )  # fmt: skip
            page = await console.client.get(f"{console.url}/jobs/{job}")
            assert "resolve by Ada (console)" in page.text

    run(main())


def test_wrong_tokens_from_one_address_are_refused_for_a_while_and_sessions_go_on(
    catalog: Catalog, tmp_path: Path, tracker: TrackerState
) -> None:
    async def main() -> None:
        async with served(catalog, tmp_path, tracker) as console:
            await console.sign_in()
            origin = {"origin": console.url}
            for n in range(WRONG_TOKENS):
                wrong = await console.client.post(
                    f"{console.url}/login", data={"token": f"guess-{n}"}, headers=origin
                )
                assert wrong.status_code == 401
            right = await console.client.post(
                f"{console.url}/login", data={"token": OPERATOR}, headers=origin
            )
            assert right.status_code == 429 and "set-cookie" not in right.headers
            assert 0 < int(right.headers["retry-after"]) <= WRONG_WINDOW
            assert "too many wrong operator tokens" in right.text
            bearer = {"authorization": f"Bearer {OPERATOR}"}
            api = await console.client.get(f"{console.url}/api/jobs", headers=bearer)
            assert api.status_code == 429 and "too many wrong" in api.json()["error"]
            page = await console.client.get(f"{console.url}/jobs")  # the session opened before
            assert page.status_code == 200 and "<h1>Jobs</h1>" in page.text

    run(main())


def test_wrong_tokens_are_counted_per_address_and_forgotten_after_the_window() -> None:
    now = [1000.0]
    guard = Guard(None, digest(OPERATOR), clock=lambda: now[0])  # type: ignore[arg-type]
    for _ in range(WRONG_TOKENS):
        assert not guard.token_matches("guess", "192.0.2.1")
        now[0] += 1
    with pytest.raises(TooManyTries) as refused:
        guard.token_matches(OPERATOR, "192.0.2.1")
    assert refused.value.seconds == WRONG_WINDOW - WRONG_TOKENS
    assert guard.token_matches(OPERATOR, "192.0.2.2")  # another address
    now[0] += refused.value.seconds  # the oldest wrong token is a window old
    assert guard.token_matches(OPERATOR, "192.0.2.1")


def test_the_api_takes_the_bearer_token_and_answers_json(
    catalog: Catalog, tmp_path: Path, tracker: TrackerState
) -> None:
    async def main() -> None:
        async with served(catalog, tmp_path, tracker) as console:
            job = await console.job("outcome_unknown")
            bearer = {"authorization": f"Bearer {OPERATOR}"}
            listed = (await console.client.get(f"{console.url}/api/jobs?status=outcome_unknown",
                                               headers=bearer)).json()  # fmt: skip
            assert [row["id"] for row in listed["jobs"]] == [job]
            recipes = await console.client.get(f"{console.url}/api/recipes", headers=bearer)
            [row] = recipes.json()["recipes"]
            assert row["schedule"] == f"{console.url}/hooks/hook" and row["health"] == "ok"
            done = await console.client.post(
                f"{console.url}/api/jobs/{job}/resolve", json={"as": "succeeded"}, headers=bearer
            )
            assert done.json() == {"action": "resolve", "job": job}
            again = await console.client.post(
                f"{console.url}/api/jobs/{job}/resolve", json={"as": "succeeded"}, headers=bearer
            )
            assert again.status_code == 409 and "only a job whose outcome is unknown" in again.text
            bad = await console.client.get(f"{console.url}/api/jobs?status=lost", headers=bearer)
            assert bad.status_code == 409 and "outcome_unknown" in bad.text
            # what is not there is a 404, told apart from what cannot be done
            gone = await console.client.get(f"{console.url}/api/jobs/zzzz", headers=bearer)
            assert gone.status_code == 404 and "no job 'zzzz'" in gone.json()["error"]
            nope = await console.client.post(
                f"{console.url}/api/connections/nope/test", json={}, headers=bearer
            )
            assert nope.status_code == 404 and "no open connection named 'nope'" in nope.text
            await console.sign_in()
            page = await console.client.get(f"{console.url}/jobs/zzzz")
            assert page.status_code == 404 and "no job" in page.text

    run(main())


def test_a_job_page_shows_secrets_as_stars(
    catalog: Catalog, tmp_path: Path, tracker: TrackerState
) -> None:
    async def main() -> None:
        async with served(catalog, tmp_path, tracker) as console:
            # a history written in clear, as a store from before redaction might hold it
            job = await console.job(
                "failed", status="failed", action="tracker.add_comment",
                input={"id": 1, "text": f"token {TOKEN}"}, output={"echo": TOKEN},
                error={"message": f"refused {TOKEN}"},
            )  # fmt: skip
            await console.sign_in()
            page = await console.client.get(f"{console.url}/jobs/{job}")
            api = await console.client.get(f"{console.url}/api/jobs/{job}")
            listed = await console.client.get(f"{console.url}/connections")
            for text in (page.text, api.text, listed.text):
                assert TOKEN not in text
            assert "token ***" in page.text and api.json()["steps"][0]["output"] == {"echo": "***"}
            assert "refused ***" in listed.text  # the connection's last error

    run(main())


def test_a_paused_webhook_trigger_keeps_events_and_runs_them_once_resumed(
    catalog: Catalog, tmp_path: Path, tracker: TrackerState
) -> None:
    async def main() -> None:
        async with served(catalog, tmp_path, tracker) as console:
            await console.sign_in("Grace")
            confirm = await console.client.get(f"{console.url}/recipes/hook/pause")
            assert "Pause the trigger of hook?" in confirm.text
            paused = await console.post("/recipes/hook/pause")
            assert paused.status_code == 303
            [state] = await cycles.trigger_states(console.store)
            assert state.paused and state.paused_by == "Grace (console)"
            sent = await console.client.post(
                f"{console.url}/hooks/hook", json={"ticket": {"id": 1, "title": "held"}}
            )
            assert sent.status_code == 202  # the receiver is outside the login
            job = sent.json()["job"]
            await asyncio.sleep(1.0)  # several sweeps
            assert (await console.store.get_job(job)).status == "queued"  # type: ignore[union-attr]
            assert tracker.comments == []
            await console.post("/recipes/hook/resume")
            for _ in range(100):
                if (await console.store.get_job(job)).status == "succeeded":  # type: ignore[union-attr]
                    break
                await asyncio.sleep(0.05)
            assert (await console.store.get_job(job)).status == "succeeded"  # type: ignore[union-attr]

    run(main())


def test_a_failed_job_is_rerun_and_replayed_from_the_console(
    catalog: Catalog, tmp_path: Path, tracker: TrackerState
) -> None:
    async def main() -> None:
        async with served(catalog, tmp_path, tracker) as console:
            sent = await console.client.post(
                f"{console.url}/hooks/hook", json={"ticket": {"id": 1, "title": "first"}}
            )
            job = sent.json()["job"]
            for _ in range(100):
                if (await console.store.get_job(job)).status == "succeeded":  # type: ignore[union-attr]
                    break
                await asyncio.sleep(0.05)
            failed = await console.job("failed")
            await console.sign_in("Lin")
            refused = await console.post(f"/jobs/{job}/rerun")
            assert refused.status_code == 409 and "nothing to rerun" in refused.text
            assert (await console.post(f"/jobs/{failed}/rerun")).status_code == 303
            for _ in range(100):
                if (await console.store.get_job(failed)).status == "succeeded":  # type: ignore[union-attr]
                    break
                await asyncio.sleep(0.05)
            assert (await console.store.get_job(failed)).status == "succeeded"  # type: ignore[union-attr]
            replayed = await console.post(f"/jobs/{job}/replay")
            new = replayed.headers["location"].split("/jobs/")[1].split("?")[0]
            assert new != job
            [action] = await job_actions(console.store, job)
            assert (action.action, action.actor, action.detail) == (
                "replay", "Lin (console)", {"job": new},
            )  # fmt: skip
            [rerun] = await job_actions(console.store, failed)
            assert (rerun.action, rerun.actor) == ("rerun", "Lin (console)")

    run(main())


def test_the_operator_token_is_made_once_and_kept_only_as_a_hash(tmp_path: Path) -> None:
    async def main() -> None:
        from hookline.plugins.manager import get_plugin_manager

        store = open_store(str(tmp_path / "state.db"), get_plugin_manager())
        try:
            with pytest.raises(ConfigurationError, match="not a loopback address"):
                await prepare_access(store, {}, "0.0.0.0")
            first = await prepare_access(store, {}, "127.0.0.1")
            assert first.new_token is not None and first.token_hash == digest(first.new_token)
            again = await prepare_access(store, {}, "::1")
            assert again == type(first)(first.token_hash)  # not shown again
            elsewhere = await prepare_access(store, {}, "0.0.0.0")  # made beforehand: served
            assert elsewhere.token_hash == first.token_hash
            given = await prepare_access(store, {"HOOKLINE_CONSOLE_TOKEN": OPERATOR}, "0.0.0.0")
            assert given.token_hash == digest(OPERATOR) and given.new_token is None
            with pytest.raises(ConfigurationError, match="shorter than 16"):
                await prepare_access(store, {"HOOKLINE_CONSOLE_TOKEN": "short"}, "127.0.0.1")
        finally:
            await store.close()
        raw = (tmp_path / "state.db").read_bytes()
        assert first.new_token.encode() not in raw

    run(main())


def test_serve_refuses_a_console_on_another_host_without_a_token(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hookline.cli.serve import serve

    monkeypatch.delenv("HOOKLINE_CONSOLE_TOKEN", raising=False)
    (tmp_path / "hook.yaml").write_text(RECIPE)
    env = {"TRACKER_URL": "http://127.0.0.1:9", "TRACKER_TOKEN": TOKEN}
    args = [str(tmp_path / "hook.yaml"), "--host", "0.0.0.0", "--port", "0",
            "--state", str(tmp_path / "state.db")]  # fmt: skip
    from types import SimpleNamespace

    result = CliRunner().invoke(serve, args, obj=SimpleNamespace(catalog=catalog), env=env)
    assert result.exit_code == 1
    assert "not a loopback address" in result.output and "--no-console" in result.output


def test_triggers_pause_and_resume_and_jobs_show_lists_actions(
    catalog: Catalog, tmp_path: Path, tracker: TrackerState
) -> None:
    state = str(tmp_path / "state.db")

    async def prepare() -> str:
        async with served(catalog, tmp_path, tracker) as console:
            job = await console.job("outcome_unknown")
            await console.sign_in("Ada")
            await console.post(f"/jobs/{job}/resolve", **{"as": "succeeded"})
            return job

    job = run(prepare())
    from types import SimpleNamespace

    from hookline.plugins.manager import get_plugin_manager

    app = SimpleNamespace(catalog=catalog, pm=get_plugin_manager())
    runner = CliRunner()
    paused = runner.invoke(triggers, ["pause", "hook", "--state", state], obj=app)
    assert paused.exit_code == 0, paused.output
    [row] = list(json_lines(runner.invoke(triggers, ["--state", state], obj=app).output))
    assert row["paused_at"] is not None and row["paused_by"].endswith("(cli)")
    resumed = runner.invoke(triggers, ["resume", "hook", "--state", state], obj=app)
    assert resumed.exit_code == 0
    [row] = list(json_lines(runner.invoke(triggers, ["--state", state], obj=app).output))
    assert row["paused_at"] is None
    unknown = runner.invoke(triggers, ["pause", "nobody", "--state", state], obj=app)
    assert unknown.exit_code == 1 and "no trigger of recipe 'nobody'" in unknown.output
    shown = runner.invoke(jobs, ["show", job[:10], "--state", state], obj=app)
    [action] = next(json_lines(shown.output.replace("\n", " ")))["actions"]
    assert (action["action"], action["actor"]) == ("resolve", "Ada (console)")
