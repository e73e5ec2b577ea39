"""Keeping the directory and registered-population counts in the operational store.

Saving replaces the whole directory in one transaction, so the store holds either the old
directory or the new one, never a mixture.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from joinedup.directory import tables
from joinedup.directory.model import (
    Area,
    Capacity,
    Directory,
    DirectoryError,
    OpeningHours,
    Organisation,
    OrganisationKind,
    Place,
    PrimaryCareNetwork,
    Service,
)
from joinedup.directory.profiles import TYPE_PROFILES


@dataclass(frozen=True)
class PopulationCount:
    """Patients registered at ``practice`` of one sex in one age band (e.g. ``"0-4"``, ``"85+"``)."""

    practice: str
    sex: str
    age_band: str
    count: int

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"registered population for {self.practice}: negative count")

    @property
    def band_start(self) -> int:
        """The first age in the band (0 for "0-4", 85 for "85+")."""
        return int(self.age_band.rstrip("+").split("-")[0])


@dataclass(frozen=True)
class RegisteredPopulation:
    """The registered population as counts by practice, sex and age band."""

    counts: tuple[PopulationCount, ...]

    @property
    def total(self) -> int:
        """Everyone registered."""
        return sum(c.count for c in self.counts)

    def by_practice(self) -> dict[str, int]:
        """Registered patients per practice ODS code."""
        result: dict[str, int] = {}
        for c in self.counts:
            result[c.practice] = result.get(c.practice, 0) + c.count
        return result

    def by_age_band(self) -> dict[str, int]:
        """Registered patients per age band, youngest band first."""
        result: dict[str, int] = {}
        for c in sorted(self.counts, key=lambda c: c.band_start):
            result[c.age_band] = result.get(c.age_band, 0) + c.count
        return result

    def share_aged(self, age: int) -> float:
        """The share of the population in bands starting at ``age`` or older (0 if empty)."""
        total = self.total
        if total == 0:
            return 0.0
        return sum(c.count for c in self.counts if c.band_start >= age) / total


def save_directory(session: Session, directory: Directory) -> None:
    """Replace the stored directory with ``directory`` (the caller commits)."""
    for table in (tables.service, tables.organisation, tables.pcn, tables.place, tables.area):
        session.execute(delete(table))
    session.execute(delete(tables.ics))
    session.execute(insert(tables.ics), [{"id": 1, "name": directory.name, "icb": directory.icb}])
    _insert(session, tables.area, [{"code": a.code, "name": a.name} for a in directory.areas])
    _insert(
        session,
        tables.place,
        [
            {
                "name": p.name,
                "area": p.area,
                "postcode_districts": list(p.postcode_districts),
                "population": p.population,
                "deprivation": p.deprivation,
            }
            for p in directory.places
        ],
    )
    _insert(
        session,
        tables.pcn,
        [{"code": p.code, "name": p.name, "area": p.area} for p in directory.pcns],
    )
    _insert(
        session,
        tables.organisation,
        [
            {
                "ods_code": o.ods_code,
                "name": o.name,
                "kind": o.kind.value,
                "synthetic": o.synthetic,
                "area": o.area,
                "place": o.place,
                "pcn": o.pcn,
                "beds": o.beds,
            }
            for o in directory.organisations
        ],
    )
    _insert(session, tables.service, [_service_row(s) for s in directory.services])


def read_directory(session: Session) -> Directory | None:
    """The stored directory, or ``None`` if none has been saved yet."""
    ics = session.execute(select(tables.ics)).mappings().first()
    if ics is None:
        return None

    def rows(table: Any) -> list[Any]:
        return list(session.execute(select(table).order_by(table.c.position)).mappings())

    return Directory(
        name=ics["name"],
        icb=ics["icb"],
        areas=tuple(Area(code=r["code"], name=r["name"]) for r in rows(tables.area)),
        places=tuple(
            Place(
                name=r["name"],
                area=r["area"],
                postcode_districts=tuple(r["postcode_districts"]),
                population=r["population"],
                deprivation=r["deprivation"],
            )
            for r in rows(tables.place)
        ),
        pcns=tuple(
            PrimaryCareNetwork(code=r["code"], name=r["name"], area=r["area"])
            for r in rows(tables.pcn)
        ),
        organisations=tuple(
            Organisation(
                ods_code=r["ods_code"],
                name=r["name"],
                kind=OrganisationKind(r["kind"]),
                synthetic=r["synthetic"],
                area=r["area"],
                place=r["place"],
                pcn=r["pcn"],
                beds=r["beds"],
            )
            for r in rows(tables.organisation)
        ),
        services=tuple(_service_from_row(r) for r in rows(tables.service)),
    )


def save_registered_population(session: Session, counts: Iterable[PopulationCount]) -> None:
    """Replace the stored registered-population counts (the caller commits)."""
    session.execute(delete(tables.registered_population))
    _insert(
        session,
        tables.registered_population,
        [
            {"practice": c.practice, "sex": c.sex, "age_band": c.age_band, "count": c.count}
            for c in counts
        ],
        positions=False,
    )


def read_registered_population(session: Session) -> RegisteredPopulation:
    """The stored registered-population counts (empty before any are loaded)."""
    result = session.execute(select(tables.registered_population)).mappings()
    return RegisteredPopulation(
        counts=tuple(
            PopulationCount(
                practice=r["practice"], sex=r["sex"], age_band=r["age_band"], count=r["count"]
            )
            for r in result
        )
    )


def read_population_csv(path: Path) -> list[PopulationCount]:
    """Counts from a registered-patients CSV (columns practice, sex, age_band, count).

    A malformed file raises :class:`DirectoryError` naming the line.
    """
    counts: list[PopulationCount] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"practice", "sex", "age_band", "count"} - set(reader.fieldnames or ())
        if missing:
            raise DirectoryError(f"{path.name}: missing columns {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            try:
                counts.append(
                    PopulationCount(
                        practice=row["practice"],
                        sex=row["sex"],
                        age_band=row["age_band"],
                        count=int(row["count"]),
                    )
                )
            except ValueError as error:
                raise DirectoryError(f"{path.name} line {line}: {error}") from error
    return counts


def _insert(
    session: Session, table: Any, rows: list[dict[str, Any]], *, positions: bool = True
) -> None:
    if not rows:
        return
    if positions:
        rows = [{**row, "position": i} for i, row in enumerate(rows)]
    session.execute(insert(table), rows)


def _service_row(s: Service) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "provider": s.provider,
        "type": s.type,
        "areas": list(s.areas),
        "age_min": s.age_min,
        "age_max": s.age_max,
        "eligibility": s.eligibility,
        "opening_hours": {
            "all_hours": s.opening_hours.all_hours,
            "sessions": [
                # isoformat keeps seconds, so a 24:00 close (kept as time.max) survives a round trip
                [day, opens.isoformat(), closes.isoformat()]
                for day, opens, closes in s.opening_hours.sessions
            ],
        },
        "capacity_amount": s.capacity.amount if s.capacity else None,
        "capacity_unit": s.capacity.unit if s.capacity else None,
        "profile": {
            "needs": list(s.needs),
            "dispositions": list(s.dispositions),
            "referrers": list(s.referrers),
            "sex": s.sex,
        },
    }


def _service_from_row(r: Any) -> Service:
    hours = r["opening_hours"]
    capacity = (
        Capacity(amount=r["capacity_amount"], unit=r["capacity_unit"])
        if r["capacity_amount"] is not None
        else None
    )
    return Service(
        id=r["id"],
        name=r["name"],
        provider=r["provider"],
        type=r["type"],
        areas=tuple(r["areas"]),
        age_min=r["age_min"],
        age_max=r["age_max"],
        eligibility=r["eligibility"],
        opening_hours=OpeningHours(
            all_hours=hours["all_hours"],
            sessions=tuple(
                (day, time.fromisoformat(opens), time.fromisoformat(closes))
                for day, opens, closes in hours["sessions"]
            ),
        ),
        capacity=capacity,
        **_profile(r["type"], r["profile"]),
    )


def _profile(service_type: str, stored: Any) -> dict[str, Any]:
    # A database loaded before services had profiles holds NULL: the type's defaults.
    if stored is None:
        default = TYPE_PROFILES.get(service_type)
        if default is None:
            return {}
        return {
            "needs": default.needs,
            "dispositions": default.dispositions,
            "referrers": default.referrers,
        }
    return {
        "needs": tuple(stored["needs"]),
        "dispositions": tuple(stored["dispositions"]),
        "referrers": tuple(stored["referrers"]),
        "sex": stored.get("sex"),
    }
