"""HL7 v2 ADT intake (v2.4 UK): split a file into messages, validate each, map it to FHIR R4.

Each HL7 message is one unit (``message N``), taken or rejected whole. Parsing is pure and never
raises for bad input: whatever is wrong becomes an :class:`~joinedup.feeds.model.Issue` whose
location is an HL7 position (``MSH-9``, ``PID-3``, ``PV1-44``, a segment name, or ``segment N``
when the segment's name itself is garbled). :func:`build_ack` answers a message with an HL7 ACK
(``AA``/``AE``/``AR``) carrying one ERR segment per issue; :func:`ack_code` says which code.

We split and read the segments ourselves rather than through ``hl7.parse``: the intake must
accept only the standard delimiters (``hl7.parse`` takes whatever MSH declares), tolerate three
kinds of segment separator, point at the exact segment that is garbled, and never raise.

Supported trigger events and what they do to the FHIR ``Encounter`` (id = the visit number,
PV1-19, so every message about one hospital stay updates the same Encounter):

====  =======================  ====================================================
A01   admit                    ``in-progress``
A02   transfer                 ``in-progress``; PV1-3 the new location, PV1-6 the old
A03   discharge                ``finished``; PV1-45 the end, PV1-36 the destination
A04   register (outpatient/ED) ``in-progress``
A05   pre-admit                ``planned``
A08   update patient info      Patient always; Encounter only when PV1-19 is given,
                               its status read from the dates (PV1-45 → finished,
                               PV1-44 → in-progress, neither → planned)
A11   cancel admit             ``entered-in-error``
A13   cancel discharge         ``in-progress`` again, without an end or destination
A40   merge patient            no Encounter; ``Unit.merge = (MRG-1 MRN, PID-3 MRN)``
====  =======================  ====================================================
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Final, NamedTuple
from zoneinfo import ZoneInfo

from joinedup.feeds.model import Issue, IssueCode, Message, PersonDetails, Unit
from joinedup.feeds.uk_core import is_ods_code, modulus11_valid

__all__ = [
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
]

MAX_MESSAGE_BYTES: Final = 1_000_000
"""Messages longer than this are rejected unread (``too-long``): a real ADT is a few KB."""

VISIT_TRIGGERS: Final = frozenset({"A01", "A02", "A03", "A04", "A05", "A08", "A11", "A13"})
SUPPORTED_TRIGGERS: Final = VISIT_TRIGGERS | {"A40"}

NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM: Final = "https://fhir.nhs.uk/Id/ods-organization-code"
_ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_UK_CORE_CS: Final = "https://fhir.hl7.org.uk/CodeSystem/"
_ADMISSION_METHOD_URL: Final = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AdmissionMethod"
)
_D2A_PATHWAY_SYSTEM: Final = "https://fhir.joinedup.example/CodeSystem/discharge-to-assess-pathway"
#: When a person was clinically ready for discharge (NHS England's discharge ready date).
DISCHARGE_READY_URL: Final = "https://fhir.joinedup.example/StructureDefinition/discharge-ready"

# The only delimiters accepted (HL7 v2 defaults, required by the UK interaction specs).
_FIELD_SEPARATOR: Final = "|"
_ENCODING_CHARACTERS: Final = "^~\\&"
_MSH_PREFIX: Final = "MSH" + _FIELD_SEPARATOR + _ENCODING_CHARACTERS

_SEGMENT_SEPARATORS: Final = re.compile(r"\r\n|\r|\n")
_SEGMENT_NAME: Final = re.compile(r"[A-Z][A-Z0-9]{2}")
_CODE_LIKE: Final = re.compile(r"[A-Z0-9]{1,5}")
_FHIR_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_TS: Final = re.compile(
    r"(\d{4})(\d{2})(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?([+-]\d{4})?"
)
# A message starts at "MSH" at the beginning of the body or of a line.
_MESSAGE_START: Final = re.compile(rb"(?:^|(?<=[\r\n\x0b\x1c]))MSH")
# Batch envelope segments (HL7 v2 batch protocol) wrap messages in some files; they are not
# part of any message.
_ENVELOPE: Final = (b"FHS", b"BHS", b"BTS", b"FTS")
_FRAMING_AND_SPACE: Final = b" \t\r\n\x0b\x1c"
_LINE: Final = re.compile(rb"[^\r\n]+")
_SEGMENT_SEPARATORS_B: Final = re.compile(rb"\r\n|\r|\n")

_UK: Final = ZoneInfo("Europe/London")

_REQUIRED_SEGMENTS: Final[dict[str, tuple[str, ...]]] = {
    **{trigger: ("EVN", "PID", "PV1") for trigger in VISIT_TRIGGERS},
    "A40": ("PID", "MRG"),
}
_ENCOUNTER_STATUS: Final = {
    "A01": "in-progress",
    "A02": "in-progress",
    "A03": "finished",
    "A04": "in-progress",
    "A05": "planned",
    "A11": "entered-in-error",
    "A13": "in-progress",
}
# PV1-2 patient class (HL7 table 0004) → FHIR Encounter.class (v3 ActCode).
_PATIENT_CLASS: Final = {
    "I": ("IMP", "inpatient encounter"),
    "B": ("IMP", "inpatient encounter"),  # obstetrics
    "E": ("EMER", "emergency"),
    "O": ("AMB", "ambulatory"),
    "R": ("AMB", "ambulatory"),  # recurring patient
    "P": ("PRENC", "pre-admission"),
}
# PID-8 administrative sex (HL7 table 0001) → FHIR gender.
_GENDER: Final = {"M": "male", "F": "female", "U": "unknown", "O": "other", "A": "other"}
# Fields whose value comes from a table: a bad value there is "table value not found" (103).
_CODED_FIELDS: Final = frozenset({"PID-8", "PV1-2", "PV1-4", "PV1-14", "PV1-36", "PV1-37"})


def local_identifier_system(ods: str, kind: str) -> str:
    """The identifier system of one organisation's own ids (``mrn``, ``visit-number``, ``location``).

    Trusts' own systems would be ``https://fhir.<trust>.nhs.uk/Id/...``; we don't know each
    trust's domain, so the system is built from the sending facility's ODS code (MSH-4).
    """
    return f"https://fhir.joinedup.example/Id/ods/{ods}/{kind}"


# --- splitting files into messages ---------------------------------------------------------


def split_messages(body: bytes) -> list[bytes]:
    """The HL7 messages in a file, each as its own bytes, in order.

    A message starts at ``MSH`` at the start of a line; messages may be separated by newlines or
    by nothing at all, and segments by ``\\r``, ``\\n`` or ``\\r\\n``. Batch envelope segments
    (FHS, BHS, BTS, FTS) and MLLP framing bytes between messages are dropped. Anything before
    the first ``MSH`` that is not an envelope becomes a message of its own, so it is reported
    (as not starting with MSH) rather than silently lost.
    """
    starts = [m.start() for m in _MESSAGE_START.finditer(body)]
    bounds = [0, *starts] if not starts or starts[0] != 0 else starts
    chunks = []
    for start, end in zip(bounds, [*bounds[1:], len(body)], strict=True):
        chunk = _strip_envelope(body[start:end])
        if chunk:
            chunks.append(chunk)
    return chunks


def _strip_envelope(chunk: bytes) -> bytes:
    """A chunk without batch envelope segments, blank lines and MLLP framing at either end."""
    lines = [m for m in _LINE.finditer(chunk) if m.group().strip(_FRAMING_AND_SPACE)]
    while lines and lines[0].group().lstrip(_FRAMING_AND_SPACE).startswith(_ENVELOPE):
        lines.pop(0)
    while lines and lines[-1].group().lstrip(_FRAMING_AND_SPACE).startswith(_ENVELOPE):
        lines.pop()
    if not lines:
        return b""
    # Slice the original rather than re-join the lines, so the message keeps its own bytes.
    return chunk[lines[0].start() : lines[-1].end()].strip(_FRAMING_AND_SPACE)


# --- reading one message ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Segment:
    """One segment, with ``fields[n]`` being field n (for MSH too: MSH-1 is the ``|``)."""

    name: str
    fields: list[str]
    position: int  # 1-based, within the message

    def raw(self, n: int) -> str:
        return self.fields[n] if n < len(self.fields) else ""

    def value(self, n: int, component: int = 1) -> str:
        """Field n, first repetition, one component, unescaped and trimmed."""
        return _component(self.raw(n).split("~", 1)[0], component)


def _component(value: str, n: int) -> str:
    parts = value.split("^")
    text = parts[n - 1] if n <= len(parts) else ""
    return _unescape(text.split("&", 1)[0]).strip()


def _components(repetition: str) -> list[str]:
    return [_unescape(c.split("&", 1)[0]).strip() for c in repetition.split("^")]


def _unescape(text: str) -> str:
    """Undo HL7 escape sequences (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\; others, e.g. formatting, dropped)."""
    if "\\" not in text:
        return text
    out: list[str] = []
    parts = text.split("\\")
    # parts alternate text, escape, text, ...; an unterminated escape is kept as text.
    for index, part in enumerate(parts):
        if index % 2 == 0:
            out.append(part)
        elif index == len(parts) - 1:
            out.append("\\" + part)
        else:
            out.append(_ESCAPES.get(part, " " if part == ".br" else ""))
    return "".join(out)


_ESCAPES: Final = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}


def _escape(text: str) -> str:
    """Escape a value for an HL7 field (used in ACKs)."""
    text = text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\")
    text = text.replace("&", "\\T\\").replace("~", "\\R\\")
    return text.replace("\r", " ").replace("\n", " ")


def _decode(raw: bytes) -> str:
    # UK feeds are ASCII or ISO 8859-1 (MSH-18); UTF-8 is tried first because it fails loudly.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class _Header(NamedTuple):
    """What can be read of an MSH even when the rest of the message can't be trusted."""

    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    message_type: str = ""
    trigger: str = ""
    control_id: str = ""
    processing_id: str = ""
    version: str = ""


