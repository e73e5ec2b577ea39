"""Referrals in FHIR: the NHS Booking and Referral Standard's message in, a Task out.

A BaRS referral is a ``message`` Bundle: a MessageHeader (event
``servicerequest-request``) whose focus is the ServiceRequest, with the Patient and the
Encounter the referral came from. :func:`parse_bars` reads it into a
:class:`~joinedup.referrals.store.NewReferral`, every problem named by its element path.
Each referral is served as a FHIR Task (:func:`task`) whose ``focus`` is the
ServiceRequest kept in the person's shared care record.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Final

from joinedup.directory.profiles import DISPOSITIONS, NEEDS, REFERRERS
from joinedup.feeds.model import Issue, IssueCode, PersonDetails
from joinedup.feeds.uk_core import NHS_NUMBER_SYSTEM
from joinedup.records.store import stored_id
from joinedup.referrals.model import CENTRE, Referral, ReferralError, Status, instant
from joinedup.referrals.store import (
    FEED,
    NEED_SYSTEM,
    ODS_SYSTEM,
    PRIORITY,
    REFERRAL_SYSTEM,
    SERVICE_SYSTEM,
    Actor,
    NewReferral,
)

#: BaRS message events (https://fhir.nhs.uk/CodeSystem/message-events-bars).
BARS_EVENTS: Final = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
BARS_REQUEST: Final = "servicerequest-request"
#: The urgency, as a ServiceRequest.category coding in this system (else from priority).
URGENCY_SYSTEM: Final = "https://joinedup.nhs.uk/CodeSystem/referral-urgency"
#: Task.businessStatus codes.
BUSINESS_SYSTEM: Final = "https://joinedup.nhs.uk/CodeSystem/referral-business-status"
#: An urgency from FHIR request-priority when the sender gives none of ours.
URGENCY_FOR_PRIORITY: Final = {
    "stat": "emergency",
    "asap": "two_hour",
    "urgent": "same_day",
    "routine": "routine",
}


#: What the referral routes add to the CapabilityStatement.
REFERRAL_CAPABILITIES: Final = (
    {
        "type": "Task",
        "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "update"}],
        "versioning": "versioned-update",
        "updateCreate": False,
        "conditionalUpdate": False,
        "searchParam": [
            {"name": "owner", "type": "reference"},
            {"name": "status", "type": "token"},
            {"name": "patient", "type": "reference"},
        ],
        "documentation": "Referrals in the single point of access; update needs If-Match.",
    },
    {
        "type": "Subscription",
        "interaction": [{"code": "create"}, {"code": "search-type"}],
        "documentation": "rest-hook, criteria Task?owner=<service id>.",
    },
)


def task(referral: Referral, service_name: str, *, clock: str) -> dict[str, Any]:
    """The referral as a FHIR R4 Task (``meta.versionId`` is the referral's version)."""
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": referral.id,
        "meta": {"versionId": str(referral.version), "lastUpdated": instant(referral.updated_at)},
        "identifier": [{"system": REFERRAL_SYSTEM, "value": referral.id}],
        "status": referral.status.value,
        "intent": "order",
        "priority": PRIORITY[referral.urgency],
        "code": {
            "coding": [
                {
                    "system": "http://hl7.org/fhir/CodeSystem/task-code",
                    "code": "fulfill",
                    "display": "Fulfill the focal request",
                }
            ]
        },
        "description": f"Referral for {NEEDS[referral.need]}: {DISPOSITIONS[referral.urgency].words}",
        "focus": {
            "reference": "ServiceRequest/"
            + stored_id(referral.referrer_org, FEED, "ServiceRequest", referral.id)
        },
        "for": {"reference": f"Patient/{referral.person_key}"},
        "authoredOn": instant(referral.received_at),
        "lastModified": instant(referral.updated_at),
        "requester": {
            "identifier": {"system": ODS_SYSTEM, "value": referral.referrer_org},
            "display": f"{referral.referrer_name} ({REFERRERS[referral.source]})",
        },
        "owner": {
            "identifier": {"system": SERVICE_SYSTEM, "value": referral.owner},
            "display": service_name,
        },
        "executionPeriod": {
            "start": instant(referral.received_at),
            **({"end": instant(referral.closed_at)} if referral.closed_at else {}),
        },
        "restriction": {"period": {"end": instant(referral.due_at)}},
        "input": [
            {
                "type": {"coding": [{"system": NEED_SYSTEM, "code": referral.need}]},
                "valueString": NEEDS[referral.need],
            },
            {
                "type": {"coding": [{"system": URGENCY_SYSTEM, "code": referral.urgency}]},
                "valueString": DISPOSITIONS[referral.urgency].words,
            },
        ],
        "extension": [
            {
                "url": "https://joinedup.nhs.uk/StructureDefinition/referral-clock",
                "valueCode": clock,
            }
        ],
    }
    business = referral.business_status or ("at-risk" if clock == "at-risk" else None)
    if business:
        resource["businessStatus"] = {"coding": [{"system": BUSINESS_SYSTEM, "code": business}]}
    if referral.closed_reason:
        resource["statusReason"] = {"text": referral.closed_reason}
    if referral.first_contact_at:
        resource["output"] = [
            {
                "type": {"text": "first contact"},
                "valueDateTime": instant(referral.first_contact_at),
            }
        ]
    return resource


