"""Case search: the simple GET and the advanced POST search over one criteria engine.

A criteria object ANDs its parameters; the values of one parameter are ORed. Its
``subCriteria`` are criteria objects too: plain ones are ORed together (at least one must
match, when there are any), ``required: true`` ones must all match, and ``exclude: true``
ones remove what they match. The simple search reads the same parameters from the query
string (a repeated name gives several values). Only cases the user can read are found;
deleted cases only with ``includeDeleted`` (and only by those allowed to see them), cases
marked ``TEST_DATA`` only with ``includeTestData``.

Every criterion of mnemonic's ``CaseSearchCriteria`` model is accepted. ``serviceCriteria``
``{service, includeFlags, excludeFlags}`` matches services (no sandbox service carries a
flag); ``explicitAccess`` takes ``{subject, level}`` objects or plain subject names;
``productionCustomers: false`` matches nothing, as every sandbox customer is in production;
``watchedByUser`` matches nothing, as the sandbox keeps no watchers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from operator import itemgetter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import render
from .access import access_level, comment_visible, is_tech
from .auth import authenticated
from .envelope import field_error, json_body, listing, parse_bound, reject_unknown
from .state import ACCESS_MODES, CASE_TYPES, PRIORITIES, STATUSES, ArgusState, Record, ref_id
from .times import parse_time

Predicate = Callable[[Record], bool]

_ENUMS = {
    "status": STATUSES,
    "initialStatus": STATUSES,
    "type": CASE_TYPES,
    "priority": PRIORITIES,
    "initialPriority": PRIORITIES,
    "accessMode": ACCESS_MODES,
}
_REFS = {"customer": "customerID", "service": "serviceID", "category": "categoryID"}
_IDS = {"customerID": "customerID", "caseID": "id"}
_TIME_FIELDS = (
    "createdTimestamp", "lastUpdatedTimestamp", "closedTimestamp", "publishedTimestamp",
    "customerDueTimestamp", "techDueTimestamp",
)  # fmt: skip
_USER_FIELDS = {
    "reporter": "reporterID",
    "assignedUser": "assignedUserID",
    "assignedTech": "assignedTechID",
    "createdByUser": "createdByUserID",
    "publishedByUser": "publishedByUserID",
    "lastUpdatedByUser": "lastUpdatedByUserID",
    "closedByUser": "closedByUserID",
}
_COMMENTERS = "commentedByUser"
_WATCHERS = "watchedByUser"
_KEYWORD_FIELDS = ("subject", "description", "comments", "customerReference", "id")
_SORT_KEYS: dict[str, Callable[[Record], Any]] = {
    "id": itemgetter("id"),
    **{f: itemgetter(f) for f in _TIME_FIELDS},
    **{f: itemgetter(ref) for f, ref in _USER_FIELDS.items()},
    "customer": itemgetter("customerID"),
    "service": itemgetter("serviceID"),
    "category": itemgetter("categoryID"),
    "priority": lambda c: PRIORITIES.index(c["priority"]),
    "status": lambda c: STATUSES.index(c["status"]),
    "type": itemgetter("type"),
    "subject": lambda c: c["subject"].lower(),
}
_LISTS = (
    *_ENUMS, *_REFS, *_IDS, "keywords", "keywordFieldStrategy", "user", "userID",
    "userFieldStrategy", "timeFieldStrategy", "tag", "workflow", "explicitAccess",
    "includeFlags", "excludeFlags", "assetID", "field", "subCriteria",
)  # fmt: skip
_SCALARS = (
    "startTimestamp", "endTimestamp", "timeMatchStrategy", "keywordMatchStrategy",
    "userAssigned", "techAssigned", "exclude", "required", "serviceCriteria",
)  # fmt: skip
_ROOT = (
    "limit", "offset", "sortBy", "includeDeleted", "includeWorkflows", "includeDescription",
    "includeTestData", "productionCustomers",
)  # fmt: skip


def _values(value: object, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise field_error(412, field, f"{field} must be a list")
    return value


def _flag(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise field_error(412, field, f"{field} must be true or false")


def _choice(value: object, field: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value.lower() not in [c.lower() for c in choices]:
        raise field_error(412, field, f"Invalid {field} {value!r}; expected one of {list(choices)}")
    return next(c for c in choices if c.lower() == value.lower())


class _Compiler:
    """Turns validated criteria objects into predicates over case records."""

    def __init__(self, state: ArgusState, user: Record):
        self.state = state
        self.user = user
        self.now = state.now_ms()

    def compile(self, criteria: Record, path: str) -> Predicate:
        """The predicate of one criteria object; ``path`` prefixes field names in errors."""
        allowed = (*_LISTS, *_SCALARS, *(_ROOT if not path else ()))
        reject_unknown(criteria, allowed, prefix=path)
        given = {k: v for k, v in criteria.items() if v is not None}
        lists: dict[str, Callable[[list[Any], str], Predicate]] = {
            **{name: partial(self._enum, name) for name in _ENUMS},
            **{name: partial(self._refs, name) for name in _REFS},
            **{name: partial(self._ids, name) for name in _IDS},
            "tag": self._tag,
            "workflow": self._workflow,
            "explicitAccess": self._explicit_access,
            "includeFlags": self._include_flags,
            "excludeFlags": self._exclude_flags,
            "assetID": self._nothing,
            "field": self._nothing,
        }
        checks = [
            lists[key](_values(value, path + key), path + key)
            for key, value in given.items()
            if key in lists
        ]
        for key, ref in (("userAssigned", "assignedUserID"), ("techAssigned", "assignedTechID")):
            if key in given:
                checks.append(self._assigned(ref, _flag(given[key], path + key)))
        for key in ("exclude", "required"):
            _flag(given.get(key, False), path + key)
        if "serviceCriteria" in given:
            checks.append(self._service_criteria(given["serviceCriteria"], path))
        checks += self._keywords(given, path) + self._users(given, path) + self._times(given, path)
        subs = _values(given.get("subCriteria", []), path + "subCriteria")
        return self._combine(checks, subs, path)

    def _combine(self, checks: list[Predicate], subs: list[Any], path: str) -> Predicate:
        any_of: list[Predicate] = []
        all_of: list[Predicate] = []
        none_of: list[Predicate] = []
        for i, sub in enumerate(subs):
            where = f"{path}subCriteria[{i}]"
            if not isinstance(sub, dict):
                raise field_error(412, where, f"{where} must be a criteria object")
            predicate = self.compile(sub, where + ".")
            if sub.get("exclude"):
                none_of.append(predicate)
            elif sub.get("required"):
                all_of.append(predicate)
            else:
                any_of.append(predicate)

        def matches(case: Record) -> bool:
            return (
                all(check(case) for check in checks)
                and all(p(case) for p in all_of)
                and (not any_of or any(p(case) for p in any_of))
                and not any(p(case) for p in none_of)
            )

        return matches

    @staticmethod
    def _assigned(ref: str, wanted: bool) -> Predicate:
        return lambda case: (case[ref] is not None) == wanted

    @staticmethod
    def _in(ref: str, wanted: set[Any]) -> Predicate:
        return lambda case: case[ref] in wanted

    @staticmethod
    def _nothing(values: list[Any], field: str) -> Predicate:
        """No case carries assets or custom fields: a non-empty criterion matches nothing."""
        return lambda case: not values

    def _ids(self, key: str, values: list[Any], field: str) -> Predicate:
        wanted = set()
        for value in values:
            number = ref_id(None, value)
            if number is None:
                raise field_error(412, field, f"{field} values must be numeric ids, not {value!r}")
            wanted.add(number)
        return self._in(_IDS[key], wanted)

    def _enum(self, key: str, values: list[Any], field: str) -> Predicate:
        for value in values:
            if value not in _ENUMS[key]:
                raise field_error(
                    412, field, f"Invalid {key} {value!r}; expected one of {list(_ENUMS[key])}"
                )
        return self._in(key, set(values))

    def _refs(self, key: str, values: list[Any], field: str) -> Predicate:
        lookup = {"customer": self.state.customer, "service": self.state.service,
                  "category": self.state.category}[key]  # fmt: skip
        wanted = set()
        for value in values:
            found = ref_id(lookup(value), value)
            if found is None:
                raise field_error(412, field, f"Unknown {key} {value!r}")
            wanted.add(found)
        return self._in(_REFS[key], wanted)

    def _subjects(self, values: list[Any], field: str) -> set[int]:
        """Subject ids for user/group references; a group also stands for its members."""
        ids: set[int] = set()
        for value in values:
            found = self.state.subject(value)
            subject_id = ref_id(found, value)
            if subject_id is None:
                raise field_error(412, field, f"Unknown user or group {value!r}")
            ids.add(subject_id)
            ids.update(found.get("members", []) if found else [])
        return ids

    def _tag(self, values: list[Any], field: str) -> Predicate:
        wanted = []
        for value in values:
            if not isinstance(value, str) or not value:
                raise field_error(
                    412, field, f"{field} values must be 'key=value' or 'key' strings"
                )
            sep = "=" if "=" in value else "/"
            key, _, val = value.partition(sep)
            wanted.append((key, val))
        tags = self.state.tags
        return lambda case: any(
            t["key"] == k and (not v or t["value"] == v)
            for t in tags[case["id"]]
            for k, v in wanted
        )

    def _workflow(self, values: list[Any], field: str) -> Predicate:
        wanted = set(values)
        return lambda case: any(w["workflow"] in wanted for w in case["workflows"])

    def _explicit_access(self, values: list[Any], field: str) -> Predicate:
        """Plain subjects, or ``{subject, level}`` objects as mnemonic's model has them."""
        names: list[Any] = []
        levels: set[str] = set()
        for value in values:
            if isinstance(value, dict):
                names += _values(value.get("subject") or [], f"{field}.subject")
                levels |= set(_values(value.get("level") or [], f"{field}.level"))
            else:
                names.append(value)
        wanted = self._subjects(names, field) if names else None
        acl = self.state.acl
        return lambda case: any(
            (wanted is None or e["subjectID"] in wanted) and (not levels or e["level"] in levels)
            for e in acl[case["id"]]
        )

    def _service_criteria(self, value: object, path: str) -> Predicate:
        field = path + "serviceCriteria"
        if not isinstance(value, dict):
            raise field_error(412, field, f"{field} must be an object")
        reject_unknown(value, ("service", "includeFlags", "excludeFlags"), prefix=field + ".")
        services = _values(value.get("service") or [], field + ".service")
        refs = self._refs("service", services, field + ".service") if services else None
        flagged = bool(_values(value.get("includeFlags") or [], field + ".includeFlags"))
        _values(value.get("excludeFlags") or [], field + ".excludeFlags")
        return lambda case: not flagged and (refs is None or refs(case))

    def _include_flags(self, values: list[Any], field: str) -> Predicate:
        return lambda case: set(values) <= set(case["flags"])

    def _exclude_flags(self, values: list[Any], field: str) -> Predicate:
        return lambda case: not set(values) & set(case["flags"])

    def _keywords(self, given: Record, path: str) -> list[Predicate]:
        if not given.get("keywords"):
            return []
        words = [str(w).lower() for w in _values(given["keywords"], path + "keywords")]
        fields = self._strategy(given, path, "keywordFieldStrategy", [*_KEYWORD_FIELDS, "all"])
        if "all" in fields:
            fields = list(_KEYWORD_FIELDS)
        mode = _choice(given.get("keywordMatchStrategy", "all"), path + "keywordMatchStrategy",
                       ["all", "any"])  # fmt: skip
        combine = all if mode == "all" else any

        by_id = "id" in fields

        def matches(case: Record) -> bool:
            texts = self._texts(case, fields)
            return combine(
                any(w in t for t in texts) or (by_id and w == str(case["id"])) for w in words
            )

        return [matches]

    def _texts(self, case: Record, fields: list[str]) -> list[str]:
        own = ("subject", "description", "customerReference")
        texts = [case[f].lower() for f in own if f in fields and case[f] is not None]
        if "comments" in fields:
            tech = is_tech(self.user, case)
            texts += [
                c["comment"].lower()
                for c in self.state.comments[case["id"]]
                if comment_visible(tech, c)
            ]
        return texts

    def _users(self, given: Record, path: str) -> list[Predicate]:
        refs = [*(given.get("user") or []), *(given.get("userID") or [])]
        for key in ("user", "userID"):
            if key in given:
                _values(given[key], path + key)
        if not refs:
            return []
        wanted = self._subjects(refs, path + ("userID" if "userID" in given else "user"))
        names = [*_USER_FIELDS, _COMMENTERS, _WATCHERS]
        fields = self._strategy(given, path, "userFieldStrategy", [*names, "all"])
        if "all" in fields:
            fields = names
        comments = self.state.comments

        def matches(case: Record) -> bool:
            if any(case[_USER_FIELDS[f]] in wanted for f in fields if f in _USER_FIELDS):
                return True
            return _COMMENTERS in fields and any(
                c["addedByUserID"] in wanted for c in comments[case["id"]]
            )

        return [matches]

    def _times(self, given: Record, path: str) -> list[Predicate]:
        start, end = given.get("startTimestamp"), given.get("endTimestamp")
        if start is None and end is None:
            return []
        low = parse_time(start, path + "startTimestamp", self.now) if start is not None else None
        high = parse_time(end, path + "endTimestamp", self.now) if end is not None else None
        fields = self._strategy(given, path, "timeFieldStrategy", [*_TIME_FIELDS, "all"])
        if "all" in fields:
            fields = list(_TIME_FIELDS)
        mode = _choice(given.get("timeMatchStrategy", "any"), path + "timeMatchStrategy",
                       ["any", "all"])  # fmt: skip
        combine = all if mode == "all" else any

        def within(value: int | None) -> bool:
            return (
                value is not None
                and (low is None or value >= low)
                and (high is None or value <= high)
            )

        return [lambda case: combine(within(case[f]) for f in fields)]

    @staticmethod
    def _strategy(given: Record, path: str, key: str, choices: list[str]) -> list[str]:
        """The values of a ``...FieldStrategy`` parameter; absent means ``all``."""
        raw = given.get(key)
        if raw is None:
            return ["all"]
        return [_choice(v, path + key, choices) for v in _values(raw, path + key)]


