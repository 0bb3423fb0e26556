"""Plugins: built-ins through the same hooks, entry points, --plugin modules, failures."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hookline.actions.links import LinkHeaderPaginator, NextUrlPaginator
from hookline.actions.paginators import CursorPaginator, OffsetPaginator, PagePaginator
from hookline.cli.main import main
from hookline.errors import PluginError
from hookline.http.auth.oauth2 import OAuth2AuthorizationCode, OAuth2ClientCredentials
from hookline.http.auth.session import SessionAuth
from hookline.http.auth.static import ApiKeyAuth, BasicAuth, BearerAuth, HeadersAuth, NoneAuth
from hookline.http.webhooks import BasicVerifier, HeaderVerifier, HmacVerifier
from hookline.plugins.manager import (
    DEFAULT_PLUGINS,
    PluginLoadWarning,
    collect_named,
    get_plugin_manager,
    plugin_infos,
)
from hookline.plugins.protocols import (
    AuthType,
    Executor,
    Paginator,
    StateStore,
    WebhookVerifier,
)
from hookline.plugins.records import ExecutorConfig
from hookline.run.inline import InlineExecutor
from hookline.run.store import open_sqlite
from hookline.spec.catalog import Catalog

SPEC = """\
spec: hookline/v1
name: acme
title: Acme
connection:
  fields:
    url: {type: string, description: Where Acme answers}
  required: [url]
  base_url: "{{ connection.url }}"
actions:
  ping:
    title: Ping Acme
    request: {method: GET, path: /ping}
