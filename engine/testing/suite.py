"""The checks ``hookline test CONNECTOR`` runs, one ``CheckResult`` each.

1. **spec**: the spec loads and validates; every action, trigger and input is described;
   every example matches its block's schemas.
2. **examples**: every example runs through the real runtime, each against a fresh sandbox
   (or against the connection values given: a real account), and its output matches the
   output schema. With ``record_to``, each run is recorded to a cassette
   ``DIR/CONNECTOR/BLOCK.yaml`` (``BLOCK-2.yaml`` for a second example, and so on) holding
   the call and its output too.
3. **docs**: the connector's reference page renders and names every action and trigger.
4. **cassettes**: every example cassette in ``DIR/CONNECTOR`` replays with nothing served,
   and gives the output it recorded.

``run_examples`` and ``replay_examples`` are usable on their own, from a test.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hookline.errors import HooklineError
from hookline.spec.catalog import Catalog
from hookline.spec.model import Action, PollTrigger, Spec
from hookline.spec.reference import connector_reference
from hookline.testing.cassettes import Cassette
from hookline.testing.checks import (
    Adapt,
    ExampleRun,
    described_problems,
    example_problems,
    examples_of,
    run_block,
    run_example,
    with_example_files,
)
from hookline.testing.harness import Harness
from hookline.testing.served import serve
from hookline.testing.tape import taped

NOT_INSTALLED = (
    "a plugin's connectors are registered through its entry point, which hookline sees once "
    "the plugin's package is installed: run `pip install -e .` in the plugin's folder"
)
"""The hint of the kit's catalogs (its fixtures, ``hookline test``) for an unknown connector:
a plugin's own tests, run before its package is installed, see no connector of it."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check of ``hookline test``: its name, a line saying what it found, its problems."""

    name: str
    summary: str
    problems: tuple[str, ...] = ()
    skipped: bool = False

    @property
    def ok(self) -> bool:
        """Whether the check passed (a skipped check did not fail)."""
        return not self.problems


def _as_given(name: str, given: dict[str, Any]) -> dict[str, Any]:
    return given


def cassette_path(folder: Path, connector: str, block: str, index: int) -> Path:
    """Where the cassette of example ``index`` of ``block`` is kept below ``folder``."""
    return folder / connector / (f"{block}.yaml" if index == 1 else f"{block}-{index}.yaml")


def run_examples(
    catalog: Catalog,
    connector: str,
    *,
    values: Mapping[str, Any] | None = None,
    seed: int = 0,
    record_to: Path | None = None,
    adapt: Adapt = _as_given,
) -> list[ExampleRun]:
    """Run every example of ``connector``, each against a fresh sandbox (or ``values``).

    Downloads are saved in a temporary folder. With ``record_to``, each example that runs
    is recorded to its cassette there.
    """
    spec = catalog.spec(connector)
    files = example_files(catalog, connector)
    runs = []
    with tempfile.TemporaryDirectory(prefix="hookline-examples-") as downloads:
        folder = Path(downloads)
        for block, index, example in examples_of(spec):
            if record_to is not None:
                path = cassette_path(record_to, spec.name, block.name, index)
                with taped(catalog, path, spec.name, record=True, values=values, seed=seed) as t:
                    run = run_example(t, block, index, adapt=adapt, folder=folder, files=files)
                    given = adapt(block.name, dict(example.input))
                    kind = "action" if isinstance(block, Action) else "trigger"
                    t.call_record = {kind: block.name, "example": index, "input": given}
                    t.output = _portable(run.output)
                    t.keep = run.ok
            elif values is not None:
                harness = Harness(catalog, spec, values)
                run = run_example(harness, block, index, adapt=adapt, folder=folder, files=files)
            else:
                with serve(catalog, spec.name, seed=seed) as served:
                    run = run_example(served, block, index, adapt=adapt, folder=folder, files=files)
            runs.append(run)
    return runs


def example_files(catalog: Catalog, connector: str) -> Path | None:
    """The folder of the files ``connector``'s examples upload, from its sandbox (or None)."""
    box = catalog.sandboxes.get(connector)
    return None if box is None else box.example_files


def _portable(output: Any) -> Any:
    """A download's output with its saved path reduced to the file name (folders differ)."""
    if isinstance(output, dict) and isinstance(output.get("path"), str):
        return {**output, "path": Path(output["path"]).name}
    return output


def replay_examples(catalog: Catalog, connector: str, folder: Path) -> list[ExampleRun]:
    """Replay every example cassette in ``folder/CONNECTOR``; compare each output recorded.

    A cassette without a recorded call (one a test recorded) is left to its test.
    """
    spec = catalog.spec(connector)
    runs = []
    with tempfile.TemporaryDirectory(prefix="hookline-replay-") as downloads:
        for path in sorted((folder / spec.name).glob("*.yaml")):
            cassette = Cassette.load(path)
            if cassette.call is None:
                continue
            runs.append(_replay(catalog, spec, path, cassette, Path(downloads)))
    return runs


