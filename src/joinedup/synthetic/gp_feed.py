"""The GP practices' feed: one FHIR R4 (UK Core) transaction Bundle per patient per practice.

Layout: ``feeds/gp-<ODS>/bundles-<chunk>.ndjson`` (chunk = five digits), one Bundle a line
(compact JSON, UTF-8); read a practice's parts in name order. NDJSON rather than a file per
patient: at full size there are about 600,000 bundles, and that many small files is slow to
write, copy and read. One part per chunk rather than one file per practice: the parts are
moved into place as each chunk finishes, where concatenating about 9 GB would double the
disk writes. Each Bundle is a ``transaction`` that a FHIR server (or the platform's intake)
can apply as it is:

* ``Patient``, ``PUT`` conditionally on the practice-local identifier, with the NHS number
  (``https://fhir.nhs.uk/Id/nhs-number`` and UK Core's NHSNumberVerificationStatus extension),
  name, gender, birth date, addresses while registered, UK Core EthnicCategory,
  ``generalPractitioner`` by ODS code and the registration period (an extension);
* ``Condition``, ``MedicationRequest``, ``Observation``, ``Encounter`` and ``Immunization``,
  ``POST``, referring to the Patient (and to each other) by ``urn:uuid:`` full URLs.

Full URLs are random UUIDs (version 4 layout) drawn from the chunk's seeded stream, so they
are the same on every run with the same seed. The writer builds plain dicts and serialises
them with orjson: validating with ``fhir.resources`` here would be too slow at full size
(the tests parse samples with the R4B models instead).

This module holds row-level (synthetic) person data: it never logs a person.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Final

import orjson

from joinedup.synthetic import codes
from joinedup.synthetic.health import GpRecord, draw_gp_record
from joinedup.synthetic.model import Person, Registration, TruthRow

FEED_NAME: Final = "gp-fhir"
NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM: Final = "https://fhir.nhs.uk/Id/ods-organization-code"
UK_CORE: Final = "https://fhir.hl7.org.uk/StructureDefinition/"
NHS_NUMBER_VERIFICATION_URL: Final = UK_CORE + "Extension-UKCore-NHSNumberVerificationStatus"
NHS_NUMBER_VERIFICATION_SYSTEM: Final = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
)
ETHNIC_CATEGORY_URL: Final = UK_CORE + "Extension-UKCore-EthnicCategory"
VACCINATION_PROCEDURE_URL: Final = UK_CORE + "Extension-UKCore-VaccinationProcedure"
#: Our own extension for the registration period (UK Core has none; GP Connect has its own).
REGISTRATION_PERIOD_URL: Final = (
    "https://fhir.joinedup.example/StructureDefinition/gp-registration-period"
)
_TERMINOLOGY: Final = "http://terminology.hl7.org/CodeSystem/"


def local_id_system(practice: str) -> str:
    """The identifier system of a practice's own patient ids (synthetic: ``.example`` domain)."""
    return f"https://fhir.joinedup.example/Id/gp-practice/{practice}/patient"


def gp_feed_path(out: Path, practice: str, chunk: int) -> Path:
    """Where one chunk's bundles for a practice go under an output folder."""
    return out / "feeds" / f"gp-{practice}" / f"bundles-{chunk:05d}.ndjson"


#: Share of registrations whose NHS number the practice has not yet traced.
NOT_TRACED: Final = 0.005
#: Share of patients whose ethnicity the practice has recorded as not stated.
ETHNICITY_NOT_STATED: Final = 0.05


@dataclass(frozen=True, slots=True)
class GpFeedResult:
    """What writing one chunk's GP feed produced."""

    truth: list[TruthRow]
    bundles: int
    resources: int


