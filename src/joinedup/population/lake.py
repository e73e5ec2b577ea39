"""The analytical lake: the joined-up record as pseudonymised Parquet tables for analysts.

``refresh_lake`` reads the operational store (every partner's resources, joined to people
by the person index) and writes one Parquet file per table under ``var/lake/``, with the
schemas in :data:`SCHEMAS` (documented in docs/lake.md). What it keeps out:

* **identifiers**: a person appears only as ``person_id``, an HMAC-SHA256 of their person
  key under a secret kept beside the lake (``.pseudonym-key``, mode 0600), stable across
  refreshes, so the lake can't be joined back to the record without the key; no names,
  addresses, postcodes, NHS numbers or dates of birth (age in years and 5-year bands; the
  small area and its IMD decile instead of the address; the month of death);
* **people who opted out**: anyone with a National Data Opt-out (the list the ICS gets
  from NHS England, ``national-data-opt-outs.csv``) is left out of every table.

A refresh rewrites only the tables whose sources changed since the last one (the store's
newest resource, the person index's newest link and the opt-out list's digest are kept in
``_state.json``); an unchanged store is a no-op.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joinedup.directory.model import Directory
from joinedup.directory.store import read_directory
from joinedup.feeds.fhir import full_date
from joinedup.identity import tables as identity
from joinedup.records import tables as records

Row = dict[str, Any]

_TEXT, _INT, _DATE, _TIME, _FLOAT, _BOOL = (
    pa.string(),
    pa.int32(),
    pa.date32(),
    pa.timestamp("s", tz="UTC"),
    pa.float64(),
    pa.bool_(),
)

#: Every table's columns: the lake's documented schema.
SCHEMAS: Final[dict[str, pa.Schema]] = {
    "person": pa.schema(
        [
            ("person_id", _TEXT),
            ("sex", _TEXT),
            ("age", _INT),
            ("age_band", _TEXT),
            ("practice", _TEXT),
            ("pcn", _TEXT),
            ("area", _TEXT),
            ("small_area", _TEXT),
            ("imd_decile", _INT),
            ("imd_quintile", _INT),
            ("core20", _BOOL),
            ("ethnic_category", _TEXT),
            ("ethnicity", _TEXT),
            ("died", _BOOL),
        ]
    ),
    "registration": pa.schema([("person_id", _TEXT), ("practice", _TEXT), ("pcn", _TEXT)]),
    "condition": pa.schema(
        [
            ("person_id", _TEXT),
            ("partner", _TEXT),
            ("system", _TEXT),
            ("code", _TEXT),
            ("display", _TEXT),
            ("onset", _DATE),
            ("recorded", _DATE),
            ("clinical_status", _TEXT),
        ]
    ),
    "medication": pa.schema(
        [
            ("person_id", _TEXT),
            ("partner", _TEXT),
            ("kind", _TEXT),  # request | statement
            ("system", _TEXT),
            ("code", _TEXT),
            ("display", _TEXT),
            ("issued", _DATE),
            ("status", _TEXT),
        ]
    ),
    "observation": pa.schema(
        [
            ("person_id", _TEXT),
            ("partner", _TEXT),
            ("system", _TEXT),
            ("code", _TEXT),
            ("display", _TEXT),
            ("effective", _DATE),
            ("value", _FLOAT),
            ("unit", _TEXT),
            ("value_code", _TEXT),
        ]
    ),
    "immunisation": pa.schema(
        [
            ("person_id", _TEXT),
            ("partner", _TEXT),
            ("system", _TEXT),
            ("code", _TEXT),
            ("display", _TEXT),
            ("administered", _DATE),
        ]
    ),
    "encounter": pa.schema(
        [
            ("person_id", _TEXT),
            ("partner", _TEXT),
            ("feed", _TEXT),
            ("class", _TEXT),
            ("type_code", _TEXT),
            ("type", _TEXT),
            ("status", _TEXT),
            ("start", _TIME),
            ("end", _TIME),
        ]
    ),
    "ae_attendance": pa.schema(
        [
            ("person_id", _TEXT),
            ("partner", _TEXT),
            ("department_type", _TEXT),  # 1 emergency department, 2 single specialty, 3 UTC/MIU
            ("arrival", _TIME),
            ("departure", _TIME),
            ("minutes", _INT),
            ("within_4_hours", _BOOL),
        ]
    ),
    "admission": pa.schema(
        [
            ("person_id", _TEXT),
            ("partner", _TEXT),
            ("admitted", _TIME),
            ("discharged", _TIME),
            ("length_of_stay_days", _INT),
            ("admission_method", _TEXT),
            ("emergency", _BOOL),
            ("discharge_pathway", _TEXT),
            ("discharge_destination", _TEXT),  # NHS Data Dictionary code; 79: died in hospital
            ("discharge_ready", _TIME),  # clinically ready to leave (when the discharge waited)
        ]
    ),
    "rtt_pathway": pa.schema(
        [
            ("person_id", _TEXT),
            ("partner", _TEXT),
            ("treatment_function", _TEXT),  # NHS Data Dictionary TREATMENT FUNCTION CODE
            ("clock_start", _DATE),
            ("clock_stop", _DATE),  # none while the pathway is open (incomplete)
        ]
    ),
    "diagnostic_wait": pa.schema(
        [
            ("person_id", _TEXT),
            ("partner", _TEXT),
            ("test", _TEXT),  # one of DM01's diagnostic tests
            ("requested", _DATE),
            ("performed", _DATE),  # none while waiting
        ]
    ),
    "cancer_pathway": pa.schema(
        [
            ("person_id", _TEXT),
            ("partner", _TEXT),
            ("cancer_type", _TEXT),  # suspected cancer type of the urgent referral
            ("referral", _DATE),
            ("first_seen", _DATE),
            ("faster_diagnosis", _DATE),  # told diagnosis or that cancer is ruled out
            ("faster_diagnosis_outcome", _TEXT),  # confirmed | excluded
            ("decision_to_treat", _DATE),
            ("first_treatment", _DATE),
        ]
    ),
    "referral": pa.schema(
        [
            ("person_id", _TEXT),
            ("partner", _TEXT),
            ("feed", _TEXT),
            ("code", _TEXT),
            ("display", _TEXT),
            ("authored", _DATE),
            ("status", _TEXT),
            ("priority", _TEXT),
            # The single point of access's referrals (feed "referrals") also carry their
            # response: urgency, the service type and provider routed to, the clock.
            ("urgency", _TEXT),
            ("service_type", _TEXT),
            ("provider", _TEXT),
            ("received", _TIME),
            ("due", _TIME),
            ("first_contact", _TIME),
        ]
    ),
    "social_care": pa.schema(
        [
            ("person_id", _TEXT),
            ("partner", _TEXT),
            ("kind", _TEXT),  # assessment | package
            ("type", _TEXT),
            ("start", _DATE),
            ("end", _DATE),
        ]
    ),
    "virtual_ward_stay": pa.schema(
        [
            ("person_id", _TEXT),
            ("partner", _TEXT),
            ("feed", _TEXT),
            ("provider", _TEXT),  # ODS code of the ward's provider (managingOrganization)
            ("ward", _TEXT),  # the directory's service id
            ("pathway", _TEXT),  # frailty, acute respiratory infection...
            ("kind", _TEXT),  # step-up | step-down
            ("start", _TIME),  # admitted to the ward
            ("end", _TIME),  # discharged; none while the stay is open
            ("outcome", _TEXT),  # recovered-at-home | admitted | died | other (once discharged)
        ]
    ),
    "death": pa.schema([("person_id", _TEXT), ("month", _DATE), ("age", _INT)]),
}

#: Which resource types feed which tables (a table is rewritten when they change).
SOURCES: Final = {
    "person": ("Patient",),
    "registration": ("Patient",),
    "condition": ("Condition",),
    "medication": ("MedicationRequest", "MedicationStatement"),
    "observation": ("Observation",),
    "immunisation": ("Immunization",),
    "encounter": ("Encounter",),
    "ae_attendance": ("Encounter",),
    "admission": ("Encounter",),
    "rtt_pathway": ("EpisodeOfCare",),
    "cancer_pathway": ("EpisodeOfCare",),
    "diagnostic_wait": ("ServiceRequest",),
    "referral": ("ServiceRequest",),
    "social_care": ("Encounter", "EpisodeOfCare"),
    "virtual_ward_stay": ("EpisodeOfCare",),
    "death": ("Patient",),
}


ETHNIC_CATEGORY_URL: Final = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"
)

#: NHS ethnic category codes (NHS Data Dictionary, ETHNIC CATEGORY) by their broad group, as
#: OHID's Fingertips and NHS England's statistics report them. Z (not stated) and 99 (not
#: known) have no group.
ETHNIC_GROUPS: Final = {
    **dict.fromkeys("ABC", "White"),
    **dict.fromkeys("DEFG", "Mixed"),
    **dict.fromkeys("HJKL", "Asian or Asian British"),
    **dict.fromkeys("MNP", "Black or Black British"),
    **dict.fromkeys("RS", "Other ethnic group"),
}


@dataclass(frozen=True)
class LakeRun:
    """What a refresh did."""

    written: dict[str, int]  # table -> rows, for the tables rewritten
    unchanged: list[str]
    people: int
    opted_out: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "written": self.written,
            "unchanged": self.unchanged,
            "people": self.people,
            "opted_out": self.opted_out,
        }


@dataclass(frozen=True)
class _Person:
    person_id: str
    row: Row


def lake_as_of(lake_dir: Path) -> date | None:
    """The date the lake's last refresh worked ages and windows out on (None: no lake)."""
    state = lake_dir / "_state.json"
    if not state.is_file():
        return None
    return date.fromisoformat(orjson.loads(state.read_bytes())["as_of"])


