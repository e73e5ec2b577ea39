"""Cohorts declared in files, not coded: entry, inclusion rules in order, attrition per rule.

In the spirit of OHDSI ATLAS cohort definitions. A definition (YAML) names who enters and
the rules that keep them in; running it gives the people who remain and how many each rule
removed. Every rule is one of a few kinds, each an Ibis expression over the lake, so a
cohort runs on DuckDB or Spark alike::

    name: AF with CHA2DS2-VASc 2 or more and no anticoagulant
    entry: {condition: atrial_fibrillation}
    rules:
      - name: CHA2DS2-VASc 2 or more
        measure: cha2ds2_vasc
        at_least: 2
      - name: Not currently prescribed an anticoagulant
        without: {medication: anticoagulants, current: true}

Rule kinds (``with`` keeps people who have it, ``without`` those who don't):

* ``condition: <code list>`` — any code of the list ever recorded;
* ``medication: <code list>`` with ``within_days`` — issued in that many days before the
  as-of date; or with ``current: true`` — an active prescription on the as-of date (long-term
  medicines are one active request, not a new one each month);
* ``observation: <code list>`` with ``within_days`` — recorded in that window; with
  ``last_above`` / ``last_at_least`` the person's most recent value (in the window) must be
  above / at least that number;
* ``immunisation: <code list>`` with ``within_days``;
* ``encounter: <code list>`` with ``within_days`` — an encounter of that type (e.g. the
  annual diabetes review) in the window;
* ``measure: cha2ds2_vasc`` with ``at_least``; ``measure: efi`` with ``category_in``
  (e.g. ``[moderate, severe]``); ``measure: bridges_to_health`` with ``segment_in`` (the
  segments' names); ``measure: vulnerability`` (any of its reasons);
* ``emergency_admissions: N`` with ``within_days`` — N or more emergency admissions;
* ``person: {core20: true}``, ``person: {age_at_least: N}``, ``person: {age_below: N}``;
* ``any_of: [...]`` — people who meet at least one of the listed criteria, each a criterion
  as above or ``{without: criterion}`` (e.g. "the last HbA1c above 58, or no review").

Code lists are :data:`joinedup.population.measures.CODE_LISTS` plus the medicine,
observation and vaccine lists in :data:`CODE_LISTS` here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import ibis
import yaml
from ibis import _
from ibis.expr.types import Table

from joinedup.population import measures
from joinedup.population.measures import BRIDGES_TO_HEALTH, Lake

#: Medicines, observations and vaccines the shipped cohorts use (SNOMED CT / dm+d; examples
#: an ICS extends with its own reference sets).
CODE_LISTS: Final[dict[str, tuple[str, ...]]] = {
    **measures.CODE_LISTS,
    # Oral anticoagulants: apixaban 5 mg and 2.5 mg, rivaroxaban 20 mg (dm+d VMPs).
    "anticoagulants": ("703908001", "703907006", "442031002"),
    "systolic_blood_pressure": ("271649006", "8480-6"),
    "hba1c": ("999791000000106", "59261-8"),
    # Seasonal influenza vaccination: the procedure and the vaccine products.
    "flu_vaccination": ("822851000000102", "40085311000001103", "1181000221105"),
    # Encounter types: the diabetes annual review; the physical health check for severe
    # mental illness (JoinedUp's own code, onto which an ICS maps its reference set).
    "diabetes_review": ("170777000",),
    "smi_health_check": ("smi-annual-health-check",),
}


#: The cohorts JoinedUp ships (``joinedup population cohort`` runs them all by default).
SHIPPED_COHORTS: Final = Path(__file__).parent / "cohorts_shipped"


class CohortError(ValueError):
    """A cohort file is wrong; the message names the rule and what is wrong with it."""


@dataclass(frozen=True)
class Step:
    """One line of the attrition table."""

    rule: str
    remaining: int
    removed: int


@dataclass(frozen=True)
class CohortResult:
    """A run: the people in the cohort and the attrition, rule by rule."""

    name: str
    people: Table  # person_id
    attrition: list[Step]
    entered: Table  # person_id: everyone the entry criterion took in

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the attrition; the people stay in the lake)."""
        return {
            "cohort": self.name,
            "attrition": [s.__dict__ for s in self.attrition],
            "size": self.attrition[-1].remaining if self.attrition else 0,
        }


