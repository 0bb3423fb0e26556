"""The connections file: named connections, each a connector and its field values.

``.hookline/connections.yaml`` (or the file named by ``--connections`` or the environment
variable ``HOOKLINE_CONNECTIONS``) maps names to entries::

    argus-prod:
      connector: argus
      base_url: https://api.mnemonic.no
      api_key: "{{ env.ARGUS_API_KEY }}"

A value may use ``{{ env.NAME }}`` (the process environment; nothing else is in context). A
variable that is not set, an unknown connector and a value the connector's connection schema
refuses are each a located problem of one ``RecipeError`` (errors.py files connections files
with recipes), with secret values redacted from the messages. The file holds credentials, so
one readable by other users gives a ``ConnectionsFileWarning``; ``write_connections`` writes
it with mode 0600. The tokens an OAuth authorization gives are kept in the state store
(``hookline.run.tokens``), under the entry's name; ``tokens/`` beside the file is where
earlier versions kept them, imported from there on first use.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hookline.documents.loader import Document, format_path, load_document
from hookline.documents.schema_errors import schema_problems
from hookline.errors import ConfigurationError, ExpressionError, Problem, RecipeError, suggest
from hookline.expr.templates import Expressions
from hookline.http.connection import base_url_problem
from hookline.http.redaction import Redactor
from hookline.spec.catalog import Catalog
from hookline.spec.model import Spec

DEFAULT_PATH = Path(".hookline") / "connections.yaml"
"""Where connections are read from when no file is named."""

ENVIRONMENT_VARIABLE = "HOOKLINE_CONNECTIONS"
"""Names the connections file when ``--connections`` does not."""

FILE_SCHEMA: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "Named connections",
    "propertyNames": {
        "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        "x-error": "connection names are letters, digits, '_', '.' and '-'",
    },
    "additionalProperties": {
        "type": "object",
        "description": "A connection: its connector and that connector's connection fields",
        "required": ["connector"],
        "properties": {"connector": {"type": "string", "description": "The connector, e.g. argus"}},
    },
}


class ConnectionsFileWarning(UserWarning):
    """The connections file can be read by other users of the machine."""


@dataclass(frozen=True, slots=True)
class NamedConnection:
    """One entry of the file: its name, connector and rendered, validated values."""

    name: str
    connector: str
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Connections:
    """The connections of one file (``path`` None: no file was found)."""

    path: Path | None
    entries: Mapping[str, NamedConnection]

    @property
    def connectors(self) -> dict[str, str]:
        """The connector of each named connection, as recipe loading checks them."""
        return {name: entry.connector for name, entry in self.entries.items()}

    @property
    def token_files(self) -> Path | None:
        """Where earlier versions kept the OAuth tokens of these connections, if anywhere."""
        return None if self.path is None else self.path.parent / "tokens"

    def where(self) -> str:
        """The file, as messages name it."""
        return str(self.path) if self.path else f"the connections file (no {DEFAULT_PATH} found)"

    def resolve(
        self,
        name_or_connector: str,
        *,
        connector: str | None = None,
        catalog: Catalog | None = None,
    ) -> NamedConnection:
        """The connection named so, else the only connection of that connector.

        With ``connector``, the connection must be of that connector. Several connections of
        the connector is a ``ConfigurationError`` saying which names exist; so is none, unless
        ``catalog`` shows that the connector needs no values (``file``): then a connection
        with its fields' defaults.
        """
        where = f"in {self.path}" if self.path else f"(no {DEFAULT_PATH} found)"
        entry = self.entries.get(name_or_connector)
        if entry is not None:
            if connector is not None and entry.connector != connector:
                raise ConfigurationError(
                    f"connection {entry.name!r} {where} is for connector {entry.connector!r}, "
                    f"not {connector!r}"
                )
            return entry
        if connector is not None and connector != name_or_connector:
            raise ConfigurationError(
                f"no connection named {name_or_connector!r} {where}"
                f"{suggest(name_or_connector, list(self.entries))}"
            )
        wanted = connector or name_or_connector
        matches = sorted(e.name for e in self.entries.values() if e.connector == wanted)
        if len(matches) == 1:
            return self.entries[matches[0]]
        if matches:
            raise ConfigurationError(
                f"several connections use connector {wanted!r} {where}: {', '.join(matches)}; "
                "choose one with --connection NAME"
            )
        if catalog is not None and not missing_fields(catalog.spec(wanted), {}):
            return NamedConnection(wanted, wanted, {})
        if connector is None:  # a name alone, as `hookline connections test NAME` takes it
            hint = suggest(wanted, list(self.entries)) or (
                "; `hookline sandbox --write-connections` writes sandbox ones"
            )
            raise ConfigurationError(
                f"no connection named {wanted!r} {where}, nor one of a connector of that name{hint}"
            )
        raise ConfigurationError(
            f"no connection for connector {wanted!r} {where}; add an entry with "
            f"'connector: {wanted}' and its fields"
        )


def missing_fields(spec: Spec, values: Mapping[str, Any]) -> list[str]:
    """The required connection fields of ``spec`` that ``values`` lacks and have no default."""
    return [
        f.name
        for f in spec.connection.fields.values()
        if f.required and f.default is None and f.name not in values
    ]


def default_connections_path(environ: Mapping[str, str] | None = None) -> Path:
    """The file named by ``HOOKLINE_CONNECTIONS``, else ``.hookline/connections.yaml``."""
    env = os.environ if environ is None else environ
    return Path(env[ENVIRONMENT_VARIABLE]) if env.get(ENVIRONMENT_VARIABLE) else DEFAULT_PATH


def connections_path(
    explicit: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> tuple[Path, bool]:
    """The file to read and whether it was named (a named file must exist)."""
    if explicit is not None:
        return Path(explicit), True
    path = default_connections_path(environ)
    return path, path != DEFAULT_PATH


def load_connections(
    catalog: Catalog,
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    render: bool = True,
    unset_env: list[Problem] | None = None,
) -> Connections:
    """Read, render and validate the connections file; ``RecipeError`` lists every problem.

    With ``render`` False (``hookline validate``, which must not need secrets) a value that
    reads ``{{ env.NAME }}`` is checked for its form only and left as written; a variable
    ``environ`` lacks is then added to ``unset_env`` when that list is given.
    """
    env = dict(os.environ if environ is None else environ)
    file, named = connections_path(path, environ=env)
    if not named and not file.exists():
        return Connections(None, {})
    document = load_document(file, error=RecipeError)
    problems = schema_problems(document, FILE_SCHEMA)
    if not isinstance(document.data, dict | None):
        raise RecipeError(problems)
    _warn_if_shared(file)
    data: dict[str, Any] = document.data or {}
    redactor = Redactor()
    rendered: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    unrendered: set[str] = set()  # reported or left as written: their values are not checked
    values_from = _Values(document, catalog.expressions, env, render, problems, unset_env)
    for name, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("connector"), str):
            continue  # the file schema's problems say what is wrong with it
        try:
            spec = catalog.spec(entry["connector"])
        except ConfigurationError as exc:
            problems.append(document.problem((name, "connector"), str(exc)))
            continue
        values = {}
        for key, value in entry.items():
            if key == "connector":
                continue
            field = spec.connection.fields.get(key)
            found = len(problems)
            values[key], done = values_from.value((name, key), value)
            if len(problems) > found or not done:
                unrendered.add(format_path((name, key)))
            elif field is not None:
                values[key] = _coerce(values[key], field.type)
                if field.secret:
                    redactor.add(values[key])
        rendered[name] = {"connector": entry["connector"], **values}
        values_schema = spec.connection.values_schema()
        values_schema["properties"]["connector"] = FILE_SCHEMA["additionalProperties"][
            "properties"
        ]["connector"]
        schemas[name] = values_schema
    view = Document(rendered, document.file, document.value_positions, document.key_positions)
    problems += [
        p
        for p in schema_problems(view, {"type": "object", "properties": schemas})
        if p.path not in unrendered
    ]
    checked = {name for name in rendered if not _has_problem(name, unrendered, problems)}
    problems += [
        p for name in checked if (p := _base_url_problem(document, catalog, name, rendered[name]))
    ]
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise RecipeError(
            [dataclasses.replace(p, message=redactor.redact(p.message)) for p in problems]
        )
    entries = {
        name: NamedConnection(
            name, values["connector"], {k: v for k, v in values.items() if k != "connector"}
        )
        for name, values in rendered.items()
    }
    return Connections(file, entries)


def _has_problem(name: str, unrendered: set[str], problems: list[Problem]) -> bool:
    """Whether entry ``name`` has a problem already, or a value left as written."""
    paths = unrendered | {p.path for p in problems if p.path}
    return any(path == name or path.startswith(f"{name}.") for path in paths)


def _base_url_problem(
    document: Document, catalog: Catalog, name: str, values: Mapping[str, Any]
) -> Problem | None:
    """The problem of entry ``name``'s base URL, rendered as its connection will render it,
    located at the value it is made from (at ``connector`` when none of the entry's is)."""
    connection = catalog.spec(values["connector"]).connection
    given = {key: value for key, value in values.items() if key != "connector"}
    try:
        url = connection.base_url.render({"connection": connection.with_defaults(given)})
    except ExpressionError:
        return None  # a value the URL needs is missing: the schema's problem says so
    problem = base_url_problem(url)
    if problem is None:
        return None
    read = (
        ref[1]
        for _, template in connection.base_url.templates()
        for ref in template.references()
        if ref[:1] == ("connection",) and len(ref) > 1 and ref[1] in given
    )
    key = next(read, "connector")
    return document.problem((name, key), problem)


@dataclass(frozen=True, slots=True)
class _Values:
    """Renders the values of one connections file, recording problems as it goes."""

    document: Document
    expressions: Expressions
    env: Mapping[str, str]
    render: bool
    problems: list[Problem]
    unset: list[Problem] | None

    def value(self, path: tuple[str, str], value: Any) -> tuple[Any, bool]:
        """A value with ``{{ env.NAME }}`` rendered, and whether it was (a problem: None)."""
        if not isinstance(value, str) or "{{" not in value:
            return value, True
        document = self.document
        try:
            template = self.expressions.compile(value)
        except ExpressionError as exc:
            self.problems.append(document.problem(path, str(exc)))
            return None, False
        from hookline.recipes.scopes import env_problem  # the recipe model, only for templates

        unset = []
        for reference in template.references():
            problem = env_problem(reference[1:]) if reference[:1] == ("env",) else None
            if reference[:1] != ("env",):
                problem = "a connections file can only use environment variables: {{ env.NAME }}"
            if problem is not None:
                self.problems.append(document.problem(path, problem))
                return None, False
            if reference[1] not in self.env:
                unset.append(
                    document.problem(path, f"the environment variable {reference[1]} is not set")
                )
        if not self.render:
            if self.unset is not None:
                self.unset.extend(unset)
            return value, False
        if unset:
            self.problems.extend(unset[:1])
            return None, False
        try:
            return template.render({"env": dict(self.env)}), True
        except ExpressionError as exc:
            self.problems.append(document.problem(path, str(exc)))
            return None, False


def _coerce(value: Any, kind: str) -> Any:
    """Text from the environment read as the field's type, where it reads as one."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        return value
    if kind == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return value


def _warn_if_shared(file: Path) -> None:
    if os.name != "posix":
        return
    mode = stat.S_IMODE(file.stat().st_mode)
    if mode & 0o077:
        warnings.warn(
            f"{file} holds credentials but other users can access it (mode {mode:o}); "
            f"run: chmod 600 {file}",
            ConnectionsFileWarning,
            stacklevel=3,
        )


def write_connections(path: str | Path, entries: Mapping[str, Mapping[str, Any]]) -> None:
    """Add or replace ``entries`` (name → ``{"connector": ..., fields...}``) in the file.

    Entries of other names are kept (comments are not). The file is replaced atomically and
    readable by its owner only (mode 0600); a new directory is created with mode 0700.
    """
    file = Path(path)
    existing: dict[str, Any] = {}
    if file.exists():
        document = load_document(file, error=RecipeError)
        if document.data is not None and not isinstance(document.data, dict):
            raise RecipeError(
                [document.problem((), "a connections file maps names to connections")]
            )
        existing = dict(document.data or {})
    merged = {**existing, **{name: dict(values) for name, values in entries.items()}}
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = yaml.safe_dump(merged, sort_keys=False, allow_unicode=True)
    fd, temporary = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, file)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
