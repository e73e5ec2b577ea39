"""The ICS as data: areas, places, partner organisations, primary care networks and services.

Every value is immutable and checks itself on construction; whole-directory rules
(unknown area, duplicate ODS code, service without a provider) are checked by
:func:`joinedup.directory.loader.load_directory`, which builds these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum

from joinedup.directory.profiles import SEXES


class DirectoryError(ValueError):
    """A directory file is wrong. The message names the entry and what is wrong with it."""


class OrganisationKind(StrEnum):
    """The kinds of partner an ICS has."""

    INTEGRATED_CARE_BOARD = "integrated_care_board"
    ACUTE_TRUST = "acute_trust"
    COMMUNITY_AND_MENTAL_HEALTH_TRUST = "community_and_mental_health_trust"
    AMBULANCE_TRUST = "ambulance_trust"
    LOCAL_AUTHORITY = "local_authority"
    GP_PRACTICE = "gp_practice"
    HOSPICE = "hospice"
    VOLUNTARY_SECTOR = "voluntary_sector"
    CARE_HOME = "care_home"


#: The shape of an ODS code for each kind of organisation (NHS England Organisation Data Service).
#: Trusts: R + 2 characters (REF); ICBs: Q + 2 (QT6); GP practices: a letter and 5 digits
#: (L82001); councils, hospices, voluntary organisations and care homes have 3 to 6 characters.
ODS_CODE_PATTERNS: dict[OrganisationKind, re.Pattern[str]] = {
    OrganisationKind.INTEGRATED_CARE_BOARD: re.compile(r"Q[A-Z0-9]{2}"),
    OrganisationKind.ACUTE_TRUST: re.compile(r"R[A-Z0-9]{2}"),
    OrganisationKind.COMMUNITY_AND_MENTAL_HEALTH_TRUST: re.compile(r"R[A-Z0-9]{2}"),
    OrganisationKind.AMBULANCE_TRUST: re.compile(r"R[A-Z0-9]{2}"),
    OrganisationKind.GP_PRACTICE: re.compile(r"[A-Z]\d{5}"),
    OrganisationKind.LOCAL_AUTHORITY: re.compile(r"[A-Z0-9]{3,6}"),
    OrganisationKind.HOSPICE: re.compile(r"[A-Z0-9]{3,6}"),
    OrganisationKind.VOLUNTARY_SECTOR: re.compile(r"[A-Z0-9]{3,6}"),
    OrganisationKind.CARE_HOME: re.compile(r"[A-Z0-9]{3,6}"),
}

#: Primary care network codes: U and 5 digits.
PCN_CODE_PATTERN = re.compile(r"U\d{5}")

#: A postcode district (outward code), e.g. TR1, PL25, EX23.
POSTCODE_DISTRICT_PATTERN = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise DirectoryError(message)


@dataclass(frozen=True)
class Area:
    """An Integrated Care Area: the ICS's sub-geography where partners plan care together."""

    code: str
    name: str

    def __post_init__(self) -> None:
        _require(bool(self.code.strip()), "an area has an empty code")
        _require(bool(self.name.strip()), f"area {self.code}: empty name")


@dataclass(frozen=True)
class Place:
    """A town and its hinterland within an area, with its postcode districts and population.

    ``population`` is the approximate number of residents (2021 Census order of size); the
    synthetic ICS spreads its people in proportion to it. ``deprivation`` (0 to 1) says how far
    the place leans towards the nationally most deprived small areas.
    """

    name: str
    area: str
    postcode_districts: tuple[str, ...]
    population: int
    deprivation: float = 0.5

    def __post_init__(self) -> None:
        _require(bool(self.postcode_districts), f"place {self.name}: no postcode districts")
        for district in self.postcode_districts:
            _require(
                POSTCODE_DISTRICT_PATTERN.fullmatch(district) is not None,
                f"place {self.name}: {district!r} is not a postcode district (e.g. TR1, PL25)",
            )
        _require(self.population > 0, f"place {self.name}: population must be positive")
        _require(0.0 <= self.deprivation <= 1.0, f"place {self.name}: deprivation must be 0 to 1")


@dataclass(frozen=True)
class PrimaryCareNetwork:
    """A primary care network: neighbouring GP practices working together (30,000-50,000 people)."""

    code: str
    name: str
    area: str

    def __post_init__(self) -> None:
        _require(
            PCN_CODE_PATTERN.fullmatch(self.code) is not None,
            f"PCN {self.code!r}: code must be U and 5 digits (e.g. U12345)",
        )