def _sniff_header(raw: bytes) -> _Header:
    """Best-effort MSH fields, using whatever field separator the message declares."""
    first = _SEGMENT_SEPARATORS_B.split(raw[:4096].lstrip(_FRAMING_AND_SPACE), 1)[0]
    text = _decode(first)
    if not text.startswith("MSH") or len(text) < 4 or text[3].isalnum() or text[3].isspace():
        return _Header()
    separator = text[3]
    fields = ["MSH", separator, *text[4:].split(separator)]
    encoding = fields[2] if len(fields) > 2 else ""
    component = encoding[0] if encoding and not encoding[0].isalnum() else "^"

    def field(n: int, part: int = 1) -> str:
        if n >= len(fields):
            return ""
        pieces = fields[n].split(component)
        value = pieces[part - 1] if part <= len(pieces) else ""
        # Only printable, short values: this goes back to the sender in the ACK.
        value = "".join(c for c in value if c.isprintable())[:50]
        return _unescape(value).strip() if separator == "|" else value.strip()

    return _Header(
        sending_application=field(3),
        sending_facility=field(4),
        receiving_application=field(5),
        receiving_facility=field(6),
        message_type=field(9),
        trigger=field(9, 2),
        control_id=field(10),
        processing_id=field(11),
        version=field(12),
    )


