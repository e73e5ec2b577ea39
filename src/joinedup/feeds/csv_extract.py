"""CSV extracts: each partner feed declares its columns, their types, and how a row maps to FHIR.

The mapping lives in the feeds file (see ``docs/feeds-csv.md``)::

    mapping:
      encoding: utf-8
      id: contact_id                    # the row's own id: resource ids derive from it
      columns:                          # every column the extract must have, with its type
        contact_id: {type: string, required: true}
        nhs_number: {type: nhs_number}
        date_of_birth: {type: date, format: "%Y-%m-%d"}
        sex: {type: code, values: {M: male, F: female}}
      derived:                          # values that depend on another column being filled
        status: {if_present: end_date, then: finished, else: active}
      person: {local_id: client_id, nhs_number: nhs_number, given: forename, ...}
      resources:                        # FHIR templates; "{column}" is replaced by its value
        - {resourceType: Encounter, id: "{contact_id}", status: finished, ...}

A file with the wrong encoding or missing columns is rejected whole (there is nothing safe to
read). Otherwise every row is a unit of its own: a row with a bad value is quarantined with its
row and column, and the rows beside it are taken. A Patient resource is made from the person
columns, so every row's person is in the shared record.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from joinedup.feeds.model import Issue, IssueCode, Message, PersonDetails, Unit
from joinedup.feeds.uk_core import modulus11_valid

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
_UK = ZoneInfo("Europe/London")
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")
_PERSON_FIELDS = (
    "local_id",
    "nhs_number",
    "given",
    "family",
    "birth_date",
    "sex",
    "postcode",
    "address_line",
    "death_date",
)
TYPES = ("string", "integer", "decimal", "date", "datetime", "nhs_number", "code", "postcode")
MAX_BYTES = 200 * 1024 * 1024


def local_identifier_system(ods: str, feed: str) -> str:
    """The identifier system of a partner feed's own person ids."""
    return f"https://fhir.joinedup.example/Id/ods/{ods}/{feed}"


class _BadValue(ValueError):
    """A value that does not fit its column's declared type (message names no patient data)."""


def parse_csv(message: Message, mapping: Mapping[str, Any]) -> list[Unit]:
    """Split a CSV extract into one unit per row (or one rejected unit for a broken file)."""
    if len(message.body) > MAX_BYTES:
        return [_whole_file(message, IssueCode.TOO_LONG, "file", f"over {MAX_BYTES:,} bytes")]
    encoding = str(mapping.get("encoding", "utf-8"))
    try:
        text = message.body.decode(encoding)
    except UnicodeDecodeError as error:
        return [
            _whole_file(
                message,
                IssueCode.STRUCTURE,
                f"byte {error.start}",
                f"not valid {encoding}; the feed declares {encoding}",
            )
        ]
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return [_whole_file(message, IssueCode.STRUCTURE, "header", "no header row")]
    columns: dict[str, dict[str, Any]] = dict(mapping["columns"])
    missing = [c for c in columns if c not in header]
    if missing:
        return [
            _whole_file(
                message,
                IssueCode.STRUCTURE,
                "header",
                f"missing column(s) {', '.join(missing)}; expected {', '.join(columns)}",
            )
        ]
    units = []
    lines = text.splitlines(keepends=True)
    for row_number, row in enumerate(_rows(reader), start=2):
        if isinstance(row, csv.Error):
            units.append(
                _rejected_row(
                    message, row_number, lines, f"row {row_number}", f"unreadable CSV: {row}"
                )
            )
            continue
        if not row:
            continue  # a blank line (often the file's last) is no row
        units.append(_row_unit(message, mapping, columns, header, row, row_number, lines))
    return units


def _rows(reader: Any) -> Any:
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield error


def _row_unit(
    message: Message,
    mapping: Mapping[str, Any],
    columns: dict[str, dict[str, Any]],
    header: list[str],
    row: list[str],
    row_number: int,
    lines: list[str],
) -> Unit:
    where = f"row {row_number}"
    if len(row) != len(header):
        return _rejected_row(
            message, row_number, lines, where, f"{len(row)} fields; the header has {len(header)}"
        )
    raw = dict(zip(header, row, strict=True))
    values: dict[str, Any] = {}
    issues: list[Issue] = []
    for name, spec in columns.items():
        try:
            values[name] = _convert(raw[name].strip(), spec)
        except _BadValue as error:
            issues.append(Issue(IssueCode.VALUE, f"{where}, column {name}", str(error)))
    for name, rule in mapping.get("derived", {}).items():
        # A value that depends on whether another is present (e.g. a status from an end date).
        values[name] = rule["then"] if values.get(rule["if_present"]) is not None else rule["else"]
    original = _row_text(header, row)
    row_id = str(values.get(mapping["id"]) or "")
    message_id = f"{row_id}@{hashlib.sha256(original).hexdigest()[:16]}"
    if issues:
        return Unit(label=where, message_id=message_id, issues=tuple(issues), original=original)
    person = _person(mapping.get("person", {}), values, message)
    if person is not None and not person.local_id:
        issue = Issue(
            IssueCode.REQUIRED,
            f"{where}, column {mapping['person']['local_id']}",
            "the person's local id is empty",
        )
        return Unit(label=where, message_id=message_id, issues=(issue,), original=original)
    resources = [_fill(template, values) for template in mapping.get("resources", [])]
    if person is not None:
        resources.insert(0, _patient(person, message))
    return Unit(
        label=where,
        message_id=message_id,
        resources=tuple(resources),
        person=person,
        original=original,
    )


