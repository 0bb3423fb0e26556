"""Rendering a spec's request template into an HTTP request on a connection's base URL.

A rendered path can never leave the base URL: each expression inside a path template is
rendered on its own and percent-encoded whole (``/`` included), so a value such as ``../x``,
``@evil.host`` or ``%2F`` stays one segment on the configured host; an absolute URL is
refused. The one exception is an input the action declares ``format: path`` (PlexTrac's
``uploads/<uuid>.png``), written alone as ``{{ input.NAME }}``: its ``/`` separate segments,
each encoded on its own, and an empty, ``.`` or ``..`` segment is refused, so such a value
can name a deeper resource and still never climb out of where the spec puts it.

Query lists repeat their parameter, nulls are left out; a body is JSON, a form, multipart
parts (text, a file read from a path, or base64 content) or raw text or bytes. A request with
its own ``auth`` carries what that block renders (or nothing, for ``auth: none``) and is
marked ``OWN_CREDENTIALS``, so the connection's auth leaves it as it is.

``reads_session`` tells whether a template reads ``session``, so that a caller logs in before
rendering it (``Connection.ready``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from hookline.errors import ActionError, InvalidRequestError, UnsafeRequestError
from hookline.expr.templates import CompiledValue, Template, compact_json
from hookline.http.redaction import Redactor
from hookline.http.responses import ErrorContext
from hookline.http.send import OWN_CREDENTIALS, header_problem, origin
from hookline.spec.model import Part, Request, RequestAuth

_ABSOLUTE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")
_BODIES = ("json", "form", "multipart", "body")
_SESSION_READERS_KEPT = 1024
_session_readers: dict[int, tuple[Request, bool]] = {}


@dataclass(frozen=True, slots=True)
class _Refusals:
    """Makes the errors of one rendering, each message led by the connector and action."""

    context: ErrorContext

    def error(self, cls: type[ActionError], message: str) -> ActionError:
        """An ``ActionError`` of ``cls`` for this request: ``argus.get_case: MESSAGE``."""
        label = ".".join(part for part in (self.context.connector, self.context.action) if part)
        return self.context.error(cls, f"{label}: {message}" if label else message)


@dataclass(frozen=True, slots=True)
class RequestRenderer:
    """Renders request templates for one connection: its base URL, headers and secrets."""

    connector: str
    base_url: httpx.URL
    headers: CompiledValue | None
    user_agent: str
    redactor: Redactor

    def render(
        self, request: Request, context: Mapping[str, Any], *, action: str | None = None
    ) -> httpx.Request:
        """Render ``request`` against ``context`` into an HTTP request on the base URL.

        Path values are percent-encoded whole; a path that would be absolute or leave the
        base URL is an ``UnsafeRequestError``; input that cannot form a request (an empty
        path value, an unreadable file, bad base64) is an ``InvalidRequestError``. Errors
        name the connector and ``action`` (the action or trigger the request is for; a login
        has none): ``argus.get_case: the path value {{ input.id }} is empty``.
        """
        data = context if isinstance(context, dict) else dict(context)
        errors = _Refusals(
            ErrorContext(
                connector=self.connector,
                action=action,
                method=request.method,
                redactor=self.redactor,
            )
        )
        url = self._url(request, data, errors)
        headers = self._headers(request, data, errors)
        bodies = [name for name in _BODIES if getattr(request, name) is not None]
        if len(bodies) > 1:
            raise errors.error(
                InvalidRequestError, f"the request has several bodies ({', '.join(bodies)})"
            )
        content: bytes | None = None
        form: dict[str, Any] | None = None
        files: list[tuple[str, tuple[str | None, bytes, str | None]]] | None = None
        if request.json is not None:
            content = _json_body(request.json.render(data), request.omit_nulls, errors)
            headers.setdefault("content-type", "application/json")
        elif request.form is not None:
            rendered = request.form.render(data)
            form = _omit_nulls(rendered) if request.omit_nulls else rendered
        elif request.multipart is not None:
            files = []
            for name, part in request.multipart.items():
                entry = _part(name, part, data, request.omit_nulls, errors)
                if entry is not None:
                    files.append((name, entry))
        elif request.body is not None:
            content = _raw_body(request.body.render(data), request.body_base64, errors)
        params = _params(request.query.render(data) if request.query else None, errors)
        if request.auth is not None:
            params += _own_credentials(request.auth, data, headers, errors)
        rendered = httpx.Request(
            request.method,
            url,
            params=tuple(params) if params else None,
            headers=headers,
            content=content,
            data=form,
            files=files or None,
        )
        if request.auth is not None:
            rendered.extensions[OWN_CREDENTIALS] = True
        return rendered

    def _url(self, request: Request, context: dict[str, Any], errors: _Refusals) -> httpx.URL:
        paths = {f"input.{name}" for name in request.path_inputs}
        rendered = "".join(
            part
            if isinstance(part, str)
            else (_segments if part.source in paths else _segment)(
                part.search(context), part.source, errors
            )
            for part in request.path.parts
        )
        if _ABSOLUTE.match(rendered):
            raise errors.error(
                UnsafeRequestError,
                f"the path {self.redactor.redact(rendered)!r} is an absolute URL; a request "
                "path is relative to the connection's base URL",
            )
        if not rendered.startswith("/"):
            rendered = "/" + rendered
        try:
            url = httpx.URL(str(self.base_url) + rendered)
        except httpx.InvalidURL as exc:
            raise errors.error(
                InvalidRequestError, f"the path does not form a URL: {exc}"
            ) from None
        base = self.base_url.raw_path.rstrip(b"/")
        path_only = url.raw_path.split(b"?", 1)[0]
        if origin(url) != origin(self.base_url) or not (
            path_only == base or path_only.startswith(base + b"/")
        ):
            raise errors.error(
                UnsafeRequestError,
                f"the path {self.redactor.redact(rendered)!r} leaves the connection's base URL",
            )
        return url

    def _headers(
        self, request: Request, context: dict[str, Any], errors: _Refusals
    ) -> httpx.Headers:
        headers = httpx.Headers(
            {
                "user-agent": self.user_agent,
                "accept": "application/json" if request.response == "json" else "*/*",
            }
        )
        for source in (self.headers, request.headers):
            for name, value in _rendered_mapping(source, context).items():
                if value is None:
                    headers.pop(name, None)
                    continue
                headers[name] = _header_text(value, f"header {name!r}", errors)
        return headers


def _own_credentials(
    auth: RequestAuth, context: dict[str, Any], headers: httpx.Headers, errors: _Refusals
) -> list[tuple[str, str]]:
    """Put a request's own headers and cookies on ``headers``; its query pairs, returned."""
    for name, value in _rendered_mapping(auth.headers, context).items():
        if value is not None:
            headers[name] = _header_text(value, f"header {name!r}", errors)
    cookies = [
        f"{name}={_header_text(value, f'cookie {name!r}', errors)}"
        for name, value in _rendered_mapping(auth.cookies, context).items()
        if value is not None
    ]
    if cookies:
        headers["cookie"] = "; ".join(cookies)
    query = _rendered_mapping(auth.query, context)
    return _params(query, errors) if query else []


