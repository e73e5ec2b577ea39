"""Pairwise quality of a clustering of records against the true clustering.

A pair of records is *predicted* when the clustering puts both in one cluster and *true*
when the truth does. Counting pairs by enumerating them is quadratic, so every count here
comes from group sizes: a group of n records holds n(n-1)/2 pairs, and the pairs that
are both predicted and true are those within the groups of (predicted, true) cluster
combinations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

__all__ = ["PairwiseQuality", "pairwise_quality"]


@dataclass(frozen=True)
class PairwiseQuality:
    """Pair counts and the precision, recall and F1 computed from them.

    With no predicted pairs precision is 1 (nothing claimed, nothing wrong); with no true
    pairs recall is 1 (nothing to find); F1 is their harmonic mean, 0 when both are 0.
    """

    records: int
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int

    def __post_init__(self) -> None:
        counts = (self.records, self.true_pairs, self.predicted_pairs, self.true_positive_pairs)
        if min(counts) < 0:
            raise ValueError("pair counts cannot be negative")
        if self.true_positive_pairs > min(self.true_pairs, self.predicted_pairs):
            raise ValueError("true positive pairs cannot exceed true or predicted pairs")

    @property
    def false_positive_pairs(self) -> int:
        """Pairs joined that are not the same entity."""
        return self.predicted_pairs - self.true_positive_pairs

    @property
    def false_negative_pairs(self) -> int:
        """Pairs of the same entity left apart."""
        return self.true_pairs - self.true_positive_pairs

    @property
    def precision(self) -> float:
        """Share of predicted pairs that are true."""
        if self.predicted_pairs == 0:
            return 1.0
        return self.true_positive_pairs / self.predicted_pairs

    @property
    def recall(self) -> float:
        """Share of true pairs that were predicted."""
        if self.true_pairs == 0:
            return 1.0
        return self.true_positive_pairs / self.true_pairs

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def to_dict(self) -> dict[str, Any]:
        """Counts and rates, for reports and JSON."""
        return {
            **asdict(self),
            "false_positive_pairs": self.false_positive_pairs,
            "false_negative_pairs": self.false_negative_pairs,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def pairwise_quality(
    predicted: Mapping[Any, Any] | pd.Series,
    truth: Mapping[Any, Any] | pd.Series,
) -> PairwiseQuality:
    """Compare a clustering with the truth, pair by pair.

    Both arguments map each record's id to its cluster label (a dict, or a pandas Series
    indexed by record id); labels are compared only for equality, so they need not be
    comparable between the two. Every record in ``truth`` must be in ``predicted`` and
    the other way round.
    """
    predicted_series = _as_series(predicted)
    truth_series = _as_series(truth)
    if predicted_series.index.has_duplicates or truth_series.index.has_duplicates:
        raise ValueError("each record id must appear once")
    if (
        len(predicted_series) != len(truth_series)
        or not predicted_series.index.isin(truth_series.index).all()
    ):
        raise ValueError("the clustering and the truth must cover the same records")
    if predicted_series.isna().any() or truth_series.isna().any():
        raise ValueError("every record needs a cluster label")

    frame = pd.DataFrame(
        {"predicted": predicted_series, "truth": truth_series.reindex(predicted_series.index)}
    )
    return PairwiseQuality(
        records=len(frame),
        true_pairs=_pairs_within(frame.groupby("truth", sort=False).size()),
        predicted_pairs=_pairs_within(frame.groupby("predicted", sort=False).size()),
        true_positive_pairs=_pairs_within(frame.groupby(["predicted", "truth"], sort=False).size()),
    )


def _as_series(clusters: Mapping[Any, Any] | pd.Series) -> pd.Series:
    if isinstance(clusters, pd.Series):
        return clusters
    keys: Sequence[Any] = list(clusters.keys())
    return pd.Series([clusters[k] for k in keys], index=pd.Index(keys, dtype=object), dtype=object)


def _pairs_within(group_sizes: pd.Series) -> int:
    """Sum of n(n-1)/2 over the groups: the pairs inside them."""
    sizes = group_sizes.to_numpy(dtype="int64")
    return int((sizes * (sizes - 1) // 2).sum())
