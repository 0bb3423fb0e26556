"""The seed: demo keys and users, and the rows of every table, the same for the same seed.

All dates are fixed relative to ``BASE_DATE`` (2026-06-01 08:00 UTC), the spread of the seed
reaching up to 120 days before it, so anything written later through the API is newer than
every seed row. Names that recipes look things up by (locations, list codes, the demo keys)
do not depend on the seed; people, numbers, statuses and dates do.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from functools import partial

from .access import ApiKey, ApiUser, Section
from .database import Database

BASE_DATE = datetime(2026, 6, 1, 8, 0, 0, tzinfo=UTC)

DEMO_USERNAME = "api.demo"
DEMO_PASSWORD = "pcr360-demo"
FULL_KEY = "demo-full-access"
READ_ONLY_KEY = "demo-read-only"
SERVICE_DESK_KEY = "demo-service-desk"
EXPIRED_KEY = "demo-expired"
EXPIRED_USERNAME = "former.user"

SD_TYPES = {"IN": "Incident", "SO": "Service Order"}
SD_STATUSES = ("Pending", "Complete", "Finalized", "Hold", "Void", "Billed")
SD_ACTIONS = tuple(
    [
        "ADD",
        "CHG_MOVE",
        "CHG_UPDOWN",
        "CHG_MISC",
        "REMOVE",
        "CHG_SERVICE_ID",
        "CHG_MULTI_LOCATION",
        "CHG_OWNER",
        "TASK",
    ]
)

_LISTS = {
    "URGENCY": [("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High"), ("CRITICAL", "Critical")],
    "SD_ACTION": [
        (code, code.replace("CHG_", "Change ").replace("_", " ").title()) for code in SD_ACTIONS
    ],
    "CONTACT_TYPE": [("USER", "User"), ("WORKER", "Worker")],
    "LOCATION_TYPE": [
        ("CAMPUS", "Campus"),
        ("BUILDING", "Building"),
        ("FLOOR", "Floor"),
        ("ROOM", "Room"),
        ("WAREHOUSE", "Warehouse"),
    ],
}

# (name, parent index or None, type code, building id, street address)
_LOCATIONS = [
    ("Main Campus", None, "CAMPUS", None, "1 University Ave"),
    ("Science Hall", 0, "BUILDING", "SCI", "20 University Ave"),
    ("Library", 0, "BUILDING", "LIB", "30 University Ave"),
    ("Administration Building", 0, "BUILDING", "ADM", "10 University Ave"),
    ("Student Center", 0, "BUILDING", "STC", "40 University Ave"),
    ("Warehouse 1", 0, "WAREHOUSE", "WH1", "90 Service Rd"),
    ("Floor 2", 1, "FLOOR", "SCI", "20 University Ave"),
    ("Room 101", 2, "ROOM", "LIB", "30 University Ave"),
]

_FIRST = [
    "Ada",
    "Ben",
    "Carla",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Iris",
    "Jon",
    "Kira",
    "Luis",
    "Mina",
    "Noah",
    "Olga",
    "Pat",
]
_LAST = [
    "Anders",
    "Brooks",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Gupta",
    "Hale",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Moreau",
    "Novak",
    "Okafor",
    "Price",
]
_URGENCIES = ["LOW", "MEDIUM", "MEDIUM", "HIGH", "CRITICAL"]
_DEPARTMENTS = ["IT Services", "Facilities", "Library", "Chemistry", "Athletics"]
_SERVICE_CATALOG = [
    (11, "Analog Line"),
    (12, "VoIP Line"),
    (13, "Data Port"),
    (14, "Wireless Access"),
    (15, "Cellular Device"),
]
_EQUIPMENT_CATALOG = [
    (31, "Cisco 8845 IP Phone", 395.0),
    (32, "Polycom VVX 450", 289.0),
    (33, "Catalyst 9300 Switch", 4850.0),
    (34, "Aruba AP-515", 812.5),
]
_INCIDENTS = [
    "Phone has no dial tone in {place}",
    "Wireless outage in {place}",
    "Voicemail not working for {person}",
    "Network port dead in {place}",
    "Calls dropping on line {line}",
]
_ORDERS = [
    "New phone line for {person}",
    "Move data port in {place}",
    "Upgrade wireless in {place}",
    "Remove analog line {line}",
    "New hire setup for {person}",
]


Places = list[tuple[int, str]]  # (RECID, LOCATIONS_PATH)
People = list[tuple[int, str, bool]]  # (RECID, "Last, First", is a worker)
Lines = list[tuple[int, str]]  # (RECID, SERVICE_ID)
ListIds = dict[tuple[str, str], int]  # (LIST_TYPE, CODE) -> RECID


def stamp(moment: datetime) -> str:
    """A date as the platform writes it: ``YYYY-MM-DD hh:mm:ss``."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def demo_keys() -> dict[str, ApiKey]:
    """The demo API keys: full, read-only, service-desk-only, and one already expired."""
    every = frozenset(Section)
    desk = frozenset({Section.SERVICE_DESK})
    expired_at = (BASE_DATE - timedelta(days=30)).timestamp()
    keys = [
        ApiKey(FULL_KEY, "Integration key: read and write everything", every, every),
        ApiKey(READ_ONLY_KEY, "Reporting key: read everything", every, frozenset()),
        ApiKey(SERVICE_DESK_KEY, "Ticketing key: Service Desk only", desk, desk),
        ApiKey(EXPIRED_KEY, "Retired integration key", every, every, expired_at),
    ]
    return {key.key: key for key in keys}


