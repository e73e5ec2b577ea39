"""One person's joined-up record: their Patient, their relationships, and facts told once.

Each partner tells its own part: the GP its problems and prescriptions, the hospital its
admissions and the medicines it gave, the council its care packages. Here they come
together: the same fact from several partners (a medicine the GP prescribes and the
hospital recorded, an allergy recorded twice) is one :class:`Fact` with all its sources.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from joinedup.access.model import Relationship
from joinedup.records.query import (
    NHS_NUMBER_SYSTEM,
    OPEN_ENCOUNTER,
    OPEN_EPISODE,
    Source,
    StoredResource,
    open_care,
    person_resources,
)

_CODE_ELEMENT: Final = {
    "Condition": "code",
    "AllergyIntolerance": "code",
    "MedicationRequest": "medicationCodeableConcept",
    "MedicationStatement": "medicationCodeableConcept",
    "Immunization": "vaccineCode",
    "Procedure": "code",
    "Flag": "code",
    "Observation": "code",
    "CarePlan": "category",
    "CareTeam": "category",
    "ServiceRequest": "code",
    "DocumentReference": "type",
    "Encounter": "type",
    "EpisodeOfCare": "type",
}
_SOCIAL_CARE_WORDS: Final = ("social care", "care package", "reablement", "social work")


@dataclass(frozen=True)
class Sighting:
    """Where one fact came from: a partner's resource and when it was received."""

    partner: str
    feed: str
    received_at: datetime
    resource_type: str
    resource_id: str


@dataclass
class Fact:
    """One thing known about the person, with every partner that recorded it."""

    resource_type: str
    key: str  # the code that makes two partners' records the same fact
    label: str
    when: str | None  # the most relevant date, as recorded (e.g. onset, issue, period start)
    status: str | None
    resource: dict[str, Any]  # the most recently received version
    sources: list[Sighting] = field(default_factory=list)

    @property
    def partners(self) -> list[str]:
        """The partners that recorded it, each once, in the order they did."""
        return list(dict.fromkeys(s.partner for s in self.sources))


def joined_patient(person_key: str, person_sources: list[Source]) -> dict[str, Any]:
    """The person as one FHIR Patient, from all their source records.

    The NHS number when any source has it; every partner's local identifier; the most
    recently updated name, sex, date of birth and address, each from the newest source that
    has it (a partner may send only an NHS number and a date of birth).
    """
    newest_first = sorted(person_sources, key=lambda s: s.updated_at, reverse=True)
    named = next((s for s in newest_first if s.family or s.given), None)
    identifiers: list[dict[str, Any]] = []
    nhs = next((s.nhs_number for s in person_sources if s.nhs_number), None)
    if nhs:
        identifiers.append({"system": NHS_NUMBER_SYSTEM, "value": nhs})
    for s in person_sources:
        system, _, value = s.local_id.rpartition("|")
        identifiers.append(
            {
                "system": system or f"urn:joinedup:partner:{s.partner}:{s.feed}",
                "value": value,
                "assigner": {"display": s.partner},
            }
        )
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": person_key,
        "identifier": identifiers,
        "link": [
            {"other": {"reference": f"Patient/{s.patient_id}"}, "type": "seealso"}
            for s in person_sources
        ],
    }
    name = {
        k: v for k, v in (("family", named and named.family), ("given", named and named.given)) if v
    }
    if name:
        patient["name"] = [
            {"use": "official", **({"family": name["family"]} if "family" in name else {})}
            | ({"given": [name["given"]]} if "given" in name else {})
        ]
    sex = next((s.sex for s in newest_first if s.sex), None)
    if sex in ("male", "female", "other", "unknown"):
        patient["gender"] = sex
    birth = next((s.birth_date for s in reversed(person_sources) if s.birth_date), None)
    if birth:
        patient["birthDate"] = birth.isoformat()
    death = next((s.death_date for s in person_sources if s.death_date), None)
    if death:
        patient["deceasedDateTime"] = death.isoformat()
    with_address = [s for s in person_sources if s.postcode or s.address_line]
    if with_address:
        place = max(with_address, key=lambda s: s.updated_at)
        address: dict[str, Any] = {"use": "home"}
        if place.address_line:
            address["line"] = [place.address_line]
        if place.postcode:
            address["postalCode"] = place.postcode
        patient["address"] = [address]
    return patient


def relationship(
    person_sources: Iterable[Source],
    care: Iterable[tuple[str, str, str]],
    resources: Iterable[StoredResource],
    *,
    practices: frozenset[str],
    objection: bool,
) -> Relationship:
    """What makes someone's access to this person legitimate, from their record.

    Registered: the person's record came from a GP practice's feed (practices send their
    registered list). Open care: an encounter not yet finished or an active episode, with
    the partner that recorded it (``care``: type, partner and status of each, from
    :func:`~joinedup.records.query.open_care`; Encounter.status is required in R4).
    Referral: an active ServiceRequest's performer. Care team: an active CareTeam's
    participants (their identifiers) and the partner that keeps it.
    """
    registered = frozenset(s.partner for s in person_sources if s.partner in practices)
    open_care = {
        partner
        for resource_type, partner, status in care
        if status in (OPEN_ENCOUNTER if resource_type == "Encounter" else OPEN_EPISODE)
    }
    referred: set[str] = set()
    team: set[str] = set()
    for r in resources:
        content = r.content
        status = content.get("status")
        if r.resource_type == "ServiceRequest" and status == "active":
            for performer in content.get("performer") or []:
                identifier = performer.get("identifier") or {}
                if identifier.get("value"):
                    referred.add(str(identifier["value"]))
        elif r.resource_type == "CareTeam" and status in (None, "active", "proposed"):
            team.add(r.partner)
            for participant in content.get("participant") or []:
                identifier = (participant.get("member") or {}).get("identifier") or {}
                if identifier.get("value"):
                    team.add(str(identifier["value"]))
    return Relationship(
        registered_practices=registered,
        open_care_organisations=frozenset(open_care),
        referred_services=frozenset(referred),
        care_team_members=frozenset(team),
        objection=objection,
    )


