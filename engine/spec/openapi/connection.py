"""The connection block: fields, base URL and auth from an OpenAPI document's servers and security.

The base URL is the first server's. An absolute URL without variables is the default of a
``base_url`` field; each server variable becomes a field of its own (its default, enum and
description kept) and the URL a template of them; a relative URL (``/v3``) or none at all
leaves ``base_url`` a required field for the user to give.

Auth comes from one of the document's security requirements: the first of the top-level
``security`` that hookline can send exactly, else the one most operations use. Each scheme
maps to the closest built-in auth type:

==========================  =========================================================
HTTP ``basic``              ``basic``, with ``username`` and ``password`` fields
HTTP ``bearer``             ``bearer``, with a ``token`` field
API key in header or query  ``api_key``, with an ``api_key`` field
API key in a cookie         ``headers``, sending ``Cookie: NAME=...`` (to review)
OAuth 2.0 client            ``session``: a token request to a ``tokenUrl`` under the base
credentials or password     URL, its ``access_token`` sent as a bearer token (to review)
other OAuth 2.0 flows,      ``bearer``, with an ``access_token`` field the user obtains
OpenID Connect              elsewhere (to review)
==========================  =========================================================
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

from hookline.spec.openapi.document import OpenAPI
from hookline.spec.openapi.draft import KeyPath, Notes
from hookline.spec.openapi.names import Namer, snake

_VARIABLE = re.compile(r"\{([^{}]+)\}")
_ABSOLUTE = re.compile(r"^https?://", re.IGNORECASE)
_WHERE: KeyPath = ("connection",)
_AUTH: KeyPath = ("connection", "auth")


class _Fields:
    """The connection's fields and which of them are required."""

    def __init__(self) -> None:
        self.fields: dict[str, dict[str, Any]] = {}
        self.required: list[str] = []
        self.names = Namer()

    def add(
        self, choice: str, field: dict[str, Any], *, required: bool, alternative: str = ""
    ) -> str:
        name = self.names.claim(choice, *([alternative] if alternative else []))
        self.fields[name] = field
        if required:
            self.required.append(name)
        return name


def build_connection(api: OpenAPI, actions: Mapping[str, Any], notes: Notes) -> dict[str, Any]:
    """The ``connection`` block for ``api``, whose actions are ``actions``."""
    fields = _Fields()
    base_url, server = _base_url(api, fields, notes)
    auth = _auth(api, fields, server, notes)
    connection: dict[str, Any] = {"fields": fields.fields}
    if fields.required:
        connection["required"] = fields.required
    connection["base_url"] = base_url
    connection["auth"] = auth[0] if len(auth) == 1 else auth
    test = _test_action(actions)
    if test is not None:
        connection["test"] = {"action": test}
        notes.add(
            (*_WHERE, "test"),
            "guessed: the first GET action that needs no input tests a connection",
        )
    return connection


# ---------------------------------------------------------------- the base URL


def _base_url(api: OpenAPI, fields: _Fields, notes: Notes) -> tuple[str, str]:
    """The ``base_url`` template, and the server URL with variables at their defaults."""
    servers = [s for s in api.data.get("servers") or [] if isinstance(s, Mapping)]
    server = servers[0] if servers else {}
    url = str(server.get("url", "/")).rstrip("/")
    others = [str(s.get("url")) for s in servers[1:] if isinstance(s.get("url"), str)]
    also = f" Other servers: {', '.join(others)}." if others else ""
    variables = _mapping(server.get("variables"))
    if not url or url.startswith("/") or ("://" not in url and not url.startswith("{")):
        name = fields.add(
            "base_url",
            {
                "type": "string",
                "format": "uri",
                "title": "API URL",
                "description": f"Where the API is served (the document says {url or '/'!r}).{also}",
            },
            required=True,
        )
        notes.add(
            (*_WHERE, "fields", name),
            f"the document gives no absolute server URL ({url or '/'!r}); the user gives one",
        )
        return _ref(name), url
    if not _VARIABLE.search(url):
        plain: dict[str, Any] = {
            "type": "string",
            "format": "uri",
            "title": "API URL",
            "default": url,
            "description": "Where the API is served." + also,
        }
        name = fields.add("base_url", plain, required=False)
        return _ref(name), url
    template = url
    resolved = url
    for raw in dict.fromkeys(_VARIABLE.findall(url)):
        variable = _mapping(variables.get(raw))
        field: dict[str, Any] = {"type": "string"}
        if isinstance(variable.get("default"), str | int | float):
            field["default"] = str(variable["default"])
        values = variable.get("enum")
        enum = [str(v) for v in values or [] if isinstance(v, str | int | float)]
        if enum:
            field["enum"] = enum
        description = variable.get("description")
        field["description"] = (
            description.strip()
            if isinstance(description, str) and description.strip()
            else f"The server URL's {raw!r}"
        )
        name = fields.add(snake(raw, "server"), field, required="default" not in field)
        template = template.replace("{" + raw + "}", _ref(name))
        resolved = resolved.replace("{" + raw + "}", str(field.get("default", raw)))
    return template, resolved