def demo_users() -> dict[str, ApiUser]:
    """The demo API user, and a user whose API access has ended."""
    ended = (BASE_DATE - timedelta(days=10)).timestamp()
    users = [ApiUser(DEMO_USERNAME, DEMO_PASSWORD), ApiUser(EXPIRED_USERNAME, "gone", ended)]
    return {user.username: user for user in users}


def seed_tables(db: Database, rng: random.Random) -> None:
    """Fill every table; RECID ranges differ per table so ids are easy to tell apart."""
    lists = _seed_lists(db)
    locations = _seed_locations(db, lists)
    contacts = _seed_contacts(db, rng, lists, locations)
    services = _seed_services(db, rng, contacts, locations)
    _seed_equipment(db, rng, contacts, locations)
    _seed_service_desk(db, rng, lists, contacts, locations, services)


def _ago(rng: random.Random, days: float = 120) -> datetime:
    return BASE_DATE - timedelta(seconds=rng.randrange(int(days * 86400)))


def _seed_lists(db: Database) -> ListIds:
    db.start_sequence("LISTS", 1001)
    recids = {}
    for list_type, entries in _LISTS.items():
        for order, (code, value) in enumerate(entries, 1):
            row = {"LIST_TYPE": list_type, "CODE": code, "VALUE": value, "SORT_ORDER": order}
            recids[list_type, code] = db.insert("LISTS", row)
    return recids


def _seed_locations(db: Database, lists: ListIds) -> Places:
    db.start_sequence("LOCATIONS", 101)
    made: Places = []
    for number, (name, parent, kind, building, street) in enumerate(_LOCATIONS):
        path = f"{made[parent][1]} > {name}" if parent is not None else name
        row = {
            "NAME": name,
            "PARENT_LOCATIONS_RECID": made[parent][0] if parent is not None else None,
            "LOCATION_TYPE_LISTS_RECID": lists["LOCATION_TYPE", kind],
            "LOCATIONS_PATH": path,
            "STATUS": 1,
            "WAREHOUSE": int(kind == "WAREHOUSE"),
            "LATITUDE": 42.96 + number / 1000,
            "LONGITUDE": -85.67 - number / 1000,
            "BUILDING_ID": building,
            "STREET_ADDRESS": street,
            "CITY": "Grand Rapids",
            "STATE": "MI",
            "MODIFIED_DATE": stamp(BASE_DATE - timedelta(days=365)),
        }
        made.append((db.insert("LOCATIONS", row), path))
    return made


