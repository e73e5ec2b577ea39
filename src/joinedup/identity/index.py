"""The person index: source records, persons, and the links between them.

On arrival a source record is linked at once by exact NHS number when its date of birth
agrees; otherwise it starts as a person of its own until probabilistic linkage or a
reviewer joins it to others. Links are never updated in place: a change closes the current
link (``valid_to``) and opens a new one, so merges and unmerges keep their history.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from joinedup.feeds.model import PersonDetails
from joinedup.identity import tables

_PERSON_NAMESPACE = uuid.UUID("7c1c1a5e-3f0e-4b53-9a44-6a8f0d1c2b7e")

# Intake runs these for every unit: built once, as building a statement costs several times
# more than running it.
_source, _link, _person = tables.source_record, tables.link, tables.person
_SOURCE_ID = select(_source.c.id).where(
    _source.c.partner == bindparam("partner"),
    _source.c.feed == bindparam("feed"),
    _source.c.local_id == bindparam("local_id"),
)
_INSERT_SOURCE = insert(_source).returning(_source.c.id)
_CURRENT_LINK = select(_link.c.person_key, _link.c.method).where(
    _link.c.source_record_id == bindparam("source_record_id"), _link.c.valid_to.is_(None)
)
_PEOPLE_WITH_NHS_NUMBER = (
    select(_link.c.person_key, _source.c.birth_date)
    .join(_link, _link.c.source_record_id == _source.c.id)
    .where(_source.c.nhs_number == bindparam("nhs_number"), _link.c.valid_to.is_(None))
    .order_by(_link.c.id)
)
_PERSON_EXISTS = select(_person.c.person_key).where(_person.c.person_key == bindparam("key"))
_INSERT_PERSON = insert(_person)
_INSERT_LINK = insert(_link)


@dataclass(frozen=True)
class Linked:
    """The outcome of taking a source record into the index."""

    source_record_id: int
    person_key: str
    method: str  # how the current link was made


def person_key_for(partner: str, feed: str, local_id: str) -> str:
    """The key of the person first known through this source record (stable across runs)."""
    return "p-" + uuid.uuid5(_PERSON_NAMESPACE, f"{partner}|{feed}|{local_id}").hex[:20]


def take_source_record(
    session: Session, *, partner: str, feed: str, person: PersonDetails, at: datetime
) -> Linked:
    """Record (or update) ``person`` as held by ``partner``'s ``feed`` and link it to a person."""
    source_id, current = _keep_source_record(session, partner, feed, person, at)
    if current is not None:
        return Linked(source_id, current[0], current[1])
    if person.nhs_number:
        match = _person_with_nhs_number(session, person.nhs_number, person.birth_date)
        if match is not None:
            _open_link(session, source_id, match, "nhs_number", None, "same NHS number", at)
            return Linked(source_id, match, "nhs_number")
    key = person_key_for(partner, feed, person.local_id)
    _ensure_person(session, key, at)
    _open_link(session, source_id, key, "new", None, "no existing person with this NHS number", at)
    return Linked(source_id, key, "new")


#: The link method of a source record a part identified itself (a referral's person).
RESOLVED = "resolved"


def attach_source_record(
    session: Session,
    *,
    partner: str,
    feed: str,
    person: PersonDetails,
    person_key: str,
    reason: str,
    at: datetime,
) -> int:
    """Record ``person`` as held by ``partner``'s ``feed``, linked to a person already found.

    For a part that has identified the person itself (a referral resolved by NHS number
    and date of birth, or by name, date of birth and postcode): the source record keeps what
    the sender gave, and its link says how it was made. Returns the source record's id.
    """
    source_id, current = _keep_source_record(session, partner, feed, person, at)
    if current is None:
        _open_link(session, source_id, person_key, RESOLVED, None, reason, at)
    return source_id


