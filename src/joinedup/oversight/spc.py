"""Statistical process control as NHS boards read it: "Making Data Count" XmR charts.

NHS England's Making Data Count (MDC) programme asks boards to read a measure over time
through an XmR chart (the values and their moving ranges) with its rules for special-cause
variation and its two summary icons, variation and assurance. This module follows NHS-R's R
package NHSRplotthedots 0.2.2 (``ptd_spc``), so a chart drawn here signals the same points
as one drawn there:

- mean of the values; moving ranges ``|y_i - y_{i-1}|`` (none for the first point); their
  mean; with screening (the package's default; the NHS Excel tool does not screen) moving
  ranges of at least 3.267 times that mean are left out and the mean taken again;
  process limits at the mean ± 2.66 times the mean moving range (``2.66 / 3`` times it is
  one sigma);
- special-cause rules, in this order of precedence: a point outside the process limits;
  a run of 7 points each strictly above (or below) the one before; 2 of 3 consecutive
  points between two sigma and the process limit, all three on the same side of the mean;
  7 consecutive points on one side of the mean (a point on the mean breaks the run).
  Every point of a run is marked, as the package marks them;
- each special-cause point is improvement or concern given the direction of improvement,
  or "neutral" high or low when neither direction is better;
- the variation icon is the last point's type; the assurance icon (with a target) says
  whether the process limits of the latest segment lie all one side of the target;
- rebasing starts a new segment, with its own mean and limits, at each rebase date; the
  rules look at one segment at a time.

Where the package's behaviour is surprising it is followed and said so in a comment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction
from itertools import pairwise
from typing import Any, Final, Literal

__all__ = [
    "LIMIT_FACTOR",
    "MINIMUM_POINTS_FOR_LIMITS",
    "SCREENING_FACTOR",
    "AssuranceIcon",
    "Improvement",
    "PointType",
    "Rule",
    "Segment",
    "SpcPoint",
    "SpcResult",
    "VariationIcon",
    "xmr",
]

#: Process limits are this many mean moving ranges from the mean (3 / d2, d2 = 1.128).
LIMIT_FACTOR: Final = 2.66
#: Moving ranges at least this many times their mean are screened out (D4 for n = 2).
SCREENING_FACTOR: Final = 3.267
#: Limits from fewer points are "trial limits" (the package warns below 12).
MINIMUM_POINTS_FOR_LIMITS: Final = 12
#: The package's shortest baseline for ``fix_after_n_points``.
_MINIMUM_FIXED_POINTS: Final = 12
_RUN_LENGTH: Final = 7  # the trend and the shift rule both need 7 points in the package
# As the package writes it, so a point exactly at two sigma is treated as it is there.
_TWO_SIGMA_FACTOR: Final = 2 * (LIMIT_FACTOR / 3)


class Improvement(StrEnum):
    """Which way is better for the measure."""

    INCREASE = "increase"
    DECREASE = "decrease"
    NEUTRAL = "neutral"


class PointType(StrEnum):
    """A point's variation, with the package's names (``point_type`` in ``ptd_spc``)."""

    COMMON_CAUSE = "common_cause"
    SPECIAL_CAUSE_IMPROVEMENT = "special_cause_improvement"
    SPECIAL_CAUSE_CONCERN = "special_cause_concern"
    SPECIAL_CAUSE_NEUTRAL_HIGH = "special_cause_neutral_high"
    SPECIAL_CAUSE_NEUTRAL_LOW = "special_cause_neutral_low"

    @property
    def special(self) -> bool:
        """Whether this is special-cause variation."""
        return self is not PointType.COMMON_CAUSE


class Rule(StrEnum):
    """The special-cause rule that marked a point (the first that applies, in this order)."""

    OUTSIDE_LIMITS = "outside_limits"
    TREND = "trend"
    TWO_IN_THREE = "two_in_three"
    SHIFT = "shift"


class VariationIcon(StrEnum):
    """The MDC variation icon: the latest point's variation, and which side it is on.

    The package's icon files are ``common_cause``, ``improvement_high``, ``concern_low``,
    ``neutral_high`` and so on; MDC calls the neutral ones "neither improvement nor concern".
    """

    COMMON_CAUSE = "common_cause"
    IMPROVEMENT_HIGH = "special_cause_improvement_high"
    IMPROVEMENT_LOW = "special_cause_improvement_low"
    CONCERN_HIGH = "special_cause_concern_high"
    CONCERN_LOW = "special_cause_concern_low"
    NEITHER_HIGH = "special_cause_neither_high"
    NEITHER_LOW = "special_cause_neither_low"

    @property
    def label(self) -> str:
        """What the icon says, in words (its accessible name)."""
        return _VARIATION_TITLES[self]


_VARIATION_TITLES = {
    VariationIcon.COMMON_CAUSE: "Common cause variation",
    VariationIcon.IMPROVEMENT_HIGH: "Special cause variation: improvement (higher)",
    VariationIcon.IMPROVEMENT_LOW: "Special cause variation: improvement (lower)",
    VariationIcon.CONCERN_HIGH: "Special cause variation: concern (higher)",
    VariationIcon.CONCERN_LOW: "Special cause variation: concern (lower)",
    VariationIcon.NEITHER_HIGH: (
        "Special cause variation: neither improvement nor concern (higher)"
    ),
    VariationIcon.NEITHER_LOW: "Special cause variation: neither improvement nor concern (lower)",
}


class AssuranceIcon(StrEnum):
    """The MDC assurance icon: will the process meet its target? (package names)."""

    CONSISTENT_PASS = "consistent_pass"
    CONSISTENT_FAIL = "consistent_fail"
    INCONSISTENT = "inconsistent"

    @property
    def label(self) -> str:
        """What the icon says, in words (its accessible name)."""
        return _ASSURANCE_TITLES[self]


_ASSURANCE_TITLES = {
    AssuranceIcon.CONSISTENT_PASS: "Assurance: the process will consistently pass the target",
    AssuranceIcon.CONSISTENT_FAIL: "Assurance: the process will consistently fail the target",
    AssuranceIcon.INCONSISTENT: (
        "Assurance: hit and miss; the process will sometimes pass and sometimes fail the target"
    ),
}

Side = Literal["high", "low"]


@dataclass(frozen=True)
class Segment:
    """One stretch of the chart with its own mean and limits (all of it, unless rebased).

    ``start`` and ``stop`` are point indices (``stop`` exclusive). ``baseline_points`` is
    how many of its first points set the mean and limits (all of them unless
    ``fix_after_n_points`` was given). ``trial_limits`` says the limits come from fewer than
    :data:`MINIMUM_POINTS_FOR_LIMITS` points and will move as data is added.
    """

    start: int
    stop: int
    start_date: date | None
    end_date: date | None
    mean: float
    mean_moving_range: float
    moving_ranges_excluded: int
    baseline_points: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.stop:
            raise ValueError(f"a segment needs start < stop, not {self.start}..{self.stop}")
        if not 2 <= self.baseline_points <= self.points:
            raise ValueError("a segment's baseline must be 2 to all of its points")
        for name in ("mean", "mean_moving_range"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"a segment's {name} must be finite")
        if self.mean_moving_range < 0:
            raise ValueError("a mean moving range cannot be negative")

    @property
    def points(self) -> int:
        """How many points the segment has."""
        return self.stop - self.start

    @property
    def trial_limits(self) -> bool:
        """Whether the limits rest on fewer than 12 points (trial limits)."""
        return self.baseline_points < MINIMUM_POINTS_FOR_LIMITS

    @property
    def sigma(self) -> float:
        """One sigma: a third of the distance from the mean to a process limit."""
        return LIMIT_FACTOR / 3 * self.mean_moving_range

    @property
    def lower_process_limit(self) -> float:
        """The mean less 2.66 mean moving ranges."""
        return self.mean - LIMIT_FACTOR * self.mean_moving_range

    @property
    def upper_process_limit(self) -> float:
        """The mean plus 2.66 mean moving ranges."""
        return self.mean + LIMIT_FACTOR * self.mean_moving_range

    @property
    def lower_two_sigma(self) -> float:
        """Two thirds of the way from the mean to the lower limit (the 2-of-3 rule's line)."""
        return self.mean - _TWO_SIGMA_FACTOR * self.mean_moving_range

    @property
    def upper_two_sigma(self) -> float:
        """Two thirds of the way from the mean to the upper limit (the 2-of-3 rule's line)."""
        return self.mean + _TWO_SIGMA_FACTOR * self.mean_moving_range

    @property
    def lower_one_sigma(self) -> float:
        """A third of the way from the mean to the lower limit."""
        return self.mean - self.sigma

    @property
    def upper_one_sigma(self) -> float:
        """A third of the way from the mean to the upper limit."""
        return self.mean + self.sigma

    def to_dict(self) -> dict[str, Any]:
        """The segment as JSON-ready values."""
        return {
            "start": self.start,
            "stop": self.stop,
            "start_date": _iso(self.start_date),
            "end_date": _iso(self.end_date),
            "points": self.points,
            "baseline_points": self.baseline_points,
            "trial_limits": self.trial_limits,
            "mean": self.mean,
            "mean_moving_range": self.mean_moving_range,
            "moving_ranges_excluded": self.moving_ranges_excluded,
            "lower_process_limit": self.lower_process_limit,
            "upper_process_limit": self.upper_process_limit,
            "lower_two_sigma": self.lower_two_sigma,
            "upper_two_sigma": self.upper_two_sigma,
            "lower_one_sigma": self.lower_one_sigma,
            "upper_one_sigma": self.upper_one_sigma,
        }


@dataclass(frozen=True)
class SpcPoint:
    """One point of the chart and what the rules made of it.

    ``moving_range`` is ``|value - previous value|`` within the segment (None for a
    segment's first point); ``moving_range_screened`` says it was left out of the mean
    moving range as an outlier. ``rule`` is the special-cause rule that marked the point
    and ``side`` which way it points (``high``: above the mean, or part of a rising trend);
    both None for common cause.
    """

    index: int
    date: date | None
    value: float
    segment: int
    moving_range: float | None
    moving_range_screened: bool
    point_type: PointType
    rule: Rule | None
    side: Side | None

    def __post_init__(self) -> None:
        if (self.rule is None) != (self.side is None):
            raise ValueError("a point has both a rule and a side, or neither")
        if (self.rule is None) == self.point_type.special:
            raise ValueError("a special-cause point needs the rule that marked it")

    def to_dict(self) -> dict[str, Any]:
        """The point as JSON-ready values."""
        return {
            "index": self.index,
            "date": _iso(self.date),
            "value": self.value,
            "segment": self.segment,
            "moving_range": self.moving_range,
            "moving_range_screened": self.moving_range_screened,
            "point_type": str(self.point_type),
            "rule": None if self.rule is None else str(self.rule),
            "side": self.side,
        }


@dataclass(frozen=True)
class SpcResult:
    """An XmR chart worked out: its points, its segments and its two icons."""

    points: tuple[SpcPoint, ...]
    segments: tuple[Segment, ...]
    improvement: Improvement
    target: float | None
    screen: bool
    fix_after_n_points: int | None
    variation_icon: VariationIcon
    assurance_icon: AssuranceIcon | None

    def __post_init__(self) -> None:
        if not self.points or not self.segments:
            raise ValueError("an SPC result needs points and segments")
        if self.segments[0].start != 0 or self.segments[-1].stop != len(self.points):
            raise ValueError("the segments must cover the points")
        for one, two in pairwise(self.segments):
            if one.stop != two.start:
                raise ValueError("the segments must follow on from each other")

    @property
    def latest(self) -> Segment:
        """The latest segment: the one the icons speak for."""
        return self.segments[-1]

    @property
    def special_cause_points(self) -> int:
        """How many points show special-cause variation."""
        return sum(point.point_type.special for point in self.points)

    def to_dict(self) -> dict[str, Any]:
        """The whole result as JSON-ready values (dates as ISO strings)."""
        latest = self.latest
        return {
            "improvement": str(self.improvement),
            "target": self.target,
            "screen": self.screen,
            "fix_after_n_points": self.fix_after_n_points,
            "mean": latest.mean,
            "lower_process_limit": latest.lower_process_limit,
            "upper_process_limit": latest.upper_process_limit,
            "variation_icon": str(self.variation_icon),
            "assurance_icon": None if self.assurance_icon is None else str(self.assurance_icon),
            "special_cause_points": self.special_cause_points,
            "segments": [segment.to_dict() for segment in self.segments],
            "points": [point.to_dict() for point in self.points],
        }


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


# --- the calculation ------------------------------------------------------------------------


def xmr(
    values: Sequence[float],
    dates: Sequence[date] | None = None,
    *,
    improvement: Improvement | Literal["increase", "decrease", "neutral"],
    target: float | None = None,
    screen: bool = True,
    rebase: Sequence[date] = (),
    fix_after_n_points: int | None = None,
) -> SpcResult:
    """Work out an XmR chart the way NHSRplotthedots 0.2.2 does.

    ``values`` in time order, with their ``dates`` (strictly increasing) if known.
    ``improvement`` says which way is better. ``target`` (optional) gives the assurance
    icon. ``screen`` leaves outlying moving ranges out of the limits (the package's
    default). ``rebase`` starts a new segment with its own mean and limits at each of
    these dates, which must be dates of points after the first. ``fix_after_n_points``
    (12 or more, as the package requires) sets each segment's mean and limits from its
    first n points only.

    Raises ValueError for fewer than 2 points, a value that is not a finite number, dates
    that do not match the values or are not increasing, a rebase date that is not a date
    of the series (or is its first), or a segment of fewer than 2 points.
    """
    direction = _improvement(improvement)
    ys = _values(values)
    days = _dates(dates, len(ys))
    if target is not None:
        target = float(target)
        if not math.isfinite(target):
            raise ValueError(f"the target must be a finite number, not {target!r}")
    if fix_after_n_points is not None and (
        isinstance(fix_after_n_points, bool)
        or not isinstance(fix_after_n_points, int)
        or fix_after_n_points < _MINIMUM_FIXED_POINTS
    ):
        raise ValueError(
            f"fix_after_n_points must be a whole number of at least {_MINIMUM_FIXED_POINTS} "
            f"(as in NHSRplotthedots), not {fix_after_n_points!r}"
        )
    starts = _segment_starts(days, rebase, len(ys))

    segments: list[Segment] = []
    points: list[SpcPoint] = []
    for number, (start, stop) in enumerate(pairwise([*starts, len(ys)])):
        segment, screened = _segment(ys, days, start, stop, screen, fix_after_n_points)
        segments.append(segment)
        ys_here = ys[start:stop]
        for offset, (rule, side) in enumerate(_signals(ys_here, segment)):
            i = start + offset
            points.append(
                SpcPoint(
                    index=i,
                    date=None if days is None else days[i],
                    value=ys[i],
                    segment=number,
                    moving_range=None if offset == 0 else abs(ys[i] - ys[i - 1]),
                    moving_range_screened=offset in screened,
                    point_type=_point_type(side, direction),
                    rule=rule,
                    side=side,
                )
            )
    return SpcResult(
        points=tuple(points),
        segments=tuple(segments),
        improvement=direction,
        target=target,
        screen=screen,
        fix_after_n_points=fix_after_n_points,
        variation_icon=_variation_icon(points[-1].point_type, direction),
        assurance_icon=_assurance(target, segments[-1], direction),
    )


def _improvement(improvement: str) -> Improvement:
    try:
        return Improvement(improvement)
    except ValueError:
        choices = ", ".join(each.value for each in Improvement)
        raise ValueError(f"improvement must be one of {choices}, not {improvement!r}") from None


def _values(values: Sequence[float]) -> list[float]:
    ys: list[float] = []
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"value {i + 1} is not a number: {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"value {i + 1} must be a finite number, not {number!r}")
        ys.append(number)
    if len(ys) < 2:
        raise ValueError(f"an XmR chart needs at least 2 points, got {len(ys)}")
    return ys


def _dates(dates: Sequence[date] | None, count: int) -> list[date] | None:
    if dates is None:
        return None
    days = list(dates)
    if len(days) != count:
        raise ValueError(f"there are {len(days)} dates for {count} values")
    for i, day in enumerate(days):
        if not isinstance(day, date):
            raise ValueError(f"date {i + 1} is not a date: {day!r}")
    for i, (before, after) in enumerate(pairwise(days), start=2):
        if not after > before:
            raise ValueError(
                f"dates must be strictly increasing: point {i} ({after.isoformat()}) is not "
                f"after point {i - 1} ({before.isoformat()})"
            )
    return days


def _segment_starts(days: list[date] | None, rebase: Sequence[date], count: int) -> list[int]:
    """The index where each segment starts: 0, then each rebase date's point."""
    rebase = list(rebase)
    if not rebase:
        return [0]
    if days is None:
        raise ValueError("rebasing needs the points' dates")
    where = {day: i for i, day in enumerate(days)}
    starts = {0}
    for day in rebase:
        # The package ignores a rebase date that matches no point; a typo would then
        # silently draw one segment, so it is an error here.
        if day not in where:
            raise ValueError(
                f"rebase date {day.isoformat()} is not a date of the series "
                f"({days[0].isoformat()} to {days[-1].isoformat()})"
            )
        if where[day] == 0:
            raise ValueError(
                f"rebase date {day.isoformat()} is the first point: a rebase starts a new "
                "segment after it"
            )
        starts.add(where[day])
    ordered = sorted(starts)
    for start, stop in pairwise([*ordered, count]):
        if stop - start < 2:
            first = days[start].isoformat()
            raise ValueError(
                f"the segment starting {first} has 1 point; each needs at least 2 for limits"
            )
    return ordered


def _mean(values: Sequence[float]) -> float:
    """The mean, exact and then rounded once, as R's ``mean()`` comes out.

    R sums in extended precision, so its mean is the correctly rounded one; a plain float
    sum can land a hair either side, and a point equal to the mean in decimal would then
    sit above or below it, starting or breaking a run of 7 (and a constant series would
    not equal its own mean).
    """
    return float(sum(map(Fraction, values), Fraction(0)) / len(values))


def _segment(
    ys: Sequence[float],
    days: Sequence[date] | None,
    start: int,
    stop: int,
    screen: bool,
    fix_after_n_points: int | None,
) -> tuple[Segment, set[int]]:
    """A segment's mean and mean moving range, and the offsets of screened moving ranges."""
    baseline = list(ys[start:stop][:fix_after_n_points])
    mean = _mean(baseline)
    # Offsets within the segment: the moving range at offset k is |y_k - y_{k-1}|.
    ranges = {k: abs(b - a) for k, (a, b) in enumerate(pairwise(baseline), start=1)}
    mean_range = _mean(list(ranges.values()))
    screened: set[int] = set()
    # The package keeps a moving range only when it is under 3.267 times the mean; with a
    # mean of 0 (a constant series) that drops them all and its limits become NaN. Nothing
    # is an outlier from a flat line, so nothing is screened then, giving zero-width limits.
    if screen and mean_range > 0:
        screened = {k for k, mr in ranges.items() if not mr < SCREENING_FACTOR * mean_range}
        mean_range = _mean([mr for k, mr in ranges.items() if k not in screened])
    segment = Segment(
        start=start,
        stop=stop,
        start_date=None if days is None else days[start],
        end_date=None if days is None else days[stop - 1],
        mean=mean,
        mean_moving_range=mean_range,
        moving_ranges_excluded=len(screened),
        baseline_points=len(baseline),
    )
    return segment, screened


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def _part_of_run(ends: Sequence[int]) -> list[bool]:
    """Whether each point is in a run that ends at a marked point up to 6 points later.

    ``ends[i]`` is nonzero where a run of 7 ends (the package's ``ptd_part_of_seven_trend``).
    """
    n = len(ends)
    return [any(ends[j] for j in range(i, min(i + _RUN_LENGTH, n))) for i in range(n)]


def _signals(ys: Sequence[float], segment: Segment) -> list[tuple[Rule | None, Side | None]]:
    """The rule (if any) that marks each point of one segment, and its side.

    A port of the package's ``ptd_special_cause_type``; the runs do not cross segments.
    """
    n = len(ys)
    upper, lower = segment.upper_process_limit, segment.lower_process_limit
    upper_two, lower_two = segment.upper_two_sigma, segment.lower_two_sigma
    outside = [y > upper or y < lower for y in ys]
    relative = [_sign(y - segment.mean) for y in ys]
    # Between two sigma and the limit: a point outside the limits does not count here.
    close = [
        not out and (y < lower_two or y > upper_two) for y, out in zip(ys, outside, strict=True)
    ]

    # 7 points each strictly higher (lower) than the one before; a tie breaks the run.
    trend_ends = [0] * n
    for i in range(_RUN_LENGTH - 1, n):
        steps = {_sign(ys[j] - ys[j - 1]) for j in range(i - _RUN_LENGTH + 2, i + 1)}
        if steps in ({1}, {-1}):
            trend_ends[i] = 1
    in_trend = _part_of_run(trend_ends)

    # 7 points the same side of the mean; a point on the mean (sign 0) breaks the run.
    shift_ends = [0] * n
    for i in range(_RUN_LENGTH - 1, n):
        window = relative[i - _RUN_LENGTH + 1 : i + 1]
        if window[0] != 0 and all(side == window[0] for side in window):
            shift_ends[i] = 1
    in_shift = _part_of_run(shift_ends)

    # Any window of 3 with at least 2 close to a limit, all 3 on one side of the mean;
    # only the close points are marked (the package's ptd_part_of_two_in_three).
    in_two_of_three = [False] * n
    for first in range(n - 2):
        three = range(first, first + 3)
        if sum(close[j] for j in three) >= 2 and abs(sum(relative[j] for j in three)) == 3:
            for j in three:
                in_two_of_three[j] = in_two_of_three[j] or close[j]

    signals: list[tuple[Rule | None, Side | None]] = []
    for i in range(n):
        if outside[i]:
            signals.append((Rule.OUTSIDE_LIMITS, "high" if relative[i] == 1 else "low"))
        elif in_trend[i]:
            # A trend's direction: the step after the point when the next point is in the
            # trend too, else the step before it; so a peak between a rise and a fall
            # belongs to the fall, as in the package (its fix for issue #171).
            if i + 1 < n and in_trend[i + 1]:
                step = _sign(ys[i + 1] - ys[i])
            else:
                step = _sign(ys[i] - ys[i - 1]) if i > 0 else 0
            signals.append((Rule.TREND, "high" if step == 1 else "low"))
        elif in_two_of_three[i]:
            signals.append((Rule.TWO_IN_THREE, "high" if relative[i] > 0 else "low"))
        elif in_shift[i]:
            signals.append((Rule.SHIFT, "high" if relative[i] > 0 else "low"))
        else:
            signals.append((None, None))
    return signals


def _point_type(side: Side | None, direction: Improvement) -> PointType:
    if side is None:
        return PointType.COMMON_CAUSE
    if direction is Improvement.NEUTRAL:
        return (
            PointType.SPECIAL_CAUSE_NEUTRAL_HIGH
            if side == "high"
            else PointType.SPECIAL_CAUSE_NEUTRAL_LOW
        )
    better = "high" if direction is Improvement.INCREASE else "low"
    return (
        PointType.SPECIAL_CAUSE_IMPROVEMENT if side == better else PointType.SPECIAL_CAUSE_CONCERN
    )


def _variation_icon(point_type: PointType, direction: Improvement) -> VariationIcon:
    """The latest point's type as an icon (the package's ``ptd_get_icons``)."""
    increase = direction is Improvement.INCREASE
    if point_type is PointType.SPECIAL_CAUSE_IMPROVEMENT:
        return VariationIcon.IMPROVEMENT_HIGH if increase else VariationIcon.IMPROVEMENT_LOW
    if point_type is PointType.SPECIAL_CAUSE_CONCERN:
        return VariationIcon.CONCERN_LOW if increase else VariationIcon.CONCERN_HIGH
    if point_type is PointType.SPECIAL_CAUSE_NEUTRAL_HIGH:
        return VariationIcon.NEITHER_HIGH
    if point_type is PointType.SPECIAL_CAUSE_NEUTRAL_LOW:
        return VariationIcon.NEITHER_LOW
    return VariationIcon.COMMON_CAUSE


def _assurance(
    target: float | None, latest: Segment, direction: Improvement
) -> AssuranceIcon | None:
    """Where the target lies against the latest limits (``ptd_calculate_assurance_type``)."""
    if target is None or direction is Improvement.NEUTRAL:
        return None
    increase = direction is Improvement.INCREASE
    if target > latest.upper_process_limit:
        return AssuranceIcon.CONSISTENT_FAIL if increase else AssuranceIcon.CONSISTENT_PASS
    if target < latest.lower_process_limit:
        return AssuranceIcon.CONSISTENT_PASS if increase else AssuranceIcon.CONSISTENT_FAIL
    return AssuranceIcon.INCONSISTENT
