"""Pairwise precision, recall and F1 of a clustering, checked on hand-counted examples."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from joinedup.identity.evaluate import PairwiseQuality, pairwise_quality


def test_counts_pairs_within_clusters_by_hand() -> None:
    # Truth: x = {a, b, c} (3 pairs), y = {d, e} (1 pair): 4 true pairs.
    # Predicted: 1 = {a, b} (1 pair), 2 = {c, d} (1 pair), 3 = {e}: 2 predicted pairs.
    # Only a-b is both: precision 1/2, recall 1/4, F1 = 2(1/2)(1/4)/(3/4) = 1/3.
    quality = pairwise_quality(
        {"a": 1, "b": 1, "c": 2, "d": 2, "e": 3},
        {"a": "x", "b": "x", "c": "x", "d": "y", "e": "y"},
    )
    assert (quality.true_pairs, quality.predicted_pairs, quality.true_positive_pairs) == (4, 2, 1)
    assert quality.false_positive_pairs == 1
    assert quality.false_negative_pairs == 3
    assert quality.precision == pytest.approx(0.5)
    assert quality.recall == pytest.approx(0.25)
    assert quality.f1 == pytest.approx(1 / 3)


def test_one_big_cluster_against_two_true_ones() -> None:
    # Truth {a, b} and {c, d}: 2 true pairs. Everything in one cluster: 6 predicted pairs,
    # 2 of them right: precision 1/3, recall 1.
    quality = pairwise_quality({"a": 0, "b": 0, "c": 0, "d": 0}, {"a": 1, "b": 1, "c": 2, "d": 2})
    assert (quality.predicted_pairs, quality.true_positive_pairs) == (6, 2)
    assert quality.precision == pytest.approx(1 / 3)
    assert quality.recall == 1.0
    assert quality.f1 == pytest.approx(0.5)


def test_perfect_clustering_whatever_the_labels() -> None:
    truth = pd.Series(["p1", "p1", "p2", "p3", "p3", "p3"], index=list("abcdef"))
    predicted = pd.Series([7, 7, 3, 9, 9, 9], index=list("fedcba")[::-1])
    quality = pairwise_quality(predicted, truth)
    assert (quality.precision, quality.recall, quality.f1) == (1.0, 1.0, 1.0)
    assert quality.true_pairs == 4


def test_record_order_does_not_matter() -> None:
    truth = pd.Series([1, 1, 2, 2], index=["a", "b", "c", "d"])
    predicted = pd.Series([5, 6, 6, 6], index=["d", "c", "b", "a"])
    # Predicted {d} and {c, b, a}: pairs c-b, c-a, b-a; true pairs a-b and c-d; a-b right.
    quality = pairwise_quality(predicted, truth)
    assert (quality.predicted_pairs, quality.true_pairs, quality.true_positive_pairs) == (3, 2, 1)


def test_no_predicted_pairs_is_precise_but_finds_nothing() -> None:
    quality = pairwise_quality({"a": 1, "b": 2}, {"a": 1, "b": 1})
    assert quality.precision == 1.0
    assert quality.recall == 0.0
    assert quality.f1 == 0.0


def test_no_true_pairs_and_none_predicted_is_perfect() -> None:
    quality = pairwise_quality({"a": 1, "b": 2}, {"a": 1, "b": 2})
    assert (quality.precision, quality.recall, quality.f1) == (1.0, 1.0, 1.0)


def test_to_dict_carries_counts_and_rates() -> None:
    quality = pairwise_quality({"a": 1, "b": 1, "c": 1}, {"a": 1, "b": 1, "c": 2})
    assert quality.to_dict() == {
        "records": 3,
        "true_pairs": 1,
        "predicted_pairs": 3,
        "true_positive_pairs": 1,
        "false_positive_pairs": 2,
        "false_negative_pairs": 0,
        "precision": pytest.approx(1 / 3),
        "recall": 1.0,
        "f1": pytest.approx(0.5),
    }


@pytest.mark.parametrize(
    ("predicted", "truth"),
    [
        ({"a": 1}, {"a": 1, "b": 1}),  # a record missing from the clustering
        ({"a": 1, "c": 1}, {"a": 1, "b": 1}),  # different records
        ({"a": None, "b": 1}, {"a": 1, "b": 1}),  # a record with no cluster
    ],
)
def test_refuses_clusterings_of_different_records(
    predicted: dict[str, object], truth: dict[str, object]
) -> None:
    with pytest.raises(ValueError):
        pairwise_quality(predicted, truth)


def test_counts_are_checked_on_construction() -> None:
    with pytest.raises(ValueError):
        PairwiseQuality(records=3, true_pairs=1, predicted_pairs=1, true_positive_pairs=2)
    with pytest.raises(ValueError):
        PairwiseQuality(records=-1, true_pairs=0, predicted_pairs=0, true_positive_pairs=0)


def test_a_million_records_take_well_under_a_few_seconds() -> None:
    # Group counts, not pairs: a cluster of 1,000 records is 499,500 pairs, counted at once.
    rng = np.random.default_rng(1)
    n = 1_000_000
    truth = pd.Series(rng.integers(0, 400_000, n), index=np.arange(n))
    predicted = truth.where(rng.random(n) > 0.01, -1)  # 1% wrongly thrown together
    started = time.perf_counter()
    quality = pairwise_quality(predicted, truth)
    assert time.perf_counter() - started < 5
    assert 0 < quality.precision < 1
    assert 0.97 < quality.recall < 1
