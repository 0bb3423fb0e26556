"""The seed: the fixed directory plus generated cases, reproducible from the seed number.

Cases are spread over the year before ``BASE_TIME_MS`` (2025-01-01), ids ascending with
creation time. Security monitoring, advisory and vulnerability cases are reported by SOC
staff; support and administrative cases by customer users. Older cases are mostly closed.
Each case gets a history consistent with its data (creation, comments, tags, attachments,
the status/priority change and the close), and monitoring incidents get aggregated events.
"""

from __future__ import annotations

import json
import random

from . import corpus
from .directory import BASE_TIME_MS, SOC_TECHS, seed_directory
from .history import change, commit
from .records import acl_record, attachment_record, case_record, comment_record, tag_record
from .render import customer as customer_info
from .state import ACCESS_MODES, PRIORITIES, ArgusState, Record

HOUR = 3_600_000
DAY = 24 * HOUR
FIRST_CASE_ID = 100_001

_SERVICE_WEIGHT = {"ids": 6, "support": 3, "vulnscan": 2, "advisory": 1, "administrative": 1}
_TYPE_WEIGHT = {"securityIncident": 5, "operationalIncident": 2, "informational": 2, "change": 1}
_SOC_SERVICES = ("ids", "advisory", "vulnscan")
# The open statuses seeded cases are drawn from (fixed, so a seed keeps giving the same data).
_OPEN = ("pendingCustomer", "pendingSoc", "pendingVendor", "workingSoc", "workingCustomer",
         "pendingClose")  # fmt: skip
_ATTACK = {
    "malware": (17, "Malware", "ET MALWARE Observed C2 domain in DNS lookup"),
    "phishing": (23, "Phishing", "ET PHISHING Successful credential phish"),
    "unauthorized-access": (8, "Brute force", "ET SCAN Excessive VPN authentication failures"),
    "ddos": (5, "Denial of service", "ET DOS Possible UDP flood"),
}
_DEFAULT_ATTACK = (30, "Suspicious activity", "ET POLICY Suspicious outbound connection")


def populate(state: ArgusState, case_count: int) -> None:
    """Fill ``state``: the directory, then ``case_count`` cases with everything attached."""
    seed_directory(state)
    rng = state.rng
    span = 365 * DAY
    created = sorted(BASE_TIME_MS - rng.randint(HOUR, span) for _ in range(case_count))
    for offset, when in enumerate(created):
        _seed_case(state, rng, FIRST_CASE_ID + offset, when)


def _seed_case(state: ArgusState, rng: random.Random, case_id: int, created: int) -> None:
    customer_id = rng.choices((2, 3), weights=(3, 2))[0]
    services = [
        s["serviceID"] for s in state.subscriptions.values() if s["customerID"] == customer_id
    ]
    weights = [_SERVICE_WEIGHT[state.services[s]["shortName"]] for s in services]
    service = state.services[rng.choices(services, weights)[0]]
    types = service["caseTypes"]
    case_type = rng.choices(types, [_TYPE_WEIGHT[t] for t in types])[0]
    bound = [c for c in state.categories if state.category_valid(c, service["id"], case_type)]
    category_id = rng.choice(bound) if bound and rng.random() < 0.8 else None
    category = state.categories[category_id]["shortName"] if category_id else None
    people = [u for u in state.users.values() if u["customerID"] == customer_id]
    writers = [u for u in people if u["write"]]
    soc_case = service["shortName"] in _SOC_SERVICES
    reporter = rng.choice(SOC_TECHS) if soc_case else rng.choice(writers)["id"]
    text = corpus.values(
        rng, person=rng.choice(people)["name"], customer=state.customers[customer_id]["name"]
    )
    subject, description = corpus.scenario(rng, category, case_type)
    priority = rng.choices(PRIORITIES, (3, 4, 2, 1))[0]
    raised = rng.random() < 0.2  # some cases were raised from a lower priority later
    initial_priority = PRIORITIES[max(0, PRIORITIES.index(priority) - 1)] if raised else priority
    case = case_record(
        case_id=case_id,
        customer_id=customer_id,
        service_id=service["id"],
        case_type=case_type,
        subject=subject.format(**text),
        description=description.format(**text),
        reporter_id=reporter,
        created=created,
        status="pendingCustomer" if soc_case else "pendingSoc",
        priority=initial_priority,
        category_id=category_id,
        access_mode=rng.choices(ACCESS_MODES, (88, 4, 4, 4))[0],
        customer_reference=f"INC{rng.randint(10000, 99999)}" if rng.random() < 0.3 else None,
        origin_email=None if soc_case or rng.random() < 0.7 else state.users[reporter]["email"],
    )
    if rng.random() < 0.7:
        case["assignedTechID"] = rng.choice(SOC_TECHS)
    if rng.random() < 0.4:
        case["assignedUserID"] = rng.choice(writers)["id"]
    if rng.random() < 0.1:
        case["workflows"] = [
            {"workflow": "validation", "state": rng.choice(("requested", "acknowledged"))}
        ]
    state.add_case(case)
    commit(state, case, reporter, "createCase", [change("case", case_id)], timestamp=created)

    end = min(BASE_TIME_MS - 1, created + rng.randint(HOUR, 20 * DAY))
    _seed_comments(state, rng, case, writers, text, end)
    _seed_tags(state, rng, case, text)
    _seed_attachments(state, rng, case, text)
    _seed_acl(state, rng, case)
    if service["shortName"] == "ids" and case_type == "securityIncident":
        seed_events(state, rng, case, text, category)
    _seed_outcome(state, rng, case, priority, end)
    state.history[case_id].sort(key=lambda t: t["timestamp"])
    last = state.history[case_id][-1]
    case["lastUpdatedTimestamp"], case["lastUpdatedByUserID"] = last["timestamp"], last["userID"]


