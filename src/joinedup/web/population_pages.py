"""Population health's pages: the dashboard, cohorts with attrition and inequalities, and
the needs assessment (also as PDF).

Everything here is aggregate and pseudonymised: counts and rates from the lake, groups
under five suppressed, for anyone whose role may read aggregate figures
(``analytics.read``). A cohort's worklist names people, so it is apart
(:mod:`joinedup.web.worklist_pages`), behind the shared care record's access control.

Results are computed on an embedded DuckDB over the lake and remembered until the lake is
refreshed (:class:`PopulationView`), so a page is quick after its first view.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pyarrow.parquet as pq
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from joinedup.access.deps import CurrentUser
from joinedup.access.model import AccessDenied
from joinedup.api.deps import SessionDep
from joinedup.api.guard import Guard
from joinedup.directory.model import Directory
from joinedup.directory.store import read_directory
from joinedup.population import risk
from joinedup.population.cohorts import SHIPPED_COHORTS, CohortResult, load_cohort, run_cohort
from joinedup.population.indicators import INDICATORS, INDICATORS_BY_KEY
from joinedup.population.inequalities import DIMENSIONS, GroupRate, breakdown, overall_rate
from joinedup.population.lake import lake_as_of
from joinedup.population.measures import BRIDGES_TO_HEALTH, Lake, duckdb_lake
from joinedup.population.needs import NeedsAssessment, assess_needs
from joinedup.population.run import PERSON_MEASURES, RISK_MODEL
from joinedup.settings import Settings
from joinedup.web import charts
from joinedup.web.pages import group_name, templates
from joinedup.web.pdf import html_to_pdf
from joinedup.web.record_pages import ROLE_NAMES, refused_page

router = APIRouter(include_in_schema=False)
logger = logging.getLogger(__name__)

#: How each dimension is named on the pages.
DIMENSION_NAMES = {
    "imd_quintile": "Deprivation (IMD quintile, 1 most deprived)",
    "core20": "Core20 (most deprived 20% nationally)",
    "age_band": "Age band",
    "sex": "Sex",
    "ethnicity": "Ethnic group",
    "area": "Integrated Care Area",
    "pcn": "Primary care network",
    "practice": "GP practice",
}

T = TypeVar("T")


class NoLake(Exception):
    """There is no lake to read yet (run ``joinedup lake refresh``)."""


class PopulationView:
    """The lake as the pages read it: one DuckDB connection, results remembered until the
    lake is refreshed. One lock: a DuckDB connection serves one thread at a time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._token: float | None = None
        self._lake: Lake | None = None
        self._memo: dict[tuple[Any, ...], Any] = {}

    def _fresh(self) -> Lake:
        state = self.settings.lake_dir / "_state.json"
        if not state.is_file() or not (self.settings.lake_dir / "person.parquet").is_file():
            raise NoLake
        token = state.stat().st_mtime
        if token != self._token or self._lake is None:
            self._lake = duckdb_lake(self.settings.lake_dir)
            self._memo.clear()
            self._token = token
        return self._lake

    def remember(self, key: tuple[Any, ...], compute: Callable[[Lake], T]) -> T:
        """``compute(lake)``, or what it gave last time for the same key and lake."""
        with self._lock:
            lake = self._fresh()
            if key not in self._memo:
                self._memo[key] = compute(lake)
            result: T = self._memo[key]
            return result

    @property
    def as_of(self) -> date:
        """The lake's as-of date (windows look back from it)."""
        return (
            self.remember(("as_of",), lambda _: lake_as_of(self.settings.lake_dir)) or date.today()
        )

    def cohort_files(self) -> dict[str, Path]:
        """The cohorts the pages show, by slug (the file name without ``.yaml``)."""
        return {p.stem: p for p in sorted(SHIPPED_COHORTS.glob("*.yaml"))}

    def cohort(self, slug: str) -> CohortResult:
        """A cohort's run, with its people materialised (so breakdowns are quick)."""
        path = self.cohort_files()[slug]
        as_of = self.as_of

        def compute(lake: Lake) -> CohortResult:
            run = run_cohort(load_cohort(path), lake, as_of)
            con = lake.backend
            people = con.create_table(
                f"cohort_{slug.replace('-', '_')}", run.people.to_pyarrow(), overwrite=True
            )
            entered = con.create_table(
                f"entered_{slug.replace('-', '_')}", run.entered.to_pyarrow(), overwrite=True
            )
            return CohortResult(run.name, people, run.attrition, entered)

        return self.remember(("cohort", slug), compute)

    def cohort_breakdown(self, slug: str, by: str) -> list[GroupRate]:
        """A cohort's rate (of those who entered, how many are in it) by ``by``."""
        run = self.cohort(slug)
        return self.remember(
            ("cohort-by", slug, by),
            lambda lake: breakdown(run.entered, run.people, lake.person, by),
        )

    def cohort_person_ids(self, slug: str) -> frozenset[str]:
        """The pseudonymised ids of a cohort's people (for its worklist)."""
        run = self.cohort(slug)
        return self.remember(
            ("cohort-ids", slug),
            lambda _: frozenset(run.people.select("person_id").to_pyarrow().column(0).to_pylist()),
        )

    def indicator_breakdown(self, key: str, by: str) -> list[GroupRate]:
        """An indicator's rate by ``by``."""
        indicator = INDICATORS_BY_KEY[key]
        as_of = self.as_of
        return self.remember(
            ("indicator-by", key, by),
            lambda lake: breakdown(*indicator.people(lake, as_of), lake.person, by),
        )

    def indicator_overall(self, key: str) -> GroupRate | None:
        """An indicator's rate over the whole registered population."""
        indicator = INDICATORS_BY_KEY[key]
        as_of = self.as_of
        return self.remember(
            ("indicator", key), lambda lake: overall_rate(*indicator.people(lake, as_of))
        )

    def needs(self) -> NeedsAssessment:
        """The needs assessment."""
        as_of = self.as_of
        return self.remember(("needs",), lambda lake: assess_needs(lake, as_of))

    def risk_model(self) -> risk.RiskModel | None:
        """The risk model the last population run trained (None before one has run)."""
        path = self.settings.population_dir / RISK_MODEL
        return self.remember(
            ("risk",), lambda _: risk.RiskModel.load(path) if path.is_file() else None
        )

    def person_measures(self) -> dict[str, dict[str, Any]]:
        """The last population run's measures per person, by pseudonymised id."""
        path = self.settings.population_dir / PERSON_MEASURES

        def compute(_: Lake) -> dict[str, dict[str, Any]]:
            if not path.is_file():
                return {}
            return {r["person_id"]: r for r in pq.read_table(path).to_pylist()}

        return self.remember(("person-measures",), compute)