def _seed_contacts(db: Database, rng: random.Random, lists: ListIds, locations: Places) -> People:
    """Fourteen contacts, the first four Workers (service reps); returns (RECID, name, worker)."""
    db.start_sequence("CONTACTS", 201)
    made: People = []
    names = list(zip(rng.sample(_FIRST, 14), rng.sample(_LAST, 14), strict=True))
    for number, (first, last) in enumerate(names):
        worker = number < 4
        row = {
            "FIRST_NAME": first,
            "LAST_NAME": last,
            "EMAIL": f"{first.lower()}.{last.lower()}@example.edu",
            "PHONE": f"616-555-{rng.randrange(10000):04d}",
            "CONTACT_TYPE_LISTS_RECID": lists["CONTACT_TYPE", "WORKER" if worker else "USER"],
            "LOCATIONS_RECID": rng.choice(locations)[0],
            "STATUS": 1,
            "MODIFIED_DATE": stamp(_ago(rng, 365)),
        }
        made.append((db.insert("CONTACTS", row), f"{last}, {first}", worker))
    return made


def _seed_services(db: Database, rng: random.Random, contacts: People, locations: Places) -> Lines:
    """Twenty services, each with one or two charges; returns (RECID, SERVICE_ID)."""
    db.start_sequence("SERVICES", 2001)
    db.start_sequence("SERVICES_CHARGES", 3001)
    made: Lines = []
    for _ in range(20):
        cat_recid, catalog = rng.choice(_SERVICE_CATALOG)
        digits = f"616555{rng.randrange(10000):04d}"
        location_recid, path = rng.choice(locations[1:])
        modified = _ago(rng)
        owner = rng.choice([rng.choice(contacts)[1], rng.choice(_DEPARTMENTS)])
        row = {
            "MODIFIED_DATE": stamp(modified),
            "BILLABLE": rng.choice(["Yes", "Yes", "No"]),
            "STATUS_DATE": stamp(modified - timedelta(days=rng.randrange(30))),
            "CAT_RECID": cat_recid,
            "SERVICE_HOST": "PBX-1" if "Line" in catalog else None,
            "SERVICE_ID": digits,
            "SERVICE_ID_FMT": f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
            "CATALOG": catalog,
            "OWNER": owner,
            "MODIFIED_BY": "PCR User",
            "LOCATIONS_RECID": location_recid,
            "LOCATIONS_PATH": path,
            "SLA_CATALOG_PATH": rng.choice(["Standard > Business Hours", "Premium > 24x7"]),
            "SERVICES_STATUS": rng.choice(["Active", "Active", "Active", "Pending", "Inactive"]),
        }
        recid = db.insert("SERVICES", row)
        made.append((recid, digits))
        charges = [("Monthly service", "Monthly", round(rng.uniform(8, 45), 2))]
        if rng.random() < 0.5:
            charges.append(("Installation", "One Time", round(rng.uniform(50, 150), 2)))
        for description, frequency, amount in charges:
            db.insert(
                "SERVICES_CHARGES",
                {
                    "SERVICES_RECID": recid,
                    "DESCRIPTION": description,
                    "AMOUNT": amount,
                    "FREQUENCY": frequency,
                    "START_DATE": modified.strftime("%Y-%m-%d"),
                    "END_DATE": None,
                    "MODIFIED_DATE": stamp(modified),
                },
            )
    return made


def _seed_equipment(db: Database, rng: random.Random, contacts: People, locations: Places) -> None:
    db.start_sequence("EQUIPMENT", 4001)
    for number in range(24):
        cat_recid, catalog, price = rng.choice(_EQUIPMENT_CATALOG)
        received = _ago(rng, 360)
        location_recid, path = rng.choice(locations[1:])
        department = rng.choice(_DEPARTMENTS)
        row = {
            "MODIFIED_DATE": stamp(max(received, _ago(rng))),
            "BILLABLE": rng.choice(["Yes", "No"]),
            "EQUIPMENT_ID": f"EQ-{number + 1:05d}",
            "ASSET_TAG": f"A{rng.randrange(10**6):06d}",
            "SERIAL_NUM": f"{rng.choice('FGHK')}{rng.randrange(16**9):09X}",
            "PURCHASE_PRICE": price,
            "CONSUMED": rng.choice(["No", "No", "Yes"]),
            "RECEIVED_DATE": stamp(received),
            "BILLED_DATE": stamp(received + timedelta(days=30)) if rng.random() < 0.6 else None,
            "CAT_RECID": cat_recid,
            "MODIFIED_BY": "PCR User",
            "CATALOG": catalog,
            "OWNER": rng.choice([rng.choice(contacts)[1], department]),
            "DEPT_HIERARCHY_PATH": f"University > {department}",
            "LOCATIONS_RECID": location_recid,
            "LOCATIONS_PATH": path,
            "E_EQP_STATUS_VALUE": rng.choice(["In Service", "In Service", "Spare", "Retired"]),
        }
        db.insert("EQUIPMENT", row)