def write_gp_feed(
    people: Sequence[Person],
    *,
    start: date,
    end: date,
    rnd: random.Random,
    chunk: int,
    out: Path,
) -> GpFeedResult:
    """Write these people's GP records over [start, end) as bundles under ``out/feeds/gp-*``.

    Returns the ground truth (practice-local id -> person) and counts.
    """
    lines: dict[str, list[bytes]] = {}
    truth: list[TruthRow] = []
    bundles = 0
    resources = 0
    extract = f"{end.isoformat()}T02:00:00+00:00"
    for person in people:
        if not person.registrations:
            continue
        record = draw_gp_record(person, start=start, end=end, rnd=rnd)
        for registration in person.registrations:
            entries = _bundle_entries(person, registration, record, end=end, rnd=rnd)
            bundle = {
                "resourceType": "Bundle",
                "type": "transaction",
                "timestamp": extract,
                "entry": entries,
            }
            lines.setdefault(registration.practice, []).append(orjson.dumps(bundle))
            bundles += 1
            resources += len(entries)
            truth.append(
                TruthRow(registration.practice, FEED_NAME, registration.local_id, person.person_id)
            )
    # One write per practice per chunk: far fewer system calls than one per bundle.
    for practice in sorted(lines):
        path = gp_feed_path(out, practice, chunk)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.write(b"\n".join(lines[practice]) + b"\n")
    return GpFeedResult(truth=truth, bundles=bundles, resources=resources)


# --- Rendering -------------------------------------------------------------------------------


class _Ids:
    """Random-looking UUIDs for one bundle: 96 drawn bits plus a sequence number."""

    __slots__ = ("_prefix", "_seq")

    def __init__(self, rnd: random.Random) -> None:
        h = f"{rnd.getrandbits(96):024x}"
        self._prefix = f"urn:uuid:{h[:8]}-{h[8:12]}-4{h[12:15]}-8{h[15:18]}-{h[18:24]}"
        self._seq = 0

    def next(self) -> str:
        self._seq += 1
        return f"{self._prefix}{self._seq:06x}"


@cache
def _utc_offset_bounds(year: int) -> tuple[int, int]:
    """British Summer Time in ``year``: [last Sunday of March, last Sunday of October)."""
    march_end = date(year, 3, 31).toordinal()
    october_end = date(year, 10, 31).toordinal()
    # date.weekday(): Monday 0 ... Sunday 6; step back to the last Sunday.
    march = march_end - (date.fromordinal(march_end).weekday() + 1) % 7
    october = october_end - (date.fromordinal(october_end).weekday() + 1) % 7
    return march, october


@cache
def _day_and_offset(day: date) -> tuple[str, str]:
    march, october = _utc_offset_bounds(day.year)
    return day.isoformat(), "+01:00" if march <= day.toordinal() < october else "+00:00"


def _datetime(day: date, minute: int) -> str:
    """Local (UK) date and time with its offset, as FHIR dateTime wants one with a time."""
    iso, offset = _day_and_offset(day)
    return f"{iso}T{minute // 60:02d}:{minute % 60:02d}:00{offset}"


_CLINICAL_ACTIVE: Final = {
    "coding": [{"system": _TERMINOLOGY + "condition-clinical", "code": "active"}]
}
_VERIFICATION_CONFIRMED: Final = {
    "coding": [{"system": _TERMINOLOGY + "condition-ver-status", "code": "confirmed"}]
}
_PROBLEM_LIST: Final = [
    {"coding": [{"system": _TERMINOLOGY + "condition-category", "code": "problem-list-item"}]}
]
_CONTINUOUS: Final = {
    "coding": [
        {"system": _TERMINOLOGY + "medicationrequest-course-of-therapy", "code": "continuous"}
    ]
}
_VERIFIED: Final = [
    {
        "url": NHS_NUMBER_VERIFICATION_URL,
        "valueCodeableConcept": {
            "coding": [
                {
                    "system": NHS_NUMBER_VERIFICATION_SYSTEM,
                    "code": "01",
                    "display": "Number present and verified",
                }
            ]
        },
    }
]
_NOT_TRACED: Final = [
    {
        "url": NHS_NUMBER_VERIFICATION_URL,
        "valueCodeableConcept": {
            "coding": [
                {
                    "system": NHS_NUMBER_VERIFICATION_SYSTEM,
                    "code": "02",
                    "display": "Number present but not traced",
                }
            ]
        },
    }
]