"""


def write_plugin(
    folder: Path, module: str, spec_name: str = "acme", function: str = "shout"
) -> None:
    """A plugin module registering one spec file and one expression function."""
    (folder / f"{spec_name}.yaml").write_text(SPEC.replace("name: acme", f"name: {spec_name}"))
    (folder / f"{module}.py").write_text(
        textwrap.dedent(
            f'''
            """A test plugin."""
            from pathlib import Path

            from hookline import ExpressionFunction, hookimpl


            @hookimpl
            def register_connectors():
                return [Path(__file__).parent / "{spec_name}.yaml"]


            @hookimpl
            def register_functions():
                return [ExpressionFunction("{function}", str.upper, (("string",),), "Upper case")]
            '''
        )
    )


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_built_ins_register_through_the_same_hooks() -> None:
    pm = get_plugin_manager(entry_points=False)
    infos = {info.name: info for info in plugin_infos(pm)}
    assert set(DEFAULT_PLUGINS) <= set(infos)
    assert "register_connectors" in infos["hookline.connectors.argus"].hooks
    assert "register_auth_types" in infos["hookline.http.auth.types"].hooks
    assert all(infos[name].distribution == "hookline" for name in DEFAULT_PLUGINS)


def test_a_plugin_module_adds_a_connector_and_a_function(plugin_path: Path) -> None:
    write_plugin(plugin_path, "acme_plugin")
    catalog = Catalog(get_plugin_manager(["acme_plugin"], entry_points=False))
    assert catalog.connectors["acme"].plugin == "acme_plugin"
    assert catalog.expressions.compile("{{ shout('hi') }}").render({}) == "HI"


def test_plugin_option_shows_the_connector_in_the_table(plugin_path: Path) -> None:
    write_plugin(plugin_path, "acme_cli_plugin")
    result = CliRunner().invoke(main, ["--plugin", "acme_cli_plugin", "connectors"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.strip().startswith("acme"))
    assert "Acme" in row and "acme_cli_plugin" in row


def test_a_plugin_that_fails_to_import_is_a_warning_not_a_crash(plugin_path: Path) -> None:
    (plugin_path / "broken_plugin.py").write_text("raise RuntimeError('boom')\n")
    with pytest.warns(PluginLoadWarning, match="'broken_plugin' failed to import.*boom"):
        pm = get_plugin_manager(["broken_plugin"], entry_points=False)
    assert Catalog(pm).spec("argus").name == "argus"


@pytest.mark.filterwarnings("default::hookline.plugins.manager.PluginLoadWarning")
def test_a_missing_plugin_module_is_named_in_the_warning() -> None:
    result = CliRunner().invoke(main, ["--plugin", "no_such_plugin_module", "connectors"])
    assert result.exit_code == 0
    assert "warning: plugin 'no_such_plugin_module' failed to import" in result.output
    assert "argus" in result.output


def test_two_plugins_with_one_connector_name_is_an_error_naming_both(plugin_path: Path) -> None:
    write_plugin(plugin_path, "acme_one")
    (plugin_path / "two").mkdir()
    write_plugin(plugin_path / "two", "acme_two", function="whisper")
    (plugin_path / "two" / "__init__.py").write_text('"""The second plugin."""\n')
    pm = get_plugin_manager(["acme_one", "two.acme_two"], entry_points=False)
    with pytest.raises(PluginError, match="'acme' is registered by both plugin 'acme_one' and"):
        Catalog(pm).connectors  # noqa: B018


def test_entry_points_of_group_hookline_are_loaded(tmp_path: Path) -> None:
    write_plugin(tmp_path, "acme_entry", spec_name="acme_entry")
    dist = tmp_path / "acme_entry-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-entry\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[hookline]\nacme = acme_entry\n")
    code = (
        "from hookline import Catalog, get_plugin_manager;"
        "c = Catalog(get_plugin_manager()); e = c.connectors['acme_entry'];"
        "print(e.plugin, e.spec.title)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["acme", "Acme"]


def test_trace_hooks_prints_each_registration_hook_call() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hookline", "connectors"],
        capture_output=True,
        text=True,
        env={**os.environ, "HOOKLINE_TRACE_HOOKS": "1"},
        check=True,
    )
    for hook in ("register_connectors", "register_auth_types", "register_paginators"):
        assert f"  {hook} [hook]" in done.stderr
        assert f"  finish {hook} --> " in done.stderr
    assert "argus" in done.stdout


def test_a_hook_wrapper_sees_every_registration_of_its_hook(plugin_path: Path) -> None:
    (plugin_path / "acme_wrapper.py").write_text(
        textwrap.dedent(
            '''
            """A plugin wrapping register_connectors."""
            from hookline import hookimpl

            SEEN = []


            @hookimpl(wrapper=True)
            def register_connectors():
                result = yield
                SEEN.append(len(result))
                return result
            '''
        )
    )
    write_plugin(plugin_path, "acme_plugin")
    catalog = Catalog(get_plugin_manager(["acme_plugin", "acme_wrapper"], entry_points=False))
    assert "acme" in catalog.connectors
    import acme_wrapper  # type: ignore[import-not-found]

    # one call per registering plugin, each through pluggy, each seen by the wrapper
    assert set(acme_wrapper.SEEN) == {1} and len(acme_wrapper.SEEN) >= 6


def test_every_built_in_plugin_type_meets_its_protocol() -> None:
    # mypy checks these annotations against the protocols; the test checks they are complete.
    auth_types: list[type[AuthType]] = [
        NoneAuth, BasicAuth, BearerAuth, ApiKeyAuth, HeadersAuth, SessionAuth,
        OAuth2ClientCredentials, OAuth2AuthorizationCode,
    ]  # fmt: skip
    paginators: list[type[Paginator]] = [
        OffsetPaginator, PagePaginator, CursorPaginator, NextUrlPaginator, LinkHeaderPaginator
    ]  # fmt: skip
    verifiers: list[type[WebhookVerifier]] = [BasicVerifier, HeaderVerifier, HmacVerifier]
    executor: Executor = InlineExecutor()
    executors = collect_named(
        get_plugin_manager(entry_points=False), "register_executors", "executor"
    )
    pm = get_plugin_manager(entry_points=False)
    registered: dict[str, tuple[list[Any], str]] = {
        "auth type": (auth_types, "register_auth_types"),
        "paginator": (paginators, "register_paginators"),
        "verifier": (verifiers, "register_webhook_verifiers"),
    }
    for what, (kinds, hook) in registered.items():
        assert set(collect_named(pm, hook, what).values()) == set(kinds)
    assert set(executors) == {"inline", "celery"}
    assert isinstance(executors["inline"](ExecutorConfig()), type(executor))


def test_the_built_in_state_store_meets_the_protocol(tmp_path: Path) -> None:
    store = open_sqlite(str(tmp_path / "state.db"))
    try:
        assert isinstance(store, StateStore)
        assert not isinstance(object(), StateStore)
    finally:
        asyncio.run(store.close())


# ---------------------------------------------------------------- failure modes


def _dist(folder: Path, name: str, entry: str) -> None:
    """A distribution's metadata in ``folder`` with one entry point of group hookline."""
    info = folder / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[hookline]\n{entry}\n")