def _fallback_message_id(raw: bytes) -> str:
    # A message whose MSH-10 can't be read still needs a stable id for the quarantine.
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:32]


class _When(NamedTuple):
    fhir: str  # FHIR date or dateTime
    day: date


def _parse_ts(value: str) -> _When | None:
    """An HL7 TS (``YYYYMMDD[HH[MM[SS[.S...]]]][+/-ZZZZ]``) as FHIR; None if not a valid one.

    A time without an offset is UK local time (the sender's clock): FHIR needs an offset
    whenever there is a time, so it is added for the date, GMT or BST.
    """
    match = _TS.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, _, offset = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
        )
    except ValueError:
        return None
    if hour is None:
        return _When(moment.date().isoformat(), moment.date())
    if offset is not None:
        hours, minutes = int(offset[1:3]), int(offset[3:5])
        if hours > 14 or minutes > 59:
            return None
        delta = timedelta(hours=hours, minutes=minutes)
        aware = moment.replace(tzinfo=timezone(-delta if offset[0] == "-" else delta))
    else:
        aware = moment.replace(tzinfo=_UK)
    return _When(aware.isoformat(timespec="seconds"), moment.date())


def _fhir_id(value: str) -> str:
    """A FHIR id for a sender's identifier: itself if it is a valid id, otherwise a digest."""
    if _FHIR_ID.fullmatch(value):
        return value
    return hashlib.sha256(value.encode()).hexdigest()[:40]


