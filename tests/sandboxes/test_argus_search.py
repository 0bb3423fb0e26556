"""The Argus sandbox's case searches: simple GET and advanced POST, pagination edges included.

Expected results are computed from the sandbox state, so the tests check the documented rules
(AND across parameters, OR within one, subcriteria, strategies), not particular seed numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from hookline.connectors.argus.sandbox import DEMO_KEYS, create_app
from hookline.connectors.argus.sandbox.access import access_level

with warnings.catch_warnings():
    # starlette asks for the httpx2 package; the installed httpx works the same for tests.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NOW = 1_760_000_000.0
DAY = 86_400_000


def key(name: str) -> dict[str, str]:
    return {"Argus-API-Key": DEMO_KEYS[name]}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(clock=lambda: NOW))


def state(client: TestClient) -> Any:
    return client.app.state.sandbox  # type: ignore[attr-defined]


def expected(client: TestClient, who: str, rule: Callable[[dict[str, Any]], bool]) -> list[int]:
    """Ids of the non-deleted cases ``who`` can read that satisfy ``rule``, in id order."""
    st = state(client)
    user = st.users[st.api_keys[DEMO_KEYS[who]]["userID"]]
    return sorted(
        c["id"]
        for c in st.cases.values()
        if "DELETED" not in c["flags"] and access_level(st, user, c) is not None and rule(c)
    )


def search(client: TestClient, criteria: dict[str, Any], who: str = "soc_tech") -> dict[str, Any]:
    response = client.post("/cases/v2/case/search", headers=key(who), json={"limit": 0, **criteria})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[int]:
    return [c["id"] for c in body["data"]]


def field_error(response: httpx.Response, field: str) -> None:
    assert response.status_code == 412
    messages = response.json()["messages"]
    assert messages[0]["type"] == "FIELD_ERROR" and messages[0]["field"] == field


# --- pagination -----------------------------------------------------------------------------


def test_simple_search_defaults_to_25_and_counts_everything(client: TestClient) -> None:
    body = client.get("/cases/v2/case", headers=key("soc_tech")).json()
    everything = expected(client, "soc_tech", lambda c: True)
    assert (body["limit"], body["offset"], body["size"]) == (25, 0, 25)
    assert body["count"] == len(everything)
    assert ids(body) == everything[:25]


def test_limit_zero_returns_everything_up_to_the_system_limit(client: TestClient) -> None:
    body = client.get("/cases/v2/case?limit=0", headers=key("soc_tech")).json()
    assert body["limit"] == 0 and body["size"] == body["count"] == len(body["data"])


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=100000000", "limit"), ("limit=-1", "limit"), ("offset=-5", "offset"),
     ("limit=ten", "limit"), ("offset=100001", "offset")],
)  # fmt: skip
def test_out_of_range_paging_is_412(client: TestClient, query: str, field: str) -> None:
    field_error(client.get(f"/cases/v2/case?{query}", headers=key("soc_tech")), field)


def test_offset_past_the_end_gives_an_empty_page_with_the_total(client: TestClient) -> None:
    body = client.get("/cases/v2/case?offset=5000&limit=10", headers=key("soc_tech")).json()
    assert body["data"] == [] and body["size"] == 0 and body["offset"] == 5000
    assert body["count"] == len(expected(client, "soc_tech", lambda c: True))


def test_paging_by_offset_plus_size_visits_every_case_once(client: TestClient) -> None:
    seen: list[int] = []
    offset = 0
    while True:
        body = search(client, {"limit": 40, "offset": offset, "customer": ["nordlys"]})
        seen += ids(body)
        offset = body["offset"] + body["size"]
        if body["count"] <= offset:
            break
    assert seen == expected(client, "soc_tech", lambda c: c["customerID"] == 2)


def test_count_timeout_option_reports_minus_one() -> None:
    timed_out = TestClient(create_app(case_count=30, count_timeout=True))
    body = timed_out.get("/cases/v2/case?limit=5", headers=key("soc_tech")).json()
    assert body["count"] == -1 and body["size"] == 5


# --- simple search --------------------------------------------------------------------------


def test_repeated_parameter_is_ored_and_different_parameters_are_anded(client: TestClient) -> None:
    query = "status=pendingSoc&status=workingSoc&customer=nordlys&limit=0"
    body = client.get(f"/cases/v2/case?{query}", headers=key("soc_tech")).json()
    want = expected(
        client,
        "soc_tech",
        lambda c: c["status"] in ("pendingSoc", "workingSoc") and c["customerID"] == 2,
    )
    assert want and ids(body) == want


def test_customer_by_id_or_short_name_and_service_by_short_name(client: TestClient) -> None:
    by_name = client.get(
        "/cases/v2/case?customer=fjordline&service=ids&limit=0", headers=key("soc_tech")
    )
    by_id = client.get("/cases/v2/case?customer=3&service=2&limit=0", headers=key("soc_tech"))
    want = expected(client, "soc_tech", lambda c: c["customerID"] == 3 and c["serviceID"] == 2)
    assert ids(by_name.json()) == ids(by_id.json()) == want


def test_legacy_customer_id_parameter_and_type_filter(client: TestClient) -> None:
    body = client.get(
        "/cases/v2/case?customerID=2&type=change&type=informational&limit=0",
        headers=key("soc_tech"),
    ).json()
    want = expected(
        client,
        "soc_tech",
        lambda c: c["customerID"] == 2 and c["type"] in ("change", "informational"),
    )
    assert want and ids(body) == want


def test_simple_keywords_must_all_match(client: TestClient) -> None:
    body = client.get(
        "/cases/v2/case?keywords=malware&keywords=detected&limit=0", headers=key("soc_tech")
    ).json()
    assert body["data"] and all(
        "malware" in (c["subject"] + c["description"]).lower() for c in body["data"]
    )
    one = client.get("/cases/v2/case?keywords=malware&limit=0", headers=key("soc_tech")).json()
    assert body["count"] < one["count"]


def test_unknown_customer_short_name_is_412(client: TestClient) -> None:
    field_error(client.get("/cases/v2/case?customer=nosuch", headers=key("soc_tech")), "customer")


def test_customer_user_only_finds_own_customers_cases(client: TestClient) -> None:
    body = client.get("/cases/v2/case?limit=0", headers=key("fjordline_user")).json()
    assert {c["customer"]["shortName"] for c in body["data"]} == {"fjordline"}
    assert ids(body) == expected(client, "fjordline_user", lambda c: True)
    assert (
        client.get("/cases/v2/case?customer=nordlys", headers=key("fjordline_user")).json()["count"]
        == 0
    )


# --- advanced search ------------------------------------------------------------------------


def test_subcriteria_are_ored_under_the_root_criteria(client: TestClient) -> None:
    subs = [{"status": ["pendingSoc"]}, {"priority": ["high"]}]
    body = search(client, {"customer": ["nordlys"], "subCriteria": subs})
    want = expected(
        client,
        "soc_tech",
        lambda c: c["customerID"] == 2 and (c["status"] == "pendingSoc" or c["priority"] == "high"),
    )
    assert ids(body) == want and body["count"] == len(want)


def test_exclude_subcriteria_removes_matches(client: TestClient) -> None:
    body = search(
        client, {"customerID": [2], "subCriteria": [{"exclude": True, "status": ["closed"]}]}
    )
    want = expected(client, "soc_tech", lambda c: c["customerID"] == 2 and c["status"] != "closed")
    assert want and ids(body) == want


def test_required_subcriteria_must_all_match(client: TestClient) -> None:
    criteria = {"subCriteria": [{"required": True, "type": ["securityIncident"]},
                                {"required": True, "priority": ["critical", "high"]},
                                {"service": ["ids"]}, {"service": ["support"]}]}  # fmt: skip
    want = expected(
        client,
        "soc_tech",
        lambda c: (
            c["type"] == "securityIncident"
            and c["priority"] in ("critical", "high")
            and c["serviceID"] in (2, 6)
        ),
    )
    assert want and ids(search(client, criteria)) == want


def test_nested_subcriteria_errors_name_the_path(client: TestClient) -> None:
    response = client.post(
        "/cases/v2/case/search",
        headers=key("soc_tech"),
        json={"subCriteria": [{"subCriteria": [{"status": ["done"]}]}]},
    )
    field_error(response, "subCriteria[0].subCriteria[0].status")


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({"statuss": ["closed"]}, "statuss"),
        ({"status": "closed"}, "status"),
        ({"priority": ["urgent"]}, "priority"),
        ({"service": ["nosuch"]}, "service"),
        ({"sortBy": ["color"]}, "sortBy"),
        ({"keywords": ["x"], "keywordMatchStrategy": "most"}, "keywordMatchStrategy"),
        ({"keywords": ["x"], "keywordFieldStrategy": ["title"]}, "keywordFieldStrategy"),
        ({"userID": [101], "userFieldStrategy": ["owner"]}, "userFieldStrategy"),
        ({"startTimestamp": "2024-01-01T00:00:00+01:00"}, "startTimestamp"),
        ({"limit": 100001}, "limit"),
        ({"subCriteria": [{"limit": 5}]}, "subCriteria[0].limit"),
    ],
)
def test_invalid_criteria_are_412_naming_the_field(
    client: TestClient, criteria: dict[str, Any], field: str
) -> None:
    field_error(client.post("/cases/v2/case/search", headers=key("soc_tech"), json=criteria), field)


def test_user_id_searches_all_user_fields_by_default(client: TestClient) -> None:
    st = state(client)
    commenters = {
        cid for cid, rows in st.comments.items() if any(c["addedByUserID"] == 203 for c in rows)
    }
    user_fields = ("reporterID", "assignedUserID", "assignedTechID", "createdByUserID",
                   "lastUpdatedByUserID", "closedByUserID", "publishedByUserID")  # fmt: skip
    want = expected(
        client, "soc_tech", lambda c: c["id"] in commenters or 203 in [c[f] for f in user_fields]
    )
    assert want and ids(search(client, {"userID": [203]})) == want


def test_user_field_strategy_narrows_to_the_named_fields(client: TestClient) -> None:
    body = search(client, {"userID": ["kari.nordmann"], "userFieldStrategy": ["createdByUser"]})
    want = expected(client, "soc_tech", lambda c: c["createdByUserID"] == 201)
    assert want and ids(body) == want
    wider = search(client, {"userID": [201]})
    assert wider["count"] > body["count"]


def test_keyword_field_strategy_and_any_match(client: TestClient) -> None:
    subject_only = search(client, {"keywords": ["isolated"], "keywordFieldStrategy": ["subject"]})
    in_comments = search(client, {"keywords": ["isolated"], "keywordFieldStrategy": ["comments"]})
    assert subject_only["count"] == 0 and in_comments["count"] > 0
    any_of = search(
        client, {"keywords": ["phishing", "brute force"], "keywordMatchStrategy": "any"}
    )
    all_of = search(client, {"keywords": ["phishing", "brute force"]})
    assert any_of["count"] > all_of["count"]


def test_keyword_matches_the_case_id(client: TestClient) -> None:
    body = search(client, {"keywords": ["100007"], "keywordFieldStrategy": ["id"]})
    assert ids(body) == [100007]


def test_time_range_on_created_timestamp_with_ms_and_iso(client: TestClient) -> None:
    st = state(client)
    created = sorted(c["createdTimestamp"] for c in st.cases.values())
    low, high = created[100], created[200]
    want = expected(client, "soc_tech", lambda c: low <= c["createdTimestamp"] <= high)
    by_ms = search(
        client,
        {"startTimestamp": low, "endTimestamp": high, "timeFieldStrategy": ["createdTimestamp"]},
    )
    assert ids(by_ms) == want
    day = "2024-06-01T00:00:00Z"
    by_iso = search(client, {"startTimestamp": day, "timeFieldStrategy": ["createdTimestamp"]})
    assert ids(by_iso) == expected(
        client, "soc_tech", lambda c: c["createdTimestamp"] >= 1_717_200_000_000
    )


def test_time_match_strategy_all_needs_every_field_in_range(client: TestClient) -> None:
    start = 1_717_200_000_000
    fields = ["createdTimestamp", "closedTimestamp"]
    any_body = search(client, {"startTimestamp": start, "timeFieldStrategy": fields})
    all_body = search(
        client, {"startTimestamp": start, "timeFieldStrategy": fields, "timeMatchStrategy": "all"}
    )
    want = expected(
        client,
        "soc_tech",
        lambda c: c["createdTimestamp"] >= start and (c["closedTimestamp"] or 0) >= start,
    )
    assert ids(all_body) == want and any_body["count"] > all_body["count"]


def test_relative_times_count_from_the_clock() -> None:
    late = TestClient(create_app(case_count=60, clock=lambda: 1_735_689_600.0))  # the base date
    body = late.post(
        "/cases/v2/case/search",
        headers=key("soc_tech"),
        json={
            "startTimestamp": "-30 days",
            "endTimestamp": "now",
            "timeFieldStrategy": ["createdTimestamp"],
            "limit": 0,
        },
    ).json()
    cutoff = 1_735_689_600_000 - 30 * DAY
    st = late.app.state.sandbox  # type: ignore[attr-defined]
    want = sorted(
        c["id"]
        for c in st.cases.values()
        if c["createdTimestamp"] >= cutoff and "DELETED" not in c["flags"]
    )
    assert ids(body) == want


def test_sort_by_descending_creation(client: TestClient) -> None:
    body = search(client, {"sortBy": ["-createdTimestamp"], "limit": 30})
    stamps = [c["createdTimestamp"] for c in body["data"]]
    assert stamps == sorted(stamps, reverse=True)
    by_priority = search(client, {"sortBy": ["-priority", "id"], "customer": ["fjordline"]})
    order = ["critical", "high", "medium", "low"]
    ranks = [order.index(c["priority"]) for c in by_priority["data"]]
    assert ranks == sorted(ranks)


def test_tag_criteria_match_key_value_or_key(client: TestClient) -> None:
    st = state(client)
    tagged = {
        cid
        for cid, rows in st.tags.items()
        if any((t["key"], t["value"]) == ("source", "edr") for t in rows)
    }
    keyed = {cid for cid, rows in st.tags.items() if any(t["key"] == "mitre" for t in rows)}
    assert ids(search(client, {"tag": ["source=edr"]})) == expected(
        client, "soc_tech", lambda c: c["id"] in tagged
    )
    assert ids(search(client, {"tag": ["mitre"]})) == expected(
        client, "soc_tech", lambda c: c["id"] in keyed
    )


def test_assigned_and_access_mode_criteria(client: TestClient) -> None:
    body = search(client, {"techAssigned": False, "accessMode": ["readRestricted", "explicit"]})
    want = expected(
        client,
        "soc_tech",
        lambda c: c["assignedTechID"] is None and c["accessMode"] in ("readRestricted", "explicit"),
    )
    assert want and ids(body) == want


def test_explicit_access_criteria_finds_cases_granted_to_a_group(client: TestClient) -> None:
    st = state(client)
    granted = {cid for cid, rows in st.acl.items() if any(e["subjectID"] == 401 for e in rows)}
    body = search(client, {"explicitAccess": ["nordlys-responders"]})
    assert granted and ids(body) == expected(client, "soc_tech", lambda c: c["id"] in granted)


def test_deleted_cases_need_include_deleted_and_the_tech_role(client: TestClient) -> None:
    deleted = sorted(c["id"] for c in state(client).cases.values() if "DELETED" in c["flags"])
    tech = search(client, {"includeDeleted": True, "includeFlags": ["DELETED"]})
    assert ids(tech) == deleted
    assert search(client, {"includeFlags": ["DELETED"]})["count"] == 0
    customer = search(
        client, {"includeDeleted": True, "includeFlags": ["DELETED"]}, who="nordlys_user"
    )
    assert customer["count"] == 0


def test_description_and_workflows_are_output_options(client: TestClient) -> None:
    plain = search(client, {"limit": 3})["data"][0]
    assert "description" in plain and "workflows" not in plain
    shaped = search(client, {"limit": 3, "includeDescription": False, "includeWorkflows": True})[
        "data"
    ][0]
    assert "description" not in shaped and "workflows" in shaped


def test_asset_and_field_criteria_match_nothing(client: TestClient) -> None:
    assert search(client, {"assetID": ["abc"]})["count"] == 0
    assert search(client, {"field": ["x"]})["count"] == 0


def test_explicit_access_criteria_in_mnemonics_object_form(client: TestClient) -> None:
    st = state(client)
    written = {
        cid
        for cid, rows in st.acl.items()
        if any(e["subjectID"] == 401 and e["level"] == "write" for e in rows)
    }
    body = search(client, {"explicitAccess": [{"subject": ["401"], "level": ["write"]}]})
    assert written and ids(body) == expected(client, "soc_tech", lambda c: c["id"] in written)


def test_service_criteria_initial_values_and_production_customers(client: TestClient) -> None:
    body = search(client, {"serviceCriteria": {"service": ["support"]}})
    assert ids(body) == expected(client, "soc_tech", lambda c: c["serviceID"] == 6)
    assert search(client, {"serviceCriteria": {"includeFlags": ["HANDLED_BY_SOC"]}})["count"] == 0
    initial = search(client, {"initialStatus": ["pendingCustomer"], "initialPriority": ["high"]})
    assert initial["count"] and ids(initial) == expected(
        client,
        "soc_tech",
        lambda c: c["initialStatus"] == "pendingCustomer" and c["initialPriority"] == "high",
    )
    everything = expected(client, "soc_tech", lambda c: True)
    assert ids(search(client, {"productionCustomers": True})) == everything
    assert search(client, {"productionCustomers": False})["count"] == 0
    assert search(client, {"userID": [101], "userFieldStrategy": ["watchedByUser"]})["count"] == 0


def test_search_sorts_by_the_models_user_and_reference_keys(client: TestClient) -> None:
    body = search(client, {"sortBy": ["customer", "-reporter"], "limit": 0})
    keys = [(c["customer"]["id"], -c["reporter"]["id"]) for c in body["data"]]
    assert keys == sorted(keys)
