"""OAuth tokens in the state store: sealed at rest, refreshed once across processes, shown,
forgotten, and imported from the token files of earlier versions; on SQLite and PostgreSQL.

Two stores opened on one database stand for two processes where a test runs in one; the
commands run as processes of their own against the local authorization server.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.fernet import Fernet

from hookline import hookimpl
from hookline.documents.markdown import fenced_blocks
from hookline.errors import AuthenticationError, ConfigurationError
from hookline.http import lease
from hookline.plugins.manager import get_plugin_manager
from hookline.run.connections import Connections, NamedConnection
from hookline.run.console.data import connection_rows
from hookline.run.keys import KEY_VARIABLE, InstallationKey, new_key
from hookline.run.pool import ConnectionPool
from hookline.run.serve import Service
from hookline.run.store import SqlStore, open_store
from hookline.run.tokens import StoreTokens, TokenFilesImported
from hookline.spec.catalog import Catalog
from tests.oauth_server import OAuthState
from tests.servers import fetch
from tests.stores import KINDS, store_url
from tests.test_oauth2 import (
    AUTHORIZATION_CODE,
    FIELDS,
    VALUES,
    connect,
    server,  # noqa: F401  (the module's authorization server fixture)
    token_session,
)

pytestmark = pytest.mark.anyio

KEY = InstallationKey(new_key())
TOKENS: dict[str, Any] = {
    "access_token": "acc-3f9e1c",
    "refresh_token": "ref-77b2d0",
    "token_type": "Bearer",
    "expires_at": 4102444800,
    "expires_in": 3600,
}


@pytest.fixture
def oauth(server: tuple[str, OAuthState]) -> tuple[str, OAuthState]:  # noqa: F811
    """The authorization server, with nothing issued yet."""
    url, state = server
    state.configure()
    return url, state


@pytest.fixture(params=KINDS)
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty state store of each kind, by URL."""
    with store_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def database(state_url: str) -> AsyncIterator[SqlStore]:
    store = open_store(state_url, get_plugin_manager())
    yield store
    await store.close()


async def raw_rows(store: SqlStore) -> list[tuple[Any, ...]]:
    """Every row of the tokens table, as the database holds it."""

    def work(cur: Any) -> list[tuple[Any, ...]]:
        cur.execute("SELECT * FROM oauth_tokens")
        return [tuple(row) for row in cur.fetchall()]

    return await store.transaction(work)


async def expire_stored(tokens: StoreTokens, name: str) -> dict[str, Any]:
    """Make the stored access token of ``name`` expired; the tokens as they were."""
    kept = await tokens.load(name)
    assert kept is not None
    await tokens.save(name, {**kept, "expires_at": int(time.time()) - 10})
    return kept


# ---------------------------------------------------------------- the store


async def test_tokens_are_sealed_at_rest_and_only_the_expiry_is_in_clear(
    database: SqlStore,
) -> None:
    tokens = StoreTokens(database, KEY)
    await tokens.save("crm", TOKENS)
    [row] = await raw_rows(database)
    text = repr(row)
    assert TOKENS["access_token"] not in text and TOKENS["refresh_token"] not in text
    assert row[0] == "crm" and float(row[2]) == TOKENS["expires_at"]
    assert await tokens.load("crm") == TOKENS
    status = await tokens.status("crm")
    assert status.authorized and status.expires_at == TOKENS["expires_at"]


async def test_tokens_sealed_with_another_key_say_to_authorize_again(database: SqlStore) -> None:
    await StoreTokens(database, KEY).save("crm", TOKENS)
    other = StoreTokens(database, InstallationKey(new_key(), "$HOOKLINE_SECRET_KEY"))
    with pytest.raises(ConfigurationError, match=r"\$HOOKLINE_SECRET_KEY.*authorize crm` again"):
        await other.load("crm")
    status = await other.status("crm")
    assert not status.authorized and "sealed with another key" in (status.problem or "")


async def test_delete_forgets_the_tokens_and_says_whether_there_were_any(
    database: SqlStore,
) -> None:
    tokens = StoreTokens(database, KEY)
    await tokens.save("crm", TOKENS)
    assert await tokens.delete("crm") is True
    assert await tokens.load("crm") is None
    assert await tokens.delete("crm") is False
    assert not (await tokens.status("crm")).authorized
    assert all(TOKENS["refresh_token"] not in repr(row) for row in await raw_rows(database))


