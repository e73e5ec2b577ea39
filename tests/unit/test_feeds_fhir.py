"""The FHIR R4 intake parser: bundles, single resources and NDJSON into checked units."""

from __future__ import annotations

import copy
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joinedup.feeds import r4b_memo
from joinedup.feeds.fhir import (
    MAX_DEPTH,
    MAX_MESSAGE_BYTES,
    parse_fhir_json,
    parse_fhir_ndjson,
)
from joinedup.feeds.model import IssueCode, Message, MessageFormat, Unit, operation_outcome
from joinedup.feeds.uk_core import NHS_NUMBER_SYSTEM, ODS_ORGANIZATION_SYSTEM

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
LOCAL_SYSTEM = "https://fhir.joinedup.example/Id/gp-practice/L82001/patient"
PATIENT_URL = "urn:uuid:7f1c2a4e-9d3b-4c55-8e21-0a6b3c9d1e01"
ORG_URL = "urn:uuid:7f1c2a4e-9d3b-4c55-8e21-0a6b3c9d1e02"
ENCOUNTER_URL = "urn:uuid:7f1c2a4e-9d3b-4c55-8e21-0a6b3c9d1e03"
SECRET = "Zebedee"  # a patient value that must never appear in an issue


def message(
    body: bytes | dict[str, Any] | list[Any], fmt: MessageFormat = MessageFormat.FHIR_JSON
) -> Message:
    if not isinstance(body, bytes):
        body = orjson.dumps(body)
    return Message("L82001", "gp-fhir", fmt, body, AT, "test.json")


def ndjson(*lines: Any) -> Message:
    body = b"\n".join(line if isinstance(line, bytes) else orjson.dumps(line) for line in lines)
    return message(body, MessageFormat.FHIR_NDJSON)


def patient(nhs: str | None = "9434765919", local: str = "P123", **fields: Any) -> dict[str, Any]:
    identifiers = [{"system": LOCAL_SYSTEM, "value": local}]
    if nhs is not None:
        identifiers.insert(0, {"system": NHS_NUMBER_SYSTEM, "value": nhs})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": identifiers,
        "name": [
            {"use": "usual", "family": "Nickname", "given": ["Ed"]},
            {"use": "official", "family": SECRET, "given": ["Edward", "John"]},
        ],
        "gender": "male",
        "birthDate": "1950-03-04",
        "address": [
            {"use": "old", "line": ["1 Old Road"], "postalCode": "PL25 1AA"},
            {"use": "home", "line": ["2 Fore Street", "Truro"], "postalCode": "TR1 2AB"},
        ],
    }
    resource.update(fields)
    return resource


def observation(subject: str = PATIENT_URL, **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "27113001"}]},
        "subject": {"reference": subject},
        "valueQuantity": {"value": 72.5, "unit": "kg"},
        **fields,
    }


def transaction(*resources: tuple[str | None, dict[str, Any]], **fields: Any) -> dict[str, Any]:
    entries = []
    for url, resource in resources:
        entry: dict[str, Any] = {
            "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"]},
        }
        if url is not None:
            entry["fullUrl"] = url
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries, **fields}


def uk_core_bundle(**fields: Any) -> dict[str, Any]:
    organisation = {
        "resourceType": "Organization",
        "identifier": [{"system": ODS_ORGANIZATION_SYSTEM, "value": "L82001"}],
        "name": "Fore Street Surgery",
    }
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": PATIENT_URL},
        "serviceProvider": {"reference": ORG_URL},
        "participant": [
            {
                "individual": {
                    "reference": "Practitioner?identifier=https://fhir.hl7.org.uk/Id/gmc-number|1234567"
                }
            }
        ],
    }
    return transaction(
        (PATIENT_URL, patient(generalPractitioner=[{"reference": ORG_URL}])),
        (ORG_URL, organisation),
        (ENCOUNTER_URL, encounter),
        (None, observation(encounter={"reference": ENCOUNTER_URL})),
        (
            None,
            {
                "resourceType": "Condition",
                "subject": {"reference": f"Patient?identifier={LOCAL_SYSTEM}|P123"},
                "code": {"text": "asthma"},
            },
        ),
        **fields,
    )


def only(units: list[Unit]) -> Unit:
    assert len(units) == 1, [u.label for u in units]
    return units[0]


