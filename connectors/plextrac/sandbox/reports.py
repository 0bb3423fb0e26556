"""Reports: a client's engagements, each holding findings.

The stored report has the fields of PlexTrac's v2 report item (``id``, ``cuid``, ``client_id``,
``name``, ``status``, ``created_at`` in epoch ms, ``start_date``/``end_date`` as ISO strings,
``tags``, ``reviewers``, ``operators``, ``template``, ``fields_template``, ``reportType``,
``includeEvidence``, ``exec_summary``, ``custom_field``, ...); ``findings`` (a count) is worked
out on each answer. The v1 list answers positional rows whose indexes public clients rely on:
0 id, 1 name, 2 null, 3 status, 4 findings, 5 operators, 6 reviewers, 7 created, 8 start date,
9 end date, 10 tags, 11 report template, 12 findings template, 13 null.

A report whose status becomes Published (on create or update) sends ``ReportPublished`` to the
webhooks subscribed to it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .access import client_for, visible_clients
from .auth import authenticated
from .paging import Listing, contains, equals, overlaps, paged
from .replies import (
    bad_request,
    json_object,
    label_values,
    not_found,
    one_of,
    string_list,
    text_field,
)
from .state import PlexTracState, state_of
from .webhooks import report_published

STATUSES = ("Draft", "Ready For Review", "In Review", "Approved", "Published")
_TEXT_FIELDS = (
    "start_date",
    "end_date",
    "template",
    "fields_template",
    "reportType",
    "description",
    "logistics",
    "classificationTierId",
)
_LIST_FIELDS = ("tags", "reviewers", "operators")
_FLAGS = ("includeEvidence", "isTrackChanges")

LISTING = Listing(
    limits=(5, 10, 25, 50, 100, 1000),
    sorts={"name": lambda r: r["name"].lower(), "status": lambda r: r["status"]},
    filters={
        "name": contains("name"),
        "reviewers": overlaps("reviewers"),
        "operators": overlaps("operators"),
        "clients": equals("client_id"),
        "status": equals("status"),
    },
)


def report_for(
    state: PlexTracState,
    user: dict[str, Any],
    client_id: int,
    report_id: int,
    *,
    need: str = "read",
) -> dict[str, Any]:
    """Report ``report_id`` of client ``client_id``, if ``user`` may ``need`` it."""
    client_for(state, user, client_id, need=need)
    report = state.reports.get(report_id)
    if report is None or report["client_id"] != client_id:
        raise not_found("Report")
    return report


def render(state: PlexTracState, report: dict[str, Any]) -> dict[str, Any]:
    """A report with its current ``findings`` count."""
    return {**report, "findings": len(state.findings_of(report["id"]))}


def _row(report: dict[str, Any]) -> dict[str, Any]:
    r = report
    data = [
        r["id"],
        r["name"],
        None,
        r["status"],
        r["findings"],
        r["operators"],
        r["reviewers"],
        r["created_at"],
        r["start_date"],
        r["end_date"],
        r["tags"],
        r["template"],
        r["fields_template"],
        None,
    ]
    return {"id": r["id"], "doc_id": [r["id"]], "data": data}


def _report_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    name = text_field(body, "name", required=creating or "name" in body)
    if name is not None:
        fields["name"] = name
    status = one_of(body, "status", STATUSES)
    if status is not None:
        fields["status"] = status
    for key in _TEXT_FIELDS:
        if key in body:
            fields[key] = text_field(body, key)
    for key in _LIST_FIELDS:
        items = string_list(body, key)
        if items is not None:
            fields[key] = items
    for key in _FLAGS:
        if key in body:
            if not isinstance(body[key], bool):
                raise bad_request(f'"{key}" must be a boolean')
            fields[key] = body[key]
    custom = label_values(body, "custom_field")
    if custom is not None:
        fields["custom_field"] = custom
    if "exec_summary" in body:
        summary = body["exec_summary"]
        if not isinstance(summary, dict) or not isinstance(summary.get("custom_fields", []), list):
            raise bad_request('"exec_summary" must be an object with a "custom_fields" array')
        fields["exec_summary"] = summary
    return fields


def new_report(
    state: PlexTracState, client_id: int, fields: dict[str, Any], created_at: int
) -> dict[str, Any]:
    """Store a report of ``client_id`` made of ``fields`` over the defaults; return it."""
    report_id = state.new_id("report")
    report = {
        "id": report_id,
        "cuid": state.new_cuid(),
        "client_id": client_id,
        "tenant_id": state.tenant_id,
        "doc_type": "report",
        "name": "",
        "status": "Draft",
        "created_at": created_at,
        "start_date": None,
        "end_date": None,
        "tags": [],
        "reviewers": [],
        "operators": [],
        "template": None,
        "template_name": None,
        "fields_template": None,
        "fields_template_name": None,
        "reportType": "default",
        "includeEvidence": False,
        "isTrackChanges": False,
        "classificationTierId": None,
        "description": None,
        "logistics": "",
        "exec_summary": {"custom_fields": []},
        "custom_field": [],
        **fields,
    }
    state.reports[report_id] = report
    return report


@authenticated
async def list_rows(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/v1/client/{clientId}/reports``: the client's reports as positional rows."""
    state = state_of(request)
    client_id = client_for(state, user, request.path_params["client_id"])["client_id"]
    reports = [r for r in state.reports.values() if r["client_id"] == client_id]
    return JSONResponse([_row(render(state, r)) for r in reports])


