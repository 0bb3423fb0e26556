"""Client assessments: questionnaires answered for a client, in process or completed.

An assessment is ``{assess_id, tenant_id, client_id, client_name, doc_type: "assessment",
questionnaire_id, assessment_title, assessment_date, saved_at, last_updated_by, has_reviewers,
reviewers, all_approved, status, saveOnly, questions: [{qid, question, type, options, required}],
answers: [{qid, answer, note}]}`` plus ``completed_at`` once completed; as documented, the presence
of ``completed_at`` is what tells a completed assessment from one in process.

Creating follows the documented reuse flow: the body is an assessment as GET answers it, minus
``tenant_id``, ``client_id``, ``assess_id`` and ``completed_at`` (sending any of them is a 400,
so a forgotten step shows up), with every answer's ``note`` non-empty. ``saveOnly: true`` saves
it "In Process"; otherwise it is submitted and "Completed" at once. The answer is
``{message: "success", doc_id: "assessment_<id>_tenant_<tid>_client_<cid>"}``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .access import client_for, require_tenant
from .auth import authenticated
from .replies import bad_request, json_object, not_found, string_list, text_field
from .state import PlexTracState, state_of

IN_PROCESS = "In Process"
COMPLETED = "Completed"
_NOT_ALLOWED = ("tenant_id", "client_id", "assess_id", "completed_at")
_SUMMARY_FIELDS = (
    "client_name",
    "tenant_id",
    "assess_id",
    "questionnaire_id",
    "assessment_title",
    "doc_type",
    "assessment_date",
    "saved_at",
    "last_updated_by",
    "has_reviewers",
    "reviewers",
    "all_approved",
    "status",
    "completed_at",
)


def doc_id(assessment: dict[str, Any]) -> str:
    """The assessment's document id, as create and delete answer it."""
    a = assessment
    return f"assessment_{a['assess_id']}_tenant_{a['tenant_id']}_client_{a['client_id']}"


def _questions(body: dict[str, Any]) -> list[str]:
    questions = body.get("questions")
    if not isinstance(questions, list) or not questions:
        raise bad_request('"questions" must be a non-empty array')
    qids = []
    for index, question in enumerate(questions):
        qid = question.get("qid") if isinstance(question, dict) else None
        if not isinstance(qid, str) or not qid:
            raise bad_request(f'"questions[{index}].qid" is required')
        qids.append(qid)
    if len(set(qids)) != len(qids):
        raise bad_request('"questions" must not repeat a qid')
    return qids


def _check_answers(body: dict[str, Any], qids: list[str]) -> None:
    answers = body.get("answers")
    if not isinstance(answers, list):
        raise bad_request('"answers" must be an array')
    for index, answer in enumerate(answers):
        where = f"answers[{index}]"
        if not isinstance(answer, dict) or answer.get("qid") not in qids:
            raise bad_request(f'"{where}.qid" must name one of the questions')
        note = answer.get("note")
        if not isinstance(note, str) or not note.strip():
            raise bad_request(f'"{where}.note" is not allowed to be empty')


def new_assessment(
    state: PlexTracState,
    client: dict[str, Any],
    body: dict[str, Any],
    *,
    by_user: int,
    now: int,
) -> dict[str, Any]:
    """Store an assessment of ``client`` from a checked ``body``; return it."""
    reviewers = body.get("reviewers") or []
    save_only = bool(body.get("saveOnly", False))
    assessment = {
        **body,
        "assess_id": state.new_id("assessment"),
        "tenant_id": state.tenant_id,
        "client_id": client["client_id"],
        "client_name": client["name"],
        "doc_type": "assessment",
        "assessment_date": now,
        "saved_at": now,
        "last_updated_by": by_user,
        "has_reviewers": bool(reviewers),
        "reviewers": reviewers,
        "all_approved": False,
        "saveOnly": save_only,
        "status": IN_PROCESS if save_only else COMPLETED,
    }
    if not save_only:
        assessment["completed_at"] = now
    state.assessments[assessment["assess_id"]] = assessment
    return assessment


def _assessment_for(
    request: Request, user: dict[str, Any], *, need: str = "read"
) -> dict[str, Any]:
    state = state_of(request)
    params = request.path_params
    require_tenant(state, params["tenant_id"])
    client = client_for(state, user, params["client_id"], need=need)
    assessment = state.assessments.get(params["assess_id"])
    if assessment is None or assessment["client_id"] != client["client_id"]:
        raise not_found("Assessment")
    return assessment


@authenticated
async def list_assessments(request: Request, user: dict[str, Any]) -> Response:
    """``GET /api/v1/tenant/{tenantId}/client/{clientId}/assessments``: summaries."""
    state = state_of(request)
    require_tenant(state, request.path_params["tenant_id"])
    client_id = client_for(state, user, request.path_params["client_id"])["client_id"]
    summaries = [
        {k: a[k] for k in _SUMMARY_FIELDS if k in a}
        for a in state.assessments.values()
        if a["client_id"] == client_id
    ]
    return JSONResponse(summaries)


@authenticated
async def get_assessment(request: Request, user: dict[str, Any]) -> Response:
    """``GET .../tenant/{tid}/client/{cid}/assessment/{id}`` (v1) and its v2 twin path."""
    return JSONResponse(_assessment_for(request, user))


@authenticated
async def create_assessment(request: Request, user: dict[str, Any]) -> Response:
    """``POST /api/v1/tenant/{tenantId}/client/{clientId}/assessment``."""
    state = state_of(request)
    require_tenant(state, request.path_params["tenant_id"])
    client = client_for(state, user, request.path_params["client_id"], need="write")
    body = await json_object(request)
    for key in _NOT_ALLOWED:
        if key in body:
            raise bad_request(f'"{key}" is not allowed')
    text_field(body, "questionnaire_id", required=True)
    text_field(body, "assessment_title", required=True)
    string_list(body, "reviewers")
    if not isinstance(body.get("saveOnly", False), bool):
        raise bad_request('"saveOnly" must be a boolean')
    _check_answers(body, _questions(body))
    assessment = new_assessment(state, client, body, by_user=user["user_id"], now=state.now_ms())
    return JSONResponse({"message": "success", "doc_id": doc_id(assessment)})


@authenticated
async def delete_assessment(request: Request, user: dict[str, Any]) -> Response:
    """``DELETE /api/v1/tenant/{tenantId}/client/{clientId}/assessment/{id}``."""
    assessment = _assessment_for(request, user, need="write")
    del state_of(request).assessments[assessment["assess_id"]]
    return JSONResponse(
        {"status": "success", "data": True, "message": "success", "doc_id": doc_id(assessment)}
    )