async def test_refresh_is_single_flight_across_processes(
    catalog: Catalog, oauth: tuple[str, OAuthState], state_url: str
) -> None:
    """Two threads, each with its own event loop, store connection and connection, find the
    access token expired at once: one refreshes, the other waits and uses its token."""
    url, state = oauth
    pm = get_plugin_manager()
    setup = open_store(state_url, pm)
    tokens = StoreTokens(setup, KEY)
    first = state.issue(with_refresh=True)
    await tokens.save("crm", {**first, "expires_at": int(time.time()) - 10})
    state.token_delay = 0.5
    barrier = threading.Barrier(2)
    used: list[str] = []

    async def process() -> None:
        store = open_store(state_url, pm)
        try:
            async with connect(catalog, AUTHORIZATION_CODE, url, StoreTokens(store, KEY)) as conn:
                await asyncio.to_thread(barrier.wait)
                assert (await fetch(conn, "/api/things"))["items"]
                token = token_session(conn).token
                assert token is not None
                used.append(token["access_token"])
        finally:
            await store.close()

    def run() -> None:
        asyncio.run(process())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert state.grants == {"refresh_token": 1}
    assert len(used) == 2 and used[0] == used[1] != first["access_token"]
    rotated = await tokens.load("crm")
    assert rotated is not None and rotated["access_token"] == used[0]
    assert rotated["refresh_token"] in state.refresh
    assert first["refresh_token"] not in state.refresh  # used once, rotated
    await setup.close()


async def test_a_lease_whose_holder_died_runs_out(
    catalog: Catalog, oauth: tuple[str, OAuthState], database: SqlStore
) -> None:
    url, state = oauth
    tokens = StoreTokens(database, KEY)
    await tokens.save("crm", {**state.issue(with_refresh=True), "expires_at": 0})
    assert await tokens.claim("crm", "a process that died", 0.3)
    started = time.monotonic()
    async with connect(catalog, AUTHORIZATION_CODE, url, tokens) as connection:
        await fetch(connection, "/api/things")
    assert 0.2 < time.monotonic() - started < 10
    assert state.grants == {"refresh_token": 1}


