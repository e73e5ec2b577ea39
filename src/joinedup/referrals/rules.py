"""The routing rules file: urgencies' time frames, the ranking weights, the ICS's first choices.

Read and checked once (cached until the file changes); every mistake is reported at once,
each naming the entry and what is wrong, like the directory and the access policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from joinedup.directory.loader import SERVICE_TYPES
from joinedup.directory.profiles import DISPOSITIONS, NEEDS


class RulesError(ValueError):
    """The routing rules file is wrong; the message names every entry that is."""


#: The weights the file must give (and may give no others), with what each means.
WEIGHTS: dict[str, str] = {
    "eligible": "can take the referral at all",
    "preferred_type": "the ICS's first choice of service type for this need and urgency",
    "local_team": "covers only the person's own area",
    "capacity_green": "its team reports capacity green",
    "capacity_amber": "its team reports capacity amber",
    "capacity_unknown": "no capacity status reported",
    "closed_now": "closed now, but opens within the time frame",
    "requested": "the service the referrer asked for",
}

_TOP = ("version", "time_frames", "at_risk_after", "weights", "preferences")


@dataclass(frozen=True)
class Rules:
    """The routing rules, checked."""

    time_frames: dict[str, timedelta]  # urgency code -> time to first contact
    at_risk_after: float  # share of the time frame after which a referral is at risk
    weights: dict[str, int]
    preferences: dict[tuple[str, str], tuple[str, ...]]  # (need, urgency) -> service types

    def within(self, urgency: str) -> timedelta:
        """The time frame for first contact at this urgency."""
        return self.time_frames[urgency]

    def preferred(self, need: str, urgency: str) -> tuple[str, ...]:
        """The service types the ICS prefers for this need at this urgency (maybe none)."""
        return self.preferences.get((need, urgency), ())


def load_rules(path: Path) -> Rules:
    """The rules in ``path`` (cached until the file changes); :class:`RulesError` if wrong."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise RulesError(f"{path}: no such routing rules file") from None
    return _cached(path, mtime)


@lru_cache(maxsize=8)
def _cached(path: Path, mtime_ns: int) -> Rules:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise RulesError(f"{path.name}: cannot be read ({error})") from None
    except yaml.YAMLError as error:
        raise RulesError(f"{path.name}: not valid YAML: {error}") from None
    return parse_rules(data, source=path.name)


def parse_rules(data: Any, *, source: str = "routing rules") -> Rules:
    """Check the rules' contents (a mapping, as read from YAML) and build :class:`Rules`."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise RulesError(f"{source}: expected a mapping with {', '.join(_TOP)}")
    for key in data:
        if key not in _TOP:
            problems.append(f"unknown key {key!r} (the keys are {', '.join(_TOP)})")
    if data.get("version") != 1:
        problems.append("version: expected 1")

    frames: dict[str, timedelta] = {}
    given = data.get("time_frames")
    if not isinstance(given, dict):
        problems.append("time_frames: expected a mapping of urgency to hours")
        given = {}
    for code in DISPOSITIONS:
        hours = given.get(code)
        if not isinstance(hours, (int, float)) or isinstance(hours, bool) or hours <= 0:
            problems.append(f"time_frames.{code}: expected a positive number of hours")
        else:
            frames[code] = timedelta(hours=hours)
    for code in given:
        if code not in DISPOSITIONS:
            problems.append(f"time_frames.{code}: not an urgency ({', '.join(DISPOSITIONS)})")

    at_risk = data.get("at_risk_after")
    if not isinstance(at_risk, (int, float)) or isinstance(at_risk, bool) or not 0 < at_risk < 1:
        problems.append("at_risk_after: expected a share between 0 and 1, e.g. 0.75")
        at_risk = 0.75

    weights: dict[str, int] = {}
    given = data.get("weights")
    if not isinstance(given, dict):
        problems.append("weights: expected a mapping")
        given = {}
    for name in WEIGHTS:
        value = given.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"weights.{name}: expected a whole number ({WEIGHTS[name]})")
        else:
            weights[name] = value
    for name in given:
        if name not in WEIGHTS:
            problems.append(
                f"weights.{name}: unknown weight (the weights are {', '.join(WEIGHTS)})"
            )

    preferences: dict[tuple[str, str], tuple[str, ...]] = {}
    given = data.get("preferences") or {}
    if not isinstance(given, dict):
        problems.append("preferences: expected a mapping of need to urgency to service types")
        given = {}
    for need, by_urgency in given.items():
        if need not in NEEDS:
            problems.append(f"preferences.{need}: not a need (see docs/directory.md)")
            continue
        if not isinstance(by_urgency, dict):
            problems.append(f"preferences.{need}: expected a mapping of urgency to service types")
            continue
        for urgency, types in by_urgency.items():
            where = f"preferences.{need}.{urgency}"
            if urgency not in DISPOSITIONS:
                problems.append(f"{where}: not an urgency ({', '.join(DISPOSITIONS)})")
                continue
            if not isinstance(types, list) or not types:
                problems.append(f"{where}: expected a list of service types")
                continue
            bad = [t for t in types if t not in SERVICE_TYPES]
            if bad:
                problems.append(f"{where}: not a service type: {', '.join(map(str, bad))}")
                continue
            preferences[(need, urgency)] = tuple(types)
    if problems:
        raise RulesError(f"{source}: " + "; ".join(problems))
    return Rules(frames, float(at_risk), weights, preferences)
