"""Swagger 2.0 upgraded to the OpenAPI 3 shape, so that the converter reads one format.

Only what the converter reads is carried over: servers (from ``schemes``, ``host`` and
``basePath``), security schemes, schemas (``definitions``), and per operation its
parameters, request body (from the ``body`` or ``formData`` parameters and ``consumes``) and
responses (from ``schema`` and ``produces``). References to ``#/definitions/``,
``#/parameters/`` and ``#/responses/`` are followed or rewritten; a bare ``$ref: Pet``, which
old documents use, is read as ``#/definitions/Pet``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_PARAMETER_SCHEMA_KEYS = (
    "type",
    "format",
    "items",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "enum",
    "multipleOf",
)
_STYLES = {  # collectionFormat → (style, explode); csv is the default
    "csv": ("form", False),
    "multi": ("form", True),
    "ssv": ("spaceDelimited", False),
    "pipes": ("pipeDelimited", False),
    "tsv": ("tabDelimited", False),
}
_FLOWS = {
    "implicit": "implicit",
    "password": "password",
    "application": "clientCredentials",
    "accessCode": "authorizationCode",
}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def upgrade(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The Swagger 2.0 document ``doc`` in the OpenAPI 3.0 shape."""
    definitions = _mapping(doc.get("definitions"))
    renamed = _rewrite_refs(doc, set(definitions))
    consumes = _strings(renamed.get("consumes")) or ["application/json"]
    produces = _strings(renamed.get("produces")) or ["application/json"]
    upgraded: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": _mapping(renamed.get("info")),
        "servers": _servers(renamed),
        "paths": {},
        "components": {
            "schemas": _mapping(renamed.get("definitions")),
            "securitySchemes": {
                name: _security_scheme(scheme)
                for name, scheme in _mapping(renamed.get("securityDefinitions")).items()
            },
        },
    }
    for key in ("security", "externalDocs", "tags"):
        if key in renamed:
            upgraded[key] = renamed[key]
    for path, raw_item in _mapping(renamed.get("paths")).items():
        item = _mapping(_follow(renamed, raw_item))
        shared = [_follow(renamed, p) for p in _list(item.get("parameters"))]
        upgraded_item: dict[str, Any] = {}
        for method in _METHODS:
            operation = item.get(method)
            if isinstance(operation, Mapping):
                upgraded_item[method] = _operation(renamed, operation, shared, consumes, produces)
        upgraded["paths"][path] = upgraded_item
    return upgraded


def _operation(
    doc: Mapping[str, Any],
    operation: Mapping[str, Any],
    shared: list[Any],
    consumes: list[str],
    produces: list[str],
) -> dict[str, Any]:
    own = [_follow(doc, p) for p in _list(operation.get("parameters"))]
    keys = {(p.get("in"), p.get("name")) for p in own if isinstance(p, Mapping)}
    parameters = [
        p for p in shared if isinstance(p, Mapping) and (p.get("in"), p.get("name")) not in keys
    ] + [p for p in own if isinstance(p, Mapping)]
    consumes = _strings(operation.get("consumes")) or consumes
    produces = _strings(operation.get("produces")) or produces
    upgraded = {
        key: value
        for key, value in operation.items()
        if key in ("operationId", "summary", "description", "tags", "deprecated", "security")
    }
    upgraded["parameters"] = [
        _parameter(p) for p in parameters if p.get("in") not in ("body", "formData")
    ]
    body = _request_body(parameters, consumes)
    if body is not None:
        upgraded["requestBody"] = body
    upgraded["responses"] = {
        str(code): _response(_mapping(_follow(doc, response)), produces)
        for code, response in _mapping(operation.get("responses")).items()
    }
    return upgraded


def _parameter(parameter: Mapping[str, Any]) -> dict[str, Any]:
    """A query, path or header parameter, its type keys gathered into ``schema``."""
    upgraded = {
        key: parameter[key] for key in ("name", "in", "description", "required") if key in parameter
    }
    upgraded["schema"] = _simple_schema(parameter)
    if parameter.get("type") == "array":
        style, explode = _STYLES.get(str(parameter.get("collectionFormat", "csv")), _STYLES["csv"])
        upgraded["style"] = style if parameter.get("in") == "query" else "simple"
        upgraded["explode"] = explode
    return upgraded