def _seed_service_desk(
    db: Database,
    rng: random.Random,
    lists: ListIds,
    contacts: People,
    locations: Places,
    services: Lines,
) -> None:
    """Thirty-six items, RECIDs in creation order; service orders get one or two actions."""
    db.start_sequence("SERVICE_DESK", 10001)
    db.start_sequence("SERVICE_DESK_ACTIONS", 20001)
    created_dates = sorted(_ago(rng) for _ in range(36))
    workers = [c for c in contacts if c[2]]
    statuses = rng.choices(SD_STATUSES, weights=[40, 25, 15, 10, 5, 5], k=36)
    for created, status in zip(created_dates, statuses, strict=True):
        code = rng.choice(["IN", "IN", "SO"])
        requestor, csr = rng.choice(contacts[4:]), rng.choice(workers)
        location_recid, path = rng.choice(locations[1:])
        service = rng.choice(services)
        text = rng.choice(_INCIDENTS if code == "IN" else _ORDERS)
        modified = created + timedelta(hours=rng.randrange(1, 24 * 10))
        modified = min(modified, BASE_DATE)
        recid, _ = db.insert_numbered(
            "SERVICE_DESK",
            {
                "SD_TYPE": SD_TYPES[code],
                "DESCRIPTION": text.format(place=path, person=requestor[1], line=service[1]),
                "SD_STATUS": status,
                "URGENCY_LISTS_RECID": lists["URGENCY", rng.choice(_URGENCIES)],
                "SD_SOURCE": rng.choice(["Email", "Phone", "Web", "Walk-in"]),
                "REQUESTOR_CONTACTS_RECID": requestor[0],
                "REQUESTOR": requestor[1],
                "CSR_CONTACTS_RECID": csr[0],
                "CSR": csr[1],
                "OWNER": rng.choice(_DEPARTMENTS),
                "LOCATIONS_RECID": location_recid,
                "DUE_DATE": (created + timedelta(days=rng.randrange(2, 30))).strftime("%Y-%m-%d"),
                "CREATED_DATE": stamp(created),
                "MODIFIED_DATE": stamp(modified),
                "MODIFIED_BY": csr[1],
            },
            "SD_NUMBER",
            partial(sd_number, code),
        )
        for _ in range(rng.randrange(1, 3) if code == "SO" else 0):
            action = rng.choice(["ADD", "CHG_MOVE", "CHG_MISC", "REMOVE"])
            row = {
                "SERVICE_DESK_RECID": recid,
                "SD_ACTION_LISTS_RECID": lists["SD_ACTION", action],
                "SERV_CATALOG_RECID": rng.choice(_SERVICE_CATALOG)[0] if action == "ADD" else None,
                "SERVICES_RECID": None if action == "ADD" else rng.choice(services)[0],
                "LOCATIONS_RECID": location_recid,
                "MOVETO_LOCATIONS_RECID": (
                    rng.choice(locations[1:])[0] if action == "CHG_MOVE" else None
                ),
                "STATUS": "Pending" if status == "Pending" else "Complete",
                "CREATED_DATE": stamp(created),
                "MODIFIED_DATE": stamp(modified),
                "MODIFIED_BY": csr[1],
            }
            db.insert_numbered("SERVICE_DESK_ACTIONS", row, "SDA_NUMBER", sda_number)


def sd_number(code: str, recid: int) -> str:
    """The service-desk number of an item: its type code and RECID, e.g. ``IN-010007``."""
    return f"{code}-{recid:06d}"


def sda_number(recid: int) -> str:
    """The number of a service-desk action, e.g. ``SDA-020003``."""
    return f"SDA-{recid:06d}"
