"""The needs assessment: what the population needs, now and as it ages, and where the gaps are.

For the strategic commissioners (the seeds: "assess needs of the population"). Everything is
computed from the lake on one engine; the page, the PDF and the JSON all render the one
:class:`NeedsAssessment` that :func:`assess_needs` returns.

* **Recorded prevalence vs expected.** Each condition's register (people with it recorded,
  among the living registered population of the register's age) against what England's
  age- and sex-specific rates would give this population: the indirectly standardised
  ratio, observed / expected, with a Poisson interval on the observed count (Byar's; exact below 10) (as OHID's
  Fingertips compares areas). A ratio below 1 with its interval below 1 is fewer people on
  the register than England's rates predict: under-diagnosis, or a healthier population.
* **Segments by area**: the Bridges to Health segments of each Integrated Care Area.
* **Demand projected from population ageing**: the registered population aged forward a
  year at a time with the ICS's own age- and sex-specific death rates (births as this
  year's; no migration), and today's age- and sex-specific rates of use applied to it.
* **Inequality gaps**: each indicator's age-standardised rate in the most deprived fifth of
  small areas against the least deprived (the gap and the ratio).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import ibis
from ibis import _

from joinedup.population import measures
from joinedup.population.indicators import INDICATORS
from joinedup.population.inequalities import GroupRate, breakdown
from joinedup.population.lake import age_band
from joinedup.population.measures import CODE_LISTS, Lake
from joinedup.population.statistics import poisson_interval, wilson_interval

#: England's recorded prevalence by condition, sex and age band (see the file's README).
REFERENCE_PREVALENCE: Final = Path(__file__).parent / "reference" / "england-prevalence.csv"


@dataclass(frozen=True)
class PrevalenceCondition:
    """A condition register: its code list, its name, and the age it counts from (QOF)."""

    key: str
    name: str
    min_age: int = 0


#: The registers the needs assessment reports (QOF's age limits where QOF sets one).
PREVALENCE_CONDITIONS: Final = (
    PrevalenceCondition("hypertension", "Hypertension"),
    PrevalenceCondition("diabetes", "Diabetes (17+)", 17),
    PrevalenceCondition("asthma", "Asthma"),
    PrevalenceCondition("copd", "COPD"),
    PrevalenceCondition("chd", "Coronary heart disease"),
    PrevalenceCondition("atrial_fibrillation", "Atrial fibrillation"),
    PrevalenceCondition("heart_failure", "Heart failure"),
    PrevalenceCondition("stroke_tia", "Stroke and TIA"),
    PrevalenceCondition("ckd_3_5", "Chronic kidney disease 3-5 (18+)", 18),
    PrevalenceCondition("depression", "Depression (18+)", 18),
    PrevalenceCondition("dementia", "Dementia"),
    PrevalenceCondition("severe_mental_illness", "Severe mental illness"),
    PrevalenceCondition("cancer", "Cancer"),
    PrevalenceCondition("osteoporosis", "Osteoporosis"),
    PrevalenceCondition("hypothyroidism", "Hypothyroidism"),
)

#: Years ahead the demand projection reports.
PROJECTION_YEARS: Final = (5, 10)
_MAX_AGE: Final = 110


def read_reference(path: Path) -> dict[tuple[str, str, str], float]:
    """Reference prevalence: (condition, sex, age band) -> rate (a CSV with columns
    ``condition, sex, age_band, prevalence``)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            (r["condition"], r["sex"], r["age_band"]): float(r["prevalence"])
            for r in csv.DictReader(handle)
        }


@dataclass(frozen=True)
class Prevalence:
    """One register: recorded prevalence (a share) and the ratio to what is expected."""

    key: str
    name: str
    recorded: int
    denominator: int
    rate: float
    ci_low: float
    ci_high: float
    expected: float  # people England's rates would give this population
    expected_rate: float
    ratio: float | None  # observed / expected
    ratio_low: float | None
    ratio_high: float | None


@dataclass(frozen=True)
class SegmentCount:
    """How many people of an area are in a Bridges to Health segment."""

    area: str
    segment: str
    people: int


