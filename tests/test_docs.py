"""Meta-tests of the Markdown docs: links resolve, the spec guide covers the blocks, and every
recipe, spec and command in README.md and docs/ that is meant to work does.

Links are read outside code (fenced blocks and inline code spans are skipped, since JMESPath
such as ``[?id](x)`` is not a link); a link with a scheme (``https:``, ``mailto:``) is left
alone, and a relative one must name an existing file once its ``#anchor`` is removed.

A block may quote a file of the repository (a ``# path`` first line, ``# ...`` between the
parts it skips): the file must hold it, so a quote of a spec or of a test shows what is there
and runs. Every other Python example runs as it stands, registered as a plugin when it
implements hooks, and imports the public names from ``hookline`` and ``hookline.testing``. The
testing guide's examples are all quotes of test files, and its ``hookline`` command lines must
parse.

Docs that run. Every fenced YAML block that is a whole recipe or spec validates
(``hookline validate`` reads them out of the Markdown). Every ``hookline`` command of a shell
block runs and exits 0, in a fresh folder per page, against sandboxes served for the module
with a connections file pointing at them, as after ``hookline sandbox --write-connections``:

- ``&&``-joined commands are split, and only the ``hookline`` ones are run (a virtualenv's
  setup and the test tools are not hookline's to check here), but a shell's ``cd DIR``
  before them on their line is followed, for the page's later commands too, and so is a
  ``pip install [-e] DIR`` of a package an earlier command of the page made (``hookline new
  connector``): it is installed apart (``tests.installs``), and the page's later commands
  run in a process of their own that sees it, as the reader's would;
- ``hookline sandbox`` builds its apps but serves nothing (the module's sandboxes stand in),
  and ``hookline serve`` checks its recipes and says what it serves, then stops;
- a call in a generated connector reference runs with ``--dry-run`` when the connector has a
  sandbox: it checks that the command line gives an input the action accepts, while the
  contract tests send the same examples to the sandboxes (the ``file`` connector's calls run
  for real, in the page's folder);
- the commands of a page run in order, in one folder, where a YAML block marked
  ``file=NAME`` is written as that file first, the repository's ``recipes`` folder is, and
  a file an input names as ``@PATH`` exists;
- a block marked ``illustration`` (a synopsis, made-up ids, a plugin that does not exist) is
  skipped on purpose.
"""

from __future__ import annotations

import ast
import re
import shlex
import socket
import sys
import types
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import hookline
import hookline.testing
from hookline.cli.main import generated_docs, main
from hookline.documents.markdown import Block, fenced_blocks
from hookline.plugins.manager import get_plugin_manager
from hookline.run.connections import write_connections
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog
from hookline.spec.reference import connector_reference, slug
from tests.installs import environment, install, run

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted([*DOCS.glob("*.md"), *DOCS.glob("*/*.md"), ROOT / "README.md"])
SPEC_GUIDE = DOCS / "specs.md"

_FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[^)]*)?\)")
_REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.MULTILINE)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def link_targets(markdown: str) -> list[str]:
    """The targets of the inline and reference links of ``markdown``, outside code."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", markdown))
    return _INLINE_LINK.findall(prose) + _REFERENCE_LINK.findall(prose)


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` whose file (anchor removed) does not exist."""
    broken = []
    for target in link_targets(page.read_text(encoding="utf-8")):
        if _SCHEME.match(target):
            continue
        path = target.split("#", 1)[0].split("?", 1)[0]
        if path and not (page.parent / path).exists():
            broken.append(target)
    return broken


def test_link_targets_skip_code_and_keep_anchors() -> None:
    text = (
        "See [the guide](specs.md#auth) and ![a chart](img/chart.png).\n"
        "`[not](a-link.md)` and [site](https://example.com)\n"
        '```yaml\nselect: "[x](y.md)"\n```\n'
        "[ref]: other.md\n"
    )
    assert link_targets(text) == [
        "specs.md#auth",
        "img/chart.png",
        "https://example.com",
        "other.md",
    ]


