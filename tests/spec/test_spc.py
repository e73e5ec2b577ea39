"""Making Data Count XmR charts, checked against NHSRplotthedots 0.2.2 and DOMAIN.md.

Sources:

- NHS-R Community, NHSRplotthedots 0.2.2 (github.com/nhs-r-community/NHSRplotthedots):
  ``R/ptd_spc_standard.R`` (mean, moving ranges, screening, limits), ``R/ptd_calculate_point_type.R``
  (the four rules, their precedence, the point types), ``R/ptd_calculate_assurance_type.R``,
  ``R/geom_ptd_icon.R`` (the icons), ``R/ptd_add_rebase_column.R`` and its tests under
  ``tests/testthat/`` (cited per test, with their snapshots in ``tests/testthat/_snaps/``).
- The project's ``DOMAIN.md``, "Statistical process control, 'Making Data Count'" (its
  known answers).
- NHS England, "Making Data Count: getting started" (2019): the rules and the icons.

The rnorm series is R's ``set.seed(123); rnorm(20)``, the data of the package's own tests.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from joinedup.oversight.spc import (
    AssuranceIcon,
    Improvement,
    PointType,
    Rule,
    SpcResult,
    VariationIcon,
    xmr,
)

RNORM_20 = [
    -0.56047565,
    -0.23017749,
    1.55870831,
    0.07050839,
    0.12928774,
    1.71506499,
    0.46091621,
    -1.26506123,
    -0.68685285,
    -0.44566197,
    1.22408180,
    0.35981383,
    0.40077145,
    0.11068272,
    -0.55584113,
    1.78691314,
    0.49785048,
    -1.96661716,
    0.70135590,
    -0.47279141,
]
# The package's tests date them 2020-01-02 onwards (as.Date("2020-01-01") + 1:20).
RNORM_DATES = [date(2020, 1, 1) + timedelta(days=i) for i in range(1, 21)]
SPIKE = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]
BASELINE = [5, 6] * 10  # mean 5.5, every moving range 1: limits 2.84 to 8.16

COMMON = PointType.COMMON_CAUSE
IMPROVEMENT = PointType.SPECIAL_CAUSE_IMPROVEMENT
CONCERN = PointType.SPECIAL_CAUSE_CONCERN


def signals(result: SpcResult) -> dict[int, tuple[Rule | None, str | None]]:
    """Index -> (rule, side) for the special-cause points."""
    return {p.index: (p.rule, p.side) for p in result.points if p.point_type.special}


def months(n: int, start: date = date(2023, 4, 1)) -> list[date]:
    return [
        date(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1, 1)
        for i in range(n)
    ]


# --- the calculation: known answers -----------------------------------------------------------


def test_rnorm_known_answer() -> None:
    """``set.seed(123); rnorm(20)``: mean 0.1416238, limits -3.01138 and 3.294627.

    DOMAIN.md's known answer; the same figures are the package's snapshot
    ``tests/testthat/_snaps/ptd_spc_standard.md`` (r1), and its summary snapshot
    (``_snaps/ptd_spc.md``) has all 20 points common cause.
    """
    result = xmr(RNORM_20, RNORM_DATES, improvement="increase")
    assert result.latest.mean == pytest.approx(0.1416238, abs=5e-8)
    assert result.latest.lower_process_limit == pytest.approx(-3.01138, abs=5e-6)
    assert result.latest.upper_process_limit == pytest.approx(3.294627, abs=5e-7)
    assert all(p.point_type is COMMON for p in result.points)
    assert result.variation_icon is VariationIcon.COMMON_CAUSE
    assert result.assurance_icon is None


def test_rnorm_relative_to_mean_signs_as_the_package_snapshot() -> None:
    """The first 15 points' sides of the mean, as ``relative_to_mean`` in
    ``_snaps/ptd_spc_standard.md`` (r1)."""
    result = xmr(RNORM_20, improvement="increase")
    sides = [int(math.copysign(1, p.value - result.latest.mean)) for p in result.points[:15]]
    assert sides == [-1, -1, 1, -1, -1, 1, 1, -1, -1, -1, 1, 1, 1, -1, -1]


def test_rnorm_with_an_outlier_screened_and_unscreened() -> None:
    """``data$y[15] <- 10``: screened mean 0.6694159, limits -2.383666 and 3.722497;
    unscreened -4.596625 and 5.935457 (the package's ``test-ptd_spc_standard.R``,
    snapshots r2 and r3). Screening leaves out the two moving ranges into and out of 10."""
    values = list(RNORM_20)
    values[14] = 10
    screened = xmr(values, improvement="increase")
    unscreened = xmr(values, improvement="increase", screen=False)
    assert screened.latest.mean == pytest.approx(0.6694159, abs=5e-8)
    assert screened.latest.lower_process_limit == pytest.approx(-2.383666, abs=5e-7)
    assert screened.latest.upper_process_limit == pytest.approx(3.722497, abs=5e-7)
    assert screened.latest.moving_ranges_excluded == 2
    assert [p.index for p in screened.points if p.moving_range_screened] == [14, 15]
    assert unscreened.latest.lower_process_limit == pytest.approx(-4.596625, abs=5e-7)
    assert unscreened.latest.upper_process_limit == pytest.approx(5.935457, abs=5e-7)
    assert unscreened.latest.moving_ranges_excluded == 0
    # the package's own check: screening narrows the limits
    width = unscreened.latest.upper_process_limit - unscreened.latest.lower_process_limit
    assert width > screened.latest.upper_process_limit - screened.latest.lower_process_limit


@pytest.mark.parametrize(("screen", "lower", "upper"), [(True, -0.72, 4.6), (False, -3.06, 6.95)])
def test_spike_series_known_answer(screen: bool, lower: float, upper: float) -> None:
    """1,2,1,2,10,1,2,...: mean 1.94, limits -0.72 and 4.6 screened, -3.06 and 6.95 not
    (DOMAIN.md). The 10 is outside the limits either way: improvement, if higher is better."""
    result = xmr(SPIKE, improvement="increase", screen=screen)
    assert result.latest.mean == pytest.approx(1.94, abs=0.005)
    assert result.latest.lower_process_limit == pytest.approx(lower, abs=0.005)
    assert result.latest.upper_process_limit == pytest.approx(upper, abs=0.005)
    assert signals(result) == {4: (Rule.OUTSIDE_LIMITS, "high")}
    assert result.points[4].point_type is IMPROVEMENT


def test_moving_ranges_and_sigma_lines() -> None:
    """Moving ranges |y_i - y_(i-1)|, none for the first point; one sigma is 2.66/3 of the
    mean moving range, two sigma twice that (the package's ``limitclose``)."""
    result = xmr([1, 3, 2, 6], improvement="neutral")
    assert [p.moving_range for p in result.points] == [None, 2, 1, 4]
    segment = result.latest
    assert segment.mean == 3 and segment.mean_moving_range == pytest.approx(7 / 3)
    assert segment.sigma == pytest.approx(2.66 / 3 * 7 / 3)
    assert segment.upper_one_sigma == pytest.approx(3 + segment.sigma)
    assert segment.lower_two_sigma == pytest.approx(3 - 2 * segment.sigma)
    assert segment.upper_process_limit == pytest.approx(3 + 3 * segment.sigma)


def test_a_constant_series_has_zero_width_limits_and_no_signal() -> None:
    """A flat line: every moving range 0. Unscreened the package gives limits equal to the
    mean; screened, it drops every moving range (0 is not under 3.267 times 0) and its limits
    become NaN. Here nothing is screened from a flat line, so both give zero-width limits,
    and no point is special (each sits on the mean, which breaks every run)."""
    for screen in (True, False):
        result = xmr([0.1] * 15, improvement="increase", screen=screen)
        assert result.latest.mean == 0.1
        assert result.latest.lower_process_limit == result.latest.upper_process_limit == 0.1
        assert result.special_cause_points == 0


# --- the rules -------------------------------------------------------------------------------


class TestOutsideLimits:
    """Rule 1: a point above the upper or below the lower process limit."""

    def test_above_and_below(self) -> None:
        """Strictly beyond the limit (``y > upl | y < lpl`` in ptd_spc_standard.R)."""
        result = xmr([*BASELINE, 10, 5, 6, 1, 5], improvement="increase")
        assert signals(result) == {
            20: (Rule.OUTSIDE_LIMITS, "high"),
            23: (Rule.OUTSIDE_LIMITS, "low"),
        }
        assert result.points[20].point_type is IMPROVEMENT
        assert result.points[23].point_type is CONCERN


class TestTrend:
    """Rule 2: 7 points in a row each strictly higher (or lower) than the one before.

    The package's ``ptd_seven_point_trend`` looks at 7 points (6 steps); every point of the
    run is marked (``ptd_part_of_seven_trend``).
    """

    def test_six_rising_points_are_not_a_trend(self) -> None:
        result = xmr(
            [5, 6] * 4 + [4.0, 4.5, 5.0, 5.5, 6.0, 6.5] + [5, 6, 5], improvement="increase"
        )
        assert signals(result) == {}

    def test_seven_rising_points_are(self) -> None:
        values = [5, 6] * 4 + [4.0, 4.4, 4.8, 5.2, 5.6, 6.0, 6.4] + [5, 6, 5]
        result = xmr(values, improvement="increase")
        assert signals(result) == {i: (Rule.TREND, "high") for i in range(8, 15)}
        # The run crosses the mean; since 0.2.2 (issue #171) the whole trend takes the
        # trend's direction, so the points below the mean are improvement too.
        assert result.points[8].value < result.latest.mean
        assert {result.points[i].point_type for i in range(8, 15)} == {IMPROVEMENT}

    def test_a_tie_breaks_the_run(self) -> None:
        values = [5, 6] * 4 + [4.0, 4.4, 4.8, 4.8, 5.2, 5.6, 6.0] + [5, 6, 5]
        assert signals(xmr(values, improvement="increase")) == {}

    def test_the_packages_own_cases(self) -> None:
        """``test-ptd_calculate_point_type.R``: 1:6 is no trend, c(1:3, 3:6) is none,
        c(2, 1:7, 3) rises over points 2-8, c(2, 7:1, 3) falls over them."""
        assert signals(xmr([1, 2, 3, 4, 5, 6], improvement="increase")) == {}
        tied = signals(xmr([1, 2, 3, 3, 4, 5, 6], improvement="increase"))
        assert all(rule is not Rule.TREND for rule, _ in tied.values())  # (ends are outside)
        rising = xmr([2, 1, 2, 3, 4, 5, 6, 7, 3], improvement="increase")
        assert signals(rising) == {i: (Rule.TREND, "high") for i in range(1, 8)}
        falling = xmr([2, 7, 6, 5, 4, 3, 2, 1, 3], improvement="increase")
        assert signals(falling) == {i: (Rule.TREND, "low") for i in range(1, 8)}
        assert {falling.points[i].point_type for i in range(1, 8)} == {CONCERN}

    def test_a_peak_between_a_rise_and_a_fall_belongs_to_the_fall(self) -> None:
        """A point in two trends takes the step after it (ptd_special_cause_type's ``sdy``).
        The lowest points here are outside the limits, which comes first."""
        values = [5, 6, 5, 6, 5, 1, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3, 2, 1, 4, 5, 6, 5]
        found = signals(xmr(values, improvement="increase"))
        assert found[5] == found[17] == (Rule.OUTSIDE_LIMITS, "low")
        assert all(found[i] == (Rule.TREND, "high") for i in range(6, 11))
        assert found[11] == (Rule.TREND, "low")  # the 7 at the top
        assert all(found[i] == (Rule.TREND, "low") for i in range(12, 17))


class TestTwoOfThree:
    """Rule 3: 2 of 3 consecutive points beyond two sigma, all 3 on the same side of the mean.

    As the package (``ptd_two_in_three``, ``ptd_part_of_two_in_three``): only the points
    between two sigma and the limit count and are marked, not the third point of the three,
    and not a point beyond the limit (that is rule 1's).
    """

    def test_two_of_three_high(self) -> None:
        result = xmr([*BASELINE, 7.8, 6, 7.8, 5, 6, 5, 6, 5, 6], improvement="increase")
        assert signals(result) == {20: (Rule.TWO_IN_THREE, "high"), 22: (Rule.TWO_IN_THREE, "high")}
        assert not result.points[21].point_type.special  # the middle one is not marked

    def test_two_in_a_row_low(self) -> None:
        result = xmr([*BASELINE, 3.2, 5, 3.2, 6, 5, 6, 5, 6, 5], improvement="increase")
        assert signals(result) == {20: (Rule.TWO_IN_THREE, "low"), 22: (Rule.TWO_IN_THREE, "low")}
        assert result.points[20].point_type is CONCERN

    def test_the_third_point_across_the_mean_stops_the_signal(self) -> None:
        assert (
            signals(xmr([*BASELINE, 7.8, 5, 7.8, 6, 5, 6, 5, 6, 5], improvement="increase")) == {}
        )

    def test_points_close_to_opposite_limits_do_not_signal(self) -> None:
        """The package's ``test-ptd_spc_standard.R`` (issue #143): rep(c(1, -1), 8) with
        points 15 and 16 set to 5.5 and -5.5 gives common cause for both."""
        values = [1, -1] * 8
        values[14], values[15] = 5.5, -5.5
        result = xmr(values, improvement="increase")
        assert [p.point_type for p in result.points[-2:]] == [COMMON, COMMON]
        assert signals(xmr([*BASELINE, 7.8, 3.2, 5, 6, 5], improvement="increase")) == {}

    def test_a_point_beyond_the_limit_does_not_count_towards_two_of_three(self) -> None:
        result = xmr([*BASELINE, 9.5, 6, 7.8, 5, 6, 5, 6, 5, 6], improvement="increase")
        assert signals(result) == {20: (Rule.OUTSIDE_LIMITS, "high")}


class TestShift:
    """Rule 4: 7 points in a row on one side of the mean; a point on the mean breaks it."""

    def test_seven_above(self) -> None:
        result = xmr([4, 6, 4, 6, 4, 6] + [6] * 7 + [4] * 6, improvement="decrease")
        # the 6 just before the seven joins the run: 8 in a row, all marked
        assert signals(result) == {i: (Rule.SHIFT, "high") for i in range(5, 13)}
        assert {result.points[i].point_type for i in range(5, 13)} == {CONCERN}

    def test_six_are_not_enough(self) -> None:
        assert signals(xmr([4, 6, 4, 6, 4, 6, 4] + [6] * 6 + [4] * 6, improvement="increase")) == {}

    def test_a_point_exactly_on_the_mean_breaks_the_run(self) -> None:
        values = [4, 6, 4, 6, 4, 6] + [6, 6, 6, 5, 6, 6, 6] + [4] * 6
        result = xmr(values, improvement="increase")
        assert result.latest.mean == 5 and result.points[9].value == 5
        assert signals(result) == {}

    @pytest.mark.parametrize("scale", [0.01, 1.1])
    def test_a_decimal_point_on_the_mean_is_on_it(self, scale: float) -> None:
        """R's ``mean()`` sums in extended precision; a plain float sum of these values is
        a hair above 5.5 (or 0.05), which would put the point "on the mean" below it and
        make a run of 7. The mean here is exact, then rounded, as R's comes out."""
        pattern = [4, 6, 4, 6, 4, 6] + [6, 6, 6, 5, 6, 6, 6] + [4] * 6
        values = [round(v * scale, 10) for v in pattern]
        assert sum(values) / len(values) != values[9]  # the naive mean misses it
        result = xmr(values, improvement="increase")
        assert result.latest.mean == values[9]
        assert signals(result) == {}


class TestPrecedence:
    """When several rules mark a point, the first in the package's ``case_when`` names it:
    outside the limits, then trend, then 2 of 3, then the shift."""

    def test_outside_the_limits_before_a_shift(self) -> None:
        result = xmr([*BASELINE, 6, 6, 6, 10, 6, 6, 6, 5, 6, 5, 6, 5, 6], improvement="increase")
        found = signals(result)
        assert found[23] == (Rule.OUTSIDE_LIMITS, "high")
        assert {found[i] for i in (19, 20, 21, 22, 24, 25, 26)} == {(Rule.SHIFT, "high")}

    def test_a_trend_before_two_of_three_and_a_shift(self) -> None:
        values = [*BASELINE, 6.0, 6.1, 6.2, 6.3, 6.5, 7.35, 7.6, 5, 6, 5, 6]
        result = xmr(values, improvement="increase")
        segment = result.latest
        # the last two of the trend are close to the upper limit, and all 7 above the mean
        assert all(segment.upper_two_sigma < v < segment.upper_process_limit for v in (7.35, 7.6))
        assert all(result.points[i].value > segment.mean for i in range(19, 27))
        found = signals(result)
        assert {found[i] for i in range(20, 27)} == {(Rule.TREND, "high")}
        assert found[19] == (Rule.SHIFT, "high")  # the 6 before the trend is only in the shift


class TestDirection:
    """Improvement or concern by the measure's direction; neutral is high or low
    (``ptd_point_type``)."""

    VALUES = (*BASELINE, 10, 5, 6, 1, 5)

    @pytest.mark.parametrize(
        ("improvement", "high", "low"),
        [
            ("increase", IMPROVEMENT, CONCERN),
            ("decrease", CONCERN, IMPROVEMENT),
            ("neutral", PointType.SPECIAL_CAUSE_NEUTRAL_HIGH, PointType.SPECIAL_CAUSE_NEUTRAL_LOW),
        ],
    )
    def test_types(self, improvement: str, high: PointType, low: PointType) -> None:
        result = xmr(self.VALUES, improvement=improvement)  # type: ignore[arg-type]
        assert result.points[20].point_type is high
        assert result.points[23].point_type is low
        assert result.improvement is Improvement(improvement)

    @pytest.mark.parametrize(
        ("values", "improvement", "icon"),
        [
            ([*BASELINE, 10], "increase", VariationIcon.IMPROVEMENT_HIGH),
            ([*BASELINE, 1], "increase", VariationIcon.CONCERN_LOW),
            ([*BASELINE, 10], "decrease", VariationIcon.CONCERN_HIGH),
            ([*BASELINE, 1], "decrease", VariationIcon.IMPROVEMENT_LOW),
            ([*BASELINE, 10], "neutral", VariationIcon.NEITHER_HIGH),
            ([*BASELINE, 1], "neutral", VariationIcon.NEITHER_LOW),
            ([*BASELINE, 5], "increase", VariationIcon.COMMON_CAUSE),
            ([10, *BASELINE], "increase", VariationIcon.COMMON_CAUSE),  # only the last counts
        ],
    )
    def test_variation_icon_is_the_last_points_type(
        self, values: list[float], improvement: str, icon: VariationIcon
    ) -> None:
        """``ptd_get_icons`` in ``R/geom_ptd_icon.R``: the latest point's type, with
        improvement high when higher is better, concern low, and so on."""
        result = xmr(values, improvement=improvement)  # type: ignore[arg-type]
        assert result.variation_icon is icon

    def test_icons_are_named_in_words(self) -> None:
        assert (
            VariationIcon.IMPROVEMENT_HIGH.label == "Special cause variation: improvement (higher)"
        )
        assert VariationIcon.COMMON_CAUSE.label == "Common cause variation"
        assert "hit and miss" in AssuranceIcon.INCONSISTENT.label


class TestAssurance:
    """``R/ptd_calculate_assurance_type.R`` and its tests: a target above the upper limit
    fails if higher is better and passes if lower is; below the lower limit the reverse;
    between them (or on a limit) hit and miss; nothing without a target or when neutral."""

    @pytest.mark.parametrize(
        ("target", "increase", "decrease"),
        [
            (4.0, AssuranceIcon.CONSISTENT_FAIL, AssuranceIcon.CONSISTENT_PASS),
            (-4.0, AssuranceIcon.CONSISTENT_PASS, AssuranceIcon.CONSISTENT_FAIL),
            (0.5, AssuranceIcon.INCONSISTENT, AssuranceIcon.INCONSISTENT),
        ],
    )
    def test_the_target_against_the_limits(
        self, target: float, increase: AssuranceIcon, decrease: AssuranceIcon
    ) -> None:
        assert xmr(RNORM_20, improvement="increase", target=target).assurance_icon is increase
        assert xmr(RNORM_20, improvement="decrease", target=target).assurance_icon is decrease

    def test_a_target_on_a_limit_is_hit_and_miss(self) -> None:
        result = xmr([1, 2] * 6, improvement="increase")
        upper = result.latest.upper_process_limit
        assert xmr([1, 2] * 6, improvement="increase", target=upper).assurance_icon is (
            AssuranceIcon.INCONSISTENT
        )

    def test_none_without_a_target_or_when_neutral(self) -> None:
        assert xmr(RNORM_20, improvement="increase").assurance_icon is None
        assert xmr(RNORM_20, improvement="neutral", target=4.0).assurance_icon is None

    def test_the_latest_segment_decides(self) -> None:
        """As the package's "when rebase" case: only the last rows' limits count."""
        values = [1, 2] * 6 + [11, 12] * 6
        dates = months(24)
        result = xmr(values, dates, improvement="increase", target=5, rebase=[dates[12]])
        assert result.assurance_icon is AssuranceIcon.CONSISTENT_PASS
        assert xmr(values[:12], improvement="increase", target=5).assurance_icon is (
            AssuranceIcon.CONSISTENT_FAIL
        )


class TestRebase:
    """Each rebase date starts a segment with its own mean and limits
    (``ptd_add_rebase_column``: ``rebase_group = cumsum(rebase)``), and the rules are worked
    out within each segment (``group_by(f, rebase_group)``)."""

    def test_known_answer_for_two_halves(self) -> None:
        """The package's summary snapshot (``_snaps/ptd_spc.md``) splits the rnorm series
        into two groups of 10: mean 0.0746, limits -2.60 and 2.75; mean 0.209, limits -3.28
        and 3.70. The package groups facets and rebase segments the same way."""
        result = xmr(RNORM_20, RNORM_DATES, improvement="increase", rebase=[RNORM_DATES[10]])
        first, second = result.segments
        assert (first.start, first.stop, second.start, second.stop) == (0, 10, 10, 20)
        assert first.mean == pytest.approx(0.0746, abs=5e-5)
        assert first.lower_process_limit == pytest.approx(-2.60, abs=5e-3)
        assert first.upper_process_limit == pytest.approx(2.75, abs=5e-3)
        assert second.mean == pytest.approx(0.209, abs=5e-4)
        assert second.lower_process_limit == pytest.approx(-3.28, abs=5e-3)
        assert second.upper_process_limit == pytest.approx(3.70, abs=5e-3)
        assert first.trial_limits and second.trial_limits  # under 12 points each
        assert [p.segment for p in result.points] == [0] * 10 + [1] * 10
        assert result.points[10].moving_range is None  # a segment's first point has none

    def test_a_level_change_is_a_shift_until_rebased(self) -> None:
        values = [5, 6] * 8 + [9, 10] * 8
        dates = months(32)
        assert signals(xmr(values, dates, improvement="increase"))
        rebased = xmr(values, dates, improvement="increase", rebase=[dates[16]])
        assert signals(rebased) == {}
        assert [s.mean for s in rebased.segments] == [5.5, 9.5]

    def test_runs_do_not_cross_a_rebase(self) -> None:
        values = [*BASELINE, 4.0, 4.4, 4.8, 5.2, 5.6, 6.0, 6.4, 5, 6, 5, 6, 5, 6, 5, 6, 5]
        dates = months(len(values))
        assert signals(xmr(values, dates, improvement="increase"))
        split = xmr(values, dates, improvement="increase", rebase=[dates[24]])
        assert all(rule is not Rule.TREND for rule, _ in signals(split).values())

    def test_several_rebase_dates_in_any_order(self) -> None:
        values = [1, 2] * 6 + [5, 6] * 6 + [9, 10] * 6
        dates = months(36)
        result = xmr(values, dates, improvement="increase", rebase=[dates[24], dates[12]])
        assert [s.mean for s in result.segments] == [1.5, 5.5, 9.5]
        assert [s.start_date for s in result.segments] == [dates[0], dates[12], dates[24]]


def test_fix_after_n_points_sets_the_limits_from_the_first_points() -> None:
    """``fix_after_n_points`` (12 or more, ``R/ptd_spc_options.R``): the mean and limits of
    each segment come from its first n points; the rules still look at every point."""
    values = [*RNORM_20, 5.0]
    fixed = xmr(values, improvement="increase", fix_after_n_points=12)
    first_twelve = xmr(values[:12], improvement="increase")
    assert fixed.latest.mean == first_twelve.latest.mean
    assert fixed.latest.upper_process_limit == first_twelve.latest.upper_process_limit
    assert fixed.latest.baseline_points == 12 and not fixed.latest.trial_limits
    assert fixed.points[-1].rule is Rule.OUTSIDE_LIMITS
    with pytest.raises(ValueError, match="at least 12"):
        xmr(values, improvement="increase", fix_after_n_points=11)


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": [1.0]}, "at least 2 points"),
        ({"values": []}, "at least 2 points"),
        ({"values": [1.0, math.nan, 2.0]}, "value 2 must be a finite number"),
        ({"values": [1.0, math.inf]}, "value 2 must be a finite number"),
        ({"values": [1.0, "2"]}, "value 2 is not a number"),
        ({"values": [1.0, 2.0], "improvement": "up"}, "improvement must be one of"),
        ({"values": [1.0, 2.0], "target": math.nan}, "target must be a finite number"),
        ({"values": [1.0, 2.0], "dates": [date(2023, 1, 1)]}, "1 dates for 2 values"),
        (
            {"values": [1.0, 2.0], "dates": [date(2023, 2, 1), date(2023, 1, 1)]},
            r"strictly increasing: point 2 \(2023-01-01\)",
        ),
        (
            {"values": [1.0, 2.0], "dates": [date(2023, 1, 1), date(2023, 1, 1)]},
            "strictly increasing",
        ),
        ({"values": [1.0, 2.0, 3.0], "rebase": [date(2023, 1, 1)]}, "rebasing needs"),
    ],
)
def test_clear_errors(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"improvement": "increase", **kwargs}
    with pytest.raises(ValueError, match=message):
        xmr(**arguments)  # type: ignore[arg-type]


