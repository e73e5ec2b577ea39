"""Our UK Core rules: what ``fhir.resources`` does not check (codes, NHS identifiers, sizes).

``fhir.resources`` checks FHIR R4 *structure* (element names, types, cardinality); it accepts
``gender="bogus"``, an NHS number that fails Modulus 11 and an ODS code of any shape. These
plain functions add the rules the platform relies on, each returning a list of
:class:`~joinedup.feeds.model.Issue` for a resource (a JSON object as parsed) and its FHIR
path (``Patient``, ``Bundle.entry[3].resource``). They never raise, whatever shape the
resource has (structure errors are reported by the model, not here), and never quote a
patient's values in diagnostics.

Sources: NHS number (Modulus 11) and the identifier systems as in ``DOMAIN.md`` (NHS Data
Dictionary "NHS Number"; UK Core ``UKCore-Patient`` identifier slices); ODS code shapes from
:data:`joinedup.directory.model.ODS_CODE_PATTERNS`.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any, Final

from joinedup.directory.model import ODS_CODE_PATTERNS
from joinedup.feeds.model import Issue, IssueCode

__all__ = [
    "GENDERS",
    "MAX_TEXT_LENGTH",
    "NHS_NUMBER_SYSTEM",
    "ODS_ORGANIZATION_SYSTEM",
    "ODS_SITE_SYSTEM",
    "check_identifier",
    "check_identifiers",
    "check_person_fields",
    "check_resource",
    "element_path",
    "is_ods_code",
    "modulus11_valid",
]

NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORGANIZATION_SYSTEM: Final = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE_SYSTEM: Final = "https://fhir.nhs.uk/Id/ods-site-code"
_CHECKED_SYSTEMS: Final = frozenset({NHS_NUMBER_SYSTEM, ODS_ORGANIZATION_SYSTEM, ODS_SITE_SYSTEM})

#: FHIR R4 AdministrativeGender (required binding on Patient, Practitioner, RelatedPerson, Person).
GENDERS: Final = frozenset({"male", "female", "other", "unknown"})
_PERSON_TYPES: Final = frozenset({"Patient", "Practitioner", "RelatedPerson", "Person"})

#: Longest plausible name part or address line; longer is a mapping fault, not a person.
MAX_TEXT_LENGTH: Final = 200

_ODS_PATTERNS: Final = tuple(set(ODS_CODE_PATTERNS.values()))


def modulus11_valid(nhs_number: str) -> bool:
    """Whether ``nhs_number`` is 10 digits whose last is the Modulus 11 check digit.

    Weights 10 down to 2 on digits 1-9; check = 11 - (sum mod 11); 11 means 0 and 10 means no
    valid number (NHS Data Dictionary, "NHS Number"). No spaces or other characters allowed.
    """
    if len(nhs_number) != 10 or not nhs_number.isascii() or not nhs_number.isdigit():
        return False
    total = sum(
        int(digit) * weight for digit, weight in zip(nhs_number[:9], range(10, 1, -1), strict=True)
    )
    check = (11 - total % 11) % 11
    return check != 10 and check == int(nhs_number[9])


def is_ods_code(value: str) -> bool:
    """Whether ``value`` has the shape of an ODS code of some kind of organisation."""
    return any(pattern.fullmatch(value) for pattern in _ODS_PATTERNS)


def element_path(parts: tuple[str | int, ...]) -> str:
    """A FHIR element path from its parts: ``("Patient", "identifier", 0)`` → ``Patient.identifier[0]``."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else part)
    return "".join(out)


def check_identifier(identifier: Mapping[str, Any], path: str) -> list[Issue]:
    """The NHS number and ODS code rules for one ``Identifier`` at ``path``.

    Identifiers in other systems are not checked here.
    """
    system = identifier.get("system")
    if not isinstance(system, str) or system not in _CHECKED_SYSTEMS:
        return []
    value = identifier.get("value")
    where = f"{path}.value"
    if not isinstance(value, str) or not value:
        return [Issue(IssueCode.REQUIRED, where, "identifier has a system but no value")]
    if system == NHS_NUMBER_SYSTEM:
        if len(value) != 10 or not value.isascii() or not value.isdigit():
            return [Issue(IssueCode.VALUE, where, "NHS number must be 10 digits, no spaces")]
        if not modulus11_valid(value):
            return [Issue(IssueCode.VALUE, where, "NHS number fails the Modulus 11 check")]
        return []
    if not is_ods_code(value):
        kind = "organisation" if system == ODS_ORGANIZATION_SYSTEM else "site"
        return [
            Issue(
                IssueCode.VALUE,
                where,
                f"ODS {kind} code must be 3 to 6 upper-case letters and digits",
            )
        ]
    return []


