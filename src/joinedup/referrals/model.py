"""A referral and its lifecycle, as a FHIR Task moves: what may follow what, and the errors.

``received`` (in the coordination centre's worklist; the clock starts) -> ``accepted``
(routed to a team, which is notified) -> ``in-progress`` (first contact) -> ``completed``.
A coordinator may instead ask for more information (``on-hold`` until it comes), decline
(``rejected``, back to the referrer with the reason), or cancel a duplicate; a team may
return a referral it cannot take (a *bounce*: back to ``received`` for the coordinator,
with the reason, and that team is not proposed again). Nothing is ever dropped silently:
every step is a :data:`~joinedup.referrals.tables.referral_event` with who, when and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from joinedup.feeds.model import IssueError

#: The owner of a referral not yet routed: the single point of access's coordination centre.
CENTRE = "coordination-centre"


class Status(StrEnum):
    """FHIR Task.status values a referral takes."""

    REQUESTED = "requested"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


#: A referral in one of these is finished: nothing more happens to it.
CLOSED = frozenset({Status.COMPLETED, Status.REJECTED, Status.CANCELLED})


class Action(StrEnum):
    """What someone can do to a referral."""

    ACCEPT = "accept"  # coordinator: send to the proposed service
    REDIRECT = "redirect"  # coordinator: send to another service, with a reason
    ASK_INFO = "ask-info"  # coordinator: ask the referrer for more information
    INFO_RECEIVED = "info-received"  # coordinator: the information came
    DECLINE = "decline"  # coordinator: back to the referrer, with a reason
    CANCEL = "cancel"  # coordinator or referrer: withdrawn, or a duplicate
    BOUNCE = "bounce"  # team: return to the coordination centre, with a reason
    START = "start"  # team: first contact made
    COMPLETE = "complete"  # team: done


#: Each action: the statuses it may start from, the status it leads to, whether it needs a
#: reason, and who does it (``coordinate`` or ``team``).
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status, bool, str]] = {
    Action.ACCEPT: (frozenset({Status.RECEIVED}), Status.ACCEPTED, False, "coordinate"),
    Action.REDIRECT: (frozenset({Status.RECEIVED}), Status.ACCEPTED, True, "coordinate"),
    Action.ASK_INFO: (frozenset({Status.RECEIVED}), Status.ON_HOLD, True, "coordinate"),
    Action.INFO_RECEIVED: (frozenset({Status.ON_HOLD}), Status.RECEIVED, False, "coordinate"),
    Action.DECLINE: (
        frozenset({Status.RECEIVED, Status.ON_HOLD}),
        Status.REJECTED,
        True,
        "coordinate",
    ),
    Action.CANCEL: (
        frozenset({Status.RECEIVED, Status.ON_HOLD, Status.ACCEPTED}),
        Status.CANCELLED,
        True,
        "coordinate",
    ),
    Action.BOUNCE: (frozenset({Status.ACCEPTED}), Status.RECEIVED, True, "team"),
    Action.START: (frozenset({Status.ACCEPTED}), Status.IN_PROGRESS, False, "team"),
    Action.COMPLETE: (
        frozenset({Status.ACCEPTED, Status.IN_PROGRESS}),
        Status.COMPLETED,
        False,
        "team",
    ),
}


class ReferralError(IssueError):
    """A referral or an action on one that cannot be taken; nothing has been written.

    ``status``: 400 bad request, 404 no such referral or service, 409 a duplicate message or
    a change that does not fit the referral's state, 412 someone changed it since it was
    read, 422 the referral fails validation.
    """


@dataclass(frozen=True)
class Referral:
    """A referral as it stands."""

    id: str
    version: int
    message_id: str | None
    person_key: str
    channel: str
    source: str
    referrer_org: str
    referrer_user: str
    referrer_name: str
    need: str
    urgency: str
    summary: str
    requested_service: str | None
    area: str | None
    cohort: str | None
    authored_at: datetime
    received_at: datetime
    due_at: datetime
    status: Status
    business_status: str | None
    owner: str
    proposed_service: str | None
    proposals: list[dict[str, Any]]
    first_routed_service: str | None
    routed_at: datetime | None
    first_contact_at: datetime | None
    closed_at: datetime | None
    closed_reason: str | None
    bounces: int
    redirects: int
    duplicate_of: str | None
    updated_at: datetime

    @property
    def open(self) -> bool:
        """Whether the referral is still being dealt with."""
        return self.status not in CLOSED

    def clock(self, now: datetime, at_risk_after: float) -> str:
        """Where the first-contact clock stands (see :func:`clock`)."""
        return clock(
            self.received_at, self.due_at, self.first_contact_at, self.open, now, at_risk_after
        )


def clock(
    received: datetime,
    due: datetime,
    first_contact: datetime | None,
    is_open: bool,
    now: datetime,
    at_risk_after: float,
) -> str:
    """Where a referral's first-contact clock stands: ``met``, ``breached``, ``at-risk``
    (``at_risk_after`` of the time frame gone without contact), ``on-track``, or
    ``stopped`` (closed without contact)."""
    if first_contact is not None:
        return "met" if first_contact <= due else "breached"
    if not is_open:
        return "stopped"
    if now > due:
        return "breached"
    return "at-risk" if now - received >= at_risk_after * (due - received) else "on-track"


def instant(value: datetime) -> str:
    """A time as a FHIR instant in UTC (``2026-12-03T09:30:00Z``)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
