"""The connections file: env values, located problems, permissions, resolving, writing."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from hookline.errors import ConfigurationError, RecipeError, suggest
from hookline.expr.templates import Expressions
from hookline.run.connections import (
    DEFAULT_PATH,
    ConnectionsFileWarning,
    connections_path,
    default_connections_path,
    load_connections,
    write_connections,
)
from hookline.run.pool import ConnectionPool
from hookline.spec.catalog import Catalog
from hookline.spec.model import Spec
from tests.servers import demo_spec

SECRET = "s3cr3t-from-the-environment"


class Specs:
    """Stands in for a ``Catalog`` holding only the test's connectors."""

    def __init__(self, expressions: Expressions, **specs: Spec) -> None:
        self.expressions = expressions
        self.specs = specs

    def spec(self, name: str) -> Spec:
        try:
            return self.specs[name]
        except KeyError:
            raise ConfigurationError(
                f"unknown connector {name!r}{suggest(name, self.specs)}"
            ) from None

    @property
    def transports(self) -> dict[str, Any]:
        """No connector here is answered in-process."""
        return {}


@pytest.fixture(scope="module")
def source(catalog: Catalog) -> Catalog:
    fields = {
        "url": {"type": "string"},
        "port": {"type": "integer", "default": 443},
        "verbose": {"type": "boolean"},
        "token": {"type": "string", "secret": True, "pattern": "^tok-"},
    }
    specs = Specs(
        catalog.expressions, demo=demo_spec(catalog, fields=fields), other=demo_spec(catalog)
    )
    return cast(Catalog, specs)  # the two things load_connections reads of a catalog


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "connections.yaml"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_entries_are_rendered_from_the_environment(source: Catalog, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "prod:\n"
        "  connector: demo\n"
        "  url: https://{{ env.HOST }}/api\n"
        "  port: '{{ env.PORT }}'\n"
        "  verbose: '{{ env.VERBOSE }}'\n"
        "  token: '{{ env.TOKEN }}'\n",
    )
    environ = {"HOST": "api.example.com", "PORT": "8443", "VERBOSE": "true", "TOKEN": "tok-1"}
    connections = load_connections(source, path, environ=environ)
    entry = connections.resolve("prod")
    assert (entry.name, entry.connector) == ("prod", "demo")
    assert entry.values == {
        "url": "https://api.example.com/api",
        "port": 8443,
        "verbose": True,
        "token": "tok-1",
    }
    connection = ConnectionPool(source, env=environ, connections=connections).open_named(entry)
    assert connection.values["port"] == 8443 and connection.name == "prod"


def test_problems_are_located_and_secrets_redacted(source: Catalog, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "prod:\n"
        "  connector: demo\n"
        "  url: '{{ env.MISSING }}'\n"
        "  token: '{{ env.TOKEN }}'\n"
        "test:\n"
        "  connector: dmeo\n"
        "bare:\n"
        "  url: https://x.test\n"
        "other:\n"
        "  connector: demo\n"
        "  url: https://x.test\n"
        "  port: many\n"
        "  colour: blue\n",
    )
    with pytest.raises(RecipeError) as caught:
        load_connections(source, path, environ={"TOKEN": SECRET})
    text = str(caught.value)
    assert f"{path}:3:8: prod.url: the environment variable MISSING is not set" in text
    assert f"{path}:4:10: prod.token:" in text  # the token does not match its pattern
    assert SECRET not in text
    assert "did you mean 'demo'?" in text
    assert "bare" in text and "connector" in text
    assert f"{path}:12:9: other.port:" in text
    assert "colour" in text


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("not a url", "'not a url' is not an http or https URL"),
        ("https://x.test/?page=2", "'https://x.test/?page=2' has a query or fragment; give the"),
        # the password is never shown, nor the user name beside it
        ("https://me:pw@x.test", "'https://***@x.test' holds a user name or password; give"),
    ],
)
def test_a_bad_base_url_is_located_at_the_value_it_is_made_from(
    source: Catalog, tmp_path: Path, url: str, said: str
) -> None:
    """Found as the file loads, for every command, rather than when a connection opens."""
    path = write(tmp_path, f"prod:\n  connector: demo\n  token: tok-1\n  url: '{url}'\n")
    with pytest.raises(RecipeError) as caught:
        load_connections(source, path, environ={})
    assert str(caught.value).startswith(f"{path}:4:8: prod.url: the base URL {said}")
    assert ":pw@" not in str(caught.value)
    left_as_written = write(tmp_path, "prod:\n  connector: demo\n  url: '{{ env.URL }}'\n")
    load_connections(source, left_as_written, environ={"URL": url}, render=False)