@dataclass
class JoinedRecord:
    """A person's record as the single patient view shows it."""

    person_key: str
    patient: dict[str, Any]
    sources: list[Source]
    facts: dict[str, list[Fact]]  # by resource type, newest first
    timeline: list[Fact]  # encounters and episodes across partners, newest first


#: The resources a relationship is read from besides encounters' and episodes' statuses.
RELATIONSHIP_TYPES: Final = ("ServiceRequest", "CareTeam")


def person_relationship(
    session: Session,
    person_key: str,
    person_sources: list[Source],
    *,
    practices: frozenset[str],
    objection: bool,
) -> Relationship:
    """The relationships the record gives, reading only what they depend on."""
    return relationship(
        person_sources,
        open_care(session, person_key),
        person_resources(session, person_key, RELATIONSHIP_TYPES),
        practices=practices,
        objection=objection,
    )


def join(
    person_key: str, person_sources: list[Source], resources: Iterable[StoredResource]
) -> JoinedRecord:
    """The record with each fact once: grouped by type and code across partners."""
    by_key: dict[tuple[str, str], Fact] = {}
    timeline: list[Fact] = []
    for r in sorted(resources, key=lambda r: r.received_at):
        if r.resource_type in ("Patient", "Organization", "Practitioner", "Location"):
            continue
        fact = _fact(r)
        sighting = Sighting(r.partner, r.feed, r.received_at, r.resource_type, r.id)
        if r.resource_type in ("Encounter", "EpisodeOfCare"):
            fact.sources.append(sighting)
            timeline.append(fact)
            continue
        same = by_key.get((r.resource_type, fact.key))
        if same is None or r.resource_type == "Observation":
            fact.sources.append(sighting)
            by_key[
                (r.resource_type, fact.key + (r.id if r.resource_type == "Observation" else ""))
            ] = fact
            continue
        same.sources.append(sighting)
        same.resource, same.status = fact.resource, fact.status
        same.when = max(filter(None, (same.when, fact.when)), default=None)
    facts: dict[str, list[Fact]] = {}
    for (resource_type, _), fact in by_key.items():
        facts.setdefault(resource_type, []).append(fact)
    for items in facts.values():
        items.sort(key=lambda f: f.when or "", reverse=True)
    timeline.sort(key=lambda f: f.when or "", reverse=True)
    return JoinedRecord(
        person_key=person_key,
        patient=joined_patient(person_key, person_sources),
        sources=person_sources,
        facts=facts,
        timeline=timeline,
    )


def _fact(r: StoredResource) -> Fact:
    content = r.content
    element = content.get(_CODE_ELEMENT.get(r.resource_type, "code"))
    if isinstance(element, list):
        element = element[0] if element else None
    codings = (element or {}).get("coding") or [] if isinstance(element, dict) else []
    first = next((c for c in codings if isinstance(c, dict) and c.get("code")), None)
    key = f"{first.get('system')}|{first['code']}" if first else f"id:{r.id}"
    label = (
        ((element or {}).get("text") if isinstance(element, dict) else None)
        or (first or {}).get("display")
        or (first or {}).get("code")
        or r.resource_type
    )
    status = content.get("status") or _code_of(content.get("clinicalStatus"))
    return Fact(
        resource_type=r.resource_type,
        key=key,
        label=str(label),
        when=_when(content),
        status=status,
        resource=content,
    )


def _code_of(concept: Any) -> str | None:
    if isinstance(concept, dict):
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and coding.get("code"):
                return str(coding["code"])
    return None


def _when(content: dict[str, Any]) -> str | None:
    for key in (
        "period",
        "effectivePeriod",
        "effectiveDateTime",
        "onsetDateTime",
        "recordedDate",
        "authoredOn",
        "occurrenceDateTime",
        "performedDateTime",
        "performedPeriod",
        "date",
        "issued",
    ):
        value = content.get(key)
        if isinstance(value, dict):
            value = value.get("start") or value.get("end")
        if isinstance(value, str):
            return value
    return None


def is_social_care(fact: Fact) -> bool:
    """Whether a fact is about social care involvement (by its kind or its words)."""
    return any(word in fact.label.lower() for word in _SOCIAL_CARE_WORDS)


def age_on(birth: str | None, today: date) -> int | None:
    """Age in whole years on ``today`` for a FHIR birthDate (None if unknown)."""
    if not birth:
        return None
    born = date.fromisoformat(birth[:10]) if len(birth) >= 10 else None
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
