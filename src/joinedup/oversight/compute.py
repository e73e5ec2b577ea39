"""Indicators computed from events, not typed in: for the system, each partner and each area.

Each measure named in the catalogue (:data:`MEASURES`) turns the lake's events into *units*:
rows of ``period`` (the first day of a month), ``partner``, ``area``, ``programme``, a
numerator contribution ``num`` and a denominator contribution ``den``. How the denominator
is counted is the measure's :class:`Denominator`: from the same rows (attendances), the
days of the month (an average daily count), the registered population (a rate per 1,000),
the beds available (occupancy), or none (a count). :func:`compute_indicators` sums the
units for the system, by partner and by area, month by month, and gives every indicator's
value as numerator / denominator x factor. Virtual-ward occupancy gives its bed-days as
``den`` rows of its own (each provider's virtual beds x the month's days).

Everything is an Ibis expression run on the lake's engine (DuckDB by default). Times are
compared as UTC dates. Midnight censuses (stranded patients, occupancy, delayed discharges)
count a stay on day d when it began on or before d and ended after it; a stay still open
counts to the window's end, a virtual-ward stay to the data's as-of date (``Context.as_of``).

Counts come from the lake, which leaves out people with a National Data Opt-out (about 5%):
rates are unaffected in expectation, but counts and occupancy read low by that share (see
docs/oversight.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Final

import ibis
import pyarrow as pa
from ibis import _
from ibis.expr.types import Table

from joinedup.oversight.catalogue import Indicator
from joinedup.population.measures import Lake, registered_population


class Denominator(StrEnum):
    """Where an indicator's denominator comes from."""

    ROWS = "rows"  # the units' own ``den``
    DAYS = "days"  # days in the month: an average daily count
    POPULATION = "population"  # the registered population (by area or practice)
    BEDS = "beds"  # beds available x days in the month
    NONE = "none"  # a count: no denominator