def test_only_environment_variables_can_be_used(source: Catalog, tmp_path: Path) -> None:
    path = write(tmp_path, "prod:\n  connector: demo\n  url: '{{ connection.url }}'\n")
    with pytest.raises(RecipeError, match=r"only use environment variables"):
        load_connections(source, path, environ={})


def test_a_file_others_can_read_gives_a_warning(source: Catalog, tmp_path: Path) -> None:
    path = write(tmp_path, "prod:\n  connector: demo\n  url: https://x.test\n", mode=0o644)
    with pytest.warns(ConnectionsFileWarning, match="chmod 600"):
        load_connections(source, path, environ={})


def test_the_file_is_named_by_option_then_environment_then_default(
    source: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert connections_path("x.yaml", environ={"HOOKLINE_CONNECTIONS": "y.yaml"}) == (
        Path("x.yaml"),
        True,
    )
    assert connections_path(None, environ={"HOOKLINE_CONNECTIONS": "y.yaml"}) == (
        Path("y.yaml"),
        True,
    )
    assert connections_path(None, environ={}) == (DEFAULT_PATH, False)
    assert default_connections_path({"HOOKLINE_CONNECTIONS": "y.yaml"}) == Path("y.yaml")
    assert default_connections_path({}) == DEFAULT_PATH
    monkeypatch.chdir(tmp_path)
    assert load_connections(source, environ={}).entries == {}
    with pytest.raises(RecipeError, match="cannot read the file"):
        load_connections(source, environ={"HOOKLINE_CONNECTIONS": "missing.yaml"})


def entries(tmp_path: Path, **named: dict[str, Any]) -> Any:
    path = tmp_path / "connections.yaml"
    path.write_text(yaml.safe_dump(named))
    path.chmod(0o600)
    return path


def test_resolving_by_name_or_by_connector(source: Catalog, tmp_path: Path) -> None:
    path = entries(
        tmp_path,
        a={"connector": "demo", "url": "https://a.test"},
        b={"connector": "demo", "url": "https://b.test"},
        c={"connector": "other", "url": "https://c.test"},
    )
    connections = load_connections(source, path, environ={})
    assert connections.resolve("a").values["url"] == "https://a.test"
    assert connections.resolve("other").name == "c"
    assert connections.resolve("b", connector="demo").name == "b"
    with pytest.raises(
        ConfigurationError, match=r"several connections use connector 'demo'.*: a, b"
    ):
        connections.resolve("demo")
    with pytest.raises(ConfigurationError, match="no connection for connector 'argus'"):
        connections.resolve("argus", connector="argus")
    with pytest.raises(
        ConfigurationError,
        match=r"no connection named 'argus' in .*, nor one of a connector of that name "
        r"\(known: a, b, c\)$",
    ):
        connections.resolve("argus")
    with pytest.raises(ConfigurationError, match=r"named 'bb' .* \(did you mean 'b'\?\)$"):
        connections.resolve("bb")
    with pytest.raises(ConfigurationError, match="is for connector 'other', not 'demo'"):
        connections.resolve("c", connector="demo")
    with pytest.raises(ConfigurationError, match=r"no connection named 'd'"):
        connections.resolve("d", connector="demo")


def test_writing_merges_and_keeps_the_file_private(source: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "new" / ".hookline" / "connections.yaml"
    write_connections(path, {"a": {"connector": "demo", "url": "https://a.test"}})
    write_connections(
        path,
        {
            "b": {"connector": "other", "url": "https://b.test"},
            "a": {"connector": "demo", "url": "https://a2.test"},
        },
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert yaml.safe_load(path.read_text()) == {
        "a": {"connector": "demo", "url": "https://a2.test"},
        "b": {"connector": "other", "url": "https://b.test"},
    }
    assert [p.name for p in path.parent.iterdir()] == ["connections.yaml"]
    assert sorted(load_connections(source, path, environ={}).entries) == ["a", "b"]


def test_writing_refuses_to_replace_a_file_that_is_not_connections(tmp_path: Path) -> None:
    path = write(tmp_path, "- just\n- a list\n")
    with pytest.raises(RecipeError, match="maps names to connections"):
        write_connections(path, {"a": {"connector": "demo"}})
    assert path.read_text() == "- just\n- a list\n"


def test_writing_over_a_shared_file_makes_it_private(tmp_path: Path) -> None:
    path = write(tmp_path, "a:\n  connector: demo\n", mode=0o644)
    write_connections(path, {"b": {"connector": "demo"}})
    assert os.stat(path).st_mode & 0o077 == 0