def _replay(
    catalog: Catalog, spec: Spec, path: Path, cassette: Cassette, downloads: Path
) -> ExampleRun:
    call = cassette.call or {}
    name = str(call.get("action") or call.get("trigger"))
    index = int(call.get("example", 1))
    block = spec.actions.get(name) or spec.triggers.get(name)
    label = ExampleRun(name, index, path.name)
    if not isinstance(block, Action | PollTrigger):
        return _failed(label, f"the spec has no action or poll trigger {name!r}")
    given = with_example_files(dict(call.get("input") or {}), example_files(catalog, spec.name))
    if isinstance(given.get("save_to"), str):
        given["save_to"] = str(downloads / Path(given["save_to"]).name)
    try:
        with _tokens_unread(), taped(catalog, path, spec.name) as tape:
            output = tape.scrubber().data(_portable(run_block(tape, block, given)))
    except (HooklineError, AssertionError) as exc:
        return _failed(label, f"{type(exc).__name__}: {exc}")
    difference = first_difference(cassette.output, output)
    if difference is not None:
        return _failed(label, f"the output differs from the one recorded: {difference}")
    return ExampleRun(name, index, path.name, output=output)


@contextmanager
def _tokens_unread() -> Iterator[None]:
    """Quiet the auth types' warnings: a scrubbed token has no expiry left to read."""
    logger = logging.getLogger("hookline.http.auth")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _failed(run: ExampleRun, problem: str) -> ExampleRun:
    return ExampleRun(run.block, run.index, run.title, problem)


def first_difference(expected: Any, actual: Any, at: str = "") -> str | None:
    """Where ``actual`` first differs from ``expected``, said in a phrase; None when equal."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in [*expected, *(k for k in actual if k not in expected)]:
            if key not in actual or key not in expected:
                return f"{at}[{key!r}] is {'missing' if key not in actual else 'new'}"
            found = first_difference(expected[key], actual[key], f"{at}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{at or 'the output'} has {len(actual)} items, not {len(expected)}"
        for index, (one, other) in enumerate(zip(expected, actual, strict=True)):
            found = first_difference(one, other, f"{at}[{index}]")
            if found:
                return found
        return None
    if expected != actual:
        return f"{at or 'the output'} is {actual!r}, not {expected!r}"
    return None


# ---------------------------------------------------------------- the four checks

_LATER = ("examples", "docs", "cassettes")
"""The checks that need a spec that loads."""


def check_connector(
    catalog: Catalog,
    connector: str,
    *,
    cassettes: Path,
    record: bool = False,
    values: Mapping[str, Any] | None = None,
    against: str = "the sandbox",
) -> list[CheckResult]:
    """Run the checks of ``hookline test`` on ``connector``, in order.

    ``values`` (a connection's, named ``against`` in the report) replace the sandbox; with
    ``record``, the examples are recorded to ``cassettes`` before the cassettes are replayed.
    A spec that does not load fails the first check and skips the others.
    """
    try:
        spec = catalog.spec(connector)
    except HooklineError as exc:
        skipped = [CheckResult(n, "skipped: the spec does not load", skipped=True) for n in _LATER]
        return [CheckResult("spec", "the spec does not load", (str(exc),)), *skipped]
    return [
        _spec_check(spec),
        _examples_check(catalog, spec, cassettes, record, values, against),
        _docs_check(spec),
        _cassettes_check(catalog, spec, cassettes),
    ]


def _spec_check(spec: Spec) -> CheckResult:
    problems = described_problems(spec) + example_problems(spec)
    counted = sum(
        len(block.examples) for block in [*spec.actions.values(), *spec.triggers.values()]
    )
    summary = (
        f"{_count(len(spec.actions), 'action')}, {_count(len(spec.triggers), 'trigger')} and "
        f"{_count(counted, 'example')}; {len(problems) or 'no'} problems"
    )
    return CheckResult("spec", summary, tuple(problems))


def _examples_check(
    catalog: Catalog,
    spec: Spec,
    cassettes: Path,
    record: bool,
    values: Mapping[str, Any] | None,
    against: str,
) -> CheckResult:
    if values is None and spec.name not in catalog.sandboxes:
        return CheckResult(
            "examples",
            "skipped: no sandbox is registered for the connector; give --connection NAME "
            "to run the examples against an account",
            skipped=True,
        )
    runs = run_examples(catalog, spec.name, values=values, record_to=cassettes if record else None)
    failed = tuple(str(run) for run in runs if not run.ok)
    recorded = f", recorded to {cassettes / spec.name}" if record else ""
    summary = f"{len(runs) - len(failed)} of {_count(len(runs), 'example')} ran against {against}"
    return CheckResult("examples", summary + recorded, failed)


def _docs_check(spec: Spec) -> CheckResult:
    try:
        page = connector_reference(spec)
    except Exception as exc:  # a bug in a block's rendering must show as a failed check
        return CheckResult("docs", "the reference page does not render", (repr(exc),))
    missing = tuple(
        f"the reference page does not mention {name!r}"
        for name in [*spec.actions, *spec.triggers]
        if f"### `{name}`" not in page
    )
    return CheckResult("docs", f"the reference page renders ({page.count(chr(10))} lines)", missing)


def _cassettes_check(catalog: Catalog, spec: Spec, cassettes: Path) -> CheckResult:
    folder = cassettes / spec.name
    runs = replay_examples(catalog, spec.name, cassettes) if folder.is_dir() else []
    if not runs:
        return CheckResult(
            "cassettes",
            f"skipped: no example cassettes in {folder} (record them with --record)",
            skipped=True,
        )
    failed = tuple(str(run) for run in runs if not run.ok)
    summary = f"{len(runs) - len(failed)} of {_count(len(runs), 'cassette')} replayed from {folder}"
    return CheckResult("cassettes", summary, failed)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