class _Reader:
    """Validates one message and maps it to FHIR, collecting issues as it goes."""

    def __init__(self, segments: list[_Segment], *, partner: str, received_on: date) -> None:
        self.segments = segments
        self.received_on = received_on  # the UK date the message arrived
        self.issues: list[Issue] = []
        self.msh = segments[0]
        # MSH-4 often holds a local name rather than an ODS code; then the sender's code serves.
        facility = self.msh.value(4)
        self.ods = facility if is_ods_code(facility) else partner

    def issue(self, code: IssueCode, location: str, diagnostics: str) -> None:
        self.issues.append(Issue(code, location, diagnostics))

    def first(self, name: str) -> _Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def when(self, segment: _Segment | None, n: int) -> _When | None:
        """A TS field, checked; an invalid one is reported and read as absent."""
        if segment is None:
            return None
        value = segment.value(n)
        if not value:
            return None
        when = _parse_ts(value)
        if when is None:
            self.issue(
                IssueCode.VALUE,
                f"{segment.name}-{n}",
                "not a valid HL7 date/time (YYYYMMDD[HHMM[SS]] with an optional +/-ZZZZ)",
            )
        return when

    # -- the header ---------------------------------------------------------------------------

    def trigger(self) -> str | None:
        """The supported trigger event, or None (with an issue) when the type is not supported."""
        message_type, trigger = self.msh.value(9, 1), self.msh.value(9, 2)
        if not message_type:
            self.issue(IssueCode.REQUIRED, "MSH-9", "message type (MSH-9) is missing")
            return None
        if message_type != "ADT":
            shown = f" {message_type}" if _CODE_LIKE.fullmatch(message_type) else ""
            self.issue(
                IssueCode.NOT_SUPPORTED,
                "MSH-9",
                f"message type{shown} is not supported; only ADT is taken",
            )
            return None
        if trigger not in SUPPORTED_TRIGGERS:
            shown = f" {trigger}" if _CODE_LIKE.fullmatch(trigger) else ""
            self.issue(
                IssueCode.NOT_SUPPORTED,
                "MSH-9.2",
                f"ADT trigger event{shown} is not supported; supported: "
                + ", ".join(sorted(SUPPORTED_TRIGGERS)),
            )
            return None
        return trigger

    def check_header(self) -> None:
        if not self.msh.value(10):
            self.issue(IssueCode.REQUIRED, "MSH-10", "message control id (MSH-10) is missing")
        version = self.msh.value(12)
        if version and not version.startswith("2."):
            self.issue(
                IssueCode.NOT_SUPPORTED, "MSH-12", "only HL7 version 2 messages are supported"
            )
        self.when(self.msh, 7)

    def check_segments(self, trigger: str) -> bool:
        """Whether the segments the trigger needs are all there (issues for those missing)."""
        complete = True
        for name in _REQUIRED_SEGMENTS[trigger]:
            if self.first(name) is None:
                self.issue(
                    IssueCode.REQUIRED,
                    name,
                    f"segment {name} is required in an ADT {trigger} message but is missing",
                )
                complete = False
        if trigger == "A40" and sum(1 for s in self.segments if s.name == "MRG") > 1:
            self.issue(
                IssueCode.NOT_SUPPORTED,
                "MRG",
                "only one patient merge per A40 message is supported; send one message each",
            )
        return complete

    # -- the patient --------------------------------------------------------------------------

    def identifiers(
        self, segment: _Segment, n: int
    ) -> tuple[str | None, str | None, list[dict[str, Any]]]:
        """(MRN, NHS number, FHIR identifiers) from a CX list such as PID-3 or MRG-1."""
        location = f"{segment.name}-{n}"
        mrn: str | None = None
        nhs_number: str | None = None
        identifiers: list[dict[str, Any]] = []
        for repetition in segment.raw(n).split("~"):
            parts = _components(repetition) + [""] * 5
            value, authority, kind = parts[0], parts[3], parts[4]
            if not value:
                continue
            if authority == "NHS" or kind == "NH":
                number = value.replace(" ", "")
                if not modulus11_valid(number):
                    self.issue(
                        IssueCode.VALUE,
                        location,
                        "NHS number is not 10 digits passing the Modulus 11 check",
                    )
                elif nhs_number is None:
                    nhs_number = number
                    identifiers.append({"system": NHS_NUMBER_SYSTEM, "value": number})
                elif number != nhs_number:
                    self.issue(IssueCode.VALUE, location, "two different NHS numbers are given")
            elif mrn is None:
                mrn = value
                identifiers.append(
                    {
                        "use": "usual",
                        "system": local_identifier_system(self.ods, "mrn"),
                        "value": value,
                    }
                )
        return mrn, nhs_number, identifiers

    def patient(self, pid: _Segment) -> tuple[PersonDetails | None, dict[str, Any]]:
        mrn, nhs_number, identifiers = self.identifiers(pid, 3)
        if not any(_component(r, 1) for r in pid.raw(3).split("~")):
            self.issue(IssueCode.REQUIRED, "PID-3", "patient identifier list (PID-3) is empty")
        elif mrn is None:
            self.issue(
                IssueCode.REQUIRED,
                "PID-3",
                "no local patient identifier (MRN) in PID-3; one repetition other than the NHS number is needed",
            )
        resource: dict[str, Any] = {"resourceType": "Patient"}
        if mrn is not None:
            resource["id"] = _fhir_id(mrn)
        if identifiers:
            resource["identifier"] = identifiers

        name = _components(pid.raw(5).split("~", 1)[0]) + [""] * 5
        family, given, middle, prefix = name[0], name[1], name[2], name[4]
        if family or given:
            human: dict[str, Any] = {"use": "official"}
            if family:
                human["family"] = family
            if given or middle:
                human["given"] = [g for g in (given, middle) if g]
            if prefix:
                human["prefix"] = [prefix]
            resource["name"] = [human]

        sex_code = pid.value(8)
        gender = _GENDER.get(sex_code)
        if sex_code and gender is None:
            self.issue(IssueCode.VALUE, "PID-8", "administrative sex is not one of M, F, U, O, A")
        if gender:
            resource["gender"] = gender

        birth = self.when(pid, 7)
        if birth is not None and birth.day > self.received_on:
            self.issue(IssueCode.VALUE, "PID-7", "date of birth is after the message arrived")
        elif birth is not None:
            resource["birthDate"] = birth.day.isoformat()

        address = _components(pid.raw(11).split("~", 1)[0]) + [""] * 6
        street, other, city, county, postcode = (address[i] for i in range(5))
        if any((street, other, city, county, postcode)):
            fhir_address: dict[str, Any] = {"use": "home"}
            lines = [line for line in (street, other) if line]
            if lines:
                fhir_address["line"] = lines
            if city:
                fhir_address["city"] = city
            if county:
                fhir_address["district"] = county
            if postcode:
                fhir_address["postalCode"] = postcode.upper()
            resource["address"] = [fhir_address]

        death = self.when(pid, 29)
        if death is not None and death.day > self.received_on:
            self.issue(IssueCode.VALUE, "PID-29", "date of death is after the message arrived")
        elif death is not None and birth is not None and death.day < birth.day:
            self.issue(IssueCode.VALUE, "PID-29", "date of death is before the date of birth")
        if death is not None:
            resource["deceasedDateTime"] = death.fhir
        elif pid.value(30) == "Y":
            resource["deceasedBoolean"] = True

        if mrn is None:
            return None, resource
        person = PersonDetails(
            local_id=mrn,
            nhs_number=nhs_number,
            given=given or None,
            family=family or None,
            birth_date=birth.day if birth else None,
            sex=gender,
            postcode=postcode.upper() or None,
            address_line=street or None,
            death_date=death.day if death else None,
        )
        return person, resource

    # -- the encounter ------------------------------------------------------------------------

    def encounter(
        self, trigger: str, pv1: _Segment, moved_at: _When | None, subject: str
    ) -> dict[str, Any] | None:
        """The stay as a FHIR Encounter; ``moved_at`` is when a transfer (A02) happened."""
        visit = pv1.value(19)
        start, end = self.when(pv1, 44), self.when(pv1, 45)
        if trigger == "A08" and not visit:
            return None  # a demographics update that names no stay
        if not visit:
            self.issue(
                IssueCode.REQUIRED,
                "PV1-19",
                f"visit number (PV1-19) is required in an ADT {trigger} message: it identifies the stay",
            )
        if trigger == "A01" and start is None and not pv1.value(44):
            self.issue(IssueCode.REQUIRED, "PV1-44", "admit date/time (PV1-44) is required")
        if trigger == "A03" and end is None and not pv1.value(45):
            self.issue(IssueCode.REQUIRED, "PV1-45", "discharge date/time (PV1-45) is required")
        patient_class = pv1.value(2)
        act = _PATIENT_CLASS.get(patient_class)
        if not patient_class:
            self.issue(IssueCode.REQUIRED, "PV1-2", "patient class (PV1-2) is required")
        elif act is None:
            self.issue(
                IssueCode.VALUE,
                "PV1-2",
                "patient class is not one of I, B, E, O, R, P (table 0004)",
            )
        if not visit or act is None:
            return None

        if trigger == "A08":
            status = "finished" if end else "in-progress" if start else "planned"
        else:
            status = _ENCOUNTER_STATUS[trigger]
        resource: dict[str, Any] = {
            "resourceType": "Encounter",
            "id": _fhir_id(visit),
            "identifier": [
                {"system": local_identifier_system(self.ods, "visit-number"), "value": visit}
            ],
            "status": status,
            "class": {"system": _ACT_CODE, "code": act[0], "display": act[1]},
            "subject": {"reference": subject},
        }
        admission_method = pv1.value(4)
        if admission_method:
            resource["extension"] = [
                {
                    "url": _ADMISSION_METHOD_URL,
                    "valueCodeableConcept": _coded(
                        "UKCore-AdmissionMethodEngland", admission_method
                    ),
                }
            ]
        ready = self.when(self.first("PV2"), 9)
        if ready is not None and trigger in ("A03", "A08"):
            # The discharge ready date, sent in PV2-9 (expected discharge date/time).
            resource.setdefault("extension", []).append(
                {"url": DISCHARGE_READY_URL, "valueDateTime": ready.fhir}
            )
        reopened = trigger == "A13"  # a cancelled discharge: the stay has no end again
        period: dict[str, str] = {}
        if start is not None:
            period["start"] = start.fhir
        if end is not None and not reopened:
            period["end"] = end.fhir
        if period:
            resource["period"] = period

        locations = []
        current = self.location(pv1, 3)
        if current is not None:
            current["status"] = {"finished": "completed", "planned": "planned"}.get(
                status, "active"
            )
            if trigger == "A02" and moved_at is not None:
                current["period"] = {"start": moved_at.fhir}
            locations.append(current)
        prior = self.location(pv1, 6) if trigger == "A02" else None
        if prior is not None:
            prior["status"] = "completed"
            if moved_at is not None:
                prior["period"] = {"end": moved_at.fhir}
            locations.append(prior)
        if locations:
            resource["location"] = locations

        hospitalization: dict[str, Any] = {}
        if pv1.value(14):
            hospitalization["admitSource"] = _coded(
                "UKCore-SourceOfAdmissionEngland", pv1.value(14)
            )
        if not reopened:
            disposition = self.discharge_disposition(pv1)
            if disposition:
                hospitalization["dischargeDisposition"] = disposition
        if hospitalization:
            resource["hospitalization"] = hospitalization
        resource["serviceProvider"] = {"identifier": {"system": ODS_SYSTEM, "value": self.ods}}
        return resource

    def location(self, pv1: _Segment, n: int) -> dict[str, Any] | None:
        """A PL field (point of care^room^bed^facility...) as an ``Encounter.location``."""
        parts = _components(pv1.raw(n).split("~", 1)[0]) + [""] * 3
        ward, room, bed = parts[0], parts[1], parts[2]
        if not ward:
            return None
        code = "/".join(p for p in (ward, room, bed) if p)
        return {
            "location": {
                "identifier": {
                    "system": local_identifier_system(self.ods, "location"),
                    "value": code,
                },
                "display": " ".join(p for p in (ward, room, bed) if p),
            }
        }

    def discharge_disposition(self, pv1: _Segment) -> dict[str, Any] | None:
        """PV1-36 discharge destination, with the discharge-to-assess pathway (PV1-37) if any."""
        destination, pathway = pv1.value(36), pv1.value(37)
        if not destination and not pathway:
            return None
        concept: dict[str, Any] = {"coding": []}
        if destination:
            concept["coding"].append(
                {"system": _UK_CORE_CS + "UKCore-DischargeDestinationEngland", "code": destination}
            )
        if pathway:
            concept["coding"].append({"system": _D2A_PATHWAY_SYSTEM, "code": pathway})
        return concept

    # -- the whole message --------------------------------------------------------------------

    def read(self) -> tuple[PersonDetails | None, list[dict[str, Any]], tuple[str, str] | None]:
        """Validate and map; returns (person, resources, merge). Issues are in ``self.issues``."""
        trigger = self.trigger()
        self.check_header()
        if trigger is None or not self.check_segments(trigger):
            return None, [], None
        evn = self.first("EVN")
        recorded, occurred = self.when(evn, 2), self.when(evn, 6)
        pid = self.first("PID")
        assert pid is not None  # check_segments made sure
        person, patient = self.patient(pid)
        resources: list[dict[str, Any]] = [patient]
        merge: tuple[str, str] | None = None
        if trigger == "A40":
            mrg = self.first("MRG")
            assert mrg is not None
            retired, _, _ = self.identifiers(mrg, 1)
            if retired is None:
                self.issue(
                    IssueCode.REQUIRED,
                    "MRG-1",
                    "MRG-1 holds no local patient identifier (MRN) to merge from",
                )
            elif person is not None and retired == person.local_id:
                self.issue(IssueCode.VALUE, "MRG-1", "MRG-1 names the same MRN as PID-3")
            elif person is not None:
                merge = (retired, person.local_id)
        else:
            pv1 = self.first("PV1")
            assert pv1 is not None
            subject = "Patient/" + (person.local_id if person else "")
            encounter = self.encounter(trigger, pv1, occurred or recorded, subject)
            if encounter is not None:
                resources.append(encounter)
        return person, resources, merge


