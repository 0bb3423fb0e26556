"""The cases the connector's reference shows, so that each documented example runs as written.

The spec's examples name case 100025 (an open Security Monitoring incident of Fjordline, with
the comment, attachments and tag they read, edit and delete), case 100031 (a restricted Nordlys
case that soc.tech reported, with the access grant they list and revoke) and case 100500 (the
latest case, opened by the planradar-ticket-to-argus recipe from ticket 2 of the PlanRadar
sandbox's seed). After the seed, ``document`` replaces the generated cases of those ids with
them, keeping each one's place and creation time so that ids still ascend with it. It draws
from a random stream of its own, so every other case and every id minted later stay as the
seed made them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

from .data import seed_events
from .history import change, commit
from .records import acl_record, attachment_record, case_record, comment_record, tag_record
from .state import ArgusState, Record

MINUTE = 60_000
PCAP_HEADER = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")


def document(state: ArgusState) -> None:
    """Replace the generated cases 100025, 100031 and 100500 with the documented ones.

    A sandbox made with fewer cases keeps what it has: only existing ids are replaced.
    """
    with _own_stream(state):
        for case_id, build in ((100025, _incident), (100031, _restricted), (100500, _ticket)):
            if case_id in state.cases:
                created = state.cases[case_id]["createdTimestamp"]
                for table in (state.comments, state.tags, state.attachments, state.acl,
                              state.events, state.history):  # fmt: skip
                    table[case_id] = []
                build(state, created)


@contextmanager
def _own_stream(state: ArgusState) -> Iterator[None]:
    seeded = state.rng
    state.rng = random.Random("documented")
    try:
        yield
    finally:
        state.rng = seeded


def _open(state: ArgusState, case: Record) -> Record:
    state.add_case(case)
    commit(state, case, case["reporterID"], "createCase", [change("case", case["id"])],
           timestamp=case["createdTimestamp"])  # fmt: skip
    return case


def _tag(state: ArgusState, case: Record, tag_id: str, key: str, value: str, when: int) -> None:
    record = tag_record(state, key=key, value=value, user_id=case["reporterID"], added=when)
    record["id"] = tag_id
    state.tags[case["id"]].append(record)
    commit(state, case, case["reporterID"], "addCaseTag", [change("addTag", f"{key}/{value}")],
           timestamp=when)  # fmt: skip


def _incident(state: ArgusState, created: int) -> None:
    case = _open(
        state,
        case_record(
            case_id=100025,
            customer_id=3,
            service_id=2,
            case_type="securityIncident",
            subject="Outbound connection from srv-db01 to known C2 server 91.167.119.253",
            description="<p>srv-db01 contacted <code>91.167.119.253:443</code>, listed as "
            "command and control for Emotet.</p>",
            reporter_id=102,
            created=created,
            status="pendingCustomer",
            category_id=62,
        ),
    )
    case["assignedTechID"] = 101
    _tag(state, case, "02b0420e-dfdd-48d0-8772-109e0c2a9d90", "mitre", "T1059", created + 30_000)
    files = (
        ("79a7d5bb-d4a5-49e2-ba37-539d8f3a196c", "capture.pcap", "application/vnd.tcpdump.pcap",
         PCAP_HEADER + random.Random(100025).randbytes(64)),
        ("3d0c5a3e-5b0e-4f43-9d8e-0d5b8f5b9a11", "alert-summary.txt", "text/plain",
         b"host=srv-db01\n"),
    )  # fmt: skip
    for attachment_id, name, mime, content in files:
        record = attachment_record(
            state,
            name=name,
            mime_type=mime,
            content=content,
            user_id=102,
            added=created + 2 * MINUTE,
        )
        record["id"] = attachment_id
        state.attachments[case["id"]].append(record)
        commit(state, case, 102, "addCaseAttachment", [change("attachment", attachment_id)],
               timestamp=created + 2 * MINUTE)  # fmt: skip
    said = created + 2650 * MINUTE
    comment = comment_record(
        state,
        case,
        user_id=102,
        text="<p>The host has been isolated from the network.</p>",
        added=said,
    )
    comment["id"] = "b35feee1-1cd5-4fb2-8a41-a5236695a69c"
    state.comments[case["id"]].append(comment)
    commit(
        state, case, 102, "addCaseComment", [change("addComment", comment["id"])], timestamp=said
    )
    case["priority"] = "high"
    commit(state, case, 101, "updateCase", [change("priority", "high", "medium")], timestamp=said)
    text = {"sensor": "ids-trd-01", "bad_domain": "dhl-track.example", "ip": "10.40.181.225",
            "ext_ip": "91.167.119.253", "port": "443"}  # fmt: skip
    seed_events(state, state.rng, case, text, "malware")


def _restricted(state: ArgusState, created: int) -> None:
    case = _open(
        state,
        case_record(
            case_id=100031,
            customer_id=2,
            service_id=2,
            case_type="securityIncident",
            subject="Brute force against VPN gateway from 185.71.64.12",
            description="<p>212 failed VPN logins from <code>185.71.64.12</code> within ten "
            "minutes.</p>",
            reporter_id=101,
            created=created,
            status="workingSoc",
            priority="high",
            category_id=64,
            access_mode="readRestricted",
        ),
    )
    grant = acl_record(state, subject_id=401, level="read", user_id=101, added=created + MINUTE)
    grant["id"] = "a7eece16-a4d1-4314-b0f5-cdfd164ab910"
    state.acl[case["id"]].append(grant)
    commit(state, case, 101, "grantCaseAccess", [change("acl", "401:read")],
           timestamp=created + MINUTE)  # fmt: skip


def _ticket(state: ArgusState, created: int) -> None:
    ticket = "9ca5499d-004a-4545-a011-6be5ab0c1681"
    case = _open(
        state,
        case_record(
            case_id=100500,
            customer_id=2,
            service_id=6,
            case_type="operationalIncident",
            subject="PlanRadar ticket 2: Missing socket cover, main entrance",
            description="<p>Ticket 2 of PlanRadar project nqzkdw: Missing socket cover, main "
            "entrance.</p>",
            reporter_id=101,
            created=created,
            customer_reference=f"planradar:{ticket}",
        ),
    )
    for tag_id, key, value in (
        ("8132d7a5-5510-412d-ac11-994b4b0eff75", "source", "planradar"),
        ("d39eb0d0-73ce-441c-ae0a-49e1b718bc9f", "planradar-project", "nqzkdw"),
        ("1ef5101c-4147-4b02-aa74-093cb4c9d27b", "planradar-ticket", ticket),
    ):
        _tag(state, case, tag_id, key, value, created)
