"""Findings (``flaw`` documents): the vulnerabilities in a report.

Create needs ``title``, ``severity`` (Critical, High, Medium, Low, Informational) and an HTML
``description`` (CKEditor markup); ``status`` (Open, In Process, Closed) defaults to Open and
``visibility`` to draft. Titles are unique within a report (409 otherwise). As on the platform,
``flaw_id`` is ``int(sha256(title)) % 10**8``, so one title has one id in every report; should a
renamed finding already hold that id in the report, the next free number is used.

``PUT`` replaces the whole finding: a field left out of the body is gone afterwards (clients
GET, change, PUT back). Server-managed fields (ids, ``createdAt``, ``doc_type``, ``sev``, ...)
are kept whatever the body says; ``closedAt``/``reopenedAt`` follow status changes.

v1 rows are positional: 0 flaw id, 1 severity, 2 title, 3 status, 4 last update (ms), 5 null,
6 created (ms), 7 null, 8 reported (ms), 9 null, 10 visibility, 11 sub-status.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .access import client_for
from .auth import authenticated
from .paging import Listing, Record, between, contains, equals, field, overlaps, paged
from .replies import ApiError, bad_request, json_object, not_found, one_of, string_list, text_field
from .reports import report_for
from .state import PlexTracState, state_of

SEVERITIES = ("Critical", "High", "Medium", "Low", "Informational")
STATUSES = ("Open", "In Process", "Closed")
VISIBILITIES = ("draft", "published")
DOC_VERSION = "2.6.7"

_SERVER_FIELDS = frozenset(
    {
        "id",
        "flaw_id",
        "cuid",
        "client_id",
        "report_id",
        "tenant_id",
        "doc_type",
        "doc_version",
        "createdAt",
        "reportedAt",
        "last_update",
        "closedAt",
        "reopenedAt",
        "sev",
        "severity_key",
        "client_name",
        "report_name",
    }
)
_OBJECT_FIELDS = ("common_identifiers", "fields", "risk_score", "affected_assets")
_ARRAY_FIELDS = ("exhibits", "code_samples")
_TEXT_FIELDS = ("recommendations", "references", "subStatus", "source", "assignedTo")


def flaw_id_for(title: str) -> int:
    """The platform's title-derived finding id."""
    return int(hashlib.sha256(title.encode("utf-8")).hexdigest(), 16) % 10**8


def _first_identifier(kind: str) -> Any:
    def key(finding: Record) -> Any:
        listed = (finding.get("common_identifiers") or {}).get(kind) or []
        return listed[0].get("name") if listed else None

    return key


def _cvss31(finding: Record) -> Any:
    return ((finding.get("risk_score") or {}).get("CVSS3_1") or {}).get("overall")


def _search(finding: Record, value: Any) -> bool:
    return contains("title")(finding, value) or contains("description")(finding, value)


LISTING = Listing(
    limits=(1, 10, 50, 100, 99999),
    sorts={
        "assignedTo": field("assignedTo"),
        "clientId": field("client_id"),
        "createdAt": field("createdAt"),
        "updatedAt": field("last_update"),
        "reopenedAt": field("reopenedAt"),
        "closedAt": field("closedAt"),
        "flawId": field("flaw_id"),
        "reportId": field("report_id"),
        "severity": field("severity_key"),
        "source": field("source"),
        "status": field("status"),
        "subStatus": field("subStatus"),
        "title": lambda f: f["title"].lower(),
        "visibility": field("visibility"),
        "cvss3_1": _cvss31,
        "cve_id": _first_identifier("CVE"),
        "cwe_id": _first_identifier("CWE"),
    },
    filters={
        "findingTags": overlaps("tags"),
        "searchTerm": _search,
        "createdAt": between("createdAt"),
        "updatedAt": between("last_update"),
        "reopenedAt": between("reopenedAt"),
        "closedAt": between("closedAt"),
        "assignedTo": equals("assignedTo"),
        "flaw_id": equals("flaw_id"),
        "client_id": equals("client_id"),
        "report_id": equals("report_id"),
        "severity": equals("severity"),
        "source": equals("source"),
        "status": equals("status"),
        "subStatus": equals("subStatus"),
        "title": contains("title"),
        "visibility": equals("visibility"),
    },
)


def _validated(body: dict[str, Any]) -> dict[str, Any]:
    """The body's fields, checked, without the ones the server manages."""
    for key in ("title", "description"):
        text_field(body, key, required=True)
    if body.get("severity") is None:
        raise bad_request('"severity" is required')
    one_of(body, "severity", SEVERITIES)
    one_of(body, "status", STATUSES)
    one_of(body, "visibility", VISIBILITIES)
    string_list(body, "tags")
    for key in _TEXT_FIELDS:
        text_field(body, key)
    for key in _OBJECT_FIELDS:
        if key in body and not isinstance(body[key], dict):
            raise bad_request(f'"{key}" must be of type object')
    for key in _ARRAY_FIELDS:
        if key in body and not isinstance(body[key], list):
            raise bad_request(f'"{key}" must be an array')
    return {k: v for k, v in body.items() if k not in _SERVER_FIELDS}


def _defaults() -> dict[str, Any]:
    return {
        "status": "Open",
        "visibility": "draft",
        "subStatus": "",
        "source": "plextrac",
        "assignedTo": None,
        "tags": [],
        "recommendations": "",
        "references": "",
        "common_identifiers": {},
        "fields": {},
        "risk_score": {},
        "affected_assets": {},
        "exhibits": [],
        "code_samples": [],
        "selectedScore": None,
        "calculated_severity": False,
        "finding_id": None,
        "jiraIssueKey": None,
        "jiraIssueLink": None,
        "serviceNowTicketKey": None,
        "serviceNowTicketTable": None,
    }