@authenticated
async def list_paged(request: Request, user: dict[str, Any]) -> Response:
    """``POST /api/v2/reports``: the v2 paged list of reports across the caller's clients."""
    state = state_of(request)
    body = await json_object(request)
    mine = {c["client_id"] for c in visible_clients(state, user)}
    records = [render(state, r) for r in state.reports.values() if r["client_id"] in mine]
    page, meta = LISTING.answer(body, records)
    return JSONResponse(paged(page, meta))


@authenticated
async def get_report(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/v1/client/{clientId}/report/{reportId}``."""
    state = state_of(request)
    params = request.path_params
    report = report_for(state, user, params["client_id"], params["report_id"])
    return JSONResponse(render(state, report))


@authenticated
async def create_report(request: Request, user: dict[str, Any]) -> Response:
    """``POST /api/v1/client/{clientId}/report/create``: ``{message, doc_id, report_id}``."""
    state = state_of(request)
    client_id = client_for(state, user, request.path_params["client_id"], need="write")["client_id"]
    fields = _report_fields(await json_object(request), creating=True)
    report = new_report(state, client_id, fields, state.now_ms())
    if report["status"] == "Published":
        report_published(request, user, report)
    doc_id = f"report_{report['id']}_client_{client_id}"
    return JSONResponse({"message": "success", "doc_id": doc_id, "report_id": report["id"]})


@authenticated
async def update_report(request: Request, user: dict[str, Any]) -> Response:
    """``PUT /api/v1/client/{clientId}/report/{reportId}``: merge the given writable fields."""
    state = state_of(request)
    params = request.path_params
    report = report_for(state, user, params["client_id"], params["report_id"], need="write")
    was_published = report["status"] == "Published"
    report.update(_report_fields(await json_object(request), creating=False))
    if report["status"] == "Published" and not was_published:
        report_published(request, user, report)
    return JSONResponse(
        {
            "status": "success",
            "message": "Report Updated Successfully",
            "data": render(state, report),
        }
    )


@authenticated
async def delete_report(request: Request, user: dict[str, Any]) -> Response:
    """``DELETE /api/v1/client/{clientId}/report/{reportId}``: the report and its findings."""
    state = state_of(request)
    params = request.path_params
    report_id = report_for(state, user, params["client_id"], params["report_id"], need="write")[
        "id"
    ]
    del state.reports[report_id]
    for key in [k for k in state.findings if k[0] == report_id]:
        del state.findings[key]
    return JSONResponse({"status": "success", "data": True})