def _coded(code_system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": _UK_CORE_CS + code_system, "code": code}]}


def _read_message(
    raw: bytes, *, label: str, partner: str, received_on: date, max_bytes: int
) -> Unit:
    """One message's unit: mapped to FHIR when valid, otherwise rejected with its issues."""

    def rejected(*issues: Issue, control_id: str = "") -> Unit:
        control_id = control_id or _sniff_header(raw).control_id
        return Unit(
            label=label,
            message_id=control_id or _fallback_message_id(raw),
            issues=issues,
            original=raw,
        )

    if len(raw) > max_bytes:
        return rejected(
            Issue(
                IssueCode.TOO_LONG,
                "message",
                f"message is {len(raw):,} bytes; the limit is {max_bytes:,}",
            )
        )
    lines = [line for line in _SEGMENT_SEPARATORS.split(_decode(raw)) if line.strip()]
    if not lines or not lines[0].startswith("MSH"):
        return rejected(
            Issue(IssueCode.STRUCTURE, "MSH", "the message does not begin with an MSH segment")
        )
    header = lines[0]
    if header[3:4] != _FIELD_SEPARATOR:
        return rejected(
            Issue(IssueCode.STRUCTURE, "MSH-1", "the field separator (MSH-1) must be '|'")
        )
    if not header.startswith(_MSH_PREFIX) or header[8:9] not in ("", _FIELD_SEPARATOR):
        return rejected(
            Issue(IssueCode.STRUCTURE, "MSH-2", "the encoding characters (MSH-2) must be ^~\\&")
        )

    segments: list[_Segment] = []
    garbled: list[Issue] = []
    for position, line in enumerate(lines, start=1):
        name = line[:3]
        if not _SEGMENT_NAME.fullmatch(name) or line[3:4] not in ("", _FIELD_SEPARATOR):
            garbled.append(
                Issue(
                    IssueCode.STRUCTURE,
                    f"segment {position}",
                    "not a segment: it does not begin with a three-character name and '|'",
                )
            )
            continue
        if name == "MSH" and position > 1:
            garbled.append(
                Issue(IssueCode.STRUCTURE, f"segment {position}", "a second MSH in one message")
            )
            continue
        fields = line.split(_FIELD_SEPARATOR)
        if name == "MSH":
            fields.insert(1, _FIELD_SEPARATOR)  # so that fields[n] is MSH-n
        segments.append(_Segment(name, fields, position))

    reader = _Reader(segments, partner=partner, received_on=received_on)
    person, resources, merge = reader.read()
    issues = tuple(garbled + reader.issues)
    control_id = segments[0].value(10)
    if issues:
        return rejected(*issues, control_id=control_id)
    return Unit(
        label=label,
        message_id=control_id,
        resources=tuple(resources),
        person=person,
        merge=merge,
        original=raw,
    )


def parse_hl7(message: Message, *, max_bytes: int = MAX_MESSAGE_BYTES) -> list[Unit]:
    """The units of an HL7 v2 delivery: one per message (``message 1``, ``message 2`` ...).

    Never raises for bad input: a message that fails validation is a rejected unit whose issues
    say what and where; its neighbours in the same file are read as usual. A delivery with no
    message in it at all is one rejected unit, so an empty file is reported, not ignored.
    """
    chunks = split_messages(message.body)
    if not chunks:
        return [
            Unit(
                label="message",
                message_id=_fallback_message_id(message.body),
                issues=(Issue(IssueCode.STRUCTURE, "MSH", "no HL7 message found"),),
                original=message.body,
            )
        ]
    received = message.received_at
    received_on = (received.astimezone(_UK) if received.tzinfo else received).date()
    return [
        _read_message(
            chunk,
            label=f"message {n}",
            partner=message.partner,
            received_on=received_on,
            max_bytes=max_bytes,
        )
        for n, chunk in enumerate(chunks, start=1)
    ]


# --- acknowledgements ------------------------------------------------------------------------

_REJECTING: Final = frozenset({IssueCode.STRUCTURE, IssueCode.NOT_SUPPORTED, IssueCode.TOO_LONG})


def ack_code(issues: Sequence[Issue]) -> str:
    """The MSA-1 acknowledgment code for a message with these issues.

    ``AA`` when there is no error; ``AR`` (rejected outright) when the message could not be read
    as an ADT we take: wrong delimiters, garbled segments, unsupported type, trigger or version,
    too long (HL7's original-mode "reject": resending it unchanged can't succeed, and nothing of
    it was read); ``AE`` for a message understood but wrong in content (a required segment or
    field missing, a bad date, an invalid NHS number).
    """
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    if not errors:
        return "AA"
    if any(i.code in _REJECTING for i in errors):
        return "AR"
    return "AE"


_HL7_ERROR_TEXT: Final = {
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
    207: "Application internal error",
}


def hl7_error_code(issue: Issue) -> int:
    """The HL7 table 0357 error code for an issue (ERR-3)."""
    location = issue.location
    if issue.code is IssueCode.REQUIRED:
        return 100 if "-" not in location else 101
    if issue.code is IssueCode.STRUCTURE:
        return 102 if location in ("MSH-1", "MSH-2") else 100
    if issue.code is IssueCode.VALUE:
        return 103 if location in _CODED_FIELDS else 102
    if issue.code is IssueCode.NOT_SUPPORTED:
        return {"MSH-9": 200, "MSH-9.2": 201, "MSH-11": 202, "MSH-12": 203}.get(location, 207)
    if issue.code is IssueCode.NOT_FOUND:
        return 204
    if issue.code in (IssueCode.DUPLICATE, IssueCode.CONFLICT):
        return 205
    return 207  # too-long, exception, invariant: table 0357 has nothing closer


_LOCATION: Final = re.compile(r"([A-Z][A-Z0-9]{2})(?:-(\d+)(?:\.(\d+))?)?")
_SEVERITY: Final = {"fatal": "E", "error": "E", "warning": "W", "information": "I"}


def _error_segment(issue: Issue) -> str:
    code = hl7_error_code(issue)
    text = _HL7_ERROR_TEXT[code]
    location = _LOCATION.fullmatch(issue.location)
    erl = ""  # ERR-2 (v2.5 ERL): segment^sequence^field^repetition^component
    eld = ""  # ERR-1 (v2.4 ELD, kept for v2.4 receivers): segment^sequence^field^code
    if location is not None:
        segment, field, component = location.groups()
        erl = "^".join(
            p for p in (segment, "1", field or "", "1" if component else "", component or "") if p
        )
        eld = f"{segment}^1^{field or ''}^{code}&{text}&HL70357"
    severity = _SEVERITY.get(issue.severity, "E")
    user_message = _escape(f"{issue.location}: {issue.diagnostics}")
    # ERR-1 | ERR-2 | ERR-3 | ERR-4 | ERR-5..7 empty | ERR-8 user message
    return f"ERR|{eld}|{erl}|{code}^{text}^HL70357|{severity}||||{user_message}"


def build_ack(
    message_bytes: bytes,
    code: str,
    issues: Sequence[Issue],
    *,
    at: datetime | None = None,
) -> bytes:
    """An HL7 v2 ACK for a received message: MSH, MSA (``code``, its MSH-10), one ERR per issue.

    The ACK's MSH swaps the sending and receiving application and facility, and its control id
    is derived from the incoming one (``ACK`` + MSH-10, or a digest when that would be too
    long), so a resent message gets the same ACK id. When the incoming MSH can't be read, the
    ACK still goes back with whatever could be read (often nothing). ``at`` is the ACK's
    MSH-7 (now, in UTC, by default). Segments end with ``\\r``; never raises.
    """
    header = _sniff_header(message_bytes)
    incoming = header.control_id
    seed = incoming or hashlib.sha256(message_bytes).hexdigest()
    control_id = "ACK" + incoming if incoming and len(incoming) <= 17 else "ACK" + _digest(seed)
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    message_type = "ACK^" + _escape(header.trigger) + "^ACK" if header.trigger else "ACK"
    msh = "|".join(
        [
            "MSH",
            _ENCODING_CHARACTERS,
            _escape(header.receiving_application),
            _escape(header.receiving_facility),
            _escape(header.sending_application),
            _escape(header.sending_facility),
            moment.strftime("%Y%m%d%H%M%S+0000"),
            "",
            message_type,
            control_id,
            _escape(header.processing_id) or "P",
            _escape(header.version) or "2.4",
        ]
    )
    summary = _escape(issues[0].diagnostics)[:80] if issues else ""
    segments = [msh, f"MSA|{_escape(code)[:2]}|{_escape(incoming)}|{summary}"]
    segments.extend(_error_segment(issue) for issue in issues)
    return ("\r".join(segments) + "\r").encode("utf-8")


def _digest(seed: str) -> str:
    return hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()[:17]
