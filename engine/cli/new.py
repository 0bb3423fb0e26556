"""``hookline new connector NAME``: scaffold an installable plugin package for a connector.

With ``--from-openapi FILE`` it writes a first spec instead, made from an OpenAPI 3.x or
Swagger 2.0 document (``hookline.spec.openapi``), its guesses marked ``# review:``.

The package holds a spec skeleton that validates, a sandbox skeleton (a Starlette app
registered through ``register_sandboxes``), the ``hookline`` entry point, and tests on the
test kit that pass as generated, so that the author starts from green and changes one thing
at a time. The files come from ``hookline/cli/templates/connector``, filled in with
``string.Template`` (``${name}``; a ``$$`` is a plain ``$``).
"""

from __future__ import annotations

import re
import string
from importlib.resources import files
from pathlib import Path

import click

from hookline.errors import ConfigurationError
from hookline.version import __version__

_NAME = re.compile(r"[a-z][a-z0-9_]*")

FILES = {
    "pyproject.toml": "pyproject.toml.tmpl",
    "README.md": "README.md.tmpl",
    "src/${package}/__init__.py": "__init__.py.tmpl",
    "src/${package}/plugin.py": "plugin.py.tmpl",
    "src/${package}/${name}.yaml": "spec.yaml.tmpl",
    "src/${package}/sandbox.py": "sandbox.py.tmpl",
    "src/${package}/py.typed": None,
    "tests/test_${name}.py": "test_connector.py.tmpl",
}
"""Each file of the package, by its path template, and the template of its content."""


def scaffold(name: str, folder: Path, title: str | None = None) -> list[Path]:
    """Write the package of connector ``name`` into ``folder``; return the files written.

    ``folder`` must not exist or be empty, so nothing is overwritten.
    """
    if not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"{name!r} is not a connector name: use lower-case letters, digits and _, "
            "starting with a letter (as acme_tickets)"
        )
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigurationError(f"{folder} exists and is not empty; choose another --dir")
    words = {
        "name": name,
        "package": f"hookline_{name}",
        "distribution": f"hookline-{name.replace('_', '-')}",
        "title": title or name.replace("_", " ").title(),
        "hookline_version": __version__,
    }
    templates = files("hookline.cli").joinpath("templates", "connector")
    written = []
    for target, template in FILES.items():
        path = folder / string.Template(target).substitute(words)
        text = "" if template is None else templates.joinpath(template).read_text("utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(string.Template(text).substitute(words), encoding="utf-8")
        written.append(path)
    return written


@click.group()
def new() -> None:
    """Start something new from a skeleton."""


@new.command()
@click.argument("name")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to create (default: hookline-NAME, with - for _).",
)
@click.option("--title", help="The platform's name as people write it (default: from NAME).")
@click.option(
    "--from-openapi",
    "openapi",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Write only a first spec, NAME.yaml in --dir (default: here), made from this "
    "OpenAPI 3.x or Swagger 2.0 file (JSON or YAML).",
)
def connector(name: str, folder: Path | None, title: str | None, openapi: Path | None) -> None:
    """Create an installable plugin package for connector NAME, ready to test.

    The package holds a spec skeleton, a sandbox that simulates its API, the hookline entry
    point and tests on hookline's test kit, which pass as generated. With --from-openapi, a
    spec made from the API's own description is written instead: one action per operation,
    what was guessed (auth, pagination, records) marked with # review: comments.
    """
    if openapi is not None:
        _from_openapi(name, openapi, folder or Path("."))
        return
    folder = folder or Path(f"hookline-{name.replace('_', '-')}")
    for path in scaffold(name, folder, title):
        click.echo(f"wrote {path}")
    click.echo(f"next: cd {folder} && pip install -e . && hookline test {name} && pytest")


def _from_openapi(name: str, openapi: Path, folder: Path) -> None:
    from hookline.spec.openapi import write_spec  # only this mode reads OpenAPI documents

    out = folder / f"{name}.yaml"
    if out.exists():
        raise ConfigurationError(f"{out} exists; choose another --dir or remove it")
    folder.mkdir(parents=True, exist_ok=True)
    draft = write_spec(openapi, name, out)
    actions = len(draft.document.get("actions", {}))
    click.echo(f"wrote {out}: {actions} actions from {draft.source} ({openapi})")
    if draft.notes:
        click.echo(f"review the {len(draft.notes)} places marked '# review:'")
    for skipped in draft.skipped:
        click.echo(f"skipped {skipped}")
    click.echo(f"next: hookline validate {out}")
