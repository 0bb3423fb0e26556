"""How long the actions of the built-in specs are: YAML lines per action, without examples.

Run by hand, never by the test suite::

    .venv/bin/python bench/spec_lines.py                 # every spec in specs/
    .venv/bin/python bench/spec_lines.py specs/argus.yaml

An action's lines are the lines of the file its mapping spans, less those of its ``examples``
and less blank and comment-only lines: what a reader of the action reads. A line shared with
the next key (a flow mapping closing) counts once. The figures measure how much of a spec is
boilerplate that ``defaults`` could carry; they are not a budget any single action must meet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

SPECS = Path(__file__).resolve().parent.parent / "specs"


def _value(mapping: yaml.MappingNode, key: str) -> yaml.Node | None:
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def action_lines(path: Path) -> dict[str, int]:
    """Lines per action of the spec at ``path``, without examples, blanks and comments."""
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
        examples = _value(block, "examples") if isinstance(block, yaml.MappingNode) else None
        if examples is not None:
            for k, v in block.value:
                if v is examples:
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
    total_lines = total_actions = 0
    print(f"{'spec':<12} {'actions':>7} {'lines':>6} {'per action':>10}")
    for path in paths:
        counts = action_lines(path)
        if args.actions:
            for name, n in sorted(counts.items(), key=lambda item: -item[1]):
                print(f"  {name:<32} {n:>4}")
        lines = sum(counts.values())
        total_lines += lines
        total_actions += len(counts)
        average = lines / len(counts) if counts else 0.0
        print(f"{path.stem:<12} {len(counts):>7} {lines:>6} {average:>10.1f}")
    if total_actions:
        print(
            f"{'all':<12} {total_actions:>7} {total_lines:>6} {total_lines / total_actions:>10.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
