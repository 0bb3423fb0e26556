"""The argus spec against the Argus sandbox, through the real runtime.

Every action and both poll triggers run against a served sandbox: the API key travels in the
Argus-API-Key header, answers are unwrapped from the Argus envelope, lists and searches are
read page after page (on count, and on a short page when Argus answers count -1), and the
Argus error envelope becomes typed errors. The demo keys give users with different access
(SOC tech, analyst without moveCase, administrator, customer users, a read-only user), so
permission refusals are exercised with the user Argus would refuse. The sandbox's state is the
witness for what reads should return and what writes changed.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from hookline.actions.call import call_action
from hookline.connectors.argus.sandbox import DEMO_KEYS
from hookline.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from hookline.http.connection import Connection
from hookline.spec.catalog import Catalog
from hookline.spec.model import PollTrigger
from hookline.testing import check_described, check_examples
from hookline.testing import poll_once as _poll

Record = dict[str, Any]

ACTIONS = {
    "get_case", "create_case", "update_case", "close_case", "delete_case", "search_cases",
    "advanced_search_cases", "list_case_history", "list_comments", "add_comment",
    "edit_comment", "delete_comment", "list_events", "list_attachments", "upload_attachment",
    "download_attachment", "get_access", "set_access_mode", "grant_access", "revoke_access",
    "list_tags", "add_tags", "remove_tag", "move_case", "list_services",
    "get_service", "list_service_subscriptions", "list_categories", "get_category",
}  # fmt: skip
CASES = 200
NORDLYS, FJORDLINE = 2, 3
KARI, OLA, SOC_TECH = 201, 202, 101  # kari.nordmann (nordlys, write), ola.hansen (read)


@pytest.fixture
def ar(served: Any) -> Iterator[Any]:
    """The Argus sandbox with seed 1 and 200 cases, used by the SOC tech's key."""
    with served("argus", seed=1, case_count=CASES) as s:
        yield s


def _visible(s: Any, test: Callable[[Record], bool] = lambda case: True) -> list[int]:
    """Ids of the cases a SOC tech finds (every case not deleted), ascending, that pass test."""
    return sorted(
        case["id"]
        for case in s.state.cases.values()
        if "DELETED" not in case["flags"] and test(case)
    )


def _first(s: Any, test: Callable[[Record], bool]) -> Record:
    return next(c for c in s.state.cases.values() if "DELETED" not in c["flags"] and test(c))


def _customer_case(s: Any) -> Record:
    """An open, role-based nordlys case that kari.nordmann neither reported nor owns."""
    return _first(
        s,
        lambda c: (
            c["customerID"] == NORDLYS
            and c["accessMode"] == "roleBased"
            and c["reporterID"] != KARI
            and c["status"] != "closed"
        ),
    )


def _validate(s: Any, schema: Any, values: list[Any]) -> None:
    validator = Draft202012Validator(s.spec.schema_with_objects(schema))
    for value in values:
        validator.validate(value)


# ---------------------------------------------------------------- the spec itself


def test_the_spec_has_exactly_the_documented_actions_and_triggers(catalog: Catalog) -> None:
    spec = catalog.spec("argus")
    assert set(spec.actions) == ACTIONS
    assert set(spec.triggers) == {"new_case", "updated_case"}
    assert all(isinstance(t, PollTrigger) for t in spec.triggers.values())


def test_every_example_matches_its_input_and_output_schemas(catalog: Catalog) -> None:
    def without_save_to(name: str, given: dict[str, Any]) -> dict[str, Any]:
        """The runtime adds ``save_to`` to a download's declared inputs; the spec does not."""
        if name == "download_attachment":
            given.pop("save_to", None)
        return given

    check_examples(catalog.spec("argus"), without_save_to)


def test_every_action_and_input_is_described(catalog: Catalog) -> None:
    check_described(catalog.spec("argus"))


def test_the_connection_defaults_to_the_public_api_and_hides_the_key(catalog: Catalog) -> None:
    fields = catalog.spec("argus").connection.fields
    assert fields["base_url"].default == "https://api.mnemonic.no"
    assert fields["api_key"].secret and fields["api_key"].required
    assert not fields["base_url"].required


# ---------------------------------------------------------------- the API key


def test_the_key_travels_in_the_argus_header(ar: Any) -> None:
    transport = _Spy()
    _through(ar, transport, "get_case", {"id": 100001})
    (request,) = transport.sent
    assert request.headers["Argus-API-Key"] == DEMO_KEYS["soc_tech"]
    assert "sandbox-soc-tech" not in str(request.url)
    plan = ar.session(lambda conn: call_action(conn, "get_case", {"id": 100001}, dry_run=True))
    assert "sandbox-soc-tech" not in str(plan.to_dict())


def test_an_unknown_key_is_an_authentication_error(ar: Any) -> None:
    with pytest.raises(AuthenticationError, match="Invalid API key") as error:
        ar.call("list_services", api_key="9/9/not-a-key")
    assert error.value.status == 401
    assert "not-a-key" not in str(error.value)


def test_an_expired_key_says_so(ar: Any) -> None:
    with pytest.raises(AuthenticationError) as error:
        ar.call("list_services", api_key=DEMO_KEYS["expired"])
    assert error.value.platform_message == "API key has expired; renew it in Argus"


def test_a_key_bound_to_other_networks_is_refused_from_here(ar: Any) -> None:
    with pytest.raises(AuthenticationError, match="not valid from this source address"):
        ar.call("list_categories", api_key=DEMO_KEYS["office_network"])


# ---------------------------------------------------------------- get, create, update, close


def test_get_case_unwraps_the_envelope(ar: Any) -> None:
    case = ar.state.cases[100025]
    found = ar.call("get_case", {"id": 100025})
    assert found["id"] == 100025
    assert (found["subject"], found["status"]) == (case["subject"], case["status"])
    assert found["customer"]["id"] == case["customerID"]
    assert found["currentUserAccess"] == {"level": "write", "role": "tech"}
    assert "responseCode" not in found