def warm(view: PopulationView) -> None:
    """Compute what the dashboard shows, so its first visitor does not wait (the app starts
    this in a thread of its own; without a lake there is nothing to do)."""
    try:
        view.needs()
        for slug in view.cohort_files():
            view.cohort(slug)
        for indicator in INDICATORS:
            view.indicator_overall(indicator.key)
    except NoLake:
        return
    except Exception:  # the page will say what is wrong when someone asks for it
        logger.exception("population health's warm-up failed")


def group_labels(directory: Directory | None) -> dict[str, str]:
    """How areas, PCNs and practices are named on the pages: their names, for their codes."""
    if directory is None:
        return {}
    labels = {a.code: a.name for a in directory.areas}
    labels.update({p.code: p.name for p in directory.pcns})
    labels.update({o.ods_code: f"{o.name} ({o.ods_code})" for o in directory.practices})
    return labels


def _labels(request: Request, session: Any) -> dict[str, str]:
    labels: dict[str, str] | None = getattr(request.app.state, "population_labels", None)
    if labels is None:
        labels = group_labels(read_directory(session))
        request.app.state.population_labels = labels
    return labels


def population_view(request: Request) -> PopulationView:
    """The app's one :class:`PopulationView` (made with the app)."""
    view: PopulationView = request.app.state.population_view
    return view


# --- formatting -------------------------------------------------------------------------------


