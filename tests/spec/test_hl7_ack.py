"""HL7 v2 acknowledgements, checked against the published definitions.

Sources:

- HL7 Version 2.5, Chapter 2 (Control), "original acknowledgment mode" processing rules and
  "MSA - message acknowledgment segment": MSA-1 Acknowledgment Code uses HL7 table 0008
  (original mode: AA Application Accept, AE Application Error, AR Application Reject); MSA-2
  Message Control ID is "the message control ID of the message sent by the sending system",
  i.e. the MSH-10 being acknowledged.
- HL7 Version 2.5, Chapter 2, "ERR - error segment": ERR-1 Error Code and
  Location (ELD, kept for backward compatibility), ERR-2 Error Location (ERL: segment ID ^
  segment sequence ^ field position ^ field repetition ^ component number ^ sub-component
  number), ERR-3 HL7 Error Code (CWE, table 0357), ERR-4 Severity (table 0516: E error,
  W warning, I information), ERR-8 User Message (TX).
- HL7 table 0357 Message Error Condition Codes (HL7 Terminology,
  http://terminology.hl7.org/CodeSystem/v2-0357): 0 Message accepted, 100 Segment sequence
  error (segments out of order or required segments missing), 101 Required field missing,
  102 Data type error, 103 Table value not found, 200 Unsupported message type, 201 Unsupported
  event code, 202 Unsupported processing id, 203 Unsupported version id, 204 Unknown key
  identifier, 205 Duplicate key identifier, 206 Application record locked, 207 Application
  internal error.
- HL7 Version 2.4, Chapter 2, "MSH - message header segment": MSH-1 field
  separator (recommended ``|``), MSH-2 encoding characters (recommended ``^~\\&``); an ACK's
  MSH-9 is ``ACK`` with the trigger event of the message acknowledged (message structure ACK).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from joinedup.feeds.hl7v2 import ack_code, build_ack, hl7_error_code
from joinedup.feeds.model import Issue, IssueCode

TABLE_0008_ORIGINAL_MODE = {"AA", "AE", "AR"}
TABLE_0357 = {
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
    202: "Unsupported processing id",
    203: "Unsupported version id",
    204: "Unknown key identifier",
    205: "Duplicate key identifier",
    206: "Application record locked",
    207: "Application internal error",
}
TABLE_0516 = {"E", "W", "I"}

INCOMING = (
    b"MSH|^~\\&|PAS|REF|JOINEDUP|QT6|20250301101500||ADT^A01^ADT_A01|MSG0001|P|2.4\r"
    b"EVN|A01|20250301101500\r"
)


def fields(ack: bytes, name: str) -> list[list[str]]:
    return [s.decode().split("|") for s in ack.rstrip(b"\r").split(b"\r") if s[:3] == name.encode()]


def test_msa_carries_the_code_and_the_incoming_control_id() -> None:
    """MSA-1 is from table 0008; MSA-2 echoes the acknowledged message's MSH-10."""
    for code in TABLE_0008_ORIGINAL_MODE:
        [msa] = fields(build_ack(INCOMING, code, []), "MSA")
        assert msa[1] == code
        assert msa[2] == "MSG0001"


def test_ack_header_is_an_ack_for_the_same_trigger_back_to_the_sender() -> None:
    """MSH-9 ACK^<trigger>^ACK; sending and receiving application/facility swapped."""
    ack = build_ack(INCOMING, "AA", [], at=datetime(2025, 3, 1, 10, 15, 1, tzinfo=UTC))
    assert ack.startswith(b"MSH|^~\\&|")
    [msh] = fields(ack, "MSH")
    assert msh[2:6] == ["JOINEDUP", "QT6", "PAS", "REF"]
    assert msh[8] == "ACK^A01^ACK"
    assert msh[9] and msh[9] != "MSG0001"  # the ACK's own control id


@pytest.mark.parametrize(
    ("issue", "erl", "code"),
    [
        (Issue(IssueCode.REQUIRED, "PID", "segment missing"), "PID^1", 100),
        (Issue(IssueCode.REQUIRED, "PID-3", "field missing"), "PID^1^3", 101),
        (Issue(IssueCode.VALUE, "PV1-44", "bad date"), "PV1^1^44", 102),
        (Issue(IssueCode.VALUE, "PID-8", "unknown sex"), "PID^1^8", 103),
        (Issue(IssueCode.NOT_SUPPORTED, "MSH-9", "not ADT"), "MSH^1^9", 200),
        (Issue(IssueCode.NOT_SUPPORTED, "MSH-9.2", "A99"), "MSH^1^9^1^2", 201),
        (Issue(IssueCode.NOT_SUPPORTED, "MSH-12", "v3"), "MSH^1^12", 203),
        (Issue(IssueCode.EXCEPTION, "message", "failed"), "", 207),
    ],
)
def test_err_has_location_code_severity_and_user_message(issue: Issue, erl: str, code: int) -> None:
    """ERR-2 is an ERL, ERR-3 a table 0357 CWE, ERR-4 from table 0516, ERR-8 the diagnostics."""
    assert hl7_error_code(issue) == code
    [err] = fields(build_ack(INCOMING, ack_code([issue]), [issue]), "ERR")
    assert err[2] == erl
    assert err[3] == f"{code}^{TABLE_0357[code]}^HL70357"
    assert err[4] in TABLE_0516 and err[4] == "E"
    assert issue.diagnostics in err[8]
    if erl:  # ERR-1 ELD for v2.4 receivers: segment^sequence^field^code
        assert err[1].split("^")[:2] == erl.split("^")[:2]
        assert err[1].split("^")[3].startswith(f"{code}&")


def test_original_mode_codes() -> None:
    """AA: accepted. AE: an error in content. AR: rejected (type, version, unreadable)."""
    assert ack_code([]) == "AA"
    assert ack_code([Issue(IssueCode.REQUIRED, "PID-3", "x")]) == "AE"
    assert ack_code([Issue(IssueCode.NOT_SUPPORTED, "MSH-9", "x")]) == "AR"
    assert ack_code([Issue(IssueCode.NOT_SUPPORTED, "MSH-12", "x")]) == "AR"
    assert ack_code([Issue(IssueCode.STRUCTURE, "MSH-2", "x")]) == "AR"


def test_delimiters_in_user_messages_are_escaped() -> None:
    """HL7 v2 Chapter 2 escape sequences for delimiters: \\F\\ \\S\\ \\T\\ \\R\\ \\E\\."""
    issue = Issue(IssueCode.VALUE, "PID-7", "a|b^c&d~e\\f")
    [err] = fields(build_ack(INCOMING, "AE", [issue]), "ERR")
    assert err[8] == "PID-7: a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f"
