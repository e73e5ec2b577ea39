"""A few people's records from several partners, taken in through the real feeds pipeline.

Ann Smith is registered at ``practice``; the GP and the hospital (REF) both record her
amlodipine and her penicillin allergy (so the joined-up record shows each once, with two
sources), and the hospital has her in an open encounter. Bob Jones is registered at
``other_practice`` and has a mental-health condition labelled sensitive (``PSY``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session, sessionmaker

from joinedup.feeds.intake import ingest_message
from joinedup.feeds.model import Message, MessageFormat
from joinedup.feeds.pipeline import Outcome
from joinedup.identity.index import current_link, source_record_id

NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
SNOMED = "http://snomed.info/sct"
ANN_NHS = "9434765919"
BOB_NHS = "9434765927"
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class People:
    """The person keys of the people loaded."""

    ann: str
    bob: str


def _coded(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": display}


def _patient(nhs: str, local: str, family: str, given: str, born: str, gp: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": NHS, "value": nhs},
            {"system": "https://fhir.example.org/Id/local", "value": local},
        ],
        "name": [{"family": family, "given": [given]}],
        "gender": "female" if given == "Ann" else "male",
        "birthDate": born,
        "address": [{"line": ["1 Fore Street"], "postalCode": "TR18 2AB"}],
        "generalPractitioner": [{"identifier": {"system": ODS, "value": gp}}],
        "extension": [
            {
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory",
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland",
                            "code": "A" if given == "Ann" else "Z",
                        }
                    ]
                },
            }
        ],
    }


def _bundle(
    bundle_id: str, patient: dict[str, Any], *resources: dict[str, Any], ns: int = 0
) -> bytes:
    # The full URLs become the resources' ids: ``ns`` keeps one bundle's apart from another's.
    base = f"urn:uuid:{ns:08x}-0000-4000-8000-"
    entries = [{"fullUrl": f"{base}000000000001", "resource": patient}]
    for i, resource in enumerate(resources, start=2):
        body = {**resource, "subject": {"reference": f"{base}000000000001"}}
        if resource["resourceType"] in ("AllergyIntolerance",):
            body["patient"] = body.pop("subject")
        entries.append({"fullUrl": f"{base}{i:012d}", "resource": body})
    return orjson.dumps(
        {
            "resourceType": "Bundle",
            "id": bundle_id,
            "type": "transaction",
            "entry": [
                {**e, "request": {"method": "POST", "url": e["resource"]["resourceType"]}}
                for e in entries
            ],
        }
    )


def _send(sessions: sessionmaker[Session], partner: str, feed: str, body: bytes) -> None:
    message = Message(partner, feed, MessageFormat.FHIR_JSON, body, AT, name="test")
    outcomes = ingest_message(sessions, message)
    assert [o.outcome for o in outcomes] == [Outcome.ACCEPTED], outcomes


AMLODIPINE = ("319283006", "Amlodipine 5mg tablets")
PENICILLIN = ("91936005", "Allergy to penicillin")


def load_people(
    sessions: sessionmaker[Session], *, practice: str, other_practice: str, hospital: str = "REF"
) -> People:
    """Take in the GP and hospital feeds for Ann and Bob; returns their person keys."""
    ann_gp = _patient(ANN_NHS, "A1", "Smith", "Ann", "1948-03-27", practice)
    _send(
        sessions,
        practice,
        "gp-fhir",
        _bundle(
            "gp-ann",
            ann_gp,
            {
                "resourceType": "Condition",
                "code": _coded("38341003", "Hypertension"),
                "onsetDateTime": "2019-05-01",
            },
            {
                "resourceType": "MedicationRequest",
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": _coded(*AMLODIPINE),
                "authoredOn": "2026-10-01",
            },
            {
                "resourceType": "AllergyIntolerance",
                "code": _coded(*PENICILLIN),
                "recordedDate": "2001-01-01",
            },
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {
                    "coding": [{"system": "http://loinc.org", "code": "8480-6"}],
                    "text": "Systolic blood pressure",
                },
                "effectiveDateTime": "2026-10-01T10:00:00Z",
                "valueQuantity": {"value": 148, "unit": "mmHg"},
            },
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {
                    "coding": [{"system": "http://loinc.org", "code": "8480-6"}],
                    "text": "Systolic blood pressure",
                },
                "effectiveDateTime": "2025-04-01T10:00:00Z",
                "valueQuantity": {"value": 139, "unit": "mmHg"},
            },
            {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                },
                "period": {"start": "2026-10-01T09:50:00Z", "end": "2026-10-01T10:05:00Z"},
            },
        ),
    )
    ann_hospital = _patient(ANN_NHS, "H77", "Smith", "Ann", "1948-03-27", practice)
    _send(
        sessions,
        hospital,
        "acute-fhir",
        _bundle(
            "ref-ann",
            ann_hospital,
            {
                "resourceType": "MedicationStatement",
                "status": "active",
                "medicationCodeableConcept": _coded(*AMLODIPINE),
                "effectiveDateTime": "2026-11-01",
            },
            {
                "resourceType": "AllergyIntolerance",
                "code": _coded(*PENICILLIN),
                "recordedDate": "2026-11-01",
            },
            {
                "resourceType": "Encounter",
                "status": "in-progress",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "IMP",
                },
                "period": {"start": "2026-11-01T22:10:00Z"},
            },
        ),
    )
    bob_gp = _patient(BOB_NHS, "B1", "Jones", "Bob", "1970-07-07", other_practice)
    _send(
        sessions,
        other_practice,
        "gp-fhir",
        _bundle(
            "gp-bob",
            bob_gp,
            {
                "resourceType": "Condition",
                "meta": {
                    "security": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                            "code": "PSY",
                        }
                    ]
                },
                "code": _coded("35489007", "Depressive disorder"),
                "onsetDateTime": "2024-02-01",
            },
            {
                "resourceType": "Condition",
                "code": _coded("195967001", "Asthma"),
                "onsetDateTime": "1990-01-01",
            },
        ),
    )
    with sessions() as session:
        keys = []
        for partner, local in ((practice, "A1"), (other_practice, "B1")):
            sid = source_record_id(
                session,
                partner=partner,
                feed="gp-fhir",
                local_id=f"https://fhir.example.org/Id/local|{local}",
            )
            assert sid is not None, "the GP feed's Patient was not taken"
            link = current_link(session, sid)
            assert link is not None
            keys.append(link[0])
    return People(*keys)


def load_hypertensive(
    sessions: sessionmaker[Session],
    *,
    nhs: str,
    local: str,
    family: str,
    practice: str,
    systolic: float,
    measured: str = "2026-10-01",
) -> str:
    """A woman born in 1950 with hypertension and one systolic reading, from her GP's feed;
    returns her person key."""
    patient = _patient(nhs, local, family, "Ann", "1950-06-01", practice)
    _send(
        sessions,
        practice,
        "gp-fhir",
        _bundle(
            f"gp-{local}",
            patient,
            {
                "resourceType": "Condition",
                "code": _coded("38341003", "Hypertension"),
                "onsetDateTime": "2018-01-01",
            },
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "effectiveDateTime": f"{measured}T10:00:00Z",
                "valueQuantity": {"value": systolic, "unit": "mmHg"},
            },
            ns=int(nhs[-6:]),
        ),
    )
    with sessions() as session:
        sid = source_record_id(
            session,
            partner=practice,
            feed="gp-fhir",
            local_id=f"https://fhir.example.org/Id/local|{local}",
        )
        assert sid is not None
        link = current_link(session, sid)
        assert link is not None
        return link[0]