def test_an_unknown_case_is_not_found(ar: Any) -> None:
    with pytest.raises(NotFoundError) as error:
        ar.call("get_case", {"id": 999999})
    assert error.value.platform_message == "Case 999999 not found"


def test_a_case_the_user_cannot_read_is_not_found(ar: Any) -> None:
    case = _first(ar, lambda c: c["customerID"] == FJORDLINE)
    with pytest.raises(NotFoundError, match=f"Case {case['id']} not found"):
        ar.call("get_case", {"id": case["id"]}, api_key=DEMO_KEYS["nordlys_user"])


def test_create_case_files_a_restricted_tagged_case(ar: Any) -> None:
    created = ar.call(
        "create_case",
        {
            "customer": "nordlys",
            "service": "support",
            "type": "operationalIncident",
            "category": "firewall-operational",
            "subject": "Firewall fw-osl-01 drops VPN traffic",
            "description": "<p>Down since 09:00</p><script>alert(1)</script>",
            "priority": "high",
            "tags": ["site/bergen", {"key": "team", "value": "network"}],
            "customer_reference": "INC4711",
            "access_mode": "explicit",
            "acl_members": [{"subject_id": "nordlys-responders", "level": "write"}],
        },
    )
    case = ar.state.cases[created["id"]]
    assert created["id"] == max(ar.state.cases)
    assert (case["customerID"], case["serviceID"], case["categoryID"]) == (NORDLYS, 6, 61)
    assert (case["type"], case["priority"], case["status"]) == (
        "operationalIncident", "high", "pendingSoc",
    )  # fmt: skip
    assert case["reporterID"] == SOC_TECH and case["customerReference"] == "INC4711"
    assert created["description"] == "<p>Down since 09:00</p>"
    assert {(t["key"], t["value"]) for t in ar.state.tags[case["id"]]} == {
        ("site", "bergen"), ("team", "network"),
    }  # fmt: skip
    assert [(e["subjectID"], e["level"]) for e in ar.state.acl[case["id"]]] == [(401, "write")]
    assert created["accessMode"] == "explicit"


def test_create_case_by_a_read_only_user_is_refused(ar: Any) -> None:
    before = len(ar.state.cases)
    with pytest.raises(PermissionDeniedError, match="needs write access") as error:
        ar.call(
            "create_case",
            {"service": "support", "type": "change", "subject": "x", "description": "y"},
            api_key=DEMO_KEYS["nordlys_readonly"],
        )
    assert error.value.status == 403
    assert len(ar.state.cases) == before


def test_create_case_names_the_field_the_platform_refuses(ar: Any) -> None:
    with pytest.raises(InvalidRequestError) as error:
        ar.call(
            "create_case",
            {
                "customer": "fjordline",
                "service": "administrative",
                "type": "securityIncident",
                "subject": "x",
                "description": "y",
            },
        )
    assert error.value.status == 412
    assert error.value.platform_message == (
        "type: Service administrative does not accept case type securityIncident"
    )


def test_create_case_checks_its_input_before_sending(ar: Any) -> None:
    with pytest.raises(InvalidRequestError, match="input 'type' is required"):
        ar.call("create_case", {"service": "support", "subject": "x", "description": "y"})