def test_an_entry_point_that_fails_to_import_is_named_and_the_rest_works(tmp_path: Path) -> None:
    (tmp_path / "broken_entry.py").write_text("raise RuntimeError('boom at import')\n")
    _dist(tmp_path, "broken-entry", "broken = broken_entry")
    done = subprocess.run(
        [sys.executable, "-m", "hookline", "connectors"],
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert (
        "warning: plugin 'broken' (entry point broken_entry of distribution broken-entry 1.0) "
        "failed to import and was skipped: RuntimeError: boom at import"
    ) in done.stderr
    assert "argus" in done.stdout


def _block_plugin(folder: Path, module: str, hook: str, body: str) -> None:
    (folder / f"{module}.py").write_text(
        textwrap.dedent(
            f'''
            """A test plugin registering one {hook} entry."""
            from hookline import Sandbox, hookimpl
            from hookline.http.auth.static import NoneAuth


            @hookimpl
            def {hook}():
                return {body}
            '''
        )
    )


def test_two_plugins_with_one_auth_type_name_is_an_error_naming_both(plugin_path: Path) -> None:
    for module in ("auth_one", "auth_two"):
        _block_plugin(plugin_path, module, "register_auth_types", '{"acme_hmac": NoneAuth}')
    pm = get_plugin_manager(["auth_one", "auth_two"], entry_points=False)
    with pytest.raises(
        PluginError,
        match="auth type 'acme_hmac' is registered by both plugin 'auth_one' and plugin 'auth_two'",
    ):
        Catalog(pm)


def test_two_plugins_with_one_sandbox_name_is_an_error_naming_both(plugin_path: Path) -> None:
    box = 'Sandbox("argus", "Argus again", dict, lambda url: {}, "none")'
    _block_plugin(plugin_path, "sandbox_two", "register_sandboxes", f"[{box}]")
    pm = get_plugin_manager(["sandbox_two"], entry_points=False)
    with pytest.raises(
        PluginError,
        match=re.escape(
            "sandbox for 'argus' is registered by both plugin "
            "'hookline.connectors.argus' and plugin 'sandbox_two'"
        ),
    ):
        Catalog(pm).sandboxes  # noqa: B018


def _v2_plugin(folder: Path) -> None:
    write_plugin(folder, "acme_v2", spec_name="acme_v2", function="whisper")
    spec = folder / "acme_v2.yaml"
    spec.write_text(spec.read_text().replace("spec: hookline/v1", "spec: hookline/v2"))


def test_a_plugin_spec_of_another_format_is_refused_and_the_rest_loads(plugin_path: Path) -> None:
    _v2_plugin(plugin_path)
    catalog = Catalog(get_plugin_manager(["acme_v2"], entry_points=False))
    with pytest.warns(PluginLoadWarning) as warned:
        assert "argus" in catalog.connectors and "acme_v2" not in catalog.connectors
    message = str(warned[0].message)
    assert message.startswith(f"plugin 'acme_v2' registers {plugin_path / 'acme_v2.yaml'}")
    assert "a spec written for hookline/v2; this hookline (0.1.0) reads hookline/v1 only" in message
    with pytest.raises(PluginError, match="connector 'acme_v2' is not loaded"):
        catalog.spec("acme_v2")


@pytest.mark.filterwarnings("default::hookline.plugins.manager.PluginLoadWarning")
def test_calling_a_refused_connector_says_why(plugin_path: Path) -> None:
    _v2_plugin(plugin_path)
    result = CliRunner().invoke(main, ["--plugin", "acme_v2", "call", "acme_v2.ping"])
    assert result.exit_code == 1
    assert "error: plugin 'acme_v2' registers" in result.output
    assert "Install a version of the plugin written for hookline/v1" in result.output


def test_validate_names_the_format_of_a_spec_it_does_not_read(tmp_path: Path) -> None:
    spec = tmp_path / "acme.yaml"
    spec.write_text(SPEC.replace("spec: hookline/v1", "spec: hookline/v2"))
    result = CliRunner().invoke(main, ["validate", str(spec)])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"{spec}:1:7: spec: this spec is written for hookline/v2, which this hookline (0.1.0) "
        "does not read: it reads hookline/v1. Use a hookline that reads hookline/v2, or a "
        "version of the connector written for hookline/v1"
    )