@cache
def _category(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": _TERMINOLOGY + "observation-category", "code": code}]}]


@cache
def _observation_code(kind: str) -> dict[str, Any]:
    o = codes.OBSERVATIONS[kind]
    coding: list[dict[str, str]] = [o.snomed.coding()]
    if o.loinc is not None:
        # The SNOMED CT coding carries the display; LOINC's long names would double the size.
        coding.append({"system": o.loinc.system, "code": o.loinc.code})
    return {"coding": coding}


@cache
def _encounter_class(code: str) -> dict[str, str]:
    return {"system": codes.ACT_CODE_SYSTEM, "code": code}


@cache
def _encounter_type(kind: str) -> list[dict[str, Any]]:
    return [{"coding": [codes.ENCOUNTER_TYPES[kind][0].coding()]}]


@cache
def _quantity(kind: str) -> tuple[str, str]:
    o = codes.OBSERVATIONS[kind]
    return o.unit_display, o.unit


def _number(value: float | str | None) -> float:
    if value is None or isinstance(value, str):
        raise TypeError("a quantity observation needs a number")
    return value


def _value(kind: str, value: float) -> dict[str, Any]:
    unit, code = _quantity(kind)
    return {"value": value, "unit": unit, "system": codes.UCUM, "code": code}


def _bundle_entries(
    person: Person, registration: Registration, record: GpRecord, *, end: date, rnd: random.Random
) -> list[dict[str, Any]]:
    ids = _Ids(rnd)
    practice = registration.practice
    reg_start = registration.start.toordinal()
    reg_stop = (registration.end or end).toordinal()
    patient_url = ids.next()
    subject = {"reference": patient_url}
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": patient_url,
            "resource": _patient(person, registration, end, rnd),
            "request": {
                "method": "PUT",
                "url": f"Patient?identifier={local_id_system(practice)}|{registration.local_id}",
            },
        }
    ]

    condition_urls: dict[str, str] = {}
    for diagnosis in person.diagnoses:
        if diagnosis.onset.toordinal() >= reg_stop:
            continue
        url = ids.next()
        condition_urls[diagnosis.condition] = url
        model = codes.CONDITIONS[diagnosis.condition]
        onset = diagnosis.onset.isoformat()
        entries.append(
            {
                "fullUrl": url,
                "resource": {
                    "resourceType": "Condition",
                    "clinicalStatus": _CLINICAL_ACTIVE,
                    "verificationStatus": _VERIFICATION_CONFIRMED,
                    "category": _PROBLEM_LIST,
                    "code": {"coding": [model.code.coding()]},
                    "subject": subject,
                    "onsetDateTime": onset,
                    "recordedDate": max(diagnosis.onset, registration.start).isoformat(),
                },
                "request": {"method": "POST", "url": "Condition"},
            }
        )

    appointment_urls: dict[int, str] = {}
    for index, appointment in enumerate(record.appointments):
        day = appointment.day.toordinal()
        if not reg_start <= day < reg_stop:
            continue
        url = ids.next()
        appointment_urls[index] = url
        class_code = codes.ENCOUNTER_TYPES[appointment.kind][1]
        entries.append(
            {
                "fullUrl": url,
                "resource": {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": _encounter_class(class_code),
                    "type": _encounter_type(appointment.kind),
                    "subject": subject,
                    "period": {"start": _datetime(appointment.day, appointment.minute)},
                    "serviceProvider": {"identifier": {"system": ODS_SYSTEM, "value": practice}},
                },
                "request": {"method": "POST", "url": "Encounter"},
            }
        )

    for measurement in record.measurements:
        day = measurement.day.toordinal()
        if not reg_start <= day < reg_stop:
            continue
        kind = measurement.kind
        observation: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "category": _category(codes.OBSERVATIONS[kind].category),
            "code": _observation_code(kind),
            "subject": subject,
            "effectiveDateTime": measurement.day.isoformat(),
        }
        if measurement.appointment is not None and measurement.appointment in appointment_urls:
            observation["encounter"] = {"reference": appointment_urls[measurement.appointment]}
        if kind == "blood_pressure":
            observation["component"] = [
                {
                    "code": _observation_code("systolic"),
                    "valueQuantity": _value("systolic", _number(measurement.value)),
                },
                {
                    "code": _observation_code("diastolic"),
                    "valueQuantity": _value("diastolic", _number(measurement.value2)),
                },
            ]
        elif kind == "smoking_status":
            observation["valueCodeableConcept"] = {
                "coding": [codes.SMOKING_STATUS[str(measurement.value)].coding()]
            }
        else:
            observation["valueQuantity"] = _value(kind, _number(measurement.value))
        entries.append(
            {
                "fullUrl": ids.next(),
                "resource": observation,
                "request": {"method": "POST", "url": "Observation"},
            }
        )

    registered_to = registration.end
    for course in record.medications:
        course_start = course.start.toordinal()
        course_end = course.end.toordinal() if course.end else None
        if course_start >= reg_stop or (course_end is not None and course_end <= reg_start):
            continue
        medicine = codes.MEDICINES[course.medicine]
        if course_end is not None and course_end <= reg_stop:
            status = "stopped"
        elif registered_to is not None:
            status = "stopped"  # the patient left (or died): the practice's course is over
        else:
            status = "active"
        request: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "status": status,
            "intent": "order",
            "medicationCodeableConcept": {"coding": [medicine.code.coding()]},
            "subject": subject,
            # A new practice re-authorises the repeat on registration (GP2GP brings the history).
            "authoredOn": max(course.start, registration.start).isoformat(),
            "courseOfTherapyType": _CONTINUOUS,
            "dosageInstruction": [{"text": medicine.dosage}],
            "dispenseRequest": {"quantity": {"value": medicine.quantity, "unit": medicine.unit}},
        }
        if course.reason in condition_urls:
            request["reasonReference"] = [{"reference": condition_urls[course.reason]}]
        entries.append(
            {
                "fullUrl": ids.next(),
                "resource": request,
                "request": {"method": "POST", "url": "MedicationRequest"},
            }
        )

    for vaccination in record.vaccinations:
        day = vaccination.day.toordinal()
        if not reg_start <= day < reg_stop:
            continue
        entries.append(
            {
                "fullUrl": ids.next(),
                "resource": {
                    "resourceType": "Immunization",
                    "extension": [
                        {
                            "url": VACCINATION_PROCEDURE_URL,
                            "valueCodeableConcept": {
                                "coding": [codes.FLU_VACCINATION_PROCEDURE.coding()]
                            },
                        }
                    ],
                    "status": "completed",
                    "vaccineCode": {"coding": [vaccination.vaccine.coding()]},
                    "patient": subject,
                    "occurrenceDateTime": vaccination.day.isoformat(),
                    "primarySource": True,
                },
                "request": {"method": "POST", "url": "Immunization"},
            }
        )
    return entries


