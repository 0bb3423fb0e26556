"""How long the actions of the built-in specs are: YAML lines per action, without examples.

Run by hand, never by the test suite::

    .venv/bin/python bench/spec_lines.py                 # every spec in specs/
    .venv/bin/python bench/spec_lines.py specs/argus.yaml

An action's lines are the lines of the file its mapping spans, less those of its ``examples``
and less blank and comment-only lines: what a reader of the action reads. They are split in
three parts: prose (its title and description), inputs (its input schemas, with their
descriptions, and required list) and mechanics, the rest: its name, and how it is sent and
read (request, output, paging, errors, lookup), the part that ``defaults`` and a request's
``inputs`` can shorten. Averages are per action; they are not a budget
any single action must meet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

SPECS = Path(__file__).resolve().parent.parent / "specs"

PROSE = ("title", "description")
"""What the action is, for people: the prose column."""

INPUTS = ("input", "required")
"""What the action takes: the inputs column, their schemas and descriptions."""

MECHANICS = ("examples", *PROSE, *INPUTS)
"""What the mechanics column leaves out: examples, prose and inputs."""


def _value(mapping: yaml.MappingNode, key: str) -> yaml.Node | None:
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def action_lines(path: Path, leave_out: tuple[str, ...] = ("examples",)) -> dict[str, int]:
    """Lines per action of the spec at ``path``, without ``leave_out``, blanks and comments."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    actions = _value(root, "actions") if isinstance(root, yaml.MappingNode) else None
    counts: dict[str, int] = {}
    if not isinstance(actions, yaml.MappingNode):
        return counts
    for key, block in actions.value:
        first = key.start_mark.line
        last = block.end_mark.line if block.end_mark.column else block.end_mark.line - 1
        skipped: set[int] = set()
        for k, v in block.value if isinstance(block, yaml.MappingNode) else ():
            if k.value in leave_out:
                end = v.end_mark.line if v.end_mark.column else v.end_mark.line - 1
                skipped.update(range(k.start_mark.line, end + 1))
        counts[key.value] = sum(
            1
            for n in range(first, last + 1)
            if n not in skipped and lines[n].strip() and not lines[n].lstrip().startswith("#")
        )
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="*", type=Path, help="spec files (default: specs/*.yaml)")
    parser.add_argument("--actions", action="store_true", help="list every action's count")
    args = parser.parse_args(argv)
    paths = args.specs or sorted(SPECS.glob("*.yaml"))
    totals = [0, 0, 0, 0, 0]
    print(
        f"{'spec':<12} {'actions':>7} {'lines':>6} {'per action':>10} {'prose':>6} "
        f"{'inputs':>6} {'mechanics':>10}"
    )
    for path in paths:
        counts = action_lines(path)
        lines = sum(counts.values())
        prose = lines - sum(action_lines(path, ("examples", *PROSE)).values())
        inputs = lines - sum(action_lines(path, ("examples", *INPUTS)).values())
        mechanics = sum(action_lines(path, MECHANICS).values())
        if args.actions:
            for name, n in sorted(counts.items(), key=lambda item: -item[1]):
                print(f"  {name:<32} {n:>4}")
        for i, n in enumerate((len(counts), lines, prose, inputs, mechanics)):
            totals[i] += n
        print(_row(path.stem, len(counts), lines, prose, inputs, mechanics))
    if totals[0]:
        print(_row("all", *totals))
    return 0


def _row(name: str, actions: int, lines: int, *parts: int) -> str:
    """One spec's line: its actions, lines, and lines an action, in all and part by part."""
    per = [n / actions if actions else 0.0 for n in (lines, *parts)]
    prose, inputs, mechanics = per[1:]
    return (
        f"{name:<12} {actions:>7} {lines:>6} {per[0]:>10.1f} {prose:>6.1f} {inputs:>6.1f} "
        f"{mechanics:>10.1f}"
    )


if __name__ == "__main__":
    sys.exit(main())