def _simple_schema(item: Mapping[str, Any]) -> dict[str, Any]:
    """The schema of a non-body parameter, header or ``items`` (a ``file`` is binary text)."""
    schema = {key: item[key] for key in _PARAMETER_SCHEMA_KEYS if key in item}
    if isinstance(schema.get("items"), Mapping):
        schema["items"] = _simple_schema(schema["items"])
    if schema.get("type") == "file":
        schema.update(type="string", format="binary")
    return schema


def _request_body(
    parameters: list[Mapping[str, Any]], consumes: list[str]
) -> dict[str, Any] | None:
    body = next((p for p in parameters if p.get("in") == "body"), None)
    if body is not None:
        media = [c for c in consumes if "form" not in c] or ["application/json"]
        upgraded: dict[str, Any] = {
            "content": {kind: {"schema": body.get("schema", {})} for kind in media},
            "required": bool(body.get("required", False)),
        }
        if isinstance(body.get("description"), str):
            upgraded["description"] = body["description"]
        return upgraded
    form = [p for p in parameters if p.get("in") == "formData"]
    if not form:
        return None
    multipart = any(p.get("type") == "file" for p in form) or (
        "multipart/form-data" in consumes and "application/x-www-form-urlencoded" not in consumes
    )
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            str(p.get("name")): {
                **_simple_schema(p),
                **({"description": p["description"]} if "description" in p else {}),
            }
            for p in form
        },
    }
    required = [str(p.get("name")) for p in form if p.get("required") is True]
    if required:
        schema["required"] = required
    kind = "multipart/form-data" if multipart else "application/x-www-form-urlencoded"
    return {"content": {kind: {"schema": schema}}, "required": bool(required)}


def _response(response: Mapping[str, Any], produces: list[str]) -> dict[str, Any]:
    upgraded: dict[str, Any] = {"description": response.get("description", "")}
    if "schema" in response:
        upgraded["content"] = {kind: {"schema": response["schema"]} for kind in produces}
    headers = _mapping(response.get("headers"))
    if headers:
        upgraded["headers"] = {
            name: {"schema": _simple_schema(_mapping(header))} for name, header in headers.items()
        }
    return upgraded


def _security_scheme(scheme: Any) -> dict[str, Any]:
    scheme = _mapping(scheme)
    kind = scheme.get("type")
    description = {"description": scheme["description"]} if "description" in scheme else {}
    if kind == "basic":
        return {"type": "http", "scheme": "basic", **description}
    if kind == "oauth2":
        flow: dict[str, Any] = {"scopes": _mapping(scheme.get("scopes"))}
        for key in ("authorizationUrl", "tokenUrl"):
            if key in scheme:
                flow[key] = scheme[key]
        name = _FLOWS.get(str(scheme.get("flow")), "implicit")
        return {"type": "oauth2", "flows": {name: flow}, **description}
    return dict(scheme)


def _servers(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    base_path = str(doc.get("basePath") or "")
    host = doc.get("host")
    if not isinstance(host, str) or not host:
        return [{"url": base_path or "/"}]
    schemes = _strings(doc.get("schemes"))
    scheme = "https" if "https" in schemes or not schemes else schemes[0]
    return [{"url": f"{scheme}://{host}{base_path}"}]


def _rewrite_refs(value: Any, definitions: set[str]) -> Any:
    """``value`` with schema references in the OpenAPI 3 form."""
    if isinstance(value, list):
        return [_rewrite_refs(item, definitions) for item in value]
    if not isinstance(value, Mapping):
        return value
    rewritten = {key: _rewrite_refs(item, definitions) for key, item in value.items()}
    ref = rewritten.get("$ref")
    if isinstance(ref, str):
        if ref.startswith("#/definitions/"):
            rewritten["$ref"] = "#/components/schemas/" + ref[len("#/definitions/") :]
        elif ref in definitions:
            rewritten["$ref"] = "#/components/schemas/" + ref
    return rewritten


def _follow(doc: Mapping[str, Any], value: Any) -> Any:
    """A ``#/parameters/`` or ``#/responses/`` reference followed (once is all 2.0 allows)."""
    if isinstance(value, Mapping) and isinstance(value.get("$ref"), str):
        ref = value["$ref"]
        for section in ("parameters", "responses", "paths"):
            prefix = f"#/{section}/"
            if ref.startswith(prefix):
                name = ref[len(prefix) :].replace("~1", "/").replace("~0", "~")
                return _mapping(doc.get(section)).get(name, {})
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    return [item for item in _list(value) if isinstance(item, str)]