# ---------------------------------------------------------------- auth


def _auth(api: OpenAPI, fields: _Fields, server: str, notes: Notes) -> list[dict[str, Any]]:
    schemes = {
        name: api.deref(scheme)
        for name, scheme in _mapping(
            _mapping(api.data.get("components")).get("securitySchemes")
        ).items()
    }
    chosen = _requirement(api, schemes)
    if not chosen:
        return [{"type": "none"}]
    others = sorted(set(schemes) - set(chosen))
    if others:
        notes.add(
            _AUTH,
            f"the document also describes {', '.join(others)}; operations that need "
            "only those will be refused",
        )
    return [_scheme(name, schemes[name], fields, server, notes) for name in chosen]


def _requirement(api: OpenAPI, schemes: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """The security requirement the connection meets: scheme names, all applied."""
    top = _alternatives(api.data.get("security"), schemes)
    if top:
        exact = [alt for alt in top if all(_exact(schemes[name]) for name in alt)]
        return (exact or top)[0]
    used: Counter[tuple[str, ...]] = Counter()
    for operation in api.operations():
        used.update(_alternatives(operation.spec.get("security"), schemes))
    if used:
        ranked = sorted(
            used,
            key=lambda alt: (-used[alt], not all(_exact(schemes[n]) for n in alt)),
        )
        return ranked[0]
    return (next(iter(schemes)),) if schemes else ()


def _alternatives(security: Any, schemes: Mapping[str, Any]) -> list[tuple[str, ...]]:
    found = []
    for requirement in security if isinstance(security, list) else []:
        if isinstance(requirement, Mapping) and requirement:
            names = tuple(name for name in requirement if name in schemes)
            if names and names not in found:
                found.append(names)
    return found


def _exact(scheme: Mapping[str, Any]) -> bool:
    """Whether a scheme maps to a built-in auth type without guessing."""
    kind = scheme.get("type")
    if kind == "http":
        return str(scheme.get("scheme", "")).lower() in ("basic", "bearer")
    return kind == "apiKey" and scheme.get("in") in ("header", "query")


def _scheme(
    name: str, scheme: Mapping[str, Any], fields: _Fields, server: str, notes: Notes
) -> dict[str, Any]:
    kind = scheme.get("type")
    about = _description(scheme)
    if kind == "http":
        http = str(scheme.get("scheme", "")).lower()
        if http == "basic":
            user = fields.add(
                "username",
                {"type": "string", "description": "The user name" + about},
                required=True,
            )
            password = fields.add(
                "password",
                {"type": "string", "secret": True, "description": "The password"},
                required=True,
            )
            return {"type": "basic", "username": _ref(user), "password": _ref(password)}
        token = fields.add("token", _secret("The token" + _format(scheme) + about), required=True)
        if http == "bearer":
            return {"type": "bearer", "token": _ref(token)}
        notes.add(_AUTH, f"HTTP {scheme.get('scheme')!r} authentication is sent as a static token")
        return {"type": "bearer", "scheme": str(scheme.get("scheme")), "token": _ref(token)}
    if kind == "apiKey":
        key_name = str(scheme.get("name", "api_key"))
        where = scheme.get("in")
        key = fields.add(
            "api_key",
            {**_secret(f"The API key, sent as {where} {key_name!r}{about}"), "title": "API key"},
            required=True,
            alternative=snake(name, "api_key"),
        )
        if where in ("header", "query"):
            return {"type": "api_key", "in": where, "name": key_name, "key": _ref(key)}
        notes.add(_AUTH, f"the API key goes in cookie {key_name!r}; it is sent as a Cookie header")
        return {"type": "headers", "headers": {"Cookie": f"{key_name}={_ref(key)}"}}
    if kind == "oauth2":
        return _oauth2(name, scheme, fields, server, notes)
    if kind == "openIdConnect":
        url = scheme.get("openIdConnectUrl", "")
        token = fields.add(
            "access_token",
            _secret(f"An OpenID Connect access token (see {url}){about}"),
            required=True,
        )
        notes.add(_AUTH, "OpenID Connect: the user obtains the access token; it is not renewed")
        return {"type": "bearer", "token": _ref(token)}
    notes.add(_AUTH, f"security scheme {name!r} ({kind}) has no matching auth type; none is used")
    return {"type": "none"}


def _oauth2(
    name: str, scheme: Mapping[str, Any], fields: _Fields, server: str, notes: Notes
) -> dict[str, Any]:
    flows = _mapping(scheme.get("flows"))
    for flow_name in ("clientCredentials", "password"):
        flow = _mapping(flows.get(flow_name))
        path = _below(server, flow.get("tokenUrl"))
        if path is None:
            continue
        form: dict[str, Any] = {
            "grant_type": "client_credentials" if flow_name == "clientCredentials" else "password"
        }
        if flow_name == "password":
            form["username"] = _ref(
                fields.add(
                    "username", {"type": "string", "description": "The user name"}, required=True
                )
            )
            form["password"] = _ref(fields.add("password", _secret("The password"), required=True))
        form["client_id"] = _ref(
            fields.add(
                "client_id", {"type": "string", "description": "The OAuth client id"}, required=True
            )
        )
        form["client_secret"] = _ref(
            fields.add("client_secret", _secret("The OAuth client secret"), required=True)
        )
        scopes = list(_mapping(flow.get("scopes")))
        if scopes:
            form["scope"] = " ".join(scopes)
        notes.add(
            _AUTH,
            f"OAuth 2.0 {flow_name} flow of {name!r}: a token request to {flow.get('tokenUrl')}, "
            "its access_token sent as a bearer token; check the scopes and the answer's fields",
        )
        return {
            "type": "session",
            "login": {"method": "POST", "path": path, "form": form},
            "capture": {"token": "access_token"},
            "apply": {"headers": {"Authorization": "Bearer {{ session.token }}"}},
            "lifetime": {"field": "expires_in"},
        }
    urls = [
        str(f.get("authorizationUrl") or f.get("tokenUrl"))
        for f in flows.values()
        if isinstance(f, Mapping)
    ]
    token = fields.add(
        "access_token",
        _secret(
            "An OAuth 2.0 access token"
            + (f" (from {urls[0]})" if urls else "")
            + _description(scheme)
        ),
        required=True,
    )
    notes.add(
        _AUTH,
        f"OAuth 2.0 ({', '.join(flows) or 'no flows'}) of {name!r}: the user obtains the access "
        "token; it is not renewed",
    )
    return {"type": "bearer", "token": _ref(token)}


def _below(server: str, token_url: Any) -> str | None:
    """The token URL as a path below the server URL, or None where it lies elsewhere."""
    if not isinstance(token_url, str) or not token_url:
        return None
    if _ABSOLUTE.match(server):
        absolute = urljoin(server + "/", token_url)
        if absolute.startswith(server + "/"):
            return absolute[len(server) :]
        return None
    if token_url.startswith(server + "/") and token_url.startswith("/"):
        return token_url[len(server) :]
    return None


# ---------------------------------------------------------------- the test


def _test_action(actions: Mapping[str, Any]) -> str | None:
    """The first ``GET`` action without a required input, a list action if there is one."""
    candidates = [
        name
        for name, action in actions.items()
        if action.get("request", {}).get("method") == "GET"
        and not action.get("required")
        and action.get("request", {}).get("response") is None
    ]
    lists = [name for name in candidates if "records" in actions[name].get("output", {})]
    chosen = lists or candidates
    return chosen[0] if chosen else None


def _ref(field: str) -> str:
    return "{{ connection." + field + " }}"


def _secret(description: str) -> dict[str, Any]:
    return {"type": "string", "secret": True, "description": description}


def _format(scheme: Mapping[str, Any]) -> str:
    kind = scheme.get("bearerFormat")
    return f" ({kind})" if isinstance(kind, str) and kind else ""


def _description(scheme: Mapping[str, Any]) -> str:
    text = scheme.get("description")
    return f". {text.strip()}" if isinstance(text, str) and text.strip() else ""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
