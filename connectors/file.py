"""The ``file`` connector: JSON, CSV and text files in a local folder, as recipe actions.

Recipes export to files and import from them (a tenant's clients to JSON, its users to CSV),
but the expression language cannot touch files, by design. This plugin gives those
operations the shape of any other connector: ``specs/file.yaml`` declares the actions, their
inputs, outputs and examples, so static checks, dry runs and job history treat them like the
rest; and ``register_transports`` answers the connector's requests in-process, with a small
ASGI app over the connection's folder, so nothing goes over the network.

Every path is relative to the folder and must stay inside it (an absolute path, ``..``
climbing out, or a link pointing outside is refused). Files are written to a temporary name
and renamed, so a reader never sees half a file.

Dry runs. The transport for a dry run (``transport(values, dry_run=True)``) answers every
request as the real one would, but keeps what it writes in memory: a later read in the same
run finds it, and the folder is left as it was. So a dry run of a recipe that writes a file
and reads it back plans the steps after it with the data that would be there.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from hookline.plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Refused(Exception):
    """A request the folder cannot satisfy; ``status`` is 400 or 404."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


@hookimpl
def register_connectors() -> Sequence[Path]:
    """The connector's spec."""
    return [Path(str(files("hookline.specs").joinpath("file.yaml")))]


@hookimpl
def register_transports() -> Mapping[str, Callable[[Mapping[str, Any]], httpx.AsyncBaseTransport]]:
    """Requests of the ``file`` connector are answered by the app over the folder."""
    return {"file": transport}


def transport(values: Mapping[str, Any], *, dry_run: bool = False) -> httpx.AsyncBaseTransport:
    """The in-process transport of a connection with these values (see Dry runs)."""
    folder = Path(str(values.get("folder") or "."))
    return httpx.ASGITransport(app=create_app(folder, dry_run=dry_run))


def create_app(folder: Path, *, dry_run: bool = False) -> Starlette:
    """The file operations over ``folder``, one POST route per action of the spec.

    With ``dry_run``, writes are kept in memory, where later reads find them. Starlette is
    imported here, where the app is made, not when the plugin registers.
    """
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    root = folder.expanduser()
    files = _Folder() if not dry_run else _DryFolder()

    def route(name: str, work: Callable[[Path, dict[str, Any]], Any]) -> Route:
        """A POST route running ``work`` on the path the body names."""

        async def endpoint(request: Request) -> JSONResponse:
            """Answer one request; a refusal becomes a 400 or 404 with an error."""
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise _Refused(400, "the request body is not an object")
                target = _inside(root, body.get("path"))
                result = await asyncio.to_thread(work, target, body)
            except _Refused as refused:
                return JSONResponse({"error": str(refused)}, status_code=refused.status)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse(result)

        return Route(f"/{name}", endpoint, methods=["POST"])

    def written(target: Path, size: int, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What a write action returns."""
        path = target.relative_to(root.resolve()).as_posix()
        return {"path": path, "size": size, **(extra or {})}

    def write_json(target: Path, body: dict[str, Any]) -> Any:
        """Write ``data`` as JSON."""
        indent = body.get("indent") or None
        text = json.dumps(body.get("data"), indent=indent, ensure_ascii=False) + "\n"
        return written(target, files.write(target, text))

    def write_text(target: Path, body: dict[str, Any]) -> Any:
        """Write ``text``."""
        return written(target, files.write(target, str(body.get("text", ""))))

    def write_csv(target: Path, body: dict[str, Any]) -> Any:
        """Write ``rows`` as CSV."""
        rows = body.get("rows") or []
        text = _csv(rows, body.get("columns"), bool(body.get("formulas")))
        return written(target, files.write(target, text), {"rows": len(rows)})

    def read_json(target: Path, body: dict[str, Any]) -> Any:
        """The file's JSON data."""
        try:
            return {"data": json.loads(files.read(target))}
        except json.JSONDecodeError as exc:
            raise _Refused(400, f"{body['path']} is not JSON: {exc}") from None

    def read_csv(target: Path, body: dict[str, Any]) -> Any:
        """The file's rows."""
        return {"rows": list(csv.DictReader(io.StringIO(files.read(target), newline="")))}

    def read_text(target: Path, body: dict[str, Any]) -> Any:
        """The file's text."""
        return {"text": files.read(target)}

    operations: dict[str, Callable[[Path, dict[str, Any]], Any]] = {
        "write_json": write_json,
        "write_text": write_text,
        "write_csv": write_csv,
        "read_json": read_json,
        "read_csv": read_csv,
        "read_text": read_text,
    }
    return Starlette(routes=[route(name, work) for name, work in operations.items()])


def _inside(root: Path, path: Any) -> Path:
    """``path`` under ``root``, or a refusal if it names anything outside it."""
    if not isinstance(path, str) or not path:
        raise _Refused(400, "a path is required")
    if Path(path).is_absolute():
        raise _Refused(400, f"{path!r} is absolute; give a path relative to the folder")
    base = root.resolve()
    target = (base / path).resolve()
    if target != base and base not in target.parents:
        raise _Refused(400, f"{path!r} leads outside the folder")
    return target


class _Folder:
    """Reads and writes files on disk."""

    def read(self, target: Path) -> str:
        """The file's text; a refusal when it is missing or unreadable."""
        try:
            return target.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise _Refused(404, f"no file {target.name!r} in the folder") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise _Refused(400, f"cannot read {target.name!r}: {exc}") from None

    def write(self, target: Path, text: str) -> int:
        """Replace the file with ``text`` (through a temporary file); its size in bytes."""
        temporary: str | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
            os.replace(temporary, target)
        except OSError as exc:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
            raise _Refused(400, f"cannot write {target.name!r}: {exc.strerror or exc}") from None
        return target.stat().st_size


class _DryFolder(_Folder):
    """A dry run's folder: writes are kept in memory and read back from there."""

    def __init__(self) -> None:
        self.written: dict[Path, str] = {}

    def read(self, target: Path) -> str:
        """What this run wrote to the file, else the file on disk."""
        if target in self.written:
            return self.written[target]
        return super().read(target)

    def write(self, target: Path, text: str) -> int:
        """Keep ``text`` as the file's; its size in bytes, as it would be written."""
        self.written[target] = text
        return len(text.encode("utf-8"))


def _csv(rows: list[Any], columns: list[str] | None, formulas: bool) -> str:
    if not all(isinstance(row, dict) for row in rows):
        raise _Refused(400, "every row must be an object")
    names = columns or list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(row.get(name), formulas) for name in names])
    return out.getvalue()


def _cell(value: Any, formulas: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = str(value)
    if not formulas and isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text