def parse_bars(bundle: Any, *, referrer: Actor, source: str) -> NewReferral:
    """A BaRS referral message as a new referral; :class:`ReferralError` 400/422 if it is
    not one, naming each problem's element path."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ReferralError.one(400, IssueCode.STRUCTURE, "Bundle", "expected a FHIR Bundle")
    if bundle.get("type") != "message":
        raise ReferralError.one(
            400, IssueCode.VALUE, "Bundle.type", "a referral is a message Bundle (type message)"
        )
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise ReferralError.one(400, IssueCode.REQUIRED, "Bundle.entry", "the message is empty")
    resources: dict[str, tuple[int, dict[str, Any]]] = {}
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or "resourceType" not in resource:
            raise ReferralError.one(
                400, IssueCode.STRUCTURE, f"Bundle.entry[{i}]", "an entry without a resource"
            )
        for key in (entry.get("fullUrl"), f"{resource['resourceType']}/{resource.get('id')}"):
            if key:
                resources[str(key)] = (i, resource)
    header = entries[0].get("resource") or {}
    if header.get("resourceType") != "MessageHeader":
        raise ReferralError.one(
            400,
            IssueCode.STRUCTURE,
            "Bundle.entry[0].resource",
            "a message starts with its MessageHeader",
        )
    event = header.get("eventCoding") or {}
    if event.get("code") != BARS_REQUEST:
        raise ReferralError.one(
            422,
            IssueCode.NOT_SUPPORTED,
            "Bundle.entry[0].resource.eventCoding",
            f"only the BaRS event {BARS_REQUEST} is taken here",
        )
    message_id = header.get("id") or (bundle.get("identifier") or {}).get("value")
    if not message_id:
        raise ReferralError.one(
            422, IssueCode.REQUIRED, "Bundle.entry[0].resource.id", "the message has no id"
        )
    focus = (header.get("focus") or [{}])[0].get("reference")
    request_at = resources.get(str(focus)) if focus else None
    if request_at is None or request_at[1].get("resourceType") != "ServiceRequest":
        raise ReferralError.one(
            422,
            IssueCode.REQUIRED,
            "Bundle.entry[0].resource.focus",
            "the MessageHeader's focus must be the ServiceRequest in the message",
        )
    index, request = request_at
    at = f"Bundle.entry[{index}].resource"
    issues: list[Issue] = []

    def referenced(field_name: str, resource_type: str) -> tuple[int, dict[str, Any]] | None:
        reference = (request.get(field_name) or {}).get("reference")
        found = resources.get(str(reference)) if reference else None
        if found is None or found[1].get("resourceType") != resource_type:
            issues.append(
                Issue(
                    IssueCode.REQUIRED,
                    f"{at}.{field_name}",
                    f"must refer to the {resource_type} in the message",
                )
            )
            return None
        return found

    patient_at = referenced("subject", "Patient")
    referenced("encounter", "Encounter")
    need = next(
        (
            c.get("code")
            for c in (request.get("code") or {}).get("coding", [])
            if c.get("system") == NEED_SYSTEM
        ),
        None,
    )
    if need is None:
        issues.append(
            Issue(IssueCode.REQUIRED, f"{at}.code", f"give the need as a coding in {NEED_SYSTEM}")
        )
    urgency = next(
        (
            c.get("code")
            for category in request.get("category") or []
            for c in category.get("coding", [])
            if c.get("system") == URGENCY_SYSTEM
        ),
        URGENCY_FOR_PRIORITY.get(str(request.get("priority"))),
    )
    if urgency is None:
        issues.append(
            Issue(
                IssueCode.REQUIRED,
                f"{at}.priority",
                f"give an urgency (a category coding in {URGENCY_SYSTEM}, or a priority)",
            )
        )
    summary = " ".join(
        str(r.get("text")) for r in request.get("reasonCode") or [] if r.get("text")
    ) or " ".join(str(n.get("text")) for n in request.get("note") or [] if n.get("text"))
    authored = _datetime(request.get("authoredOn"), f"{at}.authoredOn", issues)
    requested = next(
        (
            p.get("identifier", {}).get("value")
            for p in request.get("performer") or []
            if p.get("identifier", {}).get("system") == SERVICE_SYSTEM
        ),
        None,
    )
    patient = PersonDetails(local_id="")
    patient_path = f"{at}.subject"
    if patient_at is not None:
        patient_path = f"Bundle.entry[{patient_at[0]}].resource"
        patient = _person(patient_at[1], patient_path, issues)
    if issues:
        raise ReferralError(422, issues)
    assert need is not None and urgency is not None
    return NewReferral(
        channel="bars",
        source=source,
        referrer=referrer,
        need=str(need),
        urgency=str(urgency),
        summary=summary,
        patient=patient,
        authored_at=authored,
        requested_service=requested,
        message_id=str(message_id),
        where={
            "message_id": "Bundle.entry[0].resource.id",
            "need": f"{at}.code",
            "urgency": f"{at}.category",
            "summary": f"{at}.reasonCode",
            "authored": f"{at}.authoredOn",
            "requested_service": f"{at}.performer",
            "patient": patient_path,
            "nhs_number": f"{patient_path}.identifier",
            "birth_date": f"{patient_path}.birthDate",
        },
    )


def _person(patient: dict[str, Any], path: str, issues: list[Issue]) -> PersonDetails:
    nhs = next(
        (
            str(i.get("value"))
            for i in patient.get("identifier") or []
            if i.get("system") == NHS_NUMBER_SYSTEM and i.get("value")
        ),
        None,
    )
    name = (patient.get("name") or [{}])[0]
    birth: date | None = None
    if patient.get("birthDate"):
        try:
            birth = date.fromisoformat(str(patient["birthDate"]))
        except ValueError:
            issues.append(Issue(IssueCode.VALUE, f"{path}.birthDate", "not a date (YYYY-MM-DD)"))
    postcode = next(
        (a.get("postalCode") for a in patient.get("address") or [] if a.get("postalCode")), None
    )
    return PersonDetails(
        local_id=str(patient.get("id") or ""),
        nhs_number=nhs,
        given=" ".join(name.get("given") or []) or None,
        family=name.get("family"),
        birth_date=birth,
        sex=patient.get("gender"),
        postcode=postcode,
    )


def _datetime(value: Any, path: str, issues: list[Issue]) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        issues.append(Issue(IssueCode.VALUE, path, "not a dateTime (e.g. 2026-12-03T09:30:00Z)"))
        return None
    if parsed.tzinfo is None:
        issues.append(Issue(IssueCode.VALUE, path, "a dateTime with a time needs a time zone"))
        return None
    return parsed.astimezone(UTC)


#: How a Task update (PUT) from another system maps to a lifecycle action: (old status,
#: new status) -> action; accepted from received is accept or redirect by the owner given.
def action_for_update(current: Referral, new_status: str, new_owner: str | None) -> str:
    """The lifecycle action a Task update asks for (a :class:`~joinedup.referrals.model.Action`
    value), or raises :class:`ReferralError` 409 when the change is not one."""
    old = current.status
    if new_status == Status.ACCEPTED and old is Status.RECEIVED:
        if new_owner in (None, current.proposed_service):
            return "accept"
        return "redirect"
    table = {
        (Status.RECEIVED, Status.ON_HOLD): "ask-info",
        (Status.ON_HOLD, Status.RECEIVED): "info-received",
        (Status.RECEIVED, Status.REJECTED): "decline",
        (Status.ON_HOLD, Status.REJECTED): "decline",
        (Status.ACCEPTED, Status.RECEIVED): "bounce",
        (Status.ACCEPTED, Status.IN_PROGRESS): "start",
        (Status.ACCEPTED, Status.COMPLETED): "complete",
        (Status.IN_PROGRESS, Status.COMPLETED): "complete",
    }
    for start in (Status.RECEIVED, Status.ON_HOLD, Status.ACCEPTED):
        table[(start, Status.CANCELLED)] = "cancel"
    try:
        return table[(old, Status(new_status))]
    except (KeyError, ValueError):
        raise ReferralError.one(
            409,
            IssueCode.CONFLICT,
            "Task.status",
            f"a referral that is {old.value} cannot become {new_status}",
        ) from None


__all__ = ["CENTRE", "action_for_update", "parse_bars", "task"]
