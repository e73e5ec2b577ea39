"""The summary matrix: each indicator's latest value, its target, and how it is varying.

Reads what :func:`joinedup.oversight.run.refresh_oversight` wrote and runs statistical
process control on every series (``oversight.spc``), so the dashboard, the board report and
the commands show the same thing: the latest value against the target, the MDC variation
icon (is something changing?) and the assurance icon (will it meet the target?).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from joinedup.oversight.catalogue import Indicator
from joinedup.oversight.spc import SpcResult, xmr

SYSTEM_LEVEL = "system"


@dataclass(frozen=True)
class Series:
    """One indicator's months for one group, with its SPC (None with too few values)."""

    indicator: Indicator
    level: str
    group: str
    periods: tuple[date, ...]
    values: tuple[float | None, ...]
    numerators: tuple[float, ...]
    denominators: tuple[float | None, ...]
    spc: SpcResult | None

    @property
    def latest(self) -> tuple[date, float] | None:
        """The most recent month with a value."""
        for period, value in zip(reversed(self.periods), reversed(self.values), strict=True):
            if value is not None:
                return period, value
        return None

    @property
    def target(self) -> float | None:
        """The target that applies to the latest month."""
        latest = self.latest
        target = self.indicator.target
        if target is None or latest is None:
            return None
        return target.on(latest[0])


class IndicatorValues:
    """The refreshed indicators, indexed for lookups (read once, kept while unchanged)."""

    def __init__(self, table: pa.Table) -> None:
        self._rows: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for row in table.to_pylist():
            self._rows.setdefault((row["indicator"], row["level"], row["group"]), []).append(row)
        for rows in self._rows.values():
            rows.sort(key=lambda r: r["period"])

    @classmethod
    def read(cls, path: Path) -> IndicatorValues:
        """The values a refresh wrote."""
        return cls(pq.read_table(path))

    def until(self, month: date) -> IndicatorValues:
        """The values up to and including ``month`` (a report for that month)."""
        cut = IndicatorValues.__new__(IndicatorValues)
        cut._rows = {
            key: [r for r in rows if r["period"] <= month] for key, rows in self._rows.items()
        }
        return cut

    def groups(self, indicator: str, level: str) -> list[str]:
        """The groups an indicator has at a level (partners' ODS codes, areas' codes...)."""
        return sorted(g for (i, lv, g) in self._rows if i == indicator and lv == level)

    def levels(self) -> dict[str, list[str]]:
        """Every level's groups, over all indicators."""
        found: dict[str, set[str]] = {}
        for _i, level, group in self._rows:
            found.setdefault(level, set()).add(group)
        return {level: sorted(groups) for level, groups in sorted(found.items())}

    def series(self, indicator: Indicator, level: str, group: str) -> Series | None:
        """The indicator's months for a group, with SPC on the months that have a value."""
        rows = self._rows.get((indicator.key, level, group))
        if not rows:
            return None
        periods = tuple(r["period"] for r in rows)
        values = tuple(r["value"] for r in rows)
        known = [(p, v) for p, v in zip(periods, values, strict=True) if v is not None]
        spc = None
        if len(known) >= 2:
            latest = known[-1][0]
            target = indicator.target.on(latest) if indicator.target else None
            spc = xmr(
                [v for _, v in known],
                [p for p, _ in known],
                improvement=indicator.improvement,
                target=target,
            )
        return Series(
            indicator,
            level,
            group,
            periods,
            values,
            tuple(float(r["numerator"]) for r in rows),
            tuple(r["denominator"] for r in rows),
            spc,
        )


def summary(
    values: IndicatorValues, indicators: Sequence[Indicator], level: str, group: str
) -> list[tuple[Indicator, Series | None]]:
    """Every indicator of the catalogue with its series for the group (None where the
    indicator has no values there: not broken down that way, or not collected yet)."""
    return [(i, values.series(i, level, group) if i.available else None) for i in indicators]