def store_finding(
    state: PlexTracState,
    report: dict[str, Any],
    body: dict[str, Any],
    *,
    now: int,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store a validated ``body`` as a finding of ``report``, new or replacing ``previous``."""
    report_id = report["id"]
    title = body["title"]
    clash = [f for f in state.findings_of(report_id) if f["title"] == title and f is not previous]
    if clash:
        raise ApiError(409, f"A finding titled {title!r} already exists in report {report_id}")
    if previous is None:
        fid = flaw_id_for(title)
        while (report_id, fid) in state.findings:
            fid = (fid + 1) % 10**8
        kept = {
            "cuid": state.new_cuid(),
            "createdAt": now,
            "reportedAt": now,
            "closedAt": None,
            "reopenedAt": None,
        }
        was_closed = False
    else:
        fid = previous["flaw_id"]
        kept = {
            k: previous[k] for k in ("cuid", "createdAt", "reportedAt", "closedAt", "reopenedAt")
        }
        was_closed = previous["status"] == "Closed"
    finding = {**_defaults(), **body}
    closed = finding["status"] == "Closed"
    if closed and not was_closed:
        kept["closedAt"] = now
    elif was_closed and not closed:
        kept["closedAt"], kept["reopenedAt"] = None, now
    severity_key = SEVERITIES.index(finding["severity"])
    client = state.clients[report["client_id"]]
    finding.update(kept)
    finding.update(
        {
            "id": fid,
            "flaw_id": fid,
            "client_id": client["client_id"],
            "report_id": report_id,
            "tenant_id": state.tenant_id,
            "client_name": client["name"],
            "report_name": report["name"],
            "doc_type": "flaw",
            "doc_version": DOC_VERSION,
            "last_update": now,
            "sev": severity_key,
            "severity_key": severity_key,
        }
    )
    state.findings[(report_id, fid)] = finding
    return finding


def _row(f: dict[str, Any]) -> dict[str, Any]:
    data = [
        f["flaw_id"],
        f["severity"],
        f["title"],
        f["status"],
        f["last_update"],
        None,
        f["createdAt"],
        None,
        f["reportedAt"],
        None,
        f["visibility"],
        f["subStatus"],
    ]
    return {
        "id": f"flaw_{f['client_id']}-{f['report_id']}-{f['flaw_id']}",
        "doc_id": [str(f["flaw_id"])],
        "data": data,
    }


def _finding_for(
    request: Request, user: dict[str, Any], *, need: str = "read"
) -> tuple[dict[str, Any], dict[str, Any]]:
    state = state_of(request)
    params = request.path_params
    report = report_for(state, user, params["client_id"], params["report_id"], need=need)
    finding = state.findings.get((report["id"], params["flaw_id"]))
    if finding is None:
        raise not_found("Finding")
    return report, finding


def _paged(findings: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
    page, meta = LISTING.answer(body, findings)
    return paged(page, {**meta, "flawIds": [f["flaw_id"] for f in page]})


@authenticated
async def list_rows(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/v1/client/{clientId}/report/{reportId}/flaws``."""
    state = state_of(request)
    params = request.path_params
    report = report_for(state, user, params["client_id"], params["report_id"])
    return JSONResponse([_row(f) for f in state.findings_of(report["id"])])


@authenticated
async def list_report_paged(request: Request, user: dict[str, Any]) -> Response:
    """``POST /api/v2/clients/{clientId}/reports/{reportId}/findings``."""
    state = state_of(request)
    params = request.path_params
    report = report_for(state, user, params["client_id"], params["report_id"])
    body = await json_object(request)
    return JSONResponse(_paged(state.findings_of(report["id"]), body))


@authenticated
async def list_client_paged(request: Request, user: dict[str, Any]) -> Response:
    """``POST /api/v2/client/{clientId}/findings``: every finding in the client's reports."""
    state = state_of(request)
    client_id = client_for(state, user, request.path_params["client_id"])["client_id"]
    body = await json_object(request)
    return JSONResponse(
        _paged([f for f in state.findings.values() if f["client_id"] == client_id], body)
    )


@authenticated
async def get_finding(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/v1/client/{clientId}/report/{reportId}/flaw/{flawId}``."""
    return JSONResponse(_finding_for(request, user)[1])


@authenticated
async def create_finding(request: Request, user: dict[str, Any]) -> Response:
    """``POST /api/v1/client/{clientId}/report/{reportId}/flaw/create``: ``{message, flaw_id}``."""
    state = state_of(request)
    params = request.path_params
    report = report_for(state, user, params["client_id"], params["report_id"], need="write")
    body = _validated(await json_object(request))
    finding = store_finding(state, report, body, now=state.now_ms())
    return JSONResponse({"message": "success", "flaw_id": finding["flaw_id"]})


@authenticated
async def update_finding(request: Request, user: dict[str, Any]) -> Response:
    """``PUT /api/v1/client/{clientId}/report/{reportId}/flaw/{flawId}``: replace the finding."""
    state = state_of(request)
    report, previous = _finding_for(request, user, need="write")
    body = _validated(await json_object(request))
    finding = store_finding(state, report, body, now=state.now_ms(), previous=previous)
    return JSONResponse({"message": "success", "flaw_id": finding["flaw_id"]})


@authenticated
async def delete_finding(request: Request, user: dict[str, Any]) -> Response:
    """``DELETE /api/v1/client/{clientId}/report/{reportId}/flaw/{flawId}``."""
    report, finding = _finding_for(request, user, need="write")
    del state_of(request).findings[(report["id"], finding["flaw_id"])]
    return JSONResponse({"status": "success", "message": "success"})
