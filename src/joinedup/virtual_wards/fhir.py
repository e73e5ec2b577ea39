"""Virtual-ward readings over FHIR: UK Core vital-signs Observations in, readings out.

Each Observation is one reading, coded as UK Core's vital signs are (LOINC), or ACVPU in
SNOMED CT, with the UCUM unit NEWS2 uses; a reading in another unit is refused with the
unit expected (°F is not converted: a thermometer set to °F is a device to fix). The person
is ``subject.identifier`` with the NHS-number system. ``identifier`` (or, without one, the
device, the person, the code and the time) makes the reading's dedup key, so a device's
re-sent upload is stored once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from joinedup.feeds.model import Issue, IssueCode
from joinedup.feeds.uk_core import NHS_NUMBER_SYSTEM
from joinedup.virtual_wards.store import Reading

LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"

#: (system, code) -> (parameter, UCUM unit expected; None for a coded value).
CODES: Final[dict[tuple[str, str], tuple[str, str | None]]] = {
    (LOINC, "9279-1"): ("respiratory_rate", "/min"),
    (LOINC, "59408-5"): ("spo2", "%"),  # SpO2 by pulse oximetry
    (LOINC, "2708-6"): ("spo2", "%"),  # oxygen saturation in arterial blood
    (LOINC, "8480-6"): ("systolic", "mm[Hg]"),
    (LOINC, "8867-4"): ("pulse", "/min"),
    (LOINC, "8310-5"): ("temperature", "Cel"),
    (LOINC, "3150-0"): ("air_or_oxygen", "%"),  # inhaled oxygen concentration: 21% is air
    (LOINC, "3151-8"): ("air_or_oxygen", "L/min"),  # inhaled oxygen flow: 0 is air
    (SNOMED, "1104441000000107"): ("consciousness", None),  # ACVPU scale score
}
#: The blood-pressure panel: its systolic component is read.
BP_PANEL: Final = (LOINC, "85354-9")
#: ACVPU answers (SNOMED CT) -> the letter NEWS2 scores.
ACVPU: Final = {
    "248234008": "A",  # mentally alert
    "130987000": "C",  # acute confusion
    "300202002": "V",  # responds to voice
    "450847001": "P",  # responds to pain
    "422768004": "U",  # unresponsive
}
AIR_FIO2: Final = 21.0


@dataclass(frozen=True)
class ParsedReading:
    """A reading from an Observation, and whose it is."""

    nhs_number: str
    reading: Reading
    where: str


def parse_observations(body: Any) -> tuple[list[ParsedReading], list[Issue]]:
    """The readings in one Observation or a Bundle (batch, collection or transaction) of them,
    and every problem found (each with its element path)."""
    if not isinstance(body, dict):
        return [], [Issue(IssueCode.STRUCTURE, "body", "expected an Observation or a Bundle")]
    if body.get("resourceType") == "Observation":
        return _parse_one(body, "Observation")
    if body.get("resourceType") != "Bundle":
        return [], [Issue(IssueCode.STRUCTURE, "resourceType", "expected Observation or Bundle")]
    readings: list[ParsedReading] = []
    issues: list[Issue] = []
    for n, entry in enumerate(body.get("entry") or []):
        resource = (entry or {}).get("resource") or {}
        where = f"Bundle.entry[{n}].resource"
        if resource.get("resourceType") != "Observation":
            issues.append(Issue(IssueCode.STRUCTURE, where, "expected an Observation"))
            continue
        found, problems = _parse_one(resource, where)
        readings += found
        issues += problems
    if not readings and not issues:
        issues.append(Issue(IssueCode.REQUIRED, "Bundle.entry", "no Observations"))
    return readings, issues


def _parse_one(o: dict[str, Any], where: str) -> tuple[list[ParsedReading], list[Issue]]:
    issues: list[Issue] = []
    subject = (o.get("subject") or {}).get("identifier") or {}
    nhs = (
        str(subject["value"])
        if subject.get("system") == NHS_NUMBER_SYSTEM and subject.get("value")
        else None
    )
    if nhs is None:
        issues.append(
            Issue(IssueCode.REQUIRED, f"{where}.subject.identifier", "the person's NHS number")
        )
    if o.get("status") not in ("final", "amended", "corrected", "preliminary"):
        issues.append(Issue(IssueCode.VALUE, f"{where}.status", "a reading that is final"))
    when = _instant(o.get("effectiveDateTime"))
    if when is None:
        issues.append(
            Issue(
                IssueCode.REQUIRED,
                f"{where}.effectiveDateTime",
                "when it was taken, with a time zone",
            )
        )
    coded = _code(o.get("code"), CODES) or _code(o.get("code"), {BP_PANEL: ("bp", None)})
    if coded is None:
        issues.append(
            Issue(
                IssueCode.VALUE,
                f"{where}.code",
                "not a vital sign NEWS2 uses (see docs/virtual_wards.md)",
            )
        )
    if issues or nhs is None or when is None or coded is None:
        return [], issues
    parameter, unit = coded
    if parameter == "bp":
        component = next(
            (
                c
                for c in o.get("component") or []
                if _code(c.get("code"), {(LOINC, "8480-6"): ("systolic", "mm[Hg]")})
            ),
            None,
        )
        if component is None:
            return [], [
                Issue(IssueCode.REQUIRED, f"{where}.component", "the systolic component (8480-6)")
            ]
        o, parameter, unit, where = component, "systolic", "mm[Hg]", f"{where}.component"
    value, problem = _value(o, parameter, unit, where)
    if problem is not None:
        return [], [problem]
    key = _dedup_key(o, nhs, parameter, when)
    if parameter == "consciousness":
        return [ParsedReading(nhs, Reading(parameter, when, key, code=str(value)), where)], []
    return [ParsedReading(nhs, Reading(parameter, when, key, value=float(value)), where)], []


def _value(
    o: dict[str, Any], parameter: str, unit: str | None, where: str
) -> tuple[float | str, Issue | None]:
    if unit is None:  # ACVPU
        coding = ((o.get("valueCodeableConcept") or {}).get("coding") or [{}])[0]
        letter = ACVPU.get(str(coding.get("code"))) if coding.get("system") == SNOMED else None
        if letter is None:
            return "", Issue(
                IssueCode.VALUE,
                f"{where}.valueCodeableConcept",
                "an ACVPU answer in SNOMED CT (alert 248234008, confusion 130987000, voice "
                "300202002, pain 450847001, unresponsive 422768004)",
            )
        return letter, None
    quantity = o.get("valueQuantity") or {}
    number = quantity.get("value")
    if not isinstance(number, (int, float)) or isinstance(number, bool):
        return 0.0, Issue(IssueCode.REQUIRED, f"{where}.valueQuantity.value", "a number")
    if quantity.get("code") != unit or quantity.get("system", UCUM) != UCUM:
        return 0.0, Issue(
            IssueCode.VALUE,
            f"{where}.valueQuantity.code",
            f"the unit must be UCUM '{unit}' (got '{quantity.get('code')}')",
        )
    if parameter == "air_or_oxygen":  # FiO2 % or flow: air is 21% or 0 L/min
        return (0.0 if number <= (AIR_FIO2 if unit == "%" else 0) else 1.0), None
    return float(number), None


def _code(
    concept: Any, known: dict[tuple[str, str], tuple[str, str | None]]
) -> tuple[str, str | None] | None:
    for coding in (concept or {}).get("coding") or []:
        found = known.get((str(coding.get("system")), str(coding.get("code"))))
        if found is not None:
            return found
    return None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _dedup_key(o: dict[str, Any], nhs: str, parameter: str, when: datetime) -> str:
    identifier = (o.get("identifier") or [{}])[0]
    if identifier.get("value"):
        raw = f"{identifier.get('system', '')}|{identifier['value']}|{parameter}"
    else:
        device = ((o.get("device") or {}).get("identifier") or {}).get("value", "")
        raw = f"{device}|{nhs}|{parameter}|{when.isoformat()}"
    return "fhir/" + hashlib.sha256(raw.encode()).hexdigest()[:40]
