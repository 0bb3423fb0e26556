"""The seed: one tenant with demo users, 3 clients, 5 reports, 50 findings, an assessment, a
client asset for each host a finding affects, and one asset no finding lists (a retired
printer, which the spec's delete_asset example removes).

The demo users are fixed (their credentials are printed by ``hookline sandbox``); everything
else is drawn from ``random.Random(seed)`` with timestamps counted from a fixed base date, so a
seed always gives the same instance. Seed objects are made through the same functions the
create endpoints use, so they have exactly the shape created objects have.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from .assessments import new_assessment
from .assets import new_asset
from .findings import store_finding
from .reports import STATUSES as REPORT_STATUSES
from .reports import new_report
from .state import PlexTracState, Upload
from .tags import add_tag

BASE_MS = 1_740_992_400_000  # 2025-03-03T09:00:00Z
_CRITICALITY = {
    "Critical": "Critical",
    "High": "High",
    "Medium": "Medium",
    "Low": "Low",
    "Informational": "Information",
}
DAY_MS = 86_400_000
DEMO_PASSWORD = "plextrac-demo"
RETIRED_PRINTER = "cp5tr3t1r3dpr1nt3r0000001"
"""The id of the seeded asset no finding lists (its id is fixed, so no random draw is used)."""
MFA_SECRET = "JBSWY3DPEHPK3PXP"

# email, first, last, tenant role, has MFA, in the default group, disabled
DEMO_USERS = (
    ("demo@example.com", "Casey", "Morgan", "ADMIN", False, True, False),
    ("mfa@example.com", "Riley", "Chen", "ADMIN", True, True, False),
    ("std.user@example.com", "Jordan", "Patel", "STD_USER", False, False, False),
    ("analyst@example.com", "Sam", "Okafor", "ANALYST", False, False, False),
    ("former.employee@example.com", "Alex", "Reyes", "STD_USER", False, False, True),
)

_CLIENTS = (
    ("Karbo Industries", "Manufacturing"),
    ("Northwind Logistics", "Transport"),
    ("Aperture Health", "Healthcare"),
    ("Bluefin Bank", "Finance"),
    ("Cobalt Energy", "Utilities"),
    ("Helios Retail", "Retail"),
)
_ENGAGEMENTS = (
    "External Network Penetration Test",
    "Internal Network Penetration Test",
    "Web Application Assessment",
    "Cloud Configuration Review",
    "Wireless Assessment",
)
_TAGS = ("external", "internal", "web", "pci", "retest", "quick_win")
# title, severity, CWE, what the tester saw
_VULNERABILITIES = (
    (
        "SQL Injection in Login Form",
        "Critical",
        89,
        "the username parameter is concatenated into a SQL query",
    ),
    (
        "Default Credentials on Management Interface",
        "Critical",
        1392,
        "the vendor's default password is accepted",
    ),
    (
        "Unrestricted File Upload",
        "Critical",
        434,
        "server-side scripts can be uploaded and executed",
    ),
    (
        "Reflected Cross-Site Scripting",
        "High",
        79,
        "the search parameter is echoed without encoding",
    ),
    (
        "Stored Cross-Site Scripting",
        "High",
        79,
        "comment bodies are rendered as HTML to other users",
    ),
    (
        "Unpatched Apache HTTP Server",
        "High",
        1104,
        "the server banner reports a release with public exploits",
    ),
    (
        "Insecure Direct Object Reference",
        "High",
        639,
        "changing the invoice id shows other customers' invoices",
    ),
    (
        "LLMNR and NBT-NS Poisoning",
        "High",
        300,
        "name-resolution broadcasts were answered and hashes captured",
    ),
    (
        "Kerberoastable Service Accounts",
        "High",
        916,
        "service tickets for accounts with weak passwords were cracked",
    ),
    ("Server-Side Request Forgery", "High", 918, "the image proxy fetches internal metadata URLs"),
    ("Outdated TLS Protocols Supported", "Medium", 326, "TLS 1.0 and 1.1 are negotiated"),
    ("SMB Signing Not Required", "Medium", 294, "hosts accept unsigned SMB sessions"),
    (
        "Weak Password Policy",
        "Medium",
        521,
        "eight-character passwords without complexity are allowed",
    ),
    ("Open Redirect", "Medium", 601, "the next parameter redirects to any external host"),
    ("Cross-Site Request Forgery", "Medium", 352, "state-changing forms carry no anti-CSRF token"),
    ("Anonymous FTP Access", "Medium", 284, "the FTP service accepts anonymous logins"),
    (
        "SNMP Default Community String",
        "Medium",
        1188,
        "the public community string reads device configuration",
    ),
    (
        "Cleartext Protocols in Use",
        "Medium",
        319,
        "Telnet and HTTP logins cross the network unencrypted",
    ),
    (
        "Missing HTTP Security Headers",
        "Low",
        693,
        "Content-Security-Policy and HSTS headers are absent",
    ),
    ("Directory Listing Enabled", "Low", 548, "directory indexes are served for /static/"),
    (
        "Self-Signed TLS Certificate",
        "Low",
        295,
        "the certificate is not issued by a trusted authority",
    ),
    ("Clickjacking", "Low", 1021, "pages can be framed by other origins"),
    (
        "Session Cookie Without Secure Flag",
        "Low",
        614,
        "the session cookie is sent over plain HTTP",
    ),
    (
        "Sensitive Data in Server Banner",
        "Informational",
        200,
        "the banner discloses product and version",
    ),
    ("Verbose Error Messages", "Informational", 209, "stack traces are returned to the browser"),
)
_CVSS = {"Critical": 9.8, "High": 8.1, "Medium": 5.3, "Low": 3.1, "Informational": 0.0}
_QUESTIONS = (
    ("12.1", "Is an up-to-date inventory of the organization's network boundaries maintained?"),
    ("12.2", "Are connections to unauthorized IP addresses denied at each boundary?"),
    ("12.3", "Is traffic between network zones filtered according to documented rules?"),
    ("12.4", "Do remote logins to the internal network require multi-factor authentication?"),
    ("12.5", "Is boundary traffic monitored and logged for anomalies?"),
)
# A 1x1 transparent PNG: the image embedded in one seeded finding.
_PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def iso(ms: int) -> str:
    """Epoch milliseconds as PlexTrac's ISO date string (``2025-03-03T09:00:00.000Z``)."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _seed_users(state: PlexTracState) -> None:
    for index, (email, first, last, role, mfa, default_group, disabled) in enumerate(DEMO_USERS):
        created = BASE_MS - (200 - 20 * index) * DAY_MS
        user_id = state.new_id("user")
        state.users[email] = {
            "user_id": user_id,
            "cuid": state.new_cuid(),
            "tenant_id": state.tenant_id,
            "email": email,
            "first": first,
            "last": last,
            "fullName": f"{first} {last}",
            "name": {"first": first, "last": last},
            "roles": [role],
            "doc_type": "user",
            "disabled": disabled,
            "default_group": default_group,
            "authentication_provider": "plextrac",
            "isPaidUser": True,
            "language": "en",
            "dateFormat": "MM/DD/YYYY",
            "failedLogins": 0,
            "lastFailedLogin": None,
            "licenseKeys": [],
            "tenantClassificationLevel": None,
            "createdAt": created,
            "activatedAt": created,
            "updatedAt": created,
            "lastLogin": None if disabled else BASE_MS - index * DAY_MS,
        }
        state.passwords[email] = DEMO_PASSWORD
        if mfa:
            state.totp_secrets[email] = MFA_SECRET


