"""Rates broken down by a dimension, with 95% confidence intervals, small numbers suppressed.

A rate is the share of a group's people (the denominator: a cohort's entrants, or an
indicator's population) who have something (the numerator: still in the cohort at the end,
or flagged by the indicator). For "AF, CHA2DS2-VASc >= 2, no anticoagulant": of the people
with AF in IMD quintile 1, how many are not anticoagulated.

* Crude rates carry a Wilson score interval, as OHID's Fingertips uses for proportions.
* When groups are compared whose ages differ (areas, PCNs, practices, deprivation,
  ethnicity: :data:`STANDARDISED`), each group also gets a directly age-standardised rate
  (European Standard Population 2013, restricted to the ages the denominator covers) with
  Dobson's interval, so an older area does not look sicker only for being older.
* Groups with fewer than five people in the numerator are suppressed (count and rates
  withheld), as for anything shared beyond the team; a standardised rate needs ten events
  (Fingertips does not publish a DSR on fewer).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

from ibis import _
from ibis.expr.types import Table

from joinedup.population.statistics import (
    EUROPEAN_STANDARD_POPULATION_2013,
    MIN_DSR_EVENTS,
    directly_standardised_rate,
    wilson_interval,
)

#: The person columns a rate can be broken down by.
DIMENSIONS: Final = (
    "imd_quintile",
    "core20",
    "age_band",
    "sex",
    "ethnicity",
    "area",
    "pcn",
    "practice",
)

#: Dimensions whose groups differ in age, so their rates are also age-standardised.
STANDARDISED: Final = frozenset({"imd_quintile", "core20", "ethnicity", "area", "pcn", "practice"})

#: Fewer than this many people in a group's numerator: suppressed when shared.
SUPPRESS_BELOW: Final = 5


@dataclass(frozen=True)
class GroupRate:
    """One group's rate (a share, 0 to 1). ``numerator``, ``rate`` and the intervals are
    None when suppressed; the standardised rate is None when not asked for, or on fewer
    than ten events (:data:`~joinedup.population.statistics.MIN_DSR_EVENTS`)."""

    group: Any
    numerator: int | None
    denominator: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    suppressed: bool
    standardised_rate: float | None = None
    standardised_low: float | None = None
    standardised_high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def breakdown(
    denominator: Table,
    numerator: Table,
    person: Table,
    by: str,
    *,
    standardise: bool | None = None,
) -> list[GroupRate]:
    """Rates of ``numerator`` among ``denominator`` (both ``person_id`` tables; the numerator's
    people outside the denominator are ignored) by the person column ``by``.

    ``standardise`` defaults to whether ``by`` is in :data:`STANDARDISED`.
    """
    if by not in DIMENSIONS:
        raise ValueError(f"break down by one of {', '.join(DIMENSIONS)}")
    if standardise is None:
        standardise = by in STANDARDISED
    people = person.select("person_id", "age_band", group=person[by])
    base = denominator.select("person_id").distinct().join(people, "person_id")
    flagged = numerator.select("person_id").distinct().mutate(flag=1)
    joined = base.left_join(flagged, "person_id")
    counts = (
        joined.mutate(flag=joined.flag.fill_null(0))
        .group_by("group", "age_band")
        .aggregate(denominator=_.count(), numerator=_.flag.sum())
        .to_pyarrow()
        .to_pylist()
    )
    by_group: dict[Any, dict[str, tuple[int, int]]] = {}
    for row in counts:
        band = row["age_band"] if row["age_band"] is not None else "unknown"
        by_group.setdefault(row["group"], {})[band] = (
            int(row["numerator"] or 0),
            int(row["denominator"]),
        )
    # The standard restricted to the ages the denominator covers (everyone 65 and over is
    # standardised on the standard's 65+ bands), as OHID does for such indicators.
    covered = {b for bands in by_group.values() for b in bands if b != "unknown"}
    standard = {b: w for b, w in EUROPEAN_STANDARD_POPULATION_2013.items() if b in covered}
    result = []
    for group in sorted(by_group, key=lambda g: (g is None, str(g))):
        bands = by_group[group]
        k = sum(num for num, _ in bands.values())
        n = sum(den for _, den in bands.values())
        if k < SUPPRESS_BELOW:
            result.append(GroupRate(group, None, n, None, None, None, True))
            continue
        low, high = wilson_interval(k, n)
        rate = GroupRate(group, k, n, k / n, low, high, False)
        aged = {b: counts for b, counts in bands.items() if b != "unknown"}  # age recorded
        if standardise and sum(num for num, _ in aged.values()) >= MIN_DSR_EVENTS:
            dsr = directly_standardised_rate(
                {b: num for b, (num, _) in aged.items()},
                {b: den for b, (_, den) in aged.items()},
                per=1,
                standard=standard,
            )
            rate = GroupRate(
                group, k, n, k / n, low, high, False, dsr.rate, dsr.ci_low, dsr.ci_high
            )
        result.append(rate)
    return result


def overall_rate(denominator: Table, numerator: Table) -> GroupRate | None:
    """The rate over everyone in ``denominator`` (group ``"all"``), with its Wilson
    interval; suppressed under five; None when the denominator is empty."""
    base = denominator.select("person_id").distinct()
    n = int(base.count().to_pyarrow().as_py())
    if n == 0:
        return None
    k = int(base.semi_join(numerator, "person_id").count().to_pyarrow().as_py())
    if k < SUPPRESS_BELOW:
        return GroupRate("all", None, n, None, None, None, True)
    low, high = wilson_interval(k, n)
    return GroupRate("all", k, n, k / n, low, high, False)