@dataclass(frozen=True)
class Context:
    """What measures need besides the lake: the months, the beds, the finance ledger, and
    the day the data is as of."""

    months: tuple[date, ...]  # first days of the months reported, oldest first
    beds: Mapping[str, int]  # partner ODS code -> general and acute beds
    finance: Table | None = None  # month, partner, programme, budget, actual
    #: Provider ODS code -> virtual beds (its virtual wards' capacity in the directory).
    virtual_beds: Mapping[str, int] = field(default_factory=dict)
    #: The data's as-of date (its last whole day): open virtual-ward stays count to it.
    as_of: date | None = None

    @property
    def first_day(self) -> date:
        return self.months[0]

    @property
    def end(self) -> date:
        """The day after the last month."""
        last = self.months[-1]
        return (last.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class Units:
    """A measure's contributions, and how its denominator is counted."""

    table: Table  # period, partner, area, programme, num, den
    denominator: Denominator


MeasureFn = Callable[[Lake, Context, Mapping[str, Any]], Units]

#: The measures the catalogue can name, filled in by :func:`measure` below.
MEASURES: dict[str, MeasureFn] = {}


def measure(name: str) -> Callable[[MeasureFn], MeasureFn]:
    """Register a measure under the name the catalogue uses."""

    def register(fn: MeasureFn) -> MeasureFn:
        MEASURES[name] = fn
        return fn

    return register


def months_ending(as_of: date, count: int) -> tuple[date, ...]:
    """The ``count`` whole months up to ``as_of``'s month (its month counts if ``as_of`` is
    its last day)."""
    last = as_of.replace(day=1)
    if (as_of + timedelta(days=1)).month == as_of.month:  # not the month's last day
        last = (last - timedelta(days=1)).replace(day=1)
    months = [last]
    while len(months) < count:
        months.append((months[-1] - timedelta(days=1)).replace(day=1))
    return tuple(reversed(months))


# --- building blocks ------------------------------------------------------------------------


def _areas(lake: Lake) -> Table:
    return lake.person.select("person_id", area=_.area)


def _with_area(lake: Lake, table: Table) -> Table:
    joined = table.left_join(_areas(lake), "person_id")
    return joined.drop("person_id_right") if "person_id_right" in joined.columns else joined


def _select(
    table: Table, *, period: Any, partner: Any, num: Any, den: Any, area: Any = None
) -> Table:
    return table.select(
        period=period.cast("date"),
        partner=partner.cast("string"),
        area=(table.area if area is None else area).cast("string"),
        programme=ibis.null().cast("string"),
        num=num.cast("float64"),
        den=den.cast("float64"),
    )


def _in_window(day: Any, ctx: Context) -> Any:
    return (day >= ctx.first_day) & (day < ctx.end)


def _month_table(ctx: Context) -> Table:
    """Each month: its first day (``period``) and its last (``month_end``)."""
    rows = [
        {
            "period": m,
            "month_end": (m.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1),
        }
        for m in ctx.months
    ]
    return ibis.memtable(pa.Table.from_pylist(rows))


def _day_table(ctx: Context) -> Table:
    """Every day of the months (``day``) with its month (``period``)."""
    days = []
    day = ctx.first_day
    while day < ctx.end:
        days.append({"day": day, "period": day.replace(day=1)})
        day += timedelta(days=1)
    return ibis.memtable(pa.Table.from_pylist(days))


def _days_in(month: date) -> int:
    return ((month.replace(day=28) + timedelta(days=4)).replace(day=1) - month).days


def _midnight_census(
    lake: Lake,
    ctx: Context,
    stays: Table,
    *,
    start: str = "admitted",
    stop: str = "discharged",
    until: date | None = None,
) -> Table:
    """One row per stay per midnight it spans in the window: the stay's columns and ``day``
    (``start`` <= day < ``stop``: the midnight ending ``day``). A stay still open counts to
    the window's end or, given ``until``, to the midnight ending that day, after which no
    stay counts."""
    days = _day_table(ctx)
    start_day = stays[start].date()
    stop_day = stays[stop].date()
    if until is not None:
        last = ibis.literal(until + timedelta(days=1))
        stop_day = ibis.ifelse(stop_day.isnull() | (stop_day > last), last, stop_day)
    with_dates = stays.mutate(start_day=start_day, stop_day=stop_day)
    joined = with_dates.join(
        days,
        [
            with_dates.start_day <= days.day,
            with_dates.stop_day.isnull() | (with_dates.stop_day > days.day),
        ],
    )
    return joined


def _inpatient_stays(lake: Lake) -> Table:
    """Stays that span at least one midnight (day cases leave the same day)."""
    a = lake.admission
    return a.filter(
        a.admitted.notnull(), a.discharged.isnull() | (a.discharged.date() > a.admitted.date())
    )


# --- the measures ---------------------------------------------------------------------------


def _events_by_month(
    lake: Lake,
    ctx: Context,
    events: Table,
    when: str,
    *,
    num: Callable[[Table], Any] | None = None,
    denominator: Denominator,
) -> Units:
    """Events counted in the month of their ``when`` (a timestamp): ``num`` says which count
    towards the numerator (all of them, when None); each is one of the denominator's rows."""
    e = _with_area(lake, events.mutate(day=events[when].date()))
    e = e.filter(_in_window(e.day, ctx))
    return Units(
        _select(
            e,
            period=e.day.truncate("M"),
            partner=e.partner,
            num=ibis.literal(1) if num is None else num(e),
            den=ibis.literal(1 if denominator is Denominator.ROWS else 0),
        ),
        denominator,
    )


@measure("ae_four_hour")
def ae_four_hour(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """Attendances (of the given department types) and those within 4 hours."""
    types = [str(t) for t in p.get("department_types", ["1", "2", "3"])]
    a = lake.ae_attendance
    a = a.filter(a.department_type.isin(types), a.minutes.notnull())
    return _events_by_month(
        lake,
        ctx,
        a,
        "arrival",
        num=lambda e: e.within_4_hours.cast("int8"),
        denominator=Denominator.ROWS,
    )


@measure("ucr_two_hour")
def ucr_two_hour(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """Two-hour referrals routed to an urgent community response team, by month of receipt
    and the team's provider, and those with first contact within 2 hours of receipt."""
    r = lake.referral
    r = r.filter(
        r.urgency == "two_hour",
        r.service_type == str(p.get("service_type", "urgent_community_response")),
        r.received.notnull(),
    )
    r = r.mutate(partner=r.provider)
    return _events_by_month(
        lake,
        ctx,
        r,
        "received",
        num=lambda e: (
            e.first_contact.notnull() & (e.first_contact <= e.received + ibis.interval(hours=2))
        ).cast("int8"),
        denominator=Denominator.ROWS,
    )


@measure("ae_twelve_hours")
def ae_twelve_hours(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """Attendances, and those 12 hours or more from arrival to leaving."""
    a = lake.ae_attendance.filter(_.minutes.notnull())
    return _events_by_month(
        lake,
        ctx,
        a,
        "arrival",
        num=lambda e: (e.minutes >= 720).cast("int8"),
        denominator=Denominator.ROWS,
    )


def _waiting_at_month_ends(lake: Lake, ctx: Context, table: Table, start: str, stop: str) -> Table:
    """Each item waiting at each month's end (started on or before it, not stopped by it),
    with ``waited`` (days from the start to the month's end)."""
    months = _month_table(ctx)
    joined = table.join(
        months,
        [table[start] <= months.month_end, table[stop].isnull() | (table[stop] > months.month_end)],
    )
    joined = joined.mutate(waited=joined.month_end.epoch_days() - joined[start].epoch_days())
    return _with_area(lake, joined)


@measure("rtt_within")
def rtt_within(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """Incomplete RTT pathways at each month's end, and those waiting under N weeks."""
    weeks = int(p.get("weeks", 18))
    w = _waiting_at_month_ends(lake, ctx, lake.rtt_pathway, "clock_start", "clock_stop")
    return Units(
        _select(
            w,
            period=w.period,
            partner=w.partner,
            num=(w.waited < 7 * weeks).cast("int8"),
            den=ibis.literal(1),
        ),
        Denominator.ROWS,
    )


@measure("rtt_over")
def rtt_over(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """Incomplete RTT pathways waiting N weeks or more at each month's end (a count)."""
    weeks = int(p.get("weeks", 52))
    w = _waiting_at_month_ends(lake, ctx, lake.rtt_pathway, "clock_start", "clock_stop")
    w = w.filter(w.waited >= 7 * weeks)
    return Units(
        _select(w, period=w.period, partner=w.partner, num=ibis.literal(1), den=ibis.literal(0)),
        Denominator.NONE,
    )


@measure("diagnostics_over")
def diagnostics_over(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """People on the diagnostic waiting list at each month's end, and those waiting N weeks
    or more (DM01 counts completed weeks: 6 weeks is 42 days or more)."""
    weeks = int(p.get("weeks", 6))
    w = _waiting_at_month_ends(lake, ctx, lake.diagnostic_wait, "requested", "performed")
    return Units(
        _select(
            w,
            period=w.period,
            partner=w.partner,
            num=(w.waited >= 7 * weeks).cast("int8"),
            den=ibis.literal(1),
        ),
        Denominator.ROWS,
    )


def _cancer_standard(lake: Lake, ctx: Context, *, event: str, since: str, within: int) -> Units:
    """Cancer pathways whose ``event`` (a date column) falls in the month, and those whose
    ``event`` came within ``within`` days of ``since``."""
    c = lake.cancer_pathway.filter(
        lake.cancer_pathway[event].notnull(), lake.cancer_pathway[since].notnull()
    )
    c = _with_area(lake, c.filter(_in_window(c[event], ctx)))
    days = c[event].epoch_days() - c[since].epoch_days()
    return Units(
        _select(
            c,
            period=c[event].truncate("M"),
            partner=c.partner,
            num=(days <= within).cast("int8"),
            den=ibis.literal(1),
        ),
        Denominator.ROWS,
    )


@measure("cancer_faster_diagnosis")
def cancer_faster_diagnosis(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """Urgent referrals told in the month, and those told within 28 days of referral."""
    return _cancer_standard(lake, ctx, event="faster_diagnosis", since="referral", within=28)


@measure("cancer_31_day")
def cancer_31_day(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """First treatments in the month, and those within 31 days of the decision to treat."""
    return _cancer_standard(
        lake, ctx, event="first_treatment", since="decision_to_treat", within=31
    )


@measure("cancer_62_day")
def cancer_62_day(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """First treatments in the month after an urgent referral, and those within 62 days."""
    return _cancer_standard(lake, ctx, event="first_treatment", since="referral", within=62)


def _census_units(lake: Lake, census: Table, denominator: Denominator) -> Units:
    """One unit per stay per midnight counted (an average daily count, or occupancy)."""
    census = _with_area(lake, census)
    return Units(
        _select(
            census,
            period=census.period,
            partner=census.partner,
            num=ibis.literal(1),
            den=ibis.literal(0),
        ),
        denominator,
    )


@measure("inpatients_staying")
def inpatients_staying(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """Inpatients at each midnight who had been in hospital N days or more."""
    days = int(p.get("days", 7))
    census = _midnight_census(lake, ctx, _inpatient_stays(lake))
    census = census.filter(census.day.epoch_days() - census.start_day.epoch_days() >= days)
    return _census_units(lake, census, Denominator.DAYS)


@measure("bed_occupancy")
def bed_occupancy(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """Occupied beds at each midnight at partners with general and acute beds."""
    stays = _inpatient_stays(lake).filter(_.partner.isin(list(ctx.beds) or [""]))
    return _census_units(lake, _midnight_census(lake, ctx, stays), Denominator.BEDS)


@measure("delayed_discharges")
def delayed_discharges(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """Inpatients at each midnight past their discharge ready date."""
    stays = _inpatient_stays(lake).filter(_.discharge_ready.notnull())
    census = _midnight_census(lake, ctx, stays)
    census = census.filter(census.discharge_ready.date() <= census.day)
    return _census_units(lake, census, Denominator.DAYS)


def _virtual_ward_stays(lake: Lake) -> Table:
    """Virtual-ward stays, each under its ward's provider (``partner``)."""
    s = lake.virtual_ward_stay.filter(_.start.notnull())
    return s.mutate(partner=s.provider.fill_null(s.partner))


@measure("virtual_ward_occupancy")
def virtual_ward_occupancy(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """Patients on a virtual ward at each midnight, by the ward's provider (open stays to the
    data's as-of date), over each provider's virtual beds x the month's days.

    Bed-days count from the month of the lake's first stay: before it the wards' stays are
    not in the record, so those months have no value rather than 0%."""
    stays = _virtual_ward_stays(lake)
    census = _midnight_census(lake, ctx, stays, start="start", stop="end", until=ctx.as_of)
    occupied = _select(
        census,
        period=census.period,
        partner=census.partner,
        num=ibis.literal(1),
        den=ibis.literal(0),
        area=ibis.null(),
    )
    rows = [
        {
            "period": month,
            "partner": provider,
            "area": None,
            "programme": None,
            "num": 0.0,
            "den": float(beds * _days_in(month)),
        }
        for month in ctx.months
        for provider, beds in sorted(ctx.virtual_beds.items())
    ]
    bed_days = ibis.memtable(pa.Table.from_pylist(rows, schema=_UNITS_SCHEMA))
    first = stays.start.min().date().truncate("M").as_scalar()
    bed_days = bed_days.filter(bed_days.period >= first)
    return Units(occupied.union(bed_days), Denominator.ROWS)


@measure("virtual_ward_step_up_home")
def virtual_ward_step_up_home(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """Step-up virtual-ward stays (instead of an admission) discharged in the month, by the
    ward's provider, and those ending with the person recovered at home."""
    stays = _virtual_ward_stays(lake)
    stays = stays.filter(stays.kind == "step-up", stays.end.notnull())
    return _events_by_month(
        lake,
        ctx,
        stays,
        "end",
        num=lambda e: (e.outcome == "recovered-at-home").fill_null(False).cast("int8"),
        denominator=Denominator.ROWS,
    )


@measure("emergency_admissions")
def emergency_admissions(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """Emergency admissions in the month (per the registered population)."""
    admissions = lake.admission.filter(_.emergency)
    return _events_by_month(lake, ctx, admissions, "admitted", denominator=Denominator.POPULATION)


@measure("readmissions")
def readmissions(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """Inpatient discharges alive in the month, and those followed by an emergency admission
    within N days."""
    days = int(p.get("days", 30))
    a = lake.admission
    discharges = a.filter(
        a.discharged.notnull(),
        a.discharge_destination.isnull() | (a.discharge_destination != "79"),
    ).mutate(out=a.discharged, out_day=a.discharged.date())
    discharges = discharges.filter(_in_window(discharges.out_day, ctx))
    again = a.filter(a.emergency).select(person=a.person_id, back=a.admitted)
    joined = discharges.join(
        again,
        [
            discharges.person_id == again.person,
            again.back > discharges.out,
            again.back.date().epoch_days() - discharges.out_day.epoch_days() <= days,
        ],
    )
    readmitted = joined.select("person_id", "out").distinct().mutate(readmitted=1)
    marked = discharges.left_join(readmitted, ["person_id", "out"])
    marked = marked.mutate(readmitted=marked.readmitted.fill_null(0))
    marked = marked.drop(*[c for c in marked.columns if c.endswith("_right")])
    marked = _with_area(lake, marked)
    return Units(
        _select(
            marked,
            period=marked.out_day.truncate("M"),
            partner=marked.partner,
            num=marked.readmitted,
            den=ibis.literal(1),
        ),
        Denominator.ROWS,
    )


@measure("gp_appointments")
def gp_appointments(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """GP practice appointments in the month (per the registered population)."""
    appointments = lake.encounter.filter(_.feed == "gp-fhir", _.start.notnull())
    return _events_by_month(lake, ctx, appointments, "start", denominator=Denominator.POPULATION)


#: The columns of a measure's units.
_UNITS_SCHEMA: Final = pa.schema(
    [
        ("period", pa.date32()),
        ("partner", pa.string()),
        ("area", pa.string()),
        ("programme", pa.string()),
        ("num", pa.float64()),
        ("den", pa.float64()),
    ]
)


@measure("finance_spend")
def finance_spend(lake: Lake, ctx: Context, p: Mapping[str, Any]) -> Units:
    """Actual spend against budget by partner and programme (the ICB's ledger)."""
    if ctx.finance is None:
        return Units(ibis.memtable(_UNITS_SCHEMA.empty_table()), Denominator.ROWS)
    f = ctx.finance
    f = f.filter(_in_window(f.month, ctx))
    return Units(
        f.select(
            period=f.month.cast("date"),
            partner=f.partner.cast("string"),
            area=ibis.null().cast("string"),
            programme=f.programme.cast("string"),
            num=f.actual.cast("float64"),
            den=f.budget.cast("float64"),
        ),
        Denominator.ROWS,
    )


# --- putting them together ------------------------------------------------------------------

#: The columns of :func:`compute_indicators`' result.
VALUE_SCHEMA: Final = pa.schema(
    [
        ("indicator", pa.string()),
        ("level", pa.string()),  # system | partner | area | programme
        ("group", pa.string()),  # the partner's ODS code, the area's code... ("ICS" for the system)
        ("period", pa.date32()),
        ("numerator", pa.float64()),
        ("denominator", pa.float64()),
        ("value", pa.float64()),
    ]
)

SYSTEM: Final = "ICS"


def compute_indicators(lake: Lake, indicators: Sequence[Indicator], ctx: Context) -> pa.Table:
    """Every available indicator for every month of ``ctx``: for the system and each of the
    indicator's dimensions (one row per indicator, level, group and month)."""
    populations = _populations(lake)
    days_in = {m: _days_in(m) for m in ctx.months}
    rows: list[dict[str, Any]] = []
    for indicator in indicators:
        if indicator.measure is None:
            continue
        units = MEASURES[indicator.measure](lake, ctx, indicator.parameters)
        # One query per indicator, by every dimension and month; each level's sums are rolled
        # up from it here (sums add up), rather than asking the engine once per level.
        columns = [
            {"partner": "partner", "area": "area", "programme": "programme"}.get(level)
            for level in indicator.dimensions
        ]
        dims = sorted({c for c in columns if c is not None})
        t = units.table
        cells = (
            t.group_by(*dims, "period")
            .aggregate(numerator=t.num.sum(), denominator=t.den.sum())
            .to_pyarrow()
            .to_pylist()
        )
        for level, column in (("system", None), *zip(indicator.dimensions, columns, strict=True)):
            found: dict[tuple[str, date], dict[str, float]] = {}
            for cell in cells:
                group = SYSTEM if column is None else cell[column]
                if group is None:
                    continue
                sums = found.setdefault(
                    (group, cell["period"]), {"numerator": 0.0, "denominator": 0.0}
                )
                sums["numerator"] += float(cell["numerator"] or 0.0)
                sums["denominator"] += float(cell["denominator"] or 0.0)
            groups = sorted({g for g, _ in found}) or ([SYSTEM] if column is None else [])
            for group in groups:
                for month in ctx.months:
                    r = found.get((group, month), {"numerator": 0.0, "denominator": 0.0})
                    numerator = float(r["numerator"] or 0.0)
                    denominator = _denominator(
                        units.denominator,
                        float(r["denominator"] or 0.0),
                        level,
                        group,
                        month,
                        days_in,
                        populations,
                        ctx,
                    )
                    value = _value(indicator, numerator, denominator)
                    rows.append(
                        {
                            "indicator": indicator.key,
                            "level": level,
                            "group": group,
                            "period": month,
                            "numerator": numerator,
                            "denominator": denominator,
                            "value": value,
                        }
                    )
    return pa.Table.from_pylist(rows, schema=VALUE_SCHEMA)


def _value(indicator: Indicator, numerator: float, denominator: float | None) -> float | None:
    if denominator is None:
        return numerator * indicator.factor
    if denominator == 0:
        return None
    return numerator / denominator * indicator.factor


def _denominator(
    kind: Denominator,
    rows: float,
    level: str,
    group: str,
    month: date,
    days_in: Mapping[date, int],
    populations: Mapping[tuple[str, str], int],
    ctx: Context,
) -> float | None:
    if kind is Denominator.ROWS:
        return rows
    if kind is Denominator.NONE:
        return None
    if kind is Denominator.DAYS:
        return float(days_in[month])
    if kind is Denominator.BEDS:
        beds = sum(ctx.beds.values()) if level == "system" else ctx.beds.get(group, 0)
        return float(beds * days_in[month])
    return float(populations.get((level, group), 0))  # POPULATION


def _populations(lake: Lake) -> dict[tuple[str, str], int]:
    """The registered population of the system, each area and each practice."""
    people = registered_population(lake)
    out: dict[tuple[str, str], int] = {("system", SYSTEM): int(people.count().to_pyarrow().as_py())}
    for level, column in (("area", "area"), ("partner", "practice")):
        for r in people.group_by(column).aggregate(n=_.count()).to_pyarrow().to_pylist():
            if r[column] is not None:
                out[(level, str(r[column]))] = int(r["n"])
    return out
