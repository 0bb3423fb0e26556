"""Text for seeded cases: subjects, HTML descriptions, comments and tags a SOC would write.

Scenarios are keyed by category shortName, with one fallback per case type for cases without
a category. Placeholders (``{host}``, ``{ip}``...) are filled from the seed's
random stream (``values``), so every seed reads differently but reproducibly.
"""

from __future__ import annotations

import random

Scenario = tuple[str, str]

SCENARIOS: dict[str, list[Scenario]] = {
    "malware": [
        ("Malware detected on {host}",
         "<p>EDR reported <b>{malware}</b> on <code>{host}</code> (user {person}).</p>"
         "<p>SHA-256: <code>{sha}</code>. The process was quarantined.</p>"),
        ("Outbound connection from {host} to known C2 server {ext_ip}",
         "<p>{host} contacted <code>{ext_ip}:{port}</code>, listed as command and control for "
         "{malware}.</p><p>{count} connections in the last hour.</p>"),
    ],
    "phishing": [
        ("Suspected phishing e-mail reported by {person}",
         "<p>{person} reported an e-mail from <code>billing@{bad_domain}</code> asking for a "
         "password reset.</p><p>{count} recipients in the organisation.</p>"),
        ("Credential harvesting page {bad_domain} visited from {host}",
         "<p>Proxy logs show {host} loading <a href=\"https://{bad_domain}/login\">a fake "
         "login page</a>.</p>"),
    ],
    "unauthorized-access": [
        ("Successful login for {person} from unusual country {country}",
         "<p>Sign-in for <b>{person}</b> from {ext_ip} ({country}) after {count} failed "
         "attempts.</p>"),
        ("Brute force against VPN gateway from {ext_ip}",
         "<p>{count} failed VPN logins from <code>{ext_ip}</code> within ten minutes.</p>"),
    ],
    "ddos": [
        ("Volumetric traffic against {service_name} from {count} sources",
         "<p>Inbound UDP flood towards {ip} peaking at {count} Mbit/s.</p>"),
    ],
    "sensor-health": [
        ("Sensor {sensor} stopped sending traffic",
         "<p>No traffic received from sensor <code>{sensor}</code> since the last "
         "heartbeat.</p>"),
        ("High packet loss on sensor {sensor}",
         "<p>Sensor <code>{sensor}</code> reports {count}% packet loss on its monitoring "
         "port.</p>"),
    ],
    "firewall-operational": [
        ("Firewall {fw} cluster failover",
         "<p>The cluster {fw} failed over to its secondary node; sessions were "
         "re-established.</p>"),
        ("Firewall rule change needed for {host}",
         "<p>Please open TCP {port} from {ip} to {host} for the new backup service.</p>"),
    ],
    "vulnerability": [
        ("{cve} found on {host}",
         "<p>The scan of {host} found <b>{cve}</b> (CVSS {cvss}).</p>"
         "<p>Patch the affected package or apply the vendor workaround.</p>"),
        ("Internet-facing service on {ip} runs an outdated TLS configuration",
         "<p>{ip}:{port} accepts TLS 1.0 and weak ciphers.</p>"),
    ],
    "change-request": [
        ("Add {host} to monitoring scope",
         "<p>Please add {host} ({ip}) to the monitored assets from next week.</p>"),
        ("Update escalation contacts for {customer}",
         "<p>New on-call contact: {person}, available 24/7.</p>"),
    ],
    "user-administration": [
        ("New Argus user for {person}",
         "<p>Please create an Argus user for {person} with read access.</p>"),
    ],
    "type:securityIncident": [
        ("Suspicious PowerShell execution on {host}",
         "<p>Encoded PowerShell started by <code>winword.exe</code> on {host}.</p>"),
    ],
    "type:operationalIncident": [
        ("Log source {host} missing since yesterday",
         "<p>No events received from {host} for more than 12 hours.</p>"),
    ],
    "type:informational": [
        ("Monthly security report for {customer}",
         "<p>The monthly report is attached. {count} incidents were handled.</p>"),
        ("Advisory: actively exploited {cve}",
         "<p>{cve} is exploited in the wild; we found no affected assets so far.</p>"),
    ],
    "type:change": [
        ("Planned maintenance of {host}",
         "<p>{host} will be unavailable Saturday 22:00-23:00 for patching.</p>"),
    ],
}  # fmt: skip

SOC_COMMENTS = (
    "<p>We are investigating and will update the case within the hour.</p>",
    "<p>The host has been isolated from the network.</p>",
    "<p>Could you confirm whether this activity was expected?</p>",
    "<p>Blocked {ext_ip} in the perimeter firewall.</p>",
    "<p>Related events correlated; see the attached summary.</p>",
    "<p>No further activity observed. We suggest closing the case.</p>",
)
INTERNAL_COMMENTS = (
    "<p>Checked threat intel: {ext_ip} seen in two other customers this week.</p>",
    "<p>Escalated to L2 for malware analysis.</p>",
)
CUSTOMER_COMMENTS = (
    "<p>This was not expected. Please proceed.</p>",
    "<p>The user has reset the password.</p>",
    "<p>Confirmed: this was a planned change by our IT department.</p>",
    "<p>Thanks, we have reimaged the machine.</p>",
)

TAGS = (
    ("source", "edr"), ("source", "nids"), ("source", "email-gateway"), ("mitre", "T1566"),
    ("mitre", "T1059"), ("mitre", "T1110"), ("asset", "{host}"), ("escalation", "l2"),
)  # fmt: skip

_VALUES = {
    "host": ("ws-0142", "ws-0318", "srv-db01", "srv-web02", "srv-file01", "lt-0877", "dc01"),
    "malware": ("Emotet", "QakBot", "AgentTesla", "Cobalt Strike beacon", "RedLine stealer"),
    "bad_domain": ("secure-0365-login.example", "invoice-portal.example", "dhl-track.example"),
    "country": ("Brazil", "Vietnam", "Nigeria", "Russia", "Netherlands"),
    "sensor": ("ids-osl-01", "ids-brg-02", "ids-trd-01"),
    "fw": ("fw-core", "fw-dmz", "fw-branch"),
    "service_name": ("the customer portal", "the public website", "the VPN gateway"),
    "cve": ("CVE-2024-3400", "CVE-2023-4966", "CVE-2024-21762", "CVE-2023-34362"),
}


def values(rng: random.Random, **fixed: str) -> dict[str, str]:
    """Placeholder values for one case, drawn from ``rng`` (``fixed`` values win).

    One case's subject, description and comments are filled from the same values, so they
    speak of the same host and address.
    """
    drawn = {name: rng.choice(options) for name, options in _VALUES.items()}
    drawn.update(
        ip=f"10.{rng.randint(0, 40)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        ext_ip=f"{rng.choice((45, 91, 185, 193))}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"
        f".{rng.randint(1, 254)}",
        port=str(rng.choice((22, 443, 445, 3389, 8080, 4444))),
        count=str(rng.randint(3, 400)),
        cvss=f"{rng.uniform(5, 10):.1f}",
        sha=f"{rng.getrandbits(256):064x}",
    )
    drawn.update(fixed)
    return drawn


def scenario(rng: random.Random, category: str | None, case_type: str) -> Scenario:
    """A (subject, description) template pair fitting the category, else the case type."""
    options = SCENARIOS.get(category or "") or SCENARIOS[f"type:{case_type}"]
    return rng.choice(options)
