"""The synthetic virtual-ward flow: people of the wards' ages and areas admitted, readings
taken on the wards' schedules, deterioration escalated and acted on, no ward over its
beds, nothing implausible stored, and the same flow for the same seed on another store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from joinedup.access.audit import as_utc
from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.feeds.intake import ingest_message
from joinedup.feeds.model import Message, MessageFormat
from joinedup.feeds.pipeline import Outcome
from joinedup.identity.tables import link
from joinedup.identity.tables import source_record as record
from joinedup.settings import DEFAULT_DIRECTORY, DEFAULT_VIRTUAL_WARDS, Settings
from joinedup.storage import make_engine, migrate, session_factory
from joinedup.virtual_wards import tables
from joinedup.virtual_wards.config import load_wards
from joinedup.virtual_wards.news2 import PLAUSIBLE_RANGES
from joinedup.virtual_wards.store import VirtualWards
from joinedup.virtual_wards.synthetic import WardsFlowReport, generate_wards_flow

UNTIL = datetime(2026, 12, 9, 10, 30, tzinfo=UTC)
NHS = "https://fhir.nhs.uk/Id/nhs-number"
#: (postcode, area) for each of the ICS's three areas.
POSTCODES = (("TR18 2AB", "west"), ("TR1 3LJ", "central"), ("PL31 2QN", "east"))


def _nhs_number(n: int) -> str | None:
    base = f"{943400000 + n:09d}"
    check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(base)) % 11
    return None if check == 10 else base + str(check % 11)


def load_ward_people(
    sessions: sessionmaker[Session], count: int = 48
) -> dict[str, tuple[date, str]]:
    """``count`` people from a GP's feed, two in three aged 65 or over, across the areas;
    the directory too. Returns each NHS number's birth date and area."""
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    people: dict[str, tuple[date, str]] = {}
    n = 0
    while len(people) < count:
        n += 1
        nhs = _nhs_number(n)
        if nhs is None:
            continue
        i = len(people)
        # Each area's people: two in three aged 65 or over (born 1930-1959), one in three not.
        born = date(1930 + i % 30, 1 + i % 12, 1) if i // 3 % 3 else date(1975, 5, 1 + i % 28)
        postcode, area = POSTCODES[i % 3]
        patient = {
            "resourceType": "Patient",
            "identifier": [
                {"system": NHS, "value": nhs},
                {"system": "https://fhir.example.org/Id/local", "value": f"W{i}"},
            ],
            "name": [{"family": f"Ward{i}", "given": ["Kit"]}],
            "gender": "female" if i % 2 else "male",
            "birthDate": born.isoformat(),
            "address": [{"line": ["2 Quay Street"], "postalCode": postcode}],
            "generalPractitioner": [
                {
                    "identifier": {
                        "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                        "value": "L99021",
                    }
                }
            ],
        }
        body = orjson.dumps(
            {
                "resourceType": "Bundle",
                "id": f"gp-w{i}",
                "type": "transaction",
                "entry": [
                    {
                        "fullUrl": f"urn:uuid:{i:08x}-0000-4000-8000-000000000001",
                        "resource": patient,
                        "request": {"method": "POST", "url": "Patient"},
                    }
                ],
            }
        )
        message = Message("L99021", "gp-fhir", MessageFormat.FHIR_JSON, body, UNTIL, name="test")
        outcomes = ingest_message(sessions, message)
        assert [o.outcome for o in outcomes] == [Outcome.ACCEPTED], outcomes
        people[nhs] = (born, area)
    return people


@pytest.fixture
def wards() -> VirtualWards:
    return VirtualWards(load_wards(DEFAULT_VIRTUAL_WARDS, load_directory(DEFAULT_DIRECTORY)))


def _flow(sessions: sessionmaker[Session], wards: VirtualWards, days: int) -> WardsFlowReport:
    done: list[int] = []
    report = generate_wards_flow(
        sessions, wards, days=days, until=UNTIL, seed=11, progress=done.append
    )
    assert done == [1] * days  # each day reported
    return report