def test_a_link_to_a_missing_file_is_broken(tmp_path: Path) -> None:
    (tmp_path / "here.md").write_text("x")
    page = tmp_path / "page.md"
    page.write_text("[ok](here.md#top) [self](#top) [gone](gone.md#top) [web](https://x.example)")
    assert broken_links(page) == ["gone.md#top"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_existing_files(page: Path) -> None:
    assert broken_links(page) == []


def _mentioned(name: str, text: str) -> bool:
    """Whether the guide names ``name`` as code or as a ``type:`` value."""
    return f"`{name}`" in text or re.search(rf"\btype: {re.escape(name)}\b", text) is not None


def test_spec_guide_covers_every_built_in_building_block(catalog: Catalog) -> None:
    """Every auth type, paginator and verifier of the built-in plugins (no entry points)."""
    guide = SPEC_GUIDE.read_text(encoding="utf-8")
    builders = catalog.builders
    kinds = {
        "auth type": builders.auth_types,
        "paginator": builders.paginators,
        "webhook verifier": builders.verifiers,
    }
    assert all(kinds.values())
    missing = [
        f"{kind} {name!r}"
        for kind, table in kinds.items()
        for name in table
        if not _mentioned(name, guide)
    ]
    assert missing == []


def anchors(markdown: str) -> set[str]:
    """The anchors of ``markdown``'s headings, numbered as GitHub numbers repeated ones."""
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", _FENCE.sub("", markdown), re.MULTILINE):
        anchor = base = slug(heading.replace("`", ""))
        n = 0
        while anchor in found:
            n += 1
            anchor = f"{base}-{n}"
        found.add(anchor)
    return found


def test_slugs_follow_github() -> None:
    assert slug("error_rule") == "error_rule"
    assert slug("connection.rate_limit") == "connectionrate_limit"
    assert slug("`basic` auth type".replace("`", "")) == "basic-auth-type"


def connector_page(catalog: Catalog, body: str) -> str:
    """The reference page of a small connector: ``body`` is its spec after name and title."""
    spec = catalog.load_spec(
        Path("small.yaml"), text=f"spec: hookline/v1\nname: small\ntitle: Small\n{body}"
    )
    return connector_reference(spec)


def test_a_connector_page_gives_the_default_of_an_input(catalog: Catalog) -> None:
    page = connector_page(
        catalog,
        """\
connection: {fields: {url: {type: string}}, base_url: "{{ connection.url }}"}
actions:
  list_issues:
    title: List issues
    input:
      state: {enum: [open, all], default: open, description: Which issues}
    request: {method: GET, path: /issues, inputs: {to: query}}
""",
    )
    assert '| `state` | one of `open`, `all` |  | Which issues (default: `"open"`) |' in page


def test_a_connector_page_writes_a_connection_default_as_an_input_default(
    catalog: Catalog,
) -> None:
    page = connector_page(
        catalog,
        """\
connection:
  fields:
    url: {type: string, default: "https://api.example.test", description: Where}
    verify: {type: boolean, default: false, description: Check TLS}
  base_url: "{{ connection.url }}"
actions:
  ping: {title: Ping, request: {method: GET, path: /ping}}
""",
    )
    assert '| `url` | string |  |  | Where (default: `"https://api.example.test"`) |' in page
    assert "| `verify` | boolean |  |  | Check TLS (default: `false`) |" in page


def test_a_connector_page_says_what_each_output_is(catalog: Catalog) -> None:
    page = connector_page(
        catalog,
        """\
connection: {fields: {}, base_url: "https://example.test"}
actions:
  get_issue:
    title: Get an issue
    request: {method: GET, path: /issue}
    output: {schema: {type: object}}
  list_issues:
    title: List issues
    request: {method: GET, path: /issues}
    output: {records: items, schema: {type: object}}
triggers:
  new_issue:
    type: poll
    title: New issues
    request: {method: GET, path: /issues}
    records: items
    id: id
    output: {type: object}
""",
    )
    outputs = [line for line in page.splitlines() if line.startswith("Output")]
    assert outputs == [
        "Output: mapping of names to any value.",
        "Output: a list of records, read page by page; each record is mapping of names to any "
        "value.",
        "Output: each event is mapping of names to any value.",
    ]


def test_every_anchor_of_the_generated_references_resolves(catalog: Catalog) -> None:
    dead = []
    for name, text in generated_docs(catalog).items():
        known = anchors(text)
        dead += [f"{name}: #{a}" for a in re.findall(r"\]\(#([^)]+)\)", text) if a not in known]
    assert dead == []


def test_the_spec_reference_describes_every_object(catalog: Catalog) -> None:
    """No key of the spec reference is a bare object: each links to a section of its keys."""
    text = generated_docs(catalog)["spec-reference.md"]
    bare = [line for line in text.splitlines() if re.match(r"\| `\w+` \| object \|", line)]
    assert bare == []


# ---------------------------------------------------------------- runnable examples

_BLOCK = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
TESTING_GUIDE = DOCS / "testing.md"


def code_blocks(markdown: str, language: str) -> list[str]:
    """The fenced blocks of ``markdown`` in ``language``, illustrations included."""
    return [body for lang, body in _BLOCK.findall(markdown) if lang == language]


def quoted(block: str) -> tuple[Path, list[str]] | None:
    """The file a block says it quotes (``# path`` on its first line) and its parts."""
    first, _, rest = block.partition("\n")
    path = ROOT / first.removeprefix("# ").strip()
    if not first.startswith("# ") or not path.is_file():
        return None
    parts = re.split(r"^ *# \.\.\.\n", rest, flags=re.MULTILINE)
    return path, [part for part in parts if part.strip()]


def missing_quotes(page: Path) -> list[str]:
    """The parts of quoted blocks that their file does not hold, in order."""
    missing = []
    for language in ("python", "yaml"):
        for block in code_blocks(page.read_text(encoding="utf-8"), language):
            found = quoted(block)
            if found is None:
                continue
            path, parts = found
            text, at = path.read_text(encoding="utf-8"), 0
            for part in parts:
                at = text.find(part.rstrip("\n"), at)
                if at < 0:
                    missing.append(f"{path.relative_to(ROOT)}: {part.splitlines()[0]!r}")
                    break
    return missing


def test_every_snippet_of_the_testing_guide_is_quoted() -> None:
    """The snippets are quoted from test files that run, so the guide shows what runs."""
    blocks = code_blocks(TESTING_GUIDE.read_text(encoding="utf-8"), "python")
    assert blocks and all(quoted(block) for block in blocks)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_quote_of_a_file_is_in_that_file(page: Path) -> None:
    """A block that names a repository file on its first line shows that file's text."""
    assert missing_quotes(page) == []


def internal_imports(page: Path) -> list[str]:
    """The public names that the page's Python blocks import from another module than theirs.

    A name of ``hookline.__all__`` or ``hookline.testing.__all__`` is imported from that
    module, the one the API promises, never from the module that defines it.
    """
    public = {name: "hookline" for name in hookline.__all__}
    public |= {name: "hookline.testing" for name in hookline.testing.__all__}
    found = []
    for block in code_blocks(page.read_text(encoding="utf-8"), "python"):
        for node in ast.walk(ast.parse(block)):
            if not isinstance(node, ast.ImportFrom) or node.module is None:
                continue
            for alias in node.names:
                home = public.get(alias.name)
                if home is not None and node.module.startswith("hookline") and node.module != home:
                    found.append(f"{alias.name} from {node.module} (import it from {home})")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_examples_import_public_names_from_the_public_module(page: Path) -> None:
    assert internal_imports(page) == []


def python_examples(page: Path) -> list[Block]:
    """The page's Python blocks meant to run as they stand: not illustrations, not quotes."""
    return [
        block
        for block in fenced_blocks(page.read_text(encoding="utf-8"))
        if block.language == "python" and not block.illustration and quoted(block.text) is None
    ]


EXAMPLES = [
    pytest.param(page, block, id=f"{page.relative_to(ROOT)}:{block.line}")
    for page in PAGES
    for block in python_examples(page)
]


def test_the_python_examples_that_run_are_found() -> None:
    """A Python block either runs (below) or quotes a file, which must then hold it."""
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize(
    ("page", "block"),
    EXAMPLES,
    ids=lambda x: f"{x.relative_to(ROOT)}" if isinstance(x, Path) else f"line{x.line}",
)
def test_every_python_example_runs(
    page: Path, block: Block, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each runs in a module of its own; one that implements hooks is then registered.

    A sandbox URL of ``hookline sandbox`` (``http://127.0.0.1:8701`` and up, one port per
    sandbox in name order) stands for that sandbox, served for the example.
    """
    text = block.padded()
    with ExitStack() as stack:
        for port, name in enumerate(sorted(catalog.sandboxes), start=8701):
            if f"http://127.0.0.1:{port}" in text:
                app = catalog.sandboxes[name].create_app()
                url = stack.enter_context(running(app))
                text = text.replace(f"http://127.0.0.1:{port}", url)
        module = types.ModuleType("docs_example")
        module.__file__ = str(tmp_path / "docs_example.py")
        monkeypatch.setitem(sys.modules, module.__name__, module)  # dataclasses look it up
        exec(compile(text, str(page), "exec"), module.__dict__)
    if any(name.startswith("register_") for name in vars(module)):
        pm = get_plugin_manager(entry_points=False)
        pm.register(module)
        Catalog(pm)


def parses(args: list[str]) -> str | None:
    """Why the command line ``args`` (after ``hookline``) would not parse, or None."""
    command: click.Command = main
    context = None
    try:
        while isinstance(command, click.Group):
            context = command.make_context(command.name or "hookline", args, parent=context)
            with warnings.catch_warnings():  # click 8.2 renames protected_args; 8.1 needs it
                warnings.simplefilter("ignore", DeprecationWarning)
                rest = [*context.protected_args, *context.args]
            _, found, args = command.resolve_command(context, rest)
            assert found is not None
            command = found
        command.make_context(command.name or "", args, parent=context)
    except click.UsageError as exc:
        return exc.format_message()
    return None


def test_every_hookline_command_of_the_testing_guide_parses() -> None:
    text = TESTING_GUIDE.read_text(encoding="utf-8")
    prompts = [line for block in code_blocks(text, "text") for line in block.splitlines()]
    lines = [
        *(line for block in code_blocks(text, "sh") for line in block.splitlines()),
        *(line.removeprefix("$ ") for line in prompts if line.startswith("$ ")),
    ]
    commands = [
        part for line in lines for part in line.split(" && ") if part.startswith("hookline ")
    ]
    assert len(commands) == 5
    problems = {command: parses(shlex.split(command)[1:]) for command in commands}
    assert {command: why for command, why in problems.items() if why} == {}


def test_a_command_that_does_not_parse_says_why() -> None:
    assert parses(["test"]) == "Missing argument 'CONNECTOR'."
    assert parses(["test", "acme", "--recrod"]) is not None
    assert parses(["new", "connector", "acme", "--dir", "x"]) is None


# ---------------------------------------------------------------- docs that run

SHELLS = ("sh", "bash", "shell", "console")
GENERATED = DOCS / "connectors"


@dataclass(frozen=True)
class Command:
    """One ``hookline`` command of a page: its words after ``hookline``, and where it is.

    ``before`` holds the other commands before it on its line (``cd DIR && hookline ...``).
    """

    page: Path
    line: int
    words: tuple[str, ...]
    before: tuple[tuple[str, ...], ...] = ()

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}: hookline {shlex.join(self.words)}"


def page_commands(page: Path) -> list[Command]:
    """The ``hookline`` commands of the page's shell blocks that are not illustrations."""
    found = []
    for block in fenced_blocks(page.read_text(encoding="utf-8")):
        if block.language not in SHELLS or block.illustration:
            continue
        lines = block.text.replace("\\\n", " ").splitlines()
        for offset, line in enumerate(lines):
            words = shlex.split(line.removeprefix("$ "), comments=True)
            before: list[tuple[str, ...]] = []
            for command in _split_and(words):
                if command and Path(command[0]).name == "hookline":
                    found.append(
                        Command(page, block.line + offset, tuple(command[1:]), tuple(before))
                    )
                elif command:
                    before.append(tuple(command))
    return found


def _split_and(words: list[str]) -> Iterator[list[str]]:
    command: list[str] = []
    for word in words:
        if word == "&&":
            yield command
            command = []
        else:
            command.append(word)
    yield command


COMMANDS = [command for page in PAGES for command in page_commands(page)]


def test_the_pages_have_commands_and_illustrations_stay_rare() -> None:
    assert len(COMMANDS) > 60
    marked = [
        (page, block.line)
        for page in PAGES
        for block in fenced_blocks(page.read_text(encoding="utf-8"))
        if block.illustration
    ]
    assert len(marked) <= 6, marked


@dataclass
class Served:
    """The sandboxes of the module, and the connections file pointing at them."""

    connections: Path


@pytest.fixture(scope="module")
def served(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served")
    with ExitStack() as stack:
        entries = {}
        for name, box in catalog.sandboxes.items():
            url = stack.enter_context(running(box.create_app()))
            entries[name] = {"connector": name, **box.connection(url)}
        write_connections(folder / "connections.yaml", entries)
        yield Served(folder / "connections.yaml")


def _built(apps: list[tuple[Any, socket.socket]]) -> None:
    """What ``hookline sandbox`` would serve, left unserved: the sockets are closed."""
    for _, sock in apps:
        sock.close()


async def _stopped(*args: Any, **kwargs: Any) -> None:
    """A ``hookline serve`` asked to stop as soon as it starts."""


@dataclass
class Shell:
    """Where a page's commands run, as in the reader's shell: the page's folder, the folder a
    ``cd`` moved to, and the folder a package of the page was installed into, if any."""

    folder: Path
    cwd: Path
    site: Path | None = None

    def follow(self, words: tuple[str, ...]) -> None:
        """Do what ``cd DIR`` or ``pip install [-e] DIR`` of a package of the page would."""
        program, args = Path(words[0]).name, words[1:]
        if program == "cd" and len(args) == 1:
            self.cwd = (self.cwd / args[0]).resolve()
        elif program == "pip" and args[:1] == ("install",):
            project = (self.cwd / args[-1]).resolve()
            if project.is_relative_to(self.folder) and (project / "pyproject.toml").is_file():
                self.site = self.folder.with_name(f"{self.folder.name}-site")
                install(project, self.site)


@dataclass
class Shells:
    """The shell of each page's commands, made in ``base`` when the page's first one runs."""

    base: Path
    pages: dict[Path, Shell] = field(default_factory=dict)

    def of(self, page: Path) -> Shell:
        """The page's shell, in a folder with its files and the example recipes."""
        if page not in self.pages:
            folder = (self.base / page.relative_to(ROOT).as_posix().replace("/", "-")).resolve()
            folder.mkdir()
            (folder / "recipes").symlink_to(ROOT / "recipes")
            for block in fenced_blocks(page.read_text(encoding="utf-8")):
                if block.file is not None:
                    (folder / block.file).write_text(block.text, encoding="utf-8")
            self.pages[page] = Shell(folder, folder)
        return self.pages[page]


@pytest.fixture(scope="module")
def shells(tmp_path_factory: pytest.TempPathFactory) -> Shells:
    return Shells(tmp_path_factory.mktemp("pages"))


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_every_hookline_command_in_the_docs_runs(
    command: Command,
    served: Served,
    catalog: Catalog,
    shells: Shells,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shell = shells.of(command.page)
    for before in command.before:
        shell.follow(before)
    here = shell.cwd
    monkeypatch.chdir(here)
    words = list(command.words)
    for word in words:  # an input read from a file: give it one
        key, _, value = word.partition("=")
        if value.startswith("@") and key:
            target = here / value[1:]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    connector = words[1].partition(".")[0] if words[:1] == ["call"] else ""
    if command.page.is_relative_to(GENERATED) and connector in catalog.sandboxes:
        words += [] if "--dry-run" in words else ["--dry-run"]
    env: dict[str, str | None] = {
        "HOOKLINE_CONNECTIONS": str(served.connections),
        "HOOKLINE_STATE": None,
    }
    if shell.site is not None:  # a package the page installed: its own process sees it
        seen = environment(shell.site, HOOKLINE_CONNECTIONS=str(served.connections))
        done = run(["hookline", *words], cwd=here, env=seen, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
        return
    if words[:1] == ["sandbox"]:  # the module's sandboxes stand in: build the apps, serve none
        monkeypatch.setattr("hookline.cli.sandbox.serve", _built)
        words += ["--port", "0"]
        env["HOOKLINE_CONNECTIONS"] = None  # what it writes goes to the page's folder
    if words[:1] == ["serve"]:  # checks its recipes and says what it serves, then stops
        monkeypatch.setattr("hookline.cli.serve.Service.run", _stopped)
        words += ["--port", "0"]
    result = CliRunner().invoke(main, words, env=env)
    assert result.exit_code == 0, f"{command}\n{result.output}"


def test_every_recipe_and_spec_in_the_docs_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKLINE_CONNECTIONS", raising=False)
    result = CliRunner().invoke(main, ["validate", str(ROOT / "README.md"), str(DOCS)])
    assert result.exit_code == 0, result.output
    checked = {line.split(":")[0] for line in result.stdout.splitlines()}
    assert {str(DOCS / "recipes.md"), str(DOCS / "specs.md")} <= checked