class _Spy(httpx.AsyncBaseTransport):
    """Delivers requests to the sandbox and records them; can lose one answer on the way back.

    With ``lose=(method, path)`` the first matching request reaches the sandbox (which acts on
    it) but its answer never arrives, as when a connection breaks at the worst moment.
    """

    def __init__(self, lose: tuple[str, str] | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.lose = lose
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        response = await self.inner.handle_async_request(request)
        if self.lose == (request.method, request.url.path):
            self.lose = None
            await response.aread()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    @property
    def calls(self) -> list[tuple[str, str]]:
        return [(request.method, request.url.path) for request in self.sent]


def _through(s: Any, transport: httpx.AsyncBaseTransport, action: str, input: Any) -> Any:
    """Run one action on a connection whose requests go through ``transport``."""

    async def go() -> Any:
        connection = Connection(
            s.spec, s.values, expressions=s.catalog.expressions, transport=transport
        )
        async with connection as conn:
            return await call_action(conn, action, input)

    return asyncio.run(go())


def test_a_create_whose_answer_is_lost_is_found_and_not_repeated(ar: Any) -> None:
    transport = _Spy(lose=("POST", "/cases/v2/case"))
    before = set(ar.state.cases)
    subject = "Suspicious login to vpn-gw-02 from new country"
    created = _through(
        ar,
        transport,
        "create_case",
        {
            "customer": "fjordline",
            "service": "ids",
            "type": "securityIncident",
            "subject": subject,
            "description": "<p>Login from an unusual country.</p>",
        },
    )
    made = set(ar.state.cases) - before
    assert made == {created["id"]}
    assert ar.state.cases[created["id"]]["subject"] == subject
    assert transport.calls == [("POST", "/cases/v2/case"), ("POST", "/cases/v2/case/search")]


def test_update_case_changes_only_what_is_given(ar: Any) -> None:
    case = _first(ar, lambda c: c["status"] == "pendingSoc" and c["priority"] != "critical")
    before = dict(case)
    comments = len(ar.state.comments[case["id"]])
    updated = ar.call(
        "update_case",
        {
            "id": case["id"],
            "priority": "critical",
            "status": "workingSoc",
            "assigned_user": "kari.nordmann",
            "comment": "Escalated after customer call",
        },
    )
    assert (updated["priority"], updated["status"]) == ("critical", "workingSoc")
    assert case["assignedUserID"] == KARI
    assert case["subject"] == before["subject"] and case["description"] == before["description"]
    assert ar.state.comments[case["id"]][-1]["comment"] == "Escalated after customer call"
    assert len(ar.state.comments[case["id"]]) == comments + 1
    assert case["lastUpdatedTimestamp"] > before["lastUpdatedTimestamp"]


def test_update_case_reopens_a_closed_case(ar: Any) -> None:
    case = _first(ar, lambda c: c["status"] == "closed")
    reopened = ar.call("update_case", {"id": case["id"], "status": "pendingSoc"})
    assert reopened["status"] == "pendingSoc"
    assert reopened["closedTimestamp"] is None and reopened["closedByUser"] is None


def test_a_restricted_field_update_is_refused_naming_the_field(ar: Any) -> None:
    case = _customer_case(ar)
    subject, priority = case["subject"], case["priority"]
    kari = DEMO_KEYS["nordlys_user"]
    with pytest.raises(PermissionDeniedError) as error:
        ar.call("update_case", {"id": case["id"], "assigned_tech": "soc.tech"}, api_key=kari)
    assert error.value.status == 403
    assert error.value.field == "assignedTech"
    assert error.value.platform_message == "Not permitted to update field assignedTech"
    with pytest.raises(PermissionDeniedError) as both:
        ar.call(
            "update_case",
            {
                "id": case["id"],
                "subject": "Renamed",
                "comment": "x",
                "internal_comment": True,
                "priority": "low",
            },
            api_key=kari,
        )
    assert both.value.field == "internalComment, subject"
    assert "(field internalComment, subject)" in str(both.value)
    assert (case["subject"], case["priority"]) == (subject, priority)  # nothing was applied
    allowed = ar.call("update_case", {"id": case["id"], "priority": "low"}, api_key=kari)
    assert allowed["priority"] == "low"


def test_close_case_closes_once(ar: Any) -> None:
    case = _first(ar, lambda c: c["status"] != "closed")
    closed = ar.call("close_case", {"id": case["id"], "comment": "Resolved by the customer"})
    assert closed["status"] == "closed" and closed["closedByUser"]["id"] == SOC_TECH
    assert ar.state.comments[case["id"]][-1]["comment"] == "Resolved by the customer"
    with pytest.raises(InvalidRequestError, match=f"Case {case['id']} is already closed"):
        ar.call("close_case", {"id": case["id"]})


def test_a_close_whose_answer_is_lost_is_confirmed_by_reading_the_case(ar: Any) -> None:
    case = _first(ar, lambda c: c["status"] != "closed")
    path = f"/cases/v2/case/{case['id']}/close"
    transport = _Spy(lose=("PUT", path))
    closed = _through(ar, transport, "close_case", {"id": case["id"]})
    assert closed["status"] == "closed" == case["status"]
    assert transport.calls == [("PUT", path), ("GET", f"/cases/v2/case/{case['id']}")]


# ---------------------------------------------------------------- move


def test_move_case_moves_to_another_service_and_drops_the_category(ar: Any) -> None:
    case = _first(
        ar, lambda c: c["customerID"] == NORDLYS and c["serviceID"] == 2 and c["categoryID"] == 64
    )
    with pytest.raises(InvalidRequestError) as error:
        ar.call("move_case", {"id": case["id"], "service": "support"})
    assert "category:" in (error.value.platform_message or "")
    moved = ar.call(
        "move_case",
        {
            "id": case["id"],
            "service": "support",
            "type": "securityIncident",
            "unset_category": True,
        },
    )
    assert moved["service"]["shortName"] == "support" and moved["category"] is None
    assert (case["serviceID"], case["categoryID"]) == (6, None)
    again = ar.call("move_case", {"id": case["id"], "category": "phishing"})
    assert again["category"]["shortName"] == "phishing"


def test_moving_needs_the_move_case_privilege(ar: Any) -> None:
    case = _first(ar, lambda c: c["customerID"] == NORDLYS)
    with pytest.raises(PermissionDeniedError, match="moveCase privilege"):
        ar.call(
            "move_case",
            {"id": case["id"], "customer": "fjordline"},
            api_key=DEMO_KEYS["soc_analyst"],
        )
    assert case["customerID"] == NORDLYS


# ---------------------------------------------------------------- simple search


def test_search_cases_reads_every_page(ar: Any) -> None:
    found = ar.call("search_cases", {"status": "closed"})
    expected = _visible(ar, lambda c: c["status"] == "closed")
    assert len(expected) > 100  # two pages of 100
    assert [case["id"] for case in found] == expected


def test_search_cases_reads_to_a_short_page_when_argus_cannot_count(served: Any) -> None:
    with served("argus", seed=1, case_count=CASES, count_timeout=True) as s:
        found = s.call("search_cases", {"status": "closed"})
        assert [case["id"] for case in found] == _visible(s, lambda c: c["status"] == "closed")


def test_search_cases_ors_repeated_values_and_ands_filters(ar: Any) -> None:
    found = ar.call(
        "search_cases",
        {"customer": ["nordlys"], "status": ["pendingSoc", "workingSoc"], "priority": "high"},
    )
    expected = _visible(
        ar,
        lambda c: (
            c["customerID"] == NORDLYS
            and c["status"] in ("pendingSoc", "workingSoc")
            and c["priority"] == "high"
        ),
    )
    assert expected and [case["id"] for case in found] == expected


def test_search_cases_sends_every_simple_search_parameter(ar: Any) -> None:
    input = {
        "customer": ["nordlys", 3], "customer_id": [2, 3], "case_id": 100001,
        "service": "ids", "category": ["malware", "phishing"], "status": ["pendingSoc"],
        "type": "securityIncident", "priority": ["high", "critical"], "access_mode": "roleBased",
        "keywords": ["c2", "emotet"], "keyword_field_strategy": ["subject", "description"],
        "keyword_match_strategy": "any", "user_id": ["soc.tech", 201],
        "user_field_strategy": ["assignedTech", "reporter"], "start_timestamp": "-30days",
        "end_timestamp": "now", "time_field_strategy": "createdTimestamp",
        "time_match_strategy": "all", "tag": ["mitre=T1059", "site"], "workflow": "validation",
        "explicit_access": "soc-l2", "user_assigned": False, "tech_assigned": True,
        "include_flags": "ESCALATED", "exclude_flags": ["DELETED"], "asset_id": "a-1",
        "field": "f-1", "sort_by": ["-priority", "id"], "include_deleted": True,
        "include_description": False, "include_workflows": True,
    }  # fmt: skip
    plan = ar.session(lambda conn: call_action(conn, "search_cases", input, dry_run=True))
    query = httpx.URL(plan.requests[0].url).params
    assert query.get_list("customer") == ["nordlys", "3"]
    assert query.get_list("customerID") == ["2", "3"]
    assert query.get_list("caseID") == ["100001"]
    assert query.get_list("category") == ["malware", "phishing"]
    assert query.get_list("priority") == ["high", "critical"]
    assert query.get_list("keywords") == ["c2", "emotet"]
    assert query.get_list("keywordFieldStrategy") == ["subject", "description"]
    assert query.get_list("userID") == ["soc.tech", "201"]
    assert query.get_list("userFieldStrategy") == ["assignedTech", "reporter"]
    assert query.get_list("tag") == ["mitre=T1059", "site"]
    assert query.get_list("sortBy") == ["-priority", "id"]
    single = {
        "service": "ids", "status": "pendingSoc", "type": "securityIncident",
        "accessMode": "roleBased", "keywordMatchStrategy": "any", "startTimestamp": "-30days",
        "endTimestamp": "now", "timeFieldStrategy": "createdTimestamp",
        "timeMatchStrategy": "all", "workflow": "validation", "explicitAccess": "soc-l2",
        "userAssigned": "false", "techAssigned": "true", "includeFlags": "ESCALATED",
        "excludeFlags": "DELETED", "assetID": "a-1", "field": "f-1", "includeDeleted": "true",
        "includeDescription": "false", "includeWorkflows": "true", "offset": "0",
        "limit": "100",
    }  # fmt: skip
    assert {name: query[name] for name in single} == single
    assert set(input) == set(ar.spec.actions["search_cases"].input_schema["properties"])
    assert len(set(query.keys())) == len(input) + 2  # each input, plus offset and limit
    assert ar.call("search_cases", input) == []  # the sandbox takes every parameter


def test_search_cases_by_keyword_user_time_and_tag(ar: Any) -> None:
    by_keyword = ar.call(
        "search_cases", {"keywords": ["emotet"], "keyword_field_strategy": "description"}
    )
    assert [c["id"] for c in by_keyword] == _visible(
        ar, lambda c: "emotet" in c["description"].lower()
    )
    by_reporter = ar.call(
        "search_cases", {"user_id": "kari.nordmann", "user_field_strategy": "reporter"}
    )
    assert [c["id"] for c in by_reporter] == _visible(ar, lambda c: c["reporterID"] == KARI)
    start, end = "2024-03-01T00:00:00Z", "2024-03-31T23:59:59Z"
    in_march = ar.call(
        "search_cases",
        {"start_timestamp": start, "end_timestamp": end, "time_field_strategy": "createdTimestamp"},
    )
    low, high = _ms(start), _ms(end)
    assert [c["id"] for c in in_march] == _visible(
        ar, lambda c: low <= c["createdTimestamp"] <= high
    )
    tagged = ar.call("search_cases", {"tag": "mitre"})
    assert [c["id"] for c in tagged] == _visible(
        ar, lambda c: any(t["key"] == "mitre" for t in ar.state.tags[c["id"]])
    )


def test_search_cases_sorts_and_leaves_out_descriptions(ar: Any) -> None:
    found = ar.call(
        "search_cases",
        {"customer": "fjordline", "sort_by": "-createdTimestamp", "include_description": False},
    )
    assert [c["createdTimestamp"] for c in found] == sorted(
        (c["createdTimestamp"] for c in found), reverse=True
    )
    assert found and all("description" not in c for c in found)


def test_search_cases_stops_at_max_records(ar: Any) -> None:
    found = ar.session(
        lambda conn: call_action(conn, "search_cases", {"status": "closed"}, max_records=150)
    )
    assert [c["id"] for c in found] == _visible(ar, lambda c: c["status"] == "closed")[:150]


def test_a_customer_user_finds_only_what_they_may_read(ar: Any) -> None:
    found = ar.call("search_cases", {}, api_key=DEMO_KEYS["nordlys_user"])
    assert found and {c["customer"]["id"] for c in found} == {NORDLYS}


def _ms(iso: str) -> int:
    """Epoch milliseconds of an ISO 8601 time in UTC."""
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


# ---------------------------------------------------------------- advanced search


def test_advanced_search_combines_sub_criteria_and_exclusions(ar: Any) -> None:
    found = ar.call(
        "advanced_search_cases",
        {
            "customer": "nordlys",
            "sub_criteria": [{"priority": ["critical"]}, {"type": ["change"]}],
            "exclude": [{"status": ["closed"]}],
        },
    )
    expected = _visible(
        ar,
        lambda c: (
            c["customerID"] == NORDLYS
            and (c["priority"] == "critical" or c["type"] == "change")
            and c["status"] != "closed"
        ),
    )
    assert expected and [c["id"] for c in found] == expected


def test_advanced_search_required_and_nested_sub_criteria(ar: Any) -> None:
    found = ar.call(
        "advanced_search_cases",
        {
            "service": ["ids", "support"],
            "sub_criteria": [
                {"required": True, "priority": ["high", "critical"]},
                {"required": True, "subCriteria": [{"status": ["closed"], "exclude": True}]},
            ],
        },
    )
    expected = _visible(
        ar,
        lambda c: (
            c["serviceID"] in (2, 6)
            and c["priority"] in ("high", "critical")
            and c["status"] != "closed"
        ),
    )
    assert expected and [c["id"] for c in found] == expected


def test_advanced_search_by_user_group_and_field(ar: Any) -> None:
    found = ar.call(
        "advanced_search_cases",
        {"user_id": "nordlys-responders", "user_field_strategy": ["reporter", "assignedUser"]},
    )
    members = {201, 203}
    expected = _visible(ar, lambda c: c["reporterID"] in members or c["assignedUserID"] in members)
    assert expected and [c["id"] for c in found] == expected


def test_advanced_search_keywords_and_time_range(ar: Any) -> None:
    found = ar.call(
        "advanced_search_cases",
        {
            "keywords": ["phishing", "credential"],
            "keyword_match_strategy": "any",
            "keyword_field_strategy": ["subject"],
            "start_timestamp": "2024-06-01T00:00:00Z",
            "time_field_strategy": ["createdTimestamp", "closedTimestamp"],
            "time_match_strategy": "all",
        },
    )
    low = _ms("2024-06-01T00:00:00Z")
    expected = _visible(
        ar,
        lambda c: (
            any(w in c["subject"].lower() for w in ("phishing", "credential"))
            and c["createdTimestamp"] >= low
            and (c["closedTimestamp"] or 0) >= low
        ),
    )
    assert expected and [c["id"] for c in found] == expected


def test_advanced_search_pages_through_the_body_when_argus_cannot_count(served: Any) -> None:
    with served("argus", seed=1, case_count=CASES, count_timeout=True) as s:
        found = s.call("advanced_search_cases", {"exclude": [{"status": ["pendingSoc"]}]})
        plan = s.session(
            lambda conn: call_action(
                conn, "advanced_search_cases", {"status": "closed"}, dry_run=True
            )
        )
        assert [c["id"] for c in found] == _visible(s, lambda c: c["status"] != "pendingSoc")
        assert len(found) > 100
    assert plan.requests[0].body == {"status": ["closed"], "offset": 0, "limit": 100}


def test_advanced_search_errors_name_the_sub_criteria_path(ar: Any) -> None:
    with pytest.raises(InvalidRequestError) as error:
        ar.call("advanced_search_cases", {"sub_criteria": [{"customer": ["nosuch"]}]})
    assert error.value.platform_message == "subCriteria[0].customer: Unknown customer 'nosuch'"


# ---------------------------------------------------------------- comments and events


def test_comments_are_listed_added_and_answered(ar: Any) -> None:
    case = _customer_case(ar)
    first = ar.call("add_comment", {"id": case["id"], "comment": "<b>Seen</b><img src=x>"})
    assert first["comment"] == "<b>Seen</b>"
    reply = ar.call(
        "add_comment",
        {"id": case["id"], "comment": "Thanks", "as_reply_to": first["id"]},
        api_key=DEMO_KEYS["nordlys_user"],
    )
    assert reply["references"] == [{"type": "replyTo", "commentID": first["id"]}]
    internal = ar.call("add_comment", {"id": case["id"], "comment": "SOC only", "internal": True})
    assert internal["flags"] == ["INTERNAL"]
    listed = ar.call("list_comments", {"id": case["id"]})
    assert [c["id"] for c in listed] == [c["id"] for c in ar.state.comments[case["id"]]]
    newest_first = ar.call("list_comments", {"id": case["id"], "sort_by": "-addedTimestamp"})
    assert newest_first[0]["id"] == internal["id"]
    after = ar.call("list_comments", {"id": case["id"], "after_comment": first["id"]})
    assert [c["id"] for c in after] == [reply["id"], internal["id"]]
    for_kari = ar.call("list_comments", {"id": case["id"]}, api_key=DEMO_KEYS["nordlys_user"])
    assert internal["id"] not in {c["id"] for c in for_kari}


def test_a_comment_names_attachments_and_sets_the_status(ar: Any) -> None:
    case = _customer_case(ar)
    uploaded = [
        ar.call("upload_attachment", {"id": case["id"], "name": f"{n}.txt", "content": "YWJj"})
        for n in ("a", "b")
    ]
    comment = ar.call(
        "add_comment",
        {
            "id": case["id"],
            "comment": "Both logs attached",
            "associated_attachment_id": [a["id"] for a in uploaded],
            "status": "waitingCustomer",
        },
    )
    assert [a["name"] for a in comment["associatedAttachments"]] == ["a.txt", "b.txt"]
    assert case["status"] == "waitingCustomer"
    one = ar.call(
        "add_comment",
        {"id": case["id"], "comment": "This one", "associated_attachment_id": uploaded[0]["id"]},
    )
    assert [a["id"] for a in one["associatedAttachments"]] == [uploaded[0]["id"]]


def test_an_update_comment_is_internal_when_asked(ar: Any) -> None:
    case = _customer_case(ar)
    ar.call("update_case", {"id": case["id"], "comment": "SOC only", "internal_comment": True})
    assert ar.state.comments[case["id"]][-1]["flags"] == ["INTERNAL"]


def test_comments_are_edited_by_their_author_and_deleted_by_tech_users(ar: Any) -> None:
    case = _customer_case(ar)
    kari = DEMO_KEYS["nordlys_user"]
    added = ar.call("add_comment", {"id": case["id"], "comment": "Fist draft"}, api_key=kari)
    edited = ar.call(
        "edit_comment",
        {"id": case["id"], "comment_id": added["id"], "comment": "<p>First draft</p>"},
        api_key=kari,
    )
    assert (edited["id"], edited["comment"]) == (added["id"], "<p>First draft</p>")
    with pytest.raises(PermissionDeniedError, match="tech role"):
        ar.call("delete_comment", {"id": case["id"], "comment_id": added["id"]}, api_key=kari)
    deleted = ar.call("delete_comment", {"id": case["id"], "comment_id": added["id"]})
    assert deleted["flags"] == ["DELETED"]
    for_kari = ar.call("list_comments", {"id": case["id"]}, api_key=kari)
    assert added["id"] not in {c["id"] for c in for_kari}
    with pytest.raises(NotFoundError):
        ar.call("edit_comment", {"id": case["id"], "comment_id": "nope", "comment": "x"})


def test_delete_case_hides_it_from_customers(ar: Any) -> None:
    case = _customer_case(ar)
    kari = DEMO_KEYS["nordlys_user"]
    with pytest.raises(PermissionDeniedError, match="tech role"):
        ar.call("delete_case", {"id": case["id"]}, api_key=kari)
    deleted = ar.call("delete_case", {"id": case["id"], "comment": "Duplicate"})
    assert "DELETED" in deleted["flags"] and "DELETED" in case["flags"]
    assert ar.state.comments[case["id"]][-1]["comment"] == "Duplicate"
    with pytest.raises(NotFoundError):
        ar.call("get_case", {"id": case["id"]}, api_key=kari)
    with pytest.raises(NotFoundError):
        ar.call("delete_case", {"id": case["id"]})
    found = ar.call("search_cases", {"case_id": case["id"], "include_deleted": True})
    assert [c["id"] for c in found] == [case["id"]]


def test_list_case_history_reads_and_filters_the_transactions(ar: Any) -> None:
    case = _customer_case(ar)
    ar.call("update_case", {"id": case["id"], "priority": "critical"})
    ar.call("add_comment", {"id": case["id"], "comment": "Escalated"})
    history = ar.call("list_case_history", {"id": case["id"]})
    stored = ar.state.history[case["id"]]
    assert [t["id"] for t in history] == [t["id"] for t in stored]
    assert [t["operation"] for t in history[-2:]] == ["updateCase", "addCaseComment"]
    _validate(ar, ar.spec.actions["list_case_history"].output.schema, history)
    newest = ar.call("list_case_history", {"id": case["id"], "sort_by": "-timestamp"})
    assert newest[0]["operation"] == "addCaseComment"
    priority = ar.call("list_case_history", {"id": case["id"], "type": "priority"})
    assert priority[-1]["changes"][0] == {
        "field": "priority",
        "value": "critical",
        "previousValue": stored[-2]["changes"][0]["previousValue"],
        "object": None,
        "previousObject": None,
        "objectType": None,
        "flags": [],
        "transactionIndex": 0,
    }
    mine = ar.call(
        "list_case_history",
        {"id": case["id"], "user": "soc.tech", "operation": ["updateCase", "addCaseComment"]},
    )
    assert [t["id"] for t in mine][-2:] == [t["id"] for t in stored[-2:]]
    after = ar.call("list_case_history", {"id": case["id"], "after_transaction": stored[-2]["id"]})
    assert [t["id"] for t in after] == [stored[-1]["id"]]
    recent = ar.call("list_case_history", {"id": case["id"], "start_timestamp": "-1hours"})
    assert [t["id"] for t in recent] == [t["id"] for t in stored[-2:]]


def test_an_internal_comment_needs_the_tech_role(ar: Any) -> None:
    case = _customer_case(ar)
    with pytest.raises(PermissionDeniedError) as error:
        ar.call(
            "add_comment",
            {"id": case["id"], "comment": "x", "internal": True},
            api_key=DEMO_KEYS["nordlys_user"],
        )
    assert error.value.field == "internal"


def test_list_events_gives_the_case_events(ar: Any) -> None:
    case_id = next(i for i, events in ar.state.events.items() if len(events) > 1)
    events = ar.call("list_events", {"id": case_id})
    assert [e["id"] for e in events] == [e["id"] for e in ar.state.events[case_id]]
    assert events[0]["associatedCase"]["id"] == case_id


# ---------------------------------------------------------------- attachments


def test_attachments_upload_from_a_path_and_from_bytes_and_download(
    ar: Any, tmp_path: Path
) -> None:
    case = _customer_case(ar)
    report = tmp_path / "report.txt"
    report.write_bytes(b"host=srv-db01\nverdict=clean\n")
    from_path = ar.call(
        "upload_attachment",
        {
            "id": case["id"],
            "name": "report.txt",
            "content": f"@{report}",
            "mime_type": "text/plain",
        },
    )
    pcap = bytes(range(256))
    from_bytes = ar.call(
        "upload_attachment", {"id": case["id"], "name": "capture.pcap", "content": pcap}
    )
    assert (from_path["size"], from_bytes["size"]) == (28, 256)
    assert from_bytes["mimeType"] == "application/octet-stream"
    stored = {a["id"]: a["content"] for a in ar.state.attachments[case["id"]]}
    assert stored[from_path["id"]] == report.read_bytes() and stored[from_bytes["id"]] == pcap
    listed = ar.call("list_attachments", {"id": case["id"]})
    assert {a["id"] for a in listed} >= {from_path["id"], from_bytes["id"]}
    content = ar.call("download_attachment", {"id": case["id"], "attachment_id": from_bytes["id"]})
    assert base64.b64decode(content["content"]) == pcap
    assert content["content_type"] == "application/octet-stream" and content["size"] == 256
    target = tmp_path / "saved" / "report.txt"
    saved = ar.call(
        "download_attachment",
        {"id": case["id"], "attachment_id": from_path["id"], "save_to": str(target)},
    )
    assert saved["path"] == str(target) and target.read_bytes() == report.read_bytes()
    assert saved["content_type"].startswith("text/plain")


def test_downloading_an_unknown_attachment_is_not_found(ar: Any) -> None:
    with pytest.raises(NotFoundError, match="Attachment nope not found"):
        ar.call("download_attachment", {"id": 100025, "attachment_id": "nope"})


def test_a_read_only_user_cannot_upload(ar: Any) -> None:
    case = _customer_case(ar)
    with pytest.raises(PermissionDeniedError, match="needs write access"):
        ar.call(
            "upload_attachment",
            {"id": case["id"], "name": "x.txt", "content": b"x"},
            api_key=DEMO_KEYS["nordlys_readonly"],
        )


# ---------------------------------------------------------------- access


def test_access_mode_and_grants_are_managed_by_the_owner(ar: Any) -> None:
    case = _first(ar, lambda c: c["customerID"] == NORDLYS and not ar.state.acl[c["id"]])
    admin = DEMO_KEYS["admin"]
    restricted = ar.call(
        "set_access_mode", {"id": case["id"], "access_mode": "explicit"}, api_key=admin
    )
    assert restricted["accessMode"] == case["accessMode"] == "explicit"
    grant = ar.call("grant_access", {"id": case["id"], "subject_id": "ola.hansen"}, api_key=admin)
    assert (grant["subject"]["id"], grant["level"]) == (OLA, "read")
    upgraded = ar.call(
        "grant_access", {"id": case["id"], "subject_id": OLA, "level": "write"}, api_key=admin
    )
    assert upgraded["id"] == grant["id"] and upgraded["level"] == "write"
    owner = ar.call(
        "grant_access", {"id": case["id"], "subject_id": OLA, "level": "owner"}, api_key=admin
    )
    assert owner["level"] == "owner"
    upgraded = ar.call(
        "grant_access", {"id": case["id"], "subject_id": OLA, "level": "write"}, api_key=admin
    )
    grants = ar.call("get_access", {"id": case["id"]}, api_key=admin)
    assert [(e["id"], e["level"]) for e in grants] == [(grant["id"], "write")]
    with pytest.raises(NotFoundError):  # explicit mode holds for tech users too
        ar.call("get_access", {"id": case["id"]})
    seen = ar.call("get_case", {"id": case["id"]}, api_key=DEMO_KEYS["nordlys_readonly"])
    assert seen["currentUserAccess"]["level"] == "write"
    revoked = ar.call("revoke_access", {"id": case["id"], "entry_id": grant["id"]}, api_key=admin)
    assert revoked["id"] == grant["id"] and ar.state.acl[case["id"]] == []
    with pytest.raises(NotFoundError):
        ar.call("get_case", {"id": case["id"]}, api_key=DEMO_KEYS["nordlys_readonly"])


def test_changing_access_needs_owner_level(ar: Any) -> None:
    case = _first(
        ar, lambda c: c["reporterID"] not in (SOC_TECH, 103) and c["accessMode"] == "roleBased"
    )
    with pytest.raises(PermissionDeniedError, match="needs owner access"):
        ar.call("set_access_mode", {"id": case["id"], "access_mode": "explicit"})
    with pytest.raises(PermissionDeniedError, match="needs owner access"):
        ar.call("grant_access", {"id": case["id"], "subject_id": OLA})
    assert case["accessMode"] == "roleBased" and ar.state.acl[case["id"]] == []


def test_revoking_an_unknown_grant_is_not_found(ar: Any) -> None:
    case = _first(ar, lambda c: c["reporterID"] == SOC_TECH)
    with pytest.raises(NotFoundError, match="Access entry nope not found"):
        ar.call("revoke_access", {"id": case["id"], "entry_id": "nope"})


# ---------------------------------------------------------------- tags


def test_tags_are_added_listed_and_removed(ar: Any) -> None:
    case = _customer_case(ar)
    tags = ar.call(
        "add_tags", {"id": case["id"], "tags": ["plextrac/42", {"key": "site", "value": "oslo"}]}
    )
    pairs = {(t["key"], t["value"]) for t in tags}
    assert {("plextrac", "42"), ("site", "oslo")} <= pairs
    again = ar.call("add_tags", {"id": case["id"], "tags": ["plextrac/42"]})
    assert len(again) == len(tags)  # a pair the case holds is not added twice
    assert {t["id"] for t in ar.call("list_tags", {"id": case["id"]})} == {t["id"] for t in tags}
    left = ar.call("remove_tag", {"id": case["id"], "key": "plextrac", "value": "42"})
    assert ("plextrac", "42") not in {(t["key"], t["value"]) for t in left}
    assert len(left) == len(tags) - 1 == len(ar.state.tags[case["id"]])
    with pytest.raises(NotFoundError, match="Tag not found"):
        ar.call("remove_tag", {"id": case["id"], "key": "plextrac", "value": "42"})


def test_a_tag_is_removed_by_its_id(ar: Any) -> None:
    case = _customer_case(ar)
    tags = ar.call("add_tags", {"id": case["id"], "tags": ["plextrac/42", "site/oslo"]})
    doomed = next(t for t in tags if t["key"] == "plextrac")
    left = ar.call("remove_tag", {"id": case["id"], "tag_id": doomed["id"]})
    assert doomed["id"] not in {t["id"] for t in left}
    assert [t["id"] for t in left] == [t["id"] for t in ar.state.tags[case["id"]]]
    with pytest.raises(NotFoundError, match="Tag not found"):
        ar.call("remove_tag", {"id": case["id"], "tag_id": doomed["id"]})


def test_remove_tag_without_an_id_or_a_key_and_value_names_what_is_missing(ar: Any) -> None:
    case = _customer_case(ar)
    with pytest.raises(InvalidRequestError, match=r"the path value \{\{ input.key \}\} is empty"):
        ar.call("remove_tag", {"id": case["id"]})


# ---------------------------------------------------------------- services and categories


def test_services_and_categories(ar: Any) -> None:
    services = ar.call("list_services")
    assert [s["id"] for s in services] == sorted(ar.state.services)
    support = ar.call("get_service", {"service": "support"})
    assert support == ar.call("get_service", {"service": 6})
    assert support["caseTypes"] == ar.state.services[6]["caseTypes"]
    categories = ar.call("list_categories")
    assert [c["shortName"] for c in categories] == [
        c["shortName"] for c in ar.state.categories.values()
    ]
    firewall = ar.call("get_category", {"category": "firewall-operational"})
    assert firewall["id"] == 61
    assert firewall["bindings"] == [
        {
            "service": {
                "id": 6,
                "name": "Support",
                "shortName": "support",
                "localizedName": "Support",
            },
            "caseTypes": ["operationalIncident"],
        }
    ]
    with pytest.raises(NotFoundError, match="Service nosuch not found"):
        ar.call("get_service", {"service": "nosuch"})
    with pytest.raises(NotFoundError, match="Category 99 not found"):
        ar.call("get_category", {"category": 99})


def test_service_subscriptions_tell_where_a_user_may_file_cases(ar: Any) -> None:
    mine = ar.call("list_service_subscriptions", api_key=DEMO_KEYS["nordlys_readonly"])
    assert {s["customer"]["shortName"] for s in mine} == {"nordlys"}
    assert {s["currentUserAccess"]["level"] for s in mine} == {"read"}
    filtered = ar.call(
        "list_service_subscriptions", {"customer": ["nordlys", 3], "service": "support"}
    )
    assert sorted(s["customer"]["id"] for s in filtered) == [NORDLYS, FJORDLINE]
    assert {s["service"]["shortName"] for s in filtered} == {"support"}


# ---------------------------------------------------------------- poll triggers


def test_new_case_reports_cases_created_after_the_first_poll(ar: Any) -> None:
    async def polls(conn: Connection) -> Any:
        first, cursor = await _poll(conn, "new_case", {"type": "securityIncident"}, None)
        made = []
        for n, case_type in enumerate(("securityIncident", "change", "securityIncident")):
            made.append(
                await call_action(
                    conn,
                    "create_case",
                    {
                        "customer": "nordlys",
                        "service": "support",
                        "type": case_type,
                        "subject": f"New case {n}",
                        "description": "<p>x</p>",
                    },
                )
            )
        second, cursor2 = await _poll(conn, "new_case", {"type": "securityIncident"}, cursor)
        third, cursor3 = await _poll(conn, "new_case", {"type": "securityIncident"}, cursor2)
        return first, cursor, made, second, cursor2, third, cursor3

    first, cursor, made, second, cursor2, third, cursor3 = ar.session(polls)
    assert first == [] and isinstance(cursor, int)
    incidents = [made[0], made[2]]
    assert [key for key, _ in second] == [str(case["id"]) for case in incidents]
    assert [event["subject"] for _, event in second] == ["New case 0", "New case 2"]
    assert cursor2 == made[2]["createdTimestamp"]
    # The cursor's own millisecond is asked for again: the same event key, so no new job.
    assert {key for key, _ in third} <= {key for key, _ in second} and cursor3 == cursor2
    _validate(ar, ar.spec.triggers["new_case"].output_schema, [e for _, e in second])


def test_new_case_backfills_from_since_across_pages(ar: Any) -> None:
    since = "2024-02-01T00:00:00Z"
    events, cursor = ar.session(
        lambda conn: _poll(conn, "new_case", {"since": since, "customer": "nordlys"}, None)
    )
    expected = _visible(
        ar, lambda c: c["customerID"] == NORDLYS and c["createdTimestamp"] >= _ms(since)
    )
    assert len(expected) > 100  # more than one page of 100
    assert [int(key) for key, _ in events] == expected
    assert cursor == max(ar.state.cases[i]["createdTimestamp"] for i in expected)


def test_updated_case_reports_each_change(ar: Any) -> None:
    case = _customer_case(ar)

    async def polls(conn: Connection) -> Any:
        first, cursor = await _poll(conn, "updated_case", {"customer": "nordlys"}, None)
        await call_action(conn, "update_case", {"id": case["id"], "priority": "critical"})
        second, cursor2 = await _poll(conn, "updated_case", {"customer": "nordlys"}, cursor)
        await call_action(conn, "add_tags", {"id": case["id"], "tags": ["escalated/yes"]})
        third, cursor3 = await _poll(conn, "updated_case", {"customer": "nordlys"}, cursor2)
        return first, second, cursor2, third, cursor3

    first, second, cursor2, third, cursor3 = ar.session(polls)
    assert first == []
    assert len(second) == 1 and second[0][1]["priority"] == "critical"
    assert cursor2 == second[0][1]["lastUpdatedTimestamp"]
    assert second[0][0] == f"{case['id']}@{cursor2}"
    new = [(key, event) for key, event in third if key != second[0][0]]
    assert [event["id"] for _, event in new] == [case["id"]]
    assert cursor3 == case["lastUpdatedTimestamp"] > cursor2
    _validate(ar, ar.spec.triggers["updated_case"].output_schema, [e for _, e in second + third])


def test_updated_case_since_a_moment_in_the_seeded_year(ar: Any) -> None:
    since = "2024-12-15T00:00:00Z"
    events, _ = ar.session(lambda conn: _poll(conn, "updated_case", {"since": since}, None))
    expected = _visible(ar, lambda c: c["lastUpdatedTimestamp"] >= _ms(since))
    stamps = [event["lastUpdatedTimestamp"] for _, event in events]
    assert sorted(int(key.split("@")[0]) for key, _ in events) == expected
    assert stamps == sorted(stamps)
    assert all(re.fullmatch(r"\d+@\d+", key) for key, _ in events)