def pseudonym_key(lake_dir: Path) -> bytes:
    """The lake's secret pseudonymisation key, made once (only the lake's owner reads it)."""
    path = lake_dir / ".pseudonym-key"
    if not path.exists():
        lake_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def pseudonym(key: bytes, person_key: str) -> str:
    """A person's id in the lake: not reversible, the same on every refresh."""
    return hmac.new(key, person_key.encode(), hashlib.sha256).hexdigest()[:20]


def read_opt_outs(path: Path | None) -> frozenset[str]:
    """NHS numbers with a National Data Opt-out (a CSV with an ``nhs_number`` column)."""
    if path is None or not path.is_file():
        return frozenset()
    with path.open(newline="", encoding="utf-8") as handle:
        return frozenset(r["nhs_number"].strip() for r in csv.DictReader(handle))


def read_postcode_lookup(path: Path | None) -> dict[str, tuple[str, int]]:
    """Postcode (without spaces, upper case) -> (small area, IMD decile)."""
    if path is None or not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            r["postcode"].replace(" ", "").upper(): (r["small_area"], int(r["imd_decile"]))
            for r in csv.DictReader(handle)
        }


def age_band(age: int) -> str:
    """Five-year band as the NHS publishes them (``0-4`` ... ``90+``)."""
    return "90+" if age >= 90 else f"{age - age % 5}-{age - age % 5 + 4}"


