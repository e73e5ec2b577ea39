"""The single point of access's dashboard: demand, time to first contact, routed right first
time, bounces and declines, and two-hour urgent community response performance.

Aggregate figures only (``analytics.read``): counts and shares, never a person.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from joinedup.access.deps import CurrentUser
from joinedup.access.model import AccessDenied
from joinedup.api.deps import SessionDep
from joinedup.api.guard import Guard
from joinedup.api.referrals import centre_for
from joinedup.directory.profiles import DISPOSITIONS, NEEDS, REFERRERS
from joinedup.referrals.measures import UCR_TARGET, measures
from joinedup.web.charts import Bar, Series, ValueFormat, bar_chart, line_chart
from joinedup.web.pages import templates
from joinedup.web.record_pages import ROLE_NAMES, refused_page

router = APIRouter(include_in_schema=False)

#: The periods the dashboard offers, in days back from now.
PERIODS = {"7": "Last 7 days", "28": "Last 28 days", "91": "Last 13 weeks", "all": "All time"}


@router.get("/referrals/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request, session: SessionDep, user: CurrentUser, period: str = "28"
) -> Response:
    """The measures over referrals received in the chosen period."""
    guard = Guard.for_request(request, session, user)
    try:
        guard.require("analytics.read", "referrals dashboard")
    except AccessDenied as error:
        return refused_page(request, error)
    centre = centre_for(request, session)
    now = datetime.now(UTC)
    period = period if period in PERIODS else "28"
    since = None if period == "all" else now - timedelta(days=int(period))
    ucr = frozenset(
        s.id for s in centre.directory.services if s.type == "urgent_community_response"
    )
    m = measures(
        session,
        since=since,
        until=None,
        now=now,
        ucr_services=ucr,
        at_risk_after=centre.rules.at_risk_after,
    )

    def bars(counts: dict[str, int], name: Callable[[str], str]) -> list[Bar]:
        return [Bar(name(k), v) for k, v in counts.items()]

    area_names = {a.code: a.name for a in centre.directory.areas}
    charts = {
        "source": bar_chart(
            bars(m.by_source, lambda k: REFERRERS.get(k, k).capitalize()),
            title="Referrals by source",
            value_label="Referrals",
            value_format=ValueFormat.COUNT,
            chart_id="by-source",
        ),
        "service": bar_chart(
            bars(dict(list(m.by_service.items())[:12]), centre.service_name),
            title="Referrals by the service first routed to (the 12 busiest)",
            value_label="Referrals",
            value_format=ValueFormat.COUNT,
            chart_id="by-service",
        ),
        "area": bar_chart(
            bars(m.by_area, lambda k: area_names.get(k, "Area not known")),
            title="Referrals by the person's area",
            value_label="Referrals",
            value_format=ValueFormat.COUNT,
            chart_id="by-area",
        ),
        "need": bar_chart(
            bars(m.by_need, lambda k: NEEDS.get(k, k).capitalize()),
            title="Referrals by need",
            value_label="Referrals",
            value_format=ValueFormat.COUNT,
            chart_id="by-need",
        ),
    }
    months = list(m.ucr_by_month)
    if months:
        charts["ucr"] = line_chart(
            months,
            [Series("Within 2 hours", [100 * a / b for a, b in m.ucr_by_month.values()])],
            title="Two-hour urgent community response, by month of receipt",
            value_label="Share seen within 2 hours (%)",
            value_format=ValueFormat.PERCENT,
            chart_id="ucr-by-month",
        )
    waits = [
        (DISPOSITIONS[u].words, *m.first_contact_hours[u])
        for u in DISPOSITIONS
        if u in m.first_contact_hours
    ]
    return templates.TemplateResponse(
        request,
        "referral_dashboard.html",
        {
            "user": user,
            "role_name": ROLE_NAMES.get(user.role, user.role),
            "m": m,
            "charts": charts,
            "waits": waits,
            "periods": PERIODS,
            "period": period,
            "ucr_target": UCR_TARGET,
        },
    )


__all__ = ["router"]
