"""Directly standardised rates and Poisson intervals, against published answers.

Sources:

* Eurostat. Revision of the European Standard Population: report of Eurostat's task force,
  2013 edition (Methodologies and Working papers, KS-RA-13-028-EN-N), the ESP 2013 table;
  and the 19-band ``esp2013`` vector PHEindicatormethods derives from it (R/data.R).
* PHEindicatormethods, OHID/UKHSA's R package of the methods behind Fingertips, version
  2.0.2.9001: the rendered vignettes ``Introduction_to_PHEindicatormethods`` (``phe_rate``,
  Byar's method) and ``DSR-vignette`` (``calculate_dsr``, Dobson's method).
* PHE "Technical Guide: Confidence Intervals" (Public Health Data Science, 25 May 2018) and
  the Fingertips Public Health Technical Guidance, "Rates": Byar's method for counts of 10
  or more, the exact method below 10.
"""

from __future__ import annotations

import math
import random
from itertools import pairwise

import pytest

from joinedup.population.lake import age_band
from joinedup.population.statistics import (
    EUROPEAN_STANDARD_POPULATION_2013,
    MIN_DSR_EVENTS,
    Z_95,
    Z_998,
    StandardisedRate,
    byar_interval,
    directly_standardised_rate,
    exact_poisson_interval,
    poisson_interval,
)

ESP = EUROPEAN_STANDARD_POPULATION_2013
BANDS = tuple(ESP)

# The 21 groups of Eurostat's ESP 2013 table, as published.
EUROSTAT_ESP_2013 = (
    ("0", 1_000),
    ("1-4", 4_000),
    ("5-9", 5_500),
    ("10-14", 5_500),
    ("15-19", 5_500),
    ("20-24", 6_000),
    ("25-29", 6_000),
    ("30-34", 6_500),
    ("35-39", 7_000),
    ("40-44", 7_000),
    ("45-49", 7_000),
    ("50-54", 7_000),
    ("55-59", 6_500),
    ("60-64", 6_000),
    ("65-69", 5_500),
    ("70-74", 5_000),
    ("75-79", 4_000),
    ("80-84", 2_500),
    ("85-89", 1_500),
    ("90-94", 800),
    ("95+", 200),
)


def test_esp_2013_matches_the_published_table() -> None:
    """Eurostat 2013 report, ESP 2013 table (21 groups), combined into 0-4 and 90+.

    PHEindicatormethods R/data.R (``esp2013``) documents the same combination and lists
    the 19 weights: 5000 5500 5500 5500 6000 6000 6500 7000 7000 7000 7000 6500 6000 5500
    5000 4000 2500 1500 1000.
    """
    published = dict(EUROSTAT_ESP_2013[2:-2])
    published["0-4"] = EUROSTAT_ESP_2013[0][1] + EUROSTAT_ESP_2013[1][1]
    published["90+"] = EUROSTAT_ESP_2013[-2][1] + EUROSTAT_ESP_2013[-1][1]
    assert dict(ESP) == published
    assert " ".join(map(str, ESP.values())) == (
        "5000 5500 5500 5500 6000 6000 6500 7000 7000 7000 7000 6500 6000 5500 5000 4000 2500 1500 1000"
    )


def test_esp_2013_sums_to_100000_in_the_lakes_bands() -> None:
    """Eurostat 2013 report: the ESP 2013 is a population of 100,000.

    The bands are the lake's ``age_band`` labels, youngest first, so lake counts key it.
    """
    assert sum(ESP.values()) == 100_000
    assert tuple(age_band(age) for age in range(0, 95, 5)) == BANDS
    assert len(BANDS) == 19