def _seed_clients(state: PlexTracState) -> list[dict[str, Any]]:
    admins = {"demo@example.com": "ADMIN", "mfa@example.com": "ADMIN"}
    members = [
        {**admins, "std.user@example.com": "STD_USER", "analyst@example.com": "ANALYST"},
        {**admins, "std.user@example.com": "STD_USER"},
        admins,
    ]
    clients = []
    for (name, industry), assigned in zip(state.rng.sample(_CLIENTS, 3), members, strict=True):
        client_id = state.new_id("client")
        contact = name.split()[0].lower()
        client = {
            "cuid": state.new_cuid(),
            "tenant_id": state.tenant_id,
            "client_id": client_id,
            "name": name,
            "poc": "Security Office",
            "poc_email": f"security@{contact}.example",
            "description": f"<p>{name} ({industry.lower()}): annual testing programme.</p>",
            "classificationId": None,
            "custom_field": [{"label": "Industry", "value": industry}],
            "tags": sorted(state.rng.sample(_TAGS, 2)),
            "logo": "",
            "licenseKeys": [],
            "doc_type": "client",
            "users": {e: {"role": r, "classificationId": None} for e, r in assigned.items()},
        }
        state.clients[client_id] = client
        clients.append(client)
    return clients


def _seed_report(state: PlexTracState, client: dict[str, Any], number: int) -> dict[str, Any]:
    created = BASE_MS + number * 14 * DAY_MS
    operators = [e for e, grant in client["users"].items() if grant["role"] != "ANALYST"][-1:]
    fields = {
        "name": f"2025 {state.rng.choice(_ENGAGEMENTS)} #{number + 1}",
        "status": state.rng.choice(REPORT_STATUSES),
        "start_date": iso(created),
        "end_date": iso(created + 5 * DAY_MS),
        "tags": sorted(state.rng.sample(_TAGS, 2)),
        "operators": operators,
        "reviewers": ["demo@example.com"],
        "template": state.new_uuid(),
        "template_name": "Standard Penetration Test Report",
        "fields_template": state.new_uuid(),
        "fields_template_name": "Default Findings Layout",
        "includeEvidence": True,
        "exec_summary": {
            "custom_fields": [
                {
                    "id": state.new_cuid(),
                    "label": "Executive Summary",
                    "tags": [],
                    "text": f"<p>Testing of {client['name']} found issues summarised below.</p>",
                    "isFromNarrativesDB": False,
                    "cuid": state.new_cuid(),
                }
            ]
        },
    }
    return new_report(state, client["client_id"], fields, created)


