"""The spec cache: a spec that loaded cleanly is built again without the YAML and the checks,
and anything that is not exactly such an entry counts as none."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

import hookline.spec.catalog as catalog_module
from hookline.errors import SpecError
from hookline.plugins.manager import get_plugin_manager
from hookline.spec.cache import SpecCache, default_cache_dir
from hookline.spec.catalog import Catalog
from tests.test_spec import VALID


@pytest.fixture
def cache(tmp_path: Path) -> SpecCache:
    return SpecCache(tmp_path / "cache")


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "demo.yaml"
    path.write_text(VALID)
    return path


def cached_catalog(cache: SpecCache) -> Catalog:
    return Catalog(get_plugin_manager(entry_points=False), cache=cache)


def checks_refused(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the JSON Schema check and the YAML loader fail loudly; the calls they got."""
    calls: list[str] = []

    def refuse(name: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"{name} ran for a cached spec")

        return refused

    monkeypatch.setattr(catalog_module, "schema_problems", refuse("schema_problems"))
    monkeypatch.setattr(catalog_module, "load_document", refuse("load_document"))
    return calls


def entries(cache: SpecCache) -> list[Path]:
    return sorted(cache.folder.glob("*.json"))


def test_a_spec_loaded_again_is_built_without_parsing_or_checking(
    cache: SpecCache, spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = cached_catalog(cache).load_spec(spec_file)
    assert len(entries(cache)) == 1
    checks_refused(monkeypatch)
    again = cached_catalog(cache).load_spec(spec_file)
    assert again.name == first.name == "demo"
    assert set(again.actions) == set(first.actions)
    assert again.connection.values_schema() == first.connection.values_schema()


def test_an_entry_is_written_atomically_for_its_owner_only(
    cache: SpecCache, spec_file: Path
) -> None:
    cached_catalog(cache).load_spec(spec_file)
    (entry,) = entries(cache)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.folder.stat().st_mode) == 0o700
    assert [p.name for p in cache.folder.iterdir()] == [entry.name]  # no temporary left


def test_a_changed_spec_is_loaded_and_checked_again(
    cache: SpecCache, spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached_catalog(cache).load_spec(spec_file)
    spec_file.write_text(VALID.replace("title: Demo", "title: Demo again"))
    assert cached_catalog(cache).load_spec(spec_file).title == "Demo again"
    calls = checks_refused(monkeypatch)
    spec_file.write_text(VALID.replace("title: Demo", "title: Demo once more"))
    with pytest.raises(AssertionError):
        cached_catalog(cache).load_spec(spec_file)
    assert calls == ["load_document"]


def test_a_spec_made_invalid_is_refused_with_its_located_problem(
    cache: SpecCache, spec_file: Path
) -> None:
    cached_catalog(cache).load_spec(spec_file)
    spec_file.write_text(VALID.replace("title: Demo", "title: [Demo"))
    with pytest.raises(SpecError, match=r"demo\.yaml:\d+:\d+"):
        cached_catalog(cache).load_spec(spec_file)


def test_a_spec_with_problems_is_not_cached(cache: SpecCache, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(VALID.replace("get_item:", "get item:"))
    for _ in range(2):
        with pytest.raises(SpecError):
            cached_catalog(cache).load_spec(path)
    assert entries(cache) == []


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda entry: entry.write_bytes(b"{not json"), id="corrupt"),
        pytest.param(lambda entry: entry.write_bytes(b"[]"), id="not-an-object"),
        pytest.param(
            lambda entry: entry.write_bytes(
                entry.read_bytes().replace(b'"format":1', b'"format":0')
            ),
            id="another-layout",
        ),
        pytest.param(lambda entry: entry.chmod(0o666), id="writable-by-others"),
    ],
)
def test_an_entry_that_cannot_be_trusted_is_ignored_and_replaced(
    cache: SpecCache, spec_file: Path, damage: Any
) -> None:
    cached_catalog(cache).load_spec(spec_file)
    (entry,) = entries(cache)
    damage(entry)
    spec = cached_catalog(cache).load_spec(spec_file)
    assert spec.name == "demo"
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert cache.get(str(spec_file.resolve()), VALID, cached_catalog(cache).cache_context)


def test_an_entry_of_another_spec_text_is_not_used(
    cache: SpecCache, spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = cached_catalog(cache)
    catalog.load_spec(spec_file)
    assert cache.get(str(spec_file.resolve()), VALID + "\n", catalog.cache_context) is None


def test_another_hookline_version_does_not_use_the_entry(
    cache: SpecCache, spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached_catalog(cache).load_spec(spec_file)
    monkeypatch.setattr(catalog_module, "__version__", "99.0.0")
    calls = checks_refused(monkeypatch)
    with pytest.raises(AssertionError):
        cached_catalog(cache).load_spec(spec_file)
    assert calls == ["load_document"]


def test_another_plugin_set_does_not_use_the_entry(cache: SpecCache, spec_file: Path) -> None:
    plain = cached_catalog(cache)
    pm = get_plugin_manager(entry_points=False)
    pm.unregister(name="hookline.http.webhooks")
    fewer = Catalog(pm, cache=cache)
    assert plain.cache_context != fewer.cache_context
    plain.load_spec(spec_file)
    assert cache.get(str(spec_file.resolve()), VALID, fewer.cache_context) is None


def test_the_python_api_caches_nothing_unless_asked(spec_file: Path, catalog: Catalog) -> None:
    assert catalog.cache is None
    assert catalog.load_spec(spec_file).name == "demo"


def test_an_unwritable_cache_only_costs_the_saving(spec_file: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    catalog = cached_catalog(SpecCache(blocked / "cache"))
    assert catalog.load_spec(spec_file).name == "demo"


def test_the_cache_folder_follows_the_environment(tmp_path: Path) -> None:
    assert default_cache_dir({"HOOKLINE_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "hookline"
    assert default_cache_dir({}) == Path.home() / ".cache" / "hookline"


def test_the_command_line_keeps_its_cache_where_the_environment_says(
    tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from hookline.cli.main import main

    monkeypatch.setenv("HOOKLINE_CACHE_DIR", str(tmp_path / "mine"))
    result = CliRunner().invoke(main, ["validate", str(spec_file)])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "mine" / "specs").glob("*.json"))) == 1
    assert os.environ["HOOKLINE_CACHE_DIR"] == str(tmp_path / "mine")


def test_an_entry_whose_data_no_longer_builds_is_loaded_in_full(
    cache: SpecCache, spec_file: Path
) -> None:
    catalog = cached_catalog(cache)
    catalog.load_spec(spec_file)
    name = str(spec_file.resolve())
    cache.put(name, VALID, catalog.cache_context, {"spec": "hookline/v1", "actions": 3})
    assert cached_catalog(cache).load_spec(spec_file).name == "demo"
