"""The synthetic ICS's people, as the generator holds them before writing partner feeds.

These are the generator's internal truth about each person. Partners never see them
directly: the feed writers turn them into what each partner would hold and send
(FHIR, HL7 v2, CSV), with each partner's own local identifiers and, for some, mistakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Address:
    """Where a person lived from ``since`` (until the next address, if any)."""

    line: str  # house number and street, e.g. "12 Trelawney Road"
    town: str  # the directory Place's name
    postcode: str  # full postcode with a space, e.g. "TR18 4AB"
    small_area: str  # LSOA-like small-area code
    imd_decile: int  # 1 = most deprived 10% nationally ... 10 = least deprived
    since: date


@dataclass(frozen=True, slots=True)
class Registration:
    """A GP registration: with practice ``practice`` (ODS code) from ``start`` to ``end``."""

    practice: str
    start: date
    end: date | None
    local_id: str  # the practice system's own patient id (one per registration)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A long-term condition the person has, from ``onset`` (may be before the period)."""

    condition: str  # key in joinedup.synthetic.codes.CONDITIONS, e.g. "atrial_fibrillation"
    onset: date


@dataclass(frozen=True, slots=True)
class Person:
    """One resident of the synthetic ICS over the generated period.

    ``person_id`` is the ground-truth identity (never sent in a feed); ``index`` is its
    position in the population, from which every random stream for the person derives.
    """

    index: int
    person_id: str  # e.g. "P0000042"
    nhs_number: str  # 10 digits, valid Modulus 11, from the 999 test range
    given: str
    family: str
    sex: str  # "female" | "male"
    birth_date: date
    death_date: date | None
    ethnicity: str  # NHS ethnic category code (A, B, C, D ... S, Z)
    addresses: tuple[Address, ...]  # oldest first; at least one
    registrations: tuple[Registration, ...]  # oldest first; at least one unless not registered
    diagnoses: tuple[Diagnosis, ...]
    frailty: float  # latent frailty 0..1 that rises with age; drives activity and eFI deficits
    area: str  # Integrated Care Area code of the latest address

    def age_on(self, day: date) -> int:
        """Age in whole years on ``day``."""
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def alive_on(self, day: date) -> bool:
        """Born on or before ``day`` and not yet dead."""
        return self.birth_date <= day and (self.death_date is None or day < self.death_date)

    def has(self, condition: str, on: date | None = None) -> bool:
        """Whether the person has ``condition`` (diagnosed by ``on``, if given)."""
        return any(
            d.condition == condition and (on is None or d.onset <= on) for d in self.diagnoses
        )

    def address_on(self, day: date) -> Address:
        """The address the person lived at on ``day`` (the first one before they arrived)."""
        current = self.addresses[0]
        for address in self.addresses:
            if address.since <= day:
                current = address
        return current


@dataclass(frozen=True, slots=True)
class TruthRow:
    """Ground truth: the source record ``local_id`` in ``partner``'s ``feed`` is about ``person_id``."""

    partner: str  # ODS code of the sending organisation
    feed: str  # feed name, e.g. "gp-fhir", "acute-adt", "council-social-care"
    local_id: str  # the record's identifier as it appears in the feed
    person_id: str