def assert_clean(units: list[Unit]) -> None:
    """Every issue says where, and none quotes the patient's values."""
    for unit in units:
        for issue in unit.issues:
            assert issue.location, issue
            assert SECRET not in issue.diagnostics
            assert "input_value" not in issue.diagnostics
        operation_outcome(unit.issues)  # always renders


def references(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                found.append(item)
            else:
                found += references(item)
    elif isinstance(value, list):
        for item in value:
            found += references(item)
    return found


# --- accepted messages -----------------------------------------------------------------------


def test_uk_core_transaction_is_one_accepted_unit_with_references_rewritten() -> None:
    unit = only(parse_fhir_json(message(uk_core_bundle())))
    assert not unit.rejected, [str(i) for i in unit.issues]
    assert unit.label == "message"
    person = unit.person
    assert person is not None
    assert person.local_id == f"{LOCAL_SYSTEM}|P123"
    assert person.nhs_number == "9434765919"
    assert (person.given, person.family) == ("Edward", SECRET)  # the official name
    assert person.birth_date == date(1950, 3, 4)
    assert person.sex == "male"
    assert (person.postcode, person.address_line) == ("TR1 2AB", "2 Fore Street")  # not "old"

    patient_, organisation, encounter, obs, condition = unit.resources
    assert organisation["id"] == ORG_URL.removeprefix("urn:uuid:")
    assert encounter["id"] == ENCOUNTER_URL.removeprefix("urn:uuid:")
    mine = f"Patient/{person.local_id}"
    assert obs["subject"]["reference"] == mine
    assert encounter["subject"]["reference"] == mine
    assert condition["subject"]["reference"] == mine  # conditional reference to the unit's Patient
    assert obs["encounter"]["reference"] == f"Encounter/{encounter['id']}"
    assert patient_["generalPractitioner"][0]["reference"] == f"Organization/{organisation['id']}"
    # A conditional reference to something not in the bundle is kept as sent.
    assert encounter["participant"][0]["individual"]["reference"].startswith("Practitioner?")
    assert not any(r.startswith("urn:") for r in references(list(unit.resources)))
    assert unit.original == orjson.dumps(uk_core_bundle())


def test_message_id_is_the_bundle_id_or_a_digest_of_the_content() -> None:
    assert only(parse_fhir_json(message(uk_core_bundle(id="b-42")))).message_id == "b-42"
    compact = only(parse_fhir_json(message(uk_core_bundle())))
    spaced = only(
        parse_fhir_json(message(orjson.dumps(uk_core_bundle(), option=orjson.OPT_INDENT_2)))
    )
    assert compact.message_id.startswith("sha256:")
    assert compact.message_id == spaced.message_id  # canonical bytes, not layout
    assert spaced.original != compact.original  # but the original is kept as sent


def test_collection_bundle_is_one_unit() -> None:
    bundle = {**uk_core_bundle(), "type": "collection"}
    for entry in bundle["entry"]:
        del entry["request"]
    unit = only(parse_fhir_json(message(bundle)))
    assert not unit.rejected and len(unit.resources) == 5


def test_single_patient_is_a_unit_with_its_person() -> None:
    unit = only(parse_fhir_json(message(patient(id="abc"))))
    assert not unit.rejected
    assert unit.person is not None and unit.person.local_id == f"{LOCAL_SYSTEM}|P123"
    assert unit.resources[0]["id"] == "abc"


def test_medical_record_number_is_preferred_as_the_local_id() -> None:
    mrn = {
        "type": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]
        },
        "system": "https://trust.example/mrn",
        "value": "M1",
    }
    resource = patient(identifier=[{"system": "https://other.example", "value": "X"}, mrn])
    unit = only(parse_fhir_json(message(resource)))
    assert unit.person is not None and unit.person.local_id == "https://trust.example/mrn|M1"


def test_patient_known_only_by_nhs_number_or_id() -> None:
    only_nhs = patient(identifier=[{"system": NHS_NUMBER_SYSTEM, "value": "9434765919"}])
    unit = only(parse_fhir_json(message(only_nhs)))
    assert unit.person is not None and unit.person.local_id == f"{NHS_NUMBER_SYSTEM}|9434765919"
    unit = only(parse_fhir_json(message({**only_nhs, "id": "p1"})))
    assert unit.person is not None and unit.person.local_id == "p1"


