"""The document loader: safe YAML with located problems, and schema errors explained in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hookline.documents.loader import Document, format_path, load_document
from hookline.errors import InvalidDocumentError, Problem, SpecError


def load(text: str, **options: Any) -> Document:
    return load_document(Path("doc.yaml"), text=text, **options)


def refusal(text: str, **options: Any) -> list[str]:
    with pytest.raises(InvalidDocumentError) as caught:
        load(text, **options)
    return [str(problem) for problem in caught.value.problems]


# -- Loading -----------------------------------------------------------------------------------


def test_document_holds_json_shaped_data() -> None:
    document = load("a: 1\nb: [x, 2.5, null, true]\nc: {d: ''}\n")

    assert document.data == {"a": 1, "b": ["x", 2.5, None, True], "c": {"d": ""}}
    assert document.file == "doc.yaml"


def test_timestamps_stay_the_text_written() -> None:
    document = load("day: 2024-01-01\nat: 2024-01-01T10:30:00Z\ntagged: !!timestamp 2024-02-03\n")

    assert document.data == {
        "day": "2024-01-01",
        "at": "2024-01-01T10:30:00Z",
        "tagged": "2024-02-03",
    }


def test_yaml_1_1_booleans_stay_booleans_as_values() -> None:
    assert load("a: on\nb: no\nc: 'yes'\n").data == {"a": True, "b": False, "c": "yes"}


def test_positions_locate_values_and_keys() -> None:
    document = load("a: 1\nb:\n  - x\n  - c: 2\n")

    assert document.locate(("a",)) == (1, 4)
    assert document.locate(("a",), key=True) == (1, 1)
    assert document.locate(("b",)) == (3, 3)
    assert document.locate(("b", 1)) == (4, 5)
    assert document.locate(("b", 1, "c")) == (4, 8)
    assert document.locate(("b", 1, "c"), key=True) == (4, 5)


def test_locate_falls_back_to_the_nearest_located_ancestor() -> None:
    document = load("a:\n  b: 1\n")

    assert document.locate(("a", "missing", "deeper")) == (2, 3)
    assert document.locate(("a", "missing"), key=True) == (2, 3)
    assert Document(data={}, file="x.yaml").locate(("a",)) is None


def test_problem_names_file_position_and_path_with_list_indexes() -> None:
    document = load("steps:\n  - id: a\n  - id: b\n  - id: c\n    with: {x: 1}\n")

    problem = document.problem(("steps", 2, "with"), "not allowed")

    assert problem == Problem("not allowed", "doc.yaml", 5, 11, "steps[2].with")
    assert str(problem) == "doc.yaml:5:11: steps[2].with: not allowed"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("actions", "create_case", "request", "method"), "actions.create_case.request.method"),
        (("steps", 2, "with"), "steps[2].with"),
        ((0, "name"), "[0].name"),
        (("headers", "Content-Type"), "headers.Content-Type"),
        (("headers", "X.Key"), 'headers["X.Key"]'),
        (("a", ""), 'a[""]'),
        ((), ""),
    ],
)
def test_format_path_reads_like_the_document(path: tuple[str | int, ...], expected: str) -> None:
    assert format_path(path) == expected


def test_file_is_read_from_disk_and_named_as_given(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("name: argus\n", encoding="utf-8")

    document = load_document(path)

    assert document.data == {"name": "argus"}
    assert document.file == str(path)


def test_empty_document_loads_as_none() -> None:
    assert load("# nothing yet\n").data is None


def test_aliases_become_independent_copies_located_at_their_anchor() -> None:
    document = load("base: &base {a: [1]}\ncopy: *base\n")

    assert document.data == {"base": {"a": [1]}, "copy": {"a": [1]}}
    assert document.data["copy"] is not document.data["base"]
    assert document.locate(("copy", "a", 0)) == (1, 18)


# -- Refusals ----------------------------------------------------------------------------------


def test_duplicate_key_names_both_lines() -> None:
    assert refusal("name: a\ntitle: b\nname: c\n") == [
        "doc.yaml:3:1: name: duplicate key 'name' (first at line 1)"
    ]


def test_duplicate_key_is_named_by_its_full_path() -> None:
    text = "actions:\n  create:\n    request: {method: GET, method: POST}\n"

    assert refusal(text) == [
        "doc.yaml:3:28: actions.create.request.method: duplicate key 'method' (first at line 3)"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1: x\n", "1:1: key '1' reads as an integer"),
        ("null: y\n", "1:1: key 'null' reads as null"),
        ("yes: z\n", "1:1: key 'yes' reads as true/false"),
        ("a:\n  on: push\n", "2:3: a: key 'on' reads as true/false"),
        ("2.5: x\n", "1:1: key '2.5' reads as a number"),
    ],
)
def test_keys_that_read_as_other_values_must_be_quoted(text: str, expected: str) -> None:
    key = expected.split("'")[1]
    assert refusal(text) == [f'doc.yaml:{expected}, but keys must be text; quote it: "{key}"']


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("? [a, b]\n: c\n", "1:3: keys must be text, not a list or a mapping"),
        ("? \n: c\n", "1:2: an empty key reads as null, but keys must be text; write a name"),
        (
            "base: &b {x: 1}\nc:\n  <<: *b\n",
            "3:3: c: merge keys ('<<') are not supported; write the keys out",
        ),
    ],
)
def test_keys_must_be_text(text: str, expected: str) -> None:
    assert refusal(text) == [f"doc.yaml:{expected}"]


def test_quoted_keys_and_dates_are_text_keys() -> None:
    assert load("'on': push\n\"1\": x\n2024-01-01: d\n").data == {
        "on": "push",
        "1": "x",
        "2024-01-01": "d",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: !!binary aGk=\n", "!!binary"),
        ("a: !!python/object:os.system x\n", "!!python/object:os.system"),
        ("a: !!set {x}\n", "!!set"),
        ("a: !custom [1]\n", "!custom"),
    ],
)
def test_unsupported_tags_are_refused(text: str, expected: str) -> None:
    assert refusal(text) == [
        f"doc.yaml:1:4: a: the tag {expected} is not supported;"
        " documents hold only text, numbers, true/false, null, lists and mappings"
    ]


def test_explicit_tag_on_unreadable_text_is_refused() -> None:
    assert refusal("a: !!int many\n") == ["doc.yaml:1:4: a: 'many' is not a valid !!int value"]


def test_every_problem_found_while_building_is_reported() -> None:
    assert refusal("a: 1\na: 2\n'on': 3\nyes: 4\n") == [
        "doc.yaml:2:1: a: duplicate key 'a' (first at line 1)",
        "doc.yaml:4:1: key 'yes' reads as true/false, but keys must be text; quote it: \"yes\"",
    ]


BILLION_LAUGHS = """\
lol1: &lol1 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
lol2: &lol2 [*lol1,*lol1,*lol1,*lol1,*lol1,*lol1,*lol1,*lol1,*lol1]
lol3: &lol3 [*lol2,*lol2,*lol2,*lol2,*lol2,*lol2,*lol2,*lol2,*lol2]
lol4: &lol4 [*lol3,*lol3,*lol3,*lol3,*lol3,*lol3,*lol3,*lol3,*lol3]
lol5: &lol5 [*lol4,*lol4,*lol4,*lol4,*lol4,*lol4,*lol4,*lol4,*lol4]
lol6: &lol6 [*lol5,*lol5,*lol5,*lol5,*lol5,*lol5,*lol5,*lol5,*lol5]
lol7: &lol7 [*lol6,*lol6,*lol6,*lol6,*lol6,*lol6,*lol6,*lol6,*lol6]
lol8: &lol8 [*lol7,*lol7,*lol7,*lol7,*lol7,*lol7,*lol7,*lol7,*lol7]
lol9: &lol9 [*lol8,*lol8,*lol8,*lol8,*lol8,*lol8,*lol8,*lol8,*lol8]
"""


def test_billion_laughs_is_refused_at_the_first_oversized_alias() -> None:
    assert refusal(BILLION_LAUGHS) == [
        "doc.yaml:6:14: alias '*lol5' expands the document to more than 100,000 values"
        " (anchor '&lol5' is at line 5); repeat less through aliases"
    ]


def test_recursive_alias_is_refused() -> None:
    assert refusal("a: &x [1, *x]\n") == [
        "doc.yaml:1:11: alias '*x' is inside its own anchor; a value cannot contain itself"
    ]


def test_value_count_is_bounded_without_aliases_too() -> None:
    assert refusal("[1, 2, 3, 4, 5]\n", max_nodes=5) == [
        "doc.yaml:1:1: the document holds more than 5 values; split it"
    ]


def test_deep_nesting_is_refused() -> None:
    assert refusal("[" * 65 + "]" * 65) == [
        "doc.yaml:1:65: the document nests deeper than 64 levels"
    ]


def test_oversize_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: [unclosed\n" * 10, encoding="utf-8")

    with pytest.raises(InvalidDocumentError) as caught:
        load_document(path, max_bytes=100)

    assert str(caught.value) == (
        f"{path}: the document is larger than 100 bytes; split it into smaller files"
    )


def test_oversize_text_is_refused() -> None:
    assert refusal("a: ñññ\n", max_bytes=8) == [
        "doc.yaml: the document is larger than 8 bytes; split it into smaller files"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a:\n\tb: 1\n", "2:1: a tab cannot indent YAML; indent with spaces"),
        (
            "a: b: c\n",
            "1:5: ':' is not allowed here; check the indentation, or quote text containing ': '",
        ),
        (
            'a: "abc\nb: 2\n',
            "3:1: found unexpected end of the file"
            " (while reading a quoted value at line 1, column 4)",
        ),
        (
            "a:\n  b: 1\n c: 2\n",
            "3:2: expected the end of the block, but found a new mapping"
            " (while reading a mapping at line 1, column 1); check the indentation",
        ),
        (
            "a: 1\nb\nc: 2\n",
            "3:1: could not find expected ':' (while reading a key at line 2, column 1)",
        ),
        (
            "a: [1, 2\nb: 3\n",
            "2:2: expected ',' or ']', but got ':'"
            " (while reading a list in brackets at line 1, column 4)",
        ),
        ("a: @b\n", "1:4: '@' cannot start a value; quote the value"),
        ("a: *nowhere\n", "1:4: found undefined alias 'nowhere'"),
        (
            "a: 1\n---\nb: 2\n",
            "2:1: expected a single document in the file (at line 1, column 1),"
            " but found another document",
        ),
    ],
)
def test_syntax_errors_are_located_in_plain_words(text: str, expected: str) -> None:
    assert refusal(text) == [f"doc.yaml:{expected}"]


def test_bytes_that_are_not_utf8_are_located(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("a: 1\nb: café\n".encode("latin-1"))

    with pytest.raises(InvalidDocumentError) as caught:
        load_document(path)

    assert str(caught.value) == f"{path}:2:7: byte 0xe9 is not UTF-8 text; save the file as UTF-8"


def test_control_characters_are_located() -> None:
    assert refusal("a: 1\nb: x\x07\n") == [
        "doc.yaml:2:5: the character U+0007 is not allowed in YAML; remove it"
    ]


def test_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(InvalidDocumentError) as caught:
        load_document(path)

    assert caught.value.problems == [
        Problem("cannot read the file: No such file or directory", file=str(path))
    ]


def test_a_missing_file_suggests_a_file_beside_it_with_a_close_name(tmp_path: Path) -> None:
    (tmp_path / "argus-incident-to-plextrac.yaml").write_text("recipe: x\n")
    (tmp_path / "other.yaml").write_text("recipe: y\n")

    for name, hint in [
        ("argus-incident-to-plextrak.yaml", "argus-incident-to-plextrac.yaml"),
        ("unrelated.yaml", None),
    ]:
        with pytest.raises(InvalidDocumentError) as caught:
            load_document(tmp_path / name)
        [problem] = caught.value.problems
        said = f" (did you mean {str(tmp_path / hint)!r}?)" if hint else ""
        assert problem.message == f"cannot read the file: No such file or directory{said}"


def test_a_recipe_given_by_name_suggests_its_file_in_a_folder_below(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "argus-incident-to-plextrac.yaml").write_text("recipe: x\n")
    with pytest.raises(InvalidDocumentError) as caught:
        load_document(tmp_path / "argus-incident-to-plextrac")
    [problem] = caught.value.problems
    said = str(recipes / "argus-incident-to-plextrac.yaml")
    assert (
        problem.message
        == f"cannot read the file: No such file or directory (did you mean {said!r}?)"
    )


def test_caller_chooses_the_error_type() -> None:
    with pytest.raises(SpecError):
        load_document(Path("specs/argus.yaml"), error=SpecError, text="a: [\n")