# PHEindicatormethods vignette "Introduction to PHEindicatormethods", phe_rate(df, obs, pop):
# obs, pop, then the printed 95% limits per 100,000 and 99.8% limits per 100. Every count is
# 10 or more, so the method column reads "Byars".
PHE_RATE_EXAMPLE = [
    (27, 106, 16782.04, 37061.41, 12.926737, 44.59202),
    (22, 113, 12196.90, 29477.68, 9.074329, 36.05431),
    (80, 150, 42288.58, 66378.77, 36.773690, 74.46881),
    (53, 193, 20568.85, 35920.56, 17.249087, 41.24758),
    (37, 159, 16382.37, 32076.16, 13.193195, 37.70884),
    (84, 122, 54917.70, 85245.02, 47.933814, 95.39407),
    (89, 101, 70764.64, 108438.96, 62.029689, 120.99575),
    (85, 196, 34639.24, 53625.01, 30.260955, 59.97329),
]


@pytest.mark.parametrize(("obs", "pop", "low95", "high95", "low998", "high998"), PHE_RATE_EXAMPLE)
def test_byar_against_phe_rate_vignette(
    obs: int, pop: int, low95: float, high95: float, low998: float, high998: float
) -> None:
    """PHEindicatormethods 2.0.2.9001, vignette "Introduction to PHEindicatormethods",
    section "Execute phe_proportion and phe_rate": the outputs of ``phe_rate(df, obs, pop)``
    (95%, per 100,000) and ``phe_rate(df, obs, pop, confidence = 99.8, multiplier = 100)``,
    printed to 7 significant figures; a rate's limits are Byar's limits over the population.
    """
    low, high = byar_interval(obs)
    assert (low / pop * 100_000, high / pop * 100_000) == pytest.approx((low95, high95), rel=1e-6)
    low, high = byar_interval(obs, Z_998)
    assert (low / pop * 100, high / pop * 100) == pytest.approx((low998, high998), rel=1e-6)


def test_byar_for_no_events() -> None:
    """Fingertips Public Health Technical Guidance, "Rates" (Byar's method): the upper limit
    is (O+1)(1 - 1/(9(O+1)) + z/(3√(O+1)))³, here at O = 0; the lower limit's formula divides
    by O, and for no events it is 0 (as the exact method's is).
    """
    assert byar_interval(0) == (0.0, pytest.approx((1 - 1 / 9 + Z_95 / 3) ** 3))


def test_exact_interval_for_no_events_and_one() -> None:
    """Armitage & Berry (2002), the exact Poisson limits, which the Fingertips guidance
    ("Rates", counts of less than 10) uses below 10 events. For O = 0 the upper limit U has
    P(X = 0) = e^-U = 0.025, so U = ln 40 = 3.689 (as epitools' ``pois.exact`` documents:
    "for the upper confidence limit pois.exact returns 3.689"); for O = 1 the lower limit L
    has P(X >= 1) = 1 - e^-L = 0.025, so L = -ln 0.975, and the upper solves e^-U(1 + U) =
    0.025. Derived here in closed form, independently of the bisection the code uses.
    """
    low, high = exact_poisson_interval(0)
    assert low == 0.0
    assert high == pytest.approx(math.log(40), rel=1e-12)
    assert round(high, 3) == 3.689
    low, high = exact_poisson_interval(1)
    assert low == pytest.approx(-math.log(0.975), rel=1e-12)
    assert math.exp(-high) * (1 + high) == pytest.approx(0.025, rel=1e-10)


@pytest.mark.parametrize("count", range(10, 101))
def test_byar_is_within_0_2_percent_of_exact_from_10_events(count: int) -> None:
    """PHE Technical Guide: Confidence Intervals (Public Health Data Science, 25 May 2018),
    on Byar's method: at 95% "Byar's method is within 0.2% of the exact value for numerators
    of 10 or more", the reason Fingertips switches to Byar's at 10.
    """
    byar = byar_interval(count)
    exact = exact_poisson_interval(count)
    assert byar[0] == pytest.approx(exact[0], rel=0.002)
    assert byar[1] == pytest.approx(exact[1], rel=0.002)