def _finding_body(
    state: PlexTracState,
    report: dict[str, Any],
    vulnerability: tuple[str, str, int, str],
    image: str,
) -> dict[str, Any]:
    title, severity, cwe, observed = vulnerability
    octets = (state.rng.randrange(1, 255) for _ in range(2))
    host = f"10.{report['client_id'] % 256}." + ".".join(str(o) for o in octets)
    asset_id = state.new_cuid()
    picture = f'<p><img src="/api/v1/{image}"></p>' if image else ""
    published = report["status"] == "Published" or state.rng.random() < 0.5
    return {
        "title": title,
        "severity": severity,
        "status": state.rng.choices(("Open", "In Process", "Closed"), (5, 2, 3))[0],
        "visibility": "published" if published else "draft",
        "description": f"<p>During testing, {observed} on <strong>{host}</strong>.</p>{picture}",
        "recommendations": f"<p>Remediate <em>{title.lower()}</em> and retest.</p>",
        "references": f'<p><a href="https://cwe.mitre.org/data/definitions/{cwe}.html">CWE-{cwe}</a></p>',
        "tags": sorted(state.rng.sample(_TAGS, state.rng.randrange(0, 3))),
        "assignedTo": state.rng.choice([*report["operators"], None]),
        "common_identifiers": {
            "CWE": [
                {
                    "id": cwe,
                    "link": f"https://cwe.mitre.org/data/definitions/{cwe}.html",
                    "name": f"CWE-{cwe}",
                }
            ]
        },
        "risk_score": {"CVSS3_1": {"overall": _CVSS[severity], "vector": ""}},
        "affected_assets": {
            asset_id: {
                "asset": host,
                "id": asset_id,
                "ports": {},
                "status": "Open",
                "locationUrl": "",
                "vulnerableParameters": [],
                "evidence": [],
                "notes": "",
            }
        },
    }


def _seed_findings(state: PlexTracState, report: dict[str, Any], image: str) -> None:
    for index, vulnerability in enumerate(state.rng.sample(_VULNERABILITIES, 10)):
        created = report["created_at"] + (index + 1) * 3_600_000
        body = _finding_body(state, report, vulnerability, image if index == 0 else "")
        finding = store_finding(state, report, body, now=created)
        if finding["status"] == "Closed":
            finding["closedAt"] = finding["last_update"] = created + 3 * DAY_MS


def _seed_assessment(state: PlexTracState, client: dict[str, Any]) -> None:
    options = ["Yes", "Partially", "No"]
    body = {
        "questionnaire_id": state.new_cuid(),
        "assessment_title": "CIS Control 12: Boundary Defense",
        "questions": [
            {"qid": qid, "question": text, "type": "choice", "options": options, "required": True}
            for qid, text in _QUESTIONS
        ],
        "answers": [
            {
                "qid": qid,
                "answer": state.rng.choice(options),
                "note": f"<p>Checked with the network team ({qid}).</p>",
            }
            for qid, _ in _QUESTIONS
        ],
        "saveOnly": False,
    }
    by_user = state.users["demo@example.com"]["user_id"]
    new_assessment(state, client, body, by_user=by_user, now=BASE_MS + 20 * DAY_MS)


def seed(state: PlexTracState) -> None:
    """Fill an empty ``state`` with the demo tenant."""
    for kind, first in (("user", 101), ("client", 1001), ("report", 500001), ("assessment", 3001)):
        state.start_ids(kind, first)
    _seed_users(state)
    clients = _seed_clients(state)
    image = f"uploads/{state.new_uuid()}.png"
    state.uploads[image.removeprefix("uploads/")] = Upload(_PIXEL_PNG, "image/png", servable=True)
    for number, client in enumerate([clients[0], clients[0], clients[1], clients[1], clients[2]]):
        report = _seed_report(state, client, number)
        _seed_findings(state, report, image if number == 0 else "")
    _seed_assessment(state, clients[0])
    for tagged in [*state.clients.values(), *state.reports.values(), *state.findings.values()]:
        for name in tagged["tags"]:
            add_tag(state, name)
    _seed_assets(state)


def _seed_assets(state: PlexTracState) -> None:
    """Each host a seeded finding affects becomes an asset of the finding's client."""
    for finding in state.findings.values():
        for asset_id, affected in finding["affected_assets"].items():
            fields = {
                "asset": affected["asset"],
                "knownIps": [affected["asset"]],
                "type": "Server",
                "assetCriticality": _CRITICALITY[finding["severity"]],
            }
            new_asset(state, finding["client_id"], fields, finding["createdAt"], asset_id)
    printer = {"asset": "prn-lobby-01", "type": "Printer", "assetCriticality": "Low",
               "knownIps": ["10.233.9.20"], "tags": ["retired"]}  # fmt: skip
    new_asset(state, 1001, printer, BASE_MS, RETIRED_PRINTER)