def test_rebase_errors() -> None:
    values = [1.0, 2.0, 1.0, 2.0, 1.0]
    dates = months(5)
    with pytest.raises(ValueError, match="2024-01-01 is not a date of the series"):
        xmr(values, dates, improvement="increase", rebase=[date(2024, 1, 1)])
    with pytest.raises(ValueError, match="is the first point"):
        xmr(values, dates, improvement="increase", rebase=[dates[0]])
    with pytest.raises(ValueError, match="has 1 point"):
        xmr(values, dates, improvement="increase", rebase=[dates[4]])


def test_to_dict_is_json_ready() -> None:
    dates = months(len(SPIKE))
    result = xmr(SPIKE, dates, improvement="increase", target=3, rebase=[dates[12]])
    data = orjson.loads(orjson.dumps(result.to_dict()))
    assert data["improvement"] == "increase" and data["target"] == 3
    assert data["variation_icon"] == "common_cause"
    assert data["assurance_icon"] in {"consistent_pass", "consistent_fail", "inconsistent"}
    assert len(data["segments"]) == 2 and data["segments"][1]["start_date"] == "2024-04-01"
    assert data["mean"] == data["segments"][1]["mean"]
    spike = data["points"][4]
    assert spike == {
        "index": 4,
        "date": "2023-08-01",
        "value": 10.0,
        "segment": 0,
        "moving_range": 8.0,
        "moving_range_screened": True,
        "point_type": "special_cause_improvement",
        "rule": "outside_limits",
        "side": "high",
    }