def refresh_lake(
    session: Session,
    lake_dir: Path,
    *,
    reference_dir: Path | None,
    as_of: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> LakeRun:
    """Write (or bring up to date) the lake's tables from the operational store."""
    as_of = as_of or datetime.now(UTC).date()
    directory = read_directory(session)
    opt_out_file = reference_dir / "national-data-opt-outs.csv" if reference_dir else None
    opt_outs = read_opt_outs(opt_out_file)
    lookup = read_postcode_lookup(reference_dir / "postcode-lookup.csv" if reference_dir else None)
    state_path = lake_dir / "_state.json"
    before = orjson.loads(state_path.read_bytes()) if state_path.is_file() else {}
    now_state = _state(session, opt_out_file, as_of)
    changed_types = _changed_types(before, now_state)
    old_schemas = before.get("schemas", {})
    tables = [
        t
        for t, types in SOURCES.items()
        if changed_types is None
        or set(types) & changed_types
        or not (lake_dir / f"{t}.parquet").exists()
        or old_schemas.get(t) != now_state["schemas"][t]  # a new version of the table
    ]
    key = pseudonym_key(lake_dir)
    people, opted_out = _people(session, key, opt_outs, lookup, directory, as_of)
    sinks = {t: _TableSink(lake_dir / f"{t}.parquet", SCHEMAS[t]) for t in tables}
    try:
        for table in tables:
            if table in _PEOPLE_TABLES:
                for row in _people_rows(table, people):
                    sinks[table].add(row)
                if progress is not None:
                    progress(table)
        # One pass over the resources, each read and parsed once, to every table it feeds.
        feeding: dict[str, list[str]] = {}
        for table in tables:
            if table not in _PEOPLE_TABLES:
                for resource_type in SOURCES[table]:
                    feeding.setdefault(resource_type, []).append(table)
        for resource_type, person, partner, feed, content in _resources(
            session, tuple(sorted(feeding)), people
        ):
            for table in feeding[resource_type]:
                made = _ROW_MAKERS[table](content, feed)
                for row in made if isinstance(made, list) else [made] if made is not None else []:
                    sinks[table].add({"person_id": person.person_id, "partner": partner, **row})
        for table in tables:
            if table not in _PEOPLE_TABLES and progress is not None:
                progress(table)
        # Every table complete: only now does any replace the one before it.
        written = {table: sink.close() for table, sink in sinks.items()}
        for sink in sinks.values():
            sink.publish()
    finally:
        for sink in sinks.values():
            sink.discard()
    state_path.write_bytes(orjson.dumps(now_state, option=orjson.OPT_INDENT_2))
    return LakeRun(
        written=written,
        unchanged=[t for t in SCHEMAS if t not in written],
        people=len(people),
        opted_out=opted_out,
    )


def _state(session: Session, opt_out_file: Path | None, as_of: date) -> dict[str, Any]:
    r, lk = records.resource, identity.link
    newest = {
        t: str(at)
        for t, at in session.execute(
            select(r.c.resource_type, func.max(r.c.received_at)).group_by(r.c.resource_type)
        )
    }
    digest = (
        hashlib.sha256(opt_out_file.read_bytes()).hexdigest()
        if opt_out_file is not None and opt_out_file.is_file()
        else None
    )
    return {
        "resources": newest,
        "schemas": {
            t: hashlib.sha256(schema.to_string().encode()).hexdigest()[:16]
            for t, schema in SCHEMAS.items()
        },
        "links": session.execute(select(func.max(lk.c.id))).scalar(),
        "opt_outs": digest,
        "as_of": as_of.isoformat(),
    }


def _changed_types(before: dict[str, Any], now: dict[str, Any]) -> set[str] | None:
    """Resource types whose rows changed; None means everything (people or opt-outs did)."""
    if not before or any(before.get(k) != now[k] for k in ("links", "opt_outs", "as_of")):
        return None
    old, new = before.get("resources", {}), now["resources"]
    return {t for t in set(old) | set(new) if old.get(t) != new.get(t)}


def _people(
    session: Session,
    key: bytes,
    opt_outs: frozenset[str],
    lookup: dict[str, tuple[str, int]],
    directory: Directory | None,
    as_of: date,
) -> tuple[dict[str, _Person], int]:
    """Each person not opted out, by person key, with their ``person`` row."""
    s, lk = identity.source_record, identity.link
    practices = {p.ods_code: p for p in (directory.practices if directory else ())}
    pcn_area = {p.code: p.area for p in (directory.pcns if directory else ())}
    by_person: dict[str, list[Any]] = {}
    for row in session.execute(
        select(lk.c.person_key, s)
        .join(s, s.c.id == lk.c.source_record_id)
        .where(lk.c.valid_to.is_(None))
        .order_by(lk.c.person_key, s.c.updated_at)
    ).mappings():
        by_person.setdefault(row["person_key"], []).append(row)
    ethnicity = _ethnic_categories(session)
    people: dict[str, _Person] = {}
    opted = 0
    for person_key, found in by_person.items():
        if any(r["nhs_number"] in opt_outs for r in found if r["nhs_number"]):
            opted += 1
            continue
        birth = next((r["birth_date"] for r in reversed(found) if r["birth_date"]), None)
        died = next((r["death_date"] for r in found if r["death_date"]), None)
        age = _age(birth, min(as_of, died) if died else as_of) if birth else None
        practice = next((r["partner"] for r in reversed(found) if r["partner"] in practices), None)
        pcn = practices[practice].pcn if practice else None
        postcode = next((r["postcode"] for r in reversed(found) if r["postcode"]), None)
        small_area, decile = lookup.get((postcode or "").replace(" ", "").upper(), (None, None))
        person_id = pseudonym(key, person_key)
        people[person_key] = _Person(
            person_id,
            {
                "person_id": person_id,
                "sex": next((r["sex"] for r in reversed(found) if r["sex"]), None),
                "age": age,
                "age_band": age_band(age) if age is not None else None,
                "practice": practice,
                "pcn": pcn,
                "area": pcn_area.get(pcn) if pcn else None,
                "small_area": small_area,
                "imd_decile": decile,
                "imd_quintile": (decile + 1) // 2 if decile else None,
                "core20": decile in (1, 2) if decile else None,
                "ethnic_category": ethnicity.get(person_key),
                "ethnicity": ETHNIC_GROUPS.get(ethnicity.get(person_key) or ""),
                "died": died is not None,
                "_death": died,
                "_birth": birth,
            },
        )
    return people, opted


def _ethnic_categories(session: Session) -> dict[str, str]:
    """Each person's stated ethnic category (UK Core EthnicCategory on any of their Patient
    resources; a stated category wins over "not stated", the newest over older ones)."""
    r, lk = records.resource, identity.link
    found: dict[str, str] = {}
    query = (
        select(lk.c.person_key, r.c.content)
        .join(lk, (lk.c.source_record_id == r.c.source_record_id) & lk.c.valid_to.is_(None))
        .where(r.c.resource_type == "Patient")
        .order_by(r.c.received_at)
        .execution_options(yield_per=5000)
    )
    for person_key, content in session.execute(query):
        for extension in content.get("extension") or []:
            if isinstance(extension, dict) and extension.get("url") == ETHNIC_CATEGORY_URL:
                code = _coding(extension.get("valueCodeableConcept"))[1]
                if code in ETHNIC_GROUPS or (code and person_key not in found):
                    found[person_key] = code
    return found


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _resources(
    session: Session, types: tuple[str, ...], people: dict[str, _Person]
) -> Iterator[tuple[str, _Person, str, str, dict[str, Any]]]:
    """(type, person, partner, feed, content) of every resource of ``types`` about a kept
    person."""
    r, lk = records.resource, identity.link
    query = (
        select(r.c.resource_type, lk.c.person_key, r.c.partner, r.c.feed, r.c.content)
        .join(lk, (lk.c.source_record_id == r.c.source_record_id) & lk.c.valid_to.is_(None))
        .where(r.c.resource_type.in_(types))
        .execution_options(yield_per=5000)
    )
    for resource_type, person_key, partner, feed, content in session.execute(query):
        person = people.get(person_key)
        if person is not None:
            yield resource_type, person, partner, feed, content


#: The tables made from the person index alone.
_PEOPLE_TABLES: Final = frozenset({"person", "registration", "death"})


def _people_rows(table: str, people: dict[str, _Person]) -> Iterator[Row]:
    if table == "person":
        for p in people.values():
            yield {k: v for k, v in p.row.items() if not k.startswith("_")}
        return
    if table == "registration":
        for p in people.values():
            if p.row["practice"]:
                yield {"person_id": p.person_id, "practice": p.row["practice"], "pcn": p.row["pcn"]}
        return
    for p in people.values():  # death
        died = p.row["_death"]
        if died is not None:
            birth = p.row["_birth"]
            yield {
                "person_id": p.person_id,
                "month": died.replace(day=1),
                "age": _age(birth, died) if birth else None,
            }


def _coding(concept: Any) -> tuple[str | None, str | None, str | None]:
    """(system, code, display) of a CodeableConcept's first coding (display from text)."""
    if not isinstance(concept, dict):
        return None, None, None
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and coding.get("code"):
            return (
                coding.get("system"),
                coding["code"],
                coding.get("display") or concept.get("text"),
            )
    return None, None, concept.get("text")


def _day(value: Any) -> date | None:
    """The date of a FHIR date, dateTime or Period (its start), if it is a whole date."""
    return full_date(value.get("start") if isinstance(value, dict) else value)


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _condition(c: dict[str, Any], feed: str) -> Row:
    system, code, display = _coding(c.get("code"))
    return {
        "system": system,
        "code": code,
        "display": display,
        "onset": _day(c.get("onsetDateTime") or c.get("onsetPeriod")),
        "recorded": _day(c.get("recordedDate")),
        "clinical_status": _coding(c.get("clinicalStatus"))[1],
    }


def _medication(c: dict[str, Any], feed: str) -> Row:
    system, code, display = _coding(c.get("medicationCodeableConcept"))
    request = c["resourceType"] == "MedicationRequest"
    return {
        "kind": "request" if request else "statement",
        "system": system,
        "code": code,
        "display": display,
        "issued": _day(
            c.get("authoredOn")
            if request
            else c.get("effectiveDateTime") or c.get("effectivePeriod")
        ),
        "status": c.get("status"),
    }


def _observation(c: dict[str, Any], feed: str) -> list[Row]:
    """One row for the observation, or one per component (a blood pressure's systolic and
    diastolic are components of the one Observation), each with its own code and value."""
    effective = _day(c.get("effectiveDateTime") or c.get("effectivePeriod"))
    parts = [p for p in c.get("component") or [] if isinstance(p, dict)] or [c]
    rows = []
    for part in parts:
        system, code, display = _coding(part.get("code"))
        quantity = part.get("valueQuantity") or {}
        value = quantity.get("value")
        rows.append(
            {
                "system": system,
                "code": code,
                "display": display,
                "effective": effective,
                "value": float(value) if isinstance(value, (int, float)) else None,
                "unit": quantity.get("unit") or quantity.get("code"),
                "value_code": _coding(part.get("valueCodeableConcept"))[1],
            }
        )
    return rows


def _immunisation(c: dict[str, Any], feed: str) -> Row | None:
    if c.get("status") not in (None, "completed"):
        return None
    system, code, display = _coding(c.get("vaccineCode"))
    return {
        "system": system,
        "code": code,
        "display": display,
        "administered": _day(c.get("occurrenceDateTime")),
    }


def _encounter(c: dict[str, Any], feed: str) -> Row:
    period = c.get("period") or {}
    types = c.get("type") or [None]
    _, type_code, type_display = _coding(types[0])
    return {
        "feed": feed,
        "class": (c.get("class") or {}).get("code"),
        "type_code": type_code,
        "type": type_display,
        "status": c.get("status"),
        "start": _instant(period.get("start")),
        "end": _instant(period.get("end")),
    }


def _ae_attendance(c: dict[str, Any], feed: str) -> Row | None:
    if "ecds" not in feed:
        return None
    period = c.get("period") or {}
    arrival, departure = _instant(period.get("start")), _instant(period.get("end"))
    minutes = int((departure - arrival).total_seconds() // 60) if arrival and departure else None
    department = next(
        (
            _coding(t)[1]
            for t in c.get("type") or []
            if isinstance(t, dict)
            and any(
                isinstance(k, dict) and k.get("system") == AE_DEPARTMENT_TYPE_SYSTEM
                for k in t.get("coding") or []
            )
        ),
        None,
    )
    return {
        "department_type": department.lstrip("0") if department else None,
        "arrival": arrival,
        "departure": departure,
        "minutes": minutes,
        "within_4_hours": minutes <= 240 if minutes is not None else None,
    }


_INPATIENT: Final = frozenset({"IMP", "ACUTE", "NONAC"})


ADMISSION_METHOD_EXTENSION: Final = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AdmissionMethod"
)
D2A_PATHWAY_SYSTEM: Final = "https://fhir.joinedup.example/CodeSystem/discharge-to-assess-pathway"
DISCHARGE_READY_URL: Final = "https://fhir.joinedup.example/StructureDefinition/discharge-ready"
AE_DEPARTMENT_TYPE_SYSTEM: Final = "https://fhir.joinedup.example/CodeSystem/ae-department-type"
RTT_PATHWAY_SYSTEM: Final = "https://fhir.joinedup.example/Id/rtt-pathway"
CANCER_PATHWAY_SYSTEM: Final = "https://fhir.joinedup.example/Id/cancer-pathway"
DIAGNOSTIC_REQUEST_SYSTEM: Final = "https://fhir.joinedup.example/Id/diagnostic-request"
CANCER_EXTENSION: Final = "https://fhir.joinedup.example/StructureDefinition/"


def _admission(c: dict[str, Any], feed: str) -> Row | None:
    if (c.get("class") or {}).get("code") not in _INPATIENT:
        return None
    period = c.get("period") or {}
    admitted, discharged = _instant(period.get("start")), _instant(period.get("end"))
    method = next(
        (
            _coding(e.get("valueCodeableConcept"))[1]
            for e in c.get("extension") or []
            if isinstance(e, dict) and e.get("url") == ADMISSION_METHOD_EXTENSION
        ),
        None,
    )
    disposition = (c.get("hospitalization") or {}).get("dischargeDisposition") or {}
    pathway = next(
        (
            d.get("code")
            for d in disposition.get("coding") or []
            if isinstance(d, dict) and d.get("system") == D2A_PATHWAY_SYSTEM
        ),
        None,
    )
    destination = next(
        (
            d.get("code")
            for d in disposition.get("coding") or []
            if isinstance(d, dict)
            and str(d.get("system", "")).endswith("DischargeDestinationEngland")
        ),
        None,
    )
    return {
        "admitted": admitted,
        "discharged": discharged,
        "length_of_stay_days": (discharged.date() - admitted.date()).days
        if admitted and discharged
        else None,
        "admission_method": method,
        # NHS Data Dictionary, ADMISSION METHOD: codes 21 to 2D are emergency admissions.
        "emergency": method.startswith("2") if method else None,
        "discharge_pathway": pathway,
        "discharge_destination": destination,
        "discharge_ready": _instant(_extension(c, DISCHARGE_READY_URL)),
    }


def _extension(c: dict[str, Any], url: str) -> Any:
    """The value of the resource's extension ``url`` (whatever its value[x]), if present."""
    for e in c.get("extension") or []:
        if isinstance(e, dict) and e.get("url") == url:
            return next((v for k, v in e.items() if k.startswith("value")), None)
    return None


def _identified_as(c: dict[str, Any], system: str) -> bool:
    return any(isinstance(i, dict) and i.get("system") == system for i in c.get("identifier") or [])


def _rtt_pathway(c: dict[str, Any], feed: str) -> Row | None:
    if not _identified_as(c, RTT_PATHWAY_SYSTEM) or _virtual_ward(c):
        return None
    period = c.get("period") or {}
    types = c.get("type") or [None]
    return {
        "treatment_function": _coding(types[0])[1],
        "clock_start": _day(period.get("start")),
        "clock_stop": _day(period.get("end")),
    }


def _cancer_pathway(c: dict[str, Any], feed: str) -> Row | None:
    if not _identified_as(c, CANCER_PATHWAY_SYSTEM) or _virtual_ward(c):
        return None
    period = c.get("period") or {}
    kind = ((c.get("type") or [{}])[0] or {}).get("text") or ""

    def on(name: str) -> date | None:
        return _day(_extension(c, CANCER_EXTENSION + name))

    return {
        "cancer_type": kind.removeprefix("urgent suspected cancer: ") or None,
        "referral": _day(period.get("start")),
        "first_seen": on("cancer-first-seen"),
        "faster_diagnosis": on("cancer-faster-diagnosis"),
        "faster_diagnosis_outcome": _extension(
            c, CANCER_EXTENSION + "cancer-faster-diagnosis-outcome"
        ),
        "decision_to_treat": on("cancer-decision-to-treat"),
        "first_treatment": _day(period.get("end")),
    }


def _diagnostic_wait(c: dict[str, Any], feed: str) -> Row | None:
    if not _identified_as(c, DIAGNOSTIC_REQUEST_SYSTEM):
        return None
    return {
        "test": (c.get("code") or {}).get("text"),
        "requested": _day(c.get("authoredOn")),
        "performed": _day(_extension(c, CANCER_EXTENSION + "diagnostic-test-date")),
    }


def _referral(c: dict[str, Any], feed: str) -> Row | None:
    if _identified_as(c, DIAGNOSTIC_REQUEST_SYSTEM):
        return None  # a test on the diagnostic waiting list: the diagnostic_wait table
    _, code, display = _coding(c.get("code"))
    return {
        "feed": feed,
        "code": code,
        "display": display,
        "authored": _day(c.get("authoredOn")),
        "status": c.get("status"),
        "priority": c.get("priority"),
        **_response(c),
    }


#: The single point of access's extension on a referral's ServiceRequest (its response).
RESPONSE_EXTENSION: Final = "https://joinedup.nhs.uk/StructureDefinition/referral-response"


def _response(c: dict[str, Any]) -> Row:
    found = next((e for e in c.get("extension") or [] if e.get("url") == RESPONSE_EXTENSION), None)
    parts = {e.get("url"): e for e in (found or {}).get("extension") or []}

    def text(name: str) -> str | None:
        return (parts.get(name) or {}).get("valueCode")

    def instant(name: str) -> datetime | None:
        return _instant((parts.get(name) or {}).get("valueDateTime"))

    return {
        "urgency": text("urgency"),
        "service_type": text("serviceType"),
        "provider": text("provider"),
        "received": instant("received"),
        "due": instant("due"),
        "first_contact": instant("firstContact"),
    }


def _social_care(c: dict[str, Any], feed: str) -> Row | None:
    if not feed.startswith("social-care") or _virtual_ward(c):
        return None
    types = c.get("type") or [None]
    kind = "package" if c["resourceType"] == "EpisodeOfCare" else "assessment"
    period = c.get("period") or {}
    return {
        "kind": kind,
        "type": _coding(types[0] if isinstance(types, list) else types)[2],
        "start": _day(period.get("start")),
        "end": _day(period.get("end")),
    }


#: The care setting a virtual-ward stay's EpisodeOfCare is coded with, and the extension
#: carrying its ward, pathway, kind and outcome (as joinedup.virtual_wards.store writes them).
CARE_SETTING_SYSTEM: Final = "https://joinedup.nhs.uk/CodeSystem/care-setting"
STAY_EXTENSION: Final = "https://joinedup.nhs.uk/StructureDefinition/virtual-ward-stay"


def _virtual_ward(c: dict[str, Any]) -> bool:
    """Whether the resource is a virtual-ward stay: an EpisodeOfCare of that care setting
    (it goes to ``virtual_ward_stay`` and to no other EpisodeOfCare table)."""
    return c.get("resourceType") == "EpisodeOfCare" and any(
        isinstance(coding, dict)
        and coding.get("system") == CARE_SETTING_SYSTEM
        and coding.get("code") == "virtual-ward"
        for concept in c.get("type") or []
        if isinstance(concept, dict)
        for coding in concept.get("coding") or []
    )


def _virtual_ward_stay(c: dict[str, Any], feed: str) -> Row | None:
    if not _virtual_ward(c):
        return None
    found = next(
        (
            e
            for e in c.get("extension") or []
            if isinstance(e, dict) and e.get("url") == STAY_EXTENSION
        ),
        None,
    )
    parts = {
        e.get("url"): e.get("valueCode")
        for e in (found or {}).get("extension") or []
        if isinstance(e, dict)
    }
    period = c.get("period") or {}
    organisation = (c.get("managingOrganization") or {}).get("identifier") or {}
    return {
        "feed": feed,
        "provider": organisation.get("value"),
        "ward": parts.get("ward"),
        "pathway": parts.get("pathway"),
        "kind": parts.get("kind"),
        "start": _instant(period.get("start")),
        "end": _instant(period.get("end")),
        "outcome": parts.get("outcome"),
    }


_ROW_MAKERS: Final[dict[str, Callable[[dict[str, Any], str], Row | list[Row] | None]]] = {
    "condition": _condition,
    "medication": _medication,
    "observation": _observation,
    "immunisation": _immunisation,
    "encounter": _encounter,
    "ae_attendance": _ae_attendance,
    "admission": _admission,
    "rtt_pathway": _rtt_pathway,
    "cancer_pathway": _cancer_pathway,
    "diagnostic_wait": _diagnostic_wait,
    "referral": _referral,
    "social_care": _social_care,
    "virtual_ward_stay": _virtual_ward_stay,
}


class _TableSink:
    """One table being written: rows in batches to a ``.partial`` file (memory stays flat
    however big the table), moved into place only by :meth:`publish`, so a reader never
    sees half a table and a failed refresh leaves the old one."""

    BATCH: Final = 50_000

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.partial = path.with_suffix(".parquet.partial")
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(
            self.partial, schema, compression="zstd"
        )
        self._batch: list[Row] = []
        self.rows = 0

    def add(self, row: Row) -> None:
        self._batch.append(row)
        if len(self._batch) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._writer is not None and self._batch:
            self._writer.write_table(pa.Table.from_pylist(self._batch, schema=self.schema))
            self.rows += len(self._batch)
            self._batch = []

    def close(self) -> int:
        """Finish the file; the number of rows."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        return self.rows

    def publish(self) -> None:
        os.replace(self.partial, self.path)

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.partial.unlink(missing_ok=True)
