"""Directly standardised rates and Poisson intervals, as OHID's Fingertips publishes them.

A crude rate compares badly between areas whose populations are of different ages; a
directly standardised rate (DSR) is the rate each area would have if its age-specific rates
applied to one standard population, here the 2013 European Standard Population in the 19
five-year bands our lake uses (``0-4`` ... ``90+``, as :func:`joinedup.population.lake.age_band`
labels them). The methods are the ones OHID (formerly PHE) uses for Fingertips, as set out in
its Public Health Technical Guidance and implemented in its R package PHEindicatormethods:

* an interval for a count of events: Byar's approximation for 10 or more events, the exact
  (chi-squared) Poisson interval below that (:func:`poisson_interval`);
* an interval for a proportion: Wilson's score interval (:func:`wilson_interval`);
* a DSR's interval: Dobson et al.'s method, Byar's interval for the total count scaled by
  the DSR's variance; no DSR at all for fewer than 10 events in total, where it isn't
  reliable (Morris et al. 2018), so such results are withheld.

References: Breslow NE, Day NE. Statistical methods in cancer research, volume II. IARC,
1987. Dobson AJ, Kuulasmaa K, Eberle E, Scherer J. Confidence intervals for weighted sums of
Poisson parameters. Stat Med 1991;10:457-62. Armitage P, Berry G. Statistical methods in
medical research, 4th edn. Blackwell, 2002. Eurostat. Revision of the European Standard
Population: report of Eurostat's task force, 2013 edition. Morris JK, Tan J, Fryers P,
Bestwick J. Evaluation of stability of directly standardized rates for sparse data using
simulation methods. Popul Health Metr 2018;16:9.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

#: The normal deviate for a two-sided 95% interval.
Z_95: Final = 1.959963984540054

#: The normal deviate for a two-sided 99.8% interval, Fingertips' other confidence level.
Z_998: Final = 3.090232306167813

#: The 2013 European Standard Population (Eurostat 2013) in the lake's 19 age bands, summing
#: to 100,000. Eurostat publishes 21 groups; as PHEindicatormethods' ``esp2013`` does, the
#: under-1s and 1-4s make up 0-4 and the 90-94s and 95-and-overs make up 90+.
EUROPEAN_STANDARD_POPULATION_2013: Final[Mapping[str, int]] = MappingProxyType(
    {
        "0-4": 5_000,  # 1,000 aged under 1 and 4,000 aged 1-4
        "5-9": 5_500,
        "10-14": 5_500,
        "15-19": 5_500,
        "20-24": 6_000,
        "25-29": 6_000,
        "30-34": 6_500,
        "35-39": 7_000,
        "40-44": 7_000,
        "45-49": 7_000,
        "50-54": 7_000,
        "55-59": 6_500,
        "60-64": 6_000,
        "65-69": 5_500,
        "70-74": 5_000,
        "75-79": 4_000,
        "80-84": 2_500,
        "85-89": 1_500,
        "90+": 1_000,  # 800 aged 90-94 and 200 aged 95 and over
    }
)

#: Counts below this get the exact Poisson interval; Byar's is used from here up (Fingertips
#: guidance: Byar's is within 0.2% of exact at 95% confidence for 10 or more events).
EXACT_BELOW: Final = 10

#: Fewer events than this in total and OHID doesn't publish a DSR: it's too unstable.
MIN_DSR_EVENTS: Final = 10


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


def byar_interval(count: int, z: float = Z_95) -> tuple[float, float]:
    """Byar's interval for a Poisson count ``count`` (Breslow & Day 1987), 95% by default.

    lower = O(1 - 1/(9O) - z/(3√O))³ and upper = (O+1)(1 - 1/(9(O+1)) + z/(3√(O+1)))³, the
    lower limit 0 when O is 0. OHID uses it only for counts of 10 or more; for a count's
    interval as Fingertips publishes it, small counts included, use :func:`poisson_interval`.
    """
    observed = _count(count)
    _check_z(z)
    upper = (observed + 1) * (1 - 1 / (9 * (observed + 1)) + z / (3 * math.sqrt(observed + 1))) ** 3
    if observed == 0:
        return 0.0, upper
    lower = observed * (1 - 1 / (9 * observed) - z / (3 * math.sqrt(observed))) ** 3
    # At high confidence the approximation breaks down for a count of 1 or 2 and goes below
    # zero (PHEindicatormethods gives NA there); no Poisson mean is negative.
    return max(0.0, lower), upper


def exact_poisson_interval(count: int, z: float = Z_95) -> tuple[float, float]:
    """The exact (chi-squared) interval for a Poisson count (Armitage & Berry 2002).

    The means whose Poisson distribution puts no more than the two-sided tail beyond
    ``count``: with a = 1 - confidence, the lower limit is χ²(a/2, 2O)/2 and the upper
    χ²(1-a/2, 2O+2)/2, found here by inverting the Poisson distribution function (scipy isn't
    installed), the lower limit 0 when O is 0.
    """
    observed = _count(count)
    _check_z(z)
    tail = 0.5 * math.erfc(z / math.sqrt(2))  # a/2, the normal tail beyond z
    # The distribution function falls as the mean rises, so each limit is a root to bisect.
    upper = _bisect(lambda mean: _poisson_cdf(observed, mean) - tail, observed + 1)
    if observed == 0:
        return 0.0, upper
    lower = _bisect(lambda mean: _poisson_cdf(observed - 1, mean) - (1 - tail), observed)
    return lower, upper


def poisson_interval(count: int, z: float = Z_95) -> tuple[float, float]:
    """A count's interval as Fingertips gives it: exact below 10 events, Byar's from 10."""
    if _count(count) < EXACT_BELOW:
        return exact_poisson_interval(count, z)
    return byar_interval(count, z)


@dataclass(frozen=True)
class StandardisedRate:
    """A directly standardised rate per ``per`` with its confidence interval.

    ``rate``, ``ci_low`` and ``ci_high`` are None when ``withheld``: fewer than
    :data:`MIN_DSR_EVENTS` events in total, where OHID publishes no DSR.
    ``bands_without_population`` names the standard's bands the local population has nobody
    in; they contributed nothing to the rate.
    """

    rate: float | None
    ci_low: float | None
    ci_high: float | None
    events: int
    population: float
    per: float
    withheld: bool
    bands_without_population: tuple[str, ...]


def directly_standardised_rate(
    counts_by_band: Mapping[str, int],
    population_by_band: Mapping[str, float],
    *,
    per: float = 100_000,
    standard: Mapping[str, float] = EUROPEAN_STANDARD_POPULATION_2013,
    z: float = Z_95,
) -> StandardisedRate:
    """The DSR of events per ``per`` people, with Dobson et al.'s interval (95% by default).

    DSR = Σ wᵢOᵢ/nᵢ / Σ wᵢ over the standard's bands (weights wᵢ, local events Oᵢ, local
    population nᵢ); its variance is Σ wᵢ²Oᵢ/nᵢ² / (Σ wᵢ)², and with O = Σ Oᵢ and Byar's
    limits O_L, O_U for O the limits are DSR + √(var/O)(O_L - O) and DSR + √(var/O)(O_U - O)
    (Dobson et al. 1991, as in PHEindicatormethods' ``calculate_dsr``), the lower floored at
    0. With fewer than :data:`MIN_DSR_EVENTS` events in total the result is ``withheld``.

    A band missing from ``population_by_band`` (or with population 0) contributes nothing,
    while the divisor stays the whole standard's total, so the DSR is a rate on one scale
    across areas; such bands are listed in the result. A band missing from
    ``counts_by_band`` had no events. Raises ValueError for a band not in ``standard``, a
    negative or non-integer count, a negative population, events in a band with no
    population, or no population at all (there is then no rate to standardise).
    """
    if not (math.isfinite(per) and per > 0):
        raise ValueError("per must be a positive number")
    _check_z(z)
    weights = _weights(standard)
    unknown = sorted((set(counts_by_band) | set(population_by_band)) - set(weights))
    if unknown:
        raise ValueError(f"not bands of the standard population: {', '.join(unknown)}")
    counts = {band: _count(count, band) for band, count in counts_by_band.items()}
    populations = {band: _population(n, band) for band, n in population_by_band.items()}
    for band in weights:
        if counts.get(band, 0) > 0 and populations.get(band, 0) == 0:
            raise ValueError(f"band {band} has events but no population")
    total_population = math.fsum(populations.values())
    if total_population == 0:
        raise ValueError("the population is empty, so there is no rate to standardise")

    events = sum(counts.values())
    present = [band for band in weights if populations.get(band, 0) > 0]
    missing = tuple(band for band in weights if populations.get(band, 0) == 0)
    if events < MIN_DSR_EVENTS:
        return StandardisedRate(None, None, None, events, total_population, per, True, missing)

    total_weight = math.fsum(weights.values())
    scaled = {band: weights[band] / populations[band] for band in present}
    dsr = math.fsum(scaled[band] * counts.get(band, 0) for band in present) / total_weight
    variance = math.fsum(scaled[band] ** 2 * counts.get(band, 0) for band in present)
    variance /= total_weight**2
    low, high = byar_interval(events, z)
    spread = math.sqrt(variance / events)
    # Dobson's linear approximation can dip below zero when one band's weight per person
    # dwarfs the rest; a rate can't.
    ci_low = max(0.0, dsr + spread * (low - events))
    ci_high = dsr + spread * (high - events)
    return StandardisedRate(
        rate=dsr * per,
        ci_low=ci_low * per,
        ci_high=ci_high * per,
        events=events,
        population=total_population,
        per=per,
        withheld=False,
        bands_without_population=missing,
    )


def _count(count: int, band: str | None = None) -> int:
    """A count of events as an int, refusing negatives and fractions (any band named)."""
    where = f" in band {band}" if band is not None else ""
    try:
        observed = operator.index(count)
    except TypeError:
        raise ValueError(f"a count of events must be a whole number{where}") from None
    if observed < 0:
        raise ValueError(f"a count of events can't be negative{where}")
    return observed


def _population(n: float, band: str) -> float:
    """A band's population as a float, refusing negatives and non-numbers."""
    if not (math.isfinite(n) and n >= 0):
        raise ValueError(f"the population of band {band} must be a non-negative number")
    return float(n)


def _weights(standard: Mapping[str, float]) -> dict[str, float]:
    """The standard population's weights, each checked positive."""
    if not standard:
        raise ValueError("the standard population has no bands")
    for band, weight in standard.items():
        if not (math.isfinite(weight) and weight > 0):
            raise ValueError(f"the standard population's weight for band {band} must be positive")
    return {band: float(weight) for band, weight in standard.items()}


def _check_z(z: float) -> None:
    if not (math.isfinite(z) and z > 0):
        raise ValueError("z must be a positive number")


def _poisson_cdf(k: int, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(mean), summed in logs so large means don't underflow."""
    if mean == 0:
        return 1.0
    log_mean = math.log(mean)
    return math.fsum(math.exp(i * log_mean - mean - math.lgamma(i + 1)) for i in range(k + 1))


def _bisect(f: Callable[[float], float], start: float) -> float:
    """The root of ``f``, positive at 0 and falling, searched for from [0, ``start``]."""
    low, high = 0.0, max(start, 1.0)
    while f(high) > 0:
        low, high = high, 2 * high
    # 200 halvings take any bracket here well below a double's resolution.
    for _ in range(200):
        middle = (low + high) / 2
        if middle in (low, high):
            break
        if f(middle) > 0:
            low = middle
        else:
            high = middle
    return (low + high) / 2