# --- properties --------------------------------------------------------------------------------

series = st.lists(st.integers(-1000, 1000), min_size=2, max_size=60)
directions = st.sampled_from(["increase", "decrease", "neutral"])


@given(series, directions)
def test_limits_are_symmetric_about_the_mean(values: list[int], improvement: str) -> None:
    result = xmr(values, improvement=improvement)  # type: ignore[arg-type]
    segment = result.latest
    assert segment.upper_process_limit - segment.mean == pytest.approx(
        segment.mean - segment.lower_process_limit, abs=1e-9
    )
    assert segment.lower_process_limit <= segment.mean <= segment.upper_process_limit


@given(st.floats(-1e6, 1e6, allow_nan=False), st.integers(2, 40), directions)
def test_a_constant_series_never_signals(value: float, n: int, improvement: str) -> None:
    result = xmr([value] * n, improvement=improvement)  # type: ignore[arg-type]
    assert result.latest.mean == value
    assert result.latest.mean_moving_range == 0
    assert result.special_cause_points == 0
    assert result.variation_icon is VariationIcon.COMMON_CAUSE


@given(series, st.integers(-10_000, 10_000), st.booleans())
def test_shifting_the_values_shifts_mean_and_limits(
    values: list[int], shift: int, screen: bool
) -> None:
    one = xmr(values, improvement="increase", screen=screen).latest
    two = xmr([v + shift for v in values], improvement="increase", screen=screen).latest
    assert two.mean == pytest.approx(one.mean + shift, abs=1e-6)
    assert two.mean_moving_range == pytest.approx(one.mean_moving_range, abs=1e-9)
    assert two.upper_process_limit == pytest.approx(one.upper_process_limit + shift, abs=1e-6)


