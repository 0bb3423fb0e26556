"""What one evaluation may cost: the size of what it makes, and the steps it takes.

An expression can read nothing but its context and call nothing but the registered
functions, yet a few characters can still ask for a lot: ``join('', [@, @])`` piped into
itself doubles a string each time, ``[@, @][]`` repeated doubles a list, and a multi-select
of ``@`` nested ten deep is a thousand-fold when written out as JSON. Two budgets bound that:

- ``MAX_VALUE_BYTES``: no rendered value, and nothing a function builds, is larger (about
  10 MB written as JSON). Functions that build text check before they build
  (``hookline.expr.functions`` for JMESPath's ``join`` and ``to_string``,
  ``hookline.expr.builtins`` for the registered ones); ``value_size`` measures a value
  without writing it, counting a list or object that is shared as often as it appears.
- ``MAX_STEPS``: an evaluation takes at most this many steps, each element a projection,
  filter or flatten goes over and each function call counting one (``spend``, from the
  compiled closures; ``BudgetedInterpreter`` counts every node it visits where the
  interpreter runs), so a chain of projections and flattens stops after a second or so
  instead of spinning for minutes. An expression without them takes as many steps as it has
  nodes, which its length already bounds, so those are not counted.

Both are checked where an expression is evaluated (``hookline.expr.templates``), whichever
evaluator runs it, and the error names the expression with a caret.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from jmespath.visitor import TreeInterpreter  # type: ignore[import-untyped, unused-ignore]

MAX_VALUE_BYTES = 10_000_000
"""The largest value an expression may make, rendered or built by a function (JSON bytes)."""

MAX_STEPS = 1_000_000
"""The most syntax-tree nodes one evaluation may visit (each projected element counting)."""


_SCALARS = frozenset({int, float, bool, type(None)})
"""The leaf types a value's size counts as 8 bytes each."""


class OverBudget(Exception):
    """An evaluation passed a budget; the message says which, for the expression's error."""


class _Meter(threading.local):
    """The steps the evaluation running in this thread has left."""

    left = MAX_STEPS


_METER = _Meter()


def start_evaluation() -> None:
    """Give the evaluation about to run in this thread its whole step budget."""
    _METER.left = MAX_STEPS


def spend(steps: int) -> None:
    """Count ``steps`` against the running evaluation; ``OverBudget`` past ``MAX_STEPS``."""
    _METER.left -= steps
    if _METER.left < 0:
        raise OverBudget(f"the evaluation took more than {MAX_STEPS:,} steps")


class TooLarge(OverBudget):
    """A value passed ``MAX_VALUE_BYTES``."""


def value_size(value: Any, what: str = "the value", limit: int = MAX_VALUE_BYTES) -> int:
    """About how many bytes ``value`` takes written as JSON; ``TooLarge`` past ``limit``.

    Text counts its characters, numbers, booleans and null a few bytes each. A list or object
    that appears several times (a multi-select of ``@``) counts each time, as writing it out
    would, but is walked once, so measuring stays cheap however large the sum. The error's
    message names the value as ``what``.
    """
    if type(value) is dict:  # a record reshaped, most often of text and scalars only
        total = 2
        for key, item in value.items():
            kind = type(item)
            if kind is str and type(key) is str:
                total += len(key) + len(item) + 6
            elif kind in _SCALARS and type(key) is str:
                total += len(key) + 12
            else:
                break
        else:
            if total > limit:
                raise TooLarge(too_large(what))
            return total
    try:
        return _size(value, {}, limit)
    except _Over:
        raise TooLarge(too_large(what)) from None
    except RecursionError:
        raise TooLarge(f"{what} is nested too deeply to measure") from None


def too_large(what: str) -> str:
    """The sentence for a value over budget."""
    return f"{what} would be larger than {MAX_VALUE_BYTES:,} bytes, the most an expression may make"


class _Over(Exception):
    """Raised out of the walk as soon as the limit is passed."""


def _size(value: Any, seen: dict[int, int], limit: int) -> int:
    if isinstance(value, str):
        return len(value) + 2
    if not isinstance(value, list | Mapping):
        return 8
    known = seen.get(id(value))
    if known is not None:
        return known
    total = 2
    # Text and scalars are counted in the loop, without a call each: most values are records
    # of text and numbers, measured once per record.
    if isinstance(value, list):
        for item in value:
            kind = type(item)
            if kind is str:
                total += len(item) + 3
            else:
                total += 9 if kind in _SCALARS else 1 + _size(item, seen, limit)
            if total > limit:
                raise _Over
    else:
        for key, item in value.items():
            kind = type(item)
            total += (len(key) if type(key) is str else len(str(key))) + 4
            if kind is str:
                total += len(item) + 2
            else:
                total += 8 if kind in _SCALARS else _size(item, seen, limit)
            if total > limit:
                raise _Over
    seen[id(value)] = total
    return total


class BudgetedInterpreter(TreeInterpreter):  # type: ignore[misc]
    """jmespath's interpreter, counting the nodes it visits: past ``steps``, ``OverBudget``.

    One interpreter runs one evaluation (jmespath makes one per search too); functions given
    an ``&expression`` (``map``, ``sort_by``) evaluate it through the same interpreter, so
    their steps count.
    """

    def __init__(self, options: Any, steps: int = MAX_STEPS) -> None:
        super().__init__(options)
        self.steps_left = steps

    def visit(self, node: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
        """Visit ``node`` as jmespath does, one step spent."""
        self.steps_left -= 1
        if self.steps_left < 0:
            raise OverBudget(f"the evaluation took more than {MAX_STEPS:,} steps")
        kind = node["type"]
        method = self._method_cache.get(kind)
        if method is None:
            method = getattr(self, f"visit_{kind}", self.default_visit)
            self._method_cache[kind] = method
        return method(node, *args, **kwargs)
