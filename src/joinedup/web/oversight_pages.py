"""System oversight's pages: the summary matrix with Making Data Count icons, drill-down to
a partner or an area, an SPC chart per indicator (with national A&E benchmarking), and the
board's integrated performance report as a page and a PDF.

Everything here is aggregate: counts and rates by month, for anyone whose role may read
aggregate figures (``analytics.read``). The pages read what ``joinedup oversight refresh``
wrote (``var/oversight/``) and remember it until it is written again, so they are quick.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from joinedup.access.deps import CurrentUser
from joinedup.access.model import AccessDenied
from joinedup.api.deps import SessionDep
from joinedup.api.guard import Guard
from joinedup.directory.model import Directory
from joinedup.directory.store import read_directory
from joinedup.oversight.catalogue import Indicator, load_catalogue
from joinedup.oversight.compute import MEASURES, SYSTEM
from joinedup.oversight.dashboard import IndicatorValues, Series, summary
from joinedup.oversight.national import NationalAe, peer_series, read_national
from joinedup.oversight.run import INDICATORS_FILE, NATIONAL_FILE
from joinedup.settings import Settings
from joinedup.web import charts
from joinedup.web.pages import long_date, templates
from joinedup.web.pdf import html_to_pdf
from joinedup.web.population_pages import group_labels
from joinedup.web.record_pages import ROLE_NAMES, refused_page
from joinedup.web.spc_chart import assurance_icon, spc_chart, variation_icon

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

#: How each level is named.
LEVEL_NAMES = {
    "system": "The whole system",
    "partner": "Partner",
    "area": "Integrated Care Area",
    "programme": "Programme",
}

#: The chart format for each unit in the catalogue.
VALUE_FORMATS = {
    "percent": charts.ValueFormat.PERCENT,
    "count": charts.ValueFormat.COUNT,
    "average": charts.ValueFormat.NUMBER,
    "per_1000": charts.ValueFormat.PER_1000,
    "per_100000": charts.ValueFormat.PER_100000,
}


class NoIndicators(Exception):
    """Nothing has been refreshed yet (run ``joinedup oversight refresh``)."""


class OversightView:
    """The refreshed indicators and the catalogue, read once and kept until rewritten."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._token: tuple[float, float] | None = None
        self._values: IndicatorValues | None = None
        self._national: NationalAe | None = None
        self._memo: dict[tuple[Any, ...], Any] = {}
        self.indicators: list[Indicator] = load_catalogue(
            settings.indicator_catalogue, measures=frozenset(MEASURES)
        )

    def values(self) -> IndicatorValues:
        """The indicators by month (raises :class:`NoIndicators` before a refresh)."""
        path = self.settings.oversight_dir / INDICATORS_FILE
        national = self.settings.oversight_dir / NATIONAL_FILE
        with self._lock:
            if not path.is_file():
                raise NoIndicators
            token = (path.stat().st_mtime, national.stat().st_mtime if national.is_file() else 0)
            if token != self._token or self._values is None:
                self._values = IndicatorValues.read(path)
                self._national = read_national(national) if national.is_file() else None
                self._memo.clear()
                self._token = token
            return self._values

    def remember(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """``compute()``, or what it gave for the same key since the last refresh (charts
        and SPC are the same until the indicators are written again)."""
        self.values()
        if key not in self._memo:
            self._memo[key] = compute()
        result: T = self._memo[key]
        return result

    def national(self) -> NationalAe | None:
        """NHS England's published A&E statistics, if imported."""
        self.values()
        return self._national

    def indicator(self, key: str) -> Indicator | None:
        return next((i for i in self.indicators if i.key == key), None)


def oversight_view(request: Request) -> OversightView:
    """The app's one :class:`OversightView` (made on first use)."""
    view: OversightView | None = getattr(request.app.state, "oversight_view", None)
    if view is None:
        view = OversightView(request.app.state.settings)
        request.app.state.oversight_view = view
    return view


def _labels(request: Request, session: Any) -> dict[str, str]:
    labels: dict[str, str] | None = getattr(request.app.state, "oversight_labels", None)
    if labels is None:
        labels = oversight_labels(read_directory(session))
        request.app.state.oversight_labels = labels
    return labels


def oversight_labels(directory: Directory | None) -> dict[str, str]:
    """Names for the groups: the ICS, partners (by ODS code), areas and programmes."""
    labels = group_labels(directory)
    if directory is not None:
        labels[SYSTEM] = directory.name
        labels.update({o.ods_code: f"{o.name} ({o.ods_code})" for o in directory.organisations})
    return labels


# --- formatting -------------------------------------------------------------------------------


def format_value(indicator: Indicator, value: float | None) -> str:
    """A value as people read it: ``76.4%``, ``1,204``, ``3.2 per 1,000``."""
    if value is None:
        return "No data"
    return charts.format_value(value, VALUE_FORMATS.get(indicator.unit, charts.ValueFormat.NUMBER))


@dataclass(frozen=True)
class MatrixRow:
    """One row of the summary matrix, formatted."""

    indicator: Indicator
    series: Series | None
    latest_month: str
    latest: str
    target: str
    variation: Markup | None
    assurance: Markup | None


def matrix(rows: list[tuple[Indicator, Series | None]]) -> list[MatrixRow]:
    """The summary matrix's rows, formatted, with their MDC icons."""
    out = []
    for indicator, series in rows:
        latest = series.latest if series else None
        target = series.target if series else None
        spc = series.spc if series else None
        out.append(
            MatrixRow(
                indicator,
                series,
                latest[0].strftime("%b %Y") if latest else "",
                format_value(indicator, latest[1])
                if latest
                else ("Not collected yet" if not indicator.available else "No data"),
                format_value(indicator, target) if target is not None else "None set",
                variation_icon(spc.variation_icon) if spc else None,
                assurance_icon(spc.assurance_icon) if spc and spc.assurance_icon else None,
            )
        )
    return out


def series_chart(series: Series, title: str, *, pdf: bool = False) -> Markup | None:
    """The series' SPC chart (None without enough values)."""
    if series.spc is None:
        return None
    indicator = series.indicator
    return spc_chart(
        series.spc,
        title=title,
        value_label=indicator.name,
        value_format=VALUE_FORMATS.get(indicator.unit, charts.ValueFormat.NUMBER),
        show_title=pdf,
    )


def national_chart(national: NationalAe, org: str, type_: str | None) -> Markup | None:
    """The provider's published four-hour performance against its peers' median and
    England, month by month (NHS England's statistics)."""
    try:
        comparisons = peer_series(national, org, type=type_)  # type: ignore[arg-type]
    except ValueError:
        return None
    if not comparisons:
        return None
    return charts.line_chart(
        [c.month.strftime("%b %Y") for c in comparisons],
        [
            charts.Series(org, [100 * c.provider.share for c in comparisons]),
            charts.Series("Peers' median", [100 * c.median for c in comparisons]),
            charts.Series("England", [100 * c.england.share for c in comparisons]),
        ],
        title=f"Four-hour performance: {org} against its peers and England (published)",
        value_label="Within four hours",
        value_format=charts.ValueFormat.PERCENT,
        from_zero=False,
    )


# --- the pages ----------------------------------------------------------------------------------


def _context(user: Any, **values: Any) -> dict[str, Any]:
    return {"user": user, "role_name": ROLE_NAMES.get(user.role, user.role), **values}


def _allowed(request: Request, session: Any, user: Any, what: str) -> None:
    Guard.for_request(request, session, user).require("analytics.read", what)


def _level_and_group(values: IndicatorValues, level: str, group: str) -> tuple[str, str]:
    levels = values.levels()
    if level not in levels or group not in levels[level]:
        return "system", SYSTEM
    return level, group


def _no_data(request: Request, user: Any) -> Response:
    return templates.TemplateResponse(
        request,
        "oversight_no_data.html",
        _context(user, page_title="System oversight"),
        status_code=503,
    )


@router.get("/oversight", response_class=HTMLResponse)
def dashboard(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    level: str = "system",
    group: str = SYSTEM,
    drill: str | None = None,
) -> Response:
    """The summary matrix for the system, a partner or an area (``drill`` is the form's
    choice, ``level|group``)."""
    try:
        _allowed(request, session, user, "oversight dashboard")
    except AccessDenied as error:
        return refused_page(request, error)
    view = oversight_view(request)
    try:
        values = view.values()
    except NoIndicators:
        return _no_data(request, user)
    if drill and "|" in drill:
        level, group = drill.split("|", 1)
    level, group = _level_and_group(values, level, group)
    labels = _labels(request, session)
    return templates.TemplateResponse(
        request,
        "oversight.html",
        _context(
            user,
            page_title="System oversight",
            level=level,
            group=group,
            group_name=labels.get(group, group),
            levels=values.levels(),
            level_names=LEVEL_NAMES,
            labels=labels,
            rows=view.remember(
                ("matrix", level, group),
                lambda: matrix(summary(values, view.indicators, level, group)),
            ),
        ),
    )


@router.get("/oversight/indicators/{key}", response_class=HTMLResponse)
def indicator_page(
    request: Request,
    key: str,
    session: SessionDep,
    user: CurrentUser,
    level: str = "system",
    group: str = SYSTEM,
) -> Response:
    """One indicator: its SPC chart for the system, a partner or an area, its months, and
    (for A&E) the provider against its peers and England."""
    try:
        _allowed(request, session, user, f"oversight indicator {key}")
    except AccessDenied as error:
        return refused_page(request, error)
    view = oversight_view(request)
    indicator = view.indicator(key)
    if indicator is None:
        return templates.TemplateResponse(
            request, "refused.html", {"reason": "There is no such indicator."}, status_code=404
        )
    try:
        values = view.values()
    except NoIndicators:
        return _no_data(request, user)
    level, group = _level_and_group(values, level, group)
    labels = _labels(request, session)
    series = view.remember(
        ("series", key, level, group), lambda: values.series(indicator, level, group)
    )
    national = view.national()
    benchmark = None
    if national is not None and key in ("ae_4h_all", "ae_4h_type1"):
        org = group if level == "partner" else "REF"
        if org in national.providers:
            type_ = "1" if key == "ae_4h_type1" else None
            benchmark = view.remember(
                ("national", org, type_), lambda: national_chart(national, org, type_)
            )
    breakdowns = {
        lv: [(g, labels.get(g, g)) for g in values.groups(key, lv)] for lv in indicator.dimensions
    }
    return templates.TemplateResponse(
        request,
        "oversight_indicator.html",
        _context(
            user,
            page_title=indicator.name,
            indicator=indicator,
            level=level,
            group=group,
            group_name=labels.get(group, group),
            series=series,
            chart=view.remember(
                ("chart", key, level, group),
                lambda: series_chart(series, f"{indicator.name}: {labels.get(group, group)}"),
            )
            if series
            else None,
            months=_months(series) if series else [],
            target=format_value(indicator, series.target)
            if series and series.target is not None
            else "None set",
            benchmark=benchmark,
            breakdowns=breakdowns,
            level_names=LEVEL_NAMES,
        ),
    )


@router.get("/oversight/report", response_class=HTMLResponse)
def report_page(
    request: Request, session: SessionDep, user: CurrentUser, month: str | None = None
) -> Response:
    """The integrated performance report for a month, as a page."""
    try:
        _allowed(request, session, user, "board report")
    except AccessDenied as error:
        return refused_page(request, error)
    view = oversight_view(request)
    try:
        values = view.values()
    except NoIndicators:
        return _no_data(request, user)
    return HTMLResponse(
        render_board_report(
            values,
            view.indicators,
            _month(month),
            labels=_labels(request, session),
            pdf=False,
            user=user,
        )
    )


@router.get("/oversight/report.pdf")
def report_pdf(
    request: Request, session: SessionDep, user: CurrentUser, month: str | None = None
) -> Response:
    """The integrated performance report for a month, as a PDF."""
    try:
        _allowed(request, session, user, "board report (PDF)")
    except AccessDenied as error:
        return refused_page(request, error)
    view = oversight_view(request)
    try:
        values = view.values()
    except NoIndicators:
        return _no_data(request, user)
    html = render_board_report(
        values, view.indicators, _month(month), labels=_labels(request, session), pdf=True
    )
    return Response(
        html_to_pdf(html),
        media_type="application/pdf",
        headers={"Content-Disposition": 'inline; filename="integrated-performance-report.pdf"'},
    )


def _month(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(f"{text}-01")
    except ValueError:
        return None


def _months(series: Series) -> list[dict[str, Any]]:
    types = {p.date: p for p in series.spc.points} if series.spc else {}
    rows = []
    for period, value, numerator, denominator in zip(
        series.periods, series.values, series.numerators, series.denominators, strict=True
    ):
        point = types.get(period)
        rows.append(
            {
                "month": period.strftime("%B %Y"),
                "numerator": numerator,
                "denominator": denominator,
                "value": format_value(series.indicator, value),
                "variation": point.point_type.value.replace("_", " ") if point else "",
            }
        )
    return list(reversed(rows))


def render_board_report(
    values: IndicatorValues,
    indicators: list[Indicator],
    month: date | None,
    *,
    labels: dict[str, str],
    pdf: bool,
    user: Any = None,
) -> str:
    """The month's integrated performance report: the summary matrix, an SPC chart per
    indicator, and space for each lead's narrative. ``month`` None is the latest."""
    cut = values.until(month) if month else values
    rows = matrix(summary(cut, indicators, "system", SYSTEM))
    latest = max((r.series.latest[0] for r in rows if r.series and r.series.latest), default=None)
    charts_by_key = {
        r.indicator.key: series_chart(r.series, r.indicator.name, pdf=pdf)
        for r in rows
        if r.series is not None
    }
    context = {
        "pdf": pdf,
        "page_title": "Integrated performance report",
        "ics_name": labels.get(SYSTEM),
        "month": long_date(latest).split(" ", 1)[1] if latest else "",
        "rows": rows,
        "charts": charts_by_key,
        "user": user,
        "role_name": ROLE_NAMES.get(user.role, user.role) if user else None,
    }
    return templates.get_template("oversight_report.html").render(context)
