"""Our UK Core rules (``joinedup.feeds.uk_core``), checked against their published sources.

* NHS number: NHS Data Dictionary, "NHS Number" (as DOMAIN.md, "Identity and records", states
  it): 10 digits; multiply digits 1-9 by weights 10 down to 2, sum; check digit = 11 - (sum
  mod 11), 11 becomes 0, 10 means the number is invalid. 943 476 5919 is valid; 943 476 5918
  is not. Cross-checked against the ``nhs-number`` package.
* Identifier systems and cardinality: UK Core ``UKCore-Patient`` (FHIR R4), as DOMAIN.md lists
  them: NHS number ``https://fhir.nhs.uk/Id/nhs-number``, at most one per Patient; ODS
  ``https://fhir.nhs.uk/Id/ods-organization-code`` and ``.../ods-site-code``.
* ODS code shapes: NHS England Organisation Data Service, as encoded in
  ``joinedup.directory.model.ODS_CODE_PATTERNS`` (see ``test_ods_codes.py`` for the sources).
* Gender: FHIR R4 ``AdministrativeGender`` (required binding): male | female | other | unknown.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import nhs_number
import pytest
from hypothesis import given
from hypothesis import strategies as st

from joinedup.feeds.model import IssueCode
from joinedup.feeds.uk_core import (
    NHS_NUMBER_SYSTEM,
    ODS_ORGANIZATION_SYSTEM,
    ODS_SITE_SYSTEM,
    check_identifier,
    check_identifiers,
    check_person_fields,
    check_resource,
    element_path,
    is_ods_code,
    modulus11_valid,
)

TODAY = date(2026, 1, 5)


def patient(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": "9434765919"}],
    }
    return {**base, **fields}


# --- NHS number ------------------------------------------------------------------------------


def test_domain_examples() -> None:
    """DOMAIN.md: 943 476 5919 is valid; 943 476 5918 is not."""
    assert modulus11_valid("9434765919")
    assert not modulus11_valid("9434765918")


def test_check_digit_ten_means_no_valid_number() -> None:
    """Data Dictionary: a remainder giving 10 means no check digit makes the number valid."""
    # 000000001x: sum = 1 x 2 = 2, 11 - 2 = 9 → check 9; 000000006x: 6 x 2 = 12 → 11 - 1 = 10.
    assert not any(modulus11_valid(f"000000006{d}") for d in "0123456789")


def test_check_digit_eleven_becomes_zero() -> None:
    """Data Dictionary: 11 - 0 = 11 is written as a check digit of 0."""
    # 000000011x: 1 x 3 + 1 x 2 = 5 → 6; 100000001x: 10 + 2 = 12 → 10 (invalid); use a sum of 11:
    # 000000101x: 1 x 4 + 1 x 2 = 6; 000000014x: 3 + 8 = 11 → 11 - 0 = 11 → 0.
    assert modulus11_valid("0000000140")
    assert not modulus11_valid("0000000141")


@pytest.mark.parametrize(
    "value",
    [
        "943476591",
        "94347659190",
        "943 476 5919",
        "943476591X",
        "\uff19\uff14\uff13\uff14\uff17\uff16\uff15\uff19\uff11\uff19",
        "",
    ],
)
def test_only_ten_ascii_digits(value: str) -> None:
    """An NHS number is exactly 10 digits: no spaces, letters or other scripts' digits."""
    assert not modulus11_valid(value)


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_agrees_with_the_nhs_number_package(value: str) -> None:
    """Our five-line check and the ``nhs-number`` package agree on every 10-digit string.

    The package's ``is_valid`` also rejects numbers in the Scottish CHI range whose first six
    digits are not a date (CHI encodes the birth date); the Modulus 11 rule has no such
    clause, so there we compare with the package's check digit alone.
    """
    check_digit = nhs_number.calculate_checksum(value[:9])
    assert modulus11_valid(value) == (check_digit == int(value[9]))
    if not nhs_number.REGION_SCOTLAND.contains_number(value):
        assert modulus11_valid(value) == nhs_number.is_valid(value)


@pytest.mark.parametrize(
    ("value", "code", "diagnostic"),
    [
        ("9434765918", IssueCode.VALUE, "Modulus 11"),
        ("943476591", IssueCode.VALUE, "10 digits"),
        ("943 476 5919", IssueCode.VALUE, "10 digits"),
        ("", IssueCode.REQUIRED, "no value"),
    ],
)
def test_bad_nhs_number_identifiers(value: str, code: IssueCode, diagnostic: str) -> None:
    issues = check_identifier(
        {"system": NHS_NUMBER_SYSTEM, "value": value}, "Patient.identifier[0]"
    )
    assert [(i.code, i.location) for i in issues] == [(code, "Patient.identifier[0].value")]
    assert diagnostic in issues[0].diagnostics
    assert value.strip() == "" or value not in issues[0].diagnostics  # never quotes the number


def test_at_most_one_nhs_number_per_patient() -> None:
    """UK Core Patient: the NHS number identifier slice has cardinality 0..1."""
    two = patient(
        identifier=[
            {"system": NHS_NUMBER_SYSTEM, "value": "9434765919"},
            {"system": NHS_NUMBER_SYSTEM, "value": "9434765919"},
        ]
    )
    issues = check_person_fields(two, "Patient", received_on=TODAY)
    assert [(i.code, i.location) for i in issues] == [
        (IssueCode.INVARIANT, "Patient.identifier[1]")
    ]


