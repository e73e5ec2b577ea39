"""People's decisions about identity: review of undecided pairs, unmerges, and measured quality."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from joinedup.identity import tables
from joinedup.identity.evaluate import PairwiseQuality, pairwise_quality
from joinedup.identity.index import current_link, person_key_for, relink

DECISIONS = ("link", "not_link")


class ReviewError(ValueError):
    """A decision that can't be made (unknown pair, already decided, unknown decision)."""


@dataclass(frozen=True)
class SourceRecordView:
    """A source record as a reviewer sees it."""

    id: int
    partner: str
    feed: str
    local_id: str
    nhs_number: str | None
    given: str | None
    family: str | None
    birth_date: str | None
    sex: str | None
    postcode: str | None
    address_line: str | None
    person_key: str | None


@dataclass(frozen=True)
class ReviewItem:
    """A pair for review, with the model's match weight per comparison (its explanation)."""

    id: int
    reason: str
    match_probability: float
    match_weight: float
    explanation: dict[str, float]
    status: str
    left: SourceRecordView
    right: SourceRecordView

    def to_dict(self) -> dict[str, Any]:
        """The item as JSON-ready data."""
        return {
            "id": self.id,
            "reason": self.reason,
            "match_probability": self.match_probability,
            "match_weight": self.match_weight,
            "explanation": self.explanation,
            "status": self.status,
            "left": self.left.__dict__,
            "right": self.right.__dict__,
        }


def review_items(session: Session, *, status: str = "open", limit: int = 50) -> list[ReviewItem]:
    """Pairs in the review queue, most probable first."""
    r = tables.review
    rows = session.execute(
        select(r)
        .where(r.c.status == status)
        .order_by(r.c.match_probability.desc(), r.c.id)
        .limit(limit)
    ).mappings()
    return [
        ReviewItem(
            id=row["id"],
            reason=row["reason"],
            match_probability=row["match_probability"],
            match_weight=row["match_weight"],
            explanation=dict(row["explanation"]),
            status=row["status"],
            left=_view(session, row["left_id"]),
            right=_view(session, row["right_id"]),
        )
        for row in rows
    ]


def decide(session: Session, review_id: int, decision: str, *, by: str, at: datetime) -> None:
    """Record a reviewer's decision and apply it to the person index (the caller commits).

    ``link``: the right record joins the left record's person. ``not_link``: if they share a
    person now, the right record leaves it for a person of its own. Linkage runs honour both.
    """
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}")
    r = tables.review
    row = session.execute(select(r).where(r.c.id == review_id)).mappings().one_or_none()
    if row is None:
        raise ReviewError(f"no review item {review_id}")
    if row["status"] != "open":
        raise ReviewError(f"review item {review_id} was already decided ({row['status']})")
    session.execute(
        update(r).where(r.c.id == review_id).values(status=decision, decided_by=by, decided_at=at)
    )
    left = current_link(session, row["left_id"])
    right = current_link(session, row["right_id"])
    assert left is not None and right is not None
    reason = f"review {review_id} by {by}"
    if decision == "link":
        relink(session, row["right_id"], left[0], method="review", reason=reason, at=at)
    elif left[0] == right[0]:
        view = _view(session, row["right_id"])
        own = person_key_for(view.partner, view.feed, view.local_id + "#review")
        relink(session, row["right_id"], own, method="review", reason=reason, at=at)


def unmerge(session: Session, source_record_id: int, *, reason: str, at: datetime) -> str:
    """Take a source record out of its person into a person of its own; returns the new key.

    The old link is closed, not deleted, so the merge and the unmerge both stay on record.
    """
    view = _view(session, source_record_id)
    key = person_key_for(view.partner, view.feed, f"{view.local_id}#unmerge@{at.isoformat()}")
    relink(session, source_record_id, key, method="unmerge", reason=reason, at=at)
    return key


def link_history(session: Session, source_record_id: int) -> list[dict[str, Any]]:
    """Every link a source record has had, oldest first."""
    lk = tables.link
    rows = session.execute(
        select(lk).where(lk.c.source_record_id == source_record_id).order_by(lk.c.id)
    ).mappings()
    return [
        {
            "person_key": r["person_key"],
            "method": r["method"],
            "reason": r["reason"],
            "valid_from": r["valid_from"].isoformat(),
            "valid_to": r["valid_to"].isoformat() if r["valid_to"] else None,
        }
        for r in rows
    ]


@dataclass(frozen=True)
class TruthEvaluation:
    """Linkage quality against ground truth, and how much of the truth the index holds."""

    quality: PairwiseQuality
    truth_records: int
    matched_records: int

    def to_dict(self) -> dict[str, Any]:
        """The evaluation as JSON-ready data."""
        return {
            **self.quality.to_dict(),
            "truth_records": self.truth_records,
            "matched_records": self.matched_records,
        }


def evaluate_against_truth(session: Session, truth_file: Path) -> TruthEvaluation:
    """Pairwise precision, recall and F1 of the index's persons against a truth file.

    The truth file (``partner,feed,local_id,person_id``, as the synthetic ICS writes it)
    names each source record by the identifier its partner uses; a FHIR feed's local id is
    kept as ``system|value``, so records are matched on the value after the last ``|``.
    Only records in both are compared.
    """
    truth: dict[tuple[str, str, str], str] = {}
    with truth_file.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            truth[(row["partner"], row["feed"], row["local_id"])] = row["person_id"]
    s, lk = tables.source_record, tables.link
    predicted: dict[tuple[str, str, str], str] = {}
    for partner, feed, local_id, person_key in session.execute(
        select(s.c.partner, s.c.feed, s.c.local_id, lk.c.person_key).join(
            lk, (lk.c.source_record_id == s.c.id) & lk.c.valid_to.is_(None)
        )
    ):
        predicted[(partner, feed, local_id.rsplit("|", 1)[-1])] = person_key
    common = [k for k in truth if k in predicted]
    index = pd.Index([f"{p}|{f}|{i}" for p, f, i in common], dtype=object)
    quality = pairwise_quality(
        pd.Series([predicted[k] for k in common], index=index, dtype=object),
        pd.Series([truth[k] for k in common], index=index, dtype=object),
    )
    return TruthEvaluation(quality, truth_records=len(truth), matched_records=len(common))


def _view(session: Session, source_record_id: int) -> SourceRecordView:
    s = tables.source_record
    row = session.execute(select(s).where(s.c.id == source_record_id)).mappings().one()
    link = current_link(session, source_record_id)
    return SourceRecordView(
        id=row["id"],
        partner=row["partner"],
        feed=row["feed"],
        local_id=row["local_id"],
        nhs_number=row["nhs_number"],
        given=row["given"],
        family=row["family"],
        birth_date=row["birth_date"].isoformat() if row["birth_date"] else None,
        sex=row["sex"],
        postcode=row["postcode"],
        address_line=row["address_line"],
        person_key=link[0] if link else None,
    )
