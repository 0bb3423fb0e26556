"""The built-in expression functions, through the same plugin path a third party uses."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pluggy
import pytest

import hookline.expr.builtins
from hookline.errors import ExpressionError
from hookline.expr.templates import Expressions
from hookline.plugins import hookspecs
from hookline.plugins.manager import get_plugin_manager

DOCS = Path(__file__).resolve().parents[1] / "docs" / "expressions.md"

CONTEXT: dict[str, Any] = {
    "ts": "2024-05-01T09:30:00+02:00",
    "ms": 1714548600000,
    "name": "Ærlig / test?",
    "empty": "",
    "nothing": None,
    "zero": 0,
    "lone": "\ud800",
    "items": [1, "a", None, True, {"k": "v"}],
    "rows": [{"id": 1, "n": 1}, {"id": 2, "n": True}, {"id": 3, "n": "1"}, "text", {"id": 4}],
}


@pytest.fixture(scope="module")
def runtime() -> Expressions:
    pm = pluggy.PluginManager("hookline")
    pm.add_hookspecs(hookspecs)
    pm.register(hookline.expr.builtins, name="hookline.expr.builtins")
    return Expressions.from_plugins(pm)


def evaluate(runtime: Expressions, expression: str, context: dict[str, Any] = CONTEXT) -> Any:
    return runtime.compile_expression(expression).search(context)


CASES: list[tuple[str, Any]] = [
    # parse_time
    ("parse_time(ts)", 1714548600000),
    ("parse_time('2024-05-01T07:30:00Z')", 1714548600000),
    ("parse_time('2024-05-01T07:30:00.250Z')", 1714548600250),
    ("parse_time('2024-05-01T07:30:00')", 1714548600000),
    ("parse_time('2024-05-01')", 1714521600000),
    ("parse_time('1969-12-31T23:59:59.999Z')", -1),
    ("parse_time(ms)", 1714548600000),
    ("parse_time(`1714548600000.7`)", 1714548600000),
    ("parse_time('01/05/2024 07:30', '%d/%m/%Y %H:%M')", 1714548600000),
    ("parse_time('01/05/2024 09:30 +0200', '%d/%m/%Y %H:%M %z')", 1714548600000),
    # format_time
    ("format_time(ms, 'iso')", "2024-05-01T07:30:00.000Z"),
    ("format_time(ts, 'iso')", "2024-05-01T07:30:00.000Z"),
    ("format_time(`1714548600123`, 'iso')", "2024-05-01T07:30:00.123Z"),
    ("format_time(ts, 'epoch')", 1714548600),
    ("format_time(ts, 'epoch_ms')", 1714548600000),
    ("format_time(ms, 'date')", "2024-05-01"),
    ("format_time(ms, '%d.%m.%Y %H:%M')", "01.05.2024 07:30"),
    ("format_time(format_time(ts, 'iso'), 'epoch_ms')", 1714548600000),
    # encodings
    ("base64_encode('user:pässword')", "dXNlcjpww6Rzc3dvcmQ="),
    ("base64_decode('dXNlcjpww6Rzc3dvcmQ=')", "user:pässword"),
    ("base64_decode(' aGk= ')", "hi"),
    ("base64_encode('')", ""),
    (
        "html_escape('<b>\"Tom\" & \\'Jerry\\'</b>')",
        "&lt;b&gt;&quot;Tom&quot; &amp; &#x27;Jerry&#x27;&lt;/b&gt;",
    ),
    ("url_encode(name)", "%C3%86rlig%20%2F%20test%3F"),
    ("url_encode(`12`)", "12"),
    ("json_encode(items)", '[1,"a",null,true,{"k":"v"}]'),
    ("json_encode(name)", '"Ærlig / test?"'),
    ("json_decode('{\"a\": [1, 2.5, null]}')", {"a": [1, 2.5, None]}),
    ("json_decode(json_encode(items))", [1, "a", None, True, {"k": "v"}]),
    # URLs
    ("join_url('https://x.io', 'api/v1')", "https://x.io/api/v1"),
    ("join_url('https://x.io/', '/api/', '/v1/', 'users')", "https://x.io/api/v1/users"),
    ("join_url('https://x.io/base/', 'a/')", "https://x.io/base/a/"),
    ("join_url('https://x.io', '', 'a')", "https://x.io/a"),
    ("join_url('/api', 'a')", "/api/a"),
    ("join_url('https://x.io', 'a:b')", "https://x.io/a:b"),
    # default
    ("default(nothing, 'x')", "x"),
    ("default(empty, 'x')", "x"),
    ("default(missing, `3`)", 3),
    ("default(zero, 'x')", 0),
    ("default(name, 'x')", "Ærlig / test?"),
    ("default(`false`, 'x')", False),
    ("default(`[]`, 'x')", []),
    # where
    ("where(rows, 'n', `1`)", [{"id": 1, "n": 1}]),
    ("where(rows, 'n', `1.0`)", [{"id": 1, "n": 1}]),
    ("where(rows, 'n', `true`)", [{"id": 2, "n": True}]),
    ("where(rows, 'n', '1')", [{"id": 3, "n": "1"}]),
    ("where(rows, 'n', nothing)", [{"id": 4}]),
    ("where(rows, 'id', rows[0].id)", [{"id": 1, "n": 1}]),
    ("where(rows, 'missing', 'x')", []),
    ("where(nothing, 'n', `1`)", []),
    # text
    ("lower(name)", "ærlig / test?"),
    ("upper(name)", "ÆRLIG / TEST?"),
    ("replace('a-b-c', '-', '+')", "a+b+c"),
    ("replace('aaa', 'a', '')", ""),
    ("split('a,b,,c', ',')", ["a", "b", "", "c"]),
    ("split('', ',')", [""]),
    ("to_int('42')", 42),
    ("to_int(' -7 ')", -7),
    ("to_int(`4.9`)", 4),
    ("to_int(`-4.9`)", -4),
    ("to_int(`12`)", 12),
]


@pytest.mark.parametrize(("expression", "expected"), CASES)
def test_function(runtime: Expressions, expression: str, expected: Any) -> None:
    result = evaluate(runtime, expression)
    assert result == expected
    assert type(result) is type(expected)


ERRORS: list[tuple[str, str]] = [
    ("parse_time('yesterday')", "parse_time(): 'yesterday' is not ISO 8601 time"),
    ("parse_time('2024-13-01')", "is not ISO 8601 time"),
    ("parse_time('01/05/2024', '%Y-%m-%d')", "is not time in the format '%Y-%m-%d'"),
    ("parse_time(ms, '%Y')", "a format applies to text"),
    ("parse_time(`true`)", "argument 1 (value) is a boolean; expected text or a number"),
    ("parse_time(nothing)", "parse_time(): argument 1 (value) is null; expected text or a number"),
    ("format_time('soon', 'iso')", "format_time(): 'soon' is not ISO 8601 time"),
    ("format_time(`1e300`, 'iso')", "is not a representable time"),
    ("format_time(ms, '%999999999Y')", "field widths such as '%10Y' are not supported"),
    ("format_time(ms, `1`)", "argument 2 (format) is a number; expected text"),
    ("base64_decode('not base64!')", "base64_decode(): the text is not valid base64"),
    ("base64_decode('/w==')", "the decoded bytes are not UTF-8 text"),
    ("base64_decode('é')", "the text is not valid base64"),
    ("base64_encode(`1`)", "argument 1 (text) is a number; expected text"),
    ("html_escape(nothing)", "html_escape(): argument 1 (text) is null; expected text"),
    ("url_encode(`true`)", "argument 1 (value) is a boolean; expected text or a number"),
    ("json_decode('{oops')", "json_decode(): the text is not valid JSON"),
    ("json_decode('NaN')", "NaN is not a JSON number"),
    ("join_url('https://x.io', 'https://evil.example/a')", "is an absolute URL"),
    ("join_url('https://x.io', '//evil.example/a')", "is an absolute URL"),
    ("join_url('https://x.io', '\\\\evil.example')", "is an absolute URL"),
    ("join_url('https:', 'evil.example')", "has a scheme but no host"),
    ("join_url('https://x.io', 'http://[oops/a')", "is not a valid URL"),
    ("base64_encode(lone)", "the text holds a character UTF-8 cannot encode"),
    ("url_encode(lone)", "the text holds a character UTF-8 cannot encode"),
    ("replace('abc', '', 'x')", "the text to replace must not be empty"),
    ("split('abc', '')", "the separator must not be empty"),
    ("to_int('4.5')", "'4.5' is not an integer"),
    ("to_int('')", "'' is not an integer"),
    ("to_int('1_000')", "is not an integer"),
    ("to_int(nothing)", "argument 1 (value) is null; expected text or a number"),
    ("lower(`1`)", "lower(): argument 1 (text) is a number; expected text"),
    ("where(name, 'n', `1`)", "where(): argument 1 (items) is text; expected a list or null"),
    ("where(rows, `1`, `1`)", "where(): argument 2 (key) is a number; expected text"),
]


@pytest.mark.parametrize(("expression", "message"), ERRORS)
def test_function_error(runtime: Expressions, expression: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(runtime, expression)
    assert message in str(caught.value)
    assert caught.value.expression == expression
    assert str(caught.value).endswith(f"\n  {expression}\n  ^")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("now(`1`)", "now() takes no arguments but is given 1"),
        ("format_time(ms)", "format_time() takes exactly 2 arguments but is given 1"),
        ("parse_time(ts, 'a', 'b')", "parse_time() takes 1 to 2 arguments but is given 3"),
        ("join_url('https://x.io')", "join_url() takes at least 2 arguments but is given 1"),
    ],
)
def test_wrong_argument_count_fails_at_compile_time(
    runtime: Expressions, expression: str, message: str
) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        runtime.compile_expression(expression)


def test_now_is_utc_iso_text_with_milliseconds(runtime: Expressions) -> None:
    text = evaluate(runtime, "now()")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text)
    assert datetime.fromisoformat(text).tzinfo == UTC
    assert isinstance(evaluate(runtime, "parse_time(now())"), int)


def test_uuid_is_a_fresh_version_4_uuid(runtime: Expressions) -> None:
    first, second = evaluate(runtime, "uuid()"), evaluate(runtime, "uuid()")
    pattern = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert re.fullmatch(pattern, first)
    assert first != second


def test_replace_refuses_to_build_unbounded_text(runtime: Expressions) -> None:
    context = {"text": "a" * 10_000, "new": "b" * 10_000}
    with pytest.raises(ExpressionError, match="larger than 10,000,000 bytes"):
        evaluate(runtime, "replace(text, 'a', new)", context)


def test_json_encode_refuses_data_nested_too_deeply(runtime: Expressions) -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ExpressionError, match="nested too deeply"):
        evaluate(runtime, "json_encode(deep)", {"deep": deep})


def test_json_decode_refuses_text_nested_too_deeply(runtime: Expressions) -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        evaluate(runtime, "json_decode(text)", {"text": "[" * 100_000})


def test_text_functions_work_inside_mixed_templates(runtime: Expressions) -> None:
    template = runtime.compile("Basic {{ base64_encode(join('', [user, ':', password])) }}")
    assert template.render({"user": "u", "password": "p"}) == "Basic dTpw"


# ---------------------------------------------------------------- documentation


@pytest.fixture(scope="module")
def builtins() -> Expressions:
    """Every function the built-in plugins register (``totp`` comes with the auth types)."""
    return Expressions.from_plugins(get_plugin_manager(entry_points=False))


def test_every_builtin_function_is_documented(builtins: Expressions) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for function in builtins.functions.values():
        assert f"### `{function.name}`" in docs, f"{function.name}() has no heading"
        assert f"`{function.usage}`" in docs, f"{function.name}() usage is not shown"
        assert function.description in docs, f"{function.name}() description is not shown"


def test_every_documented_function_exists(builtins: Expressions) -> None:
    documented = re.findall(r"^### `(\w+)`", DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted(documented) == sorted(builtins.functions)


def documented_examples() -> list[tuple[str, str]]:
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    return [
        (template, result)
        for template, _, result in (line.partition("  →  ") for line in lines)
        if result and not result.startswith("for instance")
    ]


@pytest.mark.parametrize(("template", "result"), documented_examples())
def test_documented_example_gives_what_it_says(
    builtins: Expressions, template: str, result: str
) -> None:
    assert builtins.compile(template).render({}) == json.loads(result)


def test_docs_show_examples_of_every_function(builtins: Expressions) -> None:
    shown = " ".join(template for template, _ in documented_examples())
    assert {name for name in builtins.functions if f"{{{{ {name}(" in shown} >= (
        set(builtins.functions) - {"now", "uuid", "totp"}
    )


def test_a_null_argument_says_which_one_and_what_was_expected(builtins: Expressions) -> None:
    expression = builtins.compile_expression("connection.mfa_code || totp(connection.totp_secret)")
    with pytest.raises(ExpressionError) as caught:
        expression.search({"connection": {}})
    message = str(caught.value)
    assert message.startswith(
        "cannot evaluate: totp(): argument 1 (secret) is null; expected text at column 24:"
    )
    assert message.endswith("\n" + " " * 25 + "^")


def test_a_null_argument_of_a_jmespath_function_names_its_place(builtins: Expressions) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(builtins, "join(', ', nothing)")
    assert "join(): argument 2 is null; expected a list of text" in str(caught.value)