def check_identifiers(resource: Mapping[str, Any], path: str) -> list[Issue]:
    """:func:`check_identifier` on every NHS-number and ODS identifier anywhere in ``resource``.

    That includes identifiers inside references (``generalPractitioner[0].identifier``).
    """
    issues: list[Issue] = []
    for parts, identifier in _identifiers(resource):
        issues += check_identifier(identifier, element_path((path, *parts)))
    return issues


def check_person_fields(
    resource: Mapping[str, Any], path: str, *, received_on: date
) -> list[Issue]:
    """Rules on a resource's own top-level fields: Patient identifiers, gender, dates, sizes.

    ``received_on`` is the (UK) date the message arrived: a birth date after it is an error.
    """
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or resource_type not in _PERSON_TYPES:
        return []
    issues: list[Issue] = []
    gender = resource.get("gender")
    if gender is not None and (not isinstance(gender, str) or gender not in GENDERS):
        issues.append(
            Issue(
                IssueCode.VALUE, f"{path}.gender", "gender must be male, female, other or unknown"
            )
        )
    birth = _date_range(resource.get("birthDate"))
    if birth is not None and birth[0] > received_on:
        issues.append(
            Issue(IssueCode.VALUE, f"{path}.birthDate", "birth date is after the message arrived")
        )
    if resource_type == "Patient":
        issues += _patient_identifiers(resource, path)
        died = _date_range(resource.get("deceasedDateTime"))
        if died is not None and died[0] > received_on:
            issues.append(
                Issue(
                    IssueCode.VALUE,
                    f"{path}.deceasedDateTime",
                    "date of death is after the message arrived",
                )
            )
        elif died is not None and birth is not None and died[1] < birth[0]:
            issues.append(
                Issue(
                    IssueCode.INVARIANT,
                    f"{path}.deceasedDateTime",
                    "date of death is before the birth date",
                )
            )
    issues += _sizes(resource, path)
    return issues


def check_resource(resource: Mapping[str, Any], path: str, *, received_on: date) -> list[Issue]:
    """Every UK Core rule that applies to ``resource`` at ``path``."""
    return check_person_fields(resource, path, received_on=received_on) + check_identifiers(
        resource, path
    )


# --- the rules' details ----------------------------------------------------------------------


def _patient_identifiers(resource: Mapping[str, Any], path: str) -> list[Issue]:
    identifiers = resource.get("identifier")
    if not isinstance(identifiers, list) or not identifiers:
        return [
            Issue(
                IssueCode.REQUIRED,
                f"{path}.identifier",
                "a Patient needs at least one identifier (NHS number or the sender's own id)",
            )
        ]
    nhs = [
        i
        for i, identifier in enumerate(identifiers)
        if isinstance(identifier, Mapping) and identifier.get("system") == NHS_NUMBER_SYSTEM
    ]
    # UK Core: at most one NHS number per Patient; name the extra ones.
    return [
        Issue(
            IssueCode.INVARIANT,
            f"{path}.identifier[{i}]",
            "more than one NHS number on a Patient (at most one allowed)",
        )
        for i in nhs[1:]
    ]


def _sizes(resource: Mapping[str, Any], path: str) -> list[Issue]:
    issues: list[Issue] = []
    for field, parts in (
        ("name", ("text", "family", "given", "prefix", "suffix")),
        ("address", ("text", "line", "city", "district", "postalCode")),
    ):
        items = resource.get(field)
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                continue
            for part in parts:
                value = item.get(part)
                values = value if isinstance(value, list) else [value]
                for j, text in enumerate(values):
                    if isinstance(text, str) and len(text) >= MAX_TEXT_LENGTH:
                        where = f"{path}.{field}[{i}].{part}"
                        if isinstance(value, list):
                            where += f"[{j}]"
                        issues.append(
                            Issue(
                                IssueCode.TOO_LONG,
                                where,
                                f"longer than {MAX_TEXT_LENGTH - 1} characters",
                            )
                        )
    return issues


def _identifiers(value: Any) -> Iterator[tuple[tuple[str | int, ...], Mapping[str, Any]]]:
    """Every NHS-number or ODS identifier in ``value`` with its path, walked without recursion."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, parts = stack.pop()
        if isinstance(node, Mapping):
            system = node.get("system")
            if isinstance(system, str) and system in _CHECKED_SYSTEMS:
                yield parts, node
            for key, item in node.items():
                if isinstance(item, (Mapping, list)):
                    stack.append((item, (*parts, key)))
        elif isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, (Mapping, list)):
                    stack.append((item, (*parts, i)))


def _date_range(value: Any) -> tuple[date, date] | None:
    """The first and last day a FHIR date or dateTime (``2020``, ``2020-05``, ``2020-05-17T…``) can mean."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    try:
        year = int(value[0:4])
        if len(value) < 7:
            return date(year, 1, 1), date(year, 12, 31)
        month = int(value[5:7])
        if len(value) < 10:
            return date(year, month, 1), date(year, month, monthrange(year, month)[1])
        day = date(year, month, int(value[8:10]))
        return day, day
    except ValueError:
        return None  # malformed: the FHIR model reports it
