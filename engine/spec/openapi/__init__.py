"""A first connector spec made from an OpenAPI 3.x or Swagger 2.0 document.

``spec_from_openapi`` is a pure function from a parsed document to a ``SpecDraft``: a spec
document that validates with hookline's own loader, and notes on what was guessed, which
the YAML text carries as ``# review:`` comments above the values concerned.
``load_openapi`` reads a JSON or YAML file, and ``write_spec`` does both and writes the text.

Taken from the document as it is (exact):

- ``title`` and ``description`` from ``info``; ``docs_url`` from ``externalDocs``;
- the base URL from the first server (Swagger: ``schemes``, ``host``, ``basePath``), each
  server variable a connection field;
- HTTP basic and bearer auth, and API keys in a header or the query;
- one action per operation: its name from ``operationId`` (else the method and path),
  ``title`` from ``summary``, ``description``; inputs from the path, query and header
  parameters and the JSON, form or multipart body's properties, with their schemas and
  ``required``; the request (method, path, query, headers, body); the output schema of the
  first 2xx JSON response; named schemas as shared ``objects``.

Guessed, and so marked for review:

- auth that hookline cannot send as the document describes it (OAuth 2.0, OpenID Connect,
  API keys in cookies; see ``connection``);
- a base URL that the document gives only as a relative path;
- pagination (see ``paging``), and where the records are in an object-wrapped list
  response (see ``responses``);
- the action that tests a connection.

Output schemas are the document's own, written with ``strict: false`` until someone has seen
the platform answer that way. Names are made valid and unique: see ``names``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hookline.errors import ConfigurationError
from hookline.spec.openapi.connection import build_connection
from hookline.spec.openapi.document import OpenAPI, load_openapi
from hookline.spec.openapi.draft import Notes, SpecDraft
from hookline.spec.openapi.names import NAME_PATTERN
from hookline.spec.openapi.operations import build_actions
from hookline.spec.openapi.schemas import SchemaConverter

__all__ = ["SpecDraft", "load_openapi", "spec_from_openapi", "write_spec"]


def spec_from_openapi(openapi: Mapping[str, Any], name: str) -> SpecDraft:
    """The spec of connector ``name`` for the OpenAPI or Swagger document ``openapi``.

    ``openapi`` is the parsed document (``load_openapi`` reads one from a file). A ``name``
    that is not a valid connector name raises ``ConfigurationError``; a document that is not
    OpenAPI 3.x or Swagger 2.0 raises ``InvalidDocumentError``.
    """
    if not NAME_PATTERN.match(name):
        raise ConfigurationError(
            f"connector name {name!r} is not valid: use lower-case letters, digits and "
            "underscores, starting with a letter"
        )
    api = OpenAPI(openapi)
    notes = Notes()
    converter = SchemaConverter(api, notes)
    actions, skipped = build_actions(api, converter, notes)
    connection = build_connection(api, actions, notes)
    objects = converter.objects()
    info = _mapping(api.data.get("info"))
    document: dict[str, Any] = {
        "spec": "hookline/v1",
        "name": name,
        "title": _text(info.get("title")) or name,
    }
    if _text(info.get("description")):
        document["description"] = _text(info.get("description"))
    docs = api.data.get("externalDocs")
    if isinstance(docs, Mapping) and str(docs.get("url", "")).startswith(("https://", "http://")):
        document["docs_url"] = docs["url"]
    document["connection"] = connection
    if objects:
        document["objects"] = objects
    document["actions"] = actions
    if skipped:
        notes.add(("actions",), "not made actions: " + "; ".join(skipped))
    if api.unresolved:
        refs = ", ".join(sorted(set(api.unresolved)))
        notes.add(("actions",), f"references that lead nowhere were left out: {refs}")
    return SpecDraft(document, notes.frozen(), skipped, api.source)


def write_spec(
    openapi_path: str | os.PathLike[str], name: str, out_path: str | os.PathLike[str]
) -> SpecDraft:
    """Read the OpenAPI document at ``openapi_path``, write spec ``name`` to ``out_path``.

    The YAML text starts with a comment naming its source and saying how to read the
    ``# review:`` notes. The file is overwritten if it exists. Returns the draft, whose
    ``notes`` and ``skipped`` a caller may report.
    """
    source = Path(openapi_path)
    draft = spec_from_openapi(load_openapi(source), name)
    info = draft.document.get("title", name)
    header = (
        f"Connector spec for {info}, made from {source.name} ({draft.source}).\n"
        "Values marked `# review:` were guessed: check them against the platform before use.\n"
        "Output schemas are the document's (strict: false) until answers confirm them."
    )
    Path(out_path).write_text(draft.yaml(header), encoding="utf-8")
    return draft


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
