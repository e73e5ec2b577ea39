"""Reading the shared care record: people, their resources, FHIR search.

A *person* is the person index's person (``identity``): their record is every resource that
arrived with one of the source records currently linked to them, from every partner, so a
merge joins two records and an unmerge parts them again, without touching a resource.

Resources are served as the sender sent them with three changes: ``meta`` gives the version,
when it was received (``lastUpdated``) and which partner feed it came from (``source``), and a
reference to the sender's Patient becomes a reference to the joined-up ``Patient/<person key>``.

This module reads row-level patient data and does no access control of its own: callers
(the FHIR API and the pages) decide who may read what, and audit it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import Session

from joinedup.identity import tables as identity
from joinedup.records import search, tables
from joinedup.records.store import stored_id

NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
OPEN_ENCOUNTER: Final = frozenset({"planned", "arrived", "triaged", "in-progress", "onleave"})
OPEN_EPISODE: Final = frozenset({"planned", "waitlist", "active", "onhold"})


class SearchError(ValueError):
    """A search the record can't run (unknown parameter, bad value); says which and why."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter}: {problem}")
        self.parameter = parameter
        self.problem = problem


@dataclass(frozen=True)
class Source:
    """One source record of a person: who holds it and under what local id."""

    source_record_id: int
    partner: str
    feed: str
    local_id: str
    nhs_number: str | None
    given: str | None
    family: str | None
    birth_date: date | None
    sex: str | None
    postcode: str | None
    address_line: str | None
    death_date: date | None
    updated_at: datetime

    @property
    def patient_id(self) -> str:
        """The stored id of this source's Patient resource."""
        return stored_id(self.partner, self.feed, "Patient", self.local_id)


@dataclass(frozen=True)
class StoredResource:
    """A resource of the record with its provenance, ready to serve."""

    resource_type: str
    id: str
    version: int
    partner: str
    feed: str
    received_at: datetime
    person_key: str | None
    content: dict[str, Any]


_s, _lk, _r, _ix = identity.source_record, identity.link, tables.resource, tables.search


_SOURCE_COLUMNS: Final = tuple(f.name for f in fields(Source) if f.name != "source_record_id")

# Every person-level request runs these: built once (building costs more than running).
_PERSON_SOURCE_IDS = select(_lk.c.source_record_id).where(
    _lk.c.person_key == bindparam("key"), _lk.c.valid_to.is_(None)
)
_SOURCES = (
    select(_s)
    .join(_lk, _lk.c.source_record_id == _s.c.id)
    .where(_lk.c.person_key == bindparam("key"), _lk.c.valid_to.is_(None))
    .order_by(_s.c.id)
)


def _sql_literal(value: str) -> Any:
    """A constant written into the SQL (not bound), so the planner can use the index for it."""
    return literal_column("'" + value.replace("'", "''") + "'")


def _any_of(column: Any, values: Iterable[str]) -> ColumnElement[bool]:
    return or_(*(column == _sql_literal(v) for v in sorted(values)))


_OPEN_CARE = (
    select(_r.c.resource_type, _r.c.partner, _ix.c.value)
    .join(_ix, _ix.c.resource_id == _r.c.id)
    .where(
        _r.c.source_record_id.in_(_PERSON_SOURCE_IDS),
        _ix.c.param == _sql_literal("status"),
        # Constants on the index's own columns: the few open ones are found through it.
        or_(
            and_(
                _ix.c.resource_type == _sql_literal("Encounter"),
                _any_of(_ix.c.value, OPEN_ENCOUNTER),
            ),
            and_(
                _ix.c.resource_type == _sql_literal("EpisodeOfCare"),
                _any_of(_ix.c.value, OPEN_EPISODE),
            ),
        ),
    )
    .distinct()
)
_PERSON_RESOURCES = (
    select(_r)
    .where(_r.c.source_record_id.in_(_PERSON_SOURCE_IDS))
    .order_by(_r.c.received_at, _r.c.id)
)
_PERSON_RESOURCES_OF_TYPES = _PERSON_RESOURCES.where(
    _r.c.resource_type.in_(bindparam("types", expanding=True))
)


def sources(session: Session, person_key: str) -> list[Source]:
    """The source records currently linked to a person, oldest first."""
    rows = session.execute(_SOURCES, {"key": person_key}).mappings()
    return [
        Source(source_record_id=r["id"], **{name: r[name] for name in _SOURCE_COLUMNS})
        for r in rows
    ]


