"""The virtual wards file: each ward's pathway, criteria, observations, schedule and
thresholds, and the response time for each escalation level.

Every mistake is reported at once, each naming the ward and what is wrong, as the directory
and the routing rules are. The app reads it once, with the directory. A ward
is a service of type ``virtual_ward`` in the directory: its name, team, area and capacity
in virtual beds are the directory's, so they are never written twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import yaml

from joinedup.directory.model import Directory, Service
from joinedup.virtual_wards.news2 import PARAMETERS

#: Escalation levels, least to most urgent (RCP NEWS2 Chart 4's responses).
LEVELS: Final = ("urgent-review", "urgent-response", "emergency")
LEVEL_NAMES: Final = {
    "urgent-review": "Urgent review",
    "urgent-response": "Urgent response",
    "emergency": "Emergency response",
}
#: The parameters a ward may set a threshold on (numeric readings).
NUMERIC: Final = ("respiratory_rate", "spo2", "systolic", "pulse", "temperature")


class WardsError(ValueError):
    """The virtual wards file is wrong; the message names every ward that is."""


@dataclass(frozen=True)
class Threshold:
    """A ward's own trigger: a reading at or beyond a limit escalates at ``level``."""

    parameter: str
    at_most: float | None
    at_least: float | None
    level: str
    response: str

    def crossed(self, value: float) -> bool:
        if self.at_most is not None and value <= self.at_most:
            return True
        return self.at_least is not None and value >= self.at_least

    def words(self) -> str:
        limit = f"≤ {self.at_most:g}" if self.at_most is not None else f"≥ {self.at_least:g}"
        return f"{self.parameter.replace('_', ' ')} {limit}"


@dataclass(frozen=True)
class Ward:
    """A virtual ward: the directory's service and this file's clinical set-up."""

    service: Service
    pathway: str
    admission_criteria: tuple[str, ...]
    observations: tuple[str, ...]
    readings_per_day: int
    thresholds: tuple[Threshold, ...]

    @property
    def id(self) -> str:
        return self.service.id

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def beds(self) -> int:
        """Capacity in virtual beds (the directory's)."""
        return int(self.service.capacity.amount) if self.service.capacity else 0

    @property
    def reading_interval(self) -> timedelta:
        """How often a set of readings is expected."""
        return timedelta(days=1) / self.readings_per_day


@dataclass(frozen=True)
class Wards:
    """Every ward, and the rules they share."""

    wards: dict[str, Ward]
    response_times: dict[str, timedelta]
    set_window: timedelta

    def get(self, ward_id: str) -> Ward | None:
        return self.wards.get(ward_id)


def load_wards(path: Path, directory: Directory) -> Wards:
    """The wards in ``path``, checked against ``directory``; :class:`WardsError` if wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise WardsError(f"{path.name}: not YAML: {error}") from None
    problems: list[str] = []
    if not isinstance(raw, dict) or raw.get("version") != 1:
        raise WardsError(f"{path.name}: expected a mapping with version: 1")
    minutes: dict[str, Any] = raw.get("response_minutes") or {}
    if set(minutes) != set(LEVELS) or not all(
        isinstance(v, int) and v > 0 for v in minutes.values()
    ):
        problems.append(f"response_minutes: give whole minutes for each of {', '.join(LEVELS)}")
    window: Any = raw.get("set_window_minutes")
    if not isinstance(window, int) or window <= 0:
        problems.append("set_window_minutes: a whole number of minutes")
    services = {s.id: s for s in directory.services}
    wards: dict[str, Ward] = {}
    for n, entry in enumerate(raw.get("wards") or []):
        ward = _ward(entry, n, services, problems)
        if ward is not None:
            if ward.id in wards:
                problems.append(f"ward {ward.id}: listed twice")
            wards[ward.id] = ward
    if problems:
        raise WardsError(f"{path.name}: " + "; ".join(problems))
    return Wards(
        wards,
        {level: timedelta(minutes=int(minutes[level])) for level in LEVELS},
        timedelta(minutes=int(window)),
    )


def _ward(entry: Any, n: int, services: dict[str, Service], problems: list[str]) -> Ward | None:
    if not isinstance(entry, dict):
        problems.append(f"wards[{n}]: expected a mapping")
        return None
    ward_id = str(entry.get("id") or f"wards[{n}]")
    service = services.get(ward_id)
    before = len(problems)
    if service is None or service.type != "virtual_ward":
        problems.append(f"ward {ward_id}: not a virtual_ward service in the directory")
    observations = tuple(entry.get("observations") or ())
    unknown = [o for o in observations if o not in PARAMETERS]
    if not observations or unknown:
        problems.append(
            f"ward {ward_id}: observations must be NEWS2 parameters ({', '.join(PARAMETERS)})"
        )
    per_day: Any = entry.get("readings_per_day")
    if not isinstance(per_day, int) or not 1 <= per_day <= 24:
        problems.append(f"ward {ward_id}: readings_per_day must be 1 to 24")
    thresholds = []
    for t in entry.get("thresholds") or []:
        parameter, level = t.get("parameter"), t.get("level")
        at_most, at_least = t.get("at_most"), t.get("at_least")
        if (
            parameter not in NUMERIC
            or level not in LEVELS
            or (at_most is None) == (at_least is None)
        ):
            problems.append(
                f"ward {ward_id}: a threshold needs a parameter ({', '.join(NUMERIC)}), "
                f"at_most or at_least, and a level ({', '.join(LEVELS)})"
            )
            continue
        thresholds.append(
            Threshold(parameter, at_most, at_least, level, str(t.get("response") or ""))
        )
    if len(problems) > before or service is None:
        return None
    return Ward(
        service,
        str(entry.get("pathway") or "general"),
        tuple(str(c) for c in entry.get("admission_criteria") or ()),
        observations,
        int(per_day),
        tuple(thresholds),
    )