def _seed_comments(
    state: ArgusState,
    rng: random.Random,
    case: Record,
    writers: list[Record],
    text: dict[str, str],
    end: int,
) -> None:
    times = sorted(
        rng.randint(case["createdTimestamp"] + 60_000, end) for _ in range(rng.randint(0, 5))
    )
    for n, when in enumerate(times):
        from_soc = n % 2 == 0
        internal = from_soc and rng.random() < 0.15
        pool = (
            corpus.INTERNAL_COMMENTS
            if internal
            else corpus.SOC_COMMENTS
            if from_soc
            else corpus.CUSTOMER_COMMENTS
        )
        author = rng.choice(SOC_TECHS) if from_soc else rng.choice(writers)["id"]
        record = comment_record(
            state,
            case,
            user_id=author,
            text=rng.choice(pool).format(**text),
            added=when,
            internal=internal,
        )
        state.comments[case["id"]].append(record)
        commit(
            state,
            case,
            author,
            "addCaseComment",
            [change("addComment", record["id"])],
            timestamp=when,
        )


def _seed_tags(state: ArgusState, rng: random.Random, case: Record, text: dict[str, str]) -> None:
    when = case["createdTimestamp"] + 30_000
    author = case["reporterID"]
    for key, value in rng.sample(corpus.TAGS, rng.randint(0, 3)):
        record = tag_record(state, key=key, value=value.format(**text), user_id=author, added=when)
        state.tags[case["id"]].append(record)
        commit(
            state,
            case,
            author,
            "addCaseTag",
            [change("addTag", f"{key}/{record['value']}")],
            timestamp=when,
        )


def _attachment_files(
    rng: random.Random, case: Record, text: dict[str, str]
) -> list[tuple[str, str, bytes]]:
    summary = (
        f"Case {case['id']}: {case['subject']}\n"
        f"host={text['host']} src={text['ip']} dst={text['ext_ip']}\n"
    )
    report = {"host": text["host"], "findings": [{"cve": text["cve"], "cvss": float(text["cvss"])}]}
    pcap_header = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")
    return [
        ("alert-summary.txt", "text/plain", summary.encode()),
        ("scan-report.json", "application/json", json.dumps(report).encode()),
        ("capture.pcap", "application/vnd.tcpdump.pcap", pcap_header + rng.randbytes(64)),
    ]


def _seed_attachments(
    state: ArgusState, rng: random.Random, case: Record, text: dict[str, str]
) -> None:
    if rng.random() >= 0.15:
        return
    when = case["createdTimestamp"] + 120_000
    author = case["reporterID"]
    for name, mime, content in rng.sample(_attachment_files(rng, case, text), rng.randint(1, 2)):
        record = attachment_record(
            state, name=name, mime_type=mime, content=content, user_id=author, added=when
        )
        state.attachments[case["id"]].append(record)
        commit(
            state,
            case,
            author,
            "addCaseAttachment",
            [change("attachment", record["id"])],
            timestamp=when,
        )


