"""The intake pipeline: units in; taken into identity and the record, or quarantined.

Each message's units are written in one transaction with a savepoint per unit, so a unit
either lands whole or not at all, and a failure in one never undoes its neighbours. A unit
already taken (same partner, feed and message id, same content) is acknowledged and skipped:
re-delivery is safe. The same message id with different content is a conflict and is
quarantined rather than silently overwriting what was taken.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session, sessionmaker

from joinedup.feeds import tables
from joinedup.feeds.model import Issue, IssueCode, Message, Unit
from joinedup.identity.index import current_link, relink, source_record_id, take_source_record
from joinedup.records.store import Prepared, prepare_resources, store_resources

log = logging.getLogger(__name__)

# Run for every unit, so built once (building a statement costs more than running it).
_RECEIPT_SHA256 = select(tables.receipt.c.sha256).where(
    tables.receipt.c.partner == bindparam("partner"),
    tables.receipt.c.feed == bindparam("feed"),
    tables.receipt.c.message_id == bindparam("message_id"),
)
_INSERT_RECEIPT = insert(tables.receipt)


class Outcome(StrEnum):
    """What happened to one unit."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class UnitOutcome:
    """One unit's outcome, with the issues that rejected it (for ACKs and OperationOutcomes)."""

    label: str
    message_id: str
    outcome: Outcome
    issues: tuple[Issue, ...] = ()
    quarantine_id: int | None = None


@dataclass
class FeedTally:
    """Counts for one partner feed."""

    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    merged: int = 0
    resources: int = 0


@dataclass
class IngestReport:
    """Counts by ``partner/feed`` over everything ingested in one run."""

    feeds: dict[str, FeedTally] = field(default_factory=dict)

    def tally(self, partner: str, feed: str) -> FeedTally:
        """The tally for one feed (created empty on first use)."""
        return self.feeds.setdefault(f"{partner}/{feed}", FeedTally())

    @property
    def total(self) -> FeedTally:
        """All feeds added together."""
        total = FeedTally()
        for t in self.feeds.values():
            for name in ("accepted", "rejected", "duplicates", "merged", "resources"):
                setattr(total, name, getattr(total, name) + getattr(t, name))
        return total

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "feeds": {k: asdict(v) for k, v in sorted(self.feeds.items())},
            "total": asdict(self.total),
        }


@dataclass(frozen=True)
class ReadyUnit:
    """A parsed unit made ready to store without a database: its resources prepared.

    Intake does this in its parsing processes, so the one process that writes only writes.
    ``unit`` no longer carries its resources (``resources`` has them, prepared), and
    ``unprepared`` says preparing failed (a value that can't be stored): the unit is kept
    in quarantine for replay.
    """

    unit: Unit
    digest: str
    resources: list[Prepared] = field(default_factory=list)
    unprepared: bool = False


def make_ready(message: Message, units: Sequence[Unit]) -> list[ReadyUnit]:
    """Prepare each good unit's resources; a rejected unit is passed on as it is."""
    ready = []
    for unit in units:
        digest = hashlib.sha256(unit.original).hexdigest()
        if unit.rejected:
            ready.append(ReadyUnit(unit, digest))
            continue
        try:
            prepared = prepare_resources(
                unit.resources,
                partner=message.partner,
                feed=message.feed,
                patient_local_id=unit.person.local_id if unit.person else None,
            )
        except Exception as error:  # any failure is this unit's alone
            log.warning(
                "unit %s of a %s message can't be stored: %s",
                unit.label,
                message.feed,
                type(error).__name__,
            )
            ready.append(ReadyUnit(unit, digest, unprepared=True))
            continue
        ready.append(ReadyUnit(replace(unit, resources=()), digest, prepared))
    return ready


def take_units(
    sessions: sessionmaker[Session],
    message: Message,
    units: Sequence[Unit],
    report: IngestReport | None = None,
) -> list[UnitOutcome]:
    """Take a parsed message's units: store the good, quarantine the bad; one outcome per unit."""
    return take_ready(sessions, message, make_ready(message, units), report)


