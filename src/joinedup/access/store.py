"""Break-glass accesses and objections to sharing, kept in the operational store.

Every function works in the caller's session and transaction; the caller commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from joinedup.access import audit
from joinedup.access.model import AccessDenied, BreakGlass, User
from joinedup.access.policy import Policy
from joinedup.access.tables import break_glass as break_glass_table
from joinedup.access.tables import objection as objection_table


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else audit.as_utc(value)


def _break_glass(row: Any) -> BreakGlass:
    return BreakGlass(
        id=row.id,
        user_subject=row.user_subject,
        user_name=row.user_name,
        role=row.role,
        organisation=row.organisation,
        person_key=row.person_key,
        reason=row.reason,
        opened_at=audit.as_utc(row.opened_at),
        expires_at=audit.as_utc(row.expires_at),
        reviewed_by=row.reviewed_by,
        reviewed_at=_utc(row.reviewed_at),
        review_note=row.review_note,
    )


def open_break_glass(
    session: Session, user: User, person_key: str, reason: str, now: datetime, policy: Policy
) -> BreakGlass:
    """Open emergency access for ``user`` to one person, for the policy's time, and audit it.

    Refuses (:class:`AccessDenied`, 403) a role the policy does not let break glass, or a
    reason shorter than the policy's minimum. The opening is written to the audit log in
    the same transaction; a refusal is not (the caller records it, after any rollback).
    """
    if not policy.allows(user.role, "break_glass"):
        raise AccessDenied(403, "your role may not use break-glass access", "forbidden")
    reason = reason.strip()
    minimum = policy.break_glass_min_reason_length
    if len(reason) < minimum:
        raise AccessDenied(
            403, f"give a reason of at least {minimum} characters", "reason-too-short"
        )
    row = session.execute(
        insert(break_glass_table)
        .values(
            user_subject=user.subject,
            user_name=user.name,
            role=user.role,
            organisation=user.organisation,
            person_key=person_key,
            reason=reason,
            opened_at=now,
            expires_at=now + policy.break_glass_duration,
        )
        .returning(*break_glass_table.c)
    ).one()
    audit.record(
        session,
        audit.entry_for(
            user,
            "break_glass",
            f"Patient/{person_key}",
            person_key=person_key,
            outcome="success",
            reason=reason,
            break_glass=True,
            at=now,
        ),
    )
    return _break_glass(row)


def active_break_glass(
    session: Session, user_subject: str, person_key: str, now: datetime
) -> BreakGlass | None:
    """The user's break-glass access to this person open at ``now`` (the latest), or None."""
    rows = session.execute(
        select(break_glass_table)
        .where(
            break_glass_table.c.user_subject == user_subject,
            break_glass_table.c.person_key == person_key,
        )
        .order_by(break_glass_table.c.expires_at.desc())
    )
    for row in rows:
        found = _break_glass(row)
        if found.active(now):
            return found
    return None


def break_glass_for_review(session: Session, *, include_reviewed: bool = False) -> list[BreakGlass]:
    """Break-glass accesses not yet reviewed (or all of them), newest first."""
    query = select(break_glass_table).order_by(break_glass_table.c.opened_at.desc())
    if not include_reviewed:
        query = query.where(break_glass_table.c.reviewed_at.is_(None))
    return [_break_glass(row) for row in session.execute(query)]


def mark_reviewed(session: Session, id: int, reviewer: str, note: str, now: datetime) -> BreakGlass:
    """Record the privacy officer's review of one break-glass access; LookupError if unknown."""
    done = session.execute(
        update(break_glass_table)
        .where(break_glass_table.c.id == id)
        .values(reviewed_by=reviewer, reviewed_at=now, review_note=note)
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        raise LookupError(f"no break-glass access {id}")
    row = session.execute(select(break_glass_table).where(break_glass_table.c.id == id)).one()
    return _break_glass(row)


def record_objection(session: Session, person_key: str, recorded_by: str, now: datetime) -> int:
    """Record that the person objects to sharing (no change if they already do); its id."""
    current = session.execute(
        select(objection_table.c.id).where(
            objection_table.c.person_key == person_key, objection_table.c.withdrawn_at.is_(None)
        )
    ).scalar()
    if current is not None:
        return int(current)
    return int(
        session.execute(
            insert(objection_table)
            .values(person_key=person_key, recorded_by=recorded_by, recorded_at=now)
            .returning(objection_table.c.id)
        ).scalar_one()
    )


def withdraw_objection(session: Session, person_key: str, withdrawn_by: str, now: datetime) -> bool:
    """Withdraw the person's objection; False if they had none."""
    done = session.execute(
        update(objection_table)
        .where(objection_table.c.person_key == person_key, objection_table.c.withdrawn_at.is_(None))
        .values(withdrawn_by=withdrawn_by, withdrawn_at=now)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def has_objection(session: Session, person_key: str) -> bool:
    """True if the person currently objects to sharing their record."""
    return (
        session.execute(
            select(objection_table.c.id)
            .where(
                objection_table.c.person_key == person_key,
                objection_table.c.withdrawn_at.is_(None),
            )
            .limit(1)
        ).first()
        is not None
    )


def objections(session: Session, person_keys: list[str]) -> frozenset[str]:
    """Which of ``person_keys`` currently object to sharing (one query for a page of people)."""
    if not person_keys:
        return frozenset()
    rows = session.execute(
        select(objection_table.c.person_key).where(
            objection_table.c.person_key.in_(person_keys), objection_table.c.withdrawn_at.is_(None)
        )
    )
    return frozenset(rows.scalars())