def _seed_acl(state: ArgusState, rng: random.Random, case: Record) -> None:
    if case["accessMode"] not in ("readRestricted", "explicit"):
        return
    when = case["createdTimestamp"] + 60_000
    grants = [(402, "write")] if case["accessMode"] == "explicit" else []
    if case["customerID"] == 2:
        grants.append((401, rng.choice(("read", "write"))))
    else:
        grants.append((rng.choice((301, 302)), "read"))
    for subject_id, level in grants:
        entry = acl_record(
            state, subject_id=subject_id, level=level, user_id=case["reporterID"], added=when
        )
        state.acl[case["id"]].append(entry)
        commit(
            state,
            case,
            case["reporterID"],
            "grantCaseAccess",
            [change("acl", f"{subject_id}:{level}")],
            timestamp=when,
        )


def _endpoint(address: str, port: int, public: bool) -> Record:
    return {
        "port": port,
        "geoLocation": None,
        "networkAddress": {
            "ipv6": False,
            "public": public,
            "maskBits": 32,
            "multicast": False,
            "host": True,
            "address": address,
        },
    }


def seed_events(
    state: ArgusState, rng: random.Random, case: Record, text: dict[str, str], category: str | None
) -> None:
    """The aggregated events behind a monitoring incident, told by ``text`` and ``category``."""
    alarm_id = rng.randint(1000, 9999)
    attack_id, attack_name, signature = _ATTACK.get(category or "", _DEFAULT_ATTACK)
    for _ in range(rng.randint(1, 4)):
        when = case["createdTimestamp"] - rng.randint(60_000, 2 * HOUR)
        state.events[case["id"]].append(
            {
                "id": f"AGGR/{when}/{case['customerID']}/{rng.getrandbits(128):032x}",
                "customerInfo": customer_info(state, case["customerID"]),
                "properties": {"engine": "nids", "sensor": text["sensor"]},
                "comments": [],
                "location": {
                    "id": 1,
                    "shortName": "osl",
                    "name": "Oslo",
                    "timeZone": "Europe/Oslo",
                },
                "attackInfo": {
                    "alarmID": alarm_id,
                    "alarmDescription": signature,
                    "attackCategoryID": attack_id,
                    "attackCategoryName": attack_name,
                    "signature": signature,
                },
                "domain": {"fqdn": text["bad_domain"]},
                "uri": f"https://{text['bad_domain']}/",
                "count": rng.randint(1, 50),
                "source": _endpoint(text["ip"], rng.randint(49152, 65535), False),
                "destination": _endpoint(text["ext_ip"], int(text["port"]), True),
                "protocol": "tcp",
                "timestamp": when,
                "startTimestamp": when - rng.randint(0, HOUR),
                "endTimestamp": when,
                "lastUpdatedTimestamp": when,
                "flags": ["ESTABLISHED"],
                "detailedEventIDS": [],
                "severity": case["priority"],
            }
        )


def _seed_outcome(
    state: ArgusState, rng: random.Random, case: Record, priority: str, end: int
) -> None:
    age = BASE_TIME_MS - case["createdTimestamp"]
    closed = rng.random() < (0.85 if age > 30 * DAY else 0.25)
    status = "closed" if closed else rng.choice(_OPEN)
    changes = []
    if priority != case["priority"]:
        changes.append(change("priority", priority, case["priority"]))
        case["priority"] = priority
    if not closed and status != case["status"]:
        changes.append(change("status", status, case["status"]))
        case["status"] = status
    actor = case["assignedTechID"] or case["reporterID"]
    if changes:
        commit(state, case, actor, "updateCase", changes, timestamp=end - 1)
    if closed:
        previous = case["status"]
        case.update(status="closed", closedTimestamp=end, closedByUserID=actor)
        commit(
            state, case, actor, "closeCase", [change("status", "closed", previous)], timestamp=end
        )
    if rng.random() < 0.01:
        case["flags"].append("DELETED")
        commit(
            state, case, SOC_TECHS[0], "deleteCase", [change("setFlag", "DELETED")], timestamp=end
        )
