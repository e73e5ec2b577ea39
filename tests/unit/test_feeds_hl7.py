"""HL7 v2 ADT intake: splitting files, validation with HL7 locations, mapping to FHIR, ACKs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joinedup.feeds import hl7v2
from joinedup.feeds.hl7v2 import (
    DISCHARGE_READY_URL,
    NHS_NUMBER_SYSTEM,
    ack_code,
    build_ack,
    hl7_error_code,
    local_identifier_system,
    parse_hl7,
    split_messages,
)
from joinedup.feeds.model import Issue, IssueCode, Message, MessageFormat, Unit

RECEIVED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NHS_NUMBER = "9434765919"  # valid Modulus 11 (NHS Data Dictionary example)
BAD_NHS_NUMBER = "9434765918"


def segment(name: str, fields: dict[int, str]) -> str:
    """A segment with the given fields by HL7 number (MSH numbering counts MSH-1 as the '|')."""
    if name == "MSH":
        last = max(fields)
        return "MSH|^~\\&|" + "|".join(fields.get(n, "") for n in range(3, last + 1))
    last = max(fields)
    return name + "|" + "|".join(fields.get(n, "") for n in range(1, last + 1))


def adt(
    trigger: str = "A01",
    *,
    control_id: str = "MSG0001",
    mrn: str = "REF1000001",
    nhs_number: str | None = NHS_NUMBER,
    visit: str = "V0001",
    patient_class: str = "I",
    pv1: dict[int, str] | None = None,
    pid: dict[int, str] | None = None,
    msh: dict[int, str] | None = None,
    mrg_mrn: str = "REF1000999",
    drop: tuple[str, ...] = (),
    separator: str = "\r",
) -> str:
    """A valid ADT message for tests (synthetic data), with overrides."""
    pid3 = f"{mrn}^^^REF^MR" + (f"~{nhs_number}^^^NHS^NH" if nhs_number else "")
    segments = {
        "MSH": segment(
            "MSH",
            {
                3: "PAS",
                4: "REF",
                5: "JOINEDUP",
                6: "QT6",
                7: "20250301101500",
                9: f"ADT^{trigger}^ADT_{trigger}",
                10: control_id,
                11: "P",
                12: "2.4",
                **(msh or {}),
            },
        ),
        "EVN": segment("EVN", {1: trigger, 2: "20250301101500"}),
        "PID": segment(
            "PID",
            {
                1: "1",
                3: pid3,
                5: "TESTER^ALEX^JO^^MX",
                7: "19450612",
                8: "F",
                11: "1 HIGH STREET^^TRURO^CORNWALL^tr1 2ab^GBR^H",
                **(pid or {}),
            },
        ),
        "MRG": segment("MRG", {1: f"{mrg_mrn}^^^REF^MR"}),
        "PV1": segment(
            "PV1",
            {
                1: "1",
                2: patient_class,
                3: "WARD1^BAY2^BED3^REF",
                4: "21",
                14: "19",
                19: visit,
                44: "202503011010",
                **(pv1 or {}),
            },
        ),
    }
    order = ["MSH", "EVN", "PID", "MRG"] if trigger == "A40" else ["MSH", "EVN", "PID", "PV1"]
    return separator.join(segments[name] for name in order if name not in drop) + separator


def message(body: str | bytes) -> Message:
    raw = body.encode() if isinstance(body, str) else body
    return Message("REF", "acute-adt", MessageFormat.HL7V2, raw, RECEIVED, name="adt.hl7")


def one(body: str | bytes) -> Unit:
    units = parse_hl7(message(body))
    assert len(units) == 1
    return units[0]


def resource(unit: Unit, resource_type: str) -> dict[str, object]:
    found = [r for r in unit.resources if r["resourceType"] == resource_type]
    assert len(found) == 1, f"expected one {resource_type}"
    return found[0]


# --- mapping ---------------------------------------------------------------------------------


def test_an_admission_maps_to_a_patient_and_an_in_progress_encounter() -> None:
    unit = one(adt("A01"))

    assert not unit.issues
    assert unit.label == "message 1"
    assert unit.message_id == "MSG0001"
    assert unit.original == adt("A01").encode().rstrip(b"\r")
    assert unit.person is not None
    assert unit.person.local_id == "REF1000001"
    assert unit.person.nhs_number == NHS_NUMBER
    assert (unit.person.given, unit.person.family) == ("ALEX", "TESTER")
    assert unit.person.birth_date is not None and unit.person.birth_date.isoformat() == "1945-06-12"
    assert unit.person.sex == "female"
    assert unit.person.postcode == "TR1 2AB"
    assert unit.person.address_line == "1 HIGH STREET"

    patient = resource(unit, "Patient")
    assert patient["identifier"] == [
        {"use": "usual", "system": local_identifier_system("REF", "mrn"), "value": "REF1000001"},
        {"system": NHS_NUMBER_SYSTEM, "value": NHS_NUMBER},
    ]
    assert patient["name"] == [
        {"use": "official", "family": "TESTER", "given": ["ALEX", "JO"], "prefix": ["MX"]}
    ]
    assert patient["gender"] == "female"
    assert patient["birthDate"] == "1945-06-12"
    assert patient["address"] == [
        {
            "use": "home",
            "line": ["1 HIGH STREET"],
            "city": "TRURO",
            "district": "CORNWALL",
            "postalCode": "TR1 2AB",
        }
    ]

    encounter = resource(unit, "Encounter")
    assert encounter["id"] == "V0001"
    assert encounter["status"] == "in-progress"
    assert encounter["class"] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": "IMP",
        "display": "inpatient encounter",
    }
    assert encounter["subject"] == {"reference": "Patient/REF1000001"}
    # No offset in the message: UK local time, GMT on 1 March.
    assert encounter["period"] == {"start": "2025-03-01T10:10:00+00:00"}
    assert encounter["serviceProvider"] == {
        "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "REF"}
    }
    location = encounter["location"]
    assert isinstance(location, list)
    assert location[0]["status"] == "active"
    assert location[0]["location"]["identifier"]["value"] == "WARD1/BAY2/BED3"


def test_summer_times_carry_the_bst_offset_and_explicit_offsets_are_kept() -> None:
    summer = resource(one(adt(pv1={44: "202507011010"})), "Encounter")
    assert summer["period"] == {"start": "2025-07-01T10:10:00+01:00"}
    explicit = resource(one(adt(pv1={44: "20250701101000-0500"})), "Encounter")
    assert explicit["period"] == {"start": "2025-07-01T10:10:00-05:00"}


def test_one_stay_admit_transfer_discharge_updates_the_same_encounter() -> None:
    body = "\n".join(
        [
            adt("A01", control_id="M1"),
            adt("A02", control_id="M2", pv1={3: "WARD7^^^REF", 6: "WARD1^BAY2^BED3^REF"}),
            adt(
                "A03",
                control_id="M3",
                pv1={3: "WARD7^^^REF", 45: "202503051200", 36: "19", 37: "1"},
            ),
        ]
    )
    units = parse_hl7(message(body))
    assert [u.label for u in units] == ["message 1", "message 2", "message 3"]
    assert all(not u.issues for u in units)
    encounters = [resource(u, "Encounter") for u in units]
    assert {e["id"] for e in encounters} == {"V0001"}
    assert [e["status"] for e in encounters] == ["in-progress", "in-progress", "finished"]

    # The transfer happened at EVN-2 (no EVN-6): the old location ends and the new one starts.
    assert encounters[1]["location"][0]["period"] == {"start": "2025-03-01T10:15:00+00:00"}  # type: ignore[index]
    transfer = encounters[1]["location"]
    assert isinstance(transfer, list)
    assert [(loc["location"]["display"], loc["status"]) for loc in transfer] == [
        ("WARD7", "active"),
        ("WARD1 BAY2 BED3", "completed"),
    ]
    discharge = encounters[2]
    assert discharge["period"] == {
        "start": "2025-03-01T10:10:00+00:00",
        "end": "2025-03-05T12:00:00+00:00",
    }
    hospitalization = discharge["hospitalization"]
    assert isinstance(hospitalization, dict)
    codes = [c["code"] for c in hospitalization["dischargeDisposition"]["coding"]]
    assert codes == ["19", "1"]  # usual place of residence, discharge-to-assess pathway 1
    assert hospitalization["admitSource"]["coding"][0]["code"] == "19"


@pytest.mark.parametrize(
    ("trigger", "status"),
    [
        ("A04", "in-progress"),
        ("A05", "planned"),
        ("A11", "entered-in-error"),
        ("A13", "in-progress"),
    ],
)
def test_each_visit_event_sets_the_encounter_status(trigger: str, status: str) -> None:
    unit = one(adt(trigger, pv1={45: "202503051200", 36: "19"}))
    assert not unit.issues
    encounter = resource(unit, "Encounter")
    assert encounter["status"] == status
    if trigger == "A13":  # a cancelled discharge reopens the stay
        assert "end" not in encounter["period"]  # type: ignore[operator]
        assert "dischargeDisposition" not in encounter["hospitalization"]  # type: ignore[operator]


def test_patient_classes_map_to_encounter_classes() -> None:
    classes = {
        pc: resource(one(adt(patient_class=pc)), "Encounter")["class"]["code"]  # type: ignore[index]
        for pc in ("I", "E", "O")
    }
    assert classes == {"I": "IMP", "E": "EMER", "O": "AMB"}


def test_an_update_without_a_visit_number_is_the_patient_alone() -> None:
    unit = one(adt("A08", visit="", patient_class="N"))
    assert not unit.issues
    assert [r["resourceType"] for r in unit.resources] == ["Patient"]
    with_visit = one(adt("A08", pv1={45: "202503051200"}))
    assert resource(with_visit, "Encounter")["status"] == "finished"


def test_a_death_date_is_recorded() -> None:
    unit = one(adt("A08", pid={29: "20250228", 30: "Y"}))
    assert resource(unit, "Patient")["deceasedDateTime"] == "2025-02-28"
    assert unit.person is not None and str(unit.person.death_date) == "2025-02-28"


def test_a_merge_names_the_retired_and_the_surviving_mrn() -> None:
    unit = one(adt("A40", mrn="REF1000001", mrg_mrn="REF1000999"))
    assert not unit.issues
    assert unit.merge == ("REF1000999", "REF1000001")
    assert [r["resourceType"] for r in unit.resources] == ["Patient"]
    assert unit.person is not None and unit.person.local_id == "REF1000001"


def test_a_merge_of_an_mrn_into_itself_is_rejected() -> None:
    unit = one(adt("A40", mrn="REF1", mrg_mrn="REF1"))
    assert unit.merge is None
    assert [i.location for i in unit.issues] == ["MRG-1"]


def test_escaped_delimiters_are_unescaped() -> None:
    unit = one(adt(pid={5: "O\\S\\BRIEN^PAT"}))
    assert unit.person is not None and unit.person.family == "O^BRIEN"


@pytest.mark.parametrize("facility", ["", "ROYAL CORNWALL"])
def test_without_an_ods_code_in_msh4_the_partner_names_the_systems(facility: str) -> None:
    unit = one(adt(msh={4: facility}))
    patient = resource(unit, "Patient")
    assert patient["identifier"][0]["system"] == local_identifier_system("REF", "mrn")  # type: ignore[index]


# --- splitting files -------------------------------------------------------------------------


@pytest.mark.parametrize("segment_separator", ["\r", "\n", "\r\n"])
@pytest.mark.parametrize("message_separator", ["", "\n", "\r\n", "\n\n"])
def test_files_split_into_messages_whatever_the_separators(
    segment_separator: str, message_separator: str
) -> None:
    messages = [
        adt("A01", control_id=f"M{n}", separator=segment_separator).rstrip(segment_separator)
        for n in range(3)
    ]
    body = (message_separator or segment_separator).join(messages) + "\n"
    chunks = split_messages(body.encode())
    assert [c.decode() for c in chunks] == messages
    units = parse_hl7(message(body))
    assert [u.message_id for u in units] == ["M0", "M1", "M2"]
    assert all(not u.issues for u in units)


def test_batch_envelopes_and_framing_are_dropped() -> None:
    body = (
        "FHS|^~\\&|PAS|REF\rBHS|^~\\&|PAS|REF\r"
        + adt(control_id="M1")
        + "\x1c\r\x0b"
        + adt(control_id="M2")
        + "BTS|2\rFTS|1\r"
    )
    units = parse_hl7(message(body))
    assert [(u.message_id, u.issues) for u in units] == [("M1", ()), ("M2", ())]


def test_leading_garbage_is_a_rejected_unit_of_its_own() -> None:
    units = parse_hl7(message("hello there\n" + adt()))
    assert [u.rejected for u in units] == [True, False]
    assert units[0].issues[0].location == "MSH"


def test_an_empty_file_is_reported() -> None:
    units = parse_hl7(message(b""))
    assert len(units) == 1 and units[0].rejected


# --- validation: the malformed corpus --------------------------------------------------------

_HUGE = adt(pid={13: "x" * 1_100_000})

MALFORMED: list[tuple[str, str | bytes, str, IssueCode, str]] = [
    # (case, message, expected location, expected code, expected ACK code)
    ("missing PID", adt(drop=("PID",)), "PID", IssueCode.REQUIRED, "AE"),
    ("missing EVN", adt(drop=("EVN",)), "EVN", IssueCode.REQUIRED, "AE"),
    ("missing PV1", adt(drop=("PV1",)), "PV1", IssueCode.REQUIRED, "AE"),
    ("A40 without MRG", adt("A40", drop=("MRG",)), "MRG", IssueCode.REQUIRED, "AE"),
    ("garbled segment", adt() + "P*D|1||x\r", "segment 5", IssueCode.STRUCTURE, "AR"),
    ("lower-case segment", adt().replace("PV1|", "pv1|"), "segment 4", IssueCode.STRUCTURE, "AR"),
    ("no MSH", adt().split("\r", 1)[1], "MSH", IssueCode.STRUCTURE, "AR"),
    ("field separator", adt().replace("|", "#"), "MSH-1", IssueCode.STRUCTURE, "AR"),
    ("encoding chars", adt().replace("^~\\&", "^~&\\", 1), "MSH-2", IssueCode.STRUCTURE, "AR"),
    ("truncated", adt()[:40], "MSH-10", IssueCode.REQUIRED, "AE"),
    ("not ADT", adt(msh={9: "ORU^R01"}), "MSH-9", IssueCode.NOT_SUPPORTED, "AR"),
    ("A99", adt(msh={9: "ADT^A99"}), "MSH-9.2", IssueCode.NOT_SUPPORTED, "AR"),
    ("no type", adt(msh={9: ""}), "MSH-9", IssueCode.REQUIRED, "AE"),
    ("no control id", adt(control_id=""), "MSH-10", IssueCode.REQUIRED, "AE"),
    ("version 3", adt(msh={12: "3.0"}), "MSH-12", IssueCode.NOT_SUPPORTED, "AR"),
    ("no PID-3", adt(pid={3: ""}), "PID-3", IssueCode.REQUIRED, "AE"),
    ("NHS number only", adt(mrn=""), "PID-3", IssueCode.REQUIRED, "AE"),
    ("bad NHS number", adt(nhs_number=BAD_NHS_NUMBER), "PID-3", IssueCode.VALUE, "AE"),
    ("short NHS number", adt(nhs_number="943476591"), "PID-3", IssueCode.VALUE, "AE"),
    ("30 February", adt(pv1={44: "20250230"}), "PV1-44", IssueCode.VALUE, "AE"),
    ("month 13", adt(pid={7: "19451312"}), "PID-7", IssueCode.VALUE, "AE"),
    ("hour 25", adt(pv1={45: "202503012500"}), "PV1-45", IssueCode.VALUE, "AE"),
    ("free-text date", adt(pid={7: "12/06/1945"}), "PID-7", IssueCode.VALUE, "AE"),
    ("bad offset", adt(pv1={44: "202503011010+2500"}), "PV1-44", IssueCode.VALUE, "AE"),
    (
        "bad EVN date",
        adt().replace("EVN|A01|20250301101500", "EVN|A01|x"),
        "EVN-2",
        IssueCode.VALUE,
        "AE",
    ),
    ("no admit time", adt(pv1={44: ""}), "PV1-44", IssueCode.REQUIRED, "AE"),
    ("no discharge time", adt("A03"), "PV1-45", IssueCode.REQUIRED, "AE"),
    ("no visit number", adt(visit=""), "PV1-19", IssueCode.REQUIRED, "AE"),
    ("no patient class", adt(patient_class=""), "PV1-2", IssueCode.REQUIRED, "AE"),
    ("bad patient class", adt(patient_class="Z"), "PV1-2", IssueCode.VALUE, "AE"),
    ("bad sex", adt(pid={8: "X"}), "PID-8", IssueCode.VALUE, "AE"),
    ("born after arrival", adt(pid={7: "20250302"}), "PID-7", IssueCode.VALUE, "AE"),
    ("died after arrival", adt(pid={29: "20250302"}), "PID-29", IssueCode.VALUE, "AE"),
    ("died before birth", adt(pid={29: "19400101"}), "PID-29", IssueCode.VALUE, "AE"),
    (
        "two NHS numbers",
        adt(pid={3: f"M1^^^REF^MR~{NHS_NUMBER}^^^NHS^NH~4010232137^^^NHS^NH"}),
        "PID-3",
        IssueCode.VALUE,
        "AE",
    ),
    (
        "two merges",
        adt("A40") + "PID|1||M2^^^REF^MR\rMRG|M3^^^REF^MR\r",
        "MRG",
        IssueCode.NOT_SUPPORTED,
        "AR",
    ),
    ("huge", _HUGE, "message", IssueCode.TOO_LONG, "AR"),
    ("binary", b"MSH|^~\\&|\xff\xfe\x00\x01\x02", "MSH-9", IssueCode.REQUIRED, "AE"),
]


@pytest.mark.parametrize(
    ("body", "location", "code", "ack"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_messages_are_rejected_with_what_and_where(
    body: str | bytes, location: str, code: IssueCode, ack: str
) -> None:
    unit = one(body)
    assert unit.rejected
    assert not unit.resources and unit.person is None and unit.merge is None
    assert all(i.location and i.diagnostics for i in unit.issues)
    assert len(set(unit.issues)) == len(unit.issues)  # each problem reported once
    assert (location, code) in [(i.location, i.code) for i in unit.issues]
    assert ack_code(unit.issues) == ack
    assert unit.message_id  # even without MSH-10, the quarantine gets a stable id
    assert unit.original == (body if isinstance(body, bytes) else body.encode()).strip(b"\r\n")


def test_issues_never_quote_the_patient() -> None:
    body = adt(nhs_number=BAD_NHS_NUMBER, pid={7: "19451312", 8: "X"}, pv1={44: "20250230"})
    unit = one(body)
    text = (
        " ".join(str(i) for i in unit.issues) + build_ack(unit.original, "AE", unit.issues).decode()
    )
    for private in (BAD_NHS_NUMBER, "REF1000001", "TESTER", "ALEX", "19451312", "TR1"):
        assert private not in text


def test_good_messages_beside_bad_ones_are_still_accepted() -> None:
    body = "\n".join(
        [
            adt(control_id="GOOD1"),
            adt(control_id="BAD1", drop=("PID",)),
            adt(control_id="BAD2").replace("|", "#"),
            "PV1|garbage with no header",
            adt(control_id="GOOD2", mrn="REF2"),
            adt(control_id="BAD3", msh={9: "ADT^A99"}),
            _HUGE,
            adt(control_id="GOOD3", mrn="REF3"),
        ]
    )
    units = parse_hl7(message(body))
    accepted = [u.message_id for u in units if not u.rejected]
    assert accepted == ["GOOD1", "GOOD2", "GOOD3"]
    assert len(units) == 7  # the stray PV1 line joins the message before it
    assert all(u.issues for u in units if u.rejected)


def test_the_size_limit_can_be_set() -> None:
    units = parse_hl7(message(adt()), max_bytes=100)
    assert units[0].issues[0].code is IssueCode.TOO_LONG


# --- ACKs ------------------------------------------------------------------------------------


def _segments(ack: bytes) -> list[list[str]]:
    assert ack.endswith(b"\r")
    return [s.split("|") for s in ack.decode().rstrip("\r").split("\r")]


def test_an_accepted_message_gets_aa_from_the_receiver_to_the_sender() -> None:
    at = datetime(2025, 3, 1, 10, 15, 1, tzinfo=UTC)
    ack = build_ack(adt().encode(), "AA", [], at=at)
    msh, msa = _segments(ack)
    assert msh[:12] == [
        "MSH",
        "^~\\&",
        "JOINEDUP",
        "QT6",
        "PAS",
        "REF",
        "20250301101501+0000",
        "",
        "ACK^A01^ACK",
        "ACKMSG0001",
        "P",
        "2.4",
    ]
    assert msa[:3] == ["MSA", "AA", "MSG0001"]
    assert build_ack(adt().encode(), "AA", [], at=at) == ack  # deterministic


def test_a_long_control_id_gets_a_derived_ack_id_that_fits() -> None:
    ack = build_ack(adt(control_id="X" * 30).encode(), "AA", [])
    msh, msa = _segments(ack)
    assert len(msh[9]) == 20 and msh[9].startswith("ACK")
    assert msa[2] == "X" * 30


def test_errors_become_err_segments_with_location_code_and_message() -> None:
    unit = one(adt(nhs_number=BAD_NHS_NUMBER, pv1={44: "20250230", 2: "Z"}))
    code = ack_code(unit.issues)
    assert code == "AE"
    segments = _segments(build_ack(unit.original, code, unit.issues))
    assert [s[0] for s in segments] == ["MSH", "MSA", "ERR", "ERR", "ERR"]
    errs = {s[2]: s for s in segments if s[0] == "ERR"}
    assert set(errs) == {"PID^1^3", "PV1^1^44", "PV1^1^2"}
    assert errs["PID^1^3"][3] == "102^Data type error^HL70357"
    assert errs["PV1^1^2"][3] == "103^Table value not found^HL70357"
    assert all(err[4] == "E" for err in errs.values())
    assert errs["PV1^1^44"][8].startswith("PV1-44: not a valid HL7 date/time")


def test_an_unreadable_message_still_gets_an_ar() -> None:
    issue = Issue(IssueCode.STRUCTURE, "MSH", "the message does not begin with an MSH segment")
    msh, msa, err = _segments(build_ack(b"\x00garbage", "AR", [issue]))
    assert msh[8] == "ACK" and msh[9].startswith("ACK")
    assert msa[:3] == ["MSA", "AR", ""]
    assert err[3].startswith("100^")


def test_an_ack_to_wrong_delimiters_quotes_what_it_could_read() -> None:
    body = adt(control_id="M77").replace("|", "#").encode()
    unit = one(body)
    msh, msa, *_ = _segments(build_ack(body, ack_code(unit.issues), unit.issues))
    assert msa[:3] == ["MSA", "AR", "M77"]
    assert msh[2:6] == ["JOINEDUP", "QT6", "PAS", "REF"]


@pytest.mark.parametrize(
    ("issue", "code"),
    [
        (Issue(IssueCode.REQUIRED, "PID", "x"), 100),
        (Issue(IssueCode.REQUIRED, "PID-3", "x"), 101),
        (Issue(IssueCode.VALUE, "PV1-44", "x"), 102),
        (Issue(IssueCode.VALUE, "PID-8", "x"), 103),
        (Issue(IssueCode.NOT_SUPPORTED, "MSH-9", "x"), 200),
        (Issue(IssueCode.NOT_SUPPORTED, "MSH-9.2", "x"), 201),
        (Issue(IssueCode.NOT_SUPPORTED, "MSH-12", "x"), 203),
        (Issue(IssueCode.NOT_FOUND, "MRG-1", "x"), 204),
        (Issue(IssueCode.CONFLICT, "message 1", "x"), 205),
        (Issue(IssueCode.EXCEPTION, "message 1", "x"), 207),
    ],
)
def test_issues_map_to_hl7_error_codes(issue: Issue, code: int) -> None:
    assert hl7_error_code(issue) == code


def test_warnings_alone_are_accepted() -> None:
    assert ack_code([Issue(IssueCode.VALUE, "PID-8", "x", severity="warning")]) == "AA"


def test_public_names() -> None:
    assert set(hl7v2.__all__) == {
        "MAX_MESSAGE_BYTES",
        "NHS_NUMBER_SYSTEM",
        "ODS_SYSTEM",
        "SUPPORTED_TRIGGERS",
        "ack_code",
        "build_ack",
        "hl7_error_code",
        "local_identifier_system",
        "parse_hl7",
        "split_messages",
    }


# --- never raising ---------------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    units = parse_hl7(message(body))
    assert units
    for unit in units:
        assert unit.rejected or unit.resources
        build_ack(unit.original, ack_code(unit.issues), unit.issues)
    build_ack(body, "AR", [])


_PIECES = st.sampled_from(
    [
        "|",
        "^",
        "~",
        "\\",
        "&",
        "\r",
        "\n",
        "MSH",
        "PID",
        "PV1",
        "EVN",
        "MRG",
        "A40",
        "20250230",
        "\x0b",
        "\x1c",
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(min_value=0, max_value=400), _PIECES | st.text(max_size=5))),
    st.sampled_from(["A01", "A03", "A08", "A40"]),
)
def test_mangled_messages_never_raise(edits: list[tuple[int, str]], trigger: str) -> None:
    body = adt(trigger)
    for position, piece in edits:
        body = body[:position] + piece + body[position + 1 :]
    for unit in parse_hl7(message(body)):
        assert unit.rejected or unit.resources
        assert all(i.location for i in unit.issues)
        ack = build_ack(unit.original, ack_code(unit.issues), unit.issues)
        assert ack.startswith(b"MSH|^~\\&|")


def test_the_discharge_ready_date_travels_in_pv2_9() -> None:
    """A delayed discharge: PV2-9 (expected discharge date/time) carries the date the person
    was clinically ready to leave; it becomes an extension on the Encounter."""
    body = adt("A03", pv1={45: "202503051200", 36: "19", 37: "2"}) + "PV2|||||||||202503031500\r"
    discharge = resource(one(body), "Encounter")
    assert {"url": DISCHARGE_READY_URL, "valueDateTime": "2025-03-03T15:00:00+00:00"} in (
        discharge["extension"]  # type: ignore[operator]
    )
    bad = one(adt("A03", pv1={45: "202503051200"}) + "PV2|||||||||2025-03-03\r")
    assert [i.location for i in bad.issues] == ["PV2-9"]
