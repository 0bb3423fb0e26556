"""JMESPath compiled to Python closures: the parsed tree becomes nested functions, built once.

jmespath's ``TreeInterpreter`` looks up a method for every node each time an expression runs;
over a page of records that dispatch is most of the work. ``compile_ast`` walks the tree once
and returns one closure per node, each calling its children's closures directly, so running an
expression is only the work the expression asks for.

The semantics are jmespath's own, node for node, including its quirks: a field of anything
without ``get`` is null, projections drop null results and give null for a value of the wrong
kind, ``0`` is true, ``1 == true`` is false, ordering compares numbers and strings alike (a
number against a string raises ``TypeError``, as it does there), and a slice with step 0 raises
``ValueError``. Function calls go through the same ``Functions`` object with the same argument
list, so argument checks and errors are unchanged. A differential test holds the two equal.

A node type this module does not know is handed, with its subtree, to jmespath's interpreter,
so a newer jmespath with new syntax is never refused.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from numbers import Number
from typing import Any

from jmespath import functions as jmespath_functions  # type: ignore[import-untyped, unused-ignore]
from jmespath import visitor as jmespath_visitor  # type: ignore[import-untyped, unused-ignore]

from hookline.expr.budgets import BudgetedInterpreter, spend

__all__ = ["Evaluator", "compile_ast"]

Evaluator = Callable[[Any], Any]
"""A compiled expression: takes the data, returns the result."""

Node = Mapping[str, Any]

_ORDERING: dict[str, Callable[[Any, Any], Any]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


def compile_ast(node: Node, options: Any = None) -> Evaluator:
    """The closure evaluating ``node``, a tree from ``jmespath.compile(text).parsed``.

    ``options`` is the ``jmespath.Options`` the interpreter would be given: its
    ``custom_functions`` answers every function call, its ``dict_cls`` builds multi-select
    hashes. The closure gives what ``jmespath.compile(text).search(data, options)`` gives, and
    raises what it raises.
    """
    return _Compiler(options).compile(node)


class _Compiler:
    """Turns nodes into closures; holds what every closure of one expression shares."""

    def __init__(self, options: Any) -> None:
        self.options = options
        self.interpreter = jmespath_visitor.TreeInterpreter(options)
        custom = getattr(options, "custom_functions", None)
        self.functions = jmespath_functions.Functions() if custom is None else custom
        self.dict_cls: Callable[[], Any] = getattr(options, "dict_cls", None) or dict

    def compile(self, node: Node) -> Evaluator:
        build = _BUILDERS.get(node.get("type", ""))
        return self._interpreted(node) if build is None else build(self, node)

    def _compile_all(self, nodes: Sequence[Node]) -> list[Evaluator]:
        return [self.compile(child) for child in nodes]

    def _interpreted(self, node: Node) -> Evaluator:
        options = self.options

        def interpreted(value: Any) -> Any:  # a counting interpreter per evaluation
            return BudgetedInterpreter(options).visit(node, value)

        return interpreted

    # ------------------------------------------------------------ paths

    def _field(self, node: Node) -> Evaluator:
        return _path([node["value"]])

    def _chain(self, node: Node) -> Evaluator:
        """``a.b``, ``a[0]`` and ``a | b``: each child reads what the one before gave."""
        children = node["children"]
        if children and all(child.get("type") == "field" for child in children):
            return _path([child["value"] for child in children])
        steps = [self.compile(child) for child in children if child.get("type") not in _IDENTITIES]
        if not steps:
            return _identity
        if len(steps) == 1:
            return steps[0]
        if len(steps) == 2:
            first, second = steps

            def pair(value: Any) -> Any:
                return second(first(value))

            return pair

        def chain(value: Any) -> Any:
            for step in steps:
                value = step(value)
            return value

        return chain

    def _index(self, node: Node) -> Evaluator:
        position = node["value"]

        def index(value: Any) -> Any:
            if not isinstance(value, list):
                return None
            try:
                return value[position]
            except IndexError:
                return None

        return index

    def _slice(self, node: Node) -> Evaluator:
        bounds = slice(*node["children"])

        def sliced(value: Any) -> Any:
            if not isinstance(value, list):
                return None
            return value[bounds]

        return sliced

    def _identity(self, node: Node) -> Evaluator:
        return _identity

    def _literal(self, node: Node) -> Evaluator:
        constant = node["value"]

        def literal(value: Any) -> Any:
            return constant

        return literal

    # ------------------------------------------------------------ multi-selects

    def _key_val_pair(self, node: Node) -> Evaluator:
        return self.compile(node["children"][0])

    def _multi_select_dict(self, node: Node) -> Evaluator:
        pairs = [(child["value"], self.compile(child)) for child in node["children"]]
        make = self.dict_cls
        if make is dict:

            def select_dict(value: Any) -> Any:
                if value is None:
                    return None
                return {key: evaluate(value) for key, evaluate in pairs}

            return select_dict

        def select_mapping(value: Any) -> Any:
            if value is None:
                return None
            collected = make()
            for key, evaluate in pairs:
                collected[key] = evaluate(value)
            return collected

        return select_mapping

    def _multi_select_list(self, node: Node) -> Evaluator:
        items = self._compile_all(node["children"])

        def select_list(value: Any) -> Any:
            if value is None:
                return None
            return [evaluate(value) for evaluate in items]

        return select_list

    # ------------------------------------------------------------ projections

    def _projection(self, node: Node) -> Evaluator:
        left, right = self._compile_all(node["children"][:2])
        project = _projector(right, node["children"][1])

        def projection(value: Any) -> Any:
            base = left(value)
            if not isinstance(base, list):
                return None
            return project(base)

        return projection

    def _value_projection(self, node: Node) -> Evaluator:
        left, right = self._compile_all(node["children"][:2])
        project = _projector(right, node["children"][1])

        def value_projection(value: Any) -> Any:
            base = left(value)
            try:
                values = base.values()
            except AttributeError:
                return None
            return project(values)

        return value_projection

    def _filter_projection(self, node: Node) -> Evaluator:
        left, right, condition = self._compile_all(node["children"][:3])

        def filter_projection(value: Any) -> Any:
            base = left(value)
            if not isinstance(base, list):
                return None
            spend(len(base))
            collected: list[Any] = []
            for element in base:
                if not _is_false(condition(element)):
                    current = right(element)
                    if current is not None:
                        collected.append(current)
            return collected

        return filter_projection

    def _flatten(self, node: Node) -> Evaluator:
        inner = self.compile(node["children"][0])

        def flatten(value: Any) -> Any:
            base = inner(value)
            if not isinstance(base, list):
                return None
            spend(len(base))
            merged: list[Any] = []
            for element in base:
                if isinstance(element, list):
                    merged.extend(element)
                else:
                    merged.append(element)
            return merged

        return flatten

    # ------------------------------------------------------------ logic

    def _comparator(self, node: Node) -> Evaluator:
        left, right = self._compile_all(node["children"][:2])
        kind = node["value"]
        if kind == "eq":

            def equal(value: Any) -> Any:
                return _equals(left(value), right(value))

            return equal
        if kind == "ne":

            def not_equal(value: Any) -> Any:
                return not _equals(left(value), right(value))

            return not_equal
        compare = _ORDERING[kind]

        def ordering(value: Any) -> Any:
            first, second = left(value), right(value)
            if not (_is_orderable(first) and _is_orderable(second)):
                return None
            return compare(first, second)

        return ordering

    def _and_expression(self, node: Node) -> Evaluator:
        left, right = self._compile_all(node["children"][:2])

        def and_expression(value: Any) -> Any:
            matched = left(value)
            return matched if _is_false(matched) else right(value)

        return and_expression

    def _or_expression(self, node: Node) -> Evaluator:
        left, right = self._compile_all(node["children"][:2])

        def or_expression(value: Any) -> Any:
            matched = left(value)
            return right(value) if _is_false(matched) else matched

        return or_expression

    def _not_expression(self, node: Node) -> Evaluator:
        inner = self.compile(node["children"][0])

        def not_expression(value: Any) -> Any:
            result = inner(value)
            if _is_number(result) and result == 0:  # jmespath's `!0` is false: 0 is true
                return False
            return not result

        return not_expression

    # ------------------------------------------------------------ functions

    def _function_expression(self, node: Node) -> Evaluator:
        name = node["value"]
        arguments = self._compile_all(node["children"])
        call = self.functions.call_function

        def function_expression(value: Any) -> Any:
            spend(1)
            return call(name, [argument(value) for argument in arguments])

        return function_expression

    def _expref(self, node: Node) -> Evaluator:
        body = node["children"][0]
        evaluate = self.compile(body)
        interpreter = self.interpreter

        def expref(value: Any) -> Any:  # a new one each time, as jmespath's: `==` is identity
            return _Expression(body, interpreter, evaluate)

        return expref


class _Expression(jmespath_visitor._Expression):  # type: ignore[misc]
    """An ``&expression`` as a function receives it, running its compiled closure.

    Functions evaluate it as ``expref.visit(expref.expression, item)``, which runs the closure;
    any other node goes to the interpreter, as it would with jmespath's own. The class keeps
    jmespath's name because jmespath checks a function argument's type by its class name.
    """

    def __init__(self, expression: Node, interpreter: Any, evaluate: Evaluator) -> None:
        super().__init__(expression, interpreter)
        self.evaluate = evaluate

    def visit(self, node: Node, *args: Any, **kwargs: Any) -> Any:
        if node is self.expression and len(args) == 1 and not kwargs:
            return self.evaluate(args[0])
        return self.interpreter.visit(node, *args, **kwargs)


_BUILDERS: dict[str, Callable[[_Compiler, Node], Evaluator]] = {
    "and_expression": _Compiler._and_expression,
    "comparator": _Compiler._comparator,
    "current": _Compiler._identity,
    "expref": _Compiler._expref,
    "field": _Compiler._field,
    "filter_projection": _Compiler._filter_projection,
    "flatten": _Compiler._flatten,
    "function_expression": _Compiler._function_expression,
    "identity": _Compiler._identity,
    "index": _Compiler._index,
    "index_expression": _Compiler._chain,
    "key_val_pair": _Compiler._key_val_pair,
    "literal": _Compiler._literal,
    "multi_select_dict": _Compiler._multi_select_dict,
    "multi_select_list": _Compiler._multi_select_list,
    "not_expression": _Compiler._not_expression,
    "or_expression": _Compiler._or_expression,
    "pipe": _Compiler._chain,
    "projection": _Compiler._projection,
    "slice": _Compiler._slice,
    "subexpression": _Compiler._chain,
    "value_projection": _Compiler._value_projection,
}
_IDENTITIES = frozenset({"current", "identity"})


# ---------------------------------------------------------------- shared closures and rules


def _identity(value: Any) -> Any:
    return value


def _path(names: Sequence[str]) -> Evaluator:
    """Read ``names`` one after another; anything without ``get`` on the way gives null."""
    if len(names) == 1:
        (name,) = names

        def field(value: Any) -> Any:
            try:
                return value.get(name)
            except AttributeError:
                return None

        return field
    steps = tuple(names)

    def path(value: Any) -> Any:
        for name in steps:
            try:
                value = value.get(name)
            except AttributeError:
                return None
        return value

    return path


def _projector(right: Evaluator, node: Node) -> Callable[[Any], list[Any]]:
    """Apply ``right`` to every element, keeping the results that are not null."""
    if node.get("type") in _IDENTITIES:

        def keep(elements: Any) -> list[Any]:
            spend(len(elements))
            return [element for element in elements if element is not None]

        return keep

    def project(elements: Any) -> list[Any]:
        spend(len(elements))
        return [current for current in map(right, elements) if current is not None]

    return project


def _is_false(value: Any) -> bool:
    """jmespath's falsiness: empty text, list or object, false and null; ``0`` is true."""
    return value == "" or value == [] or value == {} or value is None or value is False


def _is_number(value: Any) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


def _is_orderable(value: Any) -> bool:
    return isinstance(value, str) or _is_number(value)


def _equals(first: Any, second: Any) -> Any:
    """jmespath's ``==``: Python's, except that ``0`` and ``1`` never equal a boolean."""
    if _is_number(first) and first in (0, 1):
        if isinstance(second, bool):
            return False
    elif _is_number(second) and second in (0, 1) and isinstance(first, bool):
        return False
    return first == second
