"""Referrals in the operational store: taking one in, moving it through its lifecycle, reading.

Every change is one transaction: the referral row (its version checked and counted), an
event in its history, its ServiceRequest in the person's shared care record, and the
notifications to the team it was routed to. A change that fails writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from joinedup.access.audit import as_utc
from joinedup.directory.model import Directory, Service
from joinedup.directory.profiles import DISPOSITIONS, NEEDS, REFERRERS
from joinedup.feeds.model import Issue, IssueCode, PersonDetails
from joinedup.feeds.uk_core import NHS_NUMBER_SYSTEM, modulus11_valid
from joinedup.identity.index import attach_source_record, source_record_id
from joinedup.records.person import age_on
from joinedup.records.query import find_people, sources
from joinedup.records.store import prepare_resources, store_resources
from joinedup.referrals import tables
from joinedup.referrals.model import (
    CENTRE,
    CLOSED,
    TRANSITIONS,
    Action,
    Referral,
    ReferralError,
    Status,
    instant,
)
from joinedup.referrals.router import CAPACITY_STATUSES, PersonContext, Request, Router
from joinedup.referrals.rules import Rules

#: The feed a referral's ServiceRequest is kept under, per referring organisation.
FEED: Final = "referrals"
REFERRAL_SYSTEM: Final = "https://joinedup.nhs.uk/Id/referral"
NEED_SYSTEM: Final = "https://joinedup.nhs.uk/CodeSystem/referral-need"
SERVICE_SYSTEM: Final = "https://joinedup.nhs.uk/Id/directory-service"
ODS_SYSTEM: Final = "https://fhir.nhs.uk/Id/ods-organization-code"
#: SNOMED CT 3457005 |Patient referral (procedure)|, the ServiceRequest's category.
REFERRAL_CATEGORY: Final = {
    "system": "http://snomed.info/sct",
    "code": "3457005",
    "display": "Patient referral",
}
#: ServiceRequest.priority for each urgency (FHIR request-priority).
PRIORITY: Final = {
    "emergency": "stat",
    "two_hour": "asap",
    "same_day": "urgent",
    "within_72_hours": "urgent",
    "routine": "routine",
}
#: ServiceRequest.status for each Task status (the request is active until the Task ends).
REQUEST_STATUS: Final = {
    Status.REQUESTED: "active",
    Status.RECEIVED: "active",
    Status.ACCEPTED: "active",
    Status.IN_PROGRESS: "active",
    Status.ON_HOLD: "on-hold",
    Status.COMPLETED: "completed",
    Status.REJECTED: "revoked",
    Status.CANCELLED: "revoked",
}
#: The extension carrying a referral's response (read by the analytical lake).
RESPONSE_EXTENSION: Final = "https://joinedup.nhs.uk/StructureDefinition/referral-response"
#: How far ahead of the server's clock a sender's "authored" time may be (clock drift).
CLOCK_SKEW: Final = timedelta(minutes=5)
#: How many people may match a referral's details before it is refused as ambiguous.
_MATCH_LIMIT: Final = 2

_r = tables.referral
_e = tables.referral_event


@dataclass(frozen=True)
class Actor:
    """Who does something to a referral (from their token; never the patient)."""

    subject: str
    name: str
    organisation: str


@dataclass(frozen=True)
class NewReferral:
    """A referral as a referrer sent it, before it is taken in.

    ``patient`` holds what the referrer gave to identify the person (``local_id`` is the
    referrer's own id for them, or empty). ``where`` maps a field name (need, urgency,
    summary, patient, nhs_number, birth_date, authored, requested_service) to its location
    in what was sent (a form field, or a FHIR element path), for error messages.
    """

    channel: str
    source: str
    referrer: Actor
    need: str
    urgency: str
    summary: str
    patient: PersonDetails
    authored_at: datetime | None = None
    requested_service: str | None = None
    message_id: str | None = None
    cohort: str | None = None
    #: The person, when the referrer already knows them in the person index (a cohort's
    #: worklist, a self-referral identified beforehand): not looked up again.
    person_key: str | None = None
    where: Mapping[str, str] = field(default_factory=dict)

    def at(self, name: str) -> str:
        """Where ``name`` was in what the referrer sent."""
        return self.where.get(name, name)


class Centre:
    """The single point of access for one ICS: its directory, router and rules."""

    def __init__(self, directory: Directory, rules: Rules) -> None:
        self.directory = directory
        self.rules = rules
        self.router = Router(directory, rules)
        self.services: dict[str, Service] = dict(self.router.by_id)

    def service_name(self, service_id: str | None) -> str:
        """A service's name (the coordination centre's for :data:`CENTRE`)."""
        if service_id is None:
            return "Not routed"
        if service_id == CENTRE:
            return "Coordination centre"
        service = self.services.get(service_id)
        return service.name if service else service_id

    # --- taking a referral in ---------------------------------------------------------------

    def take(self, session: Session, new: NewReferral, now: datetime) -> Referral:
        """Check, resolve the person, route and store a new referral (in ``session``'s
        transaction). Raises :class:`ReferralError` (nothing written) when it can't."""
        if new.message_id is not None:
            known = session.execute(
                select(_r.c.id).where(_r.c.message_id == new.message_id)
            ).scalar()
            if known is not None:
                raise ReferralError.one(
                    409,
                    IssueCode.DUPLICATE,
                    new.at("message_id"),
                    f"this message was taken before, as referral {known}",
                )
        self._check(new, now)
        person_key = self.resolve(session, new)
        person = self.person_context(session, person_key, now)
        returned: dict[str, str] = {}
        proposed, ranking = self.router.propose(
            Request(new.need, new.urgency, new.source, person, new.requested_service, returned),
            service_statuses(session),
            now,
        )
        duplicate = open_referral(session, person_key, new.need)
        referral_id = "ref-" + uuid.uuid4().hex[:16]
        row: dict[str, Any] = {
            "id": referral_id,
            "version": 1,
            "message_id": new.message_id,
            "person_key": person_key,
            "channel": new.channel,
            "source": new.source,
            "referrer_org": new.referrer.organisation,
            "referrer_user": new.referrer.subject,
            "referrer_name": new.referrer.name,
            "need": new.need,
            "urgency": new.urgency,
            "summary": new.summary.strip(),
            "requested_service": new.requested_service,
            "area": person.area,
            "cohort": new.cohort,
            "authored_at": new.authored_at or now,
            "received_at": now,
            "due_at": now + self.rules.within(new.urgency),
            "status": Status.RECEIVED.value,
            "business_status": "possible-duplicate" if duplicate else None,
            "owner": CENTRE,
            "proposed_service": proposed.service_id if proposed else None,
            "proposals": [c.to_dict() for c in ranking[:10]],
            "first_routed_service": None,
            "routed_at": None,
            "first_contact_at": None,
            "closed_at": None,
            "closed_reason": None,
            "bounces": 0,
            "redirects": 0,
            "duplicate_of": duplicate,
            "updated_at": now,
        }
        session.execute(insert(_r), row)
        _event(
            session, referral_id, now, "requested", None, Status.REQUESTED, new.referrer, None, None
        )
        _event(
            session,
            referral_id,
            now,
            "received",
            Status.REQUESTED,
            Status.RECEIVED,
            new.referrer,
            None,
            None,
        )
        referral = _referral(row)
        self._keep_in_record(session, referral, new.patient)
        return referral

    def _check(self, new: NewReferral, now: datetime) -> None:
        issues: list[Issue] = []
        if new.need not in NEEDS:
            issues.append(
                Issue(
                    IssueCode.VALUE,
                    new.at("need"),
                    "not a need this ICS routes (see docs/directory.md)",
                )
            )
        if new.urgency not in DISPOSITIONS:
            issues.append(
                Issue(
                    IssueCode.VALUE,
                    new.at("urgency"),
                    f"not an urgency ({', '.join(DISPOSITIONS)})",
                )
            )
        if new.source not in REFERRERS:
            issues.append(Issue(IssueCode.VALUE, new.at("source"), "not a kind of referrer"))
        if len(new.summary.strip()) < 10:
            issues.append(
                Issue(
                    IssueCode.REQUIRED,
                    new.at("summary"),
                    "say why the person is referred (at least 10 characters): the receiving team needs it",
                )
            )
        if new.requested_service is not None and new.requested_service not in self.services:
            raise ReferralError.one(
                404,
                IssueCode.NOT_FOUND,
                new.at("requested_service"),
                "no service in the directory has this id",
            )
        if new.authored_at is not None:
            if new.authored_at > now + CLOCK_SKEW:
                issues.append(
                    Issue(
                        IssueCode.VALUE, new.at("authored"), "the referral is dated in the future"
                    )
                )
            elif (
                new.patient.birth_date is not None
                and new.authored_at.date() < new.patient.birth_date
            ):
                issues.append(
                    Issue(
                        IssueCode.VALUE,
                        new.at("authored"),
                        "the referral is dated before the person was born",
                    )
                )
        birth = new.patient.birth_date
        if birth is not None and (birth > now.date() or birth < date(1880, 1, 1)):
            issues.append(
                Issue(IssueCode.VALUE, new.at("birth_date"), "the date of birth is impossible")
            )
        number = new.patient.nhs_number
        if number is not None and not (
            len(number) == 10 and number.isdigit() and modulus11_valid(number)
        ):
            issues.append(
                Issue(
                    IssueCode.VALUE,
                    new.at("nhs_number"),
                    "not a valid NHS number (10 digits passing the Modulus 11 check)",
                )
            )
        if issues:
            raise ReferralError(422, issues)

    def resolve(self, session: Session, new: NewReferral) -> str:
        """The person the referral is about, through the person index: NHS number and date
        of birth, or else family name, date of birth and postcode, matching one person."""
        if new.person_key is not None:
            return new.person_key
        patient = new.patient
        criteria: dict[str, list[str]]
        if patient.nhs_number:
            criteria = {"identifier": [f"{NHS_NUMBER_SYSTEM}|{patient.nhs_number}"]}
            if patient.birth_date:
                criteria["birthdate"] = [patient.birth_date.isoformat()]
        elif patient.family and patient.birth_date and patient.postcode:
            criteria = {
                "family": [patient.family],
                "birthdate": [patient.birth_date.isoformat()],
                "address-postalcode": [patient.postcode],
            }
        else:
            raise ReferralError.one(
                422,
                IssueCode.REQUIRED,
                new.at("patient"),
                "identify the person: an NHS number (with date of birth), or family name, "
                "date of birth and postcode",
            )
        found = find_people(session, criteria, limit=_MATCH_LIMIT)
        if len(found) != 1:
            raise ReferralError.one(
                422,
                IssueCode.NOT_FOUND if not found else IssueCode.VALUE,
                new.at("patient"),
                "the person could not be identified: no one in the ICS's person index has "
                "these details"
                if not found
                else "the details match more than one person: give the NHS number",
            )
        return found[0]

    def person_context(self, session: Session, person_key: str, now: datetime) -> PersonContext:
        """Age, sex and area of a person, from their source records (newest first)."""
        known = sorted(sources(session, person_key), key=lambda s: s.updated_at, reverse=True)
        birth = next((s.birth_date for s in known if s.birth_date), None)
        sex = next((s.sex for s in known if s.sex), None)
        postcode = next((s.postcode for s in known if s.postcode), None)
        return PersonContext(
            age_on(birth.isoformat() if birth else None, now.date()),
            sex,
            self.router.area_of(postcode),
        )

    # --- the lifecycle ---------------------------------------------------------------------

    def act(
        self,
        session: Session,
        referral_id: str,
        action: Action,
        actor: Actor,
        now: datetime,
        *,
        expected_version: int | None = None,
        service: str | None = None,
        reason: str | None = None,
    ) -> Referral:
        """Do ``action`` to a referral, in ``session``'s transaction; the referral after it.

        ``expected_version``: the version the actor read (If-Match); if the referral changed
        since, nothing is written and :class:`ReferralError` 412 says so.
        """
        current = get_referral(session, referral_id)
        if expected_version is not None and expected_version != current.version:
            raise ReferralError.one(
                412,
                IssueCode.CONFLICT,
                "If-Match",
                f"the referral has changed since you read it (version {expected_version}, now "
                f"{current.version}): read it again and redo the change",
            )
        starts, to_status, needs_reason, _ = TRANSITIONS[action]
        if current.status not in starts:
            raise ReferralError.one(
                409,
                IssueCode.CONFLICT,
                "Task.status",
                f"a referral that is {current.status.value} cannot be given '{action.value}'",
            )
        reason = (reason or "").strip() or None
        if needs_reason and reason is None:
            raise ReferralError.one(
                400, IssueCode.REQUIRED, "reason", f"'{action.value}' needs a reason"
            )
        values: dict[str, Any] = {
            "status": to_status.value,
            "updated_at": now,
            "business_status": None,
        }
        target: str | None = None
        if action in (Action.ACCEPT, Action.REDIRECT):
            target = current.proposed_service if action is Action.ACCEPT else service
            if target is None:
                raise ReferralError.one(
                    409 if action is Action.ACCEPT else 400,
                    IssueCode.REQUIRED,
                    "service",
                    "there is no proposal to accept: redirect to a service, with a reason"
                    if action is Action.ACCEPT
                    else "redirect to which service?",
                )
            if target not in self.services:
                raise ReferralError.one(
                    404, IssueCode.NOT_FOUND, "service", "no service in the directory has this id"
                )
            values |= {"owner": target, "routed_at": now}
            if current.first_routed_service is None:
                values["first_routed_service"] = target
            if action is Action.REDIRECT:
                values["redirects"] = current.redirects + 1
        elif action is Action.ASK_INFO:
            values["business_status"] = "awaiting-information"
        elif action is Action.BOUNCE:
            target = current.owner
            values |= {
                "owner": CENTRE,
                "bounces": current.bounces + 1,
                "business_status": "returned",
            }
        elif action is Action.START:
            values["first_contact_at"] = now
        elif action is Action.COMPLETE:
            values["first_contact_at"] = current.first_contact_at or now
        if to_status in CLOSED:
            values |= {"closed_at": now, "closed_reason": reason}
        if action in (Action.BOUNCE, Action.INFO_RECEIVED):
            values |= self._route_again(
                session, current, now, returned_also={target: reason or ""} if target else {}
            )
        changed = session.execute(
            update(_r)
            .where(_r.c.id == referral_id, _r.c.version == current.version)
            .values(version=current.version + 1, **values)
        ).rowcount  # type: ignore[attr-defined]
        if changed != 1:  # changed by someone else between the read and the write
            raise ReferralError.one(
                412,
                IssueCode.CONFLICT,
                "If-Match",
                "the referral changed while this change was made: read it again",
            )
        _event(
            session,
            referral_id,
            now,
            action.value,
            current.status,
            to_status,
            actor,
            target,
            reason,
        )
        after = get_referral(session, referral_id)
        self._keep_in_record(session, after, None)
        if action in (Action.ACCEPT, Action.REDIRECT):
            enqueue_notifications(session, after, "routed", now)
        return after

    def _route_again(
        self, session: Session, current: Referral, now: datetime, returned_also: Mapping[str, str]
    ) -> dict[str, Any]:
        returned = {**returned_by(session, current.id), **returned_also}
        person = self.person_context(session, current.person_key, now)
        proposed, ranking = self.router.propose(
            Request(
                current.need,
                current.urgency,
                current.source,
                person,
                current.requested_service,
                returned,
            ),
            service_statuses(session),
            now,
        )
        return {
            "proposed_service": proposed.service_id if proposed else None,
            "proposals": [c.to_dict() for c in ranking[:10]],
        }

    # --- the shared care record ---------------------------------------------------------------

    def service_request(self, referral: Referral, patient_reference: str) -> dict[str, Any]:
        """The referral as a FHIR ServiceRequest in the person's record."""
        performers = []
        if referral.open:
            performers.append(
                {
                    "identifier": {"system": SERVICE_SYSTEM, "value": CENTRE},
                    "display": "Coordination centre",
                }
            )
        if referral.owner != CENTRE:
            performers.append(
                {
                    "identifier": {"system": SERVICE_SYSTEM, "value": referral.owner},
                    "display": self.service_name(referral.owner),
                }
            )
        resource: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "id": referral.id,
            "identifier": [{"system": REFERRAL_SYSTEM, "value": referral.id}],
            "status": REQUEST_STATUS[referral.status],
            "intent": "order",
            "category": [{"coding": [REFERRAL_CATEGORY]}],
            "priority": PRIORITY[referral.urgency],
            "code": {
                "coding": [
                    {"system": NEED_SYSTEM, "code": referral.need, "display": NEEDS[referral.need]}
                ],
                "text": f"Referral for {NEEDS[referral.need]}",
            },
            "subject": {"reference": patient_reference},
            "authoredOn": referral.authored_at.isoformat(),
            "requester": (
                {"reference": patient_reference, "display": "The person themselves (self-referral)"}
                if referral.source == "self"
                else {
                    "identifier": {"system": ODS_SYSTEM, "value": referral.referrer_org},
                    "display": f"{referral.referrer_name} ({REFERRERS[referral.source]})",
                }
            ),
            "reasonCode": [{"text": referral.summary}],
        }
        if performers:
            resource["performer"] = performers
        routed = self.services.get(referral.first_routed_service or "")
        parts: list[dict[str, Any]] = [
            {"url": "urgency", "valueCode": referral.urgency},
            {"url": "received", "valueDateTime": instant(referral.received_at)},
            {"url": "due", "valueDateTime": instant(referral.due_at)},
        ]
        if routed is not None:
            parts += [
                {"url": "serviceType", "valueCode": routed.type},
                {"url": "provider", "valueCode": routed.provider},
            ]
        if referral.first_contact_at is not None:
            parts.append(
                {"url": "firstContact", "valueDateTime": instant(referral.first_contact_at)}
            )
        resource["extension"] = [{"url": RESPONSE_EXTENSION, "extension": parts}]
        if referral.closed_reason:
            resource["note"] = [{"text": referral.closed_reason}]
        return resource

    def _keep_in_record(
        self, session: Session, referral: Referral, patient: PersonDetails | None
    ) -> None:
        """Write (or update) the referral's ServiceRequest in the person's record, under the
        referring organisation's referrals feed, linked to the person the referral is about."""
        local_id = referral.person_key
        source_record = None
        if patient is not None:
            details = PersonDetails(
                local_id=local_id,
                nhs_number=patient.nhs_number,
                given=patient.given,
                family=patient.family,
                birth_date=patient.birth_date,
                sex=patient.sex,
                postcode=patient.postcode,
            )
            source_record = attach_source_record(
                session,
                partner=referral.referrer_org,
                feed=FEED,
                person=details,
                person_key=referral.person_key,
                reason="identified at referral intake",
                at=referral.received_at,
            )
        else:
            source_record = _referral_source_record(session, referral)
        prepared = prepare_resources(
            [self.service_request(referral, f"Patient/{local_id}")],
            partner=referral.referrer_org,
            feed=FEED,
            patient_local_id=local_id,
        )
        store_resources(
            session,
            prepared,
            partner=referral.referrer_org,
            feed=FEED,
            message_id=f"{referral.id}#{referral.version}",
            received_at=referral.updated_at,
            source_record_id=source_record,
        )