def test_a_synthetic_flow_fills_the_wards_and_escalates_deterioration(
    sessions: sessionmaker[Session], wards: VirtualWards
) -> None:
    people = load_ward_people(sessions)
    report = _flow(sessions, wards, days=10)
    assert report.admitted > 20 and report.readings > 1000
    assert report.discharged + report.still_on_ward == report.admitted
    assert report.still_on_ward > 0 and report.deteriorated > 0
    assert report.escalations > 0 and report.re_escalations > 0
    a, o, x = tables.admission, tables.observation, tables.escalation
    with sessions() as s:
        admissions = [
            {
                **r,
                "admitted_at": as_utc(r["admitted_at"]),
                "discharged_at": r["discharged_at"] and as_utc(r["discharged_at"]),
            }
            for r in s.execute(select(a)).mappings()
        ]
        assert len(admissions) == report.admitted
        assert s.execute(select(func.count()).select_from(o)).scalar() == report.readings
        assert s.execute(select(func.count()).select_from(x)).scalar() == report.escalations
        # Deterioration: an escalation for a set of readings scoring in NEWS2's bands (or
        # a ward threshold) that the team acted on, not just closed by a discharge.
        acted = list(
            s.execute(
                select(x.c.level, x.c.reasons, x.c.action).where(
                    x.c.status == "closed", ~x.c.action.like("discharged:%")
                )
            )
        )
        assert any(level == "emergency" for level, _, _ in acted)
        assert any("NEWS2" in reasons[0] for _, reasons, _ in acted)
        assert any("admitted to RCHT" in action for *_, action in acted)
        assert s.execute(select(func.sum(x.c.re_escalations))).scalar() == report.re_escalations
        # At the end, someone is getting worse and the team is still responding.
        active = s.execute(select(func.count()).where(x.c.status != "closed")).scalar()
        assert active
        values = list(s.execute(select(o.c.parameter, o.c.value, o.c.code)))
        nhs_numbers = {
            key: nhs
            for key, nhs in s.execute(
                select(link.c.person_key, record.c.nhs_number)
                .join(record, record.c.id == link.c.source_record_id)
                .where(link.c.valid_to.is_(None), record.c.nhs_number.is_not(None))
            )
        }
        sources = set(s.execute(select(o.c.source).distinct()).scalars())
    assert sources <= {"device", "patient", "staff"} and "staff" in sources
    # Nothing implausible, whole numbers but for temperature (one decimal).
    for parameter, value, code in values:
        if parameter == "consciousness":
            assert code in ("A", "C")
        elif parameter == "air_or_oxygen":
            assert value in (0, 1)
        else:
            low, high, _ = PLAUSIBLE_RANGES[parameter]
            assert low <= value <= high
            assert value == round(value, 1 if parameter == "temperature" else 0)
    # Everyone of the ward's ages and in its areas.
    for r in admissions:
        born, area = people[nhs_numbers[r["person_key"]]]
        service = wards.config.wards[r["ward_id"]].service
        assert born <= date(UNTIL.year - service.age_min, 1, 1) and area in service.areas
    # No ward over its beds at any time; nobody on two wards at once.
    outcomes = {r["outcome"] for r in admissions}
    assert {"recovered-at-home", "admitted", None} <= outcomes
    assert {r["kind"] for r in admissions} == {"step-up", "step-down"}
    for ward_id, ward in wards.config.wards.items():
        changes = sorted(
            [(r["admitted_at"], 1) for r in admissions if r["ward_id"] == ward_id]
            + [
                (r["discharged_at"], -1)
                for r in admissions
                if r["ward_id"] == ward_id and r["discharged_at"]
            ],
            key=lambda c: (c[0], c[1]),
        )
        on_ward = peak = 0
        for _, change in changes:
            on_ward += change
            peak = max(peak, on_ward)
        assert 0 < peak <= ward.beds
    stays: dict[str, list[tuple[datetime, datetime]]] = {}
    for r in admissions:
        stays.setdefault(r["person_key"], []).append(
            (r["admitted_at"], r["discharged_at"] or UNTIL + timedelta(days=1))
        )
    for periods in stays.values():
        periods.sort()
        assert all(earlier[1] <= later[0] for earlier, later in pairwise(periods))


def test_the_same_seed_makes_the_same_flow(
    sessions: sessionmaker[Session], wards: VirtualWards, tmp_path: Path
) -> None:
    load_ward_people(sessions)
    first = _flow(sessions, wards, days=4)
    assert first.admitted and first.readings and first.escalations
    # Another store (SQLite) with the same people: the same flow.
    again_dir = tmp_path / "again"
    engine = make_engine(
        Settings(var_dir=again_dir, database_url=f"sqlite:///{again_dir / 'joinedup.sqlite'}")
    )
    try:
        migrate(engine)
        again = session_factory(engine)
        load_ward_people(again)
        assert _flow(again, wards, days=4) == first
    finally:
        engine.dispose()
