"""The indicator catalogue: one declarative file of what the system is measured by.

Each indicator is a numerator over a denominator times a factor (the DHIS2 model), with its
target, the direction of improvement, its source and the breakdowns that make sense for it
(``catalogue.yaml`` beside this module; an ICS points ``JOINEDUP_INDICATOR_CATALOGUE`` at
its own copy). :func:`load_catalogue` checks the whole file and names every mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal, cast

import yaml

#: The catalogue JoinedUp ships.
DEFAULT_CATALOGUE: Final = Path(__file__).parent / "catalogue.yaml"

Improvement = Literal["increase", "decrease", "neutral"]
IMPROVEMENTS: Final = ("increase", "decrease", "neutral")
UNITS: Final = ("percent", "count", "average", "per_1000", "per_100000")
DIMENSIONS: Final = ("partner", "area", "programme")


class CatalogueError(ValueError):
    """The catalogue is wrong: the message lists every problem, one a line, naming the entry."""


@dataclass(frozen=True)
class Target:
    """A standard: the value, and interim values due by a month (the latest due applies)."""

    value: float
    interim: tuple[tuple[date, float], ...] = ()

    def on(self, month: date) -> float:
        """The target that applies to ``month``: the interim one due soonest on or after it,
        else the standard."""
        due = sorted((by, v) for by, v in self.interim if by >= month)
        return due[0][1] if due else self.value


@dataclass(frozen=True)
class Indicator:
    """One indicator of the catalogue."""

    key: str
    name: str
    numerator: str
    denominator: str | None
    unit: str
    factor: float
    improvement: Improvement
    target: Target | None
    measure: str | None  # the computation (None: its events are not collected yet)
    source: str
    dimensions: tuple[str, ...]
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        """Whether JoinedUp can compute it yet."""
        return self.measure is not None


def load_catalogue(path: Path = DEFAULT_CATALOGUE, *, measures: frozenset[str]) -> list[Indicator]:
    """The catalogue's indicators, in file order. ``measures`` are the computations that
    exist; an indicator naming another is a mistake."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise CatalogueError(f"{path.name}: cannot be read ({error})") from None
    problems: list[str] = []
    if not isinstance(data, dict) or data.get("version") != 1:
        raise CatalogueError(f"{path.name}: needs version: 1 and a list of indicators")
    entries = data.get("indicators")
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"{path.name}: needs a list of indicators")
    indicators: list[Indicator] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"indicators[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping")
            continue
        key = entry.get("key")
        if isinstance(key, str):
            where = f"indicators[{i}] ({key})"
        indicator = _indicator(entry, where, problems, measures)
        if indicator is None:
            continue
        if indicator.key in seen:
            problems.append(f"{where}: the key {indicator.key!r} is used twice")
        seen.add(indicator.key)
        indicators.append(indicator)
    if problems:
        raise CatalogueError("\n".join(f"{path.name}: {p}" for p in problems))
    return indicators


def _indicator(
    entry: Mapping[str, Any], where: str, problems: list[str], measures: frozenset[str]
) -> Indicator | None:
    before = len(problems)

    def text(name: str, *, optional: bool = False) -> str | None:
        value = entry.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}: {name} must be text")
            return None
        return value

    key, name, numerator = text("key"), text("name"), text("numerator")
    denominator, source = text("denominator", optional=True), text("source")
    unit = entry.get("unit")
    if unit not in UNITS:
        problems.append(f"{where}: unit must be one of {', '.join(UNITS)}")
    factor = entry.get("factor")
    if not isinstance(factor, (int, float)) or factor <= 0:
        problems.append(f"{where}: factor must be a positive number")
    improvement = entry.get("improvement")
    if improvement not in IMPROVEMENTS:
        problems.append(f"{where}: improvement must be one of {', '.join(IMPROVEMENTS)}")
    measure = entry.get("measure")
    if measure is not None and measure not in measures:
        problems.append(
            f"{where}: no measure called {measure!r} (known: {', '.join(sorted(measures))})"
        )
    dimensions = entry.get("dimensions") or []
    if not isinstance(dimensions, list) or not set(dimensions) <= set(DIMENSIONS):
        problems.append(f"{where}: dimensions are some of {', '.join(DIMENSIONS)}")
        dimensions = []
    parameters = entry.get("parameters") or {}
    if not isinstance(parameters, dict):
        problems.append(f"{where}: parameters must be a mapping")
        parameters = {}
    target = _target(entry.get("target"), where, problems)
    if len(problems) > before:
        return None
    assert key and name and numerator and source and isinstance(factor, (int, float))
    return Indicator(
        key=key,
        name=name,
        numerator=numerator,
        denominator=denominator,
        unit=str(unit),
        factor=float(factor),
        improvement=cast(Improvement, improvement),
        target=target,
        measure=measure,
        source=source,
        dimensions=tuple(dimensions),
        parameters=parameters,
    )


def _target(value: Any, where: str, problems: list[str]) -> Target | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("value"), (int, float)):
        problems.append(f"{where}: target needs a value (a number)")
        return None
    interim = []
    for j, step in enumerate(value.get("interim") or []):
        try:
            by = date.fromisoformat(f"{step['by']}-01") if isinstance(step.get("by"), str) else None
            level = float(step["value"])
        except (KeyError, TypeError, ValueError, AttributeError):
            by = None
        if by is None:
            problems.append(f"{where}: target.interim[{j}] needs value and by (YYYY-MM)")
            continue
        interim.append((by, level))
    return Target(float(value["value"]), tuple(interim))
