"""CSV extracts: declared columns and types, one unit per row, bad rows named by row and column."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.feeds.csv_extract import parse_csv
from joinedup.feeds.model import IssueCode, Message, MessageFormat

MAPPING: dict[str, Any] = {
    "id": "contact_id",
    "columns": {
        "contact_id": {"type": "string", "required": True},
        "local_patient_id": {"type": "string", "required": True},
        "nhs_number": {"type": "nhs_number"},
        "forename": {"type": "string"},
        "surname": {"type": "string"},
        "date_of_birth": {"type": "date", "format": "%d/%m/%Y"},
        "sex": {"type": "code", "values": {"M": "male", "F": "female"}},
        "postcode": {"type": "postcode"},
        "contact_start": {"type": "datetime", "format": "%Y-%m-%d %H:%M"},
    },
    "person": {
        "local_id": "local_patient_id",
        "nhs_number": "nhs_number",
        "given": "forename",
        "family": "surname",
        "birth_date": "date_of_birth",
        "sex": "sex",
        "postcode": "postcode",
    },
    "resources": [
        {
            "resourceType": "Encounter",
            "id": "{contact_id}",
            "status": "finished",
            "subject": {"reference": "Patient/{local_patient_id}"},
            "period": {"start": "{contact_start}"},
        }
    ],
}
HEADER = "contact_id,local_patient_id,nhs_number,forename,surname,date_of_birth,sex,postcode,contact_start\n"
GOOD = "C1,L1,9434765919,Ann,Pascoe,04/03/1950,F,tr184ab,2025-07-01 09:30\n"


def message(body: bytes) -> Message:
    return Message(
        "RJ8",
        "community-contacts",
        MessageFormat.CSV,
        body,
        datetime(2026, 1, 5, tzinfo=UTC),
        "contacts.csv",
    )


def test_a_good_row_becomes_a_patient_and_an_encounter() -> None:
    [unit] = parse_csv(message((HEADER + GOOD).encode()), MAPPING)
    assert not unit.rejected
    assert unit.person is not None and unit.person.local_id == "L1"
    assert unit.person.postcode == "TR18 4AB" and unit.person.sex == "female"
    patient, encounter = unit.resources
    assert patient["identifier"][1] == {
        "system": "https://fhir.nhs.uk/Id/nhs-number",
        "value": "9434765919",
    }
    assert encounter["subject"] == {"reference": "Patient/L1"}
    # Local UK time in July is BST: the offset is kept.
    assert encounter["period"]["start"] == "2025-07-01T09:30:00+01:00"


def test_empty_optional_values_are_left_out_not_invented() -> None:
    row = "C2,L2,,Bob,Rowe,01/01/1960,M,PL14 3AA,\n"
    [unit] = parse_csv(message((HEADER + row).encode()), MAPPING)
    assert not unit.rejected
    assert unit.person is not None and unit.person.nhs_number is None
    assert "period" not in unit.resources[1]


def test_bad_values_are_named_by_row_and_column_and_neighbours_are_taken() -> None:
    bad = "C3,L3,9434765918,Cat,Nance,31/02/1950,X,TR18 4AB,2025-07-01 09:30\n"
    units = parse_csv(message((HEADER + GOOD + bad + GOOD.replace("C1", "C4")).encode()), MAPPING)
    assert [u.rejected for u in units] == [False, True, False]
    locations = {i.location for i in units[1].issues}
    assert locations == {
        "row 3, column nhs_number",
        "row 3, column date_of_birth",
        "row 3, column sex",
    }
    assert all(
        "Nance" not in i.diagnostics and "9434765918" not in i.diagnostics for i in units[1].issues
    )


def test_a_quarantined_row_can_be_replayed_on_its_own_once_fixed() -> None:
    bad = "C3,L3,9434765919,Cat,Nance,31/02/1950,F,TR18 4AB,2025-07-01 09:30\n"
    [unit] = parse_csv(message((HEADER + bad).encode()), MAPPING)
    assert unit.rejected
    fixed = unit.original.replace(b"31/02/1950", b"28/02/1950")
    [again] = parse_csv(message(fixed), MAPPING)
    assert not again.rejected


def test_missing_columns_reject_the_whole_file() -> None:
    [unit] = parse_csv(message(b"contact_id,surname\nC1,Pascoe\n"), MAPPING)
    assert unit.rejected and unit.issues[0].location == "header"
    assert "local_patient_id" in unit.issues[0].diagnostics


def test_the_wrong_encoding_rejects_the_whole_file_and_says_where() -> None:
    body = (HEADER + GOOD.replace("Ann", "Zoë")).encode("latin-1")
    [unit] = parse_csv(message(body), MAPPING)
    assert unit.rejected and unit.issues[0].code is IssueCode.STRUCTURE
    assert unit.issues[0].location.startswith("byte ")


def test_a_row_with_the_wrong_number_of_fields_is_rejected() -> None:
    units = parse_csv(message((HEADER + "C9,L9\n" + GOOD).encode()), MAPPING)
    assert [u.rejected for u in units] == [True, False]
    assert units[0].issues[0].location == "row 2"


def test_redelivered_rows_get_the_same_message_ids() -> None:
    first = parse_csv(message((HEADER + GOOD).encode()), MAPPING)
    second = parse_csv(message((HEADER + GOOD).encode()), MAPPING)
    assert [u.message_id for u in first] == [u.message_id for u in second]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    for unit in parse_csv(message(HEADER.encode() + body), MAPPING):
        assert unit.rejected or unit.person is not None


def test_derived_values_follow_whether_a_column_is_filled() -> None:
    mapping = {
        **MAPPING,
        "derived": {
            "state": {"if_present": "contact_start", "then": "finished", "else": "planned"}
        },
    }
    mapping["resources"] = [
        {"resourceType": "Encounter", "id": "{contact_id}", "status": "{state}"}
    ]
    rows = GOOD + "C2,L2,,Bob,Rowe,01/01/1960,M,PL14 3AA,\n"
    units = parse_csv(message((HEADER + rows).encode()), mapping)
    assert [u.resources[1]["status"] for u in units] == ["finished", "planned"]