def load_cohort(path: Path) -> dict[str, Any]:
    """A cohort definition, checked: every rule of a known kind naming known code lists."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise CohortError(f"{path.name}: not valid YAML ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise CohortError(f"{path.name}: needs a name")
    if not isinstance(data.get("entry"), dict):
        raise CohortError(
            f"{path.name}: needs an entry (e.g. entry: {{condition: atrial_fibrillation}})"
        )
    _check_criterion(data["entry"], f"{path.name}: entry")
    for i, rule in enumerate(data.get("rules") or [], start=1):
        where = f"{path.name}: rule {i}"
        if not isinstance(rule, dict) or not isinstance(rule.get("name"), str):
            raise CohortError(f"{where}: needs a name")
        criterion = {k: v for k, v in rule.items() if k != "name"}
        if "without" in criterion:
            criterion = criterion["without"]
        elif "with" in criterion:
            criterion = criterion["with"]
        _check_criterion(criterion, f"{where} ({rule['name']})")
    return data


_KINDS: Final = (
    "condition",
    "medication",
    "observation",
    "immunisation",
    "encounter",
    "measure",
    "emergency_admissions",
    "person",
    "any_of",
)
_CODED: Final = ("condition", "medication", "observation", "immunisation", "encounter")
_MEASURES: Final = ("cha2ds2_vasc", "efi", "bridges_to_health", "vulnerability")


def _check_criterion(criterion: Any, where: str) -> None:
    if not isinstance(criterion, dict):
        raise CohortError(f"{where}: expected a mapping")
    kinds = [k for k in _KINDS if k in criterion]
    if len(kinds) != 1:
        raise CohortError(f"{where}: name exactly one of {', '.join(_KINDS)}")
    kind = kinds[0]
    if kind in _CODED:
        if criterion[kind] not in CODE_LISTS:
            raise CohortError(f"{where}: no code list called {criterion[kind]!r}")
    elif kind == "measure":
        if criterion["measure"] not in _MEASURES:
            raise CohortError(f"{where}: unknown measure {criterion['measure']!r}")
        segments = criterion.get("segment_in")
        if criterion["measure"] == "bridges_to_health" and (
            not isinstance(segments, list) or not set(segments) <= set(BRIDGES_TO_HEALTH)
        ):
            raise CohortError(
                f"{where}: segment_in lists Bridges to Health segments: "
                + "; ".join(BRIDGES_TO_HEALTH)
            )
    elif kind == "any_of":
        options = criterion["any_of"]
        if not isinstance(options, list) or len(options) < 2:
            raise CohortError(f"{where}: any_of lists two or more criteria")
        for i, option in enumerate(options, start=1):
            inner = option.get("without", option) if isinstance(option, dict) else option
            _check_criterion(inner, f"{where}, any_of option {i}")


def run_cohort(definition: Mapping[str, Any], lake: Lake, as_of: date) -> CohortResult:
    """The cohort's people and its attrition (entry, then each rule in order). Only the
    living people registered with a practice enter: a cohort is for acting on."""
    registered = measures.registered_population(lake).select("person_id")
    people = entered = _matching(definition["entry"], lake, as_of).semi_join(
        registered, "person_id"
    )
    attrition = [Step("entry: " + _describe(definition["entry"]), _count(people), 0)]
    for rule in definition.get("rules") or []:
        if "without" in rule:
            matched = _matching(rule["without"], lake, as_of)
            people = people.anti_join(matched, "person_id")
        else:
            matched = _matching(rule.get("with", rule), lake, as_of)
            people = people.semi_join(matched, "person_id")
        remaining = _count(people)
        attrition.append(Step(rule["name"], remaining, attrition[-1].remaining - remaining))
    return CohortResult(definition["name"], people, attrition, entered)


def _count(table: Table) -> int:
    return int(table.count().execute())


def _describe(criterion: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in criterion.items())


def _matching(c: Mapping[str, Any], lake: Lake, as_of: date) -> Table:
    """The people (``person_id``, one row each) a criterion holds for."""
    since = as_of - timedelta(days=int(c.get("within_days", 365 * 200)))
    if "condition" in c:
        codes = list(CODE_LISTS[c["condition"]])
        return lake.condition.filter(_.code.isin(codes)).select("person_id").distinct()
    if "medication" in c:
        codes = list(CODE_LISTS[c["medication"]])
        issued = lake.medication.filter(_.code.isin(codes), _.issued <= as_of)
        if c.get("current"):
            issued = issued.filter(_.status == "active")
        else:
            issued = issued.filter(_.issued >= since)
        return issued.select("person_id").distinct()
    if "any_of" in c:
        options = [
            lake.person.select("person_id").anti_join(
                _matching(option["without"], lake, as_of), "person_id"
            )
            if "without" in option
            else _matching(option, lake, as_of)
            for option in c["any_of"]
        ]
        return ibis.union(*options, distinct=True)
    if "encounter" in c:
        codes = list(CODE_LISTS[c["encounter"]])
        seen = lake.encounter.filter(
            _.type_code.isin(codes), _.start.date() >= since, _.start.date() <= as_of
        )
        return seen.select("person_id").distinct()
    if "immunisation" in c:
        codes = list(CODE_LISTS[c["immunisation"]])
        given = lake.immunisation.filter(
            _.code.isin(codes), _.administered >= since, _.administered <= as_of
        )
        return given.select("person_id").distinct()
    if "observation" in c:
        codes = list(CODE_LISTS[c["observation"]])
        seen = lake.observation.filter(
            _.code.isin(codes), _.effective >= since, _.effective <= as_of, _.value.notnull()
        )
        if "last_above" not in c and "last_at_least" not in c:
            return seen.select("person_id").distinct()
        newest = seen.mutate(
            rank=ibis.row_number().over(
                group_by="person_id", order_by=[ibis.desc("effective"), ibis.desc("value")]
            )
        ).filter(_.rank == 0)
        if "last_above" in c:
            newest = newest.filter(_.value > float(c["last_above"]))
        else:
            newest = newest.filter(_.value >= float(c["last_at_least"]))
        return newest.select("person_id").distinct()
    if c.get("measure") == "efi":
        frailty = measures.efi(lake)
        return frailty.filter(_.category.isin(list(c["category_in"]))).select("person_id")
    if c.get("measure") == "bridges_to_health":
        segments = measures.bridges_to_health(lake, as_of)
        return segments.filter(_.segment.isin(list(c["segment_in"]))).select("person_id")
    if c.get("measure") == "vulnerability":
        return measures.vulnerability(lake, as_of).filter(_.vulnerable == 1).select("person_id")
    if "measure" in c:
        scored = measures.cha2ds2_vasc(lake)
        return scored.filter(_.score >= int(c.get("at_least", 0))).select("person_id")
    if "emergency_admissions" in c:
        days = int(c.get("within_days", 365 * 200))
        counts = measures.emergency_admissions(lake, as_of, days=days)
        return counts.filter(_.admissions >= int(c["emergency_admissions"])).select("person_id")
    rules = c["person"]
    person = lake.person
    if "core20" in rules:
        person = person.filter(_.core20 == bool(rules["core20"]))
    if "age_at_least" in rules:
        person = person.filter(_.age >= int(rules["age_at_least"]))
    if "age_below" in rules:
        person = person.filter(_.age < int(rules["age_below"]))
    return person.select("person_id")