@dataclass(frozen=True)
class Projection:
    """A demand (people or events a year) now and in :data:`PROJECTION_YEARS`."""

    measure: str
    now: float
    later: dict[int, float]  # years ahead -> projected

    def change(self, years: int) -> float:
        """The projected change as a share of now (0.1 = 10% more)."""
        return self.later[years] / self.now - 1.0 if self.now else 0.0


@dataclass(frozen=True)
class InequalityGap:
    """An indicator's standardised rate in the most and least deprived fifths (IMD)."""

    indicator: str
    name: str
    most_deprived: GroupRate | None
    least_deprived: GroupRate | None

    @property
    def gap(self) -> float | None:
        """Most deprived minus least deprived (standardised; a share)."""
        a, b = self._rates()
        return None if a is None or b is None else a - b

    @property
    def ratio(self) -> float | None:
        """Most deprived over least deprived (standardised)."""
        a, b = self._rates()
        return None if a is None or b is None or b == 0 else a / b

    def _rates(self) -> tuple[float | None, float | None]:
        def rate(g: GroupRate | None) -> float | None:
            return None if g is None else g.standardised_rate

        return rate(self.most_deprived), rate(self.least_deprived)


@dataclass(frozen=True)
class NeedsAssessment:
    """The whole assessment, ready for the page, the PDF and JSON."""

    as_of: date
    population: int
    aged_65_and_over: int
    by_area: dict[str, int]
    pyramid: dict[str, dict[str, int]]  # sex -> age band -> people
    projected_pyramid: dict[str, dict[str, float]]  # sex -> age band, furthest year ahead
    prevalence: list[Prevalence]
    segments: list[SegmentCount]
    projections: list[Projection]
    gaps: list[InequalityGap]
    indicators_by_area: dict[str, list[GroupRate]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "as_of": self.as_of.isoformat(),
            "population": self.population,
            "aged_65_and_over": self.aged_65_and_over,
            "by_area": self.by_area,
            "pyramid": self.pyramid,
            "projected_pyramid": self.projected_pyramid,
            "prevalence": [asdict(p) for p in self.prevalence],
            "segments": [asdict(s) for s in self.segments],
            "projections": [
                {"measure": p.measure, "now": p.now, "later": p.later} for p in self.projections
            ],
            "gaps": [
                {
                    "indicator": g.indicator,
                    "name": g.name,
                    "most_deprived": g.most_deprived.to_dict() if g.most_deprived else None,
                    "least_deprived": g.least_deprived.to_dict() if g.least_deprived else None,
                    "gap": g.gap,
                    "ratio": g.ratio,
                }
                for g in self.gaps
            ],
            "indicators_by_area": {
                k: [g.to_dict() for g in v] for k, v in self.indicators_by_area.items()
            },
        }


def assess_needs(
    lake: Lake, as_of: date, *, reference: Path = REFERENCE_PREVALENCE
) -> NeedsAssessment:
    """The needs assessment of the lake's registered population on ``as_of``."""
    population = measures.registered_population(lake)
    by_age = _counts(population.group_by("sex", "age").aggregate(n=_.count()), ("sex", "age"))
    pyramid: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (sex, age), n in by_age.items():
        if sex in ("female", "male") and age is not None:
            pyramid[sex][age_band(int(age))] += n
    total = sum(by_age.values())
    areas = _counts(population.group_by("area").aggregate(n=_.count()), ("area",))
    projected, projections = _project(lake, population, by_age, as_of)
    return NeedsAssessment(
        as_of=as_of,
        population=total,
        aged_65_and_over=sum(
            n for (_sex, age), n in by_age.items() if age is not None and age >= 65
        ),
        by_area={str(k[0]): v for k, v in sorted(areas.items(), key=lambda kv: str(kv[0]))},
        pyramid={sex: dict(bands) for sex, bands in pyramid.items()},
        projected_pyramid=projected,
        prevalence=_prevalence(lake, population, by_age, read_reference(reference)),
        segments=_segments(lake, population, as_of),
        projections=projections,
        gaps=_gaps(lake, as_of),
        indicators_by_area={
            i.key: breakdown(*i.people(lake, as_of), lake.person, "area") for i in INDICATORS
        },
    )