def test_organisation_alone_is_not_about_a_person() -> None:
    organisation = {
        "resourceType": "Organization",
        "identifier": [{"system": ODS_ORGANIZATION_SYSTEM, "value": "REF"}],
    }
    unit = only(parse_fhir_json(message(organisation)))
    assert not unit.rejected and unit.person is None


def test_death_date() -> None:
    unit = only(parse_fhir_json(message(patient(deceasedDateTime="2025-12-30T10:00:00+00:00"))))
    assert unit.person is not None and unit.person.death_date == date(2025, 12, 30)


def test_batch_is_one_unit_per_entry_finding_its_patient() -> None:
    bundle = {
        **transaction(
            (PATIENT_URL, patient()),
            (None, observation()),
            (None, observation(subject="Patient/nobody")),
        ),
        "type": "batch",
    }
    units = parse_fhir_json(message(bundle))
    assert [u.label for u in units] == ["entry[0]", "entry[1]", "entry[2]"]
    first, second, third = units
    assert not first.rejected and not second.rejected
    assert first.person == second.person
    assert second.resources == (
        {**observation(), "subject": {"reference": f"Patient/{LOCAL_SYSTEM}|P123"}},
    )
    assert second.original == orjson.dumps(bundle["entry"][1])
    assert third.rejected
    assert [(i.code, i.location) for i in third.issues] == [
        (IssueCode.NOT_FOUND, "Bundle.entry[2].resource.subject.reference")
    ]
    assert len({u.message_id for u in units}) == 3


def test_same_entry_about_different_people_has_different_ids() -> None:
    """urn:uuid names are local to a bundle: the same entry text may be about someone else."""
    ids = []
    for local in ("P1", "P2"):
        bundle = {
            **transaction((PATIENT_URL, patient(local=local)), (None, observation())),
            "type": "batch",
        }
        ids.append(parse_fhir_json(message(bundle))[1].message_id)
    assert ids[0] != ids[1]


def test_ndjson_lines_find_their_patient_in_the_file() -> None:
    units = parse_fhir_ndjson(
        ndjson(patient(id="p1"), b"", observation(subject="Patient/p1"), uk_core_bundle())
    )
    assert [u.label for u in units] == ["line 1", "line 3", "line 4"]
    assert all(not u.rejected for u in units)
    assert units[1].resources[0]["subject"]["reference"] == f"Patient/{LOCAL_SYSTEM}|P123"
    assert units[1].person == units[0].person


def test_ndjson_batch_line_labels() -> None:
    batch = {
        **transaction((None, patient()), (None, patient(local="P2", nhs=None))),
        "type": "batch",
    }
    units = parse_fhir_ndjson(ndjson(batch))
    assert [u.label for u in units] == ["line 1 entry[0]", "line 1 entry[1]"]


# --- Synthea: unmodified third-party bundles -------------------------------------------------


def synthea_files(shared_dir: Path) -> list[Path]:
    files = sorted((shared_dir / "fixtures" / "synthea-r4").glob("*.json"))
    assert len(files) == 10
    return files


@pytest.mark.shared
@pytest.mark.parametrize("index", range(10))
def test_synthea_bundle_loads_as_one_person(shared_dir: Path, index: int) -> None:
    path = synthea_files(shared_dir)[index]
    body = path.read_bytes()
    unit = only(parse_fhir_json(message(body)))
    assert not unit.rejected, [str(i) for i in unit.issues][:10]
    assert len(unit.resources) == len(orjson.loads(body)["entry"])
    person = unit.person
    assert person is not None
    assert person.nhs_number is None  # US identifiers only: linked by demographics
    assert person.local_id.startswith("http://hospital.smarthealthit.org|")  # its MRN
    refs = references(list(unit.resources))
    assert not any(r.startswith("urn:") for r in refs)
    assert f"Patient/{person.local_id}" in refs
    assert all(isinstance(r.get("id"), str) for r in unit.resources)


