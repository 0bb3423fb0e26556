"""mnemonic's own Python SDK (PyPI ``argus-api``) against the Argus sandbox.

The SDK's generated request functions send every field of mnemonic's request models, many
with default values (``descriptionTextFormat``, ``defaultWatchers``, ``internalComment:
false``, ``encryptedZipMode: none``...). Each function is called here as an integration would
call it, with the SDK's default arguments, against the sandbox served on loopback: every call
must succeed, and its effect must show in the sandbox's state.

The SDK is pointed at the sandbox with an ``ArgusAPISession`` (``api_url`` is the base URL, a
string ``auth`` is an API key sent as ``Argus-API-Key``) handed to each call as
``api_session``. argus-api is in the ``dev`` extra, so the module runs wherever the test
suite does; it is skipped only where the SDK is not installed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from hookline.connectors.argus.sandbox import DEMO_KEYS, ArgusState, create_app
from hookline.run.sandbox import running

case_api = pytest.importorskip("argus_api.lib.cases.v2.case")
session_module = pytest.importorskip("argus_api.session")

NOW = 1_760_000_000.0
SOC_TECH = 101


@pytest.fixture
def sdk() -> Iterator[tuple[Any, ArgusState]]:
    """An SDK session acting as the SOC tech against a fresh sandbox, and that sandbox's state."""
    app = create_app(case_count=20, clock=lambda: NOW)
    with running(app) as url:
        session = session_module.ArgusAPISession(
            DEMO_KEYS["soc_tech"],
            api_url=url,
            # Loopback must not go through a proxy named in the environment.
            proxies={"http": None, "https": None},
            max_retries=0,
        )
        yield session, app.state.sandbox


def _new_case(session: Any) -> dict[str, Any]:
    return case_api.create_case(  # type: ignore[no-any-return]
        description="<p>Traffic to a known C2 address from srv-db01.</p>",
        service="ids",
        subject="Outbound connection to a C2 server",
        type="securityIncident",
        customer="nordlys",
        api_session=session,
    )["data"]


def test_create_update_close_and_delete_a_case(sdk: tuple[Any, ArgusState]) -> None:
    session, state = sdk
    created = _new_case(session)
    case = state.cases[created["id"]]
    assert (case["accessMode"], case["priority"], case["reporterID"]) == (
        "roleBased",
        "medium",
        SOC_TECH,
    )
    assert created["description"] == "<p>Traffic to a known C2 address from srv-db01.</p>"

    updated = case_api.update_case(
        created["id"], priority="high", comment="Host isolated.", api_session=session
    )["data"]
    assert updated["priority"] == "high"
    (comment,) = state.comments[created["id"]]
    assert comment["comment"] == "Host isolated." and comment["flags"] == []

    closed = case_api.close_case(created["id"], comment="Reinstalled.", api_session=session)
    assert closed["data"]["status"] == "closed"

    deleted = case_api.delete_case(created["id"], api_session=session)["data"]
    assert "DELETED" in deleted["flags"] and "DELETED" in case["flags"]


def test_advanced_case_search_with_defaults_finds_what_the_user_reads(
    sdk: tuple[Any, ArgusState],
) -> None:
    session, state = sdk
    found = case_api.advanced_case_search(api_session=session)
    visible = [c for c in state.cases.values() if "DELETED" not in c["flags"]]
    assert found["count"] == len(visible)
    assert [c["id"] for c in found["data"]] == sorted(c["id"] for c in visible)[:25]


def test_comments_are_added_edited_and_deleted(sdk: tuple[Any, ArgusState]) -> None:
    session, state = sdk
    case_id = _new_case(session)["id"]
    added = case_api.add_comment(case_id, comment="First <b>look</b>", api_session=session)
    comment_id = added["data"]["id"]
    edited = case_api.edit_comment(case_id, comment_id, comment="Second look", api_session=session)
    assert edited["data"]["comment"] == "Second look"
    case_api.delete_comment(case_id, comment_id, api_session=session)
    (stored,) = state.comments[case_id]
    assert stored["comment"] == "Second look" and stored["flags"] == ["DELETED"]


def test_tags_are_added_and_removed_by_id(sdk: tuple[Any, ArgusState]) -> None:
    session, state = sdk
    case_id = _new_case(session)["id"]
    tags = case_api.add_case_tag(
        case_id, tags=[{"key": "plextrac", "value": "42"}], api_session=session
    )["data"]
    (tag,) = tags
    assert (tag["key"], tag["value"]) == ("plextrac", "42")
    left = case_api.remove_case_tag_by_id(case_id, tag["id"], api_session=session)
    assert left["data"] == [] and state.tags[case_id] == []


def test_an_attachment_is_added_with_the_sdk_defaults(sdk: tuple[Any, ArgusState]) -> None:
    session, state = sdk
    case_id = _new_case(session)["id"]
    content = b"host=srv-db01\nverdict=clean\n"
    added = case_api.add_attachment(
        case_id,
        data=base64.b64encode(content).decode(),
        mimeType="text/plain",
        name="verdict.txt",
        api_session=session,
    )["data"]
    (stored,) = state.attachments[case_id]
    assert (added["id"], stored["content"], stored["flags"]) == (stored["id"], content, [])
    raw = case_api.download_attachment(case_id, added["id"], json=False, api_session=session)
    assert raw.content == content and raw.headers["Content-Type"] == "text/plain"


def test_case_history_lists_every_transaction(sdk: tuple[Any, ArgusState]) -> None:
    session, state = sdk
    case_id = _new_case(session)["id"]
    case_api.add_comment(case_id, comment="Looking into it", api_session=session)
    history = case_api.list_case_history(case_id, api_session=session)
    assert [t["operation"] for t in history["data"]] == ["createCase", "addCaseComment"]
    assert history["count"] == len(state.history[case_id])


def test_access_is_restricted_granted_and_revoked(sdk: tuple[Any, ArgusState]) -> None:
    session, state = sdk
    case_id = _new_case(session)["id"]
    case_api.change_access_settings(case_id, accessMode="explicit", api_session=session)
    grant = case_api.grant_access(case_id, userOrGroup="ola.hansen", api_session=session)["data"]
    assert (grant["subject"]["userName"], grant["level"]) == ("ola.hansen", "read")
    listed = case_api.list_case_acl(case_id, api_session=session)["data"]
    assert [e["id"] for e in listed] == [grant["id"]]
    case_api.remove_access(case_id, grant["id"], api_session=session)
    assert state.cases[case_id]["accessMode"] == "explicit" and state.acl[case_id] == []


def test_tags_attachments_and_transactions_by_their_other_endpoints(
    sdk: tuple[Any, ArgusState],
) -> None:
    session, state = sdk
    case_id = _new_case(session)["id"]
    case_api.add_case_tag(case_id, tags=[{"key": "site", "value": "bergen"}], api_session=session)
    case_api.remove_case_tag_by_key_value(case_id, "site", "bergen", api_session=session)
    added = case_api.add_attachment(
        case_id, data="YWJj", mimeType="text/plain", name="a.txt", api_session=session
    )["data"]
    listed = case_api.list_case_attachments(case_id, api_session=session)["data"]
    assert [a["id"] for a in listed] == [added["id"]]
    case_api.delete_attachment(case_id, added["id"], api_session=session)
    first = state.history[case_id][0]["id"]
    one = case_api.get_case_transaction(case_id, first, api_session=session)["data"]
    assert one["operation"] == "createCase"
    assert state.tags[case_id] == [] and state.attachments[case_id] == []
