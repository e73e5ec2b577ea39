"""The linkage run: the whole person index re-linked with the trained model, decisions kept.

On arrival records are joined only by exact NHS number. A linkage run reads every source
record, trains the model on them (or uses the saved one), links them with Splink, and moves
each record whose person has changed (closing its old link, opening a new one). People's
decisions win: a reviewer's "not the same person" keeps two records apart whatever the
model says, and a reviewer's link, a partner's merge (HL7 A40) or an unmerge stays as made.
Pairs the model cannot decide go to the review queue with the model's explanation.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from joinedup.identity import tables
from joinedup.identity.index import RESOLVED, person_key_for, relink
from joinedup.identity.linkage import LinkageModel, link, train

log = logging.getLogger(__name__)

#: Link methods made by people or partners: a linkage run never undoes them.
DECIDED_METHODS = frozenset({"review", "merge", "unmerge"})


@dataclass(frozen=True)
class LinkageRunSummary:
    """What a linkage run did."""

    source_records: int
    persons_before: int
    persons_after: int
    relinked: int
    review_added: int
    review_open: int
    model_trained: bool
    model_path: str

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return asdict(self)


def source_records_frame(session: Session) -> pd.DataFrame:
    """Every source record, in the columns the linkage engine expects, with its current person."""
    s, lk = tables.source_record, tables.link
    rows = session.execute(
        select(
            s.c.id,
            s.c.partner,
            s.c.feed,
            s.c.local_id,
            s.c.nhs_number,
            s.c.given,
            s.c.family,
            s.c.birth_date,
            s.c.sex,
            s.c.postcode,
            s.c.address_line,
            lk.c.person_key,
            lk.c.method,
        )
        .join(lk, (lk.c.source_record_id == s.c.id) & lk.c.valid_to.is_(None))
        .order_by(s.c.id)
    ).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "id",
            "partner",
            "feed",
            "local_id",
            "nhs_number",
            "given_name",
            "family_name",
            "birth_date",
            "sex",
            "postcode",
            "address_line",
            "person_key",
            "method",
        ],
    )
    frame["unique_id"] = frame["id"].astype(str)
    frame["source"] = frame["partner"] + "/" + frame["feed"]
    frame["birth_date"] = frame["birth_date"].map(lambda d: d.isoformat() if d else None)
    return frame


def run_linkage(
    sessions: sessionmaker[Session],
    *,
    model_path: Path,
    at: datetime,
    retrain: bool = False,
    auto_link_threshold: float = 0.99,
    review_threshold: float = 0.8,
) -> LinkageRunSummary:
    """Link the whole index (see the module's description) and return what changed."""
    with sessions() as session:
        records = source_records_frame(session)
        decisions = session.execute(
            select(tables.review.c.left_id, tables.review.c.right_id, tables.review.c.status).where(
                tables.review.c.status != "open"
            )
        ).all()
    # Records a part identified itself (a referral's copy: often only an NHS number and a
    # date of birth) are not evidence for the model: they follow the person they were
    # resolved to, below.
    resolved = records[records["method"] == RESOLVED]
    records = records[records["method"] != RESOLVED].reset_index(drop=True)
    if records.empty:
        return LinkageRunSummary(0, 0, 0, 0, 0, 0, False, str(model_path))

    trained = retrain or not model_path.is_file()
    if trained:
        model = train(records)
        model_path.parent.mkdir(parents=True, exist_ok=True)
        model_path.write_text(model.to_json(), encoding="utf-8")
    else:
        model = LinkageModel.from_json(model_path.read_text(encoding="utf-8"))
    result = link(
        records,
        model,
        auto_link_threshold=auto_link_threshold,
        review_threshold=review_threshold,
    )

    kept_apart = {_pair(a, b) for a, b, status in decisions if status == "not_link"}
    edges = [
        (int(a), int(b))
        for a, b in zip(result.links["unique_id_l"], result.links["unique_id_r"], strict=True)
        if _pair(int(a), int(b)) not in kept_apart
    ]
    edges += [(a, b) for a, b, status in decisions if status == "link"]
    edges += _decided_edges(records)
    components = _components(records["id"].tolist(), edges)

    current = dict(zip(records["id"], records["person_key"], strict=True))
    where = {int(r.id): (r.partner, r.feed, r.local_id) for r in records.itertuples(index=False)}
    targets = _choose_person_keys(components, current, where)
    relinked = 0
    with sessions() as session, session.begin():
        for members, target in zip(components, targets, strict=True):
            for record_id in members:
                if current[record_id] != target:
                    relink(
                        session,
                        record_id,
                        target,
                        method="probabilistic",
                        reason="linkage run",
                        at=at,
                    )
                    relinked += 1
        relinked += _follow(session, resolved, components, targets, current, at)
        review_added = _queue_for_review(session, result.review, kept_apart, at)
        review_open = len(
            session.execute(
                select(tables.review.c.id).where(tables.review.c.status == "open")
            ).all()
        )
    persons_after = len(set(targets))
    log.info(
        "linkage run: %d records, %d relinked, %d for review", len(records), relinked, review_added
    )
    return LinkageRunSummary(
        source_records=len(records),
        persons_before=records["person_key"].nunique(),
        persons_after=persons_after,
        relinked=relinked,
        review_added=review_added,
        review_open=review_open,
        model_trained=trained,
        model_path=str(model_path),
    )


def _follow(
    session: Session,
    resolved: pd.DataFrame,
    components: list[list[int]],
    targets: list[str],
    current: dict[int, str],
    at: datetime,
) -> int:
    """Move each resolved record to where its person's records went, when they all went
    to one person (a merge); returns how many moved."""
    went: dict[str, set[str]] = {}
    for members, target in zip(components, targets, strict=True):
        for record_id in members:
            went.setdefault(current[record_id], set()).add(target)
    moved = 0
    for record in resolved.itertuples(index=False):
        targets_of = went.get(str(record.person_key), set())
        if len(targets_of) == 1 and (target := next(iter(targets_of))) != record.person_key:
            relink(
                session, int(record.id), target, method=RESOLVED, reason="follows its person", at=at
            )
            moved += 1
    return moved


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _decided_edges(records: pd.DataFrame) -> list[tuple[int, int]]:
    """Records that people or partners put together (merge, review) stay together."""
    decided = records[records["method"].isin(DECIDED_METHODS)]
    edges: list[tuple[int, int]] = []
    for key in decided["person_key"].unique():
        ids = records.loc[records["person_key"] == key, "id"].tolist()
        edges += [(ids[0], other) for other in ids[1:]]
    return edges


def _components(ids: list[int], edges: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Connected components (union-find), each sorted, in order of their smallest id."""
    parent = {i: i for i in ids}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for i in ids:
        groups.setdefault(root(i), []).append(i)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def _choose_person_keys(
    components: list[list[int]],
    current: dict[int, str],
    where: dict[int, tuple[str, str, str]],
) -> list[str]:
    """The person key each component keeps: the one most of its records already have.

    A key can be kept by one component only: when linkage splits records that shared a key,
    the component with most of them (then the first) keeps it and the others get a key of
    their own, made from their first record.
    """
    wanted = []
    for members in components:
        counts = Counter(current[m] for m in members)
        key, count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        wanted.append((key, count))
    # Largest claim first, so the bigger share of a split person keeps its key.
    order = sorted(range(len(components)), key=lambda i: (-wanted[i][1], i))
    claimed: set[str] = set()
    keys = [""] * len(components)
    for i in order:
        key = wanted[i][0]
        if key in claimed:
            partner, feed, local_id = where[components[i][0]]
            key = person_key_for(partner, feed, local_id)
        claimed.add(key)
        keys[i] = key
    return keys


def _queue_for_review(
    session: Session, review: pd.DataFrame, kept_apart: set[tuple[int, int]], at: datetime
) -> int:
    known = {
        (a, b)
        for a, b in session.execute(select(tables.review.c.left_id, tables.review.c.right_id))
    }
    added = 0
    weights = [c for c in review.columns if c.startswith("mw_")]
    for row in review.itertuples(index=False):
        pair = _pair(int(row.unique_id_l), int(row.unique_id_r))
        if pair in known or pair in kept_apart:
            continue
        explanation = {
            name.removeprefix("mw_"): float(value)
            for name in weights
            if pd.notna(value := getattr(row, name))
        }
        session.execute(
            insert(tables.review).values(
                left_id=pair[0],
                right_id=pair[1],
                reason=row.reason,
                match_probability=float(row.match_probability),
                match_weight=float(row.match_weight),
                explanation=explanation,
                status="open",
                created_at=at,
            )
        )
        known.add(pair)
        added += 1
    return added
