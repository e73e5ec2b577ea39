"""Self-referral: a person refers themselves, from a public form, without a staff account.

Every submission is kept first, as sent (table ``self_referral``). If the person index knows
the person (NHS number and date of birth, or family name, date of birth and postcode, as for
any referral) the referral is taken at once, with the person as its referrer; if not, it is
held for the coordination centre, who telephones the person, identifies them and takes it
(:func:`identify`), or closes it with a reason (:func:`close`). Nothing is dropped.

The person is told the same thing either way (a reference and what happens next): the
public form must not tell anyone whether the NHS holds a record of someone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from joinedup.access.audit import as_utc
from joinedup.directory.profiles import NEEDS
from joinedup.feeds.model import IssueCode, PersonDetails
from joinedup.referrals import tables
from joinedup.referrals.model import Referral, ReferralError
from joinedup.referrals.store import Actor, Centre, NewReferral

#: The "partner" a self-referral's ServiceRequest is kept under in the person's record.
SELF_PARTNER: Final = "self-referral"
#: The pace a self-referral is routed at: urgent help is 111 or 999, not a web form.
SELF_URGENCY: Final = "routine"

REFERRED: Final = "referred"
TO_IDENTIFY: Final = "to-identify"
CLOSED: Final = "closed"

_t = tables.self_referral


@dataclass(frozen=True)
class SelfReferral:
    """A self-referral as the person sent it."""

    given: str
    family: str
    birth_date: date
    postcode: str
    phone: str
    need: str
    summary: str
    nhs_number: str | None = None

    def details(self) -> dict[str, Any]:
        return {
            "given": self.given,
            "family": self.family,
            "birth_date": self.birth_date.isoformat(),
            "postcode": self.postcode,
            "phone": self.phone,
            "need": self.need,
            "summary": self.summary,
            "nhs_number": self.nhs_number,
        }

    @classmethod
    def from_details(cls, details: dict[str, Any]) -> SelfReferral:
        return cls(**{**details, "birth_date": date.fromisoformat(details["birth_date"])})


@dataclass(frozen=True)
class Held:
    """A self-referral as it stands."""

    id: str
    received_at: datetime
    sent: SelfReferral
    status: str
    referral_id: str | None
    reason: str | None


def self_referral_needs(centre: Centre) -> dict[str, str]:
    """The needs a person may refer themselves for: those a service that takes
    self-referrals handles at a routine pace (code: words), in the order of NEEDS."""
    offered = {
        need
        for service in centre.services.values()
        if "self" in service.referrers and SELF_URGENCY in service.dispositions
        for need in service.needs
    }
    return {code: words for code, words in NEEDS.items() if code in offered}


def submit(
    centre: Centre, session: Session, sent: SelfReferral, now: datetime
) -> tuple[Held, Referral | None]:
    """Keep a self-referral and take it if the person is known (in ``session``'s
    transaction): the self-referral, and the referral if it was taken. One the person index
    can't place is held. One that fails the referral's checks raises
    :class:`ReferralError`, nothing kept: the form shows what to fix."""
    hold_id = "self-" + uuid.uuid4().hex[:16]
    new = _new_referral(sent, hold_id, sent.nhs_number, sent.birth_date, now)
    referral: Referral | None = None
    reason: str | None = None
    try:
        person_key = centre.resolve(session, new)
    except ReferralError as error:
        status, reason = TO_IDENTIFY, error.issues[0].diagnostics
    else:
        referral = centre.take(session, replace(new, person_key=person_key), now)
        status = REFERRED
    session.execute(
        insert(_t),
        {
            "id": hold_id,
            "received_at": now,
            "details": sent.details(),
            "need": sent.need,
            "status": status,
            "referral_id": referral.id if referral else None,
            "reason": reason,
            "updated_at": now,
            "updated_by": None,
        },
    )
    return Held(hold_id, now, sent, status, referral.id if referral else None, reason), referral


def identify(
    centre: Centre,
    session: Session,
    hold_id: str,
    nhs_number: str,
    birth_date: date,
    actor: Actor,
    now: datetime,
) -> Referral:
    """Take a held self-referral for the person a coordinator identified (NHS number and
    date of birth, found with them on the telephone)."""
    held = _open_hold(session, hold_id)
    new = _new_referral(held.sent, hold_id, nhs_number, birth_date, held.received_at)
    new = replace(new, where={**new.where, "patient": "nhs_number", "nhs_number": "nhs_number"})
    referral = centre.take(session, new, now)
    session.execute(
        update(_t)
        .where(_t.c.id == hold_id)
        .values(status=REFERRED, referral_id=referral.id, updated_at=now, updated_by=actor.name)
    )
    return referral


def close(session: Session, hold_id: str, reason: str, actor: Actor, now: datetime) -> None:
    """Close a held self-referral with a reason (the person could not be reached, or has
    been helped another way)."""
    _open_hold(session, hold_id)
    if not reason.strip():
        raise ReferralError.one(400, IssueCode.REQUIRED, "reason", "say why it is closed")
    session.execute(
        update(_t)
        .where(_t.c.id == hold_id)
        .values(status=CLOSED, reason=reason.strip(), updated_at=now, updated_by=actor.name)
    )


def read_held(session: Session, hold_id: str) -> Held:
    """One self-referral; :class:`ReferralError` 404 if there is none."""
    row = session.execute(select(_t).where(_t.c.id == hold_id)).mappings().first()
    if row is None:
        raise ReferralError.one(404, IssueCode.NOT_FOUND, "self-referral", "no such self-referral")
    return _held(row)


def list_held(session: Session, status: str = TO_IDENTIFY, limit: int = 200) -> list[Held]:
    """Self-referrals in ``status`` (by default those waiting to be identified), oldest first."""
    rows = session.execute(
        select(_t).where(_t.c.status == status).order_by(_t.c.received_at).limit(limit)
    ).mappings()
    return [_held(r) for r in rows]


def _open_hold(session: Session, hold_id: str) -> Held:
    held = read_held(session, hold_id)
    if held.status != TO_IDENTIFY:
        raise ReferralError.one(
            409,
            IssueCode.CONFLICT,
            "self-referral",
            f"this self-referral is already {held.status}",
        )
    return held


def _held(row: Any) -> Held:
    return Held(
        row["id"],
        as_utc(row["received_at"]),
        SelfReferral.from_details(row["details"]),
        row["status"],
        row["referral_id"],
        row["reason"],
    )


def _new_referral(
    sent: SelfReferral,
    hold_id: str,
    nhs_number: str | None,
    birth_date: date,
    authored_at: datetime,
) -> NewReferral:
    return NewReferral(
        channel="self",
        source="self",
        referrer=Actor(
            f"{SELF_PARTNER}/{hold_id}", f"{sent.given} {sent.family} (self)", SELF_PARTNER
        ),
        need=sent.need,
        urgency=SELF_URGENCY,
        summary=f"{sent.summary.strip()}\n\nSelf-referral. Contact telephone: {sent.phone}.",
        patient=PersonDetails(
            local_id="",
            nhs_number=nhs_number,
            given=sent.given,
            family=sent.family,
            birth_date=birth_date,
            postcode=sent.postcode,
        ),
        authored_at=authored_at,
        message_id=f"{SELF_PARTNER}/{hold_id}",
        where={
            "patient": "family",
            "nhs_number": "nhs_number",
            "birth_date": "birth_date",
            "need": "need",
            "summary": "summary",
        },
    )