def take_ready(
    sessions: sessionmaker[Session],
    message: Message,
    units: Sequence[ReadyUnit],
    report: IngestReport | None = None,
) -> list[UnitOutcome]:
    """:func:`take_units` for units already made ready (by :func:`make_ready`)."""
    report = report if report is not None else IngestReport()
    tally = report.tally(message.partner, message.feed)
    outcomes: list[UnitOutcome] = []
    with sessions() as session, session.begin():
        for ready in units:
            unit = ready.unit
            if unit.rejected:
                outcomes.append(_quarantine(session, message, unit, unit.issues))
                tally.rejected += 1
                continue
            if ready.unprepared:  # make_ready has said why in the log
                outcomes.append(_keep_for_replay(session, message, unit))
                tally.rejected += 1
                continue
            try:
                with session.begin_nested():
                    resources, merged = _take(session, message, ready)
            except _Duplicate:
                outcomes.append(UnitOutcome(unit.label, unit.message_id, Outcome.DUPLICATE))
                tally.duplicates += 1
                continue
            except _Refused as refusal:
                outcomes.append(_quarantine(session, message, unit, (refusal.issue,)))
                tally.rejected += 1
                continue
            except Exception as error:
                # Whatever failed (the database, a value it can't hold), the savepoint has undone
                # this unit alone, and the unit must not be lost: keep it for replay.
                log.warning(
                    "unit %s of a %s message failed to store: %s",
                    unit.label,
                    message.feed,
                    type(error).__name__,
                )
                outcomes.append(_keep_for_replay(session, message, unit))
                tally.rejected += 1
                continue
            tally.accepted += 1
            tally.resources += resources
            tally.merged += merged
            outcomes.append(UnitOutcome(unit.label, unit.message_id, Outcome.ACCEPTED))
    return outcomes


class _Duplicate(Exception):
    """The unit was taken before, with the same content."""


class _Refused(Exception):
    """The unit can't be taken; raised inside the savepoint so everything it wrote is undone."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.diagnostics)
        self.issue = issue


def _take(session: Session, message: Message, ready: ReadyUnit) -> tuple[int, int]:
    """Store one unit inside the caller's savepoint. Returns (resources stored, merges)."""
    unit, digest = ready.unit, ready.digest
    receipt = {"partner": message.partner, "feed": message.feed, "message_id": unit.message_id}
    seen = session.execute(_RECEIPT_SHA256, receipt).scalar_one_or_none()
    if seen is not None:
        if seen == digest:
            raise _Duplicate
        raise _Refused(
            Issue(
                IssueCode.CONFLICT,
                unit.label,
                "message id already taken with different content; not overwritten",
            )
        )

    at = message.received_at
    merged = 0
    source_id: int | None = None
    if unit.person is not None:
        source_id = take_source_record(
            session, partner=message.partner, feed=message.feed, person=unit.person, at=at
        ).source_record_id
    if unit.merge is not None:
        _merge(session, message, unit, at)
        merged = 1
    stored = store_resources(
        session,
        ready.resources,
        partner=message.partner,
        feed=message.feed,
        message_id=unit.message_id,
        received_at=at,
        source_record_id=source_id,
    )
    session.execute(_INSERT_RECEIPT, {**receipt, "sha256": digest, "received_at": at})
    return stored, merged


def _merge(session: Session, message: Message, unit: Unit, at: datetime) -> None:
    """Apply an A40-style merge: the retired local id joins the surviving one's person."""
    assert unit.merge is not None
    retired_local, surviving_local = unit.merge
    retired = source_record_id(
        session, partner=message.partner, feed=message.feed, local_id=retired_local
    )
    surviving = source_record_id(
        session, partner=message.partner, feed=message.feed, local_id=surviving_local
    )
    if retired is None or surviving is None:
        which = "MRG-1" if retired is None else "PID-3"
        raise _Refused(
            Issue(IssueCode.NOT_FOUND, which, "merge names a patient identifier not yet received")
        )
    current = current_link(session, surviving)
    assert current is not None  # every source record is linked on arrival
    relink(
        session,
        retired,
        current[0],
        method="merge",
        reason=f"merged by {message.partner} message {unit.message_id}",
        at=at,
    )


def _keep_for_replay(session: Session, message: Message, unit: Unit) -> UnitOutcome:
    issue = Issue(IssueCode.EXCEPTION, unit.label, "could not be stored; kept for replay")
    return _quarantine(session, message, unit, (issue,))


def _quarantine(
    session: Session, message: Message, unit: Unit, issues: Sequence[Issue]
) -> UnitOutcome:
    with session.begin_nested():
        qid = session.execute(
            insert(tables.quarantine)
            .values(
                partner=message.partner,
                feed=message.feed,
                format=message.format.value,
                name=message.name[:300],
                label=unit.label[:100],
                message_id=unit.message_id[:200],
                received_at=message.received_at,
                issues=[
                    {"code": i.code.value, "location": i.location, "diagnostics": i.diagnostics}
                    for i in issues
                ],
                original=unit.original,
                status="open",
            )
            .returning(tables.quarantine.c.id)
        ).scalar_one()
    return UnitOutcome(unit.label, unit.message_id, Outcome.REJECTED, tuple(issues), int(qid))
