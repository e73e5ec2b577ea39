"""Delivering the outbox: each notification to a receiving team's system, until it is taken.

:func:`~joinedup.referrals.store.enqueue_notifications` queues a ``pending`` notification for
every active subscription of the service a referral is routed to, in the same transaction as
the routing. :func:`deliver_due` sends the ones that are due as FHIR rest-hook notifications
(the referral's Task, ``application/fhir+json``, with the subscription's header, if any). A
2xx answer marks one ``delivered``; anything else, or no answer, is tried again after a wait
that doubles each time (``base_delay``, then twice that, ...), and after ``max_attempts``
the notification is ``dead``: on the dead-letter list (:func:`dead_letters`) for a person to
look at, and to put back with :func:`retry`. Errors name the HTTP status or the kind of
failure, never anything about the patient.

Each notification is claimed, sent and recorded on its own, in small transactions, with no
transaction held while waiting for a partner: one slow or broken endpoint never blocks the
others. Claiming moves ``next_attempt_at`` ahead by a lease, so two dispatchers (say, two
server processes) do not send the same notification at the same time; one that stopped
mid-send leaves it to be tried again when the lease runs out (delivery is at least once).
:class:`Dispatcher` runs delivery rounds in a background thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx
import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from joinedup.access.audit import as_utc
from joinedup.background import Periodic
from joinedup.referrals import tables
from joinedup.referrals.fhir import task
from joinedup.referrals.model import CENTRE
from joinedup.referrals.store import read_referral

logger = logging.getLogger(__name__)

#: Sends one notification: (endpoint, body, headers) -> the HTTP status code. Raises on
#: a connection failure or a timeout.
Post = Callable[[str, bytes, Mapping[str, str]], int]

#: How long one send may take before it counts as failed.
TIMEOUT: Final = 5.0
#: Notifications taken per round (oldest due first).
BATCH: Final = 100
#: How long a claimed notification is left to its dispatcher before another may try it.
LEASE: Final = timedelta(minutes=2)
CONTENT_TYPE: Final = "application/fhir+json"
#: Kept short: the dead-letter list says what went wrong, not a partner's whole answer.
_ERROR_LENGTH: Final = 200

_n = tables.notification
_s = tables.subscription

PENDING: Final = "pending"
DELIVERED: Final = "delivered"
DEAD: Final = "dead"


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery round did."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0

    def to_dict(self) -> dict[str, int]:
        """As JSON."""
        return asdict(self)

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.delivered + other.delivered, self.retried + other.retried, self.dead + other.dead
        )


@dataclass(frozen=True)
class DeadLetter:
    """A notification given up on, for a person to look at."""

    id: int
    referral_id: str
    event: str
    subscription_id: str
    service_id: str
    endpoint: str
    attempts: int
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """As JSON."""
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["last_attempt_at"] = self.last_attempt_at.isoformat()
        return data


@dataclass(frozen=True)
class _Due:
    id: int
    referral_id: str
    attempts: int
    endpoint: str
    header: str | None
    active: bool


def deliver_due(
    sessions: sessionmaker[Session],
    now: datetime,
    *,
    post: Post | None = None,
    max_attempts: int = 6,
    base_delay: timedelta = timedelta(seconds=30),
    batch: int = BATCH,
    service_name: Callable[[str], str] | None = None,
    at_risk_after: float = 0.75,
) -> DeliveryReport:
    """Send the pending notifications due at ``now`` (oldest first, up to ``batch``).

    ``post`` sends one (httpx with a 5-second timeout if not given). ``service_name`` names
    a referral's owner in the Task (the service id if not given); ``at_risk_after`` is the
    rules' share of the time frame after which a referral's clock is at risk.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    now = now.astimezone(UTC)
    with sessions() as session:
        ids = list(
            session.execute(
                select(_n.c.id)
                .where(_n.c.status == PENDING, _n.c.next_attempt_at <= now)
                .order_by(_n.c.next_attempt_at, _n.c.id)
                .limit(batch)
            ).scalars()
        )
    if not ids:
        return DeliveryReport()
    name = service_name or _default_name
    report = DeliveryReport()
    client: httpx.Client | None = None
    if post is None:
        client = httpx.Client(timeout=TIMEOUT, follow_redirects=False)
        post = _httpx_post(client)
    try:
        for notification_id in ids:
            report += _deliver_one(
                sessions,
                notification_id,
                now,
                post,
                max_attempts=max_attempts,
                base_delay=base_delay,
                service_name=name,
                at_risk_after=at_risk_after,
            )
    finally:
        if client is not None:
            client.close()
    return report