async def test_a_refresh_slower_than_the_lease_keeps_it_and_is_sent_once(
    catalog: Catalog,
    oauth: tuple[str, OAuthState],
    state_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The token endpoint answers after three lease periods: the holder renews its lease
    meanwhile, so the other process waits for its tokens instead of refreshing too."""
    url, state = oauth
    monkeypatch.setattr(lease, "LEASE", 0.6)
    pm = get_plugin_manager()
    stores = [open_store(state_url, pm) for _ in range(2)]
    first = state.issue(with_refresh=True)
    await StoreTokens(stores[0], KEY).save("crm", {**first, "expires_at": 0})
    state.token_delay = 1.8

    async def process(store: SqlStore, start: float) -> str:
        await asyncio.sleep(start)
        async with connect(catalog, AUTHORIZATION_CODE, url, StoreTokens(store, KEY)) as conn:
            assert (await fetch(conn, "/api/things"))["items"]
            token = token_session(conn).token
            assert token is not None
            return str(token["access_token"])

    try:
        used = await asyncio.gather(process(stores[0], 0), process(stores[1], 0.3))
        assert state.grants == {"refresh_token": 1}
        assert used[0] == used[1] != first["access_token"]
        [row] = await raw_rows(stores[0])
        assert row[4:] == (None, None)  # the lease was given back, and is renewed no more
    finally:
        for store in stores:
            await store.close()


async def test_a_wait_for_another_process_refreshing_is_bounded_and_says_so(
    catalog: Catalog,
    oauth: tuple[str, OAuthState],
    database: SqlStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, state = oauth
    monkeypatch.setattr(lease, "LEASE", 0.3)
    monkeypatch.setattr(lease, "WAIT", 0.8)
    tokens = StoreTokens(database, KEY)
    await tokens.save("crm", {**state.issue(with_refresh=True), "expires_at": 0})
    assert await tokens.claim("crm", "a live process", 0.3)
    started = time.monotonic()
    async with (
        lease.Heartbeat(lambda: tokens.claim("crm", "a live process", 0.3), 0.1),
        connect(catalog, AUTHORIZATION_CODE, url, tokens) as connection,
    ):
        with pytest.raises(AuthenticationError) as raised:
            await fetch(connection, "/api/things")
    assert 0.8 <= time.monotonic() - started < 5
    assert str(raised.value).startswith(
        "waited 0.8 s for another process to refresh the OAuth tokens of connection 'crm', "
        "and it is still at it; try again once it has finished"
    )
    assert state.grants == {}


async def test_tokens_forgotten_elsewhere_say_to_authorize(
    catalog: Catalog, oauth: tuple[str, OAuthState], database: SqlStore
) -> None:
    url, state = oauth
    tokens = StoreTokens(database, KEY)
    await tokens.save("crm", state.issue(with_refresh=True))
    async with connect(catalog, AUTHORIZATION_CODE, url, tokens) as connection:
        await fetch(connection, "/api/things")
        await tokens.delete("crm")  # `connections logout crm` in another process
        state.revoke_access()
        with pytest.raises(Exception, match="'crm' is not authorized any more"):
            await fetch(connection, "/api/things")
    assert "refresh_token" not in state.grants


# ---------------------------------------------------------------- the commands

PLUGIN = '''
"""The OAuth demo connector, as a plugin."""
from pathlib import Path

from hookline import hookimpl


@hookimpl
def register_connectors():
    return [Path(__file__).parent / "{name}.yaml"]
'''


@dataclass
class Project:
    """A project folder whose connections file names connections to the local server."""

    folder: Path
    env: dict[str, str]
    plugin: str

    @property
    def tokens_folder(self) -> Path:
        return self.folder / ".hookline" / "tokens"

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start a command in the project's folder."""
        return subprocess.Popen(
            [sys.executable, "-m", "hookline", "--plugin", self.plugin, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=self.folder,
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a command to its end."""
        with self.start(*args) as command:
            out, err = command.communicate(timeout=60)
        return subprocess.CompletedProcess(command.args, command.returncode, out, err)


def spec_of(connector: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A connector whose connection authorizes by code at the server its ``url`` names."""
    return {
        "spec": "hookline/v1",
        "name": connector,
        "title": connector.upper(),
        "connection": {
            "fields": fields,
            "base_url": "{{ connection.url }}",
            "auth": AUTHORIZATION_CODE,
        },
        "actions": {
            "list_things": {
                "title": "List things",
                "request": {"method": "GET", "path": "/api/things"},
                "output": {"records": "items"},
            }
        },
    }


def write_project(
    tmp_path: Path,
    state_url: str,
    connector: str,
    fields: dict[str, Any],
    entries: dict[str, dict[str, Any]],
) -> Project:
    """A plugin with ``connector`` (``spec_of``) and a project with the connections
    ``entries``."""
    spec = spec_of(connector, fields)
    (tmp_path / f"{connector}.yaml").write_text(yaml.safe_dump(spec))
    (tmp_path / f"{connector}_plugin.py").write_text(PLUGIN.format(name=connector))
    folder = tmp_path / "project"
    (folder / ".hookline").mkdir(parents=True)
    connections = folder / ".hookline" / "connections.yaml"
    connections.write_text(yaml.safe_dump(entries, sort_keys=False))
    connections.chmod(0o600)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
        "HOOKLINE_STATE": state_url,
        KEY_VARIABLE: Fernet.generate_key().decode(),
    }
    env.pop("HOOKLINE_CONNECTIONS", None)
    return Project(folder, env, f"{connector}_plugin")


@pytest.fixture
def project(oauth: tuple[str, OAuthState], state_url: str, tmp_path: Path) -> Project:
    """A connection ``crm-prod`` of connector ``crm``, not yet authorized."""
    url, _ = oauth
    entries = {"crm-prod": {"connector": "crm", "url": url, **VALUES}}
    return write_project(tmp_path, state_url, "crm", FIELDS, entries)


@pytest.fixture
async def kept(project: Project) -> AsyncIterator[StoreTokens]:
    """The project's tokens, read as its commands do, old token files left alone."""
    store = open_store(project.env["HOOKLINE_STATE"], get_plugin_manager())
    yield StoreTokens(store, InstallationKey(project.env[KEY_VARIABLE].encode()))
    await store.close()


def authorize_in_browser(
    project: Project, *options: str, name: str = "crm-prod"
) -> subprocess.CompletedProcess[str]:
    """Run `connections authorize NAME` and do the person's part with an HTTP client."""
    with project.start("connections", "authorize", name, *options) as command:
        assert command.stdout is not None
        before = [""]
        while "/authorize?" not in before[-1]:
            before.append(command.stdout.readline())
            assert before[-1], command.stderr.read() if command.stderr else "no output"
        with httpx.Client(follow_redirects=True) as browser:
            answer = browser.get(before[-1].strip())
        assert answer.status_code == 200 and "authorized" in answer.text
        assert str(answer.url).startswith("http://127.0.0.1:")
        command.wait(20)
        out = "".join(before) + command.stdout.read()  # what readline buffered included
        err = command.stderr.read() if command.stderr else ""
    return subprocess.CompletedProcess(command.args, command.returncode, out, err)


async def test_authorize_keeps_sealed_tokens_that_call_list_and_logout_use(
    project: Project, oauth: tuple[str, OAuthState], kept: StoreTokens
) -> None:
    _, state = oauth
    authorized = authorize_in_browser(project, "--timeout", "20")
    assert authorized.returncode == 0, authorized.stderr
    assert "'crm-prod' is authorized" in authorized.stdout
    exchange = state.token_forms[0]
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["redirect_uri"].startswith("http://127.0.0.1:")
    assert len(exchange["code_verifier"]) >= 43
    assert not project.tokens_folder.exists()

    tokens = kept
    stored = await tokens.load("crm-prod")
    assert stored is not None and stored["access_token"] in state.access
    rows = await raw_rows(tokens.store)
    assert [row[0] for row in rows] == ["crm-prod"]
    assert stored["access_token"] not in repr(rows) and stored["refresh_token"] not in repr(rows)

    called = project.run("call", "crm.list_things")
    assert called.returncode == 0, called.stderr
    assert [json.loads(line) for line in called.stdout.splitlines()] == [{"id": 1}, {"id": 2}]
    assert state.grants == {"authorization_code": 1}

    listed = project.run("connections", "list")
    assert listed.returncode == 0, listed.stderr
    assert "authorized; access token expires 20" in listed.stdout
    for secret in (stored["access_token"], stored["refresh_token"], VALUES["client_secret"]):
        assert secret not in listed.stdout

    out = project.run("connections", "logout", "crm-prod")
    assert out.returncode == 0 and "its OAuth tokens are forgotten" in out.stdout, out.stderr
    assert await tokens.load("crm-prod") is None
    assert "not authorized (hookline connections authorize crm-prod)" in (
        project.run("connections", "list").stdout
    )
    refused = project.run("call", "crm.list_things")
    assert refused.returncode != 0
    assert "run `hookline connections authorize crm-prod`" in refused.stderr
    again = project.run("connections", "logout", "crm-prod")
    assert "no OAuth tokens to forget" in again.stdout


async def test_two_processes_refresh_an_expired_token_once(
    project: Project, oauth: tuple[str, OAuthState], kept: StoreTokens
) -> None:
    _, state = oauth
    tokens = kept
    first = state.issue(with_refresh=True)
    await tokens.save("crm-prod", {**first, "expires_at": int(time.time()) - 10})
    state.token_delay = 1.5
    calls = [project.start("call", "crm.list_things") for _ in range(2)]
    results = [(command.communicate(timeout=60), command.returncode) for command in calls]
    for (out, err), code in results:
        assert code == 0, err
        assert '"id": 2' in out or '"id":2' in out
    assert state.grants == {"refresh_token": 1}
    stored = await tokens.load("crm-prod")
    assert stored is not None and stored["refresh_token"] in state.refresh
    assert stored["access_token"] != first["access_token"]


RECIPE = """
recipe: things
connections:
  crm: crm-prod
trigger:
  manual: {inputs: {}}
steps:
  - id: things
    action: crm.list_things
"""


async def test_a_recipe_gets_the_tokens_of_the_entry_its_connection_names(
    project: Project, oauth: tuple[str, OAuthState], kept: StoreTokens
) -> None:
    _, state = oauth
    await kept.save("crm-prod", {**state.issue(with_refresh=True), "expires_at": 0})
    (project.folder / "things.yaml").write_text(RECIPE)
    done = project.run("run", "things.yaml", "--json")
    assert done.returncode == 0, done.stderr
    assert state.grants == {"refresh_token": 1}  # the entry's tokens, refreshed
    stored = await kept.load("crm-prod")
    assert stored is not None and stored["access_token"] in state.access
    rows = await raw_rows(kept.store)
    assert [row[0] for row in rows] == ["crm-prod"]


class SpecPlugin:
    """Registers one spec file, as a connector's plugin would."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @hookimpl
    def register_connectors(self) -> list[Path]:
        return [self.path]


async def test_the_console_shows_whether_a_served_connection_is_authorized(
    oauth: tuple[str, OAuthState], database: SqlStore, tmp_path: Path
) -> None:
    url, state = oauth
    (tmp_path / "crm.yaml").write_text(yaml.safe_dump(spec_of("crm", FIELDS)))
    pm = get_plugin_manager()
    pm.register(SpecPlugin(tmp_path / "crm.yaml"))
    entry = NamedConnection("crm-prod", "crm", {"url": url, **VALUES})
    connections = Connections(None, {entry.name: entry})
    pool = ConnectionPool(
        Catalog(pm), env={KEY_VARIABLE: KEY.material.decode()}, connections=connections
    )
    pool.share(database)
    pool.open_named(entry)
    service = Service([], pool, database)
    assert pool.sharing is not None
    issued = state.issue(with_refresh=True)
    await pool.sharing.tokens.save("crm-prod", {**issued, "expires_at": 4102444800})
    [row] = await connection_rows(service, {})
    assert row["session"] == {
        "state": "authorized; access token expires 2100-01-01 00:00:00 UTC",
        "logged_in": True,
        "expires_at": "2100-01-01T00:00:00Z",
    }
    assert issued["access_token"] not in repr(row) and issued["refresh_token"] not in repr(row)
    await pool.sharing.tokens.delete("crm-prod")
    [row] = await connection_rows(service, {})
    assert row["session"]["state"] == "not authorized (hookline connections authorize crm-prod)"
    assert row["session"]["logged_in"] is False
    await pool.close()


# ---------------------------------------------------------------- token files of old


def old_token_file(folder: Path, name: str, tokens: dict[str, Any], key: bytes) -> Path:
    """A token file as earlier versions wrote it: Fernet-encrypted JSON, mode 0600."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_bytes(Fernet(key).encrypt(json.dumps(tokens).encode()))
    path.chmod(0o600)
    return path


async def test_an_old_token_file_is_imported_on_first_use_and_removed(
    project: Project, oauth: tuple[str, OAuthState], kept: StoreTokens
) -> None:
    _, state = oauth
    old_key = Fernet.generate_key()
    (project.folder / ".hookline" / "tokens.key").write_bytes(old_key)
    issued = {**state.issue(with_refresh=True), "expires_at": int(time.time()) + 3600}
    path = old_token_file(project.tokens_folder, "crm-prod", issued, old_key)

    called = project.run("call", "crm.list_things")
    assert called.returncode == 0, called.stderr
    notice = [line for line in called.stderr.splitlines() if "moved from" in line]
    assert notice == [
        "warning: the OAuth tokens of connection 'crm-prod' moved from "
        ".hookline/tokens/crm-prod.json into the state store; the file is removed"
    ]
    assert not path.exists() and not project.tokens_folder.exists()
    assert not (project.folder / ".hookline" / "tokens.key").exists()
    assert state.grants == {}  # the imported access token was used as it was
    assert await kept.load("crm-prod") == issued
    again = project.run("call", "crm.list_things")
    assert again.returncode == 0 and "moved from" not in again.stderr


async def test_an_old_token_file_sealed_with_the_key_variable_is_imported(
    project: Project, oauth: tuple[str, OAuthState], kept: StoreTokens
) -> None:
    _, state = oauth
    issued = {**state.issue(with_refresh=True), "expires_at": int(time.time()) + 3600}
    old_token_file(project.tokens_folder, "crm-prod", issued, project.env[KEY_VARIABLE].encode())
    tokens = StoreTokens(kept.store, kept.key, files=project.tokens_folder, environ=project.env)
    with pytest.warns(TokenFilesImported, match="'crm-prod' moved from"):
        status = await tokens.status("crm-prod")
    assert status.authorized
    assert await tokens.load("crm-prod") == issued
    assert not project.tokens_folder.exists()


def test_listing_connections_before_there_is_a_store_creates_none(tmp_path: Path) -> None:
    """``connections list`` only reads: with no state store yet, an OAuth connection is not
    authorized, and neither the store nor its key file is created."""
    entries = {"crm-prod": {"connector": "crm", "url": "http://127.0.0.1:9", **VALUES}}
    project = write_project(tmp_path, "", "crm", FIELDS, entries)
    del project.env["HOOKLINE_STATE"], project.env[KEY_VARIABLE]  # .hookline/state.db, its key
    listed = project.run("connections", "list")
    assert listed.returncode == 0, listed.stderr
    assert "not authorized (hookline connections authorize crm-prod)" in listed.stdout
    assert [p.name for p in (project.folder / ".hookline").iterdir()] == ["connections.yaml"]


async def test_an_old_token_file_no_key_opens_says_to_authorize_again(
    project: Project, oauth: tuple[str, OAuthState]
) -> None:
    _, state = oauth
    issued = state.issue(with_refresh=True)
    path = old_token_file(project.tokens_folder, "crm-prod", issued, Fernet.generate_key())

    called = project.run("call", "crm.list_things")
    assert called.returncode != 0
    assert "crm-prod.json, kept by an earlier version, cannot be read" in called.stderr
    assert "run `hookline connections authorize crm-prod` again" in called.stderr
    assert issued["access_token"] not in called.stderr
    assert path.exists()
    listed = project.run("connections", "list")
    assert "not usable: the OAuth tokens of connection 'crm-prod'" in listed.stdout

    assert authorize_in_browser(project, "--timeout", "20").returncode == 0
    assert not path.exists() and not project.tokens_folder.exists()
    assert project.run("call", "crm.list_things").returncode == 0


# ---------------------------------------------------------------- the spec guide's transcript

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "specs.md"
WHEN = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")


def guide_transcript() -> list[tuple[list[str], list[str]]]:
    """The commands of the spec guide's OAuth transcript, each with the lines it prints."""
    text = GUIDE.read_text(encoding="utf-8")
    [block] = [b for b in fenced_blocks(text) if "$ hookline connections authorize" in b.text]
    commands: list[tuple[list[str], list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ hookline "):
            commands.append((line.split()[3:], []))
        else:
            commands[-1][1].append(line)
    return commands


def printed_as(expected: str, url: str) -> re.Pattern[str]:
    """What a transcript line stands for: the guide's made-up server is the local one,
    ``...`` is anything, and a time is any time."""
    text = expected.rstrip().replace("https://auth.acme.example/oauth", url)
    pieces = re.split(rf"(\.\.\.|{WHEN.pattern})", text)
    return re.compile(
        "".join(
            ".*" if piece == "..." else WHEN.pattern if WHEN.fullmatch(piece) else re.escape(piece)
            for piece in pieces
        )
    )


def test_the_spec_guide_transcript_is_what_the_commands_print(
    oauth: tuple[str, OAuthState], tmp_path: Path
) -> None:
    url, state = oauth
    fields = {**FIELDS, "url": {"type": "string", "default": url}}
    entries = {"acme-prod": {"connector": "acme", **VALUES}}
    project = write_project(tmp_path, f"sqlite:///{tmp_path}/state.db", "acme", fields, entries)
    transcript = guide_transcript()
    assert [words[:2] for words, _ in transcript] == [
        ["authorize", "acme-prod"],
        ["list"],
        ["logout", "acme-prod"],
    ]
    for words, lines in transcript:
        if words[0] == "authorize":
            done = authorize_in_browser(project, name="acme-prod")
        else:
            done = project.run("connections", *words)
        assert done.returncode == 0, done.stderr
        printed = [line.rstrip() for line in done.stdout.splitlines()]
        assert len(printed) == len(lines), done.stdout
        for expected, line in zip(lines, printed, strict=True):
            assert printed_as(expected, url).fullmatch(line), (expected, line)
    assert state.grants == {"authorization_code": 1}