@dataclass(frozen=True)
class Organisation:
    """A partner organisation, identified by its ODS code.

    ``synthetic`` marks a made-up code or organisation; real public ODS codes (REF for
    Royal Cornwall Hospitals) are marked ``synthetic: false``.
    """

    ods_code: str
    name: str
    kind: OrganisationKind
    synthetic: bool = True
    area: str | None = None
    place: str | None = None
    pcn: str | None = None
    beds: int | None = None

    def __post_init__(self) -> None:
        pattern = ODS_CODE_PATTERNS[self.kind]
        _require(
            pattern.fullmatch(self.ods_code) is not None,
            f"organisation {self.ods_code!r} ({self.name}): not a valid ODS code for a "
            f"{self.kind.value.replace('_', ' ')} (expected {pattern.pattern})",
        )
        _require(bool(self.name.strip()), f"organisation {self.ods_code}: empty name")
        if self.kind is OrganisationKind.GP_PRACTICE:
            _require(self.pcn is not None, f"GP practice {self.ods_code}: no PCN")
            _require(self.place is not None, f"GP practice {self.ods_code}: no place")
        _require(
            self.beds is None or self.beds >= 0, f"organisation {self.ods_code}: negative beds"
        )


@dataclass(frozen=True)
class OpeningHours:
    """When a service takes work: a session per day (``None`` = closed), or round the clock."""

    sessions: tuple[tuple[str, time, time], ...] = ()
    all_hours: bool = False

    def __post_init__(self) -> None:
        for day, opens, closes in self.sessions:
            _require(day in DAYS, f"opening hours: unknown day {day!r} (use {', '.join(DAYS)})")
            _require(opens < closes, f"opening hours: {day} opens at {opens} after {closes}")

    def is_open(self, day: str, at: time) -> bool:
        """Whether the service is open on ``day`` (mon..sun) at time ``at``."""
        if self.all_hours:
            return True
        return any(d == day and opens <= at < closes for d, opens, closes in self.sessions)

    def describe(self) -> str:
        """Opening hours in words, e.g. ``24 hours, 7 days`` or ``mon 08:00-20:00; ...``."""
        if self.all_hours:
            return "24 hours, 7 days"
        return "; ".join(f"{d} {o:%H:%M}-{_clock(c)}" for d, o, c in self.sessions) or "closed"


def _clock(at: time) -> str:
    # A session that runs to midnight closes at time.max; people write that as 24:00.
    return "24:00" if at == time.max else f"{at:%H:%M}"


@dataclass(frozen=True)
class Capacity:
    """A service's capacity: an amount of a unit (``beds``, ``virtual beds``, ``visits a day``)."""

    amount: int
    unit: str

    def __post_init__(self) -> None:
        _require(self.amount >= 0, f"capacity: negative amount {self.amount}")
        _require(bool(self.unit.strip()), "capacity: empty unit")


@dataclass(frozen=True)
class Service:
    """A service a partner provides: what it is, who it is for, where, when and how much."""

    id: str
    name: str
    provider: str
    type: str
    areas: tuple[str, ...]
    age_min: int = 0
    age_max: int = 120
    eligibility: str = ""
    opening_hours: OpeningHours = field(default_factory=lambda: OpeningHours(all_hours=True))
    capacity: Capacity | None = None
    # The Directory of Services profile (joinedup.directory.profiles): what it handles, how
    # fast, from whom, and for which sex (None: anyone).
    needs: tuple[str, ...] = ()
    dispositions: tuple[str, ...] = ()
    referrers: tuple[str, ...] = ()
    sex: str | None = None

    def __post_init__(self) -> None:
        _require(bool(self.id.strip()), f"service {self.name!r}: empty id")
        _require(
            self.sex is None or self.sex in SEXES,
            f"service {self.id}: sex must be {' or '.join(SEXES)} (or left out, for anyone)",
        )
        _require(bool(self.areas), f"service {self.id}: covers no area")
        _require(
            0 <= self.age_min <= self.age_max <= 120,
            f"service {self.id}: age range {self.age_min}-{self.age_max} is impossible",
        )


@dataclass(frozen=True)
class Directory:
    """The whole ICS: its board, areas, places, PCNs, partner organisations and services."""

    name: str
    icb: str
    areas: tuple[Area, ...]
    places: tuple[Place, ...]
    pcns: tuple[PrimaryCareNetwork, ...]
    organisations: tuple[Organisation, ...]
    services: tuple[Service, ...]

    def organisation(self, ods_code: str) -> Organisation:
        """The organisation with this ODS code (KeyError if there is none)."""
        for organisation in self.organisations:
            if organisation.ods_code == ods_code:
                return organisation
        raise KeyError(ods_code)

    def organisations_of_kind(self, kind: OrganisationKind) -> tuple[Organisation, ...]:
        """Every organisation of one kind, in file order."""
        return tuple(o for o in self.organisations if o.kind is kind)

    @property
    def practices(self) -> tuple[Organisation, ...]:
        """The GP practices, in file order."""
        return self.organisations_of_kind(OrganisationKind.GP_PRACTICE)

    def area(self, code: str) -> Area:
        """The area with this code (KeyError if there is none)."""
        for area in self.areas:
            if area.code == code:
                return area
        raise KeyError(code)

    def places_in(self, area_code: str) -> tuple[Place, ...]:
        """The places within one area."""
        return tuple(p for p in self.places if p.area == area_code)