def rate_bars(
    groups: list[GroupRate], *, standardised: bool, labels: dict[str, str] | None = None
) -> list[charts.Bar]:
    """Chart bars for rates: the standardised rate and interval where asked and known."""
    bars = []
    for g in groups:
        label = (labels or {}).get(g.group) or group_name(g.group)
        if g.suppressed:
            bars.append(charts.Bar(label, None, suppressed=True))
        elif standardised and g.standardised_rate is not None:
            bars.append(
                charts.Bar(label, g.standardised_rate, g.standardised_low, g.standardised_high)
            )
        else:
            bars.append(charts.Bar(label, g.rate, g.ci_low, g.ci_high))
    return bars


def rate_chart(
    groups: list[GroupRate], *, title: str, by: str, labels: dict[str, str] | None = None
) -> Markup:
    """A bar chart of rates by group (age-standardised where the groups differ in age)."""
    standardised = any(g.standardised_rate is not None for g in groups)
    return charts.bar_chart(
        rate_bars(groups, standardised=standardised, labels=labels),
        title=title,
        value_label=("Age-standardised rate" if standardised else "Rate") + " (95% CI)",
        value_format=charts.ValueFormat.SHARE,
        description=f"{title}, by {DIMENSION_NAMES.get(by, by).lower()}.",
    )


@dataclass(frozen=True)
class CohortSummary:
    """A cohort as the list shows it."""

    slug: str
    name: str
    size: int
    entered: int
    attrition: list[Any]


def page_context(request: Request, user: Any, **values: Any) -> dict[str, Any]:
    return {"user": user, "role_name": ROLE_NAMES.get(user.role, user.role), **values}


def _guarded(request: Request, session: Any, user: Any, what: str) -> Guard:
    guard = Guard.for_request(request, session, user)
    guard.require("analytics.read", what)
    return guard


def no_lake_page(request: Request, user: Any) -> Response:
    return templates.TemplateResponse(
        request,
        "population_no_lake.html",
        page_context(request, user, page_title="Population health"),
        status_code=503,
    )


# --- the pages ----------------------------------------------------------------------------------