def reads(value: Template | CompiledValue | None, name: str) -> bool:
    """Whether rendering ``value`` reads the context name ``name`` (or the whole context)."""
    if value is None:
        return False
    templates: Iterator[Template] = (
        iter([value]) if isinstance(value, Template) else (t for _, t in value.templates())
    )
    return any(path[:1] in ((name,), ()) for t in templates for path in t.references())


def reads_session(request: Request) -> bool:
    """Whether ``request``'s templates read ``session``; remembered per request template."""
    known = _session_readers.get(id(request))
    if known is not None and known[0] is request:
        return known[1]
    values: list[Template | CompiledValue | None] = [
        request.path,
        request.query,
        request.headers,
        request.json,
        request.form,
        request.body,
    ]
    for part in (request.multipart or {}).values():
        values += [part.value, part.file, part.filename, part.content_type]
    if request.auth is not None:
        values += [request.auth.headers, request.auth.cookies, request.auth.query]
    found = any(reads(value, "session") for value in values)
    if len(_session_readers) >= _SESSION_READERS_KEPT:  # templates made per call come and go
        _session_readers.clear()
    _session_readers[id(request)] = (request, found)
    return found


def _segment(value: Any, source: str, errors: _Refusals) -> str:
    """One rendered path value, percent-encoded whole so that it stays one segment."""
    text = _text(value, f"the path value {{{{ {source} }}}}", errors)
    if not text:
        raise errors.error(
            InvalidRequestError,
            f"the path value {{{{ {source} }}}} is empty; the request would name another resource",
        )
    if set(text) == {"."}:  # '.' and '..' would be read as the current or parent directory
        return "%2E" * len(text)
    try:
        return quote(text, safe="")
    except UnicodeEncodeError:
        raise errors.error(
            InvalidRequestError, f"the path value {{{{ {source} }}}} is not valid text"
        ) from None