# --- reading -----------------------------------------------------------------------------------


def read_referral(session: Session, referral_id: str) -> Referral | None:
    """One referral, or None."""
    row = session.execute(select(_r).where(_r.c.id == referral_id)).mappings().first()
    return _referral(row) if row is not None else None


def get_referral(session: Session, referral_id: str, where: str = "Task") -> Referral:
    """One referral; :class:`ReferralError` 404 (at ``where``) if there is none."""
    found = read_referral(session, referral_id)
    if found is None:
        raise ReferralError.one(404, IssueCode.NOT_FOUND, where, "no referral with this id")
    return found


def list_referrals(
    session: Session,
    *,
    owner: str | None = None,
    statuses: Iterable[Status] | None = None,
    person_key: str | None = None,
    referrer_user: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[Referral]:
    """Referrals matching every filter given, the most urgent (earliest due) first."""
    query = select(_r)
    if owner is not None:
        query = query.where(_r.c.owner == owner)
    if statuses is not None:
        query = query.where(_r.c.status.in_([s.value for s in statuses]))
    if person_key is not None:
        query = query.where(_r.c.person_key == person_key)
    if referrer_user is not None:
        query = query.where(_r.c.referrer_user == referrer_user)
    rows = session.execute(
        query.order_by(_r.c.due_at, _r.c.id).limit(limit).offset(offset)
    ).mappings()
    return [_referral(r) for r in rows]


def open_referral(session: Session, person_key: str, need: str) -> str | None:
    """The person's earliest open referral for this need, if any (a new one duplicates it)."""
    return session.execute(
        select(_r.c.id)
        .where(
            _r.c.person_key == person_key,
            _r.c.need == need,
            _r.c.status.not_in([s.value for s in CLOSED]),
        )
        .order_by(_r.c.received_at)
        .limit(1)
    ).scalar()


def count_referrals(
    session: Session, *, owner: str | None = None, statuses: Iterable[Status] | None = None
) -> int:
    """How many referrals match."""
    query = select(func.count()).select_from(_r)
    if owner is not None:
        query = query.where(_r.c.owner == owner)
    if statuses is not None:
        query = query.where(_r.c.status.in_([s.value for s in statuses]))
    return int(session.execute(query).scalar_one())


@dataclass(frozen=True)
class Event:
    """One step in a referral's history."""

    at: datetime
    action: str
    from_status: str | None
    to_status: str
    actor_name: str
    service: str | None
    reason: str | None


def history(session: Session, referral_id: str) -> list[Event]:
    """A referral's history, oldest first."""
    rows = session.execute(
        select(_e).where(_e.c.referral_id == referral_id).order_by(_e.c.id)
    ).mappings()
    return [
        Event(
            as_utc(r["at"]),
            r["action"],
            r["from_status"],
            r["to_status"],
            r["actor_name"],
            r["service"],
            r["reason"],
        )
        for r in rows
    ]


def returned_by(session: Session, referral_id: str) -> dict[str, str]:
    """The services that returned (bounced) this referral, with their reasons."""
    rows = session.execute(
        select(_e.c.service, _e.c.reason).where(
            _e.c.referral_id == referral_id, _e.c.action == Action.BOUNCE.value
        )
    )
    return {service: reason or "" for service, reason in rows if service}


def service_statuses(session: Session) -> dict[str, str]:
    """Each service's live capacity status (services that never reported are absent)."""
    t = tables.service_status
    return {sid: status for sid, status in session.execute(select(t.c.service_id, t.c.status))}


def set_service_status(
    session: Session, service_id: str, status: str, note: str, by: str, at: datetime
) -> None:
    """Record a service's capacity status (green, amber or red), replacing the last."""
    if status not in CAPACITY_STATUSES:
        raise ReferralError.one(
            400, IssueCode.VALUE, "status", f"expected one of {', '.join(CAPACITY_STATUSES)}"
        )
    t = tables.service_status
    session.execute(t.delete().where(t.c.service_id == service_id))
    session.execute(
        insert(t),
        {
            "service_id": service_id,
            "status": status,
            "note": note,
            "updated_at": at,
            "updated_by": by,
        },
    )


# --- notifications (the outbox; joinedup.referrals.notify delivers) -----------------------------------


def enqueue_notifications(session: Session, referral: Referral, event: str, now: datetime) -> int:
    """Queue a notification to every active subscription of the referral's owner."""
    s = tables.subscription
    ids = (
        session.execute(
            select(s.c.id).where(s.c.service_id == referral.owner, s.c.active.is_(True))
        )
        .scalars()
        .all()
    )
    if ids:
        session.execute(
            insert(tables.notification),
            [
                {
                    "subscription_id": sid,
                    "referral_id": referral.id,
                    "event": event,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": None,
                    "created_at": now,
                    "delivered_at": None,
                }
                for sid in ids
            ],
        )
    return len(ids)


# --- helpers -------------------------------------------------------------------------------------


def _event(
    session: Session,
    referral_id: str,
    at: datetime,
    action: str,
    from_status: Status | None,
    to_status: Status,
    actor: Actor,
    service: str | None,
    reason: str | None,
) -> None:
    session.execute(
        insert(_e),
        {
            "referral_id": referral_id,
            "at": at,
            "action": action,
            "from_status": from_status.value if from_status else None,
            "to_status": to_status.value,
            "actor": actor.subject,
            "actor_name": actor.name,
            "service": service,
            "reason": reason,
        },
    )


def _referral_source_record(session: Session, referral: Referral) -> int | None:
    return source_record_id(
        session, partner=referral.referrer_org, feed=FEED, local_id=referral.person_key
    )


_TIMES: Final = (
    "authored_at",
    "received_at",
    "due_at",
    "routed_at",
    "first_contact_at",
    "closed_at",
    "updated_at",
)


def _referral(row: Any) -> Referral:
    values = dict(row)
    for name in _TIMES:
        if values[name] is not None:
            values[name] = as_utc(values[name])
    values["status"] = Status(values["status"])
    return Referral(**values)


def open_statuses() -> Sequence[Status]:
    """The statuses of referrals still being dealt with."""
    return [s for s in Status if s not in CLOSED]
