"""The fixed part of the seed: customers, users and groups, API keys, services, subscriptions
and categories. It does not depend on the seed number.

Users hold one role-based grant: SOC staff of the service provider (customer ``mnemonic``)
are ``tech`` (or ``admin``) on every customer; customer users have ``write`` or ``read`` on
their own customer only.
"""

from __future__ import annotations

from typing import Any

from .state import ArgusState

BASE_TIME_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z: seeded data lies in the year before
DOMAIN = {"id": 1, "name": "mnemonic"}
PROVIDER_ID = 1

CUSTOMERS = (
    (1, "mnemonic", "mnemonic"),
    (2, "Nordlys Kraft AS", "nordlys"),
    (3, "Fjordline Logistikk AS", "fjordline"),
)

# id, customerID, userName, name, role, scope (None: every customer), write, privileges
USERS = (
    (101, 1, "soc.tech", "Siri Solberg", "tech", None, True, ("moveCase",)),
    (102, 1, "soc.analyst", "Jonas Berg", "tech", None, True, ()),
    (103, 1, "soc.admin", "Ingrid Haugen", "admin", None, True, ()),
    (201, 2, "kari.nordmann", "Kari Nordmann", "user", (2,), True, ()),
    (202, 2, "ola.hansen", "Ola Hansen", "user", (2,), False, ()),
    (203, 2, "lise.dahl", "Lise Dahl", "user", (2,), True, ()),
    (301, 3, "per.fjeld", "Per Fjeld", "user", (3,), True, ()),
    (302, 3, "anne.lund", "Anne Lund", "user", (3,), True, ()),
)
SOC_TECHS = (101, 102)

# id, customerID, shortName, name, members
GROUPS = (
    (401, 2, "nordlys-responders", "Nordlys incident responders", (201, 203)),
    (402, 1, "soc-l2", "SOC level 2", (101, 102)),
)

DEMO_KEYS = {
    "soc_tech": "1/101/sandbox-soc-tech",
    "soc_analyst": "1/102/sandbox-soc-analyst",
    "admin": "1/103/sandbox-admin",
    "nordlys_user": "2/201/sandbox-nordlys-user",
    "nordlys_readonly": "2/202/sandbox-nordlys-readonly",
    "fjordline_user": "3/301/sandbox-fjordline-user",
    "expired": "2/203/sandbox-expired",
    "office_network": "3/302/sandbox-office-network",
}
_KEY_LIMITS: dict[str, dict[str, Any]] = {
    "expired": {"validUntil": BASE_TIME_MS, "networks": None},
    "office_network": {"validUntil": None, "networks": ["10.20.0.0/16"]},
}

# id, shortName, name, description, case types
SERVICES = (
    (1, "administrative", "Administrative", "Service administration and user management",
     ("change", "informational")),
    (2, "ids", "Security Monitoring", "24/7 managed detection and response",
     ("securityIncident", "operationalIncident", "informational")),
    (3, "advisory", "Security Advisory", "Threat advisories and security reports",
     ("informational", "securityIncident")),
    (4, "vulnscan", "Vulnerability Management", "Scheduled vulnerability scanning",
     ("securityIncident", "informational", "change")),
    (6, "support", "Support", "Customer support",
     ("operationalIncident", "securityIncident", "change", "informational")),
)  # fmt: skip

SUBSCRIPTIONS = {
    2: ("ids", "support", "advisory", "vulnscan"),
    3: ("ids", "support", "administrative"),
}

# id, shortName, name, {service shortName: case types}
CATEGORIES = (
    (61, "firewall-operational", "Firewall operational incidents",
     {"support": ("operationalIncident",)}),
    (62, "malware", "Malware infection",
     {"ids": ("securityIncident",), "support": ("securityIncident",)}),
    (63, "phishing", "Phishing", {"ids": ("securityIncident",), "support": ("securityIncident",)}),
    (64, "unauthorized-access", "Unauthorized access", {"ids": ("securityIncident",)}),
    (65, "ddos", "Denial of service", {"ids": ("securityIncident", "operationalIncident")}),
    (66, "sensor-health", "Sensor health", {"ids": ("operationalIncident",)}),
    (67, "vulnerability", "Vulnerability",
     {"vulnscan": ("securityIncident", "informational"),
      "advisory": ("informational", "securityIncident")}),
    (68, "change-request", "Change request",
     {"support": ("change",), "administrative": ("change",), "vulnscan": ("change",)}),
    (69, "user-administration", "User administration",
     {"administrative": ("change", "informational")}),
)  # fmt: skip


def seed_directory(state: ArgusState) -> None:
    """Fill the directory tables of ``state``."""
    for cid, name, short in CUSTOMERS:
        state.customers[cid] = {"id": cid, "name": name, "shortName": short, "domain": DOMAIN}
    for uid, cid, user_name, name, role, scope, write, privileges in USERS:
        state.users[uid] = {
            "id": uid,
            "customerID": cid,
            "userName": user_name,
            "name": name,
            "email": f"{user_name}@{state.customers[cid]['shortName']}.example",
            "role": role,
            "scope": list(scope) if scope is not None else None,
            "write": write,
            "privileges": list(privileges),
        }
    for gid, cid, short, name, members in GROUPS:
        state.groups[gid] = {
            "id": gid,
            "customerID": cid,
            "shortName": short,
            "name": name,
            "members": list(members),
        }
    for label, key in DEMO_KEYS.items():
        limits = _KEY_LIMITS.get(label, {"validUntil": None, "networks": None})
        state.api_keys[key] = {"userID": int(key.split("/")[1]), **limits}
    for sid, short, name, description, types in SERVICES:
        state.services[sid] = {
            "id": sid,
            "shortName": short,
            "name": name,
            "description": description,
            "caseTypes": list(types),
        }
    for cid, shorts in SUBSCRIPTIONS.items():
        for short in shorts:
            sub_id = state.new_uuid()
            state.subscriptions[sub_id] = {
                "id": sub_id,
                "customerID": cid,
                "serviceID": _service_id(state, short),
            }
    for cat_id, short, name, bindings in CATEGORIES:
        state.categories[cat_id] = {
            "id": cat_id,
            "shortName": short,
            "name": name,
            "description": name,
            "bindings": [
                {"serviceID": _service_id(state, s), "caseTypes": list(types)}
                for s, types in bindings.items()
            ],
        }


def _service_id(state: ArgusState, short: str) -> int:
    service = state.service(short)
    assert service is not None, short
    return int(service["id"])
