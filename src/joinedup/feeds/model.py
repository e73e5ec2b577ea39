"""What the intake pipeline passes around: messages, the units they split into, and issues.

A *message* is what a partner delivered (a FHIR bundle or resource, an NDJSON file, an HL7 v2
message, a CSV extract). Parsing splits it into *units*, each taken or rejected as a whole:
a transaction bundle is one unit (all or nothing); a batch bundle, an NDJSON file and a CSV
extract give one unit per entry, line or row, so a bad one is quarantined while the good ones
beside it are taken. Every unit carries FHIR R4 resources (HL7 and CSV are mapped to FHIR) and,
when it is about a person, that person's identifying details as the partner holds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Self


class IssueCode(StrEnum):
    """FHIR ``OperationOutcome.issue.code`` values used for rejections."""

    STRUCTURE = "structure"
    REQUIRED = "required"
    VALUE = "value"
    INVARIANT = "invariant"
    NOT_SUPPORTED = "not-supported"
    NOT_FOUND = "not-found"
    DUPLICATE = "duplicate"
    TOO_LONG = "too-long"
    CONFLICT = "conflict"
    EXCEPTION = "exception"


@dataclass(frozen=True)
class Issue:
    """One thing wrong with a unit: what (``code``, ``diagnostics``) and where (``location``).

    ``location`` is a FHIR element path (``Bundle.entry[2].resource.identifier[0].value``), an
    HL7 field (``PID-3``), or a CSV position (``row 12, column date_of_birth``). Diagnostics never
    quote a patient's data.
    """

    code: IssueCode
    location: str
    diagnostics: str
    severity: str = "error"

    def to_fhir(self) -> dict[str, Any]:
        """This issue as an ``OperationOutcome.issue``."""
        return {
            "severity": self.severity,
            "code": self.code.value,
            "diagnostics": self.diagnostics,
            "expression": [self.location],
        }

    def __str__(self) -> str:
        return f"{self.location}: {self.diagnostics}"


class IssueError(ValueError):
    """A request a part cannot do; nothing has been written. ``status`` is the HTTP status to
    answer with, ``issues`` say what and where (never quoting a patient's data)."""

    def __init__(self, status: int, issues: list[Issue]) -> None:
        self.status = status
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues))

    @classmethod
    def one(cls, status: int, code: IssueCode, location: str, diagnostics: str) -> Self:
        """An error with one issue."""
        return cls(status, [Issue(code, location, diagnostics)])


def operation_outcome(issues: tuple[Issue, ...] | list[Issue]) -> dict[str, Any]:
    """A FHIR R4 ``OperationOutcome`` listing ``issues``."""
    return {"resourceType": "OperationOutcome", "issue": [i.to_fhir() for i in issues]}


class MessageFormat(StrEnum):
    """The formats partners send."""

    FHIR_JSON = "fhir-json"
    FHIR_NDJSON = "fhir-ndjson"
    HL7V2 = "hl7v2"
    CSV = "csv"


@dataclass(frozen=True)
class Message:
    """A delivery from a partner, as received (bytes kept so nothing is lost)."""

    partner: str  # ODS code of the sender
    feed: str  # the partner's feed name, e.g. "gp-fhir", "acute-adt"
    format: MessageFormat
    body: bytes
    received_at: datetime
    name: str = ""  # file name or transport label, for people reading the quarantine


@dataclass(frozen=True)
class PersonDetails:
    """A person as one partner's system holds them (a *source record* for identity linkage)."""

    local_id: str
    nhs_number: str | None = None
    given: str | None = None
    family: str | None = None
    birth_date: date | None = None
    sex: str | None = None  # "female" | "male" | "other" | "unknown"
    postcode: str | None = None
    address_line: str | None = None
    death_date: date | None = None


@dataclass(frozen=True)
class Unit:
    """A part of a message taken or rejected as a whole.

    ``resources`` are FHIR R4 resources (JSON objects); those about the person refer to them
    with the reference ``"Patient/" + person.local_id``. ``merge`` is an HL7 A40: the source
    record ``merge[0]`` is the same person as ``merge[1]``, which survives.
    """

    label: str  # where in the message: "message", "entry[3]", "line 7", "row 12"
    message_id: str  # the unit's own id: bundle id, MSH-10, file hash + row
    resources: tuple[dict[str, Any], ...] = ()
    person: PersonDetails | None = None
    merge: tuple[str, str] | None = None
    issues: tuple[Issue, ...] = field(default=())  # non-empty means rejected
    original: bytes = b""  # the unit's own text, kept in quarantine if rejected

    @property
    def rejected(self) -> bool:
        """Whether any issue is an error."""
        return any(i.severity in ("error", "fatal") for i in self.issues)