@router.get("/population", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """The population dashboard: segments, indicators, prevalence, risk, cohorts."""
    try:
        _guarded(request, session, user, "population dashboard")
    except AccessDenied as error:
        return refused_page(request, error)
    view = population_view(request)
    try:
        needs = view.needs()
        cohorts = [cohort_summary(view, slug) for slug in view.cohort_files()]
        indicators = [(i, view.indicator_overall(i.key)) for i in INDICATORS]
    except NoLake:
        return no_lake_page(request, user)
    model = view.risk_model()
    return templates.TemplateResponse(
        request,
        "population.html",
        page_context(
            request,
            user,
            page_title="Population health",
            needs=needs,
            cohorts=cohorts,
            indicators=indicators,
            gaps={g.indicator: g for g in needs.gaps},
            segments_chart=_segments_chart(needs, _labels(request, session)),
            prevalence_chart=_prevalence_chart(needs),
            model=model,
            calibration_chart=_calibration_chart(model) if model else None,
        ),
    )


@router.get("/population/cohorts", response_class=HTMLResponse)
def cohort_list(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """Every shipped cohort with its attrition, rule by rule."""
    try:
        _guarded(request, session, user, "population cohorts")
    except AccessDenied as error:
        return refused_page(request, error)
    view = population_view(request)
    try:
        cohorts = [cohort_summary(view, slug) for slug in view.cohort_files()]
    except NoLake:
        return no_lake_page(request, user)
    return templates.TemplateResponse(
        request,
        "population_cohorts.html",
        page_context(request, user, page_title="Cohorts", cohorts=cohorts, as_of=view.as_of),
    )


@router.get("/population/cohorts/{slug}", response_class=HTMLResponse)
def cohort_page(
    request: Request, slug: str, session: SessionDep, user: CurrentUser, by: str = "imd_quintile"
) -> Response:
    """One cohort: attrition, and its inequality breakdown by a dimension."""
    try:
        guard = _guarded(request, session, user, f"population cohort {slug}")
    except AccessDenied as error:
        return refused_page(request, error)
    view = population_view(request)
    if slug not in view.cohort_files():
        return not_found_page(request, "There is no such cohort.")
    if by not in DIMENSIONS:
        by = "imd_quintile"
    try:
        summary = cohort_summary(view, slug)
        groups = view.cohort_breakdown(slug, by)
        practices = view.cohort_breakdown(slug, "practice")
    except NoLake:
        return no_lake_page(request, user)
    return templates.TemplateResponse(
        request,
        "population_cohort.html",
        page_context(
            request,
            user,
            page_title=summary.name,
            cohort=summary,
            by=by,
            dimensions=DIMENSION_NAMES,
            groups=groups,
            labels=_labels(request, session),
            chart=rate_chart(groups, title=summary.name, by=by, labels=_labels(request, session)),
            attrition_chart=_attrition_chart(summary),
            practices=practices,
            may_worklist=guard.policy.allows(user.role, "population.worklist"),
            as_of=view.as_of,
        ),
    )


@router.get("/population/indicators/{key}", response_class=HTMLResponse)
def indicator_page(
    request: Request, key: str, session: SessionDep, user: CurrentUser, by: str = "area"
) -> Response:
    """One indicator broken down by a dimension, with intervals."""
    try:
        _guarded(request, session, user, f"population indicator {key}")
    except AccessDenied as error:
        return refused_page(request, error)
    view = population_view(request)
    indicator = INDICATORS_BY_KEY.get(key)
    if indicator is None:
        return not_found_page(request, "There is no such indicator.")
    if by not in DIMENSIONS:
        by = "area"
    try:
        groups = view.indicator_breakdown(key, by)
        overall = view.indicator_overall(key)
    except NoLake:
        return no_lake_page(request, user)
    return templates.TemplateResponse(
        request,
        "population_indicator.html",
        page_context(
            request,
            user,
            page_title=indicator.name,
            indicator=indicator,
            overall=overall,
            by=by,
            dimensions=DIMENSION_NAMES,
            groups=groups,
            labels=_labels(request, session),
            chart=rate_chart(groups, title=indicator.name, by=by, labels=_labels(request, session)),
            as_of=view.as_of,
        ),
    )


@router.get("/population/report", response_class=HTMLResponse)
def report_page(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """The needs assessment for the strategic commissioners, as a page."""
    try:
        _guarded(request, session, user, "needs assessment")
    except AccessDenied as error:
        return refused_page(request, error)
    try:
        needs = population_view(request).needs()
    except NoLake:
        return no_lake_page(request, user)
    labels = _labels(request, session)
    return HTMLResponse(
        render_report(needs, ics_name=_ics_name(request), pdf=False, user=user, labels=labels)
    )


@router.get("/population/report.pdf")
def report_pdf(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """The needs assessment as a PDF (rendered by WeasyPrint from the same page)."""
    try:
        _guarded(request, session, user, "needs assessment (PDF)")
    except AccessDenied as error:
        return refused_page(request, error)
    try:
        needs = population_view(request).needs()
    except NoLake:
        return no_lake_page(request, user)
    labels = _labels(request, session)
    pdf = html_to_pdf(render_report(needs, ics_name=_ics_name(request), pdf=True, labels=labels))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'inline; filename="needs-assessment.pdf"'},
    )


# --- pieces -------------------------------------------------------------------------------------


def not_found_page(request: Request, reason: str) -> Response:
    return templates.TemplateResponse(request, "refused.html", {"reason": reason}, status_code=404)


def _ics_name(request: Request) -> str | None:
    return getattr(request.app.state, "ics_name", None)


def cohort_summary(view: PopulationView, slug: str) -> CohortSummary:
    run = view.cohort(slug)
    return CohortSummary(
        slug,
        run.name,
        run.attrition[-1].remaining if run.attrition else 0,
        run.attrition[0].remaining if run.attrition else 0,
        run.attrition,
    )


def _attrition_chart(cohort: CohortSummary) -> Markup:
    return charts.bar_chart(
        [charts.Bar(step.rule, step.remaining) for step in cohort.attrition],
        title=f"{cohort.name}: people remaining after each rule",
        value_label="People",
        value_format=charts.ValueFormat.COUNT,
    )


def _segments_chart(needs: NeedsAssessment, labels: dict[str, str]) -> Markup:
    areas = sorted({s.area for s in needs.segments})
    counts = {(s.area, s.segment): s.people for s in needs.segments}
    return charts.stacked_bar_chart(
        [labels.get(a, a) for a in areas],
        list(BRIDGES_TO_HEALTH),
        [[float(counts.get((a, seg), 0)) for seg in BRIDGES_TO_HEALTH] for a in areas],
        title="Bridges to Health segments by Integrated Care Area",
        description="The share of each area's registered population in each of the eight "
        "Bridges to Health segments.",
    )


def _prevalence_chart(needs: NeedsAssessment) -> Markup:
    return charts.grouped_bar_chart(
        [p.name for p in needs.prevalence],
        ["Recorded", "Expected from England's age and sex rates"],
        [[p.rate, p.expected_rate] for p in needs.prevalence],
        title="Recorded and expected prevalence",
        value_label="Prevalence",
        value_format=charts.ValueFormat.SHARE,
    )


def _calibration_chart(model: risk.RiskModel) -> Markup:
    deciles = model.performance.deciles
    return charts.grouped_bar_chart(
        [f"Tenth {i}" for i in range(1, len(deciles) + 1)],
        ["Predicted", "Observed"],
        [[d.mean_predicted, d.observed_rate] for d in deciles],
        title="Calibration on held-out people: predicted and observed emergency admission",
        value_label="Share admitted in 12 months",
        value_format=charts.ValueFormat.SHARE,
    )


def render_report(
    needs: NeedsAssessment,
    *,
    ics_name: str | None,
    pdf: bool,
    user: Any = None,
    labels: dict[str, str] | None = None,
) -> str:
    """The needs assessment as HTML: the page, or (``pdf``) the printable document."""
    bands = sorted({b for side in needs.pyramid.values() for b in side}, key=_band_start)
    outline = charts.PyramidOutline(
        "Projected in 10 years (ageing only)",
        [needs.projected_pyramid.get("male", {}).get(b, 0.0) for b in bands],
        [needs.projected_pyramid.get("female", {}).get(b, 0.0) for b in bands],
    )
    pyramid = charts.population_pyramid(
        bands,
        [float(needs.pyramid.get("male", {}).get(b, 0)) for b in bands],
        [float(needs.pyramid.get("female", {}).get(b, 0)) for b in bands],
        title="Registered population by age and sex, now and in 10 years",
        outline=outline,
        show_title=pdf,
    )
    years = ["Now", *(f"In {y} years" for y in needs.projections[0].later)]
    projection_chart = charts.line_chart(
        years,
        [
            charts.Series(
                p.measure, [100.0, *(100.0 * v / p.now if p.now else 0.0 for v in p.later.values())]
            )
            for p in needs.projections
            if p.measure not in ("Registered population",)
        ],
        title="Demand projected from population ageing (now = 100)",
        value_label="Index (now = 100)",
        value_format=charts.ValueFormat.NUMBER,
        from_zero=False,
        show_title=pdf,
    )
    labels = labels or {}
    area_charts = {
        i.key: rate_chart(
            needs.indicators_by_area.get(i.key, []), title=i.name, by="area", labels=labels
        )
        for i in INDICATORS
        if needs.indicators_by_area.get(i.key)
    }
    context = {
        "needs": needs,
        "pdf": pdf,
        "ics_name": ics_name,
        "page_title": "Needs assessment",
        "user": user,
        "role_name": ROLE_NAMES.get(user.role, user.role) if user else None,
        "pyramid": pyramid,
        "prevalence_chart": _prevalence_chart(needs),
        "segments_chart": _segments_chart(needs, labels),
        "projection_chart": projection_chart,
        "labels": labels,
        "area_charts": area_charts,
        "indicators": INDICATORS,
        "segments": BRIDGES_TO_HEALTH,
    }
    return templates.get_template("population_report.html").render(context)


def _band_start(band: str) -> int:
    return int(band.rstrip("+").split("-")[0])