def _counts(table: Any, keys: tuple[str, ...]) -> dict[tuple[Any, ...], int]:
    return {tuple(r[k] for k in keys): int(r["n"]) for r in table.to_pyarrow().to_pylist()}


def _prevalence(
    lake: Lake,
    population: Any,
    by_age: Mapping[tuple[Any, Any], int],
    reference: Mapping[tuple[str, str, str], float],
) -> list[Prevalence]:
    mapping = ibis.memtable(
        [
            {"code": code, "register": c.key, "min_age": c.min_age}
            for c in PREVALENCE_CONDITIONS
            for code in CODE_LISTS[c.key]
        ]
    )
    coded = lake.condition.join(mapping, "code").select("person_id", "register", "min_age")
    people = population.select("person_id", "sex", "age")
    on_register = (
        coded.join(people, "person_id")
        .filter(_.age >= _.min_age)
        .select("person_id", "register")
        .distinct()
        .group_by("register")
        .aggregate(n=_.count())
    )
    recorded = {k[0]: n for k, n in _counts(on_register, ("register",)).items()}
    result = []
    for condition in PREVALENCE_CONDITIONS:
        denominator = 0
        expected = 0.0
        for (sex, age), n in by_age.items():
            if age is None or age < condition.min_age:
                continue
            denominator += n
            expected += n * reference.get((condition.key, sex, age_band(int(age))), 0.0)
        if denominator == 0:
            continue
        k = recorded.get(condition.key, 0)
        low, high = wilson_interval(k, denominator)
        ratio = ratio_low = ratio_high = None
        if expected > 0:
            count_low, count_high = poisson_interval(k)
            ratio, ratio_low, ratio_high = k / expected, count_low / expected, count_high / expected
        result.append(
            Prevalence(
                condition.key,
                condition.name,
                k,
                denominator,
                k / denominator,
                low,
                high,
                expected,
                expected / denominator,
                ratio,
                ratio_low,
                ratio_high,
            )
        )
    return result


def _segments(lake: Lake, population: Any, as_of: date) -> list[SegmentCount]:
    segments = measures.bridges_to_health(lake, as_of).join(
        population.select("person_id", "area"), "person_id"
    )
    counts = _counts(
        segments.group_by("area", "segment").aggregate(n=_.count()), ("area", "segment")
    )
    order = {name: i for i, name in enumerate(measures.BRIDGES_TO_HEALTH)}
    return sorted(
        (SegmentCount(str(area), str(segment), n) for (area, segment), n in counts.items()),
        key=lambda s: (s.area, order.get(s.segment, 99)),
    )


def _gaps(lake: Lake, as_of: date) -> list[InequalityGap]:
    gaps = []
    for indicator in INDICATORS:
        groups = {
            g.group: g
            for g in breakdown(*indicator.people(lake, as_of), lake.person, "imd_quintile")
        }
        gaps.append(InequalityGap(indicator.key, indicator.name, groups.get(1), groups.get(5)))
    return gaps