def _segments(value: Any, source: str, errors: _Refusals) -> str:
    """A path input's value: segments split at ``/``, each percent-encoded on its own.

    An empty segment (a leading, trailing or doubled ``/``) is an ``InvalidRequestError``;
    ``.`` or ``..`` is an ``UnsafeRequestError``, since it would climb out of the path the
    spec writes around the value.
    """
    text = _text(value, f"the path value {{{{ {source} }}}}", errors)
    segments = text.split("/")
    if any(set(segment) == {"."} for segment in segments):
        raise errors.error(
            UnsafeRequestError,
            f"the path value {{{{ {source} }}}} holds a '.' or '..' segment; a path input "
            "names a resource below where the spec's path puts it, never above",
        )
    if not all(segments):
        problem = (
            "is empty" if not text else "has an empty segment (a leading, trailing or double /)"
        )
        raise errors.error(
            InvalidRequestError,
            f"the path value {{{{ {source} }}}} {problem}; the request would name another resource",
        )
    return "/".join(_segment(segment, source, errors) for segment in segments)


def _header_text(value: Any, what: str, errors: _Refusals) -> str:
    """A header's (or cookie's) value as text, refused when it holds a control character."""
    text = _text(value, what, errors)
    problem = header_problem(what, text)
    if problem is not None:
        raise errors.error(InvalidRequestError, problem)
    return text


def _text(value: Any, what: str, errors: _Refusals) -> str:
    """A scalar as request text: true/false, numbers as JSON, null as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return compact_json(value)
    raise errors.error(
        InvalidRequestError, f"{what} renders to {type(value).__name__}, not a text or number"
    )


def _rendered_mapping(value: CompiledValue | None, context: dict[str, Any]) -> dict[str, Any]:
    if value is None:
        return {}
    rendered = value.render(context)
    return rendered if isinstance(rendered, dict) else {}


def _params(rendered: Any, errors: _Refusals) -> list[tuple[str, str]]:
    """Query pairs: a list value repeats its parameter, a null value is left out."""
    if not isinstance(rendered, dict):
        return []
    pairs = []
    for name, value in rendered.items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                pairs.append((name, _text(item, f"query parameter {name!r}", errors)))
    return pairs


def _omit_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _omit_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_omit_nulls(item) for item in value]
    return value


def _json_body(value: Any, omit_nulls: bool, errors: _Refusals) -> bytes:
    try:
        return orjson.dumps(_omit_nulls(value) if omit_nulls else value)
    except TypeError as exc:
        raise errors.error(InvalidRequestError, f"the JSON body cannot be written: {exc}") from None


def _raw_body(value: Any, is_base64: bool, errors: _Refusals) -> bytes:
    text = _text(value, "the body", errors)
    if is_base64:
        return _decode_base64(text, "the body", errors)
    return text.encode("utf-8")


def _decode_base64(text: str, what: str, errors: _Refusals) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise errors.error(InvalidRequestError, f"{what} is not valid base64") from None


def _part(
    name: str, part: Part, context: dict[str, Any], omit_nulls: bool, errors: _Refusals
) -> tuple[str | None, bytes, str | None] | None:
    """A multipart part: (file name or None, content, content type or None); None to omit."""
    what = f"multipart part {name!r}"
    filename = part.filename.render(context) if part.filename else None
    content_type = part.content_type.render(context) if part.content_type else None
    if part.file is None:
        value = part.value.render(context) if part.value else None
        if value is None and omit_nulls:
            return None
        content = _text(value, what, errors).encode("utf-8")
    else:
        source = _text(part.file.render(context), what, errors)
        if part.base64:
            content = _decode_base64(source, what, errors)
        else:
            try:
                content = Path(source).read_bytes()
            except OSError as exc:
                raise errors.error(
                    InvalidRequestError,
                    f"{what}: cannot read the file {source!r}: {exc.strerror or exc}",
                ) from None
    return (
        None if filename is None else str(filename),
        content,
        None if content_type is None else str(content_type),
    )
