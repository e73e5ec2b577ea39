"""A cohort broken down by a dimension, as rates with 95% confidence intervals.

The rate of a group is the share of its people at the cohort's entry who are in the cohort
at the end (for "AF, CHA2DS2-VASc >= 2, no anticoagulant": of the people with AF in IMD
quintile 1, how many are not anticoagulated). Intervals are Wilson score intervals, as
OHID's Fingertips uses for proportions. Groups with fewer than five people in the cohort
are suppressed (numerator and rate withheld), as for anything shared beyond the team.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from ibis import _
from ibis.expr.types import Table

#: The person columns a cohort can be broken down by.
DIMENSIONS: Final = ("imd_quintile", "core20", "age_band", "sex", "area", "pcn", "practice")

#: Fewer than this many people in a group's cohort: suppressed when shared.
SUPPRESS_BELOW: Final = 5

Z_95: Final = 1.959963984540054


def wilson_interval(k: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for ``k`` of ``n`` (Wilson 1927; Newcombe 1998, method 3)."""
    if n <= 0:
        raise ValueError("the denominator must be positive")
    if not 0 <= k <= n:
        raise ValueError("the numerator must be between 0 and the denominator")
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    return max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator)


@dataclass(frozen=True)
class GroupRate:
    """One group's rate; ``numerator`` and ``rate`` are None when suppressed."""

    group: Any
    numerator: int | None
    denominator: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    suppressed: bool


def breakdown(entered: Table, remaining: Table, person: Table, by: str) -> list[GroupRate]:
    """Rates of ``remaining`` among ``entered`` (both ``person_id`` tables) by ``by``."""
    if by not in DIMENSIONS:
        raise ValueError(f"break down by one of {', '.join(DIMENSIONS)}")
    people = person.select("person_id", group=person[by])
    base = entered.join(people, "person_id")
    denominators = base.group_by("group").aggregate(denominator=_.count())
    numerators = (
        remaining.join(people, "person_id").group_by("group").aggregate(numerator=_.count())
    )
    joined = denominators.left_join(numerators, "group")
    table = joined.select("group", "denominator", numerator=joined.numerator.fill_null(0))
    rows = sorted(
        table.to_pyarrow().to_pylist(), key=lambda r: (r["group"] is None, str(r["group"]))
    )
    result = []
    for row in rows:
        k, n = int(row["numerator"]), int(row["denominator"])
        if k < SUPPRESS_BELOW:
            result.append(GroupRate(row["group"], None, n, None, None, None, True))
            continue
        low, high = wilson_interval(k, n)
        result.append(GroupRate(row["group"], k, n, k / n, low, high, False))
    return result