def _deliver_one(
    sessions: sessionmaker[Session],
    notification_id: int,
    now: datetime,
    post: Post,
    *,
    max_attempts: int,
    base_delay: timedelta,
    service_name: Callable[[str], str],
    at_risk_after: float,
) -> DeliveryReport:
    # 1. Claim it (a short transaction): nobody else sends it while the lease runs.
    with sessions.begin() as session:
        due = _claim(session, notification_id, now)
        if due is None:
            return DeliveryReport()  # taken by another dispatcher, or no longer due
        body: bytes | None = None
        error: str | None = None
        headers = {"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE}
        if not due.active:
            error = "the subscription is no longer active"
        elif (extra := _header(due.header)) is None:
            error = "the subscription's header is not 'Name: value'"
        else:
            headers.update(extra)
            referral = read_referral(session, due.referral_id)
            if referral is None:
                error = "the referral no longer exists"
            else:
                try:
                    resource = task(
                        referral,
                        service_name(referral.owner),
                        clock=referral.clock(now, at_risk_after),
                    )
                    body = orjson.dumps(resource)
                except Exception as failure:  # one broken referral must not stop the round
                    error = f"could not render the Task ({type(failure).__name__})"
    if body is None:
        # Nothing to send will ever work: straight to the dead-letter list.
        with sessions.begin() as session:
            _record(session, due, now, DEAD, due.attempts + 1, error, None)
        logger.warning("notification %s is dead: %s", due.id, error)
        return DeliveryReport(dead=1)
    # 2. Send it, with no transaction open.
    try:
        status = post(due.endpoint, body, headers)
        error = None if 200 <= status < 300 else f"HTTP {status}"
    except Exception as failure:  # a connection error, a timeout, a bad endpoint or header
        error = type(failure).__name__
    # 3. Record what happened (another short transaction).
    attempts = due.attempts + 1
    with sessions.begin() as session:
        if error is None:
            _record(session, due, now, DELIVERED, attempts, None, now)
            return DeliveryReport(delivered=1)
        if attempts >= max_attempts:
            _record(session, due, now, DEAD, attempts, error, None)
            logger.warning(
                "notification %s is dead after %s attempts (%s)", due.id, attempts, error
            )
            return DeliveryReport(dead=1)
        retry_at = now + base_delay * 2 ** (attempts - 1)
        _record(session, due, retry_at, PENDING, attempts, error, None)
        return DeliveryReport(retried=1)


def _claim(session: Session, notification_id: int, now: datetime) -> _Due | None:
    row = (
        session.execute(
            select(
                _n.c.id,
                _n.c.referral_id,
                _n.c.attempts,
                _s.c.endpoint,
                _s.c.header,
                _s.c.active,
            )
            .join(_s, _s.c.id == _n.c.subscription_id)
            .where(_n.c.id == notification_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    claimed = session.execute(
        update(_n)
        .where(
            _n.c.id == notification_id,
            _n.c.status == PENDING,
            _n.c.attempts == row["attempts"],
            _n.c.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + LEASE)
    ).rowcount  # type: ignore[attr-defined]
    if claimed != 1:
        return None
    return _Due(
        row["id"],
        row["referral_id"],
        row["attempts"],
        row["endpoint"],
        row["header"],
        bool(row["active"]),
    )


def _record(
    session: Session,
    due: _Due,
    next_attempt_at: datetime,
    status: str,
    attempts: int,
    error: str | None,
    delivered_at: datetime | None,
) -> None:
    session.execute(
        update(_n)
        .where(_n.c.id == due.id, _n.c.attempts == due.attempts)
        .values(
            status=status,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            last_error=error[:_ERROR_LENGTH] if error else None,
            delivered_at=delivered_at,
        )
    )


def _header(header: str | None) -> dict[str, str] | None:
    """A subscription's ``Name: value`` header as a mapping (empty if there is none; None
    if it is not a header)."""
    if not header or not header.strip():
        return {}
    name, colon, value = header.partition(":")
    if not colon or not name.strip() or " " in name.strip() or any(c in header for c in "\r\n"):
        return None
    return {name.strip(): value.strip()}


def _httpx_post(client: httpx.Client) -> Post:
    def post(endpoint: str, body: bytes, headers: Mapping[str, str]) -> int:
        return client.post(endpoint, content=body, headers=dict(headers)).status_code

    return post


def _default_name(service_id: str) -> str:
    return "Coordination centre" if service_id == CENTRE else service_id


# --- the dead-letter list ------------------------------------------------------------------------


def dead_letters(session: Session, *, limit: int = 500) -> list[DeadLetter]:
    """The notifications given up on, oldest first."""
    rows = session.execute(
        select(
            _n.c.id,
            _n.c.referral_id,
            _n.c.event,
            _n.c.subscription_id,
            _s.c.service_id,
            _s.c.endpoint,
            _n.c.attempts,
            _n.c.last_error,
            _n.c.created_at,
            _n.c.next_attempt_at,
        )
        .join(_s, _s.c.id == _n.c.subscription_id)
        .where(_n.c.status == DEAD)
        .order_by(_n.c.created_at, _n.c.id)
        .limit(limit)
    ).mappings()
    return [
        DeadLetter(
            r["id"],
            r["referral_id"],
            r["event"],
            r["subscription_id"],
            r["service_id"],
            r["endpoint"],
            r["attempts"],
            r["last_error"],
            as_utc(r["created_at"]),
            as_utc(r["next_attempt_at"]),
        )
        for r in rows
    ]


def retry(session: Session, notification_id: int, now: datetime) -> None:
    """Put a dead (or pending) notification back to be sent at ``now``, its attempts reset.

    Raises :class:`KeyError` if there is no such notification and :class:`ValueError` if it
    was delivered already."""
    status = session.execute(select(_n.c.status).where(_n.c.id == notification_id)).scalar()
    if status is None:
        raise KeyError(notification_id)
    if status == DELIVERED:
        raise ValueError(f"notification {notification_id} was delivered already")
    session.execute(
        update(_n)
        .where(_n.c.id == notification_id)
        .values(status=PENDING, attempts=0, next_attempt_at=now.astimezone(UTC))
    )


# --- in the background ---------------------------------------------------------------------------


class Dispatcher(Periodic):
    """Runs :func:`deliver_due` every ``interval`` seconds in a daemon thread until stopped.
    It logs counts only."""

    name = "referral-notifications"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        interval: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        **options: Any,
    ) -> None:
        super().__init__(interval=interval)
        self.sessions = sessions
        self.clock = clock
        self.options = options

    def round(self) -> DeliveryReport:
        """One delivery round now."""
        report = deliver_due(self.sessions, self.clock(), **self.options)
        if report.delivered or report.retried or report.dead:
            logger.info(
                "referral notifications: %s delivered, %s to retry, %s dead",
                report.delivered,
                report.retried,
                report.dead,
            )
        return report