def _nulls_last(key: Callable[[Record], Any]) -> Callable[[Record], tuple[bool, Any]]:
    """A sort key that orders missing values (an open case's closedTimestamp) after others."""

    def ordered(case: Record) -> tuple[bool, Any]:
        value = key(case)
        return (value is None, 0 if value is None else value)

    return ordered


def _sort(cases: list[Record], sort_by: list[Any]) -> list[Record]:
    for spec in reversed(sort_by or ["id"]):
        if not isinstance(spec, str) or spec.lstrip("-") not in _SORT_KEYS:
            raise field_error(
                412, "sortBy", f"Invalid sortBy {spec!r}; expected one of {list(_SORT_KEYS)}"
            )
        cases.sort(key=_nulls_last(_SORT_KEYS[spec.lstrip("-")]), reverse=spec.startswith("-"))
    return cases


def run_search(state: ArgusState, user: Record, criteria: Record) -> Response:
    """Validate ``criteria`` (an advanced-search object) and answer with the page it selects."""
    predicate = _Compiler(state, user).compile(criteria, "")
    limit = parse_bound(criteria.get("limit"), "limit", 25)
    offset = parse_bound(criteria.get("offset"), "offset", 0)
    deleted = _flag(criteria.get("includeDeleted", False), "includeDeleted")
    test_data = _flag(criteria.get("includeTestData", False), "includeTestData")
    production = criteria.get("productionCustomers")
    in_production = True if production is None else _flag(production, "productionCustomers")
    workflows = _flag(criteria.get("includeWorkflows", False), "includeWorkflows")
    description = _flag(criteria.get("includeDescription", True), "includeDescription")
    sort_by = _values(criteria.get("sortBy") or [], "sortBy")
    found = [
        case
        for case in state.cases.values()
        if (deleted or "DELETED" not in case["flags"])
        and (test_data or "TEST_DATA" not in case["flags"])
        and in_production
        and access_level(state, user, case) is not None
        and predicate(case)
    ]
    return listing(
        _sort(found, sort_by),
        limit,
        offset,
        view=lambda c: render.case(state, c, user, workflows=workflows, description=description),
        counted=not state.count_timeout,
    )


@authenticated
async def simple_search(request: Request, state: ArgusState, user: Record) -> Response:
    """GET /cases/v2/case: the criteria as query parameters; unknown parameters are ignored."""
    query = request.query_params
    criteria: Record = {}
    for key in query:
        if (key in _LISTS and key != "subCriteria") or key == "sortBy":
            criteria[key] = query.getlist(key)
        elif key in (*_SCALARS, *_ROOT) and key not in ("exclude", "required"):
            criteria[key] = query[key]
    return run_search(state, user, criteria)


@authenticated
async def advanced_search(request: Request, state: ArgusState, user: Record) -> Response:
    """POST /cases/v2/case/search: the criteria as a JSON object."""
    criteria = await json_body(request, allowed=(*_LISTS, *_SCALARS, *_ROOT))
    return run_search(state, user, criteria)


routes = [
    Route("/cases/v2/case", simple_search, methods=["GET"]),
    Route("/cases/v2/case/search", advanced_search, methods=["POST"]),
]