@given(series, st.sampled_from([0.25, 0.5, 2.0, 8.0, 1024.0]), directions)
def test_scaling_keeps_every_points_type(values: list[int], scale: float, improvement: str) -> None:
    """Scaled by a power of two (exact in binary floating point), every comparison the
    rules make comes out the same."""
    one = xmr(values, improvement=improvement)  # type: ignore[arg-type]
    two = xmr([v * scale for v in values], improvement=improvement)  # type: ignore[arg-type]
    assert [p.point_type for p in two.points] == [p.point_type for p in one.points]
    assert [p.rule for p in two.points] == [p.rule for p in one.points]
    assert two.latest.upper_process_limit == pytest.approx(one.latest.upper_process_limit * scale)


@given(series)
def test_turning_the_chart_upside_down_swaps_the_direction(values: list[int]) -> None:
    """Negated values with "decrease" are the same chart as the values with "increase"."""
    up = xmr(values, improvement="increase")
    down = xmr([-v for v in values], improvement="decrease")
    assert [p.point_type for p in down.points] == [p.point_type for p in up.points]
    assert [p.rule for p in down.points] == [p.rule for p in up.points]
    assert (
        down.variation_icon.value.replace("low", "x").replace("high", "low").replace("x", "high")
        == up.variation_icon.value
    )


@given(series, directions)
def test_special_cause_points_name_their_rule(values: list[int], improvement: str) -> None:
    result = xmr(values, improvement=improvement)  # type: ignore[arg-type]
    for point in result.points:
        assert (point.rule is None) == (point.point_type is COMMON)
        if point.rule is Rule.OUTSIDE_LIMITS:
            segment = result.segments[point.segment]
            assert not (segment.lower_process_limit <= point.value <= segment.upper_process_limit)
