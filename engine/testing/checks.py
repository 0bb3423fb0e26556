"""Checks of a spec's promises: described blocks, examples that match, examples that run.

``check_described`` and ``check_examples`` read the spec alone: every action, trigger and
input is described, and every example's input and output match the block's schemas.
``run_example`` runs one example through the real runtime (a poll trigger's as one poll
cycle) and checks what came back against the output schema; the values of an example's
output are illustrative, so only its shape is compared. ``examples_of`` lists what can run.

Failures raise ``AssertionError`` (also under ``python -O``), so the checks serve pytest and
``hookline test`` alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from hookline.actions.files import SAVE_TO
from hookline.errors import HooklineError
from hookline.spec.catalog import OBJECT_REF
from hookline.spec.model import Action, Example, PollTrigger, Spec
from hookline.testing.harness import Harness
from hookline.testing.polls import poll_once

Adapt = Callable[[str, dict[str, Any]], dict[str, Any]]
"""``adapt(block name, input)``: the input to use for an example (a local path, an option)."""


def _as_given(name: str, given: dict[str, Any]) -> dict[str, Any]:
    return given


def example_problems(spec: Spec, adapt: Adapt = _as_given) -> list[str]:
    """What keeps ``spec``'s examples from standing for it, one sentence each.

    Every action and trigger needs examples and an output schema; each example's input must
    match the input schema (a download's ``save_to``, which every download takes, aside), and
    its output the output schema (each record of it, for a list action). ``adapt(name,
    input)`` gives the input to check, for examples that show what the schema cannot describe
    (a file path, a local-only option).
    """
    problems = []
    for block in [*spec.actions.values(), *spec.triggers.values()]:
        if not block.examples:
            problems.append(f"{block.name} has no example")
        if isinstance(block, Action):
            output_schema, many = block.output.schema, block.is_list
        else:
            output_schema, many = block.output_schema, False
        if not output_schema:
            problems.append(f"{block.name} has no output schema")
            continue
        inputs = Draft202012Validator(spec.schema_with_objects(block.input_schema))
        outputs = Draft202012Validator(spec.schema_with_objects(output_schema))
        for index, example in enumerate(block.examples, 1):
            where = f"{block.name} example #{index}"
            given = adapt(block.name, dict(example.input))
            if isinstance(block, Action) and block.is_download:
                given.pop(SAVE_TO, None)
            problems += _invalid(inputs, given, f"{where} input")
            for record in example.output if many else [example.output]:
                problems += _invalid(outputs, record, f"{where} output")
    return problems


def described_problems(spec: Spec) -> list[str]:
    """Actions and triggers without a title or description, and inputs without a description.

    An input that is a shared object (``$ref``) may take the object's description.
    """
    problems = []
    for block in [*spec.actions.values(), *spec.triggers.values()]:
        if not (block.title and block.description):
            problems.append(f"{block.name} needs a title and description")
        for name, schema in block.input_schema["properties"].items():
            if not _description(spec, schema):
                problems.append(f"{block.name}: input {name!r} has no description")
    return problems


def _description(spec: Spec, schema: Any) -> str:
    if not isinstance(schema, Mapping):
        return ""
    ref = schema.get("$ref")
    if not schema.get("description") and isinstance(ref, str) and ref.startswith(OBJECT_REF):
        return _description(spec, spec.objects.get(ref.removeprefix(OBJECT_REF)))
    return str(schema.get("description") or "")


def _invalid(validator: Draft202012Validator, value: Any, what: str) -> list[str]:
    return [
        f"{what}{''.join(f'[{part!r}]' for part in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(value)
    ]


def check_examples(spec: Spec, adapt: Adapt = _as_given) -> None:
    """Fail unless every action and trigger has examples that match its schemas.

    ``adapt(name, input)`` gives the input to check (see ``example_problems``).
    """
    _raise_if(example_problems(spec, adapt))


def check_described(spec: Spec) -> None:
    """Fail unless every action and trigger has a title and a description, and so has each input."""
    _raise_if(described_problems(spec))


def _raise_if(problems: list[str]) -> None:
    if problems:
        raise AssertionError("\n".join(problems))


# ---------------------------------------------------------------- running examples


@dataclass(frozen=True, slots=True)
class ExampleRun:
    """One example run through the runtime: which one, and the problem it met (None: it held)."""

    block: str
    index: int
    title: str
    problem: str | None = None
    output: Any = None

    @property
    def ok(self) -> bool:
        """Whether the example ran and its output matched the schema."""
        return self.problem is None

    @property
    def label(self) -> str:
        """``block #index``, with the example's title when it has one."""
        return f"{self.block} #{self.index}" + (f" ({self.title})" if self.title else "")

    def __str__(self) -> str:
        return self.label + ("" if self.ok else f": {self.problem}")


def examples_of(spec: Spec) -> Iterator[tuple[Action | PollTrigger, int, Example]]:
    """Every example that can run, with its block and its number (from 1), in spec order.

    A webhook trigger's examples cannot: the platform sends its events.
    """
    for block in [*spec.actions.values(), *spec.triggers.values()]:
        if isinstance(block, Action | PollTrigger):
            for index, example in enumerate(block.examples, 1):
                yield block, index, example


def run_example(
    harness: Harness,
    block: Action | PollTrigger,
    index: int,
    *,
    adapt: Adapt = _as_given,
    folder: Path | None = None,
    files: Path | None = None,
) -> ExampleRun:
    """Run example ``index`` of ``block`` through ``harness``; check the output's shape.

    A download's ``save_to`` is moved into ``folder`` (its file name kept), so that examples
    write nowhere else; an upload's ``@NAME`` is read from ``files`` (see
    ``with_example_files``). A hookline error (a refused call, a missing file) or an output that
    does not match the schema is the run's ``problem``.
    """
    example = block.examples[index - 1]
    given = with_example_files(adapt(block.name, dict(example.input)), files)
    if folder is not None and isinstance(given.get(SAVE_TO), str):
        given[SAVE_TO] = str(folder / Path(given[SAVE_TO]).name)
    try:
        output = run_block(harness, block, given)
        _check_output(harness.spec, block, output)
    except (HooklineError, AssertionError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
        return ExampleRun(block.name, index, example.title, problem)
    return ExampleRun(block.name, index, example.title, output=output)


def with_example_files(given: dict[str, Any], files: Path | None) -> dict[str, Any]:
    """``given`` with each input ``@NAME`` whose file ``files`` holds read from there.

    Examples name the files they upload as a person would (``@capture.pcap``); the sandbox's
    ``example_files`` folder holds them, so the examples run from any working directory.
    """
    if files is None:
        return given
    return {
        name: f"@{files / value[1:]}"
        if isinstance(value, str) and value.startswith("@") and (files / value[1:]).is_file()
        else value
        for name, value in given.items()
    }


def run_block(harness: Harness, block: Action | PollTrigger, given: Mapping[str, Any]) -> Any:
    """The output of action ``block`` for input ``given``, or the events of one poll cycle."""
    if isinstance(block, Action):
        return harness.call(block.name, given)

    async def cycle(conn: Any) -> list[Any]:
        events, _ = await poll_once(conn, block.name, given, None)
        return [event for _, event in events]

    return harness.session(cycle)


def _check_output(spec: Spec, block: Action | PollTrigger, output: Any) -> None:
    if isinstance(block, Action):
        schema, many = block.output.schema, block.is_list
    else:
        schema, many = block.output_schema, True
    if schema is None:
        return
    validator = Draft202012Validator(spec.schema_with_objects(schema))
    for number, record in enumerate(output if many else [output], 1):
        try:
            validator.validate(record)
        except ValidationError as exc:
            where = f"record {number}" if many else "the output"
            at = "".join(f"[{part!r}]" for part in exc.absolute_path)
            raise AssertionError(
                f"{where}{at} does not match the output schema: {exc.message}"
            ) from None
