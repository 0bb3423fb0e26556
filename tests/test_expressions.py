"""The template language: rendering, types, compile and evaluation errors, references, plugins."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pluggy
import pytest

from hookline import ExpressionFunction, hookimpl
from hookline.errors import ExpressionError, PluginError
from hookline.expr.templates import (
    CompiledValue,
    Expression,
    Expressions,
    Template,
)
from hookline.plugins import hookspecs

CONTEXT: dict[str, Any] = {
    "trigger": {
        "id": 7,
        "subject": "Disk full",
        "priority": "critical",
        "score": 2.5,
        "open": True,
        "closed": False,
        "owner": None,
        "tags": [{"key": "site", "value": "oslo"}, {"key": "team", "value": "ops"}],
        "meta": {"a": 1, "b": "x"},
        "odd key": "odd",
    },
    "steps": {"finding": {"id": 42}},
    "vars": {"names": ["a", "b"]},
}


@pytest.fixture
def runtime() -> Expressions:
    return Expressions()


def plugin_manager(*plugins: object) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("hookline")
    pm.add_hookspecs(hookspecs)
    for index, plugin in enumerate(plugins):
        pm.register(plugin, name=f"plugin{index}")
    return pm


def double(value: float) -> float:
    return value * 2


def surround(text: str, left: str = "<", right: str = ">") -> str:
    return left + text + right


def concat(*texts: str) -> str:
    return "".join(texts)


class DoublePlugin:
    @hookimpl
    def register_functions(self) -> list[ExpressionFunction]:
        return [ExpressionFunction("double", double, (("number",),), "Twice the number.")]


# ---------------------------------------------------------------- rendering

RENDER_CASES: list[tuple[str, Any]] = [
    # a single expression keeps its type
    ("{{ trigger.id }}", 7),
    ("{{ trigger.score }}", 2.5),
    ("{{ trigger.subject }}", "Disk full"),
    ("{{ trigger.open }}", True),
    ("{{ trigger.owner }}", None),
    ("{{ trigger.missing }}", None),
    ("{{ vars.names }}", ["a", "b"]),
    ("{{ trigger.meta }}", {"a": 1, "b": "x"}),
    ("  {{ trigger.id }}\n", 7),
    ("{{trigger.id}}", 7),
    ("{{ trigger.priority == 'critical' }}", True),
    ("{{ trigger.tags[?key == 'team'].value | [0] }}", "ops"),
    ("{{ {id: steps.finding.id, s: trigger.subject} }}", {"id": 42, "s": "Disk full"}),
    ("{{ length(trigger.tags) }}", 2),
    ('{{ trigger."odd key" }}', "odd"),
    # text around expressions makes a string
    ("id={{ trigger.id }}", "id=7"),
    ("{{ trigger.id }}{{ trigger.id }}", "77"),
    ("score {{ trigger.score }}", "score 2.5"),
    ("[{{ trigger.owner }}]", "[]"),
    ("is {{ trigger.open }}/{{ trigger.closed }}", "is true/false"),
    ("names: {{ vars.names }}", 'names: ["a","b"]'),
    ("meta: {{ trigger.meta }}", 'meta: {"a":1,"b":"x"}'),
    ("PlexTrac finding {{ steps.finding.id }}", "PlexTrac finding 42"),
    ("{{ 'ünï' }} text", "ünï text"),
    # literal text, escapes and braces
    ("plain text", "plain text"),
    ("", ""),
    ("a }} b", "a }} b"),
    ("a { b } c", "a { b } c"),
    ("{{ '{{' }}", "{{"),
    ("x {{ '{{' }} y }}", "x {{ y }}"),
    ("{{ '}}' }}", "}}"),
    ("{{ 'it\\'s' }}", "it's"),
    ('{{ `"}}"` }}!', "}}!"),
    ("{{ {a: {b: trigger.id}} }}", {"a": {"b": 7}}),
    ("{{ trigger.id}}}", "7}"),
]


@pytest.mark.parametrize(("text", "expected"), RENDER_CASES)
def test_template_renders(runtime: Expressions, text: str, expected: Any) -> None:
    assert runtime.compile(text).render(CONTEXT) == expected


def test_single_expression_keeps_its_type_and_mixed_text_is_a_string(runtime: Expressions) -> None:
    single = runtime.compile(" {{ trigger.id }} ")
    mixed = runtime.compile("#{{ trigger.id }}")
    assert single.is_single and single.render(CONTEXT) == 7
    assert not mixed.is_single and mixed.render(CONTEXT) == "#7"
    assert not runtime.compile("no expression").is_single
    assert not runtime.compile("{{ trigger.id }}{{ trigger.id }}").is_single


def test_template_parts_keep_sources_and_offsets(runtime: Expressions) -> None:
    template = runtime.compile("Bearer {{  session.token }} / {{x}}")
    assert [type(part) for part in template.parts] == [str, Expression, str, Expression]
    assert [(e.source, e.offset) for e in template.expressions] == [
        ("session.token", 11),
        ("x", 32),
    ]
    assert template.source[11:24] == "session.token"


def test_render_accepts_any_mapping(runtime: Expressions) -> None:
    context: Mapping[str, Any] = MappingProxyType({"a": {"b": 1}})
    assert runtime.compile("{{ a.b }}").render(context) == 1


def test_compiling_the_same_text_reuses_the_compiled_template(runtime: Expressions) -> None:
    assert runtime.compile("{{ a }}") is runtime.compile("{{ a }}")


def test_mixed_text_refuses_values_that_are_not_json(runtime: Expressions) -> None:
    with pytest.raises(ExpressionError, match="not JSON data"):
        runtime.compile("x {{ a }}").render({"a": float("nan")})


# ---------------------------------------------------------------- compile errors


def test_compile_error_shows_the_expression_with_a_caret(runtime: Expressions) -> None:
    with pytest.raises(ExpressionError) as caught:
        runtime.compile("{{ trigger. }}")
    assert (
        str(caught.value)
        == "expected an expression after '.' at column 9:\n  trigger.\n          ^"
    )
    assert caught.value.column == 9
    assert caught.value.expression == "trigger."


def test_compile_error_starts_with_where(runtime: Expressions) -> None:
    with pytest.raises(ExpressionError, match=r"^steps\[0\]\.with\.title: expected an"):
        runtime.compile("{{ a || }}", where="steps[0].with.title")


COMPILE_ERRORS = [
    ("{{ a", "'{{' is not closed by '}}'", 1),
    ("x {{ a }} {{ b", "'{{' is not closed by '}}'", 11),
    ("{{ }}", "empty expression", 1),
    ("{{ 'abc }}", "the quote ' is not closed", 4),
    ("{{ a ~ b }}", "unexpected character '~'", 3),
    ("{{ a = b }}", "did you mean '=='?", 3),
    ("{{ a b }}", "unexpected name 'b'", 3),
    ("{{ a[0 }}", "the expression ends too early after '0'", 4),
    ("{{ a == }}", "expected an expression after '=='", 5),
    ("{{ {a: } }}", "unexpected '}'", 5),
    ("{{ `not json` }}", "a `literal` must hold JSON", 1),
    ('{{ "f"(a) }}', "only a plain name can be called as a function", 1),
    ("{{ nope(a) }}", "unknown function nope()", 1),
    ("{{ a.lenght(b) }}", "unknown function lenght() (did you mean length()?)", 3),
    ("{{ length(a, b) }}", "length() takes exactly 1 argument but is given 2", 1),
    ("{{ length(a) || length() }}", "length() takes exactly 1 argument but is given 0", 14),
    ("{{ merge() }}", "merge() takes at least 1 argument but is given 0", 1),
    ("{{ !vars.ticket }}", "`!` applies only to the name right after it", 1),
    ("{{ a && !b.c[0] }}", "put the path in parentheses, as in !(vars.ticket)", 6),
    ("{{ !(a) || !b.c }}", "`!` applies only to the name right after it", 9),
]


@pytest.mark.parametrize(("text", "message", "column"), COMPILE_ERRORS)
def test_compile_error(runtime: Expressions, text: str, message: str, column: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        runtime.compile(text)
    assert message in str(caught.value)
    assert f"at column {column}:" in str(caught.value)
    assert caught.value.column == column
    pointer = str(caught.value).splitlines()[-1]
    assert pointer == "  " + " " * (column - 1) + "^"


def test_caret_stays_under_the_column_in_a_long_multiline_text(runtime: Expressions) -> None:
    text = "line one\n" + "x" * 200 + " {{ a " + "y" * 200
    with pytest.raises(ExpressionError) as caught:
        runtime.compile(text)
    shown, pointer = str(caught.value).splitlines()[-2:]
    assert len(shown) < 100
    assert shown[pointer.index("^")] == "{"


def test_a_negation_of_a_whole_path_or_a_call_compiles(runtime: Expressions) -> None:
    template = runtime.compile("{{ !(vars.ticket) && !contains(a, 'x') && !d[0] && b != c }}")
    context = {"vars": {"ticket": None}, "a": [], "b": 1, "c": 2, "d": []}
    assert template.render(context) is True


def test_compile_expression_takes_a_bare_expression(runtime: Expressions) -> None:
    expression = runtime.compile_expression("  items[?id > `1`].id ")
    assert expression.source == "items[?id > `1`].id"
    assert expression.offset == 2
    assert expression.search({"items": [{"id": 1}, {"id": 2}]}) == [2]


@pytest.mark.parametrize(
    ("text", "message"),
    [("{{ records }}", "without '{{ }}'"), ("  ", "empty expression"), ("a.", "after '.'")],
)
def test_compile_expression_errors(runtime: Expressions, text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=r"^select: .*" + message):
        runtime.compile_expression(text, where="select")


# ---------------------------------------------------------------- evaluation errors


def test_builtin_function_type_error_becomes_expression_error(runtime: Expressions) -> None:
    template = runtime.compile("{{ a || length(trigger.id) }}")
    with pytest.raises(ExpressionError) as caught:
        template.render(CONTEXT)
    message = str(caught.value)
    assert message.startswith(
        "cannot evaluate: length(): argument 1 is a number; expected text, a list or a mapping"
    )
    assert " at column 6:" in message
    assert caught.value.expression == "a || length(trigger.id)"


def test_arithmetic_failure_becomes_expression_error(runtime: Expressions) -> None:
    with pytest.raises(ExpressionError, match="arithmetic failed"):
        runtime.compile("{{ ceil(to_number('1e400')) }}").render({})


def test_hostile_deeply_nested_data_becomes_expression_error(runtime: Expressions) -> None:
    def nested() -> list[Any]:
        value: list[Any] = []
        for _ in range(100_000):
            value = [value]
        return value

    with pytest.raises(ExpressionError, match="nested too deeply"):
        runtime.compile("{{ a == b }}").render({"a": nested(), "b": nested()})


def test_expression_may_span_lines(runtime: Expressions) -> None:
    assert runtime.compile("{{ trigger.owner ||\n   trigger.subject }}").render(CONTEXT) == (
        "Disk full"
    )


def test_custom_function_failure_becomes_expression_error() -> None:
    def broken(value: Any) -> Any:
        raise ZeroDivisionError("division by zero")

    runtime = Expressions([ExpressionFunction("broken", broken, (("any",),), "Fails.")])
    with pytest.raises(ExpressionError, match=r"broken\(\): failed: ZeroDivisionError"):
        runtime.compile("{{ broken(a) }}").render({})


def test_custom_function_arguments_are_type_checked() -> None:
    runtime = Expressions([ExpressionFunction("double", double, (("number",),), "Twice.")])
    assert runtime.compile("{{ double(n) }}").render({"n": 4}) == 8
    for bad in ("'4'", "`true`", "`null`"):
        with pytest.raises(
            ExpressionError, match=r"double\(\): argument 1 \(value\) is .*; expected a number"
        ):
            runtime.compile(f"{{{{ double({bad}) }}}}").render({})


def test_optional_and_variadic_parameters() -> None:
    runtime = Expressions(
        [
            ExpressionFunction(
                "surround", surround, (("string",), ("string",), ("string",)), "Wraps.", optional=2
            ),
            ExpressionFunction("concat", concat, (("string",),), "Joins.", variadic=True),
        ]
    )
    assert runtime.compile("{{ surround('a') }}").render({}) == "<a>"
    assert runtime.compile("{{ surround('a', '[', ']') }}").render({}) == "[a]"
    assert runtime.compile("{{ concat('a', 'b', 'c') }}").render({}) == "abc"
    with pytest.raises(
        ExpressionError, match=r"surround\(\) takes 1 to 3 arguments but is given 4"
    ):
        runtime.compile("{{ surround('a', 'b', 'c', 'd') }}")
    with pytest.raises(
        ExpressionError, match=r"concat\(\) takes at least 1 argument but is given 0"
    ):
        runtime.compile("{{ concat() }}")
    with pytest.raises(ExpressionError, match=r"argument 3 \(texts\) is a number; expected text"):
        runtime.compile("{{ concat('a', 'b', `3`) }}").render({})


def test_typed_array_parameter_checks_every_item() -> None:
    runtime = Expressions(
        [ExpressionFunction("total", lambda xs: sum(xs), (("array-number",),), "The sum.")]
    )
    assert runtime.compile("{{ total(`[1, 2]`) }}").render({}) == 3
    with pytest.raises(ExpressionError, match="is a list holding text; expected a list of numbers"):
        runtime.compile('{{ total(`[1, "2"]`) }}').render({})


def test_expref_reaches_a_custom_function_as_expref() -> None:
    runtime = Expressions(
        [ExpressionFunction("kind", lambda ref: "expref", (("expref",),), "Its type.")]
    )
    assert runtime.compile("{{ kind(&a) }}").render({}) == "expref"
    with pytest.raises(
        ExpressionError, match=r"argument 1 \(ref\) is text; expected an &expression"
    ):
        runtime.compile("{{ kind('a') }}").render({})


# ---------------------------------------------------------------- compiled values


def test_compile_value_compiles_strings_with_braces_only(runtime: Expressions) -> None:
    value = runtime.compile_value(
        {
            "title": "{{ trigger.subject }}",
            "id": "{{ trigger.id }}",
            "count": 3,
            "flag": None,
            "plain": "no }} template",
            "list": ["#{{ steps.finding.id }}", 1.5, True],
            "nested": {"deep": ["{{ vars.names }}"]},
        }
    )
    assert isinstance(value, CompiledValue)
    assert not value.is_static
    assert value.render(CONTEXT) == {
        "title": "Disk full",
        "id": 7,
        "count": 3,
        "flag": None,
        "plain": "no }} template",
        "list": ["#42", 1.5, True],
        "nested": {"deep": [["a", "b"]]},
    }
    assert [(path, t.source) for path, t in value.templates()] == [
        (("title",), "{{ trigger.subject }}"),
        (("id",), "{{ trigger.id }}"),
        (("list", 0), "#{{ steps.finding.id }}"),
        (("nested", "deep", 0), "{{ vars.names }}"),
    ]


@pytest.mark.parametrize("raw", [None, 5, "text", ["a", {"b": 1}], {"k": "v }}"}])
def test_plain_values_are_static(runtime: Expressions, raw: Any) -> None:
    value = runtime.compile_value(raw)
    assert value.is_static
    assert list(value.templates()) == []
    assert value.render({}) == raw


def test_rendered_value_is_a_fresh_copy(runtime: Expressions) -> None:
    value = runtime.compile_value({"a": [1, {"b": 2}]})
    first = value.render({})
    first["a"][1]["b"] = 99
    first["a"].append(3)
    assert value.render({}) == {"a": [1, {"b": 2}]}


def test_compile_value_error_names_the_key_path(runtime: Expressions) -> None:
    with pytest.raises(
        ExpressionError, match=r"^request\.json\.items\[1\]\.name: unknown function"
    ):
        runtime.compile_value(
            {"items": [{"name": "ok"}, {"name": "{{ nope() }}"}]}, where="request.json"
        )


def test_template_in_a_tuple_value_is_compiled_into_a_list(runtime: Expressions) -> None:
    assert runtime.compile_value(("{{ trigger.id }}", 1)).render(CONTEXT) == [7, 1]


# ---------------------------------------------------------------- references

REFERENCE_CASES: list[tuple[str, list[tuple[str | int, ...]]]] = [
    ("{{ trigger.subject }}", [("trigger", "subject")]),
    ("{{ steps.finding.id }}", [("steps", "finding", "id")]),
    ("{{ trigger.tags[0].key }}", [("trigger", "tags", 0, "key")]),
    ("{{ trigger.tags[-1] }}", [("trigger", "tags", -1)]),
    ("{{ a.b[0][1].c }}", [("a", "b", 0, 1, "c")]),
    ('{{ trigger."odd key".x }}', [("trigger", "odd key", "x")]),
    ("{{ trigger | subject }}", [("trigger", "subject")]),
    ("{{ trigger.tags | [0] | key }}", [("trigger", "tags", 0, "key")]),
    # projections, filters, flatten, slices: the known prefix
    ("{{ trigger.tags[*].key }}", [("trigger", "tags")]),
    ("{{ trigger.tags[?key == 'a'].value }}", [("trigger", "tags")]),
    ("{{ trigger.tags[].key }}", [("trigger", "tags")]),
    ("{{ trigger.tags[1:].key }}", [("trigger", "tags")]),
    ("{{ trigger.meta.* }}", [("trigger", "meta")]),
    # functions and operators: every operand
    ("{{ length(trigger.tags) }}", [("trigger", "tags")]),
    ("{{ sort_by(trigger.tags, &key)[0].key }}", [("trigger", "tags")]),
    ("{{ join(', ', vars.names) }}", [("vars", "names")]),
    ("{{ a || b.c }}", [("a",), ("b", "c")]),
    ("{{ a.x && !(b.y) }}", [("a", "x"), ("b", "y")]),
    ("{{ !(b.y) }}", [("b", "y")]),
    ("{{ trigger.priority == 'critical' }}", [("trigger", "priority")]),
    ("{{ [a, b.c] }}", [("a",), ("b", "c")]),
    ("{{ {id: steps.x.id, t: trigger.subject} }}", [("steps", "x", "id"), ("trigger", "subject")]),
    ("{{ trigger.{s: subject, p: priority} }}", [("trigger", "subject"), ("trigger", "priority")]),
    ("{{ trigger.[id, subject] }}", [("trigger", "id"), ("trigger", "subject")]),
    # a value read but not extended is still reported
    ("{{ trigger.{x: 'lit'} }}", [("trigger",)]),
    ("{{ trigger.tags | length(@) }}", [("trigger", "tags")]),
    ("{{ steps.a | 'constant' }}", [("steps", "a")]),
    # the whole root, and nothing at all
    ("{{ @ }}", [()]),
    ("{{ keys(@) }}", [()]),
    ("{{ 'text' }}", []),
    ("{{ `[1, 2]`[0] }}", []),
    ("plain", []),
    # a template reports each path once, in order
    ("{{ x.y }} and {{ z }} and {{ x.y }}", [("x", "y"), ("z",)]),
]


@pytest.mark.parametrize(("text", "expected"), REFERENCE_CASES)
def test_references(runtime: Expressions, text: str, expected: list[tuple[str | int, ...]]) -> None:
    assert list(runtime.compile(text).references()) == expected


def test_bare_expression_references(runtime: Expressions) -> None:
    expression = runtime.compile_expression("{id: flaw_id, title: title}")
    assert list(expression.references()) == [("flaw_id",), ("title",)]


# ---------------------------------------------------------------- functions from plugins


def test_plugin_function_is_callable_from_templates() -> None:
    runtime = Expressions.from_plugins(plugin_manager(DoublePlugin()))
    assert set(runtime.functions) == {"double"}
    assert runtime.compile("{{ double(trigger.id) }}").render(CONTEXT) == 14


def test_plugin_module_with_hookimpl_registers_functions() -> None:
    import hookline.expr.builtins

    runtime = Expressions.from_plugins(plugin_manager(hookline.expr.builtins))
    assert "now" in runtime.functions
    assert runtime.compile("{{ upper('a') }}").render({}) == "A"


def test_same_function_from_two_plugins_names_both() -> None:
    with pytest.raises(PluginError, match=r"double\(\) is registered by both plugin") as caught:
        Expressions.from_plugins(plugin_manager(DoublePlugin(), DoublePlugin()))
    assert "'plugin0'" in str(caught.value) and "'plugin1'" in str(caught.value)


def test_same_function_twice_from_one_plugin_names_it() -> None:
    class Twice:
        @hookimpl
        def register_functions(self) -> list[ExpressionFunction]:
            function = ExpressionFunction("double", double, (("number",),), "Twice.")
            return [function, function]

    with pytest.raises(PluginError, match=r"plugin 'plugin0' registers expression function double"):
        Expressions.from_plugins(plugin_manager(Twice()))


def test_plugin_cannot_replace_a_jmespath_function() -> None:
    class Replacer:
        @hookimpl
        def register_functions(self) -> list[ExpressionFunction]:
            return [ExpressionFunction("length", len, (("any",),), "Not allowed.")]

    with pytest.raises(PluginError, match=r"length\(\) \(plugin 'plugin0'\) would replace"):
        Expressions.from_plugins(plugin_manager(Replacer()))


def test_plugin_returning_something_else_is_a_plugin_error() -> None:
    class Wrong:
        @hookimpl
        def register_functions(self) -> list[Any]:
            return [double]

    with pytest.raises(PluginError, match="plugin 'plugin0' returned function"):
        Expressions.from_plugins(plugin_manager(Wrong()))


def test_same_function_twice_without_plugins_is_an_error() -> None:
    function = ExpressionFunction("double", double, (("number",),), "Twice.")
    with pytest.raises(PluginError, match="registered twice"):
        Expressions([function, function])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "no-dash"}, "is not an identifier"),
        ({"signature": (("text",),)}, "has a parameter with types"),
        ({"signature": ((),)}, "has a parameter with types"),
        ({"signature": (("string-number",),)}, "has a parameter with types"),
        ({"signature": (("array-text",),)}, "has a parameter with types"),
        ({"optional": 2}, "more optional or variadic"),
        ({"signature": (), "variadic": True, "function": lambda: 0}, "more optional or variadic"),
        ({"description": " "}, "has no description"),
        ({"signature": (("number",), ("number",))}, "cannot be called with 2 arguments"),
    ],
)
def test_expression_function_validates_its_declaration(
    kwargs: dict[str, Any], message: str
) -> None:
    fields: dict[str, Any] = {
        "name": "double",
        "function": double,
        "signature": (("number",),),
        "description": "Twice.",
    }
    with pytest.raises(PluginError, match=message):
        ExpressionFunction(**{**fields, **kwargs})


def test_usage_names_parameters_types_optional_and_variadic() -> None:
    assert (
        ExpressionFunction(
            "surround", surround, (("string",), ("string", "null"), ("string",)), "W.", optional=2
        ).usage
        == "surround(text: string, left?: string|null, right?: string)"
    )
    assert (
        ExpressionFunction("concat", concat, (("string",),), "J.", variadic=True).usage
        == "concat(texts: string...)"
    )


def test_template_is_frozen(runtime: Expressions) -> None:
    template: Template = runtime.compile("{{ a }}")
    with pytest.raises(AttributeError):
        template.source = "other"  # type: ignore[misc]


def test_a_repeated_argument_is_named_after_the_variadic_parameter() -> None:
    runtime = Expressions(
        [ExpressionFunction("concat", concat, (("string",),), "J.", variadic=True)]
    )
    with pytest.raises(ExpressionError, match=r"concat\(\): argument 3 \(texts\) is null; "):
        runtime.compile("{{ concat('a', 'b', missing) }}").render({})


def test_a_mixed_list_for_a_typed_array_parameter_is_described() -> None:
    with pytest.raises(
        ExpressionError,
        match=r"max\(\): argument 1 is a list of mixed types; "
        "expected a list of numbers or a list of text",
    ):
        Expressions().compile('{{ max(`[1, "a"]`) }}').render({})


def test_a_type_error_inside_a_jmespath_function_names_the_function() -> None:
    with pytest.raises(ExpressionError, match=r"sort_by\(\): a value is text; expected a number"):
        Expressions().compile('{{ sort_by(`[{"a": 1}, {"a": "x"}]`, &a) }}').render({})