def _patient(
    person: Person, registration: Registration, end: date, rnd: random.Random
) -> dict[str, Any]:
    practice = registration.practice
    known_until = registration.end or end
    # The practice knows the addresses the patient had while registered with it.
    addresses: list[dict[str, Any]] = []
    moves = person.addresses
    for i, address in enumerate(moves):
        left = moves[i + 1].since if i + 1 < len(moves) else None
        if address.since >= known_until or (left is not None and left <= registration.start):
            continue
        addresses.append(
            {
                "use": "home" if left is None or left >= known_until else "old",
                "line": [address.line],
                "city": address.town,
                "postalCode": address.postcode,
            }
        )
    ethnicity = "Z" if rnd.random() < ETHNICITY_NOT_STATED else person.ethnicity
    period: dict[str, str] = {"start": registration.start.isoformat()}
    if registration.end is not None:
        period["end"] = registration.end.isoformat()
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "meta": {"profile": [UK_CORE + "UKCore-Patient"]},
        "extension": [
            {
                "url": ETHNIC_CATEGORY_URL,
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": codes.ETHNIC_CATEGORY_SYSTEM,
                            "code": ethnicity,
                            "display": codes.ETHNIC_CATEGORIES[ethnicity],
                        }
                    ]
                },
            },
            {"url": REGISTRATION_PERIOD_URL, "valuePeriod": period},
        ],
        "identifier": [
            {
                "extension": _NOT_TRACED if rnd.random() < NOT_TRACED else _VERIFIED,
                "system": NHS_NUMBER_SYSTEM,
                "value": person.nhs_number,
            },
            {"system": local_id_system(practice), "value": registration.local_id},
        ],
        "active": registration.end is None,
        "name": [{"use": "official", "family": person.family, "given": [person.given]}],
        "gender": person.sex,
        "birthDate": person.birth_date.isoformat(),
        "address": addresses,
        "generalPractitioner": [{"identifier": {"system": ODS_SYSTEM, "value": practice}}],
    }
    if person.death_date is not None and person.death_date <= known_until:
        patient["deceasedDateTime"] = person.death_date.isoformat()
    return patient


__all__ = [
    "FEED_NAME",
    "GpFeedResult",
    "gp_feed_path",
    "local_id_system",
    "write_gp_feed",
]
