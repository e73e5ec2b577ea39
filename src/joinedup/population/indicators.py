"""Population indicators: a person-level measure turned into a rate over a population.

Each indicator names its denominator (who is counted) and its numerator (who has it), both
as Ibis tables of ``person_id`` built from the measures, so an indicator runs on any engine
and breaks down by any dimension (:func:`joinedup.population.inequalities.breakdown`).
The needs assessment, the population pages and ``joinedup population indicators`` read
this one list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Final

from ibis import _
from ibis.expr.types import Table

from joinedup.population import measures
from joinedup.population.cohorts import CODE_LISTS
from joinedup.population.measures import Lake

#: (denominator, numerator) for a lake on a date.
People = Callable[[Lake, date], tuple[Table, Table]]


@dataclass(frozen=True)
class Indicator:
    """One rate over the population: what it counts, over whom, and where it comes from."""

    key: str
    name: str
    denominator: str  # who is counted, in words
    source: str  # the definition's citation
    people: People


def _adults(lake: Lake) -> Table:
    return measures.registered_population(lake).filter(_.age >= 18).select("person_id")


def _aged_65_and_over(lake: Lake) -> Table:
    return measures.registered_population(lake).filter(_.age >= 65).select("person_id")


def _everyone(lake: Lake) -> Table:
    return measures.registered_population(lake).select("person_id")


def _multimorbidity(lake: Lake, as_of: date) -> tuple[Table, Table]:
    counted = measures.multimorbidity(lake)
    return _adults(lake), counted.filter(_.conditions >= 2).select("person_id")


def _frailty(lake: Lake, as_of: date) -> tuple[Table, Table]:
    frail = measures.efi(lake).filter(_.category.isin(["moderate", "severe"]))
    return _aged_65_and_over(lake), frail.select("person_id")


def _vulnerable(lake: Lake, as_of: date) -> tuple[Table, Table]:
    flagged = measures.vulnerability(lake, as_of).filter(_.vulnerable == 1)
    return _everyone(lake), flagged.select("person_id")


def _emergency_admission(lake: Lake, as_of: date) -> tuple[Table, Table]:
    return _everyone(lake), measures.emergency_admissions(lake, as_of).select("person_id")


def _af_anticoagulation_gap(lake: Lake, as_of: date) -> tuple[Table, Table]:
    scored = (
        measures.cha2ds2_vasc(lake)
        .filter(_.score >= 2)
        .select("person_id")
        .semi_join(_everyone(lake), "person_id")
    )
    anticoagulated = (
        lake.medication.filter(
            _.code.isin(list(CODE_LISTS["anticoagulants"])), _.status == "active", _.issued <= as_of
        )
        .select("person_id")
        .distinct()
    )
    return scored, scored.anti_join(anticoagulated, "person_id")


#: The indicators JoinedUp ships, in the order pages show them.
INDICATORS: Final = (
    Indicator(
        "multimorbidity",
        "Two or more long-term conditions",
        "adults (18 and over)",
        "Multimorbidity: NICE NG56 (2016); 15 QOF conditions counted once each",
        _multimorbidity,
    ),
    Indicator(
        "frailty",
        "Moderate or severe frailty (eFI)",
        "people aged 65 and over",
        "Electronic Frailty Index: Clegg et al., Age and Ageing 2016;45:353",
        _frailty,
    ),
    Indicator(
        "vulnerable",
        "Vulnerable: offered proactive support",
        "the registered population",
        "NHS Digital's Shielded Patient List groups; the ICS's social criteria",
        _vulnerable,
    ),
    Indicator(
        "emergency_admission",
        "An emergency admission in the last 12 months",
        "the registered population",
        "NHS Data Dictionary ADMISSION METHOD 21-2D (emergency)",
        _emergency_admission,
    ),
    Indicator(
        "af_anticoagulation_gap",
        "AF with CHA2DS2-VASc 2 or more, not anticoagulated",
        "people with AF and CHA2DS2-VASc 2 or more",
        "NICE NG196 (2021) 1.6.3",
        _af_anticoagulation_gap,
    ),
)

INDICATORS_BY_KEY: Final = {i.key: i for i in INDICATORS}
