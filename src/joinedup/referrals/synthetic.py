"""A synthetic flow of referrals into the single point of access, for the demo and benchmarks.

Referrals arrive on weekdays and weekends through the day, from the mix of referrers a
community coordination centre sees (GPs most, then hospital wards, paramedics, community
teams, social care, the voluntary sector), for needs and urgencies in proportion. Each is
taken in and worked through the real :class:`~joinedup.referrals.store.Centre`: the
coordinator accepts the router's proposal (or redirects, asks for information or declines
now and then), the team makes first contact after a realistic wait (most two-hour
referrals within two hours, some not), sometimes returns one, and completes it. The most
recent few stay open, so the worklist and the queues have live work.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from joinedup.feeds.model import PersonDetails
from joinedup.identity import tables as identity_tables
from joinedup.referrals.model import Action, ReferralError
from joinedup.referrals.store import Actor, Centre, NewReferral, read_referral

#: (referrer, weight), (need, urgency, weight): the mix of a coordination centre's work.
SOURCES: Final = (
    ("gp", 38),
    ("hospital", 18),
    ("paramedic", 14),
    ("community_health", 12),
    ("social_care", 8),
    ("care_coordinator", 5),
    ("voluntary_sector", 5),
)
NEEDS: Final = (
    ("fall", "two_hour", 16),
    ("frailty", "two_hour", 8),
    ("acute_deterioration", "two_hour", 10),
    ("catheter_continence", "two_hour", 4),
    ("frailty", "same_day", 6),
    ("breathlessness", "same_day", 5),
    ("wound_care", "within_72_hours", 9),
    ("medication_support", "within_72_hours", 5),
    ("rehabilitation", "within_72_hours", 6),
    ("personal_care", "routine", 5),
    ("fall", "routine", 6),
    ("loneliness", "routine", 5),
    ("carer_strain", "routine", 3),
    ("breathlessness", "routine", 3),
    ("end_of_life", "same_day", 3),
    ("care_and_support", "within_72_hours", 4),
)
SUMMARIES: Final = {
    "fall": "Fall at home, no obvious injury, struggling to get up; lives alone.",
    "frailty": "Increasingly frail over the last week, less mobile, carer worried.",
    "acute_deterioration": "Unwell since yesterday, more confused, possible urinary infection.",
    "catheter_continence": "Catheter blocked since this morning, in discomfort.",
    "breathlessness": "More breathless than usual, known COPD, sats 91% on air.",
    "wound_care": "Leg ulcer needing dressing changes after discharge.",
    "medication_support": "Needs help with insulin at home after discharge.",
    "rehabilitation": "Home from hospital after a chest infection, needs to regain mobility.",
    "personal_care": "Needs help with washing and dressing at home.",
    "loneliness": "Lives alone since bereavement, rarely leaves the house.",
    "carer_strain": "Husband's carer, exhausted, asking for a break.",
    "end_of_life": "Last weeks of life at home, family need support tonight.",
    "care_and_support": "Care needs have grown; needs a Care Act assessment.",
}
#: The organisation each kind of referrer refers from (demo directory codes).
ORGANISATIONS: Final = {
    "gp": "L99021",
    "hospital": "REF",
    "paramedic": "RYF",
    "community_health": "RJ8",
    "social_care": "ZLA01",
    "care_coordinator": "QT6",
    "voluntary_sector": "ZV001",
}
_T = TypeVar("_T")
_COORDINATOR: Final = Actor("synthetic-coordinator", "Coordination centre (synthetic)", "QT6")


@dataclass(frozen=True)
class FlowReport:
    """What the synthetic flow made."""

    referrals: int
    refused: int
    completed: int
    open: int


def generate_flow(
    sessions: sessionmaker[Session],
    centre: Centre,
    *,
    days: int,
    per_day: int,
    until: datetime,
    seed: int = 2026,
    progress: Callable[[int], None] = lambda _n: None,
) -> FlowReport:
    """Referrals received over the ``days`` before ``until``, each worked in its own
    transaction as the centre and teams would; ``progress`` is told of each day done."""
    rng = random.Random(seed)
    with sessions() as session:
        people = _people(session, limit=5000)
    if not people:
        return FlowReport(0, 0, 0, 0)
    made = refused = completed = still_open = 0
    for day in range(days, 0, -1):
        start = (until - timedelta(days=day)).replace(hour=8, minute=0, second=0, microsecond=0)
        for _ in range(rng.randint(per_day * 3 // 4, per_day * 5 // 4)):
            at = start + timedelta(minutes=rng.randint(0, 11 * 60))
            if at >= until:
                continue
            source = _pick(rng, SOURCES)
            need, urgency = _pick(rng, [((n, u), w) for n, u, w in NEEDS])
            nhs, born = rng.choice(people)
            new = NewReferral(
                channel="synthetic",
                source=source,
                referrer=Actor(f"synthetic-{source}", f"Synthetic {source}", ORGANISATIONS[source]),
                need=need,
                urgency=urgency,
                summary=SUMMARIES.get(need, "Needs support at home."),
                patient=PersonDetails(local_id="", nhs_number=nhs, birth_date=born),
                authored_at=at - timedelta(minutes=rng.randint(1, 20)),
            )
            try:
                with sessions.begin() as session:
                    referral = centre.take(session, new, at)
                    outcome = _work(session, centre, referral.id, at, until, urgency, rng)
            except ReferralError:
                refused += 1
                continue
            made += 1
            completed += outcome == "completed"
            still_open += outcome == "open"
        progress(1)
    return FlowReport(made, refused, completed, still_open)


def _work(
    session: Session,
    centre: Centre,
    referral_id: str,
    received: datetime,
    until: datetime,
    urgency: str,
    rng: random.Random,
) -> str:
    """Work one referral along a plausible path, stopping at ``until`` (still open)."""
    now = received + timedelta(minutes=rng.randint(3, 25))
    if now >= until:
        return "open"
    roll = rng.random()
    if roll < 0.04:
        centre.act(session, referral_id, Action.DECLINE, _COORDINATOR, now, reason="not eligible")
        return "closed"
    if roll < 0.08:
        centre.act(
            session, referral_id, Action.ASK_INFO, _COORDINATOR, now, reason="need meds list"
        )
        now += timedelta(hours=rng.uniform(1, 20))
        if now >= until:
            return "open"
        centre.act(session, referral_id, Action.INFO_RECEIVED, _COORDINATOR, now)
    current = (
        centre.act(session, referral_id, Action.ACCEPT, _COORDINATOR, now)
        if _proposed(session, referral_id)
        else None
    )
    if current is None:
        centre.act(
            session, referral_id, Action.DECLINE, _COORDINATOR, now, reason="no service can take it"
        )
        return "closed"
    team = Actor(f"synthetic-team-{current.owner}", "Team (synthetic)", "RJ8")
    if rng.random() < 0.07:  # the team returns it; the coordinator routes it on
        now += timedelta(minutes=rng.randint(10, 60))
        if now >= until:
            return "open"
        current = centre.act(
            session, referral_id, Action.BOUNCE, team, now, reason="outside our caseload"
        )
        if current.proposed_service is None:
            centre.act(
                session, referral_id, Action.DECLINE, _COORDINATOR, now, reason="no other service"
            )
            return "closed"
        current = centre.act(session, referral_id, Action.ACCEPT, _COORDINATOR, now)
        team = Actor(f"synthetic-team-{current.owner}", "Team (synthetic)", "RJ8")
    allowed = centre.rules.within(urgency)
    # Most teams respond well within their time frame; about one in five does not.
    wait = allowed * (rng.uniform(0.2, 0.95) if rng.random() < 0.8 else rng.uniform(1.0, 1.8))
    now = received + max(wait, now - received + timedelta(minutes=5))
    if now >= until:
        return "open"
    centre.act(session, referral_id, Action.START, team, now)
    now += timedelta(hours=rng.uniform(1, 72))
    if now >= until:
        return "open"
    centre.act(session, referral_id, Action.COMPLETE, team, now)
    return "completed"


def _proposed(session: Session, referral_id: str) -> bool:
    referral = read_referral(session, referral_id)
    return referral is not None and referral.proposed_service is not None


def _pick(rng: random.Random, weighted: Sequence[tuple[_T, int]]) -> _T:
    chosen: _T = rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]
    return chosen


def _people(session: Session, *, limit: int) -> list[tuple[str, date]]:
    s = identity_tables.source_record
    rows = session.execute(
        select(s.c.nhs_number, s.c.birth_date)
        .where(s.c.nhs_number.is_not(None), s.c.birth_date.is_not(None))
        .distinct()
        .limit(limit)
    )
    return [(n, b) for n, b in rows]