def _project(
    lake: Lake, population: Any, by_age: Mapping[tuple[Any, Any], int], as_of: date
) -> tuple[dict[str, dict[str, float]], list[Projection]]:
    """The registered population aged forward, and demand on it (see the module's notes)."""
    since = as_of - timedelta(days=365)
    # The ICS's own death rates by sex and age band: deaths in the last year over the people
    # alive at its start (today's population plus those who died).
    deaths = (
        lake.death.filter(_.month > since.replace(day=1), _.month <= as_of)
        .join(lake.person.select("person_id", "sex"), "person_id")
        .group_by("sex", "age")
        .aggregate(n=_.count())
    )
    died: dict[tuple[str, str], int] = defaultdict(int)
    for (sex, age), n in _counts(deaths, ("sex", "age")).items():
        if age is not None:
            died[(sex, age_band(int(age)))] += n
    alive: dict[tuple[str, str], int] = defaultdict(int)
    for (sex, age), n in by_age.items():
        if age is not None:
            alive[(sex, age_band(int(age)))] += n
    mortality = {key: died[key] / (alive[key] + died[key]) for key in alive if alive[key]}

    # Single years of age, aged one year at a time; births as this year's (age 0 stays).
    current = {
        (sex, int(age)): float(n) for (sex, age), n in by_age.items() if age is not None and sex
    }
    ahead: dict[int, dict[tuple[str, str], float]] = {}
    state = dict(current)
    for year in range(1, max(PROJECTION_YEARS) + 1):
        nxt: dict[tuple[str, int], float] = defaultdict(float)
        for (sex, age), alive_now in state.items():
            survive = 1.0 - mortality.get((sex, age_band(age)), 0.0)
            nxt[(sex, min(age + 1, _MAX_AGE))] += alive_now * survive
        for (sex, age), born in current.items():
            if age == 0:
                nxt[(sex, 0)] += born
        state = dict(nxt)
        if year in PROJECTION_YEARS:
            banded: dict[tuple[str, str], float] = defaultdict(float)
            for (sex, age), alive_then in state.items():
                banded[(sex, age_band(age))] += alive_then
            ahead[year] = dict(banded)

    rates = _use_by_band(lake, population, as_of, alive)
    projections = [
        Projection(
            "Registered population",
            float(sum(alive.values())),
            {y: sum(ahead[y].values()) for y in PROJECTION_YEARS},
        ),
        Projection(
            "Aged 65 and over",
            float(sum(n for (s, b), n in alive.items() if _band_start(b) >= 65)),
            {
                y: sum(n for (s, b), n in ahead[y].items() if _band_start(b) >= 65)
                for y in PROJECTION_YEARS
            },
        ),
    ]
    for measure, per_band in rates.items():
        now = sum(per_band.get(key, 0.0) * n for key, n in alive.items())
        later = {
            y: sum(per_band.get(key, 0.0) * n for key, n in ahead[y].items())
            for y in PROJECTION_YEARS
        }
        projections.append(Projection(measure, now, later))
    furthest = ahead[max(PROJECTION_YEARS)]
    projected_pyramid: dict[str, dict[str, float]] = defaultdict(dict)
    for (sex, band), projected in furthest.items():
        if sex in ("female", "male"):
            projected_pyramid[sex][band] = round(projected, 1)
    return dict(projected_pyramid), projections


def _band_start(band: str) -> int:
    return int(band.rstrip("+").split("-")[0])


def _use_by_band(
    lake: Lake, population: Any, as_of: date, alive: Mapping[tuple[str, str], int]
) -> dict[str, dict[tuple[str, str], float]]:
    """Today's rates of use per person by (sex, age band): events a year, or a share."""
    since = as_of - timedelta(days=365)
    people = population.select("person_id", "sex", "age_band")

    def per_band(table: Any) -> dict[tuple[str, str], float]:
        counted = table.join(people, "person_id").group_by("sex", "age_band").aggregate(n=_.count())
        return {
            (sex, band): n / alive[(sex, band)]
            for (sex, band), n in _counts(counted, ("sex", "age_band")).items()
            if alive.get((sex, band))
        }

    admissions = lake.admission.filter(
        _.emergency, _.admitted.date() > since, _.admitted.date() <= as_of
    ).select("person_id")
    attendances = lake.ae_attendance.filter(
        _.arrival.date() > since, _.arrival.date() <= as_of
    ).select("person_id")
    gp = lake.encounter.filter(
        _.feed == "gp-fhir", _.start.date() > since, _.start.date() <= as_of
    ).select("person_id")
    multimorbid = measures.multimorbidity(lake).filter(_.conditions >= 2).select("person_id")
    frail = measures.efi(lake).filter(_.category.isin(["moderate", "severe"])).select("person_id")
    return {
        "Emergency admissions a year": per_band(admissions),
        "A&E attendances a year": per_band(attendances),
        "GP appointments a year": per_band(gp),
        "People with two or more long-term conditions": per_band(multimorbid),
        "People with moderate or severe frailty": per_band(frail),
    }