def _keep_source_record(
    session: Session, partner: str, feed: str, person: PersonDetails, at: datetime
) -> tuple[int, tuple[str, str] | None]:
    """Insert or update the source record; its id and current link (None if unlinked)."""
    values: dict[str, object] = {
        "nhs_number": person.nhs_number,
        "given": person.given,
        "family": person.family,
        "birth_date": person.birth_date,
        "sex": person.sex,
        "postcode": person.postcode,
        "address_line": person.address_line,
        "death_date": person.death_date,
        "updated_at": at,
    }
    existing = source_record_id(session, partner=partner, feed=feed, local_id=person.local_id)
    if existing is None:
        inserted = session.execute(
            _INSERT_SOURCE,
            {"partner": partner, "feed": feed, "local_id": person.local_id, **values},
        ).scalar_one()
        return int(inserted), None
    t = tables.source_record
    session.execute(update(t).where(t.c.id == existing).values(**values))
    return existing, current_link(session, existing)


def current_link(session: Session, source_record_id: int) -> tuple[str, str] | None:
    """The current (person key, method) of a source record, if it has one."""
    row = session.execute(_CURRENT_LINK, {"source_record_id": source_record_id}).first()
    return (row[0], row[1]) if row else None


def people_known_to(session: Session, partner: str) -> list[str]:
    """The person keys of everyone a partner holds a record of (a current link from one of
    its source records): the people a worklist for that partner's staff can draw on."""
    query = (
        select(_link.c.person_key)
        .join(_source, _source.c.id == _link.c.source_record_id)
        .where(_source.c.partner == partner, _link.c.valid_to.is_(None))
        .distinct()
    )
    return list(session.execute(query).scalars())


def source_record_id(session: Session, *, partner: str, feed: str, local_id: str) -> int | None:
    """The id of a source record, if the index holds it."""
    return session.execute(
        _SOURCE_ID, {"partner": partner, "feed": feed, "local_id": local_id}
    ).scalar_one_or_none()


def relink(
    session: Session,
    source_record_id: int,
    person_key: str,
    *,
    method: str,
    reason: str,
    at: datetime,
    match_probability: float | None = None,
) -> bool:
    """Link a source record to ``person_key`` from ``at``, closing its current link.

    Returns False (and changes nothing) when it is already linked there.
    """
    current = current_link(session, source_record_id)
    if current is not None and current[0] == person_key:
        return False
    _ensure_person(session, person_key, at)
    session.execute(
        update(tables.link)
        .where(tables.link.c.source_record_id == source_record_id, tables.link.c.valid_to.is_(None))
        .values(valid_to=at)
    )
    _open_link(session, source_record_id, person_key, method, match_probability, reason, at)
    return True


def _person_with_nhs_number(
    session: Session, nhs_number: str, birth_date: date | None
) -> str | None:
    """The person currently linked to a source record with this NHS number and an agreeing DOB.

    A different date of birth (other than day and month swapped, a common keying slip) means
    the NHS number may be wrong, so the record is left for probabilistic linkage and review.
    """
    rows = session.execute(_PEOPLE_WITH_NHS_NUMBER, {"nhs_number": nhs_number}).all()
    for person_key, known_birth_date in rows:
        if _birth_dates_agree(birth_date, known_birth_date):
            return str(person_key)
    return None


def _birth_dates_agree(a: date | None, b: date | None) -> bool:
    if a is None or b is None or a == b:
        return True
    return a.year == b.year and a.month == b.day and a.day == b.month


def _open_link(
    session: Session,
    source_record_id: int,
    person_key: str,
    method: str,
    match_probability: float | None,
    reason: str,
    at: datetime,
) -> None:
    session.execute(
        _INSERT_LINK,
        {
            "source_record_id": source_record_id,
            "person_key": person_key,
            "method": method,
            "match_probability": match_probability,
            "reason": reason,
            "valid_from": at,
            "valid_to": None,
        },
    )


def _ensure_person(session: Session, person_key: str, at: datetime) -> None:
    if session.execute(_PERSON_EXISTS, {"key": person_key}).first() is None:
        session.execute(_INSERT_PERSON, {"person_key": person_key, "created_at": at})
