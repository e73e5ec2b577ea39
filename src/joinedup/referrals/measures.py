"""The single point of access's measures: demand, time to first contact, routed right first
time, bounces and declines, and two-hour urgent community response performance.

All aggregate (counts and shares, never a person), computed from the referral table over
a period of receipt. Definitions (docs/referrals.md):

* *routed right first time*: of referrals routed to a team that has since made first
  contact or returned it, the share the first team took without returning it;
* *bounce rate*: of referrals ever routed, the share returned at least once;
* *decline rate*: of referrals received, the share the coordination centre declined;
* *two-hour response*: of two-hour referrals routed to an urgent community response team
  whose clock has run (first contact made, or the 2 hours passed), the share with first
  contact within 2 hours of receipt (NHS England standard: 70%; DOMAIN.md).
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.access.audit import as_utc
from joinedup.referrals import tables
from joinedup.referrals.model import CLOSED, Status, clock

#: NHS England's two-hour urgent community response standard: 70% within 2 hours.
UCR_TARGET = 70.0

_r = tables.referral


@dataclass(frozen=True)
class Measures:
    """The dashboard's figures for one period."""

    received: int
    by_source: dict[str, int]
    by_service: dict[str, int]
    by_area: dict[str, int]
    by_need: dict[str, int]
    first_contact_hours: dict[str, tuple[float, float, int]]  # urgency -> median, p90, n
    routed_right_first_time: float | None  # percent
    bounce_rate: float | None
    decline_rate: float | None
    ucr_two_hour: float | None
    ucr_counted: int
    ucr_by_month: dict[str, tuple[int, int]]  # YYYY-MM -> (within 2 h, counted)
    open_at_risk: int
    open_breached: int


def _pct(numerator: int, denominator: int) -> float | None:
    return 100.0 * numerator / denominator if denominator else None


def measures(
    session: Session,
    *,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    ucr_services: frozenset[str],
    at_risk_after: float,
) -> Measures:
    """The measures over referrals received in ``[since, until)`` (None: unbounded)."""
    query = select(
        _r.c.source,
        _r.c.first_routed_service,
        _r.c.area,
        _r.c.need,
        _r.c.urgency,
        _r.c.status,
        _r.c.received_at,
        _r.c.due_at,
        _r.c.first_contact_at,
        _r.c.bounces,
    )
    if since is not None:
        query = query.where(_r.c.received_at >= since)
    if until is not None:
        query = query.where(_r.c.received_at < until)
    rows = [dict(r) for r in session.execute(query).mappings()]
    by_source: Counter[str] = Counter()
    by_service: Counter[str] = Counter()
    by_area: Counter[str] = Counter()
    by_need: Counter[str] = Counter()
    waits: dict[str, list[float]] = {}
    routed = bounced = settled = right_first = declined = 0
    ucr_met = ucr_counted = at_risk = breached = 0
    ucr_months: dict[str, list[int]] = {}
    for r in rows:
        received, due = as_utc(r["received_at"]), as_utc(r["due_at"])
        contact = as_utc(r["first_contact_at"]) if r["first_contact_at"] else None
        status = Status(r["status"])
        by_source[r["source"]] += 1
        by_area[r["area"] or "unknown"] += 1
        by_need[r["need"]] += 1
        if r["first_routed_service"]:
            routed += 1
            by_service[r["first_routed_service"]] += 1
            if r["bounces"]:
                bounced += 1
            if r["bounces"] or contact is not None:
                settled += 1
                right_first += not r["bounces"]
        if status is Status.REJECTED:
            declined += 1
        if contact is not None:
            waits.setdefault(r["urgency"], []).append((contact - received).total_seconds() / 3600)
        else:
            state = clock(received, due, None, status not in CLOSED, now, at_risk_after)
            breached += state == "breached"
            at_risk += state == "at-risk"
        ucr = r["urgency"] == "two_hour" and r["first_routed_service"] in ucr_services
        if ucr and (contact is not None or now > due):
            met = contact is not None and contact <= due
            ucr_counted += 1
            ucr_met += met
            month = ucr_months.setdefault(f"{received:%Y-%m}", [0, 0])
            month[0] += met
            month[1] += 1
    first_contact = {
        urgency: (
            statistics.median(hours),
            statistics.quantiles(hours, n=10)[-1] if len(hours) > 1 else hours[0],
            len(hours),
        )
        for urgency, hours in waits.items()
    }
    return Measures(
        received=len(rows),
        by_source=dict(by_source.most_common()),
        by_service=dict(by_service.most_common()),
        by_area=dict(by_area.most_common()),
        by_need=dict(by_need.most_common()),
        first_contact_hours=first_contact,
        routed_right_first_time=_pct(right_first, settled),
        bounce_rate=_pct(bounced, routed),
        decline_rate=_pct(declined, len(rows)),
        ucr_two_hour=_pct(ucr_met, ucr_counted),
        ucr_counted=ucr_counted,
        ucr_by_month={m: (v[0], v[1]) for m, v in sorted(ucr_months.items())},
        open_at_risk=at_risk,
        open_breached=breached,
    )


def as_dict(m: Measures) -> dict[str, Any]:
    """The measures as JSON-ready values."""
    return {
        **{k: v for k, v in m.__dict__.items() if k not in ("first_contact_hours", "ucr_by_month")},
        "first_contact_hours": {
            u: {"median": med, "p90": p90, "n": n}
            for u, (med, p90, n) in m.first_contact_hours.items()
        },
        "ucr_by_month": {k: {"within_2h": a, "counted": b} for k, (a, b) in m.ucr_by_month.items()},
    }