def test_a_patient_needs_an_identifier() -> None:
    issues = check_person_fields(patient(identifier=[]), "Patient", received_on=TODAY)
    assert [(i.code, i.location) for i in issues] == [(IssueCode.REQUIRED, "Patient.identifier")]
    assert check_person_fields({"resourceType": "Patient"}, "P", received_on=TODAY)[0].code == (
        IssueCode.REQUIRED
    )


def test_a_patient_without_an_nhs_number_is_fine() -> None:
    """Synthea-style people: US identifiers only; they get linked without an NHS number."""
    local = patient(identifier=[{"system": "http://hospital.smarthealthit.org", "value": "1"}])
    assert check_resource(local, "Patient", received_on=TODAY) == []


# --- ODS codes -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["REF", "QT6", "RJ8", "L82001", "RA701", "8HJ12", "A1B2C3"])
def test_ods_codes_of_each_shape(code: str) -> None:
    assert is_ods_code(code)
    for system in (ODS_ORGANIZATION_SYSTEM, ODS_SITE_SYSTEM):
        assert (
            check_identifier({"system": system, "value": code}, "Organization.identifier[0]") == []
        )


@pytest.mark.parametrize("code", ["ref", "RE", "L820011", "RE F", "RÉF", "L82-01"])
def test_not_ods_codes(code: str) -> None:
    """ODS codes are 3 to 6 upper-case letters and digits (trusts 3, practices 6)."""
    assert not is_ods_code(code)
    issues = check_identifier(
        {"system": ODS_ORGANIZATION_SYSTEM, "value": code}, "Organization.identifier[0]"
    )
    assert [(i.code, i.location) for i in issues] == [
        (IssueCode.VALUE, "Organization.identifier[0].value")
    ]


def test_identifiers_inside_references_are_checked() -> None:
    """A Patient's registered practice is often given by ODS code, not by a reference."""
    resource = patient(
        generalPractitioner=[{"identifier": {"system": ODS_ORGANIZATION_SYSTEM, "value": "l82001"}}]
    )
    issues = check_identifiers(resource, "Bundle.entry[0].resource")
    assert [i.location for i in issues] == [
        "Bundle.entry[0].resource.generalPractitioner[0].identifier.value"
    ]


def test_other_identifier_systems_are_not_checked() -> None:
    assert check_identifier({"system": "http://hl7.org/fhir/sid/us-ssn", "value": "x"}, "P") == []


# --- people's other fields -------------------------------------------------------------------


@pytest.mark.parametrize("gender", ["male", "female", "other", "unknown"])
def test_administrative_genders(gender: str) -> None:
    assert check_person_fields(patient(gender=gender), "Patient", received_on=TODAY) == []


@pytest.mark.parametrize("resource_type", ["Patient", "Practitioner", "RelatedPerson"])
def test_bogus_gender(resource_type: str) -> None:
    """fhir.resources accepts any code here; the required binding does not."""
    resource = {**patient(gender="bogus"), "resourceType": resource_type}
    issues = check_person_fields(resource, resource_type, received_on=TODAY)
    assert [(i.code, i.location) for i in issues] == [(IssueCode.VALUE, f"{resource_type}.gender")]


@pytest.mark.parametrize(
    ("birth", "future"),
    [
        ("2026-01-05", False),
        ("2026-01-06", True),
        ("2026", False),  # a partial date that may be today
        ("2026-02", True),
        ("2027", True),
        ("1950-03-04T10:00:00Z", False),
    ],
)
def test_birth_date_not_after_the_message(birth: str, future: bool) -> None:
    issues = check_person_fields(patient(birthDate=birth), "Patient", received_on=TODAY)
    assert [i.location for i in issues] == (["Patient.birthDate"] if future else [])


def test_death_before_birth() -> None:
    resource = patient(birthDate="1950-03-04", deceasedDateTime="1949-12-31")
    issues = check_person_fields(resource, "Patient", received_on=TODAY)
    assert [(i.code, i.location) for i in issues] == [
        (IssueCode.INVARIANT, "Patient.deceasedDateTime")
    ]
    same_year = patient(birthDate="1950-03-04", deceasedDateTime="1950")
    assert check_person_fields(same_year, "Patient", received_on=TODAY) == []


def test_implausible_sizes() -> None:
    long = "A" * 200
    resource = patient(name=[{"family": long, "given": ["Ann", long]}], address=[{"line": [long]}])
    issues = check_person_fields(resource, "Patient", received_on=TODAY)
    assert [(i.code, i.location) for i in issues] == [
        (IssueCode.TOO_LONG, "Patient.name[0].family"),
        (IssueCode.TOO_LONG, "Patient.name[0].given[1]"),
        (IssueCode.TOO_LONG, "Patient.address[0].line[0]"),
    ]
    assert all(long not in i.diagnostics for i in issues)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_any_shape_never_raises(value: Any) -> None:
    """Structure errors are the model's to report; these rules must survive any JSON."""
    for resource_type in ("Patient", "Organization"):
        resource = {
            "resourceType": resource_type,
            "identifier": value,
            "gender": value,
            "name": value,
            "birthDate": value,
        }
        check_resource(resource, resource_type, received_on=TODAY)
        if isinstance(value, dict):
            check_resource(
                {**value, "resourceType": resource_type}, resource_type, received_on=TODAY
            )


def test_element_path() -> None:
    assert element_path(("Bundle.entry[3].resource", "identifier", 0, "value")) == (
        "Bundle.entry[3].resource.identifier[0].value"
    )