def sources_of(session: Session, person_keys: Sequence[str]) -> dict[str, list[Source]]:
    """The source records currently linked to each of many people (one query), oldest first."""
    found: dict[str, list[Source]] = {key: [] for key in person_keys}
    if not person_keys:
        return found
    rows = session.execute(
        select(_s, _lk.c.person_key.label("linked_to"))
        .join(_lk, _lk.c.source_record_id == _s.c.id)
        .where(_lk.c.person_key.in_(list(person_keys)), _lk.c.valid_to.is_(None))
        .order_by(_s.c.id)
    ).mappings()
    for r in rows:
        found[r["linked_to"]].append(
            Source(source_record_id=r["id"], **{name: r[name] for name in _SOURCE_COLUMNS})
        )
    return found


def person_exists(session: Session, person_key: str) -> bool:
    """Whether the person index has this person with at least one current source record."""
    return bool(sources(session, person_key))


# --- finding people -----------------------------------------------------------------------------

PATIENT_PARAMETERS: Final = (
    "identifier",
    "family",
    "given",
    "birthdate",
    "gender",
    "address-postalcode",
    "general-practitioner",
    "_id",
)

_GENDER_TO_SEX: Final = {"male": "male", "female": "female", "other": "other", "unknown": "unknown"}


def find_people(
    session: Session, params: Mapping[str, Sequence[str]], *, limit: int | None = None
) -> list[str]:
    """The person keys whose source records match every Patient search parameter given.

    Names match case-insensitively from the start (FHIR string search); ``identifier``
    takes ``system|value`` (an NHS number with the NHS number system, or a partner's local
    identifier); ``general-practitioner`` takes a practice's ODS code (``system|code``
    allowed) or ``Organization/<ODS code>``.
    """
    conditions: list[ColumnElement[bool]] = []
    for name, values in params.items():
        for value in values:
            conditions.append(_patient_condition(name, value))
    if not conditions:
        raise SearchError("Patient", "give at least one search parameter")
    query = (
        select(_lk.c.person_key)
        .join(_s, _s.c.id == _lk.c.source_record_id)
        .where(_lk.c.valid_to.is_(None), *conditions)
        .distinct()
        .order_by(_lk.c.person_key)
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def _patient_condition(name: str, value: str) -> ColumnElement[bool]:
    value = value.strip()
    if not value:
        raise SearchError(name, "an empty value")
    if name == "_id":
        return _lk.c.person_key == value
    if name == "identifier":
        system, _, code = value.rpartition("|")
        if system == NHS_NUMBER_SYSTEM or (not system and code.isdigit() and len(code) == 10):
            return _s.c.nhs_number == code
        if not system:
            return or_(_s.c.nhs_number == code, _s.c.local_id == code)
        return or_(_s.c.local_id == code, _s.c.local_id == f"{system}|{code}")
    if name in ("family", "given"):
        column = _s.c.family if name == "family" else _s.c.given
        return func.lower(column).like(_like_prefix(value), escape="\\")
    if name == "gender":
        if value not in _GENDER_TO_SEX:
            raise SearchError(name, "expected male, female, other or unknown")
        return _s.c.sex == _GENDER_TO_SEX[value]
    if name == "address-postalcode":
        compact = value.replace(" ", "").upper()
        return func.upper(func.replace(_s.c.postcode, " ", "")).like(
            _like_prefix(compact).upper(), escape="\\"
        )
    if name == "birthdate":
        return _date_condition(_s.c.birth_date, value, as_date=True)
    if name == "general-practitioner":
        code = value.rpartition("|")[2].removeprefix("Organization/")
        patient_ids = select(_r.c.source_record_id).where(
            _r.c.resource_type == "Patient",
            _r.c.id.in_(
                select(_ix.c.resource_id).where(
                    _ix.c.resource_type == "Patient",
                    _ix.c.param == "general-practitioner",
                    _ix.c.value == code,
                )
            ),
        )
        return or_(_s.c.partner == code, _s.c.id.in_(patient_ids))
    raise SearchError(name, "not a supported Patient search parameter")


def _like_prefix(value: str) -> str:
    escaped = value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


# --- dates ---------------------------------------------------------------------------------------

_PREFIXES: Final = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


def split_prefix(value: str) -> tuple[str, str]:
    """A date search value's comparator and date (``ge2024-01`` → ``("ge", "2024-01")``)."""
    if value[:2] in _PREFIXES and not value[:2].isdigit():
        return value[:2], value[2:]
    return "eq", value


def _date_condition(column: Any, value: str, *, as_date: bool = False) -> ColumnElement[bool]:
    """A single-valued date column compared with a FHIR date search value."""
    prefix, text = split_prefix(value)
    try:
        low, high = search.parse_date(text)
    except ValueError:
        raise SearchError("date", "expected a FHIR date such as 2024-03-01") from None
    lo: Any = low.date() if as_date else low
    hi: Any = high.date() if as_date else high
    comparisons: dict[str, ColumnElement[bool]] = {
        "eq": and_(column >= lo, column < hi),
        "ne": or_(column < lo, column >= hi),
        "gt": column >= hi,
        "sa": column >= hi,
        "lt": column < lo,
        "eb": column < lo,
        "ge": column >= lo,
        "le": column < hi,
    }
    return comparisons[prefix]


def _range_condition(value: str, name: str) -> ColumnElement[bool]:
    """An index row's ``[start, end)`` range compared with a FHIR date search value.

    As R4 defines it (https://hl7.org/fhir/R4/search.html#prefix): ``eq`` the range lies
    within the value's; ``gt``/``lt`` some of the range lies after/before the value;
    ``ge``/``le`` as those, or overlapping; ``sa``/``eb`` all of it after/before; ``ne`` not eq.
    """
    prefix, text = split_prefix(value)
    try:
        low, high = search.parse_date(text)
    except ValueError:
        raise SearchError(name, "expected a FHIR date such as 2024-03-01") from None
    start, end = _ix.c.start, _ix.c.end
    comparisons = {
        "eq": and_(start >= low, end <= high),
        "ne": not_(and_(start >= low, end <= high)),
        "gt": end > high,
        "lt": start < low,
        "ge": end > low,
        "le": start < high,
        "sa": start >= high,
        "eb": end <= low,
    }
    return comparisons[prefix]


# --- searching a person's record ---------------------------------------------------------------


def _person_sources(person_keys: Iterable[str]) -> Any:
    return select(_lk.c.source_record_id).where(
        _lk.c.person_key.in_(list(person_keys)), _lk.c.valid_to.is_(None)
    )


def _parameter_condition(resource_type: str, name: str, value: str) -> ColumnElement[bool]:
    """Resources of ``resource_type`` whose index matches one ``name=value`` (values OR'd by ,)."""
    parameter = search.BY_NAME.get((resource_type, name))
    if parameter is None:
        raise SearchError(name, f"not a supported {resource_type} search parameter")
    alternatives = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            raise SearchError(name, "an empty value")
        if parameter.type == "date":
            matches = _range_condition(item, name)
        elif parameter.type == "reference":
            matches = _ix.c.value == item
        elif "|" in item:
            system, _, code = item.partition("|")
            if not system:
                matches = and_(_ix.c.system.is_(None), _ix.c.value == code)
            elif not code:
                matches = _ix.c.system == system
            else:
                matches = and_(_ix.c.system == system, _ix.c.value == code)
        else:
            matches = _ix.c.value == item
        alternatives.append(matches)
    return exists(
        select(_ix.c.id).where(
            _ix.c.resource_id == _r.c.id,
            _ix.c.resource_type == resource_type,
            _ix.c.param == name,
            or_(*alternatives),
        )
    )


def search_resources(
    session: Session,
    resource_type: str,
    person_keys: Sequence[str],
    params: Mapping[str, Sequence[str]],
    *,
    count: int,
    offset: int,
    sort: str | None = None,
) -> tuple[int, list[StoredResource]]:
    """One page of a person's (or people's) resources of one type matching ``params``.

    Returns the total number of matches and the page. ``sort`` is ``date``, ``-date``,
    ``_lastUpdated`` or ``-_lastUpdated`` (newest first is the default).
    """
    if resource_type not in search.CLINICAL_TYPES:
        raise SearchError(resource_type, "not a resource type the record serves")
    conditions: list[ColumnElement[bool]] = [
        _r.c.resource_type == resource_type,
        _r.c.source_record_id.in_(_person_sources(person_keys)),
    ]
    for name, values in params.items():
        for value in values:
            conditions.append(_parameter_condition(resource_type, name, value))
    total = session.execute(select(func.count()).select_from(_r).where(*conditions)).scalar_one()
    order = _order(resource_type, sort)
    rows = session.execute(
        select(_r).where(*conditions).order_by(*order).limit(count).offset(offset)
    ).mappings()
    return int(total), _served(session, list(rows))


def _order(resource_type: str, sort: str | None) -> list[Any]:
    descending = True
    key = "date"
    if sort:
        descending = sort.startswith("-")
        key = sort.lstrip("-")
        if key not in ("date", "_lastUpdated"):
            raise SearchError("_sort", "sort by date or _lastUpdated")
    if key == "_lastUpdated":
        column: Any = _r.c.received_at
    else:
        column = (
            select(func.min(_ix.c.start))
            .where(
                _ix.c.resource_id == _r.c.id,
                _ix.c.param == search.DATE_PARAMETER[resource_type],
            )
            .scalar_subquery()
        )
    return [column.desc() if descending else column.asc(), _r.c.id]


def everything(
    session: Session, person_key: str, *, count: int, offset: int
) -> tuple[int, list[StoredResource]]:
    """One page of every resource in a person's record (not their Patient resources)."""
    conditions = [
        _r.c.source_record_id.in_(_person_sources([person_key])),
        _r.c.resource_type != "Patient",
    ]
    total = session.execute(select(func.count()).select_from(_r).where(*conditions)).scalar_one()
    rows = session.execute(
        select(_r)
        .where(*conditions)
        .order_by(_r.c.resource_type, _r.c.received_at, _r.c.id)
        .limit(count)
        .offset(offset)
    ).mappings()
    return int(total), _served(session, list(rows))


def read_resource(session: Session, resource_type: str, resource_id: str) -> StoredResource | None:
    """One stored resource by type and id, ready to serve (None if there is none)."""
    row = (
        session.execute(
            select(_r).where(_r.c.resource_type == resource_type, _r.c.id == resource_id)
        )
        .mappings()
        .first()
    )
    return _served(session, [row])[0] if row is not None else None


def person_resources(
    session: Session, person_key: str, types: Sequence[str] | None = None
) -> list[StoredResource]:
    """Every resource of a person's record (of ``types``, if given), Patient resources included."""
    if types is None:
        rows = session.execute(_PERSON_RESOURCES, {"key": person_key}).mappings()
    else:
        rows = session.execute(
            _PERSON_RESOURCES_OF_TYPES, {"key": person_key, "types": list(types)}
        ).mappings()
    return _served(session, list(rows))


def open_care(session: Session, person_key: str) -> list[tuple[str, str, str]]:
    """(resource type, partner, status) of the person's open encounters and episodes of
    care, read from the search index without loading the resources."""
    rows = session.execute(_OPEN_CARE, {"key": person_key})
    return [(t, partner, status) for t, partner, status in rows]


def _served(session: Session, rows: list[Any]) -> list[StoredResource]:
    """Rows as resources to serve: meta filled in, the sender's Patient become the person."""
    source_ids = {r["source_record_id"] for r in rows if r["source_record_id"] is not None}
    people: dict[int, tuple[str, str]] = {}  # source record -> (person key, sender Patient id)
    if source_ids:
        for sid, person_key, partner, feed, local_id in session.execute(
            select(_lk.c.source_record_id, _lk.c.person_key, _s.c.partner, _s.c.feed, _s.c.local_id)
            .join(_s, _s.c.id == _lk.c.source_record_id)
            .where(_lk.c.source_record_id.in_(source_ids), _lk.c.valid_to.is_(None))
        ):
            people[sid] = (person_key, stored_id(partner, feed, "Patient", local_id))
    served = []
    for row in rows:
        person = people.get(row["source_record_id"])
        content = dict(row["content"])
        if person is not None:
            content = _repoint(content, f"Patient/{person[1]}", f"Patient/{person[0]}")
        content["meta"] = {
            **{k: v for k, v in (content.get("meta") or {}).items() if k != "versionId"},
            "versionId": str(row["version"]),
            "lastUpdated": _instant(row["received_at"]),
            "source": f"urn:joinedup:partner:{row['partner']}:{row['feed']}",
        }
        served.append(
            StoredResource(
                resource_type=row["resource_type"],
                id=row["id"],
                version=row["version"],
                partner=row["partner"],
                feed=row["feed"],
                received_at=row["received_at"],
                person_key=person[0] if person else None,
                content=content,
            )
        )
    return served


def _repoint(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {
            k: (new if k == "reference" and v == old else _repoint(v, old, new))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_repoint(v, old, new) for v in value]
    return value


def _instant(at: datetime) -> str:
    text = at.isoformat()
    return text if at.tzinfo is not None else text + "Z"