@pytest.mark.shared
def test_synthea_throughput(shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Parse and validate all ten bundles; report resources per second (no threshold: machines vary)."""
    messages = [message(p.read_bytes()) for p in synthea_files(shared_dir)]
    parse_fhir_json(messages[0])  # load the models first
    began = time.perf_counter()
    resources = sum(len(u.resources) for m in messages for u in parse_fhir_json(m))
    seconds = time.perf_counter() - began
    with capsys.disabled():
        print(
            f"\nSynthea: {resources} resources in {seconds:.2f} s = {resources / seconds:,.0f} resources/s"
        )
    assert resources > 2000


# --- rejected input: what and where ----------------------------------------------------------


def rejected(units: list[Unit]) -> Unit:
    unit = only(units)
    assert unit.rejected and unit.resources == ()
    assert_clean(units)
    return unit


def codes_and_places(unit: Unit) -> list[tuple[IssueCode, str]]:
    return [(i.code, i.location) for i in unit.issues]


def test_truncated_json_gives_line_and_column() -> None:
    body = orjson.dumps(uk_core_bundle(), option=orjson.OPT_INDENT_2)[:-40]
    unit = rejected(parse_fhir_json(message(body)))
    (issue,) = unit.issues
    assert issue.code is IssueCode.STRUCTURE
    assert issue.location.startswith("line ") and ", column " in issue.location
    assert unit.original == body


@pytest.mark.parametrize(
    ("body", "code", "location"),
    [
        (b"[1, 2]", IssueCode.STRUCTURE, "(root)"),
        (b'"Patient"', IssueCode.STRUCTURE, "(root)"),
        (b'{"id": "x"}', IssueCode.REQUIRED, "resourceType"),
        (b'{"resourceType": 5}', IssueCode.STRUCTURE, "resourceType"),
        (b'{"resourceType": "Spaceship"}', IssueCode.NOT_SUPPORTED, "resourceType"),
        (b'{"resourceType": "HumanName"}', IssueCode.NOT_SUPPORTED, "resourceType"),
        (b'{"resourceType": "DomainResource"}', IssueCode.NOT_SUPPORTED, "resourceType"),
        (
            b'{"resourceType": "Bundle", "type": "searchset"}',
            IssueCode.NOT_SUPPORTED,
            "Bundle.type",
        ),
        (b'{"resourceType": "Bundle", "type": "message"}', IssueCode.NOT_SUPPORTED, "Bundle.type"),
        (b'{"resourceType": "Bundle"}', IssueCode.REQUIRED, "Bundle.type"),
        (
            b'{"resourceType": "Bundle", "type": "transaction", "entry": {}}',
            IssueCode.STRUCTURE,
            "Bundle.entry",
        ),
    ],
)
def test_not_a_resource_we_take(body: bytes, code: IssueCode, location: str) -> None:
    assert codes_and_places(rejected(parse_fhir_json(message(body)))) == [(code, location)]


def test_wrong_types_name_the_element() -> None:
    resource = patient(
        birthDate=12345, identifier=[{"system": LOCAL_SYSTEM, "value": 5}], foo=SECRET
    )
    unit = rejected(parse_fhir_json(message(resource)))
    assert set(codes_and_places(unit)) == {
        (IssueCode.VALUE, "Patient.birthDate"),
        (IssueCode.STRUCTURE, "Patient.identifier[0].value"),
        (IssueCode.STRUCTURE, "Patient.foo"),
    }


def test_diagnostics_never_quote_values() -> None:
    unit = rejected(parse_fhir_json(message(patient(birthDate=f"{SECRET}-1950"))))
    assert codes_and_places(unit) == [(IssueCode.VALUE, "Patient.birthDate")]


def test_reference_to_nothing() -> None:
    bundle = transaction(
        (PATIENT_URL, patient()),
        (None, observation(subject="urn:uuid:00000000-0000-0000-0000-000000000000")),
    )
    unit = rejected(parse_fhir_json(message(bundle)))
    assert codes_and_places(unit) == [
        (IssueCode.NOT_FOUND, "Bundle.entry[1].resource.subject.reference")
    ]


@pytest.mark.parametrize(
    ("resource", "code", "location"),
    [
        (patient(nhs="9434765918"), IssueCode.VALUE, "Patient.identifier[0].value"),
        (patient(nhs="943476591"), IssueCode.VALUE, "Patient.identifier[0].value"),
        (patient(gender="bogus"), IssueCode.VALUE, "Patient.gender"),
        (patient(birthDate="2026-01-06"), IssueCode.VALUE, "Patient.birthDate"),
        (patient(name=[{"family": "A" * 300}]), IssueCode.TOO_LONG, "Patient.name[0].family"),
        (patient(identifier=[]), IssueCode.REQUIRED, "Patient.identifier"),
        (
            patient(
                identifier=[
                    {"system": NHS_NUMBER_SYSTEM, "value": "9434765919"},
                    {"system": NHS_NUMBER_SYSTEM, "value": "9434765919"},
                ]
            ),
            IssueCode.INVARIANT,
            "Patient.identifier[1]",
        ),
        (
            {
                "resourceType": "Organization",
                "identifier": [{"system": ODS_ORGANIZATION_SYSTEM, "value": "l82001"}],
            },
            IssueCode.VALUE,
            "Organization.identifier[0].value",
        ),
        (observation(subject="Patient/123"), IssueCode.REQUIRED, "Observation.subject.reference"),
        (
            patient(identifier=[{"system": "https://x.example/" + "s" * 200, "value": "1"}]),
            IssueCode.TOO_LONG,
            "Patient.identifier[0]",
        ),
    ],
)
def test_uk_core_rules_reject(resource: dict[str, Any], code: IssueCode, location: str) -> None:
    unit = rejected(parse_fhir_json(message(resource)))
    assert codes_and_places(unit) == [(code, location)]


def test_bad_entry_rejects_the_whole_transaction_and_names_it() -> None:
    good = uk_core_bundle()
    bad = copy.deepcopy(good)
    bad["entry"][3]["resource"]["subject"] = {"reference": PATIENT_URL, "display": 7}  # wrong type
    bad["entry"][0]["resource"]["identifier"][0]["value"] = "9434765918"
    unit = rejected(parse_fhir_json(message(bad)))
    assert unit.person is None
    assert codes_and_places(unit) == [
        (IssueCode.VALUE, "Bundle.entry[0].resource.identifier[0].value"),
        (IssueCode.STRUCTURE, "Bundle.entry[3].resource.subject.display"),
    ]


def test_transaction_with_two_patients_or_none() -> None:
    two = transaction((PATIENT_URL, patient()), (None, patient(local="P2")))
    assert codes_and_places(rejected(parse_fhir_json(message(two)))) == [
        (IssueCode.INVARIANT, "Bundle.entry[1].resource")
    ]
    none = transaction((None, observation(subject="Patient/1")))
    assert codes_and_places(rejected(parse_fhir_json(message(none)))) == [
        (IssueCode.REQUIRED, "Bundle.entry[0].resource.subject.reference")
    ]


@pytest.mark.parametrize(
    ("entry", "code", "location"),
    [
        (
            {"request": {"method": "DELETE", "url": "Patient/1"}},
            IssueCode.NOT_SUPPORTED,
            "Bundle.entry[1].request.method",
        ),
        ({"fullUrl": "urn:uuid:x"}, IssueCode.REQUIRED, "Bundle.entry[1].resource"),
        (
            {"resource": {"resourceType": "Bundle", "type": "collection"}},
            IssueCode.NOT_SUPPORTED,
            "Bundle.entry[1].resource.resourceType",
        ),
        (
            {"resource": {"resourceType": "Nope"}},
            IssueCode.NOT_SUPPORTED,
            "Bundle.entry[1].resource.resourceType",
        ),
        ({"resource": [1]}, IssueCode.STRUCTURE, "Bundle.entry[1].resource"),
        (
            {"fullUrl": PATIENT_URL, "resource": {"resourceType": "Basic", "code": {"text": "x"}}},
            IssueCode.DUPLICATE,
            "Bundle.entry[1].fullUrl",
        ),
        (
            {
                "fullUrl": "urn:uuid:not a uuid",
                "resource": {"resourceType": "Basic", "code": {"text": "x"}},
            },
            IssueCode.VALUE,
            "Bundle.entry[1].fullUrl",
        ),
    ],
)
def test_unusable_entries(entry: dict[str, Any], code: IssueCode, location: str) -> None:
    bundle = transaction((PATIENT_URL, patient()))
    bundle["entry"].append(entry)
    assert (code, location) in codes_and_places(rejected(parse_fhir_json(message(bundle))))


def test_non_object_entry() -> None:
    bundle = transaction((PATIENT_URL, patient()))
    bundle["entry"].append(5)
    unit = rejected(parse_fhir_json(message(bundle)))
    assert [i.location for i in unit.issues] == ["Bundle.entry[1]"]


def test_batch_with_one_bad_entry_of_five() -> None:
    bundle = {
        **transaction(
            (PATIENT_URL, patient()),
            (None, observation()),
            (None, observation()),
            (None, observation(status=["final"])),
            (
                None,
                {
                    "resourceType": "Organization",
                    "identifier": [{"system": ODS_ORGANIZATION_SYSTEM, "value": "REF"}],
                },
            ),
        ),
        "type": "batch",
    }
    units = parse_fhir_json(message(bundle))
    assert [u.rejected for u in units] == [False, False, False, True, False]
    assert_clean(units)
    assert codes_and_places(units[3]) == [(IssueCode.STRUCTURE, "Bundle.entry[3].resource.status")]
    assert units[3].original == orjson.dumps(bundle["entry"][3])


def test_batch_entry_whose_patient_was_rejected() -> None:
    bundle = {
        **transaction((PATIENT_URL, patient(gender="bogus")), (None, observation())),
        "type": "batch",
    }
    units = parse_fhir_json(message(bundle))
    assert [u.rejected for u in units] == [True, True]
    assert codes_and_places(units[1]) == [(IssueCode.NOT_FOUND, "Bundle.entry[1].resource")]


def test_ndjson_with_a_bad_line_among_good_ones() -> None:
    units = parse_fhir_ndjson(
        ndjson(
            patient(id="p1"),
            b'{"resourceType": "Patient", "gender": ',
            patient(local="P2", gender="bogus"),
            observation(subject="Patient/p1"),
        )
    )
    assert [(u.label, u.rejected) for u in units] == [
        ("line 1", False),
        ("line 2", True),
        ("line 3", True),
        ("line 4", False),
    ]
    assert_clean(units)
    assert units[1].issues[0].location.startswith("line 2, column ")
    assert units[1].original == b'{"resourceType": "Patient", "gender": '
    assert codes_and_places(units[2]) == [(IssueCode.VALUE, "Patient.gender")]


def test_too_large_body_is_not_read() -> None:
    body = b"{" + b" " * MAX_MESSAGE_BYTES + b"}"
    for parse in (parse_fhir_json, parse_fhir_ndjson):
        unit = rejected(parse(message(body)))
        assert codes_and_places(unit) == [(IssueCode.TOO_LONG, "message")]
    unit = rejected(parse_fhir_json(message(uk_core_bundle()), max_bytes=100))
    assert unit.issues[0].code is IssueCode.TOO_LONG


def test_too_many_entries() -> None:
    bundle = transaction(*[(None, patient())] * 6)
    unit = rejected(parse_fhir_json(message(bundle), max_entries=5))
    assert codes_and_places(unit) == [(IssueCode.TOO_LONG, "Bundle.entry")]


@pytest.mark.parametrize(("levels", "location"), [(MAX_DEPTH, "Patient"), (400, "(root)")])
def test_hostile_nesting_is_refused_without_recursing(levels: int, location: str) -> None:
    """Deep but valid nesting (extensions in extensions) stops before the model recurses."""
    inner = (
        b'{"url": "x", "extension": [' * levels
        + b'{"url": "x", "valueString": "y"}'
        + b"]}" * levels
    )
    body = (
        b'{"resourceType": "Patient", "identifier": [{"value": "1"}], "extension": ['
        + inner
        + b"]}"
    )
    unit = rejected(parse_fhir_json(message(body)))
    assert codes_and_places(unit) == [(IssueCode.TOO_LONG, location)]
    lines = parse_fhir_ndjson(message(body + b"\n" + body, MessageFormat.FHIR_NDJSON))
    assert [codes_and_places(u) for u in lines] == [[(IssueCode.TOO_LONG, location)]] * 2


def test_contained_resource_of_unknown_type() -> None:
    resource = observation(subject="#p", contained=[{"resourceType": "Spaceship", "id": "p"}])
    unit = rejected(parse_fhir_json(message(resource)))
    assert [i.code for i in unit.issues] == [IssueCode.STRUCTURE]


def test_issue_list_is_capped() -> None:
    bundle = transaction(*[(None, observation(subject="urn:uuid:missing"))] * 150)
    unit = rejected(parse_fhir_json(message(bundle)))
    assert len(unit.issues) == 100
    assert unit.issues[-1].diagnostics == "and 51 more issues"


# --- nothing raises --------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)
RESOURCE_TYPES = st.sampled_from(["Patient", "Observation", "Bundle", "Organization", "Encounter"])
FIELDS = st.sampled_from(
    [
        "identifier",
        "name",
        "gender",
        "birthDate",
        "subject",
        "entry",
        "type",
        "reference",
        "fullUrl",
        "resource",
        "system",
        "value",
        "contained",
        "deceasedDateTime",
        "address",
    ]
)


def fhirish() -> st.SearchStrategy[Any]:
    """JSON shaped enough like FHIR to get past the first checks."""
    leaf = JSON | st.sampled_from(
        [
            PATIENT_URL,
            "Patient/1",
            NHS_NUMBER_SYSTEM,
            "9434765919",
            "transaction",
            "batch",
            "collection",
        ]
    )
    return st.recursive(
        st.fixed_dictionaries(
            {"resourceType": RESOURCE_TYPES},
            optional={"type": st.sampled_from(["transaction", "batch", "collection"])},
        ),
        lambda children: (
            st.dictionaries(
                FIELDS, children | leaf | st.lists(children | leaf, max_size=3), max_size=5
            )
            | st.builds(
                lambda t, d: {**d, "resourceType": t},
                RESOURCE_TYPES,
                st.dictionaries(
                    FIELDS, children | leaf | st.lists(children | leaf, max_size=3), max_size=5
                ),
            )
        ),
        max_leaves=20,
    )


def check_units(units: list[Unit]) -> None:
    assert units and all(isinstance(u, Unit) for u in units)
    for unit in units:
        assert unit.rejected == bool(unit.issues)
        assert all(i.location for i in unit.issues)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    check_units(parse_fhir_json(message(body)))
    ndjson_units = parse_fhir_ndjson(message(body, MessageFormat.FHIR_NDJSON))
    assert all(isinstance(u, Unit) for u in ndjson_units)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_arbitrary_json_never_raises(value: Any) -> None:
    check_units(parse_fhir_json(message(orjson.dumps(value))))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(fhirish())
def test_fhir_shaped_json_never_raises(value: Any) -> None:
    check_units(parse_fhir_json(message(orjson.dumps(value))))
    entries = [{"fullUrl": PATIENT_URL, "resource": value}, {"resource": value}]
    for kind in ("transaction", "batch"):
        check_units(
            parse_fhir_json(message({"resourceType": "Bundle", "type": kind, "entry": entries}))
        )
    parse_fhir_ndjson(
        message(orjson.dumps(value) + b"\n" + orjson.dumps(patient()), MessageFormat.FHIR_NDJSON)
    )


# --- the memo of elements that passed their R4B check (feeds/r4b_memo.py) ---------------------


def issues_of(value: Any) -> list[list[tuple[IssueCode, str, str]]]:
    body = orjson.dumps(value)
    return [
        [(i.code, i.location, i.diagnostics) for i in unit.issues]
        for unit in parse_fhir_json(message(body))
    ]


@pytest.fixture
def memo_off() -> Any:
    """Runs the test body's comparison with the memo taken away, then puts it back."""
    yield r4b_memo.uninstall
    r4b_memo.install()


def test_memo_is_in_place_for_intake() -> None:
    assert r4b_memo.installed(), "fhir_core moved its validator seam: FHIR intake is slower"


def test_memo_reports_every_error_as_a_full_check_does(memo_off: Any) -> None:
    good = uk_core_bundle()
    bad = copy.deepcopy(good)
    # The same coding, valid and then invalid, under the same model class.
    bad["entry"][3]["resource"]["code"]["coding"][0]["system"] = 7
    bad["entry"][3]["resource"]["valueQuantity"]["value"] = "heavy"
    remembered = [issues_of(v) for v in (good, bad, good, bad)]
    memo_off()
    assert [issues_of(v) for v in (good, bad, good, bad)] == remembered
    assert remembered[0] == [[]] and remembered[1][0], "the bad bundle must be rejected"


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(fhirish())
def test_memo_never_changes_what_is_found(value: Any) -> None:
    entries = [{"fullUrl": PATIENT_URL, "resource": patient()}, {"resource": value}]
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": entries}
    with_memo = [issues_of(v) for v in (value, bundle, value)]
    r4b_memo.uninstall()
    try:
        assert [issues_of(v) for v in (value, bundle, value)] == with_memo
    finally:
        r4b_memo.install()
