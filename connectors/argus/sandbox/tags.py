"""Case tags: list, add (``"key/value"`` strings or ``{key, value}`` objects), remove.

A case may hold several tags with one key, but adding a key/value pair it already holds is
a no-op. Adding and removing both answer with the case's tag list after the change.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import render
from .access import load_case
from .auth import authenticated
from .envelope import action_error, field_error, json_body, listing, page_params
from .history import change, commit
from .records import tag_record
from .state import ArgusState, Record


def parse_tags(value: object, field: str) -> list[tuple[str, str]]:
    """Key/value pairs from a ``tags`` input; 412 naming ``field`` when malformed."""
    if not isinstance(value, list):
        raise field_error(412, field, f"{field} must be a list of tags")
    pairs = []
    for item in value:
        key: object
        val: object
        if isinstance(item, str):
            key, _, val = item.partition("/")
        elif isinstance(item, dict) and set(item) <= {"key", "value"}:
            key, val = item.get("key"), item.get("value")
        else:
            raise field_error(
                412, field, f"Invalid tag {item!r}: use 'key/value' or {{key, value}}"
            )
        if not (isinstance(key, str) and isinstance(val, str) and key and val):
            raise field_error(412, field, f"Invalid tag {item!r}: both key and value are needed")
        pairs.append((key, val))
    return pairs


def add_tags(
    state: ArgusState, case: Record, user_id: int, pairs: list[tuple[str, str]], when: int
) -> list[Record]:
    """Add the pairs the case does not hold yet; return the history changes made."""
    rows = state.tags[case["id"]]
    changes = []
    for key, value in pairs:
        if any(t["key"] == key and t["value"] == value for t in rows):
            continue
        rows.append(tag_record(state, key=key, value=value, user_id=user_id, added=when))
        changes.append(change("addTag", f"{key}/{value}", object_type="tag"))
    return changes


def _tag_list(state: ArgusState, case: Record, *, status: int = 200) -> Response:
    return listing(state.tags[case["id"]], 0, 0, view=lambda t: render.tag(state, t), status=status)


@authenticated
async def list_tags(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/case/{id}/tags."""
    case = load_case(state, user, request.path_params["case_id"])
    limit, offset = page_params(request)
    return listing([render.tag(state, t) for t in state.tags[case["id"]]], limit, offset)


@authenticated
async def post_tags(request: Request, state: ArgusState, user: Record) -> Response:
    """POST /cases/v2/case/{id}/tags ``{"tags": [...]}``: needs write access."""
    case = load_case(state, user, request.path_params["case_id"], "write")
    body = await json_body(request, allowed=["tags"])
    pairs = parse_tags(body.get("tags"), "tags")
    changes = add_tags(state, case, user["id"], pairs, state.now_ms())
    if changes:
        commit(state, case, user["id"], "addCaseTag", changes)
    return _tag_list(state, case, status=201)


def _remove(state: ArgusState, case: Record, user: Record, doomed: list[Record]) -> Response:
    if not doomed:
        raise action_error(404, f"Tag not found on case {case['id']}")
    gone = {t["id"] for t in doomed}
    state.tags[case["id"]] = [t for t in state.tags[case["id"]] if t["id"] not in gone]
    changes = [
        change("removeTag", None, f"{t['key']}/{t['value']}", object_type="tag") for t in doomed
    ]
    commit(state, case, user["id"], "removeCaseTag", changes)
    return _tag_list(state, case)


@authenticated
async def delete_tag_by_id(request: Request, state: ArgusState, user: Record) -> Response:
    """DELETE /cases/v2/case/{id}/tags/{tagID}."""
    case = load_case(state, user, request.path_params["case_id"], "write")
    tag_id = request.path_params["tag_id"]
    return _remove(state, case, user, [t for t in state.tags[case["id"]] if t["id"] == tag_id])


@authenticated
async def delete_tag_by_value(request: Request, state: ArgusState, user: Record) -> Response:
    """DELETE /cases/v2/case/{id}/tags/{key}/{value}."""
    case = load_case(state, user, request.path_params["case_id"], "write")
    key, value = request.path_params["key"], request.path_params["value"]
    doomed = [t for t in state.tags[case["id"]] if t["key"] == key and t["value"] == value]
    return _remove(state, case, user, doomed)


routes = [
    Route("/cases/v2/case/{case_id:int}/tags", list_tags, methods=["GET"]),
    Route("/cases/v2/case/{case_id:int}/tags", post_tags, methods=["POST"]),
    Route("/cases/v2/case/{case_id:int}/tags/{tag_id}", delete_tag_by_id, methods=["DELETE"]),
    Route(
        "/cases/v2/case/{case_id:int}/tags/{key}/{value}", delete_tag_by_value, methods=["DELETE"]
    ),
]