def _convert(value: str, spec: Mapping[str, Any]) -> Any:
    if value == "":
        if spec.get("required"):
            raise _BadValue("a value is required")
        return None
    kind = spec.get("type", "string")
    if kind == "string":
        return value
    if kind == "integer":
        if not re.fullmatch(r"-?\d+", value):
            raise _BadValue("not a whole number")
        return int(value)
    if kind == "decimal":
        try:
            return float(value)
        except ValueError:
            raise _BadValue("not a number") from None
    if kind == "date":
        fmt = spec.get("format", "%Y-%m-%d")
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            raise _BadValue(f"not a date in the form {fmt}") from None
    if kind == "datetime":
        fmt = spec.get("format", "%Y-%m-%dT%H:%M:%S")
        try:
            moment = datetime.strptime(value, fmt)
        except ValueError:
            raise _BadValue(f"not a date and time in the form {fmt}") from None
        # Partners' extracts give local (UK) times; FHIR needs the offset.
        return moment if moment.tzinfo else moment.replace(tzinfo=_UK)
    if kind == "nhs_number":
        digits = value.replace(" ", "")
        if not (len(digits) == 10 and digits.isdigit() and modulus11_valid(digits)):
            raise _BadValue("not a valid NHS number (10 digits, Modulus 11)")
        return digits
    if kind == "postcode":
        compact = value.upper().replace(" ", "")
        if not re.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}", compact):
            raise _BadValue("not a UK postcode")
        return f"{compact[:-3]} {compact[-3:]}"
    if kind == "code":
        codes: Mapping[str, Any] = spec.get("values", {})
        if value not in codes:
            raise _BadValue(f"not one of {', '.join(map(str, codes))}")
        return codes[value]
    raise _BadValue(f"unknown column type {kind!r}")


def _person(
    fields: Mapping[str, str], values: Mapping[str, Any], message: Message
) -> PersonDetails | None:
    if not fields:
        return None
    picked = {f: values.get(column) for f, column in fields.items() if f in _PERSON_FIELDS}
    local_id = picked.pop("local_id", None)
    return PersonDetails(local_id=str(local_id or ""), **picked)


def _patient(person: PersonDetails, message: Message) -> dict[str, Any]:
    identifiers = [
        {"system": local_identifier_system(message.partner, message.feed), "value": person.local_id}
    ]
    if person.nhs_number:
        identifiers.append({"system": NHS_NUMBER_SYSTEM, "value": person.nhs_number})
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": person.local_id,
        "identifier": identifiers,
    }
    if person.given or person.family:
        name: dict[str, Any] = {"use": "official"}
        if person.family:
            name["family"] = person.family
        if person.given:
            name["given"] = [person.given]
        patient["name"] = [name]
    if person.sex:
        patient["gender"] = person.sex
    if person.birth_date:
        patient["birthDate"] = person.birth_date.isoformat()
    if person.postcode or person.address_line:
        address: dict[str, Any] = {}
        if person.address_line:
            address["line"] = [person.address_line]
        if person.postcode:
            address["postalCode"] = person.postcode
        patient["address"] = [address]
    if person.death_date:
        patient["deceasedDateTime"] = person.death_date.isoformat()
    return patient


def _fill(template: Any, values: Mapping[str, Any]) -> Any:
    """A copy of ``template`` with ``{column}`` replaced; keys whose only value is empty dropped."""
    if isinstance(template, dict):
        out = {}
        for key, item in template.items():
            filled = _fill(item, values)
            if filled is not None and filled != {} and filled != []:
                out[key] = filled
        return out
    if isinstance(template, list):
        items = [_fill(item, values) for item in template]
        return [i for i in items if i is not None and i != {}]
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return _fhir_value(values.get(whole.group(1)))
        return _PLACEHOLDER.sub(lambda m: str(_fhir_value(values.get(m.group(1))) or ""), template)
    return template


def _fhir_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _row_text(header: list[str], row: list[str]) -> bytes:
    """The row as a CSV of its own, header included, so a quarantined row can be replayed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerow(row)
    return buffer.getvalue().encode("utf-8")


def _rejected_row(
    message: Message, row_number: int, lines: list[str], where: str, diagnostics: str
) -> Unit:
    # The header line and the row's line, as received (the row could not be read as CSV).
    line = lines[row_number - 1] if row_number - 1 < len(lines) else ""
    original = (lines[0] + line).encode("utf-8")
    return Unit(
        label=f"row {row_number}",
        message_id=f"row-{row_number}@{hashlib.sha256(original).hexdigest()[:16]}",
        issues=(Issue(IssueCode.STRUCTURE, where, diagnostics),),
        original=original,
    )


def _whole_file(message: Message, code: IssueCode, where: str, diagnostics: str) -> Unit:
    return Unit(
        label="file",
        message_id="file@" + hashlib.sha256(message.body).hexdigest(),
        issues=(Issue(code, where, diagnostics),),
        original=message.body,
    )
