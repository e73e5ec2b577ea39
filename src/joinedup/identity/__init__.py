"""Identity: the person index, one person per human across every partner's systems.

- :mod:`~joinedup.identity.index` takes source records as they arrive, links them by
  exact NHS number, and keeps every link's history (merges and unmerges lose nothing).
- :mod:`~joinedup.identity.linkage` links records in bulk: exact NHS number first, then
  probabilistic matching with Splink (DuckDB by default, Spark at scale), with a review
  queue between the thresholds.
- :mod:`~joinedup.identity.evaluate` measures a linkage against the truth, pair by pair.

The linkage names are imported on first use, so taking in one record (``index``) does
not load Splink, DuckDB and pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joinedup.identity.evaluate import PairwiseQuality, pairwise_quality
    from joinedup.identity.linkage import (
        LinkageModel,
        LinkageResult,
        link,
        linkage_settings,
        normalise,
        train,
    )

__all__ = [
    "LinkageModel",
    "LinkageResult",
    "PairwiseQuality",
    "link",
    "linkage_settings",
    "normalise",
    "pairwise_quality",
    "train",
]

_HOME = {
    "LinkageModel": "joinedup.identity.linkage",
    "LinkageResult": "joinedup.identity.linkage",
    "link": "joinedup.identity.linkage",
    "linkage_settings": "joinedup.identity.linkage",
    "normalise": "joinedup.identity.linkage",
    "train": "joinedup.identity.linkage",
    "PairwiseQuality": "joinedup.identity.evaluate",
    "pairwise_quality": "joinedup.identity.evaluate",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
