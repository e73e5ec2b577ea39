"""The quarantine: rejected units with their reasons, listed for people and replayed once fixed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from joinedup.feeds import tables
from joinedup.feeds.config import FeedConfig
from joinedup.feeds.intake import Clock, parse_message, utc_now
from joinedup.feeds.model import Issue, IssueCode, Message, MessageFormat
from joinedup.feeds.pipeline import Outcome, UnitOutcome, take_units


@dataclass(frozen=True)
class QuarantineEntry:
    """A rejected unit: where it came from, why it was rejected, and its original bytes."""

    id: int
    partner: str
    feed: str
    format: str
    name: str
    label: str
    message_id: str
    received_at: datetime
    issues: tuple[dict[str, str], ...]
    status: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data (without the original bytes)."""
        return {
            "id": self.id,
            "partner": self.partner,
            "feed": self.feed,
            "format": self.format,
            "name": self.name,
            "label": self.label,
            "message_id": self.message_id,
            "received_at": self.received_at.isoformat(),
            "issues": list(self.issues),
            "status": self.status,
            "size": self.size,
        }


def list_quarantine(session: Session, *, status: str | None = "open") -> list[QuarantineEntry]:
    """Quarantined units, oldest first (only those with ``status``, unless it is None)."""
    q = tables.quarantine
    query = select(q).order_by(q.c.id)
    if status is not None:
        query = query.where(q.c.status == status)
    return [
        QuarantineEntry(
            id=r["id"],
            partner=r["partner"],
            feed=r["feed"],
            format=r["format"],
            name=r["name"],
            label=r["label"],
            message_id=r["message_id"],
            received_at=r["received_at"],
            issues=tuple(r["issues"]),
            status=r["status"],
            size=len(r["original"]),
        )
        for r in session.execute(query).mappings()
    ]


def original_of(session: Session, entry_id: int) -> bytes:
    """The original bytes of a quarantined unit (KeyError if there is no such entry)."""
    body = session.execute(
        select(tables.quarantine.c.original).where(tables.quarantine.c.id == entry_id)
    ).scalar_one_or_none()
    if body is None:
        raise KeyError(entry_id)
    return bytes(body)


def replay(
    sessions: sessionmaker[Session],
    entry_id: int,
    *,
    config: FeedConfig,
    fixed: bytes | None = None,
    clock: Clock = utc_now,
) -> list[UnitOutcome]:
    """Replay a quarantined unit, as it was or as ``fixed``; marks it replayed if all is taken.

    A replay that is still wrong changes nothing and returns the issues, so the entry stays
    open with its original reasons.
    """
    q = tables.quarantine
    with sessions() as session:
        row = session.execute(select(q).where(q.c.id == entry_id)).mappings().one_or_none()
    if row is None:
        raise KeyError(entry_id)
    if row["status"] != "open":
        issue = Issue(IssueCode.CONFLICT, f"quarantine {entry_id}", "already replayed")
        return [UnitOutcome(row["label"], row["message_id"], Outcome.REJECTED, (issue,))]
    message = Message(
        partner=row["partner"],
        feed=row["feed"],
        format=MessageFormat(row["format"]),
        body=fixed if fixed is not None else bytes(row["original"]),
        received_at=clock(),
        name=f"replay of quarantine {entry_id}",
    )
    spec = config.spec(row["feed"]) if message.format is MessageFormat.CSV else None
    units = parse_message(message, spec)
    refused = [u for u in units if u.rejected]
    if refused:
        return [UnitOutcome(u.label, u.message_id, Outcome.REJECTED, u.issues) for u in refused]
    outcomes = take_units(sessions, message, units)
    if all(o.outcome is not Outcome.REJECTED for o in outcomes):
        with sessions() as session, session.begin():
            session.execute(
                update(q).where(q.c.id == entry_id).values(status="replayed", replayed_at=clock())
            )
    return outcomes