def test_poisson_interval_switches_to_byar_at_10() -> None:
    """Fingertips Public Health Technical Guidance, "Rates": the exact method for counts of
    less than 10, Byar's for 10 or greater.
    """
    assert poisson_interval(9) == exact_poisson_interval(9)
    assert poisson_interval(10) == byar_interval(10)
    assert poisson_interval(0) == exact_poisson_interval(0)


# PHEindicatormethods DSR vignette, "Calculating DSRs when there are zero deaths in some age
# bands": pops2 and deaths2 (the 10-14, 15-19 and 20-24 bands have no deaths).
VIGNETTE_POPULATION = dict(
    zip(
        BANDS,
        [30, 35, 35, 35, 40, 40, 45, 50, 50, 50, 60, 60, 70, 75, 70, 60, 20, 20, 15],
        strict=True,
    )
)
VIGNETTE_DEATHS = {
    "0-4": 1,
    "5-9": 1,
    "25-29": 1,
    "30-34": 1,
    "35-39": 3,
    "40-44": 3,
    "45-49": 3,
    "50-54": 3,
    "55-59": 10,
    "60-64": 10,
    "65-69": 10,
    "70-74": 10,
    "75-79": 8,
    "80-84": 8,
    "85-89": 8,
    "90+": 8,
}


def test_dsr_against_the_calculate_dsr_vignette() -> None:
    """PHEindicatormethods 2.0.2.9001, vignette "PHEindicatormethods DSR function", section
    "Calculating DSRs when there are zero deaths in some age bands": ``calculate_dsr(df2,
    x = dths, n = pop, stdpop = esp2013)`` prints total_count 88, total_pop 860, value
    8283.016, lowercl 6570.819, uppercl 10289.65 (95%, dsr per 100000, method Dobson).
    """
    result = directly_standardised_rate(VIGNETTE_DEATHS, VIGNETTE_POPULATION)
    assert result.events == 88
    assert result.population == 860
    assert (result.rate, result.ci_low, result.ci_high) == pytest.approx(
        (8283.016, 6570.819, 10289.65), rel=1e-6
    )
    assert result.per == 100_000
    assert not result.withheld
    assert result.bands_without_population == ()


