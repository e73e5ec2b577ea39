"""The FHIR search parameters the record supports, and the index rows a resource gives.

Each supported parameter is declared once in :data:`PARAMETERS` with its FHIR R4 name, type
and the element paths it reads (from the R4 SearchParameter definitions,
https://hl7.org/fhir/R4/searchparameter-registry.html). The same table drives three things:
the index rows written when a resource is stored (:func:`index_rows`), the search the API
runs, and the CapabilityStatement, so what the server says it supports is what it does.

``patient`` is not in the index: a resource belongs to a person through the source record it
came with, which the person index links (so merged people find all their records).
Patient searches read the person index's demographics the same way.

Dates are kept as half-open UTC ranges ``[start, end)`` at the precision given: ``2024-03``
is the whole of March. Date-times without a zone are taken as UK local time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

ParamType = Literal["token", "date", "reference"]

UK: Final = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class Parameter:
    """One search parameter of one resource type."""

    resource_type: str
    name: str
    type: ParamType
    paths: tuple[str, ...]  # dotted element paths; a trailing [x] means any choice type
    documentation: str = ""


def _p(resource_type: str, name: str, kind: ParamType, *paths: str, doc: str = "") -> Parameter:
    return Parameter(resource_type, name, kind, paths, doc)


PARAMETERS: Final[tuple[Parameter, ...]] = (
    _p("Encounter", "date", "date", "period", doc="when the encounter took place"),
    _p("Encounter", "type", "token", "type"),
    _p("Encounter", "class", "token", "class"),
    _p("Encounter", "status", "token", "status"),
    _p("Encounter", "service-provider", "reference", "serviceProvider"),
    _p("EpisodeOfCare", "date", "date", "period"),
    _p("EpisodeOfCare", "type", "token", "type"),
    _p("EpisodeOfCare", "status", "token", "status"),
    _p("EpisodeOfCare", "organization", "reference", "managingOrganization"),
    _p("Condition", "code", "token", "code"),
    _p("Condition", "category", "token", "category"),
    _p("Condition", "clinical-status", "token", "clinicalStatus"),
    _p("Condition", "onset-date", "date", "onset[x]"),
    _p("Condition", "recorded-date", "date", "recordedDate"),
    _p("Observation", "code", "token", "code"),
    _p("Observation", "category", "token", "category"),
    _p("Observation", "date", "date", "effective[x]"),
    _p("Observation", "status", "token", "status"),
    _p("MedicationRequest", "code", "token", "medicationCodeableConcept"),
    _p("MedicationRequest", "authoredon", "date", "authoredOn"),
    _p("MedicationRequest", "status", "token", "status"),
    _p("MedicationRequest", "intent", "token", "intent"),
    _p("MedicationStatement", "code", "token", "medicationCodeableConcept"),
    _p("MedicationStatement", "effective", "date", "effective[x]"),
    _p("MedicationStatement", "status", "token", "status"),
    _p("AllergyIntolerance", "code", "token", "code"),
    _p("AllergyIntolerance", "date", "date", "recordedDate"),
    _p("AllergyIntolerance", "clinical-status", "token", "clinicalStatus"),
    _p("AllergyIntolerance", "category", "token", "category"),
    _p("Procedure", "code", "token", "code"),
    _p("Procedure", "date", "date", "performed[x]"),
    _p("Procedure", "status", "token", "status"),
    _p("Immunization", "vaccine-code", "token", "vaccineCode"),
    _p("Immunization", "date", "date", "occurrence[x]"),
    _p("Immunization", "status", "token", "status"),
    _p("CarePlan", "category", "token", "category"),
    _p("CarePlan", "date", "date", "period"),
    _p("CarePlan", "status", "token", "status"),
    _p("CareTeam", "category", "token", "category"),
    _p("CareTeam", "date", "date", "period"),
    _p("CareTeam", "status", "token", "status"),
    _p("Flag", "code", "token", "code"),
    _p("Flag", "date", "date", "period"),
    _p("Flag", "status", "token", "status"),
    _p("DocumentReference", "type", "token", "type"),
    _p("DocumentReference", "category", "token", "category"),
    _p("DocumentReference", "date", "date", "date"),
    _p("DocumentReference", "period", "date", "context.period"),
    _p("DocumentReference", "status", "token", "status"),
    _p("ServiceRequest", "code", "token", "code"),
    _p("ServiceRequest", "category", "token", "category"),
    _p("ServiceRequest", "authored", "date", "authoredOn"),
    _p("ServiceRequest", "status", "token", "status"),
    _p("ServiceRequest", "performer", "reference", "performer"),
    _p("Patient", "general-practitioner", "token", "generalPractitioner.identifier"),
)

#: The clinical resource types served, each searchable by ``patient`` and its parameters.
CLINICAL_TYPES: Final = tuple(
    dict.fromkeys(p.resource_type for p in PARAMETERS if p.resource_type != "Patient")
)

#: The parameters by (resource type, name).
BY_NAME: Final = {(p.resource_type, p.name): p for p in PARAMETERS}

#: Per resource type, the parameter ``_sort=date`` and timelines order by.
DATE_PARAMETER: Final = {
    t: next(p.name for p in PARAMETERS if p.resource_type == t and p.type == "date")
    for t in CLINICAL_TYPES
}

IndexRow = tuple[str, str | None, str | None, datetime | None, datetime | None]
"""(parameter name, system, value, start, end): one entry of a resource in the index."""


def index_rows(resource: dict[str, Any]) -> list[IndexRow]:
    """The index entries of a stored resource (its references already rewritten)."""
    resource_type = resource.get("resourceType")
    rows: list[IndexRow] = []
    for parameter in PARAMETERS:
        if parameter.resource_type != resource_type:
            continue
        for path in parameter.paths:
            for value in _values(resource, path.split(".")):
                rows.extend(_entries(parameter, value))
    return list(dict.fromkeys(rows))  # the same code twice is one entry


def _values(node: Any, steps: list[str]) -> list[Any]:
    """The values at a dotted path, through lists; ``name[x]`` matches every choice type."""
    if not steps:
        return node if isinstance(node, list) else [node]
    if isinstance(node, list):
        return [v for item in node for v in _values(item, steps)]
    if not isinstance(node, dict):
        return []
    step = steps[0]
    if step.endswith("[x]"):
        stem = step[:-3]
        found = []
        for key, value in node.items():
            if key.startswith(stem) and key[len(stem) : len(stem) + 1].isupper():
                found += [(key, v) for v in (value if isinstance(value, list) else [value])]
        return [_Choice(k, v) for k, v in found]
    return _values(node.get(step), steps[1:]) if step in node else []


@dataclass(frozen=True)
class _Choice:
    key: str  # e.g. "effectivePeriod"
    value: Any


def _entries(parameter: Parameter, value: Any) -> list[IndexRow]:
    if isinstance(value, _Choice):
        value = value.value
    name = parameter.name
    if parameter.type == "token":
        if isinstance(value, str):
            return [(name, None, value, None, None)]
        if isinstance(value, bool):
            return [(name, None, str(value).lower(), None, None)]
        if isinstance(value, dict) and isinstance(value.get("value"), str):  # an Identifier
            return [(name, value.get("system"), value["value"], None, None)]
        if isinstance(value, dict):
            codings = value.get("coding") if "coding" in value else [value]
            return [
                (name, c.get("system"), c.get("code"), None, None)
                for c in codings or []
                if isinstance(c, dict) and isinstance(c.get("code"), str)
            ]
        return []
    if parameter.type == "reference":
        if isinstance(value, dict) and isinstance(value.get("reference"), str):
            return [(name, None, value["reference"], None, None)]
        return []
    span = date_span(value)
    return [(name, None, None, *span)] if span else []


def date_span(value: Any) -> tuple[datetime, datetime] | None:
    """The UTC range ``[start, end)`` a FHIR date, dateTime, instant or Period covers."""
    if isinstance(value, dict):  # a Period; an open end runs to the end of time
        start = parse_date(value["start"])[0] if isinstance(value.get("start"), str) else None
        end = parse_date(value["end"])[1] if isinstance(value.get("end"), str) else None
        if start is None and end is None:
            return None
        return (start or datetime.min, end or datetime.max)
    if isinstance(value, str):
        try:
            return parse_date(value)
        except ValueError:
            return None
    return None


_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def parse_date(text: str) -> tuple[datetime, datetime]:
    """A FHIR date or dateTime as the naive-UTC range it covers at its precision."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise ValueError("not a FHIR date or dateTime")
    g = match.groupdict()
    year = int(g["y"])
    if g["m"] is None:
        return datetime(year, 1, 1), datetime(year + 1, 1, 1)
    month = int(g["m"])
    if g["d"] is None:
        start = datetime(year, month, 1)
        return start, datetime(year + month // 12, month % 12 + 1, 1)
    day = date(year, month, int(g["d"]))
    if g["H"] is None:
        start = datetime(day.year, day.month, day.day)
        return start, start + timedelta(days=1)
    local = datetime(day.year, day.month, day.day, int(g["H"]), int(g["M"]), int(g["S"] or 0))
    if g["tz"] is None:
        aware = local.replace(tzinfo=UK)
    elif g["tz"] == "Z":
        aware = local.replace(tzinfo=UTC)
    else:
        aware = datetime.fromisoformat(f"{local.isoformat()}{g['tz']}")
    start = aware.astimezone(UTC).replace(tzinfo=None)
    precision = timedelta(seconds=1) if g["S"] is not None else timedelta(minutes=1)
    return start, start + precision
