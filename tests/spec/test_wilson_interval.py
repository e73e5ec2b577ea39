"""Wilson score intervals for proportions, as published.

Source: Newcombe RG. Two-sided confidence intervals for the single proportion: comparison
of seven methods. Statistics in Medicine 1998;17:857-872, Table I, method 3 (Wilson score
interval without continuity correction), 95% intervals; the method OHID's Fingertips uses
for proportions.
"""

from __future__ import annotations

import pytest

from joinedup.population.statistics import wilson_interval


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_newcombe_table_one(k: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(k, n)
    assert got == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(("k", "n"), [(1, 0), (-1, 5), (6, 5)])
def test_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(k, n)