def test_dsr_of_a_uniform_rate_is_that_rate() -> None:
    """Property (the definition of direct standardisation, PHE Technical Guide: Directly
    Standardised Rates): with the same age-specific rate in every band, the weighted average
    of the age-specific rates is that rate, whatever the standard's weights.
    """
    populations = {band: 1_000 * (i + 1) for i, band in enumerate(BANDS)}
    counts = {band: n * 3 // 1_000 for band, n in populations.items()}  # 3 per 1,000
    result = directly_standardised_rate(counts, populations)
    assert result.rate == pytest.approx(300.0, rel=1e-12)
    crude = sum(counts.values()) / sum(populations.values()) * 100_000
    assert result.rate == pytest.approx(crude, rel=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_interval_contains_the_rate(seed: int) -> None:
    """Property: Byar's limits bracket the observed count, so Dobson's limits bracket the DSR."""
    rng = random.Random(seed)
    populations = {band: rng.randint(50, 5_000) for band in BANDS}
    counts = {band: rng.randint(0, n // 10) for band, n in populations.items()}
    counts["90+"] += MIN_DSR_EVENTS  # never withheld
    result = directly_standardised_rate(counts, populations)
    assert result.rate is not None and result.ci_low is not None and result.ci_high is not None
    assert result.ci_low <= result.rate <= result.ci_high


def test_more_events_give_a_wider_interval() -> None:
    """Property: a Poisson count's uncertainty grows with the count (about as its square
    root), so for one population more events widen the DSR's absolute interval.
    """
    populations = {band: 2_000 for band in BANDS}
    widths = []
    for scale in range(1, 8):
        counts = {band: scale * (i + 1) for i, band in enumerate(BANDS)}
        result = directly_standardised_rate(counts, populations)
        assert result.ci_low is not None and result.ci_high is not None
        widths.append(result.ci_high - result.ci_low)
    assert widths == sorted(widths)
    assert len(set(widths)) == len(widths)
    byar_widths = [high - low for low, high in map(byar_interval, range(0, 200))]
    assert all(a < b for a, b in pairwise(byar_widths))


def test_fewer_than_ten_events_are_withheld() -> None:
    """Fingertips / PHE tool for common public health statistics (Feb 2018 version note):
    DSRs "are not calculated for numerators <10"; Morris et al., Popul Health Metr
    2018;16:9: "DSRs should not be given when the total observed number of events is less
    than 10".
    """
    populations = {band: 1_000 for band in BANDS}
    nine = directly_standardised_rate({"70-74": 9}, populations)
    assert nine == StandardisedRate(None, None, None, 9, 19_000, 100_000, True, ())
    none = directly_standardised_rate({}, populations)
    assert none.withheld and none.rate is None and none.events == 0
    ten = directly_standardised_rate({"70-74": 10}, populations)
    assert not ten.withheld and ten.rate == pytest.approx(10 / 1_000 * 5_000 / 100_000 * 1e5)


def test_a_band_without_population_contributes_nothing() -> None:
    """Our definition (documented on ``directly_standardised_rate``): a band nobody locally
    is in adds nothing to Σ wᵢOᵢ/nᵢ, and the divisor stays the standard's 100,000.
    """
    populations = {band: 500 for band in BANDS if band != "90+"}
    counts = {band: 5 for band in populations}
    result = directly_standardised_rate(counts, populations)
    expected = sum(ESP[band] * 5 / 500 for band in populations) / 100_000 * 100_000
    assert result.rate == pytest.approx(expected, rel=1e-12)
    assert result.bands_without_population == ("90+",)
    zero = directly_standardised_rate(counts, {**populations, "90+": 0})
    assert zero == result


@pytest.mark.parametrize(
    ("counts", "populations", "message"),
    [
        ({"0-4": -1}, {"0-4": 10}, "negative in band 0-4"),
        ({"0-4": 1.5}, {"0-4": 10}, "whole number in band 0-4"),
        ({"0-5": 1}, {"0-4": 10}, "not bands of the standard population: 0-5"),
        ({}, {"90-94": 10}, "not bands of the standard population: 90-94"),
        ({"0-4": 1}, {"0-4": -10}, "population of band 0-4"),
        ({"85-89": 3}, {"0-4": 10}, "band 85-89 has events but no population"),
        ({"85-89": 3}, {"0-4": 10, "85-89": 0}, "band 85-89 has events but no population"),
        ({}, {}, "population is empty"),
        ({}, {"0-4": 0}, "population is empty"),
    ],
)
def test_bad_inputs_are_refused(
    counts: dict[str, int], populations: dict[str, float], message: str
) -> None:
    """Our definition (documented on ``directly_standardised_rate``), after PHEindicatormethods'
    checks ("numerators must all be greater than or equal to zero"): bad input is refused by
    name of band, never by value.
    """
    with pytest.raises(ValueError, match=message):
        directly_standardised_rate(counts, populations)


def test_normal_deviates() -> None:
    """The 97.5th and 99.9th percentiles of the standard normal (R's qnorm(0.975) and
    qnorm(0.999), as PHEindicatormethods computes z), and one 95% deviate across modules.
    """
    assert 0.5 * math.erfc(Z_95 / math.sqrt(2)) == pytest.approx(0.025, rel=1e-12)
    assert 0.5 * math.erfc(Z_998 / math.sqrt(2)) == pytest.approx(0.001, rel=1e-12)


@pytest.mark.parametrize("count", [-1, 2.5])
def test_impossible_counts(count: int) -> None:
    """A Poisson count is a whole number of events, none or more (PHEindicatormethods:
    "observed events must all be greater than or equal to zero")."""
    for interval in (byar_interval, exact_poisson_interval, poisson_interval):
        with pytest.raises(ValueError):
            interval(count)
